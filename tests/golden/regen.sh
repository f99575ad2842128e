#!/bin/bash
# Regenerates the expected outputs of tests/golden/TESTLIST with build/ringcap.
# Run after a deliberate change to the flow output, then review `git diff tests/golden`.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD; CORPUS=${CORPUS:-$(realpath -m ../shared/corpus)}; RINGCAP=${RINGCAP:-$ROOT/build/ringcap}
. tests/golden/golden.inc.sh
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
golden_cases | while IFS=$'\t' read -r name input opts; do
	# shellcheck disable=SC2086
	"$RINGCAP" run -q -r "$(golden_input "$input")" -o "$tmp/$name" $opts >/dev/null
	cp "$tmp/$name/traffic_flows.jsonb" "tests/golden/$name.jsonb"
	echo "$name: $(wc -l <"tests/golden/$name.jsonb") flows"
done
