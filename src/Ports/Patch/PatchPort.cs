using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;

namespace Softswitch.Ports.Patch;

/// <summary>
/// One end of a patch: two switches joined in user space (Open vSwitch's "patch" interfaces). What one end sends, the
/// end it is connected to receives, copied through a fixed ring of frame slots: no kernel, no allocation per frame.
/// </summary>
/// <remarks>
/// Design: each end owns the ring it receives from, <see cref="Slots"/> slots of <see cref="SlotSize"/> bytes. Senders
/// (any forwarding thread of the other switch, or its control path) copy frames in under the ring's lock, once per
/// burst; the end's one receiving thread copies them out without a lock (a slot's length is written before the head
/// is published with a release store, and the tail is given back with one after the bytes were read). A full ring, a
/// frame larger than a slot, or no connected peer is a TxDropped on the sender. A frame arriving while the receiver
/// sleeps signals its eventfd once (armed by <see cref="PrepareWait"/>, as the in-memory port does). Ends are
/// connected and disconnected by name through a <see cref="PatchPanel"/>; the link is up while connected.
/// Disposal closes the eventfd under the ring's lock, so a sender that still found this end never signals a closed
/// descriptor. Thread safety: Send from any thread; Receive and PrepareWait from one thread at a time.
/// </remarks>
public sealed class PatchPort : IPort
{
    /// <summary>Frames an end holds before its senders drop.</summary>
    public const int Slots = 256;
    /// <summary>The largest frame a patch carries (a 9000-byte MTU with its Ethernet header and two VLAN tags).</summary>
    public const int SlotSize = 9026;

    private readonly Ring _in = new();
    private volatile PatchPort? _peer;

    /// <summary>An end named <paramref name="name"/> that connects to the end named <paramref name="peerName"/>.</summary>
    public PatchPort(string name, string peerName, MacAddress mac)
    {
        // No link modes: a patch has no medium nor rate (Open vSwitch reports none for its patch ports either).
        Info = new PortInfo(name, mac, PortFeatures.None, Mtu: 9000);
        PeerName = peerName;
    }

    /// <summary>The name of the end this one is patched to (options:peer).</summary>
    public string PeerName { get; }

    /// <summary>The end connected now, or null.</summary>
    public PatchPort? Peer => _peer;

    /// <summary>Joins two ends (each names the other).</summary>
    internal static void Connect(PatchPort a, PatchPort b)
    {
        a._peer = b;
        b._peer = a;
    }

    /// <summary>Parts this end from its peer (both links go down).</summary>
    internal void Disconnect()
    {
        if (_peer is { } p && p._peer == this) p._peer = null;
        _peer = null;
    }

    public PortInfo Info { get; }
    public PortCounters Counters { get; } = new();
    public bool LinkUp => _peer is not null;
    public int WaitFd => _in.EventFd >= 0 ? _in.EventFd : PortWait.Unavailable;

    public bool PrepareWait()
    {
        if (_in.EventFd < 0) return true;
        PortWaiter.DrainEventFd(_in.EventFd);
        Interlocked.Exchange(ref _in.Armed, 1);
        return !_in.HasFrames;
    }

    public int Receive(PacketPool pool, Span<int> pkts)
    {
        var ring = _in;
        int n = 0;
        long bytes = 0;
        while (n < pkts.Length && ring.HasFrames)
        {
            int slot = (int)(ring.Tail % Slots);
            int len = ring.Length[slot];
            if (pool.Alloc(pkts.Slice(n, 1)) == 0) break;
            int p = pkts[n];
            if (pool.Write(p, new ReadOnlySpan<byte>(ring.Data, slot * SlotSize, len)))
            {
                bytes += len;
                n++;
            }
            else
            {
                pool.Release(p);
                Counters.AddRxDropped(1);
            }
            Volatile.Write(ref ring.Tail, ring.Tail + 1);
        }
        Counters.AddRx(n, bytes);
        return n;
    }

    public void Send(PacketPool pool, ReadOnlySpan<int> pkts)
    {
        if (_peer is not { } peer)
        {
            Counters.AddTxDropped(pkts.Length);
            return;
        }
        var ring = peer._in;
        long sent = 0, bytes = 0, dropped = 0;
        lock (ring.SendLock)
        {
            foreach (int p in pkts)
            {
                var frame = pool.Frame(p);
                long head = ring.Head;
                if (ring.EventFd == Ring.Closed || frame.Length > SlotSize || head - Volatile.Read(ref ring.Tail) >= Slots)
                {
                    dropped++;
                    continue;
                }
                int slot = (int)(head % Slots);
                frame.CopyTo(new Span<byte>(ring.Data, slot * SlotSize, SlotSize));
                ring.Length[slot] = frame.Length;
                Volatile.Write(ref ring.Head, head + 1);
                sent++;
                bytes += frame.Length;
            }
            if (sent > 0)
            {
                Interlocked.MemoryBarrier();
                ring.Signal();
            }
        }
        Counters.AddTx(sent, bytes);
        if (dropped > 0) Counters.AddTxDropped(dropped);
    }

    /// <summary>Disconnects this end and closes its eventfd (under its ring's lock: no sender signals it afterwards).</summary>
    public void Dispose()
    {
        Disconnect();
        lock (_in.SendLock)
        {
            int fd = _in.EventFd;
            _in.EventFd = Ring.Closed;
            if (fd >= 0) PortWaiter.CloseFd(fd);
        }
    }

    /// <summary>One end's receive ring: frames written at Head by senders, read at Tail by the receiver.</summary>
    private sealed class Ring
    {
        public const int Closed = int.MinValue;
        public readonly byte[] Data = GC.AllocateUninitializedArray<byte>(Slots * SlotSize);
        public readonly int[] Length = new int[Slots];
        public readonly Lock SendLock = new();
        public long Head, Tail;
        public int Armed;
        public int EventFd = PortWaiter.NewEventFd();

        public bool HasFrames => Volatile.Read(ref Head) != Tail;

        public void Signal()
        {
            if (Volatile.Read(ref Armed) != 0 && Interlocked.Exchange(ref Armed, 0) == 1 && EventFd >= 0)
                PortWaiter.SignalEventFd(EventFd);
        }
    }
}
