using Softswitch.Datapath.Packets;

namespace Softswitch.Datapath.Ports;

/// <summary>
/// One receive queue of a port, as a forwarding thread polls it: the port itself (every <see cref="IPort"/> is one), or
/// one of the receivers a port split its receiving into (<see cref="IPort.OpenReceivers"/>: an AF_PACKET fanout member,
/// an AF_XDP queue socket, a split memory port's share). It only receives: sending, link state, counters and disposal of
/// the port stay with the port, and the datapath disposes a split-off queue with its port.
/// </summary>
/// <remarks>
/// Contract: <see cref="Receive"/> is called by one forwarding thread at a time (a queue moves between threads only at
/// a quiescent point, docs/datapath.md "Receive queues by load"); it allocates buffers from the given pool, fills frame
/// bytes and Length (never InPort: the forwarder stamps the port's number on what it received), counts into its port's
/// counters, and returns how many packets it produced (0 when nothing is waiting: it never blocks). An idle forwarding
/// thread calls <see cref="PrepareWait"/> on each of its queues and then blocks in epoll on their <see cref="WaitFd"/>
/// (<see cref="PortWaiter"/>).
/// </remarks>
public interface IRxQueue : IDisposable
{
    /// <summary>Receives up to <c>pkts.Length</c> frames into <paramref name="pool"/>'s buffers; never blocks.</summary>
    int Receive(PacketPool pool, Span<int> pkts);

    /// <summary>
    /// A descriptor that polls readable (level-triggered) while <see cref="Receive"/> has frames: a socket, or an
    /// eventfd the queue writes. <see cref="PortWait.NeverReceives"/> for a port that receives nothing itself;
    /// <see cref="PortWait.Unavailable"/> (the default) when the queue cannot signal, so its thread naps in short
    /// timed waits instead of blocking.
    /// </summary>
    int WaitFd => PortWait.Unavailable;

    /// <summary>
    /// Called on the receiving thread just before it blocks on <see cref="WaitFd"/>: arm whatever makes the
    /// descriptor readable for frames that arrive from now on, then return false if <see cref="Receive"/> has
    /// frames already (the thread polls again instead of sleeping).
    /// </summary>
    bool PrepareWait() => true;
}
