/*
 * test_pipeline.c - the packet path as one unit: generated frames go into pipeline_packet(), and
 * what comes out is checked through the recorder's incident sink (a recording sink stands in for
 * the evidence store), the incident capture, the continuous files and the flow log.
 */
#include <dirent.h>
#include <ftw.h>
#include <jansson.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "pipeline/pipeline.h"
#include "recorder/detect.h"
#include "recorder/incident.h"
#include "recorder/ring.h"
#include "testhelp.h"

static char root[64];

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(p);
}

/* ---- a recording incident sink ---- */
#define MAX_CALLS 4096
struct rec_sink {
	int metas, finals, seals;
	long meta_id[MAX_CALLS];
	int meta_final[MAX_CALLS];
	json_t *last_final; /* the last final metadata */
	long seal_id;
	char seal_name[64], seal_fmt[16];
};

static void rec_meta(void *ctx, long id, json_t *meta, int final)
{
	struct rec_sink *r = ctx;
	if (r->metas < MAX_CALLS) {
		r->meta_id[r->metas] = id;
		r->meta_final[r->metas] = final;
	}
	r->metas++;
	if (final) {
		r->finals++;
		json_decref(r->last_final);
		r->last_final = meta;
	} else {
		json_decref(meta);
	}
}

static void rec_seal(void *ctx, long id, const char *part_name, const char *format)
{
	struct rec_sink *r = ctx;
	r->seals++;
	r->seal_id = id;
	snprintf(r->seal_name, sizeof r->seal_name, "%s", part_name);
	snprintf(r->seal_fmt, sizeof r->seal_fmt, "%s", format);
}

/* ---- generated frames: Ethernet + IPv4 + UDP or TCP SYN; the frame's index in the IP ID and
 * the first payload bytes, so a capture can be checked to be a consecutive slice ---- */
static size_t frame(uint8_t *b, uint32_t idx, int syn)
{
	size_t n = 0;
	memset(b, 0, 128);
	memcpy(b, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x08\x00", 14);
	n = 14;
	uint8_t *ip = b + n;
	size_t l4 = syn ? 20 : 8, pay = 8, iplen = 20 + l4 + pay;
	ip[0] = 0x45;
	ip[2] = (uint8_t)(iplen >> 8);
	ip[3] = (uint8_t)iplen;
	ip[4] = (uint8_t)(idx >> 8);
	ip[5] = (uint8_t)idx;
	ip[8] = 64;
	ip[9] = syn ? 6 : 17;
	/* source: many spoofed addresses for the flood, a few for the background */
	uint32_t src = syn ? (0xC6120000u | (idx * 2654435761u >> 16)) : (0x0A000000u | (idx % 7 + 1));
	uint32_t dst = syn ? 0x0A000102u : 0x0A000101u;
	for (int i = 0; i < 4; i++) {
		ip[12 + i] = (uint8_t)(src >> (24 - 8 * i));
		ip[16 + i] = (uint8_t)(dst >> (24 - 8 * i));
	}
	uint8_t *t = ip + 20;
	t[0] = (uint8_t)((1024 + idx % 50000) >> 8);
	t[1] = (uint8_t)(1024 + idx % 50000);
	t[2] = 0;
	t[3] = syn ? 80 : 53;
	if (syn) {
		t[12] = 5 << 4;
		t[13] = 0x02; /* SYN */
	} else {
		t[4] = 0;
		t[5] = (uint8_t)(l4 + pay);
	}
	memcpy(t + l4, &idx, sizeof idx);
	return n + iplen;
}

/* Every packet of a capture: the index it carries, in order. Returns the count or -1. */
static long read_indices(const char *path, uint32_t *out, long max)
{
	char e[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(path, e);
	if (!p)
		return -1;
	struct pcap_pkthdr *h;
	const u_char *d;
	long n = 0;
	while (pcap_next_ex(p, &h, &d) == 1) {
		if (n < max && h->caplen >= 14 + 20 + 8 + 4) {
			size_t off = 14 + 20 + (d[14 + 9] == 6 ? 20 : 8);
			memcpy(&out[n], d + off, sizeof out[n]);
		}
		n++;
	}
	pcap_close(p);
	return n;
}

#define BG 600      /* background: UDP at 1,000/s */
#define FLOOD 20000 /* then SYNs at 50,000/s */
#define TOTAL (BG + FLOOD)

static void feed(pipeline_t *pl)
{
	uint8_t b[128];
	int64_t t0 = 1700000000LL * NS_PER_S, t = t0;
	for (uint32_t i = 0; i < TOTAL; i++) {
		int syn = i >= BG;
		t += syn ? 20000 : 1000000;
		size_t n = frame(b, i, syn);
		struct pcap_pkthdr h = {.caplen = (uint32_t)n, .len = (uint32_t)n};
		h.ts.tv_sec = t / NS_PER_S;
		h.ts.tv_usec = (t % NS_PER_S) / 1000;
		pipeline_packet(pl, &h, b);
		if (i % 1000 == 0)
			pipeline_tick(pl, 0);
	}
}

static void base_config(struct pipeline_config *pc, const char *out)
{
	memset(pc, 0, sizeof *pc);
	pc->outdir = out;
	pc->dlt = DLT_EN10MB;
	pc->snaplen = 262144;
	pc->save_pcap = 1;
	pc->rotate_bytes = 100000000;
	pc->max_flows = 100000;
	pc->flow_idle_ns = 30 * NS_PER_S;
	pc->flow_active_ns = 300 * NS_PER_S;
	pc->ring_packets = RING_DEFAULT_PACKETS;
	pc->incident_max_packets = 10000;
	pc->source_name = "test";
	detect_config_defaults(&pc->detect);
}

/* A SYN flood after background traffic: one incident, its capture a consecutive slice of the
 * input holding the cap, the final metadata handed to the sink before the seal, and the
 * continuous file holding every packet. */
static void test_flood_into_sink(void)
{
	char out[128], path[256];
	struct rec_sink rec = {0};
	struct incident_sink sink = {.ctx = &rec, .meta = rec_meta, .seal = rec_seal};
	struct pipeline_config pc;
	char err[512];
	snprintf(out, sizeof out, "%s/flood", root);
	base_config(&pc, out);
	pc.sink = &sink;
	pipeline_t *pl = pipeline_new(&pc, err, sizeof err);
	CHECK(pl != NULL);
	if (!pl) {
		printf("  %s\n", err);
		return;
	}
	feed(pl);
	CHECK_EQ_INT(pipeline_finish(pl), 0);
	struct pipeline_stats st;
	pipeline_stats(pl, &st);
	pipeline_free(pl);

	CHECK_EQ_INT(st.packets, TOTAL);
	CHECK_EQ_INT(st.incidents_opened, 1);
	CHECK_EQ_INT(st.pcap_packets, TOTAL);
	CHECK(st.flows_written > 0);
	CHECK_EQ_INT(rec.seals, 1);
	CHECK_EQ_INT(rec.seal_id, 1);
	CHECK_EQ_STR(rec.seal_name, "1.pcap.part");
	CHECK_EQ_STR(rec.seal_fmt, "pcap");
	CHECK(rec.finals >= 1);
	CHECK(rec.metas >= 1 && rec.meta_id[0] == 1);
	if (!rec.last_final)
		return;
	json_t *m = rec.last_final;
	CHECK_EQ_STR(json_string_value(json_object_get(m, "classification")), "syn_flood");
	CHECK_EQ_STR(json_string_value(json_object_get(m, "state")), "resolved");
	long pk = (long)json_integer_value(json_object_get(m, "pcap_packets"));
	CHECK_EQ_INT(pk, 10000);
	CHECK(json_is_true(json_object_get(m, "cap_reached")));
	/* statistics go on after the cap: every flood packet after the opening is seen */
	CHECK(json_integer_value(json_object_get(m, "packets_seen")) > 10000);

	/* the capture is consecutive packets of the input, as many as the metadata says */
	static uint32_t idx[TOTAL];
	snprintf(path, sizeof path, "%s/incidents/1.pcap.part", out);
	long n = read_indices(path, idx, TOTAL);
	CHECK_EQ_INT(n, pk);
	int consecutive = n > 0;
	for (long i = 1; i < n && i < TOTAL; i++)
		if (idx[i] != idx[i - 1] + 1)
			consecutive = 0;
	CHECK(consecutive);
	CHECK(n > 0 && idx[n - 1] < TOTAL);

	/* the continuous file holds every packet, in order */
	DIR *d;
	struct dirent *e;
	snprintf(path, sizeof path, "%s/pcaps", out);
	long files = 0, total = 0;
	if ((d = opendir(path)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (strncmp(e->d_name, "capture_", 8) != 0)
				continue;
			char f[512];
			snprintf(f, sizeof f, "%s/%s", path, e->d_name);
			long c = read_indices(f, idx, TOTAL);
			files++;
			total += c;
			for (long i = 0; i < c && i < TOTAL; i++)
				if (idx[i] != (uint32_t)i)
					consecutive = 0;
		}
		closedir(d);
	}
	CHECK_EQ_INT(files, 1);
	CHECK_EQ_INT(total, TOTAL);
	CHECK(consecutive);
	json_decref(rec.last_final);
}

/* Without a sink the recorder writes plaintext ID.pcap and ID.json itself. */
static void test_no_sink_plaintext(void)
{
	char out[128], path[256], err[512];
	struct pipeline_config pc;
	snprintf(out, sizeof out, "%s/plain", root);
	base_config(&pc, out);
	pc.save_pcap = 0;
	pipeline_t *pl = pipeline_new(&pc, err, sizeof err);
	CHECK(pl != NULL);
	if (!pl)
		return;
	feed(pl);
	CHECK_EQ_INT(pipeline_finish(pl), 0);
	pipeline_free(pl);
	snprintf(path, sizeof path, "%s/incidents/1.json", out);
	json_error_t je;
	json_t *m = json_load_file(path, 0, &je);
	CHECK(m != NULL);
	if (m) {
		CHECK_EQ_STR(json_string_value(json_object_get(m, "pcap_file")), "1.pcap");
		CHECK_EQ_INT(json_integer_value(json_object_get(m, "pcap_packets")), 10000);
		json_decref(m);
	}
	uint32_t *idx = calloc(TOTAL, sizeof *idx);
	snprintf(path, sizeof path, "%s/incidents/1.pcap", out);
	CHECK_EQ_INT(read_indices(path, idx, TOTAL), 10000);
	free(idx);
	snprintf(path, sizeof path, "%s/pcaps", out);
	CHECK(access(path, F_OK) != 0 || rmdir(path) == 0); /* SAVE_PCAP off: no continuous file */
}

/* A bad detector setting fails construction with a message naming it. */
static void test_bad_config_named(void)
{
	char out[128], err[512] = "";
	struct pipeline_config pc;
	snprintf(out, sizeof out, "%s/bad", root);
	base_config(&pc, out);
	pc.detect.resolve_ns = 150 * 1000000LL; /* not a multiple of 100 ms */
	pipeline_t *pl = pipeline_new(&pc, err, sizeof err);
	CHECK(pl == NULL);
	CHECK(strstr(err, "resolve") != NULL);
	if (pl)
		pipeline_free(pl);
}

int main(void)
{
	th_suite = "unit/test_pipeline";
	log_set_level(LOG_ERR);
	snprintf(root, sizeof root, "/tmp/test_pipeline.XXXXXX");
	if (!mkdtemp(root))
		return 1;
	RUN(test_flood_into_sink);
	RUN(test_no_sink_plaintext);
	RUN(test_bad_config_named);
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return test_main_end();
}
