namespace Softswitch.Datapath.Flow;

/// <summary>
/// A field the pipeline's register actions read or write (<see cref="Actions.ActionKind.FieldLoad"/>,
/// <see cref="Actions.ActionKind.FieldMove"/>, <see cref="Actions.ActionKind.OutputField"/>): a register view or a
/// packet field of the key. Values are host-order integers of the field's width (<see cref="FieldRef.Width"/>).
/// </summary>
public enum PipelineField : byte
{
    Reg0 = 0, Reg15 = 15,
    XReg0 = 16, XReg7 = 23,
    XXReg0 = 24, XXReg3 = 27,
    /// <summary>Open vSwitch's pkt_mark: a pipeline word as the registers are (<see cref="Registers.PktMark"/>), 0 when a run starts.</summary>
    PktMark = 28,
    /// <summary>Open vSwitch's dp_hash (<see cref="Registers.DpHash"/>): read-only, 0 until a dp_hash select group picks a bucket.</summary>
    DpHash = 29,
    InPort = 32,
    Metadata,
    TunId,
    EthSrc,
    EthDst,
    EthType,
    Ipv4Src,
    Ipv4Dst,
    IpProto,
    /// <summary>The transport source port (TCP, UDP and SCTP name the same slot of the key; each keeps its name).</summary>
    TcpSrc,
    TcpDst,
    UdpSrc,
    UdpDst,
    SctpSrc,
    SctpDst,
    Ipv6Src,
    Ipv6Dst,
    ArpSpa,
    ArpTpa,
    ArpSha,
    ArpTha,
    /// <summary>Open vSwitch's vlan_tci: the PCP (bits 13-15), the tag-present bit (12) and the VID (0-11); 0 untagged.
    /// A write with the tag-present bit set tags the packet (or sets its tag's VID and PCP); without it, untags it.</summary>
    VlanTci,
    /// <summary>Open vSwitch's nw_tos as NXM_OF_IP_TOS names it: the DSCP in bits 2-7, the ECN bits 0.</summary>
    IpTos,
    /// <summary>OpenFlow's vlan_vid (OXM_OF_VLAN_VID): the tag-present bit (12) and the VID (0-11); written as <see cref="VlanTci"/> is, keeping the PCP.</summary>
    VlanVid,
    /// <summary>Open vSwitch's ip_ecn (NXM_NX_IP_ECN, OXM_OF_IP_ECN): the two ECN bits of the IPv4 TOS or IPv6 traffic class.</summary>
    IpEcn,
    /// <summary>Open vSwitch's nw_ttl (NXM_NX_IP_TTL): the IPv4 TTL or IPv6 hop limit. The key does not hold it: the walk
    /// reads it from the packet's words (<see cref="Registers.TtlShift"/>), as the TTL its actions before left it.</summary>
    NwTtl,
    /// <summary>Open vSwitch's ipv6_label (NXM_NX_IPV6_LABEL, OXM_OF_IPV6_FLABEL): the IPv6 flow label's 20 bits.</summary>
    Ipv6Label,
}

/// <summary>
/// Bits <see cref="Ofs"/>..<see cref="Ofs"/>+<see cref="Bits"/>-1 of a <see cref="PipelineField"/> (Open vSwitch's
/// mf_subfield), and how the pipeline walk reads and writes them.
/// </summary>
/// <remarks>
/// Registers are read and written in the walk's register file; packet fields are read from the walk's key, and a write
/// to one becomes the set-field action that rewrites the packet (the walk composes it; see
/// <see cref="Classifier.PipelineWalk"/>). Stateless; allocates nothing.
/// </remarks>
public readonly record struct FieldRef(PipelineField Field, int Ofs, int Bits)
{
    /// <summary>Whether <paramref name="f"/> names a field this type knows.</summary>
    public static bool IsKnown(PipelineField f) => f is <= PipelineField.DpHash or (>= PipelineField.InPort and <= PipelineField.Ipv6Label);

    /// <summary>Whether <paramref name="f"/> lives in the register file (a register view, pkt_mark or dp_hash).</summary>
    public static bool IsRegister(PipelineField f) => f <= PipelineField.DpHash;

    /// <summary>Whether the walk can write <paramref name="f"/> (registers, metadata, tunnel id and the rewritable header fields; not in_port, eth_type, ip_proto or dp_hash).</summary>
    public static bool IsWritable(PipelineField f) => IsKnown(f) && f is not (PipelineField.InPort or PipelineField.EthType or PipelineField.IpProto or PipelineField.DpHash);

    /// <summary>The field's width in bits (0 for an unknown field).</summary>
    public static int Width(PipelineField f) => f switch
    {
        <= PipelineField.Reg15 or PipelineField.PktMark or PipelineField.DpHash => 32,
        >= PipelineField.XReg0 and <= PipelineField.XReg7 => 64,
        >= PipelineField.XXReg0 and <= PipelineField.XXReg3 => 128,
        PipelineField.InPort or PipelineField.EthType or PipelineField.VlanTci => 16,
        >= PipelineField.TcpSrc and <= PipelineField.SctpDst => 16,
        PipelineField.Metadata or PipelineField.TunId => 64,
        PipelineField.EthSrc or PipelineField.EthDst or PipelineField.ArpSha or PipelineField.ArpTha => 48,
        PipelineField.Ipv4Src or PipelineField.Ipv4Dst or PipelineField.ArpSpa or PipelineField.ArpTpa => 32,
        PipelineField.IpProto or PipelineField.IpTos => 8,
        PipelineField.VlanVid => 13,
        PipelineField.IpEcn => 2,
        PipelineField.NwTtl => 8,
        PipelineField.Ipv6Label => 20,
        PipelineField.Ipv6Src or PipelineField.Ipv6Dst => 128,
        _ => 0,
    };

    /// <summary>Whether the range lies within a known field (1..128 bits).</summary>
    public bool IsValid => Bits > 0 && Ofs >= 0 && Ofs + Bits <= Width(Field);

    /// <summary>The range's bits, right-aligned.</summary>
    public UInt128 ValueMask => Bits >= 128 ? UInt128.MaxValue : ((UInt128)1 << Bits) - 1;

    /// <summary>The whole field's value in <paramref name="key"/> and <paramref name="regs"/>.</summary>
    public static UInt128 ReadWhole(PipelineField f, in FlowKey key, in Registers regs) => f switch
    {
        <= PipelineField.Reg15 => regs.Reg((int)f),
        >= PipelineField.XReg0 and <= PipelineField.XReg7 => regs.XReg(f - PipelineField.XReg0),
        >= PipelineField.XXReg0 and <= PipelineField.XXReg3 => regs.XXReg(f - PipelineField.XXReg0),
        PipelineField.PktMark => regs.PktMark,
        PipelineField.DpHash => regs.DpHash,
        PipelineField.InPort => key.InPort,
        PipelineField.Metadata => key.Metadata,
        PipelineField.TunId => key.TunId,
        PipelineField.EthSrc => key.DlSrc.Value,
        PipelineField.EthDst => key.DlDst.Value,
        PipelineField.EthType => key.DlType,
        PipelineField.Ipv4Src or PipelineField.ArpSpa => key.NwSrc,
        PipelineField.Ipv4Dst or PipelineField.ArpTpa => key.NwDst,
        PipelineField.IpProto => key.NwProto,
        PipelineField.TcpSrc or PipelineField.UdpSrc or PipelineField.SctpSrc => key.TpSrc,
        PipelineField.TcpDst or PipelineField.UdpDst or PipelineField.SctpDst => key.TpDst,
        PipelineField.Ipv6Src => key.Ipv6Src,
        PipelineField.Ipv6Dst => key.Ipv6Dst,
        PipelineField.ArpSha => key.ArpSha.Value,
        PipelineField.ArpTha => key.ArpTha.Value,
        PipelineField.VlanTci => (ushort)((key.VlanVid & 0x1FFF) | (key.DlVlanPcp & 7) << 13),
        PipelineField.IpTos => (byte)(key.NwTos & 0xFC),
        PipelineField.VlanVid => (ushort)(key.VlanVid & 0x1FFF),
        PipelineField.IpEcn => (byte)(key.IpEcn & 3),
        PipelineField.Ipv6Label => key.Ipv6Flabel & 0xFFFFF,
        _ => 0, // nw_ttl: not in the key (the walk reads the packet's words)
    };

    /// <summary>The range's bits in <paramref name="key"/> and <paramref name="regs"/>, right-aligned.</summary>
    public UInt128 Read(in FlowKey key, in Registers regs) => (ReadWhole(Field, key, regs) >> Ofs) & ValueMask;

    /// <summary><paramref name="whole"/> (the field's value) with the range set to <paramref name="bits"/> (right-aligned).</summary>
    public UInt128 Insert(UInt128 whole, UInt128 bits)
    {
        var m = ValueMask << Ofs;
        return (whole & ~m) | ((bits << Ofs) & m);
    }

    /// <summary>Writes register view <paramref name="f"/> whole.</summary>
    public static void WriteRegister(PipelineField f, ref Registers regs, UInt128 v)
    {
        if (f <= PipelineField.Reg15) regs.SetReg((int)f, (uint)v);
        else if (f <= PipelineField.XReg7) regs.SetXReg(f - PipelineField.XReg0, (ulong)v);
        else if (f <= PipelineField.XXReg3) regs.SetXXReg(f - PipelineField.XXReg0, v);
        else if (f == PipelineField.PktMark) regs.PktMark = (uint)v;
        else regs.DpHash = (uint)v; // a probe key's (WriteWhole): no action writes dp_hash
    }

    /// <summary>
    /// Writes field <paramref name="f"/> whole into <paramref name="b"/>'s key or <paramref name="regs"/> (the reverse of
    /// <see cref="ReadWhole"/>, read-only fields included): what a probe key for a rule's match is built with.
    /// </summary>
    public static void WriteWhole(PipelineField f, ref FlowKeyBuilder b, ref Registers regs, UInt128 v)
    {
        switch (f)
        {
            case <= PipelineField.DpHash: WriteRegister(f, ref regs, v); break;
            case PipelineField.InPort: b.InPort((ushort)v); break;
            case PipelineField.Metadata: b.Metadata((ulong)v); break;
            case PipelineField.TunId: b.TunId((ulong)v); break;
            case PipelineField.EthSrc: b.DlSrc(new MacAddress((ulong)v & 0xFFFF_FFFF_FFFFUL)); break;
            case PipelineField.EthDst: b.DlDst(new MacAddress((ulong)v & 0xFFFF_FFFF_FFFFUL)); break;
            case PipelineField.EthType: b.DlType((ushort)v); break;
            case PipelineField.Ipv4Src or PipelineField.ArpSpa: b.NwSrc((uint)v); break;
            case PipelineField.Ipv4Dst or PipelineField.ArpTpa: b.NwDst((uint)v); break;
            case PipelineField.IpProto: b.NwProto((byte)v); break;
            case PipelineField.TcpSrc or PipelineField.UdpSrc or PipelineField.SctpSrc: b.TpSrc((ushort)v); break;
            case PipelineField.TcpDst or PipelineField.UdpDst or PipelineField.SctpDst: b.TpDst((ushort)v); break;
            case PipelineField.Ipv6Src: b.Ipv6Src(v); break;
            case PipelineField.Ipv6Dst: b.Ipv6Dst(v); break;
            case PipelineField.ArpSha: b.ArpSha(new MacAddress((ulong)v & 0xFFFF_FFFF_FFFFUL)); break;
            case PipelineField.ArpTha: b.ArpTha(new MacAddress((ulong)v & 0xFFFF_FFFF_FFFFUL)); break;
            case PipelineField.VlanTci:
                b.VlanVid((ushort)((uint)v & 0x1FFF));
                b.DlVlanPcp((byte)((uint)v >> 13 & 7));
                break;
            case PipelineField.IpEcn: b.IpEcn((byte)(v & 3)); break;
            case PipelineField.Ipv6Label: b.Ipv6Flabel((uint)v & 0xFFFFF); break;
        }
    }

    /// <summary>Whether the range covers its whole field.</summary>
    public bool IsWhole => Ofs == 0 && Bits == Width(Field);

    public override string ToString()
    {
        string name = Field switch
        {
            <= PipelineField.Reg15 => $"reg{(int)Field}",
            >= PipelineField.XReg0 and <= PipelineField.XReg7 => $"xreg{Field - PipelineField.XReg0}",
            >= PipelineField.XXReg0 and <= PipelineField.XXReg3 => $"xxreg{Field - PipelineField.XXReg0}",
            PipelineField.PktMark => "pkt_mark",
            PipelineField.DpHash => "dp_hash",
            _ => Field.ToString(),
        };
        return $"{name}[{Ofs}..{Ofs + Bits - 1}]";
    }
}
