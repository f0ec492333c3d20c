"""Where the www tests find their server: by default the www guest built
for the runtime's unix target, started on a TAP device inside a network
namespace that this module creates (root only), with the test process
itself moved into that namespace; or, with --url, a server that is already
running (e.g. www on the board: --url http://10.0.3.2/).

    [ namespace flwwwN:  tap0 10.0.3.1/24 ── www (unix target, 10.0.3.2/24) ]

With dhcp=True, dnsmasq in the namespace hands www its address instead
(10.0.3.50-60) and the URL is the address www's console reports.
"""
import argparse
import ctypes
import os
import re
import subprocess
import time
import urllib.parse

CLONE_NEWNET = 0x40000000
GUEST_ADDR = "10.0.3.2"
HOST_ADDR = "10.0.3.1"


def arguments(description, binary_help="www guest for the unix target (build/host/guests/www)"):
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("www", nargs="?", help=binary_help)
    ap.add_argument("--url", help="test this server instead of starting one (e.g. http://10.0.3.2/)")
    ap.add_argument("--out", default=os.environ.get("O", "build"), help="build directory for outputs")
    return ap


def why_not_root_mode():
    """None when the unix-target launcher can run here, else the SKIP reason."""
    if os.geteuid() != 0:
        return "needs root (network namespace and TAP; CI runs as root)"
    if not os.path.exists("/dev/net/tun"):
        return "needs /dev/net/tun"
    return None


class Server:
    """The server under test: .url, .host, .port, .output() (the console)."""

    def __init__(self, url=None, binary=None, bootargs=(), dhcp=False):
        self.proc = None
        self.dnsmasq = None
        self.dhcp_line = None
        self.ns = None
        self.log_path = None
        self._own_ns_fd = None
        if url:
            self.url = url if url.endswith("/") else url + "/"
        else:
            self.url = f"http://{GUEST_ADDR}/"
            self._start(binary, bootargs, dhcp)
        parsed = urllib.parse.urlparse(self.url)
        self.host = parsed.hostname
        self.port = parsed.port or 80

    def _ip(self, *args):
        subprocess.run(["ip", *args], check=True, capture_output=True, timeout=20)

    def _start(self, binary, bootargs, dhcp):
        if not binary or not os.access(binary, os.X_OK):
            raise SystemExit(f"error: www binary {binary!r} not found (build it: make)")
        self.ns = f"flwww{os.getpid()}"
        self._ip("netns", "add", self.ns)
        try:
            self._ip("-n", self.ns, "link", "set", "lo", "up")
            self._ip("-n", self.ns, "tuntap", "add", "dev", "tap0", "mode", "tap")
            self._ip("-n", self.ns, "addr", "add", f"{HOST_ADDR}/24", "dev", "tap0")
            self._ip("-n", self.ns, "link", "set", "tap0", "up")
            self.log_path = f"/tmp/{self.ns}.console"
            log = open(self.log_path, "w")
            env = dict(os.environ, FLOTILLA_NET0="tap:tap0")
            if dhcp:
                self.dnsmasq = subprocess.Popen(
                    ["ip", "netns", "exec", self.ns, "dnsmasq", "--no-daemon", "--conf-file=/dev/null",
                     "--interface=tap0", "--bind-interfaces", "--except-interface=lo",
                     "--dhcp-range=10.0.3.50,10.0.3.60,255.255.255.0,10m",
                     f"--dhcp-option=option:router,{HOST_ADDR}", "--port=0", "--no-resolv",
                     "--no-hosts", f"--dhcp-leasefile=/tmp/{self.ns}.leases", "--pid-file="],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(0.3)
                net_args = []
            else:
                net_args = [f"ip={GUEST_ADDR}/24", f"gw={HOST_ADDR}"]
            self.proc = subprocess.Popen(["ip", "netns", "exec", self.ns, binary, *net_args, *bootargs],
                                         stdout=log, stderr=subprocess.STDOUT, env=env)
            # Move this process (and everything it starts) into the namespace.
            libc = ctypes.CDLL(None, use_errno=True)
            self._own_ns_fd = os.open("/proc/self/ns/net", os.O_RDONLY)
            fd = os.open(f"/run/netns/{self.ns}", os.O_RDONLY)
            if libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns")
            os.close(fd)
            deadline = time.monotonic() + 30
            while "www: serving" not in self.output() or (dhcp and not self.dhcp_line):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("www did not start:\n" + self.output())
                m = re.search(r"^net: eth0 (\S+)/(\d+) via DHCP \(gw (\S+)\)$", self.output(), re.M)
                if dhcp and m:
                    self.dhcp_line = m.group(0)
                    self.url = f"http://{m.group(1)}/"
                time.sleep(0.05)
        except BaseException:
            self.close()
            raise

    def output(self):
        if not self.log_path:
            return ""
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def close(self):
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        if self.dnsmasq:
            self.dnsmasq.terminate()
            self.dnsmasq.wait()
            self.dnsmasq = None
            if os.path.exists(f"/tmp/{self.ns}.leases"):
                os.unlink(f"/tmp/{self.ns}.leases")
        if self._own_ns_fd is not None:
            ctypes.CDLL(None).setns(self._own_ns_fd, CLONE_NEWNET)
            os.close(self._own_ns_fd)
            self._own_ns_fd = None
        if self.ns:
            subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)
            self.ns = None
        if self.log_path and os.path.exists(self.log_path):
            os.unlink(self.log_path)
            self.log_path = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


M64 = (1 << 64) - 1


def testfile(size=4 << 20):
    """The bytes of /test/4M, by the generator in guests/www/site.h."""
    out = bytearray()
    for k in range((size + 7) // 8):
        z = ((k + 1) * 0x9e3779b97f4a7c15) & M64
        z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M64
        z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M64
        out += (z ^ (z >> 31)).to_bytes(8, "little")
    return bytes(out[:size])
