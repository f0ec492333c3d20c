#!/usr/bin/python3
"""User job: run on-device health checks, and ask a board over the network
whether it and each guest are healthy, why not, and what they printed.

On the emulated board (QEMU user networking, host ports forwarded to the
board's first two DHCP addresses):
  1. the default image (hello + www): GET /v1/health says ok; the checks,
     guest detail, metrics (promtool check metrics, and a real Prometheus
     server scraping the board answers a query for www's `up`), the
     authentication of events and logs, console keys h and l; none of it
     changes the board's state;
  2. the same card with a byte of hello's image flipped: degraded, naming
     the store and the image;
  3. a plan with a crash-looping guest: degraded, naming it; the other
     guest stays ok.

    test_health.py IMAGE CRASH_IMAGE
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from harness import BUILD, READY, Board, Tap, median, merge_bench
from qemu import NIC_MODEL
from store_card import Store

BOOT_TIMEOUT = 240


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Lan:
    """Host ports forwarded to the board's first two DHCP addresses."""

    def __init__(self):
        self.ports = {"10.0.2.15": free_port(), "10.0.2.16": free_port()}
        fwd = ",".join(f"hostfwd=tcp:127.0.0.1:{p}-{a}:80" for a, p in self.ports.items())
        self.nic_args = ["-nic", f"user,model={NIC_MODEL},{fwd}"]
        self.base = None

    def found(self, board):
        addr = board.expect(r"^control: net: (\d+\.\d+\.\d+\.\d+)/", BOOT_TIMEOUT).group(1)
        self.base = f"http://127.0.0.1:{self.ports[addr]}"
        return addr

    def get(self, path, timeout=20):
        """(status, body text, headers) of a GET; never raises for HTTP errors."""
        try:
            with urllib.request.urlopen(self.base + path, timeout=timeout) as r:
                return r.status, r.read().decode(errors="replace"), r.headers
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace"), e.headers

    def json(self, path):
        status, body, _ = self.get(path)
        try:
            return status, json.loads(body)
        except ValueError:
            return status, {"unparsed": body[:500]}


def wait_health(lan, want, timeout=120):
    """Polls /v1/health until want(summary) holds; returns the last summary."""
    deadline = time.monotonic() + timeout
    summary = {}
    while time.monotonic() < deadline:
        try:
            status, summary = lan.json("/v1/health")
            if status == 200 and want(summary):
                return summary
        except OSError:
            pass
        time.sleep(2)
    return summary


def boot(board, lan, tap=None):
    board.expect(READY, BOOT_TIMEOUT, name="ready")
    lan.found(board)
    board.expect(r"^control: health: board", 60)


def promtool_check(text):
    r = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                       capture_output=True, timeout=60)
    return r.returncode == 0, (r.stdout + r.stderr).decode(errors="replace")


def prometheus_query(lan, workdir, query, want, timeout=90):
    """Starts Prometheus scraping the board; returns (ok, detail)."""
    prom_dir = os.path.join(workdir, "prometheus")
    shutil.rmtree(prom_dir, ignore_errors=True)
    os.makedirs(prom_dir)
    target = lan.base.replace("http://", "")
    config = os.path.join(prom_dir, "prometheus.yml")
    with open(config, "w") as f:
        f.write("global:\n  scrape_interval: 2s\n  scrape_timeout: 2s\n"
                "scrape_configs:\n  - job_name: flotilla\n    metrics_path: /metrics\n"
                f"    static_configs:\n      - targets: ['{target}']\n")
    port = free_port()
    log = open(os.path.join(prom_dir, "prometheus.log"), "w")
    proc = subprocess.Popen(["prometheus", f"--config.file={config}",
                             f"--storage.tsdb.path={os.path.join(prom_dir, 'data')}",
                             f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=log, stderr=subprocess.STDOUT)
    detail = ""
    try:
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": query})
        while time.monotonic() < deadline:
            time.sleep(2)
            try:
                with urllib.request.urlopen(url, timeout=10) as r:
                    answer = json.loads(r.read())
            except (OSError, ValueError) as e:
                detail = f"query: {e}"
                continue
            detail = json.dumps(answer)[:600]
            result = answer.get("data", {}).get("result", [])
            if result and want(result):
                return True, detail
        return False, detail + "\n" + open(os.path.join(prom_dir, "prometheus.log")).read()[-1500:]
    finally:
        proc.kill()
        proc.wait()
        log.close()


def metric(text, name):
    m = re.search(r"^" + re.escape(name) + r" ([0-9.e+-]+)$", text, re.M)
    return float(m.group(1)) if m else None


def bench(tap, lan):
    """Figures for `make bench`: the health round trip seen from the host,
    and the control domain's CPU share on an idle board while checks run."""
    rtts = []
    for _ in range(20):
        t = time.monotonic()
        status, _, _ = lan.get("/v1/health")
        if status == 200:
            rtts.append((time.monotonic() - t) * 1000)
    _, first, _ = lan.get("/metrics")
    time.sleep(30)
    _, second, _ = lan.get("/metrics")
    cpu = [metric(t, "flotilla_control_cpu_seconds_total") for t in (first, second)]
    up = [metric(t, "flotilla_uptime_seconds") for t in (first, second)]
    run_s = metric(second, "flotilla_health_run_seconds")
    share = (cpu[1] - cpu[0]) / (up[1] - up[0]) * 100 if None not in cpu + up else None
    figures = {"health_rtt_ms_median": round(median(rtts), 2) if rtts else None,
               "control_cpu_percent_idle": round(share, 3) if share is not None else None,
               "health_run_ms": round(run_s * 1000, 3) if run_s is not None else None}
    tap.note(f"bench: GET /v1/health round trip median {figures['health_rtt_ms_median']} ms "
             f"({len(rtts)} requests); control domain CPU {figures['control_cpu_percent_idle']} % "
             f"over {up[1] - up[0] if None not in up else '?'} s idle; one run of the checks "
             f"{figures['health_run_ms']} ms")
    merge_bench(os.path.join(BUILD, "bench", "health.json"), figures)
    tap.check("GET /v1/health answers every time (20 requests)", len(rtts) == 20, rtts)


def healthy_board(tap, image, workdir):
    lan = Lan()
    with Board(image, workdir, nic_args=lan.nic_args) as board:
        boot(board, lan)
        summary = wait_health(lan, lambda s: s.get("status") == "ok" and s.get("runs", 0) >= 2)
        tap.check("a healthy board: GET /v1/health says ok, with no problems",
                  summary.get("status") == "ok" and summary.get("problems") == [], json.dumps(summary)[:1500])
        names = {g["name"]: g for g in summary.get("guests", [])}
        tap.check("... and lists every guest with its health",
                  set(names) == {"hello", "www"} and names["www"]["status"] == "ok", summary.get("guests"))

        status, checks = lan.json("/v1/health/checks")
        by_name = {c["name"]: c for c in checks.get("checks", [])}
        board_checks = {"board.xen_memory", "board.store", "board.card", "board.nic",
                        "board.control_memory", "board.uptime", "board.clock"}
        guest_checks = {f"www.{k}" for k in ("state", "restarts", "report", "probe", "version", "trial")}
        tap.check("GET /v1/health/checks: every board and guest check, each with a reason and history",
                  status == 200 and board_checks | guest_checks <= set(by_name) and
                  all(c["reason"] and c["history"] for c in by_name.values()),
                  json.dumps(checks)[:1500])
        store = by_name.get("board.store", {})
        tap.check("... the store check verified every image on the card",
                  store.get("status") == "ok" and "every image verified" in store.get("reason", ""), store)

        status, www = lan.json("/v1/guests/www")
        tap.check("GET /v1/guests/www: state, version, slots, uptime, CPU time, memory",
                  status == 200 and www.get("state") == "running" and www.get("version") and
                  www.get("slot") in ("A", "B") and len(www.get("slots", [])) == 2 and
                  www.get("cpu_time_ns", 0) > 0 and www.get("memory_bytes", 0) >= 16 << 20 and
                  www.get("uptime_ms", 0) > 0, json.dumps(www)[:1000])
        status, body, _ = lan.get("/v1/guests/nosuch")
        tap.check("GET /v1/guests/nosuch: 404 no_guest", status == 404 and "no_guest" in body, body)

        for path in ("/v1/events", "/v1/guests/www/logs"):
            status, body, _ = lan.get(path)
            tap.check(f"GET {path} without a signature: 401 unsigned",
                      status == 401 and '"unsigned"' in body, f"{status} {body}")

        before = lan.json("/v1/guests")[1]
        status, metrics, headers = lan.get("/metrics")
        tap.check("GET /metrics: Prometheus text with guests, switch ports, store and checks",
                  status == 200 and headers.get("Content-Type", "").startswith("text/plain") and
                  'flotilla_guest_up{guest="www"} 1' in metrics and
                  'flotilla_switch_port_frames_total{port="eth0",direction="rx"}' in metrics and
                  "flotilla_store_usable 1" in metrics and
                  'flotilla_health_check{check="board.store",subject="board"} 0' in metrics,
                  metrics[:2000])
        tap.note(f"/metrics is {len(metrics)} bytes (HTTP_OUT_MAX is 2048: streamed)")
        req = urllib.request.Request(lan.base + "/metrics", method="HEAD")
        with urllib.request.urlopen(req, timeout=20) as r:
            head_len, head_body = int(r.headers.get("Content-Length", "-1")), r.read()
        again = lan.get("/metrics")
        tap.check("HEAD /metrics: the length without the body; GET works after it",
                  head_len > 2048 and head_body == b"" and again[0] == 200 and
                  again[1].endswith("\n") and "flotilla_health_runs_total" in again[1],
                  f"{head_len} {head_body[:100]} {again[0]}")
        ok, out = promtool_check(metrics)
        tap.check("/metrics passes promtool check metrics", ok, out)
        ok, detail = prometheus_query(lan, workdir, 'flotilla_guest_up{guest="www"}',
                                      lambda result: result[0]["value"][1] == "1")
        tap.check("a Prometheus server scraping the board answers flotilla_guest_up{guest=\"www\"} = 1",
                  ok, detail)
        after = lan.json("/v1/guests")[1]
        same = [(g["name"], g["state"], g.get("domid"), g["restarts"]) for g in before.get("guests", [])] == \
               [(g["name"], g["state"], g.get("domid"), g["restarts"]) for g in after.get("guests", [])]
        tap.check("nothing the health API did changed a guest (state, domain, restarts)", same,
                  f"{before}\n{after}")

        bench(tap, lan)
        m = re.search(r"^control: health: store check: (-?\d+) bad image\(s\), ([0-9.]+) s", board.output, re.M)
        tap.check("the store check ran once at the first run and found no bad image", m and m.group(1) == "0",
                  board.output[-2000:])
        if m:
            tap.note(f"bench: the store check (re-verifying every image on the card) took {m.group(2)} s")
            merge_bench(os.path.join(BUILD, "bench", "health.json"), {"store_check_s": float(m.group(2))})

        board.pos = len(board.output)
        board.send("h")
        m = board.expect(r"^control: health: board (\w+), (\d+) checks", 30)
        board.expect(r"^control:   www\.state\s+ok\s+running", 10)
        tap.check("console key h prints the health table", m.group(1) == "ok")
        board.pos = len(board.output)
        board.send("l www\r")
        m = board.expect(r"^control: logs: www, last (\d+) line\(s\)", 30)
        board.expect(r"^control:   \[www\] net: eth0 ", 10)
        tap.check("console key l www prints www's last console lines", int(m.group(1)) > 0)

    # A byte of hello's image on the card is flipped while the board is off.
    disk = os.path.join(workdir, "sdcard.img")
    store = Store(disk)
    hello = store.guest("hello")
    slot = next(k for k, s in enumerate(hello["slots"]) if s["state"] == "confirmed")
    store.flip_image_byte("hello", slot, 4096)
    lan = Lan()
    with Board(disk, workdir, nic_args=lan.nic_args, copy=False, log_name="console-corrupt.log") as board:
        boot(board, lan)
        summary = wait_health(lan, lambda s: s.get("runs", 0) >= 1)
        problems = summary.get("problems", [])
        store_problem = next((p for p in problems if p["check"] == "board.store"), {})
        tap.check("a corrupted slot on the card: the board is degraded, naming the store and the image",
                  summary.get("status") == "degraded" and store_problem.get("status") == "degraded" and
                  "hello slot " + "AB"[slot] in store_problem.get("reason", ""),
                  json.dumps(summary)[:1500])


def crash_looping(tap, image, workdir):
    lan = Lan()
    with Board(image, workdir, nic_args=lan.nic_args, log_name="console-crash.log") as board:
        boot(board, lan)
        board.expect(r"^control: crash: .*marked failed, not restarted", 120)
        summary = wait_health(lan, lambda s: any("crash-looping" in p["reason"] for p in s.get("problems", [])),
                              timeout=30)
        problems = summary.get("problems", [])
        tap.check("a crash-looping guest: the board is degraded, naming it",
                  summary.get("status") == "degraded" and problems and
                  all(p["subject"] == "crash" for p in problems) and
                  any("crash-looping" in p["reason"] for p in problems), json.dumps(summary)[:1500])
        guests = {g["name"]: g["status"] for g in summary.get("guests", [])}
        tap.check("... while the other guest stays ok", guests.get("ticker") == "ok", guests)
        status, metrics, _ = lan.get("/metrics")
        tap.check("... and /metrics shows it down with its restarts and degraded checks",
                  'flotilla_guest_up{guest="crash"} 0' in metrics and
                  re.search(r'flotilla_guest_restarts_total\{guest="crash"\} [1-9]', metrics) and
                  'flotilla_health_check{check="crash.state",subject="crash"} 1' in metrics and
                  "flotilla_health_status 1" in metrics, metrics[:2000])


def main():
    image, crash_image = sys.argv[1], sys.argv[2]
    tap = Tap()
    workdir = os.path.join(BUILD, "tests", "health")
    os.makedirs(workdir, exist_ok=True)
    tap.run("healthy board, then a corrupted slot", healthy_board, tap, image, workdir)
    tap.run("crash-looping guest", crash_looping, tap, crash_image, os.path.join(workdir, "crash"))
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
