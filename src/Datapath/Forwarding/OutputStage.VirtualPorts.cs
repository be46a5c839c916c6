using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;

namespace Softswitch.Datapath.Forwarding;

// The stage as a virtual port's OutputContext sees it (the seam lives with the port types, below the forwarder).
public sealed partial class OutputStage : IVirtualPortOutput
{
    PacketPool IVirtualPortOutput.Pool => Pool;
    long IVirtualPortOutput.NowNanos => NowNanos;
    PortSlot? IVirtualPortOutput.PortOf(ushort number) => PortOf(number);
    void IVirtualPortOutput.StagePlain(PortSlot slot, int b) => StagePlain(slot, b);
    void IVirtualPortOutput.CountVirtualTx(IEncapsulatingPort port, int bytes) => CountVirtualTx(port, bytes);
}
