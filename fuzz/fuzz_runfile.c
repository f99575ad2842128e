/*
 * fuzz_runfile.c - the whole `ringcap run -r' path on untrusted bytes: the input is written as a
 * capture file and read through source.c into the pipeline (decoder, flow table, flow records and
 * continuous pcap files with a tiny rotation size), then the outputs are removed.
 * The flight recorder runs with its defaults (ring, detector) plus low thresholds so that
 * incidents open on small inputs. The first input byte picks options (save pcap or not,
 * precision, table size, pcapng incident captures). A pipeline that cannot be built from these
 * settings is a harness bug: it aborts, so the replay fails instead of exercising only the reader.
 */
#include <dirent.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "capture/source.h"
#include "pipeline/pipeline.h"
#include "recorder/detect.h"
#include "recorder/ring.h"

static char dir[64];

static void rm_tree(const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char p[512];
		snprintf(p, sizeof p, "%s/%s", path, e->d_name);
		if (e->d_type == DT_DIR)
			rm_tree(p);
		else
			unlink(p);
	}
	closedir(d);
	rmdir(path);
}

static void on_packet(void *user, const struct pcap_pkthdr *h, const uint8_t *data)
{
	pipeline_packet(user, h, data);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[1024], in[128], out[128];
	if (size < 1)
		return 0;
	if (!dir[0]) {
		snprintf(dir, sizeof dir, "/tmp/ringcap-fuzz-XXXXXX");
		if (!mkdtemp(dir))
			abort();
		log_set_level(LOG_ERR);
	}
	uint8_t opt = data[0];
	snprintf(in, sizeof in, "%s/in.pcap", dir);
	snprintf(out, sizeof out, "%s/out", dir);
	FILE *f = fopen(in, "wb");
	if (!f)
		abort();
	fwrite(data + 1, 1, size - 1, f);
	fclose(f);

	struct source_opts so = { .file = in, .nano = opt & 2 };
	source_t *src = NULL;
	if (source_open(&so, &src, err, sizeof err) == 0) {
		struct pipeline_config pc = {
			.outdir = out,
			.dlt = source_datalink(src),
			.snaplen = (uint32_t)source_snaplen(src),
			.nano = source_is_nano(src),
			.save_pcap = opt & 1,
			.rotate_bytes = 2000,
			.retention = 2,
			.max_flows = (opt & 4) ? 2 : 1000,
			.flow_idle_ns = 1000000000LL,
			.flow_active_ns = 5000000000LL,
			.ring_packets = (opt & 8) ? 4 : RING_DEFAULT_PACKETS,
			.incident_max_packets = 50,
			.incident_pcapng = opt & 16,
			.source_name = "fuzz",
		};
		detect_config_defaults(&pc.detect);
		/* low thresholds: a handful of packets in a window opens an incident */
		pc.detect.th.pps = 10;
		pc.detect.th.syn_pps = 5;
		pc.detect.resolve_ns = 1000000000LL;
		pipeline_t *pl = pipeline_new(&pc, err, sizeof err);
		if (!pl) {
			fprintf(stderr, "fuzz_runfile: pipeline_new: %s\n", err);
			abort();
		}
		{
			int n;
			while ((n = source_dispatch(src, 256, on_packet, pl, err, sizeof err)) > 0)
				pipeline_tick(pl, 0);
			pipeline_finish(pl);
			pipeline_free(pl);
		}
		source_close(src);
	}
	rm_tree(out);
	unlink(in);
	return 0;
}
