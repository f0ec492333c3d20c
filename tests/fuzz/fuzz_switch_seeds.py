#!/usr/bin/python3
"""Write seed inputs for fuzz_switch (see tests/fuzz/fuzz_switch.c) into a corpus dir.

Each record is [port selector u8][step u8][len u16 le][frame]. Selector 0-4:
the NIC, the control domain, guests a, b, c; 5: guest a's second instance;
6: a hot-swap step (step >> 3: 0 stage, 1 promote, 2 remove the draining
port, 3 remove the staged port, 4 check the drain, 5 two seconds pass);
7: a port that does not exist. Step bit 7 makes the frame a TCP segment
between few addresses. The seeds run a connection across a swap - staged,
promoted, kept on the old instance, closed by FIN or RST - so that the
fuzzer starts from frames that reach the flow table.
"""
import os
import struct
import sys

NIC, CONTROL, GUEST_A, GUEST_B, GUEST_C, GUEST_A2, SWAP = range(7)
TCP_STEP = 0x80
A = bytes([2, 0, 0, 0, 0, 1])
LAN = bytes([0x52, 0x54, 0, 0x12, 0x34, 0x56])
BOARD = bytes([0x52, 0x54, 0, 0x12, 0x34, 0x01])
BROADCAST = b"\xff" * 6
FIN, SYN, RST, ACK = 1, 2, 4, 0x10


def record(selector, step, frame=b""):
    return struct.pack("<BBH", selector, step, len(frame)) + frame


def swap(op):
    return record(SWAP, op << 3)


def segment(dst, src, ip_src, port_src, ip_dst, port_dst, flags):
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 1, 0x4000, 64, 6, 0,
                     bytes([10, 0, 0, ip_src]), bytes([10, 0, 0, ip_dst]))
    tcp = struct.pack("!HHIIBBHHH", port_src, port_dst, 1, 1, 0x50, flags, 65535, 0, 0)
    return dst + src + b"\x08\x00" + ip + tcp


def client(flags, port=1):  # the LAN's client to guest a's port 2
    return record(NIC, TCP_STEP | 1, segment(A, LAN, 1, port, 2, 2, flags))


def guest(selector, flags, port=1):  # guest a (either instance) back to the client
    return record(selector, TCP_STEP | 1, segment(LAN, A, 2, 2, 1, port, flags))


def main():
    corpus = sys.argv[1]
    os.makedirs(corpus, exist_ok=True)
    learn = record(NIC, 1, BROADCAST + LAN + b"\x08\x06" + bytes(46))
    handshake = client(SYN) + guest(GUEST_A, SYN | ACK) + client(ACK)
    probe = record(CONTROL, TCP_STEP | 1, segment(A, BOARD, 3, 3, 2, 2, SYN))
    seeds = {
        "swap-pinned-fin": learn + handshake + swap(0) + probe
        + record(GUEST_A2, TCP_STEP | 1, segment(BOARD, A, 2, 2, 3, 3, SYN | ACK))
        + swap(1) + client(ACK) + client(SYN, 3) + guest(GUEST_A, FIN | ACK)
        + client(FIN | ACK) + client(ACK) + swap(4) + swap(2),
        "swap-pinned-rst": learn + handshake + swap(0) + swap(1) + client(ACK)
        + client(RST) + client(ACK) + swap(4) + swap(5) + swap(5) + swap(4) + swap(2),
        "swap-refused": learn + handshake + swap(0) + probe + swap(3) + client(ACK),
        "swap-twice": learn + handshake + swap(0) + swap(1) + swap(2) + swap(0)
        + guest(GUEST_A2, ACK, 2) + swap(1) + client(ACK, 2) + swap(4),
    }
    for name, data in seeds.items():
        with open(os.path.join(corpus, "seed-" + name), "wb") as f:
            f.write(data)


main()
