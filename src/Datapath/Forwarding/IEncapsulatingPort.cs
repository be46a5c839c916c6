namespace Softswitch.Datapath.Forwarding;

/// <summary>
/// A virtual port: one the forwarder hands each output packet to, on the forwarding thread and with that thread's
/// context, instead of queueing it for <see cref="IPort.Send"/> (a tunnel port encapsulates it and queues the result
/// on its underlay port). The forwarder sees only this seam, held on the port's <see cref="PortSlot.Encapsulating"/>;
/// header building and decapsulation stay with the port's own code.
/// </summary>
/// <remarks>
/// Contract: <see cref="Output"/> runs on its forwarder's thread, inside its output stage, for a packet of
/// <see cref="Forwarder.Pool"/> that it must not release (it copies what it sends on). It may stage packets on other,
/// non-virtual ports of the same forwarder (<c>StageTxSlot</c>), which the forwarder flushes at the end of the burst,
/// and must not re-enter the forwarder's pipeline. <see cref="IPort.Send"/> stays for callers without a forwarder.
/// </remarks>
public interface IEncapsulatingPort : IPort
{
    /// <summary>Takes packet <paramref name="p"/> of <paramref name="forwarder"/>'s pool for output through this port.</summary>
    void Output(Forwarder forwarder, int p);
}
