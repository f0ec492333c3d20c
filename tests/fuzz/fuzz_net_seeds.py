#!/usr/bin/python3
"""Write seed inputs for fuzz_net (see tests/fuzz/fuzz_net.c) into a corpus dir.

Each seed is a few records [len u16][flags u8][frame]; flags 3 = our MAC as
destination + fix checksums, so the seeds reach TCP, UDP, ICMP, ARP, DHCP
and DNS, and the fuzzer mutates from there.
"""
import os
import struct
import sys

OURS = bytes([2, 0, 0, 0, 0, 1])
PEER = bytes([2, 0, 0, 0, 0, 2])
A, B = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])


def eth(typ, payload, dst=OURS):
    return dst + PEER + struct.pack("!H", typ) + payload


def ip(proto, payload, src=B, dst=A, frag=0, ident=1):
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, frag, 64, proto, 0, src, dst) + payload


def tcp(sport, dport, seq, ack, flags, opts=b"", data=b""):
    off = (20 + len(opts)) // 4
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, off << 4, flags, 65535, 0, 0) + opts + data


def udp(sport, dport, data):
    return struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data


def record(frame, flags=3):
    return struct.pack("!HB", len(frame), flags) + frame


def seeds():
    syn_opts = bytes([2, 4, 5, 0xb4, 1, 3, 3, 7])
    yield "tcp-handshake", [eth(0x0800, ip(6, tcp(4000, 80, 100, 0, 0x02, syn_opts))),
                            eth(0x0800, ip(6, tcp(4000, 80, 101, 0, 0x10, data=b"hello"))),
                            eth(0x0800, ip(6, tcp(4000, 80, 106, 0, 0x11)))]
    yield "tcp-rst", [eth(0x0800, ip(6, tcp(4001, 80, 5, 0, 0x04)))]
    yield "udp-echo", [eth(0x0800, ip(17, udp(1000, 7, b"ping")))]
    yield "udp-closed", [eth(0x0800, ip(17, udp(1000, 9, b"x")))]
    yield "icmp-echo", [eth(0x0800, ip(1, bytes([8, 0, 0, 0, 0, 1, 0, 1]) + b"abcdefgh"))]
    yield "icmp-unreach", [eth(0x0800, ip(1, bytes([3, 3, 0, 0, 0, 0, 0, 0]) + ip(6, tcp(49152, 8080, 0, 0, 2), src=A, dst=B)[:28]))]
    yield "arp", [eth(0x0806, struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + PEER + B + bytes(6) + A, dst=b"\xff" * 6)]
    yield "fragments", [eth(0x0800, ip(17, udp(1000, 7, b"A" * 16)[:16], frag=0x2000, ident=9)),
                        eth(0x0800, ip(17, b"A" * 8, frag=2, ident=9))]
    dhcp = bytes([2, 1, 6, 0]) + bytes(4) + bytes(20) + OURS + bytes(10 + 192) + bytes([99, 130, 83, 99]) + \
        bytes([53, 1, 2, 54, 4]) + B + bytes([51, 4, 0, 0, 14, 16, 1, 4, 255, 255, 255, 0, 255])
    yield "dhcp-offer", [eth(0x0800, ip(17, udp(67, 68, dhcp), dst=b"\xff" * 4), dst=b"\xff" * 6)]
    q = b"\x04host\x08flotilla\x04test\x00" + struct.pack("!HH", 1, 1)
    dns = struct.pack("!HHHHHH", 0, 0x8180, 1, 1, 0, 0) + q + struct.pack("!HHHIH4s", 0xc00c, 1, 1, 60, 4, bytes([10, 9, 8, 7]))
    yield "dns-answer", [eth(0x0800, ip(17, udp(53, 49152, dns)))]


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, frames in seeds():
        with open(os.path.join(out, "seed-" + name), "wb") as f:
            f.write(b"".join(record(fr) for fr in frames))


if __name__ == "__main__":
    main()
