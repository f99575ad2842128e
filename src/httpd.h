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
 *   token: 401 with WWW-Authenticate: Bearer. Tokens: tokens.h.
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
 *           (one range; 416 when unsatisfiable). 400 malformed, 404 unknown incident, 403 bad or
 *           tampered signature, 410 expired URL or expired capture.
 *   POST /api/v1/captures        body {"seconds": 1..3600 (30), "packets": 1..1000000 (10000)}
 *        -> 201 {"id": N, "seconds": S, "packets": P}; 503 when no agent captures on DIR.
 *   GET  /api/v1/status
 *        -> {"mode": "capture"|"stats-only"|"review", "source", "packets", "bytes", "dropped",
 *            "ifdropped", "incident_open", "rates": {"pps","bps","tcp_pps","udp_pps","icmp_pps",
 *            "syn_pps"}, "thresholds": {"pps","mbps","syn_pps","udp_pps","icmp_pps","host_pps",
 *            "host_mbps"}, "version", "retention_days", "url_ttl_seconds"}
 *            ("review" when no agent answers on DIR/control.sock: counters are then absent)
 *   GET  /api/v1/audit?limit=N&before=SEQ       -> {"records": [...newest first], "total": N,
 *                                                   "next_before": SEQ or null}
 *   GET  /api/v1/audit/verify                   -> {"ok": bool, "report": TEXT}
 *   Anything else under /api: 404; a method not allowed: 405; malformed: 400; body > 4 KiB: 413.
 *
 * Signed URLs (urlsign.h) are valid for URL_TTL_SECONDS (default 900). Query strings are never
 * written to logs. Every URL issued, download (start, completion), denied request and manual
 * capture is written to the audit trail (audit.h) with the token's name as actor.
 * While serving, DIR/http.json holds {"listen": ADDR:PORT, "public_url": URL, "pid": PID}, so
 * `ringcap url' builds URLs on the configured address.
 */
#ifndef RINGCAP_HTTPD_H
#define RINGCAP_HTTPD_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define HTTPD_DEFAULT_LISTEN "127.0.0.1:8080"
#define HTTPD_INFO_FILE "http.json"
#define HTTPD_DEFAULT_TTL 900

typedef struct httpd httpd_t;

struct httpd_config {
	const char *listen;     /* "ADDR:PORT", "[V6ADDR]:PORT" or ":PORT" (all addresses) */
	const char *public_url; /* base of signed URLs; NULL: http://LISTEN */
	store_t *store;
	int64_t url_ttl_s;      /* URL_TTL_SECONDS */
};

/* Starts serving. Returns NULL with a message in err (address in use, bad address...). */
httpd_t *httpd_start(const struct httpd_config *c, char *err, size_t errlen);

/* The address actually bound ("127.0.0.1:8080"; with port 0 the port the kernel chose). */
const char *httpd_address(const httpd_t *h);

/* Stops serving (waits for requests in progress), removes DIR/http.json. NULL-safe. */
void httpd_stop(httpd_t *h);

#endif
