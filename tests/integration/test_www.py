#!/usr/bin/python3
"""User job: serve a web site from a Flotilla guest. The www guest answers
HTTP/1.1 as browsers and curl expect: the 2048 page and its files, a 4 MiB
download byte-identical, keep-alive and pipelining on one connection, HEAD,
400/404/405, 20 clients at once, slow clients timed out without stopping
the others, and an upload to PUT /test/sink answered only once all read.

    test_www.py BUILD/host/guests/www          # unix target in a namespace (root)
    test_www.py --url http://10.0.3.2/          # a running server (the board)
"""
import concurrent.futures
import hashlib
import os
import re
import socket
import subprocess
import time

from harness import ROOT, Tap
from www_launch import Server, arguments, testfile, why_not_root_mode

SITE = os.path.join(ROOT, "guests", "www", "site")
CHECKS = ["www gets its address by DHCP (dnsmasq) and says so on the console",
          "the 2048 page, its style and script byte-identical", "/healthz answers 200",
          "curl fetches 4 MiB byte-identical", "keep-alive: several requests on one connection",
          "pipelined requests answered in order", "HEAD: the GET headers, no body",
          "malformed requests get 400 and the connection closes", "unknown paths get 404",
          "other methods get 405 with Allow, the connection stays usable",
          "20 concurrent clients all served", "a slow client is timed out, others are served meanwhile",
          "PUT /test/sink reads the whole 1 MiB body before its 204, the connection stays usable"]


def read_response(sock, buf, head_only=False):
    """One response from sock (buf: bytes already read). -> (status, headers, body, rest)"""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError(f"closed before a full head: {buf!r}")
        buf += data
    head, buf = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, value = line.split(":", 1)
        headers[name.strip().lower()] = value.strip()
    length = 0 if head_only else int(headers.get("content-length", "0"))
    while len(buf) < length:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("closed inside a body")
        buf += data
    return status, headers, buf[:length], buf[length:]


def closed_by_peer(sock, timeout):
    sock.settimeout(timeout)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def curl(*args, timeout=60):
    return subprocess.run(["curl", "-sS", "--noproxy", "*", *args], capture_output=True,
                          timeout=timeout)


def main():
    a = arguments(__doc__).parse_args()
    tap = Tap()
    if not a.url:
        reason = why_not_root_mode()
        if reason:
            for c in CHECKS:
                tap.check(f"{c} # SKIP {reason}", True)
            return 0
    with Server(a.url, a.www, dhcp=not a.url) as srv:
        host, port, url = srv.host, srv.port, srv.url
        if a.url:
            tap.check(f"{CHECKS[0]} # SKIP only with the unix-target launcher", True)
        else:
            # dnsmasq hands out 10.0.3.50-60 (www_launch.py)
            m = re.match(r"net: eth0 10\.0\.3\.(\d+)/24 via DHCP \(gw 10\.0\.3\.1\)$", srv.dhcp_line or "")
            tap.check(CHECKS[0], m and 50 <= int(m.group(1)) <= 60, srv.output())
            tap.note(srv.dhcp_line)

        def connect():
            return socket.create_connection((host, port), timeout=10)

        def request(path, method="GET", extra=""):
            return (f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n").encode()

        # 1. the page
        ok, detail = True, []
        for name in ["index.html", "style.css", "game.js"]:
            r = curl("-o", "-", "-w", "%{http_code} %{content_type}", url + name)
            with open(os.path.join(SITE, name), "rb") as f:
                want = f.read()
            got = r.stdout
            if not got.startswith(want) or not got[len(want):].startswith(b"200 "):
                ok = False
                detail.append(f"{name}: {got[-60:]!r} {r.stderr!r}")
        r = curl("-o", "-", url)
        ok = ok and b"<title>2048" in r.stdout and b'id="board"' in r.stdout
        tap.check(CHECKS[1], ok, "\n".join(detail))

        r = curl("-o", "/dev/null", "-w", "%{http_code}", url + "healthz")
        tap.check(CHECKS[2], r.stdout == b"200", r.stdout + r.stderr)

        # 2. the download
        path = os.path.join(a.out, "www-test-4M.bin")
        os.makedirs(a.out, exist_ok=True)
        start = time.monotonic()
        r = curl("-o", path, "-w", "%{http_code}", url + "test/4M", timeout=120)
        seconds = time.monotonic() - start
        with open(path, "rb") as f:
            got = f.read()
        os.unlink(path)
        want = testfile()
        tap.check(CHECKS[3], r.stdout == b"200" and got == want,
                  f"{r.stdout!r} {r.stderr!r} got {len(got)} bytes sha256 "
                  f"{hashlib.sha256(got).hexdigest()[:16]}, want {hashlib.sha256(want).hexdigest()[:16]}")
        tap.note(f"4 MiB in {seconds:.2f} s ({4 / seconds:.1f} MiB/s)")

        # 3. keep-alive: curl reuses one connection for three URLs
        r = curl("-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null", "-w", "%{num_connects} ",
                 url, url + "style.css", url + "healthz")
        connects = [int(x) for x in r.stdout.split()]
        with connect() as s:
            statuses = []
            rest = b""
            for p in ["/", "/game.js", "/healthz", "/nope", "/"]:
                s.sendall(request(p))
                status, _, _, rest = read_response(s, rest)
                statuses.append(status)
        tap.check(CHECKS[4], connects == [1, 0, 0] and statuses == [200, 200, 200, 404, 200],
                  f"curl connects {connects}, statuses {statuses}")

        # 4. pipelining
        with connect() as s:
            s.sendall(request("/healthz") + request("/style.css") + request("/nope") +
                      request("/healthz", "HEAD") + request("/healthz"))
            got, rest = [], b""
            for head_only in [False, False, False, True, False]:
                status, hdr, body, rest = read_response(s, rest, head_only)
                got.append((status, len(body)))
        css = os.path.getsize(os.path.join(SITE, "style.css"))
        want = [(200, 3), (200, css), (404, len(b"404 Not Found\n")), (200, 0), (200, 3)]
        tap.check(CHECKS[5], got == want, f"{got} != {want}")

        # 5. HEAD
        with connect() as s:
            s.sendall(request("/game.js", "HEAD") + request("/healthz"))
            status, hdr, _, rest = read_response(s, b"", head_only=True)
            status2, _, body2, rest = read_response(s, rest)
        size = os.path.getsize(os.path.join(SITE, "game.js"))
        tap.check(CHECKS[6], status == 200 and hdr.get("content-length") == str(size) and
                  status2 == 200 and body2 == b"ok\n" and rest == b"",
                  f"{status} {hdr} then {status2} {body2!r} {rest[:40]!r}")

        # 6. 400
        bad = [b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1\r\n\r\n",  # no Host
               b"GET / HTTP/1.1\r\nHost: x\r\nBroken header line\r\n\r\n",
               b"GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n", b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
               b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
               b"GET / HTTP/1.1\nHost: x\n\n"]
        results = []
        for req in bad:
            with connect() as s:
                s.sendall(req)
                status, hdr, _, _ = read_response(s, b"")
                results.append((status, hdr.get("connection"), closed_by_peer(s, 5)))
        tap.check(CHECKS[7], all(r == (400, "close", True) for r in results), results)

        with connect() as s:
            s.sendall(request("/no/such/file"))
            status, _, _, _ = read_response(s, b"")
        tap.check(CHECKS[8], status == 404, status)

        with connect() as s:
            s.sendall(request("/", "POST", "Content-Length: 5\r\n") + b"hello" + request("/healthz") +
                      request("/", "DELETE"))
            st1, h1, _, rest = read_response(s, b"")
            st2, _, b2, rest = read_response(s, rest)
            st3, h3, _, rest = read_response(s, rest)
        tap.check(CHECKS[9], st1 == 405 and h1.get("allow") == "GET, HEAD" and st2 == 200 and
                  b2 == b"ok\n" and st3 == 405, f"{st1} {h1} {st2} {b2!r} {st3}")

        # 7. 20 clients at once, each two requests on its own connection
        def client(i):
            r = curl("-o", "/dev/null", "-o", "/dev/null", "-w", "%{http_code} ", url,
                     url + "game.js", timeout=60)
            return r.stdout.decode()

        start = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(20) as pool:
            codes = list(pool.map(client, range(20)))
        seconds = time.monotonic() - start
        tap.check(CHECKS[10], all(c.split() == ["200", "200"] for c in codes), codes)
        tap.note(f"20 clients x 2 requests in {seconds:.2f} s")

        # 8. slowloris: half a request, never finished
        slow = connect()
        slow.sendall(b"GET / HTTP/1.1\r\nHost: slow\r\n")
        start = time.monotonic()
        r = curl("-o", "/dev/null", "-w", "%{http_code}", url + "healthz")
        served = r.stdout == b"200"
        closed = closed_by_peer(slow, 30)
        took = time.monotonic() - start
        slow.close()
        tap.check(CHECKS[11], served and closed and took < 30,
                  f"served {served}, closed {closed} after {took:.1f} s")

        # 9. the upload sink (the benchmarks' upload): no answer before the last byte
        with connect() as s:
            body = bytes(1 << 20)
            s.sendall(f"PUT /test/sink HTTP/1.1\r\nHost: {host}\r\n"
                      f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:-1])
            s.settimeout(1.0)
            try:
                early = s.recv(65536)
            except socket.timeout:
                early = b""
            s.settimeout(30)
            s.sendall(body[-1:] + request("/healthz"))
            st1, h1, _, rest = read_response(s, early)
            st2, _, b2, rest = read_response(s, rest)
        tap.check(CHECKS[12], early == b"" and st1 == 204 and "content-length" not in h1 and
                  st2 == 200 and b2 == b"ok\n", f"early {early[:80]!r}, {st1} {h1}, {st2} {b2!r}")
        if srv.output():
            tap.note("console: " + " | ".join(srv.output().splitlines()[:3]))
    return tap.done()


if __name__ == "__main__":
    raise SystemExit(main())
