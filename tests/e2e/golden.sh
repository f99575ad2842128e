#!/bin/bash
# Golden tests: for each case of tests/golden/TESTLIST the exact traffic_flows.jsonb, byte for
# byte; and a second run of the same input gives the same outputs (determinism).
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/golden/golden.inc.sh"
while IFS=$'\t' read -r name input opts; do
	in=$(golden_input "$input")
	[[ -f $in ]] || { fail "$name" "missing input $in"; continue; }
	# shellcheck disable=SC2086
	"$RINGCAP" run -q -r "$in" -o "$WORK/$name" $opts >/dev/null 2>"$WORK/$name.err"
	if cmp -s "$WORK/$name/traffic_flows.jsonb" "$ROOT/tests/golden/$name.jsonb"; then
		pass "$name"
	else
		fail "$name" "differs: diff $ROOT/tests/golden/$name.jsonb $WORK/$name/traffic_flows.jsonb"
		diff "$ROOT/tests/golden/$name.jsonb" "$WORK/$name/traffic_flows.jsonb" | head -5 | sed 's/^/  /'
	fi
done < <(golden_cases)

# Determinism: the same file twice gives identical flow records and identical pcap files.
in=$ROOT/tests/data/zeek-http-bro.org.pcap
"$RINGCAP" run -q -r "$in" -o "$WORK/det1" -C 0.1 >/dev/null 2>&1
"$RINGCAP" run -q -r "$in" -o "$WORK/det2" -C 0.1 >/dev/null 2>&1
check deterministic-flows cmp -s "$WORK/det1/traffic_flows.jsonb" "$WORK/det2/traffic_flows.jsonb"
check deterministic-pcaps diff -r "$WORK/det1/pcaps" "$WORK/det2/pcaps"
finish
