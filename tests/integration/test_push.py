#!/usr/bin/python3
"""User job: push signed updates over the air to the emulated board (issue 12).

The push test image (hypervisor-cfg/test/orangepi-pc-push.toml: hello, and
www with probe "http:80/healthz") boots in QEMU with its Ethernet on a TAP in
a network namespace with dnsmasq (tests/integration/netns.py); this process
joins the namespace, so it, `flotilla push` and the load clients reach the
board's addresses directly. One card is used throughout, as a user's would:

boot 1 - nothing may change:
  (e) authentication: unsigned, a key the board does not trust, the signing
      key used as an operator key, another board's request, a body that is
      not the one signed, a replayed request, an expired nonce: each 401/403
      with its own code;
  (g) malformed HTTP (400 + close), oversized headers (431), a stalled
      client (timed out, others served meanwhile);
  (d) every bad bundle class (tests/integration/push_fixtures.py) over HTTP:
      refused with its own error code, the same www domain serving;
  then QEMU is stopped and the card's slot store (metadata, heads, slots;
  not the event log) is byte-for-byte what it was before boot 1's tests.
boot 2 - updates:
  (a) www 2.0.0 pushed with `flotilla push` while a client loop opens a new
      connection per request: no request fails, the longest gap is reported;
      2.0.0 serves afterwards; a slow 4 MiB download begun on the old version
      completes byte-identical from it; an idle keep-alive connection to the
      old version is closed cleanly by it (FIN) once replaced; the old domain
      is gone and Xen's free memory is back to its level;
  (b) crash at start, never ready, /healthz 500: each rolled back with its
      own code while the previous version serves throughout;
  (c) crashes 5 s after every start: confirmed, then rolled back by itself;
  (g) 64 concurrent connections and a second push (409) while a 1 MiB push
      runs: the push completes, the API answers.
boots 3..: (f) power cut (QEMU killed) at moments during a push and during
  the swap; the same card boots again: a confirmed version serves, the one
  confirmed last if the cut came after its confirmation.

    test_push.py IMAGE --flotilla CLI --operator-key OP.key --signing-key DEV.key
                 --bundles DIR [--bench FILE] [--only SECTIONS]

SECTIONS (comma-separated): auth, http, bad, swap, faults, crashloop,
concurrent, powercut (default: all); "bench" = swap,faults,concurrent and
75 KiB and 1 MiB pushes timed; "bench16" = a 16 MiB push timed alone (it
needs a card with slots over 16 MiB: make bench-push-16mib).
Environment: PUSH_POWERCUTS (cuts per phase, default 6),
PUSH_DOWNLOAD_S (the slow download's length, default 12).
"""
import argparse
import ctypes
import hashlib
import json
import os
import re
import select
import socket
import struct
import subprocess
import sys
import threading
import time

from harness import BUILD, READY, Board, BoardTimeout, Tap, merge_bench
from netns import Lan, skip_reason
from store_card import partitions, Store, STORE_TYPE
from www_launch import testfile

CONTROL_NET = r"^control: net: (\d+\.\d+\.\d+\.\d+)/\d+ via DHCP"
WWW_NET = r"^\[www\] net: eth0 (\d+\.\d+\.\d+\.\d+)/\d+"
WWW_SERVING = r"^\[www\] www: serving"
FREE_MEMORY = r"control: status: \d+ guest\(s\), Xen free memory (\d+) MiB"
CLONE_NEWNET = 0x40000000
FINAL = ("confirmed", "refused", "rolled_back", "failed")


def code_of(text):
    """Error codes compare without the '-' / '_' spelling difference."""
    return (text or "").replace("-", "_")


# ------------------------------------------------------------------ HTTP
class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        try:
            return json.loads(self.body.decode() or "null")
        except ValueError:
            return None

    def __repr__(self):
        return f"<{self.status} {self.headers} {self.body[:300]!r}>"


def read_response(sock, deadline):
    buf = b""
    while b"\r\n\r\n" not in buf:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        data = sock.recv(65536)
        if not data:
            raise ConnectionError(f"closed before a full head: {buf[:200]!r}")
        buf += data
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, v = line.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        data = sock.recv(65536)
        if not data:
            break
        rest += data
    return Response(status, headers, rest[:length])


def request(host, method, target, body=b"", headers=(), timeout=30, port=80):
    """One request on its own connection. The body is sent while the answer
    is watched: a board that refuses early (and closes) is heard."""
    deadline = time.monotonic() + timeout
    with socket.create_connection((host, port), timeout=timeout) as s:
        head = f"{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
        for h in headers:
            head += h + "\r\n"
        if body or method in ("PUT", "POST"):
            head += f"Content-Length: {len(body)}\r\n"
        s.sendall(head.encode() + b"\r\n")
        try:
            view = memoryview(body)
            while view:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                readable, writable, _ = select.select([s], [s], [], left)
                if readable:
                    break  # answered (refused) before the whole body: stop sending
                if writable:
                    n = s.send(view[:65536])
                    view = view[n:]
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused part-way: the answer is already there
        return read_response(s, deadline)


def get_json(host, target, timeout=10):
    r = request(host, "GET", target, timeout=timeout)
    return r.json() if r.status == 200 else None


# ------------------------------------------------------- operator signing
class Operator:
    """Signs requests as docs/device-api.md says (ota/auth.h's canonical request)."""

    def __init__(self, key_path):
        from cryptography.hazmat.primitives import serialization
        with open(key_path, "rb") as f:
            self.key = serialization.load_pem_private_key(f.read(), password=None)
        point = self.key.public_key().public_bytes(serialization.Encoding.X962,
                                                   serialization.PublicFormat.UncompressedPoint)
        self.key_id = hashlib.sha256(point).hexdigest()[:16]

    def sign(self, board, method, target, nonce, commitment):
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
        canonical = (f"flotilla-request-v1\n{board}\n{method}\n{target}\n{nonce}\n"
                     f"{hashlib.sha256(commitment).hexdigest()}\n")
        r, s = decode_dss_signature(self.key.sign(canonical.encode(), ec.ECDSA(hashes.SHA256())))
        sig = r.to_bytes(32, "big").hex() + s.to_bytes(32, "big").hex()
        return f"Authorization: Flotilla board={board}, key={self.key_id}, nonce={nonce}, sig={sig}"


def bundle_head(data):
    """The part of a bundle an upload's signature commits to: header,
    manifest, signature (docs/device-api.md), as its header states them."""
    if len(data) < 24:
        return data
    manifest_size = struct.unpack_from("<I", data, 8)[0]
    signature_size = struct.unpack_from("<H", data, 18)[0]
    return data[:24 + manifest_size + signature_size]


class Api:
    """The device API of one board: nonces, signed requests, operations."""

    def __init__(self, host, operator):
        self.host, self.operator = host, operator
        self.nonces_issued = 0

    def nonce(self):
        j = get_json(self.host, "/v1/nonce")
        self.nonces_issued += 1
        return j["nonce"], j["board"]

    def signed(self, method, target, body=b"", commitment=None, operator=None, board=None,
               nonce=None, timeout=60):
        if nonce is None:
            nonce, real_board = self.nonce()
        else:
            real_board = get_json(self.host, "/v1/ping")["board"]
        auth = (operator or self.operator).sign(board or real_board, method, target, nonce,
                                                body if commitment is None else commitment)
        return request(self.host, method, target, body, [auth], timeout=timeout), auth

    def push_raw(self, name, data, commitment=None, **kw):
        return self.signed("PUT", f"/v1/guests/{name}", data,
                           commitment=bundle_head(data) if commitment is None else commitment, **kw)

    def guests(self):
        j = get_json(self.host, "/v1/guests") or {}
        return {g["name"]: g for g in j.get("guests", [])}

    def operation(self, name="www"):
        return get_json(self.host, f"/v1/guests/{name}/operation") or {}


# -------------------------------------------------------------- the CLI
def cli_push(a, host, bundle, timeout=300):
    """flotilla push BUNDLE --to HOST --key OP --json -> (rc, document, seconds, stderr)."""
    t0 = time.monotonic()
    r = subprocess.run([a.flotilla, "push", bundle, "--to", f"{host}:80", "--key", a.operator_key,
                        "--json"], capture_output=True, text=True, timeout=timeout)
    seconds = time.monotonic() - t0
    doc = {}
    for line in reversed(r.stdout.strip().splitlines()):
        try:
            doc = json.loads(line)
            break
        except ValueError:
            continue
    return r.returncode, doc, seconds, r.stderr


def verdict(doc):
    """(stage, code) of a CLI --json document: {"result", "error": {"code",
    "message"} when refused, "operation": the board's operation or null}."""
    op = doc.get("operation") or {}
    error = doc.get("error") if isinstance(doc.get("error"), dict) else {}
    code = op.get("code") or error.get("code") or op.get("error") or doc.get("code")
    return op.get("stage") or doc.get("result"), code_of(code)


def start_cli_push(a, host, bundle):
    return subprocess.Popen([a.flotilla, "push", bundle, "--to", f"{host}:80", "--key", a.operator_key,
                             "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


# ------------------------------------------------------------- clients
class LoadLoop(threading.Thread):
    """Requests www in a loop, a new connection each: GET /version."""

    def __init__(self, host, pause=0.02, timeout=5.0):
        super().__init__(daemon=True)
        self.host, self.pause, self.timeout = host, pause, timeout
        self.stop = threading.Event()
        self.results = []  # (start, end, ok, version or error)

    def run(self):
        while not self.stop.is_set():
            t0 = time.monotonic()
            try:
                r = request(self.host, "GET", "/version", timeout=self.timeout)
                ok = r.status == 200
                what = r.body.decode().strip() if ok else f"HTTP {r.status}"
            except Exception as e:  # a failed request is what this counts
                ok, what = False, f"{type(e).__name__}: {e}"
            self.results.append((t0, time.monotonic(), ok, what))
            time.sleep(self.pause)

    def finish(self):
        self.stop.set()
        self.join(30)
        return self.results

    def summary(self, since=None):
        res = [r for r in self.results if since is None or r[0] >= since]
        failed = [r for r in res if not r[2]]
        ends = [r[1] for r in res if r[2]]
        gap = max((b - e for e, b in zip(ends, ends[1:])), default=0.0)
        versions = [r[3] for r in res if r[2]]
        return {"requests": len(res), "failed": len(failed), "gap_ms": gap * 1000,
                "versions": versions, "failures": failed[:5]}


class SlowDownload(threading.Thread):
    """GET /test/4M read slowly, so it is in flight across the swap."""

    def __init__(self, host, seconds):
        super().__init__(daemon=True)
        self.host, self.seconds = host, seconds
        self.version, self.data, self.error, self.started = None, b"", None, threading.Event()

    def run(self):
        try:
            with socket.create_connection((self.host, 80), timeout=40) as s:
                s.sendall(f"GET /test/4M HTTP/1.1\r\nHost: {self.host}\r\nConnection: close\r\n\r\n"
                          .encode())
                buf = b""
                while b"\r\n\r\n" not in buf:
                    d = s.recv(4096)
                    if not d:
                        raise ConnectionError("closed in the head")
                    buf += d
                head, body = buf.split(b"\r\n\r\n", 1)
                m = re.search(rb"X-Www-Version: (\S+)", head, re.I)
                self.version = m.group(1).decode() if m else None
                self.started.set()
                size = 4 << 20
                rate = size / self.seconds
                t0 = time.monotonic()
                chunks = [body]
                got = len(body)
                while got < size:
                    d = s.recv(min(16384, size - got))
                    if not d:
                        break
                    chunks.append(d)
                    got += len(d)
                    ahead = got / rate - (time.monotonic() - t0)
                    if ahead > 0:
                        time.sleep(ahead)
                self.data = b"".join(chunks)
        except Exception as e:
            self.error = f"{type(e).__name__}: {e}"
        self.started.set()


# -------------------------------------------------------------- the board
class Rig:
    """The LAN, the board on it (one card), the device API."""

    def __init__(self, a, lan, work, tap_name):
        self.a, self.lan, self.work, self.tap_name = a, lan, work, tap_name
        self.board = None
        self.control = self.www = None
        self.api = None
        self.boots = 0

    def boot(self, timeout=180):
        first = self.board is None
        if first:
            self.board = Board(self.a.image, self.work, nic_args=self.lan.qemu_nic(self.tap_name),
                               wrapper=self.lan.wrap([]))
            self.board.start()
        else:
            self.board.power_cycle()
        self.boots += 1
        b = self.board
        b.expect(READY, timeout)
        self.control = b.expect(CONTROL_NET, 90).group(1)
        self.www = (re.search(WWW_NET, b.output, re.M) or b.expect(WWW_NET, 90)).group(1)
        if not re.search(WWW_SERVING, b.output, re.M):
            b.expect(WWW_SERVING, 60)
        self.api = Api(self.control, Operator(self.a.operator_key))
        wait_for(lambda: request(self.www, "GET", "/version", timeout=3).status == 200, 30)
        return self

    def kill(self):
        if self.board:
            self.board.kill()

    def console_status(self):
        """Xen's free memory (MiB) and the status table, from console key 's'."""
        b = self.board
        b.pos = len(b.output)
        b.send("s")
        m = b.expect(FREE_MEMORY, 15)
        b.collect(0.8)
        return int(m.group(1)), b.output[m.start():]

    def www_version(self):
        r = request(self.www, "GET", "/version", timeout=5)
        return r.body.decode().strip() if r.status == 200 else None


def wait_for(predicate, timeout, interval=0.3):
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return True
        except Exception:
            pass
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)


def wait_operation(api, name, timeout, min_id=None):
    """Poll the operation resource until its stage is final."""
    deadline = time.monotonic() + timeout
    op = {}
    while time.monotonic() < deadline:
        try:
            op = api.operation(name)
        except Exception:
            op = {}
        if op.get("stage") in FINAL and (min_id is None or op.get("id", 0) >= min_id):
            return op
        time.sleep(0.3)
    return op


def store_state(card):
    """What a refusal must not change on the card's slot store: the metadata
    record's content (its sequence number and CRC aside: an install that is
    begun and abandoned commits twice and leaves the same content), and the
    head area and bytes of every slot that is not EMPTY. An EMPTY slot's bytes
    are nobody's (an abandoned install may have written some)."""
    st = Store(card)
    state = {"record": bytes(st.rec[:8]) + bytes(st.rec[16:28]) + bytes(st.rec[32:st.size])}
    meta, head = 8192, 1024
    with open(card, "rb") as f:
        for g in range(st.capacity):
            e = st.rec[32 + g * 160:32 + (g + 1) * 160]
            name = bytes(e[:32]).rstrip(b"\0").decode(errors="replace")
            if not name:
                continue
            for k in range(2):
                if e[40 + k * 60] == 0:  # EMPTY
                    continue
                f.seek(st.base + 2 * meta + (2 * g + k) * head)
                h = f.read(head)
                f.seek(st.slot_offset(name, k))
                data = f.read(st.slot_blocks * st.block_size)
                state[f"{name} slot {'AB'[k]}"] = hashlib.sha256(h + data).hexdigest()
    return state, st


def slot_summary(card):
    try:
        g = Store(card).guest("www")
        return g
    except Exception as e:  # a card without a store yet
        return f"{type(e).__name__}: {e}"


# ---------------------------------------------------------------- sections
def section_auth(tap, rig, a, expired_nonce):
    api = rig.api
    v2 = open(os.path.join(a.bundles, "www-v2.bnd"), "rb").read()
    before = api.guests()["www"]
    r = request(rig.control, "PUT", "/v1/guests/www", v2)
    tap.check("unsigned push: 401 unsigned", r.status == 401 and code_of((r.json() or {}).get("error"))
              == "unsigned", r)
    rogue = Operator(os.path.join(a.bundles, "bad", "rogue.key"))
    r, _ = api.push_raw("www", v2, operator=rogue)
    tap.check("a key the board does not trust: 403 unknown_operator",
              r.status == 403 and code_of((r.json() or {}).get("error")) == "unknown_operator", r)
    r, _ = api.push_raw("www", v2, operator=Operator(a.signing_key))
    tap.check("the bundle signing key used as an operator key: 403 wrong_role",
              r.status == 403 and code_of((r.json() or {}).get("error")) == "wrong_role", r)
    r, _ = api.push_raw("www", v2, board="flotilla-other")
    tap.check("a request signed for another board: 403 other_board",
              r.status == 403 and code_of((r.json() or {}).get("error")) == "other_board", r)
    other = open(os.path.join(a.bundles, "www-probe-500.bnd"), "rb").read()
    r, _ = api.push_raw("www", v2, commitment=bundle_head(other))
    tap.check("a bundle other than the one signed: 401 bad_signature",
              r.status == 401 and code_of((r.json() or {}).get("error")) == "bad_signature", r)
    # Replay: a request the board authenticated (it then refused the bundle
    # itself), sent again byte for byte.
    wrong_board = open(os.path.join(a.bundles, "bad", "wrong-board.bnd"), "rb").read()
    r1, auth = api.push_raw("www", wrong_board)
    r2 = request(rig.control, "PUT", "/v1/guests/www", wrong_board, [auth])
    tap.check("a replayed request: the first authenticated (refused as wrong-board), the replay 401 nonce",
              r1.status in range(400, 500) and code_of((r1.json() or {}).get("error")) == "wrong_board"
              and r2.status == 401 and code_of((r2.json() or {}).get("error")) == "nonce", (r1, r2))
    r = request(rig.control, "POST", "/v1/guests/www/rollback")
    tap.check("unsigned rollback: 401", r.status == 401, r)
    r = request(rig.control, "POST", "/v1/guests/www/restart")
    tap.check("unsigned restart: 401", r.status == 401, r)
    after = api.guests()["www"]
    tap.check("after the refused requests: the same www domain, version, no restart",
              (after.get("domid"), after.get("version"), after.get("restarts")) ==
              (before.get("domid"), before.get("version"), before.get("restarts")), (before, after))
    return expired_nonce


def section_expired(tap, rig, a, nonce, issued_at, issued_count):
    """The nonce taken first, used after its 120 s (fewer than 16 issued since)."""
    api = rig.api
    left = issued_at + 122 - time.monotonic()
    if left > 0:
        tap.note(f"waiting {left:.0f} s for the first nonce to expire (120 s)")
        time.sleep(left)
    evicting = api.nonces_issued - issued_count
    v2 = open(os.path.join(a.bundles, "www-v2.bnd"), "rb").read()
    r, _ = api.push_raw("www", v2, nonce=nonce)
    tap.check(f"a nonce older than 120 s: 401 nonce_expired ({evicting} issued since, < 16)",
              evicting < 16 and r.status == 401 and code_of((r.json() or {}).get("error")) ==
              "nonce_expired", r)


def section_http(tap, rig):
    host = rig.control
    with socket.create_connection((host, 80), timeout=10) as s:
        s.sendall(b"GARBAGE / NOT-HTTP\r\n\r\n")
        r = read_response(s, time.monotonic() + 10)
        s.settimeout(5)
        try:
            closed = s.recv(1) == b""
        except (ConnectionResetError, socket.timeout):
            closed = True
    tap.check("malformed HTTP: 400 and the connection closed", r.status == 400 and closed, r)
    with socket.create_connection((host, 80), timeout=10) as s:
        try:
            s.sendall(b"GET /v1/ping HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8000 + b"\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            r = read_response(s, time.monotonic() + 10)
        except (ConnectionError, socket.timeout) as e:
            r = Response(0, {}, str(e).encode())
    tap.check("oversized headers: 431", r.status == 431, r)
    # A stalled client: half a head, then nothing. Others are served meanwhile.
    stalled = socket.create_connection((host, 80), timeout=30)
    stalled.sendall(b"GET /v1/ping HTTP/1.1\r\nHo")
    t0 = time.monotonic()
    served = all(request(host, "GET", "/v1/ping", timeout=5).status == 200 for _ in range(5))
    stalled.settimeout(40)
    try:
        data = stalled.recv(4096)
    except (ConnectionResetError, socket.timeout):
        data = b""
    waited = time.monotonic() - t0
    stalled.close()
    tap.check("a stalled client: others served meanwhile, it is answered 408 or closed within 40 s",
              served and waited < 40 and (data == b"" or b" 408 " in data), (served, waited, data[:200]))


def section_bad(tap, rig, a):
    api = rig.api
    with open(os.path.join(a.bundles, "bad", "index.json")) as f:
        classes = json.load(f)["classes"]
    before = api.guests()["www"]
    v_before = rig.www_version()
    codes = {}
    for c in classes:
        data = open(os.path.join(a.bundles, "bad", c["file"]), "rb").read()
        try:
            r, _ = api.push_raw(c["guest"], data, timeout=120)
        except Exception as e:
            tap.check(f"bad bundle {c['class']}: refused", False, f"{type(e).__name__}: {e}")
            continue
        body = r.json() or {}
        code = code_of(body.get("error"))
        codes[c["class"]] = code
        after = api.guests().get("www", {})
        tap.check(f"bad bundle {c['class']} ({c['why']}): {r.status} {code}, one-line message; "
                  "the same www domain serves",
                  400 <= r.status < 500 and code == code_of(c["expect"]) and
                  body.get("message") and "\n" not in body.get("message", "") and
                  after.get("domid") == before.get("domid") and rig.www_version() == v_before,
                  (r, before, after))
    distinct = {}
    for cls, code in codes.items():
        distinct.setdefault(code, []).append(cls)
    tap.note("bad bundles refused as: " + ", ".join(f"{k}={v}" for k, v in codes.items()))
    shared = {k: v for k, v in distinct.items() if len(v) > 1 and k != "bad_signature"}
    tap.check(f"each bad-bundle class has its own error code ({len(distinct)} codes for {len(codes)} "
              "classes; only the two signature breaks share bad-signature)", not shared, shared)
    # The CLI says the same to its user: a one-line reason, a non-zero exit.
    rc, doc, _, err = cli_push(a, rig.control, os.path.join(a.bundles, "bad", "wrong-board.bnd"))
    stage, code = verdict(doc)
    tap.check("flotilla push of a bad bundle: non-zero exit, verdict refused: wrong-board",
              rc != 0 and stage == "refused" and code == "wrong_board" and
              len(err.strip().splitlines()) == 1, (rc, doc, err))


def steady_free_memory(rig):
    """Xen's free memory once nothing else is starting or stopping: the
    other guests settled (hello exits after its greeting), two readings equal."""
    # hello greets, sleeps 2 s and exits: its memory returns only then.
    wait_for(lambda: all(g.get("state") != "running" or g["name"] == "www"
                         for g in rig.api.guests().values()), 30)
    last = None
    for _ in range(10):
        free, table = rig.console_status()
        if free == last:
            break
        last = free
        time.sleep(1.0)
    return free, table


def section_swap(tap, rig, a, bench):
    api = rig.api
    free_before, table = steady_free_memory(rig)
    old = api.guests()["www"]
    v_old = rig.www_version()
    load = LoadLoop(rig.www)
    load.start()
    time.sleep(1.0)
    download = SlowDownload(rig.www, float(os.environ.get("PUSH_DOWNLOAD_S", "12")))
    download.start()
    download.started.wait(20)
    # A browser's idle keep-alive connection to the old version; a thread
    # notes how and when it ends.
    idle = socket.create_connection((rig.www, 80), timeout=10)
    idle.sendall(b"GET /version HTTP/1.1\r\nHost: www\r\n\r\n")
    idle_first = read_response(idle, time.monotonic() + 10)
    idle_since = time.monotonic()
    idle_end = {}

    def watch_idle():
        idle.settimeout(60)
        try:
            idle_end["how"] = "a clean close (FIN)" if idle.recv(1) == b"" else "data"
        except socket.timeout:
            idle_end["how"] = "nothing: still open"
        except OSError as e:
            idle_end["how"] = f"an error: {e}"
        idle_end["after_s"] = time.monotonic() - idle_since
    watcher = threading.Thread(target=watch_idle, daemon=True)
    watcher.start()
    t_push = time.monotonic()
    rc, doc, seconds, err = cli_push(a, rig.control, os.path.join(a.bundles, "www-v2.bnd"))
    stage, code = verdict(doc)
    tap.check("flotilla push www 2.0.0 under load: exit 0, confirmed", rc == 0 and stage == "confirmed",
              (rc, doc, err))
    # Replaced, the old version closes it (flotilla_draining()): the client
    # sees a clean close and reconnects to the new one. Left open, it would
    # be reset at its next request once the switch stopped pinning it. By
    # itself www closes an idle connection only after 15 s (its request
    # timeout): the close must come before that, from the switch-over.
    watcher.join(20)
    idle.close()
    tap.check("an idle keep-alive connection to the old version is closed cleanly by it once "
              "replaced, before its own 15 s idle timeout (its client reconnects to the new one)",
              idle_first.status == 200 and idle_end.get("how") == "a clean close (FIN)" and
              idle_end.get("after_s", 99) < 14, (idle_first, idle_end))
    tap.note(f"idle keep-alive connection: {idle_end.get('how')} {idle_end.get('after_s', 0):.1f} s "
             "after its last response")
    time.sleep(2.0)
    load.finish()
    s = load.summary(since=t_push - 0.5)
    tap.note(f"swap under load: {s['requests']} requests, {s['failed']} failed, longest gap "
             f"{s['gap_ms']:.0f} ms; push took {seconds:.2f} s")
    tap.check(f"no request failed across the swap ({s['requests']} requests)",
              s["failed"] == 0 and s["requests"] > 10, s["failures"])
    vs = s["versions"]
    first_new = vs.index("2.0.0") if "2.0.0" in vs else len(vs)
    tap.check("new connections reach 2.0.0 from the switch-over on, never the old one again",
              first_new < len(vs) and all(v == "2.0.0" for v in vs[first_new:]) and
              (not vs[:first_new] or set(vs[:first_new]) == {v_old}), vs[max(0, first_new - 3):first_new + 3])
    r = request(rig.www, "GET", "/healthz", timeout=5)
    tap.check("2.0.0 serves afterwards (/version, X-Www-Version, /healthz)",
              rig.www_version() == "2.0.0" and r.headers.get("x-www-version") == "2.0.0" and
              r.status == 200, r)
    download.join(120)
    tap.check("a slow 4 MiB download begun on the old version completes from it, byte-identical",
              download.error is None and download.version == v_old and
              hashlib.sha256(download.data).digest() == hashlib.sha256(testfile(4 << 20)).digest(),
              (download.error, download.version, len(download.data)))
    new = api.guests()["www"]
    tap.check("GET /v1/guests: www 2.0.0 runs in a new domain", new.get("version") == "2.0.0" and
              new.get("domid") != old.get("domid") and new.get("state") == "running", (old, new))
    free_after = None

    def memory_back():
        nonlocal free_after, table
        free_after, table = rig.console_status()
        return abs(free_after - free_before) <= 1
    back = wait_for(memory_back, 20, interval=1.0)
    gone = not re.search(rf"\bd{old.get('domid')}\b", table)
    tap.check(f"the old domain d{old.get('domid')} is gone and Xen's free memory is back to its level "
              f"({free_before} -> {free_after} MiB)", back and gone, table)
    op = api.operation("www")
    ms = op.get("ms", {})
    tap.note(f"operation: {json.dumps(op)}")
    if bench is not None and op.get("stage") != "confirmed":
        bench["ota_swap_note"] = f"not confirmed: {op.get('stage')} {op.get('code')}"
    elif bench is not None:
        bench.update({"ota_swap_push_to_confirmed_ms": ms.get("finished"),
                      "ota_swap_build_to_healthy_ms": (ms["healthy"] - ms["built"])
                      if "healthy" in ms and "built" in ms else None,
                      "ota_swap_install_ms": ms.get("installed"),
                      "ota_swap_build_to_ready_ms": (ms["ready"] - ms["built"])
                      if "ready" in ms and "built" in ms else None,
                      "ota_swap_switched_ms": ms.get("switched"),
                      "ota_swap_board_gap_ms": op.get("gap_ms"),
                      "ota_switch_gap_ms": round(s["gap_ms"], 1),
                      "ota_failed_requests_under_load": s["failed"],
                      "ota_swap_requests_under_load": s["requests"],
                      "ota_swap_cli_s": round(seconds, 3),
                      "ota_swap_mode": op.get("mode")})
    return s


FAULTS = [("crash-start", "2.0.1", "crashed", "crashes at start"),
          ("never-ready", "2.0.2", "not_ready", "never calls flotilla_ready()"),
          ("probe-500", "2.0.3", "probe_failed", "fails its HTTP probe (/healthz 500)")]


def section_faults(tap, rig, a, bench):
    api = rig.api
    for variant, version, want, what in FAULTS:
        serving = rig.www_version()
        before = api.guests()["www"]
        load = LoadLoop(rig.www)
        load.start()
        t0 = time.monotonic()
        rc, doc, seconds, err = cli_push(a, rig.control, os.path.join(a.bundles, f"www-{variant}.bnd"))
        stage, code = verdict(doc)
        time.sleep(1.0)
        load.finish()
        s = load.summary()
        after = api.guests()["www"]
        tap.check(f"a version that {what}: rolled back ({want}), flotilla push exits non-zero",
                  rc != 0 and stage == "rolled_back" and code == want, (rc, doc, err))
        tap.check(f"{variant}: {serving} served throughout ({s['requests']} requests, none failed), "
                  "the same domain", s["failed"] == 0 and set(s["versions"]) == {serving} and
                  after.get("domid") == before.get("domid") and after.get("version") == serving,
                  (s["failures"], set(s["versions"]), before, after))
        if bench is not None and variant == "probe-500" and stage == "rolled_back":
            op = doc.get("operation") or {}
            bench["ota_rollback_probe_failed_ms"] = (op.get("ms") or {}).get("finished")
            bench["ota_rollback_probe_failed_cli_s"] = round(seconds, 3)
        tap.note(f"{variant}: verdict after {seconds:.1f} s: {(doc.get('operation') or {}).get('reason')}")


def section_crashloop(tap, rig, a, bench):
    api = rig.api
    serving = rig.www_version()
    rc, doc, seconds, err = cli_push(a, rig.control, os.path.join(a.bundles, "www-crash-later.bnd"))
    stage, code = verdict(doc)
    t_confirmed = time.monotonic()
    tap.check("a version that crashes 5 s after every start is confirmed first (exit 0)",
              rc == 0 and stage == "confirmed", (rc, doc, err))

    def rolled_back():
        return api.guests()["www"].get("version") == serving and rig.www_version() == serving
    back = wait_for(rolled_back, 180, interval=1.0)
    op = api.operation("www")
    took = time.monotonic() - t_confirmed
    ok_serving = wait_for(lambda: rig.www_version() == serving, 10)
    rig.board.collect(1.0)  # the console is read only when asked: take what it printed
    crashes = len(re.findall(r"crashing on purpose", rig.board.output))
    tap.check(f"then it crash-loops and is rolled back by itself, hot: {serving} serves again "
              f"({took:.0f} s after confirmation, {crashes} crashes seen)",
              back and ok_serving and crashes >= 2,
              (op, crashes, re.findall(r"^(?:\[www[^\]]*\]|control: www:).*$", rig.board.output, re.M)[-40:]))
    tap.note(f"crash loop: operation {op.get('kind')} {op.get('stage')} {op.get('code')}: "
             f"{op.get('reason')}")
    if bench is not None and back:
        bench["ota_crashloop_rollback_s"] = round(took, 1)


def section_concurrent(tap, rig, a, bench):
    api = rig.api
    big = os.path.join(a.bundles, "www-pad1m.bnd")
    push = start_cli_push(a, rig.control, big)
    # Wait until the upload is under way.
    wait_for(lambda: api.operation("www").get("stage") == "receiving", 20, interval=0.05)
    v2 = open(os.path.join(a.bundles, "www-v2.bnd"), "rb").read()
    try:
        second, _ = api.push_raw("www", v2, timeout=30)
    except Exception as e:
        second = Response(0, {}, str(e).encode())
    results = []

    def client(k):
        # 2 of them stall (half a head); the others ping until answered.
        if k < 2:
            try:
                with socket.create_connection((rig.control, 80), timeout=30) as s:
                    s.sendall(b"GET /v1/ping HTTP/1.1\r\n")
                    time.sleep(5)
            except OSError:
                pass
            results.append(True)
            return
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if request(rig.control, "GET", "/v1/ping", timeout=10).status == 200:
                    results.append(True)
                    return
            except OSError:
                time.sleep(0.2)
        results.append(False)
    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    out, err = push.communicate(timeout=300)
    doc = {}
    for line in reversed(out.strip().splitlines()):
        try:
            doc = json.loads(line)
            break
        except ValueError:
            pass
    stage, code = verdict(doc)
    tap.check("a second push of www while one runs: 409", second.status == 409, second)
    tap.check(f"64 concurrent connections during a 1 MiB push: all {sum(results)} answered",
              len(results) == 64 and all(results), results.count(False))
    tap.check("the 1 MiB push completes and is confirmed meanwhile", push.returncode == 0 and
              stage == "confirmed", (push.returncode, doc, err))
    r = request(rig.control, "GET", "/v1/ping", timeout=10)
    tap.check("the API answers afterwards", r.status == 200, r)
    op = doc.get("operation") or {}
    ms = op.get("ms") or {}
    if ms.get("installed"):
        mbps = os.path.getsize(big) / 1e6 / (ms["installed"] / 1000)
        tap.note(f"1 MiB push (under 64 clients): installed after {ms['installed']} ms: {mbps:.2f} MB/s")


def measure_push(tap, rig, a, bundle, label, bench, key):
    """A push alone: bytes over the time to 'installed' (the streaming install)."""
    rc, doc, seconds, err = cli_push(a, rig.control, bundle)
    stage, code = verdict(doc)
    op = doc.get("operation") or {}
    ms = (op.get("ms") or {}).get("installed")
    size = os.path.getsize(bundle)
    if ms:  # the upload and install are timed whatever the swap's verdict
        mbps = size / 1e6 / (ms / 1000)
        tap.note(f"{label} push: {size} bytes installed in {ms} ms ({mbps:.2f} MB/s); verdict {stage} "
                 f"after {seconds:.2f} s")
        if bench is not None:
            bench[f"ota_push_{key}_mbps"] = round(mbps, 3)
            if rc == 0:
                bench[f"ota_push_{key}_confirmed_s"] = round(seconds, 3)
            before, after = op.get("ram_high_water_before"), op.get("ram_high_water_installed")
            if before is not None and after is not None:
                # The high-water mark's rise across the install: what the
                # install needed beyond what the control domain had used.
                bench[f"ota_install_ram_growth_bytes_{key}"] = after - before
                bench[f"ota_install_ram_high_water_bytes_{key}"] = after
                tap.note(f"{label} push: RAM high-water {before} -> {after} bytes")
            bench[f"ota_push_{key}_verdict"] = f"{stage} {code or ''}".strip()
        return rc == 0
    tap.note(f"{label} push not measured: exit {rc}, {stage} {code}: {err.strip()[:200]}")
    if bench is not None:
        bench[f"ota_push_{key}_note"] = f"{stage} {code}".strip()
    return False


def measure_push16(tap, rig, a, bench):
    """The 16 MiB push on a card whose slots hold it: installed, then not run."""
    bundle = os.path.join(a.bundles, "www-pad16m.bnd")
    serving = rig.www_version()
    measure_push(tap, rig, a, bundle, "16 MiB", bench, "16mib")
    op = rig.api.operation("www")
    tap.check(f"the 16 MiB bundle is received and installed ({op.get('bytes')} of "
              f"{os.path.getsize(bundle)} bytes; verdict {op.get('stage')} {op.get('code')})",
              bool((op.get("ms") or {}).get("installed")), op)
    tap.check(f"www {serving} serves on after the 16 MiB version fails to start",
              wait_for(lambda: rig.www_version() == serving, 30), rig.www_version())


def section_powercut(tap, rig, a, cuts):
    """Kill QEMU during a push (upload) and during the swap; boot the card again."""
    bundles = {"2.1.0": os.path.join(a.bundles, "www-pad1m.bnd"),
               "2.1.1": os.path.join(a.bundles, "www-pad1mb.bnd")}
    order = ["receiving", "installed", "starting", "healthy", "confirmed"]
    # How long a 1 MiB upload takes here, so the cuts fall inside it.
    upload_s = 2.0
    other = "2.1.1" if rig.www_version() == "2.1.0" else "2.1.0"
    rc, doc, seconds, err = cli_push(a, rig.control, bundles[other])
    installed = ((doc.get("operation") or {}).get("ms") or {}).get("installed")
    if installed:  # whatever the verdict: the upload is what is timed
        upload_s = installed / 1000
    tap.note(f"power cuts: a 1 MiB upload takes {upload_s:.2f} s here")
    moments = [("upload", (k + 0.5) / cuts) for k in range(cuts)]
    stages = [("installed", 0.0), ("starting", 0.0), ("starting", 0.15), ("starting", 0.4),
              ("healthy", 0.0), ("healthy", 0.05), ("confirmed", 0.0), ("confirmed", 0.5)]
    moments += [("stage", st) for st in stages[:max(cuts, 6)]]
    for i, (kind, when) in enumerate(moments):
        label = (f"power cut {i + 1}: {when:.2f} into the upload" if kind == "upload"
                 else f"power cut {i + 1}: at stage {when[0]} + {when[1] * 1000:.0f} ms")
        try:
            serving = rig.www_version()
            target = "2.1.1" if serving == "2.1.0" else "2.1.0"
            bundle = bundles[target]
            push = start_cli_push(a, rig.control, bundle)
            t0 = time.monotonic()
            last = None
            if kind == "upload":
                time.sleep(upload_s * when)
            else:
                stage, delay = when
                while time.monotonic() < t0 + 120:
                    try:
                        last = rig.api.operation("www").get("stage")
                    except Exception:
                        pass
                    if last in FINAL or (last in order and order.index(last) >= order.index(stage)):
                        break
                    time.sleep(0.02)
                time.sleep(delay)
            if kind == "upload":
                try:
                    last = rig.api.operation("www").get("stage")
                except Exception:
                    pass
            rig.kill()
            push.kill()
            push.wait()
            rig.boot()
            now = rig.www_version()
            guests = rig.api.guests()
            store = slot_summary(rig.board.disk)
            slots = store["slots"] if isinstance(store, dict) else []
            confirmed = [x["version"] for x in slots if x["state"] == "confirmed"]
            # Confirmed before the cut: it must be the one serving. Still
            # receiving at the cut: the old one. In between: either, but
            # exactly one confirmed, and it serves. A slot left INSTALLING
            # by the cut is EMPTY to the store (docs/bundle-format.md): it
            # must not be what serves.
            must = target if last == "confirmed" else serving if last == "receiving" else None
            ok = (now in (serving, target) and guests.get("www", {}).get("version") == now and
                  confirmed == [now] and (must is None or now == must) and
                  not any(x["state"] == "installing" and x["version"] == now for x in slots))
            tap.check(f"{label} (last seen: {last}): after the reboot a confirmed version serves "
                      f"({serving} -> {now})", ok, (serving, target, now, guests.get("www"), store))
        except Exception as e:
            tap.check(label, False, f"{type(e).__name__}: {e}")
            try:
                rig.boot()
            except Exception:
                pass

    # A rollback cut short: the previous version was made the trial again;
    # after the reboot the confirmed one serves and the previous one is
    # still a rollback target (READY), not marked bad.
    label = "power cut during a rollback (at stage starting)"
    try:
        serving = rig.www_version()
        resp, _ = rig.api.signed("POST", "/v1/guests/www/rollback")
        previous = (resp.json().get("operation") or resp.json()).get("version") if resp.status == 202 else None
        t0 = time.monotonic()
        last = None
        while time.monotonic() < t0 + 60 and resp.status == 202:
            last = rig.api.operation("www").get("stage")
            if last != "installed":
                break
            time.sleep(0.01)
        rig.kill()
        rig.boot()
        now = rig.www_version()
        store = slot_summary(rig.board.disk)
        slots = store["slots"] if isinstance(store, dict) else []
        states = {x["version"]: x["state"] for x in slots}
        confirmed = [v for v, st in states.items() if st == "confirmed"]
        ok = (resp.status == 202 and last in ("starting", "healthy", "confirmed") and
              len(confirmed) == 1 and now == confirmed[0] and
              (now != serving or any(st == "ready" for v, st in states.items() if v != now)))
        tap.check(f"{label} (last seen: {last}): a confirmed version serves ({serving} -> {now}) "
                  f"and the other stays a rollback target (not bad)", ok,
                  (resp.status, resp.body[:200], previous, last, now, states))
    except Exception as e:
        tap.check(label, False, f"{type(e).__name__}: {e}")
        try:
            rig.boot()
        except Exception:
            pass

# -------------------------------------------------------------------- main
def enter_namespace(name):
    """Move this process into the LAN's namespace (threads started later follow)."""
    libc = ctypes.CDLL(None, use_errno=True)
    own = os.open("/proc/self/ns/net", os.O_RDONLY)
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns")
    os.close(fd)
    return own


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("image")
    ap.add_argument("--flotilla", required=True)
    ap.add_argument("--operator-key", required=True)
    ap.add_argument("--signing-key", required=True)
    ap.add_argument("--bundles", required=True)
    ap.add_argument("--bench", help="merge ota_* figures into this JSON file")
    ap.add_argument("--only", default="all")
    a = ap.parse_args()
    only = set(a.only.split(","))
    if "bench" in only:
        only |= {"swap", "faults", "concurrent"}
    want = (lambda s: "all" in only or s in only)
    tap = Tap()
    reason = skip_reason()
    if reason:
        print(f"ok 1 - push # SKIP {reason}")
        return 0
    for path in (a.operator_key, a.flotilla):
        if not os.path.exists(path):
            tap.check(f"{path} exists (built by the push pieces)", False)
            return tap.done()
    bench = {} if a.bench else None
    work = os.path.join(BUILD, "test-work", "push")
    with Lan(work) as lan:
        tap_name = lan.add_tap()
        own_ns = enter_namespace(lan.name)
        rig = Rig(a, lan, work, tap_name)
        try:
            rig.boot()
            tap.check("the board boots the push image: control domain and www on the LAN", True)
            card = rig.board.disk
            # ---- boot 1: refusals change nothing
            if want("auth") or want("http") or want("bad"):
                time.sleep(2.0)  # let the first boot's store writes (seeding) settle
                s0, st0 = store_state(card)
                tap.note(f"store before: www {slot_summary(card)}")
                nonce, _ = rig.api.nonce()
                issued_at, issued_count = time.monotonic(), rig.api.nonces_issued
                if want("auth"):
                    tap.run("authentication refusals", section_auth, tap, rig, a, nonce)
                if want("http"):
                    tap.run("HTTP robustness", section_http, tap, rig)
                if want("auth"):
                    tap.run("expired nonce", section_expired, tap, rig, a, nonce, issued_at,
                            issued_count)
                if want("bad"):
                    tap.run("bad bundles", section_bad, tap, rig, a)
                rig.kill()
                s1, st1 = store_state(card)
                changed = sorted(k for k in set(s0) | set(s1) if s0.get(k) != s1.get(k))
                tap.check("after every refusal, QEMU stopped: the card's slot store is what it was "
                          f"(metadata, and {len(s0) - 1} non-empty slots with their heads, byte for byte)",
                          not changed, f"changed: {changed}; www {st0.guest('www')} -> {st1.guest('www')}")
                rig.boot()
            # ---- boot 2: updates
            if want("swap"):
                tap.run("push under load", section_swap, tap, rig, a, bench)
            if want("faults"):
                tap.run("faulty versions rolled back", section_faults, tap, rig, a, bench)
            if want("crashloop"):
                tap.run("crash loop after confirmation", section_crashloop, tap, rig, a, bench)
            if want("concurrent"):
                tap.run("64 connections during a push", section_concurrent, tap, rig, a, bench)
            if bench is not None and "bench" in only:
                measure_push(tap, rig, a, os.path.join(a.bundles, "www-v2.bnd"), "75 KiB", bench, "75kib")
                measure_push(tap, rig, a, os.path.join(a.bundles, "www-pad1m.bnd"), "1 MiB", bench,
                             "1mib")
            if bench is not None and "bench16" in only:
                # A card with slots over 16 MiB (make bench-push-16mib). www
                # has 16 MiB of RAM: the image cannot run, so the swap fails
                # after the install; the install is what is timed.
                measure_push16(tap, rig, a, bench)
            # ---- boots 3..: power cuts
            if want("powercut"):
                tap.run("power cuts", section_powercut, tap, rig, a,
                        int(os.environ.get("PUSH_POWERCUTS", "6")))
        except BoardTimeout as e:
            tap.check("the board answered", False, str(e))
        finally:
            rig.kill()
            libc = ctypes.CDLL(None)
            libc.setns(own_ns, CLONE_NEWNET)
            os.close(own_ns)
    if bench:
        merge_bench(a.bench, bench)
        # A push timed now: an older run's "not measured" note is stale.
        stale = [f"ota_push_{k}_note" for k in ("75kib", "1mib", "16mib")
                 if f"ota_push_{k}_mbps" in bench]
        with open(a.bench) as f:
            data = json.load(f)
        if any(k in data for k in stale):
            for k in stale:
                data.pop(k, None)
            with open(a.bench + ".tmp", "w") as f:
                json.dump(data, f, indent=2, sort_keys=True)
                f.write("\n")
            os.replace(a.bench + ".tmp", a.bench)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
