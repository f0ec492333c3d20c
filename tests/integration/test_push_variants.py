#!/usr/bin/python3
"""The material the push tests push, checked on the host before any board
runs it (suite push-fixtures, tests/integration/push.mk):

- every bad bundle is refused by `flotilla verify` with the error its class
  names (ota/ota.c's message for that code), and the classes only a board
  can refuse (counter below the card's, oversized for the slot) are refused
  by `flotilla store install` on a store file made as the board makes its
  own, with the factory image confirmed;
- the good www bundles verify, carry name www, their version, counter 1;
- the www variants built for the runtime's unix target behave as their
  fault says (a namespace and TAP as in test_www.py; root, else SKIP):
  v2 names its version and says it is ready; crash-start dies before it
  serves; never-ready serves but never says ready; probe-500 answers 500 on
  /healthz only; crash-later serves, says ready, then crashes ~5 s in.

    test_push_variants.py --flotilla CLI --pub SIGNING.pub --board B --slot-kb N
                          --bundles DIR --unix DIR
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request

from harness import ROOT, Tap
from www_launch import Server, why_not_root_mode

VERSIONS = {"v2": "2.0.0", "crash-start": "2.0.1", "never-ready": "2.0.2", "probe-500": "2.0.3",
            "crash-later": "2.0.4", "pad1m": "2.1.0", "pad1mb": "2.1.1", "pad16m": "2.2.0"}


def ota_messages():
    """{"bad-magic": "not a Flotilla bundle ...", ...} from ota/ota.c (never copied)."""
    with open(os.path.join(ROOT, "ota", "ota.c")) as f:
        text = f.read()
    return dict(re.findall(r'\{OTA_\w+,\s*"([a-z-]+)",\s*"((?:[^"\\]|\\.)*)"', text))


def get(url, timeout=10):
    """(status, headers, body) of a GET; HTTP errors are answers too."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url), timeout=timeout) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def fixtures(tap, a):
    messages = ota_messages()
    with open(os.path.join(a.bundles, "bad", "index.json")) as f:
        classes = json.load(f)["classes"]
    tap.check("at least 10 classes of bad bundle", len(classes) >= 10, len(classes))
    for c in classes:
        path = os.path.join(a.bundles, "bad", c["file"])
        r = subprocess.run([a.flotilla, "verify", "--pub", a.pub, "--board", a.board, path],
                           capture_output=True, text=True)
        if c["verify"] == "ok":
            tap.check(f"{c['class']}: a valid bundle as a file ({c['why']}): only the board can refuse it",
                      r.returncode == 0, r.stderr)
        else:
            want = messages[c["verify"]]
            tap.check(f"{c['class']}: flotilla verify refuses it: {c['verify']} ({c['why']})",
                      r.returncode == 1 and want in r.stderr and len(r.stderr.strip().splitlines()) == 1,
                      f"rc {r.returncode}: {r.stderr}{r.stdout}")
    # The two classes a file cannot show: on a store like the board's.
    with tempfile.TemporaryDirectory() as tmp:
        store = os.path.join(tmp, "store.img")
        def store_cmd(*args):
            return subprocess.run([a.flotilla, "store", *args, "--file", store], capture_output=True,
                                  text=True)
        r = store_cmd("format", "--slot-size", str(a.slot_kb))
        factory = os.path.join(a.bundles, "www-v2.bnd")  # counter 1, as the factory image
        steps = [r, store_cmd("install", "--pub", a.pub, "--board", a.board, factory),
                 store_cmd("activate", "www"), store_cmd("confirm", "www")]
        ok = all(s.returncode == 0 for s in steps)
        tap.check("a store like the card's: www at counter 1 confirmed", ok,
                  "\n".join(s.stderr for s in steps))
        for cls in ("counter-below", "oversize"):
            c = next(c for c in classes if c["class"] == cls)
            before = store_cmd("list", "--json").stdout
            r = store_cmd("install", "--pub", a.pub, "--board", a.board,
                          os.path.join(a.bundles, "bad", c["file"]))
            after = store_cmd("list", "--json").stdout
            tap.check(f"{cls}: flotilla store install refuses it: {c['expect']}, the store unchanged",
                      r.returncode == 1 and messages[c["expect"]] in r.stderr and before == after,
                      f"rc {r.returncode}: {r.stderr}\n{before}\n{after}")
    for variant, version in VERSIONS.items():
        path = os.path.join(a.bundles, f"www-{variant}.bnd")
        r = subprocess.run([a.flotilla, "verify", "--pub", a.pub, "--board", a.board, path],
                           capture_output=True, text=True)
        i = subprocess.run([a.flotilla, "inspect", "--json", path], capture_output=True, text=True)
        try:
            m = json.loads(i.stdout)
        except ValueError:
            m = {}
        tap.check(f"www-{variant}.bnd verifies: www {version}, counter 1, vNIC lan",
                  r.returncode == 0 and m.get("name") == "www" and m.get("version") == version and
                  m.get("security_counter") == 1 and m.get("nics") == ["lan"],
                  r.stderr + i.stdout + i.stderr)
    sizes = {"pad1m": 1 << 20, "pad1mb": 1 << 20, "pad16m": 16 << 20}
    for variant, size in sizes.items():
        img = os.path.join(a.bundles, f"www-{variant}.img")
        tap.check(f"www-{variant}: a {size >> 20} MiB image", os.path.getsize(img) == size,
                  os.path.getsize(img))


def start(binary, wait_serving=True):
    """A Server on the unix target; (server, error)."""
    try:
        return Server(binary=binary), None
    except (RuntimeError, SystemExit) as e:
        return None, str(e)


def variants(tap, a):
    reason = why_not_root_mode()
    names = ["v2", "crash-start", "never-ready", "probe-500", "crash-later"]
    if reason:
        for n in names:
            tap.check(f"www-{n} on the unix target # SKIP {reason}", True)
        return
    exe = {n: os.path.join(a.unix, f"www-{n}") for n in names}

    srv, err = start(exe["v2"])
    if tap.check("www-v2 starts and serves", srv is not None, err):
        try:
            st, h, body = get(srv.url + "version")
            st2, h2, body2 = get(srv.url + "healthz")
            st3, h3, _ = get(srv.url)
            tap.check("www-v2 names its version: /version, X-Www-Version (on /healthz too)",
                      st == 200 and body == b"2.0.0\n" and h.get("x-www-version") == "2.0.0" and
                      h3.get("x-www-version") == "2.0.0" and st3 == 200 and
                      st2 == 200 and body2 == b"ok\n" and h2.get("x-www-version") == "2.0.0", (st, h, body, st2, body2, st3, h3))
            out = srv.output()
            # (stderr and stdout reach the log unordered: the line, not its place)
            tap.check("www-v2 calls flotilla_ready()", "flotilla: ready" in out, out)
        finally:
            srv.close()

    srv, err = start(exe["crash-start"])
    if srv:
        srv.close()
    tap.check("www-crash-start crashes before it serves, never ready",
              srv is None and "crashing on purpose" in (err or "") and "www: serving" not in (err or "")
              and "flotilla: ready" not in (err or ""), err)

    srv, err = start(exe["never-ready"])
    if tap.check("www-never-ready starts and serves", srv is not None, err):
        try:
            st, h, body = get(srv.url + "healthz")
            time.sleep(2)
            out = srv.output()
            tap.check("www-never-ready serves /healthz 200 but never calls flotilla_ready()",
                      st == 200 and "flotilla: ready" not in out and srv.proc.poll() is None, (st, out))
        finally:
            srv.close()

    srv, err = start(exe["probe-500"])
    if tap.check("www-probe-500 starts and serves", srv is not None, err):
        try:
            st, h, body = get(srv.url + "healthz")
            st2, _, _ = get(srv.url)
            out = srv.output()
            tap.check("www-probe-500: ready, / answers 200, /healthz answers 500",
                      st == 500 and st2 == 200 and "flotilla: ready" in out and
                      h.get("x-www-version") == "2.0.3", (st, st2, out))
        finally:
            srv.close()

    t0 = time.monotonic()
    srv, err = start(exe["crash-later"])
    if tap.check("www-crash-later starts and serves", srv is not None, err):
        try:
            st, _, _ = get(srv.url + "healthz")
            ready = "flotilla: ready" in srv.output()
            rc = None
            try:
                rc = srv.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
            lived = time.monotonic() - t0
            tap.check("www-crash-later: ready and serving, then crashes about 5 s after start",
                      st == 200 and ready and rc not in (None, 0) and 4.0 <= lived <= 12.0 and
                      "crashing on purpose" in srv.output(), (st, ready, rc, lived, srv.output()))
            tap.note(f"www-crash-later crashed {lived:.1f} s after start (exit {rc})")
        finally:
            srv.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--flotilla", required=True)
    ap.add_argument("--pub", required=True)
    ap.add_argument("--board", required=True)
    ap.add_argument("--bundles", required=True)
    ap.add_argument("--unix", required=True)
    ap.add_argument("--slot-kb", type=int, required=True, help="CONFIG_OTA_SLOT_SIZE_KB")
    ap.add_argument("--out", default=os.environ.get("O", "build"))
    a = ap.parse_args()
    tap = Tap()
    tap.run("bad bundles and good ones checked on the host", fixtures, tap, a)
    tap.run("www variants on the unix target", variants, tap, a)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
