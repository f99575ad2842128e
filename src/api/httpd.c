/*
 * httpd.c - the HTTP API (see httpd.h): routing (api_*), independent of libmicrohttpd, then the
 * libmicrohttpd glue (httpd_*).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/config.h"
#include "base/files.h"
#include "api/ctl.h"
#include "api/guard.h"
#include "outputs/flow_json.h"
#include "api/httpd.h"
#include "recorder/incident.h"
#include "vault/keys.h"
#include "base/libload.h"
#include "base/log.h"
#include "vault/tokens.h"
#include "vault/urlsign.h"
#include "api/webui.h"

#define PATH_SEGS_MAX 8
#define LIST_LIMIT_MAX 200
#define LIST_LIMIT_DEFAULT 50
#define RATES_MAX 86400
#define CHUNK VAULT_SEG_LEN
#define CTL_REPLY_MAX 8192
#define CLIENT_MAX 64
#define DISCARD_MAX (1024 * 1024)
#define MEMORY_LIMIT                                                                               \
	(64 * 1024) /* per connection: bounds the request header, and the send buffer */
#define CONN_MAX 256	    /* connections in all */
#define CONN_PER_ADDR 8	    /* connections per client address */
#define IDLE_TIMEOUT_S 30   /* libmicrohttpd's: no byte moved for this long */
#define HEAD_DEADLINE_MS 10000 /* from accept (or the end of the last response) to a whole request */

/*
 * The deadline for a whole request (slow clients, "slowloris"): libmicrohttpd only has an idle
 * timeout, which a byte every few seconds defeats. Each connection gets a slot (notify-connection
 * callback) with the time it started waiting for a request; a watchdog thread shuts down the
 * socket of any connection still waiting after HEAD_DEADLINE_MS, and libmicrohttpd closes it.
 * A response being sent (a long download) is not waiting, so it is never cut.
 */
struct slot {
	int fd; /* -1: free */
	int waiting;
	int64_t since_ms;
};

struct watch {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	int running, stop;
	struct slot slot[CONN_MAX + 8];
	uint64_t cut; /* connections shut down at the deadline */
};

struct httpd {
	struct MHD_Daemon *mhd;
	int listen_fd;
	store_t *store;
	tokens_t *tokens;
	char dir[PATH_MAX];
	char ctl_path[PATH_MAX + 32];
	char info_path[PATH_MAX + 32];
	char listen[128];     /* the bound address, "127.0.0.1:8080" */
	char public_url[512]; /* base of signed URLs, without a trailing '/' */
	int64_t ttl_s;
	int info_written;
	unsigned port;		  /* the bound port, for the Host check */
	char public_host[256];	  /* the authority of public_url, lowercase: "rc.example:8443" */
	guard_t *guard;		  /* failed-authentication throttle, denial aggregation */
	struct watch *watch;	  /* the request deadline (server only) */
};

/* Wall clock in milliseconds (not STORE_NOW: throttling runs on real time). */
static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- responses ------------------------------------------------------------------------------ */

static void add_header(struct api_response *rs, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add_header(struct api_response *rs, const char *name, const char *fmt, ...)
{
	va_list ap;
	if (rs->nheaders >= API_HEADERS_MAX)
		return;
	rs->headers[rs->nheaders].name = name;
	va_start(ap, fmt);
	vsnprintf(rs->headers[rs->nheaders].value, sizeof rs->headers[0].value, fmt, ap);
	va_end(ap);
	rs->nheaders++;
}

/* A JSON response (o stolen). */
static void reply_json(struct api_response *rs, int status, json_t *o)
{
	char *t = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!t) {
		static const char oom[] = "{\"error\":\"out of memory\",\"status\":500}";
		status = 500;
		t = strdup(oom);
	}
	rs->status = status;
	rs->content_type = "application/json";
	rs->body = t;
	rs->body_len = t ? strlen(t) : 0;
	add_header(rs, "Cache-Control", "no-store");
}

/* Keeps text JSON-safe: printable ASCII, at most 200 characters. */
static void ascii_safe(char *out, size_t outlen, const char *in, size_t inlen)
{
	size_t o = 0;
	for (size_t i = 0; i < inlen && o + 1 < outlen && o < 200; i++) {
		unsigned char c = (unsigned char)in[i];
		out[o++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	out[o] = '\0';
}

static void reply_error(struct api_response *rs, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void reply_error(struct api_response *rs, int status, const char *fmt, ...)
{
	char msg[1024], safe[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	ascii_safe(safe, sizeof safe, msg, strlen(msg));
	reply_json(rs, status, json_pack("{s:s,s:i}", "error", safe, "status", status));
}

/* ---- the request being handled -------------------------------------------------------------- */

struct call {
	httpd_t *h;
	const struct api_request *rq;
	struct api_response *rs;
	char path[API_TARGET_MAX + 1]; /* percent-decoded path */
	char rawpath[256];	       /* raw path without the query, for the audit trail */
	const char *query;	       /* raw query string (not NUL-terminated) or NULL */
	size_t query_len;
	char *seg[PATH_SEGS_MAX];
	int nseg;
	char segbuf[API_TARGET_MAX + 1];
	long id;			/* the incident id of the path, if any */
	char actor[TOKEN_NAME_MAX + 1]; /* the token's name, once authenticated */
	int role;			/* and its role (enum token_role) */
	char client[CLIENT_MAX];
};

/* Writes a record to the audit trail (fields stolen). Returns 0 or -1 (logged). */
static int audit(httpd_t *h, const char *event, json_t *fields)
{
	char err[512];
	if (!fields)
		return -1;
	if (audit_append(store_audit(h->store), event, fields, err, sizeof err) < 0) {
		log_err("cannot write the %s audit record: %s", event, err);
		return -1;
	}
	return 0;
}

/* 401/403/410: an error response and a request_denied audit record. */
static void deny(struct call *c, int status, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void deny(struct call *c, int status, const char *reason, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	char method[24];
	ascii_safe(method, sizeof method, c->rq->method, strnlen(c->rq->method, 16));
	/* the first denial of an address in an interval in full, the others counted (guard.h) */
	if (!c->h->guard || guard_denial(c->h->guard, c->client, status, now_ms()))
		audit(c->h, "request_denied",
		      json_pack("{s:o,s:s,s:s,s:s,s:i,s:s}", "actor",
				c->actor[0] ? json_string(c->actor) : json_null(), "client",
				c->client, "method", method, "path", c->rawpath, "status", status,
				"reason", reason));
	reply_error(c->rs, status, "%s", msg);
	if (status == 401)
		add_header(c->rs, "WWW-Authenticate", "Bearer realm=\"ringcap\"");
}

/* guard.h's report of the denials of one address beyond the first: one requests_denied record. */
static void report_denials(void *arg, const struct guard_report *r)
{
	httpd_t *h = arg;
	char first[48], last[48];
	flow_json_time(r->first_ms * 1000000, first, sizeof first);
	flow_json_time(r->last_ms * 1000000, last, sizeof last);
	audit(h, "requests_denied",
	      json_pack("{s:s,s:I,s:{s:I,s:I,s:I,s:I},s:s,s:s}", "client", r->client, "count",
			(json_int_t)r->count, "status", "401", (json_int_t)r->by_status[0], "403",
			(json_int_t)r->by_status[1], "410", (json_int_t)r->by_status[2], "429",
			(json_int_t)r->by_status[3], "first", first, "last", last));
}

void api_tick(httpd_t *h)
{
	if (h && h->guard)
		guard_flush(h->guard, now_ms(), 0);
}

/* 429 for a client that failed authentication too often (guard.h). Returns 1 when it did. */
static int throttled(struct call *c)
{
	int wait = c->h->guard ? guard_blocked(c->h->guard, c->client, now_ms()) : 0;
	if (!wait)
		return 0;
	deny(c, 429, "throttled",
	     "too many failed authentications from %s: try again in %d s", c->client, wait);
	add_header(c->rs, "Retry-After", "%d", wait);
	return 1;
}

static void auth_failed(struct call *c)
{
	if (c->h->guard)
		guard_failure(c->h->guard, c->client, now_ms());
}

/* ---- parsing -------------------------------------------------------------------------------- */

static int hexdig(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Splits the target into the decoded path and the raw query, and the path into segments.
 * Returns 0, or an HTTP status (400) with the reason in why.
 */
static int parse_target(struct call *c, const char **why)
{
	const char *t = c->rq->target;
	size_t len = c->rq->target_len, plen;
	if (!t || len == 0 || t[0] != '/') {
		*why = "the request target must be an absolute path";
		return 400;
	}
	if (len > API_TARGET_MAX) {
		*why = "the request target is too long";
		return 400;
	}
	const char *q = memchr(t, '?', len);
	plen = q ? (size_t)(q - t) : len;
	if (q) {
		c->query = q + 1;
		c->query_len = len - plen - 1;
		if (memchr(c->query, '\0', c->query_len) || memchr(c->query, '#', c->query_len)) {
			*why = "a NUL byte or `#' in the query string";
			return 400;
		}
	}
	ascii_safe(c->rawpath, sizeof c->rawpath, t, plen);
	size_t o = 0;
	for (size_t i = 0; i < plen; i++) {
		unsigned char ch = (unsigned char)t[i];
		if (ch == '%') {
			int hi = i + 2 < plen ? hexdig(t[i + 1]) : -1;
			int lo = i + 2 < plen ? hexdig(t[i + 2]) : -1;
			if (hi < 0 || lo < 0) {
				*why = "a malformed percent-encoding in the path";
				return 400;
			}
			ch = (unsigned char)(hi << 4 | lo);
			i += 2;
			if (ch == '/' || ch == '\\') {
				*why = "an encoded slash in the path";
				return 400;
			}
			if (ch == 0) {
				*why = "an encoded NUL in the path";
				return 400;
			}
		}
		if (ch < 0x20 || ch >= 0x7f || ch == '\\' || ch == '#') {
			*why = "a control, non-ASCII or backslash character in the path";
			return 400;
		}
		c->path[o++] = (char)ch;
	}
	c->path[o] = '\0';
	/* segments: no "." or "..", at most PATH_SEGS_MAX */
	memcpy(c->segbuf, c->path + 1, o);
	c->segbuf[o ? o - 1 : 0] = '\0';
	c->nseg = 0;
	char *p = c->segbuf;
	for (;;) {
		char *slash = strchr(p, '/');
		if (slash)
			*slash = '\0';
		if (strcmp(p, ".") == 0 || strcmp(p, "..") == 0) {
			*why = "`.' or `..' in the path";
			return 400;
		}
		if (c->nseg < PATH_SEGS_MAX)
			c->seg[c->nseg] = p;
		c->nseg++;
		if (!slash)
			break;
		p = slash + 1;
	}
	return 0;
}

/* An incident id segment: 1..10^9, decimal, no sign, no leading zero. Returns it or -1. */
/*
 * A whole-number query parameter name in [min, max]; the other parameters are ignored.
 * Returns 1 and *out when present, 0 when absent, -1 when malformed or repeated (why).
 */
static int query_long(const struct call *c, const char *name, long min, long max, long *out,
		      const char **why)
{
	size_t nl = strlen(name), pos = 0;
	int found = 0;
	if (!c->query)
		return 0;
	while (pos <= c->query_len) {
		const char *kv = c->query + pos;
		const char *amp = memchr(kv, '&', c->query_len - pos);
		size_t kl = amp ? (size_t)(amp - kv) : c->query_len - pos;
		pos += kl + 1;
		if (kl > nl && memcmp(kv, name, nl) == 0 && kv[nl] == '=') {
			const char *v = kv + nl + 1;
			size_t vl = kl - nl - 1;
			long x = 0;
			if (found) {
				*why = "a query parameter is given twice";
				return -1;
			}
			if (vl == 0 || vl > 10) {
				*why = "a query parameter is empty or too long";
				return -1;
			}
			for (size_t i = 0; i < vl; i++) {
				if (v[i] < '0' || v[i] > '9') {
					*why = "a query parameter is not a whole number";
					return -1;
				}
				x = x * 10 + (v[i] - '0');
			}
			if (x < min || x > max) {
				*why = "a query parameter is out of range";
				return -1;
			}
			*out = x;
			found = 1;
		} else if (kl == nl && memcmp(kv, name, nl) == 0) {
			*why = "a query parameter without a value";
			return -1;
		}
		if (!amp)
			break;
	}
	return found;
}

/*
 * The request body as a JSON object (NULL body: empty object). Returns a new reference, or NULL
 * with a 400 response made.
 */
static json_t *body_object(struct call *c)
{
	json_error_t jerr;
	size_t n = c->rq->body_len;
	const char *b = c->rq->body;
	while (n && (*b == ' ' || *b == '\t' || *b == '\r' || *b == '\n')) {
		b++;
		n--;
	}
	if (n == 0)
		return json_object();
	json_t *o = json_loadb(b, n, JSON_REJECT_DUPLICATES, &jerr);
	if (!o) {
		reply_error(c->rs, 400, "invalid JSON body: %s (line %d, column %d)", jerr.text,
			    jerr.line, jerr.column);
		return NULL;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		reply_error(c->rs, 400, "the JSON body must be an object");
		return NULL;
	}
	return o;
}

/* An optional whole-number member of a body in [min, max]. 0 ok (default kept), -1 (400 made). */
static int body_int(struct call *c, json_t *o, const char *name, long min, long max, long *v)
{
	json_t *x = json_object_get(o, name);
	if (!x || json_is_null(x))
		return 0;
	if (!json_is_integer(x) || json_integer_value(x) < min || json_integer_value(x) > max) {
		reply_error(c->rs, 400, "`%s' must be a whole number from %ld to %ld", name, min,
			    max);
		return -1;
	}
	*v = (long)json_integer_value(x);
	return 0;
}

/* Refuses members other than the names given (NULL-terminated). 0 ok, -1 (400 made). */
static int body_only(struct call *c, json_t *o, const char *const *names)
{
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v)
	{
		int ok = 0;
		for (const char *const *n = names; *n; n++)
			if (strcmp(k, *n) == 0)
				ok = 1;
		if (!ok) {
			char safe[64];
			ascii_safe(safe, sizeof safe, k, strlen(k));
			reply_error(c->rs, 400, "unknown member `%s' in the JSON body", safe);
			return -1;
		}
	}
	return 0;
}

/*
 * One Range header against size: 0 with [*off, *off + *len) when it is one satisfiable range;
 * 1 when there is no usable Range (absent, another unit, several ranges, bad syntax: the whole
 * file is sent, as RFC 9110 allows); 416 when it cannot be satisfied.
 */
static int parse_range(const char *v, uint64_t size, uint64_t *off, uint64_t *len)
{
	uint64_t a = 0, b = 0;
	int has_a = 0, has_b = 0;
	if (!v)
		return 1;
	while (*v == ' ')
		v++;
	if (strncasecmp(v, "bytes=", 6) != 0)
		return 1;
	v += 6;
	while (*v == ' ')
		v++;
	for (; *v >= '0' && *v <= '9'; v++, has_a++) {
		if (has_a >= 19)
			return 1;
		a = a * 10 + (uint64_t)(*v - '0');
	}
	if (*v != '-')
		return 1;
	v++;
	for (; *v >= '0' && *v <= '9'; v++, has_b++) {
		if (has_b >= 19)
			return 1;
		b = b * 10 + (uint64_t)(*v - '0');
	}
	while (*v == ' ')
		v++;
	if (*v == ',')
		return 1; /* several ranges: served whole */
	if (*v || (!has_a && !has_b))
		return 1;
	if (!has_a) { /* bytes=-n: the last n bytes */
		if (b == 0 || size == 0)
			return 416;
		*len = b < size ? b : size;
		*off = size - *len;
		return 0;
	}
	if (has_b && b < a)
		return 1; /* invalid: ignored */
	if (a >= size)
		return 416;
	uint64_t last = has_b && b < size - 1 ? b : size - 1;
	*off = a;
	*len = last - a + 1;
	return 0;
}

/* ---- incidents ------------------------------------------------------------------------------ */

static json_t *time_or_null(int64_t ns)
{
	char buf[48];
	return ns ? json_string(flow_json_time(ns, buf, sizeof buf)) : json_null();
}

/* The metadata text of an incident as JSON, or NULL. */
static json_t *load_meta(httpd_t *h, long id)
{
	char err[512], *text = NULL;
	json_error_t jerr;
	if (db_get_meta(store_db(h->store), id, &text, err, sizeof err) != 0)
		return NULL;
	json_t *o = text ? json_loads(text, 0, &jerr) : NULL;
	free(text);
	return o;
}

static json_t *member_or_null(json_t *meta, const char *k)
{
	json_t *v = json_object_get(meta, k);
	return v ? json_incref(v) : json_null();
}

static json_t *summary(httpd_t *h, const struct db_incident *inc)
{
	json_t *meta = load_meta(h, inc->id);
	json_t *o = json_object();
	json_object_set_new(o, "id", json_integer(inc->id));
	json_object_set_new(o, "state", json_string(inc->state));
	json_object_set_new(o, "trigger", json_string(inc->trigger));
	json_object_set_new(o, "classification", json_string(inc->classification));
	json_object_set_new(o, "started_at", time_or_null(inc->started_ns));
	json_object_set_new(o, "resolved_at", time_or_null(inc->resolved_ns));
	json_object_set_new(o, "duration_s", member_or_null(meta, "duration_s"));
	json_object_set_new(o, "pcap_packets", json_integer((json_int_t)inc->pcap_packets));
	json_object_set_new(o, "max_packets", member_or_null(meta, "max_packets"));
	json_object_set_new(o, "cap_reached", json_boolean(inc->cap_reached));
	json_object_set_new(o, "pcap_bytes", member_or_null(meta, "pcap_bytes"));
	json_t *st = store_storage_json(h->store, inc);
	json_object_set_new(o, "storage", st ? st : json_null());
	json_decref(meta);
	return o;
}

static void get_incidents(struct call *c)
{
	long limit = LIST_LIMIT_DEFAULT, before = 0, total = 0;
	const char *why = NULL;
	char err[1024];
	if (query_long(c, "limit", 1, LIST_LIMIT_MAX, &limit, &why) < 0 ||
	    query_long(c, "before", 1, URLSIGN_ID_MAX + 1L, &before, &why) < 0) {
		reply_error(c->rs, 400, "%s (limit 1..%d, before an incident id)", why,
			    LIST_LIMIT_MAX);
		return;
	}
	struct db_incident *v = calloc((size_t)limit, sizeof *v);
	if (!v) {
		reply_error(c->rs, 500, "out of memory");
		return;
	}
	int n = db_list_incidents(store_db(c->h->store), before, (int)limit, v, &total, err,
				  sizeof err);
	if (n < 0) {
		log_err("%s", err);
		free(v);
		reply_error(c->rs, 500, "the index cannot be read (see the server's log)");
		return;
	}
	json_t *arr = json_array();
	for (int i = 0; i < n; i++)
		json_array_append_new(arr, summary(c->h, &v[i]));
	json_t *next = n == limit && v[n - 1].id > 1 ? json_integer(v[n - 1].id) : json_null();
	free(v);
	reply_json(c->rs, 200,
		   json_pack("{s:o,s:I,s:o}", "incidents", arr, "total", (json_int_t)total,
			     "next_before", next));
}

/* Reads an incident row: 0, or a response made (404/500). */
static int get_row(struct call *c, struct db_incident *inc)
{
	char err[1024];
	int r = db_get_incident(store_db(c->h->store), c->id, inc, err, sizeof err);
	if (r == DB_ENOTFOUND) {
		reply_error(c->rs, 404, "no incident %ld", c->id);
		return -1;
	}
	if (r != 0) {
		log_err("%s", err);
		reply_error(c->rs, 500, "the index cannot be read (see the server's log)");
		return -1;
	}
	return 0;
}

/* DIR/incidents/ID.rates.jsonl as [{"t","pps","bps"}...], at most RATES_MAX. */
static json_t *load_rates(httpd_t *h, long id)
{
	char path[PATH_MAX + 64], line[512];
	json_t *arr = json_array();
	snprintf(path, sizeof path, "%s/%s/%ld.rates.jsonl", h->dir, incidents_subdir(), id);
	FILE *f = fopen(path, "re");
	if (!f)
		return arr;
	while (json_array_size(arr) < RATES_MAX && fgets(line, sizeof line, f)) {
		json_error_t jerr;
		json_t *o = json_loads(line, 0, &jerr);
		if (json_is_object(o))
			json_array_append_new(arr, json_pack("{s:O?,s:O?,s:O?}", "t",
							     json_object_get(o, "t"), "pps",
							     json_object_get(o, "pps"), "bps",
							     json_object_get(o, "bps")));
		json_decref(o);
	}
	fclose(f);
	return arr;
}

static void get_incident(struct call *c)
{
	struct db_incident inc;
	if (get_row(c, &inc) != 0)
		return;
	json_t *meta = load_meta(c->h, c->id);
	json_t *st = store_storage_json(c->h->store, &inc);
	reply_json(c->rs, 200,
		   json_pack("{s:o,s:o,s:o}", "incident", meta ? meta : json_object(), "storage",
			     st ? st : json_null(), "rates", load_rates(c->h, c->id)));
}

static void post_download_url(struct call *c)
{
	static const char *const allowed[] = {"ttl_seconds", NULL};
	struct db_incident inc;
	long ttl = (long)c->h->ttl_s;
	char err[512], kid[VAULT_KEY_ID_MAX + 1], query[URLSIGN_QUERY_MAX], path[128];
	uint8_t key[VAULT_KEY_LEN];
	struct urlsign_params p;

	json_t *body = body_object(c);
	if (!body)
		return;
	int bad = body_only(c, body, allowed) != 0 ||
		  body_int(c, body, "ttl_seconds", 1, (long)c->h->ttl_s, &ttl) != 0;
	json_decref(body);
	if (bad || get_row(c, &inc) != 0)
		return;
	if (inc.expired) {
		deny(c, 410, "capture expired",
		     "the capture of incident %ld was deleted by retention", c->id);
		return;
	}
	if (!inc.has_file) {
		reply_error(c->rs, 409, "incident %ld has no sealed capture (yet)", c->id);
		return;
	}
	int64_t now = store_now_ns() / NS_PER_S, exp = now + ttl;
	if (store_url_key(c->h->store, NULL, key, kid) != 0) {
		reply_error(c->rs, 500, "no URL signing key (see the server's log)");
		log_err("no URL signing key in the key file of `%s'", c->h->dir);
		return;
	}
	int rc = urlsign_sign(key, kid, c->id, exp, &p, err, sizeof err);
	OPENSSL_cleanse(key, sizeof key);
	if (rc != 0 || urlsign_query(&p, query, sizeof query) != 0) {
		log_err("cannot sign a URL: %s", err);
		reply_error(c->rs, 500, "cannot sign a URL (see the server's log)");
		return;
	}
	char when[48];
	flow_json_time(exp * NS_PER_S, when, sizeof when);
	if (audit(c->h, "url_issued",
		  json_pack("{s:s,s:s,s:I,s:s,s:s}", "actor", c->actor, "client", c->client,
			    "incident", (json_int_t)c->id, "url_id", p.uid, "expires", when)) !=
	    0) {
		reply_error(c->rs, 500, "the audit trail cannot be written: no URL issued");
		return;
	}
	snprintf(path, sizeof path, "/api/v1/incidents/%ld/pcap", c->id);
	const char *ext = strcmp(inc.file.format, "pcapng") == 0 ? "pcapng" : "pcap";
	char *url = NULL, *full = NULL, *wget = NULL;
	if (asprintf(&full, "%s?%s", path, query) < 0 ||
	    asprintf(&url, "%s%s", c->h->public_url, full) < 0 ||
	    asprintf(&wget, "wget -O incident-%ld.%s \"%s\"", c->id, ext, url) < 0) {
		free(full);
		free(url);
		reply_error(c->rs, 500, "out of memory");
		return;
	}
	char fname[48];
	snprintf(fname, sizeof fname, "incident-%ld.%s", c->id, ext);
	reply_json(c->rs, 201,
		   json_pack("{s:s,s:s,s:s,s:s,s:I,s:s,s:s}", "url", url, "path", full, "url_id",
			     p.uid, "expires_at", when, "expires_in", (json_int_t)ttl, "filename",
			     fname, "wget", wget));
	log_info("signed URL %s issued for incident %ld to %s (%s), expires %s", p.uid, c->id,
		 c->actor, c->client, when);
	free(full);
	free(url);
	free(wget);
}

/* ---- downloads ------------------------------------------------------------------------------ */

struct api_download {
	httpd_t *h;
	vault_reader_t *r;
	long id;
	char uid[URLSIGN_UID_HEX + 1];
	char client[CLIENT_MAX];
	uint64_t off, len; /* the range sent, in plaintext bytes */
	uint64_t sent;	   /* bytes handed out so far */
	EVP_MD_CTX *sha;
	uint8_t *buf; /* verified plaintext [buf_off, buf_off + buf_len) */
	uint64_t buf_off;
	size_t buf_len;
	int failed;
	char error[600];
};

static int sink_copy(void *arg, const uint8_t *data, size_t len)
{
	struct api_download *d = arg;
	if (d->buf_len + len > CHUNK)
		return -1;
	memcpy(d->buf + d->buf_len, data, len);
	d->buf_len += len;
	return 0;
}

long api_download_read(struct api_download *d, uint64_t pos, char *buf, size_t max)
{
	char err[512];
	if (d->failed || pos != d->sent)
		return -1;
	if (pos >= d->len || max == 0)
		return 0;
	uint64_t abs = d->off + pos, end = d->off + d->len;
	if (abs < d->buf_off || abs >= d->buf_off + d->buf_len) {
		/* one segment at a time, so that each is decrypted once */
		uint64_t stop = (abs / CHUNK + 1) * CHUNK;
		if (stop > end)
			stop = end;
		d->buf_off = abs;
		d->buf_len = 0;
		int rc = vault_read_range(d->r, abs, stop - abs, sink_copy, d, err, sizeof err);
		if (rc != 0 || d->buf_len != stop - abs) {
			d->buf_len = 0;
			d->failed = 1;
			snprintf(d->error, sizeof d->error, "%s",
				 rc != 0 ? err : "short read from the vault");
			log_err("download of incident %ld (URL %s) stopped after %" PRIu64
				" bytes: %s",
				d->id, d->uid, d->sent, d->error);
			return -1;
		}
	}
	size_t n = (size_t)(d->buf_off + d->buf_len - abs);
	if (n > max)
		n = max;
	memcpy(buf, d->buf + (abs - d->buf_off), n);
	EVP_DigestUpdate(d->sha, buf, n);
	d->sent += n;
	return (long)n;
}

void api_download_end(struct api_download *d)
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	if (!d)
		return;
	EVP_DigestFinal_ex(d->sha, md, &mdlen);
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	hex[2 * mdlen] = '\0';
	int complete = !d->failed && d->sent == d->len;
	json_t *f = json_pack("{s:s,s:I,s:s,s:I,s:s,s:b}", "client", d->client, "incident",
			      (json_int_t)d->id, "url_id", d->uid, "bytes", (json_int_t)d->sent,
			      "sha256", hex, "complete", complete);
	if (f && d->failed)
		json_object_set_new(f, "error", json_string(d->error));
	audit(d->h, "download_completed", f);
	log_info("download of incident %ld (URL %s) by %s %s: %" PRIu64 " of %" PRIu64 " bytes",
		 d->id, d->uid, d->client, complete ? "complete" : "incomplete", d->sent, d->len);
	vault_reader_close(d->r);
	EVP_MD_CTX_free(d->sha);
	free(d->buf);
	free(d);
}

static void get_pcap(struct call *c)
{
	struct urlsign_params p;
	struct db_incident inc;
	char err[1024];
	uint8_t key[VAULT_KEY_LEN];
	vault_reader_t *r = NULL;

	if (throttled(c))
		return;
	if (urlsign_parse(c->query, c->query_len, &p, err, sizeof err) != 0) {
		reply_error(c->rs, 400, "%s", err);
		return;
	}
	/* the signature before the index: existing and missing incidents look the same without it */
	int ok = store_url_key(c->h->store, p.kid, key, NULL) == 0;
	if (!ok) {
		auth_failed(c);
		deny(c, 403, "unknown key", "bad signature");
		return;
	}
	ok = urlsign_verify(key, c->id, &p) == 0;
	OPENSSL_cleanse(key, sizeof key);
	if (!ok) {
		auth_failed(c);
		deny(c, 403, "bad signature", "bad signature");
		return;
	}
	if (get_row(c, &inc) != 0)
		return;
	if (p.exp < store_now_ns() / NS_PER_S) {
		deny(c, 410, "url expired", "this download URL has expired; ask for a new one");
		return;
	}
	int rc = store_open_capture(c->h->store, c->id, &r, &inc, err, sizeof err);
	switch (rc) {
	case 0:
		break;
	case STORE_ENOTFOUND:
		reply_error(c->rs, 404, "no incident %ld", c->id);
		return;
	case STORE_EEXPIRED:
		deny(c, 410, "capture expired", "%s", err);
		return;
	case STORE_ENOFILE:
		reply_error(c->rs, 409, "%s", err);
		return;
	default:
		log_err("%s", err);
		reply_error(c->rs, 500,
			    "the capture of incident %ld cannot be read (see the "
			    "server's log)",
			    c->id);
		return;
	}
	uint64_t size = vault_plain_size(r), off = 0, len = size;
	const char *range = c->rq->header ? c->rq->header(c->rq->header_arg, "Range") : NULL;
	int pr = parse_range(range, size, &off, &len);
	if (pr == 416) {
		vault_reader_close(r);
		reply_error(c->rs, 416,
			    "the range cannot be satisfied (the capture has %" PRIu64 " bytes)",
			    size);
		add_header(c->rs, "Content-Range", "bytes */%" PRIu64, size);
		return;
	}
	struct api_download *d = calloc(1, sizeof *d);
	if (d) {
		d->buf = malloc(CHUNK);
		d->sha = EVP_MD_CTX_new();
	}
	if (!d || !d->buf || !d->sha || EVP_DigestInit_ex(d->sha, EVP_sha256(), NULL) != 1) {
		if (d) {
			free(d->buf);
			EVP_MD_CTX_free(d->sha);
			free(d);
		}
		vault_reader_close(r);
		reply_error(c->rs, 500, "out of memory");
		return;
	}
	d->h = c->h;
	d->r = r;
	d->id = c->id;
	d->off = off;
	d->len = len;
	snprintf(d->uid, sizeof d->uid, "%s", p.uid);
	snprintf(d->client, sizeof d->client, "%s", c->client);
	char rsafe[64];
	if (range && pr == 0)
		ascii_safe(rsafe, sizeof rsafe, range, strnlen(range, 60));
	if (audit(c->h, "download_started",
		  json_pack("{s:s,s:I,s:s,s:o}", "client", c->client, "incident", (json_int_t)c->id,
			    "url_id", p.uid, "range",
			    range && pr == 0 ? json_string(rsafe) : json_null())) != 0) {
		vault_reader_close(r);
		EVP_MD_CTX_free(d->sha);
		free(d->buf);
		free(d);
		reply_error(c->rs, 500, "the audit trail cannot be written: no download");
		return;
	}
	struct api_response *rs = c->rs;
	rs->status = pr == 0 ? 206 : 200;
	rs->content_type = strcmp(inc.file.format, "pcapng") == 0 ? "application/x-pcapng"
								  : "application/vnd.tcpdump.pcap";
	rs->download = d;
	rs->download_len = len;
	add_header(rs, "Content-Disposition", "attachment; filename=\"incident-%ld.%s\"", c->id,
		   strcmp(inc.file.format, "pcapng") == 0 ? "pcapng" : "pcap");
	add_header(rs, "Accept-Ranges", "bytes");
	add_header(rs, "Cache-Control", "no-store");
	if (pr == 0)
		add_header(rs, "Content-Range", "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, off,
			   off + len - 1, size);
}

/* ---- agent: status and manual captures ------------------------------------------------------ */

static void get_status(struct call *c)
{
	char reply[CTL_REPLY_MAX], err[512];
	json_t *o = NULL;
	if (ctl_request(c->h->ctl_path, "status", reply, sizeof reply, err, sizeof err) == 0) {
		json_error_t jerr;
		o = json_loads(reply, 0, &jerr);
		if (!json_is_object(o) || !json_is_true(json_object_get(o, "ok"))) {
			json_decref(o);
			o = NULL;
		}
	}
	if (o) {
		json_object_del(o, "ok");
	} else {
		o = json_pack("{s:s}", "mode", "review");
	}
	json_object_set_new(o, "version", json_string(RINGCAP_VERSION));
	if (!json_object_get(o, "retention_days"))
		json_object_set_new(
		    o, "retention_days",
		    json_real((double)store_retention_ns(c->h->store) / (86400.0 * NS_PER_S)));
	json_object_set_new(o, "url_ttl_seconds", json_integer((json_int_t)c->h->ttl_s));
	reply_json(c->rs, 200, o);
}

static void post_capture(struct call *c)
{
	static const char *const allowed[] = {"seconds", "packets", NULL};
	long seconds = 30, packets = 10000;
	char line[CTL_LINE_MAX], reply[CTL_REPLY_MAX], err[512];
	json_t *body = body_object(c);
	if (!body)
		return;
	int bad = body_only(c, body, allowed) != 0 ||
		  body_int(c, body, "seconds", 1, 3600, &seconds) != 0 ||
		  body_int(c, body, "packets", 1, 1000000, &packets) != 0;
	json_decref(body);
	if (bad)
		return;
	snprintf(line, sizeof line, "capture seconds=%ld packets=%ld actor=%s client=%s", seconds,
		 packets, c->actor, c->client);
	if (ctl_request(c->h->ctl_path, line, reply, sizeof reply, err, sizeof err) != 0) {
		log_debug("manual capture: %s", err);
		reply_error(c->rs, 503,
			    "no agent is capturing on this folder (`ringcap serve' only reviews): "
			    "start `ringcap run -i IFACE' on it");
		return;
	}
	json_error_t jerr;
	json_t *o = json_loads(reply, 0, &jerr);
	if (!json_is_object(o) || !json_is_true(json_object_get(o, "ok"))) {
		const char *m = json_string_value(json_object_get(o, "error"));
		const char *why = json_string_value(json_object_get(o, "refused"));
		if (why && strcmp(why, "busy") == 0) {
			/* the manual captures allowed at once are running: ask again later */
			reply_error(c->rs, 429, "the agent refused: %s", m);
			add_header(c->rs, "Retry-After", "%d", 10);
		} else
			reply_error(c->rs, 409, "the agent refused: %s", m ? m : "no reason given");
		json_decref(o);
		return;
	}
	json_int_t id = json_integer_value(json_object_get(o, "id"));
	json_decref(o);
	log_info("manual capture %lld started by %s (%s): %ld s or %ld packets", (long long)id,
		 c->actor, c->client, seconds, packets);
	reply_json(
	    c->rs, 201,
	    json_pack("{s:I,s:i,s:i}", "id", id, "seconds", (int)seconds, "packets", (int)packets));
}

/* ---- audit ---------------------------------------------------------------------------------- */

static void get_audit(struct call *c)
{
	long limit = LIST_LIMIT_DEFAULT, before = 0, total = 0;
	const char *why = NULL;
	char err[1024];
	if (query_long(c, "limit", 1, LIST_LIMIT_MAX, &limit, &why) < 0 ||
	    query_long(c, "before", 1, LONG_MAX / 2, &before, &why) < 0) {
		reply_error(c->rs, 400, "%s (limit 1..%d, before a record's seq)", why,
			    LIST_LIMIT_MAX);
		return;
	}
	json_t *arr = audit_list(c->h->dir, before, (int)limit, &total, err, sizeof err);
	if (!arr) {
		log_err("%s", err);
		reply_error(c->rs, 500, "the audit trail cannot be read (see the server's log)");
		return;
	}
	size_t n = json_array_size(arr);
	json_int_t last =
	    n ? json_integer_value(json_object_get(json_array_get(arr, n - 1), "seq")) : 0;
	json_t *next = (long)n == limit && last > 1 ? json_integer(last) : json_null();
	reply_json(c->rs, 200,
		   json_pack("{s:o,s:I,s:o}", "records", arr, "total", (json_int_t)total,
			     "next_before", next));
}

static void get_audit_verify(struct call *c)
{
	char kpath[PATH_MAX], err[1024];
	keys_t *k = NULL;
	char *text = NULL;
	size_t tlen = 0;
	if (keys_path(c->h->dir, kpath, sizeof kpath) != 0 ||
	    keys_load_or_create(kpath, &k, err, sizeof err) != 0) {
		log_err("%s", err);
		reply_error(c->rs, 500, "the key file cannot be read (see the server's log)");
		return;
	}
	FILE *f = open_memstream(&text, &tlen);
	if (!f) {
		keys_free(k);
		reply_error(c->rs, 500, "out of memory");
		return;
	}
	int rc = audit_verify(c->h->dir, k, f, err, sizeof err);
	fclose(f);
	keys_free(k);
	if (rc < 0) {
		log_err("%s", err);
		free(text);
		reply_error(c->rs, 500, "the audit trail cannot be read (see the server's log)");
		return;
	}
	json_t *rep = json_stringn(text ? text : "", tlen);
	free(text);
	reply_json(c->rs, 200,
		   json_pack("{s:b,s:o}", "ok", rc == 0, "report", rep ? rep : json_string("")));
}

/* ---- tokens (admin) ------------------------------------------------------------------------- */

/* A token_added/token_revoked record. Returns 0 or -1 (logged). */
static int token_audit(struct call *c, const char *event, const char *name, const char *role)
{
	return audit(c->h, event,
		     role ? json_pack("{s:s,s:s,s:s,s:s}", "name", name, "role", role, "actor",
				      c->actor, "client", c->client)
			  : json_pack("{s:s,s:s,s:s}", "name", name, "actor", c->actor, "client",
				      c->client));
}

static void get_tokens(struct call *c)
{
	struct token_info *v = NULL;
	char err[1024];
	int n = tokens_list(c->h->dir, &v, err, sizeof err);
	if (n < 0) {
		log_err("%s", err);
		reply_error(c->rs, 500, "the token file cannot be read (see the server's log)");
		return;
	}
	json_t *arr = json_array();
	for (int i = 0; i < n; i++)
		json_array_append_new(arr, json_pack("{s:s,s:s,s:s}", "name", v[i].name, "role",
						     tokens_role_name(v[i].role), "created",
						     v[i].created));
	free(v);
	reply_json(c->rs, 200, json_pack("{s:o}", "tokens", arr));
}

static void post_token(struct call *c)
{
	static const char *const allowed[] = {"name", "role", NULL};
	char err[1024], tok[TOKEN_LEN + 1], e2[512];
	json_t *body = body_object(c);
	if (!body)
		return;
	if (body_only(c, body, allowed) != 0) {
		json_decref(body);
		return;
	}
	const char *name = json_string_value(json_object_get(body, "name"));
	json_t *jr = json_object_get(body, "role");
	int role = jr ? tokens_role_parse(json_string_value(jr)) : TOKEN_ROLE_DEFAULT;
	if (!tokens_name_valid(name)) {
		reply_error(c->rs, 400,
			    "`name' must be 1..32 characters of [A-Za-z0-9._-] (the token's name)");
	} else if (role < 0) {
		reply_error(c->rs, 400, "`role' must be \"viewer\", \"operator\" or \"admin\"");
	} else {
		int rc = tokens_add_role(c->h->dir, name, role, tok, err, sizeof err);
		if (rc == TOKENS_EEXIST) {
			reply_error(c->rs, 409, "a token named `%s' exists already", name);
		} else if (rc != 0) {
			log_err("%s", err);
			reply_error(c->rs, 500, "the token cannot be added (see the server's log)");
		} else if (token_audit(c, "token_added", name, tokens_role_name(role)) != 0) {
			if (tokens_revoke(c->h->dir, name, e2, sizeof e2) != 0)
				log_err("%s", e2);
			reply_error(c->rs, 500, "the audit trail cannot be written: no token added");
		} else {
			reply_json(c->rs, 201,
				   json_pack("{s:s,s:s,s:s}", "name", name, "role",
					     tokens_role_name(role), "token", tok));
			log_info("token `%s' (%s) added by %s (%s)", name, tokens_role_name(role),
				 c->actor, c->client);
		}
	}
	OPENSSL_cleanse(tok, sizeof tok);
	json_decref(body);
}

static void delete_token(struct call *c)
{
	char err[1024];
	const char *name = c->seg[3];
	if (!tokens_name_valid(name)) {
		reply_error(c->rs, 400, "invalid token name: expected 1..32 characters of "
					"[A-Za-z0-9._-]");
		return;
	}
	int rc = tokens_revoke(c->h->dir, name, err, sizeof err);
	if (rc == TOKENS_ENOTFOUND) {
		reply_error(c->rs, 404, "no token named `%s'", name);
		return;
	}
	if (rc != 0) {
		log_err("%s", err);
		reply_error(c->rs, 500, "the token cannot be revoked (see the server's log)");
		return;
	}
	if (token_audit(c, "token_revoked", name, NULL) != 0)
		log_warn("token `%s' revoked, but the audit trail cannot be written", name);
	log_info("token `%s' revoked by %s (%s)", name, c->actor, c->client);
	reply_json(c->rs, 200, json_pack("{s:s}", "revoked", name));
}

/* ---- routing -------------------------------------------------------------------------------- */

enum { HAS_ID = 1 };

/*
 * One line per endpoint. role: the least token role that may call it (enum token_role), 0 for
 * no token (the signed download checks its signature itself). Pattern segments come after
 * "api", "v1"; "#" is an incident id (c->id), "*" any one segment (c->seg[3] and on).
 */
static const struct route {
	const char *method;
	const char *pattern[5];
	int role;
	int flags;
	void (*fn)(struct call *c);
} routes[] = {
    {"GET", {"incidents", NULL}, TOKEN_VIEWER, 0, get_incidents},
    {"GET", {"incidents", "#", NULL}, TOKEN_VIEWER, HAS_ID, get_incident},
    {"POST", {"incidents", "#", "download-url", NULL}, TOKEN_OPERATOR, HAS_ID, post_download_url},
    {"GET", {"incidents", "#", "pcap", NULL}, 0, HAS_ID, get_pcap},
    {"POST", {"captures", NULL}, TOKEN_OPERATOR, 0, post_capture},
    {"GET", {"status", NULL}, TOKEN_VIEWER, 0, get_status},
    {"GET", {"audit", NULL}, TOKEN_VIEWER, 0, get_audit},
    {"GET", {"audit", "verify", NULL}, TOKEN_ADMIN, 0, get_audit_verify},
    {"GET", {"tokens", NULL}, TOKEN_ADMIN, 0, get_tokens},
    {"POST", {"tokens", NULL}, TOKEN_ADMIN, 0, post_token},
    {"DELETE", {"tokens", "*", NULL}, TOKEN_ADMIN, 0, delete_token},
};
#define N_ROUTES (sizeof routes / sizeof routes[0])

/* Does the path (segments from index 2) match the pattern? Sets *badid for a malformed id. */
static int route_match(const struct call *c, const struct route *r, int *badid)
{
	int n = c->nseg - 2, i = 0;
	for (; i < 5 && r->pattern[i]; i++) {
		if (i >= n)
			return 0;
		const char *s = c->seg[i + 2];
		if (strcmp(r->pattern[i], "#") == 0) {
			if (cfg_parse_id(s, URLSIGN_ID_MAX) < 0)
				*badid = 1;
		} else if (strcmp(r->pattern[i], "*") == 0) {
			continue;
		} else if (strcmp(r->pattern[i], s) != 0) {
			return 0;
		}
	}
	return i == n;
}

/*
 * Authorization: Bearer TOKEN of at least role need. Returns 0 (c->actor, c->role set) or a
 * response made: 429 while the address is throttled, 401 without a known token (counted as a
 * failure unless no credential was presented), 403 when the token's role is short.
 */
static int authenticate(struct call *c, int need)
{
	char err[512];
	if (throttled(c))
		return -1;
	const char *v = c->rq->header ? c->rq->header(c->rq->header_arg, "Authorization") : NULL;
	if (!v) {
		deny(c, 401, "missing token",
		     "an API token is needed: Authorization: Bearer TOKEN");
		return -1;
	}
	while (*v == ' ')
		v++;
	if (strncasecmp(v, "Bearer ", 7) != 0) {
		auth_failed(c);
		deny(c, 401, "not a bearer token",
		     "an API token is needed: Authorization: Bearer TOKEN");
		return -1;
	}
	v += 7;
	while (*v == ' ')
		v++;
	char tok[TOKEN_LEN + 2];
	size_t n = strcspn(v, " \t");
	if (n > TOKEN_LEN || v[n + strspn(v + n, " \t")] != '\0') {
		auth_failed(c);
		deny(c, 401, "unknown token", "unknown API token");
		return -1;
	}
	memcpy(tok, v, n);
	tok[n] = '\0';
	int rc = tokens_check_role(c->h->tokens, tok, c->actor, &c->role, err, sizeof err);
	OPENSSL_cleanse(tok, sizeof tok);
	if (rc == TOKENS_ENOTFOUND) {
		c->actor[0] = '\0';
		auth_failed(c);
		deny(c, 401, "unknown token", "unknown API token");
		return -1;
	}
	if (rc != 0) {
		c->actor[0] = '\0';
		log_err("%s", err);
		reply_error(c->rs, 500, "the token file cannot be read (see the server's log)");
		return -1;
	}
	if (c->role < need) {
		deny(c, 403, "role",
		     "this needs a token with the %s role; `%s' is a%s %s token",
		     tokens_role_name(need), c->actor, c->role == TOKEN_OPERATOR ? "n" : "",
		     tokens_role_name(c->role));
		return -1;
	}
	return 0;
}

static void serve_static(struct call *c)
{
	const char *m = c->rq->method;
	const struct webui_asset *a = webui_find(c->path);
	if (!a) {
		reply_error(c->rs, 404, "not found");
		return;
	}
	if (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0) {
		reply_error(c->rs, 405, "method not allowed");
		add_header(c->rs, "Allow", "GET, HEAD");
		return;
	}
	c->rs->status = 200;
	c->rs->content_type = a->content_type;
	c->rs->static_body = a->data;
	c->rs->body_len = a->len;
	add_header(c->rs, "Cache-Control", "no-store");
	add_header(c->rs, "Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'");
}

/* The authority part of a URL ("http://H:P/x" -> "H:P"), lowercase, into out. */
static void url_authority(const char *url, char *out, size_t outlen)
{
	const char *p = strstr(url, "://");
	p = p ? p + 3 : url;
	size_t n = strcspn(p, "/?#");
	size_t o = 0;
	for (size_t i = 0; i < n && o + 1 < outlen; i++)
		out[o++] = (char)tolower((unsigned char)p[i]);
	out[o] = '\0';
}

/*
 * Splits HOST[:PORT] or [V6]:PORT (lowercase) into the host (brackets dropped) and the port
 * (defport when absent). Returns 0, or -1 when malformed.
 */
static int split_host(const char *v, char *host, size_t hostlen, unsigned *port, unsigned defport,
		      int *bracketed)
{
	const char *colon = NULL, *hs = v;
	size_t hl;
	*bracketed = v[0] == '[';
	if (*bracketed) {
		const char *rb = strchr(v, ']');
		if (!rb || (rb[1] && rb[1] != ':'))
			return -1;
		colon = rb[1] == ':' ? rb + 1 : NULL;
		hs = v + 1;
		hl = (size_t)(rb - hs);
	} else {
		colon = strchr(v, ':');
		if (colon && strchr(colon + 1, ':'))
			return -1; /* an IPv6 address needs brackets */
		hl = colon ? (size_t)(colon - v) : strlen(v);
	}
	if (hl == 0 || hl >= hostlen)
		return -1;
	memcpy(host, hs, hl);
	host[hl] = '\0';
	*port = defport;
	if (colon) {
		unsigned long pl = 0;
		const char *d = colon + 1;
		if (!*d || strlen(d) > 5)
			return -1;
		for (; *d; d++) {
			if (*d < '0' || *d > '9')
				return -1;
			pl = pl * 10 + (unsigned long)(*d - '0');
		}
		if (pl > 65535)
			return -1;
		*port = (unsigned)pl;
	}
	return 0;
}

/*
 * The Host header against DNS rebinding: a name must be the public URL's host and port (a port
 * left out is the public URL's scheme's default), or "localhost" on the bound port; any IP
 * literal is taken on the bound port (no name to rebind). Returns 0, or 400/421 with why set.
 */
static int host_check(const httpd_t *h, const char *host, const char **why)
{
	char v[256], hp[256], pubh[256];
	unsigned port, pubport;
	int br, pubbr;
	if (!host || !*host) {
		*why = "a Host header is needed";
		return 400;
	}
	size_t n = strlen(host);
	if (n >= sizeof v) {
		*why = "the Host header is too long";
		return 400;
	}
	for (size_t i = 0; i <= n; i++)
		v[i] = (char)tolower((unsigned char)host[i]);
	unsigned defport = strncmp(h->public_url, "https:", 6) == 0 ? 443 : 80;
	if (split_host(v, hp, sizeof hp, &port, defport, &br) != 0) {
		*why = "a malformed Host header";
		return 400;
	}
	if (split_host(h->public_host, pubh, sizeof pubh, &pubport, defport, &pubbr) == 0 &&
	    strcmp(hp, pubh) == 0 && port == pubport)
		return 0;
	struct in6_addr a6;
	struct in_addr a4;
	int literal = (!br && inet_pton(AF_INET, hp, &a4) == 1) ||
		      (br && inet_pton(AF_INET6, hp, &a6) == 1);
	if ((literal || strcmp(hp, "localhost") == 0) && port == h->port)
		return 0;
	*why = "the Host header names neither this server's address nor its public URL";
	return 421;
}

void api_handle(httpd_t *h, const struct api_request *rq, struct api_response *rs)
{
	const char *why = NULL;
	memset(rs, 0, sizeof *rs);
	struct call *c = calloc(1, sizeof *c);
	if (!c) {
		reply_error(rs, 500, "out of memory");
		goto out;
	}
	c->h = h;
	c->rq = rq;
	c->rs = rs;
	ascii_safe(c->client, sizeof c->client, rq->client ? rq->client : "",
		   rq->client ? strnlen(rq->client, CLIENT_MAX - 1) : 0);
	if (!rq->method || !*rq->method) {
		reply_error(rs, 400, "no method");
		goto out;
	}
	int st = parse_target(c, &why);
	if (st) {
		reply_error(rs, st, "malformed request: %s", why);
		goto out;
	}
	if (rq->framing_conflict) {
		reply_error(rs, 400,
			    "conflicting message framing: several Content-Length headers, or "
			    "Content-Length with Transfer-Encoding");
		goto out;
	}
	if ((st = host_check(h, rq->header ? rq->header(rq->header_arg, "Host") : NULL, &why))) {
		char hv[96];
		const char *hh = rq->header ? rq->header(rq->header_arg, "Host") : NULL;
		ascii_safe(hv, sizeof hv, hh ? hh : "", hh ? strnlen(hh, 80) : 0);
		reply_error(rs, st, "%s (Host `%s')", why, hv);
		goto out;
	}
	if (rq->body_too_large) {
		reply_error(rs, 413, "the request body is larger than %d bytes", API_BODY_MAX);
		goto out;
	}
	if (c->nseg < 1 || strcmp(c->seg[0], "api") != 0) {
		serve_static(c);
		goto out;
	}
	if (c->nseg > PATH_SEGS_MAX || c->nseg < 3 || strcmp(c->seg[1], "v1") != 0) {
		reply_error(rs, 404, "no such API endpoint");
		goto out;
	}
	const struct route *hit = NULL;
	char allow[64] = "";
	int badid = 0;
	for (size_t i = 0; i < N_ROUTES; i++) {
		int b = 0;
		if (!route_match(c, &routes[i], &b))
			continue;
		badid |= b;
		if (strcmp(routes[i].method, rq->method) == 0)
			hit = &routes[i];
		snprintf(allow + strlen(allow), sizeof allow - strlen(allow), "%s%s",
			 allow[0] ? ", " : "", routes[i].method);
	}
	if (!allow[0]) {
		reply_error(rs, 404, "no such API endpoint");
		goto out;
	}
	if (badid) {
		reply_error(rs, 400, "invalid incident id (expected a whole number from 1 to %ld)",
			    URLSIGN_ID_MAX);
		goto out;
	}
	if (!hit) {
		reply_error(rs, 405, "method not allowed (allowed: %s)", allow);
		add_header(rs, "Allow", "%s", allow);
		goto out;
	}
	if (hit->flags & HAS_ID)
		c->id = cfg_parse_id(c->seg[3], URLSIGN_ID_MAX);
	if (hit->role && authenticate(c, hit->role) != 0)
		goto out;
	hit->fn(c);
out:
	free(c);
	if (!rs->status)
		reply_error(rs, 500, "internal error");
	add_header(rs, "X-Content-Type-Options", "nosniff");
	add_header(rs, "X-Frame-Options", "DENY");
}

void api_response_clear(struct api_response *rs)
{
	free(rs->body);
	if (rs->download)
		api_download_end(rs->download);
	memset(rs, 0, sizeof *rs);
}

/* ---- the server ----------------------------------------------------------------------------- */

httpd_t *api_new(const struct httpd_config *c, char *err, size_t errlen)
{
	httpd_t *h = calloc(1, sizeof *h);
	if (!h) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	h->listen_fd = -1;
	h->store = c->store;
	h->ttl_s = c->url_ttl_s > 0 ? c->url_ttl_s : HTTPD_DEFAULT_TTL;
	const char *dir = store_dir(c->store);
	if (strlen(dir) >= sizeof h->dir - 64) {
		snprintf(err, errlen, "the folder name `%s' is too long", dir);
		free(h);
		return NULL;
	}
	snprintf(h->dir, sizeof h->dir, "%s", dir);
	snprintf(h->ctl_path, sizeof h->ctl_path, "%s/%s", dir, CTL_SOCKET_NAME);
	snprintf(h->info_path, sizeof h->info_path, "%s/%s", dir, HTTPD_INFO_FILE);
	snprintf(h->listen, sizeof h->listen, "%s", HTTPD_DEFAULT_LISTEN);
	const char *base =
	    c->public_url && *c->public_url ? c->public_url : "http://" HTTPD_DEFAULT_LISTEN;
	size_t bl = strlen(base);
	while (bl && base[bl - 1] == '/')
		bl--;
	if (bl >= sizeof h->public_url ||
	    (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0)) {
		snprintf(err, errlen,
			 "invalid public URL `%s': expected http://HOST[:PORT][/PREFIX]", base);
		free(h);
		return NULL;
	}
	for (size_t i = 0; i < bl; i++)
		if ((unsigned char)base[i] <= 0x20 || base[i] == '"' || base[i] == '?' ||
		    base[i] == '#' || (unsigned char)base[i] >= 0x7f) {
			snprintf(err, errlen, "invalid public URL `%s': a space, quote, `?' or `#'",
				 base);
			free(h);
			return NULL;
		}
	memcpy(h->public_url, base, bl);
	h->public_url[bl] = '\0';
	url_authority(h->public_url, h->public_host, sizeof h->public_host);
	h->port = 8080; /* HTTPD_DEFAULT_LISTEN's; httpd_start() sets the bound one */
	h->guard = guard_new(report_denials, h);
	if (!h->guard) {
		snprintf(err, errlen, "out of memory");
		free(h);
		return NULL;
	}
	if (tokens_open(dir, &h->tokens, err, errlen) != 0) {
		guard_free(h->guard);
		free(h);
		return NULL;
	}
	return h;
}

const char *httpd_address(const httpd_t *h)
{
	return h ? h->listen : "";
}

/* Counts the framing headers of a request. */
struct framing {
	int cl, te;
};

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
				     const char *value)
{
	struct framing *f = cls;
	(void)kind;
	(void)value;
	if (key && strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
		f->cl++;
	else if (key && strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0)
		f->te++;
	return MHD_YES;
}

static struct slot *slot_of(struct MHD_Connection *con)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(con, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

/* A request is whole (waiting 0) or finished (1: the next one may come, the clock restarts). */
static void slot_waiting(httpd_t *h, struct MHD_Connection *con, int waiting)
{
	struct slot *sl = h->watch ? slot_of(con) : NULL;
	if (!sl)
		return;
	pthread_mutex_lock(&h->watch->mu);
	sl->waiting = waiting;
	sl->since_ms = now_ms();
	pthread_mutex_unlock(&h->watch->mu);
}

static void on_connection(void *cls, struct MHD_Connection *con, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	httpd_t *h = cls;
	struct watch *w = h->watch;
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
		    MHD_get_connection_info(con, MHD_CONNECTION_INFO_CONNECTION_FD);
		*socket_context = NULL;
		for (size_t i = 0; ci && i < sizeof w->slot / sizeof w->slot[0]; i++)
			if (w->slot[i].fd < 0) {
				w->slot[i].fd = ci->connect_fd;
				w->slot[i].waiting = 1;
				w->slot[i].since_ms = now_ms();
				*socket_context = &w->slot[i];
				break;
			}
	} else if (*socket_context) { /* closed: before libmicrohttpd closes the socket */
		struct slot *sl = *socket_context;
		sl->fd = -1;
		sl->waiting = 0;
		*socket_context = NULL;
	}
	pthread_mutex_unlock(&w->mu);
}

static void *watchdog(void *arg)
{
	httpd_t *h = arg;
	struct watch *w = h->watch;
	pthread_mutex_lock(&w->mu);
	while (!w->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 250 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&w->cv, &w->mu, &ts);
		int64_t now = now_ms();
		for (size_t i = 0; i < sizeof w->slot / sizeof w->slot[0]; i++) {
			struct slot *sl = &w->slot[i];
			if (sl->fd >= 0 && sl->waiting && now - sl->since_ms > HEAD_DEADLINE_MS) {
				shutdown(sl->fd, SHUT_RDWR); /* libmicrohttpd sees the end, closes */
				sl->waiting = 0;
				w->cut++;
			}
		}
		pthread_mutex_unlock(&w->mu);
		api_tick(h);
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Per request: the raw target (from the URI log callback), the body, the peer. */
struct conn {
	char *target;
	size_t target_len;
	char body[API_BODY_MAX];
	size_t body_len;
	int too_large, started, framing;
	uint64_t discarded;
	char client[CLIENT_MAX];
};

static void peer_of(struct MHD_Connection *con, char *out, size_t len)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(con, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	snprintf(out, len, "?");
	if (!ci || !ci->client_addr)
		return;
	const struct sockaddr *sa = ci->client_addr;
	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
			  (socklen_t)len);
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a =
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a))
			inet_ntop(AF_INET, &a->s6_addr[12], out, (socklen_t)len);
		else
			inet_ntop(AF_INET6, a, out, (socklen_t)len);
	}
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *con)
{
	(void)cls;
	struct conn *k = calloc(1, sizeof *k);
	if (!k)
		return NULL;
	k->target_len = strlen(uri);
	k->target = strdup(uri);
	peer_of(con, k->client, sizeof k->client);
	return k;
}

static void on_completed(void *cls, struct MHD_Connection *con, void **req_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)toe;
	slot_waiting(cls, con, 1);
	struct conn *k = *req_cls;
	if (k) {
		free(k->target);
		free(k);
	}
	*req_cls = NULL;
}

static ssize_t on_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	long n = api_download_read(cls, pos, buf, max);
	if (n < 0)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (n == 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	return (ssize_t)n;
}

static void on_free(void *cls)
{
	api_download_end(cls);
}

static const char *mhd_header(void *arg, const char *name)
{
	return MHD_lookup_connection_value(arg, MHD_HEADER_KIND, name);
}

static enum MHD_Result queue(struct MHD_Connection *con, struct api_response *rs)
{
	struct MHD_Response *r;
	if (rs->download) {
		r = MHD_create_response_from_callback(rs->download_len, CHUNK, on_read,
						      rs->download, on_free);
		if (r)
			rs->download = NULL; /* on_free ends it */
	} else if (rs->static_body) {
		r = MHD_create_response_from_buffer(
		    rs->body_len, (void *)(uintptr_t)rs->static_body, MHD_RESPMEM_PERSISTENT);
	} else {
		r = MHD_create_response_from_buffer(rs->body_len, rs->body, MHD_RESPMEM_MUST_FREE);
		if (r)
			rs->body = NULL;
	}
	if (!r) {
		api_response_clear(rs);
		return MHD_NO;
	}
	if (rs->content_type)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, rs->content_type);
	for (int i = 0; i < rs->nheaders; i++)
		MHD_add_response_header(r, rs->headers[i].name, rs->headers[i].value);
	enum MHD_Result ret = MHD_queue_response(con, (unsigned)rs->status, r);
	MHD_destroy_response(r);
	api_response_clear(rs);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *con, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **req_cls)
{
	httpd_t *h = cls;
	struct api_response rs;
	(void)version;
	struct conn *k = *req_cls;
	if (!k) { /* the URI callback could not allocate */
		k = on_uri(NULL, url, con);
		if (!k)
			return MHD_NO;
		*req_cls = k;
	}
	if (!k->target)
		return MHD_NO;
	if (!k->started) {
		k->started = 1;
		struct framing fr = {0, 0};
		MHD_get_connection_values(con, MHD_HEADER_KIND, count_framing, &fr);
		if (fr.cl > 1 || (fr.cl && fr.te)) {
			k->framing = 1; /* answer now: which length is the body's is unknown */
			goto answer;
		}
		const char *cl = MHD_lookup_connection_value(con, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strlen(cl) > 0 &&
		    (strlen(cl) > 9 || strtoul(cl, NULL, 10) > API_BODY_MAX))
			k->too_large = 1;
		if (!k->too_large)
			return MHD_YES;
	} else if (*upload_size) {
		/*
		 * A body without Content-Length (chunked) that outgrows API_BODY_MAX: libmicrohttpd
		 * cannot answer in the middle of a body, so the rest is read and dropped, up to
		 * DISCARD_MAX; then the connection is closed.
		 */
		if (k->body_len + *upload_size > API_BODY_MAX)
			k->too_large = 1;
		if (k->too_large) {
			k->discarded += *upload_size;
			*upload_size = 0;
			return k->discarded > DISCARD_MAX ? MHD_NO : MHD_YES;
		}
		memcpy(k->body + k->body_len, upload, *upload_size);
		k->body_len += *upload_size;
		*upload_size = 0;
		return MHD_YES;
	}
answer:
	/* the whole request is here (or the body is too large: answer now, read no more) */
	slot_waiting(h, con, 0);
	struct api_request rq = {
	    .method = method,
	    .target = k->target,
	    .target_len = k->target_len,
	    .header = mhd_header,
	    .header_arg = con,
	    .body = k->body,
	    .body_len = k->body_len,
	    .body_too_large = k->too_large,
	    .framing_conflict = k->framing,
	    .client = k->client,
	};
	api_handle(h, &rq, &rs);
	*upload_size = 0;
	return queue(con, &rs);
}

/* libmicrohttpd's own messages: to the debug log, never with a query string. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	(void)cls;
	vsnprintf(msg, sizeof msg, fmt, ap);
	char *q = strchr(msg, '?');
	if (q)
		q[1] = '\0';
	msg[strcspn(msg, "\n")] = '\0';
	log_debug("http: %s", msg);
}

/* Parses ADDR:PORT, [V6]:PORT, :PORT; binds and listens. Returns the fd or -1 (err). */
static int bind_listen(const char *spec, char *err, size_t errlen)
{
	char host[128];
	const char *colon = strrchr(spec, ':');
	if (!colon || colon[1] == '\0' || (size_t)(colon - spec) >= sizeof host) {
		snprintf(err, errlen,
			 "invalid HTTP address `%s': expected ADDR:PORT, [V6ADDR]:PORT "
			 "or :PORT",
			 spec);
		return -1;
	}
	char *end;
	errno = 0;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (*end || errno || port > 65535 || colon[1] == '-' || colon[1] == '+') {
		snprintf(err, errlen, "invalid HTTP address `%s': the port must be 0..65535", spec);
		return -1;
	}
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	int all = host[0] == '\0';
	if (host[0] == '[') {
		size_t n = strlen(host);
		if (n < 3 || host[n - 1] != ']') {
			snprintf(err, errlen, "invalid HTTP address `%s'", spec);
			return -1;
		}
		memmove(host, host + 1, n - 2);
		host[n - 2] = '\0';
	} else if (strchr(host, ':')) {
		snprintf(err, errlen,
			 "invalid HTTP address `%s': write IPv6 addresses as [ADDR]:PORT", spec);
		return -1;
	}
	struct sockaddr_storage ss;
	socklen_t sl;
	memset(&ss, 0, sizeof ss);
	int fam = AF_INET6;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	if (all) {
		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_any;
		s6->sin6_port = htons((uint16_t)port);
		sl = sizeof *s6;
	} else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		sl = sizeof *s6;
	} else if (inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host,
			     &s4->sin_addr) == 1) {
		fam = AF_INET;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		sl = sizeof *s4;
	} else {
		snprintf(err, errlen, "invalid HTTP address `%s': `%s' is not an IP address", spec,
			 host);
		return -1;
	}
	int fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 && all && (errno == EAFNOSUPPORT || errno == EPROTONOSUPPORT)) {
		/* no IPv6 here: all IPv4 addresses */
		memset(&ss, 0, sizeof ss);
		fam = AF_INET;
		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_ANY);
		s4->sin_port = htons((uint16_t)port);
		sl = sizeof *s4;
		fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	}
	if (fd < 0) {
		snprintf(err, errlen, "cannot listen on `%s': %s", spec, strerror(errno));
		return -1;
	}
	int on = 1, off = 0;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
	if (fam == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, all ? &off : &on, sizeof on);
	if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 64) != 0) {
		snprintf(err, errlen, "cannot listen on `%s': %s", spec, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* The bound address as ADDR:PORT. */
static void bound_name(int fd, char *out, size_t len, int *wildcard, unsigned *port)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	char a[INET6_ADDRSTRLEN] = "?";
	*wildcard = 0;
	*port = 0;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
		snprintf(out, len, "?");
		return;
	}
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof a);
		*port = ntohs(s6->sin6_port);
		*wildcard = IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr);
		snprintf(out, len, "[%s]:%u", a, *port);
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof a);
		*port = ntohs(s4->sin_port);
		*wildcard = s4->sin_addr.s_addr == htonl(INADDR_ANY);
		snprintf(out, len, "%s:%u", a, *port);
	}
}

/* DIR/http.json, written whole. */
static int write_info(httpd_t *h, char *err, size_t errlen)
{
	json_t *o = json_pack("{s:s,s:s,s:I}", "listen", h->listen, "public_url", h->public_url,
			      "pid", (json_int_t)getpid());
	char *t = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	size_t n = strlen(t);
	char *line = realloc(t, n + 2);
	if (!line) {
		free(t);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	line[n] = '\n';
	line[n + 1] = '\0';
	int rc = files_replace_at(AT_FDCWD, h->info_path, line, n + 1, 1, err, errlen);
	free(line);
	if (rc != 0)
		return -1;
	h->info_written = 1;
	return 0;
}

/* Removes DIR/http.json if it is still ours (another server may have taken over the folder). */
static void remove_info(httpd_t *h)
{
	json_error_t jerr;
	if (!h->info_written)
		return;
	json_t *o = json_load_file(h->info_path, 0, &jerr);
	if (o && json_integer_value(json_object_get(o, "pid")) == (json_int_t)getpid())
		unlink(h->info_path);
	json_decref(o);
}

httpd_t *httpd_start(const struct httpd_config *c, char *err, size_t errlen)
{
	char tpath[PATH_MAX + 64], terr[PATH_MAX + 1024];
	int wildcard;
	unsigned port;
	const char *spec = c->listen && *c->listen ? c->listen : HTTPD_DEFAULT_LISTEN;
	if (libload_mhd(err, errlen) != 0)
		return NULL;
	int fd = bind_listen(spec, err, errlen);
	if (fd < 0)
		return NULL;
	char name[128];
	bound_name(fd, name, sizeof name, &wildcard, &port);
	/* the default public URL: the bound address (loopback when bound to all addresses) */
	char defurl[200];
	if (wildcard)
		snprintf(defurl, sizeof defurl, "http://127.0.0.1:%u", port);
	else
		snprintf(defurl, sizeof defurl, "http://%s", name);
	struct httpd_config cc = *c;
	if (!cc.public_url || !*cc.public_url)
		cc.public_url = defurl;
	httpd_t *h = api_new(&cc, err, errlen);
	if (!h) {
		close(fd);
		return NULL;
	}
	h->listen_fd = fd;
	h->port = port;
	snprintf(h->listen, sizeof h->listen, "%s", name);

	int rc = tokens_bootstrap(h->dir, tpath, sizeof tpath, terr, sizeof terr);
	if (rc < 0) {
		snprintf(err, errlen, "%s", terr);
		httpd_stop(h);
		return NULL;
	}
	if (rc == 1) {
		log_info("made the first API token, `admin'; it is in %s (mode 0600): use it as "
			 "Authorization: Bearer TOKEN, and `ringcap token add NAME' for more",
			 tpath);
		audit(h, "token_added", json_pack("{s:s,s:s}", "name", "admin", "actor", "server"));
	}

	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	if (MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES)
		flags |= MHD_USE_EPOLL;
	else
		flags |= MHD_USE_POLL;
	h->watch = calloc(1, sizeof *h->watch);
	if (!h->watch) {
		snprintf(err, errlen, "out of memory");
		httpd_stop(h);
		return NULL;
	}
	pthread_mutex_init(&h->watch->mu, NULL);
	pthread_cond_init(&h->watch->cv, NULL);
	for (size_t i = 0; i < sizeof h->watch->slot / sizeof h->watch->slot[0]; i++)
		h->watch->slot[i].fd = -1;
	h->mhd = MHD_start_daemon(
	    flags, 0, NULL, NULL, on_request, h, MHD_OPTION_LISTEN_SOCKET, fd,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)4, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)CONN_MAX, MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)CONN_PER_ADDR,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT_S,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)MEMORY_LIMIT, MHD_OPTION_URI_LOG_CALLBACK,
	    on_uri, h, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_NOTIFY_CONNECTION,
	    on_connection, h, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h, MHD_OPTION_END);
	if (!h->mhd) {
		snprintf(err, errlen, "cannot start the HTTP server on `%s' (libmicrohttpd)", spec);
		httpd_stop(h);
		return NULL;
	}
	h->listen_fd = -1; /* libmicrohttpd closes it when it stops */
	if (pthread_create(&h->watch->thread, NULL, watchdog, h) != 0) {
		snprintf(err, errlen, "cannot start the HTTP request watchdog thread");
		httpd_stop(h);
		return NULL;
	}
	h->watch->running = 1;
	if (write_info(h, terr, sizeof terr) != 0)
		log_warn("%s; `ringcap url' will not know this server's address", terr);
	if (wildcard && (!c->public_url || !*c->public_url))
		log_info("serving on all addresses: signed URLs use %s; set --public-url to the "
			 "address others reach",
			 defurl);
	return h;
}

void httpd_stop(httpd_t *h)
{
	if (!h)
		return;
	if (h->watch && h->watch->running) {
		pthread_mutex_lock(&h->watch->mu);
		h->watch->stop = 1;
		pthread_cond_signal(&h->watch->cv);
		pthread_mutex_unlock(&h->watch->mu);
		pthread_join(h->watch->thread, NULL);
		if (h->watch->cut)
			log_info("HTTP: %" PRIu64 " connection(s) closed for not sending a whole "
				 "request within %d s",
				 h->watch->cut, HEAD_DEADLINE_MS / 1000);
	}
	if (h->mhd)
		MHD_stop_daemon(h->mhd);
	if (h->watch) {
		pthread_mutex_destroy(&h->watch->mu);
		pthread_cond_destroy(&h->watch->cv);
		free(h->watch);
	}
	if (h->listen_fd >= 0)
		close(h->listen_fd);
	remove_info(h);
	guard_free(h->guard); /* writes the denials still counted */
	tokens_close(h->tokens);
	free(h);
}
