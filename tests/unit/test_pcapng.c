/*
 * test_pcapng.c - pcapng (one pcapng file with a section comment and packet comments).
 *
 * Every file is read back twice: by libpcap (pcap_open_offline with the file's precision: packet
 * count, lengths, bytes, exact timestamps) and by ng_read() below, a strict walk of the blocks
 * (lengths at both ends, multiples of 4, zero padding, option codes and lengths, opt_endofopt,
 * nothing after the last block). Write errors are made real with RLIMIT_FSIZE, as in
 * test_pcapw.c. The files live in a mkdtemp() folder in /tmp (kept with KEEP_TMP=1).
 */
#include "outputs/pcapng.h"
#include "testhelp.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define T0 1704067200LL /* 2024-01-01 00:00:00 UTC */
#define MAXPKT 262144u
#define MAXREC 512

static char base_dir[64];

/* ---- helpers ---------------------------------------------------------------------------- */

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static long long file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static void fsize_limit(rlim_t bytes)
{
	struct rlimit rl;
	getrlimit(RLIMIT_FSIZE, &rl);
	rl.rlim_cur = bytes;
	setrlimit(RLIMIT_FSIZE, &rl);
}

static void fsize_unlimited(void)
{
	struct rlimit rl;
	getrlimit(RLIMIT_FSIZE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_FSIZE, &rl);
}

static const char *tmp_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", base_dir, name);
	return buf;
}

static uint16_t rd16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

/* One packet as written: what the file must give back. */
struct pkt {
	int64_t sec;
	uint32_t frac, caplen, wirelen;
	const uint8_t *data;
	const char *comment;
};

/* Packet data: byte j of packet i. */
static uint8_t pbyte(unsigned i, uint32_t j)
{
	return (uint8_t)(i * 7 + j * 13 + (j >> 8));
}

static uint8_t *pdata(unsigned i, uint32_t caplen)
{
	uint8_t *d = malloc(caplen ? caplen : 1);
	for (uint32_t j = 0; j < caplen; j++)
		d[j] = pbyte(i, j);
	return d;
}

/* ---- a strict pcapng reader ------------------------------------------------------------- */

struct ng_epb {
	uint64_t ts;
	uint32_t caplen, wirelen;
	const uint8_t *data;
	const uint8_t *comment; /* NULL if none */
	size_t comment_len;
	int ncomments;
	uint32_t blocklen;
};

struct ng {
	uint8_t *b;
	size_t len;
	uint32_t shb_len, idb_len;
	char *shb_comment; /* every opt_comment of the SHB, joined; NULL if none */
	size_t shb_comment_len;
	int shb_ncomments;
	char userappl[256], os[256], if_name[256];
	uint16_t linktype;
	uint32_t snaplen;
	int tsresol; /* -1 if missing */
	int fcslen;  /* -1 if missing */
	size_t n;    /* EPBs */
	struct ng_epb epb[MAXREC];
};

static void ng_free(struct ng *ng)
{
	free(ng->b);
	free(ng->shb_comment);
	memset(ng, 0, sizeof *ng);
}

#define NG_BAD(...)                                                                                \
	do {                                                                                       \
		printf("  ng_read: " __VA_ARGS__);                                                 \
		printf("\n");                                                                      \
		return -1;                                                                         \
	} while (0)

static void copy_str(char *dst, size_t dlen, const uint8_t *v, size_t len)
{
	if (len >= dlen)
		len = dlen - 1;
	memcpy(dst, v, len);
	dst[len] = '\0';
}

/*
 * Walks the options at b[off..end) of a block of type bt, checking each (fits, zero padding,
 * known code and length) and that opt_endofopt closes them exactly at end.
 */
static int ng_opts(struct ng *ng, uint32_t bt, const uint8_t *b, size_t off, size_t end,
		   struct ng_epb *e)
{
	if (off == end)
		return 0; /* no options at all: legal */
	while (off < end) {
		if (end - off < 4)
			NG_BAD("option header past the block at %zu", off);
		uint16_t code = rd16(b + off), len = rd16(b + off + 2);
		size_t padded = ((size_t)len + 3) & ~(size_t)3;
		if (padded > end - off - 4)
			NG_BAD("option %u of %u bytes runs past the block", code, len);
		const uint8_t *v = b + off + 4;
		for (size_t k = len; k < padded; k++)
			if (v[k] != 0)
				NG_BAD("option %u: padding byte not zero", code);
		off += 4 + padded;
		if (code == 0) {
			if (len != 0 || off != end)
				NG_BAD("opt_endofopt of length %u, %zu bytes before the end", len,
				       end - off);
			return 0;
		}
		if (len == 0)
			NG_BAD("empty option %u", code);
		if (code == 1 && bt == 0x0A0D0D0Au) {
			ng->shb_comment = realloc(ng->shb_comment, ng->shb_comment_len + len + 1);
			memcpy(ng->shb_comment + ng->shb_comment_len, v, len);
			ng->shb_comment_len += len;
			ng->shb_comment[ng->shb_comment_len] = '\0';
			ng->shb_ncomments++;
		} else if (code == 1 && bt == 6) {
			e->comment = v;
			e->comment_len = len;
			e->ncomments++;
		} else if (code == 3 && bt == 0x0A0D0D0Au) {
			copy_str(ng->os, sizeof ng->os, v, len);
		} else if (code == 4 && bt == 0x0A0D0D0Au) {
			copy_str(ng->userappl, sizeof ng->userappl, v, len);
		} else if (code == 2 && bt == 1) {
			copy_str(ng->if_name, sizeof ng->if_name, v, len);
		} else if (code == 9 && bt == 1) {
			if (len != 1)
				NG_BAD("if_tsresol of %u bytes", len);
			ng->tsresol = v[0];
		} else if (code == 13 && bt == 1) {
			if (len != 1)
				NG_BAD("if_fcslen of %u bytes", len);
			ng->fcslen = v[0];
		} else {
			NG_BAD("unexpected option %u in block type %u", code, bt);
		}
	}
	NG_BAD("options not closed by opt_endofopt");
}

/* Returns the number of EPBs, or -1 (with the reason printed) for anything not as written. */
static long ng_read(const char *path, struct ng *ng)
{
	memset(ng, 0, sizeof *ng);
	ng->tsresol = ng->fcslen = -1;
	long long sz = file_size(path);
	FILE *fp = fopen(path, "rb");
	if (!fp || sz < 0)
		NG_BAD("cannot open %s", path);
	ng->b = malloc(sz > 0 ? (size_t)sz : 1);
	ng->len = fread(ng->b, 1, (size_t)sz, fp);
	fclose(fp);
	const uint8_t *b = ng->b;
	size_t off = 0;
	int nblk = 0;
	while (off < ng->len) {
		if (ng->len - off < 12)
			NG_BAD("partial block header at %zu", off);
		uint32_t bt = rd32(b + off), bl = rd32(b + off + 4);
		if (bl < 12 || bl % 4 || bl > ng->len - off)
			NG_BAD("block type %u at %zu: bad length %u", bt, off, bl);
		if (rd32(b + off + bl - 4) != bl)
			NG_BAD("block at %zu: trailing length %u != %u", off,
			       rd32(b + off + bl - 4), bl);
		size_t end = off + bl - 4;
		if (nblk == 0) {
			if (bt != 0x0A0D0D0Au || bl < 28)
				NG_BAD("first block is not an SHB");
			if (rd32(b + off + 8) != 0x1A2B3C4Du || rd16(b + off + 12) != 1 ||
			    rd16(b + off + 14) != 0)
				NG_BAD("SHB magic or version");
			uint64_t sl;
			memcpy(&sl, b + off + 16, 8);
			if (sl != UINT64_MAX)
				NG_BAD("section length %llu", (unsigned long long)sl);
			ng->shb_len = bl;
			if (ng_opts(ng, bt, b, off + 24, end, NULL) < 0)
				return -1;
		} else if (nblk == 1) {
			if (bt != 1 || bl < 20)
				NG_BAD("second block is not an IDB");
			ng->linktype = rd16(b + off + 8);
			if (rd16(b + off + 10) != 0)
				NG_BAD("IDB reserved field");
			ng->snaplen = rd32(b + off + 12);
			ng->idb_len = bl;
			if (ng_opts(ng, bt, b, off + 16, end, NULL) < 0)
				return -1;
		} else {
			if (bt != 6 || bl < 32)
				NG_BAD("block %d at %zu: type %u, not an EPB", nblk, off, bt);
			if (ng->n == MAXREC)
				NG_BAD("too many packets");
			struct ng_epb *e = &ng->epb[ng->n];
			memset(e, 0, sizeof *e);
			if (rd32(b + off + 8) != 0)
				NG_BAD("EPB interface %u", rd32(b + off + 8));
			e->ts = (uint64_t)rd32(b + off + 12) << 32 | rd32(b + off + 16);
			e->caplen = rd32(b + off + 20);
			e->wirelen = rd32(b + off + 24);
			e->blocklen = bl;
			size_t dend = off + 28 + (((size_t)e->caplen + 3) & ~(size_t)3);
			if (e->caplen > end - off - 28 || dend > end)
				NG_BAD("EPB caplen %u past the block", e->caplen);
			e->data = b + off + 28;
			for (size_t k = off + 28 + e->caplen; k < dend; k++)
				if (b[k] != 0)
					NG_BAD("EPB data padding not zero");
			if (ng_opts(ng, bt, b, dend, end, e) < 0)
				return -1;
			ng->n++;
		}
		nblk++;
		off += bl;
	}
	if (nblk < 2)
		NG_BAD("no IDB");
	return (long)ng->n;
}

/* The hand-read packet k equals p, with the file's tsresol. */
static int epb_is(const struct ng *ng, size_t k, const struct pkt *p)
{
	const struct ng_epb *e = &ng->epb[k];
	uint64_t mult = ng->tsresol == 9 ? 1000000000u : 1000000u;
	size_t cl = p->comment ? strlen(p->comment) : 0;
	int ok = e->ts == (uint64_t)p->sec * mult + p->frac && e->caplen == p->caplen &&
		 e->wirelen == p->wirelen &&
		 (p->caplen == 0 || memcmp(e->data, p->data, p->caplen) == 0) &&
		 e->ncomments == (cl ? 1 : 0) && e->comment_len == cl &&
		 (cl == 0 || memcmp(e->comment, p->comment, cl) == 0);
	size_t want =
	    28 + ((p->caplen + 3u) & ~3u) + (cl ? 4 + ((cl + 3) & ~(size_t)3) + 4 : 0) + 4;
	ok = ok && e->blocklen == want;
	if (!ok)
		printf(
		    "  packet %zu differs (ts %llu caplen %u wirelen %u comment %zu, block %u)\n",
		    k, (unsigned long long)e->ts, e->caplen, e->wirelen, e->comment_len,
		    e->blocklen);
	return ok;
}

/*
 * libpcap reads path with the file's precision and gives exactly n packets equal to p[0..n)
 * (NULL p: only the count). Returns 1 if so.
 */
static int libpcap_reads(const char *path, int nano, const struct pkt *p, size_t n)
{
	char eb[PCAP_ERRBUF_SIZE];
	pcap_t *pc = pcap_open_offline_with_tstamp_precision(
	    path, nano ? PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO, eb);
	if (!pc) {
		printf("  libpcap: %s\n", eb);
		return 0;
	}
	struct pcap_pkthdr *h;
	const u_char *d;
	size_t k = 0;
	int r, ok = 1;
	while ((r = pcap_next_ex(pc, &h, &d)) == 1) {
		if (k < n && p) {
			const struct pkt *q = &p[k];
			if (h->ts.tv_sec != q->sec || (uint32_t)h->ts.tv_usec != q->frac ||
			    h->caplen != q->caplen || h->len != q->wirelen ||
			    (q->caplen && memcmp(d, q->data, q->caplen) != 0)) {
				printf("  libpcap: packet %zu: %lld.%ld caplen %u len %u\n", k,
				       (long long)h->ts.tv_sec, (long)h->ts.tv_usec, h->caplen,
				       h->len);
				ok = 0;
			}
		}
		k++;
	}
	if (r != PCAP_ERROR_BREAK) {
		printf("  libpcap: %s after %zu packets\n", pcap_geterr(pc), k);
		ok = 0;
	}
	if (k != n) {
		printf("  libpcap: %zu packets, expected %zu\n", k, n);
		ok = 0;
	}
	pcap_close(pc);
	return ok;
}

static pcapng_t *create(const char *path, const struct pcapng_opts *o)
{
	char err[512] = "";
	pcapng_t *f = pcapng_create(path, o, err, sizeof err);
	if (!f)
		printf("  pcapng_create: %s\n", err);
	return f;
}

/* Writes p[0..n) to a new file path; returns 0 if every write and the close returned 0. */
static int write_all(const char *path, const struct pcapng_opts *o, const struct pkt *p, size_t n)
{
	pcapng_t *f = create(path, o);
	if (!f)
		return -1;
	int bad = 0;
	for (size_t i = 0; i < n; i++)
		if (pcapng_write(f, p[i].sec, p[i].frac, p[i].caplen, p[i].wirelen, p[i].data,
				 p[i].comment) != 0)
			bad++;
	struct pcapng_stats st;
	pcapng_stats(f, &st);
	if (st.packets != n || st.packets_dropped || st.write_errors)
		bad++;
	if (pcapng_close(f, 1) != 0)
		bad++;
	return bad ? -1 : 0;
}

static const char *summary = "ringcap incident 20240101T000000Z-0001\n"
			     "trigger: syn_rate 15000/s > 1000/s for 3 s on eth0\n"
			     "top talker: 198.51.100.7 -> 203.0.113.9:443 (tcp)\n"
			     "pre-trigger window: 30 s, 1234 packets; snaplen 65535\n"
			     "note: UTF-8 works — Zürich, 東京, ✓\n";

/* ---- tests ------------------------------------------------------------------------------- */

/* A mixed capture in the given precision: comments, lengths 0..9, all padding amounts. */
static void roundtrip(int nano)
{
	char path[256];
	struct pkt p[40];
	uint8_t *bufs[40];
	static const char *const comments[] = {"pre-trigger", "incident", NULL, ""};
	for (unsigned i = 0; i < 40; i++) {
		p[i].sec = T0 + i;
		p[i].frac = nano ? 999999999u - i * 12345678u : 999999u - i * 12345u;
		p[i].caplen = i < 10 ? i : 40 + i * 3;
		p[i].wirelen = p[i].caplen + i % 3;
		p[i].data = bufs[i] = pdata(i, p[i].caplen);
		p[i].comment = comments[i % 4];
	}
	struct pcapng_opts o = {.linktype = DLT_EN10MB,
				.snaplen = 65535,
				.nano = nano,
				.shb_comment = summary,
				.shb_userappl = "ringcap 0.1.0",
				.shb_os = "Linux",
				.if_name = "eth0"};
	tmp_path(path, sizeof path, nano ? "rt_nano.pcapng" : "rt_micro.pcapng");
	CHECK_EQ_INT(write_all(path, &o, p, 40), 0);

	struct ng ng;
	CHECK_EQ_INT(ng_read(path, &ng), 40);
	CHECK_EQ_INT(ng.tsresol, nano ? 9 : 6);
	CHECK_EQ_INT(ng.fcslen, -1);
	CHECK_EQ_INT(ng.linktype, 1);
	CHECK_EQ_INT(ng.snaplen, 65535);
	CHECK_EQ_STR(ng.shb_comment, summary);
	CHECK_EQ_INT(ng.shb_ncomments, 1);
	CHECK_EQ_STR(ng.userappl, "ringcap 0.1.0");
	CHECK_EQ_STR(ng.os, "Linux");
	CHECK_EQ_STR(ng.if_name, "eth0");
	/* the byte-order magic in the host's order: bytes 4d 3c 2b 1a on x86 */
	CHECK_EQ_INT(rd32(ng.b + 8), 0x1A2B3C4D);
	for (size_t k = 0; k < ng.n; k++)
		CHECK(epb_is(&ng, k, &p[k]));
	ng_free(&ng);
	CHECK(libpcap_reads(path, nano, p, 40));
	for (unsigned i = 0; i < 40; i++)
		free(bufs[i]);
}

static void test_micro(void)
{
	roundtrip(0);
}

static void test_nano(void)
{
	roundtrip(1);
}

static void test_no_options(void)
{
	/* no strings at all: the SHB has no options, the IDB only if_tsresol */
	char path[256];
	struct ng ng;
	struct pkt p = {T0, 5, 3, 3, (const uint8_t *)"abc", NULL};
	struct pcapng_opts o = {.linktype = DLT_RAW, .snaplen = 0};
	tmp_path(path, sizeof path, "noopts.pcapng");
	CHECK_EQ_INT(write_all(path, &o, &p, 1), 0);
	CHECK_EQ_INT(ng_read(path, &ng), 1);
	CHECK_EQ_INT(ng.shb_len, 28);
	CHECK_EQ_INT(ng.idb_len, 20 + 8 + 4);
	CHECK(ng.shb_comment == NULL);
	CHECK_EQ_INT(ng.linktype, 101); /* DLT_RAW is LINKTYPE_RAW in files */
	CHECK_EQ_INT(ng.snaplen, 0);
	CHECK_EQ_INT(ng.tsresol, 6);
	CHECK(epb_is(&ng, 0, &p));
	CHECK_EQ_INT(ng.epb[0].blocklen, 36);
	ng_free(&ng);
	CHECK(libpcap_reads(path, 0, &p, 1));
}

static void test_timestamps(void)
{
	static const struct {
		int nano;
		int64_t sec;
		uint32_t frac;
	} t[] = {
	    {0, 0, 0},
	    {1, 0, 1},
	    {0, T0, 999999},
	    {1, T0, 999999999},
	    {0, 4294967296LL + 5, 7}, /* past 2106: pcapng holds 64 bits */
	    {1, 4294967296LL + 5, 123456789},
	    {1, 18000000000LL, 42}, /* ns count above 2^63 */
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		char path[256], name[32];
		struct ng ng;
		struct pkt p = {t[i].sec, t[i].frac, 4, 60, (const uint8_t *)"abcd", "incident"};
		struct pcapng_opts o = {.linktype = DLT_EN10MB, .snaplen = 100, .nano = t[i].nano};
		snprintf(name, sizeof name, "ts%zu.pcapng", i);
		tmp_path(path, sizeof path, name);
		CHECK_EQ_INT(write_all(path, &o, &p, 1), 0);
		CHECK_EQ_INT(ng_read(path, &ng), 1);
		CHECK(ng.n == 1 && epb_is(&ng, 0, &p));
		ng_free(&ng);
		CHECK(libpcap_reads(path, t[i].nano, &p, 1));
	}
	/* write_ns: floor to the file's unit, fraction positive before 1970 */
	char path[256];
	struct ng ng;
	struct pcapng_opts o = {.linktype = DLT_EN10MB, .snaplen = 100};
	tmp_path(path, sizeof path, "ts_ns.pcapng");
	pcapng_t *f = create(path, &o);
	CHECK(f != NULL);
	CHECK_EQ_INT(pcapng_write_ns(f, 1500000000123456789LL, 0, 60, NULL, NULL), 0);
	CHECK_EQ_INT(pcapng_write_ns(f, -1500, 0, 60, NULL, NULL), 0);
	CHECK_EQ_INT(pcapng_write_ns(NULL, 0, 0, 60, NULL, NULL), -EINVAL);
	CHECK_EQ_INT(pcapng_close(f, 0), 0);
	CHECK_EQ_INT(ng_read(path, &ng), 2);
	if (ng.n == 2) {
		CHECK(ng.epb[0].ts == 1500000000123456ULL);
		CHECK(ng.epb[1].ts == (uint64_t)-1 * 1000000u + 999998u);
	}
	ng_free(&ng);
}

static void test_padding(void)
{
	/* caplen 0..8 crossed with comments of 0..5 bytes: every padding amount of both */
	static const char *const cm[] = {NULL, "a", "ab", "abc", "abcd", "abcde"};
	struct pkt p[9 * 6];
	uint8_t *bufs[9 * 6];
	size_t n = 0;
	for (unsigned c = 0; c < 9; c++)
		for (unsigned k = 0; k < 6; k++, n++) {
			p[n] = (struct pkt){T0, (uint32_t)n, c, c + 10, NULL, cm[k]};
			p[n].data = bufs[n] = c ? pdata((unsigned)n, c) : NULL;
		}
	for (int buffered = 0; buffered < 2; buffered++) {
		char path[256];
		struct ng ng;
		/* bufsize 16: every block is written directly, from its pieces */
		struct pcapng_opts o = {
		    .linktype = DLT_EN10MB, .snaplen = 1000, .bufsize = buffered ? 0 : 16};
		tmp_path(path, sizeof path, buffered ? "pad_buf.pcapng" : "pad_direct.pcapng");
		CHECK_EQ_INT(write_all(path, &o, p, n), 0);
		CHECK_EQ_INT(ng_read(path, &ng), (long)n);
		for (size_t i = 0; i < ng.n; i++)
			CHECK(epb_is(&ng, i, &p[i]));
		ng_free(&ng);
		CHECK(libpcap_reads(path, 0, p, n));
	}
	for (size_t i = 0; i < n; i++)
		free(bufs[i]);
}

static void test_caplen_zero(void)
{
	char path[256];
	struct ng ng;
	struct pcapng_stats st;
	struct pcapng_opts o = {.linktype = DLT_EN10MB, .snaplen = 65535};
	struct pkt p[2] = {{T0, 1, 0, 0, NULL, "pre-trigger"}, {T0, 2, 0, 1514, NULL, NULL}};
	tmp_path(path, sizeof path, "cap0.pcapng");
	pcapng_t *f = create(path, &o);
	CHECK(f != NULL);
	if (!f)
		return;
	CHECK_EQ_INT(pcapng_write(f, T0, 1, 0, 0, NULL, "pre-trigger"), 0);
	CHECK_EQ_INT(pcapng_write(f, T0, 2, 0, 1514, NULL, NULL), 0);
	CHECK_EQ_INT(pcapng_write(f, T0, 3, 10, 10, NULL, NULL), -EINVAL); /* data missing */
	CHECK_EQ_INT(pcapng_write(NULL, T0, 3, 0, 0, NULL, NULL), -EINVAL);
	pcapng_stats(f, &st);
	CHECK_EQ_INT(st.packets, 2);
	CHECK_EQ_INT(st.packets_dropped, 1);
	CHECK_EQ_INT(st.write_errors, 0);
	CHECK_EQ_INT(pcapng_close(f, 0), 0);
	CHECK_EQ_INT(ng_read(path, &ng), 2);
	for (size_t i = 0; i < ng.n; i++)
		CHECK(epb_is(&ng, i, &p[i]));
	CHECK_EQ_INT(ng.epb[0].blocklen, 32 + 4 + 12 + 4);
	CHECK_EQ_INT(ng.epb[1].blocklen, 32);
	ng_free(&ng);
	CHECK(libpcap_reads(path, 0, p, 2));
}

static void test_snaplen_cut(void)
{
	/* longer than the snaplen: cut to it, wirelen kept; snaplen 0 cuts nothing */
	char path[256];
	struct ng ng;
	uint8_t *d = pdata(3, 1000);
	struct pkt p[3] = {{T0, 1, 100, 1000, d, "incident"},
			   {T0, 2, 100, 100, d, NULL},
			   {T0, 3, 99, 99, d, NULL}};
	struct pcapng_opts o = {.linktype = DLT_EN10MB, .snaplen = 100, .bufsize = 150};
	tmp_path(path, sizeof path, "snap.pcapng");
	pcapng_t *f = create(path, &o);
	CHECK(f != NULL);
	if (!f)
		return;
	CHECK_EQ_INT(pcapng_write(f, T0, 1, 1000, 1000, d, "incident"), 0);
	CHECK_EQ_INT(pcapng_write(f, T0, 2, 100, 100, d, NULL), 0);
	CHECK_EQ_INT(pcapng_write(f, T0, 3, 99, 99, d, NULL), 0);
	CHECK_EQ_INT(pcapng_close(f, 0), 0);
	CHECK_EQ_INT(ng_read(path, &ng), 3);
	for (size_t i = 0; i < ng.n; i++)
		CHECK(epb_is(&ng, i, &p[i]));
	ng_free(&ng);
	CHECK(libpcap_reads(path, 0, p, 3));

	o.snaplen = 0;
	p[0].caplen = 1000;
	tmp_path(path, sizeof path, "snap0.pcapng");
	CHECK_EQ_INT(write_all(path, &o, p, 1), 0);
	CHECK_EQ_INT(ng_read(path, &ng), 1);
	CHECK(ng.n == 1 && epb_is(&ng, 0, &p[0]));
	ng_free(&ng);
	CHECK(libpcap_reads(path, 0, p, 1));
	free(d);
}

static void test_big_packet(void)
{
	/* 262144 bytes, libpcap's largest: through a buffer that holds it and directly */
	uint8_t *d = pdata(9, MAXPKT);
	struct pkt p[3] = {{T0, 1, 60, 60, d, "pre-trigger"},
			   {T0, 2, MAXPKT, MAXPKT, d, "incident"},
			   {T0, 3, 61, 61, d, NULL}};
	static const size_t bufsizes[] = {0, 4096, MAXPKT + 28};
	for (size_t b = 0; b < sizeof bufsizes / sizeof bufsizes[0]; b++) {
		char path[256], name[32];
		struct ng ng;
		struct pcapng_opts o = {.linktype = DLT_EN10MB,
					.snaplen = MAXPKT,
					.nano = (int)b & 1,
					.shb_comment = "big",
					.bufsize = bufsizes[b]};
		snprintf(name, sizeof name, "big%zu.pcapng", b);
		tmp_path(path, sizeof path, name);
		CHECK_EQ_INT(write_all(path, &o, p, 3), 0);
		CHECK_EQ_INT(ng_read(path, &ng), 3);
		for (size_t i = 0; i < ng.n; i++)
			CHECK(epb_is(&ng, i, &p[i]));
		ng_free(&ng);
		CHECK(libpcap_reads(path, (int)b & 1, p, 3));
	}
	free(d);
}

/* A string of n bytes: `prefix' x's, then "€" (3 bytes) repeated, then x's to fill. */
static char *euro_string(size_t n, size_t prefix)
{
	char *s = malloc(n + 1);
	size_t i = 0;
	for (; i < prefix && i < n; i++)
		s[i] = 'x';
	for (; i + 3 <= n; i += 3)
		memcpy(s + i, "\xe2\x82\xac", 3);
	for (; i < n; i++)
		s[i] = 'x';
	s[n] = '\0';
	return s;
}

/*
 * The pieces of the SHB comment: each whole UTF-8 (never starts with a continuation byte nor
 * ends on a lead byte), each but the last at least 65533 bytes. Returns the length of the first,
 * or 0 if a piece is bad.
 */
static size_t pieces_check(const struct ng *ng)
{
	size_t off = 24, first = 0, last_len = 0;
	while (off < ng->shb_len - 4) {
		uint16_t code = rd16(ng->b + off), len = rd16(ng->b + off + 2);
		if (code == 1) {
			if (last_len && last_len < PCAPNG_OPT_MAX - 2)
				return 0;
			if ((ng->b[off + 4] & 0xC0) == 0x80 ||
			    (ng->b[off + 4 + len - 1] & 0xC0) == 0xC0)
				return 0;
			if (!first)
				first = len;
			last_len = len;
		}
		off += 4 + ((len + 3u) & ~3u);
	}
	return first;
}

static void test_long_comments(void)
{
	static const struct {
		size_t len, prefix;
		int pieces;
		size_t first;
	} t[] = {
	    {65534, 0, 1, 65534},		    /* one option */
	    {65535, 0, 1, 65535},		    /* the most one option holds */
	    {65536, 0, 2, 65535},		    /* a euro ends at byte 65534: cut after it */
	    {65540, 1, 2, 65533},		    /* a euro at 65533..65535: cut before it */
	    {65540, 2, 2, 65534},		    /* a euro at 65534..65536: cut before it */
	    {200000, 1, 4, 65533},		    /* several */
	    {PCAPNG_SHB_COMMENT_MAX, 2, 16, 65534}, /* the most allowed */
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		char path[256], name[32];
		struct ng ng;
		char *c = euro_string(t[i].len, t[i].prefix);
		/* the packet gets the same comment when it fits one option */
		const char *pc = t[i].len <= PCAPNG_COMMENT_MAX ? c : "incident";
		struct pkt p = {T0, 1, 4, 4, (const uint8_t *)"abcd", pc};
		struct pcapng_opts o = {.linktype = DLT_EN10MB, .snaplen = 65535, .shb_comment = c};
		snprintf(name, sizeof name, "long%zu.pcapng", i);
		tmp_path(path, sizeof path, name);
		CHECK_EQ_INT(write_all(path, &o, &p, 1), 0);
		CHECK_EQ_INT(ng_read(path, &ng), 1);
		CHECK_EQ_INT(ng.shb_comment_len, t[i].len);
		CHECK(ng.shb_comment && memcmp(ng.shb_comment, c, t[i].len) == 0);
		CHECK_EQ_INT(ng.shb_ncomments, t[i].pieces);
		CHECK_EQ_INT(pieces_check(&ng), t[i].first);
		CHECK(ng.n == 1 && epb_is(&ng, 0, &p));
		ng_free(&ng);
		CHECK(libpcap_reads(path, 0, &p, 1));
		free(c);
	}

	/* one byte too many: refused, naming the file; nothing created */
	char path[256], err[512] = "";
	char *c = euro_string(PCAPNG_SHB_COMMENT_MAX + 1, 0);
	struct pcapng_opts o = {.linktype = DLT_EN10MB, .snaplen = 65535, .shb_comment = c};
	tmp_path(path, sizeof path, "toolong.pcapng");
	errno = 0;
	pcapng_t *f = pcapng_create(path, &o, err, sizeof err);
	CHECK(f == NULL);
	CHECK_EQ_INT(errno, EINVAL);
	CHECK(strstr(err, path) != NULL && strstr(err, "comment") != NULL);
	CHECK_EQ_INT(file_size(path), -1);
	pcapng_close(f, 0);
	/* the other strings: at most PCAPNG_STR_MAX */
	c[PCAPNG_STR_MAX + 1] = '\0';
	o.shb_comment = NULL;
	o.if_name = c;
	CHECK(pcapng_create(path, &o, err, sizeof err) == NULL);
	CHECK(strstr(err, "if_name") != NULL);
	CHECK_EQ_INT(file_size(path), -1);
	o.if_name = NULL;
	o.shb_os = c;
	CHECK(pcapng_create(path, &o, err, sizeof err) == NULL);
	CHECK(strstr(err, "shb_os") != NULL);
	CHECK_EQ_INT(file_size(path), -1);
	free(c);

	/* everything at its largest: the SHB stays within libpcap's 1 MiB */
	struct ng ng;
	char *big = euro_string(PCAPNG_SHB_COMMENT_MAX, 1), *s = euro_string(PCAPNG_STR_MAX, 0);
	struct pkt p = {T0, 1, 4, 4, (const uint8_t *)"abcd", "incident"};
	o = (struct pcapng_opts){.linktype = DLT_EN10MB,
				 .snaplen = 65535,
				 .shb_comment = big,
				 .shb_userappl = s,
				 .shb_os = s,
				 .if_name = s};
	tmp_path(path, sizeof path, "largest.pcapng");
	CHECK_EQ_INT(write_all(path, &o, &p, 1), 0);
	CHECK_EQ_INT(ng_read(path, &ng), 1);
	CHECK(ng.shb_len <= 1048576);
	CHECK_EQ_INT(ng.shb_comment_len, PCAPNG_SHB_COMMENT_MAX);
	CHECK_EQ_INT(strlen(ng.if_name), 255); /* ng keeps 255 bytes */
	ng_free(&ng);
	CHECK(libpcap_reads(path, 0, &p, 1));
	free(big);
	free(s);

	/* packet comments: 65535 bytes fit, one more is refused and the packet counted */
	struct pcapng_stats st;
	c = euro_string(PCAPNG_COMMENT_MAX + 1, 0);
	c[PCAPNG_COMMENT_MAX] = '\0';
	o = (struct pcapng_opts){.linktype = DLT_EN10MB, .snaplen = 65535};
	p.comment = c;
	tmp_path(path, sizeof path, "longpkt.pcapng");
	f = create(path, &o);
	CHECK(f != NULL);
	CHECK_EQ_INT(pcapng_write(f, T0, 1, 4, 4, p.data, c), 0);
	c[PCAPNG_COMMENT_MAX] = 'x';
	CHECK_EQ_INT(pcapng_write(f, T0, 2, 4, 4, p.data, c), -EINVAL);
	c[PCAPNG_COMMENT_MAX] = '\0';
	pcapng_stats(f, &st);
	CHECK_EQ_INT(st.packets, 1);
	CHECK_EQ_INT(st.packets_dropped, 1);
	CHECK_EQ_INT(pcapng_close(f, 0), 0);
	CHECK_EQ_INT(ng_read(path, &ng), 1);
	CHECK(ng.n == 1 && epb_is(&ng, 0, &p));
	ng_free(&ng);
	CHECK(libpcap_reads(path, 0, &p, 1));
	free(c);
}

static void test_fcslen_and_linktypes(void)
{
	char path[256], err[512];
	struct ng ng;
	struct pkt p = {T0, 1, 4, 4, (const uint8_t *)"abcd", NULL};
	struct pcapng_opts o = {
	    .linktype = DLT_EN10MB, .snaplen = 1500, .linktype_ext = LT_FCS_DATALINK_EXT(2)};
	tmp_path(path, sizeof path, "fcs.pcapng");
	CHECK_EQ_INT(write_all(path, &o, &p, 1), 0);
	CHECK_EQ_INT(ng_read(path, &ng), 1);
	CHECK_EQ_INT(ng.fcslen, 32); /* 2 x 16 bits */
	ng_free(&ng);

	o = (struct pcapng_opts){.linktype = DLT_LINUX_SLL2, .snaplen = 1500};
	tmp_path(path, sizeof path, "sll2.pcapng");
	CHECK_EQ_INT(write_all(path, &o, &p, 1), 0);
	CHECK_EQ_INT(ng_read(path, &ng), 1);
	CHECK_EQ_INT(ng.linktype, DLT_LINUX_SLL2);
	ng_free(&ng);

	/* a DLT with no LINKTYPE is refused */
	o.linktype = 13; /* differs between platforms: no LINKTYPE_ */
	tmp_path(path, sizeof path, "badlt.pcapng");
	errno = 0;
	CHECK(pcapng_create(path, &o, err, sizeof err) == NULL);
	CHECK_EQ_INT(errno, EINVAL);
	CHECK(strstr(err, "link-layer type 13") != NULL);
	o.linktype = 70000; /* does not fit the IDB's 16 bits */
	CHECK(pcapng_create(path, &o, err, sizeof err) == NULL);
	CHECK_EQ_INT(file_size(path), -1);
}

static void test_size_and_stats(void)
{
	char path[256];
	struct pcapng_stats st;
	struct pcapng_opts o = {.linktype = DLT_EN10MB, .snaplen = 65535, .shb_comment = "x"};
	tmp_path(path, sizeof path, "size.pcapng");
	pcapng_t *f = create(path, &o);
	CHECK(f != NULL);
	if (!f)
		return;
	/* SHB 28 + comment 8 + endofopt 4; IDB 20 + tsresol 8 + endofopt 4 */
	uint64_t h = 28 + 8 + 4 + 20 + 8 + 4;
	CHECK_EQ_INT(pcapng_written(f), h);
	CHECK_EQ_INT(pcapng_size(f), h);
	CHECK_EQ_INT(file_size(path), (long long)h);
	CHECK_EQ_INT(pcapng_write(f, T0, 0, 5, 5, (const uint8_t *)"hello", "incident"), 0);
	uint64_t blk = 28 + 8 + 4 + 8 + 4 + 4;
	CHECK_EQ_INT(pcapng_size(f), h + blk);
	CHECK_EQ_INT(pcapng_written(f), h);
	CHECK_EQ_INT(file_size(path), (long long)h);
	CHECK_EQ_INT(pcapng_flush(f), 0);
	CHECK_EQ_INT(pcapng_written(f), h + blk);
	CHECK_EQ_INT(file_size(path), (long long)(h + blk));
	CHECK_EQ_INT(pcapng_sync(f), 0);
	pcapng_stats(f, &st);
	CHECK_EQ_INT(st.packets, 1);
	CHECK_EQ_INT(st.packets_dropped, 0);
	CHECK_EQ_INT(st.write_errors, 0);
	CHECK_EQ_INT(pcapng_close(f, 0), 0);
	/* NULL-safe */
	pcapng_stats(NULL, &st);
	CHECK_EQ_INT(st.packets, 0);
	CHECK_EQ_INT(pcapng_size(NULL), 0);
	CHECK_EQ_INT(pcapng_written(NULL), 0);
	CHECK_EQ_INT(pcapng_flush(NULL), -EINVAL);
	CHECK_EQ_INT(pcapng_sync(NULL), -EINVAL);
	CHECK_EQ_INT(pcapng_close(NULL, 1), 0);
}

static void test_create_errors(void)
{
	char path[256], err[512] = "";
	struct pcapng_opts o = {.linktype = DLT_EN10MB, .snaplen = 65535, .shb_comment = summary};
	/* exists: EEXIST, the file is left alone */
	tmp_path(path, sizeof path, "exists.pcapng");
	int fd = open(path, O_WRONLY | O_CREAT, 0644);
	CHECK(fd >= 0 && write(fd, "keep", 4) == 4);
	close(fd);
	errno = 0;
	CHECK(pcapng_create(path, &o, err, sizeof err) == NULL);
	CHECK_EQ_INT(errno, EEXIST);
	CHECK(strstr(err, path) != NULL);
	CHECK_EQ_INT(file_size(path), 4);
	/* the header blocks cannot be written: the half-made file is removed */
	tmp_path(path, sizeof path, "nohdr.pcapng");
	fsize_limit(100);
	errno = 0;
	pcapng_t *f = pcapng_create(path, &o, err, sizeof err);
	int e = errno;
	fsize_unlimited();
	CHECK(f == NULL);
	CHECK_EQ_INT(e, EFBIG);
	CHECK(strstr(err, path) != NULL);
	CHECK_EQ_INT(file_size(path), -1);
	/* no options */
	CHECK(pcapng_create(path, NULL, err, sizeof err) == NULL);
	CHECK(pcapng_create(NULL, &o, err, sizeof err) == NULL);
}

static int fixed_write(pcapng_t *f, unsigned i)
{
	uint8_t d[100];
	for (unsigned j = 0; j < sizeof d; j++)
		d[j] = (uint8_t)(i + j);
	return pcapng_write(f, T0 + i, i, sizeof d, sizeof d, d, "incident");
}

static void test_write_error(void)
{
	/*
	 * Blocks of 100 bytes of data and an 8-byte comment are 148 bytes; a 400-byte buffer holds
	 * 2. RLIMIT_FSIZE is the header + 500: the first flush (packets 0, 1) fits, the second is
	 * cut short, then EFBIG: packets 2..4 are dropped and the file goes back to header + 296.
	 * From then on every 3rd write (4, 7, ..., 31) fails the same way.
	 */
	char path[256];
	struct pcapng_stats st;
	struct ng ng;
	struct pcapng_opts o = {.linktype = DLT_EN10MB,
				.snaplen = 65535,
				.shb_comment = summary,
				.shb_userappl = "ringcap test",
				.bufsize = 400};
	tmp_path(path, sizeof path, "fsize.pcapng");
	pcapng_t *f = create(path, &o);
	CHECK(f != NULL);
	if (!f)
		return;
	uint64_t h = pcapng_written(f);
	fsize_limit(h + 500);
	for (unsigned i = 0; i < 32; i++) {
		int r = fixed_write(f, i);
		int want = i >= 4 && (i - 4) % 3 == 0 ? -EFBIG : 0;
		if (r != want)
			printf("  packet %u: %d\n", i, r);
		CHECK_EQ_INT(r, want);
		/* the file on disk is always whole blocks only */
		CHECK_EQ_INT(file_size(path), (long long)pcapng_written(f));
	}
	CHECK_EQ_INT(pcapng_written(f), h + 2 * 148);
	CHECK_EQ_INT(pcapng_size(f), h + 2 * 148);
	pcapng_stats(f, &st);
	CHECK_EQ_INT(st.packets, 2);
	CHECK_EQ_INT(st.packets_dropped, 30);
	CHECK_EQ_INT(st.write_errors, 10);
	/* a block larger than the buffer is written directly: fails the same way */
	static uint8_t big[500];
	CHECK_EQ_INT(pcapng_write(f, T0, 0, sizeof big, sizeof big, big, "incident"), -EFBIG);
	CHECK_EQ_INT(file_size(path), (long long)(h + 2 * 148));
	CHECK_EQ_INT(pcapng_flush(f), 0); /* nothing buffered */
	pcapng_stats(f, &st);
	CHECK_EQ_INT(st.packets, 2);
	CHECK_EQ_INT(st.packets_dropped, 31);
	CHECK_EQ_INT(st.write_errors, 11);
	/* libpcap reads the file as it is now */
	CHECK(libpcap_reads(path, 0, NULL, 2));

	/* room again: the next writes go through */
	fsize_unlimited();
	for (unsigned i = 32; i < 52; i++)
		CHECK_EQ_INT(fixed_write(f, i), 0);
	pcapng_stats(f, &st);
	CHECK_EQ_INT(st.packets, 22);
	CHECK_EQ_INT(st.packets_dropped, 31);
	CHECK_EQ_INT(pcapng_close(f, 1), 0);
	CHECK_EQ_INT(file_size(path), (long long)(h + 22 * 148));
	CHECK_EQ_INT(ng_read(path, &ng), 22);
	CHECK_EQ_STR(ng.shb_comment, summary);
	struct pkt p[22];
	uint8_t d[22][100];
	for (size_t k = 0; k < 22; k++) {
		unsigned i = k < 2 ? (unsigned)k : (unsigned)(32 + k - 2);
		for (unsigned j = 0; j < 100; j++)
			d[k][j] = (uint8_t)(i + j);
		p[k] = (struct pkt){T0 + i, i, 100, 100, d[k], "incident"};
		if (k < ng.n)
			CHECK(epb_is(&ng, k, &p[k]));
	}
	ng_free(&ng);
	CHECK(libpcap_reads(path, 0, p, 22));
}

int main(void)
{
	snprintf(base_dir, sizeof base_dir, "/tmp/test_pcapng_XXXXXX");
	if (!mkdtemp(base_dir)) {
		perror("mkdtemp");
		return 1;
	}
	signal(SIGXFSZ, SIG_IGN); /* RLIMIT_FSIZE: EFBIG instead of a signal */

	RUN(test_micro);
	RUN(test_nano);
	RUN(test_no_options);
	RUN(test_timestamps);
	RUN(test_padding);
	RUN(test_caplen_zero);
	RUN(test_snaplen_cut);
	RUN(test_big_packet);
	RUN(test_long_comments);
	RUN(test_fcslen_and_linktypes);
	RUN(test_size_and_stats);
	RUN(test_create_errors);
	RUN(test_write_error);

	if (!getenv("KEEP_TMP"))
		nftw(base_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	else
		printf("files kept in %s\n", base_dir);
	printf("%d passed, %d failed\n", th_passed, th_failed);
	return test_main_end();
}
