#!/bin/bash
# `ringcap analyze': golden outputs (tests/golden/analyze/cases); counts cross-checked against
# tshark on a few corpus captures (io,phs for the protocols both name, endpoints,ip/ipv6 top 20);
# suspicious finds the attack of each attack capture that shows a clear one and nothing alarming
# (high or medium) on the ordinary captures; damaged and unreadable files; list and --all on a
# folder written by `ringcap run'; -w; the progress bar only on a terminal; usage errors.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/golden/golden.inc.sh"
A=("$RINGCAP" analyze)

# run NAME ARGS...: stdout to $WORK/NAME.out, stderr to $WORK/NAME.err, status in $rc; a crash or
# a sanitizer report is a failure of its own.
run() {
	local n=$1; shift
	"${A[@]}" "$@" --no-progress >"$WORK/$n.out" 2>"$WORK/$n.err"; rc=$?
	if ((rc >= 128)) || ! sanitizer_clean "$WORK/$n.err"; then
		fail "$n-clean" "status $rc: $(grep -m3 -E 'ERROR|runtime error' "$WORK/$n.err")"
	fi
}

# --- golden outputs ---
while IFS=$'\t' read -r name input args; do
	in=$(golden_input "$input")
	[[ -f $in ]] || { fail "golden/$name" "missing input $in"; continue; }
	# shellcheck disable=SC2086
	run "golden-$name" $args "$in"
	if cmp -s "$WORK/golden-$name.out" "$ROOT/tests/golden/analyze/$name.out"; then
		pass "golden/$name"
	else
		fail "golden/$name" "differs: diff $ROOT/tests/golden/analyze/$name.out $WORK/golden-$name.out"
		diff "$ROOT/tests/golden/analyze/$name.out" "$WORK/golden-$name.out" | head -5 | sed 's/^/  /'
	fi
done < <(grep -vE '^[[:space:]]*(#|$)' "$ROOT/tests/golden/analyze/cases")

# --- cross-check against tshark ---
# Protocols compared: those both tools name the same way and count per frame. Left out on purpose:
# TCP application protocols (tshark counts reassembled messages, we count segments with payload
# on the port), anything below icmp/icmpv6 (tshark dissects the packet quoted in an error), quic
# and stun (tshark nests coalesced packets and follows conversations), "data".
CMP_NAMES=" eth vlan ieee8021ad arp ip ipv6 tcp udp icmp icmpv6 sctp gre igmp mpls pppoes ppp llc stp sll raw null dns ntp ssdp dhcp dhcpv6 mdns llmnr nbns nbdgm snmp "
# Captures where the counts of those protocols agree (checked by hand on the whole corpus: the
# others differ only in the cases listed above, in MPLS pseudowires we do not decode, and on
# malformed files where tshark and libpcap disagree about the records themselves).
XCHECK=(normal/chrissanders__http_espn.pcapng normal/ndpi__1kxun.pcap
	normal/suricata__tls-subjectaltname.pcap normal/ntopng__tor.pcap
	attack/esnet__masscan_udp_0_1000.pcap attack/mlqos__ddos_attack.pcap
	odd/arkime__twovlan.pcap odd/arkime__6-4-gre-ppp-udp-4-dns.pcap
	odd/lwerdna__simple_http_sll2.pcap odd/chrissanders__ipv6_fragments.pcapng)

# tshark's io,phs as "path frames bytes" lines (paths of names joined by /).
phs_paths() {
	awk '/frames:[0-9]+ bytes:[0-9]+/ {
		match($0, /^ */); d = RLENGTH / 2; name = $1
		if (name ~ /^\.\.\./) next
		stack[d] = name; p = stack[0]; for (i = 1; i <= d; i++) p = p "/" stack[i]
		split($2, f, ":"); split($3, b, ":"); print p, f[2], b[2] }'
}
# keeps the lines whose path has only compared names, and icmp/icmpv6 only as the last one
cmp_filter() {
	awk -v names="$CMP_NAMES" '{ n = split($1, part, "/")
		for (i = 1; i <= n; i++) {
			if (index(names, " " part[i] " ") == 0) next
			if ((part[i] == "icmp" || part[i] == "icmpv6") && i < n) next
		}
		print }' | sort
}
# tshark's endpoints table as "address packets bytes txp txb rxp rxb", in its order
ep_rows() { awk -v t="$1" '/Endpoints/ { on = ($1 == t) } on && NF == 7 && $2 ~ /^[0-9]+$/ { print }'; }

if command -v tshark >/dev/null && [[ -d $CORPUS ]]; then
	for rel in "${XCHECK[@]}"; do
		f=$CORPUS/$rel; n=$(basename "$rel")
		[[ -f $f ]] || { fail "tshark/$n" "missing $f"; continue; }
		tshark -r "$f" -q -z io,phs -z endpoints,ip -z endpoints,ipv6 >"$WORK/ts-$n.txt" 2>/dev/null
		run "ours-phs-$n" protocols --json "$f"
		phs_paths <"$WORK/ts-$n.txt" | cmp_filter >"$WORK/ts-$n.phs"
		jq -r '.protocols[] | "\(.path) \(.frames) \(.bytes)"' "$WORK/ours-phs-$n.out" | cmp_filter \
			>"$WORK/ours-$n.phs"
		if [[ -s $WORK/ts-$n.phs ]] && diff "$WORK/ts-$n.phs" "$WORK/ours-$n.phs" >"$WORK/phs-$n.diff"; then
			pass "tshark-phs/$n"
		else
			fail "tshark-phs/$n" "see $WORK/phs-$n.diff"; head -4 "$WORK/phs-$n.diff" | sed 's/^/  /'
		fi
		run "ours-ep-$n" endpoints --json --top 1000000 "$f"
		ok=1
		for v in 4 6; do
			t=IPv4; [[ $v == 6 ]] && t=IPv6
			ep_rows "$t" <"$WORK/ts-$n.txt" >"$WORK/ts-$n.ep$v"
			jq -r ".ipv$v.rows[] | \"\(.address) \(.packets) \(.bytes) \(.tx_packets) \(.tx_bytes) \(.rx_packets) \(.rx_bytes)\"" \
				"$WORK/ours-ep-$n.out" >"$WORK/ours-$n.ep$v"
			# our top 20 rows are tshark's rows for the same addresses ...
			while read -r row; do
				grep -qxF "$row" <(awk '{$1 = $1; print}' "$WORK/ts-$n.ep$v") || { ok=0; echo "  ours not in tshark: $row"; }
			done < <(head -n 20 "$WORK/ours-$n.ep$v")
			# ... and the top 20 packet counts are the same (tshark's order of ties is its own)
			[[ $(head -n 20 "$WORK/ours-$n.ep$v" | cut -d' ' -f2 | sort -n | tr '\n' ' ') == \
			   $(awk '{print $2}' "$WORK/ts-$n.ep$v" | sort -rn | head -n 20 | sort -n | tr '\n' ' ') ]] ||
				{ ok=0; echo "  top 20 packet counts differ (IPv$v)"; }
			[[ $(wc -l <"$WORK/ours-$n.ep$v") == $(wc -l <"$WORK/ts-$n.ep$v") ]] ||
				{ ok=0; echo "  number of IPv$v addresses differs"; }
		done
		((ok)) && pass "tshark-endpoints/$n" || fail "tshark-endpoints/$n"
	done
else
	skip tshark-cross-checks "tshark or the corpus is missing"
fi

# --- suspicious on the corpus ---
# The attack captures that show a clear attack of a kind `suspicious' looks for, and the finding
# it must report (high or medium). Not listed, having none of those kinds: slowloris, teardrop,
# ARP spoofing, the zeek DHCP flood (500 packets in 5 s), the fragment spray.
declare -A EXPECT=(
	[esnet__masscan_tcp_0_1000.pcap]=vertical-scan
	[esnet__masscan_udp_0_1000.pcap]=vertical-scan
	[mlqos__ddos_attack.pcap]=syn-flood
	[ndpi__NTPv2.pcap]=amplification
	[netlyzer__ddos.pcap]=amplification
	[ntopng__synscan.pcap]=vertical-scan
	[ntopng__tcp-flood.pcap]=syn-flood
	[pcaphunt__hs-icmpScan.pcap]=horizontal-scan
	[pcaphunt__ps-tcp_syn.pcap]=vertical-scan
	[pcaphunt__ps-udp.pcap]=vertical-scan
	[suricata__dhcp-request-flood.pcap]=udp-flood
	[suricata__ipv6-denial6-5.pcap]=icmp-flood
	[suricata__ipv6-denial6-6.pcap]=icmp-flood
	[suricata__ipv6-rsmurf6.pcap]=icmp-flood
	[suricata__tcp-session-syn-flood.pcap]=syn-flood
)
# ... and what must not be reported on them (a scan is not a flood, a flood is not a scan)
declare -A NOT=(
	[ntopng__synscan.pcap]=syn-flood
	[pcaphunt__ps-tcp_syn.pcap]=syn-flood
	[ntopng__tcp-flood.pcap]=vertical-scan
	[netlyzer__ddos.pcap]=udp-flood
)
if [[ -d $CORPUS ]]; then
	for f in "$CORPUS"/attack/*; do
		n=$(basename "$f"); want=${EXPECT[$n]:-}
		run "susp-$n" suspicious --json "$f"
		types=$(jq -r '[.findings[] | .type] | unique | join(",")' "$WORK/susp-$n.out" 2>/dev/null)
		if [[ -z $want ]]; then
			[[ $rc == 0 ]] && pass "suspicious-attack/$n" || fail "suspicious-attack/$n" "status $rc"
			continue
		fi
		got=$(jq -r --arg t "$want" '[.findings[] | select(.type == $t)] | length' "$WORK/susp-$n.out" 2>/dev/null)
		bad=${NOT[$n]:-none}
		if [[ $rc == 0 && ${got:-0} -gt 0 && ,$types, != *",$bad,"* ]]; then
			pass "suspicious-attack/$n"
		else
			fail "suspicious-attack/$n" "want $want (not $bad), got [$types], status $rc"
		fi
	done
	for f in "$CORPUS"/normal/*; do
		n=$(basename "$f")
		run "susp-$n" suspicious --json --min-severity medium "$f"
		c=$(jq '.findings | length' "$WORK/susp-$n.out" 2>/dev/null)
		# pgsql-5000 ends with a stray byte: status 1, findings all the same
		if [[ $c == 0 ]]; then pass "suspicious-normal/$n"; else
			fail "suspicious-normal/$n" "$(jq -c '[.findings[] | .type]' "$WORK/susp-$n.out")"; fi
	done
fi

# --- damaged, truncated and unreadable files ---
PG=$CORPUS/normal/suricata__pgsql-5000.pcap
if [[ -f $PG ]]; then
	run damaged protocols "$PG"
	check damaged-status test "$rc" = 1
	check damaged-message grep -qF "$PG: damaged at byte 3276005: " "$WORK/damaged.err"
	check damaged-count grep -qF "the 785 packets before it were analysed" "$WORK/damaged.err"
	check damaged-results grep -q '^Protocol hierarchy: 785 frames' "$WORK/damaged.out"
fi
IN=$ROOT/tests/data/zeek-http-bro.org.pcap
head -c 100000 "$IN" >"$WORK/cut.pcap"
run truncated endpoints "$WORK/cut.pcap"
check truncated-status test "$rc" = 1
check truncated-offset grep -qF "$WORK/cut.pcap: damaged at byte 99272: truncated dump file" "$WORK/truncated.err"
check truncated-results grep -q '^10.0.2.15 *181 ' "$WORK/truncated.out"
if [[ -f $CORPUS/normal/chrissanders__http_espn.pcapng ]]; then
	head -c 50000 "$CORPUS/normal/chrissanders__http_espn.pcapng" >"$WORK/cut.pcapng"
	run truncated-ng suspicious "$WORK/cut.pcapng"
	check truncated-pcapng grep -qE 'cut.pcapng: damaged at byte [0-9]+: .*; the 82 packets before it were analysed' "$WORK/truncated-ng.err"
fi
echo "not a capture" >"$WORK/junk.pcap"
run junk protocols "$WORK/junk.pcap"
check unreadable test "$rc" = 1 -a ! -s "$WORK/junk.out"
check unreadable-message grep -qF "$WORK/junk.pcap: cannot read at byte 0: " "$WORK/junk.err"
# a bad file among good ones: the good ones are still analysed
run mixed protocols "$IN" "$WORK/junk.pcap" "$IN"
check bad-among-good grep -q '^Protocol hierarchy: 1502 frames' "$WORK/mixed.out"

# --- odd captures (malformed, truncated, unusual link types) must not crash: all of them in one
# run of each analysis, as one capture; unreadable ones are reported and skipped ---
if [[ -d $CORPUS/odd ]]; then
	for c in protocols endpoints suspicious; do
		run "odd-$c" "$c" "$CORPUS"/odd/*
		check "odd-captures-$c" test "$rc" -le 1 -a -s "$WORK/odd-$c.out"
	done
fi

# --- list and --all on a folder written by `ringcap run' ---
D=$WORK/run
"$RINGCAP" run -q -r "$IN" -o "$D" -C 0.2 -W 0 >/dev/null 2>&1
last=$(ls "$D/pcaps" | sort | tail -n 1)
mv "$D/pcaps/$last" "$D/pcaps/$last.part" # as if still being written
mkdir -p "$D/incidents/inc-1"
cp "$ROOT/tests/data/zeek-http-bro.org.pcap" "$D/incidents/inc-1/capture.pcap"
echo "not a capture" >"$D/incidents/inc-1/notes.txt"
run list list -o "$D" --json
check list-status test "$rc" = 0
check list-continuous test "$(jq '[.files[] | select(.kind == "continuous")] | length' "$WORK/list.out")" = "$(ls "$D/pcaps" | wc -l)"
check list-packets test "$(jq '[.files[] | select(.kind == "continuous") | .packets] | add' "$WORK/list.out")" = 751
check list-incident test "$(jq -r '[.files[] | select(.kind == "incident") | .name] | join(" ")' "$WORK/list.out")" = incidents/inc-1/capture.pcap
check list-writing test "$(jq -r '.files[] | select(.writing) | .name' "$WORK/list.out")" = "pcaps/$last.part"
check list-times test "$(jq -r '.files[0].first' "$WORK/list.out")" = 2014-01-14T17:04:01.819644Z
run list-text list -o "$D"
check list-table grep -qE "^continuous +pcaps/$last.part +[0-9.]+ kB +[0-9]+ .* writing$" "$WORK/list-text.out"
run list-none list -o "$WORK/nothing-here"
check list-missing-dir test "$rc" = 1 -a -s "$WORK/list-none.err"
run all protocols --all -o "$D"
check all-frames grep -q '^Protocol hierarchy: 751 frames, 494493 bytes' "$WORK/all.out"
run all-and-file protocols --all -o "$D" "$IN"
check all-and-file-is-usage test "$rc" = 2

# --- suspicious -w ---
SYN=$CORPUS/attack/suricata__tcp-session-syn-flood.pcap
if [[ -f $SYN ]]; then
	run write suspicious -w "$WORK/behind.pcap" "$SYN"
	check write-status test "$rc" = 0
	check write-count test "$(capinfos -c -M "$WORK/behind.pcap" 2>/dev/null | awk '/Number of packets/ {print $NF}')" = 200
	check write-no-temp test -z "$(ls "$WORK" | grep 'behind.pcap.tmp')"
	run write-none suspicious --min-severity high -w "$WORK/none.pcap" "$IN"
	check write-empty test "$(capinfos -c -M "$WORK/none.pcap" 2>/dev/null | awk '/Number of packets/ {print $NF}')" = 0
fi

# --- options after the file, sort, JSON is JSON ---
run top3 endpoints "$IN" --top 1
check options-after-file test "$(grep -cE '^[0-9]+\.' "$WORK/top3.out")" = 1
for c in protocols endpoints suspicious; do
	run "json-$c" "$c" --json "$IN"
	check "json-$c" quiet jq -e . "$WORK/json-$c.out"
done

# --- progress bar: on a terminal only ---
# (the bar is redrawn every 4096 packets: a capture with 40k of them)
BIG=$CORPUS/attack/suricata__ipv6-denial6-6.pcap
if [[ -f $BIG ]]; then
	RINGCAP_PROGRESS_DELAY=0 script -qec "$RINGCAP analyze protocols $BIG >/dev/null" /dev/null >"$WORK/tty.txt" 2>&1
	check progress-on-terminal grep -qE '\[=+ *\] +[0-9]+%.* of 4\.0 MB .*packets/s' "$WORK/tty.txt"
fi
RINGCAP_PROGRESS_DELAY=0 "${A[@]}" protocols "${BIG:-$IN}" >/dev/null 2>"$WORK/notty.txt"
check no-progress-when-not-terminal test ! -s "$WORK/notty.txt"

# --- usage errors: status 2 ---
usage() { local n=$1; shift; run "usage-$n" "$@"; check "usage-$n" test "$rc" = 2; }
usage no-file protocols
usage unknown-command frobnicate "$IN"
usage bad-sort endpoints --sort loudest "$IN"
usage bad-top endpoints --top 0 "$IN"
usage unknown-flag protocols --frobnicate "$IN"
usage bad-severity suspicious --min-severity dire "$IN"
"${A[@]}" help >"$WORK/help.out" 2>&1
check help-lists-commands test "$(grep -cE '^  (list|protocols|endpoints|suspicious) ' "$WORK/help.out")" = 4
finish
