#!/usr/bin/python3
"""Bundles for the push tests (tests/integration/push.mk).

    push_fixtures.py pad IMAGE SIZE OUT
        IMAGE followed by deterministic bytes up to SIZE bytes (the large www
        versions of the bench: nothing reads the padding).

    push_fixtures.py bad --flotilla CLI --key SIGNING.key --board BOARD
                         --slot-kb N --www-v2 IMG --www-raw IMG --hello IMG --out DIR
        One bad bundle per class into DIR and DIR/index.json:
        {"classes": [{"class", "file", "guest" (the URL's name), "expect"
        (the error code the board answers with: ota/'s name for it, or the
        device API's own, docs/device-api.md), "verify" (what `flotilla verify` says on the
        host: an ota/ error name, or "ok" when the file itself is a valid
        bundle and only the board can refuse it), "why"}]}.

Everything is made with `flotilla sign` (so the bytes are what users make)
and then damaged here where a class needs it; the layout is
docs/bundle-format.md's.
"""
import argparse
import hashlib
import json
import os
import struct
import subprocess
import sys

HEADER = 24


def die(message):
    print(f"push_fixtures: error: {message}", file=sys.stderr)
    sys.exit(1)


def padding(n):
    """n deterministic, incompressible-looking bytes (SHA-256 in counter mode)."""
    out = bytearray()
    k = 0
    while len(out) < n:
        out += hashlib.sha256(b"flotilla push padding %d" % k).digest()
        k += 1
    return bytes(out[:n])


def pad(args):
    with open(args.image, "rb") as f:
        data = f.read()
    if len(data) > args.size:
        die(f"{args.image} is {len(data)} bytes, more than {args.size}")
    with open(args.out + ".tmp", "wb") as f:
        f.write(data + padding(args.size - len(data)))
    os.replace(args.out + ".tmp", args.out)


def layout(data):
    """(manifest size, image size, signature size, head size) of a bundle."""
    manifest_size, image_size = struct.unpack_from("<II", data, 8)
    signature_size = struct.unpack_from("<H", data, 18)[0]
    return manifest_size, image_size, signature_size, HEADER + manifest_size + signature_size


def manifest_field(data, tag):
    """Offset in the bundle of the value of manifest record `tag`, and its length."""
    manifest_size = struct.unpack_from("<I", data, 8)[0]
    at = HEADER
    while at < HEADER + manifest_size:
        t, length = data[at], data[at + 1]
        if t == tag:
            return at + 2, length
        at += 2 + length
    raise KeyError(tag)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pad")
    p.add_argument("image")
    p.add_argument("size", type=int)
    p.add_argument("out")
    b = sub.add_parser("bad")
    b.add_argument("--flotilla", required=True)
    b.add_argument("--key", required=True)
    b.add_argument("--board", required=True)
    b.add_argument("--slot-kb", type=int, required=True)
    b.add_argument("--www-v2", required=True, help="the v2 www image (a good payload)")
    b.add_argument("--www-raw", required=True, help="an unsigned image (not a bundle)")
    b.add_argument("--hello", required=True, help="the hello guest's image")
    b.add_argument("--out", required=True)
    args = ap.parse_args()
    if args.command == "pad":
        return pad(args)
    out = args.out
    os.makedirs(out, exist_ok=True)

    def run(cmd):
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            die(f"{' '.join(cmd)}: {r.stderr.strip()}")
        return r.stdout

    def sign(name, image, key=None, guest="www", version="3.0.0", counter=1, board=None, nic=True):
        path = os.path.join(out, name + ".bnd")
        cmd = [args.flotilla, "sign", "--key", key or args.key, "--name", guest, "--version", version,
               "--counter", str(counter), "--board", board or args.board, "--memory", "16",
               "--vcpus", "1"]
        if nic:
            cmd += ["--nic", "lan"]
        run(cmd + [image, "-o", path])
        with open(path, "rb") as f:
            return path, bytearray(f.read())

    def write(name, data):
        path = os.path.join(out, name + ".bnd")
        with open(path, "wb") as f:
            f.write(data)
        return path

    # An operator of another fleet: a key pair the board has never seen.
    rogue = os.path.join(out, "rogue")
    if not os.path.exists(rogue + ".key"):
        run([args.flotilla, "keygen", "--out", rogue])
    classes = []

    def add(cls, path, expect, verify, why, guest="www"):
        classes.append({"class": cls, "file": os.path.basename(path), "guest": guest,
                        "expect": expect, "verify": verify, "why": why})

    good_path, good = sign("good-v3", args.www_v2)  # the base the damaged ones start from
    _, _, _, head = layout(good)

    path, _ = sign("wrong-key", args.www_v2, key=rogue + ".key")
    add("wrong-key", path, "unknown-key", "unknown-key", "signed by a key the board does not trust")

    data = bytearray(good)
    data[head + (len(data) - head) // 2] ^= 0x01
    add("payload-tampered", write("payload-tampered", data), "hash-mismatch", "hash-mismatch",
        "one payload bit flipped after signing")

    add("truncated", write("truncated", good[:head + (len(good) - head) // 2]), "truncated", "truncated",
        "the second half of the payload missing")

    data = bytearray(good) + b"\0" * 512
    add("trailing-data", write("trailing-data", data), "trailing-data", "trailing-data",
        "512 bytes after the image")

    path, _ = sign("wrong-board", args.www_v2, board="cubieboard2" if args.board != "cubieboard2"
                   else "orangepi-pc")
    add("wrong-board", path, "wrong-board", "wrong-board", "signed for another board")

    path, _ = sign("unknown-guest", args.www_v2, guest="ghost")
    add("unknown-guest", path, "no_such_guest", "ok", "a valid bundle for a guest the plan does not have",
        guest="ghost")

    path, _ = sign("other-guest", args.hello, guest="hello", nic=False)
    add("other-guest", path, "wrong-guest", "ok", "a valid bundle for hello, pushed to /v1/guests/www")

    # The factory image's counter is 1 (tools/mkbootbundle.py): 0 is below it.
    path, _ = sign("rollback", args.www_v2, counter=0)
    add("counter-below", path, "rollback", "ok",
        "security counter 0, below the card's (the factory image's 1)")

    big = os.path.join(out, "oversize.img")
    with open(args.www_v2, "rb") as f:
        image = f.read()
    with open(big, "wb") as f:
        f.write(image + padding(args.slot_kb * 1024 + 4096 - len(image)))
    path, _ = sign("oversize", big)
    os.unlink(big)
    add("oversize", path, "oversize", "ok", f"an image 4 KiB larger than a {args.slot_kb} KiB slot")

    with open(args.www_raw, "rb") as f:
        add("not-a-bundle", write("not-a-bundle", f.read()), "bad-magic", "bad-magic",
            "an unsigned image (www.img) instead of a bundle")

    data = bytearray(good)
    struct.pack_into("<H", data, 4, 2)
    add("format-version", write("format-version", data), "unsupported-version", "unsupported-version",
        "format version 2 in the header")

    data = bytearray(good)
    struct.pack_into("<I", data, 20, 1)
    add("header-flags", write("header-flags", data), "malformed-header", "malformed-header",
        "a reserved header flag set")

    data = bytearray(good)
    at, length = manifest_field(data, 0x02)  # version 3.0.0 -> 3.0.1: still well-formed
    struct.pack_into("<I", data, at + 8, struct.unpack_from("<I", data, at + 8)[0] + 1)
    add("manifest-tampered", write("manifest-tampered", data), "bad-signature", "bad-signature",
        "the signed version changed after signing")

    data = bytearray(good)
    data[head - 1] ^= 0x80
    add("signature-damaged", write("signature-damaged", data), "bad-signature", "bad-signature",
        "one bit of the signature flipped")

    data = bytearray(good)
    at, length = manifest_field(data, 0x01)
    data[at] = ord("A")  # the name's charset is checked before the signature
    add("manifest-malformed", write("manifest-malformed", data), "malformed-manifest",
        "malformed-manifest", "a guest name outside the allowed alphabet")

    os.unlink(good_path)
    with open(os.path.join(out, "index.json.tmp"), "w") as f:
        json.dump({"classes": classes}, f, indent=1)
        f.write("\n")
    os.replace(os.path.join(out, "index.json.tmp"), os.path.join(out, "index.json"))


if __name__ == "__main__":
    main()
