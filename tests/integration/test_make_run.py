#!/usr/bin/python3
"""User job: `make run`, open the printed URL, play 2048.

Starts tools/qemu.py run (what `make run` runs) with QEMU user networking,
waits for the URL it prints once the www guest has an address, and fetches
the game from that URL on the host's loopback; the device API's URL too.

    test_make_run.py IMAGE
"""
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from harness import ROOT, Tap

PY = "/usr/bin/python3"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    image = sys.argv[1]
    tap = Tap()
    api_port, www_port = free_port(), free_port()
    # The build's keys directory as `make run` passes it: the push command
    # it prints names the development operator key found there.
    keys_dir = os.path.join(os.path.dirname(os.path.abspath(image)), "run-test-keys")
    os.makedirs(keys_dir, exist_ok=True)
    operator_key = os.path.join(keys_dir, "operator.key")
    open(operator_key, "a").close()
    proc = subprocess.Popen([PY, os.path.join(ROOT, "tools", "qemu.py"), "run", "--image", image,
                             "--port", str(api_port), "--www-port", str(www_port),
                             "--flotilla", "flotilla", "--keys-dir", keys_dir],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    os.set_blocking(proc.stdout.fileno(), False)
    out = ""
    urls = {}
    deadline = time.monotonic() + 180
    try:
        push = None
        while time.monotonic() < deadline and (len(urls) < 2 or not push) and proc.poll() is None:
            time.sleep(0.2)
            chunk = proc.stdout.read()
            if chunk:
                out += chunk.decode(errors="replace")
            for m in re.finditer(r"\*\*\* (2048 on the www guest|the device API): .*?(http://127\.0\.0\.1:\d+/\S*)",
                                 out):
                urls[m.group(1)] = m.group(2)
            m = re.search(r"\*\*\* push it to the board: (flotilla push .*?)\033", out)
            push = m.group(1) if m else None
        tap.check("make run prints the URL of the 2048 game", "2048 on the www guest" in urls, out[-3000:])
        tap.check("... and of the device API", "the device API" in urls, out[-3000:])
        tap.check("... and the flotilla push command that reaches the board, with the build's operator key",
                  push == f"flotilla push BUNDLE --to 127.0.0.1:{api_port} --key {operator_key}", f"{push!r}")
        if "2048 on the www guest" in urls:
            url = urls["2048 on the www guest"]
            tap.check("the URL is on the chosen host port", url == f"http://127.0.0.1:{www_port}/", url)
            try:
                page = urllib.request.urlopen(url, timeout=20).read().decode()
            except OSError as e:
                page = f"error: {e}"
            tap.check("opening it on the host serves the 2048 game",
                      "<title>2048" in page and "/game.js" in page, page[:500])
        if "the device API" in urls:
            try:
                ping = urllib.request.urlopen(urls["the device API"], timeout=20).read().decode()
            except OSError as e:
                ping = f"error: {e}"
            tap.check("the device API answers on its URL", '"ok":true' in ping, ping[:300])
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
