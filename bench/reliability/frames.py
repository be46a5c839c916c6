#!/usr/bin/env python3
"""Frames into a switch port from a network namespace, through an AF_PACKET socket (root).

  frames.py fuzz  --dev IF --count N [--seed S]     malformed frames: every truncation of every header, bad IHL and
                                                     lengths, VLAN stacks, VXLAN/GRE with bad inner frames, random bytes
  frames.py flow  --dev IF --count N --dst IP        well-formed UDP to IP (an installed flow), paced by nothing
  frames.py miss  --dev IF --count N                 UDP to ever-changing destinations (table misses: packet-ins)
  frames.py tunnel --pcap FILE --count N [--seed S]  tunnel traffic for a switch endpoint (10.77.0.1; VXLAN VNI 100,
                                                     Geneve VNI 100 and GRE key 5 from 10.77.0.2, IP-in-IP from
                                                     10.77.0.3), well formed and malformed in outer and inner headers:
                                                     wrong VNI/key/remote, bad outer IHL/lengths/checksums/fragments,
                                                     GRE flags/version/protocol, VXLAN without its I flag, Geneve
                                                     versions, protocols, option TLVs of every length (critical or not,
                                                     filling the option length or not), every truncation, inner frames
                                                     fuzzed as in `fuzz`; plus ARP requests for the endpoint
With --pcap FILE the frames are written to a pcap file (for tcpreplay --topspeed) instead of being sent.
Prints one JSON line: {"sent": N, "errors": E} (with --pcap, "written").
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

T_LOCAL, T_REMOTE, T_REMOTE_IPIP = "10.77.0.1", "10.77.0.2", "10.77.0.3"
T_MAC_SW, T_MAC_PEER = bytes.fromhex("0200004d0001"), bytes.fromhex("0200004d0002")

def gre(inner, key=5, csum=False, seq=False, version=0, proto=0x6558):
    flags = (0x8000 if csum else 0) | (0x2000 if key is not None else 0) | (0x1000 if seq else 0) | version
    h = struct.pack("!HH", flags, proto)
    opt = (b"\0\0\0\0" if csum else b"") + (struct.pack("!I", key) if key is not None else b"") + (struct.pack("!I", 7) if seq else b"")
    g = h + opt + inner
    if csum: g = g[:4] + struct.pack("!H", csum_(g)) + g[6:]
    return g

def csum_(b): return csum(bytes(b))

def tunnel_frame(r):
    inner = mutate(r.choice(base_frames(r)), r) if r.random() < 0.5 else r.choice(base_frames(r))
    k = r.random()
    if k < 0.12:     # Geneve: right or wrong VNI, version, protocol; option TLVs of any length, critical or not
        vni = 100 if r.random() < 0.8 else r.choice([0, 99, 101, 0xffffff])
        opts = b""
        for _ in range(r.choice([0, 0, 1, 2, 4])):
            words = r.randint(0, 5)
            typ = r.getrandbits(7) | (0x80 if r.random() < 0.1 else 0)
            opts += struct.pack("!HBB", r.getrandbits(16), typ, words) + r.randbytes(4 * words)
        opt_words = len(opts) // 4 if r.random() < 0.8 else r.randint(0, 63)
        flags = (0x40 if r.random() < 0.05 else 0) | (0x80 if r.random() < 0.2 else 0)
        version = 0 if r.random() < 0.9 else r.randint(1, 3)
        proto = 0x6558 if r.random() < 0.9 else r.choice([0x0800, 0x86dd])
        payload = struct.pack("!BBHI", (version << 6) | (opt_words & 0x3f), flags, proto, vni << 8) + opts + inner
        u = bytearray(udp(r.getrandbits(16) | 1, 6081, payload))
        if r.random() < 0.2:        # a UDP checksum: right, or off by one
            pseudo = socket.inet_aton(T_REMOTE) + socket.inet_aton(T_LOCAL) + struct.pack("!BBH", 0, 17, len(u))
            c = csum(pseudo + bytes(u)) or 0xffff
            if r.random() < 0.5: c ^= 1
            u[6:8] = struct.pack("!H", c)
        outer = ipv4(bytes(u), proto=17, src=T_REMOTE, dst=T_LOCAL)
    elif k < 0.30:   # VXLAN: right or wrong VNI, I flag, UDP checksum zero, right or wrong
        vni = 100 if r.random() < 0.8 else r.choice([0, 99, 101, 0xffffff])
        flags = 0x08 if r.random() < 0.9 else r.choice([0x00, 0x80, 0xff])
        payload = struct.pack("!BxxxI", flags, vni << 8) + inner
        u = bytearray(udp(r.getrandbits(16) | 1, 4789, payload))
        if r.random() < 0.2:        # a UDP checksum: right, or off by one
            pseudo = socket.inet_aton(T_REMOTE) + socket.inet_aton(T_LOCAL) + struct.pack("!BBH", 0, 17, len(u))
            c = csum(pseudo + bytes(u)) or 0xffff
            if r.random() < 0.5: c ^= 1
            u[6:8] = struct.pack("!H", c)
        if r.random() < 0.1: u[4:6] = struct.pack("!H", r.choice([0, 8, 16, len(u) + 1, 0xffff]))   # UDP length
        outer = ipv4(bytes(u), proto=17, src=T_REMOTE, dst=T_LOCAL)
    elif k < 0.55:   # GRE: key or not, checksum and sequence options, other versions and protocols
        key = 5 if r.random() < 0.8 else r.choice([None, 4, 6])
        g = gre(inner, key=key, csum=r.random() < 0.3, seq=r.random() < 0.2,
                version=0 if r.random() < 0.9 else r.choice([1, 7]), proto=0x6558 if r.random() < 0.9 else r.choice([0x0800, 0x86dd, 0x88be]))
        if r.random() < 0.05: g = bytearray(g); g[4] ^= 0x10; g = bytes(g)     # a checksum or key gone wrong
        outer = ipv4(g, proto=47, src=T_REMOTE, dst=T_LOCAL)
    elif k < 0.75:   # IP-in-IP: from its remote or another, inner IPv4 (or not)
        src = T_REMOTE_IPIP if r.random() < 0.85 else T_REMOTE
        in_ip = inner[14:] if len(inner) > 14 and r.random() < 0.9 else r.randbytes(r.randint(0, 40))
        outer = ipv4(in_ip, proto=4, src=src, dst=T_LOCAL)
    elif k < 0.80:   # an outer fragment
        outer = ipv4(udp(1, 4789, struct.pack("!BxxxI", 8, 100 << 8) + inner), proto=17, src=T_REMOTE, dst=T_LOCAL,
                     frag=r.choice([0x2000, 0x0001, 0x2010]))
    elif k < 0.85:   # ARP for the endpoint: answered in place
        return T_MAC_SW[:0] + b"\xff" * 6 + T_MAC_PEER + struct.pack("!HHHBBH6s4s6s4s", 0x0806, 1, 0x0800, 6, 4, 1, T_MAC_PEER,
               socket.inet_aton(T_REMOTE), b"\0" * 6, socket.inet_aton(T_LOCAL))
    else:            # an ordinary IPv4 packet for the endpoint (a ping): not tunnel traffic
        outer = ipv4(struct.pack("!BBHHH", 8, 0, 0, 1, 1) + r.randbytes(16), proto=1, src=T_REMOTE, dst=T_LOCAL)
    f = T_MAC_SW + T_MAC_PEER + struct.pack("!H", 0x0800) + outer
    m = r.random()
    if m < 0.15:                     # every truncation of the outer headers and beyond (at least the 42 bytes the
        f = f[: r.randint(14, len(f))]   # underlay looks at, or less: then it is ordinary traffic)
    elif m < 0.25:                   # outer IHL, total length, fragment bits
        b = bytearray(f)
        which = r.randrange(3)
        if which == 0: b[14] = r.choice([0x40, 0x41, 0x44, 0x46, 0x4f, 0x45 | 0x10, 0x65])
        elif which == 1: b[16:18] = struct.pack("!H", r.choice([0, 19, 20, 21, len(f) - 14 - 1, len(f) - 14 + 1, 0xffff]))
        else: b[20:22] = struct.pack("!H", r.choice([0x2000, 0x0001, 0x3fff]))
        f = bytes(b)
    elif m < 0.30:                   # bit flips in the outer headers
        b = bytearray(f)
        for _ in range(r.randint(1, 3)):
            i = r.randrange(14, min(len(b), 14 + 20 + 16))
            b[i] ^= 1 << r.randrange(8)
        f = bytes(b)
    return f

def write_pcap(path, frames):
    with open(path, "wb") as o:
        o.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i, f in enumerate(frames):
            o.write(struct.pack("<IIII", i // 1000000, i % 1000000, len(f), len(f)))
            o.write(f)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["fuzz", "flow", "miss", "tunnel"])
    ap.add_argument("--dev")
    ap.add_argument("--pcap", help="write the frames to this pcap file instead of sending them")
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dst", default="10.0.0.2")
    a = ap.parse_args()
    r = random.Random(a.seed)
    if a.pcap:
        gen = tunnel_frame if a.mode == "tunnel" else (lambda r: mutate(r.choice(base_frames(r)), r))
        write_pcap(a.pcap, [gen(r) for _ in range(a.count)])
        print(json.dumps({"written": a.count}))
        return
    if a.mode == "tunnel": raise SystemExit("tunnel frames go to a pcap file (--pcap)")
    if not a.dev: raise SystemExit("--dev is required to send")
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
