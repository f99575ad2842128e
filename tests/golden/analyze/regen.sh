#!/bin/bash
# Regenerates the expected outputs of tests/golden/analyze/cases with build/ringcap.
# Run after a deliberate change to an analyze output, then review `git diff tests/golden/analyze`.
set -uo pipefail
cd "$(dirname "$0")/../../.."
ROOT=$PWD; CORPUS=${CORPUS:-$(realpath -m ../shared/corpus)}; RINGCAP=${RINGCAP:-$ROOT/build/ringcap}
. tests/golden/golden.inc.sh
grep -vE '^[[:space:]]*(#|$)' tests/golden/analyze/cases | while IFS=$'\t' read -r name input args; do
	# shellcheck disable=SC2086
	"$RINGCAP" analyze $args --no-progress "$(golden_input "$input")" \
		>"tests/golden/analyze/$name.out" 2>/dev/null
	echo "$name: status $?, $(wc -l <"tests/golden/analyze/$name.out") lines"
done
