using System.Text;
using Microsoft.Extensions.Logging;
using Softswitch.Bonding;
using Softswitch.Datapath;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Forwarding;
using Softswitch.Datapath.Ports;

namespace Softswitch.Vswitchd;

/// <summary>One bond member open on the bridge: its configuration, OpenFlow port number and Ethernet address.</summary>
internal readonly record struct BondMemberInput(BondMemberConfig Config, ushort No, ulong Mac);

/// <summary>
/// A bridge's bonds (Port rows with two or more Interfaces) between their protocol rooms and the datapath, as Open
/// vSwitch's ofproto-dpif drives ofproto/bond.c and lib/lacp.c: each bond's members' carriers and LACP's word decide
/// (<see cref="BondMembers"/>) which members are enabled and which is active, handed to the datapath's
/// <see cref="Bond"/> whole; LACP's frames the datapath consumes come here (<see cref="IBpduSink"/>), and LACPDUs go
/// out through a packet-out to their member.
/// </summary>
/// <remarks>
/// <para>Threads: a timer runs every <see cref="TickMs"/> ms (carriers, received frames, LACP, members, then the
/// datapath's state, then LACPDUs out); the configuration thread calls <see cref="Configure"/>; forwarding threads call
/// <see cref="Received"/>; status and appctl readers take the lock briefly. One lock (<c>_lock</c>) serialises the
/// protocols; received frames wait in a bounded ring under their own short lock (<see cref="ReceivedFrames"/>'s, never held with the
/// other), so a forwarding thread never waits on a protocol. Nothing is allocated per LACPDU received.</para>
/// </remarks>
internal sealed class BridgeBonds : IBpduSink, IDisposable
{
    public const int TickMs = 100;
    private const int RxSlots = 64, FrameSize = LacpFrame.FrameSize;

    private sealed class Entry(BondConfig config, Bond bond, BondMembers members, Lacp? lacp)
    {
        public BondConfig Config = config;
        public readonly Bond Bond = bond;
        public readonly BondMembers Members = members;
        public Lacp? Lacp = lacp;
        public BondLacp Published = (BondLacp)0xFF;
        public readonly Dictionary<ushort, FlowActions> Output = [];
        /// <summary>Each hash bucket's recent transmit bytes (halved each rebalance) and when the next rebalance is due
        /// (ms; 0: not scheduled), while the bond rebalances.</summary>
        public readonly long[] Load = new long[Bond.BucketCount];
        public long NextRebalance;
    }

    private readonly SwitchDatapath _dp;
    private readonly ILogger _log;
    private readonly string _bridge;
    private readonly Lock _lock = new();
    private List<Entry> _bonds = [];

    private readonly ReceivedFrames _received = new(RxSlots, FrameSize);
    private readonly byte[] _scratch = new byte[FrameSize];
    private readonly byte[] _tx = new byte[FrameSize];

    private readonly Timer _timer;
    private bool _disposed;

    public BridgeBonds(string bridge, SwitchDatapath dp, ILogger log)
    {
        _bridge = bridge;
        _dp = dp;
        _log = log;
        dp.LacpSink = this;
        _timer = new Timer(static s => ((BridgeBonds)s!).Run(), this, TickMs, TickMs);
    }

    /// <summary>Slow-protocol frames dropped because the receive ring was full.</summary>
    public long RxOverflow => _received.Overflow;

    private static long Now() => Environment.TickCount64;

    /// <summary>
    /// Applies the bonds: each with its members open now (by number and address); a bond whose name, mode, hash basis
    /// or member set changed is made anew (NORMAL forgets what it learned behind it), an unchanged one keeps its state
    /// and takes its new delays and LACP settings. A bond with fewer than two members open is not served until it has
    /// them. <paramref name="bridgeMac"/> is LACP's system id when the bond names none.
    /// </summary>
    public void Configure(IReadOnlyList<(BondConfig Config, IReadOnlyList<BondMemberInput> Members)> bonds, ulong bridgeMac)
    {
        lock (_lock)
        {
            if (_disposed) return;
            long now = Now();
            var next = new List<Entry>();
            bool reshaped = false;
            foreach (var (config, members) in bonds)
            {
                if (members.Count < 2)
                {
                    _log.LogWarning("bridge {Bridge}: bond {Bond}: {Count} of its interfaces open (a bond needs two): not served until they are", _bridge, config.Name, members.Count);
                    continue;
                }
                ushort[] numbers = [.. members.Select(m => m.No).Distinct().Order()];
                var entry = _bonds.FirstOrDefault(e => e.Config.ShapeKey == config.ShapeKey && e.Bond.Members.AsSpan().SequenceEqual(numbers));
                if (entry is null)
                {
                    var bond = new Bond(config.Name, config.Mode, numbers, config.HashBasis);
                    entry = new Entry(config, bond, new BondMembers(config.Name, config.Mode) { ActiveMac = config.ActiveSlaveMac }, null);
                    reshaped = true;
                    _log.LogInformation("bridge {Bridge}: bond {Bond}: {Mode} over {Members}", _bridge, config.Name, BondMembers.ModeName(config.Mode),
                        string.Join(", ", members.Select(m => $"{m.Config.Name} (port {m.No})")));
                }
                entry.Config = config;
                bool rebalancing = config.Mode != BondMode.ActiveBackup && config.RebalanceIntervalMs > 0;
                if (!rebalancing || entry.NextRebalance == 0) entry.NextRebalance = rebalancing ? now + config.RebalanceIntervalMs : 0;
                entry.Bond.Accounting = rebalancing;
                entry.Members.UpdelayMs = config.UpdelayMs;
                entry.Members.DowndelayMs = config.DowndelayMs;
                foreach (var m in members)
                {
                    entry.Members.Add(m.No, m.Config.Name, m.Mac);
                    if (!entry.Output.ContainsKey(m.No)) entry.Output[m.No] = new FlowActions([FlowAction.Output(m.No)]);
                }
                ConfigureLacp(entry, members, bridgeMac, now);
                next.Add(entry);
            }
            foreach (var old in _bonds)
            {
                if (next.Contains(old)) continue;
                reshaped = true;
                foreach (ushort no in old.Bond.Members) _dp.SetPortLacp(no, false);
            }
            _bonds = next;
            if (reshaped || _dp.Bonds.Count != next.Count) _dp.SetBonds([.. next.Select(e => e.Bond)]);
            RunLocked();
        }
    }

    private void ConfigureLacp(Entry entry, IReadOnlyList<BondMemberInput> members, ulong bridgeMac, long now)
    {
        var c = entry.Config;
        if (c.LacpActive is not { } active)
        {
            if (entry.Lacp is null) return;
            entry.Lacp = null;
            foreach (ushort no in entry.Bond.Members) _dp.SetPortLacp(no, false);
            _log.LogInformation("bridge {Bridge}: bond {Bond}: LACP off", _bridge, c.Name);
            return;
        }
        if (entry.Lacp is null)
        {
            entry.Lacp = new Lacp(c.Name);
            _log.LogInformation("bridge {Bridge}: bond {Bond}: LACP {Mode}, {Time}", _bridge, c.Name, active ? "active" : "passive", c.LacpFast ? "fast" : "slow");
        }
        // Prefer bondable links when unset (Open vSwitch's port_configure_lacp: 65535 less one for a bond of several).
        ushort priority = c.LacpSystemPriority != 0 ? c.LacpSystemPriority : (ushort)(ushort.MaxValue - 1);
        entry.Lacp.Configure(c.LacpSystemId ?? bridgeMac, priority, active, c.LacpFast);
        foreach (var m in members)
        {
            var mc = m.Config;
            entry.Lacp.Register(m.No, mc.Name, mc.LacpPortId != 0 ? mc.LacpPortId : m.No, mc.LacpPortPriority != 0 ? mc.LacpPortPriority : ushort.MaxValue, mc.LacpKey, now);
            _dp.SetPortLacp(m.No, true);
        }
    }

    /// <summary>Takes a slow-protocol frame the datapath consumed (a forwarding thread): copied into the ring, or counted when it is full.</summary>
    public void Received(PortSlot port, ReadOnlySpan<byte> frame) => _received.Add(port.No, frame);

    private void Run()
    {
        lock (_lock)
        {
            if (_disposed) return;
            try
            {
                RunLocked();
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                _log.LogError(e, "bridge {Bridge}: bond round failed", _bridge);
            }
        }
    }

    /// <summary>One round (under <c>_lock</c>): carriers, received frames, LACP, members, the datapath's state, LACPDUs out.</summary>
    private void RunLocked()
    {
        long now = Now();
        foreach (var e in _bonds)
        {
            foreach (var m in e.Members.Members)
            {
                var slot = _dp.Ports.Get(m.No);
                bool up = slot is not null && slot.LinkUp && (slot.Config & PortConfig.PortDown) == 0;
                if (up != m.Carrier || (e.Lacp?.Find(m.No) is { } lm && lm.CarrierUp != up))
                {
                    e.Members.SetCarrier(m, up);
                    if (e.Lacp?.Find(m.No) is { } l) e.Lacp.SetCarrier(l, up, now);
                    _log.LogInformation("bridge {Bridge}: bond {Bond}: member {Member}: link state {State}", _bridge, e.Config.Name, m.Name, up ? "up" : "down");
                }
            }
        }
        while (TakeReceived(out ushort no, out int size))
        {
            foreach (var e in _bonds)
            {
                if (e.Lacp?.Find(no) is not { } l) continue;
                e.Lacp.Received(l, _scratch.AsSpan(0, size), now);
                break;
            }
        }
        foreach (var e in _bonds)
        {
            var status = BondLacp.Off;
            if (e.Lacp is { } lacp)
            {
                // A member reopened under its number (a new slot) takes LACP's receive bit again; unchanged, nothing happens.
                foreach (ushort no in e.Bond.Members) _dp.SetPortLacp(no, true);
                lacp.Run(now, (m, actor, partner) => Send(e, m.No, actor, partner));
                foreach (var m in e.Members.Members)
                    BondMembers.SetMayEnable(m, lacp.Find(m.No) is { } l && Lacp.MayEnable(l));
                status = lacp.Status;
            }
            bool changed = e.Members.Run(now);
            if (!changed && status == e.Published) continue;
            if (changed)
            {
                _log.LogInformation("bridge {Bridge}: bond {Bond}: active member {Active}; enabled {Enabled}", _bridge, e.Config.Name, e.Members.Active?.Name ?? "none",
                    string.Join(", ", e.Members.Members.Where(m => m.Enabled).Select(m => m.Name)));
            }
            if (status != e.Published) _log.LogInformation("bridge {Bridge}: bond {Bond}: LACP {Status}", _bridge, e.Config.Name, status);
            e.Members.Publish(e.Bond, status);
            e.Published = status;
        }
        foreach (var e in _bonds) Rebalance(e, now);
    }

    /// <summary>
    /// A balanced bond's rebalance when it is due (every bond-rebalance-interval, as Open vSwitch's bond_rebalance): the
    /// bytes each bucket sent since the last one added to its load, buckets moved from the most to the least loaded
    /// enabled member (<see cref="BondRebalance"/>), the datapath given the new buckets, the loads halved.
    /// </summary>
    private void Rebalance(Entry e, long now)
    {
        if (e.NextRebalance == 0 || now < e.NextRebalance) return;
        e.NextRebalance = now + e.Config.RebalanceIntervalMs;
        e.Bond.TakeLoad(e.Load);
        var buckets = new ushort[Bond.BucketCount];
        for (int i = 0; i < buckets.Length; i++) buckets[i] = e.Bond.BucketMember(i);
        var enabled = e.Members.Members.Where(m => m.Enabled).Select(m => m.No).ToList();
        int moved = BondRebalance.Run(buckets, e.Load, enabled);
        if (moved == 0) return;
        e.Bond.SetBuckets(buckets);
        _log.LogInformation("bridge {Bridge}: bond {Bond}: rebalanced {Moved} hash bucket(s) by load: {Members}", _bridge, e.Config.Name, moved,
            string.Join(", ", e.Members.Members.Select(m => $"{m.Name} {Enumerable.Range(0, buckets.Length).Count(i => buckets[i] == m.No)} buckets")));
    }

    private void Send(Entry e, ushort no, in LacpInfo actor, in LacpInfo partner)
    {
        if (!e.Output.TryGetValue(no, out var output)) return;
        ulong mac = _dp.Ports.Get(no)?.Port.Info.HwAddr.Value ?? 0;
        int size = LacpFrame.Write(_tx, mac, actor, partner);
        _dp.PacketOut(_tx.AsSpan(0, size), PortNumber.None, output);
    }

    private bool TakeReceived(out ushort no, out int size) => _received.TryTake(_scratch, out no, out size);

    /// <summary>Each bond's Port bond_active_slave (its active member's address; 00:00:00:00:00:00 with none), as Open
    /// vSwitch writes it.</summary>
    public List<(Guid Port, string ActiveSlave)> ActiveSlaves()
    {
        lock (_lock)
            return [.. _bonds.Select(e => (e.Config.PortUuid, Lacp.Mac(e.Members.Active?.Mac ?? 0)))];
    }

    /// <summary>Each LACP bond member's Interface lacp_current (its partner information is not defaulted).</summary>
    public Dictionary<Guid, bool> LacpCurrent()
    {
        var result = new Dictionary<Guid, bool>();
        lock (_lock)
        {
            foreach (var e in _bonds)
            {
                if (e.Lacp is not { } lacp) continue;
                foreach (var mc in e.Config.Members)
                    if (lacp.Members.FirstOrDefault(l => l.Name == mc.Name) is { } l) result[mc.InterfaceUuid] = Lacp.IsCurrent(l);
            }
        }
        return result;
    }

    /// <summary>Mixes what the status shows into <paramref name="stamp"/>: each bond's active member and each LACP member's currency.</summary>
    public void AddStatusStamp(ref StatusStamp stamp)
    {
        lock (_lock)
        {
            foreach (var e in _bonds)
            {
                stamp.Add((long)(e.Members.Active?.Mac ?? 0));
                if (e.Lacp is null) continue;
                foreach (var l in e.Lacp.Members) stamp.Add(Lacp.IsCurrent(l) ? 1 : 2);
            }
        }
    }

    /// <summary>Whether the bridge has a bond named <paramref name="name"/> (with LACP when <paramref name="lacp"/>).</summary>
    public bool Has(string name, bool lacp)
    {
        lock (_lock) return _bonds.Any(e => e.Config.Name == name && (!lacp || e.Lacp is not null));
    }

    /// <summary>The bonds (or the one named) as <c>ovs-appctl bond/show</c> prints them.</summary>
    public void ShowBonds(StringBuilder s, string? name)
    {
        lock (_lock)
        {
            foreach (var e in _bonds.OrderBy(e => e.Config.Name, StringComparer.Ordinal))
            {
                if (name is not null && e.Config.Name != name) continue;
                var load = e.NextRebalance == 0 ? null : e.Load.Select((bytes, i) => (e.Bond.BucketMember(i), bytes)).ToList();
                e.Members.Show(s, e.Published == (BondLacp)0xFF ? BondLacp.Off : e.Published, e.Config.HashBasis, Now(), e.NextRebalance == 0 ? null : e.NextRebalance, load);
            }
        }
    }

    /// <summary>The LACP bonds (or the one named) as <c>ovs-appctl lacp/show</c> prints them.</summary>
    public void ShowLacp(StringBuilder s, string? name)
    {
        lock (_lock)
        {
            foreach (var e in _bonds.OrderBy(e => e.Config.Name, StringComparer.Ordinal))
                if (e.Lacp is { } lacp && (name is null || e.Config.Name == name)) lacp.Show(s);
        }
    }

    /// <summary>The bonds' lines of <c>ovs-appctl bond/list</c>: name, mode, recirculation id (0: none), members.</summary>
    public void List(StringBuilder s)
    {
        lock (_lock)
        {
            foreach (var e in _bonds.OrderBy(e => e.Config.Name, StringComparer.Ordinal))
            {
                s.Append(e.Config.Name).Append('\t').Append(BondMembers.ModeName(e.Config.Mode)).Append("\t0\t")
                    .Append(string.Join(", ", e.Members.Members.Select(m => m.Name).Order(StringComparer.Ordinal))).Append('\n');
            }
        }
    }

    /// <summary>Stops the bonds: the datapath's members become plain ports again, LACP's frames forwarded as any frame.</summary>
    public void Dispose()
    {
        _timer.Dispose();
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            if (ReferenceEquals(_dp.LacpSink, this)) _dp.LacpSink = null;
            foreach (var e in _bonds)
                foreach (ushort no in e.Bond.Members) _dp.SetPortLacp(no, false);
            _bonds = [];
            _dp.SetBonds([]);
        }
    }
}
