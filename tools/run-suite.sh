#!/bin/sh
# Run one test suite and keep its TAP output.
#
#   run-suite.sh [--serial] RESULTS_DIR NAME COMMAND [ARGS...]
#
# The command prints TAP lines ("ok N - what" / "not ok N - what", skips as
# "ok N - what # SKIP reason"; anything else is shown but not counted) on
# stdout or stderr. It always leaves RESULTS_DIR/NAME.tap, and the suite
# counts as failed (a "not ok 0" line naming why) when the command exits
# non-zero without reporting a failure, reports nothing at all, reports
# fewer results than its "1..N" plan, or runs longer than SUITE_TIMEOUT
# seconds (default 1800): a crash or a hang never passes silently.
# --serial: wait for every other --serial suite of RESULTS_DIR to finish
# first (QEMU suites: their timeouts must not race each other).
set -u
serial=
if [ "${1:-}" = --serial ]; then
	serial=1
	shift
fi
results=$1 name=$2
shift 2
mkdir -p "$results"
out="$results/$name.tap"
rm -f "$out"
if [ -n "$serial" ]; then
	exec 9>"$results/.serial.lock"
	flock 9
fi
timeout=${SUITE_TIMEOUT:-1800}
echo "== $name"
{
	# SIGINT first: Python suites then run their cleanup (QEMU is killed).
	timeout --foreground --signal=INT --kill-after=30 "$timeout" "$@" 2>&1
	echo "run-suite-exit $?"
} | tee "$out.log" | grep -v '^run-suite-exit '
status=$(sed -n 's/^run-suite-exit //p' "$out.log")
grep -E '^(not )?ok [0-9]+' "$out.log" > "$out.tmp" || true
if [ "$status" = 124 ] || [ "$status" = 137 ]; then
	echo "not ok 0 - timed out after $timeout s (SUITE_TIMEOUT)" | tee -a "$out.tmp"
elif [ "$status" != 0 ] && ! grep -q '^not ok' "$out.tmp"; then
	echo "not ok 0 - exited with status $status" | tee -a "$out.tmp"
fi
plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\).*/\1/p' "$out.log" | tail -n 1)
count=$(wc -l < "$out.tmp")
if [ -n "$plan" ] && [ "$count" -lt "$plan" ] && [ "$status" = 0 ]; then
	echo "not ok 0 - reported $count of the $plan results it planned" | tee -a "$out.tmp"
fi
if [ ! -s "$out.tmp" ]; then
	echo "not ok 0 - reported no results" | tee -a "$out.tmp"
fi
mv -f "$out.tmp" "$out"
grep -q '^not ok' "$out" && exit 1
exit 0
