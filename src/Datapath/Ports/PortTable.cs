namespace Softswitch.Datapath.Ports;

/// <summary>One port as the datapath holds it: the provider, its OpenFlow number and the config bits the controller sets.</summary>
public sealed class PortSlot
{
    public readonly IPort Port;
    /// <summary>The port's virtual-port seam when it has one (tunnels), else null: set once, read per output packet.</summary>
    public readonly IEncapsulatingPort? Encapsulating;
    public readonly ushort No;
    /// <summary><see cref="IPort.AcceptsOffload"/>, read once.</summary>
    public readonly bool AcceptsOffload;
    /// <summary>Dense index assigned by the datapath (never reused): forwarders index transmit queues by it.</summary>
    public readonly int Index;
    private PortConfig _config;
    private volatile bool _lastLinkUp;
    /// <summary>Per-queue transmit counters (ENQUEUE); index = queue id.</summary>
    public readonly QueueCounters[] Queues;
    /// <summary>The receive queues the datapath polls for this port (the port itself first, then those it split its receiving
    /// into: <see cref="IPort.OpenReceivers"/>); set before the slot is published, disposed with the port.</summary>
    internal IRxQueue[] Receivers = [];

    public PortSlot(IPort port, ushort no, int index, int queueCount)
    {
        Port = port;
        Encapsulating = port as IEncapsulatingPort;
        AcceptsOffload = Encapsulating is null && port.AcceptsOffload;
        No = no;
        Index = index;
        _lastLinkUp = port.LinkUp;
        Queues = new QueueCounters[queueCount];
        for (int i = 0; i < queueCount; i++) Queues[i] = new QueueCounters();
    }

    private volatile PortVlan? _vlan;

    /// <summary>The port's VLAN membership for NORMAL, or null: a trunk of every VLAN (frames pass as they are).</summary>
    public PortVlan? Vlan
    {
        get => _vlan;
        internal set
        {
            _vlan = value;
            StateChanged();
        }
    }

    /// <summary>The mirrors (bits of <see cref="SwitchDatapath.Mirrors"/>) that select what this port receives, and what it
    /// sends; 0 while none does (the forwarding path's one test). Written under the datapath's port lock.</summary>
    internal uint MirrorSrc, MirrorDst;

    /// <summary>True while a mirror sends its copies here (its output port): NORMAL neither sends to it nor takes what it
    /// receives (Open vSwitch reserves a mirror's output port for the mirror).</summary>
    internal bool MirrorOut;

    private volatile Bond? _bond;

    /// <summary>The bond the port is a member of (<see cref="SwitchDatapath.SetBonds"/>), or null: NORMAL treats the
    /// bond's members as one port. Written under the datapath's port lock.</summary>
    public Bond? Bond
    {
        get => _bond;
        internal set => _bond = value;
    }

    /// <summary>When the port was added to the datapath (its clock), for the port's statistics' duration.</summary>
    public long AddedNanos { get; internal set; }

    public PortConfig Config => (PortConfig)Volatile.Read(ref System.Runtime.CompilerServices.Unsafe.As<PortConfig, uint>(ref _config));
    public void SetConfig(PortConfig c)
    {
        Volatile.Write(ref System.Runtime.CompilerServices.Unsafe.As<PortConfig, uint>(ref _config), (uint)c);
        StateChanged();
    }

    /// <summary>
    /// Sets the bits of <paramref name="mask"/> to <paramref name="config"/>'s and keeps the others, atomically (a
    /// compare-and-swap loop: concurrent updates with different masks never lose each other's bits). False when
    /// nothing changed.
    /// </summary>
    public bool UpdateConfig(PortConfig config, PortConfig mask)
    {
        ref uint cell = ref System.Runtime.CompilerServices.Unsafe.As<PortConfig, uint>(ref _config);
        uint old = Volatile.Read(ref cell);
        while (true)
        {
            uint now = (old & ~(uint)mask) | ((uint)config & (uint)mask);
            if (now == old) return false;
            uint seen = Interlocked.CompareExchange(ref cell, now, old);
            if (seen == old) break;
            old = seen;
        }
        StateChanged();
        return true;
    }

    private static long s_stateVersion = 1;

    /// <summary>
    /// Moves (after the change is published) whenever any port's config, link state (as polled) or shaping (kept beside
    /// the slot, by its index) changes or a datapath publishes a new
    /// port table (a port added or removed), in any datapath of the process: what a forwarder concluded from a slot's state holds
    /// while this has not moved since it read it (before reading the state).
    /// </summary>
    internal static long StateVersion => Volatile.Read(ref s_stateVersion);

    internal static void StateChanged() => Interlocked.Increment(ref s_stateVersion);

    /// <summary>
    /// The link state as last polled by the datapath's maintenance timer (every 100 ms). The forwarding path reads
    /// this, never <see cref="IPort.LinkUp"/>, which may cost a syscall on real ports.
    /// </summary>
    public bool LinkUp => _lastLinkUp;

    /// <summary>Returns true (once) when the link state changed since the last call.</summary>
    internal bool PollLinkChange()
    {
        bool up = Port.LinkUp;
        if (up == _lastLinkUp) return false;
        _lastLinkUp = up;
        StateChanged(); // a bundle's pick read the link (PipelineVerdict.LivenessAt)
        return true;
    }

    public PortState State => _lastLinkUp ? PortState.None : PortState.LinkDown;

    private volatile PortStpState _stp;

    /// <summary>The port's spanning tree state (<see cref="SwitchDatapath.SetPortStp"/>; its gate is in <see cref="Config"/>).</summary>
    public PortStpState Stp
    {
        get => _stp;
        internal set => _stp = value;
    }
}

public sealed class QueueCounters
{
    public long TxPackets, TxBytes, TxErrors;
}

/// <summary>
/// The datapath's ports by number (<see cref="PortNumber"/>): an immutable array indexed by number (0 unused), replaced whole
/// on add/remove so forwarding threads read it without locks. The local port (<see cref="PortNumber.Local"/>) is kept apart
/// from the numbered ones (<see cref="List"/>, <see cref="ByNo"/>) but is a port of the switch like them: it is flooded to
/// and reported, so <see cref="WithLocal"/> holds both.
/// </summary>
public sealed class PortTable
{
    public readonly PortSlot?[] ByNo;
    /// <summary>The numbered ports in number order (1..<see cref="PortNumber.Highest"/>; the local port is not one).</summary>
    public readonly PortSlot[] List;
    public readonly PortSlot? Local;
    /// <summary>
    /// Every port of the switch: <see cref="List"/>, then the local port when there is one (its number is above every
    /// other). FLOOD, ALL and NORMAL's flooding go to these (as Open vSwitch floods to its bridge's LOCAL port), and
    /// reports that list the switch's ports read them.
    /// </summary>
    public readonly PortSlot[] WithLocal;

    public static readonly PortTable Empty = new([], null);

    public PortTable(PortSlot[] ports, PortSlot? local)
    {
        List = (PortSlot[])ports.Clone();
        Array.Sort(List, static (a, b) => a.No.CompareTo(b.No));
        int max = List.Length == 0 ? 0 : List[^1].No;
        ByNo = new PortSlot?[max + 1];
        foreach (var p in List) ByNo[p.No] = p;
        Local = local;
        WithLocal = local is null ? List : [.. List, local];
    }

    public PortSlot? Get(ushort no)
    {
        if (no == PortNumber.Local) return Local;
        var a = ByNo;
        return (uint)no < (uint)a.Length ? a[no] : null;
    }
}
