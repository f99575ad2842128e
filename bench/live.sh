#!/bin/bash
# CPU and memory of `ringcap run -i' on a veth pair at 10,000 packets/s for 30 s with continuous
# saving off (ring, detector and flow records on), next to tcpdump -i -w /dev/null at the same
# rate in the same run. CPU is user+sys from /proc/PID/stat over the replay, as % of one core.
#   bench/live.sh [PPS] [SECONDS]        (defaults 10000 and 30); needs root
set -euo pipefail
cd "$(dirname "$0")/.."
PPS=${1:-10000}; SECS=${2:-30}
scripts/deps.sh --test >/dev/null
make -s -j2 build/ringcap build/tools/mkmix
W=${BENCH_WORK:-bench/work}; mkdir -p "$W"
N=$((PPS * SECS))
IN=$W/live-$N.pcap
# frames small enough for the veth MTU
[[ -f $IN ]] || build/tools/mkmix -n "$N" -o "$IN" ../shared/corpus/normal/zeek__http_bro.org.pcap \
	../shared/corpus/normal/ntopng__test_01.pcap ../shared/corpus/normal/ndpi__teams.pcap
NSN=rcb$$; NSN=${NSN:0:10}
VETH=../shared/tools/vethpair.sh
trap '"$VETH" down "$NSN" >/dev/null 2>&1; kill $P 2>/dev/null || true' EXIT
eval "$("$VETH" up "$NSN")"
sysctl -qw "net.ipv6.conf.$CAP.disable_ipv6=1"
tick=$(getconf CLK_TCK)
cputicks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
measure() { # name command...
	local name=$1; shift
	"$@" >/dev/null 2>&1 &
	P=$!
	sleep 2
	local t0 w0; t0=$(cputicks "$P"); w0=$(date +%s.%N)
	ip netns exec "$NS" tcpreplay -q -i "$SND" --pps "$PPS" "$IN" >/dev/null 2>&1
	local t1 w1; t1=$(cputicks "$P"); w1=$(date +%s.%N)
	local rss; rss=$(awk '/VmHWM/{print $2}' "/proc/$P/status")
	kill -INT "$P"; wait "$P" || true
	printf '%-8s CPU %.2f%% of one core over %.1f s; peak RSS %.1f MB\n' "$name" \
		"$(echo "($t1 - $t0) / $tick / ($w1 - $w0) * 100" | bc -l)" "$(echo "$w1 - $w0" | bc -l)" \
		"$(echo "$rss / 1024" | bc -l)"
}
rm -rf "$W/live-out"
echo "$N packets at $PPS packets/s"
measure ringcap build/ringcap run -i "$CAP" -o "$W/live-out" --save-pcap false
measure tcpdump tcpdump -i "$CAP" -w /dev/null
rm -rf "$W/live-out"
