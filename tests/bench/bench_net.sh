#!/bin/sh
# Run bench_net, callgrind and size; print the table and write the JSON.
#   bench_net.sh BENCH_BINARY SIZE_TOOL NET_LIB OURS_RAM_OBJ OUT_JSON LWIP_TARGET_OBJS...
set -eu
bench=$1 size=$2 netlib=$3 ramobj=$4 out=$5
shift 5
dir=$(dirname "$out")
mkdir -p "$dir"
work=$dir/net-work
mkdir -p "$work"

echo "bench-net: throughput and latency (best of 3, 64 MiB bulk, 20000 x 64-byte round trips)..."
"$bench" run >"$work/run.txt"

CG_BYTES=8000000
for pair in ours-ours lwip-lwip ours-lwip lwip-ours; do
	echo "bench-net: callgrind $pair ($CG_BYTES bytes)..."
	valgrind --tool=callgrind --callgrind-out-file="$work/cg.$pair" "$bench" bulk "$pair" $CG_BYTES >/dev/null 2>"$work/cg.$pair.log"
	# Setup and teardown cost, measured with a 1-byte transfer, is subtracted.
	valgrind --tool=callgrind --callgrind-out-file="$work/cg0.$pair" "$bench" bulk "$pair" 1 >/dev/null 2>&1
	full=$(sed -n 's/^summary: //p' "$work/cg.$pair")
	base=$(sed -n 's/^summary: //p' "$work/cg0.$pair")
	echo "$pair $full $base" >>"$work/cg.txt.new"
done
mv "$work/cg.txt.new" "$work/cg.txt"

"$size" -t "$netlib" | tail -n 1 >"$work/size-ours.txt"
"$size" -t "$@" | tail -n 1 >"$work/size-lwip.txt"
"$size" "$ramobj" | tail -n 1 >"$work/ram-ours.txt"

/usr/bin/python3 - "$work" "$out" "$CG_BYTES" <<'PY'
import json, sys
work, out, cg_bytes = sys.argv[1], sys.argv[2], int(sys.argv[3])
run = {}
for line in open(f"{work}/run.txt"):
    pair, tp, lat = line.split()
    run[pair] = {"throughput_MBps": float(tp), "latency_us": float(lat)}
for line in open(f"{work}/cg.txt"):
    pair, full, base = line.split()
    run[pair]["instructions_per_byte"] = (int(full) - int(base)) / cg_bytes
def text_data(path):
    t, d, b = [int(x) for x in open(path).read().split()[:3]]
    return t, d, b
ot, od, _ = text_data(f"{work}/size-ours.txt")
lt, ld, lb = text_data(f"{work}/size-lwip.txt")
_, rd, rb = text_data(f"{work}/ram-ours.txt")
ours, lwip = run["ours-ours"], run["lwip-lwip"]
res = {
    "throughput_ratio": ours["throughput_MBps"] / lwip["throughput_MBps"],
    "instructions_per_byte_ratio": ours["instructions_per_byte"] / lwip["instructions_per_byte"],
    "latency_ratio": ours["latency_us"] / lwip["latency_us"],
    "ram_ratio": (rd + rb) / (ld + lb),
    "code_size_ratio": (ot + od) / (lt + ld),
    "raw": {
        "pairs": run,
        "ram_bytes": {"ours": rd + rb, "lwip": ld + lb},
        "code_bytes_text_data": {"ours": ot + od, "lwip": lt + ld},
        "notes": "sender-receiver pairs on an in-process wire; throughput: 64 MiB bulk TCP, best of 3 (wall clock); "
                 "instructions per byte: callgrind Ir of an 8 MB transfer minus a 1-byte run, both stacks and the wire included; "
                 "latency: 64-byte request/response round trip; RAM: static .data+.bss of each stack in the same "
                 "configuration (tests/bench/bench_config.h, lwIP without malloc); code: .text+.data, Cortex-A7 Thumb-2 -Os, "
                 "both with DHCP, DNS, IPv4 reassembly, ARP, ICMP, UDP, TCP",
    },
}
json.dump(res, open(out, "w"), indent=2)
print()
print(f"{'pair (sender-receiver)':24} {'MB/s':>9} {'instr/byte':>11} {'latency us':>11}")
for pair in ("ours-ours", "lwip-lwip", "ours-lwip", "lwip-ours"):
    r = run[pair]
    print(f"{pair:24} {r['throughput_MBps']:9.1f} {r['instructions_per_byte']:11.2f} {r['latency_us']:11.3f}")
print(f"{'RAM bytes':24} ours {rd + rb:8d}   lwIP {ld + lb:8d}")
print(f"{'code .text+.data':24} ours {ot + od:8d}   lwIP {lt + ld:8d}")
print()
print(f"{'ratio ours/lwIP':32} {'value':>7}   better when")
for k, better in (("throughput_ratio", "> 1"), ("instructions_per_byte_ratio", "< 1"), ("latency_ratio", "< 1"),
                  ("ram_ratio", "< 1"), ("code_size_ratio", "< 1")):
    print(f"{k:32} {res[k]:7.3f}   {better}")
print(f"\nwrote {out}")
PY
