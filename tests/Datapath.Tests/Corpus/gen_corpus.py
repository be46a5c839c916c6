#!/usr/bin/python3
"""Generates the parser and rewrite corpora with scapy (an implementation independent of ours).

Run by hand (Debian: apt-get install python3-scapy; /usr/bin/python3 gen_corpus.py) from this directory.
The tests read the committed outputs and never need scapy:

  parser-corpus.pcap / parser-corpus.expected
      one frame per record; one expected line per frame, "index name key=value ...": the OpenFlow 1.0
      12-tuple fields, the ParseError and the layer offsets the parser must report.
  rewrite-golden.pcap / rewrite-golden.expected
      pairs of records (before, after): "after" is built by scapy with the field changed and every checksum
      recomputed from scratch; the line names the action that must turn "before" into "after" byte for byte.
"""
import struct
from scapy.all import Ether, Dot1Q, LLC, SNAP, IP, TCP, UDP, ICMP, ARP, Raw, IPOption, raw
from scapy.layers.inet6 import IPv6

SRC, DST = "00:02:e3:0f:80:a4", "00:1a:92:40:ac:05"
NW_SRC, NW_DST = "10.0.2.15", "192.168.1.20"

parser_frames, parser_lines = [], []


def write_pcap(path, frames):
    """Classic little-endian pcap, Ethernet link type; raw bytes (runts included), fixed timestamps."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, b in enumerate(frames):
            f.write(struct.pack("<IIII", 1700000000 + i, 0, len(b), len(b)))
            f.write(b)


def add(name, frame, error="None", vlan=0xFFFF, pcp=0, dl_type=0, tos=0, proto=0, nw_src="0.0.0.0",
        nw_dst="0.0.0.0", tp_src=0, tp_dst=0, l_vlan="-", l3="-", l4="-", flags="None", dl_src=SRC, dl_dst=DST):
    b = raw(frame) if not isinstance(frame, bytes) else frame
    parser_frames.append(b)
    parser_lines.append(
        f"{len(parser_frames) - 1} {name} error={error} dl_src={dl_src} dl_dst={dl_dst} dl_vlan=0x{vlan:04x} "
        f"pcp={pcp} dl_type=0x{dl_type:04x} tos={tos} proto={proto} nw_src={nw_src} nw_dst={nw_dst} "
        f"tp_src={tp_src} tp_dst={tp_dst} vlan={l_vlan} l3={l3} l4={l4} flags={flags}")


def eth(vlan):
    """Ethernet header, optionally tagged: (layers, l2 header length, vlan fields)."""
    e = Ether(src=SRC, dst=DST)
    if vlan is None:
        return e, 14, {}
    vid, prio = vlan
    return e / Dot1Q(vlan=vid, prio=prio), 18, dict(vlan=vid, pcp=prio, l_vlan=12)


# --- The OVS flowgen-style cross product: framing x vlan x ip options x fragment x protocol -------------
PROTOS = {
    "tcp": (6, lambda: TCP(sport=6667, dport=9998, flags="SA", seq=87123455, ack=712378912, window=5823) / Raw(b"payload"), 6667, 9998, "Tcp"),
    "tcp-opts": (6, lambda: TCP(sport=6667, dport=9998, flags="SA", options=[("MSS", 1975)]) / Raw(b"payload"), 6667, 9998, "Tcp"),
    "udp": (17, lambda: UDP(sport=1112, dport=2223) / Raw(b"\x0f" * 7), 1112, 2223, "Udp"),
    "udp-nocsum": (17, lambda: UDP(sport=1112, dport=2223, chksum=0) / Raw(b"\x0f" * 7), 1112, 2223, "Udp"),
    "icmp": (1, lambda: ICMP(type=8, code=0, id=736, seq=931), 8, 0, "Icmp"),
    "icmp-unreach": (1, lambda: ICMP(type=3, code=13) / Raw(b"x" * 28), 3, 13, "Icmp"),
    "other": (42, lambda: Raw(b"other header"), 0, 0, None),
}
FRAGS = {"no": 0, "first": 0x2000, "middle": 0x2111, "last": 0x0222, "df": 0x4000}

for framing in ("ethernet", "snap"):
    for vlan in (None, (0, 0), (0x123, 5), (0xFFF, 7)):
        e, l2, vf = eth(vlan)
        vname = "untagged" if vlan is None else f"vlan{vlan[0]:x}p{vlan[1]}"
        snap_len = 8 if framing == "snap" else 0

        def frame_of(payload, ethertype):
            if framing == "snap":
                body = LLC(dsap=0xAA, ssap=0xAA, ctrl=3) / SNAP(OUI=0, code=ethertype) / payload
                blen = len(raw(body))
                if vlan is None:
                    return Ether(src=SRC, dst=DST, type=blen) / body
                return Ether(src=SRC, dst=DST) / Dot1Q(vlan=vlan[0], prio=vlan[1], type=blen) / body
            if vlan is None:
                return Ether(src=SRC, dst=DST, type=ethertype) / payload
            return Ether(src=SRC, dst=DST) / Dot1Q(vlan=vlan[0], prio=vlan[1], type=ethertype) / payload

        add(f"{framing}-{vname}-nonip", frame_of(Raw(b"\x00" * 46), 0x5678), dl_type=0x5678, **vf)
        for opts in ("noopts", "opts"):
            for frag, fw in FRAGS.items():
                for pname, (proto, mk, sp, dp, fl) in PROTOS.items():
                    ip = IP(src=NW_SRC, dst=NW_DST, tos=44 | 1, id=65432, ttl=64, proto=proto,
                            flags=fw >> 13, frag=fw & 0x1FFF,
                            options=[IPOption(b"\x82\x0b\x6b\xc5\xab\xcd\x12\x34\x01\x02\x03")] if opts == "opts" else [])
                    later = (fw & 0x1FFF) != 0
                    # FRAG_NORMAL: every fragment (MF or offset) has tp_src = tp_dst = 0, the first one too.
                    pkt = ip / (Raw(b"fragment data, no header") if later else mk())
                    ihl = 32 if opts == "opts" else 20
                    l3 = l2 + snap_len
                    has_l4 = fl is not None and not later
                    flags = ["Ipv4"]
                    if has_l4:
                        flags.append(fl)
                    if fw & 0x3FFF:
                        flags.append("Fragment")
                    if later:
                        flags.append("LaterFragment")
                    add(f"{framing}-{vname}-{opts}-{frag}-{pname}", frame_of(pkt, 0x0800), dl_type=0x0800, tos=44,
                        proto=proto, nw_src=NW_SRC, nw_dst=NW_DST, tp_src=0 if fw & 0x3FFF else sp, tp_dst=0 if fw & 0x3FFF else dp,
                        l3=l3, l4=l3 + ihl if has_l4 else "-", flags=",".join(flags), **vf)

# --- 802.2 without SNAP, SNAP with a foreign OUI --------------------------------------------------------
stp = Ether(src=SRC, dst=DST, type=38) / LLC(dsap=0x42, ssap=0x42, ctrl=3) / Raw(b"\x00" * 35)
add("llc-stp", stp, dl_type=0x05FF)
add("llc-stp-vlan", Ether(src=SRC, dst=DST) / Dot1Q(vlan=10, type=38) / LLC(dsap=0x42, ssap=0x42, ctrl=3) / Raw(b"\x00" * 35),
    dl_type=0x05FF, vlan=10, l_vlan=12)
add("snap-cisco-oui", Ether(src=SRC, dst=DST, type=40) / LLC(dsap=0xAA, ssap=0xAA, ctrl=3) / SNAP(OUI=0x00000C, code=0x2000) / Raw(b"\x00" * 32),
    dl_type=0x05FF)

# --- ARP ------------------------------------------------------------------------------------------------
for op, name in ((1, "request"), (2, "reply"), (3, "rarp-op3")):
    a = ARP(op=op, hwsrc=SRC, psrc="10.0.0.1", hwdst="00:00:00:00:00:00" if op == 1 else DST, pdst="10.0.0.2")
    add(f"arp-{name}", Ether(src=SRC, dst=DST) / a / Raw(b"\x00" * 18), dl_type=0x0806, proto=op,
        nw_src="10.0.0.1", nw_dst="10.0.0.2", l3=14, flags="Arp")
add("arp-vlan-reply", Ether(src=SRC, dst=DST) / Dot1Q(vlan=42, prio=3) / ARP(op=2, psrc="1.2.3.4", pdst="5.6.7.8"),
    dl_type=0x0806, proto=2, nw_src="1.2.3.4", nw_dst="5.6.7.8", vlan=42, pcp=3, l_vlan=12, l3=18, flags="Arp")
add("arp-op-0x0101", Ether(src=SRC, dst=DST) / ARP(op=0x0101, psrc="1.2.3.4", pdst="5.6.7.8"),
    dl_type=0x0806, proto=0, nw_src="1.2.3.4", nw_dst="5.6.7.8", l3=14, flags="Arp")

# --- Other ethertypes -----------------------------------------------------------------------------------
add("ipv6-udp", Ether(src=SRC, dst=DST) / IPv6(src="fe80::1", dst="ff02::1") / UDP(sport=546, dport=547), dl_type=0x86DD,
    proto=17, tp_src=546, tp_dst=547, l3=14, l4=54, flags="Udp,Ipv6")
add("lldp", Ether(src=SRC, dst="01:80:c2:00:00:0e", type=0x88CC) / Raw(b"\x02\x07\x04" + b"\x00" * 43),
    dl_type=0x88CC, dl_dst="01:80:c2:00:00:0e")
# QinQ: one tag is matched (OpenFlow 1.0/1.3, Open vSwitch's vlan-limit 1): the key holds the outer tag and dl_type
# is the inner tag's TPID; nothing after it is parsed.
add("qinq", Ether(src=SRC, dst=DST) / Dot1Q(vlan=100, prio=1) / Dot1Q(vlan=200) / IP(src=NW_SRC, dst=NW_DST) / UDP(),
    dl_type=0x8100, vlan=100, pcp=1, l_vlan=12)

# --- Malformed IPv4 -------------------------------------------------------------------------------------
base = raw(Ether(src=SRC, dst=DST) / IP(src=NW_SRC, dst=NW_DST, tos=0xB8) / TCP(sport=1, dport=2) / Raw(b"abc"))


def patched(b, off, bs):
    return b[:off] + bs + b[off + len(bs):]


add("ip-ihl4", patched(base, 14, b"\x44"), error="IpBadHeader", dl_type=0x0800)
add("ip-version6", patched(base, 14, b"\x65"), error="IpBadHeader", dl_type=0x0800)
add("ip-ihl15-short", patched(base, 14, b"\x4f"), error="IpTruncated", dl_type=0x0800)
add("ip-19-bytes", base[:14 + 19], error="IpTruncated", dl_type=0x0800)
add("ip-totlen-too-big", patched(base, 16, struct.pack(">H", 44)), error="IpBadLength", dl_type=0x0800, tos=0xB8,
    proto=6, nw_src=NW_SRC, nw_dst=NW_DST, l3=14, flags="Ipv4")
add("ip-totlen-below-ihl", patched(base, 16, struct.pack(">H", 19)), error="IpBadLength", dl_type=0x0800, tos=0xB8,
    proto=6, nw_src=NW_SRC, nw_dst=NW_DST, l3=14, flags="Ipv4")
add("tcp-cut-by-totlen", patched(base, 16, struct.pack(">H", 39)), error="L4Truncated", dl_type=0x0800, tos=0xB8,
    proto=6, nw_src=NW_SRC, nw_dst=NW_DST, l3=14, flags="Ipv4")
padded = raw(Ether(src=SRC, dst=DST) / IP(src=NW_SRC, dst=NW_DST) / UDP(sport=7, dport=9)) + b"\xee" * 18
add("udp-min-frame-padding", padded, dl_type=0x0800, proto=17, nw_src=NW_SRC, nw_dst=NW_DST, tp_src=7, tp_dst=9,
    l3=14, l4=34, flags="Ipv4,Udp")
udp5 = raw(Ether(src=SRC, dst=DST) / IP(src=NW_SRC, dst=NW_DST, proto=17, len=27) / Raw(b"\x00\x07\x00\x09\x00\x07\x00"))
add("udp-7-bytes", udp5, error="L4Truncated", dl_type=0x0800, proto=17, nw_src=NW_SRC, nw_dst=NW_DST, l3=14, flags="Ipv4")
icmp3 = raw(Ether(src=SRC, dst=DST) / IP(src=NW_SRC, dst=NW_DST, proto=1, len=23) / Raw(b"\x08\x00\x00")) + b"\x00" * 20
add("icmp-3-bytes", icmp3, error="L4Truncated", dl_type=0x0800, proto=1, nw_src=NW_SRC, nw_dst=NW_DST, l3=14, flags="Ipv4")

# --- Runts and cut-off headers ----------------------------------------------------------------------------
full = raw(Ether(src=SRC, dst=DST) / Dot1Q(vlan=5) / IP(src=NW_SRC, dst=NW_DST) / TCP())
for n in (0, 1, 6, 12, 13):
    add(f"runt-{n}", full[:n], error="Runt", dl_src="00:00:00:00:00:00", dl_dst="00:00:00:00:00:00")
for n in (14, 16, 17):
    add(f"vlan-cut-{n}", full[:n], error="VlanTruncated", dl_type=0x8100)
add("vlan-no-ip", full[:18], error="IpTruncated", dl_type=0x0800, vlan=5, l_vlan=12)

with open("parser-corpus.expected", "w") as f:
    f.write("\n".join(parser_lines) + "\n")
write_pcap("parser-corpus.pcap", parser_frames)

# --- Rewrite goldens ------------------------------------------------------------------------------------
pairs, lines = [], []


def pair(name, action, before, after):
    pairs.extend([raw(before), raw(after)])
    lines.append(f"{len(lines)} {name} {action}")


def ip4(**kw):
    d = dict(src=NW_SRC, dst=NW_DST, tos=0x2B, id=4242, ttl=61)
    d.update(kw)
    return IP(**d)


L4S = {
    "tcp": lambda **k: TCP(sport=k.get("sport", 6667), dport=k.get("dport", 80), flags="PA", seq=1, ack=2) / Raw(b"GET / HTTP/1.0\r\n\r\n"),
    "udp": lambda **k: UDP(sport=k.get("sport", 5353), dport=k.get("dport", 53)) / Raw(b"odd-length-payload!"),
    "udp0": lambda **k: UDP(sport=k.get("sport", 5353), dport=k.get("dport", 53), chksum=0) / Raw(b"no checksum"),
    "icmp": lambda **k: ICMP(type=8, id=7, seq=9) / Raw(b"ping" * 5),
}
for vl in (None, (77, 4)):
    vn = "untagged" if vl is None else "vlan"
    for opts in ([], [IPOption(b"\x94\x04\x00\x00")]):
        on = "opts" if opts else "noopts"
        for l4n, mk in L4S.items():
            def fr(ipkw=None, l4kw=None, v=vl):
                e = Ether(src=SRC, dst=DST)
                if v is not None:
                    e = e / Dot1Q(vlan=v[0], prio=v[1])
                return e / ip4(options=opts, **(ipkw or {})) / mk(**(l4kw or {}))
            n = f"{vn}-{on}-{l4n}"
            pair(n, "set_nw_src=172.16.99.1", fr(), fr(ipkw=dict(src="172.16.99.1")))
            pair(n, "set_nw_dst=255.255.255.255", fr(), fr(ipkw=dict(dst="255.255.255.255")))
            pair(n, "set_nw_dst=0.0.0.0", fr(), fr(ipkw=dict(dst="0.0.0.0")))
            pair(n, "set_nw_tos=184", fr(), fr(ipkw=dict(tos=0xB8 | 0x03)))
            pair(n, "set_dl_src=12:34:56:78:9a:bc", fr(), raw(fr())[:6] + bytes.fromhex("123456789abc") + raw(fr())[12:])
            if l4n != "icmp":
                pair(n, "set_tp_src=65535", fr(), fr(l4kw=dict(sport=65535)))
                pair(n, "set_tp_dst=0", fr(), fr(l4kw=dict(dport=0)))
            else:
                pair(n, "set_tp_src=1", fr(), fr())
            if vl is None:
                pair(n, "set_vlan_vid=100", fr(), fr(v=(100, 0)))
                pair(n, "set_vlan_pcp=6", fr(), fr(v=(0, 6)))
                pair(n, "strip_vlan", fr(), fr())
            else:
                pair(n, "set_vlan_vid=4095", fr(), fr(v=(4095, vl[1])))
                pair(n, "set_vlan_pcp=0", fr(), fr(v=(vl[0], 0)))
                pair(n, "strip_vlan", fr(), fr(v=None))

later = lambda **k: Ether(src=SRC, dst=DST) / IP(src=k.get("src", NW_SRC), dst=NW_DST, proto=6, frag=100) / Raw(b"\x12\x34" * 20)
pair("later-fragment", "set_nw_src=1.1.1.1", later(), later(src="1.1.1.1"))
pair("later-fragment", "set_tp_src=9", later(), later())
first = lambda **k: Ether(src=SRC, dst=DST) / IP(src=k.get("src", NW_SRC), dst=NW_DST, flags="MF") / UDP(sport=k.get("sport", 1), dport=2) / Raw(b"\x00" * 24)
pair("first-fragment", "set_nw_src=1.1.1.1", first(), first(src="1.1.1.1"))
pair("first-fragment", "set_tp_src=9", first(), first(sport=9))
arp = lambda **k: Ether(src=SRC, dst=DST) / ARP(op=1, psrc="10.0.0.1", pdst="10.0.0.2")
pair("arp", "set_nw_src=1.1.1.1", arp(), arp())
pair("arp", "set_nw_tos=252", arp(), arp())
pair("arp", "set_vlan_vid=3", arp(), Ether(src=SRC, dst=DST) / Dot1Q(vlan=3) / ARP(op=1, psrc="10.0.0.1", pdst="10.0.0.2"))

with open("rewrite-golden.expected", "w") as f:
    f.write("\n".join(lines) + "\n")
write_pcap("rewrite-golden.pcap", pairs)
print(len(parser_frames), "parser frames,", len(lines), "rewrite pairs")
