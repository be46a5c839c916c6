using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Softswitch.Datapath.Ports;

namespace Softswitch.Bonding;

/// <summary>One side's information in an LACPDU (802.1AX's actor or partner): system, key, port and state, compared
/// field by field in wire order (as Open vSwitch compares its packed struct lacp_info with memcmp).</summary>
public readonly record struct LacpInfo(ushort SysPriority, ulong SysId, ushort Key, ushort PortPriority, ushort PortId, byte State) : IComparable<LacpInfo>
{
    public const int Size = 15;

    public int CompareTo(LacpInfo o)
    {
        int c = SysPriority.CompareTo(o.SysPriority);
        if (c == 0) c = SysId.CompareTo(o.SysId);
        if (c == 0) c = Key.CompareTo(o.Key);
        if (c == 0) c = PortPriority.CompareTo(o.PortPriority);
        if (c == 0) c = PortId.CompareTo(o.PortId);
        if (c == 0) c = State.CompareTo(o.State);
        return c;
    }

    public static LacpInfo Read(ReadOnlySpan<byte> b) => new(BinaryPrimitives.ReadUInt16BigEndian(b),
        ((ulong)BinaryPrimitives.ReadUInt16BigEndian(b[2..]) << 32) | BinaryPrimitives.ReadUInt32BigEndian(b[4..]),
        BinaryPrimitives.ReadUInt16BigEndian(b[8..]), BinaryPrimitives.ReadUInt16BigEndian(b[10..]), BinaryPrimitives.ReadUInt16BigEndian(b[12..]), b[14]);

    public void Write(Span<byte> b)
    {
        BinaryPrimitives.WriteUInt16BigEndian(b, SysPriority);
        BinaryPrimitives.WriteUInt16BigEndian(b[2..], (ushort)(SysId >> 32));
        BinaryPrimitives.WriteUInt32BigEndian(b[4..], (uint)SysId);
        BinaryPrimitives.WriteUInt16BigEndian(b[8..], Key);
        BinaryPrimitives.WriteUInt16BigEndian(b[10..], PortPriority);
        BinaryPrimitives.WriteUInt16BigEndian(b[12..], PortId);
        b[14] = State;
    }
}

/// <summary>Where a member's partner information stands (Open vSwitch's enum member_status).</summary>
public enum LacpMemberStatus : byte
{
    /// <summary>An LACPDU arrived within three transmit intervals.</summary>
    Current,
    /// <summary>None arrived in time: the partner is out of sync until one does, or it is defaulted.</summary>
    Expired,
    /// <summary>No partner.</summary>
    Defaulted,
}

/// <summary>
/// An LACPDU in its frame (802.1AX, slow protocols), 124 bytes:
/// <code>
/// 01:80:c2:00:00:02 | source MAC (6) | 0x8809 | subtype 1 | version 1
///   | 1 | 20 | actor (15: sys_priority, sys_id(6), key, port_priority, port_id, state) | 0 0 0
///   | 2 | 20 | partner (15) | 0 0 0 | 3 | 16 | collector delay (2) | 64 zero bytes
/// </code>
/// </summary>
public static class LacpFrame
{
    public const int PduSize = 110, FrameSize = 14 + PduSize;
    public const byte SubtypeLacp = 1, SubtypeMarker = 2;

    /// <summary>Writes the LACPDU of <paramref name="actor"/> and <paramref name="partner"/> from <paramref name="source"/>
    /// into <paramref name="frame"/> (at least <see cref="FrameSize"/> bytes); returns its size.</summary>
    public static int Write(Span<byte> frame, ulong source, in LacpInfo actor, in LacpInfo partner)
    {
        frame = frame[..FrameSize];
        frame.Clear();
        frame[0] = 0x01;
        frame[1] = 0x80;
        frame[2] = 0xC2;
        frame[5] = 0x02;
        BinaryPrimitives.WriteUInt16BigEndian(frame[6..], (ushort)(source >> 32));
        BinaryPrimitives.WriteUInt32BigEndian(frame[8..], (uint)source);
        frame[12] = 0x88;
        frame[13] = 0x09;
        var pdu = frame[14..];
        pdu[0] = SubtypeLacp;
        pdu[1] = 1;
        pdu[2] = 1;
        pdu[3] = 20;
        actor.Write(pdu[4..]);
        pdu[22] = 2;
        pdu[23] = 20;
        partner.Write(pdu[24..]);
        pdu[42] = 3;
        pdu[43] = 16;
        return FrameSize;
    }

    /// <summary>The subtype of the slow-protocol frame <paramref name="frame"/> and, for a well-formed LACPDU, its actor
    /// and partner; 0 when it is too short to be one (Open vSwitch's parse_lacp_packet).</summary>
    public static byte Parse(ReadOnlySpan<byte> frame, out LacpInfo actor, out LacpInfo partner)
    {
        actor = partner = default;
        if (frame.Length < FrameSize || frame[12] != 0x88 || frame[13] != 0x09) return 0;
        var pdu = frame[14..];
        if (pdu[0] == SubtypeLacp && pdu[2] == 1 && pdu[3] == 20 && pdu[22] == 2 && pdu[23] == 20)
        {
            actor = LacpInfo.Read(pdu[4..]);
            partner = LacpInfo.Read(pdu[24..]);
            return SubtypeLacp;
        }
        return pdu[0] == SubtypeMarker ? SubtypeMarker : (byte)0;
    }
}

/// <summary>
/// The Link Aggregation Control Protocol of one bond (802.1AX as Open vSwitch's lib/lacp.c implements it): each member
/// sends LACPDUs (active: always; passive: once it has heard a partner) every second (lacp-time=fast) or 30 seconds,
/// at the rate its partner asks for; a partner heard is current for three of our intervals, then expired (three fast
/// intervals more), then defaulted. Members whose partner is the same system with the same key are attached to the
/// aggregator; a member may carry traffic (<see cref="MayEnable"/>) when attached and its partner says it is in sync.
/// The bond is negotiated while some member is attached.
/// </summary>
/// <remarks>Not thread-safe: its owner serialises the calls. Times are milliseconds of the caller's clock (tests use a
/// fake one). Nothing is allocated per LACPDU.</remarks>
public sealed class Lacp
{
    public const byte StateActivity = 0x01, StateTimeout = 0x02, StateAggregation = 0x04, StateSync = 0x08,
        StateCollecting = 0x10, StateDistributing = 0x20, StateDefaulted = 0x40, StateExpired = 0x80;
    public const int FastTxMs = 1000, SlowTxMs = 30_000, RxMultiplier = 3;

    /// <summary>One member: its settings, where its partner stands, its timers and counters.</summary>
    public sealed class Member
    {
        internal Member(Lacp lacp, string name, ushort no) { Lacp = lacp; Name = name; No = no; }
        internal readonly Lacp Lacp;
        public string Name { get; }
        /// <summary>Its OpenFlow port number (the caller's handle).</summary>
        public ushort No { get; }
        public ushort PortId { get; internal set; }
        public ushort PortPriority { get; internal set; }
        public ushort Key { get; internal set; }
        public LacpMemberStatus Status { get; internal set; }
        public bool Attached { get; internal set; }
        public bool CarrierUp { get; internal set; }
        public LacpInfo Partner { get; internal set; }
        internal LacpInfo NttActor;
        internal long TxDue, RxDue;
        public long TxPdus { get; internal set; }
        public long RxPdus { get; internal set; }
        public long RxBad { get; internal set; }
        public long RxMarker { get; internal set; }
        public long LinkExpired { get; internal set; }
        public long LinkDefaulted { get; internal set; }
        public long CarrierChanged { get; internal set; }
    }

    private readonly List<Member> _members = [];
    private bool _update;

    public Lacp(string name) => Name = name;

    public string Name { get; }
    public ulong SysId { get; private set; }
    public ushort SysPriority { get; private set; }
    public bool Active { get; private set; }
    public bool Fast { get; private set; }
    /// <summary>True while some member is attached to the aggregator.</summary>
    public bool Negotiated { get; private set; }
    public IReadOnlyList<Member> Members => _members;
    /// <summary>The member whose key (or port id) is the aggregation key: the first registered.</summary>
    public Member? KeyMember => _members.Count > 0 ? _members[0] : null;

    /// <summary>The bond's standing for the datapath: negotiated or only configured.</summary>
    public BondLacp Status => Negotiated ? BondLacp.Negotiated : BondLacp.Configured;

    public void Configure(ulong sysId, ushort sysPriority, bool active, bool fast)
    {
        if (sysId != SysId || sysPriority != SysPriority) _update = true;
        SysId = sysId;
        SysPriority = sysPriority;
        Active = active;
        Fast = fast;
    }

    /// <summary>Registers member <paramref name="no"/> (or updates its settings); a new member starts defaulted, and a
    /// changed one expires when the bond is active or negotiated (lacp_member_register).</summary>
    public Member Register(ushort no, string name, ushort portId, ushort portPriority, ushort key, long nowMs)
    {
        var m = Find(no);
        if (m is null)
        {
            m = new Member(this, name, no);
            _members.Add(m);
            SetDefaulted(m);
        }
        if (m.PortId != portId || m.PortPriority != portPriority || m.Key != key)
        {
            m.PortId = portId;
            m.PortPriority = portPriority;
            m.Key = key;
            _update = true;
            if (Active || Negotiated) SetExpired(m, nowMs);
        }
        return m;
    }

    public void Unregister(ushort no)
    {
        if (Find(no) is not { } m) return;
        _members.Remove(m);
        _update = true;
    }

    public Member? Find(ushort no)
    {
        foreach (var m in _members)
            if (m.No == no) return m;
        return null;
    }

    /// <summary>The member's carrier went up or down (lacp_member_carrier_changed).</summary>
    public void SetCarrier(Member m, bool up, long nowMs)
    {
        if (m.Status == LacpMemberStatus.Current || Active) SetExpired(m, nowMs);
        if (m.CarrierUp == up) return;
        m.CarrierUp = up;
        m.CarrierChanged++;
    }

    /// <summary>A slow-protocol frame received on <paramref name="m"/> (lacp_process_packet): an LACPDU makes the member
    /// current and records its partner; a marker or a malformed frame is only counted. Dropped while the carrier is down.</summary>
    public void Received(Member m, ReadOnlySpan<byte> frame, long nowMs)
    {
        m.RxPdus++;
        byte subtype = LacpFrame.Parse(frame, out var actor, out var partner);
        if (subtype == LacpFrame.SubtypeMarker)
        {
            m.RxMarker++;
            return;
        }
        if (subtype != LacpFrame.SubtypeLacp)
        {
            m.RxBad++;
            return;
        }
        if (!m.CarrierUp) return;
        m.Status = LacpMemberStatus.Current;
        m.RxDue = nowMs + RxMultiplier * (Fast ? FastTxMs : SlowTxMs);
        m.NttActor = partner;
        if (m.Partner != actor)
        {
            _update = true;
            m.Partner = actor;
        }
    }

    /// <summary>Whether <paramref name="m"/> may carry traffic: attached, and its partner in sync.</summary>
    public static bool MayEnable(Member m) => m.Attached && (m.Partner.State & StateSync) != 0;

    /// <summary>Whether the member's partner information is up to date (not defaulted): Interface lacp_current.</summary>
    public static bool IsCurrent(Member m) => m.Status != LacpMemberStatus.Defaulted;

    /// <summary>
    /// The periodic step (lacp_run): partners that went quiet expire, then default; attachment is recomputed when
    /// anything it depends on changed; each member that may send sends an LACPDU when its timer is due or what it
    /// would say changed (<paramref name="send"/> gets the member, the actor and the partner). True when a member's
    /// status changed (the caller re-evaluates the bond).
    /// </summary>
    public bool Run(long nowMs, Action<Member, LacpInfo, LacpInfo> send)
    {
        bool changed = false;
        foreach (var m in _members)
        {
            if (nowMs < m.RxDue) continue;
            if (m.Status == LacpMemberStatus.Current)
            {
                SetExpired(m, nowMs);
                m.LinkExpired++;
                changed = true;
            }
            else if (m.Status == LacpMemberStatus.Expired)
            {
                SetDefaulted(m);
                m.LinkDefaulted++;
                changed = true;
            }
        }
        if (_update)
        {
            UpdateAttached();
            changed = true;
        }
        foreach (var m in _members)
        {
            if (!m.CarrierUp || (!Active && m.Status == LacpMemberStatus.Defaulted)) continue;
            var actor = Actor(m);
            if (nowMs < m.TxDue && TxEqual(actor, m.NttActor)) continue;
            m.NttActor = actor;
            send(m, actor, m.Partner);
            m.TxPdus++;
            m.TxDue = nowMs + ((m.Partner.State & StateTimeout) != 0 ? FastTxMs : SlowTxMs);
        }
        return changed;
    }

    /// <summary>What member <paramref name="m"/> says of itself (member_get_actor).</summary>
    public LacpInfo Actor(Member m)
    {
        byte state = 0;
        if (Active) state |= StateActivity;
        if (Fast) state |= StateTimeout;
        if (m.Attached) state |= StateSync;
        if (m.Status == LacpMemberStatus.Defaulted) state |= StateDefaulted;
        if (m.Status == LacpMemberStatus.Expired) state |= StateExpired;
        if (_members.Count > 1) state |= StateAggregation;
        if (m.Attached || !Negotiated) state |= StateCollecting | StateDistributing;
        return new LacpInfo(SysPriority, SysId, AggregationKey, m.PortPriority, m.PortId, state);
    }

    /// <summary>The aggregation key: the key member's key, else its port id.</summary>
    public ushort AggregationKey => KeyMember is not { } k ? (ushort)0 : k.Key != 0 ? k.Key : k.PortId;

    private static bool TxEqual(in LacpInfo a, in LacpInfo b)
        => ((a.State ^ b.State) & (StateActivity | StateTimeout | StateSync | StateAggregation)) == 0
           && a.PortId == b.PortId && a.PortPriority == b.PortPriority && a.Key == b.Key && a.SysPriority == b.SysPriority && a.SysId == b.SysId;

    private void SetDefaulted(Member m)
    {
        m.Partner = default;
        m.Status = LacpMemberStatus.Defaulted;
        _update = true;
    }

    private static void SetExpired(Member m, long nowMs)
    {
        m.Status = LacpMemberStatus.Expired;
        m.Partner = m.Partner with { State = (byte)((m.Partner.State | StateTimeout) & ~StateSync) };
        m.RxDue = nowMs + RxMultiplier * FastTxMs;
    }

    /// <summary>The priority a member's link is chosen by (member_get_priority): the information of the system of the
    /// higher priority (ours or the partner's), key and state left out.</summary>
    private LacpInfo Priority(Member m)
    {
        var p = m.Partner;
        bool ours = SysPriority < p.SysPriority || (SysPriority == p.SysPriority && SysId < p.SysId);
        var info = ours ? Actor(m) : p;
        return info with { Key = 0, State = 0 };
    }

    /// <summary>Which members are attached to the aggregator, and whether the bond is negotiated (lacp_update_attached):
    /// the lead is the best current attached member, else the best member that may be enabled; members of another
    /// partner system or key than the lead's are detached; a member whose partner is this system (a loop) never attaches.</summary>
    private void UpdateAttached()
    {
        _update = false;
        Member? lead = null, leadCurrent = null;
        LacpInfo leadPri = default;
        bool leadEnable = false;
        foreach (var m in _members)
        {
            if (m.Status != LacpMemberStatus.Current || !m.Attached) continue;
            var pri = Priority(m);
            if (leadCurrent is null || pri.CompareTo(leadPri) < 0)
            {
                leadCurrent = lead = m;
                leadPri = pri;
                leadEnable = true;
            }
        }
        foreach (var m in _members)
        {
            m.Attached = false;
            if (m.Partner.SysId == SysId) continue;
            if (m.Status == LacpMemberStatus.Defaulted) continue;
            var pri = Priority(m);
            bool enable = MayEnableUnattached(m);
            if (leadCurrent is null || m.Partner.SysId == leadCurrent.Partner.SysId) m.Attached = true;
            if (m.Attached && (lead is null || (enable && !leadEnable) || (enable == leadEnable && pri.CompareTo(leadPri) < 0)))
            {
                lead = m;
                leadEnable = enable;
                leadPri = pri;
            }
        }
        Negotiated = lead is not null;
        if (lead is null) return;
        foreach (var m in _members)
            if (lead.Partner.Key != m.Partner.Key || lead.Partner.SysId != m.Partner.SysId) m.Attached = false;
    }

    // member_may_enable__ as lacp_update_attached calls it, after clearing the member's attachment: false.
    private static bool MayEnableUnattached(Member m) => m.Attached && (m.Partner.State & StateSync) != 0;

    /// <summary>The bond as Open vSwitch's <c>ovs-appctl lacp/show</c> prints it (lacp_print_details).</summary>
    public void Show(StringBuilder s)
    {
        s.Append("---- ").Append(Name).Append(" ----\n");
        s.Append("  status: ").Append(Active ? "active" : "passive");
        if (Negotiated) s.Append(" negotiated");
        s.Append('\n');
        s.Append("  sys_id: ").Append(Mac(SysId)).Append('\n');
        s.Append(CultureInfo.InvariantCulture, $"  sys_priority: {SysPriority}\n");
        s.Append("  aggregation key: ").Append(KeyMember is null ? "none" : AggregationKey.ToString(CultureInfo.InvariantCulture)).Append('\n');
        s.Append("  lacp_time: ").Append(Fast ? "fast\n" : "slow\n");
        foreach (var m in _members.OrderBy(m => m.Name, StringComparer.Ordinal))
        {
            var actor = Actor(m);
            string status = m.Status switch { LacpMemberStatus.Current => "current", LacpMemberStatus.Expired => "expired", _ => "defaulted" };
            s.Append(CultureInfo.InvariantCulture, $"\nmember: {m.Name}: {status} {(m.Attached ? "attached" : "detached")}\n");
            s.Append(CultureInfo.InvariantCulture, $"  port_id: {m.PortId}\n");
            s.Append(CultureInfo.InvariantCulture, $"  port_priority: {m.PortPriority}\n");
            s.Append("  may_enable: ").Append(MayEnable(m) ? "true" : "false").Append('\n');
            Side(s, "actor", actor);
            Side(s, "partner", m.Partner);
        }
    }

    private static void Side(StringBuilder s, string who, in LacpInfo i)
    {
        s.Append(CultureInfo.InvariantCulture, $"\n  {who} sys_id: {Mac(i.SysId)}\n");
        s.Append(CultureInfo.InvariantCulture, $"  {who} sys_priority: {i.SysPriority}\n");
        s.Append(CultureInfo.InvariantCulture, $"  {who} port_id: {i.PortId}\n");
        s.Append(CultureInfo.InvariantCulture, $"  {who} port_priority: {i.PortPriority}\n");
        s.Append(CultureInfo.InvariantCulture, $"  {who} key: {i.Key}\n");
        s.Append(CultureInfo.InvariantCulture, $"  {who} state:");
        if ((i.State & StateActivity) != 0) s.Append(" activity");
        if ((i.State & StateTimeout) != 0) s.Append(" timeout");
        if ((i.State & StateAggregation) != 0) s.Append(" aggregation");
        if ((i.State & StateSync) != 0) s.Append(" synchronized");
        if ((i.State & StateCollecting) != 0) s.Append(" collecting");
        if ((i.State & StateDistributing) != 0) s.Append(" distributing");
        if ((i.State & StateDefaulted) != 0) s.Append(" defaulted");
        if ((i.State & StateExpired) != 0) s.Append(" expired");
        s.Append('\n');
    }

    /// <summary>An address as Open vSwitch prints it (ETH_ADDR_FMT).</summary>
    public static string Mac(ulong a) => string.Create(CultureInfo.InvariantCulture,
        $"{a >> 40 & 0xff:x2}:{a >> 32 & 0xff:x2}:{a >> 24 & 0xff:x2}:{a >> 16 & 0xff:x2}:{a >> 8 & 0xff:x2}:{a & 0xff:x2}");
}
