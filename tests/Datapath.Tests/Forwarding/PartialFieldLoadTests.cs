using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Groups;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Tests.Actions;
using Softswitch.TestKit;
using static Softswitch.Datapath.Tests.Forwarding.PipelineStageTests;

namespace Softswitch.Datapath.Tests.Forwarding;

/// <summary>
/// A load into part of a packet field (Open vSwitch's load:V->FIELD[a..b], set_field:V/M->FIELD): the other bits of
/// the field kept, the packet rewritten with its IPv4 and TCP/UDP checksums fixed, and later tables see the new value.
/// </summary>
public sealed class PartialFieldLoadTests
{
    public static TheoryData<string, PipelineField, int, int, ulong> Cases => new()
    {
        { "eth_dst[0..7]=0x05", PipelineField.EthDst, 0, 8, 0x05 },
        { "ip_tos[2..3]=1", PipelineField.IpTos, 2, 2, 1 },
        { "nw_src[8..15]=0x63", PipelineField.Ipv4Src, 8, 8, 0x63 },
        { "tcp_src[0]=1", PipelineField.TcpSrc, 0, 1, 1 },
        { "udp_dst[8..15]=0x12", PipelineField.UdpDst, 8, 8, 0x12 },
        { "vlan_vid[0..11]=0x123", PipelineField.VlanVid, 0, 12, 0x123 },
        { "vlan_tci[13..15]=5", PipelineField.VlanTci, 13, 3, 5 },
    };

    private static FrameSpec Before(PipelineField f) => new()
    {
        Proto = f is PipelineField.UdpDst ? (byte)17 : (byte)6,
        Tos = 0xA1, // DSCP 0x28, ECN 01
        VlanTci = f is PipelineField.VlanVid or PipelineField.VlanTci ? (ushort)0x6064 : null,
    };

    private static FrameSpec After(PipelineField f, FrameSpec s) => f switch
    {
        PipelineField.EthDst => s with { DlDst = 0x0200_0000_0005 },
        PipelineField.IpTos => s with { Tos = 0xA5 },
        PipelineField.Ipv4Src => s with { NwSrc = 0x0A00_6301 },
        PipelineField.TcpSrc => s with { TpSrc = 1235 },
        PipelineField.UdpDst => s with { TpDst = 0x1250 },
        PipelineField.VlanVid => s with { VlanTci = 0x6123 },
        _ => s with { VlanTci = 0xA064 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void APartialLoad_RewritesThoseBits_WithTheChecksums(string what, PipelineField field, int ofs, int bits, ulong value)
    {
        using var r = new DatapathRig(3);
        r.Insert(0, Any, 10, [FlowAction.FieldLoad(new FieldRef(field, ofs, bits), value), FlowAction.Output(2)]);
        var before = Before(field);
        for (int i = 0; i < 2; i++) // the second round takes the cached verdict
        {
            r.Send(1, Frames.Build(before));
            Assert.True(Frames.Build(After(field, before)).AsSpan().SequenceEqual(Assert.Single(r.Sent(2))), what);
        }
        // Later tables see the new value.
        PacketParser.Parse(Frames.Build(before), 1, out var key, out _);
        PacketParser.Parse(Frames.Build(After(field, before)), 1, out var expected, out _);
        var walk = new PipelineWalk();
        walk.Run(r.Dp.Pipeline, key);
        Assert.Equal(FieldRef.ReadWhole(field, expected, default), FieldRef.ReadWhole(field, walk.FinalKey, default));
    }

    // The fields a load writes part of whose value is not the key's alone or whose rewrite fixes other checksums: the
    // IPv4 TTL and IPv6 hop limit (in the packet's words, not the key), the ECN bits, part of an IPv6 address (the
    // TCP/UDP checksum over the pseudo-header), the IPv6 flow label. Frames: ActionOfp13Tests', checksums by RefFrame.

    public static TheoryData<string, int, PipelineField, int, int, ulong, int, string> Rewrites => new()
    {
        { "nw_ttl[0..3]=5 (IPv4)", 0, PipelineField.NwTtl, 0, 4, 5, 22, "45" },
        { "nw_ttl[4..7]=0xf (IPv6 hop limit)", 3, PipelineField.NwTtl, 4, 4, 0xf, 21, "f0" },
        { "ip_ecn[0]=1 (IPv4)", 1, PipelineField.IpEcn, 0, 1, 1, 15, "01" },
        { "ip_ecn[1]=1 (IPv6)", 2, PipelineField.IpEcn, 1, 1, 1, 15, "20" },
        { "ipv6_src[0..15]=0x1234 (TCP)", 2, PipelineField.Ipv6Src, 0, 16, 0x1234, 36, "1234" },
        { "ipv6_dst[112..127]=0x2002 (UDP)", 3, PipelineField.Ipv6Dst, 112, 16, 0x2002, 38, "2002" },
        { "ipv6_label[0..7]=0xab", 2, PipelineField.Ipv6Label, 0, 8, 0xab, 17, "ab" },
    };

    private static byte[] Input(int i) => i switch
    {
        0 => ActionOfp13Tests.Ipv4Tcp,
        1 => ActionOfp13Tests.Ipv4Udp,
        2 => ActionOfp13Tests.Ipv6Tcp,
        _ => ActionOfp13Tests.Ipv6Udp,
    };

    private static byte[] Patched(byte[] input, int at, string hex)
    {
        var f = (byte[])input.Clone();
        Convert.FromHexString(hex).CopyTo(f, at);
        RefFrame.FixChecksums(f);
        return f;
    }

    [Theory]
    [MemberData(nameof(Rewrites))]
    public void APartialLoadOfTtlEcnIpv6_RewritesThoseBits_WithTheChecksums(string what, int frame, PipelineField field, int ofs, int bits, ulong value,
                                                                         int at, string hex)
    {
        using var r = new DatapathRig(3);
        r.Insert(0, Any, 10, [FlowAction.FieldLoad(new FieldRef(field, ofs, bits), value), FlowAction.Output(2)]);
        var expected = Patched(Input(frame), at, hex);
        for (int i = 0; i < 2; i++) // the second round takes the cached verdict
        {
            r.Send(1, Input(frame));
            var sent = Assert.Single(r.Sent(2));
            Assert.True(expected.AsSpan().SequenceEqual(sent), $"{what}: {Convert.ToHexString(sent)}");
            RefFrame.AssertValid(sent);
        }
    }

    [Fact]
    public void APartialTtlLoad_ServesEachTtlItsOwnRewrite_NotTheCachedOnesOfAnother()
    {
        using var r = new DatapathRig(3);
        r.Insert(0, Any, 10, [FlowAction.FieldLoad(new FieldRef(PipelineField.NwTtl, 0, 4), 5), FlowAction.Output(2)]);
        var ttl80 = Patched(ActionOfp13Tests.Ipv4Tcp, 22, "80");
        foreach (var (input, ttl) in new[] { (ActionOfp13Tests.Ipv4Tcp, "45"), (ttl80, "85"), (ActionOfp13Tests.Ipv4Tcp, "45"), (ttl80, "85") })
        {
            r.Send(1, input);
            Assert.True(Patched(input, 22, ttl).AsSpan().SequenceEqual(Assert.Single(r.Sent(2))), ttl);
        }
    }

    [Fact]
    public void LoadsOfTwoRunsOfOneField_RewriteBoth_KeepingTheBitsBetween()
    {
        // set_field:0x0b0a/0x0f0f->tcp_src as the switch takes it: a load of each run of the mask.
        using var r = new DatapathRig(3);
        r.Insert(0, Any, 10, [FlowAction.FieldLoad(new FieldRef(PipelineField.TcpSrc, 0, 4), 0xA), FlowAction.FieldLoad(new FieldRef(PipelineField.TcpSrc, 8, 4), 0xB),
                              FlowAction.Output(2)]);
        r.Send(1, ActionOfp13Tests.Ipv4Tcp); // tcp_src 0x04d2
        Assert.True(Patched(ActionOfp13Tests.Ipv4Tcp, 34, "0bda").AsSpan().SequenceEqual(Assert.Single(r.Sent(2))));
    }

    [Fact]
    public void APacketOutsPartialLoad_ForwardsTheRewrittenFrame()
    {
        using var r = new DatapathRig(3);
        r.Dp.PacketOut(ActionOfp13Tests.Ipv6Tcp, 3, new FlowActions([FlowAction.FieldLoad(new FieldRef(PipelineField.Ipv6Src, 0, 16), 0x1234), FlowAction.Output(2)]));
        Assert.True(Patched(ActionOfp13Tests.Ipv6Tcp, 36, "1234").AsSpan().SequenceEqual(Assert.Single(r.Sent(2))));
    }

    [Theory]
    [InlineData(GroupType.All)]
    [InlineData(GroupType.Indirect)]
    [InlineData(GroupType.Select)]
    public void AGroupBucketsPartialLoad_ForwardsTheRewrittenFrame_TheOtherBucketTheFrameAsItCame(GroupType type)
    {
        using var r = new DatapathRig(3);
        var buckets = new List<GroupBucket> { new(new FlowActions([FlowAction.FieldLoad(new FieldRef(PipelineField.NwTtl, 0, 4), 5), FlowAction.Output(2)]), weight: (ushort)(type == GroupType.Select ? 1 : 0)) };
        if (type == GroupType.All) buckets.Add(new GroupBucket(new FlowActions([FlowAction.Output(3)])));
        r.Dp.Groups.Set(new Group(1, type, [.. buckets], 0));
        r.Dp.Pipeline.EnableStages(); // as Ofproto does for a group whose buckets load
        r.Insert(0, Any, 10, [FlowAction.Group(1)]);
        for (int i = 0; i < 2; i++)
        {
            r.Send(1, ActionOfp13Tests.Ipv4Tcp);
            Assert.True(Patched(ActionOfp13Tests.Ipv4Tcp, 22, "45").AsSpan().SequenceEqual(Assert.Single(r.Sent(2))));
            if (type == GroupType.All) Assert.True(ActionOfp13Tests.Ipv4Tcp.AsSpan().SequenceEqual(Assert.Single(r.Sent(3))));
        }
    }
}
