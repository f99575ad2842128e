#!/bin/bash
# The flight recorder on generated captures (quiet, flood, quiet) read with -r: one incident whose
# capture starts with exactly the 500 packets before the flood's first packet (the onset) and
# holds consecutive input packets; the cap; statistics after the cap; detection latency; resolve; two floods; a dip;
# pcapng comments; reading incidents back; the config file. Then the attack corpus.
. "$(dirname "$0")/lib.sh"
MK=$TOOLS/mkflood
list() { "$TOOLS/pcapdigest" --list "$@"; }
meta() { jq -r "$2" "$1/incidents/$3.json"; }
ids() { ls "$1/incidents" 2>/dev/null | sed -n 's/^\([0-9]*\)\.json$/\1/p' | sort -n; }
# is_slice INPUT CAPTURE: prints the 1-based index in INPUT where CAPTURE's packets start, if they
# are consecutive packets of INPUT; else nothing.
is_slice() {
	list "$1" >"$WORK/in.list"; list "$2" >"$WORK/cap.list"
	local first n
	first=$(grep -nxF "$(head -n 1 "$WORK/cap.list")" "$WORK/in.list" | head -n 1 | cut -d: -f1)
	n=$(wc -l <"$WORK/cap.list")
	[[ -n $first ]] && cmp -s <(sed -n "${first},$((first + n - 1))p" "$WORK/in.list") "$WORK/cap.list" && echo "$first"
}
start_of() { sed -n "s/^phase $2 .*start=\([0-9.]*\) .*/\1/p" "$1" | head -n 1; }
first_of() { sed -n "s/^phase $2 first=\([0-9]*\) .*/\1/p" "$1" | head -n 1; }
to_epoch() { date -d "$1" +%s.%N; }
RUNOPTS=(--resolve-seconds 2 --threshold-syn-pps 5000)

# 1. A long SYN flood: quiet 10 s at 100 pps, 20,000 SYNs at 20,000 pps, quiet 10 s.
"$MK" -o "$WORK/long.pcap" quiet:1000:100 syn:20000:20000 quiet:1000:100 >"$WORK/long.phases"
"$RINGCAP" run -r "$WORK/long.pcap" -o "$WORK/long" "${RUNOPTS[@]}" >"$WORK/long.out" 2>"$WORK/long.err"
check long-one-incident test "$(ids "$WORK/long" | wc -l)" = 1
D=$WORK/long
check long-classified-syn test "$(meta "$D" .classification 1)" = syn_flood
check long-trigger-syn test "$(meta "$D" .trigger.threshold 1)" = syn_pps
check long-pre-onset-500 test "$(meta "$D" .onset.pre_onset_packets 1)" = 500
check long-onset-frame-501 test "$(meta "$D" .onset.onset_frame 1)" = 501
check long-onset-in-capture test "$(meta "$D" .onset.in_capture 1)" = true
# 1,000 SYNs over the 200 ms window reach 5,000/s: the 1,001st is the trigger
check long-trigger-frame-1501 test "$(meta "$D" .onset.trigger_frame 1)" = 1501
check long-onset-time test "$(meta "$D" .onset.time 1)" = 2024-01-01T00:00:10.000000Z
check long-ring-settings test "$(jq -c '[.ring.mode, .ring.seconds, .ring.packets_before_window]' "$D/incidents/1.json")" = '["time",1.2,500]'
check long-capture-10000 test "$(meta "$D" .pcap_packets 1)" = 10000
check long-cap-reached test "$(meta "$D" .cap_reached 1)" = true
check long-seen-past-cap test "$(meta "$D" .packets_seen 1)" -gt 10000
check long-state-resolved test "$(meta "$D" .state 1)" = resolved
cap=$(incident_pcap "$D" 1)
check long-capinfos quiet capinfos "$cap"
at=$(is_slice "$WORK/long.pcap" "$cap")
check long-consecutive-input-packets test -n "$at"
ff=$(first_of "$WORK/long.phases" syn)
# the capture's 501st packet is the flood's first
check long-starts-500-before-flood test -n "$at" -a "$((at + 500))" = "$ff"
lat=$(echo "$(to_epoch "$(meta "$D" .trigger.time 1)") - $(start_of "$WORK/long.phases" syn)" | bc -l)
echo "  detection latency: $lat s after the flood's first packet"
check long-latency-under-250ms test "$(echo "$lat >= 0 && $lat <= 0.25" | bc -l)" = 1
check long-flush-figure-in-summary grep -q "fsync'd in" "$WORK/long.out"
fl=$(meta "$D" .pre_trigger_flush_ms 1)
echo "  pre-trigger write + fsync: $fl ms"
check long-flush-under-50ms test "$(echo "$fl < 50" | bc -l)" = 1

# 2. A flood shorter than the cap: everything from the ring to the resolve, not capped.
"$MK" -o "$WORK/short.pcap" quiet:1000:100 syn:3000:20000 quiet:1000:100 >"$WORK/short.phases"
"$RINGCAP" run -q -r "$WORK/short.pcap" -o "$WORK/short" "${RUNOPTS[@]}" >/dev/null 2>&1
D=$WORK/short
check short-one-incident test "$(ids "$D" | wc -l)" = 1
check short-not-capped test "$(meta "$D" .cap_reached 1)" = false
n=$(meta "$D" .pcap_packets 1)
# 500 quiet packets before the onset, the whole flood, then the quiet packets until the resolve
# 2 s later (about 200)
check short-holds-ring-and-flood test "$n" -gt 3650 -a "$n" -lt 3750
check short-consecutive test -n "$(is_slice "$WORK/short.pcap" "$(incident_pcap "$D" 1)")"
end=$(sed -n 's/^phase syn .*end=\([0-9.]*\)$/\1/p' "$WORK/short.phases")
res=$(to_epoch "$(meta "$D" .resolved_at 1)")
check short-resolves-after-quiet test "$(echo "$res - $end >= 2 && $res - $end <= 2.5" | bc -l)" = 1
check short-resolve-reason test "$(meta "$D" .resolve_reason 1)" = quiet

# 3. Two floods separated by a long quiet gap: two incidents. 4. A short dip: one incident.
"$MK" -o "$WORK/two.pcap" quiet:500:100 syn:3000:20000 quiet:1000:100 udp:30000:60000 quiet:500:100 >/dev/null
"$RINGCAP" run -q -r "$WORK/two.pcap" -o "$WORK/two" "${RUNOPTS[@]}" >/dev/null 2>&1
check two-floods-two-incidents test "$(ids "$WORK/two" | wc -l)" = 2
check two-second-is-udp test "$(meta "$WORK/two" .classification 2)" = udp_flood
"$MK" -o "$WORK/dip.pcap" quiet:500:100 syn:3000:20000 quiet:100:100 syn:3000:20000 quiet:500:100 >/dev/null
"$RINGCAP" run -q -r "$WORK/dip.pcap" -o "$WORK/dip" "${RUNOPTS[@]}" >/dev/null 2>&1
check dip-one-incident test "$(ids "$WORK/dip" | wc -l)" = 1

# 5. pcapng: the trigger in the section comment, every packet marked pre-onset, onset-to-trigger
# or incident.
"$RINGCAP" run -q -r "$WORK/short.pcap" -o "$WORK/ng" "${RUNOPTS[@]}" --incident-format pcapng >/dev/null 2>&1
ng=$(incident_pcap "$WORK/ng" 1)
check pcapng-sealed-name test "$(meta "$WORK/ng" .pcap_file 1)" = 1.pcapng.enc
check pcapng-name test "${ng##*.}" = pcapng
tshark -r "$ng" -T fields -e frame.comment 2>/dev/null | sort | uniq -c >"$WORK/ng.comments"
check pcapng-500-pre-onset grep -qE '^ +500 pre-onset$' "$WORK/ng.comments"
check pcapng-1000-onset-to-trigger grep -qE '^ +1000 onset-to-trigger$' "$WORK/ng.comments"
check pcapng-incident-comments grep -qE '^ +[0-9]+ incident$' "$WORK/ng.comments"
check pcapng-shb-comment bash -c "capinfos -k '$ng' 2>/dev/null | grep -q 'syn_pps'"
check pcapng-tshark-V bash -c "tshark -V -r '$ng' -c 1 2>/dev/null | grep -q 'pre-onset'"

# 6. Reading back.
out=$("$RINGCAP" incidents -o "$WORK/two")
check incidents-lists-two test "$(echo "$out" | grep -cE '^[0-9]+ +resolved')" = 2
check incidents-json test "$("$RINGCAP" incidents -o "$WORK/two" --json | jq -s length)" = 2
check show-json test "$("$RINGCAP" incident show 1 -o "$WORK/two" --json | jq -r .id)" = 1
"$RINGCAP" incident pcap 1 -o "$WORK/two" -w "$WORK/exported.pcap"
check pcap-export-equal test "$(sha256sum <"$WORK/exported.pcap" | cut -d" " -f1)" = "$(meta "$WORK/two" .storage.sha256 1)"
"$RINGCAP" incident show 99 -o "$WORK/two" 2>"$WORK/e99"; rc=$?
check show-unknown-id test $rc = 1 -a -n "$(grep 'no incident 99' "$WORK/e99")"
"$RINGCAP" incident show abc -o "$WORK/two" 2>/dev/null; rc=$?
check show-bad-id test $rc = 2

# 7. Config file: thresholds from it; unknown keys name the key and the line.
printf '# thresholds\nthreshold-syn-pps = 1000000\nRESOLVE_SECONDS = 2\n' >"$WORK/quiet.conf"
"$RINGCAP" run -q -r "$WORK/short.pcap" -o "$WORK/conf" --config "$WORK/quiet.conf" >/dev/null 2>&1
check config-file-threshold test "$(ids "$WORK/conf" | wc -l)" = 0
THRESHOLD_SYN_PPS=5000 "$RINGCAP" run -q -r "$WORK/short.pcap" -o "$WORK/conf2" --config "$WORK/quiet.conf" >/dev/null 2>&1
check env-overrides-config-file test "$(ids "$WORK/conf2" | wc -l)" = 1
printf 'threshold-pps = 10\nfrobnicate = 3\n' >"$WORK/bad.conf"
"$RINGCAP" run -r "$WORK/short.pcap" -o "$WORK/conf3" --config "$WORK/bad.conf" 2>"$WORK/bad.err"; rc=$?
check config-unknown-key test $rc = 2 -a -n "$(grep -F "bad.conf:2: unknown key \`frobnicate'" "$WORK/bad.err")"
"$RINGCAP" run -r "$WORK/short.pcap" -o "$WORK/conf4" --detect-window-ms 250 2>"$WORK/win.err"; rc=$?
check window-multiple-of-100 test $rc = 2

# 8. A legitimate 45 ms burst (SMB read, 3.1k packets) opens nothing at the default thresholds.
"$RINGCAP" run -q -r "$CORPUS/normal/suricata__smb2-async-read.pcap" -o "$WORK/smb" >/dev/null 2>&1
check smb-burst-no-incident test "$(ids "$WORK/smb" | wc -l)" = 0
# ...and nothing on the ordinary captures at the defaults.
quiet=1
for f in "$CORPUS"/normal/*; do
	"$RINGCAP" run -q -r "$f" -o "$WORK/normal" --save-pcap false >/dev/null 2>&1
done
check normal-corpus-no-incident test "$(ids "$WORK/normal" | wc -l)" = 0

# 9. The attack corpus with thresholds scaled to those captures' rates: the class is right.
cls() { # file expected options...
	local f=$1 want=$2 d=$WORK/att-$(basename "$1" .pcap); shift 2
	"$RINGCAP" run -q -r "$CORPUS/attack/$f" -o "$d" --save-pcap false "$@" >/dev/null 2>&1
	local got; got=$(meta "$d" .classification 1 2>/dev/null)
	check "attack-$f" test "$got" = "$want"
}
cls ntopng__tcp-flood.pcap syn_flood --threshold-syn-pps 500
cls netlyzer__ddos.pcap dns_amplification --threshold-udp-pps 2000
cls suricata__ipv6-denial6-5.pcap icmp_flood --threshold-icmp-pps 2000
cls suricata__ipv6-rsmurf6.pcap icmp_flood --threshold-icmp-pps 2000
finish
