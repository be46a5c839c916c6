using System.Globalization;
using System.Net;
using System.Text;
using Softswitch.Datapath.Forwarding;

namespace Softswitch.Snooping;

/// <summary>
/// IGMP and MLD snooping's state, as Open vSwitch's lib/mcast-snooping.c keeps it: the groups each port joined (per
/// VLAN), aged <see cref="IdleTimeS"/> after the port's last report; the ports multicast routers (queriers) were heard
/// on, aged <see cref="RouterIdleTimeS"/> after the last query; the ports configured to take all multicast
/// (mcast-snooping-flood) or all reports (mcast-snooping-flood-reports); at most <see cref="MaxEntries"/> groups, the
/// least recently reported one making room for a new one. <see cref="Build"/> gives what NORMAL reads.
/// </summary>
/// <remarks>
/// <para>As Open vSwitch: a v1/v2 report joins, a v2 leave (MLD done) leaves at once, a v3/MLDv2 record joins unless it
/// is MODE_IS_INCLUDE or CHANGE_TO_INCLUDE with no source (a leave), whatever its sources (snooping keeps no
/// per-source state); a query from a non-zero address marks its port a router port; nothing is learned from a flood
/// port, a port already a router port (or a flood port) joins nothing (its traffic reaches it anyway), and a leave on a
/// flood-reports port is not taken (several hosts may sit behind it: the group ages out instead). A port is NORMAL's:
/// a port's number or a bond's key.</para>
/// <para>Not thread-safe: its owner serialises the calls. Times are milliseconds of the caller's clock.</para>
/// </remarks>
public sealed class McastSnooping
{
    /// <summary>Open vSwitch's defaults (MCAST_ENTRY_DEFAULT_IDLE_TIME, MCAST_DEFAULT_MAX_ENTRIES, MCAST_MROUTER_PORT_IDLE_TIME).</summary>
    public const int DefaultIdleTimeS = 300, DefaultMaxEntries = 2048, RouterIdleTimeS = 180;

    private sealed class GroupEntry(ulong high, ulong low, ushort vlan)
    {
        public readonly ulong High = high, Low = low;
        public readonly ushort Vlan = vlan;
        public McastProtocol Protocol;
        /// <summary>When the group was last reported (an order: the least recent is evicted first).</summary>
        public long Used;
        /// <summary>Its ports, each with when it expires and when it was last reported, least recent first.</summary>
        public readonly List<(ushort Port, long ExpiresMs, long Used)> Ports = [];
    }

    private readonly Dictionary<(ulong, ulong, ushort), GroupEntry> _groups = [];
    private readonly Dictionary<(ushort Vlan, ushort Port), (long ExpiresMs, long Used)> _routers = [];
    private ushort[] _floodPorts = [], _floodReportPorts = [];
    private long _use;
    private bool _changed = true;

    /// <summary>Seconds a port stays in a group after its last report (15 to 3600; Open vSwitch's mcast-snooping-aging-time).</summary>
    public int IdleTimeS { get; private set; } = DefaultIdleTimeS;
    /// <summary>The most groups kept (10 to 1,000,000; mcast-snooping-table-size).</summary>
    public int MaxEntries { get; private set; } = DefaultMaxEntries;
    /// <summary>Whether multicast to a group nobody joined is flooded (mcast-snooping-disable-flood-unregistered unset).</summary>
    public bool FloodUnregistered { get; private set; } = true;
    /// <summary>The groups kept.</summary>
    public int GroupCount => _groups.Count;
    /// <summary>Groups evicted for a new one while the table was full.</summary>
    public long Evicted { get; private set; }

    /// <summary>
    /// Sets the aging time (<paramref name="idleTimeS"/>, clamped to 15 to 3600 s: every port's expiry moves by the
    /// change, as Open vSwitch's mcast_snooping_set_idle_time), the table size (clamped to 10 to 1,000,000; a smaller
    /// one evicts at the next <see cref="Run"/>) and whether unregistered multicast floods.
    /// </summary>
    public void Configure(int idleTimeS, int maxEntries, bool floodUnregistered)
    {
        int idle = Math.Clamp(idleTimeS, 15, 3600);
        if (idle != IdleTimeS)
        {
            long delta = (idle - IdleTimeS) * 1000L;
            foreach (var g in _groups.Values)
            {
                for (int i = 0; i < g.Ports.Count; i++)
                {
                    var (port, expires, used) = g.Ports[i];
                    g.Ports[i] = (port, expires + delta, used);
                }
            }
            IdleTimeS = idle;
        }
        MaxEntries = Math.Clamp(maxEntries, 10, 1_000_000);
        if (floodUnregistered != FloodUnregistered) _changed = true;
        FloodUnregistered = floodUnregistered;
    }

    /// <summary>Sets the ports that take all multicast (<paramref name="flood"/>) and all reports (<paramref name="floodReports"/>).</summary>
    public void SetFloodPorts(IEnumerable<ushort> flood, IEnumerable<ushort> floodReports)
    {
        ushort[] f = [.. flood.Distinct().Order()], r = [.. floodReports.Distinct().Order()];
        if (f.AsSpan().SequenceEqual(_floodPorts) && r.AsSpan().SequenceEqual(_floodReportPorts)) return;
        _floodPorts = f;
        _floodReportPorts = r;
        _changed = true;
    }

    /// <summary>Forgets everything of the ports not in <paramref name="live"/> (removed ports: Open vSwitch's mcast_snooping_flush_bundle).</summary>
    public void KeepPorts(IReadOnlySet<ushort> live)
    {
        foreach (var (key, g) in _groups.ToList())
        {
            if (g.Ports.RemoveAll(p => !live.Contains(p.Port)) == 0) continue;
            _changed = true;
            if (g.Ports.Count == 0) _groups.Remove(key);
        }
        foreach (var key in _routers.Keys.Where(k => !live.Contains(k.Port)).ToList())
        {
            _routers.Remove(key);
            _changed = true;
        }
        SetFloodPorts(_floodPorts.Where(live.Contains), _floodReportPorts.Where(live.Contains));
    }

    /// <summary>Whether something NORMAL reads changed since the last <see cref="Build"/>.</summary>
    public bool Changed => _changed;

    /// <summary>
    /// Learns from an IGMP or MLD frame received on <paramref name="port"/> in <paramref name="vlan"/>: a join, leave,
    /// report or query. Returns why the frame could not be read (<see cref="McastFrameError.None"/>: it was).
    /// </summary>
    public McastFrameError Receive(ReadOnlySpan<byte> frame, ushort port, ushort vlan, long nowMs)
    {
        var error = McastFrame.Read(frame, out var m);
        if (error != McastFrameError.None) return error;
        // Open vSwitch's update_mcast_snooping_table: nothing is learned from a flood port.
        if (_floodPorts.AsSpan().Contains(port)) return McastFrameError.None;
        switch (m.Kind)
        {
            case McastMessageKind.Join:
                AddGroup(m.GroupHigh, m.GroupLow, vlan, port, m.Protocol, nowMs);
                break;
            case McastMessageKind.Leave:
                LeaveGroup(m.GroupHigh, m.GroupLow, vlan, port);
                break;
            case McastMessageKind.Query:
                if (!m.FromUnspecified) AddRouter(vlan, port, nowMs);
                break;
            case McastMessageKind.Records:
                var records = m.Records;
                for (int i = 0; i < m.RecordCount; i++)
                {
                    McastFrame.NextRecord(ref records, m.Ipv6, out byte type, out int sources, out ulong high, out ulong low);
                    if (type is < McastFrame.ModeIsInclude or > McastFrame.BlockOldSources) continue;
                    if (sources == 0 && type is McastFrame.ModeIsInclude or McastFrame.ChangeToInclude) LeaveGroup(high, low, vlan, port);
                    else AddGroup(high, low, vlan, port, m.Protocol, nowMs);
                }
                break;
        }
        return McastFrameError.None;
    }

    /// <summary>Port <paramref name="port"/> joins a group (Open vSwitch's mcast_snooping_add_group); true when the group is new.</summary>
    public bool AddGroup(ulong high, ulong low, ushort vlan, ushort port, McastProtocol protocol, long nowMs)
    {
        // Avoid duplicate packets: a router or flood port gets the group's traffic anyway.
        if (_routers.ContainsKey((vlan, port)) || _floodPorts.AsSpan().Contains(port)) return false;
        bool learned = false;
        if (!_groups.TryGetValue((high, low, vlan), out var g))
        {
            if (_groups.Count >= MaxEntries)
            {
                var lru = _groups.Values.MinBy(x => x.Used)!;
                _groups.Remove((lru.High, lru.Low, lru.Vlan));
                Evicted++;
            }
            g = new GroupEntry(high, low, vlan);
            _groups[(high, low, vlan)] = g;
            learned = true;
            _changed = true;
        }
        g.Used = ++_use;
        g.Protocol = protocol;
        int at = g.Ports.FindIndex(p => p.Port == port);
        if (at >= 0) g.Ports.RemoveAt(at);
        else _changed = true;
        g.Ports.Add((port, nowMs + IdleTimeS * 1000L, _use));
        return learned;
    }

    /// <summary>Port <paramref name="port"/> leaves a group (Open vSwitch's mcast_snooping_leave_group); true when it was in it.</summary>
    public bool LeaveGroup(ulong high, ulong low, ushort vlan, ushort port)
    {
        // Ports flagged to forward reports usually have more than one host behind them: the group ages out instead.
        if (_floodReportPorts.AsSpan().Contains(port)) return false;
        if (!_groups.TryGetValue((high, low, vlan), out var g) || g.Ports.RemoveAll(p => p.Port == port) == 0) return false;
        if (g.Ports.Count == 0) _groups.Remove((high, low, vlan));
        _changed = true;
        return true;
    }

    /// <summary>A multicast router (a querier) is on <paramref name="port"/> in <paramref name="vlan"/> (Open vSwitch's
    /// mcast_snooping_add_mrouter); true when it is new.</summary>
    public bool AddRouter(ushort vlan, ushort port, long nowMs)
    {
        if (_floodPorts.AsSpan().Contains(port)) return false;
        bool added = !_routers.ContainsKey((vlan, port));
        _routers[(vlan, port)] = (nowMs + RouterIdleTimeS * 1000L, ++_use);
        if (added) _changed = true;
        return added;
    }

    /// <summary>Ages ports out of groups (a group left with none goes), routers out, and groups beyond the table size
    /// (least recently reported first); returns how many entries went.</summary>
    public int Run(long nowMs)
    {
        int expired = 0;
        foreach (var (key, g) in _groups.ToList())
        {
            int n = g.Ports.RemoveAll(p => p.ExpiresMs <= nowMs);
            if (n == 0) continue;
            expired += n;
            if (g.Ports.Count == 0) _groups.Remove(key);
        }
        if (_groups.Count > MaxEntries)
        {
            foreach (var g in _groups.Values.OrderBy(g => g.Used).Take(_groups.Count - MaxEntries).ToList())
            {
                _groups.Remove((g.High, g.Low, g.Vlan));
                Evicted++;
                expired++;
            }
        }
        foreach (var (key, router) in _routers.ToList())
        {
            if (nowMs < router.ExpiresMs) continue;
            _routers.Remove(key);
            expired++;
        }
        if (expired > 0) _changed = true;
        return expired;
    }

    /// <summary>Forgets every group and router (ovs-appctl mdb/flush); the flood ports stay.</summary>
    public void Flush()
    {
        if (_groups.Count == 0 && _routers.Count == 0) return;
        _groups.Clear();
        _routers.Clear();
        _changed = true;
    }

    /// <summary>What NORMAL reads now (<see cref="Changed"/> is false after).</summary>
    public McastSnoopingTable Build()
    {
        _changed = false;
        var groups = _groups.Values.Select(g => new McastSnoopingTable.Group(g.High, g.Low, g.Vlan, [.. g.Ports.Select(p => p.Port)])).ToList();
        return new McastSnoopingTable(groups, _routers.Keys.Select(k => new McastSnoopingTable.Router(k.Vlan, k.Port)), _floodPorts, _floodReportPorts, FloodUnregistered);
    }

    /// <summary>The ports in group <paramref name="high"/>:<paramref name="low"/> of <paramref name="vlan"/>, sorted (empty: not registered).</summary>
    public ushort[] PortsOf(ulong high, ulong low, ushort vlan)
        => _groups.TryGetValue((high, low, vlan), out var g) ? [.. g.Ports.Select(p => p.Port).Order()] : [];

    /// <summary>Whether a router was heard on <paramref name="port"/> in <paramref name="vlan"/> (and has not aged out).</summary>
    public bool IsRouter(ushort vlan, ushort port) => _routers.ContainsKey((vlan, port));

    /// <summary>
    /// The table as <c>ovs-appctl mdb/show</c> prints it (Open vSwitch's ofproto_unixctl_mcast_snooping_show, 3.3 and
    /// later, with the protocol column): a header,
    /// a line per port of each group (least recently reported groups first, then each group's ports the same way) with
    /// its VLAN, protocol, group and age in seconds, then a line per router port ("querier").
    /// </summary>
    public void Show(StringBuilder s, long nowMs, Func<ushort, string> portName)
    {
        s.Append(" port  VLAN  protocol  GROUP                Age\n");
        foreach (var g in _groups.Values.OrderBy(g => g.Used))
        {
            foreach (var p in g.Ports)
            {
                long age = IdleTimeS - (p.ExpiresMs - nowMs) / 1000;
                s.Append(CultureInfo.InvariantCulture, $"{portName(p.Port),5}  {g.Vlan,4}  {ProtocolName(g.Protocol),-8}  ")
                 .Append(GroupText(g.High, g.Low))
                 .Append(CultureInfo.InvariantCulture, $"         {age,3}\n");
            }
        }
        foreach (var (key, router) in _routers.OrderBy(e => e.Value.Used))
        {
            long age = RouterIdleTimeS - (router.ExpiresMs - nowMs) / 1000;
            s.Append(CultureInfo.InvariantCulture, $"{portName(key.Port),5}  {key.Vlan,4}  {ProtocolName(McastProtocol.Unknown),-8}  querier             {age,3}\n");
        }
    }

    /// <summary>Open vSwitch's mcast_snooping_group_protocol_str.</summary>
    public static string ProtocolName(McastProtocol p) => p switch
    {
        McastProtocol.IgmpV1 => "IGMPv1",
        McastProtocol.IgmpV2 => "IGMPv2",
        McastProtocol.IgmpV3 => "IGMPv3",
        McastProtocol.MldV1 => "MLDv1",
        McastProtocol.MldV2 => "MLDv2",
        _ => "UNKNOWN",
    };

    /// <summary>A group's address as Open vSwitch's ipv6_format_mapped prints it: dotted for an IPv4-mapped one.</summary>
    public static string GroupText(ulong high, ulong low)
    {
        if (high == 0 && low >> 32 == 0xFFFF) return new IPAddress(System.Buffers.Binary.BinaryPrimitives.ReverseEndianness((uint)low)).ToString();
        Span<byte> bytes = stackalloc byte[16];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(bytes, high);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(bytes[8..], low);
        return new IPAddress(bytes).ToString();
    }
}
