# Sourced by every end-to-end script. Gives pass/fail reporting and helpers.
# Environment from tests/run.sh: RINGCAP TOOLS CORPUS TESTOUT ROOT BUILD.
set -uo pipefail
T=$(basename "$0" .sh)
WORK=$TESTOUT/$T
rm -rf "$WORK"; mkdir -p "$WORK"
npass=0 nfail=0

pass() { echo "PASS e2e/$T/$1"; npass=$((npass + 1)); }
fail() { echo "FAIL e2e/$T/$1${2:+: $2}"; nfail=$((nfail + 1)); }
# check NAME COMMAND...: PASS if the command succeeds
check() { local n=$1; shift; if "$@"; then pass "$n"; else fail "$n" "$*"; fi; }
finish() { [[ $nfail == 0 ]]; exit $?; }

# A sanitizer report or a crash signal in a run's stderr is always a failure.
sanitizer_clean() { ! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: UndefinedBehaviorSanitizer' "$1"; }

need_root() { [[ $(id -u) == 0 ]]; }

# stop_wait PID [SIGNAL]: sends SIGNAL (INT) and waits at most 15 s for the process to end, then
# kills it; returns its exit status (124 if it had to be killed).
stop_wait() {
	local pid=$1 sig=${2:-INT} i
	kill -"$sig" "$pid" 2>/dev/null
	for ((i = 0; i < 150; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; return 124; fi
	wait "$pid"
}

# incident_pcap DIR ID: decrypts incident ID's sealed capture under DIR into $WORK/DIR-basename.ID.pcap
# (pcapng keeps its extension) and prints that path (nothing if it fails).
incident_pcap() {
	local ext out
	ext=$(jq -r '.pcap_format // "pcap"' "$1/incidents/$2.json" 2>/dev/null)
	out=$WORK/$(basename "$1").$2.$ext
	"$RINGCAP" incident pcap "$2" -o "$1" -w "$out" >/dev/null 2>&1 && echo "$out"
}

# quiet CMD...: runs CMD with its output discarded (for `check NAME quiet CMD...')
quiet() { "$@" >/dev/null 2>&1; }
