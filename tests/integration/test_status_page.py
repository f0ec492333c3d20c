#!/usr/bin/python3
"""User job: the control domain knows when each guest is up and where it
can be reached. On the emulated board (hypervisor-cfg/test/orangepi-pc-status.toml,
QEMU's user network and its DHCP server): guests that call flotilla_ready()
are reported ready with the time since their build began; a guest that never
calls it is never reported ready; each guest's address is reported (DHCP,
static, a previous instance's lease confirmed by the DHCP server or refused
by it); a guest that writes garbage all over its status page cannot crash
the control domain or forge its log lines.

    test_status_page.py IMAGE
"""
import os
import re
import sys

from harness import BUILD, READY, Board, Tap

IP = r"(\d+\.\d+\.\d+\.\d+)"


def checks(tap, image):
    with Board(image, os.path.join(BUILD, "test-work", "status")) as board:
        try:
            board.expect(READY, 120, "ready")
            # DHCP retransmits back off to 16 s and more when the first
            # DISCOVERs go out before the switch reaches the LAN.
            for pattern in (r"control: late: ready after \d+ ms",
                            r"control: ready: ready after \d+ ms",
                            r"\[stale\] net: eth0 " + IP + r"/24 via DHCP",
                            r"\[scribble\] statustest: scribbled"):
                board.pos = 0
                board.expect(pattern, 180)
            board.collect(3)
        except Exception as e:
            tap.check("the status test board runs its plan", False, f"{e}\n{board.output[-4000:]}")
            return
        out = board.output

        ready = dict(re.findall(r"control: (\w+): ready after (\d+) ms", out))
        tap.check("every guest that calls flotilla_ready() is reported ready, with a time",
                  {"hello", "ready", "fixed", "late", "leased"} <= set(ready), ready)
        tap.check("a guest that never calls flotilla_ready() is not reported ready",
                  "stale" not in ready, ready)
        tap.check("each guest is reported ready once per instance",
                  all(len(re.findall(rf"control: {n}: ready after", out)) == 1 for n in ready), ready)
        if "late" in ready:
            tap.check("the time counts from the build: a guest that waits 30 s is reported after >= 30 s",
                      30000 <= int(ready["late"]) < 90000, ready)
        first = re.search(r"control: hello: first console output ([\d.]+) ms after the build started", out)
        if "hello" in ready and first:
            tap.check("a guest ready as soon as it runs is reported within 1 s of its first console line",
                      int(ready["hello"]) <= float(first.group(1)) + 1000, (ready["hello"], first.group(1)))
            tap.note(f"hello: ready {ready['hello']} ms after its build began "
                     f"(first console output {first.group(1)} ms)")

        dhcp = re.search(r"\[ready\] net: eth0 " + IP + r"/24 via DHCP", out)
        reported = re.findall(r"control: ready: lan " + IP + r"/24 gw " + IP, out)
        tap.check("a guest's DHCP address is reported by the control domain (control: NAME: lan A/N)",
                  dhcp and reported and reported[-1] == (dhcp.group(1), "10.0.2.2"), (dhcp, reported))
        tap.check("a static address is reported",
                  re.search(r"control: fixed: lan 10\.0\.2\.50/24 gw 10\.0\.2\.2", out), out[-3000:])

        tap.check("flotilla.lease= gives the NIC the previous instance's address at once",
                  re.search(r"\[leased\] net: eth0 10\.0\.2\.29/24 from the previous instance", out), out[-3000:])
        tap.check("... the DHCP server confirms it (INIT-REBOOT DHCPREQUEST, DHCPACK) and the control domain reports it",
                  re.search(r"\[leased\] net: eth0 10\.0\.2\.29/24 via DHCP", out) and
                  re.findall(r"control: leased: lan " + IP, out)[-1:] == ["10.0.2.29"], out[-3000:])
        stale = re.search(r"\[stale\] net: eth0 10\.0\.2\.99/24 from the previous instance.*"
                          r"\[stale\] net: eth0 lost its DHCP lease.*"
                          r"\[stale\] net: eth0 " + IP + r"/24 via DHCP", out, re.S)
        stale_reported = re.findall(r"control: stale: lan " + IP, out)
        tap.check("a lease the DHCP server refuses (DHCPNAK) is dropped for a new address, and that is reported",
                  stale and stale.group(1) != "10.0.2.99" and stale_reported[-1:] == [stale.group(1)],
                  (stale and stale.group(1), stale_reported))
        scribbled = re.search(r"\[scribble\] statustest: scribbled (\d+) patterns", out)
        tap.check("the scribbling guest wrote its garbage", scribbled, out[-3000:])
        ignored = re.findall(r"control: scribble: status page ignored: (.*)", out)
        tap.check("the control domain ignores the garbage and says so once", len(ignored) == 1, ignored)
        tap.check("the control domain survives it: a guest that becomes ready later is still reported",
                  scribbled and out.find("control: late: ready after") > scribbled.start(), out[-3000:])
        tap.check("nothing from the page forges a control line or reaches the console raw",
                  "\x1b" not in out and "\x07" not in out and
                  not re.search(r"^control: forged", out, re.M) and
                  re.search(r"control: scribble: health degraded: \?\[31m\?\?control: forged", out),
                  [line for line in out.splitlines() if "forged" in line])
        tap.check("the scribbler is not reported ready", "scribble" not in ready, ready)

        board.pos = len(board.output)
        board.send("s")
        try:
            board.expect(r"control:\s+late\s+running", 20)
            alive = True
        except Exception:
            alive = False
        tap.check("the control domain still answers its console", alive, board.output[-2000:])

        # What guests say of their own health (flotilla_health()) is a
        # health check of the board: 'h' prints them.
        start = board.pos = len(board.output)
        board.send("h")
        try:
            board.expect(r"control:\s+scribble\.report\s+\S+.*\n", 20)
            board.collect(1.0)
        except Exception:
            pass
        table = board.output[start:]
        tap.check("a guest's own health report is a health check: ready says ok 'serving', "
                  "the scribbler's sanitised 'degraded' stands",
                  re.search(r"control:\s+ready\.report\s+ok\s+.*serving", table) and
                  re.search(r"control:\s+scribble\.report\s+degraded\s+.*control: forged", table),
                  [line for line in table.splitlines() if ".report" in line])


def main():
    image = sys.argv[1]
    tap = Tap()
    checks(tap, image)
    print(f"1..{tap.count}")
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
