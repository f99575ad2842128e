#!/bin/bash
# Every capture of ../shared/corpus (normal, attack, odd) through `ringcap run -r` with rotation at
# 0.5 MB: no crash and no sanitizer report; every output file opens with capinfos; the rotated
# files, in sequence order, hold exactly the input's packets (timestamps, lengths, bytes); every
# line of traffic_flows.jsonb is one JSON object. A file libpcap cannot open at all must give
# status 1 and a message naming it.
. "$(dirname "$0")/lib.sh"
[[ -d $CORPUS ]] || { fail corpus-present "no corpus at $CORPUS"; finish; }

# The checker: CHECK_TOOLS (scripts/test.sh sets it to the plain build's tools for the sanitizer
# pass, where what is under test is the sanitized ringcap, not the checker) or this build's.
DIGEST=${CHECK_TOOLS:-$TOOLS}/pcapdigest

one() {
	local f=$1 cat name d rc
	cat=$(basename "$(dirname "$f")"); name=$(basename "$f")
	d=$WORK/$cat/$name
	mkdir -p "$d"
	"$RINGCAP" run -q -r "$f" -o "$d/out" -C 0.5 -W 0 >"$d/stdout" 2>"$d/stderr"; rc=$?
	local t="$cat/$name"
	if ((rc >= 128)) || ! sanitizer_clean "$d/stderr"; then
		fail "$t" "crashed (status $rc): $(grep -m3 -E 'ERROR|runtime error' "$d/stderr")"; return
	fi
	if [[ ! -d $d/out ]]; then
		# not opened at all: must be a clear error that names the file
		if [[ $rc == 1 ]] && grep -qF "$f" "$d/stderr"; then pass "$t"; else
			fail "$t" "status $rc without output: $(head -c 200 "$d/stderr")"; fi
		return
	fi
	local files=() p
	while read -r p; do files+=("$d/out/pcaps/$p"); done < <(ls "$d/out/pcaps" | sort -t_ -k4,4n)
	for p in "${files[@]}"; do
		[[ $p == *.pcap ]] || { fail "$t" "unfinished file $p"; return; }
		# (only where capinfos reads the input: it does not know every link type)
		if ! capinfos -c "$p" >/dev/null 2>&1 && capinfos -c "$f" >/dev/null 2>&1; then
			fail "$t" "capinfos rejects $p"; return
		fi
	done
	local want got
	want=$("$DIGEST" "$f" 2>/dev/null)
	if ((${#files[@]})); then got=$("$DIGEST" "${files[@]}" 2>/dev/null); else got="0 cbf29ce484222325"; fi
	[[ $want == "$got" ]] || { fail "$t" "packets differ: input $want, output $got"; return; }
	local lines objs
	lines=$(wc -l <"$d/out/traffic_flows.jsonb")
	objs=$(jq -c . "$d/out/traffic_flows.jsonb" 2>/dev/null | wc -l) || objs=x
	[[ $lines == "$objs" ]] || { fail "$t" "traffic_flows.jsonb: $lines lines, $objs JSON objects"; return; }
	pass "$t"
}

# One worker per core, each taking every JOBS-th file; their PASS/FAIL lines are counted here.
files=("$CORPUS"/normal/* "$CORPUS"/attack/* "$CORPUS"/odd/*)
jobs=$(nproc 2>/dev/null || echo 2); ((jobs > 4)) && jobs=4
for ((j = 0; j < jobs; j++)); do
	(for ((i = j; i < ${#files[@]}; i += jobs)); do one "${files[i]}"; done) >"$WORK/part.$j" &
done
wait
cat "$WORK"/part.*
npass=$((npass + $(cat "$WORK"/part.* | grep -c '^PASS '))) nfail=$((nfail + $(cat "$WORK"/part.* | grep -c '^FAIL ')))
check corpus-all-files test "$(cat "$WORK"/part.* | grep -cE '^(PASS|FAIL) ')" = "${#files[@]}"
finish
