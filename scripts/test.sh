#!/bin/bash
# The test command of the README and of CI: installs what is needed, builds with -Werror, runs the
# whole suite, then builds with AddressSanitizer + UndefinedBehaviorSanitizer and runs it again.
# The last line is the total: "N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --test || exit 1
jobs=$(nproc 2>/dev/null || echo 2)
total_pass=0 total_fail=0 total_skip=0
for variant in plain sanitize; do
	if [[ $variant == plain ]]; then build=build san=0; else build=build-san san=1; fi
	echo "== build ($variant)"
	if ! make -s -j"$jobs" WERROR=1 SANITIZE=$san BUILD=$build all; then
		echo "FAIL build/$variant"
		total_fail=$((total_fail + 1))
		continue
	fi
	echo "== tests ($variant)"
	out=$(mktemp)
	# the sanitizer pass checks outputs with the plain build's checkers (tests/e2e/corpus.sh)
	if [[ $variant == sanitize && -x build/tools/pcapdigest ]]; then
		CHECK_TOOLS=$PWD/build/tools BUILD=$build tests/run.sh | tee "$out"
	else
		BUILD=$build tests/run.sh | tee "$out"
	fi
	p=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped$/\1/p' "$out" | tail -n 1)
	f=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped$/\2/p' "$out" | tail -n 1)
	k=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped$/\3/p' "$out" | tail -n 1)
	rm -f "$out"
	total_pass=$((total_pass + ${p:-0}))
	total_fail=$((total_fail + ${f:-1}))
	total_skip=$((total_skip + ${k:-0}))
done
echo "== total (plain + sanitizers)"
echo "$total_pass passed, $total_fail failed, $total_skip skipped"
[[ $total_fail == 0 ]]
