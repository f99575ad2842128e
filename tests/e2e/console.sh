#!/bin/bash
# The web console in a real browser (Debian's chromium driven by playwright-core, both installed
# here if missing): `ringcap run -r' on a SYN flood gives incident 1 with a sealed capture; a live
# agent on lo over the same folder serves the console and the API on loopback. The browser signs
# in, checks the incident page against the API, downloads the capture (byte for byte what
# `ringcap incident pcap' writes), starts a manual capture, reads the audit trail, at 1280x800 and
# 390x844 (screenshots in $WORK). Then `ringcap serve' with no agent: review mode, captures refused.
. "$(dirname "$0")/lib.sh"
need_root || { fail needs-root "run the suite as root"; finish; }
BR=$ROOT/tests/browser
pid=
cleanup() { [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null; }
trap cleanup EXIT

# ---- set-up: chromium from Debian, playwright-core from npm (nothing to do when both are there;
# node and npm come from scripts/deps.sh --test)
if [[ ! -x /usr/bin/chromium ]]; then
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		chromium fonts-dejavu-core; } >"$WORK/apt.log" 2>&1
fi
check setup-chromium test -x /usr/bin/chromium
want=$(jq -r '.packages["node_modules/playwright-core"].version' "$BR/package-lock.json")
have=$(jq -r .version "$BR/node_modules/playwright-core/package.json" 2>/dev/null)
if [[ $have != "$want" ]]; then
	(cd "$BR" && npm ci --no-audit --no-fund) >"$WORK/npm.log" 2>&1
	have=$(jq -r .version "$BR/node_modules/playwright-core/package.json" 2>/dev/null)
fi
check setup-playwright-core test "$have" = "$want"
[[ -x /usr/bin/chromium && $have == "$want" ]] || finish

wait_for() { local i; for ((i = 0; i < $3 * 10; i++)); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1; }
# listen_of DIR: the address the agent serves on, from DIR/http.json (waits up to 15 s)
listen_of() {
	local i a
	for ((i = 0; i < 150; i++)); do
		a=$(jq -r '.listen // empty' "$1/http.json" 2>/dev/null) && [[ -n $a ]] && { echo "$a"; return 0; }
		sleep 0.1
	done
	return 1
}
# browser PHASE BASE: runs the browser test; its PASS/FAIL lines count in the suite
browser() {
	PHASE=$1 BASE=$2 TOKEN=$(cat "$D/admin.token") WORK=$WORK EXPECTED=$WORK/expected-1.pcap \
		timeout -k 5 240 node "$BR/console.test.mjs" 2>"$WORK/browser-$1.err" | tee "$WORK/browser-$1.out"
	local rc=${PIPESTATUS[0]}
	grep -q '^FAIL ' "$WORK/browser-$1.out" && nfail=$((nfail + 1))
	[[ $rc == 0 ]] || grep -q '^FAIL ' "$WORK/browser-$1.out" || fail "browser-$1" "exited with status $rc: $(tail -n 3 "$WORK/browser-$1.err" | tr '\n' ' ')"
}

# ---- incident 1: a SYN flood read from a file, its capture sealed in the vault
D=$WORK/agent
"$RINGCAP" run -r "$ROOT/tests/data/demo-synflood.pcap" -o "$D" >"$WORK/offline.out" 2>"$WORK/offline.err"
check offline-run-ok test $? = 0
check offline-sanitizer-clean sanitizer_clean "$WORK/offline.err"
"$RINGCAP" incident pcap 1 -w "$WORK/expected-1.pcap" -o "$D" >"$WORK/pcap.out" 2>"$WORK/pcap.err"
check reference-capture test -s "$WORK/expected-1.pcap"

# ---- a live agent over the same folder (lo, so that "Capture now" records real packets)
"$RINGCAP" run -i lo -o "$D" --http 127.0.0.1:0 >"$WORK/live.out" 2>"$WORK/live.err" &
pid=$!
addr=$(listen_of "$D")
check live-http-listening test -n "$addr"
check admin-token test -s "$D/admin.token"
if [[ -n $addr && -s $D/admin.token ]]; then
	check console-served curl -sf -o "$WORK/index.html" "http://$addr/"
	browser live "http://$addr"
fi
stop_wait "$pid" INT; rc=$?; pid=
check live-exit-clean test $rc = 0
check live-sanitizer-clean sanitizer_clean "$WORK/live.err"

# ---- review station: `ringcap serve' with no agent on the folder
"$RINGCAP" serve -o "$D" --http 127.0.0.1:0 >"$WORK/serve.out" 2>"$WORK/serve.err" &
pid=$!
addr=$(listen_of "$D")
check serve-http-listening test -n "$addr"
[[ -n $addr ]] && browser review "http://$addr"
stop_wait "$pid" INT; rc=$?; pid=
check serve-exit-clean test $rc = 0
check serve-sanitizer-clean sanitizer_clean "$WORK/serve.err"
finish
