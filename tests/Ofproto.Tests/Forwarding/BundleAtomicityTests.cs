using Softswitch.Datapath;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Packets;
using Softswitch.TestKit;

namespace Softswitch.Ofproto.Tests.Forwarding;

/// <summary>
/// A bundle's commit as the forwarding threads see it: two threads forward frames through a two-table pipeline while
/// committed bundles again and again replace table 1's flows by others that forward the same frames (the deletes first
/// in each bundle, as <c>ovs-ofctl --bundle replace-flows</c> sends them). No frame ever misses (table 1's table-miss
/// flow would send it to the controller) and every frame comes out: counts, not timings.
/// </summary>
public sealed class BundleAtomicityTests
{
    private const int Hosts = 64;

    private sealed class Reports : IOfReports
    {
        public long PacketIns;
        public void PacketIn(in OfPacketIn packet) => Interlocked.Increment(ref PacketIns);
        public void FlowRemoved(in OfFlowRemoved removed) { }
        public void PortStatus(OfPortReason reason, OfPortDesc port) { }
    }

    private static MacAddress Host(int i) => new(0x0200_0000_1000UL + (ulong)i);

    private static FlowModRequest HostFlow(FlowModCommand command, int host, ushort priority, ulong cookie)
        => new(command, new OfMatch().EthDst(Host(host).Value), priority, OfInstructions.Apply(new[] { OfAction.Output(2) }),
               TableId: 1, Cookie: cookie, Rules: MatchRules.OpenFlow13);

    /// <summary>A bundle that deletes every host flow of <paramref name="oldPriority"/> and adds them at <paramref name="newPriority"/>.</summary>
    private static List<BundledRequest> Replace(ushort oldPriority, ushort newPriority)
    {
        var b = new List<BundledRequest>();
        for (int h = 0; h < Hosts; h++) b.Add(new BundledRequest(HostFlow(FlowModCommand.DeleteStrict, h, oldPriority, 0), null, []));
        for (int h = 0; h < Hosts; h++) b.Add(new BundledRequest(HostFlow(FlowModCommand.Add, h, newPriority, newPriority), null, []));
        return b;
    }

    [Fact]
    public void ForwardingThreads_NeverSeeHalfABundle_WhileBundlesReplaceTheirFlows()
    {
        using var dp = new SwitchDatapath(new DatapathOptions { Threads = 2, PacketInRate = 0 });
        var inA = new MemoryPort("a", new MacAddress(0x0200_0000_0001));
        var outPort = new MemoryPort("out", new MacAddress(0x0200_0000_0002));
        var inB = new MemoryPort("b", new MacAddress(0x0200_0000_0003));
        long forwarded = 0;
        outPort.OnSend = _ => Interlocked.Increment(ref forwarded);
        // The two inputs on the two forwarding threads.
        int a = dp.AddPort(inA, 1).Index, b = dp.AddPort(inB, 3).Index;
        Assert.NotEqual(a % 2, b % 2);
        dp.AddPort(outPort, 2);
        using var sw = new OfSwitch(dp, new OfSwitchOptions { DatapathId = 58 });
        var reports = new Reports();
        sw.Start(reports);
        sw.SetControllerConnected(true);

        // Table 0 sends everything to table 1; table 1 forwards each host's frames, and its table-miss flow sends the
        // rest to the controller: a frame that met table 1 between a delete and its add would be a packet-in.
        Assert.Equal(OfError.None, sw.FlowMod(new FlowModRequest(FlowModCommand.Add, OfMatch.Any, 0,
            new OfInstructions(ReadOnlyMemory<OfAction>.Empty, GotoTable: 1), TableId: 0, Rules: MatchRules.OpenFlow13)));
        Assert.Equal(OfError.None, sw.FlowMod(new FlowModRequest(FlowModCommand.Add, OfMatch.Any, 0,
            OfInstructions.Apply(new[] { OfAction.Output(OfPort.Controller, 0xffff) }), TableId: 1, Rules: MatchRules.OpenFlow13)));
        for (int h = 0; h < Hosts; h++) Assert.Equal(OfError.None, sw.FlowMod(HostFlow(FlowModCommand.Add, h, 10, 10)));

        // Many keys (source port and host), so that walks, not only cached verdicts, meet the commits.
        var frames = new byte[Hosts * 32][];
        for (int i = 0; i < frames.Length; i++)
            frames[i] = FrameBuilder.Udp(new MacAddress(0x0200_0000_0009), Host(i % Hosts), 0x0a000001, 0x0a000002, (ushort)(1000 + i / Hosts), 2000, 64);
        const long PerPort = 400_000;
        dp.Start();
        inA.SetGenerator(frames, PerPort);
        inB.SetGenerator(frames.Reverse().ToArray(), PerPort);

        int commits = 0;
        ushort current = 10;
        // Bundles for as long as frames are still coming (at least a few, whatever the machine's speed).
        while (commits < 4 || (Interlocked.Read(ref forwarded) < 2 * PerPort && commits < 10_000))
        {
            ushort next = current == 10 ? (ushort)20 : (ushort)10;
            Assert.Equal(OfError.None, sw.CommitBundle(Replace(current, next), null, out int failed));
            Assert.Equal(-1, failed);
            current = next;
            commits++;
        }
        // Until every frame is out, or one went to the controller (then some never will be).
        Assert.True(Wait.Until(() => Interlocked.Read(ref forwarded) >= 2 * PerPort || Interlocked.Read(ref reports.PacketIns) > 0, 120_000),
                    $"forwarded {Interlocked.Read(ref forwarded)} of {2 * PerPort}; packet-ins {Interlocked.Read(ref reports.PacketIns)}");
        Assert.Equal(2 * PerPort, Interlocked.Read(ref forwarded));
        Assert.Equal(0, Interlocked.Read(ref reports.PacketIns));
        Assert.True(commits >= 4);
        // The last bundle's flows are the ones in table 1.
        var flows = new List<FlowEntry>();
        sw.Flows.Collect(FlowMatch.All, Datapath.Ports.PortNumber.None, false, flows, false, 1);
        Assert.Equal(Hosts + 1, flows.Count);
        Assert.All(flows.Where(f => f.RequestedPriority != 0), f => Assert.Equal(current, f.RequestedPriority));
    }
}
