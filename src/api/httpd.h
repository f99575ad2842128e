/*
 * httpd.h - the HTTP API (libmicrohttpd), served by `ringcap run' and `ringcap serve'.
 *
 * DESIGN: libmicrohttpd runs its own threads (a small pool, bounded connections, per-connection
 * memory limit for headers, timeouts); every request goes through one routing function that does
 * not depend on libmicrohttpd (api_* in httpd.c), so the handling paths can be fuzzed. The API
 * reads the index and the sealed files through the store (store.h), writes the audit trail, and
 * reaches the capture loop for status and manual captures through the agent's control socket
 * (ctl.h: "status", "capture seconds=N packets=N actor=NAME client=ADDR"), so `ringcap serve'
 * over a DIR whose agent runs elsewhere (or not at all) serves the same API.
 *
 * API (JSON, versioned under /api/v1; every error is {"error": MESSAGE, "status": CODE}):
 *   Authorization: Bearer TOKEN on every request except the signed download. Missing or unknown
 *   token: 401 with WWW-Authenticate: Bearer. Tokens: tokens.h; on the first start of a server
 *   over a DIR without any token, httpd_start() makes one named "admin" in DIR/admin.token (0600).
 *
 *   GET  /api/v1/incidents?limit=N&before=ID     newest first; limit 1..200 (default 50)
 *        -> {"incidents": [SUMMARY...], "total": N, "next_before": ID or null}
 *        SUMMARY = {"id", "state", "trigger", "classification", "started_at", "resolved_at",
 *                   "duration_s", "pcap_packets", "max_packets", "cap_reached", "pcap_bytes",
 *                   "storage": STORAGE}
 *   GET  /api/v1/incidents/{id}
 *        -> {"incident": METADATA (the ID.json object), "storage": STORAGE,
 *            "rates": [{"t": RFC3339, "pps": N, "bps": N}, ...] (ID.rates.jsonl, at most 86400)}
 *        STORAGE = {"state": "sealed"|"pending"|"expired"|"none", "encrypted": bool,
 *                   "file": "7.pcap.enc" or null, "format": "pcap"|"pcapng"|null,
 *                   "plain_bytes", "sealed_bytes", "sha256", "key_id", "sealed_at",
 *                   "retention_days", "expires_at" (RFC 3339 or null), "export": null}
 *   POST /api/v1/incidents/{id}/download-url     body optional {"ttl_seconds": N} (1..URL_TTL)
 *        -> 201 {"url": ABSOLUTE_URL, "path": "/api/v1/incidents/7/pcap?...", "url_id": HEX,
 *                "expires_at": RFC3339, "expires_in": SECONDS, "filename": "incident-7.pcap",
 *                "wget": "wget -O incident-7.pcap \"URL\""}
 *        404 unknown incident, 409 no capture yet, 410 capture expired.
 *   GET  /api/v1/incidents/{id}/pcap?kid=K&exp=E&uid=U&sig=S   (no token: the signature is it)
 *        -> 200/206 application/vnd.tcpdump.pcap (or application/x-pcapng), Content-Disposition:
 *           attachment; filename="incident-7.pcap", Accept-Ranges: bytes, Range supported
 *           (one range: bytes=A-B, A-, -N; 416 when unsatisfiable; several ranges or a bad Range
 *           header get the whole file). Checked in this order: 400 malformed query, 404 unknown
 *           incident, 403 bad or tampered signature or unknown key id, 410 expired URL, 410
 *           expired capture, 409 no capture. A sealed segment that does not verify ends the
 *           response early (never an unverified byte).
 *   POST /api/v1/captures        body {"seconds": 1..3600 (30), "packets": 1..1000000 (10000)}
 *        -> 201 {"id": N, "seconds": S, "packets": P}; 503 when no agent captures on DIR; 409
 *        when the agent refuses (its message: statistics-only mode, too many captures open).
 *   GET  /api/v1/status
 *        -> {"mode": "capture"|"stats-only"|"review", "source", "packets", "bytes", "dropped",
 *            "ifdropped", "incident_open", "rates": {"pps","bps","tcp_pps","udp_pps","icmp_pps",
 *            "syn_pps"}, "thresholds": {"pps","mbps","syn_pps","udp_pps","icmp_pps","host_pps",
 *            "host_mbps"}, "version", "retention_days", "url_ttl_seconds"}
 *            ("review" when no agent answers on DIR/control.sock: counters are then absent)
 *   GET  /api/v1/audit?limit=N&before=SEQ       -> {"records": [...newest first], "total": N,
 *                                                   "next_before": SEQ or null}
 *   GET  /api/v1/audit/verify                   -> {"ok": bool, "report": TEXT}
 *   GET  /, /app.js, ... the console (webui.h), without a token; Cache-Control: no-store,
 *        Content-Security-Policy: default-src 'self'.
 *   Anything else under /api: 404; a method not allowed: 405 (Allow); malformed: 400 (path
 *   traversal: `.'/`..' segments, encoded `/' `\' or NUL, control or non-ASCII bytes; ids other
 *   than 1..10^9 without leading zeros); body > 4 KiB: 413; other paths: 404. Every response has
 *   X-Content-Type-Options: nosniff; JSON ones Cache-Control: no-store.
 *   Limits (libmicrohttpd): 4 threads, 64 connections (32 per client address), 30 s idle
 *   timeout, 64 KiB per connection (bigger request headers get 431 from libmicrohttpd).
 *
 * Signed URLs (urlsign.h) are valid for URL_TTL_SECONDS (default 900). Query strings are never
 * written to logs. Every URL issued, download (start, completion), denied request and manual
 * capture is written to the audit trail (audit.h) with the token's name as actor; when the
 * url_issued or download_started record cannot be written, no URL is issued and no download
 * starts (500).
 * While serving, DIR/http.json holds {"listen": ADDR:PORT, "public_url": URL, "pid": PID}, so
 * `ringcap url' builds URLs on the configured address (removed at stop if it is still ours).
 */
#ifndef RINGCAP_HTTPD_H
#define RINGCAP_HTTPD_H

#include <stddef.h>
#include <stdint.h>

#include "vault/store.h"

#define HTTPD_DEFAULT_LISTEN "127.0.0.1:8080"
#define HTTPD_INFO_FILE "http.json"
#define HTTPD_DEFAULT_TTL 900

typedef struct httpd httpd_t;

struct httpd_config {
	const char *listen;	/* "ADDR:PORT", "[V6ADDR]:PORT" or ":PORT" (all addresses) */
	const char *public_url; /* base of signed URLs; NULL: http://LISTEN */
	store_t *store;
	int64_t url_ttl_s; /* URL_TTL_SECONDS */
};

/* Starts serving. Returns NULL with a message in err (address in use, bad address...). */
httpd_t *httpd_start(const struct httpd_config *c, char *err, size_t errlen);

/* The address actually bound ("127.0.0.1:8080"; with port 0 the port the kernel chose). */
const char *httpd_address(const httpd_t *h);

/* Stops serving (waits for requests in progress), removes DIR/http.json. NULL-safe. */
void httpd_stop(httpd_t *h);

/*
 * ---- The routing, without libmicrohttpd (fuzz/fuzz_http.c drives it directly) ----
 *
 * httpd.c's libmicrohttpd callbacks only gather a request (the raw request target as received,
 * through MHD_OPTION_URI_LOG_CALLBACK, so that percent-encoding and the query string are parsed
 * here and nowhere else), call api_handle(), and turn the response into an MHD response, with
 * api_download_read() as the content reader of a download and api_download_end() as its free
 * callback.
 */
#define API_BODY_MAX 4096   /* request bodies beyond this get 413 */
#define API_TARGET_MAX 2048 /* request targets (path and query) beyond this get 400 */
#define API_HEADERS_MAX 12

/* Looks up a request header by name (case-insensitive); NULL when absent. */
typedef const char *(*api_header_fn)(void *arg, const char *name);

struct api_request {
	const char *method; /* "GET", "POST", ... as received */
	const char *target; /* raw request target: "/api/v1/x?y", not percent-decoded */
	size_t target_len;  /* its length (a NUL inside is seen and refused) */
	api_header_fn header;
	void *header_arg;
	const char *body; /* the request body (not NUL-terminated) */
	size_t body_len;
	int body_too_large; /* the client sent more than API_BODY_MAX bytes */
	int framing_conflict; /* several Content-Length, or one with Transfer-Encoding: 400 */
	const char *client; /* the peer's address, "127.0.0.1" or "::1" */
};

struct api_download;

struct api_response {
	int status;
	const char *content_type;
	struct {
		const char *name;
		char value[192];
	} headers[API_HEADERS_MAX];
	int nheaders;
	char *body;			  /* malloc'd, body_len bytes (JSON); or NULL */
	const unsigned char *static_body; /* or a console file held in the binary (not freed) */
	size_t body_len;
	struct api_download *download; /* or a capture download of download_len bytes */
	uint64_t download_len;
};

/*
 * The API over c->store without a listening socket (c->listen is ignored; the public URL is
 * c->public_url or http://127.0.0.1:8080). Returns NULL with a message in err. Free it with
 * httpd_stop().
 */
httpd_t *api_new(const struct httpd_config *c, char *err, size_t errlen);

/*
 * Handles one request into *rs (filled whole; release it with api_response_clear()). Never
 * fails: every error is a response. Thread-safe. A download's download_started record is written
 * here, and its download_completed record by api_download_end().
 */
void api_handle(httpd_t *h, const struct api_request *rq, struct api_response *rs);

/*
 * The next bytes of a download, from pos (bytes already taken: reads are sequential) into buf
 * (at most max bytes): returns the count (> 0), 0 at the end, or -1 when the sealed file does not
 * verify or cannot be read (the error is logged; no unverified byte is ever returned).
 */
long api_download_read(struct api_download *d, uint64_t pos, char *buf, size_t max);

/* Writes the download_completed audit record (bytes, sha256 of them, complete) and frees d. */
void api_download_end(struct api_download *d);

/* Writes the denial counts whose interval ended (guard.h); the server calls it every second. */
void api_tick(httpd_t *h);

/* Frees what rs holds (a download not handed over is ended). */
void api_response_clear(struct api_response *rs);

#endif
