#!/usr/bin/env python3
"""Frames into a switch port from a network namespace, through an AF_PACKET socket (root).

  frames.py fuzz  --dev IF --count N [--seed S]     malformed frames: every truncation of every header, bad IHL and
                                                     lengths, VLAN stacks, VXLAN/GRE with bad inner frames, random bytes
  frames.py flow  --dev IF --count N --dst IP        well-formed UDP to IP (an installed flow), paced by nothing
  frames.py miss  --dev IF --count N                 UDP to ever-changing destinations (table misses: packet-ins)
Prints one JSON line: {"sent": N, "errors": E}.
"""
import argparse, json, random, socket, struct

def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack(f"!{len(b)//2}H", b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff

SRC = bytes.fromhex("020000000a01")
DST = bytes.fromhex("020000000a02")

def eth(t, dst=DST, src=SRC): return dst + src + struct.pack("!H", t)

def ipv4(payload, proto=17, src="10.0.0.1", dst="10.0.0.2", ihl=5, total=None, frag=0):
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, total if total is not None else 20 + len(payload), 1, frag, 64, proto, 0,
                    socket.inet_aton(src), socket.inet_aton(dst))
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload

def udp(sport, dport, data): return struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data

def base_frames(r):
    pay = r.randbytes(r.choice([0, 18, 100]))
    inner = eth(0x0800, bytes.fromhex("020000000b02"), bytes.fromhex("020000000b01")) + ipv4(udp(1, 2, pay))
    return [
        eth(0x0800) + ipv4(udp(1000, 2000, pay)),
        eth(0x0800) + ipv4(struct.pack("!HHIIBBHHH", 1234, 80, 1, 0, 0x50, 2, 1024, 0, 0) + pay, proto=6),
        eth(0x0800) + ipv4(struct.pack("!BBHHH", 8, 0, 0, 1, 1) + pay, proto=1),
        eth(0x0806) + struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, SRC, socket.inet_aton("10.0.0.1"), b"\0" * 6, socket.inet_aton("10.0.0.2")),
        eth(0x8100) + struct.pack("!HH", 0x2005, 0x0800) + ipv4(udp(1, 2, pay)),
        eth(0x88a8) + struct.pack("!HH", 0x0064, 0x8100) + struct.pack("!HH", 0x0005, 0x0800) + ipv4(udp(1, 2, pay)),
        eth(0x8100) + struct.pack("!HH", 0x0001, 0x8100) * 4 + struct.pack("!HH", 0x0001, 0x0800) + ipv4(udp(1, 2, pay)),
        eth(0x86dd) + struct.pack("!IHBB16s16s", 0x60000000, 8, 17, 64, b"\0" * 15 + b"\1", b"\0" * 15 + b"\2") + udp(1, 2, b""),
        eth(0x0800) + ipv4(udp(4789, 4789, struct.pack("!II", 0x08000000, 100 << 8) + inner[:r.randint(0, len(inner))])),
        eth(0x0800) + ipv4(struct.pack("!HH", 0, 0x6558) + inner[:r.randint(0, len(inner))], proto=47),
        eth(0x0800) + ipv4(ipv4(udp(1, 2, pay))[: r.randint(0, 28)], proto=4),
    ]

def mutate(f, r):
    k = r.random()
    if k < 0.35:                     # every truncation of every header (at least an Ethernet header)
        return f[: r.randint(14, len(f))]
    if k < 0.50 and len(f) > 14 + 20 and f[12:14] == b"\x08\x00":   # bad IHL / total length / fragment bits
        b = bytearray(f)
        which = r.randrange(3)
        if which == 0: b[14] = 0x40 | r.choice([0, 1, 4, 6, 15])
        elif which == 1: b[16:18] = struct.pack("!H", r.choice([0, 1, 19, 20, 21, len(f) - 14 + 1, 0xffff]))
        else: b[20:22] = struct.pack("!H", r.choice([0x2000, 0x0001, 0x3fff, 0x4000]))
        return bytes(b)
    if k < 0.60:                     # random bytes after a valid Ethernet header
        return f[:14] + r.randbytes(r.randint(0, 100))
    if k < 0.70:                     # bit flips anywhere past the MACs
        b = bytearray(f)
        for _ in range(r.randint(1, 6)):
            i = r.randrange(12, len(b))
            b[i] ^= 1 << r.randrange(8)
        return bytes(b)
    return f

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["fuzz", "flow", "miss"])
    ap.add_argument("--dev", required=True)
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dst", default="10.0.0.2")
    a = ap.parse_args()
    r = random.Random(a.seed)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((a.dev, 0))
    sent = errors = 0
    flow = eth(0x0800) + ipv4(udp(1000, 2000, b"x" * 18), dst=a.dst)
    for i in range(a.count):
        if a.mode == "fuzz":
            f = mutate(r.choice(base_frames(r)), r)
        elif a.mode == "flow":
            f = flow
        else:
            f = eth(0x0800) + ipv4(udp(1000 + (i & 0x3fff), 2000, b"y" * 18), dst=f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}")
        try:
            s.send(f)
            sent += 1
        except OSError:
            errors += 1
    print(json.dumps({"sent": sent, "errors": errors}))

if __name__ == "__main__":
    main()
