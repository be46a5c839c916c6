using System.Buffers.Binary;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.Ofproto;
using Softswitch.TestKit;
using static Softswitch.TestKit.FlowFrames;

namespace Softswitch.Datapath.Tests;

/// <summary>
/// IPv4 fragments and runts on the way in: the fragments of one datagram take one flow, the drop fragment mode drops
/// them, and a runt is counted.
/// </summary>
public sealed class FragmentTests
{
    [Fact]
    public void FragmentsOfOneDatagramTakeTheSameFlow()
    {
        using var r = new FlowTablesRig();
        var first = Udp(H1, H2, "10.0.0.1", "10.0.0.2", 1000, 2000);
        first[14 + 6] = 0x20; // MF, offset 0
        first[14 + 10] = 0; first[14 + 11] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(first.AsSpan(14 + 10), Checksum.Compute(first.AsSpan(14, 20)));
        var later = (byte[])first.Clone();
        later[14 + 6] = 0x00; later[14 + 7] = 0x05; // offset 40 bytes, last fragment
        later[14 + 10] = 0; later[14 + 11] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(later.AsSpan(14 + 10), Checksum.Compute(later.AsSpan(14, 20)));
        // An exact flow for fragments: tp_src = tp_dst = 0.
        PacketParser.Parse(first, 1, out var key, out _);
        Assert.Equal(0, key.TpSrc);
        Assert.Equal(0, key.TpDst);
        r.Add(FlowMatch.FromOpenFlow(OfWildcards.TunIdExt, key), 1, FlowAction.Output(2));
        r.Send(1, first);
        r.Send(1, later);
        Assert.Equal(2, r.Sent(2).Count);
        Assert.Empty(r.Upcalls());
    }

    [Fact]
    public void FragmentDropModeDropsFragments()
    {
        using var r = new FlowTablesRig();
        var f = Udp(H1, H2, "10.0.0.1", "10.0.0.2");
        // Set MF on the frame and fix the IPv4 header checksum.
        f[14 + 6] = 0x20;
        f[14 + 10] = 0; f[14 + 11] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14 + 10), Checksum.Compute(f.AsSpan(14, 20)));
        r.Dp.MissBehavior = MissBehavior.Normal;
        r.Dp.FragmentMode = FragmentMode.Drop;
        r.Send(1, f);
        Assert.Equal(1, r.Dp.DropCount(DropReason.Fragment));
        Assert.Empty(r.Sent(2));
    }

    [Fact]
    public void RuntIsCountedAndDoesNotCrash()
    {
        using var r = new FlowTablesRig();
        r.Dp.MissBehavior = MissBehavior.Drop;
        r.Send(1, new byte[5]);
        Assert.Equal(1, r.Dp.ParseErrorCount(ParseError.Runt));
    }
}
