#!/usr/bin/python3
"""Run Flotilla's SD image on QEMU's orangepi-pc machine.

    qemu.py run --image build/sdcard.img [--port 5555]   # interactive (make run)

As a module, `Board` is what the integration tests drive: it starts QEMU
on a private copy of the image, reads the serial console, matches patterns
with a timeout, records the seconds from QEMU's start to each marker, and
always kills its own QEMU (Xen cannot reset or power off the emulated H3:
a "reboot" leaves QEMU hanging, so a power cycle is kill + start on the
same disk image).
"""
import argparse
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time

QEMU = "qemu-system-arm"
# The machine needs 4 CPUs and 1 GiB; the counter must run at the 24 MHz
# that U-Boot programs into CNTFRQ, or all guest time runs 2.6x fast.
MACHINE = ["-M", "orangepi-pc", "-smp", "4", "-m", "1024",
           "-global", "cortex-a7-arm-cpu.cntfrq=24000000"]
NIC_MODEL = "allwinner-sun8i-emac"
GUEST_PORT = 80


def qemu_args(disk, host_port=None, nic_args=None):
    """nic_args replaces the default user-mode NIC (e.g. a TAP: tests/integration/netns.py)."""
    nic = f"user,model={NIC_MODEL}"
    if host_port:
        nic += f",hostfwd=tcp:127.0.0.1:{host_port}-:{GUEST_PORT}"
    return [QEMU, *MACHINE, "-nographic", "-no-reboot",
            "-drive", f"file={disk},format=raw,if=sd",
            *(nic_args if nic_args else ["-nic", nic])]


class BoardTimeout(Exception):
    pass


class Board:
    """One emulated board. Use as a context manager so QEMU always dies."""

    def __init__(self, image, workdir, host_port=None, copy=True, log_name="console.log",
                 nic_args=None, wrapper=None):
        os.makedirs(workdir, exist_ok=True)
        self.disk = os.path.join(workdir, "sdcard.img")
        if copy:
            shutil.copyfile(image, self.disk)
        self.host_port = host_port
        self.nic_args = nic_args      # QEMU NIC arguments instead of user networking
        self.wrapper = wrapper or []  # command prefix, e.g. ip netns exec NAME
        self.log_path = os.path.join(workdir, log_name)
        self.proc = None
        self.output = ""
        self.pos = 0          # where the next expect() starts matching
        self.started = None
        self.markers = {}     # name -> seconds since QEMU start
        self.arrivals = []

    def start(self):
        self.log = open(self.log_path, "a")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            self.wrapper + qemu_args(self.disk, self.host_port, self.nic_args), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.output = ""
        self.arrivals = []    # (end offset in output, seconds since start)
        self.pos = 0
        return self

    def time_at(self, offset):
        """Seconds since QEMU start at which output[offset] arrived."""
        for end, seconds in self.arrivals:
            if end > offset:
                return seconds
        return None

    def _read(self, timeout):
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            return False
        data = self.proc.stdout.read(65536)
        if not data:
            return None
        text = data.decode("utf-8", errors="replace").replace("\r", "")
        self.output += text
        self.arrivals.append((len(self.output), time.monotonic() - self.started))
        self.log.write(text)
        self.log.flush()
        return True

    def expect(self, pattern, timeout, name=None):
        """Wait for a regex in the console output after the last match.
        Returns the match; records seconds since start under `name`."""
        regex = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        while True:
            m = regex.search(self.output, self.pos)
            if m:
                self.pos = m.end()
                if name:
                    self.markers[name] = time.monotonic() - self.started
                return m
            left = deadline - time.monotonic()
            if left <= 0:
                raise BoardTimeout(f"no /{pattern}/ within {timeout:.0f} s (log: {self.log_path})")
            if self._read(min(left, 0.2)) is None:
                raise BoardTimeout(f"QEMU exited before /{pattern}/ (log: {self.log_path})")

    def collect(self, seconds):
        """Read console output for a while without waiting for anything."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self._read(min(0.2, max(0.0, deadline - time.monotonic()))) is None:
                break
        return self.output

    def send(self, text):
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def kill(self):
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        if self.proc:
            self.proc.stdout.close()
            self.proc.stdin.close()
            self.log.close()
        self.proc = None

    def power_cycle(self):
        self.kill()
        return self.start()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.kill()
        return False


def run(args):
    workdir = os.path.join(os.path.dirname(os.path.abspath(args.image)), "run")
    os.makedirs(workdir, exist_ok=True)
    disk = os.path.join(workdir, "sdcard.img")
    shutil.copyfile(args.image, disk)
    print(f"Booting {disk} (a copy: {args.image} stays pristine) on QEMU orangepi-pc.")
    print(f"Host port 127.0.0.1:{args.port} is forwarded to the board's TCP port {GUEST_PORT}.")
    print("Quit: Ctrl-a x.  Type s for the control domain's status of its guests.")
    sys.stdout.flush()
    cmd = qemu_args(disk, args.port)
    os.execvp(cmd[0], cmd)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="boot the image interactively")
    r.add_argument("--image", required=True)
    r.add_argument("--port", type=int, default=5555)
    args = ap.parse_args()
    if not os.path.exists(args.image):
        print(f"qemu: error: no image at {args.image} (run make first)", file=sys.stderr)
        return 1
    if shutil.which(QEMU) is None:
        print(f"qemu: error: {QEMU} not found (run make deps)", file=sys.stderr)
        return 1
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
