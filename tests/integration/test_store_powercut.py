#!/usr/bin/python3
"""User job: the power can go at any moment - while the board seeds its card
from the boot bundle or while it installs an update - and the board still
comes back with a confirmed image, never losing the one it had.

The plan's control domain (orangepi-pc-store-powercut.toml) seeds "app"
1.0.0 on a blank card, then installs its test update 2.0.0 as a TRIAL
(test_install=app) and builds it. store_trace=1 announces every write to
the card on the console and pauses 20 ms after it, so the test can cut the
power (kill QEMU) right after any given write.

A calibration boot counts the writes of each phase. Then, on fresh cards,
the power is cut during seeding (after write i of it), the board restarted
(it must pass the store's consistency check, and must not seed again if
seeding had finished), cut again during the install (after write j of it),
and restarted once more: consistency check passed, app runs either its
confirmed 1.0.0 or the intended 2.0.0 trial, and the card still holds 1.0.0
as a confirmed image. Cut points are spread over both phases and land both
right after a write and while the next one is under way.

    test_store_powercut.py POWERCUT_IMAGE
"""
import argparse
import os
import re
import shutil
import time

from harness import BUILD, READY, Board, Tap
from store_card import Store

TIMEOUT = 120
CONSISTENT = r"control: store: consistency check passed"
SEEDING = r"control: app: seeding the card from the boot bundle"
SEEDED = r"control: app: seeded slot . v1\.0\.0 from the boot bundle \(confirmed\)"
INSTALLING = r"control: app: installing test update from the boot bundle"
INSTALLED = r"control: app: installed v2\.0\.0 in slot B as TRIAL"
SLOT_LINE = r"control: app: slot ([AB]) v(\S+) \(([^)]*)\)"
STARTED = r"control: app: started as d\d+"
WRITE = r"control: store-trace: write (\d+):"


def writes_between(out, start, end):
    """Trace numbers of the writes from the start marker up to the end marker."""
    a = re.search(start, out)
    b = re.search(end, out[a.end():]) if a else None
    if not a or not b:
        return []
    return [int(n) for n in re.findall(WRITE, out[a.end():a.end() + b.end()])]


def calibrate(image, workdir):
    with Board(image, workdir, log_name="console-calibrate.log") as board:
        board.expect(STARTED, TIMEOUT)
        board.expect(READY, 30)
        out = board.output
    seed = writes_between(out, SEEDING, SEEDED)
    install = writes_between(out, INSTALLING, SLOT_LINE)  # up to the trial attempt's commit
    return out, seed, install


def cut_after(board, marker, nth, delay):
    """Wait for marker, then for the nth write after it; kill after delay s.
    Returns the console output up to the cut."""
    board.expect(marker, TIMEOUT)
    first = None
    while True:
        m = board.expect(WRITE, TIMEOUT)
        if first is None:
            first = int(m.group(1))
        if int(m.group(1)) - first + 1 >= nth:
            break
    if delay:
        time.sleep(delay)
    out = board.output
    board.kill()
    return out


def run(a):
    tap = Tap()
    workdir = os.path.join(BUILD, "test-work", "store-powercut")
    os.makedirs(workdir, exist_ok=True)
    try:
        out, seed, install = calibrate(a.image, os.path.join(workdir, "calibrate"))
    except Exception as e:
        tap.check("calibration boot: seeds and installs the trial", False, e)
        return tap.done()
    tap.check(f"calibration boot: seeding takes {len(seed)} writes, the trial install {len(install)}",
              len(seed) >= 5 and len(install) >= 5 and re.search(INSTALLED, out) and
              re.search(r"control: app: slot B v2\.0\.0 \(trial, attempt 1 of 3\)", out), out[-3000:])
    if len(seed) < 5 or len(install) < 5:
        return tap.done()
    # Cut points: after write 1..n of each phase (spread), immediately or 10 ms later.
    pairs = 11
    seed_cuts = [1 + round(k * (len(seed) - 1) / (pairs - 1)) for k in range(pairs)]
    install_cuts = [1 + round(k * (len(install) - 1) / (pairs - 1)) for k in range(pairs)]
    cuts = 0
    for k in range(pairs):
        delay = 0.0 if k % 2 == 0 else 0.010
        disk_dir = os.path.join(workdir, f"card{k}")
        shutil.rmtree(disk_dir, ignore_errors=True)
        board = Board(a.image, disk_dir)
        what = f"card {k}: cut after seed write {seed_cuts[k]}, install write {install_cuts[k]}" \
               f"{' (+10 ms)' if delay else ''}"
        try:
            board.start()
            before = cut_after(board, SEEDING, seed_cuts[k], delay)
            cuts += 1
            seeded = bool(re.search(SEEDED, before))
            board.start()
            board.expect(CONSISTENT, TIMEOUT)
            after_seed_cut = board.output
            # The first restart continues: seeding (unless done), then the install.
            mid = cut_after(board, INSTALLING, install_cuts[k], delay)
            cuts += 1
            reseeded = bool(re.search(SEEDING, mid))
            board.start()
            board.expect(CONSISTENT, TIMEOUT)
            board.expect(STARTED, TIMEOUT)
            final = board.output
            board.kill()
        except Exception as e:
            board.kill()
            tap.check(what, False, f"{e}\n{board.output[-2500:]}")
            continue
        slot = re.search(SLOT_LINE, final)
        card = Store(board.disk).guest("app")
        confirmed = [s for s in card["slots"] if s["state"] == "confirmed"]
        problems = []
        if "consistency check FAILED" in after_seed_cut + final:
            problems.append("consistency check failed")
        if seeded and reseeded:
            problems.append("seeding had finished before the cut, yet the card was seeded again")
        if re.search(SEEDING, final):
            problems.append("the confirmed image was lost after the install cut (seeded again)")
        if not slot or (slot.group(2), slot.group(3).split(",")[0]) not in (("1.0.0", "confirmed"),
                                                                              ("1.0.0", "seeded from boot bundle"),
                                                                              ("2.0.0", "trial")):
            problems.append(f"app runs {slot.group(0) if slot else 'nothing'}")
        if [s["version"] for s in confirmed] != ["1.0.0"]:
            problems.append(f"card's confirmed image: {confirmed}")
        runs = f"{slot.group(2)} ({slot.group(3)})" if slot else "-"
        tap.check(f"{what}: consistent after each restart, runs {runs}, confirmed 1.0.0 kept",
                  not problems, "\n".join(problems) + "\n" + final[-2000:])
    tap.note(f"{cuts} power cuts on {pairs} cards")
    tap.check("at least 20 power cuts were made, over seeding and over the trial install", cuts >= 20, cuts)
    return tap.done()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("image")
    return run(ap.parse_args())


if __name__ == "__main__":
    raise SystemExit(main())
