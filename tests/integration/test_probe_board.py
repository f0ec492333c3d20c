#!/usr/bin/python3
"""User job (part of a health-gated update): the control domain probes a
guest as its plan entry declares, from its own stack through its switch,
and says in one line why a guest is not healthy.

On the emulated board (hypervisor-cfg/test/orangepi-pc-probe.toml, boot
argument probe_test=): www's `http:80/healthz` passes; www_missing's
`http:80/no-such-page` fails with the status (HTTP 404); www_closed's
`tcp:81` fails because the connection is refused; nobody's address is held
by no one, and its `tcp:80` times out after its ready_timeout_s. The four
probes run at once; the plan's probe and timeout reach the board through the
boot bundle.

    test_probe_board.py IMAGE
"""
import argparse
import os
import re

from harness import BUILD, READY, Board, BoardTimeout, Tap

VERDICT = r"^control: probe {name}: (passed in (\d+) ms.*|failed: (.*) \((\d+) attempts in (\d+) ms\))$"


def checks(tap, image):
    with Board(image, os.path.join(BUILD, "test-work", "board-probe")) as board:
        try:
            board.expect(READY, 120, "ready")
            verdicts = {}
            for name in ("nobody", "www", "www_closed", "www_missing"):
                pattern = VERDICT.format(name=name)
                m = re.search(pattern, board.output, re.M) or board.expect(pattern, 150)
                verdicts[name] = m
        except Exception as e:
            tap.check("the control domain reports a verdict for each probe", False,
                      f"{e}\n{board.output[-4000:]}")
            return
        out = board.output
        tap.check("the plan's probe and ready timeout reach the board in the boot bundle",
                  'control: probe_test: www: probe "http:80/healthz", ready timeout 60 s' in out and
                  'control: probe_test: www_closed: probe "tcp:81", ready timeout 25 s' in out, out[-3000:])
        www = verdicts["www"]
        tap.check("http probe of www's /healthz passes", www.group(1).startswith("passed"), www.group(0))
        again = r"^control: probe www: again (5 times: passed in ([\d ]+) ms|.*)$"
        try:
            again = re.search(again, board.output, re.M) or board.expect(again, 30)
        except BoardTimeout as e:
            again = None
            tap.check("five more probes of www, back to back, pass too", False, e)
        times = [int(t) for t in again.group(2).split()] if again and again.group(2) else []
        if again:
            tap.check("five more probes of www, back to back, pass too (each its own connection)",
                      len(times) == 5, again.group(0))
        tap.note(f"www /healthz probe: first {www.group(2)} ms (ARP on both sides), then {times} ms")
        missing = verdicts["www_missing"]
        tap.check("http probe of a path www does not have fails with the status: HTTP 404 from GET /no-such-page",
                  missing.group(3) == "HTTP 404 from GET /no-such-page", missing.group(0))
        closed = verdicts["www_closed"]
        tap.check("tcp probe of a port nothing listens on fails: connection refused by 10.0.2.18:81",
                  closed.group(3) == "connection refused by 10.0.2.18:81", closed.group(0))
        nobody = verdicts["nobody"]
        tap.check("a probe of an address nobody holds fails after its ready timeout (3 s): no answer",
                  nobody.group(3) == "no answer from 10.0.2.19:80 within 3000 ms" and
                  3000 <= int(nobody.group(5)) < 4000, nobody.group(0))
        for name in ("www_missing", "www_closed"):
            m = verdicts[name]
            tap.check(f"{name}: failures are retried until its ready timeout (25 s), then reported",
                      m.group(4) and int(m.group(4)) > 1 and 23000 <= int(m.group(5)) <= 26000, m.group(0))
        try:
            tap.note(board.expect(r"^control: probe_test: done; .*$", 30).group(0))
        except BoardTimeout:
            tap.note("no stack counters from the probe_test hook")
        # The switch's counters, for whoever reads a slow probe above.
        board.pos = len(board.output)
        board.send("s")
        try:
            board.expect(r"control: switch: port www_closed\.lan ", 15)
            board.collect(0.5)
            for line in re.findall(r"^control: switch: port \S+ .*$", board.output[board.pos - 4000:], re.M):
                tap.note(line)
        except BoardTimeout:
            tap.note("no switch counters after the status key")
        out = board.output
        tap.check("the guests run on: probing harmed none of them",
                  all(f"[{n}] www: serving" in out for n in ("www", "www_missing", "www_closed")) and
                  "crash" not in out, out[-3000:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("image")
    a = ap.parse_args()
    tap = Tap()
    checks(tap, a.image)
    return tap.done()


if __name__ == "__main__":
    raise SystemExit(main())
