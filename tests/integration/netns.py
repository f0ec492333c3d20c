"""A private LAN for board tests: a network namespace with a bridge, TAP
devices for emulated boards, and dnsmasq as the LAN's DHCP server.

    with Lan(workdir) as lan:             # needs root (CI runs as root)
        tap = lan.add_tap()               # one per emulated board NIC
        board = Board(image, work, nic=lan.qemu_nic(tap), wrapper=lan.wrap([]))
        ...
        lan.wait_lease(mac, timeout)      # -> address dnsmasq gave
        lan.ping(addr, count=10)          # -> (loss_percent, [rtt_ms, ...])
        lan.run(["curl", ...])            # any command inside the namespace

Everything lives inside the namespace (host address 10.<n>.0.1/24 on the
bridge), so a test never touches the machine's own interfaces and never
reaches another address. Leaving the `with` block - normally or by an
exception - kills dnsmasq and deletes the namespace with every interface
in it.
"""
import os
import re
import shutil
import signal
import subprocess
import time


def have_root():
    return os.geteuid() == 0


def skip_reason():
    """Why a LAN cannot be made here, or None."""
    if not have_root():
        return "needs root"
    for tool in ("ip", "dnsmasq"):
        if not shutil.which(tool) and not os.path.exists(f"/usr/sbin/{tool}"):
            return f"needs {tool}"
    if not os.path.exists("/dev/net/tun"):
        return "needs /dev/net/tun"
    return None


class LanError(Exception):
    pass


class Lan:
    """One namespace, one bridge (the LAN), dnsmasq serving DHCP on it."""

    def __init__(self, workdir, subnet=None, dhcp=True, lease_seconds=3600):
        os.makedirs(workdir, exist_ok=True)
        self.workdir = workdir
        self.name = f"flt{os.getpid()}-{int(time.monotonic() * 1000) % 100000}"
        # 10.<n>.0.0/24 with n from the pid: concurrent runs get different LANs
        # (they are isolated anyway; distinct numbers keep logs unambiguous).
        self.subnet = subnet or f"10.{100 + os.getpid() % 100}.0"
        self.host_addr = f"{self.subnet}.1"
        self.prefix = 24
        self.bridge = "br0"
        self.taps = []
        self.dhcp = dhcp
        self.lease_seconds = lease_seconds
        self.lease_file = os.path.join(workdir, "dnsmasq.leases")
        self.dnsmasq_log = os.path.join(workdir, "dnsmasq.log")
        self.dnsmasq = None
        self.created = False

    # ---------------------------------------------------------- set-up
    def _ip(self, *args):
        subprocess.run(["ip", "netns", "exec", self.name, "ip", *args], check=True,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def start(self):
        reason = skip_reason()
        if reason:
            raise LanError(reason)
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        self.created = True
        self._ip("link", "set", "lo", "up")
        # No IPv6 on the LAN: its router solicitations and MLD reports would
        # be traffic the tests did not ask for (idle checks count frames).
        subprocess.run(self.wrap(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                                  "net.ipv6.conf.default.disable_ipv6=1"]),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._ip("link", "add", self.bridge, "type", "bridge")
        self._ip("addr", "add", f"{self.host_addr}/{self.prefix}", "dev", self.bridge)
        self._ip("link", "set", self.bridge, "up")
        if self.dhcp:
            self._start_dnsmasq()
        return self

    def _start_dnsmasq(self):
        open(self.lease_file, "w").close()
        log = open(self.dnsmasq_log, "w")
        self.dnsmasq = subprocess.Popen(
            ["ip", "netns", "exec", self.name, "dnsmasq", "--keep-in-foreground",
             "--conf-file=/dev/null", "--port=0", f"--interface={self.bridge}",
             "--bind-interfaces", "--log-dhcp", "--log-facility=-",
             f"--dhcp-range={self.subnet}.50,{self.subnet}.150,255.255.255.0,{self.lease_seconds}",
             f"--dhcp-option=option:router,{self.host_addr}",
             f"--dhcp-leasefile={self.lease_file}", "--pid-file=",
             "--dhcp-authoritative",
             "--no-ping"],  # no 3 s conflict probe: the LAN is the test's own
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        time.sleep(0.2)
        if self.dnsmasq.poll() is not None:
            raise LanError(f"dnsmasq exited: {open(self.dnsmasq_log).read()[-500:]}")

    def add_tap(self):
        """A TAP device on the LAN's bridge, for one emulated NIC; its name."""
        tap = f"tap{len(self.taps)}"
        self._ip("tuntap", "add", "dev", tap, "mode", "tap")
        # The LAN is a wire, not a bottleneck of its own: the TAP's queue
        # towards QEMU holds a burst (Linux's default of 1000 frames drops
        # most of a 2000-frame burst before the board ever sees it).
        self._ip("link", "set", tap, "txqueuelen", "10000")
        self._ip("link", "set", tap, "master", self.bridge)
        self._ip("link", "set", tap, "up")
        self.taps.append(tap)
        return tap

    def stop(self):
        if self.dnsmasq and self.dnsmasq.poll() is None:
            try:
                os.killpg(self.dnsmasq.pid, signal.SIGTERM)
                self.dnsmasq.wait(timeout=5)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.dnsmasq.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.dnsmasq.wait()
        self.dnsmasq = None
        if self.created:
            # Deleting the namespace deletes the bridge and TAPs inside it
            # once the last process holding them (QEMU) has gone.
            subprocess.run(["ip", "netns", "del", self.name], stderr=subprocess.DEVNULL)
            self.created = False

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()
        return False

    # ---------------------------------------------------------- use
    def wrap(self, command):
        """A command line that runs `command` inside the namespace."""
        return ["ip", "netns", "exec", self.name, *command]

    @staticmethod
    def qemu_nic(tap, model="allwinner-sun8i-emac", netdev_id="n0"):
        """QEMU arguments that attach an emulated NIC to the TAP."""
        return ["-netdev", f"tap,id={netdev_id},ifname={tap},script=no,downscript=no",
                "-net", f"nic,model={model},netdev={netdev_id}"]

    def run(self, command, timeout=60, check=False):
        """Run a command inside the namespace; CompletedProcess (text)."""
        return subprocess.run(self.wrap(command), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=timeout, check=check)

    def popen(self, command, **kwargs):
        return subprocess.Popen(self.wrap(command), start_new_session=True, **kwargs)

    def leases(self):
        """{mac: address} from dnsmasq's lease file."""
        result = {}
        try:
            with open(self.lease_file) as f:
                for line in f:
                    fields = line.split()
                    if len(fields) >= 3:
                        result[fields[1].lower()] = fields[2]
        except FileNotFoundError:
            pass
        return result

    def wait_lease(self, mac, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            addr = self.leases().get(mac.lower())
            if addr:
                return addr
            time.sleep(0.2)
        return None

    def ping(self, addr, count=10, interval=0.2, size=56, timeout=60):
        """(loss percent, [rtt ms]) of `count` echo requests from the host side.
        -w: wait for every answer (up to a deadline); without it ping gives the
        last ones only twice the slowest RTT so far, and a late answer on a
        loaded host would count as lost."""
        out = self.run(["ping", "-n", "-c", str(count), "-i", str(interval), "-s", str(size),
                        "-w", str(max(5, int(count * interval) + 5)),
                        "-W", "2", addr], timeout=timeout).stdout
        answered = {int(m.group(1)): float(m.group(2))
                    for m in re.finditer(r"icmp_seq=(\d+) ttl=\d+ time=([\d.]+) ms", out)
                    if int(m.group(1)) <= count}
        # With -w ping sends on until `count` answers came: requests beyond
        # the first `count` replace lost ones and do not count here.
        loss = 100.0 * (count - len(answered)) / count
        return loss, list(answered.values()), out
