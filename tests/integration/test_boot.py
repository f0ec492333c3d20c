#!/usr/bin/python3
"""User job: flash the board image and it boots. The real chain runs: boot
ROM -> SPL -> U-Boot -> boot.scr -> Xen -> Flotilla's control domain, which
reports what it found and reaches its idle loop.

    test_boot.py IMAGE [--runs N]
"""
import argparse
import os
import re

from harness import BUILD, READY, Board, Tap, median

MARKERS = [
    ("spl", r"U-Boot SPL \d"),
    ("u-boot", r"U-Boot \d{4}\.\d\d"),
    ("boot.scr", r"## Executing script at"),
    ("xen", r"Xen version 4\.17"),
    ("dom0", r"\*\*\* LOADING DOMAIN 0 \*\*\*"),
    ("control", r"flotilla: control domain \S+ starting"),
    ("ready", READY),
]


def boot_once(image, workdir, tap, detailed):
    with Board(image, workdir) as board:
        for name, pattern in MARKERS:
            board.expect(pattern, timeout=90, name=name)
        board.collect(0.5)
        out = board.output
        if detailed:
            start = out.find("flotilla: control domain")
            control = out[start:]
            tap.check("control domain prints the Xen version",
                      re.search(r"control: Xen 4\.17", control), control)
            tap.check("control domain reports its memory (64 MiB from the plan)",
                      re.search(r"control: memory total 64 MiB", control), control)
            tap.check("control domain finds the sun8i EMAC Ethernet node",
                      re.search(r"control: ethernet \S*ethernet@1c30000 \(allwinner,sun8i-h3-emac\)", control),
                      control)
            tap.check("control domain finds the MMC node",
                      re.search(r"control: mmc \S*mmc@1c0f000", control), control)
            # dom0_mem=64M comes from hypervisor-cfg/orangepi-pc.toml through boot.scr.
            tap.check("Xen applied the plan's dom0_mem from the generated boot.scr",
                      re.search(r"Allocating 1:1 mappings totalling 64MB for dom0", out), out[-4000:])
            board.expect(r"control: hello: exited \(poweroff\)", 30)
            out = board.output
            tap.check("the default image runs hello under the control domain, its lines prefixed [hello]",
                      re.search(r'^\[hello\] hello: boot arguments "from the orangepi-pc plan"$', out, re.M) and
                      re.search(r"^\[hello\] hello: goodbye$", out, re.M), out[-2000:])
            tap.check("U-Boot ran with bootdelay=0 from uboot.env (no autoboot countdown)",
                      "Hit any key to stop autoboot:  2" not in out and "Hit any key to stop autoboot: 2" not in out)
            # After "ready" the control domain blocks in Xen: nothing else
            # may be printed (no crash, no reboot loop).
            board.pos = len(board.output)
            later = board.collect(2.0)[board.pos:]
            tap.check("control domain stays idle after ready (no crash, no reboot)",
                      "CRASH" not in later and "Dom0 crashed" not in later and "U-Boot SPL" not in later, later)
        return dict(board.markers)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("image")
    ap.add_argument("--runs", type=int, default=1)
    a = ap.parse_args()
    tap = Tap()
    workdir = os.path.join(BUILD, "test-work", "boot")
    runs = []
    for i in range(a.runs):
        markers = tap.run(f"board boots to the control domain's ready line (run {i + 1})",
                          boot_once, a.image, workdir, tap, i == 0)
        if markers:
            runs.append(markers)
    for name, _ in MARKERS:
        values = [r[name] for r in runs if name in r]
        if values:
            tap.note(f"seconds from QEMU start to {name}: median {median(values):.2f} of {len(values)}")
    return tap.done()


if __name__ == "__main__":
    raise SystemExit(main())
