#!/bin/bash
# Download throughput of the HTTP API: an incident capture of ~100 MB, sealed in the vault, fetched
# through a signed URL with curl (decryption, SHA-256 and audit included), against `cat' of the
# plaintext capture, `openssl enc -aes-256-ctr' of it (the issue's yardstick: the download should
# run at over half of openssl's speed) and `ringcap incident pcap' (decryption to a file). Prints
# the median MB/s of each over RUNS runs and the ratios. A benchmark, not a test.
#   bench/download.sh [PACKETS] [RUNS]          (defaults 160000 (about 100 MB) and 5)
# The capture is build/tools/mkmix's mix of the ordinary captures of ../shared/corpus (bench/lib.sh)
# replayed by `ringcap run -r' with a threshold of 1 packet/s, so that one incident opens at once
# and its capture (--incident-max-packets large) holds nearly the whole input. BENCH_OUT=DIR puts
# the outputs elsewhere (e.g. /dev/shm).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-160000}; RUNS=${2:-5}
. bench/lib.sh
bench_mix "$N"
make -s -j2 build/ringcap

O=${BENCH_OUT:-$W}/download; rm -rf "$O"; mkdir -p "$(dirname "$O")"
build/ringcap run -q -r "$MIX" -o "$O" --save-pcap false --threshold-pps 1 \
	--incident-max-packets 100000000 >/dev/null
build/ringcap incident pcap 1 -o "$O" -w "$O/plain.pcap"
SIZE=$(stat -c %s "$O/plain.pcap")
echo "incident capture: $SIZE bytes plaintext, $(stat -c %s "$O"/incidents/1.pcap*.enc) sealed"

build/ringcap serve -q -o "$O" --http 127.0.0.1:0 &
SPID=$!
trap 'kill $SPID 2>/dev/null; wait $SPID 2>/dev/null || true' EXIT
for ((i = 0; i < 100; i++)); do
	[[ -f $O/http.json ]] && [[ $(jq -r .pid "$O/http.json") == "$SPID" ]] && break
	sleep 0.1
done
URL=$(build/ringcap url 1 -o "$O" --ttl 3600 2>/dev/null | head -n 1)
curl -sf -o "$O/dl.pcap" "$URL"
cmp "$O/dl.pcap" "$O/plain.pcap" || { echo "the download differs from the capture" >&2; exit 1; }
rm -f "$O/dl.pcap"

declare -a C E H S
KEY=$(openssl rand -hex 32) IV=$(openssl rand -hex 16)
for ((i = 0; i < RUNS; i++)); do
	C+=("$(t cat "$O/plain.pcap")")
	S+=("$(t openssl enc -aes-256-ctr -K "$KEY" -iv "$IV" -in "$O/plain.pcap" -out /dev/null)")
	E+=("$(t build/ringcap incident pcap 1 -o "$O" -w "$O/e.pcap")")
	H+=("$(t curl -sf -o /dev/null "$URL")")
done
c=$(printf '%s\n' "${C[@]}" | median); e=$(printf '%s\n' "${E[@]}" | median)
h=$(printf '%s\n' "${H[@]}" | median); o=$(printf '%s\n' "${S[@]}" | median)
mbs() { echo "scale=1; $SIZE / $1 / 1000000" | bc -l; }
printf '%-34s %8.3f s  %8.1f MB/s\n' "cat plaintext" "$c" "$(mbs "$c")"
printf '%-34s %8.3f s  %8.1f MB/s\n' "openssl enc -aes-256-ctr" "$o" "$(mbs "$o")"
printf '%-34s %8.3f s  %8.1f MB/s\n' "ringcap incident pcap (decrypt)" "$e" "$(mbs "$e")"
printf '%-34s %8.3f s  %8.1f MB/s\n' "curl signed URL (HTTP API)" "$h" "$(mbs "$h")"
printf 'download speed / openssl speed: %.2f (target > 0.50); HTTP / cat: %.2f x the time\n' \
	"$(echo "$o / $h" | bc -l)" "$(echo "$h / $c" | bc -l)"
rm -f "$O/e.pcap"
