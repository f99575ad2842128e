#!/bin/bash
# The HTTP API under abuse, each attack with its expected outcome (loopback addresses 127.x as
# distinct clients):
#  - 2,000 wrong tokens on one connection: a few 401, then 429 with Retry-After growing
#    exponentially; the audit trail grows by less than 100 KB (one full record and aggregated
#    requests_denied counts); another address is still served, the flooding one is refused
#    even with a valid token while blocked
#  - 64 slow clients ("slowloris", a byte every 2 s) from 127.0.0.2 and 127.0.0.3: at most 8
#    connections per address held, every held one closed at the request deadline (10 s), and a
#    client from 127.0.0.1 answered all along
#  - two Content-Length headers, or Content-Length with Transfer-Encoding: 400
#  - framing: frame-ancestors 'none' and X-Frame-Options: DENY
#  - Host not this server's (DNS rebinding): 421; no Host: 400; IP literal, localhost and the
#    public URL's host: served
#  - without a token, an existing and a missing incident look the same (401; 403 for a bad
#    download signature)
#  - token roles: viewer reads only, operator also issues URLs and starts captures, admin also
#    manages tokens (GET/POST/DELETE /api/v1/tokens); 403 naming the role needed; a tokens file
#    from before roles keeps its tokens as admin
. "$(dirname "$0")/lib.sh"
D=$WORK/d
"$RINGCAP" run -q -r "$ROOT/tests/data/demo-synflood.pcap" -o "$D" >"$WORK/run.out" 2>"$WORK/run.err"
check run-sealed test -f "$D/incidents/1.pcap.enc"

start_server() {
	rm -f "$D/http.json"
	"$RINGCAP" serve -o "$D" --http 127.0.0.1:0 "$@" >>"$WORK/serve.out" 2>>"$WORK/serve.err" &
	SPID=$!
	local i
	for ((i = 0; i < 100; i++)); do
		[[ -f $D/http.json ]] && [[ $(jq -r .pid "$D/http.json" 2>/dev/null) == "$SPID" ]] && break
		sleep 0.1
	done
	B=$(jq -r .public_url "$D/http.json" 2>/dev/null)
	PORT=${B##*:}
}
start_server
check server-up test -n "$B"
ADMIN=$(cat "$D/admin.token" 2>/dev/null)
OPS=$("$RINGCAP" token add ops -o "$D" 2>/dev/null)
VIEW=$("$RINGCAP" token add watcher --role viewer -o "$D" 2>/dev/null)
code() { local m=$1 p=$2; shift 2; curl -s -o "$WORK/body" -w '%{http_code}' -X "$m" "$@" "$B$p"; }
AUD=$D/audit/audit.jsonl
bad=(-H "Authorization: Bearer rct_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")

# -- 1. a flood of wrong tokens on one connection, from 127.0.0.5
a0=$(stat -c %s "$AUD")
for ((i = 0; i < 2000; i++)); do echo "url = \"$B/api/v1/incidents\""; echo 'output = "/dev/null"'; done >"$WORK/flood.cfg"
t0=$(date +%s.%N)
curl -s --interface 127.0.0.5 "${bad[@]}" -w '%{http_code} %{num_connects}\n' -K "$WORK/flood.cfg" >"$WORK/flood.codes"
t1=$(date +%s.%N)
n401=$(grep -c '^401 ' "$WORK/flood.codes"); n429=$(grep -c '^429 ' "$WORK/flood.codes")
conns=$(awk '{ s += $2 } END { print s }' "$WORK/flood.codes")
echo "flood: $(wc -l <"$WORK/flood.codes") requests on $conns connection(s) in $(echo "$t1 - $t0" | bc) s: $n401 x 401, $n429 x 429"
check flood-one-connection test "$conns" = 1
check flood-all-answered test "$((n401 + n429))" = 2000
check flood-few-401 test "$n401" -ge 5 -a "$n401" -le 12
check flood-rest-429 test "$n429" -ge 1988
# Retry-After on a 429, with a JSON body: the block left by the flood may be about to end (the
# flood takes longer under sanitizers), so wait out short blocks, each further failure doubling
# the next, until one of at least 4 s covers the checks below
for ((i = 0; i < 6; i++)); do
	h429=$(curl -s -D - -o "$WORK/body429" --interface 127.0.0.5 "${bad[@]}" "$B/api/v1/incidents" | tr -d '\r')
	ra429=$(awk 'tolower($1) == "retry-after:" { print $2 }' <<<"$h429")
	[[ ${ra429:-0} -ge 4 ]] && break
	sleep "${ra429:-0}.2"
done
check flood-429-retry-after bash -c "grep -qiE '^Retry-After: [0-9]+' <<<'$h429'"
check flood-429-json test "$(jq -r .status "$WORK/body429")" = 429
# while blocked, even a valid token is not looked at
check flood-blocked-valid-token-429 test "$(code GET /api/v1/status --interface 127.0.0.5 -H "Authorization: Bearer $ADMIN")" = 429
# the backoff: a fresh address, 5 free failures, then 1 s, 2 s, 4 s blocks
ra() { curl -s -D - -o /dev/null --interface 127.0.0.6 "${bad[@]}" "$B/api/v1/incidents" | tr -d '\r' | awk 'tolower($1) == "retry-after:" { print $2 }'; }
for ((i = 0; i < 6; i++)); do curl -s -o /dev/null --interface 127.0.0.6 "${bad[@]}" "$B/api/v1/incidents"; done
r1=$(ra); sleep "${r1:-1}"; sleep 0.2
curl -s -o /dev/null --interface 127.0.0.6 "${bad[@]}" "$B/api/v1/incidents"
r2=$(ra); sleep "${r2:-1}"; sleep 0.2
curl -s -o /dev/null --interface 127.0.0.6 "${bad[@]}" "$B/api/v1/incidents"
r3=$(ra)
echo "backoff: Retry-After $r1, $r2, $r3 s"
check backoff-exponential test "${r1:-0}" = 1 -a "${r2:-0}" = 2 -a "${r3:-0}" = 4
# another address is served meanwhile, and the console too
check other-address-served test "$(code GET /api/v1/status -H "Authorization: Bearer $OPS")" = 200
check console-served-to-flooder test "$(code GET / --interface 127.0.0.5)" = 200
# the audit trail: one full record for the flooder, the rest counted (written at the interval's
# end, or at the latest when the server stops)
stop_wait $SPID TERM >/dev/null
a1=$(stat -c %s "$AUD")
echo "audit growth for the flood and the backoff probes: $((a1 - a0)) bytes"
check flood-audit-under-100k test "$((a1 - a0))" -lt 102400
check flood-audit-one-full-record test "$(jq -c 'select(.event == "request_denied" and .client == "127.0.0.5")' "$AUD" | wc -l)" = 1
cnt=$(jq -s '[.[] | select(.event == "requests_denied" and .client == "127.0.0.5") | .count] | add' "$AUD")
check flood-audit-counted test "${cnt:-0}" -ge 2002
check flood-audit-429-counted test "$(jq -s '[.[] | select(.event == "requests_denied" and .client == "127.0.0.5") | .status["429"]] | add' "$AUD")" -ge 1988
check audit-verifies quiet "$RINGCAP" audit verify -o "$D"
start_server

# -- 2. slow clients: 32 from each of 127.0.0.2 and 127.0.0.3, a byte every 2 s
cat >"$WORK/slow.py" <<'PY'
import select, socket, sys, time
port = int(sys.argv[1]); out = {}
socks = []
for src in ("127.0.0.2", "127.0.0.3"):
    for i in range(32):
        s = socket.socket()
        s.bind((src, 0))
        s.connect(("127.0.0.1", port))
        s.send(b"GET /api/v1/status HTTP/1.1\r\n")
        socks.append((src, s, time.time()))
closed = {}
last_send = {s: st for _, s, st in socks}
t0 = time.time()
# Poll every 50 ms so a close is timed when it happens (a refused
# connection is closed at once, a held one at the server's deadline);
# each open socket gets one more byte every 2 s.
while time.time() - t0 < 16 and len(closed) < len(socks):
    now = time.time()
    for src, s, st in socks:
        if s in closed:
            continue
        try:
            r, _, _ = select.select([s], [], [], 0)
            if r and s.recv(64) == b"":
                closed[s] = (src, now - st)
                continue
            if now - last_send[s] >= 2:
                s.send(b"X")
                last_send[s] = now
        except OSError:
            closed[s] = (src, now - st)
    time.sleep(0.05)
held = [c for c in closed.values() if c[1] > 1.5]
print("opened %d held %d (2: %d, 3: %d) open_at_end %d latest_close %.1f" % (
    len(socks), len(held), sum(1 for c in held if c[0] == "127.0.0.2"),
    sum(1 for c in held if c[0] == "127.0.0.3"), len(socks) - len(closed),
    max([c[1] for c in held] or [0])))
PY
python3 "$WORK/slow.py" "$PORT" >"$WORK/slow.out" 2>&1 &
SLOW=$!
sleep 1
ok=0
for ((i = 0; i < 10; i++)); do
	c=$(curl -s -o /dev/null -m 3 -w '%{http_code}' -H "Authorization: Bearer $OPS" "$B/api/v1/status")
	[[ $c == 200 ]] && ok=$((ok + 1))
	sleep 1
done
wait $SLOW
cat "$WORK/slow.out"
read -r _ opened _ held _ h2 _ h3 _ open_end _ latest < <(tr -d '(),:' <"$WORK/slow.out")
check slow-all-opened test "${opened:-0}" = 64
check slow-served-meanwhile test "$ok" = 10
check slow-per-address-limit test "${h2:-99}" -le 8 -a "${h3:-99}" -le 8 -a "${held:-0}" -ge 1
check slow-none-open-at-end test "${open_end:-1}" = 0
check slow-cut-at-deadline bash -c "awk -v l='${latest:-99}' 'BEGIN { exit !(l >= 9 && l <= 14) }'"
check console-after-slow test "$(code GET /)" = 200

# -- 3. message framing
raw() { python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
s.settimeout(5)
print(s.recv(4096).split(b"\r\n")[0].decode())' "$PORT" "$1"; }
H="Host: 127.0.0.1:$PORT\\r\\nAuthorization: Bearer $OPS\\r\\n"
check two-content-length-400 bash -c "[[ '$(raw "POST /api/v1/captures HTTP/1.1\\r\\n${H}Content-Length: 2\\r\\nContent-Length: 12\\r\\n\\r\\n{}")' == 'HTTP/1.1 400 '* ]]"
check same-content-length-twice-400 bash -c "[[ '$(raw "POST /api/v1/captures HTTP/1.1\\r\\n${H}Content-Length: 2\\r\\nContent-Length: 2\\r\\n\\r\\n{}")' == 'HTTP/1.1 400 '* ]]"
check content-length-and-chunked-400 bash -c "[[ '$(raw "POST /api/v1/captures HTTP/1.1\\r\\n${H}Content-Length: 2\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n2\\r\\n{}\\r\\n0\\r\\n\\r\\n")' == 'HTTP/1.1 400 '* ]]"
check one-content-length-ok bash -c "[[ '$(raw "GET /api/v1/status HTTP/1.1\\r\\n${H}Content-Length: 0\\r\\n\\r\\n")' == 'HTTP/1.1 200 '* ]]"

# -- 4. framing by another site
curl -s -D "$WORK/c.h" -o /dev/null "$B/"
check console-frame-ancestors grep -qi "^Content-Security-Policy: .*frame-ancestors 'none'" "$WORK/c.h"
check console-x-frame-options grep -qi '^X-Frame-Options: DENY' "$WORK/c.h"
curl -s -D "$WORK/a.h" -o /dev/null "$B/api/v1/incidents"
check api-x-frame-options grep -qi '^X-Frame-Options: DENY' "$WORK/a.h"

# -- 5. Host (DNS rebinding: a name of the attacker's that resolves to 127.0.0.1)
check host-foreign-421 test "$(code GET /api/v1/status -H "Host: evil.example:$PORT" -H "Authorization: Bearer $OPS")" = 421
check host-foreign-console-421 test "$(code GET / -H "Host: evil.example:$PORT")" = 421
check host-foreign-no-token-421 test "$(code GET /api/v1/incidents/1/pcap?kid=a -H "Host: evil.example:$PORT")" = 421
check host-wrong-port-421 test "$(code GET / -H "Host: 127.0.0.1:1")" = 421
check host-missing-400 test "$(code GET / -H "Host:" --http1.0)" = 400
check host-localhost-ok test "$(code GET / -H "Host: localhost:$PORT")" = 200
check host-ip-ok test "$(code GET / -H "Host: 127.0.0.1:$PORT")" = 200
check host-malformed-400 test "$(code GET / -H "Host: a:b:c")" = 400
# with --public-url, its host is taken (a reverse proxy passing Host through)
stop_wait $SPID TERM >/dev/null
rm -f "$D/http.json"
"$RINGCAP" serve -o "$D" --http 127.0.0.1:0 --public-url https://rc.example.net >>"$WORK/serve.out" 2>>"$WORK/serve.err" &
SPID=$!
for ((i = 0; i < 100; i++)); do [[ $(jq -r .pid "$D/http.json" 2>/dev/null) == "$SPID" ]] && break; sleep 0.1; done
P2=$(jq -r .listen "$D/http.json"); P2=${P2##*:}
hc() { curl -s -o /dev/null -w '%{http_code}' -H "Host: $1" "http://127.0.0.1:$P2/"; }
check host-public-url-ok test "$(hc rc.example.net)" = 200
check host-public-url-default-port-ok test "$(hc rc.example.net:443)" = 200
check host-public-url-other-port-421 test "$(hc rc.example.net:8443)" = 421
check host-public-url-other-name-421 test "$(hc rc.example.org)" = 421
stop_wait $SPID TERM >/dev/null
start_server

# -- 6. existing and missing incidents without credentials
e=$(code GET /api/v1/incidents/1); eb=$(cat "$WORK/body")
m=$(code GET /api/v1/incidents/999); mb=$(cat "$WORK/body")
check unauth-existing-401 test "$e" = 401
check unauth-missing-401 test "$m" = 401
check unauth-same-body test "$eb" = "$mb"
e=$(code GET '/api/v1/incidents/1/pcap?kid=a&exp=1&uid=b&sig=c' --interface 127.0.2.1); eb=$(cat "$WORK/body")
m=$(code GET '/api/v1/incidents/999/pcap?kid=a&exp=1&uid=b&sig=c' --interface 127.0.2.2); mb=$(cat "$WORK/body")
check badsig-existing-missing-same test "$e" = 403 -a "$m" = 403 -a "$eb" = "$mb"

# -- 7. roles
V=(-H "Authorization: Bearer $VIEW"); O=(-H "Authorization: Bearer $OPS"); A=(-H "Authorization: Bearer $ADMIN")
check token-list-roles bash -c "'$RINGCAP' token list -o '$D' | grep -qE '^watcher +viewer ' && '$RINGCAP' token list -o '$D' | grep -qE '^ops +operator ' && '$RINGCAP' token list -o '$D' | grep -qE '^admin +admin '"
check token-list-json-role test "$("$RINGCAP" token list -o "$D" --json | jq -r 'select(.name == "watcher") | .role')" = viewer
"$RINGCAP" token add x --role root -o "$D" >/dev/null 2>"$WORK/role.err"; rc=$?
check token-add-bad-role test $rc = 2 && check token-add-bad-role-message grep -q "invalid --role \`root'" "$WORK/role.err"
check viewer-reads test "$(code GET /api/v1/incidents "${V[@]}")" = 200 -a "$(code GET /api/v1/incidents/1 "${V[@]}")" = 200 -a "$(code GET /api/v1/status "${V[@]}")" = 200 -a "$(code GET /api/v1/audit "${V[@]}")" = 200
check viewer-no-url-403 test "$(code POST /api/v1/incidents/1/download-url "${V[@]}")" = 403
check viewer-403-names-role bash -c "jq -r .error '$WORK/body' | grep -q 'operator role'"
check viewer-no-capture-403 test "$(code POST /api/v1/captures "${V[@]}" -d '{}')" = 403
check viewer-no-tokens-403 test "$(code GET /api/v1/tokens "${V[@]}")" = 403
check operator-url-201 test "$(code POST /api/v1/incidents/1/download-url "${O[@]}")" = 201
check operator-capture-not-403 test "$(code POST /api/v1/captures "${O[@]}" -d '{}')" = 503
check operator-no-verify-403 test "$(code GET /api/v1/audit/verify "${O[@]}")" = 403
check operator-no-tokens-403 test "$(code GET /api/v1/tokens "${O[@]}")" = 403
check operator-no-token-add-403 test "$(code POST /api/v1/tokens "${O[@]}" -d '{"name":"evil","role":"admin"}')" = 403
check admin-tokens-200 test "$(code GET /api/v1/tokens "${A[@]}")" = 200
check admin-tokens-roles test "$(jq -r '.tokens[] | select(.name == "watcher") | .role' "$WORK/body")" = viewer
check admin-tokens-no-hash bash -c "! grep -qE '[0-9a-f]{64}' '$WORK/body'"
check admin-token-add-201 test "$(code POST /api/v1/tokens "${A[@]}" -d '{"name":"reader","role":"viewer"}')" = 201
NEW=$(jq -r .token "$WORK/body")
check admin-token-add-works test "$(code GET /api/v1/incidents -H "Authorization: Bearer $NEW")" = 200 -a "$(code POST /api/v1/incidents/1/download-url -H "Authorization: Bearer $NEW")" = 403
check admin-token-add-dup-409 test "$(code POST /api/v1/tokens "${A[@]}" -d '{"name":"reader"}')" = 409
check admin-token-add-bad-role-400 test "$(code POST /api/v1/tokens "${A[@]}" -d '{"name":"r2","role":"root"}')" = 400
check admin-token-add-default-operator bash -c "test \"\$(curl -s -X POST -H 'Authorization: Bearer $ADMIN' -d '{\"name\":\"r3\"}' '$B/api/v1/tokens' | jq -r .role)\" = operator"
check admin-token-delete-200 test "$(code DELETE /api/v1/tokens/reader "${A[@]}")" = 200
check admin-token-deleted-401 test "$(code GET /api/v1/incidents -H "Authorization: Bearer $NEW")" = 401
check admin-token-delete-404 test "$(code DELETE /api/v1/tokens/reader "${A[@]}")" = 404
check audit-token-added-by-api test -n "$(jq -r 'select(.event == "token_added" and .name == "reader" and .role == "viewer" and .actor == "admin") | .name' "$AUD")"
check audit-token-revoked-by-api test -n "$(jq -r 'select(.event == "token_revoked" and .name == "reader" and .actor == "admin") | .name' "$AUD")"
# a tokens file from before roles (three fields): its tokens are admin
stop_wait $SPID TERM >/dev/null
sed -i -E 's/^([^# ]+ [0-9a-f]{64} [^ ]+) [a-z]+$/\1/' "$D/tokens"
check legacy-file-three-fields test "$(grep -cE '^[^# ]+ [0-9a-f]{64} [^ ]+$' "$D/tokens")" -ge 3
start_server
check legacy-viewer-now-admin test "$(code GET /api/v1/tokens "${V[@]}")" = 200
check legacy-list-admin bash -c "'$RINGCAP' token list -o '$D' | grep -qE '^watcher +admin '"

stop_wait $SPID TERM; rc=$?
check serve-stops test $rc = 0
# the role denials from 127.0.0.1: in full, or counted as 403s
check audit-role-denied test -n "$(jq -r 'select((.event == "request_denied" and .status == 403 and .reason == "role") or (.event == "requests_denied" and .client == "127.0.0.1" and .status["403"] > 0)) | .event' "$AUD")"
check serve-sanitizer-clean sanitizer_clean "$WORK/serve.err"
finish
