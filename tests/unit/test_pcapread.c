/*
 * test_pcapread.c - the fast classic-pcap reader against libpcap itself.
 *
 * Every file is built by hand (any byte order, magic, version, snaplen, link type, broken
 * endings) into a mkdtemp() folder in /tmp, then read in lockstep by pcapread_next() and by
 * libpcap's pcap_next_ex(): every packet (timestamp, caplen, len, bytes), the end (EOF or error)
 * and the error text must be the same. Each file is read at several buffer sizes, down to 64
 * bytes, so records straddle the buffer end and outgrow it. A few tests go through source.c.
 */
#include "capture/pcapread.h"
#include "capture/source.h"
#include "testhelp.h"

#include <fcntl.h>
#include <ftw.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC_US 0xa1b2c3d4u
#define MAGIC_NS 0xa1b23c4du
#define T0 1704067200u /* 2024-01-01 00:00:00 UTC */

static char base_dir[64];
static int file_counter;

/* ---- building files ----------------------------------------------------------------------- */

struct fb {
	uint8_t *p;
	size_t n, cap;
	int swapped; /* write the header fields in the other byte order */
};

static void fb_put(struct fb *b, const void *d, size_t n)
{
	if (b->n + n > b->cap) {
		size_t nc = b->cap ? b->cap : 4096;
		while (nc < b->n + n)
			nc *= 2;
		uint8_t *np = realloc(b->p, nc);
		if (!np)
			abort();
		b->p = np;
		b->cap = nc;
	}
	memcpy(b->p + b->n, d, n);
	b->n += n;
}

static void fb_u32(struct fb *b, uint32_t v)
{
	if (b->swapped)
		v = __builtin_bswap32(v);
	fb_put(b, &v, 4);
}

static void fb_u16(struct fb *b, uint16_t v)
{
	if (b->swapped)
		v = __builtin_bswap16(v);
	fb_put(b, &v, 2);
}

static void fb_header(struct fb *b, uint32_t magic, uint16_t major, uint16_t minor,
		      uint32_t snaplen, uint32_t linktype)
{
	fb_u32(b, magic);
	fb_u16(b, major);
	fb_u16(b, minor);
	fb_u32(b, 0); /* thiszone */
	fb_u32(b, 0); /* sigfigs */
	fb_u32(b, snaplen);
	fb_u32(b, linktype);
}

/* A record header with the given fields, then nbytes bytes of data (derived from seed). */
static void fb_record(struct fb *b, uint32_t sec, uint32_t frac, uint32_t caplen, uint32_t len,
		      uint32_t nbytes, unsigned seed)
{
	fb_u32(b, sec);
	fb_u32(b, frac);
	fb_u32(b, caplen);
	fb_u32(b, len);
	for (uint32_t j = 0; j < nbytes; j++) {
		uint8_t c = (uint8_t)(seed * 31 + j * 7 + (j >> 8));
		fb_put(b, &c, 1);
	}
}

/* A whole, ordinary record: caplen bytes, wire length a little longer. */
static void fb_packet(struct fb *b, unsigned i, uint32_t caplen)
{
	fb_record(b, T0 + i, (i * 7919u) % 1000000u, caplen, caplen + i % 3, caplen, i);
}

static const char *fb_save(struct fb *b, char *path, size_t len)
{
	snprintf(path, len, "%s/f%d.pcap", base_dir, ++file_counter);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, b->p, b->n) != (ssize_t)b->n)
		abort();
	close(fd);
	free(b->p);
	memset(b, 0, sizeof *b);
	return path;
}

/* ---- reading with both ----------------------------------------------------------------------- */

struct result {
	int lib_opened;  /* libpcap opened the file */
	int taken;       /* pcapread took it */
	int packets;     /* packets compared (equal) */
	int end;         /* 0: EOF, -1: error (both) */
	int mismatch;    /* something differed (reported as a failed check) */
	char err[PCAP_ERRBUF_SIZE];     /* libpcap's error at the end */
	char lib_open_err[PCAP_ERRBUF_SIZE];
	char filter_err[PCAP_ERRBUF_SIZE];
	uint32_t first_caplen, last_caplen;
};

/*
 * Reads path with libpcap and pcapread (precision nano or micro, read buffer bufsize, filter or
 * NULL) in lockstep. Any difference is a failed check (with the packet number).
 */
static struct result compare(const char *path, int nano, size_t bufsize, const char *filter)
{
	struct result res;
	memset(&res, 0, sizeof res);
	char ebuf[PCAP_ERRBUF_SIZE] = "", perr[PCAP_ERRBUF_SIZE] = "";
	pcap_t *lp = pcap_open_offline_with_tstamp_precision(
		path, nano ? PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO, ebuf);
	struct pcapread_opts o = { .nano = nano, .bufsize = bufsize };
	pcapread_t *pr = pcapread_open(path, &o, perr, sizeof perr);
	res.taken = pr != NULL;
	if (!lp) {
		snprintf(res.lib_open_err, sizeof res.lib_open_err, "%s", ebuf);
		CHECK(pr == NULL); /* what libpcap cannot open, pcapread never takes */
		pcapread_close(pr);
		return res;
	}
	res.lib_opened = 1;
	if (!pr) {
		pcap_close(lp);
		return res;
	}
	CHECK_EQ_INT(pcapread_datalink(pr), pcap_datalink(lp));
	CHECK_EQ_INT(pcapread_datalink_ext(pr), pcap_datalink_ext(lp));
	CHECK_EQ_INT(pcapread_snapshot(pr), pcap_snapshot(lp));
	if (filter) {
		struct bpf_program prog;
		int lrc = pcap_compile(lp, &prog, filter, 1, PCAP_NETMASK_UNKNOWN);
		char ferr[PCAP_ERRBUF_SIZE] = "";
		int prc = pcapread_setfilter(pr, filter, ferr, sizeof ferr);
		CHECK_EQ_INT(prc, lrc);
		if (lrc == 0) {
			CHECK_EQ_INT(pcap_setfilter(lp, &prog), 0);
			pcap_freecode(&prog);
		} else {
			snprintf(res.filter_err, sizeof res.filter_err, "%s", pcap_geterr(lp));
			CHECK_EQ_STR(ferr, res.filter_err);
			goto out;
		}
	}
	for (;;) {
		struct pcap_pkthdr *lh, ph;
		const u_char *ld;
		const uint8_t *pd;
		int lrc = pcap_next_ex(lp, &lh, &ld);
		int prc = pcapread_next(pr, &ph, &pd, perr, sizeof perr);
		if (lrc == 1 && prc == 1) {
			int same = lh->ts.tv_sec == ph.ts.tv_sec && lh->ts.tv_usec == ph.ts.tv_usec &&
				   lh->caplen == ph.caplen && lh->len == ph.len &&
				   memcmp(ld, pd, lh->caplen) == 0;
			if (!same) {
				printf("  packet %d differs: libpcap %lld.%lld %u/%u, pcapread "
				       "%lld.%lld %u/%u\n",
				       res.packets, (long long)lh->ts.tv_sec, (long long)lh->ts.tv_usec,
				       lh->caplen, lh->len, (long long)ph.ts.tv_sec,
				       (long long)ph.ts.tv_usec, ph.caplen, ph.len);
				res.mismatch = 1;
				break;
			}
			if (res.packets == 0)
				res.first_caplen = ph.caplen;
			res.last_caplen = ph.caplen;
			res.packets++;
			continue;
		}
		if (lrc == PCAP_ERROR_BREAK && prc == 0) {
			res.end = 0;
			break;
		}
		if (lrc == PCAP_ERROR && prc == PCAPREAD_ERR) {
			res.end = -1;
			snprintf(res.err, sizeof res.err, "%s", pcap_geterr(lp));
			if (strcmp(res.err, perr) != 0) {
				printf("  errors differ: libpcap `%s', pcapread `%s'\n", res.err, perr);
				res.mismatch = 1;
			}
			break;
		}
		printf("  packet %d: libpcap returned %d, pcapread %d (%s / %s)\n", res.packets, lrc,
		       prc, lrc == PCAP_ERROR ? pcap_geterr(lp) : "", prc < 0 ? perr : "");
		res.mismatch = 1;
		break;
	}
out:
	if (res.mismatch)
		printf("  (file %s, nano %d, bufsize %zu, filter %s)\n", path, nano, bufsize,
		       filter ? filter : "-");
	CHECK(!res.mismatch);
	pcapread_close(pr);
	pcap_close(lp);
	return res;
}

static const size_t bufsizes[] = { 0, 64, 100, 1000, 4096 };
#define NBUFS (sizeof bufsizes / sizeof bufsizes[0])

/* compare() at both precisions and every buffer size; returns the last result. */
static struct result compare_all(const char *path, const char *filter)
{
	struct result r = { 0 }, first = { 0 };
	for (int nano = 0; nano < 2; nano++) {
		for (size_t i = 0; i < NBUFS; i++) {
			r = compare(path, nano, bufsizes[i], filter);
			if (nano == 0 && i == 0)
				first = r;
			/* the same outcome whatever the buffer size */
			CHECK_EQ_INT(r.packets, first.packets);
			CHECK_EQ_INT(r.end, first.end);
			CHECK_EQ_INT(r.taken, first.taken);
		}
	}
	return r;
}

static const uint32_t sizes[] = { 0, 1, 14, 60, 63, 64, 65, 99, 100, 101, 200, 999, 1000,
				  1001, 1514, 4095, 4096, 4097, 9000, 65535 };
#define NSIZES (sizeof sizes / sizeof sizes[0])

static const char *mixed_file(char *path, size_t len, int swapped, uint32_t magic)
{
	struct fb b = { .swapped = swapped };
	fb_header(&b, magic, 2, 4, 65535, 1);
	for (unsigned i = 0; i < 3 * NSIZES; i++)
		fb_packet(&b, i, sizes[(i * 7) % NSIZES]);
	return fb_save(&b, path, len);
}

/* ---- tests ------------------------------------------------------------------------------------ */

static void test_plain(void)
{
	char path[256];
	struct result r = compare_all(mixed_file(path, sizeof path, 0, MAGIC_US), NULL);
	CHECK(r.taken);
	CHECK_EQ_INT(r.packets, 3 * NSIZES);
	CHECK_EQ_INT(r.end, 0);
}

static void test_swapped(void)
{
	char path[256];
	struct result r = compare_all(mixed_file(path, sizeof path, 1, MAGIC_US), NULL);
	CHECK(r.taken);
	CHECK_EQ_INT(r.packets, 3 * NSIZES);
	CHECK_EQ_INT(r.end, 0);
}

/* nanosecond files in both byte orders, read at both precisions (compare_all does both) */
static void test_nano(void)
{
	for (int swapped = 0; swapped < 2; swapped++) {
		char path[256];
		struct fb b = { .swapped = swapped };
		fb_header(&b, MAGIC_NS, 2, 4, 65535, 1);
		static const uint32_t fracs[] = { 0, 1, 999, 1000, 1001, 123456789, 999999999 };
		for (unsigned i = 0; i < 7; i++)
			fb_record(&b, T0 + i, fracs[i], 60, 60, 60, i);
		struct result r = compare_all(fb_save(&b, path, sizeof path), NULL);
		CHECK(r.taken);
		CHECK_EQ_INT(r.packets, 7);
	}
}

/* 32-bit fields at their limits: libpcap 1.10 sign-extends both, then scales */
static void test_timestamp_extremes(void)
{
	static const uint32_t vals[] = { 0, 999999, 1000000, 0x7fffffffu, 0x80000000u,
					 0xfffffc18u, 0xffffffffu };
	for (int swapped = 0; swapped < 2; swapped++) {
		for (int m = 0; m < 2; m++) {
			char path[256];
			struct fb b = { .swapped = swapped };
			fb_header(&b, m ? MAGIC_NS : MAGIC_US, 2, 4, 65535, 1);
			unsigned n = 0;
			for (unsigned i = 0; i < 7; i++)
				for (unsigned j = 0; j < 7; j++)
					fb_record(&b, vals[i], vals[j], 20, 20, 20, n++);
			struct result r = compare_all(fb_save(&b, path, sizeof path), NULL);
			CHECK(r.taken);
			CHECK_EQ_INT(r.packets, 49);
		}
	}
}

/* a record longer than the file's snaplen (within the maximum) is cut to it, the rest skipped */
static void test_caplen_over_snaplen(void)
{
	for (int swapped = 0; swapped < 2; swapped++) {
		char path[256];
		struct fb b = { .swapped = swapped };
		fb_header(&b, MAGIC_US, 2, 4, 64, 1);
		fb_packet(&b, 0, 64);
		fb_record(&b, T0 + 1, 5, 100, 100, 100, 1);
		fb_packet(&b, 2, 10);
		fb_record(&b, T0 + 3, 5, 5000, 6000, 5000, 3);
		fb_packet(&b, 4, 64);
		struct result r = compare_all(fb_save(&b, path, sizeof path), NULL);
		CHECK(r.taken);
		CHECK_EQ_INT(r.packets, 5);
		CHECK_EQ_INT(r.end, 0);
	}
}

/* caplen above the link type's maximum: an error, after the packets before it */
static void test_caplen_over_max(void)
{
	char path[256];
	struct fb b = { 0 };
	fb_header(&b, MAGIC_US, 2, 4, 65535, 1);
	fb_packet(&b, 0, 100);
	fb_packet(&b, 1, 100);
	fb_record(&b, T0, 0, 262145, 262145, 10, 2);
	struct result r = compare_all(fb_save(&b, path, sizeof path), NULL);
	CHECK(r.taken);
	CHECK_EQ_INT(r.packets, 2);
	CHECK_EQ_INT(r.end, -1);
	CHECK_EQ_STR(r.err, "invalid packet capture length 262145, bigger than snaplen of 65535");
	/* libpcap keeps a snaplen above the maximum (up to INT_MAX): another message */
	fb_header(&b, MAGIC_US, 2, 4, 1048576, 1);
	fb_packet(&b, 0, 262144);
	fb_record(&b, T0, 0, 262145, 262145, 262145, 2);
	r = compare_all(fb_save(&b, path, sizeof path), NULL);
	CHECK(r.taken);
	CHECK_EQ_INT(r.packets, 1);
	CHECK_EQ_STR(r.err, "invalid packet capture length 262145, bigger than maximum of 262144");
	/* above INT_MAX it becomes the maximum */
	fb_header(&b, MAGIC_US, 2, 4, 0x80000000u, 1);
	fb_packet(&b, 0, 1000);
	r = compare_all(fb_save(&b, path, sizeof path), NULL);
	CHECK(r.taken);
	CHECK_EQ_INT(r.packets, 1);
}

static void test_truncated_header(void)
{
	char path[256];
	struct fb b = { 0 };
	fb_header(&b, MAGIC_US, 2, 4, 65535, 1);
	fb_packet(&b, 0, 100);
	fb_put(&b, "\1\2\3\4\5", 5);
	struct result r = compare_all(fb_save(&b, path, sizeof path), NULL);
	CHECK(r.taken);
	CHECK_EQ_INT(r.packets, 1);
	CHECK_EQ_INT(r.end, -1);
	CHECK_EQ_STR(r.err, "truncated dump file; tried to read 16 header bytes, only got 5");
}

static void test_truncated_data(void)
{
	char path[256];
	struct fb b = { 0 };
	fb_header(&b, MAGIC_US, 2, 4, 65535, 1);
	fb_packet(&b, 0, 100);
	fb_record(&b, T0, 0, 3000, 3000, 40, 1);
	struct result r = compare_all(fb_save(&b, path, sizeof path), NULL);
	CHECK(r.taken);
	CHECK_EQ_INT(r.packets, 1);
	CHECK_EQ_INT(r.end, -1);
	CHECK_EQ_STR(r.err, "truncated dump file; tried to read 3000 captured bytes, only got 40");
	/* the header of the record and nothing else */
	fb_header(&b, MAGIC_US, 2, 4, 65535, 1);
	fb_record(&b, T0, 0, 3000, 3000, 0, 1);
	r = compare_all(fb_save(&b, path, sizeof path), NULL);
	CHECK_EQ_INT(r.packets, 0);
	CHECK_EQ_STR(r.err, "truncated dump file; tried to read 3000 captured bytes, only got 0");
}

/* a truncated record above the snaplen: libpcap names the snaplen or the caplen */
static void test_truncated_over_snaplen(void)
{
	char path[256];
	struct fb b = { 0 };
	fb_header(&b, MAGIC_US, 2, 4, 64, 1);
	fb_record(&b, T0, 0, 200, 200, 30, 1);
	struct result r = compare_all(fb_save(&b, path, sizeof path), NULL);
	CHECK_EQ_STR(r.err, "truncated dump file; tried to read 64 captured bytes, only got 30");
	fb_header(&b, MAGIC_US, 2, 4, 64, 1);
	fb_record(&b, T0, 0, 200, 200, 100, 1);
	r = compare_all(fb_save(&b, path, sizeof path), NULL);
	CHECK_EQ_STR(r.err, "truncated dump file; tried to read 200 captured bytes, only got 100");
	fb_header(&b, MAGIC_US, 2, 4, 64, 1);
	fb_record(&b, T0, 0, 200, 200, 64, 1);
	r = compare_all(fb_save(&b, path, sizeof path), NULL);
	CHECK_EQ_STR(r.err, "truncated dump file; tried to read 200 captured bytes, only got 64");
}

/* records far larger than a 64-byte buffer, up to the maximum (snaplen 0 means the maximum) */
static void test_big_records(void)
{
	char path[256];
	struct fb b = { 0 };
	fb_header(&b, MAGIC_US, 2, 4, 0, 1);
	fb_packet(&b, 0, 10);
	fb_packet(&b, 1, 262144);
	fb_packet(&b, 2, 70000);
	fb_packet(&b, 3, 1);
	fb_packet(&b, 4, 262143);
	struct result r = compare_all(fb_save(&b, path, sizeof path), NULL);
	CHECK(r.taken);
	CHECK_EQ_INT(r.packets, 5);
	CHECK_EQ_INT(r.end, 0);
	fb_header(&b, MAGIC_US, 2, 4, 0, 1);
	fb_packet(&b, 0, 262144);
	fb_record(&b, T0, 0, 262145, 262145, 262145, 1);
	r = compare_all(fb_save(&b, path, sizeof path), NULL);
	CHECK_EQ_INT(r.packets, 1);
	CHECK_EQ_STR(r.err, "invalid packet capture length 262145, bigger than snaplen of 262144");
}

static void test_header_only(void)
{
	char path[256];
	for (int swapped = 0; swapped < 2; swapped++) {
		struct fb b = { .swapped = swapped };
		fb_header(&b, MAGIC_NS, 2, 4, 65535, 1);
		struct result r = compare_all(fb_save(&b, path, sizeof path), NULL);
		CHECK(r.taken);
		CHECK_EQ_INT(r.packets, 0);
		CHECK_EQ_INT(r.end, 0);
	}
}

/* shorter than the file header: declined, and libpcap's message reaches the user */
static void test_short_file(void)
{
	char path[256], err[512];
	for (size_t n = 0; n < 24; n += 5) {
		struct fb b = { 0 };
		fb_header(&b, MAGIC_US, 2, 4, 65535, 1);
		b.n = n;
		fb_save(&b, path, sizeof path);
		struct result r = compare(path, 0, 0, NULL);
		CHECK(!r.taken);
		CHECK(!r.lib_opened);
		struct source_opts so = { .file = path };
		source_t *s = NULL;
		CHECK_EQ_INT(source_open(&so, &s, err, sizeof err), SOURCE_ERR);
		CHECK(s == NULL);
		CHECK(strstr(err, path) != NULL);
		CHECK(strstr(err, r.lib_open_err) != NULL);
	}
}

/* versions before 2.4 interchange caplen and len (2.3: only when caplen > len) */
static void test_versions(void)
{
	static const uint16_t vers[][2] = { { 2, 4 }, { 2, 3 }, { 2, 2 }, { 2, 0 }, { 543, 0 },
					    { 2, 5 }, { 1, 0 }, { 3, 0 }, { 543, 1 } };
	for (size_t v = 0; v < sizeof vers / sizeof vers[0]; v++) {
		for (int swapped = 0; swapped < 2; swapped++) {
			char path[256];
			struct fb b = { .swapped = swapped };
			fb_header(&b, MAGIC_US, vers[v][0], vers[v][1], 65535, 1);
			fb_record(&b, T0, 1, 60, 100, 60, 0);   /* caplen < len */
			fb_record(&b, T0, 2, 100, 60, 100, 1);  /* caplen > len */
			fb_record(&b, T0, 3, 100, 60, 60, 2);   /* as interchanged */
			fb_record(&b, T0, 4, 80, 80, 80, 3);
			struct result r = compare_all(fb_save(&b, path, sizeof path), NULL);
			int supported = vers[v][0] == 2 && vers[v][1] <= 4;
			if (supported)
				CHECK(r.taken);
			CHECK_EQ_INT(r.taken, r.lib_opened);
		}
	}
}

/* link types: LINKTYPE -> DLT mapping, FCS and reserved bits, as pcap_datalink*() say */
static void test_linktypes(void)
{
	static const uint32_t lts[] = { 0, 1, 101, 105, 113, 127, 228, 229, 147, 0x10000001u,
					0x14000001u, 0x04000001u, 0x00010001u, 0x0000ffffu,
					0x03ffffffu, 0xf0000065u, 249, 252, 276, 259 };
	for (size_t i = 0; i < sizeof lts / sizeof lts[0]; i++) {
		char path[256];
		struct fb b = { 0 };
		fb_header(&b, MAGIC_US, 2, 4, 65535, lts[i]);
		fb_packet(&b, 0, 100);
		fb_packet(&b, 1, 1000);
		struct result r = compare_all(fb_save(&b, path, sizeof path), NULL);
		CHECK(r.taken);
		CHECK_EQ_INT(r.packets, 2);
	}
	/* LINKTYPE_RAW is DLT_RAW */
	char path[256], err[256];
	struct fb b = { 0 };
	fb_header(&b, MAGIC_US, 2, 4, 65535, 101);
	struct pcapread_opts o = { 0 };
	pcapread_t *pr = pcapread_open(fb_save(&b, path, sizeof path), &o, err, sizeof err);
	CHECK(pr != NULL);
	if (pr)
		CHECK_EQ_INT(pcapread_datalink(pr), DLT_RAW);
	pcapread_close(pr);
}

/* what the fast path leaves to libpcap */
static void test_declined(void)
{
	static const struct {
		uint32_t magic, linktype;
		int swapped;
		int taken;
	} cases[] = {
		{ 0x0a0d0d0au, 1, 0, 0 },   /* pcapng */
		{ 0xa1b2cd34u, 1, 0, 0 },   /* Kuznetzov */
		{ 0xa1b2cd34u, 1, 1, 0 },
		{ 0xa12b3c4du, 1, 0, 0 },   /* Navtel */
		{ MAGIC_US, 113, 1, 0 },    /* Linux cooked, other byte order */
		{ MAGIC_US, 113, 0, 1 },    /* ... in ours */
		{ MAGIC_US, 276, 1, 0 },    /* SLL2 */
		{ MAGIC_US, 239, 1, 0 },    /* NFLOG */
		{ MAGIC_US, 239, 0, 1 },
		{ MAGIC_US, 117, 1, 0 },    /* pflog */
		{ MAGIC_US, 189, 0, 0 },    /* USB Linux */
		{ MAGIC_US, 220, 0, 0 },    /* USB Linux mmapped */
		{ MAGIC_US, 231, 0, 0 },    /* D-Bus: 128 MiB records */
		{ MAGIC_US, 0, 1, 1 },      /* DLT_NULL in the other byte order is fine */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char path[256];
		struct fb b = { .swapped = cases[i].swapped };
		fb_header(&b, cases[i].magic, 2, 4, 65535, cases[i].linktype);
		fb_packet(&b, 0, 100);
		struct result r = compare(fb_save(&b, path, sizeof path), 0, 0, NULL);
		if (r.taken != cases[i].taken)
			printf("  case %zu: taken %d\n", i, r.taken);
		CHECK_EQ_INT(r.taken, cases[i].taken);
	}
	/* not regular files */
	char err[256], fifo[256];
	struct pcapread_opts o = { 0 };
	CHECK(pcapread_open("-", &o, err, sizeof err) == NULL);
	CHECK(pcapread_open(base_dir, &o, err, sizeof err) == NULL);
	CHECK(pcapread_open("/nonexistent/x.pcap", &o, err, sizeof err) == NULL);
	snprintf(fifo, sizeof fifo, "%s/fifo", base_dir);
	CHECK_EQ_INT(mkfifo(fifo, 0600), 0);
	/* declined without opening it (which would block here, with no writer) */
	CHECK(pcapread_open(fifo, &o, err, sizeof err) == NULL);
	CHECK_EQ_STR(err, "not a regular file");
}

/* Ethernet + IPv4 with protocol proto and ports, or ARP when proto is 0 */
static void eth_frame(uint8_t *f, uint32_t *len, uint8_t proto, uint16_t sport, uint16_t dport)
{
	memset(f, 0, 64);
	memcpy(f, "\xff\xff\xff\xff\xff\xff\x02\x00\x00\x00\x00\x01", 12);
	if (!proto) {
		f[12] = 0x08, f[13] = 0x06;
		*len = 42;
		return;
	}
	f[12] = 0x08, f[13] = 0x00;
	uint8_t *ip = f + 14;
	ip[0] = 0x45, ip[3] = 40, ip[8] = 64, ip[9] = proto;
	memcpy(ip + 12, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
	ip[20] = (uint8_t)(sport >> 8), ip[21] = (uint8_t)sport;
	ip[22] = (uint8_t)(dport >> 8), ip[23] = (uint8_t)dport;
	*len = 54;
}

static void put_frame(struct fb *b, unsigned i, const uint8_t *f, uint32_t len)
{
	fb_u32(b, T0 + i);
	fb_u32(b, i);
	fb_u32(b, len);
	fb_u32(b, len);
	fb_put(b, f, len);
}

static void test_filter(void)
{
	for (int swapped = 0; swapped < 2; swapped++) {
		char path[256];
		struct fb b = { .swapped = swapped };
		uint8_t f[64];
		uint32_t len;
		fb_header(&b, MAGIC_US, 2, 4, 65535, 1);
		for (unsigned i = 0; i < 30; i++) {
			eth_frame(f, &len, i % 3 == 0 ? 6 : i % 3 == 1 ? 17 : 0, 1000 + i % 5,
				  i % 2 ? 53 : 80);
			put_frame(&b, i, f, len);
		}
		fb_save(&b, path, sizeof path);
		struct result r = compare_all(path, "tcp");
		CHECK_EQ_INT(r.packets, 10);
		r = compare_all(path, "udp port 53");
		CHECK_EQ_INT(r.packets, 5);
		r = compare_all(path, "not ip");
		CHECK_EQ_INT(r.packets, 10);
		r = compare_all(path, "greater 50");
		CHECK_EQ_INT(r.packets, 20);
		r = compare(path, 0, 0, "tcp port");
		CHECK(r.filter_err[0] != 0);
	}
	/* DLT_NULL keeps the AF_ value in the writer's byte order: libpcap compiles for it */
	for (int swapped = 0; swapped < 2; swapped++) {
		char path[256];
		struct fb b = { .swapped = swapped };
		fb_header(&b, MAGIC_US, 2, 4, 65535, 0);
		for (unsigned i = 0; i < 10; i++) {
			uint8_t pk[40] = { 0 };
			uint32_t af = i % 2 ? 2 : 24; /* AF_INET, AF_INET6 (BSD) */
			if (swapped)
				af = __builtin_bswap32(af);
			memcpy(pk, &af, 4);
			pk[4] = i % 2 ? 0x45 : 0x60;
			put_frame(&b, i, pk, sizeof pk);
		}
		struct result r = compare_all(fb_save(&b, path, sizeof path), "ip");
		CHECK(r.taken);
		CHECK_EQ_INT(r.packets, 5);
	}
}

/* ---- through source.c ------------------------------------------------------------------------ */

struct sink {
	int packets;
	uint64_t digest;
	source_t *src;
	int break_at; /* call source_breakloop() after this many packets (0: never) */
};

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

static void on_packet(void *user, const struct pcap_pkthdr *h, const uint8_t *data)
{
	struct sink *k = user;
	int64_t t[2] = { h->ts.tv_sec, h->ts.tv_usec };
	k->digest = fnv(k->digest, t, sizeof t);
	k->digest = fnv(k->digest, &h->caplen, 4);
	k->digest = fnv(k->digest, &h->len, 4);
	k->digest = fnv(k->digest, data, h->caplen);
	k->packets++;
	if (k->break_at && k->packets == k->break_at)
		source_breakloop(k->src);
}

static void on_lib_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *data)
{
	on_packet(user, h, data);
}

/* source_open + source_dispatch in batches against pcap_loop over the same file */
static void test_source(void)
{
	char path[256], err[512], ebuf[PCAP_ERRBUF_SIZE];
	mixed_file(path, sizeof path, 1, MAGIC_NS);
	for (int nano = 0; nano < 2; nano++) {
		struct sink want = { .digest = 1 }, got = { .digest = 1 };
		pcap_t *lp = pcap_open_offline_with_tstamp_precision(
			path, nano ? PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO, ebuf);
		CHECK(lp != NULL);
		if (!lp)
			return;
		pcap_loop(lp, -1, on_lib_packet, (u_char *)&want);
		struct source_opts so = { .file = path, .nano = nano };
		source_t *s = NULL;
		CHECK_EQ_INT(source_open(&so, &s, err, sizeof err), 0);
		if (!s) {
			pcap_close(lp);
			return;
		}
		CHECK_EQ_INT(source_datalink(s), pcap_datalink(lp));
		CHECK_EQ_INT(source_snaplen(s), pcap_snapshot(lp));
		CHECK_EQ_INT(source_is_nano(s), nano);
		CHECK_EQ_INT(source_fd(s), -1);
		CHECK_EQ_INT(source_is_live(s), 0);
		struct source_stats st;
		CHECK_EQ_INT(source_stats(s, &st), -1);
		got.src = s;
		got.break_at = 5;
		int n, calls = 0, breaks = 0;
		while ((n = source_dispatch(s, 7, on_packet, &got, err, sizeof err)) != SOURCE_EOF) {
			CHECK(n >= 0 && n <= 7);
			if (n < 0)
				break;
			if (got.packets == 5 && calls == 0)
				CHECK_EQ_INT(n, 5); /* stopped by the break after the fifth */
			breaks += n == 0;
			if (++calls > 1000)
				break;
		}
		CHECK_EQ_INT(breaks, 1); /* the break after the fifth: the next call returns 0 */
		CHECK_EQ_INT(got.packets, want.packets);
		CHECK(got.digest == want.digest);
		source_close(s);
		pcap_close(lp);
	}
}

static void test_source_breakloop_first(void)
{
	char path[256], err[512];
	mixed_file(path, sizeof path, 0, MAGIC_US);
	struct source_opts so = { .file = path };
	source_t *s = NULL;
	CHECK_EQ_INT(source_open(&so, &s, err, sizeof err), 0);
	if (!s)
		return;
	struct sink k = { .src = s };
	source_breakloop(s);
	CHECK_EQ_INT(source_dispatch(s, 10, on_packet, &k, err, sizeof err), 0);
	CHECK_EQ_INT(k.packets, 0);
	CHECK_EQ_INT(source_dispatch(s, 10, on_packet, &k, err, sizeof err), 10);
	source_close(s);
}

static void test_source_errors(void)
{
	char path[256], err[512], want[512];
	struct fb b = { 0 };
	fb_header(&b, MAGIC_US, 2, 4, 65535, 0x10000001u);
	fb_packet(&b, 0, 100);
	fb_record(&b, T0, 0, 3000, 3000, 40, 1);
	fb_save(&b, path, sizeof path);
	struct source_opts so = { .file = path, .filter = "tcp port", .filter_origin = "FILTER" };
	source_t *s = NULL;
	CHECK_EQ_INT(source_open(&so, &s, err, sizeof err), SOURCE_EFILTER);
	CHECK(strncmp(err, "invalid FILTER `tcp port': ", 27) == 0);
	so.filter = "ip or not ip";
	CHECK_EQ_INT(source_open(&so, &s, err, sizeof err), 0);
	if (!s)
		return;
	CHECK_EQ_INT(source_datalink(s), DLT_EN10MB);
	CHECK(source_datalink_ext(s) == 0x10000000u);
	struct sink k = { 0 };
	CHECK_EQ_INT(source_dispatch(s, 10, on_packet, &k, err, sizeof err), SOURCE_ERR);
	CHECK_EQ_INT(k.packets, 1);
	snprintf(want, sizeof want,
		 "error reading `%s': truncated dump file; tried to read 3000 captured bytes, only "
		 "got 40",
		 path);
	CHECK_EQ_STR(err, want);
	source_close(s);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

int main(void)
{
	snprintf(base_dir, sizeof base_dir, "/tmp/test_pcapread_XXXXXX");
	if (!mkdtemp(base_dir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(test_plain);
	RUN(test_swapped);
	RUN(test_nano);
	RUN(test_timestamp_extremes);
	RUN(test_caplen_over_snaplen);
	RUN(test_caplen_over_max);
	RUN(test_truncated_header);
	RUN(test_truncated_data);
	RUN(test_truncated_over_snaplen);
	RUN(test_big_records);
	RUN(test_header_only);
	RUN(test_short_file);
	RUN(test_versions);
	RUN(test_linktypes);
	RUN(test_declined);
	RUN(test_filter);
	RUN(test_source);
	RUN(test_source_breakloop_first);
	RUN(test_source_errors);
	if (!getenv("KEEP_TMP"))
		nftw(base_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return test_main_end();
}
