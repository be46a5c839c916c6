using Softswitch.Datapath;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Ports;

namespace Softswitch.TestKit;

/// <summary>
/// A datapath over numbered memory ports (1..N, each capturing what it is sent) with a manual clock and an event
/// collector (expired flows, port status; a maintenance error fails the test): what tests that drive a datapath build.
/// </summary>
public class DatapathRig : IDisposable
{
    public readonly SwitchDatapath Dp;
    public readonly ManualClock Clock;
    /// <summary>The memory ports, port number i at index i - 1.</summary>
    public readonly MemoryPort[] Ports;
    public readonly List<FlowRemoved> Removed = new();
    public readonly List<(PortStatusReason Reason, ushort Port)> PortEvents = new();

    /// <param name="ports">How many memory ports (named pn, MAC 02:00:00:00:00:0n for port n).</param>
    /// <param name="options">The datapath's options (default: a 1,024-entry EMC, no packet-in rate limit).</param>
    /// <param name="addPorts">False to leave the ports to the caller (an offload that attaches them itself).</param>
    /// <param name="capture">False for ports that keep no copy of what they are sent (long runs).</param>
    /// <param name="sharedThreads">Forwarding threads shared with other datapaths (<see cref="SwitchDatapath.SharedThreads"/>), or null.</param>
    public DatapathRig(int ports = 4, DatapathOptions? options = null, ManualClock? clock = null, bool addPorts = true, bool capture = true,
                       ForwardingThreads? sharedThreads = null)
        : this(MemoryPorts(ports, capture: capture), options, clock, addPorts, sharedThreads)
    {
    }

    /// <param name="ports">The memory ports, numbered 1..N in this order.</param>
    public DatapathRig(MemoryPort[] ports, DatapathOptions? options = null, ManualClock? clock = null, bool addPorts = true,
                       ForwardingThreads? sharedThreads = null)
    {
        Clock = clock ?? new ManualClock();
        Dp = new SwitchDatapath(options ?? new DatapathOptions { EmcEntries = 1024, PacketInRate = 0 }, Clock, sharedThreads);
        Dp.Subscribe(new Events(this));
        Ports = ports;
        if (addPorts)
            for (int i = 0; i < ports.Length; i++) Dp.AddPort(ports[i], (ushort)(i + 1));
        PortEvents.Clear();
    }

    /// <summary><paramref name="count"/> memory ports for numbers 1..count: port n named <paramref name="prefix"/>n, MAC 02:00:00:00:00:0n.</summary>
    public static MemoryPort[] MemoryPorts(int count, string prefix = "p", bool capture = true)
    {
        var ports = new MemoryPort[count];
        for (int i = 0; i < count; i++)
            ports[i] = new MemoryPort($"{prefix}{i + 1}", new MacAddress(0x0200_0000_0000UL + (ulong)i + 1)) { CaptureSent = capture };
        return ports;
    }

    private sealed class Events(DatapathRig r) : IDatapathEvents
    {
        public void OnFlowExpired(in FlowRemoved removed) { lock (r.Removed) r.Removed.Add(removed); }
        public void OnMaintenanceError(Exception error) => throw new Xunit.Sdk.XunitException($"maintenance failed: {error}");
        public void OnPortStatus(PortStatusReason reason, PortSlot port) { lock (r.PortEvents) r.PortEvents.Add((reason, port.No)); }
    }

    /// <summary>Memory port number <paramref name="no"/>.</summary>
    public MemoryPort Port(int no) => Ports[no - 1];

    /// <summary>The first forwarder (the one <see cref="SwitchDatapath.PollUntilIdle"/> drives).</summary>
    public Forwarder Fwd => Dp.Forwarders[0];

    /// <summary>
    /// Inserts a rule straight into pipeline stage <paramref name="table"/> (created, dropping on a miss, if new). A
    /// rule in a later stage, with instructions or with a resubmit has the forwarders classify through the stages.
    /// </summary>
    /// <summary>Inserts a rule into stage <paramref name="table"/> (made with miss mode Drop, as a table whose misses a rule
    /// decides); <paramref name="isTableMiss"/> marks it as standing for the table's misses (<see cref="FlowEntry.IsTableMiss"/>).</summary>
    public FlowEntry Insert(int table, FlowMatch match, ushort priority, FlowAction[] actions, FlowInstructions? instructions = null,
                            bool isTableMiss = false)
    {
        var pipeline = Dp.Pipeline;
        var stage = table == 0 ? pipeline.Table(0) : pipeline.GetOrCreateStage(table, TableMissMode.Drop);
        var list = new FlowActions(actions);
        // A resubmit runs only in the pipeline walk (as Ofproto, which enables the stages for such a rule).
        // So does a match on the packet's words the key has no room for (TTL, TCP flags, tunnel endpoints).
        if (table != 0 || instructions is not null || list.NeedsWalk || (match.Shape.RegisterWords & Registers.PacketWordsMask) != 0)
            pipeline.EnableStages();
        using var w = stage.Write();
        var e = new FlowEntry(match, priority, list, 0, 0, Clock.NowNanos, isTableMiss: isTableMiss);
        if (instructions is not null) w.SetInstructions(e, instructions);
        w.Insert(e);
        return e;
    }

    /// <summary>Receives <paramref name="frame"/> <paramref name="times"/> times on port <paramref name="port"/> and forwards until idle.</summary>
    public void Send(int port, byte[] frame, int times = 1)
    {
        for (int i = 0; i < times; i++) Ports[port - 1].Inject(frame);
        Dp.PollUntilIdle();
    }

    /// <summary>Receives <paramref name="frames"/> on port <paramref name="port"/> as one burst and forwards until idle.</summary>
    public void SendBurst(int port, params byte[][] frames)
    {
        foreach (var f in frames) Ports[port - 1].Inject(f);
        Dp.PollUntilIdle();
    }

    /// <summary>What port <paramref name="port"/> was sent since the last call.</summary>
    public List<byte[]> Sent(int port) => Ports[port - 1].TakeSent();

    /// <summary>The packets queued for the controller: in_port, reason, frame.</summary>
    public List<(ushort InPort, UpcallReason Reason, byte[] Frame)> Upcalls()
    {
        var list = new List<(ushort, UpcallReason, byte[])>();
        Dp.DrainUpcalls((in Upcall u) => list.Add((u.InPort, u.Reason, u.Frame.ToArray())));
        return list;
    }

    public virtual void Dispose()
    {
        Dp.Dispose();
        GC.SuppressFinalize(this);
    }
}
