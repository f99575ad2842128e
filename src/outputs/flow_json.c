/*
 * flow_json.c - flow record -> JSON line, and the flow log writer (see flow_json.h).
 *
 * DESIGN: the record has a fixed shape, so it is written by hand into the caller's buffer: no
 * JSON library, no allocation. The writer keeps one preallocated 1 MiB buffer. Normally it holds
 * at most FLOW_LOG_BATCH (256 KiB) of whole lines and is written out when that fills or when
 * flushed. When the disk refuses data the lines stay in the buffer (up to the full 1 MiB; later
 * lines are dropped and counted) and each flush tries again. A write that stopped inside a line
 * is cut back with ftruncate() to the last whole line, so the file only ever holds whole lines.
 * The writer assumes it is the only one appending to its file (it tracks the file size itself).
 */
#include "outputs/flow_json.h"
#include "outputs/flowsink.h"

#include "base/clock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "base/files.h"
#include "base/log.h"

#define FLOW_LOG_BATCH (256 * 1024)	   /* normal write size */
#define FLOW_LOG_PENDING_MAX (1024 * 1024) /* lines kept while writes fail */
#define FLOW_LOG_INTERVAL_NS 1000000000LL  /* flush(l, 0) writes at most this often */

/* --- formatting --- */

/* Output cursor over the caller's buffer; bad is set once anything did not fit. */
struct fj_out {
	char *p;
	size_t cap, len;
	int bad;
};

static void fj_put(struct fj_out *o, const char *s, size_t n)
{
	if (o->bad || n >= o->cap - o->len) { /* keep room for the NUL */
		o->bad = 1;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void fj_str(struct fj_out *o, const char *s)
{
	fj_put(o, s, strlen(s));
}

static void fj_u64(struct fj_out *o, uint64_t v)
{
	char tmp[20];
	size_t n = sizeof tmp;

	do {
		tmp[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	fj_put(o, tmp + n, sizeof tmp - n);
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0 if it is not valid. */
static size_t fj_utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len, i;
	unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the second byte */

	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0; /* no overlong forms */
	else if (c == 0xed)
		hi = 0x9f; /* no surrogates */
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f; /* not above U+10FFFF */
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

static int fj_plain(unsigned char c)
{
	return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/* A JSON string: quotes, backslashes and control characters escaped; bad UTF-8 -> U+FFFD. */
static void fj_quoted(struct fj_out *o, const char *str)
{
	static const char hex[] = "0123456789abcdef";
	static const char from[] = "\"\\\b\f\n\r\t", to[] = "\"\\bfnrt";
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strlen(str), i = 0, run;
	const char *short_esc;
	char esc[6] = {'\\', 'u', '0', '0', 0, 0};

	fj_put(o, "\"", 1);
	while (i < n) {
		for (run = 0; i + run < n && fj_plain(s[i + run]); run++)
			;
		if (run) {
			fj_put(o, str + i, run);
		} else if (s[i] >= 0x80) {
			run = fj_utf8_len(s + i, n - i);
			if (run)
				fj_put(o, str + i, run);
			else
				fj_str(o, "\\ufffd");
		} else if ((short_esc = memchr(from, s[i], sizeof from - 1)) != NULL) {
			esc[1] = to[short_esc - from];
			fj_put(o, esc, 2);
		} else {
			esc[1] = 'u';
			esc[4] = hex[s[i] >> 4];
			esc[5] = hex[s[i] & 15];
			fj_put(o, esc, 6);
		}
		i += run ? run : 1;
	}
	fj_put(o, "\"", 1);
}

static void fj_addr(struct fj_out *o, uint8_t ver, const uint8_t addr[16])
{
	char tmp[INET6_ADDRSTRLEN];

	if (!inet_ntop(ver == 4 ? AF_INET : AF_INET6, addr, tmp, sizeof tmp))
		tmp[0] = 0;
	fj_put(o, "\"", 1);
	fj_str(o, tmp);
	fj_put(o, "\"", 1);
}

static void fj_tcp_flags(struct fj_out *o, uint8_t proto, uint8_t flags)
{
	static const char letters[] = "FSRPAUEC"; /* bit 0 (FIN) .. bit 7 (CWR) */
	char tmp[10];
	size_t n = 0;
	int bit;

	if (proto != 6) {
		fj_put(o, "null", 4);
		return;
	}
	tmp[n++] = '"';
	for (bit = 0; bit < 8; bit++)
		if (flags & (1u << bit))
			tmp[n++] = letters[bit];
	tmp[n++] = '"';
	fj_put(o, tmp, n);
}

static void fj_time(struct fj_out *o, int64_t ns)
{
	char tmp[40];

	fj_put(o, "\"", 1);
	fj_str(o, flow_json_time(ns, tmp, sizeof tmp));
	fj_put(o, "\"", 1);
}

size_t flow_json_format(const struct flow_record *r, const char *pcap_file, char *buf, size_t len)
{
	struct fj_out o = {buf, len, 0, 0};

	if (!len)
		return 0;
	fj_str(&o, "{\"ts_start\":");
	fj_time(&o, r->ts_start_ns);
	fj_str(&o, ",\"ts_end\":");
	fj_time(&o, r->ts_end_ns);
	fj_str(&o, ",\"src_ip\":");
	fj_addr(&o, r->ip_version, r->src);
	fj_str(&o, ",\"dst_ip\":");
	fj_addr(&o, r->ip_version, r->dst);
	fj_str(&o, ",\"src_port\":");
	fj_u64(&o, r->src_port);
	fj_str(&o, ",\"dst_port\":");
	fj_u64(&o, r->dst_port);
	fj_str(&o, ",\"proto\":");
	fj_u64(&o, r->proto);
	fj_str(&o, ",\"ip_version\":");
	fj_u64(&o, r->ip_version);
	fj_str(&o, ",\"vlan\":");
	if (r->vlan)
		fj_u64(&o, r->vlan);
	else
		fj_str(&o, "null");
	fj_str(&o, ",\"pkts_orig\":");
	fj_u64(&o, r->pkts_orig);
	fj_str(&o, ",\"bytes_orig\":");
	fj_u64(&o, r->bytes_orig);
	fj_str(&o, ",\"pkts_resp\":");
	fj_u64(&o, r->pkts_resp);
	fj_str(&o, ",\"bytes_resp\":");
	fj_u64(&o, r->bytes_resp);
	fj_str(&o, ",\"tcp_flags_orig\":");
	fj_tcp_flags(&o, r->proto, r->tcp_flags_orig);
	fj_str(&o, ",\"tcp_flags_resp\":");
	fj_tcp_flags(&o, r->proto, r->tcp_flags_resp);
	fj_str(&o, ",\"end_reason\":\"");
	fj_str(&o, flow_end_reason_str(r->end_reason));
	fj_str(&o, "\",\"pcap_file\":");
	if (pcap_file)
		fj_quoted(&o, pcap_file);
	else
		fj_str(&o, "null");
	fj_str(&o, "}\n");
	if (o.bad) {
		buf[0] = 0;
		return 0;
	}
	buf[o.len] = 0;
	return o.len;
}



const char *flow_json_time(int64_t ts_ns, char *buf, size_t len)
{
	return clock_format_rfc3339(ts_ns, buf, len);
}

/* --- the flow log --- */

struct flow_log {
	int fd;
	char *path;
	char *buf; /* FLOW_LOG_PENDING_MAX bytes of whole lines (see fl_write) */
	size_t used;
	uint64_t lines;		 /* line ends in buf */
	off_t size;		 /* file size, as far as this writer knows */
	struct timespec last;	 /* CLOCK_MONOTONIC of the last write attempt */
	int failing;		 /* inside an error episode */
	uint64_t dropped_before; /* lines_dropped when the episode began */
	struct flow_log_stats st;
};

static uint64_t flog_count_lines(const char *p, size_t n)
{
	const char *end = p + n;
	uint64_t c = 0;

	while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		c++;
		p++;
	}
	return c;
}

/* Drops the first n bytes of the buffer: they are in the file now. */
static void flog_consume(flow_log_t *l, size_t n)
{
	uint64_t c = flog_count_lines(l->buf, n);

	l->lines -= c;
	l->st.lines_written += c;
	l->size += (off_t)n;
	memmove(l->buf, l->buf + n, l->used - n);
	l->used -= n;
}

/*
 * Writes the whole buffer. On an error, keeps the whole lines that made it, cuts a partial line
 * off the file again and keeps everything else for the next try. Returns 0 or -1.
 */
static int flog_write(flow_log_t *l)
{
	size_t off = 0, whole;
	ssize_t n;
	int err = 0;
	const char *nl;

	clock_gettime(CLOCK_MONOTONIC, &l->last);
	while (off < l->used) {
		n = write(l->fd, l->buf + off, l->used - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? errno : ENOSPC;
			break;
		}
		off += (size_t)n;
	}
	if (!err) {
		flog_consume(l, off);
		if (l->failing) {
			log_info("flow log %s: writing again (%llu lines dropped meanwhile)",
				 l->path,
				 (unsigned long long)(l->st.lines_dropped - l->dropped_before));
			l->failing = 0;
		}
		return 0;
	}
	if (off > 0) {
		nl = memrchr(l->buf, '\n', off);
		whole = nl ? (size_t)(nl - l->buf) + 1 : 0;
		/* if the cut fails, the next write simply continues the line */
		if (whole == off || ftruncate(l->fd, l->size + (off_t)whole) == 0)
			off = whole;
		flog_consume(l, off);
	}
	l->st.write_errors++;
	if (!l->failing) {
		log_warn("flow log %s: %s; keeping up to %d KiB of flow lines until it can be "
			 "written",
			 l->path, strerror(err), FLOW_LOG_PENDING_MAX / 1024);
		l->failing = 1;
		l->dropped_before = l->st.lines_dropped;
	}
	return -1;
}

flow_log_t *flow_log_open(const char *path, char *err, size_t errlen)
{
	flow_log_t *l = NULL;
	struct stat st;
	int e;

	l = calloc(1, sizeof *l);
	if (!l)
		goto nomem;
	l->fd = -1;
	l->path = strdup(path);
	l->buf = malloc(FLOW_LOG_PENDING_MAX);
	if (!l->path || !l->buf)
		goto nomem;
	l->fd = files_create_at(AT_FDCWD, path, O_WRONLY | O_APPEND);
	if (l->fd < 0 || fstat(l->fd, &st) != 0) {
		e = errno;
		if (err && errlen)
			snprintf(err, errlen, "cannot open flow log `%s': %s", path, strerror(e));
		goto fail;
	}
	l->size = st.st_size;
	return l;

nomem:
	if (err && errlen)
		snprintf(err, errlen, "cannot open flow log `%s': out of memory", path);
fail:
	if (l && l->fd >= 0)
		close(l->fd);
	if (l) {
		free(l->path);
		free(l->buf);
		free(l);
	}
	return NULL;
}

void flow_log_append(flow_log_t *l, const char *line, size_t len)
{
	if (!len)
		return;
	if (!l->failing && l->used && l->used + len > FLOW_LOG_BATCH)
		flog_write(l);
	if (len > FLOW_LOG_PENDING_MAX - l->used) {
		l->st.lines_dropped++;
		return;
	}
	memcpy(l->buf + l->used, line, len);
	l->used += len;
	l->lines++;
}

void flow_log_flush(flow_log_t *l, int force)
{
	struct timespec now;
	int64_t since;

	if (!l || !l->used)
		return;
	if (!force) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		since = (int64_t)(now.tv_sec - l->last.tv_sec) * 1000000000LL +
			(now.tv_nsec - l->last.tv_nsec);
		if (since < FLOW_LOG_INTERVAL_NS)
			return;
	}
	flog_write(l);
}

void flow_log_stats(const flow_log_t *l, struct flow_log_stats *st)
{
	*st = l->st;
}

int flow_log_close(flow_log_t *l)
{
	int ret = 0;

	if (!l)
		return 0;
	flow_log_flush(l, 1);
	if (l->used) {
		log_warn("flow log %s: %llu flow lines could not be written", l->path,
			 (unsigned long long)l->lines);
		ret = -1;
	}
	/* EINVAL, EROFS: the file does not support syncing (a device); nothing is lost */
	if (fsync(l->fd) != 0 && errno != EINVAL && errno != EROFS) {
		log_warn("flow log %s: fsync: %s", l->path, strerror(errno));
		ret = -1;
	}
	if (close(l->fd) != 0) {
		log_warn("flow log %s: close: %s", l->path, strerror(errno));
		ret = -1;
	}
	free(l->path);
	free(l->buf);
	free(l);
	return ret;
}

/* ---- the flow log as a consumer of flow records (outputs/flowsink.h) ---- */

struct fj_sink {
	flow_log_t *log;
	uint64_t records;
};

static int fj_sink_open(const struct flow_sink_config *c, void **h, char *err, size_t errlen)
{
	char path[4096];
	struct fj_sink *k = calloc(1, sizeof *k);
	*h = NULL;
	if (!k) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(path, sizeof path, "%s/traffic_flows.jsonb", c->outdir);
	k->log = flow_log_open(path, err, errlen);
	if (!k->log) {
		free(k);
		return -1;
	}
	*h = k;
	return 0;
}

static void fj_sink_record(void *h, const struct flow_record *r, const char *pcap_file)
{
	struct fj_sink *k = h;
	char line[1024];
	size_t n = flow_json_format(r, pcap_file, line, sizeof line);
	k->records++;
	if (n)
		flow_log_append(k->log, line, n);
}

static void fj_sink_flush(void *h, int force)
{
	struct fj_sink *k = h;
	flow_log_flush(k->log, force);
}

static int fj_sink_close(void *h, struct flow_sink_result *res)
{
	struct fj_sink *k = h;
	struct flow_log_stats ls;
	int ret;
	if (!k)
		return 0;
	flow_log_flush(k->log, 1);
	flow_log_stats(k->log, &ls);
	if (res) {
		res->records = k->records;
		res->delivered = ls.lines_written;
	}
	ret = flow_log_close(k->log);
	free(k);
	return ret;
}

const struct flow_sink_ops flow_json_sink = {
	.name = "flow log",
	.open = fj_sink_open,
	.record = fj_sink_record,
	.flush = fj_sink_flush,
	.close = fj_sink_close,
};
