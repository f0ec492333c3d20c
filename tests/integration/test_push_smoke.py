#!/usr/bin/python3
"""User job (smoke): push a signed update to the board over the device API.

The default orangepi-pc image boots in QEMU on a LAN (a network namespace
with a TAP and dnsmasq, as in test_board_www.py). A newer `hello` is signed
with the build's signing key; requests are signed here, in Python, with the
build's development operator key (the scheme of docs/device-api.md), so
this suite does not depend on the `flotilla push` CLI. It proves:

  - unsigned, signed with a bundle key (wrong role), and replayed requests
    are refused (401/403) and change nothing: slots and operation as before;
  - a bundle pushed to another guest's name is refused with its reason, the
    refusal recorded in that guest's operation, the card unchanged;
  - a body larger than a slot is refused with 413 before any byte is sent;
  - a good push answers 202 + Location, and its operation reaches a final
    stage (the version it reached is reported).

    test_push_smoke.py IMAGE --flotilla CLI --signing-key K --operator-key K --hello IMG

Needs root (network namespaces, TAP): skips with "needs root" otherwise.
Inside the namespace it runs itself as the HTTP client (--request ...).
"""
import argparse
import hashlib
import json
import os
import re
import socket
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"
CONTROL_NET = r"^control: net: (\d+\.\d+\.\d+\.\d+)/\d+ via DHCP"
SLOTS = r"control:   hello +A [^\n]* B [^\n]*counter \d+[^\n]*"


# ------------------------------------------------------------ the client side
def http(addr, method, path, headers=None, body=b"", send_body=True, timeout=60):
    """One request on its own connection: (status, headers dict, body bytes)."""
    s = socket.create_connection((addr, 80), timeout=timeout)
    head = f"{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n"
    hdrs = dict(headers or {})
    if method in ("PUT", "POST") and "Content-Length" not in hdrs:
        hdrs["Content-Length"] = str(len(body))
    for k, v in hdrs.items():
        head += f"{k}: {v}\r\n"
    s.sendall(head.encode() + b"\r\n")
    if send_body and body:
        try:
            view = memoryview(body)
            for i in range(0, len(body), 16384):
                s.sendall(view[i:i + 16384])
        except OSError:
            pass  # the board answered early and closed: read its answer
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    s.close()
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    fields = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        fields[k.strip().lower()] = v.strip()
    return status, fields, rest


def bundle_head(bundle):
    """Header, manifest and signature: what an operator signs for a push."""
    header_size, = struct.unpack_from("<H", bundle, 6)
    manifest_size, = struct.unpack_from("<I", bundle, 8)
    signature_size, = struct.unpack_from("<H", bundle, 18)
    return bundle[:header_size + manifest_size + signature_size]


def authorization(key_file, board, method, target, nonce, commitment):
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, utils
    with open(key_file, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    point = key.public_key().public_bytes(serialization.Encoding.X962,
                                          serialization.PublicFormat.UncompressedPoint)
    key_id = hashlib.sha256(point).hexdigest()[:16]
    canonical = (f"flotilla-request-v1\n{board}\n{method}\n{target}\n{nonce}\n"
                 f"{hashlib.sha256(commitment).hexdigest()}\n").encode()
    r, s = utils.decode_dss_signature(key.sign(canonical, ec.ECDSA(hashes.SHA256())))
    sig = r.to_bytes(32, "big").hex() + s.to_bytes(32, "big").hex()
    return f"Flotilla board={board}, key={key_id}, nonce={nonce}, sig={sig}"


def client(a):
    """--request mode, inside the LAN: prints one JSON line with the answer."""
    body = open(a.body, "rb").read() if a.body else b""
    headers = {}
    nonce = a.nonce
    if a.sign:
        status, _, text = http(a.addr, "GET", "/v1/nonce")
        answer = json.loads(text)
        nonce = nonce or answer["nonce"]
        commitment = bundle_head(body) if a.method == "PUT" and body else body
        headers["Authorization"] = authorization(a.sign, answer["board"], a.method, a.path,
                                                 nonce, commitment)
    if a.length is not None:
        headers["Content-Length"] = str(a.length)
    status, fields, text = http(a.addr, a.method, a.path, headers, body,
                                send_body=a.length is None)
    print(json.dumps({"status": status, "location": fields.get("location", ""),
                      "body": text.decode("utf-8", "replace"), "nonce": nonce}))
    return 0


# ------------------------------------------------------------ the test
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("image", nargs="?")
    ap.add_argument("--flotilla")
    ap.add_argument("--signing-key")
    ap.add_argument("--operator-key")
    ap.add_argument("--hello")
    # client mode
    ap.add_argument("--request", action="store_true")
    ap.add_argument("--addr")
    ap.add_argument("--method")
    ap.add_argument("--path")
    ap.add_argument("--body")
    ap.add_argument("--sign")
    ap.add_argument("--nonce")
    ap.add_argument("--length", type=int)
    a = ap.parse_args()
    if a.request:
        return client(a)

    sys.path.insert(0, HERE)
    from harness import BUILD, READY, Board, Tap
    from netns import Lan, skip_reason
    tap = Tap()
    reason = skip_reason()
    if not reason and not (a.operator_key and os.path.exists(a.operator_key)):
        reason = "no development operator key (CONFIG_OTA_OPERATOR_KEYS is set: a fleet build)"
    if reason:
        print(f"ok 1 - push-smoke # SKIP {reason}")
        return 0
    work = os.path.join(BUILD, "test-work", "push-smoke")
    os.makedirs(work, exist_ok=True)
    good = os.path.join(work, "hello-1.1.0.bnd")
    subprocess.run([a.flotilla, "sign", "--key", a.signing_key, "--name", "hello", "--version",
                    "1.1.0", "--counter", "2", "--board", "orangepi-pc", "--memory", "16",
                    a.hello, "-o", good], check=True, stdout=subprocess.DEVNULL)
    size = os.path.getsize(good)

    with Lan(os.path.join(work, "lan")) as lan:
        nic = lan.add_tap()
        with Board(a.image, work, nic_args=lan.qemu_nic(nic), wrapper=lan.wrap([])) as board:
            board.expect(READY, 120)
            addr = board.expect(CONTROL_NET, 60).group(1)

            def request(method, path, body=None, sign=None, nonce=None, length=None):
                cmd = [PY, os.path.abspath(__file__), "--request", "--addr", addr, "--method",
                       method, "--path", path]
                for flag, value in (("--body", body), ("--sign", sign), ("--nonce", nonce),
                                    ("--length", length)):
                    if value is not None:
                        cmd += [flag, str(value)]
                out = lan.run(cmd, timeout=300)
                try:
                    return json.loads(out.stdout.strip().splitlines()[-1])
                except (ValueError, IndexError):
                    return {"status": 0, "body": (out.stdout or "") + (out.stderr or ""),
                            "location": "", "nonce": None}

            def slots():
                board.pos = len(board.output)
                board.send("s")
                return board.expect(SLOTS, 15).group(0).strip()

            def operation(name):
                r = request("GET", f"/v1/guests/{name}/operation")
                try:
                    return json.loads(r["body"])
                except ValueError:
                    return {"stage": "?", "raw": r}

            def error(r):
                try:
                    return json.loads(r["body"]).get("error")
                except ValueError:
                    return None

            before = slots()
            op0 = operation("hello")
            tap.check("GET /v1/guests/hello/operation answers without a signature (no operation yet)",
                      op0.get("stage") == "idle" and op0.get("guest") == "hello", op0)

            r = request("PUT", "/v1/guests/hello", body=good)
            tap.check("an unsigned push is refused: 401 unsigned",
                      r["status"] == 401 and error(r) == "unsigned", r)
            r = request("PUT", "/v1/guests/hello", body=good, sign=a.signing_key)
            tap.check("a push signed with a bundle signing key is refused: 403 wrong_role",
                      r["status"] == 403 and error(r) == "wrong_role", r)
            r = request("POST", "/v1/guests/hello/restart", sign=a.operator_key,
                        nonce="00" * 16)
            tap.check("a request with a nonce the board never issued is refused: 401 nonce",
                      r["status"] == 401 and error(r) == "nonce", r)
            tap.check("after those refusals the card's slots and the operation are unchanged",
                      slots() == before and operation("hello").get("stage") == "idle",
                      (before, board.output[-800:]))

            r = request("PUT", "/v1/guests/www", body=good, sign=a.operator_key)
            op = operation("www")
            tap.check("hello's bundle pushed to www is refused (422 wrong-guest), the reason in "
                      "www's operation",
                      r["status"] == 422 and error(r) == "wrong-guest" and
                      op.get("stage") == "refused" and op.get("code") == "wrong-guest", (r, op))
            r = request("PUT", "/v1/guests/nosuch", body=good, sign=a.operator_key)
            tap.check("a push to a name the plan does not have is refused: 404",
                      r["status"] == 404, r)
            r = request("PUT", "/v1/guests/hello", body=good, sign=a.operator_key,
                        length=256 << 20)
            tap.check("a body larger than a slot is refused with 413 before it is sent",
                      r["status"] == 413 and error(r) == "oversize", r)
            tap.check("after the refused pushes hello's slots are as they were",
                      slots() == before, (before, board.output[-800:]))

            started = time.monotonic()
            r = request("PUT", "/v1/guests/hello", body=good, sign=a.operator_key)
            sent = time.monotonic() - started
            tap.check("a good push is accepted: 202 with Location: /v1/guests/hello/operation",
                      r["status"] == 202 and r["location"] == "/v1/guests/hello/operation", r)
            tap.note(f"{size} bytes pushed and answered in {sent:.2f} s "
                     f"({size / sent / 1e3:.0f} kB/s, QEMU)")
            op = operation("hello")
            deadline = time.monotonic() + 90
            while not op.get("final") and time.monotonic() < deadline:
                time.sleep(1)
                op = operation("hello")
            tap.check("the push's operation reaches a final stage",
                      op.get("final") is True and op.get("kind") == "update" and
                      op.get("version") == "1.1.0" and op.get("bytes") == size, op)
            tap.note(f"operation: stage {op.get('stage')} {op.get('code', '')} "
                     f"{op.get('reason', '')} mode {op.get('mode', '')} ms {op.get('ms')}")
            after = slots()
            tap.check("the card changed only through the accepted push (v1.1.0 is on it)",
                      after != before and "v1.1.0" in after, (before, after))
            if op.get("stage") == "confirmed":
                g = request("GET", "/v1/guests")
                tap.check("GET /v1/guests shows hello at 1.1.0 after the confirmed push",
                          re.search(r'"name":"hello","state":"\w+","version":"1.1.0"', g["body"]),
                          g)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
