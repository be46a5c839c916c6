using Softswitch.Datapath.Packets;

namespace Softswitch.Datapath.Ports;

/// <summary>
/// The forwarder's output as an <see cref="OutputContext"/> hands it to a virtual port: the forwarder's output stage
/// implements it, so the port seam (<see cref="IEncapsulatingPort"/>, <see cref="OutputContext"/>) sits with the other
/// port types and knows nothing of the forwarder above it. Each member is the context's member of that name.
/// </summary>
internal interface IVirtualPortOutput
{
    PacketPool Pool { get; }
    long NowNanos { get; }
    PortSlot? PortOf(ushort number);
    void Send(PortSlot slot, int b);
    void CountVirtualTx(IEncapsulatingPort port, int bytes);
}
