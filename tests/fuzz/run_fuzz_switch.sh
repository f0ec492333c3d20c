#!/bin/sh
# Run the switch fuzz target for a bounded time and report one TAP line.
#   run_fuzz_switch.sh FUZZER CORPUS_DIR SECONDS
set -u
fuzzer=$1 corpus=$2 seconds=$3
log=$corpus/../fuzz_switch.log
mkdir -p "$corpus"
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	-artifact_prefix="$corpus/../" "$corpus" >"$log" 2>&1
rc=$?
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
if [ $rc = 0 ]; then
	echo "ok 1 - fuzz_switch: ${runs:-?} inputs in ${seconds} s through vswitch_input and vswitch_offer, invariants held"
else
	tail -n 30 "$log"
	echo "not ok 1 - fuzz_switch: crash (exit $rc), reproducer in $(dirname "$corpus")/crash-* (see $log)"
fi
