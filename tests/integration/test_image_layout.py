#!/usr/bin/python3
"""User job: flash a board image. Checks what the boot ROM and U-Boot need:
MBR, SPL at 8 KiB, a bootable FAT partition at 1 MiB whose boot.scr names the
board's DTB and console, and the raw OTA store partition.

    test_image_layout.py IMAGE BOARD SPL_BIN DTB_NAME [--store-mb N]
"""
import argparse
import os
import struct
import subprocess
import tempfile

from harness import Tap


def partitions(mbr):
    parts = []
    for i in range(4):
        entry = mbr[446 + 16 * i: 446 + 16 * (i + 1)]
        status, ptype = entry[0], entry[4]
        lba, sectors = struct.unpack("<II", entry[8:16])
        if ptype:
            parts.append({"bootable": status == 0x80, "type": ptype, "lba": lba, "sectors": sectors})
    return parts


def fat_file(image, name):
    """Read a file from partition 1 (at 1 MiB) with mtools; no mounting."""
    out = subprocess.run(["mtype", "-i", f"{image}@@1M", f"::{name}"], capture_output=True)
    return out.stdout if out.returncode == 0 else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("image")
    ap.add_argument("board")
    ap.add_argument("spl")
    ap.add_argument("dtb")
    ap.add_argument("--store-mb", type=int, default=0)
    a = ap.parse_args()
    tap = Tap()
    b = a.board
    with open(a.image, "rb") as f:
        image = f.read()
    size = len(image)
    tap.check(f"{b}: image size {size >> 20} MiB is a power of two", size and size & (size - 1) == 0)
    tap.check(f"{b}: MBR signature 0x55aa", image[510:512] == b"\x55\xaa")
    parts = partitions(image[:512])
    tap.check(f"{b}: two partitions", len(parts) == 2, parts)
    if len(parts) == 2:
        p1, p2 = parts
        tap.check(f"{b}: p1 is a bootable FAT partition at 1 MiB",
                  p1["bootable"] and p1["type"] in (0x0b, 0x0c, 0x0e, 0x06) and p1["lba"] == 2048, p1)
        tap.check(f"{b}: p2 is the raw OTA store after p1 ({a.store_mb} MiB)",
                  p2["type"] == 0xda and p2["lba"] == p1["lba"] + p1["sectors"]
                  and (a.store_mb == 0 or p2["sectors"] == a.store_mb * 2048)
                  and (p2["lba"] + p2["sectors"]) * 512 <= size, p2)
    with open(a.spl, "rb") as f:
        spl = f.read()
    tap.check(f"{b}: SPL+U-Boot at 8 KiB is Debian's {os.path.basename(os.path.dirname(a.spl))} build",
              image[8192:8192 + len(spl)] == spl)
    tap.check(f"{b}: SPL carries the eGON.BT0 boot ROM header", image[8192 + 4:8192 + 12] == b"eGON.BT0")
    with tempfile.TemporaryDirectory() as tmp:
        img = os.path.join(tmp, "sd.img")
        with open(img, "wb") as f:
            f.write(image)
        listing = subprocess.run(["mdir", "-b", "-i", f"{img}@@1M", "::"], capture_output=True, text=True).stdout
        names = {os.path.basename(line.strip()).lower() for line in listing.splitlines()}
        for name in ("boot.scr", "uboot.env", "xen", a.dtb, "control.img"):
            tap.check(f"{b}: FAT holds {name}", name.lower() in names, listing)
        # What the image is built from (tools/versions.sh): a line per part.
        versions = (fat_file(img, "versions.txt") or b"").decode(errors="replace")
        parts = {line.split()[0]: line.split()[1:] for line in versions.splitlines() if len(line.split()) >= 3}
        tap.check(f"{b}: versions.txt on the FAT names the package and version of every part",
                  all(p in parts and "unknown" not in parts[p] for p in
                      ("flotilla", "u-boot", "xen", "dtb", "mbedtls", "libfdt", "gcc", "libc", "qemu"))
                  and parts.get("flotilla", [""])[-1].startswith("0.") and "+git-" in parts["flotilla"][-1],
                  versions)
        script = fat_file(img, "boot.scr") or b""
        # A U-Boot script image: 64-byte legacy header, then a 8-byte length table.
        tap.check(f"{b}: boot.scr is a U-Boot script image", script[:4] == b"\x27\x05\x19\x56")
        text = script[72:].decode(errors="replace")
        tap.check(f"{b}: boot.scr loads the board DTB {a.dtb}", f"{a.dtb}\n" in text, text)
        tap.check(f"{b}: boot.scr gives Xen the dtuart console on serial0",
                  "console=dtuart dtuart=serial0" in text, text)
        tap.check(f"{b}: boot.scr hands Xen the control domain as the dom0 kernel module",
                  '"multiboot,kernel" "multiboot,module"' in text and "control.img" in text, text)
        env = fat_file(img, "uboot.env") or b""
        tap.check(f"{b}: uboot.env has bootdelay=0, boot_targets=mmc0 and no USB preboot",
                  b"bootdelay=0\0" in env and b"boot_targets=mmc0\0" in env and b"preboot=usb start" not in env)
        ctl = fat_file(img, "control.img") or b""
        tap.check(f"{b}: control.img is a position-independent zImage",
                  struct.unpack("<III", ctl[0x24:0x30])[:2] == (0x016f2818, 0) if len(ctl) >= 0x30 else False)
    return tap.done()


if __name__ == "__main__":
    raise SystemExit(main())
