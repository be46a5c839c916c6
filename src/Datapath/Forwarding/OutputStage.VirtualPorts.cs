using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;

namespace Softswitch.Datapath.Forwarding;

// The stage as a virtual port's OutputContext sees it (the seam lives with the port types, below the forwarder).
public sealed partial class OutputStage : IVirtualPortOutput
{
    PacketPool IVirtualPortOutput.Pool => Pool;
    long IVirtualPortOutput.NowNanos => NowNanos;
    PortSlot? IVirtualPortOutput.PortOf(ushort number) => PortOf(number);

    /// <summary>A virtual port's send (<see cref="OutputContext.Send"/>): stage one, to a plain port only (one level of
    /// encapsulation: a virtual port is dropped, counted).</summary>
    void IVirtualPortOutput.Send(PortSlot slot, int b)
    {
        if (slot.Encapsulating is not null) _f.Drops.Add(DropReason.Unsupported);
        else Stage(slot, b);
    }

    void IVirtualPortOutput.CountVirtualTx(IEncapsulatingPort port, int bytes) => CountVirtualTx(port, bytes);
}
