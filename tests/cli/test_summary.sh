#!/bin/sh
# The test summary itself: `make test` must fail, and name the suite, when a
# registered suite does not build or leaves no results; skips are counted
# as skips with their reasons, and under CI=true a skip of something CI can
# run is a failure. Runs the real Makefile's `test` target on three
# throw-away suites (TEST_SUITES and TEST_RESULTS overridden), then
# tools/test-summary.sh and tools/run-suite.sh directly. Prints TAP.
#
#   test_summary.sh SRC_DIR BUILD_DIR DL_DIR
set -u
SRC=$1 O=$2 DL=$3
N=0 FAILED=0
check() { # what, command...
	what=$1
	shift
	N=$((N + 1))
	if "$@"; then echo "ok $N - $what"; else echo "not ok $N - $what"; FAILED=1; fi
}
WORK=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
has() { grep -q -- "$1" "$2"; }
lacks() { ! grep -q -- "$1" "$2"; }

# Three suites: one whose test program does not compile, one that never
# writes results, one with a real skip and one CI could run.
cat > "$WORK/suites.mk" <<EOS
$WORK/broken: $WORK/broken.c
	\$(HOST_CC) -o \$@ \$<
test-st-broken: $WORK/broken
	\$(RUN_SUITE) st-broken \$<
test-st-silent:
	@true
test-st-skip:
	\$(RUN_SUITE) st-skip sh -c 'echo "ok 1 - works"; echo "ok 2 - boots # SKIP board is not emulated"; echo "ok 3 - interop # SKIP needs root"'
EOS
printf 'int main(void) { return missing_symbol; }\n' > "$WORK/broken.c"
run_make() { # extra args: the real test target on the three suites
	# MAKEFILES: every make, also the one `make test` starts, reads suites.mk.
	# ALL_TARGETS= : nothing in the build directory is remade under the
	# suites running next to this one.
	MAKEFILES="$WORK/suites.mk" make --no-print-directory -C "$SRC" O="$O" DL_DIR="$DL" \
		TEST_RESULTS="$WORK/results" TEST_SUITES="st-broken st-silent st-skip" QEMU_SUITES= ALL_TARGETS= "$@" test \
		> "$WORK/out" 2>&1
}
CI= run_make
rc=$?
check "make test fails when a suite's test program does not build (the other suites ran)" \
	sh -c "[ $rc -ne 0 ] && [ -f '$WORK/results/st-skip.tap' ]"
check "... and names that suite" has "st-broken: produced no results" "$WORK/out"
check "a registered suite that wrote no results is a named failure" has "st-silent: produced no results" "$WORK/out"
check "skips are listed with their reasons" has "st-skip: boots (board is not emulated)" "$WORK/out"
check "the closing line counts passes, failures and skips apart" \
	grep -qx '1 passed, 2 failed, 2 skipped' "$WORK/out"
CI=true run_make
check "under CI=true a 'needs root' skip is a failure; a real impossibility stays a skip" \
	sh -c "grep -qx '1 passed, 3 failed, 1 skipped' '$WORK/out' &&
		grep -q 'st-skip: interop: skipped under CI=true' '$WORK/out'"

# run-suite.sh: a crash, a short plan and a hang are failures.
R="$WORK/rs"
sh "$SRC/tools/run-suite.sh" "$R" crash sh -c 'echo "ok 1 - a"; exit 3' > /dev/null
check "a suite that exits non-zero after passing results fails" has "not ok 0 - exited with status 3" "$R/crash.tap"
sh "$SRC/tools/run-suite.sh" "$R" short sh -c 'echo 1..3; echo "ok 1 - a"' > /dev/null
check "a suite that reports fewer results than its plan fails" has "reported 1 of the 3" "$R/short.tap"
SUITE_TIMEOUT=1 sh "$SRC/tools/run-suite.sh" "$R" hang sh -c 'echo "ok 1 - a"; exec sleep 30' > /dev/null
check "a suite that hangs is stopped and fails" has "timed out" "$R/hang.tap"
sh "$SRC/tools/run-suite.sh" "$R" quiet true > /dev/null
check "a suite that reports nothing fails" has "not ok 0 - reported no results" "$R/quiet.tap"
sh "$SRC/tools/test-summary.sh" "$R" crash short hang quiet gone > "$WORK/sum" 2>&1
rc=$?
check "the summary fails and names every one, and a suite without a .tap" \
	sh -c "[ $rc -ne 0 ] && grep -q 'gone: produced no results' '$WORK/sum' && grep -q '^  hang: timed out' '$WORK/sum' &&
		tail -n 1 '$WORK/sum' | grep -qx '3 passed, 5 failed, 0 skipped'"
exit $FAILED
