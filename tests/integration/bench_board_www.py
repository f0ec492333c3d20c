#!/usr/bin/python3
"""Bench: the default image on a LAN, www against the control domain's own stack.

Boots the default orangepi-pc image once on a private LAN (netns.py) and
measures, from the host side of the LAN:

  - HTTP requests/s and median/p99 latency to www's /healthz: wrk with
    keep-alive, ab without and with keep-alive (-k); wrk on the game page;
  - TCP throughput both ways: GET /test/4M (download) and a 4 MiB
    PUT /test/sink (upload; www answers 204 only after the last byte);
  - the same to the control domain's own stack (ping, a 4 MiB stream to its
    discard port, wrk on GET /v1/ping) and the ratios www/control, which are
    the cost of the extra hop (virtual NIC, the control domain's switch);
  - each domain's CPU share during the wrk runs, from Xen's per-domain CPU
    time (console key r: one report line per domain);
  - www.img and control.img bytes, www.img against the 128 KiB goal.

Figures are merged into the JSON object in --bench (www_* and ctl_* keys;
the ctl_default_image_* keys are the control domain in this plan, next to
the control-only plan's ctl_* figures from test_net_board.py --bench).

    bench_board_www.py SDCARD --bench OUT.json --www-img F --control-img F
"""
import argparse
import os
import re
import shutil
import statistics
import sys
import time

from harness import BUILD, READY, Board, median, merge_bench
from netns import Lan, skip_reason
from test_board_www import CONTROL_NET, WWW_NET
from test_net_board import percentile, throughput

WWW_SIZE_GOAL = 128 * 1024
STARTED = r"^control: www: started as d(\d+)"
REPORT = r"control: report t=(\d+\.\d+) d{} \S+ cpu_ns=(\d+) pages="  # whole lines only
WRK = ["wrk", "-t1", "-c4", "-d5s", "--latency"]
AB = ["ab", "-n", "300", "-c", "4", "-s", "30"]
CURL = ["curl", "-sS", "--noproxy", "*", "-m", "120"]


class BenchError(Exception):
    pass


def ms(value, unit):
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}[unit]


def keep(lan, name, out):
    """The tool's own output, next to the console log, for a second look."""
    with open(os.path.join(lan.workdir, name + ".txt"), "w") as f:
        f.write(out)


def wrk(lan, url, name):
    """(requests/s, median ms, p99 ms, requests, errors) of one wrk run."""
    out = lan.run(WRK + [url], timeout=60).stdout
    keep(lan, name, out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    lat = {p: re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s|m)\b", out, re.M) for p in ("50", "99")}
    total = re.search(r"(\d+) requests in", out)
    if not rps or not all(lat.values()) or not total:
        raise BenchError(f"wrk {url}: no figures in:\n{out[-1500:]}")
    errors = re.search(r"Socket errors: (.*)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    problems = (errors.group(1) if errors else "") + (f" non-2xx {non2xx.group(1)}" if non2xx else "")
    return (float(rps.group(1)), ms(*lat["50"].groups()), ms(*lat["99"].groups()),
            int(total.group(1)), problems.strip())


def ab(lan, url, keepalive, name):
    """(requests/s, median ms, p99 ms) of one ab run; every request must succeed."""
    out = lan.run(AB + (["-k"] if keepalive else []) + [url], timeout=120).stdout
    keep(lan, name, out)
    rps = re.search(r"Requests per second:\s+([\d.]+)", out)
    lat = {p: re.search(rf"^\s+{p}%\s+(\d+)", out, re.M) for p in ("50", "99")}
    done = re.search(r"Complete requests:\s+(\d+)", out)
    failed = re.search(r"Failed requests:\s+(\d+)", out)
    if not rps or not all(lat.values()) or not done or int(done.group(1)) != int(AB[2]) or \
            not failed or int(failed.group(1)) != 0 or "Non-2xx" in out:
        raise BenchError(f"ab {url}: failed or incomplete:\n{out[-1500:]}")
    return float(rps.group(1)), float(lat["50"].group(1)), float(lat["99"].group(1))


def cpu_times(board, domids):
    """{domid: (control domain clock s, cpu_ns)} from one console r report."""
    board.pos = len(board.output)
    board.send("r")
    got = {}
    for d in domids:
        m = board.expect(REPORT.format(d), 15)
        got[d] = (float(m.group(1)), int(m.group(2)))
    return got


def share(before, after, d):
    """Percent of one CPU's time domain d ran between two reports."""
    wall = after[d][0] - before[d][0]
    return round(100.0 * (after[d][1] - before[d][1]) / 1e9 / wall, 1) if wall > 0 else float("nan")


def curl_speed(lan, args, want_code):
    out = lan.run(CURL + ["-w", "%{http_code} %{speed_download} %{speed_upload}"] + args,
                  timeout=150).stdout
    m = re.search(r"(\d{3}) ([\d.]+) ([\d.]+)\s*$", out)
    if not m or m.group(1) != want_code:
        raise BenchError(f"curl {args[-1]}: {out[-500:]}")
    return float(m.group(2)), float(m.group(3))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("image")
    ap.add_argument("--bench", required=True, help="JSON object to merge the figures into")
    ap.add_argument("--www-img")
    ap.add_argument("--control-img")
    a = ap.parse_args()
    reason = skip_reason()
    if reason:
        print(f"bench-board-www: skipped: {reason}")
        return 0
    for tool in ("wrk", "ab", "curl"):
        if not shutil.which(tool):
            print(f"bench-board-www: needs {tool} (tools/deps.sh installs wrk apache2-utils curl)")
            return 1
    started = time.monotonic()
    f = {}
    work = os.path.join(BUILD, "test-work", "bench-board-www")
    with Lan(work) as lan:
        nic = lan.add_tap()
        with Board(a.image, work, nic_args=lan.qemu_nic(nic), wrapper=lan.wrap([])) as board:
            board.expect(READY, 180)
            control = board.expect(CONTROL_NET, 90).group(1)
            www = re.search(WWW_NET, board.output, re.M) or board.expect(WWW_NET, 90)
            www = www.group(1)
            www_dom = int(re.search(STARTED, board.output, re.M).group(1))
            if "[www] www: serving" not in board.output:
                board.expect(r"\[www\] www: serving", 30)
            doms = (0, www_dom)

            # Ping RTT, after a moment for the boot's last work (the first
            # echoes of a fresh boot take tens of ms).
            board.collect(3)
            for key, addr in (("www", www), ("ctl_default_image", control)):
                lan.ping(addr, count=3, interval=0.1)
                loss, rtts, out = lan.ping(addr, count=100, interval=0.05)
                if loss or not rtts:
                    raise BenchError(f"ping {addr}: {out[-500:]}")
                f[f"{key}_ping_rtt_ms_median"] = round(median(rtts), 3)
                f[f"{key}_ping_rtt_ms_p99"] = round(percentile(rtts, 99), 3)

            # HTTP: wrk (keep-alive) with the CPU shares, then ab without and with -k.
            for key, url in (("www", f"http://{www}/healthz"),
                             ("ctl_default_image", f"http://{control}/v1/ping")):
                before = cpu_times(board, doms)
                rps, p50, p99, n, problems = wrk(lan, url, f"wrk-{key}")
                after = cpu_times(board, doms)
                if problems:
                    raise BenchError(f"wrk {url}: {problems}")
                f[f"{key}_wrk_keepalive_rps"] = rps
                f[f"{key}_wrk_keepalive_latency_ms_median"] = round(p50, 3)
                f[f"{key}_wrk_keepalive_latency_ms_p99"] = round(p99, 3)
                f[f"{key}_wrk_requests"] = n
                target = "www" if key == "www" else "ctl"
                f[f"ctl_cpu_pct_during_{target}_wrk"] = share(before, after, 0)
                f[f"www_cpu_pct_during_{target}_wrk"] = share(before, after, www_dom)
            rps, p50, p99, _, problems = wrk(lan, f"http://{www}/", "wrk-www-game")
            if problems:
                raise BenchError(f"wrk http://{www}/: {problems}")
            f["www_wrk_keepalive_game_page_rps"] = rps
            for keepalive, key in ((False, "www_ab"), (True, "www_ab_keepalive")):
                rps, p50, p99 = ab(lan, f"http://{www}/healthz", keepalive, key)
                f[f"{key}_rps"] = rps
                f[f"{key}_latency_ms_median"] = p50
                f[f"{key}_latency_ms_p99"] = p99

            # TCP throughput, 4 MiB each way to www, 4 MiB to the control domain's
            # discard port; the median of 3 (the emulator shares the machine).
            body = os.path.join(work, "upload-4M")
            with open(body, "wb") as out:
                out.write(os.urandom(4 << 20))
            down = [curl_speed(lan, ["-o", "/dev/null", f"http://{www}/test/4M"], "200")[0]
                    for _ in range(3)]
            up = [curl_speed(lan, ["-H", "Expect:", "-T", body, "-o", "/dev/null",
                                   f"http://{www}/test/sink"], "204")[1] for _ in range(3)]
            ctl_up = [throughput(lan, control, 4) for _ in range(3)]
            f["www_tcp_download_mbytes_per_s_runs"] = [round(x / 1e6, 3) for x in down]
            f["www_tcp_upload_mbytes_per_s_runs"] = [round(x / 1e6, 3) for x in up]
            f["ctl_default_image_tcp_upload_mbytes_per_s_runs"] = [round(x / 1e6, 3) for x in ctl_up]
            f["www_tcp_download_mbytes_per_s"] = round(statistics.median(down) / 1e6, 3)
            f["www_tcp_upload_mbytes_per_s"] = round(statistics.median(up) / 1e6, 3)
            f["ctl_default_image_tcp_upload_mbytes_per_s"] = round(statistics.median(ctl_up) / 1e6, 3)

            loss = lan.ping(www, count=3, interval=0.1)[0] + lan.ping(control, count=3, interval=0.1)[0]
            if loss:
                raise BenchError("www or the control domain stopped answering after the bench")

    # Ratios www / control domain: the cost of the virtual NIC and the switch.
    def ratio(x, y):
        return round(f[x] / f[y], 2) if f.get(y) else None
    f["www_vs_ctl_ping_rtt_median_ratio"] = ratio("www_ping_rtt_ms_median",
                                                  "ctl_default_image_ping_rtt_ms_median")
    f["www_vs_ctl_ping_rtt_p99_ratio"] = ratio("www_ping_rtt_ms_p99",
                                               "ctl_default_image_ping_rtt_ms_p99")
    f["www_vs_ctl_wrk_rps_ratio"] = ratio("www_wrk_keepalive_rps", "ctl_default_image_wrk_keepalive_rps")
    f["www_vs_ctl_wrk_latency_median_ratio"] = ratio("www_wrk_keepalive_latency_ms_median",
                                                     "ctl_default_image_wrk_keepalive_latency_ms_median")
    f["www_vs_ctl_tcp_upload_ratio"] = ratio("www_tcp_upload_mbytes_per_s",
                                             "ctl_default_image_tcp_upload_mbytes_per_s")
    if a.www_img:
        f["www_img_bytes"] = os.path.getsize(a.www_img)
        f["www_img_goal_bytes"] = WWW_SIZE_GOAL
        f["www_img_within_goal"] = f["www_img_bytes"] <= WWW_SIZE_GOAL
    if a.control_img:
        f["ctl_control_img_bytes"] = os.path.getsize(a.control_img)
    f["www_bench_wall_s"] = round(time.monotonic() - started, 1)

    merge_bench(a.bench, f)
    print_table(f)
    print(f"bench-board-www: figures merged into {a.bench}")
    return 0


def print_table(f):
    def g(key, fmt="{:.2f}"):
        v = f.get(key)
        return "-" if v is None else fmt.format(v)
    rows = [
        ("ping RTT median / p99 (ms)",
         f"{g('www_ping_rtt_ms_median')} / {g('www_ping_rtt_ms_p99')}",
         f"{g('ctl_default_image_ping_rtt_ms_median')} / {g('ctl_default_image_ping_rtt_ms_p99')}",
         g("www_vs_ctl_ping_rtt_median_ratio")),
        ("wrk keep-alive req/s", g("www_wrk_keepalive_rps", "{:.0f}"),
         g("ctl_default_image_wrk_keepalive_rps", "{:.0f}"), g("www_vs_ctl_wrk_rps_ratio")),
        ("wrk latency median / p99 (ms)",
         f"{g('www_wrk_keepalive_latency_ms_median')} / {g('www_wrk_keepalive_latency_ms_p99')}",
         f"{g('ctl_default_image_wrk_keepalive_latency_ms_median')} / "
         f"{g('ctl_default_image_wrk_keepalive_latency_ms_p99')}",
         g("www_vs_ctl_wrk_latency_median_ratio")),
        ("ab req/s, median / p99 (ms)",
         f"{g('www_ab_rps', '{:.0f}')}, {g('www_ab_latency_ms_median', '{:.0f}')} / "
         f"{g('www_ab_latency_ms_p99', '{:.0f}')}", "", ""),
        ("ab -k req/s, median / p99 (ms)",
         f"{g('www_ab_keepalive_rps', '{:.0f}')}, {g('www_ab_keepalive_latency_ms_median', '{:.0f}')} / "
         f"{g('www_ab_keepalive_latency_ms_p99', '{:.0f}')}", "", ""),
        ("wrk keep-alive, game page req/s", g("www_wrk_keepalive_game_page_rps", "{:.0f}"), "", ""),
        ("TCP download (MB/s)", g("www_tcp_download_mbytes_per_s"), "", ""),
        ("TCP upload (MB/s)", g("www_tcp_upload_mbytes_per_s"),
         g("ctl_default_image_tcp_upload_mbytes_per_s"), g("www_vs_ctl_tcp_upload_ratio")),
        ("CPU % d0 / www during www wrk",
         f"{g('ctl_cpu_pct_during_www_wrk', '{:.1f}')} / {g('www_cpu_pct_during_www_wrk', '{:.1f}')}",
         "", ""),
        ("CPU % d0 / www during ctl wrk", "",
         f"{g('ctl_cpu_pct_during_ctl_wrk', '{:.1f}')} / {g('www_cpu_pct_during_ctl_wrk', '{:.1f}')}",
         ""),
        ("image bytes", g("www_img_bytes", "{}"), g("ctl_control_img_bytes", "{}"), ""),
    ]
    print(f"{'':34} {'www':>22} {'control domain':>22} {'www/ctl':>8}")
    for name, w, c, r in rows:
        print(f"{name:34} {w:>22} {c:>22} {r:>8}")
    if "www_img_bytes" in f:
        verdict = "within" if f["www_img_within_goal"] else "OVER"
        print(f"www.img {f['www_img_bytes']} bytes: {verdict} the {WWW_SIZE_GOAL}-byte goal")
    print(f"bench wall time {f['www_bench_wall_s']:.1f} s")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as e:
        print(f"bench-board-www: {e}", file=sys.stderr)
        sys.exit(1)
