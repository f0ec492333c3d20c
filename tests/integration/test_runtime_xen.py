#!/usr/bin/python3
"""User job: run single-purpose unikernels on the board. The runtime's guests
run as Xen boot-time domains beside the control domain
(hypervisor-cfg/test/orangepi-pc-runtime.toml): hello prints through its
vpl011 and exits; crash faults on purpose and is reported; an idle guest
blocked in flotilla_yield() uses (almost) no CPU.

    test_runtime_xen.py IMAGE --hello-image FILE
"""
import argparse
import os
import re

from harness import BUILD, READY, Board, Tap

REPORT = re.compile(r"^control: report t=(\d+\.\d+) d(\d+) (\S+) cpu_ns=(\d+)", re.M)


def domid_of(out, pattern):
    m = re.search(r"\(XEN\) DOM(\d+): " + pattern, out)
    return int(m.group(1)) if m else None


def reports_for(out, domid):
    return [(float(t), int(cpu), state) for t, d, state, cpu in REPORT.findall(out) if int(d) == domid]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("image")
    ap.add_argument("--hello-image", required=True)
    a = ap.parse_args()
    tap = Tap()
    workdir = os.path.join(BUILD, "test-work", "runtime")
    with Board(a.image, workdir) as board:
        try:
            board.expect(READY, 90, "ready")
            board.expect(r"hello: goodbye", 30, "goodbye")
            # Two reports after hello's exit: the idle interval and the aftermath.
            goodbye_at = board.pos
            board.expect(r"control: report t=\S+ d0 ", 15)
            board.expect(r"control: report t=\S+ d0 ", 15)
            board.collect(0.5)
        except Exception as e:
            tap.check("runtime test board runs hello to its end", False, e)
            return tap.done()
        out = board.output

        # --- hello through vpl011, in order
        hello = domid_of(out, r"hello: boot arguments")
        lines = re.findall(rf"\(XEN\) DOM{hello}: (hello: .*)", out) if hello is not None else []
        expected = [r'hello: boot arguments "greeting=from-the-plan answer=42"',
                    r"hello: monotonic \d+\.\d+ s, wall clock \d+\.\d+ s",
                    r"hello: sleep 1 took \d+ us", r"hello: sleep 2 took \d+ us", r"hello: goodbye"]
        tap.check("hello prints its boot arguments, time, two sleeps and goodbye, in order, via vpl011",
                  len(lines) == len(expected) and all(re.fullmatch(p, l) for p, l in zip(expected, lines)),
                  "\n".join(lines))
        sleeps = [int(x) for x in re.findall(rf"DOM{hello}: hello: sleep \d took (\d+) us", out)]
        tap.check("hello's own clock measures each 1 s sleep within 10 %",
                  len(sleeps) == 2 and all(900000 <= s <= 1100000 for s in sleeps), sleeps)
        # The wall clock is the host's: the time between the two sleep lines
        # arriving on the serial console. This catches a wrong CNTFRQ (2.6x).
        m1 = re.search(rf"DOM{hello}: hello: sleep 1 took", out)
        m2 = re.search(rf"DOM{hello}: hello: sleep 2 took", out)
        interval = board.time_at(m2.start()) - board.time_at(m1.start()) if m1 and m2 else None
        tap.check("hello's second 1 s sleep lasts 1 s +-10 % of the host's wall clock",
                  interval is not None and 0.9 <= interval <= 1.1, interval)
        if interval is not None:
            tap.note(f"host-measured interval between the sleep lines: {interval:.3f} s")
        tap.check("Xen reports hello powered off (exit status 0)",
                  re.search(rf"control: d{hello} shut down: poweroff", out), out[goodbye_at:])
        first = re.search(rf"DOM{hello}: hello: monotonic (\d+\.\d+) s", out)
        if first:
            tap.note(f"hello: first console line at {float(first.group(1)) * 1000:.1f} ms after its domain "
                     f"was created (its own CNTVCT)")
        loads = [m.start() for m in re.finditer(r"\*\*\* LOADING DOMU", out)]
        line = re.search(rf"DOM{hello}: hello: boot arguments", out)
        if loads and line:
            # hello is the last boot domain Xen loads (U-Boot lists them in reverse).
            tap.note(f"hello: 'LOADING DOMU' to its first console line: "
                     f"{(board.time_at(line.start()) - board.time_at(loads[-1])) * 1000:.0f} ms (host clock)")

        # --- the crash path
        crash = domid_of(out, r"crash: dereferencing a null pointer")
        report = "\n".join(re.findall(rf"\(XEN\) DOM{crash}: (.*)", out)) if crash is not None else ""
        tap.check("crash guest's report names the fault (data abort) and its address 00000000",
                  re.search(r"\*\*\* CRASH: data abort", report) and
                  re.search(r"fault address 00000000", report), report)
        tap.check("crash report lists registers and a backtrace",
                  re.search(r"r0\s+[0-9a-f]{8}", report) and "backtrace" in report, report)
        tap.check("Xen reports the crash guest's domain as crashed",
                  re.search(rf"control: d{crash} shut down: crash", out), out[-3000:])
        tap.check("crash guest never runs past the fault", "crash: still alive?" not in out)
        after_crash = [r for r in reports_for(out, 0)]
        tap.check("control domain is unaffected: keeps reporting, not shut down",
                  len(after_crash) >= 3 and all(state != "shutdown" for _, _, state in after_crash),
                  after_crash)

        # --- idle guest CPU use
        idle = domid_of(out, r"ticker: started")
        samples = reports_for(out, idle) if idle is not None else []
        if len(samples) >= 2:
            (t1, c1, _), (t2, c2, _) = samples[-2], samples[-1]
            share = (c2 - c1) / 1e9 / (t2 - t1)
            tap.note(f"idle guest CPU use over {t2 - t1:.1f} s: {share * 100:.3f} % of a CPU")
            tap.check("an idle guest blocked in flotilla_yield() uses under 2 % of a CPU over 5 s",
                      t2 - t1 >= 4.5 and share < 0.02, samples)
        else:
            tap.check("an idle guest blocked in flotilla_yield() uses under 2 % of a CPU over 5 s",
                      False, "no CPU reports for the idle guest")

    size = os.path.getsize(a.hello_image)
    tap.note(f"hello.img: {size} bytes")
    tap.check("hello.img is at most 32 KiB", size <= 32 * 1024, size)
    return tap.done()


if __name__ == "__main__":
    raise SystemExit(main())
