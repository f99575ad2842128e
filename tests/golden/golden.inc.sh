# Shared by tests/e2e/golden.sh and tests/golden/regen.sh: golden_run NAME INPUT OPTS... OUTDIR
# runs ringcap on one TESTLIST case into OUTDIR and prints the path of its traffic_flows.jsonb.
golden_input() {
	case $1 in
	corpus:*) echo "$CORPUS/${1#corpus:}" ;;
	*) echo "$ROOT/$1" ;;
	esac
}
golden_cases() { grep -vE '^[[:space:]]*(#|$)' "$ROOT/tests/golden/TESTLIST"; }
