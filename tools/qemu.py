#!/usr/bin/python3
"""Run Flotilla's SD image on QEMU's orangepi-pc machine.

    qemu.py run --image build/sdcard.img [--port 5555] [--www-port 8048]   # make run
                [--flotilla build/host/flotilla --keys-dir build/keys]  # print `flotilla push`

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


# What `make run` watches for on the console: each address a domain got.
CONTROL_ADDRESS = re.compile(r"^control: net: (\d+\.\d+\.\d+\.\d+)/", re.M)
WWW_ADDRESS = re.compile(r"^\[www\] net: eth0 (\d+\.\d+\.\d+\.\d+)/", re.M)


def monitor_command(sock_path, command):
    """One command on QEMU's human monitor (a UNIX socket); returns its reply."""
    import socket
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2.0)
    s.connect(sock_path)
    reply = b""
    try:
        reply += s.recv(4096)          # banner and prompt
        s.sendall(command.encode() + b"\n")
        time.sleep(0.2)
        reply += s.recv(4096)
    except OSError:
        pass
    s.close()
    return reply.decode(errors="replace")


def announce(text):
    """A line for the user, between console lines (the terminal may be raw)."""
    sys.stdout.write("\r\n\033[1m*** " + text + "\033[0m\r\n")
    sys.stdout.flush()


OPERATOR_KEY_NAMES = ("operator.key", "operator-dev.pem", "operator-dev.key")


def operator_key(args):
    """The build's development operator key: --operator-key, else the first
    of operator.key (what the build makes), operator-dev.pem, operator-dev.key,
    operator*.key, operator*.pem under --keys-dir; None when there is none."""
    if args.operator_key:
        return args.operator_key
    if not args.keys_dir or not os.path.isdir(args.keys_dir):
        return None
    names = sorted(os.listdir(args.keys_dir))
    for name in [*OPERATOR_KEY_NAMES,
                 *[n for n in names if n.startswith("operator") and n.endswith((".key", ".pem"))]]:
        if os.path.isfile(os.path.join(args.keys_dir, name)):
            return os.path.join(args.keys_dir, name)
    return None


def push_commands(args, port):
    """The `flotilla push` command line that reaches the emulated board's
    device API on the host port (with the build's operator key), and the
    `flotilla sign` line that makes a bundle of www to push."""
    flotilla = args.flotilla or "flotilla"
    key = operator_key(args)
    bundle = "BUNDLE"
    lines = []
    if args.signing_key:
        bundle = f"www-{args.next_version}.fbl"
        lines.append(f"sign an update of www: {flotilla} sign --key {args.signing_key} --name www "
                     f"--version {args.next_version} --counter 2 --board {args.board} --nic lan "
                     f"{args.guests_dir or 'build/guests'}/www.img -o {bundle}")
    lines.append(f"push it to the board: {flotilla} push {bundle} --to 127.0.0.1:{port} --key "
                 f"{key or os.path.join(args.keys_dir or 'build/keys', OPERATOR_KEY_NAMES[0])}")
    if not key:
        lines.append(f"(no operator key in {args.keys_dir or 'the build'} yet: make one with "
                     f"'{flotilla} keygen' and have the board trust it)")
    return lines


def watch_console(log_path, monitor, ports, parent, args=None):
    """Child of `make run`: forwards host ports to the domains' addresses as
    the console reports them, and prints the URLs. Exits with QEMU."""
    wanted = [("control", CONTROL_ADDRESS, ports["api"], "the device API: curl http://127.0.0.1:{port}/v1/ping"),
              ("www", WWW_ADDRESS, ports["www"], "2048 on the www guest: open http://127.0.0.1:{port}/ in a browser")]
    done = set()
    text = ""
    while os.getppid() == parent and len(done) < len(wanted):
        time.sleep(0.3)
        try:
            with open(log_path, errors="replace") as f:
                text = f.read()
        except OSError:
            continue
        for name, pattern, port, message in wanted:
            m = pattern.search(text)
            if name in done or not m:
                continue
            done.add(name)
            reply = monitor_command(monitor, f"hostfwd_add lan tcp:127.0.0.1:{port}-{m.group(1)}:{GUEST_PORT}")
            if "rror" in reply or "could not" in reply.lower():
                announce(f"{name} is at {m.group(1)}, but forwarding host port {port} failed: {reply.strip()}")
            else:
                announce(message.format(port=port) + f"  ({name} is {m.group(1)} on the board's LAN)")
                if name == "control" and args is not None:
                    for line in push_commands(args, port):
                        announce(line)
    os._exit(0)


def run(args):
    workdir = os.path.join(os.path.dirname(os.path.abspath(args.image)), "run")
    os.makedirs(workdir, exist_ok=True)
    disk = os.path.join(workdir, "sdcard.img")
    shutil.copyfile(args.image, disk)
    log_path = os.path.join(workdir, "console.log")
    monitor = os.path.join(workdir, "monitor.sock")
    for path in (log_path, monitor):
        if os.path.exists(path):
            os.unlink(path)
    ports = {"api": args.port, "www": args.www_port}
    print(f"Booting {disk} (a copy: {args.image} stays pristine) on QEMU orangepi-pc.")
    print("The board is on QEMU's user-mode LAN (10.0.2.0/24, DHCP); host ports are forwarded to")
    print(f"each domain once it has an address: {args.port} -> the control domain's port {GUEST_PORT},"
          f" {args.www_port} -> www's port {GUEST_PORT}.")
    print("Quit: Ctrl-a x.  Keys for the control domain: s status.")
    sys.stdout.flush()
    # The serial console stays on the terminal (with QEMU's Ctrl-a monitor)
    # and is also logged, so a watcher can learn the domains' addresses;
    # a second monitor on a socket adds the port forwards.
    cmd = [QEMU, *MACHINE, "-display", "none", "-no-reboot",
           "-drive", f"file={disk},format=raw,if=sd",
           "-netdev", "user,id=lan", "-net", f"nic,model={NIC_MODEL},netdev=lan",
           "-chardev", f"stdio,id=console,mux=on,logfile={log_path}",
           "-serial", "chardev:console", "-mon", "chardev=console,mode=readline",
           "-chardev", f"socket,id=mon,path={monitor},server=on,wait=off",
           "-mon", "chardev=mon,mode=readline"]
    parent = os.getpid()
    if os.fork() == 0:
        watch_console(log_path, monitor, ports, parent, args)
    os.execvp(cmd[0], cmd)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="boot the image interactively")
    r.add_argument("--image", required=True)
    r.add_argument("--port", type=int, default=5555, help="host port for the device API")
    r.add_argument("--www-port", type=int, default=8048, help="host port for the www guest (2048)")
    r.add_argument("--flotilla", help="the host CLI, for the printed `flotilla push` command")
    r.add_argument("--keys-dir", help="the build's keys: the development operator key is found there")
    r.add_argument("--operator-key", help="the operator key to name in the push command")
    r.add_argument("--signing-key", help="the signing key to name in the `flotilla sign` hint")
    r.add_argument("--board", default="orangepi-pc")
    r.add_argument("--guests-dir", help="where the build's guest images are")
    r.add_argument("--next-version", default="0.1.1", help="the version the sign hint suggests")
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
