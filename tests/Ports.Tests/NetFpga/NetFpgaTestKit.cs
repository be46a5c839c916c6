using Softswitch.Datapath;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Ports;
using Softswitch.Ofproto;
using Softswitch.Ports.NetFpga;
using Softswitch.TestKit;

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
internal sealed class SwitchRig : DatapathRig
{
    public readonly OfFlowTables Tables;
    public readonly NetFpgaOffload? Offload;

    public SwitchRig(bool offload, int ports = 4, ManualClock? clock = null)
        : base(ports, new DatapathOptions { EmcEntries = 1024, PacketInRate = 0, UpcallSlots = 4096 }, clock, addPorts: !offload)
    {
        Tables = new OfFlowTables(Dp);
        if (offload) Offload = NetFpgaOffload.Attach(Dp, Ports, NetFpgaMode.Emulated);
    }

    /// <summary>The memory ports (the board's wires with the offload).</summary>
    public MemoryPort[] Wires => Ports;

    public EmulatedNetFpga Board => Offload!.Emulator!;

    public void Inject(int port, byte[] frame) => Ports[port - 1].Inject(frame);

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


    public List<FlowEntry> Flows()
    {
        var list = new List<FlowEntry>();
        Tables.Collect(FlowMatch.All, PortNumber.None, strict: false, list);
        return list;
    }

    public override void Dispose()
    {
        Offload?.Dispose();
        base.Dispose();
    }
}
