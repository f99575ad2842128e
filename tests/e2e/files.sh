#!/bin/bash
# Private files (DESIGN "Threat model", local users): everything the agent writes under DIR is
# owner-only (0600/0700), or group-readable with --group (0640/0750), never readable by others,
# whatever the umask; an output folder another user could write, or owns, is refused before
# anything is written; links planted under DIR or next to `incident pcap -w FILE' are not
# followed; a FIFO as S3_CREDENTIALS_FILE does not block start-up.
. "$(dirname "$0")/lib.sh"
MK=$TOOLS/mkflood
RUNOPTS=(--resolve-seconds 2 --threshold-syn-pps 5000 --http off)
# others DIR: paths under DIR that a group or other user could read, write or enter
others() { find "$1" -perm /007 -printf '%m %p\n'; }
grouped() { find "$1" -perm /070 -printf '%m %p\n'; }

"$MK" -o "$WORK/flood.pcap" quiet:600:100 syn:12000:20000 quiet:600:100 >/dev/null

# 1. defaults, under a permissive umask: nothing for group or others
D=$WORK/plain
(umask 000; "$RINGCAP" run -r "$WORK/flood.pcap" -o "$D" "${RUNOPTS[@]}" >"$WORK/plain.out" 2>"$WORK/plain.err")
check plain-runs test $? = 0
check plain-has-continuous-file test -n "$(ls "$D"/pcaps/*.pcap 2>/dev/null)"
check plain-has-flow-log test -s "$D/traffic_flows.jsonb"
check plain-has-incident test -s "$D/incidents/1.json"
check plain-nothing-for-others test -z "$(others "$D")"
check plain-nothing-for-group test -z "$(grouped "$D")"
check plain-dir-0700 test "$(stat -c %a "$D")" = 700
check plain-pcap-0600 test "$(stat -c %a "$(ls "$D"/pcaps/*.pcap | head -n 1)")" = 600
check plain-flows-0600 test "$(stat -c %a "$D/traffic_flows.jsonb")" = 600
check plain-meta-0600 test "$(stat -c %a "$D/incidents/1.json")" = 600
# a second run on the same folder keeps it private
"$RINGCAP" run -r "$WORK/flood.pcap" -o "$D" "${RUNOPTS[@]}" >/dev/null 2>&1
check plain-rerun-nothing-for-others test -z "$(others "$D")"

# 2. --group: the group reads (0640/0750), others still nothing
G=daemon
gid=$(getent group $G | cut -d: -f3)
D=$WORK/group
"$RINGCAP" run -r "$WORK/flood.pcap" -o "$D" --group $G "${RUNOPTS[@]}" >/dev/null 2>"$WORK/group.err"
check group-runs test $? = 0
check group-nothing-for-others test -z "$(others "$D")"
check group-dir-0750 test "$(stat -c %a:%g "$D")" = "750:$gid"
check group-pcap-0640 test "$(stat -c %a:%g "$(ls "$D"/pcaps/*.pcap | head -n 1)")" = "640:$gid"
check group-flows-0640 test "$(stat -c %a:%g "$D/traffic_flows.jsonb")" = "640:$gid"
check group-no-group-write test -z "$(find "$D" -perm /020)"
"$RINGCAP" run -r "$WORK/flood.pcap" -o "$WORK/badgroup" --group no-such-group-xyz >/dev/null 2>"$WORK/badgroup.err"
check bad-group-exit-2 test $? = 2
check bad-group-named grep -q "no-such-group-xyz" "$WORK/badgroup.err"

# 3. an output folder another user could write, or owns, is refused before anything is written
D=$WORK/open
mkdir -p "$D"; chmod 0777 "$D"
"$RINGCAP" run -r "$WORK/flood.pcap" -o "$D" "${RUNOPTS[@]}" >/dev/null 2>"$WORK/open.err"
check open-dir-exit-2 test $? = 2
check open-dir-named grep -q "has mode 0777.*chmod go-w" "$WORK/open.err"
check open-dir-nothing-written test -z "$(ls -A "$D")"
D=$WORK/foreign
mkdir -p "$D"; chown nobody "$D"; chmod 0700 "$D"
"$RINGCAP" run -r "$WORK/flood.pcap" -o "$D" "${RUNOPTS[@]}" >/dev/null 2>"$WORK/foreign.err"
check foreign-dir-exit-2 test $? = 2
check foreign-dir-named grep -q "owned by uid $(id -u nobody).*chown" "$WORK/foreign.err"
check foreign-dir-nothing-written test -z "$(ls -A "$D")"
D=$WORK/opensub
mkdir -p "$D/pcaps"; chmod 0700 "$D"; chmod 0777 "$D/pcaps"
"$RINGCAP" run -r "$WORK/flood.pcap" -o "$D" "${RUNOPTS[@]}" >/dev/null 2>"$WORK/opensub.err"
check open-subfolder-exit-2 test $? = 2
check open-subfolder-named grep -q "pcaps' has mode 0777" "$WORK/opensub.err"
D=$WORK/linksub
mkdir -p "$D" "$WORK/elsewhere"; chmod 0700 "$D"; ln -s "$WORK/elsewhere" "$D/incidents"
"$RINGCAP" run -r "$WORK/flood.pcap" -o "$D" "${RUNOPTS[@]}" >/dev/null 2>"$WORK/linksub.err"
check linked-subfolder-exit-2 test $? = 2
check linked-subfolder-named grep -q "incidents' is a symbolic link" "$WORK/linksub.err"
check linked-subfolder-untouched test -z "$(ls -A "$WORK/elsewhere")"
# a folder of an older version (0755) becomes private
D=$WORK/old
mkdir -p "$D/pcaps"; chmod 0755 "$D" "$D/pcaps"
"$RINGCAP" run -r "$WORK/flood.pcap" -o "$D" "${RUNOPTS[@]}" >/dev/null 2>&1
check old-folder-made-private test "$(stat -c %a "$D"):$(stat -c %a "$D/pcaps")" = 700:700

# 4. links planted under DIR are not followed
D=$WORK/planted
mkdir -p "$D/incidents"; chmod 0700 "$D" "$D/incidents"
echo victim >"$WORK/victim1"; echo victim >"$WORK/victim2"
ln -s "$WORK/victim1" "$D/traffic_flows.jsonb"
ln -s "$WORK/victim2" "$D/incidents/1.json"
"$RINGCAP" run -r "$WORK/flood.pcap" -o "$D" "${RUNOPTS[@]}" >/dev/null 2>"$WORK/planted.err"
check planted-flow-log-not-followed test "$(cat "$WORK/victim1")" = victim
check planted-flow-log-named grep -q "traffic_flows.jsonb" "$WORK/planted.err"
check planted-meta-not-followed test "$(cat "$WORK/victim2")" = victim

# 5. incident pcap -w FILE: a link at a temporary name next to FILE is not followed; FILE is private
D=$WORK/plain
out=$WORK/out/cap.pcap
mkdir -p "$WORK/out"
echo victim >"$WORK/victim3"
ln -s "$WORK/victim3" "$out.tmp"
for pid in $(seq $$ $(($$ + 50))); do ln -s "$WORK/victim3" "$WORK/out/.cap.pcap.$pid.tmp" 2>/dev/null; done
(umask 000; "$RINGCAP" incident pcap 1 -o "$D" -w "$out" >/dev/null 2>"$WORK/w.err")
check w-file-written test $? = 0
check w-file-is-pcap quiet capinfos "$out"
check w-file-private test "$(stat -c %a "$out")" = 600
check w-tmp-link-not-followed test "$(cat "$WORK/victim3")" = victim
check w-no-temporary-left test -z "$(find "$WORK/out" -name '*.tmp' -type f)"

# 6. a FIFO as S3_CREDENTIALS_FILE is refused at once instead of blocking start-up
mkfifo -m 0600 "$WORK/creds.fifo"
S3_EXPORT=incidents S3_ENDPOINT=http://127.0.0.1:9 S3_BUCKET=b S3_CREDENTIALS_FILE=$WORK/creds.fifo \
	timeout 10 "$RINGCAP" run -r "$WORK/flood.pcap" -o "$WORK/fifo" "${RUNOPTS[@]}" >/dev/null 2>"$WORK/fifo.err"
rc=$?
check fifo-credentials-does-not-block test $rc != 124
check fifo-credentials-refused test $rc = 2
check fifo-credentials-named grep -q "S3_CREDENTIALS_FILE" "$WORK/fifo.err"
finish
