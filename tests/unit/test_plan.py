#!/usr/bin/python3
"""hypervisor-cfg/plan.py: the domain plan is validated at build time and
turned into boot.scr. Bad plans fail with one line naming the problem.
Prints TAP."""
import os
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PLAN = os.path.join(ROOT, "hypervisor-cfg", "plan.py")
count = failed = 0


def check(what, ok, detail=""):
    global count, failed
    count += 1
    failed += 0 if ok else 1
    print(f"{'' if ok else 'not '}ok {count} - {what}")
    if not ok:
        print("# " + str(detail).replace("\n", "\n# "))


def run(text, *extra, cpus=4):
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
        f.write(text)
    try:
        command = extra[0] if extra else "check"
        return subprocess.run([sys.executable, PLAN, command, f.name, "--ram-mb", "1024",
                               "--cpus", str(cpus), *extra[1:]], capture_output=True, text=True)
    finally:
        os.unlink(f.name)


CONTROL = "[control]\nmemory_mb = 64\nvcpus = 1\n"
GUEST = '[[guest]]\nname = "{n}"\nimage = "hello"\nmemory_mb = {m}\nvcpus = {v}\n'


def refused(what, text, needle, cpus=4):
    r = run(text, cpus=cpus)
    lines = r.stderr.strip().splitlines()
    check(f"refused: {what}", r.returncode == 1 and len(lines) == 1 and needle in lines[0], r.stderr)


for board, cpus in (("orangepi-pc", 4), ("cubieboard2", 2)):
    r = subprocess.run([sys.executable, PLAN, "check", os.path.join(ROOT, "hypervisor-cfg", f"{board}.toml"),
                        "--ram-mb", "1024", "--cpus", str(cpus)], capture_output=True, text=True)
    check(f"the {board} plan is valid", r.returncode == 0, r.stderr)

refused("memory that does not fit the board", CONTROL + GUEST.format(n="a", m=1000, v=1), "domains need")
refused("a name used twice", CONTROL + GUEST.format(n="a", m=16, v=1) + GUEST.format(n="a", m=16, v=1),
        "used twice")
refused("more vCPUs than the board has", CONTROL + GUEST.format(n="a", m=16, v=3), "the board has 2 CPUs", cpus=2)
refused("a guest name the signed manifest cannot carry", CONTROL + GUEST.format(n="Hello", m=16, v=1), "must start with a-z")
refused("an odd guest memory size", CONTROL + GUEST.format(n="a", m=15, v=1), "even")
refused("a missing [control] section", GUEST.format(n="a", m=16, v=1), "[control]")
refused("a syntax error", CONTROL + "[[guest]\n", "")
refused("a vNIC name used twice", CONTROL + GUEST.format(n="a", m=16, v=1) + 'nics = ["lan", "lan"]\n', "nics")
refused("a vNIC name the manifest cannot carry", CONTROL + GUEST.format(n="a", m=16, v=1) + 'nics = ["LAN"]\n', "nics")
refused("nics that is not a list", CONTROL + GUEST.format(n="a", m=16, v=1) + 'nics = "lan"\n', "nics")
r = run(CONTROL + GUEST.format(n="a", m=16, v=1) + 'nics = ["lan", "mgmt"]\n', "guests")
check("a guest's nics reach the boot bundle's guest list", r.returncode == 0 and '"nics": ["lan", "mgmt"]' in r.stdout,
      r.stdout + r.stderr)

with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, "boot.cmd")
    r = run(CONTROL + GUEST.format(n="hello", m=16, v=1), "bootcmd", "--dtb", "board.dtb", "--console",
            "dtuart=serial0", "-o", out)
    text = open(out).read() if r.returncode == 0 else ""
    check("boot.cmd gives Xen its command line from the plan",
          'xen,xen-bootargs "console=dtuart dtuart=serial0 dom0_mem=64M dom0_max_vcpus=1"' in text, text)
    check("boot.cmd loads the control domain as dom0's kernel module",
          '"multiboot,kernel" "multiboot,module"' in text and "control.img" in text, text)
    check("a plan with guests makes boot.cmd hand guests.bnd to dom0 as its ramdisk",
          "guests.bnd" in text and '"multiboot,ramdisk" "multiboot,module"' in text, text)
    check("boot.cmd ends by booting Xen with the board DTB", text.rstrip().endswith("bootz 0x42000000 - 0x43000000"), text)
sys.exit(1 if failed else 0)
