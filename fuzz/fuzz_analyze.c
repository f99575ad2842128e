/*
 * fuzz_analyze.c - libFuzzer target for `ringcap analyze': the layer walk (VLAN, LLC, PPPoE,
 * MPLS, tunnels, fragments), the protocol tree, the endpoint table and the suspicious-traffic
 * rules (which read NTP payload bytes) on untrusted bytes.
 *
 * Input format (also the format of fuzz/corpus/analyze/):
 *   - a capture file (it starts with a pcap or pcapng magic number): read through analyze_file.c
 *     and every packet goes to all analysers, then the findings are made, printed and matched
 *     against the packets again as `suspicious -w' does;
 *   - anything else is one frame in fuzz_decode's format (a selector byte: & 0x7f picks the link
 *     type, & 0x80 claims a wire length of 80000 bytes; then the frame), fed three times.
 * Besides crashes and sanitizer reports it aborts when a result breaks a property of alayers.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analyze/analyze.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* clang-format off */
static const int fz_dlts[] = { 1, 113, 276, 12, 14, 101, 228, 229, 0, 108, 9, 50, 104, 105 };
/* clang-format on */
#define FZ_NDLTS (sizeof fz_dlts / sizeof fz_dlts[0])

static char fz_path[64];
static FILE *fz_null;

static void fz_check(const struct alayers *l)
{
	if (l->npath > ALAYERS_MAX_PATH || l->nip > ALAYERS_MAX_IP)
		abort();
	for (unsigned i = 0; i < l->npath; i++)
		if (l->path[i] <= AP_NONE || l->path[i] >= AP__COUNT)
			abort();
	for (unsigned i = 0; i < l->nip; i++)
		if (l->ip[i].ver != 4 && l->ip[i].ver != 6)
			abort();
}

struct fz_all {
	aproto_t *pr;
	aendp_t *ep;
	asusp_t *su;
};

static void fz_packet(struct fz_all *a, const struct apkt *p, const struct alayers *l)
{
	fz_check(l);
	aproto_add(a->pr, l, p->wirelen);
	aendp_add(a->ep, l, p->wirelen);
	asusp_add(a->su, p, l);
}

static int fz_is_capture(const uint8_t *d, size_t n)
{
	static const uint8_t magic[][4] = {{0xd4, 0xc3, 0xb2, 0xa1},
					   {0xa1, 0xb2, 0xc3, 0xd4},
					   {0x4d, 0x3c, 0xb2, 0xa1},
					   {0xa1, 0xb2, 0x3c, 0x4d},
					   {0x0a, 0x0d, 0x0d, 0x0a}};
	if (n < 4)
		return 0;
	for (size_t i = 0; i < sizeof magic / sizeof magic[0]; i++)
		if (memcmp(d, magic[i], 4) == 0)
			return 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[1024];
	struct fz_all a;
	alayers_ctx_t *lc = alayers_new();
	struct alayers l;
	struct apkt p;

	if (!fz_null && !(fz_null = fopen("/dev/null", "w")))
		abort();
	a.pr = aproto_new();
	a.ep = aendp_new(64);
	a.su = asusp_new();
	if (!lc || !a.pr || !a.ep || !a.su)
		abort();
	if (fz_is_capture(data, size)) {
		if (!fz_path[0]) {
			snprintf(fz_path, sizeof fz_path, "/tmp/ringcap-fuzz-analyze-XXXXXX");
			int fd = mkstemp(fz_path);
			if (fd < 0)
				abort();
			close(fd);
		}
		FILE *f = fopen(fz_path, "wb");
		if (!f)
			abort();
		fwrite(data, 1, size, f);
		fclose(f);
		for (int pass = 0; pass < 2; pass++) {
			afile_t *af = afile_open(fz_path, err, sizeof err);
			if (!af)
				break;
			while (afile_next(af, &p, err, sizeof err) == 1) {
				p.file = 0;
				alayers_decode(lc, p.dlt, p.data, p.caplen, p.wirelen, &l);
				if (pass == 0)
					fz_packet(&a, &p, &l);
				else
					(void)asusp_match(a.su, &p, &l, ASUSP_INFO);
			}
			afile_close(af);
			if (pass == 0)
				asusp_finish(a.su);
		}
	} else if (size >= 1) {
		int dlt = fz_dlts[(data[0] & 0x7f) % FZ_NDLTS];
		uint32_t caplen = (uint32_t)(size - 1);
		uint32_t wirelen = (data[0] & 0x80) ? 80000 : caplen;
		for (int i = 0; i < 3; i++) {
			p = (struct apkt){.ts_ns = 1000000000LL * i,
					  .caplen = caplen,
					  .wirelen = wirelen,
					  .data = data + 1,
					  .dlt = dlt};
			alayers_decode(lc, dlt, data + 1, caplen, wirelen, &l);
			fz_packet(&a, &p, &l);
		}
		asusp_finish(a.su);
		(void)asusp_match(a.su, &p, &l, ASUSP_INFO);
	}
	aproto_print(a.pr, fz_null, size & 1);
	aendp_print(a.ep, fz_null, size & 2, 5, AENDP_BY_BYTES);
	asusp_print(a.su, fz_null, size & 4, ASUSP_INFO);
	aproto_free(a.pr);
	aendp_free(a.ep);
	asusp_free(a.su);
	alayers_free(lc);
	return 0;
}
