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

# Strict: anything the plan does not define is an error naming file and line.
sys.path.insert(0, os.path.join(ROOT, "hypervisor-cfg"))
import plan as plan_module  # noqa: E402

BUILDER = plan_module.c_defines(os.path.join(ROOT, "guests", "control", "builder.h"))
BUNDLE = plan_module.c_defines(os.path.join(ROOT, "guests", "control", "boot_bundle.h"))
OK_GUEST = GUEST.format(n="a", m=16, v=1)
refused("an unknown table, with its line", CONTROL + OK_GUEST.replace("[[guest]]", "[[guests]]"),
        ".toml:4: unknown table 'guests'")
refused("an unknown key, listing the allowed ones", CONTROL + OK_GUEST + "memroy_mb = 16\n",
        "unknown key 'memroy_mb' (allowed: name, image, memory_mb")
refused("a misspelt pcpus", CONTROL + OK_GUEST + "pcpu = [1]\n", ".toml:9: [[guest]] entry 1: unknown key 'pcpu'")
refused("an unknown key in [control]", CONTROL + "memory = 3\n" + OK_GUEST, "[control]: unknown key 'memory'")
refused("a wrong type (bootargs = 5), with its line", CONTROL + OK_GUEST + "bootargs = 5\n",
        ".toml:9: [[guest]] entry 1: bootargs must be a string, not an integer")
refused("a missing required key", CONTROL + '[[guest]]\nname = "a"\nimage = "hello"\nvcpus = 1\n',
        "missing memory_mb")
refused("[control] written as [[control]]", "[[control]]\nmemory_mb = 64\nvcpus = 1\n", "must be written [control]")
refused("pcpus naming the control domain's CPU 0", CONTROL + OK_GUEST + "pcpus = [0, 1]\n",
        "pcpus may not include CPU 0")
refused("pcpus naming a CPU of a 2-vCPU control domain",
        CONTROL.replace("vcpus = 1", "vcpus = 2") + OK_GUEST + "pcpus = [1, 2]\n", "pcpus may not include CPU 0, 1")
vmax = BUILDER["DOM_VCPUS_MAX"]
refused(f"more vCPUs than the builder starts ({vmax}, from builder.h)", CONTROL + GUEST.format(n="a", m=16, v=vmax + 1),
        f"builder starts {vmax} vCPU")
# 924 MiB + 64 + 32 for Xen fit 1024 MiB, but not with Xen's paging pool for the guest.
pool_mb = plan_module.paging_pool_kb(924, 1) / 1024
check("the paging pool is libxl's 4 * (256 * vcpus + MiB + 128) KiB (builder.h)",
      plan_module.paging_pool_kb(924, 1) == 4 * (256 * 1 + 924 + 128), pool_mb)
refused("RAM that fits only without Xen's per-guest paging pool", CONTROL + GUEST.format(n="a", m=924, v=1),
        "paging pool")
r = run(CONTROL + GUEST.format(n="a", m=920, v=1))
check("... and the same plan with that much less RAM passes", r.returncode == 0, r.stderr)
nmax = BUNDLE["BOOT_BUNDLE_ENTRIES_MAX"]
refused(f"more guests than a boot bundle holds ({nmax}, from boot_bundle.h)",
        CONTROL + "".join(GUEST.format(n=f"g{i}", m=4, v=1) for i in range(nmax + 1)), f"at most {nmax}")
# The health gate: probe and ready_timeout_s, checked as the control domain's
# probe_parse() checks them, each refusal naming the file and line.
for text, needle in (('"udp:53"', '.toml:9: guest a: probe must be "tcp:PORT" or "http:PORT/PATH"'),
                     ('"tcp:0"', "probe port must be a number 1..65535"),
                     ('"tcp:70000"', "probe port must be a number 1..65535"),
                     ('"tcp:80/x"', "nothing after the port"),
                     ('"http:80"', "needs a path"),
                     ('"http:80/a b"', "may not contain spaces"),
                     ('"http:80/' + "a" * 45 + '"', "longer than 47 bytes")):
    refused(f"probe = {text}", CONTROL + OK_GUEST + f"probe = {text}\n", needle)
for value in (0, BUNDLE["BOOT_READY_MAX_S"] + 1):
    refused(f"ready_timeout_s = {value}", CONTROL + OK_GUEST + f"ready_timeout_s = {value}\n",
            f".toml:9: guest a: ready_timeout_s must be 1..{BUNDLE['BOOT_READY_MAX_S']}")
r = run(CONTROL + OK_GUEST + 'probe = "http:80/healthz"\nready_timeout_s = 12\n', "guests")
check("probe and ready_timeout_s reach the boot bundle's guest list",
      r.returncode == 0 and '"probe": "http:80/healthz"' in r.stdout and '"ready_timeout_s": 12' in r.stdout,
      r.stdout + r.stderr)
for text in ('"tcp:22"', '"none"', '""', '"http:8080/a/b?c=1"'):
    r = run(CONTROL + OK_GUEST + f"probe = {text}\n")
    check(f"probe = {text} is valid", r.returncode == 0, r.stderr)

# Every key with a value of the wrong type: one line, never a traceback.
wrong = {str: "5", int: '"5"', plan_module.IntList: '["1"]', plan_module.Tables: '5', plan_module.StrList: '[1]'}
bad = []
for table, keys in plan_module.SCHEMA.items():
    for key, kind in keys.items():
        if table in plan_module.ARRAY_TABLES:
            text = CONTROL + f'[[{table}]]\nname = "a"\nimage = "hello"\nmemory_mb = 16\nvcpus = 1\n'
            text = "\n".join(line for line in text.splitlines() if not line.startswith(key + " ")) + "\n"
            text += f"{key} = {wrong[kind]}\n"
        else:
            text = CONTROL.replace(f"{key} = ", f"{key}_old = ") if table == "control" else CONTROL
            text = text.replace(f"{key}_old = 64\n", "").replace(f"{key}_old = 1\n", "")
            text += f"[{table}]\n{key} = {wrong[kind]}\n" if table != "control" else ""
            if table == "control":
                text = text.replace("[control]\n", f"[control]\n{key} = {wrong[kind]}\n")
        r = run(text)
        lines = r.stderr.strip().splitlines()
        if not (r.returncode == 1 and len(lines) == 1 and key in lines[0] and "Traceback" not in r.stderr):
            bad.append((table, key, r.stderr))
check("every key with a wrong type is one error line naming it", not bad, bad)

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
