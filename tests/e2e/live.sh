#!/bin/bash
# Live capture on a veth pair in a network namespace we create (no traffic leaves it): a capture
# replayed with tcpreplay at a modest rate, `ringcap run -i' on the other end; every packet sent is
# in the output. The open .part file is a valid capture mid-run; after kill -9 the next start
# repairs it. SIGTERM ends a run cleanly with a summary.
. "$(dirname "$0")/lib.sh"
need_root || { fail live-needs-root "run the suite as root"; finish; }
VETH=$ROOT/../shared/tools/vethpair.sh
NSN=rcl$$; NSN=${NSN:0:10}
IN=$ROOT/tests/data/zeek-http-bro.org.pcap
cleanup() { "$VETH" down "$NSN" >/dev/null 2>&1; [[ -n ${pid:-} ]] && kill -9 "$pid" 2>/dev/null; }
trap cleanup EXIT
eval "$("$VETH" up "$NSN")" || { fail veth-up; finish; }
# quiet the link: no IPv6 autoconfiguration chatter on either end
sysctl -qw "net.ipv6.conf.$CAP.disable_ipv6=1"
ip netns exec "$NS" sysctl -qw "net.ipv6.conf.$SND.disable_ipv6=1"

wait_for() { # file pattern seconds
	local i; for ((i = 0; i < $3 * 10; i++)); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1
}

# 1. All packets sent arrive in the rotated files; the .part is readable mid-run.
"$RINGCAP" run -i "$CAP" -o "$WORK/a" -C 0.2 >"$WORK/a.out" 2>"$WORK/a.err" &
pid=$!
wait_for "$WORK/a.err" 'capturing from' 10
ip netns exec "$NS" tcpreplay -q -i "$SND" --pps 1500 "$IN" >"$WORK/replay.out" 2>&1
sleep 1.5
part=$(ls "$WORK/a/pcaps"/*.part 2>/dev/null | head -1)
check part-exists-mid-run test -n "$part"
check part-readable-mid-run tcpdump -r "$part" -w /dev/null
check part-holds-packets test "$(capinfos -Mc "$part" 2>/dev/null | awk '/Number of packets/{print $NF}')" -gt 0
stop_wait "$pid" TERM; rc=$?; pid=
check sigterm-clean-exit test $rc = 0
check sanitizer-clean sanitizer_clean "$WORK/a.err"
check summary-printed grep -q 'packets seen' "$WORK/a.out"
check summary-kernel-drops grep -qE 'dropped by kernel +[0-9]+$' "$WORK/a.out"
check no-part-after-stop test -z "$(ls "$WORK/a/pcaps" | grep part)"
# the kernel buffer by default: a quarter of a second at the link's speed, 32..128 MiB
speed=$(cat "/sys/class/net/$CAP/speed" 2>/dev/null || echo -1)
if [[ ${speed:--1} -gt 0 ]]; then want_mb=$((speed * 125000 / 4 / 1048576)); else want_mb=64; fi
((want_mb < 32)) && want_mb=32; ((want_mb > 128)) && want_mb=128
check buffer-default-from-speed grep -q "kernel buffer $want_mb MiB" "$WORK/a.err"
"$TOOLS/pcapdigest" --list "$IN" | sort >"$WORK/sent"
"$TOOLS/pcapdigest" --list "$WORK"/a/pcaps/*.pcap | sort >"$WORK/got"
missing=$(comm -23 "$WORK/sent" "$WORK/got" | wc -l)
check every-sent-packet-captured test "$missing" = 0
check flows-written test "$(jq -c . "$WORK/a/traffic_flows.jsonb" | wc -l)" -gt 5

# 2. kill -9 leaves a .part; the next start cuts its torn end and renames it.
"$RINGCAP" run -i "$CAP" -o "$WORK/b" >"$WORK/b.out" 2>"$WORK/b.err" &
pid=$!
wait_for "$WORK/b.err" 'capturing from' 10
ip netns exec "$NS" tcpreplay -q -i "$SND" --pps 1500 "$IN" >/dev/null 2>&1
sleep 1.5
kill -9 "$pid"; wait "$pid" 2>/dev/null; pid=
part=$(ls "$WORK/b/pcaps"/*.part 2>/dev/null | head -1)
check kill9-leaves-part test -n "$part"
if [[ -n $part ]]; then
	before=$("$TOOLS/pcapdigest" "$part" 2>/dev/null)
	printf '\x01\x02\x03\x04\x05\x06\x07\x08\x09' >>"$part"   # a torn record header
	"$RINGCAP" run -q -i "$CAP" -o "$WORK/b" >"$WORK/b2.out" 2>"$WORK/b2.err" &
	pid=$!; sleep 1; stop_wait "$pid" INT; pid=
	fixed=${part%.part}
	check kill9-part-renamed test -f "$fixed" -a ! -e "$part"
	check kill9-packets-kept test "$("$TOOLS/pcapdigest" "$fixed")" = "$before"
	check kill9-capinfos capinfos "$fixed"
fi

# 3. A capture filter on a live interface.
"$RINGCAP" run -i "$CAP" -o "$WORK/c" -B 8 tcp port 80 >"$WORK/c.out" 2>"$WORK/c.err" &
pid=$!
wait_for "$WORK/c.err" 'capturing from' 10
check buffer-size-option grep -q "kernel buffer 8 MiB" "$WORK/c.err"
ip netns exec "$NS" tcpreplay -q -i "$SND" --pps 1500 "$IN" >/dev/null 2>&1
sleep 0.5; stop_wait "$pid" INT; pid=
want=$(tcpdump -r "$IN" -w - 'tcp port 80' 2>/dev/null | "$TOOLS/pcapdigest" --list /dev/stdin | sort | uniq | wc -l)
got=$("$TOOLS/pcapdigest" --list "$WORK"/c/pcaps/*.pcap | sort | uniq | wc -l)
check live-filter-applied test "$want" = "$got"
finish
