#!/usr/bin/python3
"""User job: the board runs a fleet of signed guests and keeps it running.
The control domain verifies every bundle in the boot bundle, builds the good
ones with domctl, serves their consoles with [name] prefixes, refuses the
tampered ones (the others still run), restarts a crashing guest with
backoff and marks it failed; and 50 create/destroy cycles give Xen back all
its memory.

    test_control.py CONTROL_IMAGE --cycles-image BENCH_IMAGE
"""
import argparse
import os
import re

from harness import BUILD, READY, Board, Tap


def control_plan_checks(tap, image):
    with Board(image, os.path.join(BUILD, "test-work", "control")) as board:
        try:
            board.expect(READY, 90, "ready")
            board.expect(r"control: crash: .*marked failed", 60, "failed")
            board.expect(r"\[ticker\] ticker: tick 3", 30)
            board.collect(1.0)
        except Exception as e:
            tap.check("control test board runs its plan", False, f"{e}\n{board.output[-3000:]}")
            return
        out = board.output
        # Both must appear (find() is -1 when a string is missing), and the
        # last verification must come before the first start.
        verified, started = out.rfind("bundle verified"), out.find("started as d")
        tap.check("every bundle is verified before any guest is built",
                  verified >= 0 and started >= 0 and verified < started, out[-4000:])
        for name, variant in (("hello_one", "one"), ("hello_two", "two")):
            lines = re.findall(rf"^\[{name}\] (.*)$", out, re.M)
            tap.check(f"{name} runs and prints through the control domain's console backend, prefixed",
                      lines[:1] == [f'hello: boot arguments "variant={variant}"'] and
                      lines[-1:] == ["hello: goodbye"] and len(lines) == 5, lines)
            tap.check(f"{name} exits cleanly and is reported as exited",
                      re.search(rf"control: {name}: exited \(poweroff\)", out))
        ticks = re.findall(r"^\[ticker\] ticker: tick (\d+)$", out, re.M)
        tap.check("the long-running guest keeps running beside the others",
                  ticks[:3] == ["1", "2", "3"], ticks)
        tap.check("a bundle whose image was altered is refused with the hash-mismatch reason",
                  re.search(r"control: evil: refused: image does not match its signed SHA-256", out))
        tap.check("a bundle whose signature was altered is refused with the bad-signature reason",
                  re.search(r"control: forged: refused: bad signature", out))
        tap.check("refused guests never run", "[evil]" not in out and "[forged]" not in out)
        # Crash -> restart with doubling backoff -> failed.
        restarts = re.findall(r"control: crash: crash; restarting in (\d+) ms", out)
        tap.check("the crash guest is restarted with doubling backoff (250 ms, 500 ms)",
                  restarts == ["250", "500"], restarts)
        starts = [board.time_at(m.start()) for m in re.finditer(r'\[crash\] crash: boot arguments', out)]
        gaps = [b - a for a, b in zip(starts, starts[1:])]
        tap.check("its restarts really wait: the gaps between its runs grow (backoff)",
                  len(gaps) == 2 and gaps[0] >= 0.25 and gaps[1] >= 0.5 and gaps[1] > gaps[0], gaps)
        tap.note(f"crash guest: gaps between runs {', '.join(f'{g:.3f} s' for g in gaps)}")
        tap.check("after 3 crashes the crash guest is marked failed and not restarted again",
                  re.search(r"control: crash: crash; 3 crashes within 60 s: marked failed", out) and
                  len(starts) == 3, out[-2000:])
        tap.check("a guest's escape sequences, carriage returns and bells never reach the console",
                  "\x1b" not in out and "\a" not in out and
                  "[crash] crash: [1;31mred[0mcontrol: crash: confirmed (forged)" in out)
        tap.check("a guest cannot forge a control domain line",
                  not re.search(r"^control: crash: confirmed", out, re.M))
        tap.check("each crash report reaches the console prefixed, with the fault address",
                  len(re.findall(r"^\[crash\] fault address 00000000", out, re.M)) == 3)
        at = out.rfind("control: status:")
        status = out[at:] if at >= 0 else ""
        tap.check("status shows each guest's state, domid, uptime, restarts, version and memory, and Xen's free memory",
                  re.search(r"control:   crash\s+failed\s+-\s+-\s+2\s+\d+\.\d+\.\d+\s+16 MiB", status) and
                  re.search(r"control:   ticker\s+running\s+d\d+\s+\d+\.\d s\s+0\s+\d+\.\d+\.\d+\s+16 MiB", status) and
                  re.search(r"Xen free memory \d+ MiB", status), status)
        # Status on demand: 's' on the serial console (Xen passes input to dom0).
        board.pos = len(board.output)
        board.send("s")
        try:
            board.expect(r"control: status: 6 guest\(s\)", 10)
            on_demand = True
        except Exception:
            on_demand = False
        tap.check("typing 's' on the console prints the status on demand", on_demand, board.output[-1500:])


def cycles_checks(tap, image):
    with Board(image, os.path.join(BUILD, "test-work", "cycles")) as board:
        try:
            board.expect(READY, 240, "ready")
        except Exception as e:
            tap.check("bench board completes its 20 builds and 50 cycles", False, e)
            return
        out = board.output
        m = re.search(r"control: cycles: (\d+) create/destroy cycles of hello, ([\d.]+) ms each; "
                      r"Xen free pages before (\d+), after (\d+)", out)
        tap.check("50 create/destroy cycles complete", m and m.group(1) == "50", out[-3000:])
        if m:
            # Not one page may be lost; a few pages more can come back (Xen
            # releases dom0 p2m tables it allocated for the first mappings).
            before, after = int(m.group(3)), int(m.group(4))
            tap.check("Xen's free memory returns to its baseline after 50 cycles (no page leaked)",
                      before <= after <= before + 16, m.group(0))
            tap.note(f"create+destroy cycle {m.group(2)} ms; Xen free pages before {m.group(3)}, after {m.group(4)}")
        b = re.search(r"control: bench: build start to first console line: median ([\d.]+) ms", out)
        tap.check("20 builds each reach the guest's first console line", b and "only" not in out, out[-3000:])
        if b:
            tap.note(f"build start to first console line, median of 20: {b.group(1)} ms")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("image")
    ap.add_argument("--cycles-image", required=True)
    a = ap.parse_args()
    tap = Tap()
    control_plan_checks(tap, a.image)
    cycles_checks(tap, a.cycles_image)
    return tap.done()


if __name__ == "__main__":
    raise SystemExit(main())
