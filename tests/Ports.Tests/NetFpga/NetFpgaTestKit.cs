using Softswitch.Datapath;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Memory;
using Softswitch.Ofproto;
using Softswitch.Ports.NetFpga;

namespace Softswitch.Ports.Tests.NetFpga;

/// <summary>Records every register write going to an inner bus (golden tests of write sequences).</summary>
internal sealed class RecordingBus(IRegisterBus inner) : IRegisterBus
{
    public readonly List<(uint Address, uint Value)> Writes = new();
    public string Name => inner.Name;
    public uint Read(uint address) => inner.Read(address);
    public void Write(uint address, uint value)
    {
        Writes.Add((address, value));
        inner.Write(address, value);
    }
    public void Dispose() => inner.Dispose();
}

/// <summary>
/// A switch over four memory ports, either pure software or with the emulated NetFPGA board in front of the
/// software datapath. Both sides are driven the same way by the tests.
/// </summary>
internal sealed class SwitchRig : IDisposable
{
    public readonly SwitchDatapath Dp;
    public readonly OfFlowTables Tables;
    public readonly MemoryPort[] Wires;
    public readonly ManualClock Clock;
    public readonly NetFpgaOffload? Offload;
    public readonly List<FlowRemoved> Removed = new();

    public SwitchRig(bool offload, int ports = 4, ManualClock? clock = null)
    {
        Clock = clock ?? new ManualClock();
        Dp = new SwitchDatapath(new DatapathOptions { EmcEntries = 1024, PacketInRate = 0, UpcallSlots = 4096 }, Clock);
        Tables = new OfFlowTables(Dp);
        Dp.Subscribe(new Ev(this));
        Wires = new MemoryPort[ports];
        for (int i = 0; i < ports; i++)
            Wires[i] = new MemoryPort($"p{i + 1}", new MacAddress(0x0200_0000_0000UL + (ulong)i + 1)) { CaptureSent = true };
        if (offload)
        {
            Offload = NetFpgaOffload.Attach(Dp, Wires, NetFpgaMode.Emulated);
        }
        else
        {
            for (int i = 0; i < ports; i++) Dp.AddPort(Wires[i], (ushort)(i + 1));
        }
    }

    public EmulatedNetFpga Board => Offload!.Emulator!;

    private sealed class Ev(SwitchRig r) : IDatapathEvents
    {
        public void OnFlowExpired(in FlowRemoved removed) { lock (r.Removed) r.Removed.Add(removed); }
        public void OnMaintenanceError(Exception error) => throw new Xunit.Sdk.XunitException($"maintenance failed: {error}");
        public void OnPortStatus(PortStatusReason reason, PortSlot port) { }
    }

    public void Inject(int port, byte[] frame) => Wires[port - 1].Inject(frame);

    public void Run() => Dp.PollUntilIdle();

    /// <summary>Applies a flow-mod and, with the board, waits until the offload worker has placed it (placement is asynchronous).</summary>
    public FlowModStatus Apply(FlowMod mod)
    {
        var st = Tables.Apply(mod);
        Offload?.Manager.WaitForPlacement();
        return st;
    }

    public FlowModStatus Add(FlowMatch m, ushort prio, params FlowAction[] actions)
        => Apply(new FlowMod(FlowModCommand.Add, m, prio, new FlowActions(actions)));

    /// <summary>One maintenance step (counters, expiry), then waits until the offload has placed the removals it caused.</summary>
    public void RunMaintenance()
    {
        Dp.RunMaintenance();
        Offload?.Manager.WaitForPlacement();
    }

    /// <summary>Reads the hardware counters into the flows (what maintenance does first), without expiring anything.</summary>
    public void PollCounters() => Offload?.Maintenance();

    public List<byte[]> Sent(int port) => Wires[port - 1].TakeSent();

    public List<(ushort InPort, UpcallReason Reason, byte[] Frame)> Upcalls()
    {
        var list = new List<(ushort, UpcallReason, byte[])>();
        Dp.DrainUpcalls((in Upcall u) => list.Add((u.InPort, u.Reason, u.Frame.ToArray())));
        return list;
    }

    public List<FlowEntry> Flows()
    {
        var list = new List<FlowEntry>();
        Tables.Collect(FlowMatch.All, PortNumber.None, strict: false, list);
        return list;
    }

    public void Dispose()
    {
        Offload?.Dispose();
        Dp.Dispose();
    }
}
