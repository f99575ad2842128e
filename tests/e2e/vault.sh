#!/bin/bash
# Encryption at rest: an incident capture is sealed (no plaintext left), `incident pcap` decrypts
# it to exactly what was captured; flipped bytes, cuts, swapped segments and a wrong key are
# errors naming the damage with no output; a crash's plaintext is sealed at the next start; key
# rotation keeps old files readable; retention with a set clock deletes captures and audits it;
# the key file's permission checks. Then a seal/open round trip of every corpus capture.
. "$(dirname "$0")/lib.sh"
VT=$TOOLS/vaulttool
meta() { jq -r "$2" "$1/incidents/$3.json"; }
RUNOPTS=(--resolve-seconds 2 --threshold-syn-pps 5000)
SEG=65536 SEGREC=$((65536 + 16)) HDR=95

# 1. A SYN flood: incident 1 is sealed, its plaintext gone, the index and metadata name it.
"$TOOLS/mkflood" -o "$WORK/flood.pcap" quiet:500:100 syn:8000:20000 quiet:500:100 >/dev/null
D=$WORK/a
"$RINGCAP" run -r "$WORK/flood.pcap" -o "$D" "${RUNOPTS[@]}" >"$WORK/a.out" 2>"$WORK/a.err"
check run-ok test $? = 0
check run-sanitizer-clean sanitizer_clean "$WORK/a.err"
check sealed-file test -s "$D/incidents/1.pcap.enc"
check no-plaintext test -z "$(find "$D/incidents" -name '*.pcap' -o -name '*.part' -o -name '*.tmp')"
check meta-names-sealed test "$(meta "$D" .pcap_file 1)" = 1.pcap.enc
check meta-storage-sealed test "$(meta "$D" .storage.state 1)" = sealed
check sealed-mode-0600 test "$(stat -c %a "$D/incidents/1.pcap.enc")" = 600
check key-file-0600 test "$(stat -c %a "$D/keys/master.key")" = 600
check index-db test -s "$D/index.db"
check magic test "$(head -c 8 "$D/incidents/1.pcap.enc")" = RCVAULT1

"$RINGCAP" incident pcap 1 -o "$D" -w "$WORK/1.pcap" 2>"$WORK/dec.err"
check decrypt-ok test $? = 0
n=$("$TOOLS/pcapdigest" --list "$WORK/1.pcap" 2>/dev/null | wc -l)
check decrypted-packets test "$n" = "$(meta "$D" .pcap_packets 1)"
check decrypted-sha256 test "$(sha256sum <"$WORK/1.pcap" | cut -d' ' -f1)" = "$(meta "$D" .storage.sha256 1)"
check decrypted-size test "$(stat -c %s "$WORK/1.pcap")" = "$(meta "$D" .storage.plain_bytes 1)"
check decrypted-opens quiet capinfos "$WORK/1.pcap"
# the capture holds input packets: its first packet is one of the flood file's
first=$("$TOOLS/pcapdigest" --list "$WORK/1.pcap" | head -n 1)
check decrypted-is-input grep -qxF "$first" <("$TOOLS/pcapdigest" --list "$WORK/flood.pcap")

# 2. Damage: each is an error naming it, and no output file is left.
segs=$(( ($(stat -c %s "$D/incidents/1.pcap.enc") - HDR) / SEGREC + 1 ))
check several-segments test "$segs" -ge 3
damaged() { # NAME WANT_REGEX: decrypts $WORK/bad/incidents/1.pcap.enc, expects failure
	rm -f "$WORK/bad.pcap"
	"$RINGCAP" incident pcap 1 -o "$WORK/bad" -w "$WORK/bad.pcap" 2>"$WORK/bad.err"
	local rc=$?
	if [[ $rc != 0 ]] && [[ ! -e $WORK/bad.pcap ]] && [[ ! -e $WORK/bad.pcap.tmp ]] &&
		grep -qE "$2" "$WORK/bad.err" && sanitizer_clean "$WORK/bad.err"; then
		pass "$1"
	else
		fail "$1" "rc=$rc $(head -c 300 "$WORK/bad.err")"
	fi
}
fresh() { rm -rf "$WORK/bad"; cp -a "$D" "$WORK/bad"; }
flip() { # OFFSET: flips one bit of the sealed file's byte at OFFSET
	local f=$WORK/bad/incidents/1.pcap.enc b
	b=$(od -An -tu1 -j "$1" -N1 "$f" | tr -d ' ')
	printf "$(printf '\\%03o' $((b ^ 1)))" | dd of="$f" bs=1 seek="$1" conv=notrunc status=none
}
fresh; flip 2; damaged flip-magic "not a vault file: bad magic"
fresh; flip 50; damaged flip-wrapped-key "does not open this file"
fresh; flip $((HDR + 100)); damaged flip-segment-0 "segment 0 "
fresh; flip $((HDR + SEGREC + SEG + 3)); damaged flip-segment-1-tag "segment 1 "
fresh; flip $(( $(stat -c %s "$D/incidents/1.pcap.enc") - 1 )); damaged flip-last-byte "segment $((segs - 1)) "
fresh; truncate -s $((HDR + 2 * SEGREC)) "$WORK/bad/incidents/1.pcap.enc"; damaged cut-at-segment "segment|truncat"
fresh; truncate -s $((HDR + SEGREC + 1000)) "$WORK/bad/incidents/1.pcap.enc"; damaged cut-mid-segment "segment|truncat"
fresh; truncate -s 40 "$WORK/bad/incidents/1.pcap.enc"; damaged cut-header "truncated|header"
fresh
f=$WORK/bad/incidents/1.pcap.enc
dd if="$D/incidents/1.pcap.enc" of="$f" bs=1 skip=$((HDR + SEGREC)) seek=$HDR count=$SEGREC conv=notrunc status=none
dd if="$D/incidents/1.pcap.enc" of="$f" bs=1 skip=$HDR seek=$((HDR + SEGREC)) count=$SEGREC conv=notrunc status=none
damaged swap-segments "segment 0 "
fresh
"$VT" seal "$WORK/other.key" "$WORK/1.pcap" "$WORK/other.enc" 2>/dev/null
sed -i "s/^\([^ #]*\) [0-9a-fA-F]\{64\}/\1 $(sed -n 's/^[^ #]* \([0-9a-fA-F]\{64\}\).*/\1/p' "$WORK/other.key" | head -n 1)/" "$WORK/bad/keys/master.key"
damaged wrong-key "does not open this file"

# 3. A crash mid-capture: kill -9 while incident 1 is open, then start again: its plaintext is
#    sealed and removed, and the capture decrypts.
"$TOOLS/mkflood" -o "$WORK/long.pcap" quiet:200:100 syn:400000:20000 >/dev/null
C=$WORK/crash
"$RINGCAP" run -r "$WORK/long.pcap" -o "$C" "${RUNOPTS[@]}" --incident-max-packets 1000000 \
	>/dev/null 2>"$WORK/crash.err" &
pid=$!
for ((i = 0; i < 100; i++)); do [[ -e $C/incidents/1.pcap.part ]] && break; sleep 0.05; done
sleep 0.3
kill -9 $pid; wait $pid 2>/dev/null
check crash-left-plaintext test -e "$C/incidents/1.pcap.part"
"$RINGCAP" run -r "$WORK/flood.pcap" -o "$C" --threshold-syn-pps 1000000000 >"$WORK/crash2.out" 2>"$WORK/crash2.err"
check restart-ok test $? = 0
check restart-sanitizer-clean sanitizer_clean "$WORK/crash2.err"
check crash-sealed test -s "$C/incidents/1.pcap.enc"
check crash-plaintext-gone test ! -e "$C/incidents/1.pcap.part" -a ! -e "$C/incidents/1.pcap"
check crash-reported grep -q "left by a crash" "$WORK/crash2.err"
"$RINGCAP" incident pcap 1 -o "$C" -w "$WORK/crash.pcap" 2>/dev/null
check crash-decrypts quiet capinfos "$WORK/crash.pcap"
check crash-meta-resolved test "$(meta "$C" .resolve_reason 1)" = agent_restart

# 4. Key rotation: a new primary; old files re-wrapped and readable; new files under the new key.
cp -a "$D" "$WORK/rot"
old=$(xxd -p -s 19 -l 16 "$WORK/rot/incidents/1.pcap.enc" 2>/dev/null || od -An -c -j 19 -N 16 "$WORK/rot/incidents/1.pcap.enc")
before_body=$(tail -c +$((HDR + 1)) "$WORK/rot/incidents/1.pcap.enc" | sha256sum)
"$RINGCAP" keys rotate -o "$WORK/rot" >"$WORK/rot.out" 2>"$WORK/rot.err"
check rotate-ok test $? = 0
check rotate-two-keys test "$(grep -c '^[^#]' "$WORK/rot/keys/master.key")" = 2
newid=$(awk '$3 == "primary" {print $1}' "$WORK/rot/keys/master.key")
check rotate-rewrapped grep -q "$newid" <(head -c 35 "$WORK/rot/incidents/1.pcap.enc" | tail -c 16)
check rotate-segments-untouched test "$(tail -c +$((HDR + 1)) "$WORK/rot/incidents/1.pcap.enc" | sha256sum)" = "$before_body"
"$RINGCAP" incident pcap 1 -o "$WORK/rot" -w "$WORK/rot.pcap" 2>/dev/null
check rotate-still-decrypts cmp -s "$WORK/rot.pcap" "$WORK/1.pcap"
check rotate-audited grep -q '"key_rotated"' "$WORK/rot/audit/audit.jsonl"
"$RINGCAP" run -q -r "$WORK/flood.pcap" -o "$WORK/rot" "${RUNOPTS[@]}" >/dev/null 2>&1
check rotate-new-file-new-key grep -q "$newid" <(head -c 35 "$WORK/rot/incidents/2.pcap.enc" | tail -c 16)
"$RINGCAP" incident pcap 2 -o "$WORK/rot" -w "$WORK/rot2.pcap" 2>/dev/null
check rotate-new-decrypts test -s "$WORK/rot2.pcap"
: "$old"

# 5. Retention with a set clock: not yet due at +6 days, deleted at +8 days, audited, metadata kept.
R=$WORK/ret
cp -a "$D" "$R"
now=$(date +%s)
RINGCAP_NOW=$((now + 6 * 86400)) "$RINGCAP" retention -o "$R" >"$WORK/ret1.out" 2>&1
check retention-not-yet test -s "$R/incidents/1.pcap.enc"
RINGCAP_NOW=$((now + 8 * 86400)) "$RINGCAP" retention -o "$R" >"$WORK/ret2.out" 2>"$WORK/ret2.err"
check retention-ok test $? = 0
check retention-deleted test ! -e "$R/incidents/1.pcap.enc"
check retention-meta-kept test "$(meta "$R" .storage.state 1)" = expired
check retention-meta-id test "$(meta "$R" .id 1)" = 1
check retention-audited grep -q '"retention_deleted"' "$R/audit/audit.jsonl"
"$RINGCAP" incident pcap 1 -o "$R" -w "$WORK/ret.pcap" 2>"$WORK/ret3.err"
check retention-decrypt-says-expired grep -q "deleted by retention" "$WORK/ret3.err"
# RETENTION_DAYS=365: kept at +300 days; the agent's own start-up sweep deletes at +400
cp -a "$D" "$WORK/ret365"
RETENTION_DAYS=365 RINGCAP_NOW=$((now + 300 * 86400)) "$RINGCAP" retention -o "$WORK/ret365" >/dev/null 2>&1
check retention-365-kept test -s "$WORK/ret365/incidents/1.pcap.enc"
RETENTION_DAYS=365 RINGCAP_NOW=$((now + 400 * 86400)) "$RINGCAP" run -q -r "$WORK/flood.pcap" \
	-o "$WORK/ret365" --threshold-syn-pps 1000000000 >/dev/null 2>&1
check retention-sweep-at-start test ! -e "$WORK/ret365/incidents/1.pcap.enc"
RETENTION_DAYS=abc "$RINGCAP" run -r "$WORK/flood.pcap" -o "$WORK/x" 2>"$WORK/badret.err"
check retention-bad-value grep -q "RETENTION_DAYS" "$WORK/badret.err"

# 6. The key file: group-readable, a symlink, another owner: refused with a clear error.
K=$WORK/k; cp -a "$D" "$K"
chmod 640 "$K/keys/master.key"
"$RINGCAP" incident pcap 1 -o "$K" -w "$WORK/k.pcap" 2>"$WORK/k1.err"
check key-group-readable-refused grep -q "readable by group" "$WORK/k1.err"
chmod 600 "$K/keys/master.key"; mv "$K/keys/master.key" "$K/keys/real.key"; ln -s real.key "$K/keys/master.key"
"$RINGCAP" incident pcap 1 -o "$K" -w "$WORK/k.pcap" 2>"$WORK/k2.err"
check key-symlink-refused grep -qi "symbolic link\|not a regular" "$WORK/k2.err"
rm "$K/keys/master.key"; mv "$K/keys/real.key" "$K/keys/master.key"
if need_root; then
	chown nobody "$K/keys/master.key"
	"$RINGCAP" incident pcap 1 -o "$K" -w "$WORK/k.pcap" 2>"$WORK/k3.err"
	check key-owner-refused grep -q "owned by" "$WORK/k3.err"
fi

# 7. Every corpus capture: seal, open, and a range in the middle, byte for byte (one vaulttool
#    process for the whole corpus, so that a sanitizer build pays its start-up once).
mapfile -d '' files < <(find "$CORPUS" -type f ! -name MANIFEST ! -name '*.md' -print0 | sort -z)
mkdir -p "$WORK/rt"
"$VT" roundtrip "$WORK/corpus.key" "$WORK/rt" "${files[@]}" >"$WORK/corpus.out" 2>"$WORK/corpus.err"
rc=$?
grep -m5 'failed:' "$WORK/corpus.out" | sed 's/^/  /'
check corpus-round-trip test "$rc" = 0 -a "${#files[@]}" -gt 100 -a \
	"$(tail -n 1 "$WORK/corpus.out")" = "${#files[@]} files, 0 failed"
check corpus-sanitizer-clean sanitizer_clean "$WORK/corpus.err"
finish
