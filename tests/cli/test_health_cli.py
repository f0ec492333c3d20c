#!/usr/bin/python3
"""`flotilla health / status / logs [-f] / events` against the device API protocol.

Runs the real CLI against a small HTTP/1.1 server written here that answers
the read-only resources of docs/device-api.md as a board does: /v1/health
(and /checks), /v1/ping, /v1/guests[/NAME], /v1/guests/NAME/logs (and
?follow=1: newline-delimited JSON that goes on until the client leaves) and
/v1/events, the last two only to requests signed by an operator key (the
signature checked as in tests/cli/test_push.py). Each test sets what the
"board" says, and checks what the CLI sent, printed and exited with.

    test_health_cli.py FLOTILLA WORKDIR
"""
import http.server
import json
import os
import queue
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_push import (BOARD_ID, EMPTY_SHA256, Tap, free_port, key_id,  # noqa: E402
                       raw_server, run, verify_authorization)
from cryptography.hazmat.primitives import serialization  # noqa: E402


def summary(status="ok", problems=(), guests=None, runs=5):
    guests = guests if guests is not None else [
        {"name": "www", "status": "ok", "state": "running", "version": "1.2.0"},
        {"name": "hello", "status": "ok", "state": "running", "version": "1.0.0"}]
    return {"board": BOARD_ID, "status": status, "version": "0.9.1", "uptime_ms": 7384000,
            "checks": 19, "runs": runs, "checked_ms_ago": 3200, "period_s": 10,
            "problems": list(problems), "guests": guests}


CHECKS = {"status": "ok", "now_ms": 7384000, "period_s": 10, "last_run_us": 812, "checks": [
    {"name": "board.xen_memory", "subject": "board", "status": "ok",
     "reason": "412 MiB free (floor 32 MiB)", "last_run_ms": 7380000,
     "history": [{"status": "ok", "reason": "412 MiB free", "first_ms": 1000, "last_ms": 7380000,
                  "runs": 700}]},
    {"name": "www.probe", "subject": "www", "status": "ok", "reason": "probe passed in 3 ms",
     "last_run_ms": 7380000, "history": []}]}

GUEST_DETAIL = {
    "www": {"name": "www", "state": "running", "health": "ok", "version": "1.2.0",
            "restarts": 1, "memory_mb": 16, "vcpus": 1, "domid": 7, "uptime_ms": 3725000,
            "cpu_time_ns": 123456789, "memory_bytes": 16777216, "source": "card", "slot": "B",
            "trial": False, "slots": [{"slot": "A", "state": "ready", "version": "1.1.0", "counter": 2},
                                      {"slot": "B", "state": "confirmed", "version": "1.2.0",
                                       "counter": 3}],
            "nics": "lan", "addresses": ["10.0.2.16"], "ready": True,
            "operation": {"id": 0, "kind": "none", "stage": "idle"}},
    "hello": {"name": "hello", "state": "running", "health": "ok", "version": "1.0.0",
              "restarts": 0, "memory_mb": 16, "vcpus": 1, "domid": 2, "uptime_ms": 7380000,
              "source": "boot bundle", "trial": False, "slots": [], "nics": "", "addresses": [],
              "operation": {"id": 0, "kind": "none", "stage": "idle"}},
}

EVENTS = {"board": BOARD_ID, "events": [
    {"seq": 1, "boot": 1, "uptime_ms": 2100, "type": "seeded", "guest": "www", "slot": "A",
     "version": "1.1.0", "status": "ok", "detail": 0},
    {"seq": 2, "boot": 3, "uptime_ms": 65000, "type": "confirmed", "guest": "www", "slot": "B",
     "version": "1.2.0", "status": "ok", "detail": 0},
    {"seq": 3, "boot": 3, "uptime_ms": 99000, "type": "refused", "guest": "www", "slot": "A",
     "version": "0.1.0", "status": "rollback", "detail": 0, "reason": "older than the counter"}]}


class Board:
    def __init__(self, operators):
        self.operators = operators
        self.nonces = set()
        self.requests = []
        self.health = summary()
        self.health_sequence = []   # successive /v1/health answers (then the last stays)
        self.health_needs_auth = False
        self.lines = [f"tick {i}" for i in range(1, 6)]
        self.news = queue.Queue()   # lines for followers, pushed by the tests
        self.follow_closes_after = None  # seconds, then the board ends the stream
        self.followers_gone = threading.Event()
        self.lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    board = None

    def log_message(self, *args):
        pass

    def answer(self, status, document):
        body = json.dumps(document, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def authenticated(self, record):
        b = self.board
        with b.lock:
            refusal = verify_authorization(self.headers.get("Authorization"), b.operators,
                                           b.nonces, "GET", self.path, EMPTY_SHA256)
        record["auth"] = refusal
        if refusal:
            self.answer(refusal[0], {"error": refusal[1], "message": "authentication failed"})
            return False
        return True

    def follow(self, name):
        """The board's stream: state first, the kept lines, then news as it comes."""
        b = self.board
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        n = 0
        out = [{"event": "state", "state": "running", "restarts": 1, "version": "1.2.0",
                "uptime_ms": 10}]
        for line in b.lines:
            out.append({"n": n, "line": line})
            n += 1
        started = time.monotonic()
        try:
            for doc in out:
                self.wfile.write(json.dumps(doc).encode() + b"\n")
            self.wfile.flush()
            while True:
                if b.follow_closes_after is not None and \
                        time.monotonic() - started > b.follow_closes_after:
                    return
                try:
                    doc = b.news.get(timeout=0.2)
                except queue.Empty:
                    # A heartbeat now and then: it also finds a client that left.
                    doc = {"event": "heartbeat", "uptime_ms": 1}
                if "line" in doc:
                    doc = {"n": n, **doc}
                    n += 1
                self.wfile.write(json.dumps(doc).encode() + b"\n")
                self.wfile.flush()
        except OSError:
            b.followers_gone.set()

    def do_GET(self):
        b = self.board
        path, _, query = self.path.partition("?")
        record = {"method": "GET", "path": self.path,
                  "authorization": self.headers.get("Authorization")}
        with b.lock:
            b.requests.append(record)
        if path == "/v1/nonce":
            nonce = secrets.token_hex(16)
            with b.lock:
                b.nonces.add(nonce)
            return self.answer(200, {"nonce": nonce, "board": BOARD_ID, "expires_in_ms": 120000})
        if path in ("/v1/health", "/v1/health/checks"):
            if b.health_needs_auth and not self.authenticated(record):
                return
            if path == "/v1/health/checks":
                return self.answer(200, CHECKS)
            with b.lock:
                if b.health_sequence:
                    b.health = b.health_sequence.pop(0)
                doc = b.health
            return self.answer(200, doc)
        if path == "/v1/ping":
            return self.answer(200, {"ok": True, "board": BOARD_ID, "version": "0.9.1",
                                     "uptime_ms": 7384000})
        if path == "/v1/guests":
            return self.answer(200, {"guests": [{"name": n, "state": d["state"],
                                                 "version": d["version"]}
                                                for n, d in GUEST_DETAIL.items()]})
        m = re.fullmatch(r"/v1/guests/([a-z0-9_.-]+)(/logs)?", path)
        if m:
            if m.group(2):
                if not self.authenticated(record):
                    return
                if m.group(1) not in GUEST_DETAIL:
                    return self.answer(404, {"error": "no_guest", "message": "no guest of that name"})
                if query == "follow=1":
                    return self.follow(m.group(1))
                return self.answer(200, {"guest": m.group(1), "kept": 64, "lines": b.lines})
            if m.group(1) not in GUEST_DETAIL:
                return self.answer(404, {"error": "no_guest", "message": "no guest of that name"})
            return self.answer(200, GUEST_DETAIL[m.group(1)])
        if path == "/v1/events":
            if not self.authenticated(record):
                return
            return self.answer(200, EVENTS)
        self.answer(404, {"error": "not_found", "message": "no such resource"})


def serve(board):
    handler = type("BoundHandler", (Handler,), {"board": board})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class Reader:
    """A process's stdout read line by line in a thread, for following."""

    def __init__(self, proc):
        self.proc, self.lines = proc, []
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(re.search(pattern, line) for line in self.lines):
                return True
            time.sleep(0.05)
        return False


def main():
    flotilla, work = os.path.abspath(sys.argv[1]), sys.argv[2]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    os.chdir(work)
    tap = Tap()
    F = flotilla
    env = dict(os.environ, FLOTILLA_CONFIG="")
    env.pop("FLOTILLA_CONFIG")
    env["HOME"] = work  # no config file of the user's

    for name in ("operator", "stranger"):
        rc, _, err = run([F, "keygen", "--out", name])
        if rc != 0:
            raise SystemExit(f"setup failed: keygen: {err}")
    with open("operator.pub", "rb") as f:
        operator = serialization.load_pem_public_key(f.read())
    board = Board({key_id(operator): operator})
    server = serve(board)
    address = f"127.0.0.1:{server.server_port}"

    def cli(*argv, timeout=60):
        rc, out, err = run([F, *argv], env=env, timeout=timeout)
        return rc, out, err, f"exit {rc}\nstdout:\n{out}\nstderr:\n{err}"

    # --- health: the exit status says it, the table says why
    board.health = summary()
    rc, out, err, detail = cli("health", address)
    tap.check("health: an ok board exits 0", rc == 0, detail)
    tap.check("... the table names the board, its status and every guest with its health",
              re.search(rf"^{BOARD_ID}\s+ok\s+\({re.escape(address)}, flotilla 0\.9\.1, up 2h 03m",
                        out, re.M) and re.search(r"^www\s+running\s+1\.2\.0\s+ok$", out, re.M) and
              re.search(r"^hello\s+running\s+1\.0\.0\s+ok$", out, re.M) and
              "every check is ok" in out, detail)
    tap.check("... without colour when stdout is not a terminal", "\033[" not in out, detail)
    tap.check("... and unsigned, without a key (GET /v1/health answers anyone)",
              board.requests[-1]["path"] == "/v1/health" and not board.requests[-1]["authorization"],
              board.requests[-3:])

    crash = {"check": "crash.state", "subject": "crash", "status": "degraded",
             "reason": "crash-looping: 5 crashes within 60 s; stopped"}
    board.health = summary("degraded", [crash], [
        {"name": "crash", "status": "degraded", "state": "failed", "version": "1.0.0"},
        {"name": "ticker", "status": "ok", "state": "running", "version": "1.0.0"}])
    rc, out, err, detail = cli("health", address)
    tap.check("health: a degraded board exits 1, naming the guest and the reason",
              rc == 1 and re.search(r"^crash\s+failed\s+1\.0\.0\s+degraded$", out, re.M) and
              re.search(r"^  degraded\s+crash\.state\s+crash-looping: 5 crashes", out, re.M), detail)

    probe = {"check": "www.probe", "subject": "www", "status": "failed",
             "reason": "probe failed: HTTP 404 from GET /no-such-page"}
    board.health = summary("failed", [probe, crash])
    rc, out, err, detail = cli("health", address)
    problems = re.findall(r"^  (\w+)\s+(\S+)\s", out, re.M)
    tap.check("health: a failed board exits 2 with the reason, worst first",
              rc == 2 and problems == [("failed", "www.probe"), ("degraded", "crash.state")] and
              "HTTP 404 from GET /no-such-page" in out, detail)

    rc, out, err, detail = cli("health", address, "--json")
    try:
        doc = json.loads(out)
    except ValueError:
        doc = None
    tap.check("health --json: the board's document as it sent it, and the same exit status",
              rc == 2 and doc == board.health, detail)

    board.health = summary("unknown", runs=0)
    rc, out, err, detail = cli("health", address)
    tap.check("health: a board with no verdict yet exits 3 (unknown)",
              rc == 3 and "not run its checks yet" in out, detail)

    board.health = summary("degraded", [crash])
    rc_pty = subprocess.run(["python3", "-c", "import os,pty,sys; sys.exit(os.waitstatus_to_exitcode("
                             f"pty.spawn(['{F}', 'health', '{address}'])))"],
                            capture_output=True, env=env, timeout=60)
    tap.check("... (stdout on a terminal) the status words are coloured: degraded in yellow",
              rc_pty.returncode == 1 and b"\033[33mdegraded" in rc_pty.stdout,
              rc_pty.stdout.decode(errors="replace")[-800:])
    rc_pty = subprocess.run(["python3", "-c", "import os,pty,sys; sys.exit(os.waitstatus_to_exitcode("
                             f"pty.spawn(['{F}', 'health', '{address}'])))"],
                            capture_output=True, env=dict(env, NO_COLOR="1"), timeout=60)
    tap.check("... and NO_COLOR turns it off", b"\033[33m" not in rc_pty.stdout,
              rc_pty.stdout.decode(errors="replace")[-800:])

    rc, out, err, detail = cli("health", address, "--checks")
    tap.check("health --checks: every check with its status and reason",
              rc == 1 and re.search(r"^board\.xen_memory\s+ok\s+412 MiB free", out, re.M) and
              re.search(r"^www\.probe\s+ok\s+probe passed in 3 ms", out, re.M), detail)

    board.health_sequence = [summary("ok"), summary("failed", [probe])]
    before = len([r for r in board.requests if r["path"] == "/v1/health"])
    rc, out, err, detail = cli("health", address, "--watch", "--interval", "1", "--count", "2")
    asked = len([r for r in board.requests if r["path"] == "/v1/health"]) - before
    tap.check("health --watch --count 2: two refreshes, exit status of the last",
              rc == 2 and asked == 2 and out.count(f"{BOARD_ID}  ") == 2 and
              "every 1 s" in out and "\033[2J" not in out, detail)
    board.health_sequence = [summary("ok")] * 50
    proc = subprocess.Popen([sys.executable, "-c",
                             "import os,pty,sys; sys.exit(os.waitstatus_to_exitcode("
                             f"pty.spawn(['{F}', 'health', '{address}', '--watch', '--interval', '1'])))"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    time.sleep(3.5)
    proc.send_signal(signal.SIGINT)
    try:
        screen, _ = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        screen, _ = proc.communicate()
    tap.check("health --watch on a terminal: redraws in place (clear + home) until interrupted",
              screen.count(b"\033[H\033[2J") >= 2 and b"Ctrl-C to stop" in screen,
              screen.decode(errors="replace")[-800:])
    board.health_sequence = []
    board.health = summary()

    # unreachable, and answers that are not the API's
    rc, out, err, detail = cli("health", f"127.0.0.1:{free_port()}", "--timeout", "5")
    tap.check("health: nothing listening exits 3 with one line saying so",
              rc == 3 and out == "" and len(err.strip().splitlines()) == 1 and "cannot reach" in err,
              detail)
    rc, out, err, detail = cli("health", f"127.0.0.1:{free_port()}", "--json", "--timeout", "5")
    tap.check("health --json unreachable: still a JSON document saying so, exit 3",
              rc == 3 and json.loads(out or "{}").get("status") == "unreachable", detail)
    html = raw_server(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 13\r\n"
                      b"Connection: close\r\n\r\n<html></html>")
    rc, out, err, detail = cli("health", f"127.0.0.1:{html.getsockname()[1]}")
    tap.check("health: a web server that is not a board exits 3 (no status in its answer)",
              rc == 3 and "no status" in err, detail)
    html.close()

    # a board built with CONFIG_HEALTH_AUTH: signed when it asks and a key is known
    board.health_needs_auth = True
    rc, out, err, detail = cli("health", address, "--key", "operator.key")
    signed = [r for r in board.requests if r["path"] == "/v1/health"][-1]
    tap.check("health: a board that asks for a signature gets a signed request (with --key)",
              rc == 0 and signed.get("auth") is None and signed["authorization"], detail)
    rc, out, err, detail = cli("health", address)
    tap.check("... and without a key: exit 3, saying the board wants one",
              rc == 3 and "HTTP 401" in err and "--key" in err, detail)
    board.health_needs_auth = False

    # --- status
    rc, out, err, detail = cli("status", address)
    tap.check("status: every guest with state, version, slot, both slots, addresses, uptime, restarts",
              rc == 0 and re.search(rf"^{BOARD_ID}\s+\({re.escape(address)}\)\s+flotilla 0\.9\.1, up 2h 03m",
                                    out, re.M) and
              re.search(r"^www\s+running\s+1\.2\.0\s+B\s+A:ready 1\.1\.0 B:confirmed 1\.2\.0\s+"
                        r"10\.0\.2\.16\s+1h 02m\s+1$", out, re.M) and
              re.search(r"^hello\s+running\s+1\.0\.0\s+-\s+\(boot bundle\)\s+-\s+2h 03m\s+0$", out, re.M),
              detail)
    rc, out, err, detail = cli("status", address, "--json")
    try:
        doc = json.loads(out)
    except ValueError:
        doc = {}
    tap.check("status --json: the board and each guest's document",
              rc == 0 and doc.get("board", {}).get("board") == BOARD_ID and
              doc.get("guests") == list(GUEST_DETAIL.values()), detail)

    # --- logs and events: signed
    n_before = len(board.requests)
    rc, out, err, detail = cli("logs", address, "www", "--key", "operator.key")
    logs_request = [r for r in board.requests[n_before:] if r["path"].startswith("/v1/guests/www/logs")]
    tap.check("logs: the kept lines, one per line", rc == 0 and out.splitlines() == board.lines, detail)
    tap.check("... the request was signed with the operator key and the board accepted it",
              logs_request and logs_request[0]["authorization"] and logs_request[0].get("auth") is None,
              board.requests[n_before:])
    rc, out, err, detail = cli("logs", address, "www", "--key", "operator.key", "--json")
    tap.check("logs --json: the board's document",
              rc == 0 and json.loads(out or "{}").get("lines") == board.lines, detail)
    rc, out, err, detail = cli("logs", address, "www", "--key", "stranger.key")
    tap.check("logs signed by a key that is not the board's operator: refused, exit 4",
              rc == 4 and "HTTP 403" in err and "unknown_operator" in err, detail)
    rc, out, err, detail = cli("logs", address, "nosuch", "--key", "operator.key")
    tap.check("logs of a guest the board does not have: exit 4, HTTP 404 no_guest",
              rc == 4 and "404" in err and "no_guest" in err, detail)
    rc, out, err, detail = cli("logs", address, "www")
    tap.check("logs without a key: a usage error (exit 2) that says how to give one",
              rc == 2 and "operator key" in err, detail)

    # logs -f: new lines as they are printed
    proc = subprocess.Popen([F, "logs", address, "www", "-f", "--key", "operator.key"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    reader = Reader(proc)
    first = reader.wait_for(r"^tick 5$")
    board.news.put({"line": "tick 6"})
    sixth = reader.wait_for(r"^tick 6$", timeout=5)
    board.news.put({"event": "state", "state": "backoff", "restarts": 2, "version": "1.2.0"})
    board.news.put({"line": "tick 7"})
    seventh = reader.wait_for(r"^tick 7$", timeout=5)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    try:
        rc = proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait()
    err = proc.stderr.read()
    gone = board.followers_gone.wait(timeout=5)
    detail = f"exit {rc}\nstdout:\n" + "\n".join(reader.lines) + f"\nstderr:\n{err}"
    tap.check("logs -f: the kept lines first, then each new line as the board sends it",
              first and sixth and seventh and
              [l for l in reader.lines if l.startswith("tick")] == [f"tick {i}" for i in range(1, 8)],
              detail)
    tap.check("... events about the guest as lines starting with '--'; heartbeats not shown",
              "-- www: running, version 1.2.0, 1 restart(s)" in reader.lines and
              "-- www: backoff, version 1.2.0, 2 restart(s)" in reader.lines and
              not any("heartbeat" in l for l in reader.lines), detail)
    tap.check("... Ctrl-C ends it with exit 0, and the board sees the client go", rc == 0 and gone, detail)
    follow_request = [r for r in board.requests if r["path"] == "/v1/guests/www/logs?follow=1"]
    tap.check("... the follow request was signed (its target with ?follow=1) and accepted",
              follow_request and follow_request[-1].get("auth") is None, follow_request)

    board.follow_closes_after = 1.0
    rc, out, err, detail = cli("logs", address, "www", "-f", "--json", "--key", "operator.key")
    docs = [json.loads(l) for l in out.splitlines()]
    tap.check("logs -f --json: the board's JSON lines (without heartbeats); the board going away is exit 3",
              rc == 3 and docs and docs[0].get("event") == "state" and
              [d["line"] for d in docs if "line" in d] == board.lines and
              not any(d.get("event") == "heartbeat" for d in docs) and "closed the stream" in err,
              detail)
    board.follow_closes_after = None

    rc, out, err, detail = cli("events", address, "--key", "operator.key")
    tap.check("events: the card's log as a table, signed",
              rc == 0 and re.search(r"^3\s+3\s+1m 39s\s+refused\s+www\s+A\s+0\.1\.0\s+rollback\s+"
                                    r"older than the counter$", out, re.M) and
              re.search(r"^1\s+1\s+2 s\s+seeded\s+www\s+A\s+1\.1\.0\s+ok", out, re.M), detail)
    rc, out, err, detail = cli("events", address, "--key", "operator.key", "--json")
    tap.check("events --json: the board's document", rc == 0 and json.loads(out or "{}") == EVENTS,
              detail)
    n_before = len(board.requests)
    rc, out, err, detail = cli("events", address, "--key", "stranger.key")
    tap.check("events signed by a stranger: exit 4", rc == 4 and "403" in err, detail)

    # command lines
    rc, out, err, detail = cli("health")
    tap.check("health without BOARD: usage error, exit 2", rc == 2 and "missing BOARD" in err, detail)
    rc, out, err, detail = cli("logs", address)
    tap.check("logs without NAME: usage error", rc == 2 and "missing NAME" in err, detail)
    rc, out, err, detail = cli("health", address, "--count", "2")
    tap.check("--count without --watch: usage error", rc == 2 and "--watch" in err, detail)
    rc, out, err, detail = cli("help", "health")
    tap.check("help health: documents the exit codes",
              rc == 0 and "0  ok" in out and "3  unreachable" in out, detail)

    server.shutdown()
    print(f"1..{tap.count}")
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main())
