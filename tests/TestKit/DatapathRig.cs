using Softswitch.Datapath;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Memory;

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

    /// <param name="ports">How many memory ports (MAC 02:00:00:00:00:0n for port n).</param>
    /// <param name="options">The datapath's options (default: a 1,024-entry EMC, no packet-in rate limit).</param>
    /// <param name="addPorts">False to leave the ports to the caller (an offload that attaches them itself).</param>
    /// <param name="capture">False for ports that keep no copy of what they are sent (long runs).</param>
    public DatapathRig(int ports = 4, DatapathOptions? options = null, ManualClock? clock = null, bool addPorts = true, bool capture = true)
    {
        Clock = clock ?? new ManualClock();
        Dp = new SwitchDatapath(options ?? new DatapathOptions { EmcEntries = 1024, PacketInRate = 0 }, Clock);
        Dp.Subscribe(new Events(this));
        Ports = new MemoryPort[ports];
        for (int i = 0; i < ports; i++)
        {
            Ports[i] = new MemoryPort($"p{i + 1}", new MacAddress(0x0200_0000_0000UL + (ulong)i + 1)) { CaptureSent = capture };
            if (addPorts) Dp.AddPort(Ports[i], (ushort)(i + 1));
        }
        PortEvents.Clear();
    }

    private sealed class Events(DatapathRig r) : IDatapathEvents
    {
        public void OnFlowExpired(in FlowRemoved removed) { lock (r.Removed) r.Removed.Add(removed); }
        public void OnMaintenanceError(Exception error) => throw new Xunit.Sdk.XunitException($"maintenance failed: {error}");
        public void OnPortStatus(PortStatusReason reason, PortSlot port) { lock (r.PortEvents) r.PortEvents.Add((reason, port.No)); }
    }

    /// <summary>Memory port number <paramref name="no"/>.</summary>
    public MemoryPort Port(int no) => Ports[no - 1];

    /// <summary>Receives <paramref name="frame"/> <paramref name="times"/> times on port <paramref name="port"/> and forwards until idle.</summary>
    public void Send(int port, byte[] frame, int times = 1)
    {
        for (int i = 0; i < times; i++) Ports[port - 1].Inject(frame);
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
