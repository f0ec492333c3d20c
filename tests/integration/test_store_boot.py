#!/usr/bin/python3
"""User job: the board keeps its guests on its SD card and boots them from
there; a bad update cannot keep it down and an old or altered image cannot
sneak in.

One card, power-cycled between boots (QEMU killed and restarted on the same
image file), with the host editing the image between boots where a test
needs it:

  0. a card whose store partition cannot be found: the boot bundle's images
     run, and the console and the status say so loudly;
  1. blank store: formatted, every guest seeded from the boot bundle;
  2. the next boot runs the guests from the card; 'u' installs two test
     updates as TRIALs: app's crashes at start until its attempts run out and
     v1 comes back; web's runs;
  3. web's trial was never confirmed: reverted at this boot;
  4. a later boot bundle (another app version) is on the FAT: app still runs
     the card's image; web's next update is installed and confirmed ('c');
  5. the confirmation holds across a reboot;
  6. the host flips a byte in app's confirmed image and rewrites web's
     metadata to boot an image below web's security counter: app's slot is
     refused and the factory image runs; web's is refused as a rollback, and
     so is the factory image (below the card's counter): web does not run.
The event log ('e') says what happened and why.

    test_store_boot.py STORE_IMAGE --next-bundle GUESTS.BND
    test_store_boot.py STORE_IMAGE --bench build/bench/storage.json
"""
import argparse
import os
import re
import shutil
import statistics

from harness import BUILD, READY, Board, Tap, merge_bench
from store_card import Store, replace_boot_bundle, set_partition_type, STORE_TYPE

BOOT_TIMEOUT = 120


def boot(board, tap, what):
    """(Re)start the board (power cycle) and wait until the control domain is ready."""
    if board.proc is None:
        board.start()
    elif board.output:
        board.power_cycle()
    try:
        board.expect(READY, BOOT_TIMEOUT, "ready")
        return True
    except Exception as e:
        tap.check(f"{what}: the board boots", False, f"{e}\n{board.output[-3000:]}")
        return False


def wait(board, pattern, timeout=60):
    try:
        board.expect(pattern, timeout)
        return True
    except Exception:
        return False


def events(board):
    """The event log as the console prints it on 'e'."""
    board.pos = len(board.output)
    board.send("e")
    wait(board, r"control: event log: end", 30)
    text = board.output[board.output.rfind("control: event log:", 0, board.pos - 30):board.pos]
    return re.findall(r"^control: event #\d+ boot (\d+) \S+ s (.*)$", text, re.M)


def first_line_seconds(board, guest):
    m = re.search(rf"^\[{guest}\] ", board.output, re.M)
    return board.time_at(m.start()) if m else None


def no_store_checks(tap, image, workdir):
    """Phase 0: the store partition is not there (type changed in the MBR)."""
    os.makedirs(workdir, exist_ok=True)
    disk = os.path.join(workdir, "nostore.img")
    shutil.copyfile(image, disk)
    set_partition_type(disk, STORE_TYPE, 0x83)
    with Board(disk, os.path.join(workdir, "nostore"), log_name="console-nostore.log") as board:
        if not boot(board, tap, "no store partition"):
            return None
        wait(board, r"^\[app\] ticker: started", 30)
        out = board.output
        tap.check("without a store partition the console says loudly that the boot bundle runs",
                  re.search(r"control: store: ERROR: the slot store on the card cannot be used", out) and
                  re.search(r"control: app: runs the BOOT BUNDLE's image v1\.0\.0", out), out[-3000:])
        tap.check("... and the boot bundle's guests run", re.search(r"^\[app\] ticker: started", out, re.M))
        board.pos = len(board.output)
        board.send("s")
        tap.check("... and the status ('s') says so too",
                  wait(board, r"control: store: ERROR: NO USABLE SLOT STORE ON THE CARD", 20),
                  board.output[-1500:])
        # The figure from a second boot: the first start of QEMU pays for a cold cache.
        if not boot(board, tap, "no store partition, again") or not wait(board, r"^\[app\] ", 30):
            return None
        return first_line_seconds(board, "app")


def run(a):
    tap = Tap()
    workdir = os.path.join(BUILD, "test-work", "store-boot")
    bench = {}
    bench["store_first_guest_line_boot_bundle_s"] = no_store_checks(tap, a.image, workdir)
    with Board(a.image, workdir) as board:
        # ---- 1: blank store
        if not boot(board, tap, "first boot"):
            return tap.done()
        wait(board, r"^\[app\] ticker: started", 30)
        wait(board, r"^\[web\] hello: boot arguments", 30)
        out = board.output
        tap.check("first boot: the blank store partition is formatted, and the console says so",
                  re.search(r"control: store: no slot store on the card: formatted", out), out[-4000:])
        tap.check("first boot: every plan guest is seeded from the boot bundle (confirmed)",
                  re.search(r"control: app: seeded slot A v1\.0\.0 from the boot bundle \(confirmed\)", out) and
                  re.search(r"control: web: seeded slot A v1\.0\.0 from the boot bundle \(confirmed\)", out))
        tap.check("first boot: the console says which slot and version runs and why",
                  re.search(r"control: app: slot A v1\.0\.0 \(seeded from boot bundle\)", out) and
                  re.search(r"control: web: slot A v1\.0\.0 \(seeded from boot bundle\)", out))
        tap.check("first boot: the guests run from the card", re.search(r"^\[app\] ticker: started", out, re.M) and
                  re.search(r"^\[web\] hello: boot arguments", out, re.M))
        ev = events(board)
        tap.check("first boot: the event log records the boot, the format and both seedings",
                  [e[1].split(":")[0].split(" slot")[0] for e in ev] ==
                  ["boot", "format", "seed app", "seed web"], ev)

        # ---- 2: from the card; test updates as trials
        board.kill()
        seeded_card = os.path.join(workdir, "seeded.img")  # for the bench
        shutil.copyfile(board.disk, seeded_card)
        if not boot(board, tap, "second boot"):
            return tap.done()
        wait(board, r"^\[app\] ticker: started", 30)
        out = board.output
        tap.check("second boot: the store's consistency check passes (both images re-verified)",
                  re.search(r"control: store: consistency check passed: record \d+, 2 guest\(s\), 2 image\(s\)", out),
                  out[-3000:])
        tap.check("second boot: nothing is formatted or seeded again",
                  "formatted" not in out and "seeding" not in out)
        tap.check("second boot: the guests run their confirmed slot from the card",
                  re.search(r"control: app: slot A v1\.0\.0 \(confirmed\)", out) and
                  re.search(r"control: web: slot A v1\.0\.0 \(confirmed\)", out))
        bench["store_first_guest_line_card_s"] = first_line_seconds(board, "app")
        m = re.search(r"control: store: open, .*\(([\d.]+) ms\)", out)
        n = re.search(r"control: store: \d+ of \d+ guest\(s\) boot from the card \(checked in ([\d.]+) ms\)", out)
        if m and n:
            bench["store_open_ms"] = float(m.group(1))
            bench["store_pick_slots_ms"] = float(n.group(1))
        heads = [float(x) for x in re.findall(r"control: \w+: slot . v\S+ \(confirmed\); signed head checked in "
                                              r"([\d.]+) ms", out)]
        if heads:
            bench["store_head_check_ms"] = max(heads)
        builds = [float(x) for x in re.findall(r"control: \w+: first console output [\d.]+ ms after the build "
                                               r"started \(build itself ([\d.]+) ms\)", out)]
        if builds:
            bench["store_build_from_card_ms"] = max(builds)
        board.pos = len(board.output)
        board.send("u")
        ok = (wait(board, r"control: app: installed v2\.0\.0 in slot B as TRIAL") and
              wait(board, r"control: app: trial v2\.0\.0 in slot B reverted: its attempts ran out", 90) and
              wait(board, r"control: app: slot A v1\.0\.0 \(confirmed\)") and
              wait(board, r"^\[app\] ticker: started", 30))
        out = board.output
        tap.check("a test update is installed as TRIAL and its guest rebuilt on it",
                  re.search(r"control: web: installed v1\.1\.0 in slot B as TRIAL", out) and
                  re.search(r"control: web: slot B v1\.1\.0 \(trial, attempt 1 of 3\)", out) and
                  re.search(r"^\[web\] ticker: started", out, re.M), out[-4000:])
        attempts = re.findall(r"control: app: slot B v2\.0\.0 \(trial, attempt (\d) of 3\)", out)
        tap.check("a trial that crashes at start gets 3 attempts, each counted before its build",
                  attempts == ["1", "2", "3"] and len(re.findall(r"^\[app\] crash: dereferencing", out, re.M)) == 3,
                  attempts)
        tap.check("after its attempts run out the previous confirmed version runs again", ok, out[-3000:])
        tap.check("its crashes did not mark the guest failed (the attempts bound them)",
                  not re.search(r"control: app: .*marked failed, not restarted", out))
        board.kill()
        card = Store(board.disk)
        app, web = card.guest("app"), card.guest("web")
        tap.check("on the card: app's trial slot is BAD, v1 still confirmed; web's trial counted once",
                  app["slots"][1]["state"] == "bad" and app["slots"][0]["state"] == "confirmed" and
                  web["slots"][1]["state"] == "trial" and web["attempts"] == 1, (app, web))

        # ---- 3: the unconfirmed trial reverts
        if not boot(board, tap, "third boot"):
            return tap.done()
        wait(board, r"^\[web\] hello: boot arguments", 30)
        out = board.output
        tap.check("a trial never confirmed is reverted at the next boot, with the reason",
                  re.search(r"control: web: trial v1\.1\.0 in slot B reverted: not confirmed before the board "
                            r"restarted", out) and
                  re.search(r"control: web: slot A v1\.0\.0 \(confirmed\)", out) and
                  re.search(r"^\[web\] hello: boot arguments", out, re.M), out[-3000:])
        ev = [e[1] for e in events(board)]
        tap.check("the event log has the installs, each attempt and both reverts with their reasons",
                  any(e.startswith("install app slot B v2.0.0") for e in ev) and
                  sum(e.startswith("attempt app slot B v2.0.0") for e in ev) == 3 and
                  "revert app slot B v2.0.0: its attempts ran out (after 3 attempt(s))" in ev and
                  "revert web slot B v1.1.0: not confirmed before the board restarted (after 1 attempt(s))"
                  in ev, "\n".join(ev))

        # ---- 4: a later boot bundle on the FAT; the card's image runs
        board.kill()
        replace_boot_bundle(board.disk, a.next_bundle)
        if not boot(board, tap, "boot with a later boot bundle"):
            return tap.done()
        wait(board, r"^\[app\] ticker: started", 30)
        out = board.output
        tap.check("with another app version in the boot bundle, the card's confirmed image still runs "
                  "(proof the image comes from the card)",
                  re.search(r"control: app: slot A v1\.0\.0 \(confirmed\)", out) and
                  re.search(r"^\[app\] ticker: started", out, re.M) and not re.search(r"^\[app\] hello", out, re.M)
                  and "v1.5.0" not in out, out[-3000:])
        board.pos = len(board.output)
        board.send("u")
        ok = wait(board, r"control: web: slot B v1\.2\.0 \(trial, attempt 1 of 3\)") and \
            wait(board, r"^\[web\] ticker: started", 30)
        board.send("c")
        ok = ok and wait(board, r"control: web: slot B v1\.2\.0 confirmed")
        tap.check("a trial confirmed by the explicit call ('c') becomes the confirmed image", ok,
                  board.output[-3000:])

        # ---- 5: confirmation holds
        if not boot(board, tap, "boot after the confirm"):
            return tap.done()
        out = board.output
        tap.check("after a reboot the confirmed update runs",
                  re.search(r"control: web: slot B v1\.2\.0 \(confirmed\)", out), out[-3000:])
        board.kill()

        # ---- 6: tampering on the card
        card = Store(board.disk)
        card.flip_image_byte("app", 0, 1000)
        card.set_state("web", 0, "confirmed")  # v1.0.0, counter 1: below web's counter 3
        card.set_state("web", 1, "ready")
        card.write()
        if not boot(board, tap, "boot of the tampered card"):
            return tap.done()
        wait(board, r"^\[app\] hello: goodbye", 30)
        out = board.output
        tap.check("a flipped byte in a slot's payload: that slot is refused at boot",
                  re.search(r"control: app: slot A on the card: image does not match its signed SHA-256", out),
                  out[-4000:])
        tap.check("... and the factory image from the boot bundle runs instead",
                  re.search(r"control: app: seeded slot B v1\.5\.0 from the boot bundle", out) and
                  re.search(r"control: app: slot B v1\.5\.0 \(seeded from boot bundle\)", out) and
                  re.search(r"^\[app\] hello: boot arguments", out, re.M))
        tap.check("an image on the card below the guest's security counter is refused at boot",
                  re.search(r"control: web: slot A on the card refused: security counter lower", out))
        tap.check("a boot bundle image below the card's security counter is refused at boot",
                  re.search(r"control: web: boot bundle image refused: security counter lower", out) and
                  not re.search(r"^\[web\] ", out, re.M))
        ev = [e[1] for e in events(board)]
        tap.check("the event log says why: hash mismatch and rollback, from the card and the boot bundle",
                  any(re.match(r"refuse app slot A v1\.0\.0 from card: hash-mismatch", e) for e in ev) and
                  any(re.match(r"refuse web slot A v1\.0\.0 from card: rollback", e) for e in ev) and
                  any(re.match(r"refuse web from boot bundle: rollback", e) for e in ev) and
                  any(e.startswith("seed app slot B v1.5.0") for e in ev), "\n".join(ev[-12:]))
        boots = {int(e[0]) for e in events(board)}
        tap.check("every record carries its boot counter (6 boots of this card)", boots == set(range(1, 7)),
                  sorted(boots))
    if a.bench:
        measure_first_lines(bench, os.path.join(workdir, "nostore.img"), seeded_card, workdir)
        write_bench(a.bench, bench)
    return tap.done()


def measure_first_lines(bench, nostore, card, workdir, runs=3):
    """QEMU start to app's first console line, from the card and from the boot
    bundle (no usable store), interleaved so that both see the same load."""
    times = {"card": [], "boot_bundle": []}
    for i in range(runs):
        for kind, disk in (("boot_bundle", nostore), ("card", card)):
            with Board(disk, os.path.join(workdir, f"bench-{kind}"), log_name=f"console-{i}.log") as board:
                try:
                    board.expect(r"^\[app\] ", BOOT_TIMEOUT)
                    times[kind].append(first_line_seconds(board, "app"))
                except Exception:
                    pass
    for kind, values in times.items():
        if values:
            bench[f"store_first_guest_line_{kind}_s"] = statistics.median(values)
            bench[f"store_first_guest_line_{kind}_runs"] = len(values)


def write_bench(path, results):
    merge_bench(path, results)
    print("Boot from the slot store on the card (QEMU orangepi-pc):")
    for k, v in results.items():
        print(f"  {k}: {v}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("image")
    ap.add_argument("--next-bundle", help="guests.bnd of orangepi-pc-store-next.toml")
    ap.add_argument("--bench", help="append the figures to this JSON file")
    a = ap.parse_args()
    if not a.next_bundle:
        a.next_bundle = os.path.join(os.path.dirname(os.path.dirname(a.image)), "store-next", "guests.bnd")
    return run(a)


if __name__ == "__main__":
    raise SystemExit(main())
