#!/bin/bash
# A full disk never stops capture or flow records: on a small tmpfs that we fill up while a live
# run captures, the error is reported once, the packets that could not be saved are counted, the
# files on disk stay valid, and once space is freed the next packets are saved again.
. "$(dirname "$0")/lib.sh"
need_root || { fail fulldisk-needs-root "run the suite as root"; finish; }
VETH=$ROOT/../shared/tools/vethpair.sh
NSN=rcf$$; NSN=${NSN:0:10}
IN=$ROOT/tests/data/zeek-http-bro.org.pcap
M=$WORK/mnt
cleanup() {
	[[ -n ${pid:-} ]] && kill -9 "$pid" 2>/dev/null
	"$VETH" down "$NSN" >/dev/null 2>&1
	umount "$M" 2>/dev/null
}
trap cleanup EXIT
eval "$("$VETH" up "$NSN")" || { fail veth-up; finish; }
sysctl -qw "net.ipv6.conf.$CAP.disable_ipv6=1"
ip netns exec "$NS" sysctl -qw "net.ipv6.conf.$SND.disable_ipv6=1"
mkdir -p "$M" && mount -t tmpfs -o size=3m tmpfs "$M" || { fail mount-tmpfs; finish; }

"$RINGCAP" run -i "$CAP" -o "$M/out" -C 0.3 -W 0 >"$WORK/out" 2>"$WORK/err" &
pid=$!
for i in $(seq 50); do grep -q 'capturing from' "$WORK/err" && break; sleep 0.1; done
dd if=/dev/zero of="$M/filler" bs=64k 2>/dev/null   # fills the file system
ip netns exec "$NS" tcpreplay -q -i "$SND" --pps 1500 "$IN" >/dev/null 2>&1
sleep 1.5
rm -f "$M/filler"
ip netns exec "$NS" tcpreplay -q -i "$SND" --pps 1500 "$IN" >/dev/null 2>&1
sleep 1.5
stop_wait "$pid" INT; rc=$?; pid=
check still-exits-cleanly test $rc = 0
check sanitizer-clean sanitizer_clean "$WORK/err"
n=$(grep -c 'No space left on device' "$WORK/err")
check enospc-reported test "$n" -ge 1
check enospc-reported-once-per-output test "$n" -le 3
check unsaved-counted grep -qE 'packets not saved +[1-9]' "$WORK/out"
ok=1; for f in "$M"/out/pcaps/*.pcap; do capinfos "$f" >/dev/null 2>&1 || ok=0; done
check files-stay-valid test $ok = 1
check no-part-left test -z "$(ls "$M/out/pcaps" | grep part)"
"$TOOLS/pcapdigest" --list "$IN" | sort -u >"$WORK/sent"
"$TOOLS/pcapdigest" --list "$M"/out/pcaps/*.pcap | sort -u >"$WORK/got"
check saving-resumed test "$(comm -23 "$WORK/sent" "$WORK/got" | wc -l)" = 0
check flows-parse test "$(jq -c . "$M/out/traffic_flows.jsonb" | wc -l)" = "$(wc -l <"$M/out/traffic_flows.jsonb")"
check flows-not-empty test "$(wc -l <"$M/out/traffic_flows.jsonb")" -gt 0
finish
