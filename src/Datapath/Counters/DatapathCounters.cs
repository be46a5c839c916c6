using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Tunnels;

namespace Softswitch.Datapath.Counters;

/// <summary>
/// The datapath's counter families, registered in one place: drops by reason, parse errors, tunnel drops, VLAN push
/// failures, the exact-match cache, the NORMAL learning table. The enum-indexed families (<see cref="DropReason"/>,
/// <see cref="ParseError"/>, <see cref="TunnelDropReason"/>) map each value to its counter through one array, so a new
/// enum value without a name here fails at start-up (<see cref="EnsureDefined"/>), not silently.
/// </summary>
public static class DatapathCounters
{
    private static readonly Counter[] s_drops = Family<DropReason>((int)DropReason.Count, r => r switch
    {
        DropReason.NoRecv => ("drop-no-recv", "received on a port configured NO_RECV (anything but an 802.1D BPDU)"),
        DropReason.NoRecvStp => ("drop-no-recv-stp", "an 802.1D BPDU received on a port configured NO_RECV_STP"),
        DropReason.PortDown => ("drop-port-down", "received on, or sent to, a port configured PORT_DOWN"),
        DropReason.NoFwd => ("drop-no-fwd", "sent to a port configured NO_FWD"),
        DropReason.LinkDown => ("drop-link-down", "sent to a port whose link is down"),
        DropReason.Fragment => ("drop-fragment", "an IPv4 fragment while the fragment mode is DROP"),
        DropReason.MissSecure => ("drop-miss-secure", "no flow matched, no controller, fail mode secure"),
        DropReason.MissNoPacketIn => ("drop-miss-no-packet-in", "no flow matched and the receiving port has NO_PACKET_IN"),
        DropReason.UpcallQueueFull => ("drop-upcall-queue-full", "a packet for the controller found its queue full"),
        DropReason.UpcallRateLimited => ("drop-upcall-rate-limited", "a packet for the controller was over the packet-in rate limit"),
        DropReason.PoolExhausted => ("drop-pool-exhausted", "a copy was needed but the packet pool was empty"),
        DropReason.NoSuchPort => ("drop-no-such-port", "output to a port number that does not exist"),
        DropReason.OutputToInPort => ("drop-output-to-in-port", "output to the ingress port by number (OpenFlow wants IN_PORT for that)"),
        DropReason.TableInFlow => ("drop-table-in-flow", "TABLE used in a flow's actions (only packet-out may use it)"),
        DropReason.FlowDrop => ("drop-flow-no-output", "a flow's action list had no output (the OpenFlow drop)"),
        DropReason.TooBig => ("drop-too-big", "a frame larger than the packet buffer or the egress MTU allows"),
        DropReason.Unsupported => ("drop-unsupported", "an output needing a tunnel or feature the egress port lacks"),
        DropReason.NormalRunt => ("drop-normal-runt", "NORMAL got a frame shorter than an Ethernet header"),
        DropReason.GsoRefused => ("drop-gso-refused", "a GSO super-frame to segment for its output whose headers its GSO type does not allow"),
        DropReason.ControllerMeter => ("drop-controller-meter", "packets for the controller past the controller meter's rate (OFPM_CONTROLLER)"),
        DropReason.NormalToInPort => ("drop-normal-to-in-port", "NORMAL learned the destination behind the packet's own input port (not sent back)"),
        DropReason.NormalVlan => ("drop-normal-vlan", "NORMAL got a frame of a VLAN its input port does not carry (tagged on an access port, or a VLAN the trunk does not list)"),
        DropReason.StpNotForwarding => ("drop-stp-not-forwarding", "received on, or sent to, a port the spanning tree keeps from forwarding (listening, learning, blocking, or down)"),
        DropReason.Resubmit => ("drop-resubmit", "a pipeline run went past 64 levels of nested resubmits or 4,096 resubmits (a resubmit loop), or resubmitted after a pop or push that changed which headers the packet has"),
        DropReason.IngressPolicing => ("drop-ingress-policing", "received beyond the port's ingress policing rate and burst (Interface ingress_policing_rate)"),
        DropReason.MirrorPort => ("drop-mirror-port", "NORMAL got a frame received on, or learned behind, a mirror's output port (reserved for the mirror)"),
        DropReason.BondInadmissible => ("drop-bond-inadmissible", "NORMAL got a frame on a bond member the bond does not admit it on (a disabled or backup member, multicast on an inactive member, a source learned behind another port, LACP not negotiated)"),
        DropReason.BondNoMember => ("drop-bond-no-member", "NORMAL had a frame for a bond with no member to send it by (none enabled, or LACP not negotiated)"),
        DropReason.QueueFull => ("drop-queue-full", "packets for an egress queue of a shaped port that was full (tail drop), or longer than a queue's slot"),
        _ => throw new InvalidOperationException($"drop reason {r} has no counter name"),
    });

    // ParseError.None is no error: the family starts at 1.
    private static readonly Counter[] s_parse = Family<ParseError>((int)ParseError.Count, e => e switch
    {
        ParseError.Runt => ("parse-runt", "shorter than an Ethernet header (14 bytes)"),
        ParseError.VlanTruncated => ("parse-vlan-truncated", "802.1Q tag, or the type after it, cut off"),
        ParseError.LlcTruncated => ("parse-llc-truncated", "802.3 length field with an LLC/SNAP header cut off"),
        ParseError.IpTruncated => ("parse-ip-truncated", "IPv4 header shorter than 20 bytes or than its IHL says"),
        ParseError.IpBadHeader => ("parse-ip-bad-header", "IPv4 version not 4, or IHL below 5"),
        ParseError.IpBadLength => ("parse-ip-bad-length", "IPv4 total length below the header or beyond the frame"),
        ParseError.ArpTruncated => ("parse-arp-truncated", "ARP header cut off, or not Ethernet/IPv4 ARP"),
        ParseError.L4Truncated => ("parse-l4-truncated", "TCP/UDP/SCTP/ICMP header cut off by the frame, the IPv4 length or the IPv6 payload length"),
        ParseError.ServiceTagTruncated => ("parse-service-tag-truncated", "802.1ad S-tag, or the type after it, cut off"),
        ParseError.PbbTruncated => ("parse-pbb-truncated", "802.1ah I-tag or the customer frame's type cut off"),
        ParseError.MplsTruncated => ("parse-mpls-truncated", "MPLS label stack cut off before its bottom-of-stack entry"),
        ParseError.Ipv6Truncated => ("parse-ipv6-truncated", "IPv6 header shorter than 40 bytes"),
        ParseError.Ipv6BadHeader => ("parse-ipv6-bad-header", "IPv6 version not 6"),
        ParseError.Ipv6BadLength => ("parse-ipv6-bad-length", "IPv6 payload length beyond the frame"),
        ParseError.Ipv6ExtTruncated => ("parse-ipv6-ext-truncated", "IPv6 extension header cut off by the frame or the payload length"),
        ParseError.Icmpv6Truncated => ("parse-icmpv6-truncated", "ICMPv6 header cut off"),
        ParseError.NdTruncated => ("parse-nd-truncated", "neighbour solicitation or advertisement shorter than its target"),
        ParseError.NdBadOption => ("parse-nd-bad-option", "neighbour discovery option of length 0, past the message, or a repeated link-layer address"),
        _ => throw new InvalidOperationException($"parse error {e} has no counter name"),
    });

    private static readonly Counter[] s_tunnel = Family<TunnelDropReason>((int)TunnelDropReason.Count, r => r switch
    {
        TunnelDropReason.UnknownKey => ("tunnel-unknown-key", "decap: no tunnel port has this remote, VNI/key and UDP port"),
        TunnelDropReason.Malformed => ("tunnel-malformed", "decap: outer headers cut short or invalid, or the inner frame too short"),
        TunnelDropReason.BadChecksum => ("tunnel-bad-checksum", "decap: wrong outer IPv4, UDP or GRE checksum"),
        TunnelDropReason.Fragment => ("tunnel-fragment", "decap: an outer IPv4 fragment (tunnel packets are not reassembled)"),
        TunnelDropReason.TooBig => ("tunnel-too-big", "encap: the outer packet would exceed the underlay MTU"),
        TunnelDropReason.NotIpv4 => ("tunnel-not-ipv4", "encap (ipip): the inner frame does not carry IPv4"),
        TunnelDropReason.Runt => ("tunnel-runt", "encap: shorter than an Ethernet header"),
        TunnelDropReason.NoUnderlay => ("tunnel-no-underlay", "encap: the tunnel has no underlay port"),
        TunnelDropReason.Unresolved => ("tunnel-unresolved", "encap: next hop MAC unresolved and the hold queue full"),
        TunnelDropReason.NoPort => ("tunnel-no-port", "decap: the tunnel port was removed"),
        TunnelDropReason.PoolExhausted => ("tunnel-pool-exhausted", "encap: no buffer for the encapsulated copy"),
        TunnelDropReason.CriticalOption => ("tunnel-geneve-critical", "decap: a Geneve packet with a critical option (options are not processed)"),
        _ => throw new InvalidOperationException($"tunnel drop {r} has no counter name"),
    });

    /// <summary>mod_vlan_vid / mod_vlan_pcp on an untagged frame that could not take a tag (no headroom, runt).</summary>
    public static readonly Counter VlanPushFailed = Coverage.Define("vlan-push-failed", "mod_vlan_vid/pcp could not push a tag on an untagged frame (no headroom or runt)");
    public static readonly Counter EmcHit = Coverage.Define("emc-hit", "packets whose flow the exact-match cache found");
    public static readonly Counter EmcMiss = Coverage.Define("emc-miss", "packets the exact-match cache missed (looked up in the tables)");
    public static readonly Counter EmcBypass = Coverage.Define("emc-bypass", "times a forwarder stopped using its exact-match cache: a low hit rate, or exact rules that the table's records answer as cheaply");
    public static readonly Counter EmcConsulted = Coverage.Define("emc-consulted", "packets classified through the exact-match cache (emc-hit + emc-miss; the hit rate describes these)");
    public static readonly Counter EmcBypassed = Coverage.Define("emc-bypassed", "packets classified without the exact-match cache while a forwarder bypassed it (see emc-bypass)");
    /// <summary>A source MAC not learned because the NORMAL learning table is full.</summary>
    /// <summary>
    /// The kernel's checksum and segmentation offloads as ports take them (port counters added as sources) and the
    /// output stage finishes them: <c>kernel-*</c> and <c>gso-*</c>, apart from the <c>offload-</c> family, which is
    /// hardware flow offload only.
    /// </summary>
    public static readonly Counter KernelCsumCompleted = Coverage.Define("kernel-csum-completed", "received frames whose partial checksum (left to hardware by a local sender) was completed in software");
    public static readonly Counter GsoSegmented = Coverage.Define("gso-segmented", "GSO super-frames cut into segments in software (on receive, or for an output that cannot take them whole)");
    public static readonly Counter GsoSegments = Coverage.Define("gso-segments", "segments made by software GSO segmentation");
    public static readonly Counter GsoReceivedWhole = Coverage.Define("gso-received-whole", "GSO super-frames received whole into a large buffer (segmented only if an output needs it)");
    public static readonly Counter GsoHandedOn = Coverage.Define("gso-handed-on", "super-frames handed on whole with their offload request to a port that takes them (the kernel segments)");
    public static readonly Counter GsoRefused = Coverage.Define("gso-refused", "received GSO super-frames refused: unsupported GSO type or malformed headers (dropped)");
    public static readonly Counter KernelRxOversize = Coverage.Define("kernel-rx-oversize", "received frames larger than a packet buffer or the receive ring (dropped)");
    public static readonly Counter StpBpdu = Coverage.Define("stp-bpdu", "802.1D BPDUs received on a bridge running spanning tree: consumed (handed to the protocol), never forwarded");
    public static readonly Counter StpBpduUnheard = Coverage.Define("stp-bpdu-unheard", "BPDUs consumed while no spanning tree listened (the bridge's protocol not yet attached): dropped");
    public static readonly Counter LacpPdu = Coverage.Define("lacp-pdu", "slow-protocol frames (LACPDUs, markers) received on a bond member running LACP: consumed (handed to LACP), never forwarded");
    public static readonly Counter LacpPduUnheard = Coverage.Define("lacp-pdu-unheard", "slow-protocol frames consumed while no LACP listened (the bridge's bonds not yet attached): dropped");
    public static readonly Counter McastSnoopingFrame = Coverage.Define("mcast-snooping-frame", "IGMP and MLD reports and queries NORMAL received on a bridge with multicast snooping: handed to snooping (and forwarded as Open vSwitch forwards them)");
    public static readonly Counter McastSnoopingUnheard = Coverage.Define("mcast-snooping-unheard", "IGMP and MLD frames NORMAL had for snooping while none listened (the bridge's snooping not yet attached): forwarded, not learned");
    public static readonly Counter McastSnoopingMalformed = Coverage.Define("mcast-snooping-malformed", "IGMP and MLD frames snooping could not read (truncated, a bad checksum, a record past the frame's end): nothing learned from them");
    public static readonly Counter McastSnoopingOverflow = Coverage.Define("mcast-snooping-overflow", "IGMP and MLD frames not learned from because snooping's receive ring was full");
    public static readonly Counter MacTableFull = Coverage.Define("mac-table-full", "a source MAC not learned: the NORMAL learning table is full");
    /// <summary>A maintenance step (flow expiry, link monitoring, MAC aging) that threw: a bug, logged by the datapath's listeners.</summary>
    public static readonly Counter MaintenanceError = Coverage.Define("maintenance-error", "maintenance steps (flow expiry, link monitoring, MAC aging) that failed with an exception (logged; retried at the next interval)");

    /// <summary>The counter of drop reason <paramref name="r"/>.</summary>
    public static Counter Drop(DropReason r) => s_drops[(int)r];
    /// <summary>The counter of parse error <paramref name="e"/> (not <see cref="ParseError.None"/>).</summary>
    public static Counter Parse(ParseError e) => s_parse[(int)e - 1];
    public static Counter Tunnel(TunnelDropReason r) => s_tunnel[(int)r];

    /// <summary>Makes sure every datapath counter is registered (runs the static initialisers).</summary>
    public static void EnsureDefined() => _ = s_drops.Length + s_parse.Length + s_tunnel.Length + VlanPushFailed.Index + MacTableFull.Index + StpBpdu.Index + StpBpduUnheard.Index + LacpPdu.Index + LacpPduUnheard.Index + McastSnoopingFrame.Index + McastSnoopingUnheard.Index + McastSnoopingMalformed.Index + McastSnoopingOverflow.Index + KernelRxOversize.Index + MaintenanceError.Index;

    private static Counter[] Family<T>(int count, Func<T, (string Name, string Description)> name) where T : struct, Enum
    {
        int first = typeof(T) == typeof(ParseError) ? 1 : 0;
        var a = new Counter[count - first];
        for (int i = first; i < count; i++)
        {
            var (n, d) = name((T)(object)(byte)i);
            a[i - first] = Coverage.Define(n, d);
        }
        return a;
    }
}
