#!/usr/bin/python3
"""make bench-peer: Flotilla beside its peer, a Linux domain 0 with xl, on
the same emulated board in one run. Writes build/bench/peer.json (both
sides and their ratios) and build/bench/peer.png (a bar chart), and prints
the ratios. Not asserted: the emulator shares a noisy machine, so the two
sides are measured alternately in one run and compared as ratios.

Figures, each side: QEMU start -> domain 0 ready; create -> the hello
guest's first console line (median of --runs on a settled board, the first
create after boot reported apart); destroy; the smallest dom0_mem that
boots and creates a guest (a binary search, one boot per try); domain 0's
image bytes. See docs/benchmarks.md.
"""
import argparse
import contextlib
import datetime
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from harness import BUILD, READY, Board, BoardTimeout, median  # noqa: E402

PEER_READY = r"PEER: dom0 ready"
PEER_FAIL = r"PEER: FAIL.*|Kernel panic.*|Out of memory.*|\(XEN\) Panic on CPU.*"
FLOTILLA_FAIL = r"control: .*(error|failed|cannot).*|\(XEN\) .*[Pp]anic.*"
# dom0_mem values the search may try (MiB), smallest first. Powers of two:
# Xen 4.17 gives a 32-bit dom0 its first 1:1 bank in one power-of-two block
# of at least dom0_mem (up to 128 MiB) and panics otherwise ("Unable to
# allocate first memory bank" for 48M).
PEER_MEM_STEPS = [16, 32, 64, 128]
FLOTILLA_MEM_STEPS = [1, 2, 4, 8, 16, 32, 64]
FAT_OFFSET = 1024 * 1024


def log(msg):
    print(f"bench-peer: {msg}", flush=True)


@contextlib.contextmanager
def running(board):
    """A board already started (Board's own `with` would start it again):
    killed whatever happens in the block."""
    try:
        yield board
    finally:
        board.kill()


def with_dom0_mem(board, bootcmd, mb):
    """Rewrite boot.scr on the board's private disk copy with another dom0_mem."""
    with open(bootcmd) as f:
        text = f.read()
    text, n = re.subn(r"dom0_mem=\d+M", f"dom0_mem={mb}M", text)
    if n != 1:
        raise SystemExit(f"bench-peer: error: no dom0_mem=NM in {bootcmd}")
    work = os.path.dirname(board.disk)
    cmd = os.path.join(work, "boot.cmd")
    scr = os.path.join(work, "boot.scr")
    with open(cmd, "w") as f:
        f.write(text)
    subprocess.run(["mkimage", "-A", "arm", "-O", "linux", "-T", "script", "-C", "none",
                    "-n", "bench", "-d", cmd, scr], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["mcopy", "-o", "-i", f"{board.disk}@@{FAT_OFFSET}", scr, "::/boot.scr"], check=True)


def expect_ok(board, ok, fail, timeout, name=None):
    """Wait for `ok`; a `fail` line or a timeout is False (never raises)."""
    try:
        m = board.expect(f"({ok})|({fail})", timeout, name)
    except BoardTimeout:
        return False
    return m.group(1) is not None


def dom0_mem_of(bootcmd):
    with open(bootcmd) as f:
        return int(re.search(r"dom0_mem=(\d+)M", f.read()).group(1))


# ---------------------------------------------------------------- the peer
def peer_boot(image, work, bootcmd=None, mb=None, timeout=600):
    board = Board(image, work)
    if mb is not None:
        with_dom0_mem(board, bootcmd, mb)
    board.start()
    ok = expect_ok(board, PEER_READY, PEER_FAIL, timeout, "ready")
    return board, ok


def peer_runs(board, n, timeout_per_run=120):
    """peer-bench n in the peer's dom0: [(create->first line ms, destroy ms)]."""
    board.expect(r"peer# ", 60)
    board.send(f"peer-bench {n}\n")
    runs = []
    while len(runs) < n:
        try:
            # Up to the newline: the console may deliver half a number.
            m = board.expect(r"PEER: run \d+ create_to_first_line_ms ([\d.]+) destroy_ms ([\d.]+)\n|"
                             + PEER_FAIL, timeout_per_run)
        except BoardTimeout:
            m = None
        if not m or not m.group(1):
            raise SystemExit(f"bench-peer: error: the peer's xl runs failed (log: {board.log_path}):\n"
                             + board.output[-1500:])
        runs.append((float(m.group(1)), float(m.group(2))))
    return runs


def peer_try_mem(a, mb, timeout):
    """Does the peer boot with dom0_mem=mb and create a guest?"""
    board, ok = peer_boot(a.peer_image, os.path.join(BUILD, "bench", "peer", f"mem{mb}"),
                          a.peer_bootcmd, mb, timeout)
    with running(board):
        if ok:
            ok = expect_ok(board, r"peer# ", PEER_FAIL, 60)
        if ok:
            board.send("peer-bench 1\n")
            ok = expect_ok(board, r"PEER: bench done", PEER_FAIL, max(timeout, 120))
    return ok


# ---------------------------------------------------------------- Flotilla
def flotilla_boot(image, work, bootcmd=None, mb=None, timeout=600):
    board = Board(image, work)
    if mb is not None:
        with_dom0_mem(board, bootcmd, mb)
    board.start()
    ok = expect_ok(board, READY, FLOTILLA_FAIL, timeout, "ready")
    return board, ok


def flotilla_try_mem(a, mb, timeout):
    """Does Flotilla boot with dom0_mem=mb and build its plan's guest?"""
    board, ok = flotilla_boot(a.flotilla_image, os.path.join(BUILD, "bench", "flotilla", f"mem{mb}"),
                              a.flotilla_bootcmd, mb, timeout)
    with running(board):
        # The default plan's hello guest prints through the control domain.
        ok = ok and expect_ok(board, r"\[hello\] hello: ", FLOTILLA_FAIL, timeout)
    return ok


def flotilla_bench(a):
    """The bench plan: 20 builds to the first console line, each destroyed.
    Returns (median ms, destroy median ms, runs, {phase: median ms})."""
    with Board(a.flotilla_bench_image, os.path.join(BUILD, "bench", "flotilla", "bench")) as board:
        board.expect(READY, 600, "ready")
        out = board.output
    m = re.search(r"build start to first console line: median ([\d.]+) ms.*\(n=(\d+)", out)
    d = re.search(r"control: bench: destroy median ([\d.]+) ms", out)
    if not m or not d:
        raise SystemExit("bench-peer: error: the control domain printed no bench figures "
                         f"(log: {board.log_path})")
    phases = {f"phase_{k}_ms": float(v) for k, v in re.findall(r"phase (\w+)\s+median ([\d.]+) ms", out)}
    u = re.search(r"unpause to first console line median ([\d.]+) ms", out)
    if u:
        phases["unpause_to_first_line_ms"] = float(u.group(1))
    return float(m.group(1)), float(d.group(1)), int(m.group(2)), phases


def search(name, steps, known_good, try_mem):
    """Smallest of steps (<= known_good) that works, by bisection."""
    lo, hi = -1, steps.index(known_good)   # steps[lo] fails (or none), steps[hi] works
    tried = {}
    while hi - lo > 1:
        mid = (lo + hi) // 2
        ok = try_mem(steps[mid])
        tried[steps[mid]] = ok
        log(f"{name}: dom0_mem={steps[mid]}M {'boots and creates a guest' if ok else 'fails'}")
        if ok:
            hi = mid
        else:
            lo = mid
    return steps[hi], tried


# ---------------------------------------------------------------- output
def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"^model name\s*:\s*(.+)$", f.read(), re.M)
            return m.group(1).strip() if m else "unknown CPU"
    except OSError:
        return "unknown CPU"


FIGURES = [  # key, label, unit
    ("ready_s", "QEMU start → dom0 ready", "s"),
    ("create_to_first_line_ms", "create → guest's first line", "ms"),
    ("destroy_ms", "destroy", "ms"),
    ("min_dom0_mem_mb", "smallest dom0_mem", "MiB"),
    ("dom0_image_bytes", "dom0 image", "bytes"),
]


def plot(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(FIGURES), figsize=(3.2 * len(FIGURES), 4.6))
    for ax, (key, label, unit) in zip(axes, FIGURES):
        values = [results["flotilla"][key], results["peer"][key]]
        bars = ax.bar(["Flotilla", "Linux + xl"], values, color=["#2a7ab0", "#c0504d"])
        ratio = results["ratios"][key]
        if max(values) / max(min(values), 1e-9) > 10:
            ax.set_yscale("log")
        ax.set_title(f"{label}\npeer ÷ Flotilla = {ratio:.3g}×", fontsize=9)
        ax.set_ylabel(unit)
        for b, v in zip(bars, values):
            text = f"{v:,.0f}" if v >= 100 else f"{v:.3g}"
            ax.annotate(text, (b.get_x() + b.get_width() / 2, b.get_height()),
                        ha="center", va="bottom", fontsize=8)
    fig.suptitle(f"Flotilla vs Linux dom0 + xl, QEMU orangepi-pc — {results['date']}, "
                 f"rev {results['revision']}, {results['cpu']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--peer-image", required=True)
    ap.add_argument("--peer-bootcmd", required=True)
    ap.add_argument("--peer-kernel", required=True)
    ap.add_argument("--peer-initramfs", required=True)
    ap.add_argument("--flotilla-image", required=True)
    ap.add_argument("--flotilla-bootcmd", required=True)
    ap.add_argument("--flotilla-bench-image", required=True)
    ap.add_argument("--control-image", required=True)
    ap.add_argument("--revision", default="unknown")
    ap.add_argument("--boots", type=int, default=3, help="boots per side for the ready time")
    ap.add_argument("--runs", type=int, default=20, help="xl create runs after the first")
    ap.add_argument("--no-search", action="store_true", help="skip the dom0_mem search")
    ap.add_argument("--plot-only", action="store_true", help="redraw peer.png from peer.json")
    a = ap.parse_args()
    began = time.monotonic()
    out_dir = os.path.join(BUILD, "bench")
    if a.plot_only:
        with open(os.path.join(out_dir, "peer.json")) as f:
            plot(json.load(f), os.path.join(out_dir, "peer.png"))
        return
    os.makedirs(out_dir, exist_ok=True)
    peer_mem = dom0_mem_of(a.peer_bootcmd)
    flotilla_mem = dom0_mem_of(a.flotilla_bootcmd)

    # Boots alternate between the two sides, so load on the machine hits both.
    peer_ready, flotilla_ready, runs = [], [], []
    for i in range(a.boots):
        board, ok = flotilla_boot(a.flotilla_image, os.path.join(BUILD, "bench", "flotilla", "boot"))
        with running(board):
            if not ok:
                raise SystemExit(f"bench-peer: error: Flotilla did not boot (log: {board.log_path})")
            flotilla_ready.append(board.markers["ready"])
        board, ok = peer_boot(a.peer_image, os.path.join(BUILD, "bench", "peer", "boot"))
        with running(board):
            if not ok:
                raise SystemExit(f"bench-peer: error: the peer did not boot (log: {board.log_path})")
            peer_ready.append(board.markers["ready"])
            log(f"boot {i + 1}: ready after {flotilla_ready[-1]:.2f} s (Flotilla), "
                f"{peer_ready[-1]:.2f} s (peer)")
            if i == 0:
                runs = peer_runs(board, a.runs + 1)
                log(f"peer: {len(runs)} xl create/destroy runs")
    f_first_line, f_destroy, f_runs, f_phases = flotilla_bench(a)
    log(f"Flotilla: build -> first line {f_first_line} ms, destroy {f_destroy} ms (n={f_runs})")

    settled = runs[1:]
    peer = {
        "ready_s": round(median(peer_ready), 3),
        "ready_s_all": [round(x, 3) for x in peer_ready],
        "create_to_first_line_ms": round(median([c for c, _ in settled]), 3),
        "create_to_first_line_ms_all": [c for c, _ in settled],
        "first_create_after_boot_ms": runs[0][0],
        "destroy_ms": round(median([d for _, d in settled]), 3),
        "runs": len(settled),
        "dom0_mem_mb_measured": peer_mem,
        "kernel_bytes": os.path.getsize(a.peer_kernel),
        "initramfs_bytes": os.path.getsize(a.peer_initramfs),
    }
    peer["dom0_image_bytes"] = peer["kernel_bytes"] + peer["initramfs_bytes"]
    flotilla = {
        "ready_s": round(median(flotilla_ready), 3),
        "ready_s_all": [round(x, 3) for x in flotilla_ready],
        "create_to_first_line_ms": f_first_line,
        "destroy_ms": f_destroy,
        "runs": f_runs,
        "dom0_mem_mb_measured": flotilla_mem,
        "dom0_image_bytes": os.path.getsize(a.control_image),
        **f_phases,
    }
    if a.no_search:
        peer["min_dom0_mem_mb"], flotilla["min_dom0_mem_mb"] = peer_mem, flotilla_mem
    else:
        # A boot that is not ready within 3x the median is a failed try.
        p_timeout = max(60.0, 3 * peer["ready_s"])
        f_timeout = max(30.0, 3 * flotilla["ready_s"])
        peer["min_dom0_mem_mb"], tried = search(
            "peer", PEER_MEM_STEPS, peer_mem, lambda mb: peer_try_mem(a, mb, p_timeout))
        peer["dom0_mem_tries"] = {str(k): v for k, v in sorted(tried.items())}
        flotilla["min_dom0_mem_mb"], tried = search(
            "Flotilla", FLOTILLA_MEM_STEPS, flotilla_mem, lambda mb: flotilla_try_mem(a, mb, f_timeout))
        flotilla["dom0_mem_tries"] = {str(k): v for k, v in sorted(tried.items())}

    results = {
        "date": datetime.date.today().isoformat(),
        "revision": a.revision,
        "cpu": cpu_model(),
        "board": "QEMU orangepi-pc",
        "flotilla": flotilla,
        "peer": peer,
        "ratios": {key: round(peer[key] / flotilla[key], 2) for key, _, _ in FIGURES},
        "wall_time_s": round(time.monotonic() - began, 1),
    }
    with open(os.path.join(out_dir, "peer.json"), "w") as f:
        json.dump(results, f, indent=2)
    plot(results, os.path.join(out_dir, "peer.png"))

    print(f"Flotilla vs Linux dom0 + xl ({results['board']}, {results['cpu']}; medians)")
    print(f"  {'figure':30} {'Flotilla':>12} {'Linux + xl':>12} {'ratio':>8}")
    for key, label, unit in FIGURES:
        fv, pv = flotilla[key], peer[key]
        fmt = (lambda v: f"{v:,.0f}") if unit == "bytes" else (lambda v: f"{v:g}")
        print(f"  {label + ' (' + unit + ')':30} {fmt(fv):>12} {fmt(pv):>12} {results['ratios'][key]:>7g}x")
    print(f"  peer's first create after boot: {peer['first_create_after_boot_ms']:.0f} ms; "
          f"wall time {results['wall_time_s']:.0f} s")
    print(f"written to {os.path.join(out_dir, 'peer.json')} and peer.png")


if __name__ == "__main__":
    main()
