#!/usr/bin/python3
"""User job: the board keeps its guests on its SD card, so the control
domain's SD/MMC driver must put every block exactly where it was asked to,
read it back, and refuse anything past the end of the store partition.

The control domain (boot argument mmc_selftest=1) writes, reads back and
compares patterns over the whole OTA store partition, multi-block and
unaligned ranges, and checks refusals past the end. Then, on the host, the
SD image file itself is read: the store partition (found by its MBR type)
must hold exactly the board's pattern, and every byte outside it must be as
in the pristine image - proof that the driver wrote the real medium, at the
right offset, and nothing else.

    test_mmc.py MMC_IMAGE           run the test (TAP)
    test_mmc.py MMC_IMAGE --bench   write build/bench/storage.json (mmc_* keys)
"""
import argparse
import os
import re
import struct

from harness import BUILD, READY, Board, Tap, mbr_partitions, merge_bench

SECTOR = 512
STORE_TYPE = 0xDA


def store_partition(path):
    """(number, first sector, sector count) of the partition of type 0xda."""
    for p in mbr_partitions(path):
        if p["type"] == STORE_TYPE:
            return p["number"], p["lba"], p["sectors"]
    raise AssertionError("no partition of type 0xda")


def pattern(block, passno):
    """The bytes guests/control/card.c writes to a block in a pass."""
    mix = (passno * 0x9E3779B9) & 0xFFFFFFFF
    b = (block * 0x85EBCA6B) & 0xFFFFFFFF
    return b"".join(struct.pack("<4sIII", b"FMMC", block, i, mix ^ b ^ i) for i in range(SECTOR // 16))


def boot(image, workdir, timeout):
    board = Board(image, workdir)
    board.start()
    try:
        board.expect(r"mmc-selftest: done: .*", timeout, "done")
        board.expect(READY, 60, "ready")
    finally:
        board.kill()
    return board


def run_test(a):
    tap = Tap()
    workdir = os.path.join(BUILD, "test-work", "mmc")
    try:
        board = boot(a.image, workdir, a.timeout)
    except Exception as e:
        tap.check("the control domain runs the MMC self-test to the end", False, str(e))
        return tap.done()
    out = board.output
    number, first, count = store_partition(a.image)
    tap.check("the control domain opens the card and finds the store partition by its MBR type",
              re.search(rf"card: OTA store: partition {number} \(type 0xda\), {count} blocks "
                        rf"\(\d+ MiB\) at sector {first}$", out, re.M), out[-3000:])
    tap.check("the card comes up on a 4-bit bus",
              re.search(r"card: SD card \d+ MiB \(SD\w+(/SDXC)?\), 4-bit bus", out), out[-3000:])
    results = re.findall(r"^mmc-selftest: (ok|not ok) \d+ - (.*)$", out, re.M)
    tap.check("the board ran all its checks", len(results) >= 5, results)
    for verdict, what in results:
        tap.check(f"board: {what}", verdict == "ok")
    # Provoked on purpose, and nothing else: two reads the card refuses
    # (not retried), two transfers to a deselected card (one retry each),
    # one read from a dead card (retried only while recovery works).
    tap.check("the only retries and errors are the provoked ones",
              re.search(r"mmc-selftest: done: \d+ passed, 0 failed \(retries 2, errors 3\)", out),
              out[-500:])
    failures = re.findall(r"^card: .*failed.*$", out, re.M)
    tap.check("the one transfer that failed for good says which blocks and why, with a code",
              len(failures) == 1 and re.match(r"card: read of store blocks 0\+8 failed: .* \(mmc error -\d+\)$",
                                               failures[0]), failures)

    # The host side: the bytes are really on the medium, at the right place.
    ranges = [(int(s), int(n)) for s, n in re.findall(r"^mmc-selftest: range (\d+)\+(\d+) pass 2$", out, re.M)]
    tap.check("the board reported its unaligned ranges", len(ranges) >= 5, ranges)
    passes = {}
    for s, n in ranges:
        for b in range(s, s + n):
            passes[b] = 2
    bad = []
    with open(board.disk, "rb") as f:
        f.seek(first * SECTOR)
        for block in range(count):
            data = f.read(SECTOR)
            if data != pattern(block, passes.get(block, 1)):
                bad.append(block)
                if len(bad) > 10:
                    break
    tap.check(f"the image file holds the board's pattern in every block of the store partition "
              f"({count} blocks at sector {first})", not bad, f"first bad blocks {bad}")
    same = True
    with open(a.image, "rb") as pristine, open(board.disk, "rb") as written:
        for start, end in ((0, first * SECTOR), ((first + count) * SECTOR, os.path.getsize(a.image))):
            pristine.seek(start)
            written.seek(start)
            left = end - start
            while left > 0 and same:
                n = min(left, 1 << 20)
                same = pristine.read(n) == written.read(n)
                left -= n
    tap.check("every byte outside the store partition is as in the pristine image "
              "(boot loader, FAT, free space)", same)
    m = re.search(r"whole store partition .*: write ([\d.]+) MB/s, read ([\d.]+) MB/s", out)
    if m:
        tap.note(f"whole partition: write {m.group(1)} MB/s, read {m.group(2)} MB/s; "
                 f"self-test took {board.markers['done']:.1f} s from QEMU start")
    return tap.done()


def run_bench(a):
    board = boot(a.image, os.path.join(BUILD, "bench", "mmc"), a.timeout)
    out = board.output
    results = {}
    m = re.search(r"card: SD card .* initialised in ([\d.]+) ms", out)
    if m:
        results["mmc_init_ms"] = float(m.group(1))
    keys = {"write large": "mmc_write_large_mb_s", "read large": "mmc_read_large_mb_s",
            "write single blocks": "mmc_write_single_block_mb_s",
            "read single blocks": "mmc_read_single_block_mb_s"}
    for what, key in keys.items():
        m = re.search(rf"^mmc-bench: {what}[^:]*: ([\d.]+) MB/s", out, re.M)
        if m:
            results[key] = float(m.group(1))
    m = re.search(r"whole store partition \((\d+) blocks.*: write ([\d.]+) MB/s, read ([\d.]+) MB/s", out)
    if m:
        results["mmc_whole_partition_bytes"] = int(m.group(1)) * SECTOR
        results["mmc_whole_partition_write_mb_s"] = float(m.group(2))
        results["mmc_whole_partition_read_mb_s"] = float(m.group(3))
    path = os.path.join(BUILD, "bench", "storage.json")
    merge_bench(path, results)
    print("SD/MMC driver in the control domain (QEMU orangepi-pc; MB = 10^6 bytes):")
    for key, value in results.items():
        print(f"  {key:36} {value}")
    print(f"written to {path}")
    return 0 if len(results) >= 5 else 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("image")
    ap.add_argument("--bench", action="store_true")
    ap.add_argument("--timeout", type=float, default=900)
    a = ap.parse_args()
    raise SystemExit(run_bench(a) if a.bench else run_test(a))


if __name__ == "__main__":
    main()
