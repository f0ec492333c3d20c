#!/usr/bin/python3
"""`flotilla push / rollback / restart` against the device API protocol.

Runs the real CLI against a small HTTP/1.1 server written here that speaks
the protocol of docs/device-api.md from the board's side: it hands out
single-use nonces (GET /v1/nonce), checks each signed request's
Authorization header (board id, operator key id, nonce, and the ECDSA P-256
signature over the canonical request, verified with python3-cryptography),
commits an upload to the bundle's signed head as the board does, reads the
streamed body against its Content-Length, and serves the operation's stages
(GET /v1/guests/NAME/operation) along a script per test. It decides
nothing a board decides (no install, no health gate): each test names the
outcome, and checks what the CLI sent and how it reports and exits.

    test_push.py FLOTILLA WORKDIR
"""
import hashlib
import http.server
import json
import os
import pty
import re
import secrets
import select
import shutil
import socket
import subprocess
import sys
import threading
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

BOARD_ID = "board-17"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
# An escape character in the board's message: the CLI prints it as '?'.
UNAVAILABLE = b'{"error":"no_memory","message":"retry \\u001blater"}'


class Tap:
    def __init__(self):
        self.count = self.failed = 0

    def check(self, description, condition, detail=""):
        self.count += 1
        print(f"{'ok' if condition else 'not ok'} {self.count} - {description}", flush=True)
        if not condition:
            self.failed += 1
            for line in str(detail).splitlines()[-40:]:
                print(f"# {line}", flush=True)
        return condition


def key_id(public_key):
    point = public_key.public_bytes(serialization.Encoding.X962,
                                    serialization.PublicFormat.UncompressedPoint)
    return hashlib.sha256(point).digest()[:8].hex()


def canonical(board, method, target, nonce, commitment_hex):
    return "".join(f"{f}\n" for f in ("flotilla-request-v1", board, method, target, nonce,
                                      commitment_hex)).encode()


def verify_authorization(header, operators, nonces, method, target, commitment_hex):
    """The board's check (docs/device-api.md): None when authenticated, else
    (status, error code). Consumes the nonce it names."""
    if not header:
        return 401, "unsigned"
    m = re.fullmatch(r"Flotilla board=([^,]*), key=([0-9a-f]{16}), nonce=([0-9a-f]{32}), "
                     r"sig=([0-9a-f]{128})", header)
    if not m:
        return 401, "malformed_authorization"
    board, kid, nonce, sig = m.groups()
    if board != BOARD_ID:
        return 403, "other_board"
    if kid not in operators:
        return 403, "unknown_operator"
    if nonce not in nonces:
        return 401, "nonce"
    nonces.discard(nonce)
    r, s = int(sig[:64], 16), int(sig[64:], 16)
    try:
        operators[kid].verify(encode_dss_signature(r, s),
                              canonical(board, method, target, nonce, commitment_hex),
                              ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return 401, "bad_signature"
    return None


class Board:
    """State of the protocol server; one per test."""

    def __init__(self, operators, script=("installed", "starting", "healthy", "confirmed"),
                 refuse=None, code="", reason="", early_refusal=None, server_error=False,
                 drop=None):
        self.operators = operators        # key id -> public key
        self.script = list(script)        # stages served, one more per poll
        self.refuse = refuse              # (status, error, message) after auth
        self.early_refusal = early_refusal  # (status, error, message) after the head, before the payload
        self.server_error = server_error
        self.drop = drop                  # "at_head" / "after_body": hang up without an answer
        self.code, self.reason = code, reason
        self.nonces = set()
        self.issued = []
        self.requests = []                # one dict per request, for the checks
        self.op = {"id": 7, "kind": "update", "stage": "confirmed", "version": "1.0.0",
                   "from_version": "0.9.0", "code": "", "reason": "", "mode": "side-by-side"}
        self.step = 0
        self.lock = threading.Lock()

    def new_operation(self, kind, version):
        self.op = {"id": self.op["id"] + 1, "kind": kind, "stage": self.script[0],
                   "version": version, "from_version": "1.0.0", "code": "", "reason": "",
                   "mode": "side-by-side", "bytes": 0, "total": 0}
        # Rollback and restart install nothing: they start at "starting".
        self.step = 1 if kind != "update" and self.script[0] == "installed" else 0
        self.op["stage"] = self.script[self.step]

    def poll(self):
        """Each poll moves the operation one stage along the script."""
        # The operation that was there before (id 7) and a finished one stay put.
        if self.op["id"] != 7 and self.op["stage"] not in ("confirmed", "rolled_back", "failed",
                                                           "refused"):
            if self.step + 1 < len(self.script):
                self.step += 1
            self.op["stage"] = self.script[self.step]
            if self.op["stage"] in ("rolled_back", "failed", "refused"):
                self.op["code"], self.op["reason"] = self.code, self.reason
        return self.op


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    board = None

    def log_message(self, *args):
        pass

    def answer(self, status, document, extra=()):
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def refuse_and_drain(self, status, error, message, record):
        """An answer before the whole body: then a lingering close, so the
        client reads it (as a board's HTTP server does)."""
        self.answer(status, {"error": error, "message": message}, [("Connection", "close")])
        self.close_connection = True
        drained = 0
        try:
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(2)
            while True:
                chunk = self.connection.recv(65536)
                if not chunk:
                    break
                drained += len(chunk)
        except OSError:
            pass
        record["drained"] = drained

    def hang_up(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def do_GET(self):
        b = self.board
        record = {"method": "GET", "path": self.path}
        b.requests.append(record)
        if self.path == "/v1/nonce":
            nonce = secrets.token_hex(16)
            with b.lock:
                b.nonces.add(nonce)
                b.issued.append(nonce)
            self.answer(200, {"nonce": nonce, "board": BOARD_ID, "expires_in_ms": 120000})
        elif re.fullmatch(r"/v1/guests/[a-z][a-z0-9_-]*/operation", self.path):
            self.answer(200, b.poll())
        else:
            self.answer(404, {"error": "not_found", "message": "no such resource"})

    def do_PUT(self):
        b = self.board
        length = int(self.headers.get("Content-Length", "-1"))
        record = {"method": "PUT", "path": self.path, "content_length": length,
                  "authorization": self.headers.get("Authorization"),
                  "content_type": self.headers.get("Content-Type")}
        b.requests.append(record)
        # The head first: the signature commits to it (header + manifest + signature).
        head = self.rfile.read(24)
        header_size = int.from_bytes(head[6:8], "little")
        manifest_size = int.from_bytes(head[8:12], "little")
        signature_size = int.from_bytes(head[18:20], "little")
        head += self.rfile.read(header_size + manifest_size + signature_size - 24)
        digest = hashlib.sha256(head).hexdigest()
        refusal = verify_authorization(record["authorization"], b.operators, b.nonces, "PUT",
                                       self.path, digest)
        record["auth"] = refusal
        if refusal:
            return self.refuse_and_drain(refusal[0], refusal[1], "authentication failed", record)
        if b.early_refusal:
            return self.refuse_and_drain(*b.early_refusal, record)
        if b.drop == "at_head":
            return self.hang_up()
        body = hashlib.sha256(head)
        received = len(head)
        while received < length:
            chunk = self.rfile.read(min(65536, length - received))
            if not chunk:
                break
            body.update(chunk)
            received += len(chunk)
        record["received"] = received
        record["sha256"] = body.hexdigest()
        if b.refuse:
            return self.answer(b.refuse[0], {"error": b.refuse[1], "message": b.refuse[2]})
        if b.server_error:
            return self.answer(500, {"error": "io", "message": "the card did not answer"})
        b.new_operation("update", "1.1.0")
        b.op["bytes"] = b.op["total"] = received
        if b.drop == "after_body":
            return self.hang_up()  # the install goes on; only the answer is lost
        self.answer(202, b.op, [("Location", self.path + "/operation")])

    def do_POST(self):
        b = self.board
        length = int(self.headers.get("Content-Length", "-1"))
        body = self.rfile.read(length) if length > 0 else b""
        record = {"method": "POST", "path": self.path, "content_length": length,
                  "authorization": self.headers.get("Authorization")}
        b.requests.append(record)
        m = re.fullmatch(r"/v1/guests/([a-z][a-z0-9_-]*)/(rollback|restart)", self.path)
        if not m:
            return self.answer(404, {"error": "not_found", "message": "no such resource"})
        refusal = verify_authorization(record["authorization"], b.operators, b.nonces, "POST",
                                       self.path, hashlib.sha256(body).hexdigest())
        record["auth"] = refusal
        if refusal:
            return self.answer(refusal[0], {"error": refusal[1], "message": "authentication failed"})
        if b.refuse:
            return self.answer(b.refuse[0], {"error": b.refuse[1], "message": b.refuse[2]})
        b.new_operation(m.group(2), "1.0.0")
        self.answer(202, b.op, [("Location", f"/v1/guests/{m.group(1)}/operation")])


def serve(board):
    handler = type("BoundHandler", (Handler,), {"board": board})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def raw_server(answer):
    """A TCP server that answers every request head with these bytes and
    hangs up: what the CLI does with answers that are not the API's."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)

    def loop():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.settimeout(5)
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                conn.sendall(answer)
                conn.shutdown(socket.SHUT_WR)
                while conn.recv(65536):
                    pass
            except OSError:
                pass
            conn.close()

    threading.Thread(target=loop, daemon=True).start()
    return listener


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run(argv, env=None, timeout=60):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
    return p.returncode, p.stdout, p.stderr


def run_on_pty(argv, timeout=60):
    """stderr on a terminal (the progress bar); returns exit code, stdout, terminal bytes."""
    master, slave = pty.openpty()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([master], [], [], 0.2)
        if r:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        elif p.poll() is not None:
            break
    out = p.stdout.read().decode()
    p.wait(timeout=10)
    os.close(master)
    return p.returncode, out, seen.decode(errors="replace")


def main():
    flotilla, work = os.path.abspath(sys.argv[1]), sys.argv[2]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    os.chdir(work)
    tap = Tap()
    F = flotilla

    def must(*argv):
        rc, out, err = run([F, *argv])
        if rc != 0:
            raise SystemExit(f"setup failed: flotilla {' '.join(argv)}: {err}")

    must("keygen", "--out", "signing")
    must("keygen", "--out", "operator")
    must("keygen", "--out", "stranger")
    with open("www.img", "wb") as f:
        f.write(os.urandom(300 * 1024))
    must("sign", "--key", "signing.key", "--name", "www", "--version", "1.1.0", "--counter", "2",
         "--board", "orangepi-pc", "--nic", "lan", "www.img", "-o", "www-1.1.0.fbl")
    with open("big.img", "wb") as f:
        f.write(os.urandom(24 * 1024 * 1024))
    must("sign", "--key", "signing.key", "--name", "www", "--version", "1.2.0", "--counter", "3",
         "--board", "orangepi-pc", "big.img", "-o", "big.fbl")
    bundle = open("www-1.1.0.fbl", "rb").read()
    with open("operator.pub", "rb") as f:
        operator = serialization.load_pem_public_key(f.read())
    operators = {key_id(operator): operator}

    def board(**kw):
        b = Board(operators, **kw)
        return b, serve(b)

    # --- a push that is confirmed
    b, server = board()
    address = f"127.0.0.1:{server.server_port}"
    rc, out, err = run([F, "push", "www-1.1.0.fbl", "--to", address, "--key", "operator.key"])
    server.shutdown()
    detail = f"exit {rc}\nstdout:\n{out}\nstderr:\n{err}\nrequests: {b.requests}"
    tap.check("push: a confirmed update exits 0", rc == 0, detail)
    stages = re.findall(r"^  (installed|starting|healthy|confirmed|refused|rolled back)\b", out, re.M)
    tap.check("push prints installed, starting, healthy, confirmed in that order",
              stages == ["installed", "starting", "healthy", "confirmed"], detail)
    tap.check("after the upload: how long it took to the board's answer, and at what rate",
              re.search(r"^  uploaded +300\.\d KiB in \d+\.\d s, [\d.]+ [KM]?i?B/s to the board's answer \(HTTP 202\)\n"
                        r"  installed ", out, re.M), detail)
    tap.check("... and who serves now", re.search(r"confirmed .*www 1\.1\.0 serves \(was 1\.0\.0\)", out),
              detail)
    puts = [r for r in b.requests if r["method"] == "PUT"]
    tap.check("push uploads with PUT /v1/guests/NAME, NAME from the manifest",
              len(puts) == 1 and puts[0]["path"] == "/v1/guests/www", detail)
    put = puts[0] if puts else {}
    tap.check("the board's check accepts the operator's signature over the canonical request "
              "(signed head as body commitment)", put.get("auth", "missing") is None, detail)
    tap.check("Content-Length is the bundle's size", put.get("content_length") == len(bundle), detail)
    tap.check("the streamed body is the bundle, byte for byte",
              put.get("received") == len(bundle)
              and put.get("sha256") == hashlib.sha256(bundle).hexdigest(), detail)
    tap.check("the body is sent as application/octet-stream",
              put.get("content_type") == "application/octet-stream", detail)
    auth = put.get("authorization") or ""
    tap.check("the Authorization names this board, the operator's key id and a nonce the board issued",
              f"board={BOARD_ID}, key={key_id(operator)}, " in auth
              and any(f"nonce={n}," in auth for n in b.issued), auth)
    tap.check("progress without a terminal: plain lines ending at 100%",
              re.search(r"^  sent 300\.\d KiB of 300\.\d KiB \(100%\)", err, re.M)
              and "\r" not in err, err)

    # The server's check is not a rubber stamp: the same header fails for
    # any other method, path or body, and a nonce works once.
    nonce = re.search(r"nonce=([0-9a-f]{32})", auth)
    head_digest = hashlib.sha256(bundle[:24 + int.from_bytes(bundle[8:12], "little") + 64]).hexdigest()
    if nonce:
        for what, method, target, digest in (("method", "POST", "/v1/guests/www", head_digest),
                                             ("path", "PUT", "/v1/guests/hello", head_digest),
                                             ("body", "PUT", "/v1/guests/www", EMPTY_SHA256)):
            tap.check(f"(the test's verifier refuses the push's signature for another {what})",
                      verify_authorization(auth, operators, {nonce.group(1)}, method, target, digest)
                      == (401, "bad_signature"))
        tap.check("(... accepts it for the request signed, and a nonce once only)",
                  verify_authorization(auth, operators, {nonce.group(1)}, "PUT", "/v1/guests/www",
                                       head_digest) is None
                  and verify_authorization(auth, operators, set(), "PUT", "/v1/guests/www",
                                           head_digest) == (401, "nonce"))

    # --- progress bar on a terminal
    b, server = board()
    rc, out, term = run_on_pty([F, "push", "big.fbl", "--to", f"127.0.0.1:{server.server_port}",
                                "--key", "operator.key"])
    server.shutdown()
    tap.check("on a terminal: a progress bar redrawn in place, with percentage, rate and ETA",
              rc == 0 and "\r  [" in term and "100%" in term and "ETA" in term
              and re.search(r"MiB/s|KiB/s", term), f"exit {rc}\n{term[-600:]!r}\n{out}")
    puts = [r for r in b.requests if r["method"] == "PUT"]
    tap.check("a 24 MiB bundle streams whole", puts and puts[0].get("received") == os.path.getsize("big.fbl"),
              puts)

    # --- rolled back
    b, server = board(script=("installed", "starting", "rolled_back"), code="probe_failed",
                      reason="GET /health answered 500")
    rc, out, err = run([F, "push", "www-1.1.0.fbl", "--to", f"127.0.0.1:{server.server_port}",
                        "--key", "operator.key"])
    server.shutdown()
    detail = f"exit {rc}\nstdout:\n{out}\nstderr:\n{err}"
    tap.check("push: rolled back exits 5 (not the earlier confirmed operation's 0)", rc == 5, detail)
    tap.check("... prints the stages, then rolled back with the code and reason",
              re.search(r"installed.*\n.*starting.*\n  rolled back +probe_failed: GET /health answered 500",
                        out), detail)
    tap.check("... and one error line naming the reason",
              err.strip().splitlines()[-1:] == ["flotilla: push: www rolled back on 127.0.0.1:%d: "
                                                "probe_failed: GET /health answered 500" % server.server_port],
              detail)

    # --- refused before the payload (the board answers while the body streams)
    b, server = board(early_refusal=(403, "wrong_board", "this bundle is not for this board"))
    rc, out, err = run([F, "push", "big.fbl", "--to", f"127.0.0.1:{server.server_port}",
                        "--key", "operator.key"], timeout=60)
    server.shutdown()
    detail = f"exit {rc}\nstdout:\n{out}\nstderr:\n{err}\nrequests: {b.requests}"
    tap.check("push: a bundle refused at its head exits 4", rc == 4, detail)
    tap.check("... with the board's code and message on one line",
              "HTTP 403 wrong_board: this bundle is not for this board" in err
              and len([l for l in err.splitlines() if l.startswith("flotilla:")]) == 1, detail)
    puts = [r for r in b.requests if r["method"] == "PUT"]
    sent = (puts[0].get("drained", 0) + 24 + 600) if puts else None
    tap.check("... and the CLI stops sending the payload once refused",
              sent is not None and sent < os.path.getsize("big.fbl") // 2, f"{sent} {puts}")

    # --- refused after the upload (409: a push already running)
    b, server = board(refuse=(409, "busy", "an operation on www is under way"))
    rc, out, err = run([F, "push", "www-1.1.0.fbl", "--to", f"127.0.0.1:{server.server_port}",
                        "--key", "operator.key", "--json"])
    server.shutdown()
    detail = f"exit {rc}\nstdout:\n{out}\nstderr:\n{err}"
    tap.check("push: 409 exits 4 with the reason", rc == 4 and "HTTP 409 busy: an operation on www is under way" in err,
              detail)
    try:
        doc = json.loads(out)
    except ValueError:
        doc = {}
    tap.check("--json on a refusal: one document with result, status and the board's error",
              doc.get("result") == "refused" and doc.get("http_status") == 409 and doc.get("exit") == 4
              and doc.get("error", {}).get("code") == "busy", detail)

    # --- the connection breaks before the answer
    b, server = board(drop="after_body")
    rc, out, err = run([F, "push", "www-1.1.0.fbl", "--to", f"127.0.0.1:{server.server_port}",
                        "--key", "operator.key"])
    server.shutdown()
    detail = f"exit {rc}\nstdout:\n{out}\nstderr:\n{err}"
    tap.check("answer lost after the upload: the CLI finds its operation (a newer id) and follows it",
              rc == 0 and "the board has operation 8: following it" in out and "confirmed" in out, detail)
    tap.check("... and sent the signed PUT once (a signed request is never resent)",
              len([r for r in b.requests if r["method"] == "PUT"]) == 1, b.requests)
    b, server = board(drop="at_head")
    rc, out, err = run([F, "push", "big.fbl", "--to", f"127.0.0.1:{server.server_port}",
                        "--key", "operator.key"])
    server.shutdown()
    detail = f"exit {rc}\nstdout:\n{out}\nstderr:\n{err}"
    tap.check("board hangs up mid-upload with no operation of ours: exit 3, one line, not the old verdict",
              rc == 3 and len([l for l in err.splitlines() if l.startswith("flotilla:")]) == 1
              and re.search(r"closed the connection|broke", err) and "confirmed" not in out, detail)

    # --- a key the board does not trust
    b, server = board()
    rc, out, err = run([F, "push", "www-1.1.0.fbl", "--to", f"127.0.0.1:{server.server_port}",
                        "--key", "stranger.key"])
    server.shutdown()
    tap.check("push signed with an untrusted operator key: refused (403 unknown_operator), exit 4",
              rc == 4 and "HTTP 403 unknown_operator" in err, f"exit {rc}\n{err}")

    # --- 5xx
    b, server = board(server_error=True)
    rc, out, err = run([F, "push", "www-1.1.0.fbl", "--to", f"127.0.0.1:{server.server_port}",
                        "--key", "operator.key"])
    server.shutdown()
    tap.check("push answered 500: exit 6 with the reason", rc == 6 and "HTTP 500 io" in err,
              f"exit {rc}\n{err}")

    # --- --json on success
    b, server = board()
    rc, out, err = run([F, "push", "www-1.1.0.fbl", "--to", f"127.0.0.1:{server.server_port}",
                        "--key", "operator.key", "--json"])
    server.shutdown()
    try:
        doc = json.loads(out)
    except ValueError:
        doc = {}
    tap.check("--json: stdout is one JSON document with the final operation",
              rc == 0 and doc.get("result") == "confirmed" and doc.get("board") == BOARD_ID
              and doc.get("guest") == "www" and doc.get("operation", {}).get("stage") == "confirmed"
              and doc.get("operation", {}).get("id") == 8, f"exit {rc}\n{out}\n{err}")
    tap.check("--json: the upload's bytes and time to the board's answer",
              doc.get("upload", {}).get("bytes") == len(bundle) and doc["upload"].get("ms", 0) > 0, out)
    tap.check("--json without a terminal prints no progress", "sent " not in err, err)

    # --- unreachable
    port = free_port()
    rc, out, err = run([F, "push", "www-1.1.0.fbl", "--to", f"127.0.0.1:{port}", "--key", "operator.key"])
    tap.check("push to nothing: exit 3, one line saying it cannot reach the board",
              rc == 3 and len(err.strip().splitlines()) == 1 and "cannot reach 127.0.0.1" in err,
              f"exit {rc}\n{err}")
    rc, out, err = run([F, "push", "www-1.1.0.fbl", "--to", f"127.0.0.1:{port}", "--key", "operator.key",
                        "--json"])
    try:
        doc = json.loads(out)
    except ValueError:
        doc = {}
    tap.check("--json when unreachable: result unreachable, exit 3",
              rc == 3 and doc.get("result") == "unreachable", f"exit {rc}\n{out}\n{err}")

    # --- answers that are not the device API's
    for what, answer, code, pattern in (
            ("not HTTP", b"SSH-2.0-OpenSSH_9.2\r\n\r\n", 3, "not an HTTP/1.x answer"),
            ("headers over 8 KiB", b"HTTP/1.1 200 OK\r\nX: " + b"x" * 9000 + b"\r\n\r\n", 3,
             "headers over 8192 bytes"),
            ("a chunked answer", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 3,
             "Transfer-Encoding chunked is not supported"),
            ("200 without a nonce", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", 3,
             "no nonce and board id"),
            ("503 to everything", b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: %d\r\n\r\n%s"
             % (len(UNAVAILABLE), UNAVAILABLE), 6,
             "GET /v1/nonce: HTTP 503: retry ?later")):
        listener = raw_server(answer)
        rc, out, err = run([F, "push", "www-1.1.0.fbl", "--to", f"127.0.0.1:{listener.getsockname()[1]}",
                            "--key", "operator.key"], timeout=30)
        listener.close()
        tap.check(f"a server answering {what}: exit {code}, one line saying so",
                  rc == code and pattern in err and len(err.strip().splitlines()) == 1,
                  f"exit {rc}\n{err}")

    # --- no verdict in time
    b, server = board(script=("installed", "starting"))
    t0 = time.monotonic()
    rc, out, err = run([F, "push", "www-1.1.0.fbl", "--to", f"127.0.0.1:{server.server_port}",
                        "--key", "operator.key", "--timeout", "2"])
    took = time.monotonic() - t0
    server.shutdown()
    tap.check("no verdict within --timeout: exit 7 naming the last stage",
              rc == 7 and "last stage: starting" in err and took < 15, f"exit {rc} after {took:.1f} s\n{err}")

    # --- local errors: nothing is sent
    with open("junk.fbl", "wb") as f:
        f.write(b"not a bundle at all" * 10)
    rc, out, err = run([F, "push", "junk.fbl", "--to", f"127.0.0.1:{port}", "--key", "operator.key"])
    tap.check("push of a file that is not a bundle: exit 1 before connecting",
              rc == 1 and "not a bundle" in err and len(err.strip().splitlines()) == 1, f"exit {rc}\n{err}")
    rc, out, err = run([F, "push", "www-1.1.0.fbl", "--to", "127.0.0.1:1", "--key", "operator.pub"])
    tap.check("push with a public key as operator key: exit 1, one line",
              rc == 1 and "not a private key" in err, f"exit {rc}\n{err}")
    rc, out, err = run([F, "push", "www-1.1.0.fbl", "--key", "operator.key"])
    tap.check("push without --to: usage error (2)", rc == 2 and "missing --to" in err, err)

    # --- the config file
    b, server = board()
    os.makedirs("conf/keys")
    shutil.copy("operator.key", "conf/keys/op.key")
    with open("conf/config", "w") as f:
        f.write("# boards I look after\n"
                "key = keys/op.key    ; relative to this file\n\n"
                "[board lab]\n"
                f"address = 127.0.0.1:{server.server_port}\n"
                "[board other]\n"
                "address = 192.0.2.1\n"
                "key = /nonexistent.key\n")
    env = dict(os.environ, FLOTILLA_CONFIG=os.path.abspath("conf/config"))
    rc, out, err = run([F, "push", "www-1.1.0.fbl", "--to", "lab"], env=env)
    tap.check("config file: --to names a board, the default key signs", rc == 0 and "confirmed" in out,
              f"exit {rc}\n{out}\n{err}")
    rc, out, err = run([F, "rollback", "lab", "www"], env=env)
    posts = [r for r in b.requests if r["method"] == "POST"]
    detail = f"exit {rc}\n{out}\n{err}\n{posts}"
    tap.check("rollback BOARD NAME: signed POST /v1/guests/NAME/rollback, Content-Length 0, accepted",
              posts and posts[0]["path"] == "/v1/guests/www/rollback" and posts[0]["content_length"] == 0
              and posts[0]["auth"] is None, detail)
    stages = re.findall(r"^  (installed|starting|healthy|confirmed)\b", out, re.M)
    tap.check("rollback follows the operation to confirmed (exit 0), no 'installed' stage",
              rc == 0 and stages == ["starting", "healthy", "confirmed"], detail)
    b.script = ["starting", "failed"]
    b.code, b.reason = "crashed", "exited during start"
    rc, out, err = run([F, "restart", "lab", "www", "--json"], env=env)
    try:
        doc = json.loads(out)
    except ValueError:
        doc = {}
    tap.check("restart that fails: exit 6, --json names the code",
              rc == 6 and doc.get("result") == "failed" and doc.get("error", {}).get("code") == "crashed"
              and doc.get("operation", {}).get("kind") == "restart", f"exit {rc}\n{out}\n{err}")
    server.shutdown()
    nonces = [re.search(r"nonce=(\w+)", r.get("authorization") or "").group(1)
              for r in b.requests if r.get("authorization")]
    tap.check("every signed request used its own nonce", len(nonces) == 3 and len(set(nonces)) == 3, nonces)
    rc, out, err = run([F, "rollback", "other", "www"], env=env)
    tap.check("a board's own key = overrides the default (a missing key file is one line, exit 1)",
              rc == 1 and "/nonexistent.key" in err and len(err.strip().splitlines()) == 1, f"exit {rc}\n{err}")
    rc, out, err = run([F, "rollback", "nowhere/x", "www"], env=env)
    tap.check("a name neither in the config file nor an address: usage error (2)",
              rc == 2 and "neither a board in" in err, f"exit {rc}\n{err}")
    with open("conf/bad", "w") as f:
        f.write("[board lab]\naddres = 1.2.3.4\n")
    rc, out, err = run([F, "rollback", "lab", "www"], env=dict(env, FLOTILLA_CONFIG="conf/bad"))
    tap.check("a typo in the config file: FILE:LINE and the setting, exit 1",
              rc == 1 and "conf/bad:2: unknown setting 'addres'" in err, f"exit {rc}\n{err}")
    rc, out, err = run([F, "rollback", "lab", "www"], env=dict(env, FLOTILLA_CONFIG="conf/missing"))
    tap.check("$FLOTILLA_CONFIG naming no file: exit 1", rc == 1 and "conf/missing" in err, f"exit {rc}\n{err}")
    home = os.path.abspath("home")
    os.makedirs(f"{home}/.config/flotilla")
    shutil.copy("conf/config", f"{home}/.config/flotilla/config")
    shutil.copytree("conf/keys", f"{home}/.config/flotilla/keys")
    env2 = {k: v for k, v in os.environ.items() if k not in ("FLOTILLA_CONFIG", "XDG_CONFIG_HOME")}
    env2["HOME"] = home
    b2, server2 = board()
    with open(f"{home}/.config/flotilla/config", "w") as f:
        f.write(f"key = ~/.config/flotilla/keys/op.key\n[board lab]\naddress = 127.0.0.1:{server2.server_port}\n")
    rc, out, err = run([F, "restart", "lab", "www"], env=env2)
    server2.shutdown()
    tap.check("without $FLOTILLA_CONFIG: ~/.config/flotilla/config, with ~ in key paths",
              rc == 0 and "confirmed" in out, f"exit {rc}\n{out}\n{err}")
    rc, out, err = run([F, "rollback", "127.0.0.1:1", "www", "--key", "operator.key"])
    tap.check("rollback to nothing: exit 3", rc == 3 and "cannot reach" in err, f"exit {rc}\n{err}")
    rc, out, err = run([F, "rollback", "lab", "Bad!", "--key", "operator.key"], env=env)
    tap.check("rollback with a bad guest name: usage error (2)", rc == 2 and "bad guest name" in err, err)

    print(f"1..{tap.count}")
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main())
