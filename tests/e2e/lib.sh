# Sourced by every end-to-end script. Gives pass/fail reporting and helpers.
# Environment from tests/run.sh: RINGCAP TOOLS CORPUS TESTOUT ROOT BUILD.
set -uo pipefail
T=$(basename "$0" .sh)
WORK=$TESTOUT/$T
rm -rf "$WORK"; mkdir -p "$WORK"
npass=0 nfail=0

pass() { echo "PASS e2e/$T/$1"; npass=$((npass + 1)); }
fail() { echo "FAIL e2e/$T/$1${2:+: $2}"; nfail=$((nfail + 1)); }
# skip NAME REASON: a check that could not run here; tests/run.sh counts it, and under CI fails it
# unless tests/expected-skips names it
skip() { echo "SKIP e2e/$T/$1: $2"; }
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

# cpu_ticks PID: user + system CPU time the process used so far, in clock ticks (1/100 s)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null; }

# quiet CMD...: runs CMD with its output discarded (for `check NAME quiet CMD...')
quiet() { "$@" >/dev/null 2>&1; }

# ---- a Ceph RADOS Gateway on loopback, from ../shared/tools/ceph-rgw.sh (s3.sh, export.sh) ----
RGW=$(realpath -m "$ROOT/../shared/tools/ceph-rgw.sh")
# The daemons' pids, read once they run: rgw_stop stops them even if $WORK was removed meanwhile.
RGW_PIDS=()
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
ours() { grep -qF "$WORK/rgw/ceph.conf" "/proc/$1/cmdline" 2>/dev/null; }
# rgw_stop: runs rgw_stop_hook if the script defines one, stops the daemons and waits (up to 20 s
# each) until they are gone (ceph-rgw.sh stop does not wait).
rgw_stop() {
	declare -F rgw_stop_hook >/dev/null && rgw_stop_hook
	"$RGW" stop "$WORK/rgw" >/dev/null 2>&1
	local pid i
	for pid in "${RGW_PIDS[@]}"; do
		ours "$pid" && kill "$pid" 2>/dev/null
		for ((i = 0; i < 200; i++)); do ours "$pid" || break; sleep 0.1; done
		ours "$pid" && kill -9 "$pid" 2>/dev/null
	done
	return 0
}
# rgw_up: starts a gateway in $WORK/rgw on a free port (PORT) and exports the S3_* settings it
# prints; rgw_stop runs at exit. One gateway per machine at a time (its monitor binds the fixed
# ports 3300 and 6789), so suites run in parallel (build and build-san) wait on a lock here; fd 9
# holds it, and no daemon may inherit it. Returns 1 after a FAIL line.
rgw_up() {
	local p t0 rc f
	exec 9>/tmp/ringcap-ceph-rgw.lock
	if ! flock -w 900 9; then
		fail gateway-lock "another test held /tmp/ringcap-ceph-rgw.lock for 15 minutes"
		return 1
	fi
	trap rgw_stop EXIT
	if listening 6789 || listening 3300; then
		fail gateway-ports-free "ports 3300/6789 are taken: another Ceph monitor is running"
		return 1
	fi
	PORT=
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 20000))
		listening "$p" || { PORT=$p; break; }
	done
	t0=$(date +%s)
	"$RGW" start "$WORK/rgw" "$PORT" >"$WORK/rgw.env" 2>"$WORK/rgw.err" 9>&-
	rc=$?
	for f in "$WORK"/rgw/run/*.pid; do [[ -f $f ]] && RGW_PIDS+=("$(cat "$f")"); done
	if [[ $rc != 0 ]]; then
		fail gateway-start "$(tail -n 5 "$WORK/rgw.err" | tr '\n' ' ')"
		return 1
	fi
	echo "  gateway up on port $PORT in $(($(date +%s) - t0)) s"
	set -a
	. "$WORK/rgw.env"
	set +a
}
