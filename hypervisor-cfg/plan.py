#!/usr/bin/python3
"""Validate a board's domain plan and generate U-Boot's boot script from it.

    plan.py check   PLAN --ram-mb N --cpus N
    plan.py bootcmd PLAN --ram-mb N --cpus N --console ARGS --dtb FILE [--ramdisk] -o OUT
    plan.py files   PLAN --ram-mb N --cpus N     # guest images the boot partition needs
    plan.py guests  PLAN --ram-mb N --cpus N     # JSON list of [[guest]] entries (for the boot bundle)

The plan (hypervisor-cfg/<board>.toml) is data; this is the one place that
turns it into the Xen command line and the module layout U-Boot hands Xen.
Errors are one line on stderr and exit status 1.
"""
import argparse
import os
import re
import sys
import tomllib

# Where U-Boot loads each file. Xen relocates itself to the top of RAM, so
# these only need to stay clear of each other and of U-Boot (top of RAM).
LOAD_XEN = 0x42000000
LOAD_DTB = 0x43000000
LOAD_CONTROL = 0x44000000
LOAD_RAMDISK = 0x46000000
# Boot-time domains (Xen's dom0less builder), 1 MiB apart.
LOAD_BOOT_DOMAINS = 0x47000000
BOOT_DOMAIN_IMAGE_MAX = 0x100000
# Xen itself, its heap and the frame table need some RAM besides domains.
XEN_RESERVED_MB = 32


ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


class PlanError(Exception):
    pass


def c_defines(path):
    """The `#define NAME integer` (or "string") lines of a C header: limits
    shared with the control domain are written there once and read here."""
    defines = {}
    with open(path) as f:
        for line in f:
            m = re.match(r'\s*#define\s+(\w+)\s+(\d+|"[^"]*")\s*(/\*.*)?$', line)
            if m:
                value = m.group(2)
                defines[m.group(1)] = value[1:-1] if value.startswith('"') else int(value)
    return defines


BUILDER = c_defines(os.path.join(ROOT, "guests", "control", "builder.h"))
BUNDLE = c_defines(os.path.join(ROOT, "guests", "control", "boot_bundle.h"))


def paging_pool_kb(memory_mb, vcpus):
    """Xen's paging pool for one domain (libxl's formula, as builder.c asks
    for it): memory Xen takes on top of the domain's RAM."""
    return (BUILDER["DOM_PAGING_POOL_KB_PER_VCPU"] * vcpus + BUILDER["DOM_PAGING_POOL_KB_PER_MB"] * memory_mb
            + BUILDER["DOM_PAGING_POOL_KB_FIXED"])


class IntList:
    """Type marker: a list of integers."""


class StrList:
    """Type marker: a list of strings."""


class Tables:
    """Type marker: a table, or a list of tables (test_update)."""


# Every table and key a plan may have, with its type. [[name]] tables are
# lists of entries. This is the one place to add a key.
SCHEMA = {
    "xen": {"extra": str},
    "control": {"memory_mb": int, "vcpus": int, "bootargs": str},
    "guest": {"name": str, "image": str, "memory_mb": int, "vcpus": int, "pcpus": IntList,
              "bootargs": str, "counter": int, "version": str, "tamper": str,
              # tests only: updates installed on the board by a test hook (guests/control/store.c)
              "test_update": Tables,
              # virtual NICs by name (docs/vnic-ring.md); manifest_nics: tests only
              "nics": StrList, "manifest_nics": StrList,
              # the health gate of a new version (guests/control/probe.h, docs/plan.md)
              "probe": str, "ready_timeout_s": int},
    "boot_domain": {"name": str, "image": str, "memory_mb": int, "vcpus": int, "bootargs": str},
}
ARRAY_TABLES = {"guest", "boot_domain"}
REQUIRED = {
    "control": ("memory_mb", "vcpus"),
    "guest": ("name", "image", "memory_mb", "vcpus"),
    "boot_domain": ("name", "image", "memory_mb", "vcpus"),
}
TYPE_NAMES = {str: "a string", int: "an integer", IntList: "a list of integers",
              Tables: "a table or a list of tables", StrList: "a list of strings", dict: "a table",
              list: "a list", bool: "true/false", float: "a number"}


def type_name(value):
    for t in (bool, str, int, float, list, dict):
        if isinstance(value, t):
            return TYPE_NAMES[t]
    return type(value).__name__


def has_type(value, t):
    if t is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if t is IntList:
        return isinstance(value, list) and all(has_type(v, int) for v in value)
    if t is StrList:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if t is Tables:
        return isinstance(value, dict) or (isinstance(value, list) and all(isinstance(v, dict) for v in value))
    return isinstance(value, t)


def key_lines(text):
    """(table, entry index, key) -> line number, for messages: tomllib keeps
    no positions. Plans are flat tables, so a line scan is enough."""
    lines = {}
    table, index, counts = None, 0, {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        m = re.match(r"\[\[\s*([\w.-]+)\s*\]\]", line) or re.match(r"\[\s*([\w.-]+)\s*\]", line)
        if m:
            table = m.group(1)
            index = counts[table] = counts.get(table, -1) + 1
            lines.setdefault((table, index, None), number)
            continue
        m = re.match(r"([\w-]+)\s*=", line)
        if m:
            lines.setdefault((table, index if table else 0, m.group(1)), number)
    return lines


class Plan:
    def __init__(self, path, text):
        self.path = path
        self.lines = key_lines(text)

    def error(self, message, table=None, index=0, key=None):
        line = self.lines.get((table, index, key)) or self.lines.get((table, index, None))
        where = f"{self.path}:{line}" if line else self.path
        raise PlanError(f"{where}: {message}")


def check_schema(p, plan):
    for table, value in plan.items():
        if table not in SCHEMA:
            allowed = ", ".join(f"[[{t}]]" if t in ARRAY_TABLES else f"[{t}]" for t in SCHEMA)
            p.error(f"unknown table {table!r} (allowed: {allowed})", table)
        is_array = table in ARRAY_TABLES
        if is_array and not (isinstance(value, list) and all(isinstance(e, dict) for e in value)):
            p.error(f"{table} must be written [[{table}]] (a list of entries)", table)
        if not is_array and not isinstance(value, dict):
            p.error(f"{table} must be written [{table}] (one table)", table)
        for index, entry in enumerate(value if is_array else [value]):
            label = f"[[{table}]] entry {index + 1}" if is_array else f"[{table}]"
            for key, v in entry.items():
                allowed = SCHEMA[table]
                if key not in allowed:
                    p.error(f"{label}: unknown key {key!r} (allowed: {', '.join(allowed)})", table, index, key)
                if not has_type(v, allowed[key]):
                    p.error(f"{label}: {key} must be {TYPE_NAMES[allowed[key]]}, not {type_name(v)}",
                            table, index, key)
            for key in REQUIRED.get(table, ()):
                if key not in entry:
                    p.error(f"{label}: missing {key} (required: {', '.join(REQUIRED[table])})", table, index)


def check_domain(p, kind, index, g, names, cpus):
    """What every domain entry needs: a unique name, an image, memory, vCPUs."""
    name = g["name"]
    err = lambda message, key=None: p.error(f"{kind} {name}: {message}", kind, index, key)
    if not name.isidentifier() or len(name) > BUNDLE["BOOT_BUNDLE_NAME_MAX"]:
        p.error(f"{kind} name {name!r} must be 1-{BUNDLE['BOOT_BUNDLE_NAME_MAX']} letters, digits or _",
                kind, index, "name")
    if name in names:
        p.error(f"name {name!r} is used twice", kind, index, "name")
    names.add(name)
    if not g["image"].isidentifier():
        err("image must name a guest application (guests/<image>)", "image")
    for key in ("memory_mb", "vcpus"):
        if g[key] < 1:
            err(f"{key} must be a positive integer", key)
    if g["vcpus"] > cpus:
        err(f"vcpus = {g['vcpus']} but the board has {cpus} CPUs", "vcpus")
    return name, err


def probe_problem(text):
    """What is wrong with a `probe` ("tcp:PORT", "http:PORT/PATH", "" or
    "none"), or None. The same rules as probe_parse() in guests/control/probe.c."""
    if text in ("", "none"):
        return None
    limit = BUNDLE["BOOT_BUNDLE_PROBE_MAX"]
    if len(text.encode()) > limit:
        return f"probe is longer than {limit} bytes"
    m = re.fullmatch(r"(tcp|http):(\d*)(.*)", text, re.S)
    if not m:
        return 'probe must be "tcp:PORT" or "http:PORT/PATH" (e.g. "http:80/healthz")'
    kind, port, rest = m.groups()
    if not port or len(port) > 5 or not 1 <= int(port) <= 65535:
        return "probe port must be a number 1..65535"
    if kind == "tcp" and rest:
        return 'a tcp probe is "tcp:PORT", nothing after the port'
    if kind == "http" and not rest.startswith("/"):
        return 'an http probe needs a path: "http:PORT/PATH"'
    if kind == "http" and not all(" " < c < "\x7f" and c not in '"#<>\\^`{|}' for c in rest):
        return 'probe path may not contain spaces, control characters or "#<>\\^`{|}'
    return None


def load(path, ram_mb, cpus):
    try:
        with open(path, "rb") as f:
            text = f.read().decode()
        plan = tomllib.loads(text)
    except OSError as e:
        raise PlanError(f"cannot read {path}: {e.strerror}")
    except UnicodeDecodeError:
        raise PlanError(f"{path}: not UTF-8 text")
    except tomllib.TOMLDecodeError as e:
        raise PlanError(f"{path}: {e}")
    p = Plan(path, text)
    check_schema(p, plan)
    control = plan.get("control")
    if control is None:
        p.error("missing [control] section (the control domain: memory_mb, vcpus)")
    for key in ("memory_mb", "vcpus"):
        if control[key] < 1:
            p.error(f"[control] {key} must be a positive integer", "control", 0, key)
    if control["vcpus"] > cpus:
        p.error(f"[control] vcpus = {control['vcpus']} but the board has {cpus} CPUs", "control", 0, "vcpus")
    # The control domain's vCPU n runs on physical CPU n (dom0_vcpus_pin in
    # [xen] extra pins it there): CPUs 0..vcpus-1 are the control domain's.
    control_cpus = set(range(control["vcpus"]))
    extra = plan.get("xen", {}).get("extra", "")
    if any(c in extra for c in '"$'):
        p.error("[xen] extra must be a string without \" or $", "xen", 0, "extra")
    names = set()
    total_kb = control["memory_mb"] * 1024
    guests = plan.get("guest", [])
    if len(guests) > BUNDLE["BOOT_BUNDLE_ENTRIES_MAX"]:
        p.error(f"{len(guests)} [[guest]] entries; a boot bundle holds at most {BUNDLE['BOOT_BUNDLE_ENTRIES_MAX']}",
                "guest", BUNDLE["BOOT_BUNDLE_ENTRIES_MAX"])
    for index, g in enumerate(guests):
        # Guests the control domain verifies and builds. Their names go into
        # the signed manifest: lower case first, then a-z 0-9 _ (ota/).
        name, err = check_domain(p, "guest", index, g, names, cpus)
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,30}", name):
            p.error(f"guest name {name!r} must start with a-z, then a-z 0-9 _ (at most 31)", "guest", index, "name")
        low, high = BUILDER["DOM_MEMORY_MB_MIN"], BUILDER["DOM_MEMORY_MB_MAX"]
        if not low <= g["memory_mb"] <= high or g["memory_mb"] % 2:
            err(f"memory_mb must be even and {low}..{high} (what the builder makes)", "memory_mb")
        if g["vcpus"] > BUILDER["DOM_VCPUS_MAX"]:
            err(f"vcpus = {g['vcpus']} but the control domain's builder starts {BUILDER['DOM_VCPUS_MAX']} vCPU(s)"
                " per guest (guests/control/builder.h)", "vcpus")
        bootargs = g.get("bootargs", "")
        limit = BUNDLE["BOOT_BUNDLE_BOOTARGS_MAX"]
        if len(bootargs.encode()) > limit or "\0" in bootargs:
            err(f"bootargs must be at most {limit} bytes, no NUL", "bootargs")
        if g.get("counter", 1) < 0:
            err("counter must be a non-negative integer", "counter")
        pcpus = g.get("pcpus", [])
        if not all(0 <= c < min(cpus, 32) for c in pcpus):
            err(f"pcpus must list physical CPUs 0..{min(cpus, 32) - 1}", "pcpus")
        if control_cpus & set(pcpus):
            cpu_list = ", ".join(str(c) for c in sorted(control_cpus))
            err(f"pcpus may not include CPU {cpu_list}: the control domain runs there"
                " (its vCPU n is pinned to CPU n, dom0_vcpus_pin)", "pcpus")
        for key in ("nics", "manifest_nics"):
            # Virtual NICs by name, one each in this order (docs/vnic-ring.md);
            # manifest_nics (tests only) overrides what the signed manifest asks.
            nics = g.get(key, [])
            if (len(nics) > 8 or len(set(nics)) != len(nics)
                    or not all(re.fullmatch(r"[a-z][a-z0-9_-]{0,30}", n) for n in nics)):
                err(f"{key} must list at most 8 distinct names (a-z, then a-z 0-9 - _)", key)
        if g.get("nics") and g["memory_mb"] > 1020:
            err("a guest with nics has at most 1020 MiB (its rings sit above its RAM)", "memory_mb")
        problem = probe_problem(g.get("probe", ""))
        if problem:
            err(f"{problem}, not {g['probe']!r}", "probe")
        ready_max = BUNDLE["BOOT_READY_MAX_S"]
        if not 1 <= g.get("ready_timeout_s", BUNDLE["BOOT_READY_DEFAULT_S"]) <= ready_max:
            err(f"ready_timeout_s must be 1..{ready_max} (seconds a new version has to become healthy)",
                "ready_timeout_s")
        if g.get("tamper", "") not in ("", "image", "signature"):
            err('tamper must be "image" or "signature" (tests only)', "tamper")
        total_kb += g["memory_mb"] * 1024 + paging_pool_kb(g["memory_mb"], g["vcpus"])
    for index, g in enumerate(plan.get("boot_domain", [])):
        # Boot-time domains are built by Xen itself (dom0less); they exist
        # for tests of the runtime, before the control domain builds guests.
        name, err = check_domain(p, "boot_domain", index, g, names, cpus)
        if '"' in g.get("bootargs", "") or "$" in g.get("bootargs", ""):
            err('bootargs may not contain " or $', "bootargs")
        total_kb += g["memory_mb"] * 1024 + paging_pool_kb(g["memory_mb"], g["vcpus"])
    if '"' in control.get("bootargs", "") or "$" in control.get("bootargs", ""):
        p.error('[control] bootargs may not contain " or $', "control", 0, "bootargs")
    if total_kb + XEN_RESERVED_MB * 1024 > ram_mb * 1024:
        p.error(f"domains need {total_kb / 1024:.1f} MiB (RAM + Xen's paging pool per guest) + {XEN_RESERVED_MB} MiB"
                f" for Xen, the board has {ram_mb} MiB")
    return plan


def xen_cmdline(plan, console):
    c = plan["control"]
    words = ["console=dtuart", console, f"dom0_mem={c['memory_mb']}M",
             f"dom0_max_vcpus={c['vcpus']}", plan.get("xen", {}).get("extra", "")]
    return " ".join(w for w in words if w)


def bootcmd(plan, console, dtb, ramdisk):
    ramdisk = ramdisk or bool(plan.get("guest"))
    lines = [
        "# Generated by hypervisor-cfg/plan.py from the board's plan. Do not edit.",
        f"fatload mmc 0:1 {LOAD_XEN:#x} xen",
        f"fatload mmc 0:1 {LOAD_DTB:#x} {dtb}",
        f"fatload mmc 0:1 {LOAD_CONTROL:#x} control.img",
        "setenv control_size ${filesize}",
        f"fdt addr {LOAD_DTB:#x}",
        "fdt resize 8192",
        f'fdt set /chosen xen,xen-bootargs "{xen_cmdline(plan, console)}"',
        f'fdt set /chosen xen,dom0-bootargs "{plan["control"].get("bootargs", "flotilla")}"',
        f"fdt mknode /chosen module@{LOAD_CONTROL:x}",
        f'fdt set /chosen/module@{LOAD_CONTROL:x} compatible "multiboot,kernel" "multiboot,module"',
        f"fdt set /chosen/module@{LOAD_CONTROL:x} reg <{LOAD_CONTROL:#x} 0x${{control_size}}>",
    ]
    # The per-board device configuration (`flotilla flash --hostname ...`,
    # guests/control/devcfg.h) travels in the same initrd, right after the
    # boot bundle (which mkbootbundle.py pads to 4 KiB, so it is aligned);
    # /chosen's flotilla,device-config = <offset size> says where.
    config = [
        "if test -e mmc 0:1 device.cfg; then",
        "setexpr config_addr ${ramdisk_addr} + ${ramdisk_size}",
        "fatload mmc 0:1 ${config_addr} device.cfg",
        "fdt set /chosen flotilla,device-config <0x${ramdisk_size} 0x${filesize}>",
        "setexpr ramdisk_size ${ramdisk_size} + ${filesize}",
        "fi",
    ]
    module = [
        f"fdt mknode /chosen module@{LOAD_RAMDISK:x}",
        f'fdt set /chosen/module@{LOAD_RAMDISK:x} compatible "multiboot,ramdisk" "multiboot,module"',
        f"fdt set /chosen/module@{LOAD_RAMDISK:x} reg <{LOAD_RAMDISK:#x} 0x${{ramdisk_size}}>",
    ]
    lines.append(f"setenv ramdisk_addr {LOAD_RAMDISK:#x}")
    if ramdisk:
        # The boot bundle of signed guests travels as dom0's initrd.
        lines += [f"fatload mmc 0:1 {LOAD_RAMDISK:#x} guests.bnd", "setenv ramdisk_size ${filesize}"]
        lines += config + module
    else:
        # No boot bundle: the device configuration alone is the initrd.
        lines += ["setenv ramdisk_size 0"] + config
        lines += ["if test -e mmc 0:1 device.cfg; then"] + module + ["fi"]
    for i, g in enumerate(plan.get("boot_domain", [])):
        addr = LOAD_BOOT_DOMAINS + i * BOOT_DOMAIN_IMAGE_MAX
        node = f"/chosen/{g['name']}"
        module = f"{node}/module@{addr:x}"
        lines += [
            f"fatload mmc 0:1 {addr:#x} {g['image']}.img",
            f"setenv size_{g['name']} ${{filesize}}",
            f"fdt mknode /chosen {g['name']}",
            f'fdt set {node} compatible "xen,domain"',
            # Quoted: an unquoted # starts a comment in U-Boot's shell.
            f'fdt set {node} "#address-cells" <1>',
            f'fdt set {node} "#size-cells" <1>',
            f"fdt set {node} memory <0 {g['memory_mb'] * 1024}>",
            f"fdt set {node} cpus <{g['vcpus']}>",
            f"fdt set {node} vpl011",
            f"fdt mknode {node} module@{addr:x}",
            f'fdt set {module} compatible "multiboot,kernel" "multiboot,module"',
            f"fdt set {module} reg <{addr:#x} 0x${{size_{g['name']}}}>",
            f'fdt set {module} bootargs "{g.get("bootargs", "")}"',
        ]
    lines.append(f"bootz {LOAD_XEN:#x} - {LOAD_DTB:#x}")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("command", choices=["check", "bootcmd", "files", "guests"])
    ap.add_argument("plan")
    ap.add_argument("--ram-mb", type=int, required=True)
    ap.add_argument("--cpus", type=int, required=True)
    ap.add_argument("--console", default="dtuart=serial0")
    ap.add_argument("--dtb")
    ap.add_argument("--ramdisk", action="store_true")
    ap.add_argument("-o", "--output")
    a = ap.parse_args()
    try:
        plan = load(a.plan, a.ram_mb, a.cpus)
        if a.command == "files":
            print(" ".join(sorted({g["image"] for g in plan.get("boot_domain", []) + plan.get("guest", [])})))
        if a.command == "guests":
            import json
            print(json.dumps(plan.get("guest", [])))
        if a.command == "bootcmd":
            if not a.dtb or not a.output:
                raise PlanError("bootcmd needs --dtb and -o")
            with open(a.output, "w") as f:
                f.write(bootcmd(plan, a.console, a.dtb, a.ramdisk))
    except PlanError as e:
        print(f"plan: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
