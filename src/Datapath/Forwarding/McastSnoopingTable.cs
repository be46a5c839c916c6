using Softswitch.Datapath.Ports;

namespace Softswitch.Datapath.Forwarding;

/// <summary>
/// What NORMAL reads of IGMP/MLD snooping (Open vSwitch's lib/mcast-snooping.c as ofproto-dpif-xlate.c reads it): each
/// multicast group registered in a VLAN with the ports that joined it, the ports multicast routers were heard on (per
/// VLAN), the ports that take all multicast (<c>mcast-snooping-flood</c>) and all reports
/// (<c>mcast-snooping-flood-reports</c>), and whether unregistered multicast is flooded. A port here is NORMAL's: a
/// port's number, or a bond's <see cref="Bond.Key"/> for the whole bond.
/// </summary>
/// <remarks>
/// <para>Immutable: the protocol above the datapath (which parses the reports and queries, ages the entries and keeps
/// the table size) builds a new table when what it says changes (a group joined or left, a router heard or expired,
/// the settings) and publishes it whole (<see cref="SwitchDatapath.SetMcastSnooping"/>). A forwarding thread loads it
/// once per packet with no lock, and a lookup allocates nothing: an open-addressing array of groups (at most half
/// full) probed linearly, each group's ports a sorted array.</para>
/// <para>Group addresses are IPv6 addresses in two big-endian words; an IPv4 group is its IPv4-mapped address
/// (::ffff:a.b.c.d), as Open vSwitch keeps them.</para>
/// </remarks>
public sealed class McastSnoopingTable
{
    /// <summary>A registered group: its address, its VLAN and the ports that joined it.</summary>
    public readonly record struct Group(ulong AddressHigh, ulong AddressLow, ushort Vlan, ushort[] Ports);

    /// <summary>A port a multicast router (a querier) was heard on, in a VLAN.</summary>
    public readonly record struct Router(ushort Vlan, ushort Port);

    private readonly ulong[] _high = [], _low = [];
    private readonly ushort[] _vlan = [];
    private readonly ushort[]?[] _ports = [];
    private readonly int _mask = -1;
    private readonly Router[] _routers;

    /// <summary>A table with no group, no router and no flood port.</summary>
    public McastSnoopingTable(bool floodUnregistered) : this([], [], [], [], floodUnregistered)
    {
    }

    /// <param name="groups">The registered groups (a group with no port is left out; one named twice keeps its first entry).</param>
    /// <param name="routers">The ports multicast routers were heard on, per VLAN.</param>
    /// <param name="floodPorts">The ports every multicast goes to (<c>mcast-snooping-flood</c>).</param>
    /// <param name="floodReportPorts">The ports every report goes to (<c>mcast-snooping-flood-reports</c>).</param>
    /// <param name="floodUnregistered">Whether multicast to a group no port joined is flooded (else it goes to the
    /// router and flood ports only).</param>
    public McastSnoopingTable(IReadOnlyCollection<Group> groups, IEnumerable<Router> routers, IEnumerable<ushort> floodPorts, IEnumerable<ushort> floodReportPorts,
                              bool floodUnregistered)
    {
        FloodUnregistered = floodUnregistered;
        _routers = [.. routers.Distinct()];
        FloodPorts = [.. floodPorts.Distinct().Order()];
        FloodReportPorts = [.. floodReportPorts.Distinct().Order()];
        if (groups.Count == 0) return;
        int size = 16;
        while (size < groups.Count * 2) size *= 2;
        _high = new ulong[size];
        _low = new ulong[size];
        _vlan = new ushort[size];
        _ports = new ushort[]?[size];
        _mask = size - 1;
        int count = 0;
        foreach (var g in groups)
        {
            if (g.Ports.Length == 0) continue;
            int i = Home(g.AddressHigh, g.AddressLow, g.Vlan, _mask);
            bool known = false;
            while (_ports[i] is not null)
            {
                if (_high[i] == g.AddressHigh && _low[i] == g.AddressLow && _vlan[i] == g.Vlan)
                {
                    known = true;
                    break;
                }
                i = (i + 1) & _mask;
            }
            if (known) continue;
            _high[i] = g.AddressHigh;
            _low[i] = g.AddressLow;
            _vlan[i] = g.Vlan;
            _ports[i] = [.. g.Ports.Distinct().Order()];
            count++;
        }
        Count = count;
    }

    /// <summary>Whether multicast to a group no port joined is flooded (<c>mcast-snooping-disable-flood-unregistered</c> unset).</summary>
    public bool FloodUnregistered { get; }
    /// <summary>The ports every multicast goes to, sorted.</summary>
    public ushort[] FloodPorts { get; }
    /// <summary>The ports every membership report goes to, sorted.</summary>
    public ushort[] FloodReportPorts { get; }
    /// <summary>The groups registered.</summary>
    public int Count { get; }
    /// <summary>The ports multicast routers were heard on.</summary>
    public ReadOnlySpan<Router> Routers => _routers;

    private static int Home(ulong high, ulong low, ushort vlan, int mask)
        => (int)(((high ^ (low * 0x9E37_79B9_7F4A_7C15UL) ^ ((ulong)vlan << 32)) * 0xC2B2_AE3D_27D4_EB4FUL) >> 40) & mask;

    /// <summary>The ports (sorted) that joined group <paramref name="high"/>:<paramref name="low"/> in VLAN
    /// <paramref name="vlan"/>, or null when it is not registered.</summary>
    public ushort[]? Lookup(ulong high, ulong low, ushort vlan)
    {
        if (_mask < 0) return null;
        int i = Home(high, low, vlan, _mask);
        while (_ports[i] is { } ports)
        {
            if (_high[i] == high && _low[i] == low && _vlan[i] == vlan) return ports;
            i = (i + 1) & _mask;
        }
        return null;
    }

    /// <summary>Whether a multicast router was heard on <paramref name="port"/> in VLAN <paramref name="vlan"/>.</summary>
    public bool IsRouter(ushort vlan, ushort port)
    {
        foreach (var r in _routers)
            if (r.Vlan == vlan && r.Port == port) return true;
        return false;
    }

    /// <summary>The IPv4-mapped IPv6 address of IPv4 group <paramref name="ip"/> (host order) as the table keys it.</summary>
    public static (ulong High, ulong Low) MappedIpv4(uint ip) => (0, 0x0000_FFFF_0000_0000UL | ip);
}
