#!/bin/bash
# Cost of the flight recorder (pre-trigger ring + detector) per packet: ringcap run -r on the same
# ~1,000,000-packet capture with and without them (--no-recorder), continuous files off so that
# the difference is not lost in disk time; several runs each, alternating; medians.
#   bench/recorder.sh [PACKETS] [RUNS]       (defaults 1000000 and 7)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}; RUNS=${2:-7}
. bench/lib.sh
bench_mix "$N"
O=${BENCH_OUT:-/dev/shm/ringcap-bench}; mkdir -p "$O"
cpu() { # user+sys seconds of one run
	rm -rf "$O/o"
	/usr/bin/time -f '%U %S' "$@" 2>&1 >/dev/null | tail -n 1 | awk '{print $1 + $2}'
}
declare -a WITH WITHOUT
for ((i = 0; i < RUNS; i++)); do
	WITH+=("$(cpu build/ringcap run -q -r "$MIX" -o "$O/o" --save-pcap false)")
	WITHOUT+=("$(cpu build/ringcap run -q -r "$MIX" -o "$O/o" --save-pcap false --no-recorder)")
done
w=$(printf '%s\n' "${WITH[@]}" | median); wo=$(printf '%s\n' "${WITHOUT[@]}" | median)
printf 'CPU s (median of %d): with ring+detector %.3f   without %.3f\n' "$RUNS" "$w" "$wo"
printf 'ring + detector cost: %.1f ns per packet\n' "$(echo "($w - $wo) * 1000000000 / $N" | bc -l)"
rm -rf "$O"
