#!/usr/bin/python3
"""User job: push an update of a guest too large for two instances (issue 12).

The push-big image (hypervisor-cfg/test/orangepi-pc-push-big.toml: one guest,
ticker, with so much RAM that Xen cannot build a second instance beside it)
boots in QEMU on user networking, the control domain's device API forwarded
to a host port (ticker has no network). The hot swap cannot run side by
side, so it must run stop-then-start (docs/updates.md):

  (a) ticker 2.0.0 pushed with `flotilla push --json`: exit 0, verdict
      confirmed, the operation's mode "stop-then-start" with the gap (the
      time nothing ran) reported; the console said why, with Xen's free
      pages and what a second instance needs; the old instance went before
      the new one was built; 2.0.0 runs afterwards (GET /v1/guests, its own
      console line); Xen's free memory is back to its level;
  (b) ticker 2.0.1, which never calls flotilla_ready(): rolled back
      not_ready, stop-then-start, gap reported; 2.0.0 runs again, rebuilt
      from the card's confirmed slot; the 2.0.1 slot is marked bad; Xen's
      free memory is back to its level;
  (c) `flotilla restart` of ticker: a fresh instance of the running version,
      stop-then-start as well, confirmed, gap reported.

    test_push_big.py IMAGE --plan PLAN --flotilla CLI --operator-key OP.key
                     --bundles DIR [--bench FILE]
"""
import argparse
import json
import os
import re
import socket
import subprocess
import sys
import time
import tomllib

from harness import BUILD, READY, Board, BoardTimeout, Tap, merge_bench
from store_card import Store
from test_push import request, verdict, wait_for

BOOT_TIMEOUT = 240
CONTROL_NET = r"^control: net: (\d+\.\d+\.\d+\.\d+)/\d+ via DHCP"
FREE_MEMORY = r"control: status: \d+ guest\(s\), Xen free memory (\d+) MiB"
WHY = (r"^control: ticker: Xen has (\d+) free pages, a second instance needs (\d+): "
       r"stop-then-start$")
STARTED = r"^control: ticker: started as d(\d+) "
PAGE = 4096


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Rig:
    """The board on user networking; its API at 127.0.0.1:PORT."""

    def __init__(self, a, work):
        self.a = a
        self.port = free_port()
        self.board = Board(a.image, work, host_port=self.port)

    def boot(self):
        b = self.board.start()
        b.expect(READY, BOOT_TIMEOUT, name="ready")
        b.expect(CONTROL_NET, 90)
        # ticker may start before or after the control domain's DHCP lease.
        if not re.search(r"^\[ticker\] ticker: started", b.output, re.M):
            b.expect(r"^\[ticker\] ticker: started", 90)
        return self

    def get(self, target, timeout=10):
        r = request("127.0.0.1", "GET", target, timeout=timeout, port=self.port)
        return r.json() if r.status == 200 else None

    def guest(self):
        j = self.get("/v1/guests") or {}
        return next((g for g in j.get("guests", []) if g["name"] == "ticker"), {})

    def console_status(self):
        """Xen's free memory (MiB) and the status table, from console key 's'."""
        b = self.board
        b.pos = len(b.output)
        b.send("s")
        m = b.expect(FREE_MEMORY, 20)
        b.collect(0.8)
        return int(m.group(1)), b.output[m.start():]

    def steady_free(self):
        """Xen's free memory once two readings a second apart agree."""
        last = None
        for _ in range(10):
            free, table = self.console_status()
            if free == last:
                break
            last = free
            time.sleep(1.0)
        return free, table

    def push(self, bundle, timeout=400):
        """flotilla push BUNDLE --to 127.0.0.1:PORT --json -> (rc, doc, seconds, stderr)."""
        return self.cli(["push", bundle, "--to", f"127.0.0.1:{self.port}"], timeout)

    def restart(self, timeout=400):
        """flotilla restart 127.0.0.1:PORT ticker --json -> (rc, doc, seconds, stderr)."""
        return self.cli(["restart", f"127.0.0.1:{self.port}", "ticker"], timeout)

    def cli(self, args, timeout):
        t0 = time.monotonic()
        proc = subprocess.Popen([self.a.flotilla, *args, "--key", self.a.operator_key, "--json"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # The console is read meanwhile, so each line's arrival time is
        # when the board printed it (Board.time_at), not when it was asked.
        while proc.poll() is None and time.monotonic() < t0 + timeout:
            self.board.collect(0.1)
        if proc.poll() is None:
            proc.kill()
        out, err = proc.communicate()
        seconds = time.monotonic() - t0
        doc = {}
        for line in reversed(out.strip().splitlines()):
            try:
                doc = json.loads(line)
                break
            except ValueError:
                continue
        return proc.returncode, doc, seconds, err

    def kill(self):
        self.board.kill()


def plan_ticker(path):
    with open(path, "rb") as f:
        plan = tomllib.load(f)
    return next(g for g in plan["guest"] if g["name"] == "ticker")


def need_pages(ticker):
    """What the supervisor counts for one more instance (supervisor.c
    instance_pages, builder.h's paging pool): RAM, pool, slack."""
    pool_kb = 1024 * ticker["vcpus"] + 4 * ticker["memory_mb"] + 512
    return ticker["memory_mb"] * 256 + pool_kb // 4 + 64


def slots(rig):
    try:
        return Store(rig.board.disk).guest("ticker")["slots"]
    except Exception as e:  # report, never crash the suite
        return f"{type(e).__name__}: {e}"


def memory_back(tap, rig, free_before):
    """Xen's free memory returns to its level (within 1 MiB) within 30 s."""
    free_after = None

    def back():
        nonlocal free_after
        free_after, _ = rig.console_status()
        return abs(free_after - free_before) <= 1
    ok = wait_for(back, 30, interval=1.0)
    tap.check(f"Xen's free memory is back to its level ({free_before} -> {free_after} MiB)", ok,
              (free_before, free_after))


def section_swap(tap, rig, a, ticker, figures):
    b = rig.board
    old = rig.guest()
    free_before, _ = rig.steady_free()
    need = need_pages(ticker)
    tap.note(f"ticker {old.get('version')} runs as d{old.get('domid')} ({ticker['memory_mb']} MiB); "
             f"Xen free memory {free_before} MiB, a second instance needs {need * PAGE >> 20} MiB")
    tap.check(f"the premise: Xen's free memory ({free_before} MiB) cannot hold a second ticker "
              f"({need} pages)", free_before * 256 < need, (free_before, need))
    mark = len(b.output)
    rc, doc, seconds, err = rig.push(os.path.join(a.bundles, "ticker-v2.bnd"))
    stage, code = verdict(doc)
    op = doc.get("operation") or {}
    tap.note(f"push 2.0.0: exit {rc} after {seconds:.1f} s; operation {json.dumps(op)}")
    tap.check("flotilla push ticker 2.0.0: exit 0, verdict confirmed", rc == 0 and stage == "confirmed",
              (rc, doc, err))
    gap = op.get("gap_ms") or 0
    tap.check(f"the operation says mode stop-then-start and the gap nothing ran: {gap} ms",
              op.get("mode") == "stop-then-start" and gap > 0, op)
    b.collect(1.0)
    out = b.output[mark:]
    why = re.search(WHY, out, re.M)
    said_free = int(why.group(1)) if why else None
    tap.check("the console said why: Xen has N free pages, a second instance needs M, N < M, "
              f"N is Xen's free memory ({free_before} MiB), M the plan's ticker ({need})",
              why and said_free < int(why.group(2)) and int(why.group(2)) == need and
              abs(said_free - free_before * 256) <= 512, out[-3000:])
    # Stop, then start: the old domain is destroyed before the new one is
    # built (its "started as" line comes after the reason, and the old
    # domain's id is never seen again in the status).
    started = re.search(STARTED, out[why.end():] if why else "", re.M)
    first = re.search(r"^\[ticker[^\]]*\] ticker: started", out[why.end():] if why else "", re.M)
    if why and first:
        # Seen from the host: the old instance stopped at the reason line,
        # the new one's code spoke at its first line (arrival times).
        silent = b.time_at(mark + why.end() + first.start()) - b.time_at(mark + why.start())
        tap.note(f"console: {silent * 1000:.0f} ms from the reason line to the new instance's first line")
        figures["ota_stop_start_console_silence_ms"] = round(silent * 1000)
    tap.check(f"the new instance was built after the old one stopped (d{old.get('domid')} -> "
              f"d{started.group(1) if started else '?'})",
              started and int(started.group(1)) != old.get("domid"), out[-3000:])
    new = rig.guest()
    tap.check("GET /v1/guests: ticker 2.0.0 runs, in a new domain",
              new.get("version") == "2.0.0" and new.get("state") == "running" and
              new.get("domid") != old.get("domid"), (old, new))
    ran = re.search(r"^\[ticker[^\]]*\] ticker: version 2\.0\.0$", out, re.M)
    ticks = wait_for(lambda: re.search(r"^\[ticker\] ticker: tick 3$", b.collect(0.5)[mark:], re.M), 30)
    tap.check("its console: the 2.0.0 code runs and ticks", ran and ticks, b.output[mark:][-2000:])
    memory_back(tap, rig, free_before)
    ms = op.get("ms") or {}
    figures.update({"ota_stop_start_gap_ms": gap,
                    "ota_stop_start_confirmed_ms": ms.get("finished"),
                    "ota_stop_start_build_to_ready_ms": (ms["ready"] - ms["built"])
                    if "ready" in ms and "built" in ms else None,
                    "ota_stop_start_cli_s": round(seconds, 2),
                    "ota_stop_start_guest_mib": ticker["memory_mb"],
                    "ota_stop_start_xen_free_mib": free_before})


def section_never_ready(tap, rig, a, ticker, figures):
    b = rig.board
    before = rig.guest()
    free_before, _ = rig.steady_free()
    mark = len(b.output)
    rc, doc, seconds, err = rig.push(os.path.join(a.bundles, "ticker-never-ready.bnd"))
    stage, code = verdict(doc)
    op = doc.get("operation") or {}
    tap.note(f"push 2.0.1 (never ready): exit {rc} after {seconds:.1f} s; operation {json.dumps(op)}")
    tap.check("a ticker that never calls flotilla_ready(): rolled back not_ready, flotilla push "
              "exits non-zero", rc != 0 and stage == "rolled_back" and code == "not_ready", (rc, doc, err))
    gap = op.get("gap_ms") or 0
    timeout_ms = ticker.get("ready_timeout_s", 30) * 1000
    tap.check(f"... stop-then-start, the gap reported: {gap} ms (at least the {timeout_ms} ms "
              "ready deadline)", op.get("mode") == "stop-then-start" and gap >= timeout_ms, op)
    b.collect(1.0)
    out = b.output[mark:]
    tap.check("the console said why (stop-then-start), then built 2.0.1, which never became ready",
              re.search(WHY, out, re.M) and
              re.search(r"^\[ticker[^\]]*\] ticker: version 2\.0\.1$", out, re.M), out[-3000:])
    now = rig.guest()
    # The confirmed 2.0.0 is built again from the card: its own code's line.
    rebuilt = wait_for(lambda: re.findall(r"^\[ticker[^\]]*\] ticker: version (\S+)$",
                                          b.collect(0.3)[mark:], re.M)[-1:] == ["2.0.0"], 20)
    tap.check("2.0.0 runs again, rebuilt from the confirmed slot (a new domain, its console says "
              "2.0.0)", now.get("version") == "2.0.0" and now.get("state") == "running" and
              now.get("domid") != before.get("domid") and rebuilt, (before, now, out[-2000:]))
    # Built as the card's confirmed image, not as a trial or a seed.
    slot_line = re.search(r"^control: ticker: slot ([AB]) v2\.0\.0 \(([^)]*)\)", out, re.M)
    out = b.output[mark:]  # with what the rebuilt instance printed meanwhile
    back = [m for m in re.finditer(r"^\[ticker\] ticker: version 2\.0\.0$", out, re.M)]
    why = re.search(WHY, out, re.M)
    if why and back:
        # Seen from the host: from the old instance's stop to 2.0.0's first
        # word again (the board's gap_ms ends when it is built again).
        down = b.time_at(mark + back[-1].start()) - b.time_at(mark + why.start())
        tap.note(f"console: 2.0.0 was down {down * 1000:.0f} ms (the reason line to its version line)")
        timeline = []
        for pattern in (WHY, STARTED, r"^control: ticker: update rolled_back",
                        r"^\[ticker\] ticker: version"):
            for m in re.finditer(pattern, out, re.M):
                timeline.append((b.time_at(mark + m.start()) - b.time_at(mark + why.start()),
                                 out[m.start():out.find("\n", m.start())][:70]))
        for t, line in sorted(timeline):
            tap.note(f"  +{t * 1000:6.0f} ms  {line}")
        figures["ota_stop_start_rollback_console_down_ms"] = round(down * 1000)
    st = slots(rig)
    states = sorted((s["version"], s["state"]) for s in st) if isinstance(st, list) else st
    tap.check(f"the card: 2.0.0 confirmed, 2.0.1 bad ({states})",
              isinstance(st, list) and ("2.0.0", "confirmed") in states and ("2.0.1", "bad") in states,
              st)
    confirmed_slot = next(("AB"[k] for k, x in enumerate(st) if x["state"] == "confirmed"),
                          None) if isinstance(st, list) else None
    tap.check(f"the console: 2.0.0 was built from the confirmed slot {confirmed_slot} "
              f"({slot_line.group(0) if slot_line else 'no slot line'})",
              slot_line and slot_line.group(1) == confirmed_slot and slot_line.group(2) == "confirmed",
              out[-2000:])
    memory_back(tap, rig, free_before)
    figures.update({"ota_stop_start_rollback_gap_ms": gap,
                    "ota_stop_start_rollback_cli_s": round(seconds, 2)})


def section_restart(tap, rig, a, ticker, figures):
    """An operator's restart of a guest too large for two: stop-then-start too."""
    b = rig.board
    before = rig.guest()
    free_before, _ = rig.steady_free()
    mark = len(b.output)
    rc, doc, seconds, err = rig.restart()
    stage, code = verdict(doc)
    op = doc.get("operation") or {}
    tap.note(f"restart: exit {rc} after {seconds:.1f} s; operation {json.dumps(op)}")
    gap = op.get("gap_ms") or 0
    tap.check(f"flotilla restart ticker: exit 0, confirmed, kind restart, stop-then-start, gap {gap} ms",
              rc == 0 and stage == "confirmed" and op.get("kind") == "restart" and
              op.get("mode") == "stop-then-start" and gap > 0, (rc, doc, err))
    b.collect(1.0)
    out = b.output[mark:]
    now = rig.guest()
    tap.check(f"the same version {before.get('version')} runs in a new domain (d{before.get('domid')} -> "
              f"d{now.get('domid')}), the console said why",
              now.get("version") == before.get("version") and now.get("state") == "running" and
              now.get("domid") != before.get("domid") and re.search(WHY, out, re.M),
              (before, now, out[-2000:]))
    memory_back(tap, rig, free_before)
    figures["ota_stop_start_restart_gap_ms"] = gap


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("image")
    ap.add_argument("--plan", required=True)
    ap.add_argument("--flotilla", required=True)
    ap.add_argument("--operator-key", required=True)
    ap.add_argument("--bundles", required=True)
    ap.add_argument("--bench", help="merge ota_stop_start_* figures into this JSON file")
    a = ap.parse_args()
    tap = Tap()
    for path in (a.operator_key, a.flotilla):
        if not os.path.exists(path):
            tap.check(f"{path} exists (built by the push pieces)", False)
            return tap.done()
    ticker = plan_ticker(a.plan)
    figures = {}
    rig = Rig(a, os.path.join(BUILD, "test-work", "push-big"))
    try:
        rig.boot()
        tap.check("the board boots the push-big image: the control domain on the network, ticker "
                  "running", wait_for(lambda: rig.guest().get("state") == "running", 30), rig.guest())
        tap.run("stop-then-start swap", section_swap, tap, rig, a, ticker, figures)
        tap.run("stop-then-start rollback", section_never_ready, tap, rig, a, ticker, figures)
        tap.run("stop-then-start restart", section_restart, tap, rig, a, ticker, figures)
    except BoardTimeout as e:
        tap.check("the board answered", False, str(e))
    finally:
        rig.kill()
    tap.note("figures: " + json.dumps(figures, sort_keys=True))
    if a.bench:
        merge_bench(a.bench, figures)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
