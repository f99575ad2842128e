/*
 * fuzz_http.c - the HTTP API's request handling (api_handle: target and path parsing with
 * percent-decoding and traversal checks, routing, bearer tokens, query strings, signed-URL
 * parsing and verification, Range headers, JSON bodies) and the download reader, without
 * libmicrohttpd.
 *
 * Input: a raw request, roughly HTTP/1.1:
 *   METHOD SP TARGET [SP anything]\n      (the target is passed as is: not decoded)
 *   Name: value\n ...                      (headers; "\r\n" works too)
 *   \n
 *   BODY                                   (the rest; more than API_BODY_MAX sets too-large)
 * A request without a Host header gets "Host: 127.0.0.1:8080" (the API's own address); each
 * input comes from another client address (10.x.y.z), so one input's failed authentications do
 * not throttle the next. Stand-ins make the interesting paths reachable: "@TOKEN@" in a header value is replaced by a
 * valid API token; "@SIGNED@" in the target by a valid signed query for the incident id that
 * follows "/incidents/" (default 1), "@EXPIRED@" by one that expired.
 *
 * The store is a temporary folder (under /dev/shm when it exists) holding incident 1 (a sealed
 * capture of several vault segments), 2 (no capture) and 3 (sealed, then expired), made once.
 * Every response must be a valid status with a JSON body (or a console file, or a download whose
 * reader delivers exactly download_len bytes); anything else aborts. FUZZ_HTTP_TRACE=1 prints
 * each input's status.
 */
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/httpd.h"
#include "base/log.h"
#include "vault/store.h"
#include "vault/tokens.h"
#include "vault/urlsign.h"

#define INPUT_MAX 65536
#define MAX_HEADERS 32

static char dir[256];
static store_t *store;
static httpd_t *api;
static char token[TOKEN_LEN + 1];
static int ready;

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

static void cleanup(void)
{
	httpd_stop(api);
	store_close(store);
	api = NULL;
	store = NULL;
	if (dir[0])
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A plaintext "capture" of n bytes: a pcap header and packets of filler, as ID.pcap.part. */
static int write_part(long id, size_t n)
{
	char p[400];
	snprintf(p, sizeof p, "%s/incidents/%ld.pcap.part", dir, id);
	FILE *f = fopen(p, "wb");
	if (!f)
		return -1;
	static const uint8_t hdr[24] = {0xd4, 0xc3, 0xb2, 0xa1, 2,    0,    4, 0, 0, 0, 0, 0,
					0,    0,    0,	  0,	0xff, 0xff, 0, 0, 1, 0, 0, 0};
	fwrite(hdr, 1, sizeof hdr, f);
	for (size_t i = sizeof hdr; i < n; i++)
		fputc((int)(i * 7 % 251), f);
	return fclose(f);
}

static json_t *meta(long id, const char *state, long packets)
{
	return json_pack("{s:I,s:s,s:{s:s},s:s,s:s,s:s,s:I,s:b,s:I,s:I,s:f}", "id", (json_int_t)id,
			 "state", state, "trigger", "threshold", "syn_pps", "classification",
			 "syn_flood", "started_at", "2024-01-01T00:00:06Z", "resolved_at",
			 "2024-01-01T00:00:10Z", "pcap_packets", (json_int_t)packets, "cap_reached",
			 0, "max_packets", (json_int_t)10000, "pcap_bytes", (json_int_t)200000,
			 "duration_s", 4.0);
}

static int setup(void)
{
	char err[1024];
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
	snprintf(dir, sizeof dir, "%s/fuzz_http.XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(dir)) {
		dir[0] = '\0';
		return -1;
	}
	/* the store is closed at exit, so OpenSSL must not clean itself up before */
	OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL);
	atexit(cleanup);
	unsetenv(KEYS_ENV);
	unsetenv(STORE_NOW_ENV);
	log_set_level(LOG_ERR);
	struct store_config sc = {
	    .dir = dir, .retention_ns = 7 * 86400 * 1000000000LL, .worker = 1};
	store = store_open(&sc, err, sizeof err);
	if (!store) {
		fprintf(stderr, "fuzz_http: %s\n", err);
		return -1;
	}
	if (write_part(1, 200000) != 0 || write_part(3, 1000) != 0)
		return -1;
	store_meta(store, 1, meta(1, "resolved", 2000), 1);
	store_meta(store, 2, meta(2, "resolved", 0), 1);
	store_meta(store, 3, meta(3, "resolved", 10), 1);
	store_seal(store, 1, "1.pcap.part", "pcap");
	store_seal(store, 3, "3.pcap.part", "pcap");
	store_drain(store);
	if (db_mark_deleted(store_db(store), 3, store_now_ns(), "retention", err, sizeof err) != 0)
		fprintf(stderr, "fuzz_http: %s\n", err);
	if (tokens_add_role(dir, "fuzz", TOKEN_ADMIN, token, err, sizeof err) != 0) {
		fprintf(stderr, "fuzz_http: %s\n", err);
		return -1;
	}
	struct httpd_config hc = {.listen = NULL,
				  .public_url = "http://127.0.0.1:8080",
				  .store = store,
				  .url_ttl_s = 900};
	api = api_new(&hc, err, sizeof err);
	if (!api) {
		fprintf(stderr, "fuzz_http: %s\n", err);
		return -1;
	}
	return 0;
}

struct hdrs {
	const char *name[MAX_HEADERS], *value[MAX_HEADERS];
	int n;
};

static const char *get_header(void *arg, const char *name)
{
	const struct hdrs *h = arg;
	for (int i = 0; i < h->n; i++)
		if (strcasecmp(h->name[i], name) == 0)
			return h->value[i];
	return strcasecmp(name, "Host") == 0 ? "127.0.0.1:8080" : NULL;
}

/* Replaces the first `what' in *s (malloc'd) by `with'. */
static void subst(char **s, size_t *len, const char *what, const char *with)
{
	char *p = memmem(*s, *len, what, strlen(what));
	if (!p)
		return;
	size_t wl = strlen(what), nl = strlen(with), at = (size_t)(p - *s);
	char *n = malloc(*len - wl + nl + 1);
	if (!n)
		return;
	memcpy(n, *s, at);
	memcpy(n + at, with, nl);
	memcpy(n + at + nl, *s + at + wl, *len - at - wl);
	*len = *len - wl + nl;
	n[*len] = '\0';
	free(*s);
	*s = n;
}

static void signed_query(const char *target, size_t len, int64_t exp, char *out, size_t outlen)
{
	long id = 1;
	const char *p = memmem(target, len, "/incidents/", 11);
	if (p) {
		long v = strtol(p + 11, NULL, 10);
		if (v >= 1 && v <= URLSIGN_ID_MAX)
			id = v;
	}
	uint8_t key[VAULT_KEY_LEN];
	char kid[VAULT_KEY_ID_MAX + 1], err[256];
	struct urlsign_params sp;
	out[0] = '\0';
	if (store_url_key(store, NULL, key, kid) == 0 &&
	    urlsign_sign(key, kid, id, exp, &sp, err, sizeof err) == 0)
		urlsign_query(&sp, out, outlen);
}

static void check_response(const struct api_response *rs)
{
	if (rs->status < 200 || rs->status > 599)
		abort();
	if (rs->download) {
		if (rs->status != 200 && rs->status != 206)
			abort();
		return;
	}
	if (rs->static_body)
		return;
	json_error_t jerr;
	json_t *o = json_loadb(rs->body, rs->body_len, 0, &jerr);
	if (!o || !rs->content_type || strcmp(rs->content_type, "application/json") != 0)
		abort();
	if (rs->status >= 400 && (!json_is_string(json_object_get(o, "error")) ||
				  json_integer_value(json_object_get(o, "status")) != rs->status))
		abort();
	json_decref(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[INPUT_MAX + 1];
	if (!ready) {
		if (setup() != 0)
			abort();
		ready = 1;
	}
	if (size > INPUT_MAX)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';

	/* request line */
	char *line_end = memchr(buf, '\n', size);
	size_t ll = line_end ? (size_t)(line_end - buf) : size;
	char *sp = memchr(buf, ' ', ll);
	if (!sp)
		return 0;
	*sp = '\0';
	const char *method = buf;
	char *t0 = sp + 1;
	size_t tl = ll - (size_t)(t0 - buf);
	if (tl && t0[tl - 1] == '\r')
		tl--;
	char *sp2 = memchr(t0, ' ', tl);
	if (sp2)
		tl = (size_t)(sp2 - t0);
	char *target = malloc(tl + 1);
	if (!target)
		return 0;
	memcpy(target, t0, tl);
	target[tl] = '\0';
	if (memmem(target, tl, "@SIGNED@", 8) || memmem(target, tl, "@EXPIRED@", 9)) {
		char q[URLSIGN_QUERY_MAX];
		int64_t now = store_now_ns() / 1000000000LL;
		signed_query(target, tl, now + 900, q, sizeof q);
		subst(&target, &tl, "@SIGNED@", q);
		signed_query(target, tl, now - 10, q, sizeof q);
		subst(&target, &tl, "@EXPIRED@", q);
	}

	/* headers, then the body */
	struct hdrs h = {.n = 0};
	char *valcopy[MAX_HEADERS] = {0};
	char *p = line_end ? line_end + 1 : buf + size, *end = buf + size;
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *le = nl ? nl : end;
		char *next = nl ? nl + 1 : end;
		if (le > p && le[-1] == '\r')
			le--;
		if (le == p) { /* blank line: the body follows */
			p = next;
			break;
		}
		*le = '\0';
		char *colon = strchr(p, ':');
		if (colon && h.n < MAX_HEADERS) {
			*colon = '\0';
			char *v = colon + 1;
			while (*v == ' ')
				v++;
			if (strstr(v, "@TOKEN@")) {
				size_t vl = strlen(v);
				char *c = strdup(v);
				if (c) {
					subst(&c, &vl, "@TOKEN@", token);
					valcopy[h.n] = c;
					v = c;
				}
			}
			h.name[h.n] = p;
			h.value[h.n] = v;
			h.n++;
		}
		p = next;
	}
	size_t body_len = p < end ? (size_t)(end - p) : 0;
	static unsigned inputs;
	char client[32];
	inputs++;
	snprintf(client, sizeof client, "10.%u.%u.%u", inputs >> 16 & 255, inputs >> 8 & 255,
		 inputs & 255);
	int ncl = 0, nte = 0;
	for (int i = 0; i < h.n; i++) {
		ncl += strcasecmp(h.name[i], "Content-Length") == 0;
		nte += strcasecmp(h.name[i], "Transfer-Encoding") == 0;
	}
	struct api_request rq = {
	    .method = method,
	    .target = target,
	    .target_len = tl,
	    .header = get_header,
	    .header_arg = &h,
	    .body = p < end ? p : "",
	    .body_len = body_len > API_BODY_MAX ? 0 : body_len,
	    .body_too_large = body_len > API_BODY_MAX,
	    .client = client,
	    .framing_conflict = ncl > 1 || (ncl && nte),
	};
	struct api_response rs;
	api_handle(api, &rq, &rs);
	check_response(&rs);
	if (getenv("FUZZ_HTTP_TRACE")) /* see what each input reaches */
		fprintf(stderr, "%d %.*s %.80s\n", rs.status, (int)(tl < 100 ? tl : 100), target,
			rs.body ? rs.body : "");
	if (rs.download) {
		/* read it all in uneven steps, as libmicrohttpd would */
		static char out[70000];
		uint64_t pos = 0;
		size_t step = 1000 + size % 65536;
		for (;;) {
			long n = api_download_read(rs.download, pos, out, step);
			if (n < 0)
				abort(); /* the sealed file is intact: no error expected */
			if (n == 0)
				break;
			pos += (uint64_t)n;
			step = step == 1000 ? 65536 : 1000;
		}
		if (pos != rs.download_len)
			abort();
	}
	api_response_clear(&rs);
	for (int i = 0; i < MAX_HEADERS; i++)
		free(valcopy[i]);
	free(target);
	return 0;
}
