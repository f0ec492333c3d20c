#!/bin/sh
# Runs the ota fuzz targets for a bounded time each and reports TAP.
#
#   run_fuzz_ota.sh WORKDIR SECONDS
#
# WORKDIR holds the targets (fuzz_ota_bundle, fuzz_ota_store) and their
# seeds (seeds/, store-seeds/). Corpora grow in WORKDIR/corpus-NAME and are
# kept between runs; crashes are written to WORKDIR/artifacts-NAME/.
set -u
work=$1 seconds=$2
n=0 failed=0
run() { # name seeds-dir max-len description
	name=$1 seeds=$2 max_len=$3 what=$4
	n=$((n + 1))
	mkdir -p "$work/corpus-$name" "$work/artifacts-$name"
	log="$work/fuzz-$name.log"
	"$work/fuzz_ota_$name" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -print_final_stats=1 \
		-artifact_prefix="$work/artifacts-$name/" "$work/corpus-$name" "$work/$seeds" >"$log" 2>&1
	status=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
	if [ "$status" -eq 0 ]; then
		echo "ok $n - fuzz $what: ${runs:-?} inputs in ${seconds}s, ${cov:-cov ?}, no crash"
	else
		tail -n 30 "$log" | sed 's/^/# /'
		echo "not ok $n - fuzz $what: crash or leak (see $log, inputs in $work/artifacts-$name)"
		failed=$((failed + 1))
	fi
}
run bundle seeds 8192 "bundle header, manifest and streaming verifier"
run store store-seeds 16385 "slot store metadata (open, queries, install)"
[ "$failed" -eq 0 ]
