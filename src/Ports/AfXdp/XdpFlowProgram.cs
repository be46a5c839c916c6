namespace Softswitch.Ports.AfXdp;

/// <summary>
/// The flow program: an XDP program that parses a frame into a fixed key, looks it up in the exact-match table of flows
/// (<see cref="XdpFlowTable"/>, inline: no helper call; IPv6 flows keyed by both addresses in a hash map), and on a
/// hit counts the frame and applies the flow's action record in the kernel; on a miss it redirects the frame to the
/// port's AF_XDP socket, as the plain redirect program (<see cref="Bpf.LoadRedirectProgram"/>) does.
/// </summary>
/// <remarks>
/// It must look up only frames whose software key it reproduces exactly (every other frame is a miss, answered by
/// software), and its rewrites must match the software executor's byte for byte (a test checks them). The key is
/// <see cref="XdpFlowKey"/>'s, the action record <see cref="XdpFlowAction"/>'s.
/// Registers: R6 the context, R7/R8 the frame's start and end, R9 the IPv4 header (then the action record, or the
/// output ifindex when there is nothing to rewrite).
/// Stack: key at fp-64, action record pointer at fp-72, the key's bucket (its ways) at fp-24, the frame's length at
/// fp-80, and at fp-88 whether its TCP/UDP checksum is unfilled (partial, below).
/// Design: docs/xdp-offload.md, "The flow program".
/// </remarks>
internal static class XdpFlowProgram
{
    /// <summary>The key of the flow table (IPv4 addresses), and of the map of IPv6 flows with both addresses.</summary>
    public const int KeySize = 36, Ipv6KeySize = 60;

    public const int ValueSize = 80, CounterSize = 16;

    // Action record flags.
    public const uint OutPort = 1, OutInPort = 2, SetDlDst = 4, SetDlSrc = 8, PopVlan = 16, PushVlan = 32, SetVlanTci = 64;
    public const uint SetNwSrc = 128, SetNwDst = 256, SetTos = 512, SetTtl = 1024, SetTpSrc = 2048, SetTpDst = 4096;
    public const uint SetIpv6Src = 8192, SetIpv6Dst = 16384;
    private const uint L3Flags = SetNwSrc | SetNwDst | SetTos | SetTtl | SetTpSrc | SetTpDst | SetIpv6Src | SetIpv6Dst;

    private const short Key = -64, Record = -72, Bucket = -24, FrameLength = -80, Partial = -88;

    /// <summary>
    /// The longest L4 segment whose unfilled checksum the program fills (its words summed in a bounded loop); a longer
    /// one, or one that continues past the first buffer, goes to software.
    /// </summary>
    public const int MaxFilledL4Size = 4092;

    /// <summary>
    /// The program's instructions for maps of these file descriptors. <paramref name="multiBuffer"/>: the program is
    /// loaded for multi-buffer frames (BPF_F_XDP_HAS_FRAGS), so a frame may continue past the first buffer (the only
    /// one direct packet access reaches): its length is then read with bpf_xdp_get_buff_len (Linux 5.18), the IP length
    /// is checked against it, and the headers, all of them in the first buffer, are parsed and rewritten there. A
    /// frame longer than a page (a jumbo MTU; on a veth in generic mode, a TSO super-frame whose skb keeps its GSO and
    /// checksum state through the redirect) is thus forwarded in the kernel like any other.
    /// <paramref name="fillPartial"/>: a TCP or UDP frame whose checksum field holds just its pseudo-header's sum (a
    /// local sender's CHECKSUM_PARTIAL frame, whose checksum the "hardware" was to finish) leaves with its full
    /// checksum, computed over the whole segment after the rewrites; other frames get the incremental update. For native
    /// mode, where the redirected frame keeps no checksum state; in generic mode the skb keeps it (the kernel or the
    /// NIC finishes the checksum from the field at transmit, so a filled field would be summed twice), so it is off.
    /// </summary>
    public static ulong[] Build(int xskMapFd, XdpFlowMaps maps, bool multiBuffer = false, bool fillPartial = true)
    {
        var (ipv6FlowsFd, countersFd, devMapFd) = (maps.Ipv6FlowsFd, maps.CountersFd, maps.DevMapFd);
        var a = new BpfAsm();
        a.Mov(Reg.R6, Reg.R1);
        if (multiBuffer)
            a.Call(Bpf.BPF_FUNC_xdp_get_buff_len).Store(Size.DW, Reg.Fp, FrameLength, Reg.R0);
        a.Load(Size.W, Reg.R7, Reg.R6, 0)                 // data
         .Load(Size.W, Reg.R8, Reg.R6, 4);                // data_end
        if (!multiBuffer)
            a.Mov(Reg.R1, Reg.R8).Sub(Reg.R1, Reg.R7).Store(Size.DW, Reg.Fp, FrameLength, Reg.R1);
        for (short off = Key; off < Key + KeySize - 4; off += 8) a.Store(Size.DW, Reg.Fp, off, 0);
        a.Store(Size.W, Reg.Fp, Key + KeySize - 4, 0).Store(Size.DW, Reg.Fp, Partial, 0);
        a.Load(Size.W, Reg.R2, Reg.R6, 12).Store(Size.W, Reg.Fp, Key, Reg.R2);  // ingress_ifindex

        // Ethernet: MACs, then at most one 802.1Q tag.
        Bound(a, Reg.R7, 14, "miss");
        a.Load(Size.W, Reg.R2, Reg.R7, 0).Store(Size.W, Reg.Fp, Key + 8, Reg.R2)
         .Load(Size.H, Reg.R2, Reg.R7, 4).Store(Size.H, Reg.Fp, Key + 12, Reg.R2)
         .Load(Size.H, Reg.R2, Reg.R7, 6).Store(Size.H, Reg.Fp, Key + 14, Reg.R2)
         .Load(Size.W, Reg.R2, Reg.R7, 8).Store(Size.W, Reg.Fp, Key + 16, Reg.R2)
         .Load(Size.H, Reg.R2, Reg.R7, 12)
         .Mov(Reg.R9, Reg.R7).Add(Reg.R9, 14)
         .If(Reg.R2, Cond.Ne, 0x0081, "untagged");        // 0x8100 as loaded (little-endian)
        Bound(a, Reg.R7, 18, "miss");
        a.Load(Size.H, Reg.R3, Reg.R7, 14).Or(Reg.R3, 0x0010).Store(Size.H, Reg.Fp, Key + 4, Reg.R3)
         .Load(Size.H, Reg.R2, Reg.R7, 16)
         .Mov(Reg.R9, Reg.R7).Add(Reg.R9, 18)
         .Label("untagged")
         .Store(Size.H, Reg.Fp, Key + 6, Reg.R2)
         .If(Reg.R2, Cond.Eq, 0xdd86, "ipv6")
         .If(Reg.R2, Cond.Ne, 0x0008, "miss");

        // IPv4: no options, no fragment, total length within the frame.
        Bound(a, Reg.R9, 20, "miss");
        a.Load(Size.B, Reg.R3, Reg.R9, 0).If(Reg.R3, Cond.Ne, 0x45, "miss")
         .Load(Size.H, Reg.R3, Reg.R9, 6).And(Reg.R3, 0xff3f).If(Reg.R3, Cond.Ne, 0, "miss")
         .Load(Size.B, Reg.R3, Reg.R9, 1).And(Reg.R3, 0xfc).Store(Size.B, Reg.Fp, Key + 21, Reg.R3)
         .Load(Size.W, Reg.R3, Reg.R9, 12).Store(Size.W, Reg.Fp, Key + 28, Reg.R3)
         .Load(Size.W, Reg.R3, Reg.R9, 16).Store(Size.W, Reg.Fp, Key + 32, Reg.R3)
         .Load(Size.H, Reg.R4, Reg.R9, 2).Be16(Reg.R4).And(Reg.R4, 0xffff)
         .If(Reg.R4, Cond.Lt, 20, "miss")
         .Mov(Reg.R1, Reg.R9).Sub(Reg.R1, Reg.R7).Add(Reg.R1, Reg.R4)    // the IP datagram within the frame (every buffer)
         .Load(Size.DW, Reg.R2, Reg.Fp, FrameLength).If(Reg.R1, Cond.Gt, Reg.R2, "miss")
         .Load(Size.B, Reg.R3, Reg.R9, 9).Store(Size.B, Reg.Fp, Key + 20, Reg.R3)
         .If(Reg.R3, Cond.Eq, 6, "tcp")
         .If(Reg.R3, Cond.Eq, 17, "udp")
         .If(Reg.R3, Cond.Eq, 1, "icmp")
         .If(Reg.R3, Cond.Eq, 132, "miss")                  // SCTP: software
         .Goto("lookup");
        a.Label("tcp").If(Reg.R4, Cond.Lt, 40, "miss").Goto("ports");
        a.Label("udp").If(Reg.R4, Cond.Lt, 28, "miss");
        a.Label("ports");
        Bound(a, Reg.R9, 24, "miss");
        a.Load(Size.W, Reg.R3, Reg.R9, 20).Store(Size.W, Reg.Fp, Key + 24, Reg.R3).Goto("lookup");
        a.Label("icmp").If(Reg.R4, Cond.Lt, 24, "miss");
        Bound(a, Reg.R9, 22, "miss");
        a.Load(Size.B, Reg.R3, Reg.R9, 20).Store(Size.B, Reg.Fp, Key + 25, Reg.R3)
         .Load(Size.B, Reg.R3, Reg.R9, 21).Store(Size.B, Reg.Fp, Key + 27, Reg.R3)
         .Goto("lookup");

        // IPv6: TCP, UDP or ICMPv6 right after the fixed header (an extension header is a miss), the payload within the
        // frame and long enough for the L4 header. The addresses enter the key only for the second lookup; neighbour
        // discovery is a miss (its options are the parser's to check).
        a.Label("ipv6");
        Bound(a, Reg.R9, 40, "miss");
        a.Load(Size.B, Reg.R3, Reg.R9, 0).Rsh(Reg.R3, 4).If(Reg.R3, Cond.Ne, 6, "miss")
         .Load(Size.B, Reg.R3, Reg.R9, 0).And(Reg.R3, 0x0f).Lsh(Reg.R3, 4)
         .Load(Size.B, Reg.R2, Reg.R9, 1).Rsh(Reg.R2, 4).Or(Reg.R3, Reg.R2).And(Reg.R3, 0xfc).Store(Size.B, Reg.Fp, Key + 21, Reg.R3)
         .Load(Size.H, Reg.R4, Reg.R9, 4).Be16(Reg.R4).And(Reg.R4, 0xffff)
         .Mov(Reg.R1, Reg.R9).Sub(Reg.R1, Reg.R7).Add(Reg.R1, 40).Add(Reg.R1, Reg.R4)
         .Load(Size.DW, Reg.R2, Reg.Fp, FrameLength).If(Reg.R1, Cond.Gt, Reg.R2, "miss")
         .Load(Size.B, Reg.R3, Reg.R9, 6).Store(Size.B, Reg.Fp, Key + 20, Reg.R3)
         .If(Reg.R3, Cond.Eq, 6, "tcp6")
         .If(Reg.R3, Cond.Eq, 17, "udp6")
         .If(Reg.R3, Cond.Ne, 58, "miss")
         .If(Reg.R4, Cond.Lt, 4, "miss");
        Bound(a, Reg.R9, 42, "miss");
        a.Load(Size.B, Reg.R3, Reg.R9, 40).If(Reg.R3, Cond.Eq, 135, "miss").If(Reg.R3, Cond.Eq, 136, "miss")
         .Store(Size.B, Reg.Fp, Key + 25, Reg.R3)
         .Load(Size.B, Reg.R3, Reg.R9, 41).Store(Size.B, Reg.Fp, Key + 27, Reg.R3)
         .Goto("lookup");
        a.Label("tcp6").If(Reg.R4, Cond.Lt, 20, "miss").Goto("ports6");
        a.Label("udp6").If(Reg.R4, Cond.Lt, 8, "miss");
        a.Label("ports6");
        Bound(a, Reg.R9, 44, "miss");
        a.Load(Size.W, Reg.R3, Reg.R9, 40).Store(Size.W, Reg.Fp, Key + 24, Reg.R3);

        // Lookup (for IPv6, without the addresses first, then with them in the IPv6 map); count.
        a.Label("lookup");
        TableLookup(a, maps.Table, "hit", "table.miss");
        a.Label("table.miss")
         .Load(Size.H, Reg.R2, Reg.Fp, Key + 6).If(Reg.R2, Cond.Ne, 0xdd86, "miss");
        Bound(a, Reg.R9, 40, "miss");
        for (short off = 0; off < 32; off += 4) a.Load(Size.W, Reg.R2, Reg.R9, (short)(8 + off)).Store(Size.W, Reg.Fp, (short)(Key + 28 + off), Reg.R2);
        a.LoadMap(Reg.R1, ipv6FlowsFd).Mov(Reg.R2, Reg.Fp).Add(Reg.R2, Key).Call(Bpf.BPF_FUNC_map_lookup_elem)
         .If(Reg.R0, Cond.Eq, 0, "miss")
         .Label("hit");
        if (fillPartial) PartialCheck(a);
        a.Load(Size.W, Reg.R4, Reg.R0, 0).If(Reg.R4, Cond.Ne, (int)OutPort, "rewrite");
        // The common record, an output with nothing to rewrite: R9 becomes the output ifindex.
        a.Load(Size.W, Reg.R9, Reg.R0, 4);
        Count(a, countersFd, "fast.counted");
        a.LoadMap(Reg.R1, devMapFd).Mov(Reg.R2, Reg.R9).Mov(Reg.R3, Bpf.XDP_DROP).Call(Bpf.BPF_FUNC_redirect_map).Exit();
        // A pop without a push on a frame under 64 bytes would leave it under Ethernet's 60: the software pads it back
        // (PacketRewriter.KeepEthernetMinimum), so such a frame goes to it, before anything is rewritten.
        a.Label("rewrite").Mov(Reg.R1, Reg.R4).And(Reg.R1, (int)(PopVlan | PushVlan)).If(Reg.R1, Cond.Ne, (int)PopVlan, "rewrite.sized");
        Bound(a, Reg.R7, 64, "miss");
        a.Label("rewrite.sized").Store(Size.DW, Reg.Fp, Record, Reg.R0);
        Count(a, countersFd, "counted");
        a.Load(Size.DW, Reg.R5, Reg.Fp, Record)
         .Load(Size.W, Reg.R4, Reg.R5, 0);

        // L3/L4: R0 sums what the L4 checksum covers that changed (~old + new, RFC 1624).
        a.Mov(Reg.R1, Reg.R4).And(Reg.R1, (int)L3Flags).If(Reg.R1, Cond.Eq, 0, "l4.fill")
         .Mov(Reg.R0, 0)
         .Load(Size.H, Reg.R2, Reg.Fp, Key + 6).If(Reg.R2, Cond.Eq, 0xdd86, "l3v6");
        Replace32(a, SetNwSrc, 12, 24, "nwsrc");
        Replace32(a, SetNwDst, 16, 28, "nwdst");
        a.Mov(Reg.R1, Reg.R4).And(Reg.R1, (int)SetTos).If(Reg.R1, Cond.Eq, 0, "tos.done")
         .Load(Size.B, Reg.R2, Reg.R9, 1).And(Reg.R2, 3).Load(Size.B, Reg.R3, Reg.R5, 37).Or(Reg.R2, Reg.R3).Store(Size.B, Reg.R9, 1, Reg.R2)
         .Label("tos.done")
         .Mov(Reg.R1, Reg.R4).And(Reg.R1, (int)SetTtl).If(Reg.R1, Cond.Eq, 0, "ttl.done")
         .Load(Size.B, Reg.R2, Reg.R5, 36).Store(Size.B, Reg.R9, 8, Reg.R2)
         .Label("ttl.done");
        Replace16(a, SetTpSrc, 20, 32, "tpsrc");
        Replace16(a, SetTpDst, 22, 34, "tpdst");
        // The IPv4 header checksum, recomputed over its 20 bytes.
        a.Store(Size.H, Reg.R9, 10, 0).Mov(Reg.R1, 0);
        for (short off = 0; off < 20; off += 4) a.Load(Size.W, Reg.R2, Reg.R9, off).Add(Reg.R1, Reg.R2);
        Fold(a, Reg.R1);
        a.Xor(Reg.R1, 0xffff).Store(Size.H, Reg.R9, 10, Reg.R1)
         .If(Reg.R0, Cond.Eq, 0, "l4.fill")
         .Load(Size.B, Reg.R3, Reg.Fp, Key + 20)
         .If(Reg.R3, Cond.Eq, 17, "udp.csum")
         .If(Reg.R3, Cond.Ne, 6, "l4.fill");
        Bound(a, Reg.R9, 40, "abort");
        a.Load(Size.H, Reg.R2, Reg.R9, 36);
        L4Checksum(a);
        a.Store(Size.H, Reg.R9, 36, Reg.R2).Goto("l4.fill");
        a.Label("udp.csum");
        Bound(a, Reg.R9, 28, "abort");
        a.Load(Size.H, Reg.R2, Reg.R9, 26).If(Reg.R2, Cond.Eq, 0, "l4.fill");
        L4Checksum(a);
        a.If(Reg.R2, Cond.Ne, 0, "udp.store").Mov(Reg.R2, 0xffff)
         .Label("udp.store").Store(Size.H, Reg.R9, 26, Reg.R2).Goto("l4.fill");

        // IPv6: addresses, hop limit (in no checksum), L4 ports; the TCP, UDP or ICMPv6 checksum (its pseudo-header
        // holds the addresses) updated by what changed.
        a.Label("l3v6");
        Bound(a, Reg.R9, 40, "abort");
        Replace128(a, SetIpv6Src, 8, 48, "ip6src");
        Replace128(a, SetIpv6Dst, 24, 64, "ip6dst");
        a.Mov(Reg.R1, Reg.R4).And(Reg.R1, (int)SetTtl).If(Reg.R1, Cond.Eq, 0, "hlim.done")
         .Load(Size.B, Reg.R2, Reg.R5, 36).Store(Size.B, Reg.R9, 7, Reg.R2)
         .Label("hlim.done");
        Replace16(a, SetTpSrc, 40, 32, "tpsrc6");
        Replace16(a, SetTpDst, 42, 34, "tpdst6");
        a.If(Reg.R0, Cond.Eq, 0, "l4.fill")
         .Load(Size.B, Reg.R3, Reg.Fp, Key + 20)
         .If(Reg.R3, Cond.Eq, 17, "udp6.csum")
         .If(Reg.R3, Cond.Eq, 58, "icmp6.csum")
         .If(Reg.R3, Cond.Ne, 6, "l4.fill");
        Bound(a, Reg.R9, 58, "abort");
        a.Load(Size.H, Reg.R2, Reg.R9, 56);
        L4Checksum(a);
        a.Store(Size.H, Reg.R9, 56, Reg.R2).Goto("l4.fill");
        a.Label("icmp6.csum");
        Bound(a, Reg.R9, 44, "abort");
        a.Load(Size.H, Reg.R2, Reg.R9, 42);
        L4Checksum(a);
        a.Store(Size.H, Reg.R9, 42, Reg.R2).Goto("l4.fill");
        a.Label("udp6.csum");
        Bound(a, Reg.R9, 48, "abort");
        a.Load(Size.H, Reg.R2, Reg.R9, 46).If(Reg.R2, Cond.Eq, 0, "l4.fill");
        L4Checksum(a);
        a.If(Reg.R2, Cond.Ne, 0, "udp6.store").Mov(Reg.R2, 0xffff)
         .Label("udp6.store").Store(Size.H, Reg.R9, 46, Reg.R2);

        // A partial checksum (found at the hit): the full one, over the pseudo-header and segment as rewritten.
        a.Label("l4.fill");
        if (fillPartial) FillChecksum(a);

        // L2: MACs, then the tag (the record stays in R9 across the helper calls).
        a.Label("l2")
         .Load(Size.DW, Reg.R9, Reg.Fp, Record)
         .Load(Size.W, Reg.R4, Reg.R9, 0)
         .Mov(Reg.R1, Reg.R4).And(Reg.R1, (int)SetDlDst).If(Reg.R1, Cond.Eq, 0, "dldst.done")
         .Load(Size.W, Reg.R2, Reg.R9, 8).Store(Size.W, Reg.R7, 0, Reg.R2)
         .Load(Size.H, Reg.R2, Reg.R9, 12).Store(Size.H, Reg.R7, 4, Reg.R2)
         .Label("dldst.done")
         .Mov(Reg.R1, Reg.R4).And(Reg.R1, (int)SetDlSrc).If(Reg.R1, Cond.Eq, 0, "dlsrc.done")
         .Load(Size.H, Reg.R2, Reg.R9, 14).Store(Size.H, Reg.R7, 6, Reg.R2)
         .Load(Size.W, Reg.R2, Reg.R9, 16).Store(Size.W, Reg.R7, 8, Reg.R2)
         .Label("dlsrc.done")
         .Mov(Reg.R1, Reg.R4).And(Reg.R1, (int)SetVlanTci).If(Reg.R1, Cond.Eq, 0, "tci.done");
        Bound(a, Reg.R7, 18, "abort");
        a.Load(Size.H, Reg.R2, Reg.R7, 14).And(Reg.R2, 0x0010)          // keep DEI
         .Load(Size.H, Reg.R3, Reg.R9, 20).Or(Reg.R2, Reg.R3).Store(Size.H, Reg.R7, 14, Reg.R2)
         .Label("tci.done")
         .Mov(Reg.R1, Reg.R4).And(Reg.R1, (int)PopVlan).If(Reg.R1, Cond.Eq, 0, "pop.done");
        Bound(a, Reg.R7, 18, "abort");
        a.Load(Size.W, Reg.R1, Reg.R7, 0).Load(Size.W, Reg.R2, Reg.R7, 4).Load(Size.W, Reg.R3, Reg.R7, 8)
         .Store(Size.W, Reg.R7, 4, Reg.R1).Store(Size.W, Reg.R7, 8, Reg.R2).Store(Size.W, Reg.R7, 12, Reg.R3)
         .Mov(Reg.R1, Reg.R6).Mov(Reg.R2, 4).Call(Bpf.BPF_FUNC_xdp_adjust_head)
         .If(Reg.R0, Cond.Ne, 0, "abort")
         .Label("pop.done")
         .Load(Size.W, Reg.R4, Reg.R9, 0)
         .Mov(Reg.R1, Reg.R4).And(Reg.R1, (int)PushVlan).If(Reg.R1, Cond.Eq, 0, "out")
         .Mov(Reg.R1, Reg.R6).Mov(Reg.R2, -4).Call(Bpf.BPF_FUNC_xdp_adjust_head)
         .If(Reg.R0, Cond.Ne, 0, "abort")
         .Load(Size.W, Reg.R7, Reg.R6, 0).Load(Size.W, Reg.R8, Reg.R6, 4);
        Bound(a, Reg.R7, 18, "abort");
        a.Load(Size.W, Reg.R1, Reg.R7, 4).Load(Size.W, Reg.R2, Reg.R7, 8).Load(Size.W, Reg.R3, Reg.R7, 12)
         .Store(Size.W, Reg.R7, 0, Reg.R1).Store(Size.W, Reg.R7, 4, Reg.R2).Store(Size.W, Reg.R7, 8, Reg.R3)
         .Store(Size.H, Reg.R7, 12, 0x0081)
         .Load(Size.H, Reg.R2, Reg.R9, 20).Store(Size.H, Reg.R7, 14, Reg.R2);

        // Output: a port through the DEVMAP, back out of the ingress port, or drop.
        a.Label("out")
         .Load(Size.W, Reg.R4, Reg.R9, 0)
         .Mov(Reg.R1, Reg.R4).And(Reg.R1, (int)OutPort).If(Reg.R1, Cond.Eq, 0, "out.inport")
         .LoadMap(Reg.R1, devMapFd).Load(Size.W, Reg.R2, Reg.R9, 4).Mov(Reg.R3, Bpf.XDP_DROP).Call(Bpf.BPF_FUNC_redirect_map).Exit()
         .Label("out.inport")
         .Mov(Reg.R1, Reg.R4).And(Reg.R1, (int)OutInPort).If(Reg.R1, Cond.Eq, 0, "drop")
         .Return(Bpf.XDP_TX)
         .Label("drop").Return(Bpf.XDP_DROP)
         .Label("abort").Return(0)                         // XDP_ABORTED: visible in the xdp_exception tracepoint
         .Label("miss")
         .Load(Size.W, Reg.R2, Reg.R6, 16)                  // rx_queue_index
         .LoadMap(Reg.R1, xskMapFd).Mov(Reg.R3, Bpf.XDP_PASS).Call(Bpf.BPF_FUNC_redirect_map).Exit();
        return a.Assemble();
    }

    /// <summary>
    /// Looks the key up in <paramref name="table"/> (<see cref="XdpFlowTable"/>): its bucket by the table's hash, copied
    /// to the stack; then each way's entry, compared with the key. Goes to <paramref name="hit"/> with R0 at the entry's
    /// action record, else to <paramref name="miss"/>. ARRAY lookups are inlined by the verifier (no helper call).
    /// </summary>
    private static void TableLookup(BpfAsm a, XdpFlowTable table, string hit, string miss)
    {
        a.LoadImm64(Reg.R3, XdpFlowTable.HashMultiplier).LoadImm64(Reg.R1, table.Seed);
        for (short off = 0; off < 32; off += 8) a.Load(Size.DW, Reg.R2, Reg.Fp, (short)(Key + off)).Xor(Reg.R1, Reg.R2).Mul(Reg.R1, Reg.R3);
        a.Load(Size.W, Reg.R2, Reg.Fp, Key + 32).Xor(Reg.R1, Reg.R2)
         .Mov(Reg.R2, Reg.R1).Rsh(Reg.R2, 32).Xor(Reg.R1, Reg.R2).Mul(Reg.R1, Reg.R3).Rsh(Reg.R1, 64 - table.BucketBits)
         .Store(Size.W, Reg.Fp, Bucket, Reg.R1)
         .LoadMap(Reg.R1, table.BucketsFd).Mov(Reg.R2, Reg.Fp).Add(Reg.R2, Bucket).Call(Bpf.BPF_FUNC_map_lookup_elem)
         .If(Reg.R0, Cond.Eq, 0, miss)
         .Load(Size.DW, Reg.R1, Reg.R0, 0).Store(Size.DW, Reg.Fp, Bucket, Reg.R1)
         .Load(Size.DW, Reg.R1, Reg.R0, 8).Store(Size.DW, Reg.Fp, Bucket + 8, Reg.R1);
        for (int w = 0; w < XdpFlowTable.Ways; w++)
        {
            string next = w + 1 < XdpFlowTable.Ways ? $"way{w + 1}" : miss;
            short way = (short)(Bucket + (4 * w));
            if (w > 0) a.Label($"way{w}");
            a.Load(Size.W, Reg.R1, Reg.Fp, way).If(Reg.R1, Cond.Eq, 0, next)
             .LoadMap(Reg.R1, table.EntriesFd).Mov(Reg.R2, Reg.Fp).Add(Reg.R2, way).Call(Bpf.BPF_FUNC_map_lookup_elem)
             .If(Reg.R0, Cond.Eq, 0, next);
            for (short off = 0; off < 32; off += 8)
                a.Load(Size.DW, Reg.R1, Reg.R0, off).Load(Size.DW, Reg.R2, Reg.Fp, (short)(Key + off)).If(Reg.R1, Cond.Ne, Reg.R2, next);
            a.Load(Size.W, Reg.R1, Reg.R0, 32).Load(Size.W, Reg.R2, Reg.Fp, Key + 32).If(Reg.R1, Cond.Ne, Reg.R2, next)
             .Add(Reg.R0, XdpFlowTable.RecordOffset).Goto(hit);
        }
    }

    /// <summary>
    /// At a hit (R0 the record, kept): for TCP or UDP, whether the checksum field as received equals the folded sum of
    /// the pseudo-header as received (addresses, protocol, the L4 length from the IP header): Linux leaves that in a
    /// CHECKSUM_PARTIAL frame (<c>~tcp_v4_check(len, saddr, daddr, 0)</c>) for the NIC to finish. Then the segment must
    /// lie within the first buffer and be at most <see cref="MaxFilledL4Size"/> long (else a miss: software), the
    /// partial slot is set and the frame takes the rewrite path (R4 its flags), which fills the checksum. A UDP checksum
    /// of 0 never equals a pseudo-header sum (its addresses and length are not all zero), so it stays 0.
    /// </summary>
    private static void PartialCheck(BpfAsm a)
    {
        a.Load(Size.B, Reg.R3, Reg.Fp, Key + 20)
         .Load(Size.H, Reg.R2, Reg.Fp, Key + 6).If(Reg.R2, Cond.Eq, 0xdd86, "pc6")
         .If(Reg.R3, Cond.Eq, 6, "pc4.tcp").If(Reg.R3, Cond.Ne, 17, "pc.done");
        Bound(a, Reg.R9, 28, "pc.done");
        a.Load(Size.H, Reg.R5, Reg.R9, 26).Goto("pc4");
        a.Label("pc4.tcp");
        Bound(a, Reg.R9, 38, "pc.done");
        a.Load(Size.H, Reg.R5, Reg.R9, 36)
         .Label("pc4");
        PseudoSum4(a, Reg.R2);
        Fold(a, Reg.R2);
        a.If(Reg.R5, Cond.Ne, Reg.R2, "pc.done")
         .Load(Size.H, Reg.R4, Reg.R9, 2).Be16(Reg.R4).And(Reg.R4, 0xffff)
         .If(Reg.R4, Cond.Gt, 20 + MaxFilledL4Size, "miss")
         .Goto("pc.within");

        a.Label("pc6")
         .If(Reg.R3, Cond.Eq, 6, "pc6.tcp").If(Reg.R3, Cond.Ne, 17, "pc.done");
        Bound(a, Reg.R9, 48, "pc.done");
        a.Load(Size.H, Reg.R5, Reg.R9, 46).Goto("pc6.sum");
        a.Label("pc6.tcp");
        Bound(a, Reg.R9, 58, "pc.done");
        a.Load(Size.H, Reg.R5, Reg.R9, 56)
         .Label("pc6.sum");
        PseudoSum6(a, Reg.R2);
        Fold(a, Reg.R2);
        a.If(Reg.R5, Cond.Ne, Reg.R2, "pc.done")
         .Load(Size.H, Reg.R4, Reg.R9, 4).Be16(Reg.R4).And(Reg.R4, 0xffff)
         .If(Reg.R4, Cond.Gt, MaxFilledL4Size, "miss")
         .Add(Reg.R4, 40);

        // R4: the IP datagram's length; it must end within the first buffer.
        a.Label("pc.within")
         .Mov(Reg.R3, Reg.R9).Sub(Reg.R3, Reg.R7).Add(Reg.R3, Reg.R4)
         .Mov(Reg.R2, Reg.R8).Sub(Reg.R2, Reg.R7).If(Reg.R3, Cond.Gt, Reg.R2, "miss")
         .Store(Size.DW, Reg.Fp, Partial, 1)
         .Load(Size.W, Reg.R4, Reg.R0, 0).Goto("rewrite")
         .Label("pc.done");
    }

    /// <summary><paramref name="r"/> = the IPv4 pseudo-header's sum, unfolded (R9 the header, R3 scratch): addresses, protocol, and the L4 length (total length less 20).</summary>
    private static void PseudoSum4(BpfAsm a, Reg r)
    {
        a.Load(Size.W, r, Reg.R9, 12).Load(Size.W, Reg.R3, Reg.R9, 16).Add(r, Reg.R3)
         .Load(Size.B, Reg.R3, Reg.R9, 9).Lsh(Reg.R3, 8).Add(r, Reg.R3)
         .Load(Size.H, Reg.R3, Reg.R9, 2).Be16(Reg.R3).And(Reg.R3, 0xffff).Add(Reg.R3, -20)
         .Be16(Reg.R3).And(Reg.R3, 0xffff).Add(r, Reg.R3);
    }

    /// <summary><paramref name="r"/> = the IPv6 pseudo-header's sum, unfolded (R9 the header, R3 scratch): addresses, payload length, next header.</summary>
    private static void PseudoSum6(BpfAsm a, Reg r)
    {
        a.Load(Size.W, r, Reg.R9, 8);
        for (short off = 12; off < 40; off += 4) a.Load(Size.W, Reg.R3, Reg.R9, off).Add(r, Reg.R3);
        a.Load(Size.B, Reg.R3, Reg.R9, 6).Lsh(Reg.R3, 8).Add(r, Reg.R3)
         .Load(Size.H, Reg.R3, Reg.R9, 4).Add(r, Reg.R3);
    }

    /// <summary>
    /// When the partial slot is set: the TCP or UDP checksum computed whole, over the pseudo-header and the segment as
    /// they are now, and stored (UDP: 0 becomes 0xffff); then on to the L2 rewrites. The field's current value is
    /// subtracted (its complement added) rather than zeroed, so the segment is summed as it lies: 16-byte blocks, then
    /// words, then the last one to three bytes, each load behind a data_end check, in loops bounded by the length
    /// (at most <see cref="MaxFilledL4Size"/>, which the hit checked to end within the first buffer). Each loop's
    /// pointer is computed anew from the frame's start after it, so the verifier's states after a loop are one.
    /// </summary>
    private static void FillChecksum(BpfAsm a)
    {
        a.Load(Size.DW, Reg.R1, Reg.Fp, Partial).If(Reg.R1, Cond.Eq, 0, "l2")
         .Load(Size.H, Reg.R2, Reg.Fp, Key + 6).If(Reg.R2, Cond.Eq, 0xdd86, "fill6");
        Bound(a, Reg.R9, 20, "abort");
        PseudoSum4(a, Reg.R0);
        a.Load(Size.H, Reg.R4, Reg.R9, 2).Be16(Reg.R4).And(Reg.R4, 0xffff).Add(Reg.R4, -20)
         .Mov(Reg.R3, Reg.R9).Sub(Reg.R3, Reg.R7).Add(Reg.R3, 20)
         .Load(Size.B, Reg.R2, Reg.R9, 9).Goto("fill.field");
        a.Label("fill6");
        Bound(a, Reg.R9, 40, "abort");
        PseudoSum6(a, Reg.R0);
        a.Load(Size.H, Reg.R4, Reg.R9, 4).Be16(Reg.R4).And(Reg.R4, 0xffff)
         .Mov(Reg.R3, Reg.R9).Sub(Reg.R3, Reg.R7).Add(Reg.R3, 40)
         .Load(Size.B, Reg.R2, Reg.R9, 6);
        // R2 = the field's offset in the frame: 16 into TCP's header, 6 into UDP's.
        a.Label("fill.field")
         .If(Reg.R2, Cond.Eq, 17, "fill.udp")
         .Mov(Reg.R2, Reg.R3).Add(Reg.R2, 16).Goto("fill.sum")
         .Label("fill.udp")
         .Mov(Reg.R2, Reg.R3).Add(Reg.R2, 6);

        // R0 the pseudo-header's sum; R2, R3: the field's and the segment's offsets in the frame; R4 the segment's
        // length. The frame is reached from its start again (R7 reloaded, every offset bounded), so the paths that got
        // here (IPv4 or IPv6, TCP or UDP, each rewrite) meet in one verifier state and the loops are explored once.
        a.Label("fill.sum")
         .Load(Size.W, Reg.R7, Reg.R6, 0)
         .And(Reg.R2, 0x1ff).And(Reg.R3, 0xff).And(Reg.R4, 0xfff)
         .Store(Size.DW, Reg.Fp, Partial, Reg.R2)                   // the slot now holds the field's offset
         .Mov(Reg.R1, Reg.R7).Add(Reg.R1, Reg.R2);
        a.Mov(Reg.R5, Reg.R1).Add(Reg.R5, 2).If(Reg.R5, Cond.Gt, Reg.R8, "abort")
         .Load(Size.H, Reg.R2, Reg.R1, 0).Xor(Reg.R2, 0xffff).Add(Reg.R0, Reg.R2)   // the field taken out of the sum
         .Mov(Reg.R1, Reg.R7).Add(Reg.R1, Reg.R3)
         .Mov(Reg.R5, Reg.R4).Rsh(Reg.R5, 4)
         .Label("fill.blocks")
         .If(Reg.R5, Cond.Lt, 1, "fill.words.start")
         .Mov(Reg.R2, Reg.R1).Add(Reg.R2, 16).If(Reg.R2, Cond.Gt, Reg.R8, "abort");
        for (short off = 0; off < 16; off += 4) a.Load(Size.W, Reg.R2, Reg.R1, off).Add(Reg.R0, Reg.R2);
        a.Add(Reg.R1, 16).Add(Reg.R5, -1).Goto("fill.blocks")
         .Label("fill.words.start")
         .Mov(Reg.R2, Reg.R4).And(Reg.R2, 0xff0).Add(Reg.R2, Reg.R3).Mov(Reg.R1, Reg.R7).Add(Reg.R1, Reg.R2)
         .Mov(Reg.R5, Reg.R4).Rsh(Reg.R5, 2).And(Reg.R5, 3)
         .Label("fill.words")
         .If(Reg.R5, Cond.Lt, 1, "fill.tail")
         .Mov(Reg.R2, Reg.R1).Add(Reg.R2, 4).If(Reg.R2, Cond.Gt, Reg.R8, "abort")
         .Load(Size.W, Reg.R2, Reg.R1, 0).Add(Reg.R0, Reg.R2)
         .Add(Reg.R1, 4).Add(Reg.R5, -1).Goto("fill.words")
         .Label("fill.tail")
         .Mov(Reg.R2, Reg.R4).And(Reg.R2, 0xffc).Add(Reg.R2, Reg.R3).Mov(Reg.R1, Reg.R7).Add(Reg.R1, Reg.R2)
         .Mov(Reg.R5, Reg.R4).And(Reg.R5, 3).If(Reg.R5, Cond.Lt, 2, "fill.byte")
         .Mov(Reg.R2, Reg.R1).Add(Reg.R2, 2).If(Reg.R2, Cond.Gt, Reg.R8, "abort")
         .Load(Size.H, Reg.R2, Reg.R1, 0).Add(Reg.R0, Reg.R2)
         .Add(Reg.R1, 2).Add(Reg.R5, -2)
         .Label("fill.byte")
         .If(Reg.R5, Cond.Lt, 1, "fill.fold")
         .Mov(Reg.R2, Reg.R1).Add(Reg.R2, 1).If(Reg.R2, Cond.Gt, Reg.R8, "abort")
         .Load(Size.B, Reg.R2, Reg.R1, 0).Add(Reg.R0, Reg.R2)      // the odd byte, padded with a zero byte
         .Label("fill.fold");
        Fold(a, Reg.R0);
        a.Xor(Reg.R0, 0xffff)
         .Load(Size.B, Reg.R2, Reg.Fp, Key + 20).If(Reg.R2, Cond.Ne, 17, "fill.store")
         .If(Reg.R0, Cond.Ne, 0, "fill.store").Mov(Reg.R0, 0xffff)  // UDP: 0 means no checksum
         .Label("fill.store")
         .Load(Size.DW, Reg.R2, Reg.Fp, Partial).And(Reg.R2, 0x1ff)
         .Mov(Reg.R1, Reg.R7).Add(Reg.R1, Reg.R2)
         .Mov(Reg.R5, Reg.R1).Add(Reg.R5, 2).If(Reg.R5, Cond.Gt, Reg.R8, "abort")
         .Store(Size.H, Reg.R1, 0, Reg.R0);
        Bound(a, Reg.R7, 14, "abort");                             // what the L2 rewrites need of the reloaded start
        a.Goto("l2");
    }

    /// <summary>Counts the frame (its whole length, every buffer) in the counter slot of the record in R0 (its key: the record's word at 40), then goes on at <paramref name="done"/>.</summary>
    private static void Count(BpfAsm a, int countersFd, string done)
    {
        a.Mov(Reg.R2, Reg.R0).Add(Reg.R2, 40)
         .LoadMap(Reg.R1, countersFd).Call(Bpf.BPF_FUNC_map_lookup_elem)
         .If(Reg.R0, Cond.Eq, 0, done)
         .Load(Size.DW, Reg.R1, Reg.R0, 0).Add(Reg.R1, 1).Store(Size.DW, Reg.R0, 0, Reg.R1)
         .Load(Size.DW, Reg.R1, Reg.R0, 8).Load(Size.DW, Reg.R2, Reg.Fp, FrameLength).Add(Reg.R1, Reg.R2).Store(Size.DW, Reg.R0, 8, Reg.R1)
         .Label(done);
    }

    /// <summary>if (ptr + len > data_end) goto label.</summary>
    private static void Bound(BpfAsm a, Reg ptr, int len, string label)
        => a.Mov(Reg.R1, ptr).Add(Reg.R1, len).If(Reg.R1, Cond.Gt, Reg.R8, label);

    /// <summary>When <paramref name="flag"/> is set: the IPv4 word at R9+off becomes the record's at R5+from; R0 += ~old + new.</summary>
    private static void Replace32(BpfAsm a, uint flag, short off, short from, string name)
    {
        a.Mov(Reg.R1, Reg.R4).And(Reg.R1, (int)flag).If(Reg.R1, Cond.Eq, 0, name + ".done")
         .Load(Size.W, Reg.R2, Reg.R9, off).Xor(Reg.R2, -1).And32(Reg.R2, -1).Add(Reg.R0, Reg.R2)
         .Load(Size.W, Reg.R2, Reg.R5, from).Add(Reg.R0, Reg.R2).Store(Size.W, Reg.R9, off, Reg.R2)
         .Label(name + ".done");
    }

    /// <summary>When <paramref name="flag"/> is set: the IPv6 address at R9+off becomes the record's at R5+from; R0 += ~old + new.</summary>
    private static void Replace128(BpfAsm a, uint flag, short off, short from, string name)
    {
        a.Mov(Reg.R1, Reg.R4).And(Reg.R1, (int)flag).If(Reg.R1, Cond.Eq, 0, name + ".done");
        for (short w = 0; w < 16; w += 4)
        {
            a.Load(Size.W, Reg.R2, Reg.R9, (short)(off + w)).Xor(Reg.R2, -1).And32(Reg.R2, -1).Add(Reg.R0, Reg.R2)
             .Load(Size.W, Reg.R2, Reg.R5, (short)(from + w)).Add(Reg.R0, Reg.R2).Store(Size.W, Reg.R9, (short)(off + w), Reg.R2);
        }
        a.Label(name + ".done");
    }

    /// <summary>When <paramref name="flag"/> is set: the L4 half-word at R9+off becomes the record's at R5+from; R0 += ~old + new.</summary>
    private static void Replace16(BpfAsm a, uint flag, short off, short from, string name)
    {
        a.Mov(Reg.R1, Reg.R4).And(Reg.R1, (int)flag).If(Reg.R1, Cond.Eq, 0, name + ".done");
        Bound(a, Reg.R9, off + 2, "abort");
        a.Load(Size.H, Reg.R2, Reg.R9, off).Xor(Reg.R2, 0xffff).Add(Reg.R0, Reg.R2)
         .Load(Size.H, Reg.R2, Reg.R5, from).Add(Reg.R0, Reg.R2).Store(Size.H, Reg.R9, off, Reg.R2)
         .Label(name + ".done");
    }

    /// <summary>R2 = the checksum R2 updated by the sum in R0: ~(~R2 + R0), folded to 16 bits.</summary>
    private static void L4Checksum(BpfAsm a)
    {
        a.Xor(Reg.R2, 0xffff).Add(Reg.R2, Reg.R0);
        Fold(a, Reg.R2);
        a.Xor(Reg.R2, 0xffff);
    }

    /// <summary>Folds the one's complement sum in <paramref name="r"/> (up to 64 bits) to 16 bits (R3 scratch).</summary>
    private static void Fold(BpfAsm a, Reg r)
    {
        a.Mov(Reg.R3, r).Rsh(Reg.R3, 32).And32(r, -1).Add(r, Reg.R3);
        for (int i = 0; i < 3; i++) a.Mov(Reg.R3, r).Rsh(Reg.R3, 16).And(r, 0xffff).Add(r, Reg.R3);
    }
}
