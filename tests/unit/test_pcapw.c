/*
 * test_pcapw.c - pcapfile (one pcap file, repair) and pcapw (rotation, names, retention, errors).
 *
 * Every test works in its own folder under a mkdtemp() folder in /tmp. Files are read back by
 * hand (pf_read) and, for the plain writer, by libpcap too. Write errors are made real with
 * RLIMIT_FSIZE (writes past the limit fail with EFBIG, after a short write), which works as root
 * and without a small file system; log lines are checked by sending stderr to a file.
 */
#include "base/log.h"
#include "outputs/pcapfile.h"
#include "outputs/pcapw.h"
#include "testhelp.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NS 1000000000LL
#define T0 1704067200LL /* 2024-01-01 00:00:00 UTC */
#define MAXCAP 600

static char base_dir[64];
static int dir_counter;

/* ---- helpers ---------------------------------------------------------------------------- */

/* A fresh folder base_dir/N/pcaps (not created: pcapw_open creates it) into buf. */
static const char *new_dir(char *buf, size_t len)
{
	snprintf(buf, len, "%s/%d/pcaps", base_dir, ++dir_counter);
	return buf;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void rm_rf(const char *p)
{
	nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Packet number i: deterministic time, lengths and bytes. */
static void gen(unsigned i, int64_t *ts, uint32_t *caplen, uint32_t *wirelen, uint8_t *data)
{
	*ts = T0 * NS + (int64_t)i * 123456789LL;
	*caplen = 20 + (i * 37) % 180;
	*wirelen = *caplen + i % 4;
	for (uint32_t j = 0; j < *caplen; j++)
		data[j] = (uint8_t)(i * 31 + j);
}

static int write_file(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -1;
	ssize_t w = write(fd, p, n);
	close(fd);
	return w == (ssize_t)n ? 0 : -1;
}

static int append_file(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_APPEND);
	if (fd < 0)
		return -1;
	ssize_t w = write(fd, p, n);
	close(fd);
	return w == (ssize_t)n ? 0 : -1;
}

static long long file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static int exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* A classic pcap file read by hand. */
struct pf {
	uint8_t *b;
	size_t len;
	int swap, nano;
	uint32_t version, snaplen, linktype;
	size_t n;    /* records */
	size_t *off; /* offset of each record header */
	int whole;   /* the last record ends exactly at the end of the file */
};

static uint32_t rd32(const uint8_t *p, int swap)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return swap ? __builtin_bswap32(v) : v;
}

static void pf_free(struct pf *pf)
{
	free(pf->b);
	free(pf->off);
	memset(pf, 0, sizeof *pf);
}

/* Returns the record count, or -1 (no file, bad header). */
static long pf_read(const char *path, struct pf *pf)
{
	memset(pf, 0, sizeof *pf);
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	long long sz = file_size(path);
	pf->b = malloc(sz > 0 ? (size_t)sz : 1);
	pf->len = fread(pf->b, 1, (size_t)sz, f);
	fclose(f);
	if (pf->len < 24)
		return -1;
	uint32_t m = rd32(pf->b, 0);
	if (m == 0xa1b2c3d4u || m == 0xa1b23c4du) {
		pf->swap = 0;
	} else if (__builtin_bswap32(m) == 0xa1b2c3d4u || __builtin_bswap32(m) == 0xa1b23c4du) {
		pf->swap = 1;
		m = __builtin_bswap32(m);
	} else {
		return -1;
	}
	pf->nano = m == 0xa1b23c4du;
	pf->version = rd32(pf->b + 4, pf->swap);
	pf->snaplen = rd32(pf->b + 16, pf->swap);
	pf->linktype = rd32(pf->b + 20, pf->swap);
	size_t cap = 16, o = 24;
	pf->off = malloc(cap * sizeof *pf->off);
	while (o + 16 <= pf->len) {
		uint32_t cl = rd32(pf->b + o + 8, pf->swap);
		if (cl > pf->len - o - 16)
			break;
		if (pf->n == cap) {
			cap *= 2;
			pf->off = realloc(pf->off, cap * sizeof *pf->off);
		}
		pf->off[pf->n++] = o;
		o += 16 + cl;
	}
	pf->whole = o == pf->len;
	return (long)pf->n;
}

/* Record k of pf equals packet i of gen(). */
static int pf_rec_is(const struct pf *pf, size_t k, unsigned i)
{
	int64_t ts;
	uint32_t cl, wl;
	uint8_t data[MAXCAP];
	gen(i, &ts, &cl, &wl, data);
	const uint8_t *r = pf->b + pf->off[k];
	uint32_t frac = (uint32_t)(ts % NS);
	if (!pf->nano)
		frac /= 1000;
	return rd32(r, pf->swap) == (uint32_t)(ts / NS) && rd32(r + 4, pf->swap) == frac &&
	       rd32(r + 8, pf->swap) == cl && rd32(r + 12, pf->swap) == wl &&
	       memcmp(r + 16, data, cl) == 0;
}

/* Names of the regular files in dir, sorted, into names[] (max entries). Returns the count. */
static int list_dir(const char *dir, char names[][80], int max)
{
	int n = 0;
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	struct dirent *e;
	while ((e = readdir(d)) != NULL && n < max) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(names[n++], 80, "%.79s", e->d_name);
	}
	closedir(d);
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
			char t[80];
			memcpy(t, names[j], 80);
			memcpy(names[j], names[j - 1], 80);
			memcpy(names[j - 1], t, 80);
		}
	return n;
}

/* stderr into a pipe, to count log lines (a pipe, as RLIMIT_FSIZE would stop a file). */
static int saved_stderr = -1, stderr_pipe = -1;

static void stderr_begin(void)
{
	int pfd[2];
	fflush(stderr);
	if (pipe2(pfd, O_NONBLOCK | O_CLOEXEC) != 0)
		return;
	saved_stderr = dup(2);
	dup2(pfd[1], 2);
	close(pfd[1]);
	stderr_pipe = pfd[0];
}

/* Restores stderr; returns what was logged (static buffer). */
static const char *stderr_end(void)
{
	static char text[16384];
	size_t n = 0;
	fflush(stderr);
	if (saved_stderr >= 0) {
		dup2(saved_stderr, 2);
		close(saved_stderr);
		saved_stderr = -1;
	}
	while (stderr_pipe >= 0 && n < sizeof text - 1) {
		ssize_t r = read(stderr_pipe, text + n, sizeof text - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	if (stderr_pipe >= 0)
		close(stderr_pipe);
	stderr_pipe = -1;
	text[n] = '\0';
	fputs(text, stdout); /* keep it visible in the test output */
	return text;
}

static int count_str(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
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

static pcapw_t *open_w(const char *dir, uint64_t rotate, uint32_t retention, int nano)
{
	char err[512] = "";
	struct pcapw_config c = {.dir = dir,
				 .rotate_bytes = rotate,
				 .retention = retention,
				 .linktype = DLT_EN10MB,
				 .snaplen = 65535,
				 .nano = nano};
	pcapw_t *w = pcapw_open(&c, err, sizeof err);
	if (!w)
		printf("  pcapw_open: %s\n", err);
	return w;
}

/* Writes packets first..first+n-1 of gen(); seqs[i] (may be NULL) gets each packet's file. */
static int write_pkts(pcapw_t *w, unsigned first, unsigned n, uint32_t *seqs)
{
	int bad = 0;
	for (unsigned i = first; i < first + n; i++) {
		int64_t ts;
		uint32_t cl, wl;
		uint8_t data[MAXCAP];
		struct pcapw_fileid id;
		gen(i, &ts, &cl, &wl, data);
		if (pcapw_write_ns(w, ts, cl, wl, data, &id) != 0)
			bad++;
		if (seqs)
			seqs[i] = id.seq;
	}
	return bad;
}

/* ---- names ------------------------------------------------------------------------------- */

static void test_name_format(void)
{
	static const struct {
		int64_t s;
		uint32_t seq;
		const char *want;
	} t[] = {
	    {0, 1, "capture_19700101_000000_0001.pcap"},
	    {T0, 42, "capture_20240101_000000_0042.pcap"},
	    {1709251199, 9999, "capture_20240229_235959_9999.pcap"},
	    {1709251200, 10000, "capture_20240301_000000_10000.pcap"},
	    {2147483648LL, 123456, "capture_20380119_031408_123456.pcap"},
	    {-1, 0, "capture_19691231_235959_0000.pcap"},
	    {1700000000, UINT32_MAX, "capture_20231114_221320_4294967295.pcap"},
	};
	char buf[48];
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		struct pcapw_fileid id = {t[i].s, t[i].seq};
		CHECK_EQ_STR(pcapw_file_name(&id, buf, sizeof buf), t[i].want);
	}
}

static void test_name_parse(void)
{
	static const struct {
		const char *name;
		int ok;
		int64_t s;
		uint32_t seq;
		int part;
	} t[] = {
	    {"capture_20240101_000000_0001.pcap", 1, T0, 1, 0},
	    {"capture_20240101_000000_0001.pcap.part", 1, T0, 1, 1},
	    {"capture_20240229_235959_9999.pcap", 1, 1709251199, 9999, 0},
	    {"capture_20240301_000000_10000.pcap", 1, 1709251200, 10000, 0},
	    {"capture_19700101_000000_4294967295.pcap", 1, 0, UINT32_MAX, 0},
	    {"capture_20240101_000000_00042.pcap", 1, T0, 42, 0},
	    {"capture_20000229_120000_0007.pcap", 1, 951825600, 7, 0},
	    {"capture_2024.pcap", 0, 0, 0, 0},
	    {"capture_20240101_000000_12.pcap", 0, 0, 0, 0},
	    {"capture_20240101_000000_123.pcap", 0, 0, 0, 0},
	    {"other.pcap", 0, 0, 0, 0},
	    {"", 0, 0, 0, 0},
	    {"capture_", 0, 0, 0, 0},
	    {"capture_20240101_000000_0001", 0, 0, 0, 0},
	    {"capture_20240101_000000_0001.pcapng", 0, 0, 0, 0},
	    {"capture_20240101_000000_0001.pcap.part.bad", 0, 0, 0, 0},
	    {"capture_20240101_000000_0001.pcap.tmp", 0, 0, 0, 0},
	    {"capture_20240101_000000_0001.PCAP", 0, 0, 0, 0},
	    {"Capture_20240101_000000_0001.pcap", 0, 0, 0, 0},
	    {"xcapture_20240101_000000_0001.pcap", 0, 0, 0, 0},
	    {"capture_20240101-000000_0001.pcap", 0, 0, 0, 0},
	    {"capture_2024010_0000000_0001.pcap", 0, 0, 0, 0},
	    {"capture_20240101_000000_-001.pcap", 0, 0, 0, 0},
	    {"capture_20240101_000000_ 001.pcap", 0, 0, 0, 0},
	    {"capture_20240101_000000_4294967296.pcap", 0, 0, 0, 0},
	    {"capture_20240101_000000_00000000001.pcap", 0, 0, 0, 0},
	    {"capture_20241301_000000_0001.pcap", 0, 0, 0, 0},
	    {"capture_20240001_000000_0001.pcap", 0, 0, 0, 0},
	    {"capture_20240100_000000_0001.pcap", 0, 0, 0, 0},
	    {"capture_20240230_000000_0001.pcap", 0, 0, 0, 0},
	    {"capture_20230229_000000_0001.pcap", 0, 0, 0, 0},
	    {"capture_21000229_000000_0001.pcap", 0, 0, 0, 0},
	    {"capture_20240431_000000_0001.pcap", 0, 0, 0, 0},
	    {"capture_20240101_240000_0001.pcap", 0, 0, 0, 0},
	    {"capture_20240101_006000_0001.pcap", 0, 0, 0, 0},
	    {"capture_20240101_000060_0001.pcap", 0, 0, 0, 0},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		struct pcapw_fileid id = {-7, 7};
		int part = -1;
		int ok = pcapw_parse_name(t[i].name, &id, &part);
		if (ok != t[i].ok)
			printf("  parse `%s' returned %d\n", t[i].name, ok);
		CHECK_EQ_INT(ok, t[i].ok);
		if (ok && t[i].ok) {
			CHECK_EQ_INT(id.start_s, t[i].s);
			CHECK_EQ_INT(id.seq, t[i].seq);
			CHECK_EQ_INT(part, t[i].part);
		}
	}
	CHECK_EQ_INT(pcapw_parse_name(NULL, NULL, NULL), 0);
	CHECK_EQ_INT(pcapw_parse_name("capture_20240101_000000_0001.pcap", NULL, NULL), 1);
}

static void test_name_roundtrip(void)
{
	char buf[48];
	/* every day of 1999..2041 at a changing time of day, and a few far dates */
	for (int64_t s = 915148800 - 86400 * 400; s < 2240524800LL; s += 86400 + 3607) {
		struct pcapw_fileid id = {s, (uint32_t)(s & 0xfffff)}, back;
		int part = -1;
		pcapw_file_name(&id, buf, sizeof buf);
		if (!pcapw_parse_name(buf, &back, &part) || back.start_s != s ||
		    back.seq != id.seq || part != 0) {
			printf("  round trip failed for %lld: %s\n", (long long)s, buf);
			CHECK(0);
			return;
		}
	}
}

/* ---- pcapfile ---------------------------------------------------------------------------- */

static void test_linktype_vs_libpcap(void)
{
	/* libpcap's own mapping is what pcap_dump_open() writes in the header */
	int mismatches = 0;
	for (int dlt = 0; dlt <= DLT_MATCHING_MAX; dlt++) {
		pcap_t *p = pcap_open_dead(dlt, 65535);
		FILE *fp = tmpfile();
		int want = -1;
		if (!p || !fp) {
			CHECK(0);
			break;
		}
		pcap_dumper_t *d = pcap_dump_fopen(p, fp);
		if (d) {
			uint8_t h[24];
			pcap_dump_flush(d);
			if (pread(fileno(fp), h, sizeof h, 0) == (ssize_t)sizeof h)
				want = (int)rd32(h + 20, 0);
			pcap_dump_close(d);
		} else {
			fclose(fp);
		}
		pcap_close(p);
		int got = pcapfile_linktype_from_dlt(dlt);
		if (got != want) {
			printf("  DLT %d: libpcap writes %d, pcapfile %d\n", dlt, want, got);
			mismatches++;
		}
	}
	CHECK_EQ_INT(mismatches, 0);
	CHECK_EQ_INT(pcapfile_linktype_from_dlt(DLT_RAW), 101);
	CHECK_EQ_INT(pcapfile_linktype_from_dlt(DLT_LOOP), 108);
	CHECK_EQ_INT(pcapfile_linktype_from_dlt(DLT_EN10MB), 1);
	CHECK_EQ_INT(pcapfile_linktype_from_dlt(DLT_LINUX_SLL), 113);
	CHECK_EQ_INT(pcapfile_linktype_from_dlt(-1), -1);
	/* newer libpcaps extend the matching range: still equal */
	CHECK_EQ_INT(pcapfile_linktype_from_dlt(DLT_MATCHING_MAX + 3), DLT_MATCHING_MAX + 3);
}

/* Writes packets 0..n-1 with pcapfile into path. Returns 0 or the first error. */
static int pf_write_n(const char *path, int nano, size_t bufsize, unsigned n)
{
	char err[512];
	struct pcapfile_opts o = {
	    .linktype = 1, .snaplen = 65535, .nano = nano, .bufsize = bufsize};
	pcapfile_t *f = pcapfile_create(path, &o, err, sizeof err);
	if (!f) {
		printf("  %s\n", err);
		return -1;
	}
	int ret = 0;
	for (unsigned i = 0; i < n && !ret; i++) {
		int64_t ts;
		uint32_t cl, wl;
		uint8_t data[MAXCAP];
		gen(i, &ts, &cl, &wl, data);
		ret = pcapfile_write_ns(f, ts, cl, wl, data);
	}
	int r = pcapfile_close(f, 1);
	return ret ? ret : r;
}

/* libpcap reads path back as packets 0..n-1. */
static int libpcap_reads(const char *path, unsigned n)
{
	char eb[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, eb);
	if (!p) {
		printf("  libpcap: %s\n", eb);
		return 0;
	}
	struct pcap_pkthdr *h;
	const u_char *d;
	unsigned i = 0;
	int ok = 1, r;
	while ((r = pcap_next_ex(p, &h, &d)) == 1) {
		int64_t ts;
		uint32_t cl, wl;
		uint8_t data[MAXCAP];
		gen(i, &ts, &cl, &wl, data);
		int64_t got = (int64_t)h->ts.tv_sec * NS + h->ts.tv_usec; /* ns precision */
		if (pcap_get_tstamp_precision(p) != PCAP_TSTAMP_PRECISION_NANO)
			ok = 0;
		if (h->caplen != cl || h->len != wl || memcmp(d, data, cl) != 0)
			ok = 0;
		/* a micro file keeps microseconds */
		if (got != ts && got != ts / 1000 * 1000)
			ok = 0;
		i++;
	}
	if (r != PCAP_ERROR_BREAK && r != -2)
		ok = 0;
	pcap_close(p);
	return ok && i == n;
}

static void test_pcapfile_micro(void)
{
	char path[256];
	struct pf pf;
	snprintf(path, sizeof path, "%s/micro.pcap", base_dir);
	CHECK_EQ_INT(pf_write_n(path, 0, 0, 50), 0);
	CHECK_EQ_INT(pf_read(path, &pf), 50);
	CHECK(pf.whole);
	CHECK_EQ_INT(pf.swap, 0);
	CHECK_EQ_INT(pf.nano, 0);
	CHECK_EQ_INT(rd32(pf.b, 0), 0xa1b2c3d4u);
	CHECK_EQ_INT(pf.version, 0x00040002u); /* major 2, minor 4 as two native u16 */
	CHECK_EQ_INT(rd32(pf.b + 8, 0), 0);
	CHECK_EQ_INT(rd32(pf.b + 12, 0), 0);
	CHECK_EQ_INT(pf.snaplen, 65535);
	CHECK_EQ_INT(pf.linktype, 1);
	for (unsigned i = 0; i < pf.n; i++)
		CHECK(pf_rec_is(&pf, i, i));
	pf_free(&pf);
	CHECK(libpcap_reads(path, 50));
}

static void test_pcapfile_nano(void)
{
	char path[256];
	struct pf pf;
	snprintf(path, sizeof path, "%s/nano.pcap", base_dir);
	CHECK_EQ_INT(pf_write_n(path, 1, 0, 20), 0);
	CHECK_EQ_INT(pf_read(path, &pf), 20);
	CHECK_EQ_INT(rd32(pf.b, 0), 0xa1b23c4du);
	CHECK_EQ_INT(pf.nano, 1);
	for (unsigned i = 0; i < pf.n; i++)
		CHECK(pf_rec_is(&pf, i, i));
	pf_free(&pf);
	CHECK(libpcap_reads(path, 20));
}

static void test_pcapfile_timestamps(void)
{
	static const struct {
		int64_t ns;
		int nano;
		uint32_t sec, frac;
	} t[] = {
	    {1500000000123456789LL, 0, 1500000000, 123456},
	    {1500000000123456789LL, 1, 1500000000, 123456789},
	    {999, 0, 0, 0},
	    {999, 1, 0, 999},
	    {-1, 1, 0xffffffffu, 999999999}, /* before 1970: floor, fraction positive */
	    {-1500, 0, 0xffffffffu, 999998},
	};
	char path[256];
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		char err[256];
		struct pf pf;
		struct pcapfile_opts o = {.linktype = 1, .snaplen = 100, .nano = t[i].nano};
		snprintf(path, sizeof path, "%s/ts%zu.pcap", base_dir, i);
		pcapfile_t *f = pcapfile_create(path, &o, err, sizeof err);
		CHECK(f != NULL);
		CHECK_EQ_INT(pcapfile_write_ns(f, t[i].ns, 0, 60, NULL), 0);
		CHECK_EQ_INT(pcapfile_close(f, 0), 0);
		CHECK_EQ_INT(pf_read(path, &pf), 1);
		if (pf.n == 1) {
			CHECK_EQ_INT(rd32(pf.b + 24, 0), t[i].sec);
			CHECK_EQ_INT(rd32(pf.b + 28, 0), t[i].frac);
			CHECK_EQ_INT(rd32(pf.b + 32, 0), 0);
			CHECK_EQ_INT(rd32(pf.b + 36, 0), 60);
		}
		pf_free(&pf);
	}
}

static void test_pcapfile_exists(void)
{
	char path[256], err[512] = "";
	struct pcapfile_opts o = {.linktype = 1, .snaplen = 65535};
	snprintf(path, sizeof path, "%s/exists.pcap", base_dir);
	CHECK_EQ_INT(write_file(path, "keep", 4), 0);
	errno = 0;
	pcapfile_t *f = pcapfile_create(path, &o, err, sizeof err);
	CHECK(f == NULL);
	CHECK_EQ_INT(errno, EEXIST);
	CHECK(strstr(err, path) != NULL);
	CHECK_EQ_INT(file_size(path), 4); /* not touched */
	snprintf(path, sizeof path, "%s/no/such/dir/x.pcap", base_dir);
	f = pcapfile_create(path, &o, err, sizeof err);
	CHECK(f == NULL);
	CHECK_EQ_INT(errno, ENOENT);
	CHECK(strstr(err, "no/such/dir") != NULL);
	/* NULL-safe */
	CHECK_EQ_INT(pcapfile_close(NULL, 1), 0);
	CHECK_EQ_INT(pcapfile_size(NULL), 0);
	CHECK(pcapfile_write_ns(NULL, 0, 0, 0, NULL) < 0);
}

static void test_pcapfile_big_records(void)
{
	/* a 64-byte buffer: small records are buffered, big ones written directly, order kept */
	char path[256];
	struct pf pf;
	snprintf(path, sizeof path, "%s/big.pcap", base_dir);
	CHECK_EQ_INT(pf_write_n(path, 0, 64, 40), 0);
	CHECK_EQ_INT(pf_read(path, &pf), 40);
	CHECK(pf.whole);
	for (unsigned i = 0; i < pf.n; i++)
		CHECK(pf_rec_is(&pf, i, i));
	pf_free(&pf);
	CHECK(libpcap_reads(path, 40));
}

static void test_pcapfile_size_and_stats(void)
{
	char path[256], err[256];
	struct pcapfile_opts o = {.linktype = 1, .snaplen = 65535};
	struct pcapfile_stats st;
	uint8_t d[100] = {0};
	snprintf(path, sizeof path, "%s/size.pcap", base_dir);
	pcapfile_t *f = pcapfile_create(path, &o, err, sizeof err);
	CHECK(f != NULL);
	CHECK_EQ_INT(pcapfile_size(f), 24);
	CHECK_EQ_INT(pcapfile_written(f), 24);
	CHECK_EQ_INT(file_size(path), 24);
	CHECK_EQ_INT(pcapfile_write_ns(f, 0, 100, 100, d), 0);
	CHECK_EQ_INT(pcapfile_size(f), 24 + 116);
	CHECK_EQ_INT(pcapfile_written(f), 24);
	CHECK_EQ_INT(file_size(path), 24); /* buffered */
	CHECK_EQ_INT(pcapfile_flush(f), 0);
	CHECK_EQ_INT(pcapfile_written(f), 140);
	CHECK_EQ_INT(file_size(path), 140);
	CHECK_EQ_INT(pcapfile_sync(f), 0);
	pcapfile_stats(f, &st);
	CHECK_EQ_INT(st.packets, 1);
	CHECK_EQ_INT(st.packets_dropped, 0);
	CHECK_EQ_INT(st.write_errors, 0);
	CHECK(pcapfile_write_ns(f, 0, 10, 10, NULL) < 0); /* no data: refused, counted */
	pcapfile_stats(f, &st);
	CHECK_EQ_INT(st.packets_dropped, 1);
	CHECK_EQ_INT(pcapfile_close(f, 1), 0);
	CHECK_EQ_INT(file_size(path), 140);
}

/* Record i of test_pcapfile_write_error: 100 bytes, 116 with its header. */
static int fixed_write(pcapfile_t *f, unsigned i)
{
	uint8_t d[100];
	for (unsigned j = 0; j < sizeof d; j++)
		d[j] = (uint8_t)(i + j);
	return pcapfile_write_ns(f, (int64_t)i * NS, sizeof d, sizeof d, d);
}

static int fixed_is(const struct pf *pf, size_t k, unsigned i)
{
	const uint8_t *r = pf->b + pf->off[k];
	int ok = rd32(r, 0) == i && rd32(r + 8, 0) == 100 && rd32(r + 12, 0) == 100;
	for (unsigned j = 0; j < 100; j++)
		ok = ok && r[16 + j] == (uint8_t)(i + j);
	return ok;
}

static void test_pcapfile_write_error(void)
{
	/*
	 * A 400-byte buffer holds 3 records of 116 bytes; RLIMIT_FSIZE 1000. Flushes put the file
	 * at 372 and 720; the third (348 bytes) is cut short at 1000, then EFBIG: records 6..9 are
	 * dropped and the file goes back to 720. From then on every 4th write fails the same way.
	 */
	char path[256], err[256];
	struct pcapfile_opts o = {.linktype = 1, .snaplen = 65535, .bufsize = 400};
	struct pcapfile_stats st;
	struct pf pf;
	snprintf(path, sizeof path, "%s/fsize.pcap", base_dir);
	pcapfile_t *f = pcapfile_create(path, &o, err, sizeof err);
	CHECK(f != NULL);
	if (!f)
		return;
	fsize_limit(1000);
	for (unsigned i = 0; i < 38; i++) {
		int r = fixed_write(f, i);
		int want = i >= 9 && (i - 9) % 4 == 0 ? -EFBIG : 0;
		if (r != want)
			printf("  record %u: %d\n", i, r);
		CHECK_EQ_INT(r, want);
		/* the file on disk is always whole records only */
		CHECK_EQ_INT(file_size(path), (long long)pcapfile_written(f));
	}
	CHECK_EQ_INT(pcapfile_written(f), 720);
	CHECK_EQ_INT(pcapfile_size(f), 720);
	/* a record larger than the buffer is written directly: fails the same way */
	static uint8_t big[500];
	CHECK_EQ_INT(pcapfile_write_ns(f, 0, sizeof big, sizeof big, big), -EFBIG);
	CHECK_EQ_INT(file_size(path), 720);
	pcapfile_stats(f, &st);
	CHECK_EQ_INT(st.packets, 6);
	CHECK_EQ_INT(st.packets_dropped, 33);
	CHECK_EQ_INT(st.write_errors, 8 + 1);
	CHECK_EQ_INT(pcapfile_flush(f), 0); /* nothing buffered */

	/* room again: the next writes go through */
	fsize_unlimited();
	for (unsigned i = 38; i < 58; i++)
		CHECK_EQ_INT(fixed_write(f, i), 0);
	pcapfile_stats(f, &st);
	CHECK_EQ_INT(st.packets, 26);
	CHECK_EQ_INT(st.packets_dropped, 33);
	CHECK_EQ_INT(pcapfile_close(f, 1), 0);
	CHECK_EQ_INT(file_size(path), 24 + 26 * 116);
	CHECK_EQ_INT(pf_read(path, &pf), 26);
	CHECK(pf.whole);
	for (size_t k = 0; k < pf.n; k++)
		CHECK(fixed_is(&pf, k, k < 6 ? (unsigned)k : (unsigned)(38 + k - 6)));
	pf_free(&pf);
}

static void test_pcapfile_create_error(void)
{
	/* the header cannot be written: the half-made file is removed */
	char path[256], err[512] = "";
	struct pcapfile_opts o = {.linktype = 1, .snaplen = 65535};
	snprintf(path, sizeof path, "%s/nohdr.pcap", base_dir);
	fsize_limit(10);
	errno = 0;
	pcapfile_t *f = pcapfile_create(path, &o, err, sizeof err);
	int e = errno;
	fsize_unlimited();
	CHECK(f == NULL);
	CHECK_EQ_INT(e, EFBIG);
	CHECK(strstr(err, path) != NULL);
	CHECK(!exists(path));
	pcapfile_close(f, 0);
}

/* ---- pcapfile_repair --------------------------------------------------------------------- */

static size_t put_hdr(uint8_t *b, uint32_t magic, int be, uint32_t snaplen)
{
	uint32_t v[6] = {magic, 0x00040002u, 0, 0, snaplen, 1};
	if (be) {
		v[1] = 0x00020004u; /* big-endian: u16 2 then u16 4 */
		for (int i = 0; i < 6; i++)
			v[i] = __builtin_bswap32(v[i]);
	}
	memcpy(b, v, 24);
	return 24;
}

static size_t put_rec(uint8_t *b, int be, uint32_t caplen, uint32_t wirelen, uint8_t fill)
{
	uint32_t v[4] = {1700000000u, 5, caplen, wirelen};
	if (be)
		for (int i = 0; i < 4; i++)
			v[i] = __builtin_bswap32(v[i]);
	memcpy(b, v, 16);
	memset(b + 16, fill, caplen);
	return 16 + caplen;
}

static void test_repair_table(void)
{
	enum {
		OK3,
		PARTHDR,
		PARTDATA,
		ZERO,
		FF,
		HUGE,
		HUGE_OK,
		OVER_SNAP,
		SHORT,
		MAGIC,
		HDRONLY,
		EMPTY
	};
	static const struct {
		const char *what;
		uint32_t magic;
		int be;
		int tail;
		long want;
		long long cut;
	} t[] = {
	    {"3 records, micro", 0xa1b2c3d4u, 0, OK3, 3, 0},
	    {"3 records, nano", 0xa1b23c4du, 0, OK3, 3, 0},
	    {"3 records, big-endian", 0xa1b2c3d4u, 1, OK3, 3, 0},
	    {"3 records, big-endian nano", 0xa1b23c4du, 1, OK3, 3, 0},
	    {"partial record header", 0xa1b2c3d4u, 0, PARTHDR, 3, 10},
	    {"partial record data", 0xa1b2c3d4u, 0, PARTDATA, 3, 16 + 30},
	    {"big-endian partial data", 0xa1b2c3d4u, 1, PARTDATA, 3, 16 + 30},
	    {"zeros after the records", 0xa1b2c3d4u, 0, ZERO, 3, 4096},
	    {"0xff garbage", 0xa1b23c4du, 0, FF, 3, 100},
	    {"caplen 300000 > 262144 with data", 0xa1b2c3d4u, 0, HUGE, 3, 16 + 300000},
	    {"caplen 300000 <= snaplen 400000", 0xa1b2c3d4u, 0, HUGE_OK, 4, 0},
	    {"caplen 70000 > snaplen 65535 but <= 262144", 0xa1b2c3d4u, 1, OVER_SNAP, 4, 0},
	    {"header cut at 10 bytes", 0xa1b2c3d4u, 0, SHORT, -1, 0},
	    {"not a pcap", 0x0a0d0d0au, 0, MAGIC, -1, 0},
	    {"header only", 0xa1b2c3d4u, 0, HDRONLY, 0, 0},
	    {"empty file", 0xa1b2c3d4u, 0, EMPTY, -1, 0},
	};
	static uint8_t b[400000];
	char path[256], err[512];
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		size_t n = 0;
		int be = t[i].be;
		n += put_hdr(b, t[i].magic, be, t[i].tail == HUGE_OK ? 400000 : 65535);
		if (t[i].tail != HDRONLY && t[i].tail != SHORT && t[i].tail != EMPTY) {
			n += put_rec(b + n, be, 60, 60, 0x11);
			n += put_rec(b + n, be, 0, 60, 0x22); /* an empty record is valid */
			n += put_rec(b + n, be, 1514, 1514, 0x33);
		}
		switch (t[i].tail) {
		case PARTHDR:
			memset(b + n, 0x44, 10);
			n += 10;
			break;
		case PARTDATA:
			put_rec(b + n, be, 100, 100, 0x55);
			n += 16 + 30;
			break;
		case ZERO:
			memset(b + n, 0, 4096);
			n += 4096;
			break;
		case FF:
			memset(b + n, 0xff, 100);
			n += 100;
			break;
		case HUGE:
		case HUGE_OK:
			n += put_rec(b + n, be, 300000, 300000, 0x66);
			break;
		case OVER_SNAP:
			n += put_rec(b + n, be, 70000, 70000, 0x66);
			break;
		case SHORT:
			n = 10;
			break;
		case EMPTY:
			n = 0;
			break;
		}
		snprintf(path, sizeof path, "%s/repair%zu.pcap", base_dir, i);
		CHECK_EQ_INT(write_file(path, b, n), 0);
		uint64_t cut = 12345;
		err[0] = '\0';
		long r = pcapfile_repair(path, &cut, err, sizeof err);
		if (r != t[i].want)
			printf("  %s: repair returned %ld (%s)\n", t[i].what, r, err);
		CHECK_EQ_INT(r, t[i].want);
		if (t[i].want < 0) {
			CHECK(strstr(err, path) != NULL);
			CHECK_EQ_INT(file_size(path), (long long)n); /* untouched */
			continue;
		}
		CHECK_EQ_INT(cut, t[i].cut);
		CHECK_EQ_INT(file_size(path), (long long)n - t[i].cut);
		/* a second repair finds nothing to do */
		CHECK_EQ_INT(pcapfile_repair(path, &cut, err, sizeof err), t[i].want);
		CHECK_EQ_INT(cut, 0);
		if (t[i].tail != HUGE_OK) {
			char eb[PCAP_ERRBUF_SIZE];
			pcap_t *p = pcap_open_offline(path, eb);
			struct pcap_pkthdr *h;
			const u_char *d;
			long cnt = 0;
			int rr;
			CHECK(p != NULL);
			while (p && (rr = pcap_next_ex(p, &h, &d)) == 1)
				cnt++;
			CHECK_EQ_INT(cnt, t[i].want);
			if (p)
				pcap_close(p);
		}
	}
	uint64_t cut = 7;
	CHECK_EQ_INT(pcapfile_repair("/nonexistent/x.pcap", &cut, err, sizeof err), -1);
	CHECK(strstr(err, "/nonexistent/x.pcap") != NULL);
	CHECK_EQ_INT(cut, 0);
	CHECK_EQ_INT(pcapfile_repair(base_dir, NULL, err, sizeof err), -1);
}

static void test_repair_large(void)
{
	/* more than the 1 MiB read window, records straddling its edges */
	char path[256], err[256];
	snprintf(path, sizeof path, "%s/large.pcap", base_dir);
	CHECK_EQ_INT(pf_write_n(path, 0, 0, 20000), 0);
	long long sz = file_size(path);
	CHECK(sz > 2 * 1024 * 1024);
	CHECK_EQ_INT(append_file(path, "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d", 13),
		     0);
	uint64_t cut;
	CHECK_EQ_INT(pcapfile_repair(path, &cut, err, sizeof err), 20000);
	CHECK_EQ_INT(cut, 13);
	CHECK_EQ_INT(file_size(path), sz);
}

/* ---- pcapw ------------------------------------------------------------------------------- */

/* Number of packets of gen() needed to check rotation: plenty of files at 1000 bytes. */
#define NROT 200

static void test_rotation_keep_all(void)
{
	char dir[256], path[512], names[64][80];
	uint32_t seqs[NROT];
	struct pcapw_stats st;
	pcapw_t *w = open_w(new_dir(dir, sizeof dir), 1000, 0, 0);
	CHECK(w != NULL);
	if (!w)
		return;
	CHECK_EQ_INT(write_pkts(w, 0, NROT, seqs), 0);
	CHECK_EQ_INT(pcapw_close(w), 0);
	int n = list_dir(dir, names, 64);
	CHECK(n > 10);
	/* all finished, consecutive sequence numbers from 1, each <= 1000 bytes, records in order
	 */
	unsigned next = 0;
	for (int k = 0; k < n; k++) {
		struct pcapw_fileid id;
		int part = 1;
		struct pf pf;
		CHECK(pcapw_parse_name(names[k], &id, &part));
		CHECK_EQ_INT(part, 0);
		CHECK_EQ_INT(id.seq, k + 1);
		snprintf(path, sizeof path, "%s/%.79s", dir, names[k]);
		CHECK(file_size(path) <= 1000);
		long r = pf_read(path, &pf);
		CHECK(r >= 1);
		CHECK(pf.whole);
		/* the name carries the UTC second of the first packet */
		int64_t ts;
		uint32_t cl, wl;
		uint8_t data[MAXCAP];
		gen(next, &ts, &cl, &wl, data);
		CHECK_EQ_INT(id.start_s, ts / NS);
		for (size_t j = 0; j < pf.n; j++) {
			CHECK(pf_rec_is(&pf, j, next));
			CHECK_EQ_INT(seqs[next], id.seq);
			next++;
		}
		/* it was full: the next packet would not have fit */
		if (k < n - 1 && next < NROT) {
			gen(next, &ts, &cl, &wl, data);
			CHECK(file_size(path) + 16 + cl > 1000);
		}
		pf_free(&pf);
	}
	CHECK_EQ_INT(next, NROT);
	pcapw_stats(NULL, &st); /* NULL-safe */
	CHECK_EQ_INT(st.packets, 0);
}

static void test_rotation_retention(void)
{
	char dir[256], path[512], names[64][80];
	uint32_t seqs[NROT];
	struct pcapw_stats st;
	pcapw_t *w = open_w(new_dir(dir, sizeof dir), 1000, 3, 0);
	CHECK(w != NULL);
	if (!w)
		return;
	CHECK_EQ_INT(write_pkts(w, 0, NROT, seqs), 0);
	/* while running: 3 finished files and the open .part */
	int n = list_dir(dir, names, 64);
	CHECK_EQ_INT(n, 4);
	int parts = 0;
	for (int k = 0; k < n; k++) {
		int part = 0;
		CHECK(pcapw_parse_name(names[k], NULL, &part));
		parts += part;
	}
	CHECK_EQ_INT(parts, 1);
	pcapw_stats(w, &st);
	CHECK_EQ_INT(st.packets, NROT);
	CHECK_EQ_INT(st.packets_dropped, 0);
	uint32_t written_running = st.files_written;
	CHECK_EQ_INT(st.files_deleted, written_running - 3);
	CHECK_EQ_INT(pcapw_close(w), 0);

	/* after close: exactly 3 finished files, the last 3 sequence numbers */
	n = list_dir(dir, names, 64);
	CHECK_EQ_INT(n, 3);
	uint32_t last = seqs[NROT - 1];
	for (int k = 0; k < n; k++) {
		struct pcapw_fileid id;
		int part = 1;
		struct pf pf;
		CHECK(pcapw_parse_name(names[k], &id, &part));
		CHECK_EQ_INT(part, 0);
		CHECK_EQ_INT(id.seq, last - 2 + (uint32_t)k);
		snprintf(path, sizeof path, "%s/%.79s", dir, names[k]);
		CHECK(file_size(path) <= 1000);
		/* its records are exactly the packets reported to belong to it, in order */
		pf_read(path, &pf);
		size_t j = 0;
		for (unsigned i = 0; i < NROT; i++) {
			if (seqs[i] != id.seq)
				continue;
			CHECK(j < pf.n && pf_rec_is(&pf, j, i));
			j++;
		}
		CHECK_EQ_INT(j, pf.n);
		CHECK(pf.whole);
		pf_free(&pf);
	}
	(void)written_running;
}

static void test_big_packet_own_file(void)
{
	char dir[256], path[512], names[16][80];
	static uint8_t big[5000];
	uint8_t small[50];
	struct pcapw_fileid id;
	struct pf pf;
	memset(big, 0xab, sizeof big);
	memset(small, 0xcd, sizeof small);
	pcapw_t *w = open_w(new_dir(dir, sizeof dir), 1000, 0, 0);
	CHECK(w != NULL);
	if (!w)
		return;
	CHECK_EQ_INT(pcapw_write_ns(w, T0 * NS, 50, 50, small, &id), 0);
	CHECK_EQ_INT(id.seq, 1);
	CHECK_EQ_INT(pcapw_write_ns(w, (T0 + 1) * NS, 5000, 5000, big, &id), 0);
	CHECK_EQ_INT(id.seq, 2);
	CHECK_EQ_INT(id.start_s, T0 + 1);
	CHECK_EQ_INT(pcapw_write_ns(w, (T0 + 2) * NS, 50, 50, small, &id), 0);
	CHECK_EQ_INT(id.seq, 3);
	CHECK_EQ_INT(pcapw_write_ns(w, (T0 + 3) * NS, 5000, 5000, big, &id), 0);
	CHECK_EQ_INT(id.seq, 4);
	CHECK_EQ_INT(pcapw_write_ns(w, (T0 + 4) * NS, 5000, 5000, big, &id), 0);
	CHECK_EQ_INT(id.seq, 5);
	CHECK_EQ_INT(pcapw_close(w), 0);
	CHECK_EQ_INT(list_dir(dir, names, 16), 5);
	static const long long sizes[] = {24 + 66, 24 + 5016, 24 + 66, 24 + 5016, 24 + 5016};
	for (int k = 0; k < 5; k++) {
		snprintf(path, sizeof path, "%s/%.79s", dir, names[k]);
		CHECK_EQ_INT(file_size(path), sizes[k]);
		CHECK_EQ_INT(pf_read(path, &pf), 1);
		pf_free(&pf);
	}
	CHECK_EQ_STR(names[1], "capture_20240101_000001_0002.pcap");
}

static void test_rotation_tiny_limit(void)
{
	/* rotate_bytes 1: every packet gets its own file */
	char dir[256], names[16][80];
	pcapw_t *w = open_w(new_dir(dir, sizeof dir), 1, 0, 0);
	CHECK(w != NULL);
	if (!w)
		return;
	CHECK_EQ_INT(write_pkts(w, 0, 7, NULL), 0);
	CHECK_EQ_INT(pcapw_close(w), 0);
	CHECK_EQ_INT(list_dir(dir, names, 16), 7);
}

static void test_seq_continues(void)
{
	char dir[256], names[32][80];
	struct pcapw_fileid id;
	uint8_t d[10] = {0};
	new_dir(dir, sizeof dir);
	pcapw_t *w = open_w(dir, 1000, 0, 0);
	CHECK(w != NULL);
	if (!w)
		return;
	CHECK_EQ_INT(write_pkts(w, 0, 30, NULL), 0);
	CHECK_EQ_INT(pcapw_write_ns(w, T0 * NS, 10, 10, d, &id), 0);
	uint32_t last = id.seq;
	CHECK(last > 1);
	CHECK_EQ_INT(pcapw_close(w), 0);

	w = open_w(dir, 1000, 0, 0);
	CHECK(w != NULL);
	if (!w)
		return;
	CHECK_EQ_INT(pcapw_write_ns(w, T0 * NS, 10, 10, d, &id), 0);
	CHECK_EQ_INT(id.seq, last + 1);
	CHECK_EQ_INT(pcapw_close(w), 0);

	/* a higher number in the folder, even a non-pcap .part, moves the counter on */
	char path[512];
	snprintf(path, sizeof path, "%s/capture_20200101_000000_0500.pcap.part", dir);
	CHECK_EQ_INT(write_file(path, "this is not a pcap file, leave it", 33), 0);
	snprintf(path, sizeof path, "%s/capture_20200101_000000_90000.pcapng", dir);
	CHECK_EQ_INT(write_file(path, "x", 1), 0); /* not ours: ignored */
	w = open_w(dir, 1000, 0, 0);
	CHECK(w != NULL);
	if (!w)
		return;
	CHECK_EQ_INT(pcapw_write_ns(w, T0 * NS, 10, 10, d, &id), 0);
	CHECK_EQ_INT(id.seq, 501);
	CHECK_EQ_INT(pcapw_close(w), 0);
	/* and past 9999 the number grows a digit */
	snprintf(path, sizeof path, "%s/capture_20200101_000000_9999.pcap", dir);
	CHECK_EQ_INT(write_file(path, "x", 1), 0);
	w = open_w(dir, 1000, 0, 0);
	CHECK(w != NULL);
	if (!w)
		return;
	CHECK_EQ_INT(pcapw_write_ns(w, T0 * NS, 10, 10, d, &id), 0);
	CHECK_EQ_INT(id.seq, 10000);
	CHECK_EQ_INT(pcapw_close(w), 0);
	snprintf(path, sizeof path, "%s/capture_20240101_000000_10000.pcap", dir);
	CHECK(exists(path));
	(void)names;
}

static void test_part_repair_at_open(void)
{
	char dir[256], part[512], final[512], names[16][80];
	struct pcapw_stats st;
	struct pf pf;
	new_dir(dir, sizeof dir);
	pcapw_t *w = open_w(dir, 1 << 20, 0, 0);
	CHECK(w != NULL);
	CHECK_EQ_INT(pcapw_close(w), 0); /* creates the folder */
	snprintf(part, sizeof part, "%s/capture_20240101_000000_0007.pcap.part", dir);
	snprintf(final, sizeof final, "%s/capture_20240101_000000_0007.pcap", dir);
	CHECK_EQ_INT(pf_write_n(part, 0, 0, 25), 0);
	long long whole = file_size(part);
	/* a crash in the middle of a record: its header and 30 of its 100 bytes */
	uint8_t rec[116];
	put_rec(rec, 0, 100, 100, 0x77);
	CHECK_EQ_INT(append_file(part, rec, 16 + 30), 0);

	stderr_begin();
	w = open_w(dir, 1 << 20, 0, 0);
	const char *log = stderr_end();
	CHECK(w != NULL);
	CHECK(strstr(log, "repaired") != NULL);
	CHECK(strstr(log, final) != NULL);
	pcapw_stats(w, &st);
	CHECK_EQ_INT(st.files_repaired, 1);
	CHECK(!exists(part));
	CHECK_EQ_INT(file_size(final), whole);
	CHECK_EQ_INT(pf_read(final, &pf), 25);
	CHECK(pf.whole);
	for (unsigned i = 0; i < pf.n; i++)
		CHECK(pf_rec_is(&pf, i, i));
	pf_free(&pf);
	/* the sequence goes on after the repaired file */
	struct pcapw_fileid id;
	uint8_t d[4] = {0};
	CHECK_EQ_INT(pcapw_write_ns(w, T0 * NS, 4, 4, d, &id), 0);
	CHECK_EQ_INT(id.seq, 8);
	CHECK_EQ_INT(pcapw_close(w), 0);
	CHECK_EQ_INT(list_dir(dir, names, 16), 2);
}

static void test_part_garbage_at_open(void)
{
	char dir[256], part[512], final[512];
	struct pf pf;
	new_dir(dir, sizeof dir);
	pcapw_t *w = open_w(dir, 1 << 20, 0, 1);
	CHECK_EQ_INT(pcapw_close(w), 0);
	snprintf(part, sizeof part, "%s/capture_20240101_000000_0003.pcap.part", dir);
	snprintf(final, sizeof final, "%s/capture_20240101_000000_0003.pcap", dir);
	CHECK_EQ_INT(pf_write_n(part, 1, 0, 12), 0);
	long long whole = file_size(part);
	uint8_t junk[777];
	memset(junk, 0xee, sizeof junk);
	CHECK_EQ_INT(append_file(part, junk, sizeof junk), 0);
	w = open_w(dir, 1 << 20, 0, 1);
	CHECK(w != NULL);
	CHECK_EQ_INT(pcapw_close(w), 0);
	CHECK(!exists(part));
	CHECK_EQ_INT(file_size(final), whole);
	CHECK_EQ_INT(pf_read(final, &pf), 12);
	CHECK(pf.nano);
	CHECK(pf.whole);
	pf_free(&pf);
	CHECK(libpcap_reads(final, 12));
}

static void test_part_leftovers(void)
{
	char dir[256], p[512], names[16][80];
	uint8_t hdr[24];
	struct pcapw_stats st;
	new_dir(dir, sizeof dir);
	pcapw_t *w = open_w(dir, 1 << 20, 1, 0);
	CHECK_EQ_INT(pcapw_close(w), 0);
	/* a torn header: removed */
	snprintf(p, sizeof p, "%s/capture_20240101_000000_0001.pcap.part", dir);
	put_hdr(hdr, 0xa1b2c3d4u, 0, 65535);
	CHECK_EQ_INT(write_file(p, hdr, 10), 0);
	/* an empty file: removed */
	snprintf(p, sizeof p, "%s/capture_20240101_000000_0002.pcap.part", dir);
	CHECK_EQ_INT(write_file(p, hdr, 0), 0);
	/* a header and no whole packet: removed */
	snprintf(p, sizeof p, "%s/capture_20240101_000000_0003.pcap.part", dir);
	CHECK_EQ_INT(write_file(p, hdr, 24), 0);
	CHECK_EQ_INT(append_file(p, "\x01\x02\x03", 3), 0);
	/* not a pcap: left alone, with a warning */
	snprintf(p, sizeof p, "%s/capture_20240101_000000_0004.pcap.part", dir);
	static const char zip[] = "PK\x03\x04 this is a zip file, not a capture";
	CHECK_EQ_INT(write_file(p, zip, sizeof zip - 1), 0);
	/* a .part whose finished name exists: left alone */
	snprintf(p, sizeof p, "%s/capture_20240101_000000_0005.pcap.part", dir);
	CHECK_EQ_INT(pf_write_n(p, 0, 0, 2), 0);
	snprintf(p, sizeof p, "%s/capture_20240101_000000_0005.pcap", dir);
	CHECK_EQ_INT(pf_write_n(p, 0, 0, 3), 0);

	stderr_begin();
	w = open_w(dir, 1 << 20, 1, 0);
	const char *log = stderr_end();
	CHECK(w != NULL);
	CHECK_EQ_INT(count_str(log, "removed"), 3);
	CHECK_EQ_INT(count_str(log, "warning"), 2);
	pcapw_stats(w, &st);
	CHECK_EQ_INT(st.files_repaired, 0);
	CHECK_EQ_INT(pcapw_close(w), 0);
	int n = list_dir(dir, names, 16);
	CHECK_EQ_INT(n, 3);
	CHECK_EQ_STR(names[0], "capture_20240101_000000_0004.pcap.part");
	CHECK_EQ_STR(names[1], "capture_20240101_000000_0005.pcap");
	CHECK_EQ_STR(names[2], "capture_20240101_000000_0005.pcap.part");
	snprintf(p, sizeof p, "%s/capture_20240101_000000_0005.pcap", dir);
	CHECK_EQ_INT(file_size(p), 24 + 3 * 16 + 20 + 57 + 94); /* the finished one untouched */
}

static void test_non_matching_never_deleted(void)
{
	static const char *const keep[] = {
	    "other.pcap",
	    "capture_2024.pcap",
	    "capture_20240101_000000_12.pcap",
	    "capture_20240101_000000_0001.pcapng",
	    "capture_20240101_000000_0002.pcap.bak",
	    "capture_19990101_000000_0003.pcap.part.bad",
	    "notes.txt",
	};
	char dir[256], p[512], names[32][80];
	new_dir(dir, sizeof dir);
	pcapw_t *w = open_w(dir, 1000, 1, 0);
	CHECK_EQ_INT(pcapw_close(w), 0);
	for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, keep[i]);
		CHECK_EQ_INT(write_file(p, "x", 1), 0);
	}
	/* a folder and a symlink with matching names are not files of ours either */
	snprintf(p, sizeof p, "%s/capture_19990101_000000_0001.pcap", dir);
	CHECK_EQ_INT(mkdir(p, 0755), 0);
	snprintf(p, sizeof p, "%s/capture_19990101_000000_0002.pcap", dir);
	CHECK_EQ_INT(symlink("notes.txt", p), 0);

	w = open_w(dir, 1000, 1, 0);
	CHECK(w != NULL);
	if (!w)
		return;
	CHECK_EQ_INT(write_pkts(w, 0, 100, NULL), 0);
	CHECK_EQ_INT(pcapw_close(w), 0);
	int n = list_dir(dir, names, 32);
	CHECK_EQ_INT(n, 7 + 2 + 1);
	for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, keep[i]);
		CHECK(exists(p));
	}
	snprintf(p, sizeof p, "%s/capture_19990101_000000_0001.pcap", dir);
	CHECK(exists(p));
	snprintf(p, sizeof p, "%s/capture_19990101_000000_0002.pcap", dir);
	CHECK(exists(p));
}

static void test_retention_at_open(void)
{
	char dir[256], names[32][80];
	new_dir(dir, sizeof dir);
	pcapw_t *w = open_w(dir, 1000, 0, 0);
	CHECK(w != NULL);
	CHECK_EQ_INT(write_pkts(w, 0, 100, NULL), 0);
	CHECK_EQ_INT(pcapw_close(w), 0);
	int all = list_dir(dir, names, 32);
	CHECK(all > 5);
	/* reopening with a retention deletes the oldest at once */
	struct pcapw_stats st;
	w = open_w(dir, 1000, 2, 0);
	CHECK(w != NULL);
	pcapw_stats(w, &st);
	CHECK_EQ_INT(st.files_deleted, all - 2);
	CHECK_EQ_INT(pcapw_close(w), 0);
	CHECK_EQ_INT(list_dir(dir, names, 32), 2);
	char want[48];
	struct pcapw_fileid id;
	CHECK(pcapw_parse_name(names[1], &id, NULL));
	CHECK_EQ_INT(id.seq, all);
	CHECK_EQ_STR(pcapw_file_name(&id, want, sizeof want), names[1]);
}

static void test_name_is_packet_time_utc(void)
{
	char dir[256], names[4][80];
	uint8_t d[8] = {0};
	char *old_tz = getenv("TZ") ? strdup(getenv("TZ")) : NULL;
	setenv("TZ", "Asia/Tokyo", 1);
	tzset();
	new_dir(dir, sizeof dir);
	pcapw_t *w = open_w(dir, 1 << 20, 0, 0);
	CHECK(w != NULL);
	/* 2021-07-04 23:59:59.999 UTC: the name takes the packet's second, in UTC */
	CHECK_EQ_INT(pcapw_write_ns(w, 1625443199999000000LL, 8, 8, d, NULL), 0);
	CHECK_EQ_INT(pcapw_write_ns(w, 1625443300000000000LL, 8, 8, d, NULL), 0);
	CHECK_EQ_INT(pcapw_close(w), 0);
	CHECK_EQ_INT(list_dir(dir, names, 4), 1);
	CHECK_EQ_STR(names[0], "capture_20210704_235959_0001.pcap");
	if (old_tz)
		setenv("TZ", old_tz, 1);
	else
		unsetenv("TZ");
	tzset();
	free(old_tz);
}

static void test_linktype_and_nano_header(void)
{
	char dir[256], p[512], names[4][80], err[256];
	struct pf pf;
	uint8_t d[20] = {0x45};
	new_dir(dir, sizeof dir);
	struct pcapw_config c = {
	    .dir = dir, .rotate_bytes = 1 << 20, .linktype = DLT_RAW, .snaplen = 262144, .nano = 1};
	pcapw_t *w = pcapw_open(&c, err, sizeof err);
	CHECK(w != NULL);
	CHECK_EQ_INT(pcapw_write_ns(w, T0 * NS + 5, 20, 20, d, NULL), 0);
	CHECK_EQ_INT(pcapw_close(w), 0);
	CHECK_EQ_INT(list_dir(dir, names, 4), 1);
	snprintf(p, sizeof p, "%s/%.79s", dir, names[0]);
	CHECK_EQ_INT(pf_read(p, &pf), 1);
	CHECK_EQ_INT(rd32(pf.b, 0), 0xa1b23c4du);
	CHECK_EQ_INT(pf.linktype, 101);
	CHECK_EQ_INT(pf.snaplen, 262144);
	CHECK_EQ_INT(rd32(pf.b + 28, 0), 5);
	pf_free(&pf);
}

static void test_open_errors(void)
{
	char dir[256], err[512], p[512];
	struct pcapw_config c = {.dir = NULL, .rotate_bytes = 1000, .linktype = DLT_EN10MB};
	CHECK(pcapw_open(&c, err, sizeof err) == NULL);
	CHECK(pcapw_open(NULL, err, sizeof err) == NULL);
	c.dir = new_dir(dir, sizeof dir);
	c.rotate_bytes = 0;
	CHECK(pcapw_open(&c, err, sizeof err) == NULL);
	CHECK(strstr(err, dir) != NULL);
	c.rotate_bytes = 1000;
	c.linktype = 13; /* no LINKTYPE on Linux */
	CHECK(pcapw_open(&c, err, sizeof err) == NULL);
	CHECK(strstr(err, "13") != NULL);
	c.linktype = DLT_EN10MB;
	/* the folder is a file */
	snprintf(p, sizeof p, "%s/afile", base_dir);
	CHECK_EQ_INT(write_file(p, "x", 1), 0);
	c.dir = p;
	CHECK(pcapw_open(&c, err, sizeof err) == NULL);
	CHECK(strstr(err, p) != NULL);
	snprintf(p, sizeof p, "%s/afile/sub", base_dir);
	CHECK(pcapw_open(&c, err, sizeof err) == NULL);
	CHECK(strstr(err, p) != NULL);
	/* nested folders are created */
	snprintf(p, sizeof p, "%s/a/b/c/pcaps", base_dir);
	pcapw_t *w = pcapw_open(&c, err, sizeof err);
	CHECK(w != NULL);
	CHECK(exists(p));
	CHECK_EQ_INT(pcapw_close(w), 0);
	/* NULL-safety */
	struct pcapw_fileid id = {5, 5};
	CHECK(pcapw_write_ns(NULL, 0, 0, 0, NULL, &id) < 0);
	CHECK_EQ_INT(id.seq, 0);
	CHECK_EQ_INT(pcapw_close(NULL), 0);
	pcapw_tick(NULL, 1);
}

static void test_write_error_episode(void)
{
	char dir[256], names[8][80], p[512];
	struct pcapw_stats st;
	struct pf pf;
	unsigned i = 0;
	new_dir(dir, sizeof dir);
	pcapw_t *w = open_w(dir, 100000, 0, 0);
	CHECK(w != NULL);
	if (!w)
		return;
	stderr_begin();
	CHECK_EQ_INT(write_pkts(w, i, 5, NULL), 0); /* ~650 bytes */
	i += 5;
	pcapw_tick(w, 1);
	fsize_limit(2000);
	/* episode 1: three failing flushes, one warning */
	unsigned lost = 0;
	for (int round = 0; round < 3; round++) {
		CHECK_EQ_INT(write_pkts(w, i, 15, NULL), 0);
		i += 15;
		pcapw_tick(w, 1);
	}
	pcapw_stats(w, &st);
	lost = (unsigned)st.packets_dropped;
	CHECK(lost >= 30); /* at least the last two rounds */
	CHECK_EQ_INT(st.write_errors, 3);
	fsize_unlimited();
	CHECK_EQ_INT(write_pkts(w, i, 2, NULL), 0);
	i += 2;
	pcapw_tick(w, 1); /* writes again: resumed */
	/* episode 2 */
	fsize_limit(2000);
	CHECK_EQ_INT(write_pkts(w, i, 15, NULL), 0);
	i += 15;
	pcapw_tick(w, 1);
	pcapw_tick(w, 1); /* nothing buffered: no error, no news */
	fsize_unlimited();
	CHECK_EQ_INT(write_pkts(w, i, 1, NULL), 0);
	i += 1;
	pcapw_stats(w, &st);
	CHECK_EQ_INT(st.packets + st.packets_dropped, i);
	uint64_t kept = st.packets;
	CHECK_EQ_INT(pcapw_close(w), 0);
	const char *log = stderr_end();
	CHECK_EQ_INT(count_str(log, "warning:"), 2);
	CHECK_EQ_INT(count_str(log, "resumed"), 2);
	CHECK(strstr(log, "File too large") != NULL);
	CHECK(strstr(log, dir) != NULL);
	CHECK_EQ_INT(list_dir(dir, names, 8), 1);
	snprintf(p, sizeof p, "%s/%.79s", dir, names[0]);
	CHECK_EQ_INT(pf_read(p, &pf), (long)kept);
	CHECK(pf.whole);
	for (unsigned k = 0; k < 5; k++)
		CHECK(pf_rec_is(&pf, k, k));
	pf_free(&pf);
}

static void test_create_failure_retry(void)
{
	char dir[256], names[8][80];
	struct pcapw_stats st;
	struct pcapw_fileid id;
	new_dir(dir, sizeof dir);
	pcapw_t *w = open_w(dir, 100000, 0, 0);
	CHECK(w != NULL);
	if (!w)
		return;
	stderr_begin();
	fsize_limit(10); /* the header cannot be written: creation fails */
	for (unsigned i = 0; i < 50; i++) {
		int64_t ts;
		uint32_t cl, wl;
		uint8_t data[MAXCAP];
		gen(i, &ts, &cl, &wl, data);
		CHECK_EQ_INT(pcapw_write_ns(w, ts, cl, wl, data, &id), -EFBIG);
		CHECK_EQ_INT(id.seq, 0);
	}
	pcapw_stats(w, &st);
	CHECK_EQ_INT(st.packets_dropped, 50);
	CHECK_EQ_INT(st.write_errors, 1); /* one attempt: the others came within the second */
	CHECK_EQ_INT(list_dir(dir, names, 8), 0);
	fsize_unlimited();
	CHECK(write_pkts(w, 50, 1, NULL) == 1); /* still within the second */
	struct timespec ts = {1, 50 * 1000 * 1000};
	nanosleep(&ts, NULL);
	CHECK_EQ_INT(write_pkts(w, 51, 3, NULL), 0);
	pcapw_stats(w, &st);
	CHECK_EQ_INT(st.packets_dropped, 51);
	CHECK_EQ_INT(st.packets, 3);
	CHECK_EQ_INT(pcapw_close(w), 0);
	const char *log = stderr_end();
	CHECK_EQ_INT(count_str(log, "warning:"), 1);
	CHECK(strstr(log, "cannot create") != NULL);
	CHECK_EQ_INT(count_str(log, "resumed"), 1);
	CHECK_EQ_INT(list_dir(dir, names, 8), 1);
	/* the number was not used up by the failures */
	CHECK(pcapw_parse_name(names[0], &id, NULL));
	CHECK_EQ_INT(id.seq, 1);
}

static void test_all_lost_no_empty_file(void)
{
	/* every record of the file is lost to write errors: no header-only file is left behind */
	char dir[256], names[8][80];
	struct pcapw_stats st;
	new_dir(dir, sizeof dir);
	pcapw_t *w = open_w(dir, 100000, 0, 0);
	CHECK(w != NULL);
	if (!w)
		return;
	stderr_begin();
	fsize_limit(500);
	CHECK_EQ_INT(write_pkts(w, 0, 10, NULL), 0); /* ~1300 bytes, buffered */
	CHECK_EQ_INT(pcapw_close(w), -EFBIG);
	fsize_unlimited();
	const char *log = stderr_end();
	CHECK_EQ_INT(count_str(log, "warning:"), 1);
	CHECK_EQ_INT(list_dir(dir, names, 8), 0);

	/* the same at a rotation: the next file starts fresh */
	w = open_w(dir, 1000, 0, 0);
	CHECK(w != NULL);
	if (!w)
		return;
	stderr_begin();
	fsize_limit(500);
	CHECK_EQ_INT(write_pkts(w, 0, 10, NULL),
		     0); /* 24 + 9 packets: 960 bytes, the 10th rotates */
	pcapw_stats(w, &st);
	CHECK_EQ_INT(st.packets_dropped, 9);
	CHECK_EQ_INT(st.packets, 1);
	CHECK_EQ_INT(st.files_written, 0);
	fsize_unlimited();
	CHECK_EQ_INT(pcapw_close(w), 0);
	stderr_end();
	CHECK_EQ_INT(list_dir(dir, names, 8), 1);
	CHECK_EQ_STR(names[0], "capture_20240101_000001_0002.pcap");
}

static void test_tick(void)
{
	char dir[256], part[512], name[48];
	uint8_t d[100] = {0};
	struct pcapw_fileid id;
	new_dir(dir, sizeof dir);
	pcapw_t *w = open_w(dir, 100000, 0, 0);
	CHECK(w != NULL);
	if (!w)
		return;
	pcapw_tick(w, 1); /* no file yet: nothing to do */
	CHECK_EQ_INT(pcapw_write_ns(w, T0 * NS, 100, 100, d, &id), 0);
	snprintf(part, sizeof part, "%s/%s.part", dir, pcapw_file_name(&id, name, sizeof name));
	CHECK_EQ_INT(file_size(part), 24);
	pcapw_tick(w, 0); /* the file is new: not yet */
	CHECK_EQ_INT(file_size(part), 24);
	pcapw_tick(w, 1);
	CHECK_EQ_INT(file_size(part), 24 + 116);
	CHECK_EQ_INT(pcapw_write_ns(w, T0 * NS, 100, 100, d, &id), 0);
	pcapw_tick(w, 0); /* flushed just now */
	CHECK_EQ_INT(file_size(part), 24 + 116);
	struct timespec ts = {1, 20 * 1000 * 1000};
	nanosleep(&ts, NULL);
	pcapw_tick(w, 0);
	CHECK_EQ_INT(file_size(part), 24 + 2 * 116);
	CHECK_EQ_INT(pcapw_close(w), 0);
	CHECK(!exists(part));
}

int main(void)
{
	snprintf(base_dir, sizeof base_dir, "/tmp/test_pcapw_XXXXXX");
	if (!mkdtemp(base_dir)) {
		perror("mkdtemp");
		return 1;
	}
	signal(SIGXFSZ, SIG_IGN); /* RLIMIT_FSIZE: EFBIG instead of a signal */

	RUN(test_name_format);
	RUN(test_name_parse);
	RUN(test_name_roundtrip);
	RUN(test_linktype_vs_libpcap);
	RUN(test_pcapfile_micro);
	RUN(test_pcapfile_nano);
	RUN(test_pcapfile_timestamps);
	RUN(test_pcapfile_exists);
	RUN(test_pcapfile_big_records);
	RUN(test_pcapfile_size_and_stats);
	RUN(test_pcapfile_write_error);
	RUN(test_pcapfile_create_error);
	RUN(test_repair_table);
	RUN(test_repair_large);
	RUN(test_rotation_keep_all);
	RUN(test_rotation_retention);
	RUN(test_big_packet_own_file);
	RUN(test_rotation_tiny_limit);
	RUN(test_seq_continues);
	RUN(test_part_repair_at_open);
	RUN(test_part_garbage_at_open);
	RUN(test_part_leftovers);
	RUN(test_non_matching_never_deleted);
	RUN(test_retention_at_open);
	RUN(test_name_is_packet_time_utc);
	RUN(test_linktype_and_nano_header);
	RUN(test_open_errors);
	RUN(test_write_error_episode);
	RUN(test_create_failure_retry);
	RUN(test_all_lost_no_empty_file);
	RUN(test_tick);

	if (!getenv("KEEP_TMP"))
		rm_rf(base_dir);
	return test_main_end();
}
