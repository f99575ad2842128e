#!/bin/bash
# Sealing and opening throughput of the vault (AES-256-GCM in 64 KiB segments, src/vault.c)
# against `openssl enc -aes-256-ctr' encrypting and decrypting the same ~100 MB capture, in one run,
# medians of 5, all on tmpfs so the disk does not set the pace. Target: seal and open at over half
# the openssl figure.
#   bench/vault.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
bench_mix 160000
make -s -j2 build/tools/vaulttool
T=$(mktemp -d /dev/shm/ringcap-vault.XXXXXX)
trap 'rm -rf "$T"' EXIT
head -c 100000000 "$MIX" >"$T/in.pcap"
MB=$(echo "$(stat -c %s "$T/in.pcap") / 1000000" | bc -l)
KEY=$(openssl rand -hex 32) IV=$(openssl rand -hex 16)
VT=build/tools/vaulttool
$VT seal "$T/k" "$T/in.pcap" "$T/v.enc"
openssl enc -aes-256-ctr -K "$KEY" -iv "$IV" -in "$T/in.pcap" -out "$T/o.enc"
rate() { printf '%.0f' "$(echo "$MB / $1" | bc -l)"; }
for i in 1 2 3 4 5; do
	t $VT seal "$T/k" "$T/in.pcap" "$T/v.enc" >>"$T/seal"
	t $VT open "$T/k" "$T/v.enc" "$T/v.out" >>"$T/open"
	t openssl enc -aes-256-ctr -K "$KEY" -iv "$IV" -in "$T/in.pcap" -out "$T/o.enc" >>"$T/oenc"
	t openssl enc -d -aes-256-ctr -K "$KEY" -iv "$IV" -in "$T/o.enc" -out "$T/o.out" >>"$T/odec"
done
cmp -s "$T/in.pcap" "$T/v.out" || { echo "vault round trip differs" >&2; exit 1; }
s=$(median <"$T/seal") o=$(median <"$T/open") e=$(median <"$T/oenc") d=$(median <"$T/odec")
printf 'file: %.0f MB on tmpfs, medians of 5\n' "$MB"
printf '  ringcap seal (AES-256-GCM)     %6.3f s  %5s MB/s\n' "$s" "$(rate "$s")"
printf '  openssl enc -aes-256-ctr       %6.3f s  %5s MB/s\n' "$e" "$(rate "$e")"
printf '  ringcap open (verify+decrypt)  %6.3f s  %5s MB/s\n' "$o" "$(rate "$o")"
printf '  openssl enc -d -aes-256-ctr    %6.3f s  %5s MB/s\n' "$d" "$(rate "$d")"
printf 'ratio seal/openssl: %.2f (target > 0.50)   open/openssl: %.2f (target > 0.50)\n' \
	"$(echo "$e / $s" | bc -l)" "$(echo "$d / $o" | bc -l)"
