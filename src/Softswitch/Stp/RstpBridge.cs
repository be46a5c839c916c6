using System.Buffers.Binary;

namespace Softswitch.Stp;

/// <summary>An 802.1w port state (Open vSwitch's lib/rstp.h enum rstp_state).</summary>
public enum RstpState : byte
{
    Disabled,
    Learning,
    Forwarding,
    Discarding,
}

/// <summary>An 802.1w port role (Open vSwitch's lib/rstp.h enum rstp_port_role).</summary>
public enum RstpRole : byte
{
    Root,
    Designated,
    Alternate,
    Backup,
    Disabled,
}

/// <summary>A port's administrative point-to-point setting (rstp-admin-p2p-mac: 0 force false, 1 force true, 2 auto).</summary>
public enum RstpPointToPoint : byte
{
    ForceFalse,
    ForceTrue,
    Auto,
}

/// <summary>A spanning tree priority vector (802.1D-2004 17.5): root, cost to it, designated bridge and port, and the
/// port it was received on.</summary>
internal struct RstpVector
{
    public ulong RootId;
    public uint RootPathCost;
    public ulong DesignatedBridgeId;
    public ushort DesignatedPortId;
    public ushort BridgePortId;

    /// <summary>Compares as 17.6 (and Open vSwitch's compare_rstp_priority_vectors): superior when better, or when it
    /// comes from the same designated bridge and port; the same when all equal.</summary>
    public static RstpCompare Compare(in RstpVector a, in RstpVector b)
    {
        bool sameDesignated = a.RootId == b.RootId && a.RootPathCost == b.RootPathCost
            && a.DesignatedBridgeId == b.DesignatedBridgeId && a.DesignatedPortId == b.DesignatedPortId;
        if (sameDesignated)
            return a.BridgePortId < b.BridgePortId ? RstpCompare.Superior : a.BridgePortId > b.BridgePortId ? RstpCompare.Inferior : RstpCompare.Same;
        if (a.RootId != b.RootId) return a.RootId < b.RootId || SameSender(a, b) ? RstpCompare.Superior : RstpCompare.Inferior;
        if (a.RootPathCost != b.RootPathCost) return a.RootPathCost < b.RootPathCost || SameSender(a, b) ? RstpCompare.Superior : RstpCompare.Inferior;
        if (a.DesignatedBridgeId != b.DesignatedBridgeId) return a.DesignatedBridgeId < b.DesignatedBridgeId ? RstpCompare.Superior : RstpCompare.Inferior;
        return a.DesignatedPortId < b.DesignatedPortId ? RstpCompare.Superior : RstpCompare.Inferior;
    }

    private static bool SameSender(in RstpVector a, in RstpVector b)
        => a.DesignatedBridgeId == b.DesignatedBridgeId && a.DesignatedPortId == b.DesignatedPortId;

    public readonly bool Equal4(in RstpVector b) => RootId == b.RootId && RootPathCost == b.RootPathCost
        && DesignatedBridgeId == b.DesignatedBridgeId && DesignatedPortId == b.DesignatedPortId;
}

internal enum RstpCompare : byte
{
    Inferior,
    Superior,
    Same,
}

/// <summary>The times a BPDU carries, in whole seconds (17.19.22).</summary>
internal struct RstpTimes
{
    public int MessageAge, MaxAge, ForwardDelay, HelloTime;

    public readonly bool Equal(in RstpTimes b) => MessageAge == b.MessageAge && MaxAge == b.MaxAge
        && ForwardDelay == b.ForwardDelay && HelloTime == b.HelloTime;
}

/// <summary>
/// One port of an <see cref="RstpBridge"/>: its identifier (priority in the high 4 bits, number in the low 12, as
/// Open vSwitch's set_port_id__), path cost, settings, the 802.1D-2004 clause 17 variables and timers of its state
/// machines, and its BPDU counts. Read and changed only under the bridge's lock.
/// </summary>
public sealed class RstpPort
{
    internal RstpPort(int number)
    {
        Number = number;
        Priority = RstpBridge.DefaultPortPriority;
        PathCost = RstpBridge.DefaultPortPathCost;
        PortId = (ushort)(number | (Priority << 8));
    }

    /// <summary>The port number, 1 to <see cref="RstpBridge.MaxPorts"/>.</summary>
    public int Number { get; }

    /// <summary>The port's name (for rstp/show and log lines).</summary>
    public string Name { get; set; } = "";

    public ushort PortId { get; internal set; }
    public int Priority { get; internal set; }
    public uint PathCost { get; internal set; }
    public RstpState State { get; internal set; }
    public RstpRole Role { get; internal set; } = RstpRole.Disabled;
    public long TxCount { get; internal set; }
    public long RxCount { get; internal set; }
    public long ErrorCount { get; internal set; }

    /// <summary>Seconds the port has been in the protocol (rstp_uptime).</summary>
    public long Uptime { get; internal set; }

    public bool AdminEdge { get; internal set; }
    public bool AutoEdge { get; internal set; } = true;
    public RstpPointToPoint AdminPointToPoint { get; internal set; } = RstpPointToPoint.ForceTrue;
    public bool AdminPortState { get; internal set; } = true;

    /// <summary>Whether the link is up (MAC operational).</summary>
    public bool MacOperational { get; internal set; }

    /// <summary>Whether the port is an edge port now (operEdge).</summary>
    public bool OperEdge => _operEdge;

    /// <summary>Whether the port sends RST BPDUs (false: it talks 802.1D with a legacy neighbour, or the bridge is forced to).</summary>
    public bool SendRstp => _sendRstp;

    /// <summary>What the port last recorded of the segment's designated bridge (rstp_designated_*).</summary>
    public ulong DesignatedBridgeId => _portPriority.DesignatedBridgeId;
    public ushort DesignatedPortId => _portPriority.DesignatedPortId;
    public uint DesignatedPathCost => _portPriority.RootPathCost;

    internal bool StateChanged, FlushPending, Begin = true;

    // 17.19: per-port variables.
    internal bool _agree, _agreed, _fdbFlush, _forward, _forwarding, _learn, _learning, _mcheck, _newInfo, _operEdge,
        _portEnabled, _proposed, _proposing, _rcvdBpdu, _rcvdMsg, _rcvdRstp, _rcvdStp, _rcvdTc, _rcvdTcAck, _rcvdTcn,
        _reRoot, _reselect, _selected, _sendRstp, _sync, _synced, _tcAck, _tcProp, _updtInfo;
    internal InfoIs _infoIs;
    internal RcvdInfo _rcvdInfo;
    internal RstpRole _selectedRole = RstpRole.Disabled;
    internal RstpVector _portPriority, _designatedPriority, _msgPriority;
    internal RstpTimes _portTimes, _designatedTimes, _msgTimes;
    // 17.17: timers, in seconds.
    internal int _edgeDelayWhile, _fdWhile, _helloWhen, _mdelayWhile, _rbWhile, _rcvdInfoWhile, _rrWhile, _tcWhile, _txCount;

    // The received BPDU (kept until the receive machine takes it).
    internal byte _rxType, _rxFlags;

    // The state of each machine.
    internal Prx _prx;
    internal Ppm _ppm;
    internal Bdm _bdm;
    internal Ptx _ptx;
    internal Pim _pim;
    internal Prt _prt;
    internal Pst _pst;
    internal Tcm _tcm;

    internal bool OperPointToPoint => AdminPointToPoint != RstpPointToPoint.ForceFalse;
}

internal enum InfoIs : byte { Disabled, Received, Aged, Mine }
internal enum RcvdInfo : byte { Other, SuperiorDesignated, RepeatedDesignated, InferiorDesignated, InferiorRootAlternate }
internal enum Prx : byte { Init, Discard, Receive }
internal enum Ppm : byte { Init, CheckingRstp, SelectingStp, Sensing }
internal enum Bdm : byte { Init, Edge, NotEdge }
internal enum Ptx : byte { Init, TransmitInit, TransmitPeriodic, TransmitConfig, TransmitTcn, TransmitRstp, Idle }
internal enum Pim : byte { Init, Disabled, Aged, Update, SuperiorDesignated, RepeatedDesignated, InferiorDesignated, NotDesignated, Other, Current, Receive }
internal enum Prt : byte
{
    Init, InitPort, DisablePort, DisabledPort, RootPort, RootProposed, RootAgreed, Reroot, RootForward, RootLearn, Rerooted,
    DesignatedPort, DesignatedPropose, DesignatedSynced, DesignatedRetired, DesignatedDiscard, DesignatedLearn, DesignatedForward,
    BlockPort, AlternatePort, AlternateProposed, AlternateAgreed, BackupPort,
}
internal enum Pst : byte { Init, Discarding, Learning, Forwarding }
internal enum Tcm : byte { Init, Inactive, Learning, Detected, Active, NotifiedTcn, NotifiedTc, Propagating, Acknowledged }

/// <summary>
/// An IEEE 802.1w (802.1D-2004 clause 17) Rapid Spanning Tree bridge, as Open vSwitch's lib/rstp.c and
/// lib/rstp-state-machines.c implement it: the port information, role selection, role transition, state transition,
/// topology change, protocol migration, bridge detection, transmit and receive state machines, run until nothing moves
/// after each event. Driven only by what it is told: BPDUs received (<see cref="Received"/>), elapsed time
/// (<see cref="Tick"/>: the timers count whole seconds, as Open vSwitch's), links up and down
/// (<see cref="SetMacOperational"/>) and settings. Sends BPDUs through <see cref="IStpTransmit"/> (RST BPDUs, or 802.1D
/// configuration and TCN BPDUs on a port whose neighbour speaks only 802.1D) and reports port state changes
/// (<see cref="TryTakeChangedPort"/>) and the ports whose learned addresses are to be flushed (<see cref="TryTakeFdbFlush"/>).
/// </summary>
/// <remarks>
/// <para>Identifiers: a bridge ID is the priority (a multiple of 4096) in its top 16 bits over a 48-bit MAC address; a
/// port ID is the priority (a multiple of 16) in its high byte, or-ed with the port number (1 to 4095).</para>
/// <para>Thread safety: none. The host serialises every call; nothing here blocks, and nothing allocates per BPDU or
/// per tick.</para>
/// </remarks>
public sealed class RstpBridge
{
    public const int MaxPorts = 4095;
    public const int DefaultPriority = 32768, PriorityStep = 4096, MaxPriority = 61440;
    public const int DefaultPortPriority = 128, PortPriorityStep = 16, MaxPortPriority = 240;
    public const int DefaultAgeingTime = 300, MinAgeingTime = 10, MaxAgeingTime = 1000000;
    public const int DefaultMaxAge = 20, MinMaxAge = 6, MaxMaxAge = 40;
    public const int DefaultForwardDelay = 15, MinForwardDelay = 4, MaxForwardDelay = 30;
    public const int DefaultTransmitHoldCount = 6, MinTransmitHoldCount = 1, MaxTransmitHoldCount = 10;
    /// <summary>Fixed by 802.1D-2004 table 17-1.</summary>
    public const int HelloTime = 2, MigrateTime = 3;
    public const uint DefaultPortPathCost = 2000, MinPortPathCost = 1, MaxPortPathCost = 200000000;

    /// <summary>Sizes of the BPDUs (from the protocol identifier on).</summary>
    public const int RstBpduSize = 36, ConfigBpduSize = 35, TcnBpduSize = 4;

    private const byte TypeConfig = 0x00, TypeTcn = 0x80, TypeRst = 0x02;
    private const byte FlagTc = 0x01, FlagProposal = 0x02, FlagLearning = 0x10, FlagForwarding = 0x20, FlagAgreement = 0x40, FlagTcAck = 0x80;
    private const int RoleShift = 2, RoleMask = 0x0C;
    private const int RoleFlagAltBackup = 1, RoleFlagRoot = 2, RoleFlagDesignated = 3;
    private const int MaxIterations = 1000;

    private readonly RstpPort?[] _byNumber = new RstpPort?[MaxPorts + 1];
    private readonly List<RstpPort> _ports = [];
    private readonly IStpTransmit _tx;
    private readonly byte[] _bpdu = new byte[RstBpduSize];
    private int _elapsedMs;
    private bool _changes;
    private int _firstChanged;
    private RstpVector _bridgePriority, _rootPriority;
    private RstpTimes _bridgeTimes, _rootTimes;
    private ushort _rootPortId;

    /// <summary>A new bridge of <paramref name="address"/> (48 bits) with Open vSwitch's defaults.</summary>
    public RstpBridge(string name, ulong address, IStpTransmit tx)
    {
        Name = name;
        _tx = tx;
        Address = address & MacBits;
        Priority = DefaultPriority;
        BridgeMaxAge = DefaultMaxAge;
        BridgeForwardDelay = DefaultForwardDelay;
        BridgeId = ((ulong)Priority << 48) | Address;
        _bridgeTimes = new RstpTimes { MaxAge = BridgeMaxAge, ForwardDelay = BridgeForwardDelay, HelloTime = HelloTime };
        UpdateBridgePriority();
    }

    public string Name { get; }
    public ulong Address { get; private set; }
    public int Priority { get; private set; }
    public ulong BridgeId { get; private set; }
    public int AgeingTime { get; private set; } = DefaultAgeingTime;
    public int ForceProtocolVersion { get; private set; } = 2;
    public int BridgeMaxAge { get; private set; }
    public int BridgeForwardDelay { get; private set; }
    public int TransmitHoldCount { get; private set; } = DefaultTransmitHoldCount;

    /// <summary>The root's identifier, the cost to it, and the designated bridge and port of the root priority vector
    /// (rstp_root_id, rstp_root_path_cost, rstp_designated_id, rstp_designated_port_id, rstp_bridge_port_id).</summary>
    public ulong RootId => _rootPriority.RootId;
    public uint RootPathCost => _rootPriority.RootPathCost;
    public ulong DesignatedId => _rootPriority.DesignatedBridgeId;
    public ushort DesignatedPortId => _rootPriority.DesignatedPortId;
    public ushort BridgePortId => _rootPriority.BridgePortId;

    /// <summary>Whether this bridge is the root (as Open vSwitch's rstp_is_root_bridge__).</summary>
    public bool IsRoot => BridgeId == _rootPriority.DesignatedBridgeId;

    /// <summary>The times learned from the root port (the bridge's own when it is the root).</summary>
    public int RootHelloTime => _rootTimes.HelloTime;
    public int RootMaxAge => _rootTimes.MaxAge;
    public int RootForwardDelay => _rootTimes.ForwardDelay;

    /// <summary>The root port, or null.</summary>
    public RstpPort? RootPort => _rootPortId == 0 ? null : _byNumber[_rootPortId & 0x0fff] is { } p && p.PortId == _rootPortId ? p : null;

    /// <summary>The ports, in the order they were added.</summary>
    public IReadOnlyList<RstpPort> Ports => _ports;

    private bool RstpVersion => ForceProtocolVersion >= 2;
    private const ulong MacBits = (1UL << 48) - 1;

    /// <summary>Port number <paramref name="number"/>, or null.</summary>
    public RstpPort? Port(int number) => number is >= 1 and <= MaxPorts ? _byNumber[number] : null;

    /// <summary>Adds port <paramref name="number"/> (1 to <see cref="MaxPorts"/>, free): its link down until told, its
    /// machines at BEGIN. Null when the number is out of range or taken.</summary>
    public RstpPort? AddPort(int number)
    {
        if (number is < 1 or > MaxPorts || _byNumber[number] is not null) return null;
        var p = new RstpPort(number);
        _byNumber[number] = p;
        _ports.Add(p);
        p.State = RstpState.Discarding;
        p.StateChanged = true;
        _firstChanged = 0;
        InitPort(p);
        Move();
        return p;
    }

    /// <summary>Removes port <paramref name="p"/> from the protocol (its state becomes disabled, not reported: the host drops it).</summary>
    public void RemovePort(RstpPort p)
    {
        if (_byNumber[p.Number] != p) return;
        _byNumber[p.Number] = null;
        _ports.Remove(p);
        p.State = RstpState.Disabled;
        p.StateChanged = p.FlushPending = false;
        // The ports after it moved down one place: look for changes from the start.
        _firstChanged = 0;
        foreach (var q in _ports) Reselect(q);
        _changes = true;
        Move();
    }

    /// <summary>A port's machines back to BEGIN (Open vSwitch's reinitialize_port__ on a port added).</summary>
    private void InitPort(RstpPort p)
    {
        p.Begin = true;
        p._prx = Prx.Init;
        p._ppm = Ppm.Init;
        p._bdm = Bdm.Init;
        p._ptx = Ptx.Init;
        p._pim = Pim.Init;
        p._prt = Prt.Init;
        p._pst = Pst.Init;
        p._tcm = Tcm.Init;
        p._designatedTimes = _bridgeTimes;
        p._portTimes = _bridgeTimes;
        p._designatedPriority = _bridgePriority;
        p._designatedPriority.DesignatedPortId = p.PortId;
        p._designatedPriority.BridgePortId = p.PortId;
        p._selectedRole = RstpRole.Disabled;
        p._portPriority = p._designatedPriority;
        p.Uptime = 0;
        UpdatePortEnabled(p);
        _changes = true;
    }

    /// <summary>Sets the bridge's address (the low 48 bits of its ID).</summary>
    public void SetAddress(ulong address)
    {
        address &= MacBits;
        if (address == Address) return;
        Address = address;
        BridgeId = (BridgeId & ~MacBits) | address;
        UpdateBridgePriority();
    }

    /// <summary>Sets the bridge's priority, rounded down to a multiple of 4096; false (nothing changed) when out of 0 to 61440.</summary>
    public bool SetPriority(int priority)
    {
        if (priority is < 0 or > MaxPriority) return false;
        priority -= priority % PriorityStep;
        if (priority == Priority) return true;
        Priority = priority;
        BridgeId = ((ulong)priority << 48) | Address;
        UpdateBridgePriority();
        return true;
    }

    private void UpdateBridgePriority()
    {
        _bridgePriority = new RstpVector { RootId = BridgeId, DesignatedBridgeId = BridgeId };
        foreach (var p in _ports) Reselect(p);
        _changes = true;
        UpdateRolesTree();
        Move();
    }

    private static void Reselect(RstpPort p)
    {
        p._selected = false;
        p._reselect = true;
    }

    /// <summary>Sets the MAC ageing time (seconds); false when out of 10 to 1000000.</summary>
    public bool SetAgeingTime(int seconds)
    {
        if (seconds is < MinAgeingTime or > MaxAgeingTime) return false;
        AgeingTime = seconds;
        return true;
    }

    /// <summary>Sets the force protocol version: 0 (STP compatibility: 802.1D BPDUs only) or 2 (RSTP); a change restarts
    /// the protocol (BEGIN). False for any other value.</summary>
    public bool SetForceProtocolVersion(int version)
    {
        if (version is not (0 or 2)) return false;
        if (version == ForceProtocolVersion) return true;
        ForceProtocolVersion = version;
        foreach (var p in _ports) InitPort(p);
        Move();
        return true;
    }

    /// <summary>Sets the bridge's max age and forward delay (seconds), as Open vSwitch sets them one after the other:
    /// each only within its range (6 to 40, 4 to 30) and only while 2 × (forward delay - 1) ≥ max age ≥ 2 × hello time
    /// (17.13). Returns whether both took effect.</summary>
    public bool SetTimes(int maxAge, int forwardDelay)
    {
        bool ok = SetMaxAge(maxAge);
        ok &= SetForwardDelay(forwardDelay);
        // A max age refused only for the old forward delay takes once the new forward delay allows it.
        if (!ok && BridgeMaxAge != maxAge) ok = SetMaxAge(maxAge) && BridgeForwardDelay == forwardDelay;
        return ok;
    }

    private bool SetMaxAge(int maxAge)
    {
        if (maxAge is < MinMaxAge or > MaxMaxAge) return false;
        if (maxAge == BridgeMaxAge) return true;
        if (2 * (BridgeForwardDelay - 1) < maxAge || maxAge < 2 * HelloTime) return false;
        BridgeMaxAge = maxAge;
        _bridgeTimes.MaxAge = maxAge;
        _changes = true;
        UpdateRolesTree();
        Move();
        return true;
    }

    private bool SetForwardDelay(int forwardDelay)
    {
        if (forwardDelay is < MinForwardDelay or > MaxForwardDelay) return false;
        if (forwardDelay == BridgeForwardDelay) return true;
        if (2 * (forwardDelay - 1) < BridgeMaxAge) return false;
        BridgeForwardDelay = forwardDelay;
        _bridgeTimes.ForwardDelay = forwardDelay;
        _changes = true;
        UpdateRolesTree();
        Move();
        return true;
    }

    /// <summary>Sets the transmit hold count (BPDUs a port may send per second); false when out of 1 to 10.</summary>
    public bool SetTransmitHoldCount(int count)
    {
        if (count is < MinTransmitHoldCount or > MaxTransmitHoldCount) return false;
        if (count == TransmitHoldCount) return true;
        TransmitHoldCount = count;
        foreach (var p in _ports) p._txCount = 0;
        return true;
    }

    /// <summary>Sets port <paramref name="p"/>'s priority, rounded down to a multiple of 16; false when out of 0 to 240.</summary>
    public bool SetPortPriority(RstpPort p, int priority)
    {
        if (priority is < 0 or > MaxPortPriority) return false;
        priority -= priority % PortPriorityStep;
        if (priority == p.Priority) return true;
        p.Priority = priority;
        p.PortId = (ushort)(p.Number | (priority << 8));
        Reselect(p);
        _changes = true;
        Move();
        return true;
    }

    /// <summary>Sets port <paramref name="p"/>'s path cost; false when out of 1 to 200000000.</summary>
    public bool SetPathCost(RstpPort p, uint cost)
    {
        if (cost is < MinPortPathCost or > MaxPortPathCost) return false;
        if (cost == p.PathCost) return true;
        p.PathCost = cost;
        Reselect(p);
        _changes = true;
        Move();
        return true;
    }

    /// <summary>Sets port <paramref name="p"/>'s edge settings: admin-edge (it starts as an edge port) and auto-edge (it
    /// becomes one when no BPDU arrives within the edge delay).</summary>
    public void SetEdge(RstpPort p, bool adminEdge, bool autoEdge)
    {
        if (p.AdminEdge == adminEdge && p.AutoEdge == autoEdge) return;
        p.AdminEdge = adminEdge;
        p.AutoEdge = autoEdge;
        if (adminEdge) p._operEdge = true;
        _changes = true;
        Move();
    }

    /// <summary>Sets port <paramref name="p"/>'s administrative point-to-point state (auto is taken as point-to-point:
    /// every link here is full duplex).</summary>
    public void SetPointToPoint(RstpPort p, RstpPointToPoint p2p)
    {
        if (p.AdminPointToPoint == p2p) return;
        p.AdminPointToPoint = p2p;
        _changes = true;
        Move();
    }

    /// <summary>Sets whether port <paramref name="p"/> is administratively a bridge port (rstp-admin-port-state).</summary>
    public void SetAdminPortState(RstpPort p, bool enabled)
    {
        if (p.AdminPortState == enabled) return;
        p.AdminPortState = enabled;
        UpdatePortEnabled(p);
        Move();
    }

    /// <summary>Forces port <paramref name="p"/> to try RST BPDUs again (mcheck: after a legacy neighbour left); no
    /// effect in STP compatibility mode.</summary>
    public void Mcheck(RstpPort p)
    {
        if (!RstpVersion) return;
        p._mcheck = true;
        _changes = true;
        Move();
    }

    /// <summary>Tells the port's link state (the MAC is operational while the link is up).</summary>
    public void SetMacOperational(RstpPort p, bool up)
    {
        if (p.MacOperational == up) return;
        p.MacOperational = up;
        UpdatePortEnabled(p);
        Move();
    }

    private void UpdatePortEnabled(RstpPort p)
    {
        bool enabled = p.MacOperational && p.AdminPortState;
        if (enabled == p._portEnabled) return;
        p._portEnabled = enabled;
        _changes = true;
    }

    /// <summary>Runs the timers for <paramref name="ms"/> milliseconds more: every whole second counts each timer down
    /// by one (remainders carry over).</summary>
    public void Tick(int ms)
    {
        _elapsedMs += Math.Clamp(ms, 0, 3_600_000);
        while (_elapsedMs >= 1000)
        {
            _elapsedMs -= 1000;
            foreach (var p in _ports)
            {
                Dec(ref p._helloWhen);
                Dec(ref p._tcWhile);
                Dec(ref p._fdWhile);
                Dec(ref p._rcvdInfoWhile);
                Dec(ref p._rrWhile);
                Dec(ref p._rbWhile);
                Dec(ref p._mdelayWhile);
                Dec(ref p._edgeDelayWhile);
                Dec(ref p._txCount);
                p.Uptime++;
            }
            _changes = true;
            Move();
        }
    }

    private static void Dec(ref int timer)
    {
        if (timer > 0) timer--;
    }

    /// <summary>
    /// A BPDU received on port <paramref name="p"/> (from the protocol identifier on): an RST BPDU, or an 802.1D
    /// configuration or TCN BPDU. A BPDU that is short, of another protocol or type, or a configuration BPDU this very
    /// port sent (a loop back to itself) counts as the port's error and changes nothing (Open vSwitch's
    /// validate_received_bpdu); so does any BPDU while the port is disabled, uncounted.
    /// </summary>
    public void Received(RstpPort p, ReadOnlySpan<byte> bpdu)
    {
        if (!p._portEnabled || p._rcvdBpdu) return;
        if (bpdu.Length < TcnBpduSize || BinaryPrimitives.ReadUInt16BigEndian(bpdu) != 0)
        {
            p.ErrorCount++;
            return;
        }
        byte type = bpdu[3];
        // An RST BPDU of unknown role is taken as a configuration BPDU (9.2.9).
        if (type == TypeRst && bpdu.Length >= RstBpduSize && ((bpdu[4] & RoleMask) >> RoleShift) == 0) type = TypeConfig;
        bool valid = type switch
        {
            TypeConfig => bpdu.Length >= ConfigBpduSize && Time(bpdu, 27) < Time(bpdu, 29)
                && (BinaryPrimitives.ReadUInt64BigEndian(bpdu[17..]) != BridgeId || BinaryPrimitives.ReadUInt16BigEndian(bpdu[25..]) != p.PortId),
            TypeTcn => true,
            TypeRst => bpdu.Length >= RstBpduSize,
            _ => false,
        };
        if (!valid)
        {
            p.ErrorCount++;
            return;
        }
        p._rxType = type;
        p._rxFlags = type == TypeTcn ? (byte)0 : bpdu[4];
        if (type != TypeTcn)
        {
            p._msgPriority = new RstpVector
            {
                RootId = BinaryPrimitives.ReadUInt64BigEndian(bpdu[5..]),
                RootPathCost = BinaryPrimitives.ReadUInt32BigEndian(bpdu[13..]),
                DesignatedBridgeId = BinaryPrimitives.ReadUInt64BigEndian(bpdu[17..]),
                DesignatedPortId = BinaryPrimitives.ReadUInt16BigEndian(bpdu[25..]),
                BridgePortId = p.PortId,
            };
            p._msgTimes = new RstpTimes { MessageAge = Time(bpdu, 27), MaxAge = Time(bpdu, 29), HelloTime = Time(bpdu, 31), ForwardDelay = Time(bpdu, 33) };
        }
        p._rcvdBpdu = true;
        p.RxCount++;
        _changes = true;
        Move();
    }

    /// <summary>A time field (1/256 s on the wire) in whole seconds.</summary>
    private static int Time(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt16BigEndian(b[at..]) >> 8;

    /// <summary>A port whose state changed since it was last taken, in the order ports were added.</summary>
    public bool TryTakeChangedPort(out RstpPort port)
    {
        for (int i = _firstChanged; i < _ports.Count; i++)
        {
            if (!_ports[i].StateChanged) continue;
            _ports[i].StateChanged = false;
            _firstChanged = i + 1;
            port = _ports[i];
            return true;
        }
        _firstChanged = _ports.Count;
        port = null!;
        return false;
    }

    /// <summary>A port whose learned addresses are to be flushed (a topology change), taken once.</summary>
    public bool TryTakeFdbFlush(out RstpPort port)
    {
        foreach (var p in _ports)
        {
            if (!p.FlushPending) continue;
            p.FlushPending = false;
            port = p;
            return true;
        }
        port = null!;
        return false;
    }

    private void SetState(RstpPort p, RstpState s)
    {
        if (p.State == s) return;
        p.State = s;
        p.StateChanged = true;
        int i = _ports.IndexOf(p);
        if (i >= 0 && i < _firstChanged) _firstChanged = i;
    }

    /// <summary>Moves every machine until none does (Open vSwitch's move_rstp__).</summary>
    private void Move()
    {
        int n = 0;
        while (_changes && n++ < MaxIterations)
        {
            _changes = false;
            PortRoleSelection();
            foreach (var p in _ports)
            {
                PortReceive(p);
                BridgeDetection(p);
                PortInformation(p);
                PortRoleTransition(p);
                PortStateTransition(p);
                TopologyChangeMachine(p);
                PortTransmit(p);
                PortProtocolMigration(p);
                p.Begin = false;
            }
        }
    }

    // ---- 17.28 Port Role Selection ----------------------------------------------------------------------------------

    private bool _prsInit;

    private void PortRoleSelection()
    {
        if (!_prsInit)
        {
            _prsInit = true;
            foreach (var p in _ports) p._selectedRole = RstpRole.Disabled;
            _changes = true;
        }
        bool reselect = false;
        foreach (var p in _ports) reselect |= p._reselect;
        if (!reselect) return;
        foreach (var p in _ports) p._reselect = false;
        UpdateRolesTree();
        foreach (var p in _ports)
            if (p._reselect) return;
        foreach (var p in _ports) p._selected = true;
        _changes = true;
    }

    /// <summary>17.21.25 updtRolesTree: the root priority vector, each port's designated priority vector and times, and
    /// each port's selected role.</summary>
    private void UpdateRolesTree()
    {
        var best = _bridgePriority;
        RstpPort? root = null;
        _rootTimes = _bridgeTimes;
        foreach (var p in _ports)
        {
            if (p._infoIs != InfoIs.Received) continue;
            var candidate = p._portPriority;
            candidate.BridgePortId = p.PortId;
            candidate.RootPathCost = (uint)Math.Min((ulong)candidate.RootPathCost + p.PathCost, uint.MaxValue);
            // A vector whose designated bridge has this bridge's address is this bridge's own (a loop back).
            if ((candidate.DesignatedBridgeId & MacBits) == (BridgeId & MacBits)) continue;
            if (RstpVector.Compare(candidate, best) != RstpCompare.Superior) continue;
            best = candidate;
            root = p;
            _rootTimes = p._portTimes;
            _rootTimes.MessageAge++;
        }
        _rootPriority = best;
        _rootPortId = root is null ? (ushort)0 : best.BridgePortId;
        foreach (var p in _ports)
        {
            p._designatedPriority = new RstpVector
            {
                RootId = _rootPriority.RootId,
                RootPathCost = _rootPriority.RootPathCost,
                DesignatedBridgeId = BridgeId,
                DesignatedPortId = p.PortId,
                BridgePortId = p.PortId,
            };
            p._designatedTimes = _rootTimes;
            p._designatedTimes.HelloTime = _bridgeTimes.HelloTime;
        }
        foreach (var p in _ports)
        {
            switch (p._infoIs)
            {
                case InfoIs.Disabled:
                    p._selectedRole = RstpRole.Disabled;
                    break;
                case InfoIs.Aged:
                    p._updtInfo = true;
                    p._selectedRole = RstpRole.Designated;
                    break;
                case InfoIs.Mine:
                    p._selectedRole = RstpRole.Designated;
                    if (!p._portPriority.Equal4(p._designatedPriority) || !p._portTimes.Equal(p._designatedTimes)) p._updtInfo = true;
                    break;
                case InfoIs.Received:
                    if (p == root)
                    {
                        p._selectedRole = RstpRole.Root;
                        p._updtInfo = false;
                    }
                    else if (RstpVector.Compare(p._designatedPriority, p._portPriority) == RstpCompare.Inferior)
                    {
                        p._selectedRole = (p._portPriority.DesignatedBridgeId & MacBits) != (BridgeId & MacBits) ? RstpRole.Alternate : RstpRole.Backup;
                        p._updtInfo = false;
                    }
                    else
                    {
                        p._selectedRole = RstpRole.Designated;
                        p._updtInfo = true;
                    }
                    break;
            }
        }
    }

    // ---- 17.23 Port Receive -----------------------------------------------------------------------------------------

    private void PortReceive(RstpPort p)
    {
        var old = p._prx;
        if (p.Begin || ((p._rcvdBpdu || p._edgeDelayWhile != MigrateTime) && !p._portEnabled))
        {
            EnterDiscard(p);
            _changes = true;
        }
        else if (p._prx == Prx.Discard && p._rcvdBpdu && p._portEnabled)
        {
            EnterReceive(p);
        }
        else if (p._prx == Prx.Receive && p._rcvdBpdu && p._portEnabled && !p._rcvdMsg)
        {
            EnterReceive(p);
        }
        if (old != p._prx) _changes = true;

        static void EnterDiscard(RstpPort p)
        {
            p._prx = Prx.Discard;
            p._rcvdBpdu = p._rcvdRstp = p._rcvdStp = false;
            p._rcvdMsg = false;
            p._edgeDelayWhile = MigrateTime;
        }

        void EnterReceive(RstpPort p)
        {
            p._prx = Prx.Receive;
            // updtBPDUVersion (17.21.22).
            if (p._rxType == TypeRst) p._rcvdRstp = true;
            else p._rcvdStp = true;
            p._operEdge = p._rcvdBpdu = false;
            p._rcvdMsg = true;
            p._edgeDelayWhile = MigrateTime;
            _changes = true;
        }
    }

    // ---- 17.24 Port Protocol Migration ------------------------------------------------------------------------------

    private void PortProtocolMigration(RstpPort p)
    {
        var old = p._ppm;
        if (p.Begin)
        {
            CheckingRstp(p);
        }
        else
        {
            switch (p._ppm)
            {
                case Ppm.CheckingRstp:
                    if (p._mdelayWhile == 0) Sensing(p);
                    else if (p._mdelayWhile != MigrateTime && !p._portEnabled) CheckingRstp(p);
                    break;
                case Ppm.SelectingStp:
                    if (p._mdelayWhile == 0 || !p._portEnabled || p._mcheck) Sensing(p);
                    break;
                case Ppm.Sensing:
                    if (!p._portEnabled || p._mcheck || (RstpVersion && !p._sendRstp && p._rcvdRstp))
                    {
                        CheckingRstp(p);
                    }
                    else if (p._sendRstp && p._rcvdStp)
                    {
                        p._ppm = Ppm.SelectingStp;
                        p._sendRstp = false;
                        p._mdelayWhile = MigrateTime;
                    }
                    break;
            }
        }
        if (old != p._ppm) _changes = true;

        void CheckingRstp(RstpPort p)
        {
            p._ppm = Ppm.CheckingRstp;
            p._mcheck = false;
            p._sendRstp = RstpVersion;
            p._mdelayWhile = MigrateTime;
        }

        static void Sensing(RstpPort p)
        {
            p._ppm = Ppm.Sensing;
            p._rcvdRstp = p._rcvdStp = false;
        }
    }

    // ---- 17.25 Bridge Detection -------------------------------------------------------------------------------------

    private void BridgeDetection(RstpPort p)
    {
        var old = p._bdm;
        if (p.Begin)
        {
            p._bdm = p.AdminEdge ? Bdm.Edge : Bdm.NotEdge;
            p._operEdge = p.AdminEdge;
        }
        else if (p._bdm == Bdm.Edge)
        {
            if ((!p._portEnabled && !p.AdminEdge) || !p._operEdge)
            {
                p._bdm = Bdm.NotEdge;
                p._operEdge = false;
            }
        }
        else if (p._bdm == Bdm.NotEdge)
        {
            if ((!p._portEnabled && p.AdminEdge) || (p._edgeDelayWhile == 0 && p.AutoEdge && p._sendRstp && p._proposing))
            {
                p._bdm = Bdm.Edge;
                p._operEdge = true;
            }
            else if (p._operEdge)
            {
                // admin-edge set by management on a port that was not one.
                p._bdm = Bdm.Edge;
            }
        }
        if (old != p._bdm) _changes = true;
    }

    // ---- 17.26 Port Transmit ----------------------------------------------------------------------------------------

    private void PortTransmit(RstpPort p)
    {
        var old = p._ptx;
        if (p.Begin || !p._portEnabled)
        {
            if (p._ptx != Ptx.TransmitInit)
            {
                p._ptx = Ptx.TransmitInit;
                p._newInfo = true;
                p._txCount = 0;
            }
        }
        else if (p._ptx == Ptx.TransmitInit)
        {
            Idle(p);
        }
        else if (p._ptx == Ptx.Idle && p._selected && !p._updtInfo)
        {
            if (p._helloWhen == 0)
            {
                p._newInfo = p._newInfo || p.Role == RstpRole.Designated || (p.Role == RstpRole.Root && p._tcWhile != 0);
                Idle(p);
                _changes = true;
            }
            else if (p._newInfo && p._txCount < TransmitHoldCount)
            {
                if (p._sendRstp)
                {
                    p._newInfo = false;
                    TxRstp(p);
                    p._txCount++;
                    p._tcAck = false;
                    _changes = true;
                }
                else if (p.Role == RstpRole.Root)
                {
                    p._newInfo = false;
                    TxTcn(p);
                    p._txCount++;
                    _changes = true;
                }
                else if (p.Role == RstpRole.Designated)
                {
                    p._newInfo = false;
                    TxConfig(p);
                    p._txCount++;
                    p._tcAck = false;
                    _changes = true;
                }
            }
        }
        if (old != p._ptx) _changes = true;

        static void Idle(RstpPort p)
        {
            p._ptx = Ptx.Idle;
            p._helloWhen = p._designatedTimes.HelloTime;
        }
    }

    private static int RoleFlag(RstpRole r) => r switch
    {
        RstpRole.Root => RoleFlagRoot,
        RstpRole.Designated => RoleFlagDesignated,
        RstpRole.Alternate or RstpRole.Backup => RoleFlagAltBackup,
        _ => 0,
    };

    private Span<byte> WriteConfig(RstpPort p, byte type, int size, byte flags)
    {
        var b = _bpdu.AsSpan(0, size);
        b.Clear();
        b[2] = type == TypeRst ? (byte)2 : (byte)0;
        b[3] = type;
        b[4] = flags;
        BinaryPrimitives.WriteUInt64BigEndian(b[5..], p._designatedPriority.RootId);
        BinaryPrimitives.WriteUInt32BigEndian(b[13..], p._designatedPriority.RootPathCost);
        BinaryPrimitives.WriteUInt64BigEndian(b[17..], p._designatedPriority.DesignatedBridgeId);
        BinaryPrimitives.WriteUInt16BigEndian(b[25..], p._designatedPriority.DesignatedPortId);
        BinaryPrimitives.WriteUInt16BigEndian(b[27..], (ushort)(p._designatedTimes.MessageAge << 8));
        BinaryPrimitives.WriteUInt16BigEndian(b[29..], (ushort)(p._designatedTimes.MaxAge << 8));
        BinaryPrimitives.WriteUInt16BigEndian(b[31..], (ushort)(p._designatedTimes.HelloTime << 8));
        BinaryPrimitives.WriteUInt16BigEndian(b[33..], (ushort)(p._designatedTimes.ForwardDelay << 8));
        return b;
    }

    private void TxConfig(RstpPort p)
    {
        byte flags = (byte)((p._tcWhile != 0 ? FlagTc : 0) | (p._tcAck ? FlagTcAck : 0));
        Send(p, WriteConfig(p, TypeConfig, ConfigBpduSize, flags));
    }

    private void TxRstp(RstpPort p)
    {
        int flags = RoleFlag(p.Role) << RoleShift;
        if (p._agree) flags |= FlagAgreement;
        if (p._proposing) flags |= FlagProposal;
        if (p._tcWhile != 0) flags |= FlagTc;
        if (p._learning) flags |= FlagLearning;
        if (p._forwarding) flags |= FlagForwarding;
        // The version 1 length (the last byte) is zero.
        Send(p, WriteConfig(p, TypeRst, RstBpduSize, (byte)flags));
    }

    private void TxTcn(RstpPort p)
    {
        var b = _bpdu.AsSpan(0, TcnBpduSize);
        b.Clear();
        b[3] = TypeTcn;
        Send(p, b);
    }

    private void Send(RstpPort p, ReadOnlySpan<byte> bpdu)
    {
        _tx.Send(p.Number, bpdu);
        p.TxCount++;
    }

    // ---- 17.27 Port Information -------------------------------------------------------------------------------------

    private void PortInformation(RstpPort p)
    {
        var old = p._pim;
        if (p.Begin || (!p._portEnabled && p._infoIs != InfoIs.Disabled))
        {
            Disabled(p);
        }
        else
        {
            switch (p._pim)
            {
                case Pim.Disabled:
                    if (p._portEnabled) Aged(p);
                    else if (p._rcvdMsg) Disabled(p);
                    break;
                case Pim.Aged:
                    if (p._selected && p._updtInfo) Update(p);
                    break;
                case Pim.Current:
                    if (p._selected && p._updtInfo) Update(p);
                    else if (p._infoIs == InfoIs.Received && p._rcvdInfoWhile == 0 && !p._updtInfo && !p._rcvdMsg) Aged(p);
                    else if (p._rcvdMsg && !p._updtInfo) Receive(p);
                    break;
            }
        }
        if (old != p._pim) _changes = true;

        void Disabled(RstpPort p)
        {
            p._pim = Pim.Disabled;
            p._rcvdMsg = false;
            p._proposing = p._proposed = p._agree = p._agreed = false;
            p._rcvdInfoWhile = 0;
            p._infoIs = InfoIs.Disabled;
            p._reselect = true;
            p._selected = false;
        }

        void Aged(RstpPort p)
        {
            p._pim = Pim.Aged;
            p._infoIs = InfoIs.Aged;
            p._reselect = true;
            p._selected = false;
            _changes = true;
        }

        void Update(RstpPort p)
        {
            p._proposing = p._proposed = false;
            p._agreed = p._agreed && BetterOrSameInfo(p, InfoIs.Mine);
            p._synced = p._synced && p._agreed;
            p._portPriority = p._designatedPriority;
            p._portTimes = p._designatedTimes;
            p._updtInfo = false;
            p._infoIs = InfoIs.Mine;
            p._newInfo = true;
            p._pim = Pim.Current;
            _changes = true;
        }

        void Receive(RstpPort p)
        {
            p._rcvdInfo = RcvInfo(p);
            switch (p._rcvdInfo)
            {
                case RcvdInfo.SuperiorDesignated:
                    p._agreed = p._proposing = false;
                    RecordProposal(p);
                    SetTcFlags(p);
                    p._agree = p._agree && BetterOrSameInfo(p, InfoIs.Received);
                    p._portPriority = p._msgPriority;
                    p._portTimes = p._msgTimes;
                    UpdtRcvdInfoWhile(p);
                    p._infoIs = InfoIs.Received;
                    p._reselect = true;
                    p._selected = false;
                    break;
                case RcvdInfo.RepeatedDesignated:
                    RecordProposal(p);
                    SetTcFlags(p);
                    UpdtRcvdInfoWhile(p);
                    break;
                case RcvdInfo.InferiorDesignated:
                    RecordDispute(p);
                    break;
                case RcvdInfo.InferiorRootAlternate:
                    RecordAgreement(p);
                    SetTcFlags(p);
                    break;
            }
            p._rcvdMsg = false;
            p._pim = Pim.Current;
            _changes = true;
        }
    }

    /// <summary>17.21.1 betterorsameInfo.</summary>
    private static bool BetterOrSameInfo(RstpPort p, InfoIs newInfoIs)
        => (newInfoIs == InfoIs.Received && p._infoIs == InfoIs.Received && RstpVector.Compare(p._msgPriority, p._portPriority) != RstpCompare.Inferior)
        || (newInfoIs == InfoIs.Mine && p._infoIs == InfoIs.Mine && RstpVector.Compare(p._designatedPriority, p._portPriority) != RstpCompare.Inferior);

    /// <summary>The role a received BPDU conveys: a configuration BPDU's is designated; a TCN's none.</summary>
    private static int ReceivedRole(RstpPort p) => p._rxType switch
    {
        TypeConfig => RoleFlagDesignated,
        TypeRst => (p._rxFlags & RoleMask) >> RoleShift,
        _ => 0,
    };

    /// <summary>17.21.8 rcvInfo.</summary>
    private static RcvdInfo RcvInfo(RstpPort p)
    {
        if (p._rxType == TypeTcn) return RcvdInfo.Other;
        int role = ReceivedRole(p);
        var cmp = RstpVector.Compare(p._msgPriority, p._portPriority);
        if (role == RoleFlagDesignated)
        {
            if (cmp == RstpCompare.Superior || (cmp == RstpCompare.Same && !p._msgTimes.Equal(p._portTimes))) return RcvdInfo.SuperiorDesignated;
            if (cmp == RstpCompare.Same) return RcvdInfo.RepeatedDesignated;
            return RcvdInfo.InferiorDesignated;
        }
        if (role is RoleFlagRoot or RoleFlagAltBackup && cmp != RstpCompare.Superior) return RcvdInfo.InferiorRootAlternate;
        return RcvdInfo.Other;
    }

    /// <summary>17.21.11 recordProposal.</summary>
    private static void RecordProposal(RstpPort p)
    {
        if (ReceivedRole(p) == RoleFlagDesignated && (p._rxFlags & FlagProposal) != 0 && p._rxType == TypeRst) p._proposed = true;
    }

    /// <summary>17.21.17 setTcFlags.</summary>
    private static void SetTcFlags(RstpPort p)
    {
        if (p._rxType == TypeTcn)
        {
            p._rcvdTcn = true;
            return;
        }
        if ((p._rxFlags & FlagTc) != 0) p._rcvdTc = true;
        if (p._rxType == TypeConfig && (p._rxFlags & FlagTcAck) != 0) p._rcvdTcAck = true;
    }

    /// <summary>17.21.10 recordDispute: an inferior designated port that is learning disputes this port's role.</summary>
    private static void RecordDispute(RstpPort p)
    {
        if (p._rxType == TypeRst && (p._rxFlags & FlagLearning) != 0)
        {
            p._agreed = false;
            p._proposing = false;
        }
    }

    /// <summary>17.21.9 recordAgreement.</summary>
    private void RecordAgreement(RstpPort p)
    {
        if (RstpVersion && p.OperPointToPoint && p._rxType == TypeRst && (p._rxFlags & FlagAgreement) != 0)
        {
            p._agreed = true;
            p._proposing = false;
        }
        else
        {
            p._agreed = false;
        }
    }

    /// <summary>17.21.23 updtRcvdInfoWhile: three hello times while the message's age plus one second is within its max age.</summary>
    private static void UpdtRcvdInfoWhile(RstpPort p)
        => p._rcvdInfoWhile = p._portTimes.MessageAge + 1 <= p._portTimes.MaxAge ? 3 * p._portTimes.HelloTime : 0;

    // ---- 17.29 Port Role Transitions --------------------------------------------------------------------------------

    private int FwdDelay(RstpPort p) => p._designatedTimes.ForwardDelay;
    private int ForwardDelayOf(RstpPort p) => p._sendRstp ? p._designatedTimes.HelloTime : FwdDelay(p);
    private static int MaxAgeOf(RstpPort p) => p._designatedTimes.MaxAge;
    private static int EdgeDelay(RstpPort p) => p.OperPointToPoint ? MigrateTime : p._designatedTimes.MaxAge;

    private bool ReRooted(RstpPort p)
    {
        foreach (var q in _ports)
            if (q != p && q._rrWhile != 0) return false;
        return true;
    }

    private bool AllSynced()
    {
        foreach (var q in _ports)
            if (!(q._selected && q.Role == q._selectedRole && (q.Role == RstpRole.Root || q._synced))) return false;
        return true;
    }

    private void SetSyncTree()
    {
        foreach (var q in _ports) q._sync = true;
    }

    private void SetReRootTree()
    {
        foreach (var q in _ports) q._reRoot = true;
    }

    private void PortRoleTransition(RstpPort p)
    {
        var old = p._prt;
        var oldRole = p.Role;
        if (p.Begin)
        {
            p._prt = Prt.InitPort;
            p.Role = RstpRole.Disabled;
            p._learn = p._forward = false;
            p._synced = false;
            p._sync = p._reRoot = true;
            p._rrWhile = FwdDelay(p);
            p._fdWhile = MaxAgeOf(p);
            p._rbWhile = 0;
        }
        else if (p._prt == Prt.InitPort)
        {
            DisablePort(p);
        }
        else if (p._selected && !p._updtInfo && p.Role != p._selectedRole)
        {
            switch (p._selectedRole)
            {
                case RstpRole.Disabled:
                    DisablePort(p);
                    break;
                case RstpRole.Root:
                    EnterRootPort(p);
                    break;
                case RstpRole.Designated:
                    DesignatedPort(p);
                    break;
                default:
                    BlockPort(p);
                    break;
            }
        }
        else if (p._selected && !p._updtInfo)
        {
            StepRole(p);
        }
        if (old != p._prt || oldRole != p.Role) _changes = true;
    }

    private static void DisablePort(RstpPort p)
    {
        p._prt = Prt.DisablePort;
        p.Role = RstpRole.Disabled;
        p._learn = p._forward = false;
    }

    private void EnterRootPort(RstpPort p)
    {
        p._prt = Prt.RootPort;
        p.Role = RstpRole.Root;
        p._rrWhile = FwdDelay(p);
    }

    private static void DesignatedPort(RstpPort p)
    {
        p._prt = Prt.DesignatedPort;
        p.Role = RstpRole.Designated;
    }

    private static void BlockPort(RstpPort p)
    {
        p._prt = Prt.BlockPort;
        p.Role = p._selectedRole;
        p._learn = p._forward = false;
    }

    /// <summary>One transition within the port's role (each state's entry actions done; the machine goes back to the
    /// role's main state at once, as the standard's unconditional transitions).</summary>
    private void StepRole(RstpPort p)
    {
        switch (p._prt)
        {
            case Prt.DisablePort:
                if (!p._learning && !p._forwarding) DisabledPort(p);
                break;
            case Prt.DisabledPort:
                if (p._fdWhile != MaxAgeOf(p) || p._sync || p._reRoot || !p._synced) DisabledPort(p);
                break;

            case Prt.RootPort:
                if (p._proposed && !p._agree)
                {
                    SetSyncTree();
                    p._proposed = false;
                    _changes = true;
                }
                else if ((AllSynced() && !p._agree) || (p._proposed && p._agree))
                {
                    p._proposed = p._sync = false;
                    p._agree = true;
                    p._newInfo = true;
                    _changes = true;
                }
                else if (!p._forward && !p._reRoot)
                {
                    SetReRootTree();
                    _changes = true;
                }
                else if ((p._fdWhile == 0 || (ReRooted(p) && p._rbWhile == 0 && RstpVersion)) && !p._learn)
                {
                    p._fdWhile = ForwardDelayOf(p);
                    p._learn = true;
                    _changes = true;
                }
                else if ((p._fdWhile == 0 || (ReRooted(p) && p._rbWhile == 0 && RstpVersion)) && p._learn && !p._forward)
                {
                    p._fdWhile = 0;
                    p._forward = true;
                    _changes = true;
                }
                else if (p._reRoot && p._forward)
                {
                    p._reRoot = false;
                    _changes = true;
                }
                else if (p._rrWhile != FwdDelay(p))
                {
                    p._rrWhile = FwdDelay(p);
                    _changes = true;
                }
                break;

            case Prt.DesignatedPort:
                if (!p._forward && !p._agreed && !p._proposing && !p._operEdge)
                {
                    p._proposing = true;
                    p._edgeDelayWhile = EdgeDelay(p);
                    p._newInfo = true;
                    _changes = true;
                }
                else if ((!p._learning && !p._forwarding && !p._synced) || (p._agreed && !p._synced) || (p._operEdge && !p._synced) || (p._sync && p._synced))
                {
                    p._rrWhile = 0;
                    p._synced = true;
                    p._sync = false;
                    _changes = true;
                }
                else if (p._rrWhile == 0 && p._reRoot)
                {
                    p._reRoot = false;
                    _changes = true;
                }
                else if (((p._sync && !p._synced) || (p._reRoot && p._rrWhile != 0)) && !p._operEdge && (p._learn || p._forward))
                {
                    p._learn = p._forward = false;
                    p._fdWhile = ForwardDelayOf(p);
                    _changes = true;
                }
                else if ((p._fdWhile == 0 || p._agreed || p._operEdge) && (p._rrWhile == 0 || !p._reRoot) && !p._sync && !p._learn)
                {
                    p._learn = true;
                    p._fdWhile = ForwardDelayOf(p);
                    _changes = true;
                }
                else if ((p._fdWhile == 0 || p._agreed || p._operEdge) && (p._rrWhile == 0 || !p._reRoot) && !p._sync && p._learn && !p._forward)
                {
                    p._forward = true;
                    p._fdWhile = 0;
                    p._agreed = p._sendRstp;
                    _changes = true;
                }
                break;

            case Prt.BlockPort:
                if (!p._learning && !p._forwarding) AlternatePort(p);
                break;
            case Prt.AlternatePort:
                if (p._proposed && !p._agree)
                {
                    SetSyncTree();
                    p._proposed = false;
                    _changes = true;
                }
                else if ((AllSynced() && !p._agree) || (p._proposed && p._agree))
                {
                    p._proposed = false;
                    p._agree = true;
                    p._newInfo = true;
                    _changes = true;
                }
                else if (p._fdWhile != ForwardDelayOf(p) || p._sync || p._reRoot || !p._synced)
                {
                    AlternatePort(p);
                }
                else if (p.Role == RstpRole.Backup && p._rbWhile != 2 * p._designatedTimes.HelloTime)
                {
                    p._rbWhile = 2 * p._designatedTimes.HelloTime;
                    _changes = true;
                }
                break;
        }
    }

    private void DisabledPort(RstpPort p)
    {
        p._prt = Prt.DisabledPort;
        p._fdWhile = MaxAgeOf(p);
        p._synced = true;
        p._rrWhile = 0;
        p._sync = p._reRoot = false;
        _changes = true;
    }

    private void AlternatePort(RstpPort p)
    {
        p._prt = Prt.AlternatePort;
        p._fdWhile = ForwardDelayOf(p);
        p._synced = true;
        p._rrWhile = 0;
        p._sync = p._reRoot = false;
        _changes = true;
    }

    // ---- 17.30 Port State Transition --------------------------------------------------------------------------------

    private void PortStateTransition(RstpPort p)
    {
        var old = p._pst;
        if (p.Begin)
        {
            p._pst = Pst.Discarding;
            p._learning = p._forwarding = false;
        }
        else
        {
            switch (p._pst)
            {
                case Pst.Discarding:
                    if (p._learn)
                    {
                        p._pst = Pst.Learning;
                        p._learning = true;
                    }
                    break;
                case Pst.Learning:
                    if (p._forward)
                    {
                        p._pst = Pst.Forwarding;
                        p._forwarding = true;
                    }
                    else if (!p._learn)
                    {
                        p._pst = Pst.Discarding;
                        p._learning = p._forwarding = false;
                    }
                    break;
                case Pst.Forwarding:
                    if (!p._forward)
                    {
                        p._pst = Pst.Discarding;
                        p._learning = p._forwarding = false;
                    }
                    break;
            }
        }
        SetState(p, p._pst switch { Pst.Learning => RstpState.Learning, Pst.Forwarding => RstpState.Forwarding, _ => RstpState.Discarding });
        if (old != p._pst) _changes = true;
    }

    // ---- 17.31 Topology Change --------------------------------------------------------------------------------------

    private void TopologyChangeMachine(RstpPort p)
    {
        var old = p._tcm;
        if (p.Begin)
        {
            Inactive(p);
        }
        else
        {
            switch (p._tcm)
            {
                case Tcm.Inactive:
                    if (p._learn && !p._fdbFlush) Learning(p);
                    break;
                case Tcm.Learning:
                    if ((p.Role is RstpRole.Root or RstpRole.Designated) && p._forward && !p._operEdge)
                    {
                        // DETECTED, then ACTIVE.
                        NewTcWhile(p);
                        SetTcPropTree(p);
                        p._newInfo = true;
                        p._tcm = Tcm.Active;
                    }
                    else if (p.Role is not (RstpRole.Root or RstpRole.Designated) && !(p._learn || p._learning)
                        && !(p._rcvdTc || p._rcvdTcn || p._rcvdTcAck || p._tcProp))
                    {
                        Inactive(p);
                    }
                    else if (p._learn && (p._rcvdTc || p._rcvdTcn || p._rcvdTcAck || p._tcProp))
                    {
                        Learning(p);
                        _changes = true;
                    }
                    break;
                case Tcm.Active:
                    if (p.Role is not (RstpRole.Root or RstpRole.Designated) || p._operEdge)
                    {
                        Learning(p);
                    }
                    else if (p._rcvdTcn)
                    {
                        // NOTIFIED_TCN, then NOTIFIED_TC.
                        NewTcWhile(p);
                        NotifiedTc(p);
                    }
                    else if (p._rcvdTc)
                    {
                        NotifiedTc(p);
                    }
                    else if (p._tcProp && !p._operEdge)
                    {
                        // PROPAGATING.
                        NewTcWhile(p);
                        p._fdbFlush = true;
                        p._tcProp = false;
                        _changes = true;
                    }
                    else if (p._rcvdTcAck)
                    {
                        // ACKNOWLEDGED.
                        p._tcWhile = 0;
                        p._rcvdTcAck = false;
                        _changes = true;
                    }
                    break;
            }
        }
        // The host flushes in the round that takes it (FlushPending): the flush is done at once, as 17.19.7 allows.
        if (p._fdbFlush)
        {
            p._fdbFlush = false;
            p.FlushPending = true;
            _changes = true;
        }
        if (old != p._tcm) _changes = true;

        static void Inactive(RstpPort p)
        {
            p._tcm = Tcm.Inactive;
            p._fdbFlush = true;
            p._tcWhile = 0;
            p._tcAck = false;
        }

        static void Learning(RstpPort p)
        {
            p._tcm = Tcm.Learning;
            p._rcvdTc = p._rcvdTcn = p._rcvdTcAck = false;
            p._tcProp = false;
        }

        void NotifiedTc(RstpPort p)
        {
            p._rcvdTcn = p._rcvdTc = false;
            if (p.Role == RstpRole.Designated) p._tcAck = true;
            SetTcPropTree(p);
            p._tcm = Tcm.Active;
            _changes = true;
        }
    }

    /// <summary>17.21.7 newTcWhile.</summary>
    private void NewTcWhile(RstpPort p)
    {
        if (p._tcWhile != 0) return;
        if (p._sendRstp)
        {
            p._tcWhile = p._designatedTimes.HelloTime + 1;
            p._newInfo = true;
        }
        else
        {
            p._tcWhile = _rootTimes.MaxAge + _rootTimes.ForwardDelay;
        }
    }

    /// <summary>17.21.18 setTcPropTree: every other port propagates the change.</summary>
    private void SetTcPropTree(RstpPort p)
    {
        foreach (var q in _ports)
            if (q != p) q._tcProp = true;
    }

    /// <summary>Whether any port signals a topology change now (its tcWhile runs).</summary>
    public bool TopologyChange
    {
        get
        {
            foreach (var p in _ports)
                if (p._tcWhile != 0) return true;
            return false;
        }
    }

    /// <summary>The path cost for a link of <paramref name="mbps"/> Mbit/s, as 802.1D-2004 table 17-3 (Open vSwitch's
    /// rstp_convert_speed_to_cost; 0: unknown, the 10 Gbit/s cost).</summary>
    public static uint SpeedToCost(long mbps) => mbps >= 10_000_000 ? 2 : mbps >= 1_000_000 ? 20 : mbps >= 100_000 ? 200
        : mbps >= 10_000 ? 2000 : mbps >= 1000 ? 20000 : mbps >= 100 ? 200000 : mbps >= 10 ? 2000000 : mbps >= 1 ? 20000000
        : DefaultPortPathCost;
}
