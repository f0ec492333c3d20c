#!/usr/bin/python3
"""User job: develop a guest on the host. The same hello source, built for
the runtime's unix target, prints the same lines and sleeps for real.

    test_runtime_unix.py HELLO_BINARY
"""
import argparse
import re
import subprocess
import time

from harness import Tap


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("hello")
    a = ap.parse_args()
    tap = Tap()
    start = time.monotonic()
    run = subprocess.run([a.hello, "greeting=from-the-shell", "answer=42"], capture_output=True, text=True,
                         timeout=30)
    elapsed = time.monotonic() - start
    lines = run.stdout.splitlines()
    expected = [r'hello: boot arguments "greeting=from-the-shell answer=42"',
                r"hello: monotonic \d+\.\d+ s, wall clock \d+\.\d+ s",
                r"hello: sleep 1 took \d+ us", r"hello: sleep 2 took \d+ us", r"hello: goodbye"]
    tap.check("hello on unix prints the same lines as on Xen, in order",
              len(lines) == len(expected) and all(re.fullmatch(p, l) for p, l in zip(expected, lines)),
              run.stdout + run.stderr)
    tap.check("hello on unix exits with status 0", run.returncode == 0, run.returncode)
    sleeps = [int(x) for x in re.findall(r"sleep \d took (\d+) us", run.stdout)]
    tap.check("hello on unix sleeps 1 s twice (+-10 %), 2 s in all",
              len(sleeps) == 2 and all(900000 <= s <= 1100000 for s in sleeps) and 1.8 <= elapsed <= 3.0,
              (sleeps, elapsed))
    wall = re.search(r"wall clock (\d+)\.", run.stdout)
    tap.check("hello on unix reads the host's wall clock",
              wall and abs(int(wall.group(1)) - time.time()) < 60, run.stdout)
    return tap.done()


if __name__ == "__main__":
    raise SystemExit(main())
