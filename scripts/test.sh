#!/usr/bin/env bash
# THE test command: builds everything (library checks, tests, examples, benchmarks) under AddressSanitizer
# and UndefinedBehaviorSanitizer with warnings as errors, then runs every test. Exits non-zero on any failure.
# Usage: bash scripts/test.sh   (from any directory)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/deps.sh

log=build/sanitize-ctest.log
step=""
started=$SECONDS
finish() {
    local rc=$?
    echo
    echo "== corotcp test summary =="
    if [ "$rc" -eq 0 ]; then
        echo "all steps passed in $((SECONDS - started)) s"
    else
        echo "FAILED at step: ${step:-?} (exit code $rc, after $((SECONDS - started)) s)"
    fi
    # Repeat CTest's own counts as the last line.
    if [ -f "$log" ] && [[ $(grep "tests failed out of" "$log") =~ ([0-9]+)\ tests\ failed\ out\ of\ ([0-9]+) ]]; then
        echo "ctest: $((BASH_REMATCH[2] - BASH_REMATCH[1])) passed, ${BASH_REMATCH[1]} failed"
    fi
    exit "$rc"
}
trap finish EXIT

run() {
    step="$1"
    shift
    echo
    echo "== $step: $*"
    local t=$SECONDS
    "$@"
    echo "== $step: done in $((SECONDS - t)) s"
}

run_tests() { ctest --preset sanitize 2>&1 | tee "$log"; }

rm -f "$log"
run "dependencies" corotcp_install_deps
run "configure" cmake --preset sanitize
run "build" cmake --build --preset sanitize
run "test" run_tests
