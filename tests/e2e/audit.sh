#!/bin/bash
# The audit trail from the command line: a trail built with the audit_append tool verifies with
# `ringcap audit verify' (exit 0); every kind of tampering on a copy (one character changed, a line
# deleted, duplicated, two lines swapped, the last line cut off whole or mid-line, a checkpoint
# signature changed, another key file) exits 1 and names the record; a torn write repaired at the
# next open still verifies; `ringcap audit' lists newest first (table and JSON lines that parse
# with jq and are the stored lines); a missing key file is a clear error and is not created.
. "$(dirname "$0")/lib.sh"
AP=$TOOLS/audit_append
D=$WORK/trail
V=("$RINGCAP" audit verify)

"$AP" "$D" url_issued 20 actor=alice client=127.0.0.1 incident=%i url_id=u%i >"$WORK/ap.out" 2>"$WORK/ap.err"
"$AP" "$D" download_completed 5 client=127.0.0.1 incident=3 bytes=1000 complete=true >>"$WORK/ap.out" 2>>"$WORK/ap.err"
check tool-appended test "$(tr '\n' ' ' <"$WORK/ap.out")" = "20 25 "
check tool-sanitizer-clean sanitizer_clean "$WORK/ap.err"
check trail-mode-0600 test "$(stat -c %a "$D/audit/audit.jsonl")" = 600

"${V[@]}" -o "$D" >"$WORK/v.out" 2>"$WORK/v.err"; rc=$?
check intact-exit-0 test $rc = 0
check intact-summary grep -qF "audit trail \`$D/audit/audit.jsonl': 25 records, 3 checkpoints: intact" "$WORK/v.out"
check intact-sanitizer-clean sanitizer_clean "$WORK/v.err"

# tamper NAME WANT COMMAND...: runs COMMAND in the audit folder of a copy of the trail; verify
# must exit 1 and print WANT (the line naming the record).
tamper() {
	local n=$1 want=$2 c=$WORK/$1; shift 2
	rm -rf "$c"; cp -a "$D" "$c"
	(cd "$c/audit" && "$@")
	"${V[@]}" -o "$c" >"$c.out" 2>"$c.err"; local rc=$?
	check "$n-exit-1" test $rc = 1
	if grep -qF -- "$want" "$c.out"; then pass "$n-names-record"; else
		fail "$n-names-record" "want \`$want' in: $(head -c 600 "$c.out")"; fi
	check "$n-not-intact" grep -q ': NOT intact' "$c.out"
	check "$n-sanitizer-clean" sanitizer_clean "$c.err"
}
tamper sed-char 'audit.jsonl line 7 (seq 7): the MAC does not match' sed -i '7s/alice/alicf/' audit.jsonl
tamper sed-digit 'audit.jsonl line 22 (seq 22): the MAC does not match' sed -i '22s/"bytes":1000/"bytes":1001/' audit.jsonl
tamper sed-space 'audit.jsonl line 9 (seq 9): not in canonical form' sed -i '9s/,"event"/, "event"/' audit.jsonl
tamper delete 'audit.jsonl line 7 (seq 8): seq 7 expected after seq 6 (line 6): record 7 is missing' sed -i '7d' audit.jsonl
tamper duplicate 'audit.jsonl line 8 (seq 7): does not follow seq 7 (line 7)' sed -i '7p' audit.jsonl
tamper reorder 'audit.jsonl line 7 (seq 8): seq 7 expected after seq 6' sed -i '7{h;d};8G' audit.jsonl
tamper cut-last-line 'checkpoints.jsonl line 3 (seq 25): seq 25 is beyond the end of the trail (last seq 24): records were cut off the end' sed -i '$d' audit.jsonl
tamper cut-mid-line 'audit.jsonl line 25 (offset ' truncate -s -40 audit.jsonl
check cut-mid-line-incomplete grep -q 'after seq 24): incomplete last line' "$WORK/cut-mid-line.out"
tamper cut-two-lines 'seq 25 is beyond the end of the trail (last seq 23)' sed -i '24,$d' audit.jsonl
# the first digit of the signature: 0 -> 1, anything else -> 0
tamper checkpoint-sig 'checkpoints.jsonl line 1 (seq 16): the signature does not verify' \
	sed -i '1{/"sig":"0/{s/"sig":"0/"sig":"1/;b};s/"sig":"./"sig":"0/}' checkpoints.jsonl
tamper checkpoint-seq 'checkpoints.jsonl line 2 (seq 21): the signature does not verify' sed -i '2s/"seq":20/"seq":21/' checkpoints.jsonl

# issue 15: attacks by someone who can write DIR/audit but has no key
# forge JQ: prints a download_completed record chained to the last one of audit.jsonl, its
# "hash" the unkeyed SHA-256 of the canonical form (what the old format accepted)
forge() {
	local last prev seq rec h
	last=$(tail -n 1 audit.jsonl); prev=$(jq -r .hash <<<"$last"); seq=$(( $(jq .seq <<<"$last") + 1 ))
	rec=$(jq -cS -n --arg p "$prev" --argjson s "$seq" --arg k "$(jq -r .mac_key <<<"$last")" "{event:\"download_completed\",client:\"10.9.9.9\",incident:3,url_id:\"forged\",bytes:1,complete:true,time:\"2026-01-01T00:00:00.000000Z\",seq:\$s,prev_hash:\$p} $1")
	h=$(printf '%s' "$rec" | sha256sum | cut -c1-64)
	jq -cS --arg h "$h" '. + {hash:$h}' <<<"$rec"
}
forge_append() { forge "$1" >>audit.jsonl; }
tamper forged-legacy 'audit.jsonl line 26 (seq 26): an unkeyed (legacy SHA-256) record after keyed record seq 1' forge_append ''
tamper forged-keyed 'audit.jsonl line 26 (seq 26): the MAC does not match' forge_append '+ {mac_key:$k}'
# the checkpoints emptied: fails once the records are older than the signing interval
LATER=$(( $(date +%s) + 3700 ))
c=$WORK/nocp; rm -rf "$c"; cp -a "$D" "$c"; : >"$c/audit/checkpoints.jsonl"
RINGCAP_NOW=$LATER "${V[@]}" -o "$c" >"$c.out" 2>&1; rc=$?
check nocp-exit-1 test $rc = 1
check nocp-named grep -qF 'checkpoints.jsonl: no valid checkpoint although the trail holds 25 records' "$c.out"
# later checkpoints removed
c=$WORK/cptail; rm -rf "$c"; cp -a "$D" "$c"; sed -i '2,$d' "$c/audit/checkpoints.jsonl"
RINGCAP_NOW=$LATER "${V[@]}" -o "$c" >"$c.out" 2>&1; rc=$?
check cptail-exit-1 test $rc = 1
check cptail-named grep -qF 'the last checkpoint signs seq 16 but the trail goes on to seq 25, unsigned for more than 3660 s' "$c.out"
# the agent does not sign on top of a forgery, and says so
c=$WORK/refuse; rm -rf "$c"; cp -a "$D" "$c"; (cd "$c/audit" && forge_append '')
ncp=$(wc -l <"$c/audit/checkpoints.jsonl")
"$AP" "$c" token_added 1 name=x >/dev/null 2>"$WORK/refuse.err"
check refuse-loud grep -qF 'DOES NOT VERIFY' "$WORK/refuse.err"
check refuse-no-checkpoint test "$(wc -l <"$c/audit/checkpoints.jsonl")" = "$ncp"
"${V[@]}" -o "$c" >"$c.out" 2>&1; rc=$?
check refuse-still-fails test $rc = 1
# the last records cut together with their checkpoint: a prefix locally, caught by a witness
c=$WORK/cutcp; rm -rf "$c"; cp -a "$D" "$c"
tail -n 1 "$D/audit/checkpoints.jsonl" >"$WORK/witness.jsonl"
sed -i '21,$d' "$c/audit/audit.jsonl"; sed -i '3,$d' "$c/audit/checkpoints.jsonl"
"${V[@]}" -o "$c" >"$c.out" 2>&1; rc=$?
check cutcp-locally-a-prefix test $rc = 0
"${V[@]}" -o "$c" --witness "$WORK/witness.jsonl" >"$c.w.out" 2>&1; rc=$?
check cutcp-witness-exit-1 test $rc = 1
check cutcp-witness-named grep -qF 'witness line 1 (seq 25): the witness saw seq 25 but the local trail ends at seq 20: records were cut off the end' "$c.w.out"
"${V[@]}" -o "$D" --witness "$WORK/witness.jsonl" >"$WORK/w.out" 2>&1; rc=$?
check witness-intact-exit-0 test $rc = 0
check witness-intact-says grep -qF 'intact (extends the witness)' "$WORK/w.out"
# someone holding the key rewrites the whole trail (re-signed by the agent): the witness sees it
c=$WORK/keyholder; rm -rf "$c"; mkdir -p "$c"; cp -a "$D/keys" "$c/"
"$AP" "$c" url_issued 20 actor=mallory client=127.0.0.1 incident=%i url_id=u%i >/dev/null 2>&1
"$AP" "$c" download_completed 5 client=127.0.0.1 incident=3 bytes=1000 complete=true >/dev/null 2>&1
"${V[@]}" -o "$c" >"$c.out" 2>&1; rc=$?
check keyholder-locally-intact test $rc = 0
"${V[@]}" -o "$c" --witness "$WORK/witness.jsonl" >"$c.w.out" 2>&1; rc=$?
check keyholder-witness-exit-1 test $rc = 1
check keyholder-witness-named grep -qF 'witness line 1 (seq 25): the witness saw another record seq 25 than audit.jsonl line 25: the trail was rewritten' "$c.w.out"
"${V[@]}" -o "$D" --witness "$WORK/no-such-file" >/dev/null 2>"$WORK/wmiss.err"; rc=$?
check witness-missing-exit-1 test $rc = 1
check witness-missing-named grep -qF "cannot open the witness \`$WORK/no-such-file'" "$WORK/wmiss.err"

# another key file (as after a restore with the wrong key): no checkpoint verifies
"$AP" "$WORK/other" token_added 1 name=x >/dev/null 2>&1
tamper other-key 'checkpoints.jsonl line 1 (seq 16): ' cp "$WORK/other/keys/master.key" ../keys/master.key

# a torn write (a crash mid-append), then a restart: repaired, acknowledged, still intact
c=$WORK/torn; rm -rf "$c"; cp -a "$D" "$c"
size=$(stat -c %s "$c/audit/audit.jsonl")
printf '{"actor":"bob","client":"10.' >>"$c/audit/audit.jsonl"
"$AP" "$c" token_added 0 >/dev/null 2>"$WORK/torn.ap.err"
check torn-open-warns grep -qF "torn last line at offset $size, length 28" "$WORK/torn.ap.err"
check torn-record-written test "$(tail -n 1 "$c/audit/audit.jsonl" | jq -r '"\(.event) \(.offset) \(.length) \(.seq)"')" = "torn_record $size 28 26"
"${V[@]}" -o "$c" >"$WORK/torn.out" 2>"$WORK/torn.err"; rc=$?
check torn-verify-exit-0 test $rc = 0
check torn-acknowledged grep -qF "audit.jsonl line 26 (offset $size, 28 bytes): torn write, acknowledged by the torn_record at line 27 (seq 26)" "$WORK/torn.out"
check torn-intact grep -q '26 records, 4 checkpoints: intact (1 damaged line' "$WORK/torn.out"

# listing: newest first; --json prints the stored lines
"$RINGCAP" audit -o "$D" --json --limit 100 >"$WORK/list.json" 2>"$WORK/list.err"; rc=$?
check list-json-exit-0 test $rc = 0
check list-json-parses quiet jq -e . "$WORK/list.json"
check list-json-count test "$(jq -s length "$WORK/list.json")" = 25
check list-json-newest-first test "$(head -n 1 "$WORK/list.json" | jq .seq)" = 25
check list-json-is-stored-lines cmp -s <(tac "$WORK/list.json") "$D/audit/audit.jsonl"
check list-json-sanitizer-clean sanitizer_clean "$WORK/list.err"
"$RINGCAP" audit -o "$D" --limit 3 --before 22 >"$WORK/list.txt" 2>&1; rc=$?
check list-table-exit-0 test $rc = 0
check list-table-header grep -qE '^SEQ +TIME +EVENT +ACTOR +INCIDENT +DETAIL' "$WORK/list.txt"
check list-table-rows test "$(grep -cE '^[0-9]+ ' "$WORK/list.txt")" = 3
check list-table-first-row grep -qE '^21 +[0-9T:.-]+Z +download_completed +- +3 +bytes=1000 client=127.0.0.1 complete=true$' "$WORK/list.txt"
check list-table-second-row grep -qE '^20 +[0-9T:.-]+Z +url_issued +alice +20 +client=127.0.0.1 url_id=u20$' "$WORK/list.txt"
check list-table-count grep -qF '(3 of 25 records' "$WORK/list.txt"

# the key file: missing is a clear error and is not created; RINGCAP_KEY_FILE finds it elsewhere
c=$WORK/nokey; rm -rf "$c"; cp -a "$D" "$c"; mv "$c/keys/master.key" "$WORK/elsewhere.key"
"${V[@]}" -o "$c" >"$WORK/nokey.out" 2>"$WORK/nokey.err"; rc=$?
check nokey-exit-1 test $rc = 1
check nokey-message grep -qF "no key file \`$c/keys/master.key'" "$WORK/nokey.err"
check nokey-not-created test ! -e "$c/keys/master.key"
RINGCAP_KEY_FILE=$WORK/elsewhere.key "${V[@]}" -o "$c" >"$WORK/envkey.out" 2>&1; rc=$?
check env-key-file-exit-0 test $rc = 0

# no trail yet: intact, 0 records
mkdir -p "$WORK/fresh/keys"; cp -a "$D/keys/master.key" "$WORK/fresh/keys/"
"${V[@]}" -o "$WORK/fresh" >"$WORK/fresh.out" 2>&1; rc=$?
check fresh-exit-0 test $rc = 0
check fresh-says-missing grep -q 'audit.jsonl: does not exist' "$WORK/fresh.out"
check fresh-zero-records grep -q '0 records, 0 checkpoints: intact' "$WORK/fresh.out"

# bad usage: exit 2
"${V[@]}" -o "$D" extra >/dev/null 2>"$WORK/u1.err"; rc=$?
check usage-extra-arg test $rc = 2
"$RINGCAP" audit -o "$D" --limit 0 >/dev/null 2>"$WORK/u2.err"; rc=$?
check usage-limit-zero test $rc = 2
"$RINGCAP" audit -o "$D" verify >/dev/null 2>"$WORK/u3.err"; rc=$?
check usage-verify-after-flags test $rc = 2
check usage-verify-hint grep -qF "\`verify' goes right after \`audit'" "$WORK/u3.err"
"${V[@]}" --json -o "$D" >/dev/null 2>&1; rc=$?
check usage-verify-json test $rc = 2
finish
