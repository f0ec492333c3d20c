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
     guest stays ok; `flotilla logs -f` shows ticker's new lines as it
     prints them;
  4. a plan whose www declares a probe of a page it does not have: the
     monitor's periodic probe fails, `flotilla health` exits 2 with the
     reason.
The CLI (`flotilla health / status / logs / events`, $O/host/flotilla)
runs against each board: exit codes, tables, signed reads with the build's
development operator key ($O/keys/operator.key).

    test_health.py IMAGE CRASH_IMAGE PROBE_IMAGE
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
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
        first = free_port()
        second = free_port()
        while second == first:  # the kernel may hand the same free port out twice
            second = free_port()
        self.ports = {"10.0.2.15": first, "10.0.2.16": second}
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


FLOTILLA = os.path.join(BUILD, "host", "flotilla")
OPERATOR_KEY = os.path.join(BUILD, "keys", "operator.key")


def flotilla(*argv, timeout=60):
    """(exit code, stdout, stderr) of the CLI; HOME without a config file."""
    env = dict(os.environ, HOME=os.path.join(BUILD, "tests", "health"))
    env.pop("FLOTILLA_CONFIG", None)
    p = subprocess.run([FLOTILLA, *argv], capture_output=True, text=True, timeout=timeout, env=env)
    return p.returncode, p.stdout, p.stderr


def board_address(lan):
    return lan.base.replace("http://", "")


def wait_cli_health(lan, want_rc, timeout=120):
    """Runs `flotilla health` until it exits want_rc; returns the last (rc, out, err)."""
    deadline = time.monotonic() + timeout
    result = (None, "", "")
    while time.monotonic() < deadline:
        result = flotilla("health", board_address(lan))
        if result[0] == want_rc:
            return result
        time.sleep(2)
    return result


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


def cli_checks(tap, lan):
    """flotilla health / status / logs / events against the healthy board."""
    address = board_address(lan)
    # The monitor probes www (its plan: http:80/healthz) every period.
    summary = wait_health(lan, lambda s: True, timeout=5)
    deadline = time.monotonic() + 60
    probe = {}
    while time.monotonic() < deadline:
        _, checks = lan.json("/v1/health/checks")
        probe = next((c for c in checks.get("checks", []) if c["name"] == "www.probe"), {})
        if "passed" in probe.get("reason", ""):
            break
        time.sleep(2)
    tap.check("the monitor probes www as its plan declares (http:80/healthz): www.probe ok, "
              "with the latency", probe.get("status") == "ok" and
              re.fullmatch(r"probe passed in \d+ ms", probe.get("reason", "")), probe)
    rc, out, err = flotilla("health", address)
    tap.check("flotilla health: a healthy board exits 0, its table lists every guest ok",
              rc == 0 and re.search(r"^www\s+running\s+\S+\s+ok$", out, re.M) and
              re.search(r"^hello\s+(running|exited)\s+\S+\s+ok$", out, re.M) and "every check is ok" in out,
              f"exit {rc}\n{out}\n{err}")
    rc, out, err = flotilla("health", address, "--json")
    doc = json.loads(out) if rc == 0 and out.startswith("{") else {}
    tap.check("flotilla health --json: the board's summary", rc == 0 and doc.get("status") == "ok" and
              {g["name"] for g in doc.get("guests", [])} == {"hello", "www"}, f"exit {rc}\n{out}\n{err}")
    rc, out, err = flotilla("status", address)
    tap.check("flotilla status: www running from a slot of the card, with its address and uptime",
              rc == 0 and re.search(r"^www\s+running\s+\S+\s+[AB]\s+A:\S+.*B:\S+.*\s10\.0\.2\.\d+\s", out, re.M),
              f"exit {rc}\n{out}\n{err}")
    rc, out, err = flotilla("logs", address, "www", "--key", OPERATOR_KEY)
    tap.check("flotilla logs www signed with the development operator key: 200, www's lines",
              rc == 0 and re.search(r"^net: eth0 ", out, re.M), f"exit {rc}\n{out[-1500:]}\n{err}")
    rc, out, err = flotilla("events", address, "--key", OPERATOR_KEY)
    tap.check("flotilla events signed with the development operator key: the card's log",
              rc == 0 and re.search(r"^SEQ\s+BOOT", out) and re.search(r"\swww\s", out),
              f"exit {rc}\n{out[-1500:]}\n{err}")
    status, body, _ = lan.get("/v1/guests/www/logs?follow=1")
    tap.check("GET /v1/guests/www/logs?follow=1 without a signature: 401 unsigned",
              status == 401 and '"unsigned"' in body, f"{status} {body}")
    # Bench: the CLI's round trip (process start, connect, GET /v1/health, table).
    times = []
    for _ in range(10):
        t = time.monotonic()
        rc, _, _ = flotilla("health", address)
        if rc == 0:
            times.append((time.monotonic() - t) * 1000)
    figures = {"cli_health_ms_median": round(median(times), 2) if times else None}
    tap.note(f"bench: `flotilla health` round trip median {figures['cli_health_ms_median']} ms "
             f"({len(times)} of 10 runs exited 0)")
    merge_bench(os.path.join(BUILD, "bench", "health.json"), figures)


def follow_ticker(tap, lan, board):
    """flotilla logs -f: ticker's new lines appear as the console shows them."""
    env = dict(os.environ, HOME=os.path.join(BUILD, "tests", "health"))
    env.pop("FLOTILLA_CONFIG", None)
    proc = subprocess.Popen([FLOTILLA, "logs", board_address(lan), "ticker", "-f", "--json",
                             "--key", OPERATOR_KEY], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    lines = []
    threading.Thread(target=lambda: [lines.append((time.monotonic(), l)) for l in proc.stdout],
                     daemon=True).start()
    try:
        time.sleep(3)
        kept = [json.loads(l)["n"] for _, l in lines if '"line"' in l]
        board.pos = len(board.output)
        m = board.expect(r"^\[ticker\] ticker: tick (\d+)", 30)
        seen_on_console = time.monotonic()
        tick = m.group(1)
        deadline = time.monotonic() + 10
        arrived = None
        while time.monotonic() < deadline and arrived is None:
            for t, l in list(lines):
                if f'"ticker: tick {tick}"' in l:
                    arrived = t
            time.sleep(0.05)
        new = [json.loads(l) for _, l in lines if '"line"' in l]
        tap.check("flotilla logs -f: the kept lines first, then ticker's new line as it prints it",
                  kept and arrived is not None and new[-1]["n"] > max(kept),
                  f"kept {kept}\n" + "\n".join(l for _, l in lines[-20:]))
        if arrived is not None:
            tap.note(f"logs -f: the tick reached the CLI {max(0.0, arrived - seen_on_console) * 1000:.0f} ms "
                     f"after the board's console showed it")
            tap.check("... within 3 s of the console", arrived - seen_on_console < 3.0,
                      arrived - seen_on_console)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            rc = proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
    tap.check("... Ctrl-C ends the follow with exit 0", rc == 0, rc)
    # The board let the connection go: its follow slots are free again.
    ok = False
    for _ in range(5):
        rc, out, _ = flotilla("logs", board_address(lan), "ticker", "--key", OPERATOR_KEY)
        if rc == 0 and "ticker: tick" in out:
            ok = True
            break
        time.sleep(1)
    tap.check("... and the board still answers logs afterwards", ok, out[-500:])


def probe_failing(tap, image, workdir):
    lan = Lan()
    with Board(image, workdir, nic_args=lan.nic_args, log_name="console-probe.log") as board:
        boot(board, lan)
        rc, out, err = wait_cli_health(lan, 2, timeout=120)
        tap.check("a guest whose probe fails: flotilla health exits 2 (failed) with the reason",
                  rc == 2 and re.search(r"^  failed\s+www\.probe\s+probe failed: .*HTTP 404", out, re.M) and
                  re.search(r"^www\s+running\s+\S+\s+failed$", out, re.M), f"exit {rc}\n{out}\n{err}")
        status, summary = lan.json("/v1/health")
        tap.check("... GET /v1/health says failed, naming www.probe",
                  summary.get("status") == "failed" and
                  any(p["check"] == "www.probe" for p in summary.get("problems", [])), summary)
        status, www = lan.json("/v1/guests/www")
        tap.check("... and www keeps running (a probe only reports)", www.get("state") == "running" and
                  www.get("restarts") == 0, www)


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
        cli_checks(tap, lan)
        after = lan.json("/v1/guests")[1]
        same = [(g["name"], g["state"], g.get("domid"), g["restarts"]) for g in before.get("guests", [])] == \
               [(g["name"], g["state"], g.get("domid"), g["restarts"]) for g in after.get("guests", [])]
        tap.check("nothing the health API (and the CLI's reads) did changed a guest "
                  "(state, domain, restarts)", same,
                  f"{before}\n{after}")

        bench(tap, lan)
        # The check reads a slot per step of the main loop: its line comes a
        # little after the first run.
        board.pos = 0
        try:
            board.expect(r"control: health: store check: -?\d+ bad image", 30)
        except Exception:
            pass
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
        rc, out, err = flotilla("health", board_address(lan))
        tap.check("flotilla health: exit 1 (degraded), naming the crash-looping guest",
                  rc == 1 and re.search(r"^crash\s+failed\s+\S+\s+degraded$", out, re.M) and
                  re.search(r"^  degraded\s+crash\.\w+\s+.*crash-looping", out, re.M),
                  f"exit {rc}\n{out}\n{err}")
        follow_ticker(tap, lan, board)
        status, metrics, _ = lan.get("/metrics")
        tap.check("... and /metrics shows it down with its restarts and degraded checks",
                  'flotilla_guest_up{guest="crash"} 0' in metrics and
                  re.search(r'flotilla_guest_restarts_total\{guest="crash"\} [1-9]', metrics) and
                  'flotilla_health_check{check="crash.state",subject="crash"} 1' in metrics and
                  "flotilla_health_status 1" in metrics, metrics[:2000])


def main():
    image, crash_image, probe_image = sys.argv[1], sys.argv[2], sys.argv[3]
    tap = Tap()
    workdir = os.path.join(BUILD, "tests", "health")
    os.makedirs(workdir, exist_ok=True)
    tap.run("healthy board, then a corrupted slot", healthy_board, tap, image, workdir)
    tap.run("crash-looping guest", crash_looping, tap, crash_image, os.path.join(workdir, "crash"))
    tap.run("a guest whose probe fails", probe_failing, tap, probe_image, os.path.join(workdir, "probe"))
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
