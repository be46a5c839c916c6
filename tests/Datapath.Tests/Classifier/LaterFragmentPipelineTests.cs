using System.Buffers.Binary;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.TestKit;
using static Softswitch.Datapath.Tests.Forwarding.PipelineStageTests;

namespace Softswitch.Datapath.Tests.Classifier;

/// <summary>
/// A later fragment (IPv4 offset or IPv6 fragment offset non-zero) carries no L4 header: its key says so, an
/// apply-action that sets ports or an ICMP type leaves its lookup key (and its bytes) alone, so a later table matches
/// it as it is, and it never shares a cached verdict with a whole packet whose ports are 0.
/// </summary>
public sealed class LaterFragmentPipelineTests
{
    public enum Frag { Whole, First, Later }

    private const ushort NewPort = 7777;
    private const byte NewType = 3;

    /// <summary>
    /// An IPv4 or IPv6 frame of <paramref name="proto"/> (ports, or ICMP type and code, <paramref name="a"/> and
    /// <paramref name="b"/>): whole, the first fragment (offset 0, more fragments) or a later one (offset 40 bytes, the
    /// same bytes after the IP header, which the parser then reads as payload).
    /// </summary>
    internal static byte[] Frame(bool v6, byte proto, Frag frag, ushort a = 1000, ushort b = 2000)
    {
        if (!v6)
        {
            var f = FrameBuilder.Ipv4Frame(MacA, MacB, IpA, IpB, proto, a, b, 64, null, 0, 0, -1, 1, 1);
            if (frag == Frag.Whole) return f;
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14 + 6), frag == Frag.First ? (ushort)0x2000 : (ushort)0x0005);
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14 + 10), 0);
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14 + 10), Checksum.Compute(f.AsSpan(14, 20)));
            return f;
        }
        var whole = FlowFrames.Ipv6Frame(proto, a, b);
        if (frag == Frag.Whole) return whole;
        // A fragment header (next header, reserved, offset in 8-byte units | M, identification) after the fixed header.
        const int Fixed = 14 + 40;
        var g = new byte[whole.Length + 8];
        whole.AsSpan(0, Fixed).CopyTo(g);
        whole.AsSpan(Fixed).CopyTo(g.AsSpan(Fixed + 8));
        BinaryPrimitives.WriteUInt16BigEndian(g.AsSpan(14 + 4), (ushort)(BinaryPrimitives.ReadUInt16BigEndian(whole.AsSpan(14 + 4)) + 8));
        g[14 + 6] = PacketParser.NextFragment;
        g[Fixed] = proto;
        BinaryPrimitives.WriteUInt16BigEndian(g.AsSpan(Fixed + 2), frag == Frag.First ? (ushort)1 : (ushort)(5 << 3));
        BinaryPrimitives.WriteUInt32BigEndian(g.AsSpan(Fixed + 4), 0x12345678);
        return g;
    }

    private static bool IsIcmp(byte proto) => proto is PacketParser.ProtoIcmp or PacketParser.ProtoIcmpv6;

    /// <summary>Table 0 sets tp_src (or the ICMP type) and goes to table 1: the new value outputs to 2, the rest to 3.</summary>
    private static DatapathRig SetThenMatch(bool v6, byte proto)
    {
        var r = new DatapathRig();
        bool icmp = IsIcmp(proto);
        r.Insert(0, Any, 10, [icmp ? FlowAction.SetIcmpType(NewType) : FlowAction.SetTpSrc(NewPort)], Goto(1));
        var mask = new FlowKeyBuilder().DlType(0xFFFF).NwProto(0xFF).TpSrc(0xFFFF).Key;
        var value = new FlowKeyBuilder().DlType(v6 ? PacketParser.EthTypeIpv6 : PacketParser.EthTypeIpv4).NwProto(proto)
            .TpSrc(icmp ? NewType : NewPort).Key;
        r.Insert(1, new FlowMatch(mask, value), 20, [FlowAction.Output(2)]);
        r.Insert(1, Any, 10, [FlowAction.Output(3)]);
        return r;
    }

    [Theory]
    [InlineData(false, PacketParser.ProtoTcp)]
    [InlineData(true, PacketParser.ProtoTcp)]
    [InlineData(false, PacketParser.ProtoUdp)]
    [InlineData(true, PacketParser.ProtoUdp)]
    [InlineData(false, PacketParser.ProtoIcmp)]
    [InlineData(true, PacketParser.ProtoIcmpv6)]
    public void LaterFragment_TakesTheLowerRuleUnchanged_WholeAndFirstTakeTheSetValuesRule(bool v6, byte proto)
    {
        using var r = SetThenMatch(v6, proto);
        var later = Frame(v6, proto, Frag.Later);
        r.Send(1, later);
        Assert.Empty(r.Sent(2));
        Assert.Equal(Convert.ToHexString(later), Convert.ToHexString(Assert.Single(r.Sent(3))));

        foreach (var frag in new[] { Frag.Whole, Frag.First })
        {
            r.Send(1, Frame(v6, proto, frag));
            Assert.Empty(r.Sent(3));
            var sent = Assert.Single(r.Sent(2));
            PacketParser.Parse(sent, 1, out _, out var layers);
            Assert.NotEqual(PacketLayers.Absent, layers.L4);
            if (IsIcmp(proto)) Assert.Equal(NewType, sent[layers.L4]);
            else Assert.Equal(NewPort, BinaryPrimitives.ReadUInt16BigEndian(sent.AsSpan(layers.L4)));
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void PortsZeroPacket_AndLaterFragment_DoNotShareACachedVerdict(bool v6)
    {
        // A whole IPv4 packet (an IPv6 first fragment: the same extension-header flags) has ports 0 in its key as a later
        // fragment does; only the key's later-fragment bit tells them apart.
        var zero = Frame(v6, PacketParser.ProtoTcp, v6 ? Frag.First : Frag.Whole, 0, 0);
        var later = Frame(v6, PacketParser.ProtoTcp, Frag.Later, 0, 0);
        PacketParser.Parse(zero, 1, out var zeroKey, out _);
        PacketParser.Parse(later, 1, out var laterKey, out _);
        Assert.Equal(0, zeroKey.TpSrc);
        Assert.Equal(0, zeroKey.TpDst);
        Assert.False(zeroKey.IsLaterFragment);
        Assert.True(laterKey.IsLaterFragment);
        Assert.False(zeroKey.EqualsPacketKey(laterKey));

        using var r = SetThenMatch(v6, PacketParser.ProtoTcp);
        for (int i = 0; i < 3; i++)
        {
            r.Send(1, zero);
            Assert.Single(r.Sent(2));
            Assert.Empty(r.Sent(3));
            r.Send(1, later);
            Assert.Empty(r.Sent(2));
            Assert.Single(r.Sent(3));
        }
        r.SendBurst(1, later, zero, later, zero);
        Assert.Equal(2, r.Sent(2).Count);
        Assert.Equal(2, r.Sent(3).Count);
        Assert.True(r.Fwd.Cache!.Hits > 0, "the packets reached the cache");
    }

    [Theory]
    [InlineData(false, PacketParser.ProtoTcp)]
    [InlineData(true, PacketParser.ProtoUdp)]
    [InlineData(false, PacketParser.ProtoIcmp)]
    [InlineData(true, PacketParser.ProtoIcmpv6)]
    public void LaterFragmentsKey_IsWhatTheParserReads_AfterL4Sets(bool v6, byte proto)
    {
        using var r = new DatapathRig();
        r.Insert(0, Any, 10, [FlowAction.SetTpSrc(NewPort), FlowAction.SetTpDst(NewPort), FlowAction.SetIcmpType(NewType), FlowAction.SetIcmpCode(1)], Goto(1));
        r.Insert(1, Any, 10, []);
        var walk = new PipelineWalk();

        PacketParser.Parse(Frame(v6, proto, Frag.Later), 1, out var later, out _);
        walk.Run(r.Dp.Pipeline, later);
        Assert.Equal(later, walk.FinalKey);

        PacketParser.Parse(Frame(v6, proto, Frag.First), 1, out var first, out _);
        walk.Run(r.Dp.Pipeline, first);
        Assert.Equal(IsIcmp(proto) ? NewType : NewPort, walk.FinalKey.TpSrc);
    }

    [Fact]
    public void LaterIpv6Fragment_KeepsItsBit_WhenItsFlowLabelIsSet()
    {
        using var r = new DatapathRig();
        r.Insert(0, Any, 10, [FlowAction.SetIpv6Flabel(0xABCDE), FlowAction.SetTpSrc(NewPort)], Goto(1));
        r.Insert(1, Any, 10, []);
        var walk = new PipelineWalk();
        PacketParser.Parse(Frame(true, PacketParser.ProtoTcp, Frag.Later), 1, out var later, out _);
        Assert.Equal(0x12345u, later.Ipv6Flabel);
        walk.Run(r.Dp.Pipeline, later);
        Assert.Equal(0xABCDEu, walk.FinalKey.Ipv6Flabel);
        Assert.True(walk.FinalKey.IsLaterFragment);
        Assert.Equal(0, walk.FinalKey.TpSrc);
    }

    /// <summary>
    /// ip_frag rules (the key's nw_frag byte under a mask, Open vSwitch's FLOW_NW_FRAG_ANY and FLOW_NW_FRAG_LATER): over
    /// both bits later, first and no each take their own fragments, of IPv4 and of IPv6 (its fragment header), through
    /// the cache too; a rule over one bit (yes, not_later) takes what that bit says.
    /// </summary>
    [Theory]
    [InlineData(false, PacketParser.ProtoTcp)]
    [InlineData(true, PacketParser.ProtoTcp)]
    [InlineData(false, PacketParser.ProtoUdp)]
    [InlineData(true, PacketParser.ProtoIcmpv6)]
    public void IpFragRules_EachFragmentTakesItsFlow(bool v6, byte proto)
    {
        using var r = new DatapathRig(ports: 4);
        ushort type = v6 ? PacketParser.EthTypeIpv6 : PacketParser.EthTypeIpv4;
        FlowMatch FragMatch(int value, int mask)
            => new(new FlowKeyBuilder().DlType(0xFFFF).NwFrag((byte)mask).Key, new FlowKeyBuilder().DlType(type).NwFrag((byte)value).Key);
        const int A = FlowKey.NwFragAny, L = FlowKey.NwFragLater, Both = FlowKey.NwFragMask;
        r.Insert(0, FragMatch(A | L, Both), 30, [FlowAction.Output(4)]); // later
        r.Insert(0, FragMatch(A, Both), 20, [FlowAction.Output(3)]); // first
        r.Insert(0, FragMatch(0, Both), 10, [FlowAction.Output(2)]); // no
        for (int round = 0; round < 2; round++)
        {
            foreach (var (frag, port) in new[] { (Frag.Whole, 2), (Frag.First, 3), (Frag.Later, 4) })
            {
                r.Send(1, Frame(v6, proto, frag));
                for (int p = 2; p <= 4; p++) Assert.Equal(p == port ? 1 : 0, r.Sent(p).Count);
            }
        }

        using var one = new DatapathRig(ports: 4);
        one.Insert(0, FragMatch(A, A), 20, [FlowAction.Output(3)]); // yes
        one.Insert(0, FragMatch(0, L), 10, [FlowAction.Output(2)]); // not_later
        foreach (var (frag, port) in new[] { (Frag.Whole, 2), (Frag.First, 3), (Frag.Later, 3) })
        {
            one.Send(1, Frame(v6, proto, frag));
            for (int p = 2; p <= 3; p++) Assert.Equal(p == port ? 1 : 0, one.Sent(p).Count);
        }
    }
}
