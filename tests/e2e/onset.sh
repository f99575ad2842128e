#!/bin/bash
# Pre-onset evidence: background traffic, then a flood at full rate from its first packet, at
# rates from 2x the threshold to 1,000,000 packets/s, for the SYN, UDP, ICMP, per-host packet and
# per-host Mbit/s triggers, at the thresholds an operator of a small server would set. Each
# incident capture must be consecutive input packets that hold the flood's first packet with the
# 500 packets before the onset in front of it, and its metadata must say where the onset and the
# trigger are. Then a flood faster than the ring's memory (the capture starts as early as memory
# allowed and says so) and the ring/cap rules refused before anything is written.
. "$(dirname "$0")/lib.sh"
MK=$TOOLS/mkflood
meta() { jq -r "$2" "$1/incidents/$3.json"; }
ids() { ls "$1/incidents" 2>/dev/null | sed -n 's/^\([0-9]*\)\.json$/\1/p' | sort -n; }
first_of() { sed -n "s/^phase $2 first=\([0-9]*\) .*/\1/p" "$1" | head -n 1; }
start_of() { sed -n "s/^phase $2 first=[0-9]* start=\([0-9.]*\) .*/\1/p" "$1" | head -n 1; }
# is_slice INPUT CAPTURE: the 1-based index in INPUT where CAPTURE starts if CAPTURE is consecutive
# packets of INPUT
is_slice() {
	"$TOOLS/pcapdigest" --list "$1" >"$WORK/in.list"; "$TOOLS/pcapdigest" --list "$2" >"$WORK/cap.list"
	local first n
	first=$(grep -nxF "$(head -n 1 "$WORK/cap.list")" "$WORK/in.list" | head -n 1 | cut -d: -f1)
	n=$(wc -l <"$WORK/cap.list")
	[[ -n $first ]] && cmp -s <(sed -n "${first},$((first + n - 1))p" "$WORK/in.list") "$WORK/cap.list" && echo "$first"
}
# a small server's thresholds (SYN 1,000/s, UDP 5,000/s, ICMP 1,000/s, per host 5,000 packets/s
# and 50 Mbit/s, total 20,000 packets/s)
SMALL=(--threshold-syn-pps 1000 --threshold-udp-pps 5000 --threshold-icmp-pps 1000
	--threshold-host-pps 5000 --threshold-host-mbps 50 --threshold-pps 20000 --save-pcap false
	--resolve-seconds 1)
TABLE=$WORK/table
: >"$TABLE"

# case NAME KIND RATE WANT_TRIGGER [run options...]
case_() {
	local name=$1 kind=$2 rate=$3 want=$4; shift 4
	local n=$((rate / 4)); ((n < 3000)) && n=3000; ((n > 60000)) && n=60000
	local in=$WORK/$name.pcap D=$WORK/$name
	# 6 s of background at 500 packets/s, 37 ms of nothing (the flood starts inside a bucket),
	# the flood, 1 s of background
	"$MK" -o "$in" quiet:3000:500 gap:37 "$kind:$n:$rate" quiet:500:500 >"$WORK/$name.phases"
	"$RINGCAP" run -q -r "$in" -o "$D" "${SMALL[@]}" "$@" >/dev/null 2>"$WORK/$name.err"
	local ff t0 cap at
	ff=$(first_of "$WORK/$name.phases" "$kind"); t0=$(start_of "$WORK/$name.phases" "$kind")
	check "$name-one-incident" test "$(ids "$D" | wc -l)" = 1
	check "$name-trigger-$want" test "$(meta "$D" .trigger.threshold 1)" = "$want"
	cap=$(incident_pcap "$D" 1)
	at=$(is_slice "$in" "$cap")
	check "$name-consecutive-slice" test -n "$at"
	check "$name-holds-first-flood-packet" test -n "$at" -a "${at:-0}" -le "$ff"
	check "$name-500-before-the-flood" test "$((ff - ${at:-$ff}))" -ge 500
	check "$name-pre-onset-500" test "$(meta "$D" .onset.pre_onset_packets 1)" = 500
	check "$name-onset-frame-501" test "$(meta "$D" .onset.onset_frame 1)" = 501
	check "$name-onset-in-capture" test "$(meta "$D" '.onset.in_capture and .onset.reached' 1)" = true
	# the onset is the flood's first packet or a background packet less than a bucket before it
	local on
	on=$(date -d "$(meta "$D" .onset.time 1)" +%s.%N)
	check "$name-onset-time" bash -c "awk -v o=$on -v t=$t0 'BEGIN { exit !(o <= t + 1e-7 && o > t - 0.1) }'"
	local tf; tf=$(meta "$D" .onset.trigger_frame 1)
	check "$name-trigger-after-onset" test "${tf/null/0}" -gt 501
	printf '| %s | %s | %d pps | %s | %s | %s | %s | %s |\n' "$name" "$kind" "$rate" \
		"$(meta "$D" .trigger.threshold 1)" "$(meta "$D" .onset.in_capture 1)" \
		"$((ff - ${at:-$ff}))" "$(meta "$D" .onset.onset_to_trigger_packets 1)" \
		"$(meta "$D" .classification 1)" >>"$TABLE"
}

for rate in 2000 10000 100000 1000000; do case_ "syn-$rate" syn "$rate" syn_pps; done
for rate in 10000 50000 100000 1000000; do case_ "udp-$rate" udp "$rate" udp_pps; done
for rate in 2000 10000 100000 1000000; do case_ "icmp-$rate" icmp "$rate" icmp_pps; done
# per host: UDP to one victim with the UDP threshold off
for rate in 10000 50000 100000 1000000; do
	case_ "host-$rate" udp "$rate" host_pps --threshold-udp-pps 0
done
# per host Mbit/s: large DNS responses to one victim with the UDP and per-host packet thresholds off
for rate in 12000 100000 1000000; do
	case_ "hostmbps-$rate" dnsamp "$rate" host_mbps --threshold-udp-pps 0 --threshold-host-pps 0 \
		--threshold-pps 0
done
echo "  | case | flood | rate | trigger | onset in capture | packets before the flood | onset to trigger | classification |"
sed 's/^/  /' "$TABLE"

# A flood faster than the ring's memory: total packets/s at 100,000 (20,000 packets in the window)
# with a 1 MiB ring (about 6,500 packets): the run-up does not fit, the capture starts as early
# as memory allowed, and the metadata says the onset was not reached.
"$MK" -o "$WORK/big.pcap" quiet:3000:500 gap:37 udp:60000:1000000 quiet:500:500 >"$WORK/big.phases"
"$RINGCAP" run -q -r "$WORK/big.pcap" -o "$WORK/big" --threshold-pps 100000 --threshold-udp-pps 0 \
	--threshold-host-pps 0 --ring-mb 1 --save-pcap false --resolve-seconds 1 >/dev/null 2>&1
D=$WORK/big
check budget-one-incident test "$(ids "$D" | wc -l)" = 1
check budget-onset-not-reached test "$(meta "$D" .onset.reached 1)" = false
check budget-onset-not-in-capture test "$(meta "$D" .onset.in_capture 1)" = false
check budget-evicted-for-memory test "$(meta "$D" .ring.evicted_for_memory 1)" -gt 0
cap=$(incident_pcap "$D" 1)
at=$(is_slice "$WORK/big.pcap" "$cap")
ff=$(first_of "$WORK/big.phases" udp)
check budget-consecutive-slice test -n "$at"
check budget-starts-inside-the-flood test "${at:-0}" -gt "$ff"
check budget-capped test "$(meta "$D" .pcap_packets 1)" = 10000

# the default capture holds a live section only when the run-up leaves room: at the default
# total threshold (100,000/s over 200 ms = 20,000 packets) it does not, and the metadata says so
"$RINGCAP" run -q -r "$WORK/big.pcap" -o "$WORK/nolive" --threshold-pps 100000 --threshold-udp-pps 0 \
	--threshold-host-pps 0 --save-pcap false --resolve-seconds 1 >/dev/null 2>&1
D=$WORK/nolive
check nolive-onset-in-capture test "$(meta "$D" .onset.in_capture 1)" = true
check nolive-no-trigger-frame test "$(meta "$D" .onset.trigger_frame 1)" = null
check nolive-capped test "$(meta "$D" .pcap_packets 1)" = 10000

# the ring/cap rules: refused before anything is written, the setting named
refused() { # NAME WANT_IN_MESSAGE run-options...
	local name=$1 want=$2; shift 2
	rm -rf "$WORK/ref"
	"$RINGCAP" run -q -r "$WORK/syn-2000.pcap" -o "$WORK/ref" "$@" >/dev/null 2>"$WORK/ref.err"
	local rc=$?
	check "refuse-$name-status" test $rc = 2
	check "refuse-$name-message" grep -q -- "$want" "$WORK/ref.err"
	check "refuse-$name-nothing-written" test ! -e "$WORK/ref"
}
refused ring-equals-cap "RING_PACKETS 10000 is not less than INCIDENT_MAX_PACKETS 10000" --ring-packets 10000
refused ring-seconds-short "RING_SECONDS 0.100 is shorter" --ring-seconds 0.1
refused resolve-not-bucket "resolve-seconds" --resolve-seconds 0.15
refused ring-mb-too-small "ring-mb" --ring-mb 0
finish
