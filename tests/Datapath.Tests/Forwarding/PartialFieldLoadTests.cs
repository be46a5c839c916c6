using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;
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
}
