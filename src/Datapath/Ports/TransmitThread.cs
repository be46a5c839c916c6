namespace Softswitch.Datapath.Ports;

/// <summary>
/// Which forwarding thread the calling thread is, for ports that give each forwarding thread a transmit queue of its
/// own (AF_XDP: thread t transmits on queue t mod Q, as Open vSwitch's static tx queue ids). The datapath's forwarding
/// threads (<see cref="SwitchDatapath"/>'s poll loop, vswitchd's shared forwarding threads) set it once as they
/// start; every other thread (the control path's packet-outs, maintenance, tests) is none (-1), and such a port sends
/// for it on a queue under a lock. A thread-static int: reading it allocates nothing.
/// </summary>
public static class TransmitThread
{
    [ThreadStatic] private static int s_indexPlusOne;

    /// <summary>The calling thread's forwarding-thread index (0 to the thread count minus one), or -1 when it is none.</summary>
    public static int Current => s_indexPlusOne - 1;

    /// <summary>Marks the calling thread as forwarding thread <paramref name="index"/> (-1: none).</summary>
    public static void Set(int index) => s_indexPlusOne = index < 0 ? 0 : index + 1;
}
