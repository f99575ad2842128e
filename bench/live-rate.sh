#!/bin/bash
# Live capture under load: ringcap against tcpdump, dumpcap and netsniff-ng in one run, on a veth
# pair, trafgen sending from the namespace on one core. Each capturer writes rotated 100 MB files
# to OUT (all kept); afterwards the packets in its files are counted against what was sent.
# Prints, per frame size and rate: packets kept (%), CPU (s, user+sys) and peak RSS (MB) of each.
#   bench/live-rate.sh [N] [RATES]     N frames per run (default 1000000); RATES: space-separated
#                                      trafgen rates in pps, "max" for unpaced
#                                      (default "100000 300000 1000000 max")
#   BENCH_OUT=DIR  where the files go (default bench/work/live-rate, on the disk under test)
#   SIZES="64 1500"  frame sizes
#   CAPTURERS="ringcap tcpdump dumpcap netsniff-ng"  which to run
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
RATES=${2:-100000 300000 1000000 max}
SIZES=${SIZES:-64 1500}
scripts/deps.sh --test >/dev/null
command -v trafgen >/dev/null || { echo "live-rate.sh: trafgen (package netsniff-ng) is needed" >&2; exit 1; }
make -s -j2 build/ringcap
OUT=${BENCH_OUT:-bench/work/live-rate}
NSN=rcr$$; NSN=${NSN:0:10}
VETH=../shared/tools/vethpair.sh
P=
trap '"$VETH" down "$NSN" >/dev/null 2>&1; [[ -n $P ]] && kill $P 2>/dev/null; true' EXIT
eval "$("$VETH" up "$NSN")"
sysctl -qw "net.ipv6.conf.$CAP.disable_ipv6=1"
ip netns exec "$NS" sysctl -qw "net.ipv6.conf.$SND.disable_ipv6=1"
ip link set "$CAP" mtu 1500
MAC=$(cat "/sys/class/net/$CAP/address")
tick=$(getconf CLK_TCK)
cputicks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
count() { # files... -> trafgen's packets in them (UDP to port 9; the stack sends a few others)
	local n=0 f c
	for f in "$@"; do
		[[ -s $f ]] || continue
		c=$(tcpdump -nr "$f" 'udp dst port 9' 2>/dev/null | wc -l)
		n=$((n + ${c:-0}))
	done
	echo "$n"
}
conf() { # size -> trafgen config on stdout: UDP frames of SIZE bytes to CAP's MAC
	local pay=$(($1 - 14 - 20 - 8))
	local m; m=$(echo "$MAC" | sed 's/^/0x/; s/:/, 0x/g')
	printf '{ %s, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, c16(0x0800),\n' "$m"
	printf '  0x45, 0x00, c16(%d), drnd(2), c16(0x4000), 0x40, 0x11, csumip(14, 33),\n' $(($1 - 14))
	printf '  10, 0, 0, 2, 10, 0, 0, 1, dinc(4, 250), 0x00, c16(9), c16(%d), c16(0),\n' $((pay + 8))
	printf '  fill(0x41, %d) }\n' "$pay"
}
run() { # name size rate ready command...: READY is what the capturer prints once capturing
	local name=$1 size=$2 rate=$3 ready=$4 i; shift 4
	rm -rf "$OUT"; mkdir -p "$OUT"
	"$@" >"$OUT/../$name.log" 2>&1 &
	P=$!
	for ((i = 0; i < 300; i++)); do grep -q "$ready" "$OUT/../$name.log" && break; sleep 0.1; done
	grep -q "$ready" "$OUT/../$name.log" || { echo "live-rate.sh: $name did not start:" >&2; cat "$OUT/../$name.log" >&2; exit 1; }
	sleep 1
	local c0; c0=$(cputicks "$P")
	local r=(); [[ $rate != max ]] && r=(--rate "${rate}pps")
	ip netns exec "$NS" trafgen --cpus 1 --dev "$SND" --conf "$OUT/../f$size.cfg" -n "$N" "${r[@]}" -q >/dev/null 2>&1
	sleep 1
	local c1 rss; c1=$(cputicks "$P"); rss=$(awk '/VmHWM/{print $2}' "/proc/$P/status" 2>/dev/null || echo 0)
	kill -INT "$P" 2>/dev/null || true; wait "$P" 2>/dev/null || true; P=
	local kept; kept=$(count "$OUT"/* "$OUT"/pcaps/* 2>/dev/null)
	KEPT[$name]=$kept; CPU[$name]=$((c1 - c0))
	printf '%-5s %-8s %-11s kept %8d of %d (%6.2f %%)  CPU %5.2f s  RSS %6.1f MB\n' "$size" "$rate" \
		"$name" "$kept" "$N" "$(echo "$kept * 100 / $N" | bc -l)" \
		"$(echo "($c1 - $c0) / $tick" | bc -l)" "$(echo "$rss / 1024" | bc -l)"
}
ratio() { # size rate -> ringcap's kept packets and CPU against each peer's
	local peer line="$1 $2 ratio ringcap/"
	want ringcap || return 0
	for peer in tcpdump dumpcap netsniff-ng; do
		want "$peer" || continue
		line+=$(printf ' %s kept %.3f CPU %.2f' "$peer" \
			"$(echo "${KEPT[ringcap]} / (${KEPT[$peer]} + (${KEPT[$peer]} == 0))" | bc -l)" \
			"$(echo "${CPU[ringcap]} / (${CPU[$peer]} + (${CPU[$peer]} == 0))" | bc -l)")
	done
	echo "$line"
}
declare -A KEPT CPU
CAPTURERS=${CAPTURERS:-ringcap tcpdump dumpcap netsniff-ng}
want() { [[ " $CAPTURERS " == *" $1 "* ]]; }
mkdir -p "$OUT/.."
echo "live-rate: $N frames per run on $CAP (veth), trafgen --cpus 1; outputs in $OUT"
for size in $SIZES; do
	conf "$size" >"$OUT/../f$size.cfg"
	for rate in $RATES; do
		want ringcap && run ringcap "$size" "$rate" 'capturing from' build/ringcap run -i "$CAP" -o "$OUT" -C 100 -W 0 --http off
		want tcpdump && run tcpdump "$size" "$rate" 'listening on' tcpdump -i "$CAP" -w "$OUT/t.pcap" -C 100 -Z root
		want dumpcap && run dumpcap "$size" "$rate" 'Capturing on' dumpcap -i "$CAP" -w "$OUT/d.pcap" -b filesize:100000 -P
		want netsniff-ng && run netsniff-ng "$size" "$rate" 'Running!' netsniff-ng --in "$CAP" --out "$OUT/" --interval 100MiB --silent
		ratio "$size" "$rate"
	done
done
