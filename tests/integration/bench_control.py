#!/usr/bin/python3
"""make bench (control domain and boot): figures for the issue notes, printed
and written to build/bench/control.json. Not asserted: the emulator shares
a noisy machine; medians are reported.

    bench_control.py BENCH_IMAGE DEFAULT_IMAGE [--boots 5]
"""
import argparse
import json
import os
import re

from harness import BUILD, READY, Board, median


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bench_image")
    ap.add_argument("default_image")
    ap.add_argument("--boots", type=int, default=5)
    a = ap.parse_args()
    results = {}
    ready = []
    for i in range(a.boots):
        with Board(a.default_image, os.path.join(BUILD, "bench", "boot")) as board:
            board.expect(READY, 120, "ready")
            ready.append(board.markers["ready"])
    results["qemu_start_to_ready_s_median"] = round(median(ready), 3)
    results["qemu_start_to_ready_s_all"] = [round(x, 3) for x in ready]
    with Board(a.bench_image, os.path.join(BUILD, "bench", "control")) as board:
        board.expect(READY, 300, "ready")
        out = board.output
    m = re.search(r"build start to first console line: median ([\d.]+) ms, min ([\d.]+), max ([\d.]+) \(n=(\d+)", out)
    if m:
        results["build_to_first_line_ms_median"] = float(m.group(1))
        results["build_to_first_line_ms_min"] = float(m.group(2))
        results["build_to_first_line_ms_max"] = float(m.group(3))
        results["build_runs"] = int(m.group(4))
    for name, value in re.findall(r"phase (\w+)\s+median ([\d.]+) ms", out):
        results[f"phase_{name}_ms_median"] = float(value)
    m = re.search(r"unpause to first console line median ([\d.]+) ms", out)
    if m:
        results["unpause_to_first_line_ms_median"] = float(m.group(1))
    m = re.search(r"cycles: (\d+) create/destroy cycles of \w+, ([\d.]+) ms each; Xen free pages before (\d+), after (\d+)", out)
    if m:
        results.update(cycles=int(m.group(1)), create_destroy_cycle_ms=float(m.group(2)),
                       xen_free_pages_before=int(m.group(3)), xen_free_pages_after=int(m.group(4)))
    sizes = {name: os.path.getsize(os.path.join(BUILD, path)) for name, path in
             (("control_img_bytes", "control.img"), ("hello_img_bytes", "guests/hello.img"),
              ("sdcard_img_bytes", "sdcard.img"))}
    results.update(sizes)
    os.makedirs(os.path.join(BUILD, "bench"), exist_ok=True)
    with open(os.path.join(BUILD, "bench", "control.json"), "w") as f:
        json.dump(results, f, indent=2)
    print("control domain and boot (QEMU orangepi-pc; medians):")
    for key, value in results.items():
        print(f"  {key:36} {value}")
    print(f"written to {os.path.join(BUILD, 'bench', 'control.json')}")


if __name__ == "__main__":
    main()
