using Softswitch.Datapath.Packets;

namespace Softswitch.Datapath.Ports;

/// <summary>
/// What a virtual port may use of the forwarder that outputs a packet to it (<see cref="IEncapsulatingPort.Encapsulate"/>):
/// the forwarder's pool, the tunnel id the flow's actions set, its clock and port table, and its transmit queues for
/// plain ports. Everything a tunnel, Geneve or vhost port needs to send from a forwarding thread, and nothing of the
/// forwarder's internals.
/// </summary>
/// <remarks>
/// Valid only during the call, on the forwarding thread. Buffers handed to <see cref="Send"/> are queued with a
/// reference of their own and sent, with the rest of the burst's output, when the forwarder flushes; packets counted
/// with <see cref="CountTx"/> reach the port's <see cref="IEncapsulatingPort.CountTx"/> then too, one call per run of
/// packets to one port.
/// </remarks>
public readonly ref struct OutputContext
{
    private readonly IVirtualPortOutput _stage;
    private readonly IEncapsulatingPort _port;

    internal OutputContext(IVirtualPortOutput stage, IEncapsulatingPort port, ulong tunnelId)
    {
        _stage = stage;
        _port = port;
        TunnelId = tunnelId;
    }

    /// <summary>The forwarder's pool: the packet's buffer, and where copies to send are allocated.</summary>
    public PacketPool Pool => _stage.Pool;

    /// <summary>The tunnel id the flow's set-tunnel action gave the packet; 0 when none did (a received packet's id is not carried over).</summary>
    public ulong TunnelId { get; }

    /// <summary>The datapath's clock, in nanoseconds.</summary>
    public long NowNanos => _stage.NowNanos;

    /// <summary>The port numbered <paramref name="number"/>, or null.</summary>
    public PortSlot? Port(ushort number) => _stage.PortOf(number);

    /// <summary>
    /// Queues buffer <paramref name="b"/> of <see cref="Pool"/> for <paramref name="slot"/> (a reference of its own: the
    /// caller still releases <paramref name="b"/>). A port down or not forwarding drops it, counted; so does a virtual
    /// port (one level of encapsulation: an underlay is never virtual).
    /// </summary>
    public void Send(PortSlot slot, int b) => _stage.Send(slot, b);

    /// <summary>Counts one packet of <paramref name="bytes"/> as sent through the port being output to.</summary>
    public void CountTx(int bytes) => _stage.CountVirtualTx(_port, bytes);
}
