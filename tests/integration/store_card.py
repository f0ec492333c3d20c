"""Host-side access to a board's SD image for the slot store tests: find the
store partition from the MBR, read and rewrite the slot store's metadata
record (docs/storage.md), flip image bytes, swap the boot bundle on the FAT.
Everything here edits the image file between boots, as someone holding the
card while the board is off could."""
import struct
import subprocess
import zlib

from harness import mbr_partitions

SECTOR = 512
STORE_TYPE = 0xDA
META_AREA = 8192
HEAD_AREA = 1024          # per slot, for 512-byte blocks
RECORD_HEADER = 32
GUEST_ENTRY = 160
SLOT_ENTRY = 60
STATES = ["empty", "installing", "ready", "trial", "confirmed", "bad"]


def partitions(path):
    return [{"index": p["number"] - 1, "type": p["type"], "start": p["offset"],
             "size": p["sectors"] * SECTOR} for p in mbr_partitions(path)]


def store_offset(path):
    for p in partitions(path):
        if p["type"] == STORE_TYPE:
            return p["start"]
    raise AssertionError("no partition of type 0xda")


def set_partition_type(path, old, new):
    """Hide a partition from the board (it finds the store by type)."""
    with open(path, "r+b") as f:
        mbr = bytearray(f.read(SECTOR))
        for i in range(4):
            if mbr[446 + 16 * i + 4] == old:
                mbr[446 + 16 * i + 4] = new
        f.seek(0)
        f.write(mbr)


def record_crc(rec, size):
    return zlib.crc32(rec[32:size], zlib.crc32(rec[:28]))


class Store:
    """The newest valid metadata record of the card's slot store."""

    def __init__(self, path):
        self.path = path
        self.base = store_offset(path)
        best = None
        with open(path, "rb") as f:
            for copy in range(2):
                f.seek(self.base + copy * META_AREA)
                rec = bytearray(f.read(META_AREA))
                if rec[:4] != b"FLSS":
                    continue
                capacity = struct.unpack_from("<H", rec, 6)[0]
                size = RECORD_HEADER + GUEST_ENTRY * capacity
                if struct.unpack_from("<I", rec, 28)[0] != record_crc(rec, size):
                    continue
                seq = struct.unpack_from("<Q", rec, 8)[0]
                if best is None or seq > best[0]:
                    best = (seq, copy, rec, capacity, size)
        assert best, "no valid slot store record on the card"
        self.seq, self.copy, self.rec, self.capacity, self.size = best
        self.block_size, self.slot_blocks = struct.unpack_from("<II", self.rec, 16)

    def guest_index(self, name):
        for g in range(self.capacity):
            e = self.rec[RECORD_HEADER + g * GUEST_ENTRY:]
            if e[:32].rstrip(b"\0").decode() == name:
                return g
        raise KeyError(name)

    def guest(self, name):
        g = self.guest_index(name)
        e = self.rec[RECORD_HEADER + g * GUEST_ENTRY:RECORD_HEADER + (g + 1) * GUEST_ENTRY]
        slots = []
        for k in range(2):
            s = e[40 + k * SLOT_ENTRY:40 + (k + 1) * SLOT_ENTRY]
            slots.append({"state": STATES[s[0]] if s[0] < len(STATES) else "?",
                          "version": "%d.%d.%d" % struct.unpack_from("<III", s, 4),
                          "counter": struct.unpack_from("<I", s, 16)[0],
                          "size": struct.unpack_from("<I", s, 20)[0]})
        return {"counter": struct.unpack_from("<I", e, 32)[0], "attempts": e[37], "slots": slots}

    def set_state(self, name, slot, state):
        g = self.guest_index(name)
        self.rec[RECORD_HEADER + g * GUEST_ENTRY + 40 + slot * SLOT_ENTRY] = STATES.index(state)

    def write(self):
        """Rewrite the current copy in place with a valid CRC (a forgery: the
        metadata is not signed, only its CRC keeps out accidents)."""
        struct.pack_into("<I", self.rec, 28, record_crc(self.rec, self.size))
        with open(self.path, "r+b") as f:
            f.seek(self.base + self.copy * META_AREA)
            f.write(self.rec)

    def slot_offset(self, name, slot):
        g = self.guest_index(name)
        data = 2 * META_AREA + self.capacity * 2 * HEAD_AREA
        return self.base + data + (g * 2 + slot) * self.slot_blocks * self.block_size

    def flip_image_byte(self, name, slot, at):
        off = self.slot_offset(name, slot) + at
        with open(self.path, "r+b") as f:
            f.seek(off)
            b = f.read(1)
            f.seek(off)
            f.write(bytes([b[0] ^ 0x20]))


def replace_boot_bundle(path, bundle):
    """Put another guests.bnd on the card's FAT boot partition (mtools, no mount)."""
    fat = next(p for p in partitions(path) if p["type"] in (0x0B, 0x0C, 0x0E, 0x06))
    subprocess.run(["mcopy", "-o", "-i", f"{path}@@{fat['start']}", bundle, "::/guests.bnd"],
                   check=True, capture_output=True)
