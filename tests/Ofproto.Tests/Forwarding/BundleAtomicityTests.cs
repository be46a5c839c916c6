using Softswitch.Datapath;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Packets;
using Softswitch.TestKit;

namespace Softswitch.Ofproto.Tests.Forwarding;

/// <summary>
/// A bundle's commit as the forwarding threads see it: two threads forward frames while committed bundles again and
/// again change the flows that forward them, into others that forward the same frames. No frame ever meets a state the
/// bundle's commit did not leave or find (a table-miss flow, or a catch-all of the new set, would send it to the
/// controller) and every frame comes out: counts, not timings. The first test's packets mostly have cached verdicts;
/// the walk-only ones run without an exact-match cache, so every packet walks the tables and meets the commits as they
/// are written (docs/datapath.md, "Atomic batches": a walk reads the tables version once and sees a batch whole or not
/// at all).
/// </summary>
public sealed class BundleAtomicityTests
{
    private const int Hosts = 64;
    private const ushort InA = 1, Out = 2, InB = 3;

    private sealed class Reports : IOfReports
    {
        public long PacketIns;
        public void PacketIn(in OfPacketIn packet) => Interlocked.Increment(ref PacketIns);
        public void FlowRemoved(in OfFlowRemoved removed) { }
        public void PortStatus(OfPortReason reason, OfPortDesc port) { }
    }

    private static MacAddress Host(int i) => new(0x0200_0000_1000UL + (ulong)i);

    private static OfInstructions ToOut => OfInstructions.Apply(new[] { OfAction.Output(Out) });
    private static OfInstructions ToController => OfInstructions.Apply(new[] { OfAction.Output(OfPort.Controller, 0xffff) });

    private static FlowModRequest Flow(FlowModCommand command, byte table, OfMatch match, ushort priority, OfInstructions ins, ulong cookie = 0)
        => new(command, match, priority, ins, TableId: table, Cookie: cookie, Rules: MatchRules.OpenFlow13);

    private static FlowModRequest HostFlow(FlowModCommand command, int host, ushort priority, ulong cookie, byte table = 1)
        => Flow(command, table, new OfMatch().EthDst(Host(host).Value), priority, ToOut, cookie);

    private static BundledRequest Bundled(FlowModRequest r) => new(r, null, []);

    /// <summary>A bundle that deletes every host flow of <paramref name="oldPriority"/> and adds them at <paramref name="newPriority"/>.</summary>
    private static List<BundledRequest> Replace(ushort oldPriority, ushort newPriority)
    {
        var b = new List<BundledRequest>();
        for (int h = 0; h < Hosts; h++) b.Add(Bundled(HostFlow(FlowModCommand.DeleteStrict, h, oldPriority, 0)));
        for (int h = 0; h < Hosts; h++) b.Add(Bundled(HostFlow(FlowModCommand.Add, h, newPriority, newPriority)));
        return b;
    }

    /// <summary>
    /// A switch with two inputs on the two forwarding threads and one output that counts, its controller connected, and
    /// frames to every host from many source ports (so that walks, not only cached verdicts, meet the commits).
    /// </summary>
    private sealed class Rig : IDisposable
    {
        public readonly SwitchDatapath Dp;
        public readonly OfSwitch Sw;
        public readonly Reports Reports = new();
        private readonly MemoryPort _a, _b;
        private long _forwarded;

        public Rig(int emcEntries)
        {
            Dp = new SwitchDatapath(new DatapathOptions { Threads = 2, PacketInRate = 0, EmcEntries = emcEntries });
            _a = new MemoryPort("a", new MacAddress(0x0200_0000_0001));
            var outPort = new MemoryPort("out", new MacAddress(0x0200_0000_0002));
            _b = new MemoryPort("b", new MacAddress(0x0200_0000_0003));
            outPort.OnSend = _ => Interlocked.Increment(ref _forwarded);
            int a = Dp.AddPort(_a, InA).Index, b = Dp.AddPort(_b, InB).Index;
            Assert.NotEqual(a % 2, b % 2);
            Dp.AddPort(outPort, Out);
            Sw = new OfSwitch(Dp, new OfSwitchOptions { DatapathId = 58 });
            Sw.Start(Reports);
            Sw.SetControllerConnected(true);
        }

        public long Forwarded => Interlocked.Read(ref _forwarded);
        public long PacketIns => Interlocked.Read(ref Reports.PacketIns);

        public void Add(FlowModRequest r) => Assert.Equal(OfError.None, Sw.FlowMod(r));

        public void Commit(List<BundledRequest> bundle)
        {
            Assert.Equal(OfError.None, Sw.CommitBundle(bundle, null, out int failed));
            Assert.Equal(-1, failed);
        }

        /// <summary>
        /// Sends <paramref name="perPort"/> frames into each input while <paramref name="commit"/> commits bundles (it is
        /// given the count so far) for as long as frames are still coming, at least four; then waits for every frame, or
        /// for one at the controller. Returns the bundles committed.
        /// </summary>
        public int Run(long perPort, Action<int> commit)
        {
            var frames = new byte[Hosts * 32][];
            for (int i = 0; i < frames.Length; i++)
                frames[i] = FrameBuilder.Udp(new MacAddress(0x0200_0000_0009), Host(i % Hosts), 0x0a000001, 0x0a000002, (ushort)(1000 + i / Hosts), 2000, 64);
            Dp.Start();
            _a.SetGenerator(frames, perPort);
            _b.SetGenerator(frames.Reverse().ToArray(), perPort);
            int commits = 0;
            while (commits < 4 || (Forwarded < 2 * perPort && PacketIns == 0 && commits < 10_000)) commit(commits++);
            Assert.True(Wait.Until(() => Forwarded >= 2 * perPort || PacketIns > 0, 120_000),
                        $"forwarded {Forwarded} of {2 * perPort}; packet-ins {PacketIns}");
            Assert.Equal(0, PacketIns);
            Assert.Equal(2 * perPort, Forwarded);
            return commits;
        }

        public List<FlowEntry> Flows(byte table)
        {
            var flows = new List<FlowEntry>();
            Sw.Flows.Collect(FlowMatch.All, Datapath.Ports.PortNumber.None, false, flows, false, table);
            return flows;
        }

        public void Dispose()
        {
            Sw.Dispose();
            Dp.Dispose();
        }
    }

    /// <summary>Table 0 sends everything to table 1, whose table-miss flow sends the rest to the controller.</summary>
    private static void TwoTables(Rig rig)
    {
        rig.Add(Flow(FlowModCommand.Add, 0, OfMatch.Any, 0, new OfInstructions(ReadOnlyMemory<OfAction>.Empty, GotoTable: 1)));
        rig.Add(Flow(FlowModCommand.Add, 1, OfMatch.Any, 0, ToController));
    }

    [Fact]
    public void ForwardingThreads_NeverSeeHalfABundle_WhileBundlesReplaceTheirFlows()
    {
        using var rig = new Rig(emcEntries: 8192);
        // A frame that met table 1 between a delete and its add would be a packet-in.
        TwoTables(rig);
        for (int h = 0; h < Hosts; h++) rig.Add(HostFlow(FlowModCommand.Add, h, 10, 10));

        ushort current = 10;
        int commits = rig.Run(400_000, _ =>
        {
            ushort next = current == 10 ? (ushort)20 : (ushort)10;
            rig.Commit(Replace(current, next));
            current = next;
        });
        Assert.True(commits >= 4);
        // The last bundle's flows are the ones in table 1.
        var flows = rig.Flows(1);
        Assert.Equal(Hosts + 1, flows.Count);
        Assert.All(flows.Where(f => f.RequestedPriority != 0), f => Assert.Equal(current, f.RequestedPriority));
    }

    /// <summary>
    /// Every packet walks (no exact-match cache) while bundles move the hosts' flows between tables 1 and 2: one adds a
    /// flow to table 0 that sends everything to table 2 and the host flows of table 2 (its table-miss flow to the
    /// controller), the next deletes them all again. A walk that met table 0's new flow and table 2 without its flows, or
    /// table 2's flows deleted under table 0's, would send a frame to the controller.
    /// </summary>
    [Fact]
    public void Walks_SeeABundleAcrossTablesWhole()
    {
        using var rig = new Rig(emcEntries: 0);
        TwoTables(rig);
        for (int h = 0; h < Hosts; h++) rig.Add(HostFlow(FlowModCommand.Add, h, 10, 10));
        rig.Add(Flow(FlowModCommand.Add, 2, OfMatch.Any, 0, ToController));
        var toTable2 = new OfInstructions(ReadOnlyMemory<OfAction>.Empty, GotoTable: 2);

        int commits = rig.Run(150_000, n =>
        {
            var b = new List<BundledRequest>();
            if (n % 2 == 0)
            {
                // Table 0's flow first: without versions a walk may take it before table 2's flows are in.
                b.Add(Bundled(Flow(FlowModCommand.Add, 0, OfMatch.Any, 5, toTable2)));
                for (int h = 0; h < Hosts; h++) b.Add(Bundled(HostFlow(FlowModCommand.Add, h, 30, 30, table: 2)));
            }
            else
            {
                // Table 2's flows first: without versions they may leave before table 0's flow does.
                for (int h = 0; h < Hosts; h++) b.Add(Bundled(HostFlow(FlowModCommand.DeleteStrict, h, 30, 0, table: 2)));
                b.Add(Bundled(Flow(FlowModCommand.DeleteStrict, 0, OfMatch.Any, 5, toTable2)));
            }
            rig.Commit(b);
        });
        Assert.True(commits >= 4);
        Assert.Equal(commits % 2 == 1 ? 2 : 1, rig.Flows(0).Count);
        Assert.Equal(commits % 2 == 1 ? Hosts + 1 : 1, rig.Flows(2).Count);
    }

    /// <summary>
    /// Every packet is looked up in the tables (no exact-match cache) while bundles replace one table's flows by flows of
    /// another match shape and back: set A forwards each host's frames by in_port and dl_dst (priority 100); set B by
    /// dl_dst alone (priority 200, a subtable the bundle creates) above a catch-all per input port to the controller
    /// (priority 150, in the in_port subtable a standing flow keeps). The bundle that brings B adds the catch-alls first:
    /// a lookup that met them without B's host flows would send a frame to the controller. Table 0 alone (the
    /// single-table path's burst lookups) and table 1 behind table 0 (the pipeline walk).
    /// </summary>
    [Theory]
    [InlineData((byte)0)]
    [InlineData((byte)1)]
    public void Lookups_SeeAReplaceByAnotherShapeWhole(byte table)
    {
        using var rig = new Rig(emcEntries: 0);
        if (table == 0)
        {
            rig.Add(Flow(FlowModCommand.Add, 0, OfMatch.Any, 0, ToController));
        }
        else
        {
            TwoTables(rig);
        }
        // Keeps the in_port subtable (no frame comes in on port 99).
        rig.Add(Flow(FlowModCommand.Add, table, new OfMatch().InPort(99), 1, OfInstructions.Apply(ReadOnlyMemory<OfAction>.Empty)));
        var setA = new List<FlowModRequest>();
        foreach (uint port in new uint[] { InA, InB })
        {
            for (int h = 0; h < Hosts; h++)
                setA.Add(Flow(FlowModCommand.Add, table, new OfMatch().InPort(port).EthDst(Host(h).Value), 100, ToOut, 0xa));
        }
        var catchAll = new[] { Flow(FlowModCommand.Add, table, new OfMatch().InPort(InA), 150, ToController, 0xb),
                               Flow(FlowModCommand.Add, table, new OfMatch().InPort(InB), 150, ToController, 0xb) };
        var setB = new List<FlowModRequest>();
        for (int h = 0; h < Hosts; h++) setB.Add(HostFlow(FlowModCommand.Add, h, 200, 0xb, table));
        foreach (var f in setA) rig.Add(f);

        int commits = rig.Run(150_000, n =>
        {
            var b = new List<BundledRequest>();
            IEnumerable<FlowModRequest> from = n % 2 == 0 ? setA : setB.Concat(catchAll);
            IEnumerable<FlowModRequest> to = n % 2 == 0 ? catchAll.Concat(setB) : setA;
            foreach (var f in from) b.Add(Bundled(f with { Command = FlowModCommand.DeleteStrict }));
            foreach (var f in to) b.Add(Bundled(f));
            rig.Commit(b);
        });
        Assert.True(commits >= 4);
        var flows = rig.Flows(table);
        Assert.Equal(2 + (commits % 2 == 1 ? Hosts + 2 : 2 * Hosts), flows.Count);
    }

    /// <summary>
    /// Every packet walks (no exact-match cache) while bundles change table 0's flow and table 1's host flows together
    /// into flows of the same match and priority with other instructions, by adds that replace them or by modifies of
    /// them all: pair A writes metadata 1 in table 0 and goes from table 1 to table 2, which forwards metadata 1; pair B
    /// writes metadata 2 and goes to table 3, which forwards metadata 2; the other metadata misses to the controller. A
    /// walk that met one table's old flow and the other's new one (a flow swapped in place, before the commit) would
    /// send a frame to the controller.
    /// </summary>
    [Theory]
    [InlineData(FlowModCommand.Add)]
    [InlineData(FlowModCommand.Modify)]
    public void Walks_NeverPairAnOldFlowWithANewOne(FlowModCommand command)
    {
        using var rig = new Rig(emcEntries: 0);
        static OfInstructions Write(ulong metadata) => new(ReadOnlyMemory<OfAction>.Empty, GotoTable: 1, MetadataValue: metadata, MetadataMask: ulong.MaxValue);
        static OfInstructions Goto(byte table) => new(ReadOnlyMemory<OfAction>.Empty, GotoTable: table);
        rig.Add(Flow(FlowModCommand.Add, 0, OfMatch.Any, 5, Write(1), cookie: 0xa));
        rig.Add(Flow(FlowModCommand.Add, 1, OfMatch.Any, 0, ToController));
        for (int h = 0; h < Hosts; h++) rig.Add(Flow(FlowModCommand.Add, 1, new OfMatch().EthDst(Host(h).Value), 10, Goto(2), cookie: 1));
        foreach (byte t in new byte[] { 2, 3 })
        {
            rig.Add(Flow(FlowModCommand.Add, t, new OfMatch().Metadata((ulong)t - 1), 10, ToOut));
            rig.Add(Flow(FlowModCommand.Add, t, OfMatch.Any, 0, ToController));
        }

        int commits = rig.Run(150_000, n =>
        {
            // Even commits bring pair B, odd ones pair A back; table 0 first, then table 1.
            ulong metadata = n % 2 == 0 ? 2UL : 1UL;
            byte next = n % 2 == 0 ? (byte)3 : (byte)2;
            var b = new List<BundledRequest>();
            if (command == FlowModCommand.Add)
            {
                b.Add(Bundled(Flow(FlowModCommand.Add, 0, OfMatch.Any, 5, Write(metadata), cookie: 0xa)));
                for (int h = 0; h < Hosts; h++)
                    b.Add(Bundled(Flow(FlowModCommand.Add, 1, new OfMatch().EthDst(Host(h).Value), 10, Goto(next), cookie: 1)));
            }
            else
            {
                b.Add(Bundled(Flow(FlowModCommand.Modify, 0, OfMatch.Any, 0, Write(metadata), cookie: 0xa) with { CookieMask = ulong.MaxValue }));
                b.Add(Bundled(Flow(FlowModCommand.Modify, 1, OfMatch.Any, 0, Goto(next), cookie: 1) with { CookieMask = ulong.MaxValue }));
            }
            rig.Commit(b);
        });
        Assert.True(commits >= 4);
        // The last bundle's pair is in place, one flow of each match and priority.
        Assert.Single(rig.Flows(0));
        var flows = rig.Flows(1);
        Assert.Equal(Hosts + 1, flows.Count);
        byte last = commits % 2 == 1 ? (byte)3 : (byte)2;
        Assert.All(flows.Where(f => f.Priority != 0), f => Assert.Equal((int)last, f.Instructions!.GotoTable));
    }
}
