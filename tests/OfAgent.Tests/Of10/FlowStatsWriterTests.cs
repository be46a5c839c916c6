using System.Buffers;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Ports;
using Softswitch.OfAgent.Of10.Translate;
using Softswitch.OfWire.Of10;
using Softswitch.Ofproto;
using Softswitch.TestKit;

namespace Softswitch.OfAgent.Tests.Of10;

/// <summary>
/// Flow stats written straight from the switch's per-flow views (<see cref="ReportTranslator.AddFlowStats"/>) are byte
/// for byte the replies of the message objects (<see cref="OfpStatsReplies.Flows"/> over <see cref="ReportTranslator.FlowStats"/>),
/// split the same way, and allocate only the replies.
/// </summary>
public class FlowStatsWriterTests
{
    private static readonly FlowActions[] s_actions =
    [
        FlowActions.Drop,
        new([FlowAction.Output(2)]),
        new([FlowAction.SetDlDst(new MacAddress(0x0200_0000_0042UL)), FlowAction.SetNwDst(0x0A000001), FlowAction.Output(3, 128)]),
        new([FlowAction.SetVlanVid(7), FlowAction.SetVlanPcp(3), FlowAction.StripVlan(), FlowAction.Enqueue(1, 2), FlowAction.SetTunnel(0x1_0000_0001UL)]),
        new([FlowAction.SetNwTos(0x10), FlowAction.SetTpSrc(80), FlowAction.SetTpDst(443), FlowAction.SetNwSrc(0xC0A80001), FlowAction.SetDlSrc(new MacAddress(0x0200_0000_0001UL)), FlowAction.Output(PortNumber.Controller, 65535)]),
    ];

    /// <param name="tunnels">Whether set-tunnel actions may appear (their wire form is a Nicira vendor body, an array per action).</param>
    private static List<FlowEntry> Flows(int n, int seed, bool tunnels = true)
    {
        var rng = new Random(seed);
        var flows = new List<FlowEntry>();
        for (int i = 0; i < n; i++)
        {
            var key = new FlowKeyBuilder().InPort((ushort)(1 + i % 4)).DlType(0x0800).NwProto(6).NwSrc((uint)rng.Next()).NwDst((uint)rng.Next())
                .TpSrc((ushort)rng.Next(65536)).TpDst((ushort)rng.Next(65536)).Key;
            var match = rng.Next(3) == 0 ? FlowMatch.Exact(key)
                : FlowMatch.FromOpenFlow((OfWildcards)(uint)rng.Next() & (OfWildcards.All & ~OfWildcards.NwSrcMask & ~OfWildcards.NwDstMask), key);
            var actions = s_actions[rng.Next(s_actions.Length)];
            if (!tunnels && actions.Items.Any(a => a.Kind == ActionKind.SetTunnel)) actions = s_actions[2];
            var e = OfFlowRule.NewEntry(match, (ushort)rng.Next(65536), actions, (ulong)rng.NextInt64(),
                                        (ushort)rng.Next(100), (ushort)rng.Next(100), FlowModFlags.None, rng.Next(1_000_000_000));
            e.Hit(rng.Next(1000), rng.Next(1_000_000), 0);
            flows.Add(e);
        }
        return flows;
    }

    private static readonly OfAction[] s_scratch = new OfAction[16];

    /// <summary>The switch's view of a flow (as <see cref="OfSwitch.VisitFlows"/> hands it out).</summary>
    private static OfFlowStats View(FlowEntry e, long now)
    {
        int n = OfActionCompiler.ToOfActions(e.Actions, s_scratch);
        return new OfFlowStats(OfMatchCompiler.ToOfMatch(e.Match), 0, Math.Max(0, now - e.CreatedNanos), e.RequestedPriority, e.IdleTimeout,
                               e.HardTimeout, OfFlowRule.CookieOf(e), (ulong)e.Packets, (ulong)e.Bytes, s_scratch.AsSpan(0, n));
    }

    /// <summary>A dump as the stats handler writes it.</summary>
    private static void Dump(uint xid, List<FlowEntry> flows, long now, OfpFlowStatsReplyWriter writer, ref OfpAction[] scratch, Func<byte[], int, bool> send)
    {
        writer.Begin(xid);
        foreach (var e in flows)
            if (!ReportTranslator.AddFlowStats(xid, View(e, now), writer, ref scratch, send)) return;
        send(writer.Finish(more: false, out int last), last);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(37)]
    [InlineData(2500)] // several replies
    public void RepliesEqualThoseOfTheMessageObjects(int n)
    {
        var flows = Flows(n, seed: n + 1);
        const long now = 5_000_000_000L;
        var expected = OfpStatsReplies.Flows(0x1234, flows.Select(e => ReportTranslator.FlowStats(View(e, now)))).Select(r => r.ToArray()).ToList();
        var got = new List<byte[]>();
        var scratch = new OfpAction[1];
        Dump(0x1234, flows, now, new OfpFlowStatsReplyWriter(), ref scratch, (r, count) =>
        {
            got.Add(r.AsSpan(0, count).ToArray());
            ArrayPool<byte>.Shared.Return(r);
            return true;
        });
        Assert.Equal(expected.Count, got.Count);
        if (n == 2500) Assert.True(got.Count > 1, "the dump was not split");
        for (int i = 0; i < got.Count; i++) Assert.Equal(Convert.ToHexString(expected[i]), Convert.ToHexString(got[i]));
    }

    /// <summary>An OpenFlow 1.3 flow's goto-table shows in OpenFlow 1.0 as Nicira's resubmit to that table (in_port
    /// IN_PORT), after its actions, as Open vSwitch shows it; the writer and the message objects agree.</summary>
    [Fact]
    public void AGotoTableShowsAsANiciraResubmitToThatTable()
    {
        var e = Flows(1, seed: 5, tunnels: false)[0];
        var view = View(e, 0);
        var withGoto = new OfFlowStats(view.Match, 0, 0, view.Priority, 0, 0, 7, 0, 0, [OfAction.Output(2)])
        {
            Instructions = new OfFlowInstructions(null, false, 3, 0, 0, 0),
        };
        string expected = Convert.ToHexString(OfpStatsReplies.Flows(9, [ReportTranslator.FlowStats(withGoto)]).Single().ToArray());
        // output:2 (8 bytes), then ffff 0010 00002320 000e fff8 03 000000: resubmit(,3).
        Assert.EndsWith("0000000800020000" + "FFFF001000002320000EFFF803000000", expected);
        var writer = new OfpFlowStatsReplyWriter();
        writer.Begin(9);
        var scratch = new OfpAction[1];
        Assert.True(ReportTranslator.AddFlowStats(9, withGoto, writer, ref scratch, (_, _) => true));
        var reply = writer.Finish(more: false, out int count);
        Assert.Equal(expected, Convert.ToHexString(reply.AsSpan(0, count)));
        ArrayPool<byte>.Shared.Return(reply);
    }

    [Fact]
    public void ASendThatRefusesStopsTheDump()
    {
        var flows = Flows(2500, seed: 9);
        int sent = 0;
        var scratch = new OfpAction[16];
        Dump(1, flows, 0, new OfpFlowStatsReplyWriter(), ref scratch, (_, _) => ++sent < 1);
        Assert.Equal(1, sent);
    }

    [Fact]
    public void ADumpWithoutSetTunnelActionsAllocatesNothingOnceThePoolHasItsArrays()
    {
        var flows = Flows(2000, seed: 3, tunnels: false);
        var writer = new OfpFlowStatsReplyWriter();
        var scratch = new OfpAction[16];
        int replies = 0;
        Func<byte[], int, bool> send = (r, _) =>
        {
            replies++;
            ArrayPool<byte>.Shared.Return(r); // as the connection does once the reply is written
            return true;
        };
        Dump(1, flows, 0, writer, ref scratch, send);
        Assert.Equal(0, AllocationMeter.SteadyState(() => Dump(1, flows, 0, writer, ref scratch, send)));
        Assert.True(replies >= 6, $"{replies} replies: the dump was not split");
    }
}
