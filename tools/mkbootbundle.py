#!/usr/bin/python3
"""Sign the plan's guests and pack them into a boot bundle (guests.bnd).

    mkbootbundle.py PLAN --ram-mb N --cpus N --flotilla CLI --key KEY.key
                    --board BOARD --version X.Y.Z --guests-dir DIR -o OUT

Each [[guest]] of the plan (hypervisor-cfg/) is signed with `flotilla sign`
(its memory and vCPUs go into the signed manifest), then the bundles are
packed with the plan's table in front; the layout is documented in
guests/control/boot_bundle.h. U-Boot loads the result and Xen hands it to
the control domain as its initrd.

"tamper" in a guest entry (tests only) damages that guest's bundle after
signing: "image" flips a byte of the image (hash mismatch), "signature" a
byte of the signature.

"test_update" in a guest entry (tests only; a table or a list of tables with
image, version, counter) adds a newer signed bundle of that guest, flagged
BOOT_ENTRY_TEST_UPDATE: the control domain does not run it as a plan guest
but installs it on the card as a TRIAL when a test asks (docs/storage.md).
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "hypervisor-cfg"))
from plan import c_defines  # noqa: E402

# The format's numbers come from the parser's header, never written twice.
_H = c_defines(os.path.join(HERE, "..", "guests", "control", "boot_bundle.h"))
MAGIC = _H["BOOT_BUNDLE_MAGIC"].encode()
VERSION = _H["BOOT_BUNDLE_VERSION"]
HEADER = _H["BOOT_BUNDLE_HEADER_SIZE"]
ENTRY = _H["BOOT_BUNDLE_ENTRY_SIZE"]
ENTRIES_MAX = _H["BOOT_BUNDLE_ENTRIES_MAX"]
NAME_FIELD = _H["BOOT_BUNDLE_NAME_MAX"] + 1
PROBE_FIELD = _H["BOOT_BUNDLE_PROBE_MAX"] + 1
READY_DEFAULT = _H["BOOT_READY_DEFAULT_S"]
# ... pcpu mask, NIC-list size (16 bits), flags (16 bits), probe, ready
# timeout (16 bits), reserved
ENTRY_FORMAT = f"<{NAME_FIELD}sIIIIIIIHH{PROBE_FIELD}sH14x"
HEADER_FORMAT = "<IIII"
assert struct.calcsize(ENTRY_FORMAT) == ENTRY and len(MAGIC) + struct.calcsize(HEADER_FORMAT) == HEADER, \
    "tools/mkbootbundle.py no longer matches guests/control/boot_bundle.h"


def die(message):
    print(f"mkbootbundle: error: {message}", file=sys.stderr)
    sys.exit(1)


def plan_guests(args):
    out = subprocess.run([sys.executable, os.path.join(HERE, "..", "hypervisor-cfg", "plan.py"), "guests",
                          args.plan, "--ram-mb", str(args.ram_mb), "--cpus", str(args.cpus)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        die(out.stderr.strip())
    return json.loads(out.stdout)


def sign(args, guest, workdir):
    image = os.path.join(args.guests_dir, guest["image"] + ".img")
    out = os.path.join(workdir, guest["name"] + ".fbnd")
    cmd = [args.flotilla, "sign", "--key", args.key, "--name", guest["name"],
           "--version", guest.get("version", args.version), "--counter", str(guest.get("counter", 1)),
           "--board", args.board, "--memory", str(guest["memory_mb"]), "--vcpus", str(guest["vcpus"]),
           image, "-o", out]
    # The network interfaces the image needs go into its signed manifest:
    # the plan's manifest_nics if given (tests of refusal), else its nics.
    for nic in guest.get("manifest_nics", guest.get("nics", [])):
        cmd[-3:-3] = ["--nic", nic]
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        die(f"signing {guest['name']}: {run.stderr.strip()}")
    with open(out, "rb") as f:
        data = bytearray(f.read())
    tamper = guest.get("tamper", "")
    if tamper:
        header_size = struct.unpack_from("<H", data, 6)[0]
        manifest_size, image_size = struct.unpack_from("<II", data, 8)
        signature_size = struct.unpack_from("<H", data, 18)[0]
        head = header_size + manifest_size + signature_size
        where = head + image_size // 2 if tamper == "image" else head - signature_size // 2
        data[where] ^= 0x40
    return bytes(data)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("plan")
    ap.add_argument("--ram-mb", type=int, required=True)
    ap.add_argument("--cpus", type=int, required=True)
    ap.add_argument("--flotilla", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--board", required=True)
    ap.add_argument("--version", required=True)
    ap.add_argument("--guests-dir", required=True)
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args()
    guests = plan_guests(args)
    if not guests:
        die(f"{args.plan} has no [[guest]] entries")
    if len(guests) > ENTRIES_MAX:
        die(f"at most {ENTRIES_MAX} guests fit in a boot bundle")
    flags = [0] * len(guests)
    updates = []
    for g in guests:
        extra = g.get("test_update", [])
        for u in extra if isinstance(extra, list) else [extra]:
            if not isinstance(u, dict) or not isinstance(u.get("image"), str):
                die(f"guest {g['name']}: test_update needs an image")
            updates.append(dict(g, image=u["image"], version=str(u.get("version", args.version)),
                                counter=u.get("counter", g.get("counter", 1)), tamper=""))
    guests = guests + updates
    flags += [1] * len(updates)  # BOOT_ENTRY_TEST_UPDATE
    if len(guests) > ENTRIES_MAX:
        die(f"at most {ENTRIES_MAX} guests and test updates fit in a boot bundle")
    with tempfile.TemporaryDirectory() as workdir:
        bundles = [sign(args, g, workdir) for g in guests]
    args_blob = b""
    args_offsets = []
    base = HEADER + ENTRY * len(guests)
    for g in guests:
        # bootargs, NUL, then the NIC list (comma-separated) and its NUL.
        text = g.get("bootargs", "").encode()
        nics = ",".join(g.get("nics", [])).encode()
        args_offsets.append((base + len(args_blob), len(text), len(nics)))
        args_blob += text + b"\0"
        if nics:
            args_blob += nics + b"\0"
    offset = (base + len(args_blob) + 3) & ~3
    body = bytearray(args_blob + b"\0" * (offset - base - len(args_blob)))
    entries = b""
    for g, bundle, (a_off, a_len, n_len), flag in zip(guests, bundles, args_offsets, flags):
        name = g["name"].encode()
        mask = 0
        for cpu in g.get("pcpus", []):
            mask |= 1 << cpu
        probe = "" if g.get("probe", "none") == "none" else g["probe"]
        entries += struct.pack(ENTRY_FORMAT, name, offset, len(bundle), g["memory_mb"], g["vcpus"],
                               a_off, a_len, mask, n_len, flag, probe.encode(),
                               g.get("ready_timeout_s", READY_DEFAULT))
        padded = bundle + b"\0" * ((-len(bundle)) % 4)
        body += padded
        offset += len(padded)
    total = HEADER + len(entries) + len(body)
    # boot.scr loads guests.bnd at 0x46000000, below what sits at 0x47000000
    # (hypervisor-cfg/plan.py's load addresses).
    # The device configuration (at most 16 KiB, guests/control/devcfg.h)
    # follows the bundle in the same 16 MiB load window.
    if total + 4095 + 16384 > 16 << 20:
        die(f"the boot bundle is {total} bytes; at most 16 MiB minus 20 KiB fit its load address window")
    blob = MAGIC + struct.pack(HEADER_FORMAT, VERSION, len(guests), total, 0) + entries + bytes(body)
    assert len(blob) == total
    # Padded to 4 KiB, so that the device configuration U-Boot loads right
    # after it is aligned; the header's total size excludes the padding.
    blob += b"\0" * ((-len(blob)) % 4096)
    with open(args.output, "wb") as f:
        f.write(blob)
    print(f"guests.bnd: {len(guests)} signed guest(s), {total} bytes")


if __name__ == "__main__":
    main()
