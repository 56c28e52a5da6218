#!/bin/sh
# Runs every test program of a build directory, one at a time, and prints a
# closing "N passed, N failed" line. Each program is a cmocka suite that
# prints its own summary; a program that crashes or exits non-zero counts
# as failed. Tests that need Redis or the daemon start them themselves
# (tests/harness.c) and stop them; this script only makes sure nothing is
# left behind if a test program dies.
#
#   tests/run.sh [BUILD_DIR] [PATTERN]
set -u

B=${1:-build}
PATTERN=${2:-test-}
export CCROUTE_BUILD="$B"
# Generous per-program limit: a hang must fail, not stall CI.
LIMIT=${CCROUTE_TEST_TIMEOUT:-600}

passed=0
failed=0
failed_names=""

for t in "$B"/tests/$PATTERN*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    echo "=== $name"
    # setsid: the test and whatever it spawned share a process group that
    # we can clean up as a whole.
    setsid -w timeout -k 5 "$LIMIT" "$t"
    rc=$?
    if [ $rc -eq 0 ]; then
        passed=$((passed + 1))
    else
        echo "--- $name FAILED (exit $rc)"
        failed=$((failed + 1))
        failed_names="$failed_names $name"
    fi
done

[ -n "$failed_names" ] && echo "failed:$failed_names"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ] && [ $passed -gt 0 ]
