using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Packets;
using Softswitch.Ofproto;
using Softswitch.TestKit;

namespace Softswitch.Datapath.Tests.Forwarding;

/// <summary>
/// A forwarder stops consulting its exact-match cache for traffic that exact rules win in a table whose hash stage
/// answers alone (<see cref="Softswitch.Datapath.Classifier.FlowTable.ExactAnswersAlone"/>), whatever the cache's hit rate, and keeps it
/// where a hit saves a search: a hash-stage rule that a wildcard rule may outrank. Either way every packet is forwarded
/// by its rule and counted on it.
/// </summary>
public sealed class EmcBypassTests
{
    private static readonly MacAddress MacA = MacAddress.Parse("02:00:00:00:00:0a"), MacB = MacAddress.Parse("02:00:00:00:00:0b");
    private static readonly uint IpA = Ipv4.Parse("10.0.0.1"), IpB = Ipv4.Parse("10.0.0.2");
    private const int Flows = 64, Burst = 32;

    private static (DatapathRig Rig, List<FlowEntry> Rules, byte[][] Frames) Rig(bool wildcardAbove)
    {
        var r = new DatapathRig(3);
        var frames = new byte[Flows][];
        var rules = new List<FlowEntry>();
        for (int i = 0; i < Flows; i++)
        {
            frames[i] = FrameBuilder.Udp(MacA, MacB, IpA, IpB, (ushort)(1000 + i), 2000);
            PacketParser.Parse(frames[i], 1, out var key, out _);
            FlowAction[] actions = i % 2 == 0 ? [FlowAction.Output(2)] : [FlowAction.SetDlDst(MacA), FlowAction.Output(3)];
            rules.Add(r.Insert(0, FlowMatch.Exact(key), 100, actions));
        }
        if (wildcardAbove)
        {
            // A wildcard rule above the exact ones that no frame matches (tp_dst 9): every exact hit must still be
            // checked against the tuple space.
            var m = FlowMatch.FromOpenFlow(OfWildcards.All & ~(OfWildcards.DlType | OfWildcards.NwProto | OfWildcards.TpDst),
                                           new FlowKeyBuilder().DlType(0x0800).NwProto(17).TpDst(9).Key);
            r.Insert(0, m, 200, []);
        }
        return (r, rules, frames);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ExactWinners_BypassTheCacheOnlyWhereTheHashStageAnswersAlone(bool wildcardAbove)
    {
        var (r, rules, frames) = Rig(wildcardAbove);
        using var _ = r;
        Assert.Equal(!wildcardAbove, r.Dp.Pipeline.LookupTable.ExactAnswersAlone);
        long packets = 0;
        var burst = new byte[Burst][];
        while (packets < EmcGovernor.WindowPackets * 3)
        {
            for (int i = 0; i < Burst; i++) burst[i] = frames[(packets + i) % Flows];
            r.SendBurst(1, burst);
            packets += Burst;
        }
        var to2 = r.Sent(2);
        var to3 = r.Sent(3);
        Assert.Equal(packets / 2, to2.Count);
        Assert.Equal(packets / 2, to3.Count);
        Assert.All(to3, f => Assert.Equal(MacA, MacAddress.Read(f)));
        Assert.All(to2, f => Assert.Equal(MacB, MacAddress.Read(f)));
        r.Dp.PollUntilIdle();
        Assert.All(rules, e => Assert.Equal(packets / Flows, e.Packets));

        var g = r.Fwd.EmcGovernor;
        Assert.True(r.Fwd.Cache!.Hits > 0, "the first window consulted the cache");
        if (wildcardAbove)
        {
            Assert.Equal(0, g.Bypasses);
            Assert.Equal(packets, g.ConsultedPackets);
        }
        else
        {
            // The first window decides: the rest went by the records.
            Assert.Equal(1, g.Bypasses);
            Assert.Equal(1, r.Fwd.EmcBypassCount);
            Assert.Equal(EmcGovernor.WindowPackets, g.ConsultedPackets);
            Assert.Equal(packets - EmcGovernor.WindowPackets, g.BypassedPackets);
        }
    }
}
