#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs all three tiers (unit, host, vm) with
# bun's test runner, and ends with the line "N passed, N failed" taken from the JUnit report.
# Extra arguments are passed to `bun test` (e.g. a path to run one file).
set -uo pipefail
cd "$(dirname "$0")/.."
BUN=node_modules/.bin/bun
[ -x "$BUN" ] || { echo "test: run 'npm ci' first" >&2; exit 1; }
bash scripts/deps.sh build vm test || exit 1
bash scripts/build.sh || exit 1
mkdir -p test-results
rm -f test-results/junit.xml
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(test/unit test/host test/vm)
"$BUN" test --timeout 120000 --reporter=junit --reporter-outfile=test-results/junit.xml "${targets[@]}"
rc=$?
"$BUN" scripts/junit-summary.ts test-results/junit.xml
exit $rc
