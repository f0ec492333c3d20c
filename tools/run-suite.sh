#!/bin/sh
# Run one test suite and keep its TAP output.
#
#   run-suite.sh RESULTS_DIR NAME COMMAND [ARGS...]
#
# The command prints TAP lines ("ok N - what" / "not ok N - what"; anything
# else is shown but not counted) on stdout or stderr. A suite that exits
# non-zero without reporting a failure is itself counted as one failure, and
# one that reports nothing at all likewise: a crash never passes silently.
set -u
results=$1 name=$2
shift 2
mkdir -p "$results"
out="$results/$name.tap"
echo "== $name"
{ "$@" 2>&1; echo "run-suite-exit $?"; } | tee "$out.log" | grep -v '^run-suite-exit '
status=$(sed -n 's/^run-suite-exit //p' "$out.log")
grep -E '^(not )?ok [0-9]+' "$out.log" > "$out" || true
if [ "$status" != 0 ] && ! grep -q '^not ok' "$out"; then
	echo "not ok 0 - $name: exited with status $status" | tee -a "$out"
fi
if [ ! -s "$out" ]; then
	echo "not ok 0 - $name: reported no results" | tee -a "$out"
fi
grep -q '^not ok' "$out" && exit 1
exit 0
