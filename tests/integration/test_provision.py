#!/usr/bin/python3
"""User job: flash a board image — provisioned per board without a rebuild.
`flotilla flash --hostname --static-ip --trust` writes device.cfg to the
card's boot partition; on the emulated board the control domain validates
it and applies it: a guest signed by a fleet key that is not built into the
image is refused on a plain card and runs on a card provisioned to trust
that key. A malformed device.cfg is refused with one clear line and the
board runs with its defaults.

    test_provision.py FLOTILLA IMAGE PLAN --guests-dir DIR
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

from harness import BUILD, READY, ROOT, Board, Tap, mbr_partitions

PY = "/usr/bin/python3"


def fat_offset(image):
    return mbr_partitions(image)[0]["offset"]


def mcopy(image, source, name):
    env = dict(os.environ, MTOOLS_SKIP_CHECK="1")
    subprocess.run(["mcopy", "-o", "-i", f"{image}@@{fat_offset(image)}", source, f"::{name}"],
                   check=True, env=env)


def boot(image, workdir, tap, description, checks, until=None):
    with Board(image, workdir, copy=False) as board:
        board.expect(READY, timeout=120)
        if until:
            board.expect(until, timeout=30)
        board.collect(1.0)
        out = board.output[board.output.find("flotilla: control domain"):]
        for what, pattern, want in checks:
            found = re.search(pattern, out, re.M) is not None
            tap.check(f"{description}: {what}", found == want, out[-3000:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("flotilla")
    ap.add_argument("image")
    ap.add_argument("plan")
    ap.add_argument("--guests-dir", required=True)
    a = ap.parse_args()
    tap = Tap()
    work = os.path.join(BUILD, "test-provision")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    F = a.flotilla

    # A fleet key the image does not have built in, and a boot bundle
    # signed with it in place of the image's own.
    subprocess.run([F, "keygen", "--out", f"{work}/fleet"], check=True, capture_output=True)
    subprocess.run([PY, os.path.join(ROOT, "tools", "mkbootbundle.py"), a.plan, "--ram-mb", "1024",
                    "--cpus", "4", "--flotilla", F, "--key", f"{work}/fleet.key", "--board",
                    "orangepi-pc", "--version", "9.9.9", "--guests-dir", a.guests_dir,
                    "-o", f"{work}/fleet.bnd"], check=True, capture_output=True)
    fleet_card = f"{work}/fleet-card.img"
    shutil.copyfile(a.image, fleet_card)
    mcopy(fleet_card, f"{work}/fleet.bnd", "guests.bnd")

    plain = f"{work}/plain"
    os.makedirs(plain)
    subprocess.run([F, "flash", "--yes", fleet_card, f"{plain}/sdcard.img"], check=True,
                   capture_output=True)
    tap.run("a card without provisioning", boot, f"{plain}/sdcard.img", plain, tap, "no device.cfg", [
        ("the control domain says it runs on built-in defaults",
         r"^control: device config: none on the boot partition: built-in defaults$", True),
        ("a guest signed by an unknown fleet key is refused",
         r"^control: hello: refused: .*key", True),
        ("...and does not run", r"^\[hello\]", False),
    ])

    prov = f"{work}/provisioned"
    os.makedirs(prov)
    r = subprocess.run([F, "flash", "--yes", fleet_card, f"{prov}/sdcard.img", "--hostname", "board-17",
                        "--static-ip", "10.0.3.17/24", "--gateway", "10.0.3.1",
                        "--trust", f"{work}/fleet.pub"], capture_output=True, text=True)
    tap.check("flotilla flash provisions the card", r.returncode == 0, r.stderr)
    tap.run("a provisioned card", boot, f"{prov}/sdcard.img", prov, tap, "device.cfg", [
        ("the control domain applies the device configuration",
         r"^control: device config: hostname board-17, address 10\.0\.3\.17/24, "
         r"1 provisioned signing key\(s\) trusted$", True),
        ("the guest signed by the provisioned fleet key is verified",
         r"^control: hello: bundle verified \(version 9\.9\.9", True),
        ("...and runs", r"^\[hello\] hello: goodbye$", True),
    ], r"hello: goodbye")

    bad = f"{work}/malformed"
    os.makedirs(bad)
    shutil.copyfile(f"{prov}/sdcard.img", f"{bad}/sdcard.img")
    with open(f"{work}/bad.cfg", "w") as f:
        f.write("flotilla-device-config 1\nhostname = board-17\nstatic-ip = 10.0.3.300/24\n")
    mcopy(f"{bad}/sdcard.img", f"{work}/bad.cfg", "device.cfg")
    tap.run("a malformed device.cfg", boot, f"{bad}/sdcard.img", bad, tap, "malformed device.cfg", [
        ("is refused with its line and reason, defaults kept",
         r"^control: device config REFUSED: device\.cfg line 3: static-ip: expected "
         r"ADDRESS/PREFIX, e\.g\. 10\.0\.3\.17/24: built-in defaults$", True),
        # The card holds the image seeded under the provisioned key; without
        # that key it is refused there (or, from the boot bundle, at load).
        ("...so the fleet key is not trusted and its guest is refused",
         r"^control: hello: (refused|slot A on the card refused): .*key", True),
        ("...and the control domain still reaches ready", READY, True),
    ])
    sys.exit(tap.done())


if __name__ == "__main__":
    main()
