#!/bin/bash
# The flight recorder live, on a veth pair in a namespace we create: quiet traffic, a burst
# replayed with tcpreplay, quiet again: one incident whose capture starts with pre-trigger
# packets. A manual capture through `ringcap capture' on the running agent. Statistics-only mode
# when run as an unprivileged user.
. "$(dirname "$0")/lib.sh"
need_root || { fail needs-root "run the suite as root"; finish; }
VETH=$ROOT/../shared/tools/vethpair.sh
NSN=rci$$; NSN=${NSN:0:10}
pid=
cleanup() { [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null; "$VETH" down "$NSN" >/dev/null 2>&1; }
trap cleanup EXIT
eval "$("$VETH" up "$NSN")" || { fail veth-up; finish; }
sysctl -qw "net.ipv6.conf.$CAP.disable_ipv6=1"
ip netns exec "$NS" sysctl -qw "net.ipv6.conf.$SND.disable_ipv6=1"
"$TOOLS/mkflood" -o "$WORK/quiet.pcap" quiet:200:100 >/dev/null
"$TOOLS/mkflood" -o "$WORK/burst.pcap" syn:6000:20000 >/dev/null
send() { ip netns exec "$NS" tcpreplay -q -i "$SND" "$@" >/dev/null 2>&1; }
wait_for() { local i; for ((i = 0; i < $3 * 10; i++)); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1; }
meta() { jq -r "$2" "$1/incidents/$3.json"; }

D=$WORK/live
"$RINGCAP" run -i "$CAP" -o "$D" --threshold-syn-pps 2000 --resolve-seconds 2 >"$WORK/live.out" 2>"$WORK/live.err" &
pid=$!
wait_for "$WORK/live.err" 'capturing from' 10
check control-socket-0600 test "$(stat -c %a "$D/control.sock" 2>/dev/null)" = 600
send --pps 200 "$WORK/quiet.pcap"
send --pps 20000 "$WORK/burst.pcap"
send --pps 200 "$WORK/quiet.pcap"
wait_for "$WORK/live.err" 'incident 1 resolved' 10
# a manual capture on the running agent
"$RINGCAP" capture -o "$D" --seconds 3 --packets 150 >"$WORK/cap.out" 2>"$WORK/cap.err"; rc=$?
check capture-command-ok test $rc = 0
check capture-command-says-id grep -q 'manual capture 2 started' "$WORK/cap.out"
send --pps 200 "$WORK/quiet.pcap"
wait_for "$WORK/live.err" 'incident 2 capture ended' 10
"$RINGCAP" capture -o "$D" --seconds 0 >/dev/null 2>"$WORK/cap0.err"; rc=$?
check capture-bad-seconds test $rc = 2
status=$(printf 'status\n' | timeout 5 socat - "UNIX-CONNECT:$D/control.sock" 2>/dev/null || true)
check control-status test "$(echo "$status" | jq -r .mode 2>/dev/null)" = capture
bad=$(printf 'capture seconds=abc\n' | timeout 5 socat - "UNIX-CONNECT:$D/control.sock" 2>/dev/null || true)
check control-bad-request test "$(echo "$bad" | jq -r .ok 2>/dev/null)" = false
stop_wait "$pid" INT; rc=$?; pid=
check live-exit-clean test $rc = 0
check live-sanitizer-clean sanitizer_clean "$WORK/live.err"
check live-one-incident test "$(meta "$D" .trigger.threshold 1)" = syn_pps
check live-pre-trigger-packets test "$(meta "$D" .pre_trigger_packets 1)" -gt 0
cap=$(incident_pcap "$D" 1)
check live-capture-readable quiet capinfos "$cap"
# the capture starts with quiet packets (ring) and goes on with the burst
first_proto=$(tshark -r "$cap" -c 1 -T fields -e tcp.flags.syn -e tcp.dstport 2>/dev/null)
check live-capture-starts-before-burst test "$first_proto" != "$(printf '1\t80')"
check live-capture-has-burst test "$(tshark -r "$cap" -Y 'tcp.flags.syn==1 && tcp.dstport==80' 2>/dev/null | wc -l)" -gt 1000
check manual-trigger test "$(meta "$D" .trigger.threshold 2)" = manual
check manual-limited test "$(meta "$D" .pcap_packets 2)" -le 150
check manual-ended test "$(meta "$D" .state 2)" = resolved
check socket-removed-at-exit test ! -e "$D/control.sock"

# Manual captures never block the recorder: at most MANUAL_MAX_OPEN (2) at once, each bounded in
# packets and seconds, refused with 429 (busy, Retry-After) or 409 (above a limit) over HTTP; with
# both running, a flood still opens an automatic incident.
M=$WORK/manual
mkdir -p "$M"; chmod 0700 "$M"
OPS=$("$RINGCAP" token add ops --role operator -o "$M" 2>/dev/null)
"$RINGCAP" run -i "$CAP" -o "$M" --threshold-syn-pps 2000 --resolve-seconds 2 --http 127.0.0.1:0 >"$WORK/manual.out" 2>"$WORK/manual.err" &
pid=$!
wait_for "$WORK/manual.err" 'capturing from' 10
for ((i = 0; i < 50; i++)); do [[ -s $M/http.json ]] && break; sleep 0.1; done
MB=http://$(jq -r .listen "$M/http.json" 2>/dev/null)
post() { curl -s -o "$WORK/post.body" -D "$WORK/post.head" -w '%{http_code}' -H "Authorization: Bearer $OPS" -X POST "$MB/api/v1/captures" -d "$1"; }
"$RINGCAP" capture -o "$M" --seconds 60 --packets 100000 >/dev/null 2>"$WORK/m1.err"; rc1=$?
check manual-first-ok test $rc1 = 0
check manual-second-ok-http test "$(post '{"seconds": 60, "packets": 50000}')" = 201
"$RINGCAP" capture -o "$M" --seconds 5 --packets 100 >/dev/null 2>"$WORK/m3.err"; rc=$?
check manual-third-refused test $rc = 1
check manual-third-says-why grep -q 'manual captures are running already.*MANUAL_MAX_OPEN' "$WORK/m3.err"
check manual-busy-429 test "$(post '{"seconds": 5, "packets": 100}')" = 429
check manual-busy-retry-after grep -qi '^Retry-After: [0-9]' "$WORK/post.head"
check manual-busy-message grep -q 'MANUAL_MAX_OPEN' "$WORK/post.body"
check manual-over-packets-409 test "$(post '{"seconds": 5, "packets": 200000}')" = 409
check manual-over-packets-message grep -q 'at most 100000 packets and 600 seconds' "$WORK/post.body"
check manual-over-seconds-409 test "$(post '{"seconds": 3600, "packets": 100}')" = 409
send --pps 200 "$WORK/quiet.pcap"
send --pps 20000 "$WORK/burst.pcap"
check manual-flood-still-opens-incident wait_for "$WORK/manual.err" 'incident 3 opened: syn_pps' 10
check manual-no-slot-warning bash -c "! grep -q 'cannot open an incident' '$WORK/manual.err'"
stop_wait "$pid" INT; rc=$?; pid=
check manual-exit-clean test $rc = 0
check manual-sanitizer-clean sanitizer_clean "$WORK/manual.err"
check manual-incident-syn test "$(meta "$M" .trigger.threshold 3)" = syn_pps
"$RINGCAP" run -r "$WORK/quiet.pcap" -o "$WORK/mbad" --manual-max-open 4 >/dev/null 2>"$WORK/mbad.err"; rc=$?
check manual-max-open-4-refused test $rc = 2
check manual-max-open-named grep -q 'manual-max-open' "$WORK/mbad.err"
check manual-max-open-nothing-written test ! -e "$WORK/mbad"

# No agent: `ringcap capture' says so.
"$RINGCAP" capture -o "$WORK/nothing" 2>"$WORK/none.err"; rc=$?
check capture-no-agent test $rc = 1 -a -n "$(grep 'no running agent' "$WORK/none.err")"

# Statistics-only mode as an unprivileged user: a clear warning, incidents from the counters.
S=$WORK/stats; mkdir -p "$S"; chown nobody "$S"; chmod 755 "$WORK"
setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$RINGCAP" run -i "$CAP" -o "$S" --threshold-pps 3000 --resolve-seconds 2 >"$WORK/stats.out" 2>"$WORK/stats.err" &
pid=$!
wait_for "$WORK/stats.err" 'statistics-only mode on' 10
check stats-warns-capability grep -q 'CAP_NET_RAW' "$WORK/stats.err"
check stats-warns-once test "$(grep -c 'no permission to capture' "$WORK/stats.err")" = 1
sleep 1.2
send --pps 20000 "$WORK/burst.pcap" ; send --pps 20000 "$WORK/burst.pcap"
sleep 4.5
stop_wait "$pid" INT; rc=$?; pid=
check stats-exit-clean test $rc = 0
check stats-incident-mode test "$(meta "$S" .mode 1 2>/dev/null)" = stats-only
check stats-incident-no-capture test "$(meta "$S" .pcap_file 1 2>/dev/null)" = null
check stats-incident-resolved test "$(meta "$S" .state 1 2>/dev/null)" = resolved
finish
