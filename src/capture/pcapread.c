/*
 * pcapread.c - classic pcap files through read(2) in large chunks; see pcapread.h.
 *
 * The record loop mirrors libpcap 1.10 sf-pcap.c pcap_next_packet() step by step (the comments
 * name the step), so that a damaged or odd file gives the same packets and the same error as
 * libpcap; tests/unit/test_pcapread.c and fuzz/fuzz_pcapread.c compare the two readers.
 */
#include "capture/pcapread.h"

#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PCAPREAD_DEFAULT_BUF (4u << 20)
#define PCAPREAD_MIN_BUF 64u
/* link types whose records may be larger than this are left to libpcap (D-Bus: 128 MiB) */
#define PCAPREAD_MAX_CAPLEN (16u << 20)
#define FILE_HDR_LEN 24u
#define REC_HDR_LEN 16u

#define MAGIC_US 0xa1b2c3d4u
#define MAGIC_NS 0xa1b23c4du

/* libpcap's tstamp_scale_type_t and swapped_type_t (for the caplen/len interchange) */
enum { SCALE_NONE, SCALE_UP, SCALE_DOWN };
enum { LEN_NOT_SWAPPED, LEN_SWAPPED, LEN_MAYBE_SWAPPED };

struct pcapread {
	int fd;
	uint8_t *buf;
	size_t cap;      /* buffer size now */
	size_t maxcap;   /* what it may grow to: a record header + the largest caplen */
	size_t pos, end; /* the unread bytes are buf[pos, end) */
	int swapped;     /* the file is in the other byte order */
	int lengths;     /* LEN_* */
	int scale;       /* SCALE_* */
	uint32_t snapshot;
	uint32_t maxcaplen; /* libpcap's max_snaplen_for_dlt() for the link type */
	pcap_t *hp;         /* libpcap's reading of the file header: link type, filter compiler */
	uint8_t hdr[FILE_HDR_LEN]; /* the bytes behind hp's stream */
	struct bpf_program prog;
	int have_prog;
	volatile sig_atomic_t brk;

	/*
	 * Read-ahead (the default buffer size): a thread reads the next chunk into the other of two
	 * buffers while records are taken from this one; fill() swaps them, copying only the
	 * unfinished record in front of the new chunk (each buffer has ra_head bytes of room for it).
	 */
	int ra;
	pthread_t ra_th;
	pthread_mutex_t ra_mu;
	pthread_cond_t ra_cv;
	uint8_t *ra_bufs[2];
	size_t ra_head, ra_chunk;
	uint8_t *ra_free;       /* a buffer for the thread to fill, or NULL */
	uint8_t *ra_next;       /* a filled buffer, or NULL */
	size_t ra_len;          /* its bytes, after ra_head */
	int ra_err;             /* errno of a failed read, 0 */
	int ra_stop, ra_eof;
};

static void *ra_reader(void *arg)
{
	struct pcapread *r = arg;
	pthread_setname_np(pthread_self(), "ringcap-read");
	pthread_mutex_lock(&r->ra_mu);
	for (;;) {
		while (!r->ra_free && !r->ra_stop)
			pthread_cond_wait(&r->ra_cv, &r->ra_mu);
		if (r->ra_stop)
			break;
		uint8_t *b = r->ra_free;
		r->ra_free = NULL;
		pthread_mutex_unlock(&r->ra_mu);
		size_t len = 0;
		int e = 0;
		while (len < r->ra_chunk) {
			ssize_t n = read(r->fd, b + r->ra_head + len, r->ra_chunk - len);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				e = errno;
				break;
			}
			if (n == 0)
				break;
			len += (size_t)n;
		}
		pthread_mutex_lock(&r->ra_mu);
		r->ra_next = b;
		r->ra_len = len;
		r->ra_err = e;
		pthread_cond_broadcast(&r->ra_cv);
		if (e || len < r->ra_chunk)
			break; /* the end of the file, or an error: nothing more to read */
	}
	pthread_mutex_unlock(&r->ra_mu);
	return NULL;
}

/* fill() with read-ahead; same contract. */
static ssize_t ra_fill(struct pcapread *r, size_t want, char *err, size_t errlen)
{
	size_t have = r->end - r->pos;
	while (have < want && !r->ra_eof) {
		pthread_mutex_lock(&r->ra_mu);
		while (!r->ra_next)
			pthread_cond_wait(&r->ra_cv, &r->ra_mu);
		uint8_t *b = r->ra_next;
		size_t len = r->ra_len;
		int e = r->ra_err;
		r->ra_next = NULL;
		pthread_mutex_unlock(&r->ra_mu);
		/* the unfinished record goes in front of the new chunk (have < want <= ra_head) */
		memcpy(b + r->ra_head - have, r->buf + r->pos, have);
		uint8_t *old = r->buf;
		r->buf = b;
		r->pos = r->ra_head - have;
		r->end = r->ra_head + len;
		have = r->end - r->pos;
		if (e || len < r->ra_chunk) {
			r->ra_eof = 1;
		} else {
			pthread_mutex_lock(&r->ra_mu);
			r->ra_free = old;
			pthread_cond_broadcast(&r->ra_cv);
			pthread_mutex_unlock(&r->ra_mu);
		}
		if (e) {
			/* libpcap's pcap_fmt_errmsg_for_errno(..., "error reading dump file") */
			snprintf(err, errlen, "error reading dump file: %s", strerror(e));
			return -1;
		}
	}
	return (ssize_t)have;
}

/* Starts the read-ahead thread; on failure the plain fill() is used. */
static void ra_start(struct pcapread *r)
{
	r->ra_head = r->maxcap;
	r->ra_chunk = r->cap > r->maxcap ? r->cap : r->maxcap;
	for (int i = 0; i < 2; i++) {
		r->ra_bufs[i] = malloc(r->ra_head + r->ra_chunk);
		if (!r->ra_bufs[i])
			goto fail;
	}
	pthread_mutex_init(&r->ra_mu, NULL);
	pthread_cond_init(&r->ra_cv, NULL);
	r->ra_free = r->ra_bufs[1];
	if (pthread_create(&r->ra_th, NULL, ra_reader, r) != 0) {
		pthread_mutex_destroy(&r->ra_mu);
		pthread_cond_destroy(&r->ra_cv);
		goto fail;
	}
	free(r->buf);
	r->buf = r->ra_bufs[0];
	r->pos = r->end = 0;
	r->ra = 1;
	return;
fail:
	for (int i = 0; i < 2; i++) {
		free(r->ra_bufs[i]);
		r->ra_bufs[i] = NULL;
	}
}

static uint32_t get32(const uint8_t *p, int swapped)
{
	uint32_t v;
	memcpy(&v, p, sizeof v);
	return swapped ? __builtin_bswap32(v) : v;
}

/*
 * A pcap_t for a copy of the file header, read from memory: libpcap's own checks and mapping.
 * Returns NULL with libpcap's message in ebuf.
 */
static pcap_t *open_header(uint8_t *hdr, int nano, char *ebuf)
{
	FILE *f = fmemopen(hdr, FILE_HDR_LEN, "rb");
	if (!f) {
		snprintf(ebuf, PCAP_ERRBUF_SIZE, "fmemopen: %s", strerror(errno));
		return NULL;
	}
	pcap_t *p = pcap_fopen_offline_with_tstamp_precision(
		f, nano ? PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO, ebuf);
	if (!p)
		fclose(f);
	return p;
}

/*
 * The largest caplen libpcap accepts for the file's link type (max_snaplen_for_dlt(), which is
 * not exported): the snapshot length it derives from the same header with a snaplen of 0.
 * Returns 0 if that cannot be found out.
 */
static uint32_t probe_maxcaplen(const uint8_t *hdr)
{
	uint8_t copy[FILE_HDR_LEN];
	char ebuf[PCAP_ERRBUF_SIZE];
	memcpy(copy, hdr, sizeof copy);
	memset(copy + 16, 0, 4); /* snaplen */
	pcap_t *p = open_header(copy, 0, ebuf);
	if (!p)
		return 0;
	int snap = pcap_snapshot(p);
	pcap_close(p);
	return snap > 0 ? (uint32_t)snap : 0;
}

/*
 * Link types that libpcap rewrites per packet (pcap-common.c swap_pseudo_headers() for a file in
 * the other byte order; fixup_pcap_pkthdr() for mmapped USB in any order): left to libpcap.
 */
static int rewritten_by_libpcap(int dlt, int swapped)
{
	switch (dlt) {
	case DLT_USB_LINUX:
	case DLT_USB_LINUX_MMAPPED:
		return 1;
	case DLT_PFLOG:
	case DLT_LINUX_SLL:
#ifdef DLT_LINUX_SLL2
	case DLT_LINUX_SLL2:
#endif
	case DLT_NFLOG:
		return swapped;
	default:
		return 0;
	}
}

pcapread_t *pcapread_open(const char *path, const struct pcapread_opts *o, char *err,
			  size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	struct stat sb;
	struct pcapread *r = NULL;
	uint32_t magic;

	/* not "-", and never open a FIFO here: that would wait for (and then drop) its writer */
	if (strcmp(path, "-") == 0 || stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "not a regular file");
		return NULL;
	}
	r = calloc(1, sizeof *r);
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	r->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (r->fd < 0) {
		snprintf(err, errlen, "cannot open: %s", strerror(errno));
		goto fail;
	}
	if (fstat(r->fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "not a regular file");
		goto fail;
	}
	int fl = fcntl(r->fd, F_GETFL);
	if (fl < 0 || fcntl(r->fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
		snprintf(err, errlen, "fcntl: %s", strerror(errno));
		goto fail;
	}
	ssize_t n = pread(r->fd, r->hdr, sizeof r->hdr, 0);
	if (n != (ssize_t)sizeof r->hdr) {
		snprintf(err, errlen, "no whole file header");
		goto fail;
	}
	memcpy(&magic, r->hdr, sizeof magic);
	if (magic == MAGIC_US || magic == MAGIC_NS) {
		r->swapped = 0;
	} else if (magic == __builtin_bswap32(MAGIC_US) || magic == __builtin_bswap32(MAGIC_NS)) {
		r->swapped = 1;
		magic = __builtin_bswap32(magic);
	} else {
		snprintf(err, errlen, "not a classic pcap file with a standard magic number");
		goto fail;
	}
	r->hp = open_header(r->hdr, o->nano, ebuf);
	if (!r->hp) {
		snprintf(err, errlen, "libpcap refuses the header: %s", ebuf);
		goto fail;
	}
	if (pcap_is_swapped(r->hp) != r->swapped) {
		snprintf(err, errlen, "byte order unclear");
		goto fail;
	}
	int dlt = pcap_datalink(r->hp);
	if (rewritten_by_libpcap(dlt, r->swapped)) {
		snprintf(err, errlen, "link type %d is rewritten by libpcap", dlt);
		goto fail;
	}
	int snap = pcap_snapshot(r->hp);
	r->maxcaplen = probe_maxcaplen(r->hdr);
	/* (the snapshot length may be above that: libpcap 1.10 only adjusts 0 and > INT_MAX) */
	if (snap <= 0 || r->maxcaplen == 0 || r->maxcaplen > PCAPREAD_MAX_CAPLEN) {
		snprintf(err, errlen, "largest record %u for link type %d: left to libpcap",
			 r->maxcaplen, dlt);
		goto fail;
	}
	r->snapshot = (uint32_t)snap;

	/* pcap_check_header(): precision scaling and the caplen/len interchange */
	int file_nano = magic == MAGIC_NS;
	if (o->nano)
		r->scale = file_nano ? SCALE_NONE : SCALE_UP;
	else
		r->scale = file_nano ? SCALE_DOWN : SCALE_NONE;
	int major = pcap_major_version(r->hp), minor = pcap_minor_version(r->hp);
	if (major == 2)
		r->lengths = minor < 3 ? LEN_SWAPPED : minor == 3 ? LEN_MAYBE_SWAPPED : LEN_NOT_SWAPPED;
	else if (major == 543)
		r->lengths = LEN_SWAPPED;
	else
		r->lengths = LEN_NOT_SWAPPED;

	r->cap = o->bufsize ? o->bufsize : PCAPREAD_DEFAULT_BUF;
	if (r->cap < PCAPREAD_MIN_BUF)
		r->cap = PCAPREAD_MIN_BUF;
	r->maxcap = REC_HDR_LEN + (size_t)r->maxcaplen;
	if (r->maxcap < r->cap)
		r->maxcap = r->cap;
	r->buf = malloc(r->cap);
	if (!r->buf) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (lseek(r->fd, FILE_HDR_LEN, SEEK_SET) != (off_t)FILE_HDR_LEN) {
		snprintf(err, errlen, "cannot seek: %s", strerror(errno));
		goto fail;
	}
	(void)posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	if (!o->bufsize)
		ra_start(r);
	return r;
fail:
	pcapread_close(r);
	return NULL;
}

int pcapread_setfilter(pcapread_t *r, const char *filter, char *err, size_t errlen)
{
	struct bpf_program prog;
	if (!filter || !*filter)
		return 0;
	if (pcap_compile(r->hp, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
		snprintf(err, errlen, "%s", pcap_geterr(r->hp));
		return -1;
	}
	if (r->have_prog)
		pcap_freecode(&r->prog);
	r->prog = prog;
	r->have_prog = 1;
	return 0;
}

/*
 * Makes at least want bytes readable at buf + pos (moving the unread rest to the front, growing
 * the buffer up to maxcap), reading until then or the end of the file. Returns the bytes readable,
 * which is less than want only at the end of the file, or -1 on a read error (message in err).
 */
static ssize_t fill(struct pcapread *r, size_t want, char *err, size_t errlen)
{
	if (r->ra)
		return ra_fill(r, want, err, errlen);
	size_t have = r->end - r->pos;
	if (have >= want)
		return (ssize_t)have;
	if (want > r->cap) {
		size_t ncap = r->cap * 2 < r->maxcap ? r->cap * 2 : r->maxcap;
		if (ncap < want)
			ncap = want; /* the caller keeps want <= maxcap */
		uint8_t *nb = malloc(ncap);
		if (!nb) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		memcpy(nb, r->buf + r->pos, have);
		free(r->buf);
		r->buf = nb;
		r->cap = ncap;
	} else if (r->pos) {
		memmove(r->buf, r->buf + r->pos, have);
	}
	r->pos = 0;
	r->end = have;
	while (r->end < want) {
		ssize_t n = read(r->fd, r->buf + r->end, r->cap - r->end);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* libpcap's pcap_fmt_errmsg_for_errno(..., "error reading dump file") */
			snprintf(err, errlen, "error reading dump file: %s", strerror(errno));
			return -1;
		}
		if (n == 0)
			break;
		r->end += (size_t)n;
	}
	return (ssize_t)r->end;
}

/*
 * One record, as sf-pcap.c pcap_next_packet(). Returns 1 with *h and *data, 0 at the end of the
 * file, -1 with a message in err.
 */
static int read_record(struct pcapread *r, struct pcap_pkthdr *h, const uint8_t **data,
		       char *err, size_t errlen)
{
	/* read the record header */
	if (r->end - r->pos < REC_HDR_LEN) {
		ssize_t n = fill(r, REC_HDR_LEN, err, errlen);
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		if ((size_t)n < REC_HDR_LEN) {
			snprintf(err, errlen,
				 "truncated dump file; tried to read %zu header bytes, only got %zu",
				 (size_t)REC_HDR_LEN, (size_t)n);
			r->pos = r->end;
			return -1;
		}
	}
	const uint8_t *p = r->buf + r->pos;
	/*
	 * libpcap 1.10 keeps the time fields as bpf_int32, sign-extended into the timeval, but its
	 * SWAPLONG() yields an unsigned int: in a file of the other byte order they are zero-extended.
	 */
	uint32_t sec = get32(p, r->swapped);
	uint32_t frac = get32(p + 4, r->swapped);
	uint32_t caplen = get32(p + 8, r->swapped);
	uint32_t len = get32(p + 12, r->swapped);
	int64_t s64 = r->swapped ? (int64_t)sec : (int64_t)(int32_t)sec;
	int64_t f64 = r->swapped ? (int64_t)frac : (int64_t)(int32_t)frac;
	if (r->scale == SCALE_UP)
		f64 *= 1000;
	else if (r->scale == SCALE_DOWN)
		f64 /= 1000; /* truncating towards zero, as C does for libpcap */
	h->ts.tv_sec = (time_t)s64;
	h->ts.tv_usec = (suseconds_t)f64;
	/* swap the caplen and len fields, if necessary */
	if (r->lengths == LEN_SWAPPED || (r->lengths == LEN_MAYBE_SWAPPED && caplen > len)) {
		uint32_t t = caplen;
		caplen = len;
		len = t;
	}
	/* is the packet bigger than we consider sane? */
	if (caplen > r->maxcaplen) {
		if (caplen > r->snapshot)
			snprintf(err, errlen,
				 "invalid packet capture length %u, bigger than snaplen of %d",
				 caplen, (int)r->snapshot);
		else
			snprintf(err, errlen,
				 "invalid packet capture length %u, bigger than maximum of %u",
				 caplen, r->maxcaplen);
		return -1;
	}
	/* read the packet (all of it: above the snapshot length the rest is skipped) */
	size_t need = REC_HDR_LEN + (size_t)caplen;
	if (r->end - r->pos < need) {
		ssize_t n = fill(r, need, err, errlen);
		if (n < 0)
			return -1;
		if ((size_t)n < need) {
			size_t got = (size_t)n - REC_HDR_LEN;
			uint32_t tried = caplen > r->snapshot && got < r->snapshot ? r->snapshot
										   : caplen;
			snprintf(err, errlen,
				 "truncated dump file; tried to read %u captured bytes, only got %zu",
				 tried, got);
			r->pos = r->end;
			return -1;
		}
		p = r->buf + r->pos;
	}
	h->caplen = caplen > r->snapshot ? r->snapshot : caplen;
	h->len = len;
	*data = p + REC_HDR_LEN;
	r->pos += need;
	return 1;
}

static int passes(const struct pcapread *r, const struct pcap_pkthdr *h, const uint8_t *data)
{
	return !r->have_prog || pcap_offline_filter(&r->prog, h, data);
}

int pcapread_dispatch(pcapread_t *r, int max, pcapread_cb cb, void *user, char *err,
		      size_t errlen)
{
	int n = 0;
	if (max <= 0)
		max = INT32_MAX;
	for (;;) {
		struct pcap_pkthdr h;
		const uint8_t *data;
		if (r->brk) { /* as pcap_offline_read() */
			if (n == 0) {
				r->brk = 0;
				return PCAPREAD_BREAK;
			}
			return n;
		}
		int rc = read_record(r, &h, &data, err, errlen);
		if (rc < 0)
			return PCAPREAD_ERR;
		if (rc == 0)
			return n;
		if (passes(r, &h, data)) {
			cb(user, &h, data);
			if (++n >= max)
				return n;
		}
	}
}

int pcapread_next(pcapread_t *r, struct pcap_pkthdr *h, const uint8_t **data, char *err,
		  size_t errlen)
{
	for (;;) {
		int rc = read_record(r, h, data, err, errlen);
		if (rc <= 0)
			return rc < 0 ? PCAPREAD_ERR : 0;
		if (passes(r, h, *data))
			return 1;
	}
}

void pcapread_breakloop(pcapread_t *r)
{
	r->brk = 1;
}

int pcapread_datalink(const pcapread_t *r)
{
	return pcap_datalink(r->hp);
}

int pcapread_datalink_ext(const pcapread_t *r)
{
	return pcap_datalink_ext(r->hp);
}

int pcapread_snapshot(const pcapread_t *r)
{
	return (int)r->snapshot;
}

void pcapread_close(pcapread_t *r)
{
	if (!r)
		return;
	if (r->ra) {
		pthread_mutex_lock(&r->ra_mu);
		r->ra_stop = 1;
		pthread_cond_broadcast(&r->ra_cv);
		pthread_mutex_unlock(&r->ra_mu);
		pthread_join(r->ra_th, NULL);
		pthread_mutex_destroy(&r->ra_mu);
		pthread_cond_destroy(&r->ra_cv);
		free(r->ra_bufs[0]);
		free(r->ra_bufs[1]);
		r->buf = NULL;
	}
	if (r->have_prog)
		pcap_freecode(&r->prog);
	if (r->hp)
		pcap_close(r->hp);
	if (r->fd >= 0)
		close(r->fd);
	free(r->buf);
	free(r);
}
