using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;

namespace Softswitch.Ofproto;

/// <summary>What a learn spec makes in the learned flow (Open vSwitch's NX_LEARN_DST_*).</summary>
public enum OfLearnDst : byte
{
    /// <summary>A match on <see cref="OfLearnSpec.Dst"/>'s bits.</summary>
    Match,
    /// <summary>A load of the value into <see cref="OfLearnSpec.Dst"/>'s bits.</summary>
    Load,
    /// <summary>An output to the port the value names.</summary>
    Output,
}

/// <summary>
/// One learn spec (Open vSwitch's ofpact_learn_spec): <see cref="Bits"/> bits of <see cref="Src"/> read when the learn
/// runs (or the constant <see cref="Value"/> when <see cref="Immediate"/>) made a match on <see cref="Dst"/>, a load
/// into it, or an output.
/// </summary>
public readonly record struct OfLearnSpec(OfLearnDst Kind, bool Immediate, OfSubfield Src, UInt128 Value, OfSubfield Dst, int Bits);

/// <summary>
/// Open vSwitch's learn action (lib/learn.c), version-independent: the flow-mod it makes (table, timeouts, priority,
/// cookie, flags) and the specs that build the learned flow's match and actions. Registered once per distinct learn in
/// <see cref="LearnTemplates"/> (<see cref="Id"/>), which is how an <see cref="OfAction"/> and the datapath name it.
/// Immutable; equal by value.
/// </summary>
/// <remarks>
/// <para>Fields a learned match may set (<see cref="CanMatch"/>): the registers, in_port (whole), metadata, tun_id, the
/// Ethernet addresses and type, vlan_tci (its PCP, present bit and VID), the IPv4, IPv6 and ARP addresses, ip_proto
/// and the transport ports. A load goes into any field the switch writes; an output's value is a 16-bit port (Open
/// vSwitch's u16_to_ofp: a port number, or in_port, flood, all, local), any other value outputs nothing.</para>
/// <para>fin_idle_timeout and fin_hard_timeout other than 0 are the learned flow's first action, a fin_timeout (as Open
/// vSwitch's learn_execute puts it).</para>
/// <para>LEARN2's <see cref="Limit"/> (Open vSwitch's ofproto_flow_mod_learn): a learn whose flow is not in
/// <see cref="Table"/> already (the same match, priority, actions, cookie and timeouts: a refresh) learns nothing while
/// the table holds <see cref="Limit"/> flows of the learn's <see cref="Cookie"/> or more, whoever added them.
/// <see cref="ResultDst"/> (NX_LEARN_F_WRITE_RESULT), one bit: 1 when the learn learned or refreshed its flow, 0 when the
/// limit stopped it, written before the actions after the learn run.</para>
/// </remarks>
public sealed class OfLearn : ILearnTemplate, IEquatable<OfLearn>
{
    private readonly FieldRef[] _sources;
    private readonly LearnMatchSpec[] _matches;

    public OfLearn(byte table, ushort idleTimeout, ushort hardTimeout, ushort priority, ulong cookie, bool sendFlowRemoved,
                   bool deleteLearned, ushort finIdleTimeout, ushort finHardTimeout, OfLearnSpec[] specs, bool learn2 = false,
                   uint limit = 0, OfSubfield? resultDst = null)
    {
        Table = table;
        IdleTimeout = idleTimeout;
        HardTimeout = hardTimeout;
        Priority = priority;
        Cookie = cookie;
        SendFlowRemoved = sendFlowRemoved;
        DeleteLearned = deleteLearned;
        FinIdleTimeout = finIdleTimeout;
        FinHardTimeout = finHardTimeout;
        Specs = specs;
        Learn2 = learn2 || limit != 0 || resultDst is not null;
        Limit = limit;
        ResultDst = resultDst;
        var sources = new List<FieldRef>();
        var matches = new List<LearnMatchSpec>();
        foreach (var s in specs)
        {
            int source = -1;
            if (!s.Immediate && s.Src.IsValid)
            {
                source = sources.Count;
                sources.Add(s.Src.ToDatapath());
            }
            if (s.Kind == OfLearnDst.Match && s.Dst.IsValid) matches.Add(new LearnMatchSpec(s.Dst.ToDatapath(), source, s.Immediate ? s.Value : 0));
        }
        _sources = [.. sources];
        _matches = [.. matches];
    }

    public byte Table { get; }
    public ushort IdleTimeout { get; }
    public ushort HardTimeout { get; }
    public ushort Priority { get; }
    public ulong Cookie { get; }
    public bool SendFlowRemoved { get; }
    public bool DeleteLearned { get; }
    public ushort FinIdleTimeout { get; }
    public ushort FinHardTimeout { get; }
    /// <summary>It came as NXAST_LEARN2 (written back so; a limit or a result_dst is one).</summary>
    public bool Learn2 { get; }
    /// <summary>LEARN2's limit: at most this many flows of <see cref="Cookie"/> in <see cref="Table"/> (0: none).</summary>
    public uint Limit { get; }
    /// <summary>LEARN2's result_dst, one bit (null: none).</summary>
    public OfSubfield? ResultDst { get; }

    ulong ILearnTemplate.Tag => Cookie;
    FieldRef? ILearnTemplate.ResultDst => ResultDst?.ToDatapath();
    public ReadOnlySpan<LearnMatchSpec> Matches => _matches;
    public OfLearnSpec[] Specs { get; }

    public ReadOnlySpan<FieldRef> Sources => _sources;

    /// <summary>The id <see cref="LearnTemplates"/> gave this learn (-1: the registry is full).</summary>
    public int Id => LearnTemplates.Register(this);

    /// <summary>
    /// Checks the specs as Open vSwitch's learn_check does: every range within its field, a source as wide as its
    /// destination, a match on a field a flow can match (<see cref="CanMatch"/>), a load into a field the switch writes,
    /// an output of at most 16 bits. Returns the error (<see cref="OfError.None"/>: fine).
    /// </summary>
    public OfError Check()
    {
        if (Sources.Length > LearnTemplates.MaxSources) return OfError.BadArgument;
        if (ResultDst is { } r && (!r.IsValid || r.Bits != 1 || !OfSubfield.IsWritable(r.Field))) return OfError.BadArgument;
        foreach (var s in Specs)
        {
            if (s.Bits <= 0 || s.Bits > 128) return OfError.BadArgument;
            if (!s.Immediate && (!s.Src.IsValid || s.Src.Bits != s.Bits)) return OfError.BadArgument;
            if (s.Immediate && s.Bits < 128 && (s.Value >> s.Bits) != 0) return OfError.BadArgument;
            switch (s.Kind)
            {
                case OfLearnDst.Match:
                    if (!s.Dst.IsValid || s.Dst.Bits != s.Bits || !CanMatch(s.Dst)) return OfError.BadArgument;
                    break;
                case OfLearnDst.Load:
                    if (!s.Dst.IsValid || s.Dst.Bits != s.Bits || !OfSubfield.IsWritable(s.Dst.Field)) return OfError.BadArgument;
                    break;
                default:
                    if (s.Bits > 16 && !s.Immediate) return OfError.BadArgument;
                    break;
            }
        }
        return OfError.None;
    }

    /// <summary>Whether a learned flow may match <paramref name="f"/>'s bits (in_port only whole).</summary>
    public static bool CanMatch(OfSubfield f) => f.Field switch
    {
        OfField.InPort => f.IsWhole,
        OfField.Metadata or OfField.TunId or OfField.EthSrc or OfField.EthDst or OfField.Ipv4Src or OfField.Ipv4Dst or OfField.TcpSrc
            or OfField.TcpDst or OfField.UdpSrc or OfField.UdpDst or OfField.SctpSrc or OfField.SctpDst or OfField.Ipv6Src
            or OfField.Ipv6Dst or OfField.ArpSpa or OfField.ArpTpa or OfField.ArpSha or OfField.ArpTha or OfField.VlanTci => true,
        OfField.EthType or OfField.IpProto => f.IsWhole,
        _ => OfSubfield.IsRegister(f.Field),
    };

    /// <summary>
    /// The learned flow for <paramref name="values"/> (one per field source, in order, as the datapath read them): its
    /// match and its actions (loads, outputs). False when the values are not this learn's (a count that differs).
    /// </summary>
    public bool TryBuild(ReadOnlySpan<UInt128> values, out OfMatch match, out OfAction[] actions)
    {
        match = OfMatch.Any;
        var list = new List<OfAction>();
        // Open vSwitch's learn_execute: the learn's fin timeouts are the learned flow's first action.
        if ((FinIdleTimeout | FinHardTimeout) != 0) list.Add(OfAction.FinTimeout(FinIdleTimeout, FinHardTimeout));
        int k = 0;
        foreach (var s in Specs)
        {
            UInt128 v;
            if (s.Immediate)
            {
                v = s.Value;
            }
            else
            {
                if (k >= values.Length) break;
                v = values[k++];
            }
            switch (s.Kind)
            {
                case OfLearnDst.Match:
                    SetMatch(ref match, s.Dst, v);
                    break;
                case OfLearnDst.Load:
                    list.Add(OfAction.FieldLoad(s.Dst, v & s.Dst.ValueMask, OfAction.LoadFormRegLoad));
                    break;
                default:
                    if (OutputPort(v) is { } port) list.Add(OfAction.Output(port));
                    break;
            }
        }
        actions = [.. list];
        return k == values.Length && k == _sources.Length;
    }

    /// <summary>The OpenFlow port a learned output's value names (Open vSwitch's u16_to_ofp and the ports learn allows), else null.</summary>
    private static uint? OutputPort(UInt128 v)
    {
        if (v > 0xffff) return null;
        uint p = (uint)v;
        return p switch
        {
            0 => null,
            < 0xff00 => p,
            0xfff8 => OfPort.InPort,
            0xfffb => OfPort.Flood,
            0xfffc => OfPort.All,
            0xfffe => OfPort.Local,
            _ => null,
        };
    }

    /// <summary>Sets <paramref name="dst"/>'s bits of <paramref name="m"/> to <paramref name="v"/> (right-aligned), matched exactly.</summary>
    private static void SetMatch(ref OfMatch m, OfSubfield dst, UInt128 v)
    {
        var (value, mask) = Get(m, dst.Field);
        var bits = dst.ValueMask << dst.Ofs;
        value = (value & ~bits) | ((v << dst.Ofs) & bits);
        Set(ref m, dst.Field, value, mask | bits);
    }

    private static (UInt128 Value, UInt128 Mask) Get(in OfMatch m, OfField f)
    {
        ref readonly var v = ref m.Value;
        ref readonly var q = ref m.Mask;
        return f switch
        {
            <= OfField.Reg15 => (v.Regs.Reg(f - OfField.Reg0), q.Regs.Reg(f - OfField.Reg0)),
            >= OfField.XReg0 and <= OfField.XReg7 => (v.Regs.XReg(f - OfField.XReg0), q.Regs.XReg(f - OfField.XReg0)),
            >= OfField.XXReg0 and <= OfField.XXReg3 => (v.Regs.XXReg(f - OfField.XXReg0), q.Regs.XXReg(f - OfField.XXReg0)),
            OfField.InPort => (v.InPort, q.InPort == 0 ? UInt128.Zero : 0xffff),
            OfField.Metadata => (v.Metadata, q.Metadata),
            OfField.TunId => (v.TunnelId, q.TunnelId),
            OfField.EthSrc => (v.EthSrc, q.EthSrc),
            OfField.EthDst => (v.EthDst, q.EthDst),
            OfField.EthType => (v.EthType, q.EthType),
            OfField.VlanTci => ((uint)(v.VlanVid | v.VlanPcp << 13), (uint)(q.VlanVid | (q.VlanPcp & 7) << 13)),
            OfField.Ipv4Src or OfField.ArpSpa => (v.NwSrc, q.NwSrc),
            OfField.Ipv4Dst or OfField.ArpTpa => (v.NwDst, q.NwDst),
            OfField.IpProto => (v.NwProto, q.NwProto),
            OfField.TcpSrc or OfField.UdpSrc or OfField.SctpSrc => (v.TpSrc, q.TpSrc),
            OfField.TcpDst or OfField.UdpDst or OfField.SctpDst => (v.TpDst, q.TpDst),
            OfField.Ipv6Src => (v.Ipv6Src, q.Ipv6Src),
            OfField.Ipv6Dst => (v.Ipv6Dst, q.Ipv6Dst),
            OfField.ArpSha => (v.ArpSha, q.ArpSha),
            OfField.ArpTha => (v.ArpTha, q.ArpTha),
            _ => (0, 0),
        };
    }

    private static void Set(ref OfMatch m, OfField f, UInt128 value, UInt128 mask)
    {
        switch (f)
        {
            case <= OfField.Reg15: m.Reg(f - OfField.Reg0, (uint)value, (uint)mask); break;
            case >= OfField.XReg0 and <= OfField.XReg7: m.XReg(f - OfField.XReg0, (ulong)value, (ulong)mask); break;
            case >= OfField.XXReg0 and <= OfField.XXReg3: m.XXReg(f - OfField.XXReg0, value, mask); break;
            case OfField.InPort: m.InPort(ToOfPort((uint)value)); break;
            case OfField.Metadata: m.Metadata((ulong)value, (ulong)mask); break;
            case OfField.TunId: m.TunnelId((ulong)value, (ulong)mask); break;
            case OfField.EthSrc: m.EthSrc((ulong)value, (ulong)mask); break;
            case OfField.EthDst: m.EthDst((ulong)value, (ulong)mask); break;
            case OfField.EthType: m.EthType((ushort)value); break;
            case OfField.VlanTci:
                m.VlanVid((ushort)((uint)value & 0x1fff), (ushort)((uint)mask & 0x1fff));
                if (((uint)mask >> 13 & 7) != 0)
                {
                    m.Value.VlanPcp = (byte)((uint)value >> 13 & (uint)mask >> 13 & 7);
                    m.Mask.VlanPcp = (byte)((uint)mask >> 13 & 7);
                }
                break;
            case OfField.Ipv4Src or OfField.ArpSpa: m.NwSrc((uint)value, (uint)mask); break;
            case OfField.Ipv4Dst or OfField.ArpTpa: m.NwDst((uint)value, (uint)mask); break;
            case OfField.IpProto: m.NwProto((byte)value); break;
            case OfField.TcpSrc or OfField.UdpSrc or OfField.SctpSrc: m.TpSrc((ushort)value, (ushort)mask); break;
            case OfField.TcpDst or OfField.UdpDst or OfField.SctpDst: m.TpDst((ushort)value, (ushort)mask); break;
            case OfField.Ipv6Src: m.Ipv6Src(value, mask); break;
            case OfField.Ipv6Dst: m.Ipv6Dst(value, mask); break;
            case OfField.ArpSha: m.ArpSha((ulong)value, (ulong)mask); break;
            case OfField.ArpTha: m.ArpTha((ulong)value, (ulong)mask); break;
        }
    }

    /// <summary>A 16-bit in_port value (the key's, a datapath port number) as an <see cref="OfPort"/> number.</summary>
    private static uint ToOfPort(uint v) => OfPort.FromDatapath((ushort)v);

    public bool Equals(OfLearn? o)
        => o is not null && Table == o.Table && IdleTimeout == o.IdleTimeout && HardTimeout == o.HardTimeout && Priority == o.Priority
           && Cookie == o.Cookie && SendFlowRemoved == o.SendFlowRemoved && DeleteLearned == o.DeleteLearned
           && FinIdleTimeout == o.FinIdleTimeout && FinHardTimeout == o.FinHardTimeout && Learn2 == o.Learn2
           && Limit == o.Limit && ResultDst == o.ResultDst
           && Specs.AsSpan().SequenceEqual(o.Specs);

    public override bool Equals(object? obj) => obj is OfLearn l && Equals(l);

    public override int GetHashCode()
    {
        var h = new HashCode();
        h.Add(Table);
        h.Add(Priority);
        h.Add(Cookie);
        foreach (var s in Specs) h.Add(s);
        return h.ToHashCode();
    }
}
