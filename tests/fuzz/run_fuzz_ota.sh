#!/bin/sh
# Runs the ota bundle fuzz target for a bounded time and reports TAP.
#
#   run_fuzz_ota.sh FUZZER WORKDIR SECONDS
#
# The corpus grows in WORKDIR/corpus (kept between runs); seeds come from
# WORKDIR/seeds. Crashes are written to WORKDIR/artifacts.
set -u
fuzzer=$1 work=$2 seconds=$3
mkdir -p "$work/corpus" "$work/artifacts"
log="$work/fuzz.log"
"$fuzzer" -max_total_time="$seconds" -max_len=8192 -timeout=10 -print_final_stats=1 \
	-artifact_prefix="$work/artifacts/" "$work/corpus" "$work/seeds" >"$log" 2>&1
status=$?
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
if [ "$status" -eq 0 ]; then
	echo "ok 1 - fuzz ota bundle parser: ${runs:-?} inputs in ${seconds}s, ${cov:-cov ?}, no crash"
else
	tail -n 30 "$log" | sed 's/^/# /'
	echo "not ok 1 - fuzz ota bundle parser: crash or leak (see $log, inputs in $work/artifacts)"
fi
exit "$status"
