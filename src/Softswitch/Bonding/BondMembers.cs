using System.Globalization;
using System.Text;
using Softswitch.Datapath.Ports;

namespace Softswitch.Bonding;

/// <summary>
/// Which members of a bond carry traffic and which one is active, as Open vSwitch's ofproto/bond.c decides it
/// (bond_link_status_update, bond_choose_active_member): a member is up while its carrier is (bond-detect-mode=carrier)
/// and LACP lets it (<see cref="SetMayEnable"/>); it is enabled once it has stayed up for <see cref="UpdelayMs"/> and
/// disabled once it has stayed down for <see cref="DowndelayMs"/>. The active member stays while it is enabled; else the
/// last active one (by address) if enabled, else the first enabled, else the one whose updelay ends first, enabled at
/// once (no member is enabled: waiting helps nobody).
/// </summary>
/// <remarks>Not thread-safe: its owner serialises the calls. Times are milliseconds of the caller's clock.</remarks>
public sealed class BondMembers
{
    /// <summary>One member: its carrier, LACP's word, whether it is enabled, and when a pending change takes effect.</summary>
    public sealed class Member(ushort no, string name, ulong mac)
    {
        public ushort No { get; } = no;
        public string Name { get; } = name;
        /// <summary>Its Ethernet address (Port bond_active_slave names the active member by it).</summary>
        public ulong Mac { get; internal set; } = mac;
        public bool Carrier { get; internal set; }
        public bool MayEnable { get; internal set; } = true;
        public bool Enabled { get; internal set; }
        /// <summary>When the pending enable or disable takes effect (ms), or <see cref="long.MaxValue"/>: none pending.</summary>
        public long DelayExpires { get; internal set; } = long.MaxValue;
    }

    private readonly List<Member> _members = [];

    public BondMembers(string name, BondMode mode)
    {
        Name = name;
        Mode = mode;
    }

    public string Name { get; }
    public BondMode Mode { get; }
    public int UpdelayMs { get; set; }
    public int DowndelayMs { get; set; }
    public Member? Active { get; private set; }
    /// <summary>The active member's address as last chosen (kept while it is gone, to choose it again when it returns).</summary>
    public ulong ActiveMac { get; set; }
    public IReadOnlyList<Member> Members => _members;

    /// <summary>Adds member <paramref name="no"/> (disabled, carrier down) or updates its address.</summary>
    public Member Add(ushort no, string name, ulong mac)
    {
        foreach (var m in _members)
        {
            if (m.No != no) continue;
            m.Mac = mac;
            return m;
        }
        var added = new Member(no, name, mac);
        _members.Add(added);
        return added;
    }

    public void Remove(ushort no)
    {
        _members.RemoveAll(m => m.No == no);
        if (Active is { } a && a.No == no) Active = null;
    }

    public void SetCarrier(Member m, bool up) => m.Carrier = up;

    /// <summary>LACP's word on the member (true without LACP).</summary>
    public static void SetMayEnable(Member m, bool may) => m.MayEnable = may;

    /// <summary>The periodic step (bond_run): each member's link state with its delays, then the active member. True
    /// when a member was enabled or disabled or the active member changed.</summary>
    public bool Run(long nowMs)
    {
        bool changed = false;
        foreach (var m in _members)
        {
            bool up = m.Carrier && m.MayEnable;
            if ((up == m.Enabled) != (m.DelayExpires == long.MaxValue))
                m.DelayExpires = up == m.Enabled ? long.MaxValue : nowMs + (up ? UpdelayMs : DowndelayMs);
            if (nowMs >= m.DelayExpires) changed |= Enable(m, up);
        }
        if (Active is not { Enabled: true })
        {
            var old = Active;
            Active = Choose();
            if (Active is { Enabled: false } a) Enable(a, true);
            if (Active is not null) ActiveMac = Active.Mac;
            changed |= !ReferenceEquals(old, Active);
        }
        return changed;
    }

    private static bool Enable(Member m, bool enable)
    {
        m.DelayExpires = long.MaxValue;
        if (m.Enabled == enable) return false;
        m.Enabled = enable;
        return true;
    }

    private Member? Choose()
    {
        foreach (var m in _members)
            if (m.Enabled && m.Mac == ActiveMac && ActiveMac != 0) return m;
        foreach (var m in _members)
            if (m.Enabled) return m;
        Member? best = null;
        foreach (var m in _members)
            if (m.DelayExpires != long.MaxValue && m.MayEnable && (best is null || m.DelayExpires < best.DelayExpires)) best = m;
        return best;
    }

    /// <summary>Hands the datapath's <paramref name="bond"/> this state (with LACP's standing).</summary>
    public void Publish(Bond bond, BondLacp lacp)
        => bond.Update(Active?.No ?? PortNumber.None, _members.Where(m => m.Enabled).Select(m => m.No).ToList(), lacp);

    /// <summary>The bond as Open vSwitch's <c>ovs-appctl bond/show</c> prints it (bond_print_details), with what this
    /// datapath has of it: no recirculation, no lb_output action.</summary>
    /// <param name="nextRebalanceMs">When a balanced bond rebalances next (its "next rebalance" line), or null: it does not.</param>
    /// <param name="bucketLoad">Each hash bucket's load in bytes and its member (each member's "hash N: K kB load" lines), or null.</param>
    public void Show(StringBuilder s, BondLacp lacp, uint hashBasis, long nowMs, long? nextRebalanceMs = null, IReadOnlyList<(ushort Member, long Bytes)>? bucketLoad = null)
    {
        s.Append("---- ").Append(Name).Append(" ----\n");
        s.Append("bond_mode: ").Append(ModeName(Mode)).Append('\n');
        s.Append("bond may use recirculation: no, Recirc-ID : -1\n");
        s.Append(CultureInfo.InvariantCulture, $"bond-hash-basis: {hashBasis}\n");
        s.Append("lb_output action: disabled, bond-id: -1\n");
        if (Mode == BondMode.BalanceSlb) s.Append("all members active: false\n");
        s.Append(CultureInfo.InvariantCulture, $"updelay: {UpdelayMs} ms\n");
        s.Append(CultureInfo.InvariantCulture, $"downdelay: {DowndelayMs} ms\n");
        if (nextRebalanceMs is { } next) s.Append(CultureInfo.InvariantCulture, $"next rebalance: {next - nowMs} ms\n");
        s.Append("lacp_status: ").Append(lacp switch { BondLacp.Negotiated => "negotiated", BondLacp.Configured => "configured", _ => "off" }).Append('\n');
        s.Append("lacp_fallback_ab: false\n");
        s.Append("active-backup primary: <none>\n");
        var activeByMac = _members.FirstOrDefault(m => m.Mac == ActiveMac && ActiveMac != 0);
        s.Append("active member mac: ").Append(Lacp.Mac(ActiveMac)).Append('(').Append(activeByMac?.Name ?? "none").Append(")\n");
        foreach (var m in _members.OrderBy(m => m.Name, StringComparer.Ordinal))
        {
            s.Append("\nmember ").Append(m.Name).Append(": ").Append(m.Enabled ? "enabled" : "disabled").Append('\n');
            if (ReferenceEquals(m, Active)) s.Append("  active member\n");
            if (m.DelayExpires != long.MaxValue)
                s.Append(CultureInfo.InvariantCulture, $"  {(m.Enabled ? "downdelay" : "updelay")} expires in {m.DelayExpires - nowMs} ms\n");
            s.Append("  may_enable: ").Append(m.MayEnable && m.Carrier ? "true" : "false").Append('\n');
            if (bucketLoad is null) continue;
            for (int hash = 0; hash < bucketLoad.Count; hash++)
                if (bucketLoad[hash].Member == m.No && bucketLoad[hash].Bytes / 1024 is > 0 and var kb) s.Append(CultureInfo.InvariantCulture, $"  hash {hash}: {kb} kB load\n");
        }
        s.Append('\n');
    }

    /// <summary>A mode's name in the schema (bond_mode_to_string).</summary>
    public static string ModeName(BondMode mode) => mode switch
    {
        BondMode.BalanceSlb => "balance-slb",
        BondMode.BalanceTcp => "balance-tcp",
        _ => "active-backup",
    };
}
