namespace Softswitch.Datapath.Ports;

/// <summary>
/// A virtual port: one the forwarder hands each output packet to, on the forwarding thread and with that thread's
/// <see cref="OutputContext"/>, instead of queueing it for <see cref="IPort.Send"/> (a tunnel port encapsulates it and
/// sends the result on its underlay port). The forwarder sees only this seam, held on the port's
/// <see cref="PortSlot.Encapsulating"/>; header building and decapsulation stay with the port's own code.
/// </summary>
/// <remarks>
/// Contract: <see cref="Encapsulate"/> runs on a forwarder's thread, inside its output stage, for a packet of
/// <see cref="OutputContext.Pool"/> that it must not release or change (it copies what it sends on). It sends through
/// the context only, to plain ports, and must not re-enter the forwarder's pipeline. <see cref="CountTx"/> receives what
/// it counted through the context, summed per run, from any forwarder's thread. <see cref="IPort.Send"/> stays for
/// callers without a forwarder.
/// </remarks>
public interface IEncapsulatingPort : IPort
{
    /// <summary>Takes packet <paramref name="p"/> of <paramref name="context"/>'s pool for output through this port.</summary>
    void Encapsulate(in OutputContext context, int p);

    /// <summary>Adds <paramref name="packets"/> and <paramref name="bytes"/> counted by <see cref="OutputContext.CountTx"/> (thread-safe).</summary>
    void CountTx(long packets, long bytes);
}
