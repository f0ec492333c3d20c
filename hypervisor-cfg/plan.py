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


class PlanError(Exception):
    pass


def check_domain(path, kind, g, names, cpus):
    """What every domain entry needs: a unique name, an image, memory, vCPUs."""
    name = g.get("name")
    if not isinstance(name, str) or not name.isidentifier() or len(name) > 31:
        raise PlanError(f"{path}: {kind} name {name!r} must be 1-31 letters, digits or _")
    if name in names:
        raise PlanError(f"{path}: name {name!r} is used twice")
    names.add(name)
    if not isinstance(g.get("image"), str) or not g["image"].isidentifier():
        raise PlanError(f"{path}: {kind} {name}: image must name a guest application (guests/<image>)")
    for key in ("memory_mb", "vcpus"):
        if not isinstance(g.get(key), int) or g[key] < 1:
            raise PlanError(f"{path}: {kind} {name}: {key} must be a positive integer")
    if g["vcpus"] > cpus:
        raise PlanError(f"{path}: {kind} {name}: vcpus = {g['vcpus']} but the board has {cpus} CPUs")
    return name


def load(path, ram_mb, cpus):
    try:
        with open(path, "rb") as f:
            plan = tomllib.load(f)
    except OSError as e:
        raise PlanError(f"cannot read {path}: {e.strerror}")
    except tomllib.TOMLDecodeError as e:
        raise PlanError(f"{path}: {e}")
    control = plan.get("control")
    if not isinstance(control, dict):
        raise PlanError(f"{path}: missing [control] section")
    for key in ("memory_mb", "vcpus"):
        if not isinstance(control.get(key), int) or control[key] < 1:
            raise PlanError(f"{path}: [control] {key} must be a positive integer")
    if control["vcpus"] > cpus:
        raise PlanError(f"{path}: [control] vcpus = {control['vcpus']} but the board has {cpus} CPUs")
    xen = plan.get("xen", {})
    if not isinstance(xen.get("extra", ""), str) or any(c in xen.get("extra", "") for c in '"$'):
        raise PlanError(f"{path}: [xen] extra must be a string without \" or $")
    if not isinstance(plan.get("guest", []), list) or not isinstance(plan.get("boot_domain", []), list):
        raise PlanError(f"{path}: guest and boot_domain must be [[guest]] / [[boot_domain]] tables")
    names = set()
    total = control["memory_mb"]
    for g in plan.get("guest", []):
        # Guests the control domain verifies and builds. Their names go into
        # the signed manifest: lower case first, then a-z 0-9 _ (ota/).
        name = check_domain(path, "guest", g, names, cpus)
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,30}", name):
            raise PlanError(f"{path}: guest name {name!r} must start with a-z, then a-z 0-9 _ (at most 31)")
        if g["memory_mb"] < 4 or g["memory_mb"] % 2:
            raise PlanError(f"{path}: guest {name}: memory_mb must be even and at least 4")
        bootargs = g.get("bootargs", "")
        if not isinstance(bootargs, str) or len(bootargs.encode()) > 255 or "\0" in bootargs:
            raise PlanError(f"{path}: guest {name}: bootargs must be a string of at most 255 bytes, no NUL")
        if g["memory_mb"] > 1024 or g["vcpus"] > 8:
            raise PlanError(f"{path}: guest {name}: at most 1024 MiB and 8 vCPUs per guest")
        if not isinstance(g.get("counter", 1), int) or g.get("counter", 1) < 0:
            raise PlanError(f"{path}: guest {name}: counter must be a non-negative integer")
        pcpus = g.get("pcpus", [])
        if (not isinstance(pcpus, list) or not all(isinstance(c, int) and 0 <= c < min(cpus, 32) for c in pcpus)):
            raise PlanError(f"{path}: guest {name}: pcpus must list physical CPUs 0..{min(cpus, 32) - 1}")
        for key in ("nics", "manifest_nics"):
            # Virtual NICs by name, one each in this order (docs/vnic-ring.md);
            # manifest_nics (tests only) overrides what the signed manifest asks.
            nics = g.get(key, [])
            if (not isinstance(nics, list) or len(nics) > 8 or len(set(nics)) != len(nics)
                    or not all(isinstance(n, str) and re.fullmatch(r"[a-z][a-z0-9_-]{0,30}", n) for n in nics)):
                raise PlanError(f"{path}: guest {name}: {key} must list at most 8 distinct names (a-z, then a-z 0-9 - _)")
        if g.get("nics") and g["memory_mb"] > 1020:
            raise PlanError(f"{path}: guest {name}: a guest with nics has at most 1020 MiB (its rings sit above its RAM)")
        if g.get("tamper", "") not in ("", "image", "signature"):
            raise PlanError(f"{path}: guest {name}: tamper must be \"image\" or \"signature\" (tests only)")
        total += g["memory_mb"]
    for g in plan.get("boot_domain", []):
        # Boot-time domains are built by Xen itself (dom0less); they exist
        # for tests of the runtime, before the control domain builds guests.
        name = check_domain(path, "boot_domain", g, names, cpus)
        if '"' in g.get("bootargs", "") or "$" in g.get("bootargs", ""):
            raise PlanError(f"{path}: boot_domain {name}: bootargs may not contain \" or $")
        total += g["memory_mb"]
    if '"' in control.get("bootargs", "") or "$" in control.get("bootargs", ""):
        raise PlanError(f"{path}: [control] bootargs may not contain \" or $")
    if total + XEN_RESERVED_MB > ram_mb:
        raise PlanError(
            f"{path}: domains need {total} MiB + {XEN_RESERVED_MB} MiB for Xen, the board has {ram_mb} MiB")
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
    if ramdisk:
        # The boot bundle of signed guests travels as dom0's initrd.
        lines += [
            f"fatload mmc 0:1 {LOAD_RAMDISK:#x} guests.bnd",
            "setenv bundle_size ${filesize}",
            f"fdt mknode /chosen module@{LOAD_RAMDISK:x}",
            f'fdt set /chosen/module@{LOAD_RAMDISK:x} compatible "multiboot,ramdisk" "multiboot,module"',
            f"fdt set /chosen/module@{LOAD_RAMDISK:x} reg <{LOAD_RAMDISK:#x} 0x${{bundle_size}}>",
        ]
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
