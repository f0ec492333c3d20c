"""Shared pieces of Flotilla's integration tests: TAP output and the
emulated board (tools/qemu.py)."""
import os
import statistics
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
