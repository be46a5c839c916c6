using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Ports;

namespace Softswitch.Datapath.Forwarding;

/// <summary>A frame as NORMAL took it in: its input port, whether that is a port of the switch (not a packet-out's
/// CONTROLLER or NONE), its bond, the port NORMAL learns it behind, its VLAN, and its own tag.</summary>
internal readonly record struct NormalInput(ushort Port, bool FromPort, Bond? Bond, ushort LearnAs, ushort Vlan, bool Tagged, ushort Vid);

public sealed partial class OutputStage
{
    private enum McastKind : byte
    {
        /// <summary>To a group: where the group's ports, the flood ports and the routers are.</summary>
        Data,
        /// <summary>IPv4 224.0.0.x (not IGMP) or IPv6 ff02::1: flooded (RFC 4541 2.1.2).</summary>
        LinkLocal,
        /// <summary>An IGMP message that is neither a report nor a query: flooded, not learned from.</summary>
        OtherIgmp,
        /// <summary>An IGMP or MLD query: learned from (a router's port), flooded.</summary>
        Query,
        /// <summary>An IGMP or MLD membership report or leave: learned from, sent to the routers and flood-reports ports only.</summary>
        Report,
    }

    /// <summary>
    /// NORMAL's multicast with snooping on, as Open vSwitch's xlate_normal: an IGMP or MLD report (v1, v2, v3 and
    /// leave; MLDv1, MLDv2 and done) is handed to snooping (<see cref="SwitchDatapath.McastSink"/>) and sent only to the
    /// ports multicast routers were heard on in its VLAN and the flood-reports ports (RFC 4541 2.1.1); a query is handed
    /// over and flooded; another IGMP message, and IPv4 224.0.0.x or IPv6 ff02::1, flooded; other IP multicast goes to
    /// its group's ports, the flood ports and the routers, or, to a group no port joined, is flooded (or, with
    /// flood-unregistered off, goes to the routers and flood ports). Never back to the port (or bond) it came from.
    /// False when the frame is not IP multicast (broadcast, another ethertype, a truncated IP header): NORMAL goes on
    /// as for any multicast.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool Snoop(McastSnoopingTable table, int p, ReadOnlySpan<byte> f, in NormalInput input, bool copy)
    {
        if (BinaryPrimitives.ReadUInt32BigEndian(f) == 0xFFFF_FFFF && BinaryPrimitives.ReadUInt16BigEndian(f[4..]) == 0xFFFF) return false;
        int off = input.Tagged ? EthAddresses + TagSize : EthAddresses;
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(f[off..]);
        off += 2;
        ulong high, low;
        McastKind kind;
        if (type == 0x0800)
        {
            if (f.Length < off + 20) return false;
            var ip = f[off..];
            uint dst = BinaryPrimitives.ReadUInt32BigEndian(ip[16..]);
            (high, low) = McastSnoopingTable.MappedIpv4(dst);
            if (ip[9] == 2)
            {
                int l4 = off + (ip[0] & 0x0F) * 4;
                bool first = (BinaryPrimitives.ReadUInt16BigEndian(ip[6..]) & 0x1FFF) == 0;
                int igmp = first && (ip[0] & 0x0F) >= 5 && f.Length > l4 ? f[l4] : 0;
                kind = igmp switch
                {
                    0x12 or 0x16 or 0x17 or 0x22 => McastKind.Report,
                    0x11 => McastKind.Query,
                    _ => McastKind.OtherIgmp,
                };
            }
            else
            {
                kind = (dst & 0xFFFF_FF00) == 0xE000_0000 ? McastKind.LinkLocal : McastKind.Data;
            }
        }
        else if (type == 0x86DD)
        {
            if (f.Length < off + 40) return false;
            high = BinaryPrimitives.ReadUInt64BigEndian(f[(off + 24)..]);
            low = BinaryPrimitives.ReadUInt64BigEndian(f[(off + 32)..]);
            kind = IcmpV6Type(f, off) switch
            {
                130 => McastKind.Query,
                131 or 132 or 143 => McastKind.Report,
                _ => high == 0xFF02_0000_0000_0000UL && low == 1 ? McastKind.LinkLocal : McastKind.Data,
            };
        }
        else
        {
            return false;
        }

        switch (kind)
        {
            case McastKind.Query:
                HandToSnooping(f, input);
                FloodVlan(p, f, input, copy);
                return true;
            case McastKind.OtherIgmp:
            case McastKind.LinkLocal:
                FloodVlan(p, f, input, copy);
                return true;
            case McastKind.Report:
                HandToSnooping(f, input);
                foreach (var r in table.Routers)
                    if (r.Vlan == input.Vlan && r.Port != input.LearnAs) ToNormalPort(r.Port, p, input, copy);
                foreach (ushort port in table.FloodReportPorts)
                    if (port != input.LearnAs && !table.IsRouter(input.Vlan, port)) ToNormalPort(port, p, input, copy);
                return true;
        }

        var members = table.Lookup(high, low, input.Vlan);
        if (members is null && table.FloodUnregistered)
        {
            FloodVlan(p, f, input, copy);
            return true;
        }
        ReadOnlySpan<ushort> group = members;
        foreach (ushort port in group)
            if (port != input.LearnAs) ToNormalPort(port, p, input, copy);
        ReadOnlySpan<ushort> flood = table.FloodPorts;
        foreach (ushort port in flood)
            if (port != input.LearnAs && !group.Contains(port)) ToNormalPort(port, p, input, copy);
        foreach (var r in table.Routers)
            if (r.Vlan == input.Vlan && r.Port != input.LearnAs && !group.Contains(r.Port) && !flood.Contains(r.Port)) ToNormalPort(r.Port, p, input, copy);
        return true;
    }

    /// <summary>A report or query for snooping: to its sink (counted), unless it came from no port (a packet-out).</summary>
    private void HandToSnooping(ReadOnlySpan<byte> f, in NormalInput input)
    {
        if (!input.FromPort) return;
        if (_f.Owner.McastSink is { } sink) sink.Received(input.LearnAs, input.Vlan, f);
        else _f.Counters.Add(DatapathCounters.McastSnoopingUnheard);
        _f.Counters.Add(DatapathCounters.McastSnoopingFrame);
    }

    /// <summary>NORMAL's output to one of its ports (a port's number, or a bond's key: by the member the bond chooses),
    /// in the frame's VLAN; a mirror's output port takes nothing (counted).</summary>
    private void ToNormalPort(ushort port, int p, in NormalInput input, bool copy)
    {
        if (_f.Owner.Ports.Get(port) is not { } slot)
        {
            _f.Drops.Add(DropReason.NoSuchPort);
            return;
        }
        if (slot.MirrorOut) _f.Drops.Add(DropReason.MirrorPort);
        else if (slot.Bond is { } bond) ToBond(bond, p, input.Vlan, input.Tagged, input.Vid, copy);
        else ToVlanPort(slot, p, input.Vlan, input.Tagged, input.Vid, copy);
    }

    /// <summary>The ICMPv6 type of the IPv6 packet at <paramref name="off"/> past its extension headers (hop-by-hop,
    /// which MLD carries its router alert in, routing, destination options, a first fragment, AH), or -1.</summary>
    private static int IcmpV6Type(ReadOnlySpan<byte> f, int off)
    {
        int next = f[off + 6], at = off + 40;
        for (int headers = 0; headers < 8; headers++)
        {
            switch (next)
            {
                case 58:
                    return f.Length > at ? f[at] : -1;
                case 0 or 43 or 60:
                    if (f.Length < at + 2) return -1;
                    next = f[at];
                    at += (f[at + 1] + 1) * 8;
                    break;
                case 44:
                    if (f.Length < at + 8 || (BinaryPrimitives.ReadUInt16BigEndian(f[(at + 2)..]) & 0xFFF8) != 0) return -1;
                    next = f[at];
                    at += 8;
                    break;
                case 51:
                    if (f.Length < at + 2) return -1;
                    next = f[at];
                    at += (f[at + 1] + 2) * 4;
                    break;
                default:
                    return -1;
            }
        }
        return -1;
    }
}
