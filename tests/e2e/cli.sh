#!/bin/bash
# The command line: help, version, and every bad setting stops the run before anything is written,
# with exit status 2 and a message that names the setting and quotes the value.
. "$(dirname "$0")/lib.sh"
IN=$ROOT/tests/data/zeek-http-bro.org.pcap

out=$("$RINGCAP" help); rc=$?
check help-lists-run test $rc = 0 -a -n "$(echo "$out" | grep -E '^  run ')"
out=$("$RINGCAP" version)
check version-names-libpcap grep -q 'libpcap version' <<<"$out"
"$RINGCAP" frobnicate 2>"$WORK/err"; rc=$?
check unknown-command test $rc = 2
check unknown-command-message grep -q "unknown command \`frobnicate'" "$WORK/err"
"$RINGCAP" run -o "$WORK/none" 2>"$WORK/err"; rc=$?
check no-source-is-usage-error test $rc = 2

# bad_env NAME VAR VALUE: the run must stop with status 2, name VAR, quote VALUE, write nothing.
bad_env() {
	local n=$1 var=$2 val=$3 d=$WORK/$1
	env "$var=$val" "$RINGCAP" run -r "$IN" -o "$d" >/dev/null 2>"$WORK/$n.err"; local rc=$?
	if [[ $rc == 2 ]] && grep -qF "$var \`$val'" "$WORK/$n.err" && [[ ! -e $d ]]; then
		pass "$n"
	else
		fail "$n" "status $rc, stderr: $(head -c 300 "$WORK/$n.err")"
	fi
}
bad_env save-pcap-word SAVE_PCAP maybe
bad_env save-pcap-empty SAVE_PCAP ""
bad_env rotation-text PCAP_ROTATION_SIZE abc
bad_env rotation-negative PCAP_ROTATION_SIZE -1
bad_env rotation-zero PCAP_ROTATION_SIZE 0
bad_env rotation-trailing PCAP_ROTATION_SIZE 10MB
bad_env rotation-nan PCAP_ROTATION_SIZE nan
bad_env retention-negative PCAP_RETENTION_COUNT -3
bad_env retention-decimal PCAP_RETENTION_COUNT 1.5
bad_env retention-huge PCAP_RETENTION_COUNT 99999999999999999999999
bad_env filter-syntax WIRESHARK_FILTER 'tcp port foo'

bad_flag() {
	local n=$1 d=$WORK/$1; shift
	"$RINGCAP" run -r "$IN" -o "$d" "$@" >/dev/null 2>"$WORK/$n.err"; local rc=$?
	if [[ $rc == 2 && ! -e $d ]] && grep -q 'invalid\|unknown\|missing' "$WORK/$n.err"; then
		pass "$n"
	else
		fail "$n" "status $rc, stderr: $(head -c 300 "$WORK/$n.err")"
	fi
}
bad_flag flag-rotation-text -C abc
bad_flag flag-snaplen-zero --snaplen 0
bad_flag flag-unknown --frobnicate
bad_flag flag-precision --tstamp-precision pico
bad_flag flag-missing-value -W

# A filter in trailing arguments that does not compile: error quoting the filter, nothing written.
"$RINGCAP" run -r "$IN" -o "$WORK/tf" udp port 99999 2>"$WORK/tf.err"; rc=$?
check trailing-filter-error test $rc = 2 -a ! -e "$WORK/tf"
check trailing-filter-quoted grep -qF "\`udp port 99999'" "$WORK/tf.err"

# A flag overrides the environment.
PCAP_ROTATION_SIZE=abc "$RINGCAP" run -q -r "$IN" -o "$WORK/ovr" -C 1 >/dev/null 2>"$WORK/ovr.err"; rc=$?
check flag-overrides-env-still-checks-env test $rc = 2
SAVE_PCAP=false "$RINGCAP" run -q -r "$IN" -o "$WORK/ovr2" --save-pcap true >/dev/null 2>&1
check flag-overrides-env test "$(ls "$WORK/ovr2/pcaps" | wc -l)" = 1

# A missing input file: status 1, the message names it.
"$RINGCAP" run -r "$WORK/nope.pcap" -o "$WORK/nf" 2>"$WORK/nf.err"; rc=$?
check missing-file test $rc = 1
check missing-file-named grep -qF "$WORK/nope.pcap" "$WORK/nf.err"
# libcurl and libmicrohttpd are opened when first needed (src/libload.h): not linked, not opened
# by a replay or the CLI, and a copy that cannot be loaded is named, with its package, when needed.
check lazy-libs-not-linked bash -c "! ldd '$RINGCAP' | grep -E 'libcurl|libmicrohttpd'"
BAD=$WORK/badlibs; mkdir -p "$BAD"; : >"$BAD/libcurl.so.4"; : >"$BAD/libmicrohttpd.so.12"
LD_LIBRARY_PATH=$BAD "$RINGCAP" run -q -r "$IN" -o "$WORK/lazy" >/dev/null 2>"$WORK/lazy.err"; rc=$?
check replay-opens-neither test $rc = 0 -a "$(ls "$WORK/lazy/pcaps" | wc -l)" = 1
LD_LIBRARY_PATH=$BAD "$RINGCAP" incidents -o "$WORK/lazy" >/dev/null 2>>"$WORK/lazy.err"; rc=$?
check cli-opens-neither test $rc = 0
LD_LIBRARY_PATH=$BAD "$RINGCAP" serve -o "$WORK/lazy" --http 127.0.0.1:0 >/dev/null 2>"$WORK/mhd.err"; rc=$?
check broken-microhttpd-fails test $rc = 1
check broken-microhttpd-named grep -qE "cannot load libmicrohttpd\.so\.12, needed for the HTTP API: .*file too short \(Debian package libmicrohttpd12\)" "$WORK/mhd.err"
check broken-microhttpd-no-token test ! -e "$WORK/lazy/admin.token"
LD_LIBRARY_PATH=$BAD S3_ENDPOINT=http://127.0.0.1:9 S3_BUCKET=bkt S3_ACCESS_KEY=a S3_SECRET_KEY=s \
	"$RINGCAP" export 1 -o "$WORK/lazy" >/dev/null 2>"$WORK/curl.err"; rc=$?
check broken-curl-fails test $rc = 2
check broken-curl-named grep -qE "cannot load libcurl\.so\.4, needed for S3 export: .*file too short \(Debian package libcurl4\)" "$WORK/curl.err"
# --config works for every subcommand that has settings (keys of other subcommands are skipped)
"$RINGCAP" run -q -r "$ROOT/tests/data/demo-synflood.pcap" -o "$WORK/cfgall" >/dev/null 2>&1
printf 'S3_ENDPOINT = http://127.0.0.1:9\nS3_BUCKET = bkt\nS3_ACCESS_KEY = a\nS3_SECRET_KEY = cfgsecret77\nRING_PACKETS = 7\n' >"$WORK/s3.conf"
"$RINGCAP" export 1 -o "$WORK/cfgall" >/dev/null 2>"$WORK/cfg0.err"; rc=$?
check export-without-config-unset test $rc = 2 && check export-without-config-named grep -q "S3_ENDPOINT is not set" "$WORK/cfg0.err"
"$RINGCAP" export 1 -o "$WORK/cfgall" --config "$WORK/s3.conf" >/dev/null 2>"$WORK/cfg1.err"
check export-reads-config grep -q "PUT http://127.0.0.1:9/bkt/" "$WORK/cfg1.err"
check export-config-secret-not-logged bash -c "! grep -q cfgsecret77 '$WORK/cfg1.err'"
RINGCAP_CONFIG=$WORK/s3.conf "$RINGCAP" export 1 -o "$WORK/cfgall" >/dev/null 2>"$WORK/cfg2.err"
check export-reads-config-env grep -q "PUT http://127.0.0.1:9/bkt/" "$WORK/cfg2.err"
printf 'output = %s\nRETENTION_DAYS = abc\n' "$WORK/cfgall" >"$WORK/bad.conf"
"$RINGCAP" retention --config "$WORK/bad.conf" >/dev/null 2>"$WORK/cfg3.err"; rc=$?
check retention-config-bad-value test $rc = 2 && check retention-config-bad-named grep -qF "$WORK/bad.conf:2: RETENTION_DAYS \`abc'" "$WORK/cfg3.err"
printf 'output = %s\n' "$WORK/cfgall" >"$WORK/out.conf"
check keys-config-output bash -c "'$RINGCAP' keys list --config '$WORK/out.conf' | grep -qF '$WORK/cfgall/keys/master.key'"
"$RINGCAP" retention --config >/dev/null 2>"$WORK/cfg4.err"; rc=$?
check config-needs-value test $rc = 2 && check config-needs-value-named grep -q "option --config needs a value" "$WORK/cfg4.err"
check config-in-help bash -c "'$RINGCAP' serve --help | grep -q -- '--config FILE'"
finish
