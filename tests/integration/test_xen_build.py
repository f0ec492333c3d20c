#!/usr/bin/python3
"""The image boots the Xen built from Debian's source (tools/build-xen.sh), in
Debian's configuration, from a cache entry that is complete or absent.

    test_xen_build.py --entry DIR --variant release|debug --version V
        --image-xen FILE --boot-cmd FILE --src DIR --script tools/build-xen.sh
        [--debian-config FILE --debian-deb FILE]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Tap  # noqa: E402


def config_lines(path):
    with open(path) as f:
        return [line for line in f.read().splitlines() if line and not line.startswith("#")]


def failed_build_leaves_nothing(tap, script):
    """A build that fails must leave neither the entry nor its temporary."""
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "src")
        os.makedirs(os.path.join(src, "xen"))
        os.makedirs(os.path.join(src, "debian"))
        with open(os.path.join(src, "xen", "Makefile"), "w") as f:
            f.write("olddefconfig:\n\t@echo 'simulated failure'; false\n")
        with open(os.path.join(src, "debian", "xen-kconfig"), "w") as f:
            f.write("CONFIG_DEBUG=n\n")
        with open(os.path.join(src, "debian", "control"), "w") as f:
            f.write("Source: xen\nMaintainer: Test <test@example.org>\n")
        with open(os.path.join(src, "debian", "changelog"), "w") as f:
            f.write("xen (4.17.0-1) unstable; urgency=medium\n\n  * test\n\n"
                    " -- Test <test@example.org>  Mon, 01 Jan 2024 00:00:00 +0000\n")
        for name in ("config", "Config.mk"):
            path = os.path.join(src, name)
            os.makedirs(path) if name == "config" else open(path, "w").close()
        out = os.path.join(tmp, "cache", "4.17.0-1-release")
        r = subprocess.run(["sh", script, src, out, "release"], capture_output=True, text=True)
        left = os.listdir(os.path.join(tmp, "cache"))
        tap.check("a failed Xen build exits non-zero with one error line and leaves no cache entry"
                  " nor temporary directory",
                  r.returncode != 0 and "build-xen: error: the Xen build failed" in r.stderr and
                  left == [], f"exit {r.returncode}, left {left}\n{r.stderr}")
        r = subprocess.run(["sh", script, src, out, "fast"], capture_output=True, text=True)
        tap.check("an unknown variant is refused with a one-line error",
                  r.returncode != 0 and r.stderr.strip() ==
                  "build-xen: error: variant 'fast' is neither release nor debug", r.stderr)


def main():
    ap = argparse.ArgumentParser()
    for opt in ("--entry", "--variant", "--version", "--image-xen", "--boot-cmd", "--src", "--script"):
        ap.add_argument(opt, required=True)
    ap.add_argument("--debian-config")
    ap.add_argument("--debian-deb", default="")
    a = ap.parse_args()
    tap = Tap()
    debug = a.variant == "debug"

    with open(os.path.join(a.entry, ".stamp")) as f:
        stamp = f.read().split()
    tap.check(f"the cache entry is complete and records {a.version} {a.variant}",
              stamp == [a.version, a.variant], stamp)
    with open(a.image_xen, "rb") as f, open(os.path.join(a.entry, "xen"), "rb") as g:
        image = f.read()
        tap.check("the image's xen is the cached build", image == g.read())
    tap.check("the banner names the Debian source version it was built from",
              f"{a.version}".encode() in image)
    tap.check("it is an ARM zImage (magic 0x016f2818 at 0x24)", image[0x24:0x28] == b"\x18\x28\x6f\x01")

    cfg = config_lines(os.path.join(a.entry, "config"))
    for opt in ("CONFIG_XSM=y", "CONFIG_XSM_SILO=y", "CONFIG_XSM_SILO_DEFAULT=y",
                "CONFIG_SBSA_VUART_CONSOLE=y", "CONFIG_ARM_32=y"):
        tap.check(f"the configuration has {opt}", opt in cfg)
    tap.check(f"CONFIG_DEBUG is {'on' if debug else 'off'} ({a.variant})",
              ("CONFIG_DEBUG=y" in cfg) == debug)
    if not debug and a.debian_config and os.path.exists(a.debian_config) and a.debian_deb:
        debian_version = subprocess.run(["dpkg-deb", "-f", a.debian_deb, "Version"],
                                        capture_output=True, text=True).stdout.strip()
        if debian_version == a.version:
            tap.check("the release configuration equals the one Debian ships with its armhf binary",
                      cfg == config_lines(a.debian_config))
        else:
            tap.check(f"the release configuration equals Debian's # SKIP Debian's binary is"
                      f" {debian_version}, the source {a.version}", True)

    with open(a.boot_cmd) as f:
        bootcmd = f.read()
    tap.check(f"Xen's command line {'has' if debug else 'lacks'} loglvl=all guest_loglvl=all",
              ("loglvl=all guest_loglvl=all" in bootcmd) == debug, bootcmd)

    before = os.stat(os.path.join(a.entry, "xen")).st_mtime_ns
    t0 = time.monotonic()
    r = subprocess.run(["sh", a.script, a.src, a.entry, a.variant], capture_output=True, text=True)
    took = time.monotonic() - t0
    tap.check("a complete entry is not built again (no output, unchanged, under 2 s)",
              r.returncode == 0 and r.stdout == "" and took < 2 and
              os.stat(os.path.join(a.entry, "xen")).st_mtime_ns == before,
              f"exit {r.returncode} in {took:.1f} s\n{r.stdout}{r.stderr}")
    failed_build_leaves_nothing(tap, a.script)
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main())
