using System.Runtime.CompilerServices;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;

namespace Softswitch.Datapath.Ports;

/// <summary>
/// What a port's administrator switched off, as the datapath acts on it: receiving (all frames, or only spanning
/// tree frames), forwarding to it, flooding to it, sending its misses to the controller, the whole port; and
/// spanning tree participation, which the datapath only stores. The datapath's own bits: a controller protocol maps
/// its port-config word to these explicitly. The <c>Stp*</c> bits are not a controller's: they are the gate a spanning
/// tree running above the datapath sets through <see cref="SwitchDatapath.SetPortStp"/> (never mapped to OpenFlow), and
/// <see cref="Lacp"/> is LACP's, set through <see cref="SwitchDatapath.SetPortLacp"/>.
/// </summary>
[Flags]
public enum PortConfig : uint
{
    None = 0,
    NoRecv = 0x01,
    NoRecvStp = 0x02,
    NoFwd = 0x04,
    NoFlood = 0x08,
    NoPacketIn = 0x10,
    PortDown = 0x20,
    NoStp = 0x40,
    /// <summary>Spanning tree: the port does not forward (listening, learning, blocking, or down): nothing is sent to
    /// it, and what it receives is dropped before the flow tables (learned first when <see cref="StpNoLearn"/> is clear).</summary>
    StpNoForward = 0x80,
    /// <summary>Spanning tree: what the port receives is not learned by NORMAL either (with <see cref="StpNoForward"/>).</summary>
    StpNoLearn = 0x100,
    /// <summary>Spanning tree runs on the port's bridge: BPDUs received (to 01:80:c2:00:00:00) are handed to
    /// <see cref="SwitchDatapath.BpduSink"/>, never forwarded.</summary>
    StpBpdu = 0x200,
    /// <summary>LACP runs on the port (a bond member with lacp active or passive): slow-protocol frames it receives
    /// (ethertype 0x8809: LACPDUs, markers) are handed to <see cref="SwitchDatapath.LacpSink"/>, never forwarded.</summary>
    Lacp = 0x400,
}

/// <summary>
/// A port's spanning tree state as the datapath gates forwarding with it (<see cref="SwitchDatapath.SetPortStp"/>):
/// <see cref="Off"/> when no spanning tree runs on the bridge; <see cref="Excluded"/> when one runs but the port takes no
/// part (it forwards, BPDUs it receives are consumed); the 802.1D states otherwise (<see cref="Disabled"/>: a
/// participating port whose link is down or that the protocol stopped).
/// </summary>
public enum PortStpState : byte
{
    Off,
    Excluded,
    Disabled,
    Listening,
    Learning,
    Forwarding,
    Blocking,
}

/// <summary>What the datapath knows of a port's state besides its config: only whether the link is down.</summary>
[Flags]
public enum PortState : uint
{
    None = 0,
    LinkDown = 0x01,
}

/// <summary>
/// Link modes of a port (what it runs at, advertises, supports, or sees its peer offer): speed and duplex pairs,
/// medium, autonegotiation and pause. The datapath's own bits, mapped explicitly by the controller protocols.
/// </summary>
[Flags]
public enum PortFeatures : uint
{
    None = 0,
    Copper = 0x0001, Fiber = 0x0002, Autoneg = 0x0004, Pause = 0x0008, PauseAsym = 0x0010,
    Rate10MbHd = 0x0100, Rate10MbFd = 0x0200, Rate100MbHd = 0x0400, Rate100MbFd = 0x0800,
    Rate1GbHd = 0x1000, Rate1GbFd = 0x2000, Rate10GbFd = 0x4000,
}

/// <summary>What a port tells about itself (name, address, link modes, MTU); its config is the datapath's.</summary>
public sealed record PortInfo(string Name, MacAddress HwAddr, PortFeatures Current = PortFeatures.Rate1GbFd | PortFeatures.Copper,
    PortFeatures Advertised = PortFeatures.None, PortFeatures Supported = PortFeatures.None, PortFeatures Peer = PortFeatures.None,
    int Mtu = 1500);

/// <summary>
/// Counters of one port. The packet, byte and drop counts (<see cref="RxPackets"/> .. <see cref="TxDropped"/>) are
/// added through <see cref="AddRx"/>, <see cref="AddTx"/>, <see cref="AddRxDropped"/> and <see cref="AddTxDropped"/>
/// from any thread and read as sums; the error and offload counters are fields their one writer (the port) keeps.
/// </summary>
/// <remarks>
/// Design: every forwarding thread of the port's datapath adds to a slot of its own, 128 bytes from the next, with plain
/// stores (the thread's slot is set by <see cref="EnterThread"/> as it polls); any other thread (the control path, a
/// maintenance timer, a port before it is added) adds atomically to a shared slot. So two threads that send to one
/// port, or receive from one port's queues, never write one line, and the counts stay exact: a reader sums the slots
/// (racily, each word whole, so monotonically). The slots are made when the datapath adds the port
/// (<see cref="ProvideThreadSlots"/>): one per forwarding thread.
/// </remarks>
public sealed class PortCounters
{
    // The shared slot (atomic adds), then the threads' slots: word k of thread t's slot at [t * Stride + k].
    private const int RxP = 0, RxB = 1, RxD = 2, TxP = 3, TxB = 4, TxD = 5, Words = 6;
    /// <summary>Longs from one slot to the next: 128 bytes, so two slots' six words never share a line whatever the
    /// array's alignment (and the adjacent-line prefetcher pulls no other thread's).</summary>
    private const int Stride = 16;
    private long[] _slots = new long[Stride];
    private object? _owner;

    [ThreadStatic] private static object? s_threadOwner;
    [ThreadStatic] private static int s_threadSlot;

    /// <summary>
    /// The calling thread is forwarding thread <paramref name="slot"/> - 1 of <paramref name="owner"/> (a datapath): its
    /// adds to that datapath's ports go to its own slot until it enters again (0: the shared slot, atomically).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void EnterThread(object? owner, int slot)
    {
        s_threadOwner = owner;
        s_threadSlot = slot;
    }

    /// <summary>
    /// Gives each of <paramref name="owner"/>'s <paramref name="threads"/> forwarding threads a slot (the datapath, as it
    /// adds the port, before any of its threads can count here). A port moved to another datapath keeps its counts.
    /// </summary>
    public void ProvideThreadSlots(object owner, int threads)
    {
        var old = Volatile.Read(ref _slots);
        var slots = new long[(Math.Max(1, threads) + 1) * Stride];
        for (int k = 0; k < Words; k++) slots[k] = Read(old, k);
        Volatile.Write(ref _slots, slots);
        Volatile.Write(ref _owner, owner);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Add(int word, long n)
    {
        var slots = _slots;
        int i = s_threadSlot * Stride + word;
        if (i >= Stride && (uint)i < (uint)slots.Length && ReferenceEquals(s_threadOwner, _owner)) Volatile.Write(ref slots[i], slots[i] + n);
        else Interlocked.Add(ref slots[word], n);
    }

    private static long Read(long[] slots, int word)
    {
        long n = 0;
        for (int i = word; i < slots.Length; i += Stride) n += Volatile.Read(ref slots[i]);
        return n;
    }

    private long Read(int word) => Read(Volatile.Read(ref _slots), word);

    /// <summary>Counts <paramref name="packets"/> received, <paramref name="bytes"/> long in all.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void AddRx(long packets, long bytes)
    {
        Add(RxP, packets);
        Add(RxB, bytes);
    }

    /// <summary>Counts <paramref name="packets"/> sent, <paramref name="bytes"/> long in all.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void AddTx(long packets, long bytes)
    {
        Add(TxP, packets);
        Add(TxB, bytes);
    }

    public void AddRxDropped(long n) => Add(RxD, n);
    public void AddTxDropped(long n) => Add(TxD, n);

    /// <summary>
    /// Sets the totals (a port that mirrors counts kept elsewhere, e.g. a board's registers, and adds none itself): the
    /// shared slot takes each value less what the threads' slots hold.
    /// </summary>
    public void Store(long rxPackets, long rxBytes, long txPackets, long txBytes, long rxDropped, long txDropped)
    {
        var slots = Volatile.Read(ref _slots);
        Span<long> v = [rxPackets, rxBytes, rxDropped, txPackets, txBytes, txDropped];
        for (int k = 0; k < Words; k++) Volatile.Write(ref slots[k], v[k] - (Read(slots, k) - Volatile.Read(ref slots[k])));
    }

    public long RxPackets => Read(RxP);
    public long RxBytes => Read(RxB);
    public long RxDropped => Read(RxD);
    public long TxPackets => Read(TxP);
    public long TxBytes => Read(TxB);
    public long TxDropped => Read(TxD);

    /// <summary>
    /// Error counters start at -1, "not maintained": OF1.0 reports a counter a port does not keep as all ones
    /// (0xffffffffffffffff). A port that keeps one writes it (from 0).
    /// </summary>
    public long RxErrors = -1, TxErrors = -1, RxFrameErrors = -1, RxOverErrors = -1, RxCrcErrors = -1, Collisions = -1;
    /// <summary>Kernel offloads taken in software on receive: partial checksums completed, GSO super-frames cut into
    /// segments (and the segments made), super-frames refused (unsupported or malformed), frames larger than a
    /// packet buffer or the receive ring (dropped; also in RxDropped), and super-frames received whole into a large
    /// buffer (segmented later only if their output port cannot take them). The datapath adds them to the counter
    /// registry (<c>kernel-csum-completed</c>, <c>gso-*</c>, <c>kernel-rx-oversize</c> in <c>ctl coverage/show</c>).</summary>
    public long RxChecksumCompleted, RxGsoFrames, RxGsoSegments, RxGsoRefused, RxOversize, RxGsoWhole;

    public PortCountersSnapshot Snapshot() => new(
        RxPackets, TxPackets, RxBytes, TxBytes, RxDropped, TxDropped, Volatile.Read(ref RxErrors), Volatile.Read(ref TxErrors),
        Volatile.Read(ref RxFrameErrors), Volatile.Read(ref RxOverErrors), Volatile.Read(ref RxCrcErrors), Volatile.Read(ref Collisions));
}

public readonly record struct PortCountersSnapshot(long RxPackets, long TxPackets, long RxBytes, long TxBytes,
    long RxDropped, long TxDropped, long RxErrors, long TxErrors, long RxFrameErrors, long RxOverErrors, long RxCrcErrors, long Collisions);

/// <summary>
/// A network port the datapath receives from and sends to, in bursts (the provider interface of Ports.*). A port is
/// its own first receive queue (<see cref="IRxQueue"/>: <see cref="IRxQueue.Receive"/>, <see cref="IRxQueue.WaitFd"/>,
/// <see cref="IRxQueue.PrepareWait"/>); a port that splits its receiving opens more (<see cref="OpenReceivers"/>).
/// </summary>
/// <remarks>
/// Contract: receiving as <see cref="IRxQueue"/> says. <see cref="Send"/> may be called from several threads at once;
/// it must copy or transmit the frames before returning and must not keep or release the caller's references, with one
/// exception: a port whose memory is the pool's arena may keep a buffer the caller holds the only reference to
/// (<see cref="PacketPool.TryLend"/>, giving the pool a free slot in exchange); the caller's release then leaves it the
/// port's. Callers release each packet once after Send returns, and touch it no more.
/// Implementations: <see cref="Memory.MemoryPort"/> (tests, benchmarks, the demo), AF_PACKET, AF_XDP, libpcap, tunnels.
/// </remarks>
public interface IPort : IRxQueue
{
    PortInfo Info { get; }
    PortCounters Counters { get; }
    /// <summary>Current link state (polled by the datapath's port monitor; a change becomes PORT_STATUS).</summary>
    bool LinkUp { get; }
    void Send(PacketPool pool, ReadOnlySpan<int> pkts);

    /// <summary>
    /// Whether <see cref="Send"/> takes a large buffer's frame whole with what it owes (<see cref="PacketPool.Offload"/>:
    /// a GSO super-frame, a partial checksum) and has the kernel or the device finish it (a packet socket with
    /// PACKET_VNET_HDR). Other ports are given such frames already segmented by the datapath.
    /// </summary>
    bool AcceptsOffload => false;

    /// <summary>
    /// Splits receiving across <paramref name="count"/> forwarding threads: receive queues (this port first) that
    /// together receive each frame once, all frames of a flow through the same one; the datapath deals them to its
    /// threads (queue i to thread i mod <paramref name="count"/> at first, then by load; one per AF_XDP queue may be
    /// more or fewer than the threads). The others only receive (<see cref="IRxQueue"/>: sending stays with this port),
    /// from their own threads; they count into this port's counters and the datapath disposes them with this port (when
    /// it is removed, or with the datapath). The default cannot split: just this port.
    /// </summary>
    IRxQueue[] OpenReceivers(int count) => [this];

    /// <summary>
    /// Called by the datapath before the port is published to its <paramref name="count"/> forwarding threads, so a
    /// port with several transmit queues can give each thread (<see cref="TransmitThread.Current"/>) one of its own, and
    /// lock only the queues that end up shared (AF_XDP: thread t on queue t mod Q). The default ignores it.
    /// </summary>
    void SetTransmitThreads(int count) { }
}
