#!/usr/bin/python3
"""Build the peer dom0's initramfs (a gzip'd newc cpio) without root.

    mkinitramfs.py --root UNPACKED --tools DIR --hello HELLO.IMG --peertime BIN -o OUT

UNPACKED is the Debian armhf packages unpacked by fetch.sh. Only what the
peer runs goes in: busybox, xl, xenstored, xenconsoled, xen-init-dom0, the
shared libraries they need (the closure of their ELF DT_NEEDED entries,
read with binutils' readelf), Xen's kernel modules, the guest image and
its xl config, and tools/peer's init scripts. Owners are root, device
nodes are written into the archive directly: no root, no loop mount.
"""
import argparse
import glob
import gzip
import os
import re
import stat
import subprocess
import sys

PROGRAMS = ["usr/lib/xen-4.17/bin/xl", "usr/lib/xen-4.17/bin/xenstored",
            "usr/lib/xen-4.17/bin/xenconsoled", "usr/lib/xen-4.17/bin/xen-init-dom0",
            "usr/bin/xenstore"]
LIB_DIRS = ["lib/arm-linux-gnueabihf", "usr/lib/arm-linux-gnueabihf", "usr/lib/xen-4.17/lib"]
EXTRA_LIBS = ["libgcc_s.so.1"]
MODULES = ["xen-evtchn", "xen-privcmd", "xenfs", "xen-gntdev", "xen-gntalloc"]
APPLETS = """sh ash mount umount mkdir rm cat echo ls sleep cut cttyhack setsid insmod
lsmod ps free dmesg uptime grep sed head tail date ln cp mv wc true false test [ kill
sync dd hexdump env tr""".split()


def die(msg):
    print(f"mkinitramfs: error: {msg}", file=sys.stderr)
    sys.exit(1)


class Cpio:
    """newc writer: directories, files, symlinks, device nodes."""

    def __init__(self):
        self.data = bytearray()
        self.ino = 1
        self.seen = set()

    def _entry(self, name, mode, body=b"", rdev=(0, 0)):
        fields = [self.ino, mode, 0, 0, 1, 0, len(body), 0, 0, rdev[0], rdev[1], len(name) + 1, 0]
        self.ino += 1
        hdr = b"070701" + b"".join(b"%08X" % f for f in fields) + name.encode() + b"\0"
        self.data += hdr + b"\0" * (-len(hdr) % 4) + body + b"\0" * (-len(body) % 4)

    def dir(self, path):
        parts = path.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d and d not in self.seen:
                self.seen.add(d)
                self._entry(d, stat.S_IFDIR | 0o755)

    def file(self, path, body, mode=0o644):
        path = path.strip("/")
        if path in self.seen:
            return
        self.dir(os.path.dirname(path))
        self.seen.add(path)
        self._entry(path, stat.S_IFREG | mode, body)

    def symlink(self, path, target):
        path = path.strip("/")
        self.dir(os.path.dirname(path))
        self.seen.add(path)
        self._entry(path, stat.S_IFLNK | 0o777, target.encode())

    def chardev(self, path, major, minor):
        path = path.strip("/")
        self.dir(os.path.dirname(path))
        self._entry(path, stat.S_IFCHR | 0o600, rdev=(major, minor))

    def finish(self):
        self._entry("TRAILER!!!", 0)
        return bytes(self.data)


def needed(path):
    out = subprocess.run(["readelf", "-d", path], capture_output=True, text=True, check=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)


def find_lib(root, name):
    for d in LIB_DIRS:
        p = os.path.join(root, d, name)
        if os.path.exists(p):
            return os.path.join(d, name)
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--tools", required=True, help="tools/peer (init, peer-bench, hello.cfg)")
    ap.add_argument("--hello", required=True)
    ap.add_argument("--peertime", required=True)
    ap.add_argument("-o", "--output", required=True)
    a = ap.parse_args()
    root = a.root
    c = Cpio()

    def add_from_root(rel, mode=0o755):
        src = os.path.join(root, rel)
        if not os.path.exists(src):
            die(f"{rel} is missing from {root} (run tools/peer/fetch.sh)")
        with open(src, "rb") as f:
            c.file(rel, f.read(), mode)

    for d in ("proc", "sys", "dev", "run", "tmp", "etc/xen", "var/lib", "var/log"):
        c.dir(d)
    c.symlink("var/run", "/run")
    c.symlink("var/lock", "/run/lock")
    c.chardev("dev/console", 5, 1)
    c.chardev("dev/null", 1, 3)
    c.file("etc/passwd", b"root:x:0:0:root:/:/bin/sh\n")

    add_from_root("bin/busybox")
    for applet in APPLETS:
        c.symlink(f"bin/{applet}", "busybox")
    c.symlink("usr/bin/xenstore-read", "xenstore")

    # Programs and the closure of their shared libraries.
    todo = list(PROGRAMS)
    libs = set()
    while todo:
        rel = todo.pop()
        add_from_root(rel)
        for lib in needed(os.path.join(root, rel)):
            if lib in libs:
                continue
            libs.add(lib)
            found = find_lib(root, lib)
            if not found:
                die(f"{rel} needs {lib}, not in the unpacked packages (add its package to fetch.sh)")
            todo.append(found)
    # glibc dlopen()s libgcc_s for pthread_cancel (xl's threads).
    for lib in EXTRA_LIBS:
        found = find_lib(root, lib) or die(f"{lib} is not in the unpacked packages")
        add_from_root(found)
    # The dynamic loader's path as the programs name it.
    c.symlink("lib/ld-linux-armhf.so.3", "arm-linux-gnueabihf/ld-linux-armhf.so.3")
    for d in LIB_DIRS[1:]:
        c.dir(d)

    kos = glob.glob(os.path.join(root, "lib/modules/*/kernel/drivers/xen/**/*.ko"), recursive=True)
    for m in MODULES:
        src = [k for k in kos if os.path.basename(k) == m + ".ko"]
        if not src:
            die(f"module {m}.ko not in the unpacked kernel package")
        with open(src[0], "rb") as f:
            c.file(f"lib/modules/{m}.ko", f.read())

    for name, dest, mode in (("init", "init", 0o755), ("peer-bench", "bin/peer-bench", 0o755),
                             ("hello.cfg", "etc/xen/hello.cfg", 0o644),
                             ("xl.conf", "etc/xen/xl.conf", 0o644)):
        with open(os.path.join(a.tools, name), "rb") as f:
            c.file(dest, f.read(), mode)
    with open(a.peertime, "rb") as f:
        c.file("bin/peertime", f.read(), 0o755)
    with open(a.hello, "rb") as f:
        c.file("lib/peer/hello.img", f.read())

    data = c.finish()
    tmp = a.output + ".tmp"
    with open(tmp, "wb") as f:
        f.write(gzip.compress(data, 9, mtime=0))
    os.replace(tmp, a.output)
    print(f"  PEER    {os.path.basename(a.output)}: {len(data)} bytes of cpio, "
          f"{os.path.getsize(a.output)} gzip'd, {len(libs)} shared libraries")


if __name__ == "__main__":
    main()
