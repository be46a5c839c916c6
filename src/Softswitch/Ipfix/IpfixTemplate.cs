namespace Softswitch.Ipfix;

/// <summary>The network layer of a sampled frame, as a template tells it.</summary>
internal enum IpfixL3 : byte
{
    Unknown = 0,
    Ipv4 = 1,
    Ipv6 = 2,
}

/// <summary>The transport layer of a sampled frame, as a template tells it.</summary>
internal enum IpfixL4 : byte
{
    Unknown = 0,
    Tcp = 1,
    Udp = 2,
    Sctp = 3,
    Icmp = 4,
}

/// <summary>One information element of a template: its IANA (or enterprise) id, its length (65535: variable) and
/// its enterprise number (0: IANA's).</summary>
internal readonly record struct IpfixField(ushort Id, ushort Length, uint Enterprise = 0)
{
    public const ushort VariableLength = 0xFFFF;
}

/// <summary>
/// The templates of Open vSwitch's bridge sampling (ofproto-dpif-ipfix.c, ipfix_define_template_fields): one per
/// combination of a frame's layers (Ethernet with or without a VLAN tag; no IP, IPv4 or IPv6; TCP, UDP, SCTP, ICMP or
/// another transport) and the record's direction (ingress: the port it came in by; egress: also the port it left by),
/// with Open vSwitch's template ids (so a collector that knows Open vSwitch's finds the same). Open vSwitch's tunnel
/// templates (the tunnel's addresses and key, enterprise elements) are not defined here: no record here reports a
/// tunnel header.
/// </summary>
/// <remarks>
/// <para>The flow key part of a record, in field order: observationPointId, flowDirection, source and destination MAC
/// addresses, ethernetType, ethernetHeaderLength; ingressInterface, ingressInterfaceType, interfaceName,
/// interfaceDescription (and the same four of the egress port in an egress record); vlanId, dot1qVlanId, dot1qPriority
/// (tagged frames); ipVersion, ipTTL, protocolIdentifier, ipDiffServCodePoint, ipPrecedence, ipClassOfService, the
/// addresses (and flowLabelIPv6), then the ports or ICMP type and code. Then VMware's virtualObsID (when the row sets
/// one), and the aggregated part: flow start and end deltas, packet and octet delta and total counts, flowEndReason,
/// and for TCP the flag totals.</para>
/// </remarks>
internal readonly record struct IpfixTemplate(bool Vlan, IpfixL3 L3, IpfixL4 L4, bool Egress)
{
    /// <summary>The first template id a template set may use (RFC 7011, 3.4.1).</summary>
    public const ushort MinId = 256;
    /// <summary>VMware's enterprise number (Open vSwitch's enterprise elements).</summary>
    public const uint Vmware = 6876;

    /// <summary>The id Open vSwitch gives this template (ipfix_get_template_id: layer 2, 3, 4, tunnel, direction as
    /// digits of a mixed-radix number, plus 256).</summary>
    public ushort Id => (ushort)(MinId + ((((((Vlan ? 1 : 0) * 3 + (int)L3) * 5 + (int)L4) * 2 + 0) * 2) + (Egress ? 1 : 0)));

    /// <summary>The options template id of the exporting process's reliability statistics (Open vSwitch's: the first
    /// after every template id).</summary>
    public const ushort ExporterStatsId = MinId + ((((2 * 3 + 3) * 5 + 5) * 2 + 2) * 2 + 2);

    /// <summary>Every template this exporter defines, in Open vSwitch's order.</summary>
    public static IEnumerable<IpfixTemplate> All()
    {
        for (int l2 = 0; l2 < 2; l2++)
        {
            for (int l3 = 0; l3 < 3; l3++)
            {
                for (int l4 = 0; l4 < 5; l4++)
                {
                    if (l3 == 0 && l4 != 0) continue;
                    for (int dir = 0; dir < 2; dir++) yield return new IpfixTemplate(l2 == 1, (IpfixL3)l3, (IpfixL4)l4, dir == 1);
                }
            }
        }
    }

    public bool IsIp => L3 != IpfixL3.Unknown;
    public bool HasPorts => IsIp && L4 is IpfixL4.Tcp or IpfixL4.Udp or IpfixL4.Sctp;

    /// <summary>The template's fields in order; <paramref name="virtualObsId"/>: with virtualObsID.</summary>
    public List<IpfixField> Fields(bool virtualObsId)
    {
        var f = new List<IpfixField>
        {
            new(138, 4), // observationPointId
            new(61, 1), // flowDirection
            new(56, 6), // sourceMacAddress
            new(80, 6), // destinationMacAddress
            new(256, 2), // ethernetType
            new(240, 1), // ethernetHeaderLength
            new(10, 4), // ingressInterface
            new(368, 4), // ingressInterfaceType
            new(82, IpfixField.VariableLength), // interfaceName
            new(83, IpfixField.VariableLength), // interfaceDescription
        };
        if (Egress)
        {
            f.Add(new(14, 4)); // egressInterface
            f.Add(new(369, 4)); // egressInterfaceType
            f.Add(new(82, IpfixField.VariableLength));
            f.Add(new(83, IpfixField.VariableLength));
        }
        if (Vlan)
        {
            f.Add(new(58, 2)); // vlanId
            f.Add(new(243, 2)); // dot1qVlanId
            f.Add(new(244, 1)); // dot1qPriority
        }
        if (IsIp)
        {
            f.Add(new(60, 1)); // ipVersion
            f.Add(new(192, 1)); // ipTTL
            f.Add(new(4, 1)); // protocolIdentifier
            f.Add(new(195, 1)); // ipDiffServCodePoint
            f.Add(new(196, 1)); // ipPrecedence
            f.Add(new(5, 1)); // ipClassOfService
            if (L3 == IpfixL3.Ipv4)
            {
                f.Add(new(8, 4)); // sourceIPv4Address
                f.Add(new(12, 4)); // destinationIPv4Address
            }
            else
            {
                f.Add(new(27, 16)); // sourceIPv6Address
                f.Add(new(28, 16)); // destinationIPv6Address
                f.Add(new(31, 4)); // flowLabelIPv6
            }
            if (HasPorts)
            {
                f.Add(new(7, 2)); // sourceTransportPort
                f.Add(new(11, 2)); // destinationTransportPort
            }
            else if (L4 == IpfixL4.Icmp)
            {
                f.Add(L3 == IpfixL3.Ipv4 ? new(176, 1) : new(178, 1)); // icmpTypeIPv4 / icmpTypeIPv6
                f.Add(L3 == IpfixL3.Ipv4 ? new(177, 1) : new(179, 1)); // icmpCodeIPv4 / icmpCodeIPv6
            }
        }
        if (virtualObsId) f.Add(new(898 | 0x8000, IpfixField.VariableLength, Vmware)); // virtualObsID
        f.Add(new(158, 4)); // flowStartDeltaMicroseconds
        f.Add(new(159, 4)); // flowEndDeltaMicroseconds
        f.Add(new(133, 8)); // droppedPacketDeltaCount
        f.Add(new(135, 8)); // droppedPacketTotalCount
        f.Add(new(2, 8)); // packetDeltaCount
        f.Add(new(86, 8)); // packetTotalCount
        f.Add(new(354, 8)); // ingressUnicastPacketTotalCount
        f.Add(new(355, 8)); // ingressMulticastPacketTotalCount
        f.Add(new(356, 8)); // ingressBroadcastPacketTotalCount
        f.Add(new(357, 8)); // egressUnicastPacketTotalCount
        f.Add(new(358, 8)); // egressBroadcastPacketTotalCount
        f.Add(new(19, 8)); // postMCastPacketDeltaCount
        f.Add(new(174, 8)); // postMCastPacketTotalCount
        f.Add(new(352, 8)); // layer2OctetDeltaCount
        f.Add(new(353, 8)); // layer2OctetTotalCount
        f.Add(new(136, 1)); // flowEndReason
        if (IsIp)
        {
            f.Add(new(132, 8)); // droppedOctetDeltaCount
            f.Add(new(134, 8)); // droppedOctetTotalCount
            f.Add(new(1, 8)); // octetDeltaCount
            f.Add(new(85, 8)); // octetTotalCount
            f.Add(new(198, 8)); // octetDeltaSumOfSquares
            f.Add(new(199, 8)); // octetTotalSumOfSquares
            f.Add(new(25, 8)); // minimumIpTotalLength
            f.Add(new(26, 8)); // maximumIpTotalLength
            f.Add(new(20, 8)); // postMCastOctetDeltaCount
            f.Add(new(175, 8)); // postMCastOctetTotalCount
        }
        if (L4 == IpfixL4.Tcp && IsIp)
        {
            f.Add(new(222, 8)); // tcpAckTotalCount
            f.Add(new(219, 8)); // tcpFinTotalCount
            f.Add(new(221, 8)); // tcpPshTotalCount
            f.Add(new(220, 8)); // tcpRstTotalCount
            f.Add(new(218, 8)); // tcpSynTotalCount
            f.Add(new(223, 8)); // tcpUrgTotalCount
        }
        return f;
    }

    /// <summary>Bytes a template record of <paramref name="fields"/> takes.</summary>
    public static int RecordSize(List<IpfixField> fields)
    {
        int n = 4;
        foreach (var f in fields) n += f.Enterprise != 0 ? 8 : 4;
        return n;
    }

    /// <summary>Writes a template record (template id, field count, specifiers); the caller has checked it fits.</summary>
    public static void Write(IpfixMessage m, ushort id, List<IpfixField> fields)
    {
        m.U16(id);
        m.U16((ushort)fields.Count);
        foreach (var f in fields)
        {
            m.U16(f.Id);
            m.U16(f.Length);
            if (f.Enterprise != 0) m.U32(f.Enterprise);
        }
    }

    /// <summary>The exporting process's reliability statistics options template (scope exportingProcessId, then
    /// notSentPacketTotalCount), as Open vSwitch defines it: its size.</summary>
    public const int ExporterStatsRecordSize = 6 + 4 + 4;

    /// <summary>Writes the reliability statistics options template record.</summary>
    public static void WriteExporterStats(IpfixMessage m)
    {
        m.U16(ExporterStatsId);
        m.U16(2); // fields, the scope field included
        m.U16(1); // scope fields
        m.U16(144); // exportingProcessId
        m.U16(4);
        m.U16(167); // notSentPacketTotalCount
        m.U16(8);
    }
}
