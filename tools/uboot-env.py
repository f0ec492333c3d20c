#!/usr/bin/python3
"""Extract U-Boot's built-in default environment from a U-Boot binary and
write it back with Flotilla's changes, as text for mkenvimage.

    uboot-env.py UBOOT_BIN OUT.txt [name=value ...]

A uboot.env on the FAT partition replaces the default environment wholesale,
so it must start from the complete default (Debian's build), not from an
empty one. The default environment is stored as "name=value\\0" entries
ending with an empty entry; it is found around its "bootcmd=" entry.
A value of "-" deletes the variable.
"""
import re
import sys

ENTRY = re.compile(rb"^[A-Za-z_][A-Za-z0-9_.]*=[\x09\x0a\x20-\x7e]*$")


def default_environment(blob):
    anchor = blob.find(b"\0bootcmd=")
    while anchor >= 0:
        start = anchor + 1
        # Walk back over preceding entries.
        while True:
            prev_end = start - 1
            prev_start = blob.rfind(b"\0", 0, prev_end) + 1
            if prev_start <= 0 or not ENTRY.match(blob[prev_start:prev_end]):
                break
            start = prev_start
        entries = []
        pos = start
        while True:
            end = blob.index(b"\0", pos)
            if end == pos:
                break
            entry = blob[pos:end]
            if not ENTRY.match(entry):
                entries = []
                break
            entries.append(entry.decode())
            pos = end + 1
        names = {e.split("=", 1)[0] for e in entries}
        if {"bootcmd", "bootdelay"} <= names:
            return entries
        anchor = blob.find(b"\0bootcmd=", anchor + 1)
    raise SystemExit("uboot-env: error: no default environment (bootcmd=, bootdelay=) found in the U-Boot binary")


def main():
    if len(sys.argv) < 3:
        raise SystemExit("usage: uboot-env.py UBOOT_BIN OUT.txt [name=value ...]")
    with open(sys.argv[1], "rb") as f:
        blob = f.read()
    env = dict(e.split("=", 1) for e in default_environment(blob))
    for change in sys.argv[3:]:
        name, value = change.split("=", 1)
        if value == "-":
            env.pop(name, None)
        else:
            env[name] = value
    with open(sys.argv[2], "w") as f:
        for name in sorted(env):
            f.write(f"{name}={env[name]}\n")


if __name__ == "__main__":
    main()
