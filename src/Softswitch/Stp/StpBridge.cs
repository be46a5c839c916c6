using System.Buffers.Binary;

namespace Softswitch.Stp;

/// <summary>An 802.1D port state (the values Open vSwitch's lib/stp.h names).</summary>
public enum StpState : byte
{
    Disabled,
    Listening,
    Learning,
    Forwarding,
    Blocking,
}

/// <summary>An 802.1D port role as Open vSwitch reports it (stp_role).</summary>
public enum StpRole : byte
{
    Root,
    Designated,
    Alternate,
    Disabled,
}

/// <summary>Where a bridge's BPDUs go. Called with the bridge's lock held; must not call back.</summary>
public interface IStpTransmit
{
    /// <summary>Sends <paramref name="bpdu"/> (from the protocol identifier on, without the Ethernet and LLC headers)
    /// out of port <paramref name="portNo"/>.</summary>
    void Send(int portNo, ReadOnlySpan<byte> bpdu);
}

/// <summary>
/// One port of an <see cref="StpBridge"/>: its identifier (priority in the high byte, number in the low), path cost,
/// state, what it last heard from the segment's designated bridge, and its timers. Read and changed only under the
/// bridge's lock (every member of the bridge is).
/// </summary>
public sealed class StpPort
{
    private readonly StpBridge _b;

    internal StpPort(StpBridge bridge, int no)
    {
        _b = bridge;
        No = no;
        PortId = (ushort)((no + 1) | (StpBridge.DefaultPortPriority << 8));
        PathCost = 2;
        DesignatedPort = PortId;
    }

    /// <summary>The port's index in its bridge, 0 to <see cref="StpBridge.MaxPorts"/> - 1 (its number is this plus 1).</summary>
    public int No { get; }

    /// <summary>The port's name (for stp/show and log lines).</summary>
    public string Name { get; set; } = "";

    public ushort PortId { get; internal set; }
    public int PathCost { get; internal set; }
    public StpState State { get; private set; }
    public long TxCount { get; internal set; }
    public long RxCount { get; internal set; }
    public long ErrorCount { get; internal set; }

    /// <summary>The bridge clock (milliseconds of ticks) when the port entered its state.</summary>
    public long StateEnteredMs { get; private set; }

    internal ulong DesignatedRoot;
    internal int DesignatedCost;
    internal ulong DesignatedBridge;
    internal ushort DesignatedPort;
    internal bool TopologyChangeAck, ConfigPending, StateChanged;
    internal bool ChangeDetectionEnabled = true;
    internal StpTimer MessageAgeTimer, ForwardDelayTimer, HoldTimer;

    /// <summary>The port's role: disabled (it takes no part), root, designated, else alternate. (Open vSwitch's lib/stp.c
    /// asks designated before disabled, so it calls a disabled port, which the protocol makes designated, designated.)</summary>
    public StpRole Role => State == StpState.Disabled ? StpRole.Disabled
        : _b.RootPort is { } r && r.PortId == PortId ? StpRole.Root
        : IsDesignated ? StpRole.Designated
        : StpRole.Alternate;

    internal bool IsDesignated => DesignatedBridge == _b.BridgeId && DesignatedPort == PortId;

    internal void SetState(StpState state)
    {
        if (state != State)
        {
            StateChanged = true;
            StateEnteredMs = _b.NowMs;
        }
        State = state;
    }
}

/// <summary>A timer of the protocol: its value counts up, in 1/256 s, while active.</summary>
internal struct StpTimer
{
    public bool Active;
    public int Value;

    public void Start(int value)
    {
        Value = value;
        Active = true;
    }

    public void Stop() => Active = false;

    /// <summary>Advances the timer by <paramref name="elapsed"/>; true (once, stopping it) when it reaches <paramref name="timeout"/>.</summary>
    public bool Expired(int elapsed, int timeout)
    {
        if (!Active) return false;
        Value += elapsed;
        if (Value < timeout) return false;
        Active = false;
        return true;
    }
}

/// <summary>
/// An IEEE 802.1D (1998) spanning tree bridge: the protocol of the standard's clause 8 as Open vSwitch's lib/stp.c
/// implements it (root selection, designated ports, the blocking → listening → learning → forwarding walk with
/// forward-delay timers, topology change notification and acknowledgement, max-age expiry), driven only by what it is
/// told: BPDUs received (<see cref="Received"/>), elapsed time (<see cref="Tick"/>), ports enabled and disabled. It
/// sends BPDUs through <see cref="IStpTransmit"/> and reports port state changes (<see cref="TryTakeChangedPort"/>)
/// and MAC table flushes (<see cref="TakeFdbFlush"/>), which its host applies to the datapath.
/// </summary>
/// <remarks>
/// <para>Identifiers: a bridge ID is the priority in its top 16 bits over a 48-bit MAC address; a port ID is the
/// priority in its high byte over the port number (1 to 255). Times are kept as on the wire, in 1/256 s.</para>
/// <para>Thread safety: none. The host serialises every call (one lock per bridge); nothing here blocks or allocates
/// once made, so the host may call it from a timer thread.</para>
/// </remarks>
public sealed class StpBridge
{
    public const int MaxPorts = 255;
    public const ushort DefaultBridgePriority = 32768;
    public const byte DefaultPortPriority = 128;
    public const int DefaultHelloTimeMs = 2000, DefaultMaxAgeMs = 20000, DefaultForwardDelayMs = 15000;

    /// <summary>Sizes of the two BPDUs (from the protocol identifier on).</summary>
    public const int ConfigBpduSize = 35, TcnBpduSize = 4;

    private const byte TypeConfig = 0x00, TypeTcn = 0x80;
    private const byte FlagTopologyChange = 0x01, FlagTopologyChangeAck = 0x80;
    private const int MessageAgeIncrement = 1;

    private readonly StpPort[] _ports = new StpPort[MaxPorts];
    private readonly IStpTransmit _tx;
    private readonly byte[] _bpdu = new byte[ConfigBpduSize];
    private int _rqHelloMs = DefaultHelloTimeMs, _rqMaxAgeMs = DefaultMaxAgeMs, _rqForwardDelayMs = DefaultForwardDelayMs;
    private int _elapsedRemainderMs;
    private StpTimer _helloTimer, _tcnTimer, _topologyChangeTimer;
    private bool _topologyChangeDetected, _fdbNeedsFlush;
    private int _firstChanged;

    public StpBridge(string name, ulong bridgeId, IStpTransmit tx)
    {
        Name = name;
        _tx = tx;
        BridgeId = bridgeId;
        DesignatedRoot = bridgeId;
        for (int i = 0; i < MaxPorts; i++) _ports[i] = new StpPort(this, i);
        UpdateBridgeTimers();
        MaxAge = BridgeMaxAge;
        HelloTime = BridgeHelloTime;
        ForwardDelay = BridgeForwardDelay;
        foreach (var p in _ports) InitializePort(p, StpState.Disabled);
        _helloTimer.Start(0);
        _firstChanged = MaxPorts;
    }

    public string Name { get; }
    public ulong BridgeId { get; private set; }
    public ulong DesignatedRoot { get; private set; }
    public int RootPathCost { get; private set; }
    public StpPort? RootPort { get; private set; }
    public bool IsRoot => DesignatedRoot == BridgeId;

    /// <summary>Whether a topology change is being signalled (the TC flag of the BPDUs this bridge sends).</summary>
    public bool TopologyChange { get; private set; }

    /// <summary>Milliseconds of ticks so far (the clock the ports' time in state is read on).</summary>
    public long NowMs { get; private set; }

    /// <summary>The times this bridge uses (the root's, learned from the root port), and its own, in 1/256 s.</summary>
    public int MaxAge { get; private set; }
    public int HelloTime { get; private set; }
    public int ForwardDelay { get; private set; }
    public int BridgeMaxAge { get; private set; }
    public int BridgeHelloTime { get; private set; }
    public int BridgeForwardDelay { get; private set; }

    /// <summary>Port <paramref name="no"/> (0 to <see cref="MaxPorts"/> - 1).</summary>
    public StpPort Port(int no) => _ports[no];

    /// <summary>The ports that take part (any state but disabled).</summary>
    public IEnumerable<StpPort> EnabledPorts
    {
        get
        {
            foreach (var p in _ports)
                if (p.State != StpState.Disabled) yield return p;
        }
    }

    public static int MsToTimer(int ms) => ms * 256 / 1000;
    public static int TimerToMs(int timer) => timer * 1000 / 256;

    /// <summary>Runs the timers for <paramref name="ms"/> milliseconds more (remainders below a timer unit carry over).</summary>
    public void Tick(int ms)
    {
        ms = Math.Clamp(ms, 0, int.MaxValue - 1000);
        NowMs += ms;
        ms += _elapsedRemainderMs;
        int elapsed = MsToTimer(ms);
        _elapsedRemainderMs = ms - TimerToMs(elapsed);
        if (elapsed == 0) return;
        if (_helloTimer.Expired(elapsed, HelloTime)) HelloTimerExpiry();
        if (_tcnTimer.Expired(elapsed, BridgeHelloTime)) TcnTimerExpiry();
        if (_topologyChangeTimer.Expired(elapsed, MaxAge + ForwardDelay)) TopologyChangeTimerExpiry();
        foreach (var p in _ports)
            if (p.State != StpState.Disabled && p.MessageAgeTimer.Expired(elapsed, MaxAge)) MessageAgeTimerExpiry(p);
        foreach (var p in _ports)
        {
            if (p.State == StpState.Disabled) continue;
            if (p.ForwardDelayTimer.Expired(elapsed, ForwardDelay)) ForwardDelayTimerExpiry(p);
            if (p.HoldTimer.Expired(elapsed, MsToTimer(1000))) HoldTimerExpiry(p);
        }
    }

    /// <summary>Sets the bridge's address (the low 48 bits of its ID).</summary>
    public void SetBridgeAddress(ulong mac) => SetBridgeId((BridgeId & ~MacBits) | (mac & MacBits));

    /// <summary>Sets the bridge's priority (the high 16 bits of its ID).</summary>
    public void SetBridgePriority(ushort priority) => SetBridgeId((BridgeId & MacBits) | ((ulong)priority << 48));

    private const ulong MacBits = (1UL << 48) - 1;

    private void SetBridgeId(ulong id)
    {
        if (id == BridgeId) return;
        bool root = IsRoot;
        foreach (var p in _ports)
            if (p.State != StpState.Disabled && p.IsDesignated) p.DesignatedBridge = id;
        BridgeId = id;
        ConfigurationUpdate();
        PortStateSelection();
        if (IsRoot && !root) BecomeRootBridge();
    }

    /// <summary>The bridge's own times, in milliseconds, clamped as 802.1D requires (hello 1-10 s, max-age 6-40 s and at
    /// least twice hello plus 1 s, forward delay up to 30 s and at least half max-age plus 1 s).</summary>
    public void SetTimes(int helloMs, int maxAgeMs, int forwardDelayMs)
    {
        _rqHelloMs = helloMs;
        _rqMaxAgeMs = maxAgeMs;
        _rqForwardDelayMs = forwardDelayMs;
        UpdateBridgeTimers();
    }

    private void UpdateBridgeTimers()
    {
        int ht = Math.Clamp(_rqHelloMs, 1000, 10000);
        int ma = Math.Clamp(_rqMaxAgeMs, Math.Max(2 * (ht + 1000), 6000), 40000);
        int fd = Math.Clamp(_rqForwardDelayMs, ma / 2 + 1000, 30000);
        BridgeHelloTime = MsToTimer(ht);
        BridgeMaxAge = MsToTimer(ma);
        BridgeForwardDelay = MsToTimer(fd);
        if (IsRoot)
        {
            MaxAge = BridgeMaxAge;
            HelloTime = BridgeHelloTime;
            ForwardDelay = BridgeForwardDelay;
        }
    }

    /// <summary>Starts port <paramref name="p"/> (its link came up, or it was added): blocking, then as the tree decides.</summary>
    public void EnablePort(StpPort p)
    {
        if (p.State != StpState.Disabled) return;
        InitializePort(p, StpState.Blocking);
        PortStateSelection();
    }

    /// <summary>Stops port <paramref name="p"/> (link down, removed, or taken out of the protocol).</summary>
    public void DisablePort(StpPort p)
    {
        if (p.State == StpState.Disabled) return;
        bool root = IsRoot;
        BecomeDesignatedPort(p);
        p.SetState(StpState.Disabled);
        MarkChanged(p);
        p.TopologyChangeAck = false;
        p.ConfigPending = false;
        p.MessageAgeTimer.Stop();
        p.ForwardDelayTimer.Stop();
        ConfigurationUpdate();
        PortStateSelection();
        if (IsRoot && !root) BecomeRootBridge();
    }

    /// <summary>Sets port <paramref name="p"/>'s priority (the high byte of its ID).</summary>
    public void SetPortPriority(StpPort p, byte priority)
    {
        var id = (ushort)((p.PortId & 0xff) | (priority << 8));
        if (id == p.PortId) return;
        if (p.IsDesignated) p.DesignatedPort = id;
        p.PortId = id;
        if (BridgeId == p.DesignatedBridge && p.PortId < p.DesignatedPort)
        {
            BecomeDesignatedPort(p);
            PortStateSelection();
        }
    }

    /// <summary>Sets port <paramref name="p"/>'s path cost (1 to 65535).</summary>
    public void SetPathCost(StpPort p, int cost)
    {
        cost = Math.Clamp(cost, 1, 65535);
        if (cost == p.PathCost) return;
        p.PathCost = cost;
        ConfigurationUpdate();
        PortStateSelection();
    }

    /// <summary>The path cost for a link of <paramref name="mbps"/> Mbit/s, as 802.1D's table (0: unknown, taken as 10 Gbit/s).</summary>
    public static int SpeedToCost(long mbps) => mbps >= 10000 ? 2 : mbps >= 1000 ? 4 : mbps >= 100 ? 19 : mbps >= 16 ? 62
        : mbps >= 10 ? 100 : mbps >= 4 ? 250 : 2;

    /// <summary>True (once) when the MAC learning table should be flushed (a topology change).</summary>
    public bool TakeFdbFlush()
    {
        bool flush = _fdbNeedsFlush;
        _fdbNeedsFlush = false;
        return flush;
    }

    /// <summary>A port whose state changed since it was last taken, lowest number first.</summary>
    public bool TryTakeChangedPort(out StpPort port)
    {
        for (int i = _firstChanged; i < MaxPorts; i++)
        {
            if (!_ports[i].StateChanged) continue;
            _ports[i].StateChanged = false;
            _firstChanged = i + 1;
            port = _ports[i];
            return true;
        }
        _firstChanged = MaxPorts;
        port = null!;
        return false;
    }

    private void MarkChanged(StpPort p)
    {
        if (p.StateChanged && p.No < _firstChanged) _firstChanged = p.No;
    }

    private void SetPortState(StpPort p, StpState s)
    {
        p.SetState(s);
        MarkChanged(p);
    }

    /// <summary>
    /// A BPDU received on port <paramref name="p"/>: <paramref name="bpdu"/> from the protocol identifier on (after the
    /// LLC header). A short or unknown BPDU counts as the port's error and changes nothing.
    /// </summary>
    public void Received(StpPort p, ReadOnlySpan<byte> bpdu)
    {
        if (p.State == StpState.Disabled) return;
        if (bpdu.Length < 4 || BinaryPrimitives.ReadUInt16BigEndian(bpdu) != 0)
        {
            p.ErrorCount++;
            return;
        }
        switch (bpdu[3])
        {
            case TypeConfig:
                if (bpdu.Length < ConfigBpduSize)
                {
                    p.ErrorCount++;
                    return;
                }
                ReceivedConfig(p, Config.Read(bpdu));
                break;
            case TypeTcn:
                ReceivedTcn(p);
                break;
            default:
                p.ErrorCount++;
                return;
        }
        p.RxCount++;
    }

    /// <summary>A configuration BPDU's fields (times in 1/256 s).</summary>
    internal readonly record struct Config(byte Flags, ulong RootId, int RootPathCost, ulong BridgeId, ushort PortId,
        int MessageAge, int MaxAge, int HelloTime, int ForwardDelay)
    {
        public static Config Read(ReadOnlySpan<byte> b) => new(b[4], BinaryPrimitives.ReadUInt64BigEndian(b[5..]),
            (int)Math.Min(BinaryPrimitives.ReadUInt32BigEndian(b[13..]), int.MaxValue), BinaryPrimitives.ReadUInt64BigEndian(b[17..]),
            BinaryPrimitives.ReadUInt16BigEndian(b[25..]), BinaryPrimitives.ReadUInt16BigEndian(b[27..]),
            BinaryPrimitives.ReadUInt16BigEndian(b[29..]), BinaryPrimitives.ReadUInt16BigEndian(b[31..]),
            BinaryPrimitives.ReadUInt16BigEndian(b[33..]));
    }

    private void ReceivedConfig(StpPort p, in Config c)
    {
        if (c.MessageAge >= c.MaxAge) return;
        bool root = IsRoot;
        if (SupersedesPortInfo(p, c))
        {
            RecordConfigInformation(p, c);
            ConfigurationUpdate();
            PortStateSelection();
            if (!IsRoot && root)
            {
                _helloTimer.Stop();
                if (_topologyChangeDetected)
                {
                    _topologyChangeTimer.Stop();
                    TransmitTcn();
                    _tcnTimer.Start(0);
                }
            }
            if (p == RootPort)
            {
                MaxAge = c.MaxAge;
                HelloTime = c.HelloTime;
                ForwardDelay = c.ForwardDelay;
                TopologyChange = (c.Flags & FlagTopologyChange) != 0;
                ConfigBpduGeneration();
                if ((c.Flags & FlagTopologyChangeAck) != 0) TopologyChangeAcknowledged();
                if ((c.Flags & FlagTopologyChange) != 0) _fdbNeedsFlush = true;
            }
        }
        else if (p.IsDesignated)
        {
            TransmitConfig(p);
        }
    }

    private void ReceivedTcn(StpPort p)
    {
        if (!p.IsDesignated) return;
        TopologyChangeDetection();
        p.TopologyChangeAck = true;
        TransmitConfig(p);
    }

    private bool SupersedesPortInfo(StpPort p, in Config c)
    {
        if (c.RootId != p.DesignatedRoot) return c.RootId < p.DesignatedRoot;
        if (c.RootPathCost != p.DesignatedCost) return c.RootPathCost < p.DesignatedCost;
        if (c.BridgeId != p.DesignatedBridge) return c.BridgeId < p.DesignatedBridge;
        return c.BridgeId != BridgeId || c.PortId <= p.DesignatedPort;
    }

    private static void RecordConfigInformation(StpPort p, in Config c)
    {
        p.DesignatedRoot = c.RootId;
        p.DesignatedCost = c.RootPathCost;
        p.DesignatedBridge = c.BridgeId;
        p.DesignatedPort = c.PortId;
        p.MessageAgeTimer.Start(c.MessageAge);
    }

    private void TransmitConfig(StpPort p)
    {
        if (p.HoldTimer.Active)
        {
            p.ConfigPending = true;
            return;
        }
        int messageAge = IsRoot || RootPort is null ? 0 : RootPort.MessageAgeTimer.Value + MessageAgeIncrement;
        if (messageAge >= MaxAge) return;
        var b = _bpdu.AsSpan(0, ConfigBpduSize);
        b.Clear();
        b[3] = TypeConfig;
        b[4] = (byte)((p.TopologyChangeAck ? FlagTopologyChangeAck : 0) | (TopologyChange ? FlagTopologyChange : 0));
        BinaryPrimitives.WriteUInt64BigEndian(b[5..], DesignatedRoot);
        BinaryPrimitives.WriteUInt32BigEndian(b[13..], (uint)RootPathCost);
        BinaryPrimitives.WriteUInt64BigEndian(b[17..], BridgeId);
        BinaryPrimitives.WriteUInt16BigEndian(b[25..], p.PortId);
        BinaryPrimitives.WriteUInt16BigEndian(b[27..], (ushort)messageAge);
        BinaryPrimitives.WriteUInt16BigEndian(b[29..], (ushort)MaxAge);
        BinaryPrimitives.WriteUInt16BigEndian(b[31..], (ushort)HelloTime);
        BinaryPrimitives.WriteUInt16BigEndian(b[33..], (ushort)ForwardDelay);
        p.TopologyChangeAck = false;
        p.ConfigPending = false;
        Send(p, b);
        p.HoldTimer.Start(0);
    }

    private void TransmitTcn()
    {
        if (RootPort is not { } p) return;
        var b = _bpdu.AsSpan(0, TcnBpduSize);
        b.Clear();
        b[3] = TypeTcn;
        Send(p, b);
    }

    private void Send(StpPort p, ReadOnlySpan<byte> bpdu)
    {
        _tx.Send(p.No, bpdu);
        p.TxCount++;
    }

    private void ConfigBpduGeneration()
    {
        foreach (var p in _ports)
            if (p.State != StpState.Disabled && p.IsDesignated) TransmitConfig(p);
    }

    private void ConfigurationUpdate()
    {
        RootSelection();
        DesignatedPortSelection();
    }

    private static bool SupersedesRoot(StpPort root, StpPort p)
    {
        long pCost = (long)p.DesignatedCost + p.PathCost, rootCost = (long)root.DesignatedCost + root.PathCost;
        if (p.DesignatedRoot != root.DesignatedRoot) return p.DesignatedRoot < root.DesignatedRoot;
        if (pCost != rootCost) return pCost < rootCost;
        if (p.DesignatedBridge != root.DesignatedBridge) return p.DesignatedBridge < root.DesignatedBridge;
        if (p.DesignatedPort != root.DesignatedPort) return p.DesignatedPort < root.DesignatedPort;
        return p.PortId < root.PortId;
    }

    private void RootSelection()
    {
        StpPort? root = null;
        foreach (var p in _ports)
        {
            if (p.State == StpState.Disabled || p.IsDesignated || p.DesignatedRoot >= BridgeId) continue;
            if (root is not null && !SupersedesRoot(root, p)) continue;
            root = p;
        }
        RootPort = root;
        if (root is null)
        {
            DesignatedRoot = BridgeId;
            RootPathCost = 0;
        }
        else
        {
            DesignatedRoot = root.DesignatedRoot;
            RootPathCost = (int)Math.Min((long)root.DesignatedCost + root.PathCost, int.MaxValue);
        }
    }

    private void DesignatedPortSelection()
    {
        foreach (var p in _ports)
        {
            if (p.State == StpState.Disabled) continue;
            if (p.IsDesignated || p.DesignatedRoot != DesignatedRoot || RootPathCost < p.DesignatedCost
                || (RootPathCost == p.DesignatedCost && (BridgeId < p.DesignatedBridge
                    || (BridgeId == p.DesignatedBridge && p.PortId <= p.DesignatedPort))))
            {
                BecomeDesignatedPort(p);
            }
        }
    }

    private void BecomeDesignatedPort(StpPort p)
    {
        p.DesignatedRoot = DesignatedRoot;
        p.DesignatedCost = RootPathCost;
        p.DesignatedBridge = BridgeId;
        p.DesignatedPort = p.PortId;
    }

    private void PortStateSelection()
    {
        foreach (var p in _ports)
        {
            if (p.State == StpState.Disabled) continue;
            if (p == RootPort)
            {
                p.ConfigPending = false;
                p.TopologyChangeAck = false;
                MakeForwarding(p);
            }
            else if (p.IsDesignated)
            {
                p.MessageAgeTimer.Stop();
                MakeForwarding(p);
            }
            else
            {
                p.ConfigPending = false;
                p.TopologyChangeAck = false;
                MakeBlocking(p);
            }
        }
    }

    private void MakeForwarding(StpPort p)
    {
        if (p.State != StpState.Blocking) return;
        SetPortState(p, StpState.Listening);
        p.ForwardDelayTimer.Start(0);
    }

    private void MakeBlocking(StpPort p)
    {
        if (p.State is StpState.Disabled or StpState.Blocking) return;
        if (p.State is StpState.Forwarding or StpState.Learning && p.ChangeDetectionEnabled) TopologyChangeDetection();
        SetPortState(p, StpState.Blocking);
        p.ForwardDelayTimer.Stop();
    }

    /// <summary>A topology change seen here (a port began or stopped forwarding): the root signals it for max-age plus
    /// forward-delay, any other bridge notifies the root (TCN, again every hello time until acknowledged); the MAC table
    /// is flushed.</summary>
    public void TopologyChangeDetection()
    {
        if (IsRoot)
        {
            TopologyChange = true;
            _topologyChangeTimer.Start(0);
        }
        else if (!_topologyChangeDetected)
        {
            TransmitTcn();
            _tcnTimer.Start(0);
        }
        _fdbNeedsFlush = true;
        _topologyChangeDetected = true;
    }

    private void TopologyChangeAcknowledged()
    {
        _topologyChangeDetected = false;
        _tcnTimer.Stop();
    }

    private void HelloTimerExpiry()
    {
        ConfigBpduGeneration();
        _helloTimer.Start(0);
    }

    private void MessageAgeTimerExpiry(StpPort p)
    {
        bool root = IsRoot;
        BecomeDesignatedPort(p);
        ConfigurationUpdate();
        PortStateSelection();
        if (IsRoot && !root) BecomeRootBridge();
    }

    private bool IsDesignatedForSomePort()
    {
        foreach (var p in _ports)
            if (p.State != StpState.Disabled && p.DesignatedBridge == BridgeId) return true;
        return false;
    }

    private void ForwardDelayTimerExpiry(StpPort p)
    {
        if (p.State == StpState.Listening)
        {
            SetPortState(p, StpState.Learning);
            p.ForwardDelayTimer.Start(0);
        }
        else if (p.State == StpState.Learning)
        {
            SetPortState(p, StpState.Forwarding);
            if (IsDesignatedForSomePort() && p.ChangeDetectionEnabled) TopologyChangeDetection();
        }
    }

    private void TcnTimerExpiry()
    {
        TransmitTcn();
        _tcnTimer.Start(0);
    }

    private void TopologyChangeTimerExpiry()
    {
        _topologyChangeDetected = false;
        TopologyChange = false;
    }

    private void HoldTimerExpiry(StpPort p)
    {
        if (p.ConfigPending) TransmitConfig(p);
    }

    private void InitializePort(StpPort p, StpState state)
    {
        BecomeDesignatedPort(p);
        // A port made disabled is no change to report.
        if (p.State != StpState.Disabled || state != StpState.Disabled) SetPortState(p, state);
        p.TopologyChangeAck = false;
        p.ConfigPending = false;
        p.ChangeDetectionEnabled = true;
        p.MessageAgeTimer.Stop();
        p.ForwardDelayTimer.Stop();
        p.HoldTimer.Stop();
        p.TxCount = p.RxCount = p.ErrorCount = 0;
    }

    private void BecomeRootBridge()
    {
        MaxAge = BridgeMaxAge;
        HelloTime = BridgeHelloTime;
        ForwardDelay = BridgeForwardDelay;
        TopologyChangeDetection();
        _tcnTimer.Stop();
        ConfigBpduGeneration();
        _helloTimer.Start(0);
    }
}
