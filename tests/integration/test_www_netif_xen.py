#!/usr/bin/python3
"""User job: give a guest on the board a TCP/IP stack. The runtime's network
helper (flotilla_net.h) runs in a Xen domain on the emulated board: the
netiftest guest (hypervisor-cfg/test/orangepi-pc-netif.toml) joins two
stacks in memory, draws secrets from the timer's jitter, and carries a TCP
stream through the helper's loop. Its TAP lines are this suite's.

    test_www_netif_xen.py IMAGE
"""
import argparse
import os
import re

from harness import BUILD, Board, Tap

LINE = re.compile(r"^\(XEN\) DOM\d+: ((?:not )?ok \d+ - .*?)\r?$", re.M)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("image")
    a = ap.parse_args()
    tap = Tap()
    workdir = os.path.join(BUILD, "test-work", "netif-xen")
    with Board(a.image, workdir) as board:
        try:
            board.expect(r"(?:not )?ok 6 - ", 240, "last result")
        except Exception as e:  # the lines seen so far still count
            tap.note(f"{type(e).__name__}: {e}")
        out = board.output
    lines = LINE.findall(out)
    tap.check("the netiftest guest reports 6 results on Xen", len(lines) == 6, "\n".join(lines) or out[-2000:])
    for line in lines:
        ok = line.startswith("ok ")
        tap.check(f"on Xen: {line.split(' - ', 1)[1]}", ok, line)
    return tap.done()


if __name__ == "__main__":
    raise SystemExit(main())
