using System.Runtime.CompilerServices;
using Softswitch.Datapath.Flow;

namespace Softswitch.Ofproto;

/// <summary>
/// Open vSwitch's registers as the OpenFlow layer matches them: <c>reg0</c>-<c>reg15</c>, 32 bits each, seen also 64
/// bits (<c>xreg0</c>-<c>xreg7</c>: reg 2i over reg 2i+1) and 128 bits (<c>xxreg0</c>-<c>xxreg3</c>) at a time. The
/// datapath's form is <see cref="Registers"/> (<see cref="OfMatchCompiler"/> maps one onto the other). Mutable value type.
/// </summary>
public struct OfRegisters : IEquatable<OfRegisters>
{
    public const int RegCount = 16, XRegCount = 8, XXRegCount = 4;

    private RegArray _r;

    [InlineArray(RegCount)]
    private struct RegArray
    {
        private uint _e;
    }

    public readonly uint Reg(int i) => _r[i];
    public void SetReg(int i, uint v) => _r[i] = v;
    public readonly ulong XReg(int i) => (ulong)_r[2 * i] << 32 | _r[2 * i + 1];

    public void SetXReg(int i, ulong v)
    {
        _r[2 * i] = (uint)(v >> 32);
        _r[2 * i + 1] = (uint)v;
    }

    public readonly UInt128 XXReg(int i) => new(XReg(2 * i), XReg(2 * i + 1));

    public void SetXXReg(int i, UInt128 v)
    {
        SetXReg(2 * i, (ulong)(v >> 64));
        SetXReg(2 * i + 1, (ulong)v);
    }

    public readonly bool IsZero
    {
        get
        {
            uint any = 0;
            for (int i = 0; i < RegCount; i++) any |= _r[i];
            return any == 0;
        }
    }

    /// <summary>The datapath's register file with these values.</summary>
    internal readonly Registers ToDatapath()
    {
        var r = new Registers();
        for (int i = 0; i < RegCount; i++) r.SetReg(i, _r[i]);
        return r;
    }

    /// <summary>The OpenFlow layer's form of <paramref name="r"/>.</summary>
    internal static OfRegisters FromDatapath(in Registers r)
    {
        var o = new OfRegisters();
        for (int i = 0; i < RegCount; i++) o._r[i] = r.Reg(i);
        return o;
    }

    public readonly bool Equals(OfRegisters other)
    {
        uint d = 0;
        for (int i = 0; i < RegCount; i++) d |= _r[i] ^ other._r[i];
        return d == 0;
    }

    public override readonly bool Equals(object? obj) => obj is OfRegisters r && Equals(r);

    public override readonly int GetHashCode()
    {
        var h = new HashCode();
        for (int i = 0; i < RegCount; i++) h.Add(_r[i]);
        return h.ToHashCode();
    }

    public static bool operator ==(OfRegisters a, OfRegisters b) => a.Equals(b);
    public static bool operator !=(OfRegisters a, OfRegisters b) => !a.Equals(b);
}

/// <summary>
/// A field a register action reads or writes, as the OpenFlow layer names it: a register view or a packet field (Open
/// vSwitch's mf_field ids of those the switch moves). The datapath's is <see cref="PipelineField"/>
/// (<see cref="OfSubfield.ToDatapath"/>).
/// </summary>
public enum OfField : byte
{
    Reg0 = 0, Reg15 = 15,
    XReg0 = 16, XReg7 = 23,
    XXReg0 = 24, XXReg3 = 27,
    InPort = 32,
    Metadata,
    TunId,
    EthSrc,
    EthDst,
    EthType,
    Ipv4Src,
    Ipv4Dst,
    IpProto,
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
    /// <summary>Open vSwitch's vlan_tci (NXM_OF_VLAN_TCI): PCP, tag-present bit and VID.</summary>
    VlanTci,
    /// <summary>Open vSwitch's pkt_mark (NXM_NX_PKT_MARK): a 32-bit pipeline word, written as a register is.</summary>
    PktMark,
    /// <summary>Open vSwitch's nw_tos as NXM_OF_IP_TOS (8 bits: the DSCP in bits 2-7).</summary>
    IpTos,
    /// <summary>OpenFlow's vlan_vid (OXM_OF_VLAN_VID, 13 bits: the tag-present bit and the VID).</summary>
    VlanVid,
    /// <summary>Open vSwitch's ip_ecn (NXM_NX_IP_ECN, OXM_OF_IP_ECN: 2 bits).</summary>
    IpEcn,
    /// <summary>Open vSwitch's nw_ttl (NXM_NX_IP_TTL: the IPv4 TTL or IPv6 hop limit, 8 bits).</summary>
    NwTtl,
    /// <summary>Open vSwitch's ipv6_label (NXM_NX_IPV6_LABEL, OXM_OF_IPV6_FLABEL: 20 bits).</summary>
    Ipv6Label,
    /// <summary>Open vSwitch's dp_hash (NXM_NX_DP_HASH, 32 bits): read-only, a move's source only.</summary>
    DpHash,
}

/// <summary>Bits <see cref="Ofs"/>..<see cref="Ofs"/>+<see cref="Bits"/>-1 of an <see cref="OfField"/> (Open vSwitch's mf_subfield).</summary>
public readonly record struct OfSubfield(OfField Field, int Ofs, int Bits)
{
    /// <summary>Whether <paramref name="f"/> lives in the register file: a register view, or pkt_mark (a pipeline word written as a register is).</summary>
    public static bool IsRegister(OfField f) => f <= OfField.XXReg3 || f == OfField.PktMark;

    /// <summary>
    /// Whether <paramref name="f"/> is a header field of the packet the switch writes (not a register, pkt_mark, the
    /// metadata or the tunnel id): a load into it is a rewrite of the packet, which a packet-out's or a bucket's list takes.
    /// </summary>
    public static bool IsPacketField(OfField f) => IsWritable(f) && !IsRegister(f) && f is not (OfField.Metadata or OfField.TunId);

    /// <summary>Whether the switch writes <paramref name="f"/> (not in_port, eth_type, ip_proto, dp_hash).</summary>
    public static bool IsWritable(OfField f) => Map(f) is { } p && FieldRef.IsWritable(p);

    /// <summary>The field's width in bits (0: unknown).</summary>
    public static int Width(OfField f) => Map(f) is { } p ? FieldRef.Width(p) : 0;

    /// <summary>Whether the range lies within a known field (1..128 bits).</summary>
    public bool IsValid => Map(Field) is { } p && new FieldRef(p, Ofs, Bits).IsValid;

    /// <summary>Whether the range covers its whole field.</summary>
    public bool IsWhole => Ofs == 0 && Bits == Width(Field);

    /// <summary>The range's bits, right-aligned.</summary>
    public UInt128 ValueMask => Bits >= 128 ? UInt128.MaxValue : ((UInt128)1 << Bits) - 1;

    /// <summary>The datapath's range (a valid one: see <see cref="IsValid"/>).</summary>
    internal FieldRef ToDatapath() => new(Map(Field) ?? PipelineField.Reg0, Ofs, Bits);

    /// <summary>The datapath's range (a valid one), for the host's printing.</summary>
    public FieldRef ToDatapathRef() => ToDatapath();

    internal static OfSubfield FromDatapath(in FieldRef f) => new(Map(f.Field), f.Ofs, f.Bits);

    private static PipelineField? Map(OfField f) => f switch
    {
        <= OfField.Reg15 => PipelineField.Reg0 + (byte)f,
        >= OfField.XReg0 and <= OfField.XReg7 => PipelineField.XReg0 + (byte)(f - OfField.XReg0),
        >= OfField.XXReg0 and <= OfField.XXReg3 => PipelineField.XXReg0 + (byte)(f - OfField.XXReg0),
        OfField.InPort => PipelineField.InPort,
        OfField.Metadata => PipelineField.Metadata,
        OfField.TunId => PipelineField.TunId,
        OfField.EthSrc => PipelineField.EthSrc,
        OfField.EthDst => PipelineField.EthDst,
        OfField.EthType => PipelineField.EthType,
        OfField.Ipv4Src => PipelineField.Ipv4Src,
        OfField.Ipv4Dst => PipelineField.Ipv4Dst,
        OfField.IpProto => PipelineField.IpProto,
        OfField.TcpSrc => PipelineField.TcpSrc,
        OfField.TcpDst => PipelineField.TcpDst,
        OfField.UdpSrc => PipelineField.UdpSrc,
        OfField.UdpDst => PipelineField.UdpDst,
        OfField.SctpSrc => PipelineField.SctpSrc,
        OfField.SctpDst => PipelineField.SctpDst,
        OfField.Ipv6Src => PipelineField.Ipv6Src,
        OfField.Ipv6Dst => PipelineField.Ipv6Dst,
        OfField.ArpSpa => PipelineField.ArpSpa,
        OfField.ArpTpa => PipelineField.ArpTpa,
        OfField.ArpSha => PipelineField.ArpSha,
        OfField.ArpTha => PipelineField.ArpTha,
        OfField.VlanTci => PipelineField.VlanTci,
        OfField.PktMark => PipelineField.PktMark,
        OfField.IpTos => PipelineField.IpTos,
        OfField.VlanVid => PipelineField.VlanVid,
        OfField.IpEcn => PipelineField.IpEcn,
        OfField.NwTtl => PipelineField.NwTtl,
        OfField.Ipv6Label => PipelineField.Ipv6Label,
        OfField.DpHash => PipelineField.DpHash,
        _ => null,
    };

    private static OfField Map(PipelineField f) => f switch
    {
        <= PipelineField.Reg15 => OfField.Reg0 + (byte)f,
        >= PipelineField.XReg0 and <= PipelineField.XReg7 => OfField.XReg0 + (byte)(f - PipelineField.XReg0),
        >= PipelineField.XXReg0 and <= PipelineField.XXReg3 => OfField.XXReg0 + (byte)(f - PipelineField.XXReg0),
        PipelineField.InPort => OfField.InPort,
        PipelineField.Metadata => OfField.Metadata,
        PipelineField.TunId => OfField.TunId,
        PipelineField.EthSrc => OfField.EthSrc,
        PipelineField.EthDst => OfField.EthDst,
        PipelineField.EthType => OfField.EthType,
        PipelineField.Ipv4Src => OfField.Ipv4Src,
        PipelineField.Ipv4Dst => OfField.Ipv4Dst,
        PipelineField.IpProto => OfField.IpProto,
        PipelineField.TcpSrc => OfField.TcpSrc,
        PipelineField.TcpDst => OfField.TcpDst,
        PipelineField.UdpSrc => OfField.UdpSrc,
        PipelineField.UdpDst => OfField.UdpDst,
        PipelineField.SctpSrc => OfField.SctpSrc,
        PipelineField.SctpDst => OfField.SctpDst,
        PipelineField.Ipv6Src => OfField.Ipv6Src,
        PipelineField.Ipv6Dst => OfField.Ipv6Dst,
        PipelineField.ArpSpa => OfField.ArpSpa,
        PipelineField.ArpTpa => OfField.ArpTpa,
        PipelineField.ArpSha => OfField.ArpSha,
        PipelineField.VlanTci => OfField.VlanTci,
        PipelineField.IpTos => OfField.IpTos,
        PipelineField.VlanVid => OfField.VlanVid,
        PipelineField.IpEcn => OfField.IpEcn,
        PipelineField.NwTtl => OfField.NwTtl,
        PipelineField.Ipv6Label => OfField.Ipv6Label,
        PipelineField.PktMark => OfField.PktMark,
        PipelineField.DpHash => OfField.DpHash,
        _ => OfField.ArpTha,
    };
}
