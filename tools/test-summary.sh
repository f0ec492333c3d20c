#!/bin/sh
# Count the TAP results of every registered suite.
#
#   test-summary.sh RESULTS_DIR SUITE...
#
# Prints the failures (named by suite) and the skips (with their reasons),
# then one line "N passed, N failed, N skipped"; exits non-zero when
# anything failed. A registered SUITE without RESULTS_DIR/SUITE.tap (its
# test did not build, or make never ran it) is a failure: the list of
# suites comes from the Makefile, not from the files that happen to exist.
# "ok N - x # SKIP reason" is a skip, not a pass. Under CI=true a skip whose
# reason starts with "needs " (root, network namespaces, a TAP device:
# something a CI machine provides) is a failure; other reasons ("... is not
# emulated") stay skips.
set -u
dir=${1:?usage: test-summary.sh RESULTS_DIR SUITE...}
shift
if [ $# -eq 0 ]; then # no list given: whatever is there
	for f in "$dir"/*.tap; do
		[ -f "$f" ] && set -- "$@" "$(basename "$f" .tap)"
	done
fi
# A suite registered twice is counted once.
set -- $(printf '%s\n' "$@" | awk '!seen[$0]++')
report=$(mktemp)
trap 'rm -f "$report"' EXIT
for suite in "$@"; do
	tap="$dir/$suite.tap"
	if [ ! -f "$tap" ]; then
		echo "F $suite: produced no results (did not build, or was not run: see its output above)"
		continue
	fi
	awk -v suite="$suite" -v ci="${CI:-}" '
	/^not ok / { sub(/^not ok [0-9]+ *-? */, ""); print "F " suite ": " $0; next }
	/^ok / {
		line = $0
		if (match(line, /# *[Ss][Kk][Ii][Pp]/)) {
			reason = substr(line, RSTART + RLENGTH); sub(/^[ :]*/, "", reason)
			what = substr(line, 1, RSTART - 1); sub(/^ok [0-9]+ *-? */, "", what); sub(/ *$/, "", what)
			if (ci == "true" && reason ~ /^needs /)
				print "F " suite ": " what ": skipped under CI=true, which can run it (" reason ")"
			else
				print "S " suite ": " what " (" reason ")"
		} else
			print "P"
	}' "$tap"
done > "$report"
passed=$(grep -c '^P' "$report")
failed=$(grep -c '^F' "$report")
skipped=$(grep -c '^S' "$report")
if [ "$skipped" -gt 0 ]; then
	echo "skipped:"
	sed -n 's/^S /  /p' "$report"
fi
if [ "$failed" -gt 0 ]; then
	echo "failures:"
	sed -n 's/^F /  /p' "$report"
fi
if [ $# -eq 0 ]; then
	echo "no test suites ran"
	failed=1
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
