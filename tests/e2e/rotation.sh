#!/bin/bash
# Continuous files: rotation by size, retention by count, numbering across restarts, repair of a
# leftover .part, nanosecond precision, SAVE_PCAP off. Cross-checked with tshark and capinfos.
. "$(dirname "$0")/lib.sh"
IN=$ROOT/tests/data/zeek-http-bro.org.pcap
LIMIT=50000

seqs() { ls "$1" | sed -n 's/^capture_[0-9]\{8\}_[0-9]\{6\}_\([0-9]\{4,\}\)\.pcap$/\1/p' | sort -n; }
files_in_order() { local s; for s in $(seqs "$1"); do ls "$1"/capture_*_"$s".pcap; done; }

# All files kept: the concatenation equals the input, no file above the limit.
"$RINGCAP" run -r "$IN" -o "$WORK/all" -C 0.05 -W 0 >"$WORK/all.out" 2>"$WORK/all.err"
mapfile -t all < <(files_in_order "$WORK/all/pcaps")
check several-files test "${#all[@]}" -ge 8
over=0; for f in "${all[@]}"; do
	s=$(stat -c %s "$f"); n=$(capinfos -Mc "$f" | awk '/Number of packets/{print $NF}')
	if ((s > LIMIT && n > 1)); then over=1; echo "  $f: $s bytes, $n packets"; fi
done
check no-file-above-limit test $over = 0
check concatenation-equals-input test "$("$TOOLS/pcapdigest" "$IN")" = "$("$TOOLS/pcapdigest" "${all[@]}")"
tsh() { tshark -r "$1" -T fields -e frame.time_epoch -e frame.len -e frame.cap_len 2>/dev/null; }
for f in "${all[@]}"; do tsh "$f"; done >"$WORK/tshark.out"
tsh "$IN" >"$WORK/tshark.in"
check tshark-agrees cmp -s "$WORK/tshark.in" "$WORK/tshark.out"
check summary-counts-files grep -qE "files written +${#all[@]} " "$WORK/all.out"
check no-part-left test -z "$(ls "$WORK/all/pcaps" | grep '\.part$')"
first=$(basename "${all[0]}")
check name-from-first-packet-utc test "$first" = capture_20140114_170401_0001.pcap

# Retention 3: only the three newest remain, identical to the last three of the full run.
"$RINGCAP" run -q -r "$IN" -o "$WORK/ret" -C 0.05 -W 3 >"$WORK/ret.out" 2>&1
mapfile -t ret < <(files_in_order "$WORK/ret/pcaps")
check retention-keeps-3 test "${#ret[@]}" = 3
same=1; for i in 0 1 2; do
	cmp -s "${ret[$i]}" "${all[$((${#all[@]} - 3 + i))]}" || same=0
done
check retention-keeps-newest test $same = 1

# Restart: numbering continues from the highest index; foreign files are never touched.
echo keep >"$WORK/ret/pcaps/notes.txt"
echo keep >"$WORK/ret/pcaps/capture_old.pcap"
cp "${ret[0]}" "$WORK/ret/pcaps/capture_20000101_000000_12.pcap"
last=$(seqs "$WORK/ret/pcaps" | tail -n 1)
"$RINGCAP" run -q -r "$IN" -o "$WORK/ret" -C 0.05 -W 3 >/dev/null 2>&1
mapfile -t s2 < <(seqs "$WORK/ret/pcaps")
check restart-continues-numbering test "$((10#${s2[0]}))" -gt "$((10#$last))"
check retention-after-restart test "${#s2[@]}" = 3
check foreign-files-untouched test -f "$WORK/ret/pcaps/notes.txt" -a -f "$WORK/ret/pcaps/capture_old.pcap" \
	-a -f "$WORK/ret/pcaps/capture_20000101_000000_12.pcap"

# A leftover .part with a torn last record is cut back to whole records, renamed and counted.
mkdir -p "$WORK/rep/pcaps"
part=$WORK/rep/pcaps/capture_20140114_170401_0007.pcap.part
cp "${all[0]}" "$part"
good=$(stat -c %s "$part"); want=$("$TOOLS/pcapdigest" "${all[0]}")
head -c 40 "${all[1]}" | tail -c 16 >>"$part"   # a record header without its data
printf 'xyz' >>"$part"
"$RINGCAP" run -r "$IN" -o "$WORK/rep" -C 0.05 -W 0 >"$WORK/rep.out" 2>"$WORK/rep.err"
fixed=$WORK/rep/pcaps/capture_20140114_170401_0007.pcap
check part-repaired test -f "$fixed" -a ! -e "$part"
check part-cut-to-whole-records test "$(stat -c %s "$fixed" 2>/dev/null)" = "$good"
check part-packets-kept test "$("$TOOLS/pcapdigest" "$fixed")" = "$want"
check part-repair-logged grep -q 'capture_20140114_170401_0007' "$WORK/rep.err"
check numbering-after-repair test "$(seqs "$WORK/rep/pcaps" | sed -n 2p)" = 0008

# Nanosecond precision is kept with --tstamp-precision nano, and tcpdump reads it.
NS=$CORPUS/attack/ntopng__tcp-flood.pcap
"$RINGCAP" run -q -r "$NS" -o "$WORK/nano" --tstamp-precision nano >/dev/null 2>&1
nf=$(ls "$WORK/nano/pcaps"/*.pcap)
check nano-magic test "$(od -An -tx4 -N4 "$nf" | tr -d ' ')" = a1b23c4d
check nano-timestamps-kept test "$("$TOOLS/pcapdigest" --nano "$NS")" = "$("$TOOLS/pcapdigest" --nano "$nf")"
check nano-tcpdump-reads bash -c "tcpdump --nano -nr '$nf' 2>/dev/null | head -1 | grep -q '^07:47:06.806560249'"
# ...and micro by default, as tcpdump -w does.
"$RINGCAP" run -q -r "$NS" -o "$WORK/micro" >/dev/null 2>&1
mf=$(ls "$WORK/micro/pcaps"/*.pcap)
check micro-default test "$(od -An -tx4 -N4 "$mf" | tr -d ' ')" = a1b2c3d4

# SAVE_PCAP=false: no files, flow records say pcap_file null.
SAVE_PCAP=false "$RINGCAP" run -q -r "$IN" -o "$WORK/nosave" >/dev/null 2>&1
check save-pcap-off-no-files test -z "$(ls -A "$WORK/nosave/pcaps" 2>/dev/null)"
check save-pcap-off-null-file test "$(jq -r .pcap_file "$WORK/nosave/traffic_flows.jsonb" | sort -u)" = null
# ...and on: every flow names an existing file that holds its first packet.
bad=0
while read -r f; do [[ -f $WORK/all/pcaps/$f ]] || bad=1; done < <(jq -r .pcap_file "$WORK/all/traffic_flows.jsonb" | sort -u)
check pcap-file-names-exist test $bad = 0
finish
