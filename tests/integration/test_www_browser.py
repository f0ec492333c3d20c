#!/usr/bin/python3
"""User job: play 2048 in a browser. Headless Chromium (Debian's chromium,
driven through the DevTools protocol with python3-websocket) loads the game
from www, plays moves with the arrow keys, and the board in the DOM changes
exactly as the rules say; a screenshot is saved as BUILD/www-2048.png.

    test_www_browser.py BUILD/host/guests/www      # unix target in a namespace (root)
    test_www_browser.py --url http://10.0.3.2/      # a running server (the board)
"""
import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request

from harness import Tap
from www_launch import Server, arguments, why_not_root_mode

CHROMIUM = "/usr/bin/chromium"
CHECKS = ["Chromium loads the 2048 page from www", "a new game shows two tiles of 2 or 4",
          "arrow keys move the tiles exactly as the rules say (slide, merge, one new tile)",
          "the score counts the merges", "a full board with no move left shows 'Game over'",
          "reaching 2048 shows 'You win!' and play can go on", "'New game' starts over",
          "a screenshot of the game is saved (PNG)"]
KEYS = {"ArrowLeft": (37, 0), "ArrowUp": (38, 1), "ArrowRight": (39, 2), "ArrowDown": (40, 3)}
STATE_JS = """JSON.stringify((() => { const b = document.getElementById('board');
  return {state: b.dataset.state, moves: +b.dataset.moves, score: +document.getElementById('score').textContent,
          tiles: [...document.querySelectorAll('#board .tile')].map(t => [+t.dataset.row, +t.dataset.col, +t.dataset.value])}; })())"""


class DevTools:
    def __init__(self, ws_url):
        import websocket  # Debian: python3-websocket
        self.ws = websocket.create_connection(ws_url, timeout=30)
        self.next_id = 0
        self.events = []

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def evaluate(self, expression):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return r.get("result", {}).get("value")

    def close(self):
        self.ws.close()


def start_chromium(profile):
    proc = subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-proxy-server", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
         "--remote-debugging-port=0", "--window-size=600,820", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port_file = os.path.join(profile, "DevToolsActivePort")
    deadline = time.monotonic() + 60
    while not (os.path.exists(port_file) and open(port_file).read().count("\n") >= 1):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("Chromium did not start its DevTools server")
        time.sleep(0.1)
    port = int(open(port_file).read().split()[0])
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    for _ in range(100):
        targets = json.load(opener.open(f"http://127.0.0.1:{port}/json/list", timeout=10))
        pages = [t for t in targets if t.get("type") == "page"]
        if pages:
            return proc, pages[0]["webSocketDebuggerUrl"]
        time.sleep(0.1)
    raise RuntimeError("Chromium has no page target")


def slide(cells, direction):
    """The game's rules on a 16-list: (cells after the move, points scored)."""
    grid = [cells[r * 4:r * 4 + 4] for r in range(4)]
    out = [[0] * 4 for _ in range(4)]
    points = 0
    for i in range(4):
        pos = []
        for j in range(4):
            k = 3 - j if direction >= 2 else j
            pos.append((i, k) if direction % 2 == 0 else (k, i))
        values = [grid[r][c] for r, c in pos if grid[r][c]]
        merged = []
        while values:
            if len(values) > 1 and values[0] == values[1]:
                merged.append(values[0] * 2)
                points += values[0] * 2
                values = values[2:]
            else:
                merged.append(values.pop(0))
        merged += [0] * (4 - len(merged))
        for (r, c), v in zip(pos, merged):
            out[r][c] = v
    return [v for row in out for v in row], points


def main():
    a = arguments(__doc__).parse_args()
    tap = Tap()
    reason = None
    if not os.access(CHROMIUM, os.X_OK):
        reason = "needs chromium (Debian package chromium; make deps)"
    elif not a.url:
        reason = why_not_root_mode()
    if reason:
        for c in CHECKS:
            tap.check(f"{c} # SKIP {reason}", True)
        return 0
    profile = tempfile.mkdtemp(prefix="flotilla-chromium-")
    proc = None
    try:
        with Server(a.url, a.www) as srv:
            proc, ws_url = start_chromium(profile)
            dt = DevTools(ws_url)
            dt.call("Page.enable")
            dt.call("Page.navigate", url=srv.url)
            deadline = time.monotonic() + 30
            state = None
            while time.monotonic() < deadline:
                raw = dt.evaluate("document.getElementById('board') && document.getElementById('board')"
                                  ".dataset.state ? " + STATE_JS + " : null")
                if raw:
                    state = json.loads(raw)
                    break
                time.sleep(0.2)
            title = dt.evaluate("document.title")
            tap.check(CHECKS[0], state is not None and title == "2048 on Flotilla", f"{title!r} {state}")
            if state is None:
                return tap.done()

            def read():
                return json.loads(dt.evaluate(STATE_JS))

            def cells(s):
                return [int(x) for x in s["state"].split(",")]

            def consistent(s):
                """The tiles in the DOM are the state the board reports."""
                grid = [0] * 16
                for r, c, v in s["tiles"]:
                    grid[r * 4 + c] = v
                return grid == cells(s)

            c0 = cells(state)
            tap.check(CHECKS[1], sorted(v for v in c0 if v) in ([2, 2], [2, 4], [4, 4]) and
                      sum(1 for v in c0 if v) == 2 and consistent(state) and state["moves"] == 0, state)

            # Play: every key press must do exactly what the rules say.
            problems, effective, score = [], 0, 0
            order = ["ArrowLeft", "ArrowUp", "ArrowRight", "ArrowDown"] * 6
            for key in order:
                before = read()
                code, direction = KEYS[key]
                for kind in ("keyDown", "keyUp"):
                    dt.call("Input.dispatchKeyEvent", type=kind, key=key, code=key,
                            windowsVirtualKeyCode=code, nativeVirtualKeyCode=code)
                after = read()
                expect, points = slide(cells(before), direction)
                got = cells(after)
                if expect == cells(before):
                    if got != expect or after["moves"] != before["moves"]:
                        problems.append(f"{key}: no move possible, yet {before} -> {after}")
                    continue
                new = [i for i in range(16) if got[i] != expect[i]]
                if len(new) != 1 or expect[new[0]] != 0 or got[new[0]] not in (2, 4) or \
                        after["moves"] != before["moves"] + 1 or not consistent(after):
                    problems.append(f"{key}: {cells(before)} -> {got}, rules say {expect} + one new tile")
                effective += 1
                score += points
                if after["score"] != score:
                    problems.append(f"score {after['score']} != {score}")
            tap.check(CHECKS[2], effective >= 4 and not problems, "\n".join(problems) or effective)
            final = read()
            tap.check(CHECKS[3], final["score"] == score, f"{final['score']} != {score}")
            tap.note(f"{effective} moves, score {score}, board {final['state']}")

            time.sleep(0.5)  # let the last tile's animation finish
            shot = base64.b64decode(dt.call("Page.captureScreenshot", format="png")["data"])
            path = os.path.join(a.out, "www-2048.png")
            os.makedirs(a.out, exist_ok=True)
            with open(path, "wb") as f:
                f.write(shot)

            # Game over: one move left; after it the new tile (2 or 4) lands where nothing merges.
            msg_js = ("JSON.stringify([document.getElementById('message').hidden, "
                      "document.getElementById('message-text').textContent, "
                      "document.getElementById('keep-going').hidden, document.getElementById('board').dataset.over])")
            dt.evaluate("game2048.load([2,4,2,4, 4,2,4,2, 2,4,2,8, 16,32,0,64])")
            for kind in ("keyDown", "keyUp"):
                dt.call("Input.dispatchKeyEvent", type=kind, key="ArrowLeft", code="ArrowLeft",
                        windowsVirtualKeyCode=37, nativeVirtualKeyCode=37)
            hidden, text, keep_hidden, over = json.loads(dt.evaluate(msg_js))
            last = cells(read())
            tap.check(CHECKS[4], not hidden and text == "Game over" and over == "true" and keep_hidden and
                      last[:15] == [2, 4, 2, 4, 4, 2, 4, 2, 2, 4, 2, 8, 16, 32, 64] and last[15] in (2, 4),
                      f"{last} message={text!r} hidden={hidden} over={over}")
            dt.evaluate("game2048.load([1024,1024,0,0, 0,0,0,0, 0,0,0,0, 0,0,0,0])")
            for kind in ("keyDown", "keyUp"):
                dt.call("Input.dispatchKeyEvent", type=kind, key="ArrowLeft", code="ArrowLeft",
                        windowsVirtualKeyCode=37, nativeVirtualKeyCode=37)
            hidden, text, keep_hidden, over = json.loads(dt.evaluate(msg_js))
            won_ok = not hidden and text == "You win!" and not keep_hidden and cells(read())[0] == 2048
            dt.evaluate("document.getElementById('keep-going').click()")
            hidden_after, _, _, _ = json.loads(dt.evaluate(msg_js))
            before = read()
            for kind in ("keyDown", "keyUp"):
                dt.call("Input.dispatchKeyEvent", type=kind, key="ArrowRight", code="ArrowRight",
                        windowsVirtualKeyCode=39, nativeVirtualKeyCode=39)
            after = read()
            tap.check(CHECKS[5], won_ok and hidden_after and after["moves"] == before["moves"] + 1,
                      f"{text!r} hidden={hidden} keep_hidden={keep_hidden} then {hidden_after} {after}")

            dt.evaluate("document.getElementById('new-game').click()")
            fresh = read()
            tap.check(CHECKS[6], fresh["moves"] == 0 and fresh["score"] == 0 and
                      sum(1 for v in cells(fresh) if v) == 2, fresh)
            tap.check(CHECKS[7], shot.startswith(b"\x89PNG") and len(shot) > 5000,
                      f"{len(shot)} bytes")
            tap.note(f"screenshot: {path}")
            dt.close()
    finally:
        if proc:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(profile, ignore_errors=True)
    return tap.done()


if __name__ == "__main__":
    raise SystemExit(main())
