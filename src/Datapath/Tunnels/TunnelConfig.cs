using Softswitch.Datapath.Flow;

namespace Softswitch.Datapath.Tunnels;

/// <summary>The encapsulation a tunnel port uses.</summary>
public enum TunnelKind : byte
{
    /// <summary>Ethernet in UDP (RFC 7348), what Linux calls <c>type vxlan</c>.</summary>
    Vxlan,
    /// <summary>Ethernet in GRE, protocol 0x6558 (RFC 2784, key per RFC 2890), what Linux calls <c>type gretap</c>.</summary>
    Gre,
    /// <summary>IPv4 in IPv4 (RFC 2003), Linux <c>type ipip</c>. The inner Ethernet header is removed on
    /// encapsulation and synthesised on decapsulation.</summary>
    Ipip,
    /// <summary>Ethernet in Geneve in UDP (RFC 8926), protocol type 0x6558. Sent without options; received options are
    /// skipped (a packet with a critical option is dropped, as the RFC requires of an endpoint that does not process it).</summary>
    Geneve,
}

/// <summary>
/// One tunnel port's configuration: the encapsulation, the endpoints, the key and the port's place in the datapath.
/// </summary>
/// <remarks>
/// Design: a plain immutable record the datapath reads when the port is added (<see cref="TunnelRegistry.Add(TunnelConfig)"/>
/// builds the port's header template from it). The datapath knows no spec syntax: the host reads and writes the
/// config as a spec string (<c>--tunnel</c>); tests and benchmarks build it with an object initializer. Defaults
/// are the ones Linux and Open vSwitch use: UDP port 4789 for VXLAN and 6081 for Geneve (<see cref="DstPort"/> left
/// unset is the kind's), outer TTL 64, TOS 0, DF set, no outer UDP checksum, the next hop is the remote endpoint. A
/// config must be consistent (<see cref="Problem"/> says what is not, and the registry refuses it): a name of 1 to
/// <see cref="MaxNameLength"/> characters, distinct unicast endpoints, a VXLAN or Geneve tunnel has a VNI of 24 bits
/// or a flow key, <see cref="HasKey"/> and <see cref="FlowKey"/> are not both set, IP-in-IP has neither, TTL and the
/// UDP port are not 0, only the UDP kinds have a UDP checksum.
/// The inner MACs (<see cref="InnerSrcMac"/>, <see cref="InnerDstMac"/>) matter only for IP-in-IP: they are the
/// Ethernet addresses of the header synthesised for decapsulated packets. Defaults: source = the tunnel port's MAC
/// (the packet appears to come from the tunnel, like a router's interface), destination = ff:ff:ff:ff:ff:ff (flows
/// usually rewrite it with mod_dl_dst; NORMAL floods it).
/// Immutable, so thread safe.
/// </remarks>
public sealed record TunnelConfig
{
    public const ushort VxlanPort = 4789;
    /// <summary>Geneve's IANA UDP port (RFC 8926).</summary>
    public const ushort GenevePort = 6081;
    public const byte DefaultTtl = 64;
    /// <summary>Longest port name (OFP_MAX_PORT_NAME_LEN 16 with the terminating NUL).</summary>
    public const int MaxNameLength = 15;
    /// <summary>Largest VXLAN or Geneve network identifier (24 bits).</summary>
    public const uint MaxVni = 0xFF_FFFF;

    public required string Name { get; init; }
    public TunnelKind Kind { get; init; }
    public uint LocalIp { get; init; }
    public uint RemoteIp { get; init; }
    /// <summary>VNI (VXLAN, Geneve: 24 bits) or GRE key: sent when no set_tunnel id is set, and accepted on receive.</summary>
    public uint Key { get; init; }
    /// <summary>Whether a fixed key is configured (true for VXLAN or Geneve with a VNI, false for IP-in-IP and a flow key).</summary>
    public bool HasKey { get; init; }
    /// <summary>A flow key: any id is accepted on receive (and becomes tun_id); send uses the set_tunnel id (0 without one).</summary>
    public bool FlowKey { get; init; }
    /// <summary>OpenFlow port number (0 = lowest free).</summary>
    public ushort PortNo { get; init; }
    /// <summary>OpenFlow port number of the underlay (0 = the only non-tunnel port).</summary>
    public ushort Underlay { get; init; }
    public MacAddress? RemoteMac { get; init; }
    public MacAddress? LocalMac { get; init; }
    public MacAddress? Mac { get; init; }
    /// <summary>Address to resolve with ARP (0 = <see cref="RemoteIp"/>).</summary>
    public uint NextHop { get; init; }
    private readonly ushort? _dstPort;

    /// <summary>The UDP destination port of a VXLAN or Geneve tunnel: as set, else the kind's IANA port.</summary>
    public ushort DstPort
    {
        get => _dstPort ?? DefaultDstPort(Kind);
        init => _dstPort = value;
    }

    /// <summary>The UDP port a kind uses when none is set (0 for the kinds that are not UDP).</summary>
    public static ushort DefaultDstPort(TunnelKind kind) => kind switch
    {
        TunnelKind.Vxlan => VxlanPort,
        TunnelKind.Geneve => GenevePort,
        _ => 0,
    };

    /// <summary>Whether the tunnel is carried in UDP (VXLAN, Geneve).</summary>
    public bool IsUdp => Kind is TunnelKind.Vxlan or TunnelKind.Geneve;

    /// <summary>Open vSwitch's <c>csum</c>: send a UDP checksum over the outer datagram (default: zero, which IPv4 allows).</summary>
    public bool UdpChecksum { get; init; }

    /// <summary>Open vSwitch's <c>df_default</c>: the outer IPv4 header's don't-fragment bit (default set).</summary>
    public bool DontFragment { get; init; } = true;
    public byte Ttl { get; init; } = DefaultTtl;
    public byte Tos { get; init; }
    public MacAddress? InnerSrcMac { get; init; }
    public MacAddress? InnerDstMac { get; init; }

    /// <summary>The address ARP resolves for the outer destination MAC.</summary>
    public uint NextHopIp => NextHop != 0 ? NextHop : RemoteIp;

    /// <summary>The tunnel port's OpenFlow MAC: <see cref="Mac"/> or <see cref="DefaultPortMac"/>.</summary>
    public MacAddress PortMac => Mac ?? DefaultPortMac(LocalIp, RemoteIp, Key);

    /// <summary>A locally administered address, stable across restarts: 02:54 then the low 16 bits of local and of
    /// remote, each mixed with the key.</summary>
    public static MacAddress DefaultPortMac(uint local, uint remote, uint key)
        => new(0x0254_0000_0000UL | ((ulong)((local ^ (key >> 16)) & 0xFFFF) << 16) | ((remote ^ key) & 0xFFFF));

    /// <summary>The synthesised inner source MAC for IP-in-IP (default: the tunnel port's MAC).</summary>
    public MacAddress InnerSource => InnerSrcMac ?? PortMac;

    /// <summary>The synthesised inner destination MAC for IP-in-IP (default: broadcast).</summary>
    public MacAddress InnerDestination => InnerDstMac ?? MacAddress.Broadcast;

    /// <summary>
    /// What makes this config inconsistent (see the design note), in words, or null when it is consistent.
    /// <see cref="TunnelRegistry.Add(TunnelConfig)"/> refuses a config with a problem.
    /// </summary>
    public string? Problem()
    {
        if (string.IsNullOrEmpty(Name) || Name.Length > MaxNameLength) return $"the name must have 1 to {MaxNameLength} characters (OpenFlow's limit)";
        if (Kind is not (TunnelKind.Vxlan or TunnelKind.Gre or TunnelKind.Ipip or TunnelKind.Geneve)) return $"unknown tunnel kind {(int)Kind}";
        if (!Ipv4.IsUnicast(LocalIp) || !Ipv4.IsUnicast(RemoteIp)) return $"the endpoints {Ipv4.Format(LocalIp)} and {Ipv4.Format(RemoteIp)} must be unicast addresses";
        if (LocalIp == RemoteIp) return $"the local and remote endpoints are the same address {Ipv4.Format(LocalIp)}";
        if (HasKey && FlowKey) return "a fixed key and a flow key at once";
        if (IsUdp && !HasKey && !FlowKey) return $"a {(Kind == TunnelKind.Vxlan ? "VXLAN" : "Geneve")} tunnel needs a VNI or a flow key";
        if (IsUdp && HasKey && Key > MaxVni) return $"VNI {Key} does not fit 24 bits";
        if (Kind == TunnelKind.Ipip && (HasKey || FlowKey)) return "an IP-in-IP tunnel has no key";
        if (IsUdp && DstPort == 0) return "UDP destination port 0";
        if (!IsUdp && UdpChecksum) return "a UDP checksum on a tunnel that is not carried in UDP";
        if (Ttl == 0) return "outer TTL 0";
        return null;
    }
}
