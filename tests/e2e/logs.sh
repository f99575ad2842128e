#!/bin/bash
# Logs (README "Deploying"): under systemd (JOURNAL_STREAM names stderr) every line carries
# journald's "<N>" priority; elsewhere plain lines; --syslog sends RFC 3164 datagrams to the
# system logger, here a real rsyslogd started on a private socket, with the facility asked for
# and the right severities; a logger that is not there is named at start (exit 2); serve too.
. "$(dirname "$0")/lib.sh"
PCAP=$ROOT/tests/data/demo-synflood.pcap

# journald priorities
F=$WORK/journal.txt; : >"$F"
JOURNAL_STREAM=$(stat -c '%d:%i' "$F") "$RINGCAP" run -r "$PCAP" -o "$WORK/j" >/dev/null 2>>"$F"
check journal-info-priority grep -q '^<6>ringcap: info: capturing from file' "$F"
check journal-every-line-prefixed test -z "$(grep -v '^<[0-7]>ringcap: ' "$F")"
"$RINGCAP" run -r "$WORK/none.pcap" -o "$WORK/j2" >/dev/null 2>"$WORK/j2.err"
JOURNAL_STREAM=$(stat -c '%d:%i' "$WORK/j2.err") "$RINGCAP" run -r "$WORK/none.pcap" -o "$WORK/j2" >/dev/null 2>>"$WORK/j2.err"
check journal-error-priority grep -q '^<3>ringcap: error: ' "$WORK/j2.err"
"$RINGCAP" run -r "$PCAP" -o "$WORK/plain" >/dev/null 2>"$WORK/plain.err"
check plain-no-prefix grep -q '^ringcap: info: capturing from file' "$WORK/plain.err"
JOURNAL_STREAM=1:2 "$RINGCAP" run -r "$PCAP" -o "$WORK/plain2" >/dev/null 2>"$WORK/plain2.err"
check other-stream-no-prefix grep -q '^ringcap: info: capturing from file' "$WORK/plain2.err"

# --syslog through a real rsyslogd
if ! command -v rsyslogd >/dev/null; then
	fail rsyslog-installed "rsyslogd not found (scripts/deps.sh --test installs rsyslog)"
	finish
fi
RS=$WORK/rsyslog
mkdir -p "$RS"
cat >"$RS/rsyslog.conf" <<CONF
global(workDirectory="$RS")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="$RS/log.sock" CreatePath="on")
template(name="t" type="string" string="%syslogfacility-text% %syslogseverity-text% %programname% %msg%\n")
local3.* action(type="omfile" file="$RS/local3.log" template="t")
daemon.* action(type="omfile" file="$RS/daemon.log" template="t")
CONF
rsyslogd -n -f "$RS/rsyslog.conf" -i "$RS/rsyslogd.pid" >"$RS/out.txt" 2>&1 &
rpid=$!
trap 'kill $rpid 2>/dev/null' EXIT
for ((i = 0; i < 50; i++)); do [[ -S $RS/log.sock ]] && break; sleep 0.1; done
check rsyslog-listening test -S "$RS/log.sock"
"$RINGCAP" run -r "$PCAP" -o "$WORK/s" --syslog --syslog-socket "$RS/log.sock" --syslog-facility local3 >/dev/null 2>"$WORK/s.err"
check syslog-run-ok test $? = 0
check syslog-nothing-on-stderr test ! -s "$WORK/s.err"
RINGCAP_SYSLOG=true SYSLOG_SOCKET=$RS/log.sock "$RINGCAP" serve -o "$WORK/s" --http 127.0.0.1:0 >/dev/null 2>"$WORK/serve.err" &
spid=$!
sleep 1; kill -INT $spid; wait $spid
for ((i = 0; i < 50; i++)); do grep -q 'incident 1 resolved' "$RS/local3.log" 2>/dev/null && grep -q 'stopping' "$RS/daemon.log" 2>/dev/null && break; sleep 0.1; done
check syslog-received grep -qE '^local3 info ringcap +info: capturing from file' "$RS/local3.log"
check syslog-incident grep -qE '^local3 info ringcap +info: incident 1 opened: syn_pps' "$RS/local3.log"
check syslog-serve-daemon-facility grep -qE '^daemon info ringcap +info: serving the HTTP API' "$RS/daemon.log"
"$RINGCAP" run -r "$WORK/none.pcap" -o "$WORK/s2" --syslog --syslog-socket "$RS/log.sock" >/dev/null 2>&1
for ((i = 0; i < 30; i++)); do grep -q '^daemon err' "$RS/daemon.log" 2>/dev/null && break; sleep 0.1; done
check syslog-error-severity grep -qE '^daemon err ringcap +error: ' "$RS/daemon.log"
"$RINGCAP" run -r "$PCAP" -o "$WORK/s3" --syslog --syslog-socket "$WORK/no-such.sock" >/dev/null 2>"$WORK/s3.err"
check syslog-missing-exit-2 test $? = 2
check syslog-missing-named grep -q "cannot reach the system logger at \`$WORK/no-such.sock'" "$WORK/s3.err"
check syslog-missing-nothing-written test ! -e "$WORK/s3"
"$RINGCAP" run -r "$PCAP" -o "$WORK/s4" --syslog --syslog-facility bogus >/dev/null 2>"$WORK/s4.err"
check syslog-bad-facility grep -q "invalid SYSLOG_FACILITY \`bogus'" "$WORK/s4.err"
finish
