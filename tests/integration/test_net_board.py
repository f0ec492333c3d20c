#!/usr/bin/python3
"""User job: the board is on the LAN. On the emulated board attached to a
private LAN (a network namespace with a bridge, a TAP and dnsmasq), the
control domain drives the Ethernet controller with its own driver, takes a
DHCP lease, answers ping and serves TCP from its own net/ stack, reports the
link up and counts frames.

    test_net_board.py SDCARD [--bench OUT.json]

Needs root (network namespaces, TAP): skips with "needs root" otherwise.
"""
import argparse
import json
import os
import re
import socket
import sys
import time

from harness import BUILD, READY, Board, Tap, median, merge_bench
from netns import Lan, skip_reason

NET_LINE = r"control: net: (\d+\.\d+\.\d+\.\d+)/(\d+) via DHCP \(gw (\d+\.\d+\.\d+\.\d+)"
NIC_LINE = r"control: nic (\S+) sun8i-emac mac ([0-9a-f:]{17}) \((device tree|derived)\), irq (\d+)"
COUNTERS = (r"control: nic sun8i-emac rx (\d+) frames (\d+) bytes, tx (\d+) frames (\d+) bytes, "
            r"drops rx (\d+) tx (\d+), errors rx (\d+) tx (\d+), irqs (\d+), ring full (\d+)")


def http_get(lan, addr, path):
    out = lan.run(["curl", "-sS", "-m", "10", "-i", f"http://{addr}{path}"], timeout=30).stdout
    return out


def counters(board):
    board.pos = len(board.output)
    board.send("s")
    m = board.expect(COUNTERS, 15)
    return [int(x) for x in m.groups()]


def percentile(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def throughput(lan, addr, megabytes):
    """Bytes/s of a TCP stream to the discard port, measured by the sender."""
    script = (
        "import socket,sys,time\n"
        f"s=socket.create_connection(('{addr}',9),timeout=30)\n"
        "buf=b'x'*65536\n"
        f"n={megabytes}*1048576\n"
        "t=time.monotonic()\n"
        "sent=0\n"
        "while sent<n:\n"
        "    s.sendall(buf); sent+=len(buf)\n"
        "s.shutdown(socket.SHUT_WR)\n"
        "s.recv(1)\n"
        "print(sent/(time.monotonic()-t))\n")
    out = lan.run([sys.executable, "-c", script], timeout=300)
    try:
        return float(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise RuntimeError(f"throughput run failed: {out.stdout[-500:]}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("image")
    parser.add_argument("--bench", help="write ctl_* figures as JSON here")
    parser.add_argument("--control-img", help="control.img, whose size the bench records")
    args = parser.parse_args()
    tap = Tap()
    reason = skip_reason()
    if reason:
        print(f"ok 1 - net-board # SKIP {reason}")
        return 0
    work = os.path.join(BUILD, "test-work", "net-board" if not args.bench else "bench-net-board")
    with Lan(os.path.join(work, "lan")) as lan:
        tapdev = lan.add_tap()
        with Board(args.image, work, nic_args=lan.qemu_nic(tapdev), wrapper=lan.wrap([])) as board:
            try:
                board.expect(READY, 120, "ready")
                board.pos = 0
                nic = board.expect(NIC_LINE, 5)
                lease = board.expect(NET_LINE, 60, "lease")
            except Exception as e:
                tap.check("the control domain drives the NIC and gets a DHCP lease", False,
                          f"{e}\n{board.output[-3000:]}")
                return tap.done()
            mac = nic.group(2)
            addr, prefix, gateway = lease.group(1), lease.group(2), lease.group(3)
            tap.note(f"control domain: {addr}/{prefix} gw {gateway}, mac {mac}, irq {nic.group(4)}; "
                     f"lease {board.markers['lease'] - board.markers['ready']:.2f} s after ready")
            tap.check("the NIC is the H3's EMAC on its SPI (82 -> GIC 114), MAC from the device tree",
                      nic.group(3) == "device tree" and nic.group(4) == "114", nic.group(0))
            leased = lan.wait_lease(mac, 10)
            tap.check("dnsmasq's lease file and the console agree on the control domain's address",
                      leased == addr and prefix == "24" and gateway == lan.host_addr,
                      f"lease file {lan.leases()}, console {addr}/{prefix} gw {gateway}")
            tap.check("the link is reported up at 100 Mbit/s full duplex",
                      re.search(r"control: nic link up 100 Mbit/s full duplex", board.output),
                      board.output[-2000:])
            before = counters(board)
            count = 50 if args.bench else 20
            loss, rtts, out = lan.ping(addr, count=count, interval=0.05)
            tap.check(f"Linux pings the control domain: 0% loss of {count}", loss == 0 and
                      len(rtts) == count, out[-800:])
            if rtts:
                tap.note(f"ping RTT median {median(rtts):.3f} ms, p99 {percentile(rtts, 99):.3f} ms")
            big_loss, big_rtts, out = lan.ping(addr, count=5, interval=0.1, size=1400)
            tap.check("full-size echo requests (1400 bytes) come back too", big_loss == 0, out[-800:])
            response = http_get(lan, addr, "/v1/ping")
            tap.check("TCP to the control domain's stack: GET /v1/ping answers 200 with JSON",
                      response.startswith("HTTP/1.1 200") and '"ok":true' in response, response)
            response = http_get(lan, addr, "/nothing")
            tap.check("an unknown path answers 404 with a JSON reason",
                      response.startswith("HTTP/1.1 404") and '"error":"not_found"' in response, response)
            nonces = [re.search(r'"nonce":"([0-9a-f]{32})"', http_get(lan, addr, "/v1/nonce")) for _ in range(3)]
            tap.check("the device API issues 128-bit nonces, a different one each time",
                      all(nonces) and len({m.group(1) for m in nonces if m}) == 3, nonces)
            response = http_get(lan, addr, "/v1/guests")
            tap.check("GET /v1/guests lists the guests with their state",
                      response.startswith("HTTP/1.1 200") and '"guests":[' in response, response)
            response = lan.run(["curl", "-sS", "-m", "10", "-i", "-X", "PUT", "--data-binary", "x",
                                f"http://{addr}/v1/ping"], timeout=30).stdout
            tap.check("a method the resource does not take answers 405 with Allow",
                      response.startswith("HTTP/1.1 405") and "Allow: GET, HEAD" in response, response)
            after = counters(board)
            tap.check("the driver's counters grow: rx/tx frames and bytes, and interrupts",
                      all(a > b for a, b in zip(after[:4], before[:4])) and after[8] > before[8],
                      f"before {before}\nafter  {after}")
            tap.check("no receive or transmit errors were counted",
                      after[6] == 0 and after[7] == 0, after)
            # Idle means blocked in Xen, not polling: no interrupts while nothing
            # happens, and the control domain's CPU time (Xen's, reported each
            # second by cpu_report=1) hardly moves.
            idle_before = counters(board)
            start = len(board.output)
            board.collect(4.0)
            idle_after = counters(board)
            tap.check("idle, the NIC raises no interrupts",
                      idle_after[8] - idle_before[8] <= 2, f"{idle_before} -> {idle_after}")
            reports = [(float(t), int(ns)) for t, ns in re.findall(
                r"control: report t=(\d+\.\d+) d0 \S+ cpu_ns=(\d+)", board.output[start:])]
            share = ((reports[-1][1] - reports[0][1]) / 1e9 / (reports[-1][0] - reports[0][0])
                     if len(reports) >= 3 else None)
            tap.check("idle, the control domain uses under 2% of its CPU (it blocks, no polling)",
                      share is not None and share < 0.02, f"reports {reports}")
            if share is not None:
                tap.note(f"idle control domain CPU share: {share * 100:.3f}%")
            # Link state comes from the PHY over MDIO: pull the cable (QEMU's
            # set_link, through its monitor) and plug it back.
            board.pos = len(board.output)
            board.send("\x01cset_link n0 off\n\x01c")
            try:
                board.expect(r"control: nic link down", 10)
                down = True
            except Exception:
                down = False
            tap.check("a pulled cable is reported: link down", down, board.output[-1000:])
            board.send("\x01cset_link n0 on\n\x01c")
            try:
                board.expect(r"control: nic link up 100 Mbit/s full duplex", 10)
                up = True
            except Exception:
                up = False
            loss, _, out = lan.ping(addr, count=5, interval=0.1)
            tap.check("plugged back: link up again and the control domain answers",
                      up and loss == 0, board.output[-1000:] + out[-300:])
            figures = {}
            try:
                # The emulator shares the machine: the bench takes the median of 3.
                rates = [throughput(lan, addr, 8 if args.bench else 2)
                         for _ in range(3 if args.bench else 1)]
                rate = median(rates)
                tap.check("a TCP stream to the discard port completes", rate > 0)
                tap.note(f"TCP host -> control domain: {rate / 1e6:.2f} MB/s "
                         f"(runs: {', '.join(f'{r / 1e6:.2f}' for r in rates)})")
                figures["ctl_tcp_rx_mbytes_per_s"] = round(rate / 1e6, 3)
                figures["ctl_tcp_rx_mbytes_per_s_max"] = round(max(rates) / 1e6, 3)
            except Exception as e:
                tap.check("a TCP stream to the discard port completes", False, str(e))
            loss, rtts, out = lan.ping(addr, count=5, interval=0.1)
            tap.check("the control domain still answers after the stream", loss == 0, out[-500:])
            final = counters(board)
            tap.note(f"NIC after the stream: rx {final[0]} frames, tx {final[2]} frames, "
                     f"irqs {final[8]}, receive ring full {final[9]} times, "
                     f"errors rx {final[6]} tx {final[7]}")
            tap.check("the stream left no receive or transmit errors", final[6] == 0 and final[7] == 0,
                      final)
            if args.bench:
                _, rtts, _ = lan.ping(addr, count=200, interval=0.02)
                figures.update({
                    "ctl_ping_rtt_ms_median": round(median(rtts), 3),
                    "ctl_ping_rtt_ms_p99": round(percentile(rtts, 99), 3),
                    "ctl_ping_count": len(rtts),
                    "ctl_dhcp_lease_s_after_ready":
                        round(board.markers["lease"] - board.markers["ready"], 3),
                })
                if args.control_img:
                    figures["ctl_control_img_bytes"] = os.path.getsize(args.control_img)
                merge_bench(args.bench, figures)  # bench_board_www.py writes here too
                print(json.dumps(figures, indent=2, sort_keys=True))
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
