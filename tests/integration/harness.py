"""Shared pieces of Flotilla's integration tests: TAP output and the
emulated board (tools/qemu.py)."""
import json
import os
import statistics
import struct
import sys
import traceback

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools"))

from qemu import Board, BoardTimeout  # noqa: E402,F401

BUILD = os.environ.get("O", os.path.join(ROOT, "build"))
READY = r"flotilla: control domain (\S+) ready"


class Tap:
    """Prints TAP lines; a check's exception is a failure, never a crash."""

    def __init__(self):
        self.count = 0
        self.failed = 0

    def check(self, description, condition, detail=""):
        self.count += 1
        if condition:
            print(f"ok {self.count} - {description}", flush=True)
        else:
            self.failed += 1
            print(f"not ok {self.count} - {description}", flush=True)
            for line in str(detail).splitlines():
                print(f"# {line}", flush=True)
        return condition

    def run(self, description, function, *args):
        """Run function(*args); ok if it returns without raising."""
        try:
            result = function(*args)
        except Exception as e:  # report, then go on with the next test
            self.check(description, False, f"{type(e).__name__}: {e}\n{traceback.format_exc()}")
            return None
        self.check(description, True)
        return result

    def note(self, text):
        print(f"# {text}", flush=True)

    def done(self):
        return 1 if self.failed else 0


def median(values):
    return statistics.median(values) if values else float("nan")


def merge_bench(path, figures):
    """Merge figures (None values left out) into the JSON object at path:
    several benches write into one file (build/bench/*.json)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    data = {}
    if os.path.exists(path):
        try:
            with open(path) as f:
                data = json.load(f)
        except ValueError:
            data = {}
    data.update({k: v for k, v in figures.items() if v is not None})
    with open(path + ".tmp", "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(path + ".tmp", path)


SECTOR = 512


def mbr_partitions(path):
    """The primary partitions of an SD image's MBR, in table order:
    [{"number": 1.., "type", "bootable", "lba", "sectors", "offset" (bytes)}]."""
    with open(path, "rb") as f:
        mbr = f.read(SECTOR)
    assert mbr[510:512] == b"\x55\xaa", f"{path}: no MBR signature"
    parts = []
    for i in range(4):
        e = mbr[446 + 16 * i:462 + 16 * i]
        lba, sectors = struct.unpack_from("<II", e, 8)
        if e[4]:
            parts.append({"number": i + 1, "type": e[4], "bootable": e[0] == 0x80, "lba": lba,
                          "sectors": sectors, "offset": lba * SECTOR})
    return parts
