using System.Buffers.Binary;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Offload;
using Softswitch.Datapath.Packets;
using Softswitch.Ports.AfXdp;
using Softswitch.TestKit;
using static Softswitch.TestKit.FlowFrames;

namespace Softswitch.Ports.Tests.AfXdp;

/// <summary>
/// The XDP target under the offload manager, over real BPF maps: the counts a removed flow's slot takes after the
/// delete reach the flow before its removal counts as placed.
/// </summary>
public sealed class XdpOffloadTargetTests
{
    private static readonly (ushort, int)[] Ports = [(1, 1_000_001), (2, 1_000_002)];

    /// <summary>
    /// What a program run that found the flow before the delete does: it counts a frame in the flow's slot after the
    /// target's read (the per-CPU slot of CPU 0 here).
    /// </summary>
    private sealed class LateFrameTarget(XdpOffloadTarget inner, XdpFlowMaps maps) : IOffloadTarget
    {
        public int FrameSize;
        public string Name => inner.Name;
        public OffloadLookupModel LookupModel => inner.LookupModel;
        public IReadOnlyList<ushort> Ports => inner.Ports;
        public long RegisterWrites => inner.RegisterWrites;
        public OffloadResult Check(FlowEntry entry) => inner.Check(entry);
        public OffloadResult TryInstall(FlowEntry entry) => inner.TryInstall(entry);
        public OffloadResult Modify(FlowEntry entry) => inner.Modify(entry);
        public OffloadCounts ReadCounters(FlowEntry entry) => inner.ReadCounters(entry);
        public string? Location(FlowEntry entry) => inner.Location(entry);
        public void Settle(List<(FlowEntry Entry, OffloadCounts Counts)> into) => inner.Settle(into);

        public OffloadCounts Remove(FlowEntry entry)
        {
            uint slot = uint.Parse(inner.Location(entry)!.Split('=')[1]);
            var c = inner.Remove(entry);
            Count(maps, slot, 1, FrameSize);
            return c;
        }
    }

    /// <summary>Adds a frame count to <paramref name="slot"/> as the program does (CPU 0's value).</summary>
    private static void Count(XdpFlowMaps maps, uint slot, long packets, long bytes)
    {
        int cpus = Bpf.PossibleCpus();
        var value = new byte[cpus * XdpFlowProgram.CounterSize];
        Span<byte> key = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(key, slot);
        Assert.Equal(0, Bpf.LookupElem(maps.CountersFd, key, value));
        BinaryPrimitives.WriteInt64LittleEndian(value, BinaryPrimitives.ReadInt64LittleEndian(value) + packets);
        BinaryPrimitives.WriteInt64LittleEndian(value.AsSpan(8), BinaryPrimitives.ReadInt64LittleEndian(value.AsSpan(8)) + bytes);
        Assert.Equal(0, Bpf.UpdateElem(maps.CountersFd, key, value));
    }

    private static FlowEntry Insert(FlowTable t, ushort dport)
    {
        var frame = FrameBuilder.Udp(Mac("02:00:00:00:00:01"), Mac("02:00:00:00:00:02"), Ip("10.0.0.1"), Ip("10.0.0.2"), 1000, dport);
        var e = new FlowEntry(MatchOf(frame, 1, 0), 100, new FlowActions([FlowAction.Output(2)]), 0, 0, 0);
        using (var w = t.Write()) w.Insert(e);
        return e;
    }

    /// <summary>A one-slot flow map under a manager without a worker, its target counting one late 60 B frame per removal.</summary>
    private sealed class OneSlotRig : IDisposable
    {
        public readonly XdpFlowMaps Maps = new(1);
        public readonly LateFrameTarget Target;
        public readonly FlowTable Table = new(new ManualClock());
        public readonly OffloadManager Manager;

        public OneSlotRig()
        {
            Target = new LateFrameTarget(new XdpOffloadTarget(Maps, Ports), Maps) { FrameSize = 60 };
            Manager = new OffloadManager(Table, Target);
            Manager.Attach(startWorker: false);
        }

        public void Dispose()
        {
            Manager.Dispose();
            Maps.Dispose();
        }
    }

    [NetnsFact]
    public void AFrameCountedAfterTheFinalRead_ReachesTheRemovedFlow_AndNotTheSlotsNextFlow()
    {
        using var rig = new OneSlotRig();
        var (maps, target, table, manager) = (rig.Maps, rig.Target, rig.Table, rig.Manager);
        var flow = Insert(table, 1);
        manager.ProcessPending();
        Assert.Equal("xdp-flows,slot=0", target.Location(flow));
        Count(maps, 0, 5, 300);
        manager.ReadHardwareCounters();
        Assert.Equal((5, 300), (flow.Packets, flow.Bytes));

        using (var w = table.Write()) w.Remove(flow);
        manager.ProcessPending();
        // Placed (a barrier could answer now) but not settled: the late frame waits for the grace period.
        Assert.Equal((5, 300), (flow.Packets, flow.Bytes));
        Assert.True(manager.HasUnsettledRemovals);
        Assert.True(manager.WaitForSettled());   // what a removed flow's report waits for
        Assert.False(manager.HasUnsettledRemovals);
        Assert.Equal((6, 360), (flow.Packets, flow.Bytes));
        Assert.Equal(6, manager.Stats.HardwarePackets);

        // The only slot, freed once read, starts at zero for the next flow.
        var next = Insert(table, 2);
        manager.ProcessPending();
        Assert.Equal("xdp-flows,slot=0", target.Location(next));
        manager.ReadHardwareCounters();
        Assert.Equal(0, next.Packets);
        Assert.Equal((6, 360), (flow.Packets, flow.Bytes));
    }

    /// <summary>
    /// A removed flow's slot is wanted before any settle (a full map): the target settles it then, so the next flow
    /// starts at zero and the late frame still reaches the removed flow at the next settle.
    /// </summary>
    [NetnsFact]
    public void ASlotWantedBeforeTheSettle_IsSettledFirst_AndItsLateFrameStillReachesTheRemovedFlow()
    {
        using var rig = new OneSlotRig();
        var (maps, target, table, manager) = (rig.Maps, rig.Target, rig.Table, rig.Manager);
        var flow = Insert(table, 1);
        manager.ProcessPending();
        using (var w = table.Write()) w.Remove(flow);
        var next = Insert(table, 2);
        manager.ProcessPending();
        Assert.Equal("xdp-flows,slot=0", target.Location(next));
        manager.ReadHardwareCounters();
        Assert.Equal(0, next.Packets);
        manager.Poll();   // the maintenance poll settles too
        Assert.Equal((1, 60), (flow.Packets, flow.Bytes));
        Assert.Equal(0, next.Packets);
    }
}
