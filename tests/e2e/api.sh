#!/bin/bash
# The HTTP API over a folder sealed by `ringcap run -r': `ringcap serve' on a free loopback port;
# the first-start admin token; tokens (401 without or with a wrong one, revoke on a running
# server); list and detail; a signed URL and a download equal byte for byte to `ringcap incident
# pcap'; Range requests (206, suffix, open, across a vault segment, 416); every changed character
# of kid/exp/uid/sig -> 403, another id -> 404; an expired URL -> 410; path traversal -> 400/404;
# malformed requests (huge header, bad JSON, body > 4 KiB, unknown method) -> 4xx with the server
# still answering; status and manual captures with and without an agent (a stand-in agent on
# control.sock); `ringcap url' and `ringcap token'; the audit trail (url_issued,
# download_started/completed with the file's SHA-256, request_denied, no query strings) and
# `ringcap audit verify'.
. "$(dirname "$0")/lib.sh"
D=$WORK/d
"$RINGCAP" run -q -r "$ROOT/tests/data/demo-synflood.pcap" -o "$D" >"$WORK/run.out" 2>"$WORK/run.err"
check run-sealed test -f "$D/incidents/1.pcap.enc" -a -f "$D/index.db"
"$RINGCAP" incident pcap 1 -o "$D" -w "$WORK/plain.pcap" 2>"$WORK/export.err"
check export-plain test -s "$WORK/plain.pcap"
SIZE=$(stat -c %s "$WORK/plain.pcap")
SHA=$(sha256sum "$WORK/plain.pcap" | cut -d' ' -f1)

# -- the server, on a port the kernel picks; its address from DIR/http.json
start_server() {
	rm -f "$D/http.json"
	"$RINGCAP" serve -o "$D" --http 127.0.0.1:0 "$@" >"$WORK/serve.out" 2>>"$WORK/serve.err" &
	SPID=$!
	local i
	for ((i = 0; i < 100; i++)); do
		[[ -f $D/http.json ]] && [[ $(jq -r .pid "$D/http.json" 2>/dev/null) == "$SPID" ]] && break
		sleep 0.1
	done
	B=$(jq -r .public_url "$D/http.json" 2>/dev/null)
}
start_server
check serve-info-file test -n "$B" -a "$(jq -r .listen "$D/http.json")" != "127.0.0.1:0"
# an idle server sleeps: its threads wait on their deadlines (a condition variable waiting on
# the wrong clock once made the store's worker spin on two cores)
c0=$(cpu_ticks "$SPID"); sleep 2; c1=$(cpu_ticks "$SPID")
check serve-idle-no-cpu test "$((c1 - c0))" -lt 20
check admin-token-file test "$(stat -c %a "$D/admin.token" 2>/dev/null)" = 600
ADMIN=$(cat "$D/admin.token" 2>/dev/null)
check admin-token-shape bash -c "[[ '$ADMIN' =~ ^rct_[A-Za-z0-9_-]{43}$ ]]"
check admin-path-logged grep -q "$D/admin.token" "$WORK/serve.err"
check admin-token-not-logged bash -c "! grep -qF '${ADMIN:-none}' '$WORK/serve.err'"
check tokens-file-hashes-only bash -c "test \"\$(stat -c %a '$D/tokens')\" = 600 && ! grep -qF '${ADMIN:-none}' '$D/tokens'"

TOK=$("$RINGCAP" token add ops -o "$D" 2>"$WORK/tokadd.err")
check token-add bash -c "[[ '$TOK' =~ ^rct_[A-Za-z0-9_-]{43}$ ]]"
check token-list bash -c "'$RINGCAP' token list -o '$D' | grep -qE '^ops +operator +20[0-9-]+T'"
check token-list-no-hash bash -c "! '$RINGCAP' token list -o '$D' | grep -qE '[0-9a-f]{64}'"
"$RINGCAP" token add ops -o "$D" >/dev/null 2>&1; rc=$?
check token-add-duplicate test $rc = 1
"$RINGCAP" token add 'bad name' -o "$D" >/dev/null 2>&1; rc=$?
check token-add-bad-name test $rc = 2

# code METHOD PATH [curl options...]: prints the HTTP status
code() { local m=$1 p=$2; shift 2; curl -s -o "$WORK/body" -w '%{http_code}' -X "$m" "$@" "$B$p"; }
# tcode: code from another loopback address each time (127.0.1.N): bad signatures are failed
# authentications, and five of them from one address get it throttled (429; abuse.sh tests that)
# (the counter is a file: tcode runs in $(...), a subshell)
echo 0 >"$WORK/src"
tcode() {
	local n=$(($(cat "$WORK/src") + 1))
	echo "$n" >"$WORK/src"
	code "$@" --interface "127.0.1.$n"
}
auth=(-H "Authorization: Bearer $TOK")
check no-token-401 test "$(code GET /api/v1/incidents)" = 401
check no-token-www-authenticate bash -c "curl -s -D - -o /dev/null '$B/api/v1/incidents' | grep -qi '^WWW-Authenticate: Bearer'"
check wrong-token-401 test "$(code GET /api/v1/incidents -H "Authorization: Bearer rct_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")" = 401
check basic-auth-401 test "$(code GET /api/v1/status -u admin:admin)" = 401
check error-shape test "$(jq -r .status "$WORK/body")" = 401
check admin-token-works test "$(code GET /api/v1/status -H "Authorization: Bearer $ADMIN")" = 200

# -- list and detail
check list-200 test "$(code GET /api/v1/incidents "${auth[@]}")" = 200
check list-one test "$(jq '.incidents | length' "$WORK/body")" = 1
check list-total test "$(jq .total "$WORK/body")" = 1
check list-summary test "$(jq -r '.incidents[0] | "\(.id) \(.classification) \(.storage.state) \(.storage.sha256)"' "$WORK/body")" = "1 syn_flood sealed $SHA"
check list-limit-400 test "$(code GET '/api/v1/incidents?limit=201' "${auth[@]}")" = 400
check list-before test "$(code GET '/api/v1/incidents?before=1' "${auth[@]}")" = 200 -a "$(jq '.incidents | length' "$WORK/body")" = 0
check detail-200 test "$(code GET /api/v1/incidents/1 "${auth[@]}")" = 200
check detail-fields test "$(jq -r '"\(.incident.id) \(.storage.plain_bytes) \(.rates | length > 0)"' "$WORK/body")" = "1 $SIZE true"
check detail-404 test "$(code GET /api/v1/incidents/2 "${auth[@]}")" = 404
check detail-nosniff bash -c "curl -s -D - -o /dev/null -H 'Authorization: Bearer $TOK' '$B/api/v1/incidents/1' | grep -qi '^X-Content-Type-Options: nosniff'"

# -- a signed URL and the download
check download-url-201 test "$(code POST /api/v1/incidents/1/download-url "${auth[@]}")" = 201
URL=$(jq -r .url "$WORK/body")
UID_=$(jq -r .url_id "$WORK/body")
check download-url-base test "${URL%%/api/*}" = "$B"
check download-url-wget test "$(jq -r .wget "$WORK/body")" = "wget -O incident-1.pcap \"$URL\""
check download-url-ttl test "$(code POST /api/v1/incidents/1/download-url "${auth[@]}" -d '{"ttl_seconds": 60}')" = 201 -a "$(jq .expires_in "$WORK/body")" = 60
check download-url-ttl-too-long test "$(code POST /api/v1/incidents/1/download-url "${auth[@]}" -d '{"ttl_seconds": 901}')" = 400
check download-url-404 test "$(code POST /api/v1/incidents/7/download-url "${auth[@]}")" = 404
check download-url-needs-token test "$(code POST /api/v1/incidents/1/download-url)" = 401
curl -s -D "$WORK/dl.h" -o "$WORK/dl.pcap" "$URL"
check download-200 grep -q '^HTTP/1.1 200' "$WORK/dl.h"
check download-equal cmp -s "$WORK/dl.pcap" "$WORK/plain.pcap"
check download-type grep -qi '^Content-Type: application/vnd.tcpdump.pcap' "$WORK/dl.h"
check download-disposition grep -qi '^Content-Disposition: attachment; filename="incident-1.pcap"' "$WORK/dl.h"
check download-accept-ranges grep -qi '^Accept-Ranges: bytes' "$WORK/dl.h"
check download-no-token-needed test "$(code GET "${URL#$B}")" = 200

# range A B (curl range syntax) SKIP COUNT: the body equals those bytes of the file
range() {
	curl -s -D "$WORK/r.h" -o "$WORK/r.bin" -H "Range: bytes=$1" "$URL"
	grep -q '^HTTP/1.1 206' "$WORK/r.h" &&
		cmp -s "$WORK/r.bin" <(tail -c +$(($2 + 1)) "$WORK/plain.pcap" | head -c "$3")
}
check range-first-100 range 0-99 0 100
check range-middle range 100-199 100 100
check range-across-segment range 65000-70000 65000 5001
check range-suffix range -1000 $((SIZE - 1000)) 1000
check range-open range $((SIZE - 10))- $((SIZE - 10)) 10
check range-past-end-clipped range 5-$((SIZE + 100)) 5 $((SIZE - 5))
check range-content-range grep -qi "^Content-Range: bytes 5-$((SIZE - 1))/$SIZE" "$WORK/r.h"
check range-416 test "$(code GET "${URL#$B}" -H "Range: bytes=$SIZE-")" = 416
check range-416-content-range bash -c "curl -s -D - -o /dev/null -H 'Range: bytes=$SIZE-' '$URL' | grep -qi '^Content-Range: bytes \*/$SIZE'"
check range-multi-served-whole test "$(code GET "${URL#$B}" -H "Range: bytes=0-1,5-9")" = 200

# -- tampering: one character of each parameter -> 403; another incident -> 403 too (the
# signature is checked before the index, so a missing incident looks like an existing one)
flip() { # the character at the end of parameter $1's value, changed to another of its set
	local v=${URL#*"$1="}; v=${v%%&*}; local last=${v: -1} new=1
	[[ $last == 1 ]] && new=2
	echo "${URL/"$1=$v"/"$1=${v%?}$new"}"
}
for p in kid exp uid sig; do
	t=$(flip $p)
	check "tampered-$p-403" test "$(tcode GET "${t#$B}")" = 403
done
check tampered-id-403 test "$(tcode GET "$(echo "${URL#$B}" | sed 's|/incidents/1/|/incidents/2/|')")" = 403
check tampered-sig-uppercase test "$(tcode GET "$(echo "${URL#$B}" | sed 's/sig=\(.\)/sig=X/')")" = 403
check malformed-query-400 test "$(tcode GET "${URL#$B}&x=1")" = 400
check missing-query-400 test "$(tcode GET /api/v1/incidents/1/pcap)" = 400
check unknown-incident-same-as-known-403 test "$(tcode GET '/api/v1/incidents/9/pcap?kid=a&exp=1&uid=b&sig=c')" = 403

# -- an expired URL: issued with the clock an hour back (RINGCAP_NOW), so it is already past
OLD=$(RINGCAP_NOW=$(($(date +%s) - 3600)) "$RINGCAP" url 1 -o "$D" 2>"$WORK/url-old.err" | head -n 1)
check expired-url-410 test "$(tcode GET "${OLD#$B}")" = 410
URL1=$("$RINGCAP" url 1 -o "$D" --ttl 1 2>/dev/null | head -n 1)
sleep 2.1
check expired-ttl-1-410 test "$(tcode GET "${URL1#$B}")" = 410

# -- ringcap url
"$RINGCAP" url 1 -o "$D" --ttl 120 >"$WORK/url.out" 2>"$WORK/url.err"; rc=$?
check url-exit-0 test $rc = 0
U2=$(head -n 1 "$WORK/url.out")
check url-uses-http-json test "${U2%%/api/*}" = "$B"
check url-expiry-line grep -qE '^expires at 20[0-9-]+T.* \(in 120 s\)' "$WORK/url.out"
check url-wget-line grep -qxF "wget -O incident-1.pcap \"$U2\"" "$WORK/url.out"
check url-downloads bash -c "curl -sf '$U2' | cmp -s - '$WORK/plain.pcap'"
check url-public-url test "$("$RINGCAP" url 1 -o "$D" --public-url https://vault.example:8443/ 2>/dev/null | head -n 1 | cut -d/ -f1-3)" = https://vault.example:8443
"$RINGCAP" url 99 -o "$D" >/dev/null 2>"$WORK/url99.err"; rc=$?
check url-unknown-incident test $rc = 1 -a -n "$(grep 'no incident 99' "$WORK/url99.err")"
"$RINGCAP" url abc -o "$D" >/dev/null 2>&1; rc=$?
check url-bad-id test $rc = 2
URL_TTL_SECONDS=abc "$RINGCAP" url 1 -o "$D" >/dev/null 2>"$WORK/ttl.err"; rc=$?
check url-bad-ttl-env test $rc = 2 -a -n "$(grep URL_TTL_SECONDS "$WORK/ttl.err")"

# -- path traversal
for p in '/api/v1/../../etc/passwd' '/%2e%2e/%2e%2e/etc/passwd' '/api/v1/incidents/1%2f..%2f..%2fkeys' \
	'/api/v1/incidents/..%5c..%5ckeys' '/index.html%00.js' '/api/v1/incidents/99999999999999999999' \
	'/keys/master.key' '/../tokens' '/api/v1/incidents/1/../../../../tokens'; do
	c=$(code GET "$p" --path-as-is "${auth[@]}")
	check "traversal-$(echo "$p" | tr -c 'a-z0-9' _)" test "$c" = 400 -o "$c" = 404
done

# -- malformed requests; the server answers afterwards
printf 'X-Big: %s\r\n' "$(head -c 100000 /dev/zero | tr '\0' a)" >"$WORK/bighdr"
c=$(curl -s -o /dev/null -w '%{http_code}' -H @"$WORK/bighdr" "${auth[@]}" "$B/api/v1/incidents")
check huge-header-4xx test "$c" -ge 400 -a "$c" -lt 500
check bad-json-400 test "$(code POST /api/v1/incidents/1/download-url "${auth[@]}" -d '{"ttl_seconds":')" = 400
check json-not-object-400 test "$(code POST /api/v1/incidents/1/download-url "${auth[@]}" -d '[]')" = 400
head -c 5000 /dev/zero | tr '\0' ' ' >"$WORK/big.json"
check body-over-4k-413 test "$(code POST /api/v1/incidents/1/download-url "${auth[@]}" --data-binary @"$WORK/big.json")" = 413
check unknown-method-405 test "$(code BREW /api/v1/incidents "${auth[@]}")" = 405
check delete-405 test "$(code DELETE /api/v1/incidents/1 "${auth[@]}")" = 405
check unknown-api-404 test "$(code GET /api/v1/nothing "${auth[@]}")" = 404
check unknown-page-404-json test "$(code GET /nothing.html)" = 404 -a "$(jq .status "$WORK/body")" = 404
check raw-garbage bash -c "printf 'GARBAGE\r\n\r\n' | timeout 5 curl -s telnet://${B#http://} >/dev/null; true"
check still-answers test "$(code GET /api/v1/status "${auth[@]}")" = 200

# -- the console
c=$(code GET /)
if [[ $c == 200 ]]; then
	curl -s -D "$WORK/c.h" -o /dev/null "$B/"
	check console-csp grep -qi "^Content-Security-Policy: default-src 'self'" "$WORK/c.h"
	check console-no-store grep -qi '^Cache-Control: no-store' "$WORK/c.h"
	check console-nosniff grep -qi '^X-Content-Type-Options: nosniff' "$WORK/c.h"
	check console-html grep -qi '^Content-Type: text/html' "$WORK/c.h"
else
	fail console-built-in "GET / -> $c"
fi

# -- status and manual captures: no agent, then a stand-in agent on control.sock
check status-review test "$(code GET /api/v1/status "${auth[@]}")" = 200 -a "$(jq -r .mode "$WORK/body")" = review
check status-no-counters test "$(jq 'has("packets")' "$WORK/body")" = false
check status-ttl test "$(jq .url_ttl_seconds "$WORK/body")" = 900
check capture-no-agent-503 test "$(code POST /api/v1/captures "${auth[@]}" -d '{"seconds": 5}')" = 503
check capture-bad-seconds-400 test "$(code POST /api/v1/captures "${auth[@]}" -d '{"seconds": 0}')" = 400
python3 - "$D/control.sock" "$WORK/agent.lines" <<'EOF' &
import json, os, socket, sys
path, log = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path); os.chmod(path, 0o600); s.listen(4); s.settimeout(60)
for _ in range(2):
    c, _ = s.accept(); line = c.makefile().readline().strip()
    open(log, "a").write(line + "\n")
    if line == "status":
        r = {"ok": True, "mode": "capture", "source": "eth9", "packets": 42, "bytes": 4200,
             "dropped": 0, "ifdropped": 0, "incident_open": False,
             "rates": {"pps": 1.0}, "thresholds": {"pps": 100000}}
    else:
        r = {"ok": True, "id": 7, "seconds": 5, "packets": 100}
    c.sendall((json.dumps(r) + "\n").encode()); c.close()
os.unlink(path)
EOF
APID=$!
for ((i = 0; i < 50; i++)); do [[ -S $D/control.sock ]] && break; sleep 0.1; done
check status-agent test "$(code GET /api/v1/status "${auth[@]}")" = 200 -a "$(jq -r '"\(.mode) \(.packets) \(.source) \(.version != null)"' "$WORK/body")" = "capture 42 eth9 true"
check capture-201 test "$(code POST /api/v1/captures "${auth[@]}" -d '{"seconds": 5, "packets": 100}')" = 201 -a "$(jq -c . "$WORK/body")" = '{"id":7,"seconds":5,"packets":100}'
wait $APID
check capture-line-actor-client grep -qx 'capture seconds=5 packets=100 actor=ops client=127.0.0.1' "$WORK/agent.lines"

# -- revoking a token takes effect on the running server
"$RINGCAP" token revoke ops -o "$D" 2>/dev/null
check revoked-401 test "$(code GET /api/v1/incidents "${auth[@]}")" = 401
"$RINGCAP" token revoke ops -o "$D" 2>/dev/null; rc=$?
check revoke-unknown test $rc = 1
check audit-list test "$(code GET '/api/v1/audit?limit=5' -H "Authorization: Bearer $ADMIN")" = 200 -a "$(jq '.records | length' "$WORK/body")" = 5

# -- a sealed segment damaged on disk: the download stops before it, never sends its bytes
E=$D/incidents/1.pcap.enc
cp "$E" "$WORK/sealed.bak"
python3 -c "import sys; f=open(sys.argv[1],'r+b'); f.seek(95 + 65552 + 100); b=f.read(1); f.seek(95 + 65552 + 100); f.write(bytes([b[0] ^ 1]))" "$E"
curl -s -o "$WORK/bad.pcap" "$URL"; rc=$?
n=$(stat -c %s "$WORK/bad.pcap" 2>/dev/null || echo 0)
check damaged-download-fails test $rc != 0 -a "$n" -lt "$SIZE"
check damaged-only-verified-bytes bash -c "test $n -le 65536 && cmp -s '$WORK/bad.pcap' <(head -c $n '$WORK/plain.pcap')"
cp "$WORK/sealed.bak" "$E"
check damaged-then-restored bash -c "curl -sf '$URL' | cmp -s - '$WORK/plain.pcap'"

# -- other servers: the address in use, bad settings, IPv6 loopback, all addresses
"$RINGCAP" serve -o "$WORK/other" --http "${B#http://}" 2>"$WORK/inuse.err"; rc=$?
check address-in-use test $rc = 1 -a -n "$(grep -i 'in use' "$WORK/inuse.err")"
for bad in 'RETENTION_DAYS=x' 'URL_TTL_SECONDS=0' 'RINGCAP_HTTP=300.1.1.1:80' 'RINGCAP_HTTP=127.0.0.1:70000'; do
	env "$bad" "$RINGCAP" serve -o "$WORK/other" 2>"$WORK/bad.err"; rc=$?
	check "serve-invalid-${bad%%=*}" test $rc = 2 -a -n "$(grep "${bad%%=*}\|HTTP address" "$WORK/bad.err")"
done
other() { # ADDR: serves $WORK/other there; prints its public URL, status of GET / and of the API
	"$RINGCAP" serve -q -o "$WORK/other" --http "$1" 2>>"$WORK/other.err" &
	local pid=$! i u
	for ((i = 0; i < 100; i++)); do [[ $(jq -r .pid "$WORK/other/http.json" 2>/dev/null) == "$pid" ]] && break; sleep 0.1; done
	u=$(jq -r .public_url "$WORK/other/http.json" 2>/dev/null)
	echo "$u $(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(cat "$WORK/other/admin.token")" "$u/api/v1/status")"
	stop_wait $pid TERM >/dev/null
}
if ip -6 addr show dev lo 2>/dev/null | grep -q '::1/128'; then
	check ipv6-loopback bash -c "[[ '$(other '[::1]:0')' =~ ^http://\[::1\]:[0-9]+\ 200$ ]]"
else
	skip ipv6-loopback "no ::1 on lo"
fi
out=$(other ':0') # all addresses (dual stack when there is IPv6); the URL names 127.0.0.1
check all-addresses test "$out" != "${out#http://127.0.0.1:}" -a "${out##* }" = 200
check other-sanitizer-clean sanitizer_clean "$WORK/other.err"

# -- stop; http.json goes
stop_wait $SPID TERM; rc=$?
check serve-stops-0 test $rc = 0
check info-file-removed test ! -e "$D/http.json"
check serve-sanitizer-clean sanitizer_clean "$WORK/serve.err"
check no-query-in-log bash -c "! grep -q 'sig=' '$WORK/serve.err'"
check no-token-in-log bash -c "! grep -qF '$TOK' '$WORK/serve.err'"

# -- the audit trail
A=$D/audit/audit.jsonl
ev() { jq -r "select(.event == \"$1\") | $2" "$A"; }
check audit-url-issued test "$(ev url_issued 'select(.url_id == "'"$UID_"'") | "\(.actor) \(.incident)"')" = "ops 1"
check audit-url-issued-cli test -n "$(ev url_issued 'select(.actor == "cli") | .url_id')"
check audit-download-started test -n "$(ev download_started 'select(.url_id == "'"$UID_"'" and .range == null) | .incident')"
check audit-download-range test -n "$(ev download_started 'select(.range == "bytes=65000-70000") | .url_id')"
check audit-download-completed test -n "$(ev download_completed 'select(.url_id == "'"$UID_"'" and .complete == true and .sha256 == "'"$SHA"'" and .bytes == '"$SIZE"') | .bytes')"
check audit-download-incomplete test -n "$(ev download_completed 'select(.complete == false and .error != null) | .bytes')"
check audit-denied-401 test -n "$(ev request_denied 'select(.status == 401 and .actor == null and .path == "/api/v1/incidents") | .reason')"
check audit-denied-403 test -n "$(ev request_denied 'select(.status == 403 and .reason == "bad signature") | .path')"
check audit-denied-410 test -n "$(ev request_denied 'select(.status == 410 and .reason == "url expired") | .path')"
check audit-token-events test -n "$(ev token_added 'select(.name == "ops") | .name')" -a -n "$(ev token_revoked 'select(.name == "ops") | .name')"
check audit-no-query-strings bash -c "! grep -qE 'sig=|[?]kid=' '$A'"
"$RINGCAP" audit verify -o "$D" >"$WORK/verify.out" 2>&1; rc=$?
check audit-verify test $rc = 0
finish
