using System.Globalization;
using System.Text;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;

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
}

/// <summary>
/// One tunnel port's configuration, parsed from a spec such as
/// <c>vx1:vxlan,local=10.0.0.1,remote=10.0.0.2,vni=100,port=5</c>.
/// </summary>
/// <remarks>
/// Grammar: <c>NAME:KIND[,OPTION=VALUE]...</c>, KIND one of <c>vxlan</c>, <c>gre</c> (gretap), <c>ipip</c>.
/// Options (case-insensitive names, each at most once):
/// <list type="bullet">
/// <item><c>local=IPv4</c>, <c>remote=IPv4</c> (required): the outer source and destination. The switch owns
/// <c>local</c> on the underlay: it answers ARP for it and decapsulates what is sent to it.</item>
/// <item><c>vni=N</c> (vxlan, required; 0..16777215) or <c>key=N</c> (gre, optional; 0..4294967295 or 0x...): the id
/// sent when no set_tunnel action chose one, and the only id accepted on receive. <c>vni=flow</c> / <c>key=flow</c>:
/// any id is accepted on receive (and becomes tun_id); send uses the set_tunnel id (0 without one).</item>
/// <item><c>port=N</c>: the OpenFlow port number (1..65280; default: the lowest free one).</item>
/// <item><c>underlay=N</c>: the OpenFlow port number of the port that carries the encapsulated packets (default:
/// the only non-tunnel port, when there is exactly one).</item>
/// <item><c>remote_mac=MAC</c>: the outer destination MAC (default: resolved with ARP for <c>nexthop</c>).</item>
/// <item><c>nexthop=IPv4</c>: the address ARP resolves when the remote is behind a router (default: <c>remote</c>).</item>
/// <item><c>local_mac=MAC</c>: the outer source MAC, also used in ARP replies (default: the underlay port's MAC).</item>
/// <item><c>mac=MAC</c>: the tunnel port's own OpenFlow hardware address (default: a locally administered
/// address derived from local, remote and the key, see <see cref="DefaultPortMac"/>).</item>
/// <item><c>dstport=N</c> (vxlan): the UDP destination port (default 4789, the IANA port; Linux's legacy default is 8472).</item>
/// <item><c>ttl=N</c> (1..255, default 64), <c>tos=N</c> (0..255, default 0): outer IPv4 TTL and TOS. DF is always set.</item>
/// <item><c>inner_src_mac=MAC</c>, <c>inner_dst_mac=MAC</c> (ipip): the Ethernet addresses of the header synthesised
/// for decapsulated packets. Defaults: source = the tunnel port's MAC (the packet appears to come from the
/// tunnel, like a router's interface), destination = ff:ff:ff:ff:ff:ff (flows usually rewrite it with mod_dl_dst;
/// NORMAL floods it).</item>
/// </list>
/// Immutable.
/// </remarks>
public sealed record TunnelConfig
{
    public const ushort VxlanPort = 4789;
    public const byte DefaultTtl = 64;
    /// <summary>Longest port name (OFP_MAX_PORT_NAME_LEN 16 with the terminating NUL).</summary>
    public const int MaxNameLength = 15;

    public required string Name { get; init; }
    public TunnelKind Kind { get; init; }
    public uint LocalIp { get; init; }
    public uint RemoteIp { get; init; }
    /// <summary>VNI (24 bits) or GRE key: sent when no set_tunnel id is set, and accepted on receive.</summary>
    public uint Key { get; init; }
    /// <summary>Whether a fixed key is configured (always true for VXLAN with a number, false for IP-in-IP and key=flow).</summary>
    public bool HasKey { get; init; }
    /// <summary><c>vni=flow</c> / <c>key=flow</c>: any id is accepted on receive; send uses the set_tunnel id.</summary>
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
    public ushort DstPort { get; init; } = VxlanPort;
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

    /// <summary>Parses a spec; throws <see cref="FormatException"/> with a message that names the problem.</summary>
    public static TunnelConfig Parse(string spec)
    {
        if (!TryParse(spec, out var cfg, out var error)) throw new FormatException(error);
        return cfg;
    }

    public static bool TryParse(string? spec, out TunnelConfig config, out string error)
    {
        config = null!;
        error = "";
        if (string.IsNullOrWhiteSpace(spec))
        {
            error = "tunnel spec is empty: expected NAME:KIND,local=IP,remote=IP[,...], e.g. vx1:vxlan,local=10.0.0.1,remote=10.0.0.2,vni=100";
            return false;
        }
        string Fail(string msg) => $"tunnel '{spec}': {msg}";

        var items = spec.Split(',');
        string head = items[0].Trim();
        int colon = head.IndexOf(':');
        if (colon < 0)
        {
            error = Fail("expected NAME:KIND first (KIND is vxlan, gre or ipip)");
            return false;
        }
        string name = head[..colon].Trim();
        string kindText = head[(colon + 1)..].Trim().ToLowerInvariant();
        if (name.Length == 0)
        {
            error = Fail("the port name before ':' is empty");
            return false;
        }
        if (name.Length > MaxNameLength)
        {
            error = Fail($"port name '{name}' is longer than {MaxNameLength} characters (OpenFlow's limit)");
            return false;
        }
        TunnelKind kind;
        switch (kindText)
        {
            case "vxlan": kind = TunnelKind.Vxlan; break;
            case "gre": case "gretap": kind = TunnelKind.Gre; break;
            case "ipip": kind = TunnelKind.Ipip; break;
            default:
                error = Fail($"unknown tunnel kind '{kindText}' (expected vxlan, gre or ipip)");
                return false;
        }

        uint? local = null, remote = null, nexthop = null;
        uint key = 0;
        bool hasKey = false, flowKey = false;
        ushort portNo = 0, underlay = 0, dstPort = VxlanPort;
        byte ttl = DefaultTtl, tos = 0;
        MacAddress? remoteMac = null, localMac = null, mac = null, innerSrc = null, innerDst = null;
        var seen = new HashSet<string>(StringComparer.Ordinal);

        for (int i = 1; i < items.Length; i++)
        {
            string item = items[i].Trim();
            if (item.Length == 0)
            {
                error = Fail("empty option (two commas in a row, or a trailing comma)");
                return false;
            }
            int eq = item.IndexOf('=');
            if (eq <= 0)
            {
                error = Fail($"option '{item}' is not NAME=VALUE");
                return false;
            }
            string opt = item[..eq].Trim().ToLowerInvariant();
            string val = item[(eq + 1)..].Trim();
            if (!seen.Add(opt))
            {
                error = Fail($"option '{opt}' given twice");
                return false;
            }
            switch (opt)
            {
                case "local":
                    if (!Ipv4.TryParse(val, out var l)) { error = Fail($"local='{val}' is not an IPv4 address"); return false; }
                    local = l;
                    break;
                case "remote":
                    if (!Ipv4.TryParse(val, out var r)) { error = Fail($"remote='{val}' is not an IPv4 address"); return false; }
                    remote = r;
                    break;
                case "nexthop":
                    if (!Ipv4.TryParse(val, out var nh)) { error = Fail($"nexthop='{val}' is not an IPv4 address"); return false; }
                    nexthop = nh;
                    break;
                case "vni":
                    if (kind != TunnelKind.Vxlan) { error = Fail($"vni= is for vxlan tunnels ({(kind == TunnelKind.Gre ? "gre uses key=" : "ipip has no key")})"); return false; }
                    if (val.Equals("flow", StringComparison.OrdinalIgnoreCase)) flowKey = true;
                    else if (!uint.TryParse(val, NumberStyles.None, CultureInfo.InvariantCulture, out key) || key > 0xFF_FFFF)
                    {
                        error = Fail($"vni='{val}' is not 'flow' or a number in 0..16777215 (24 bits)");
                        return false;
                    }
                    hasKey = !flowKey;
                    break;
                case "key":
                    if (kind != TunnelKind.Gre) { error = Fail($"key= is for gre tunnels ({(kind == TunnelKind.Vxlan ? "vxlan uses vni=" : "ipip has no key")})"); return false; }
                    if (val.Equals("flow", StringComparison.OrdinalIgnoreCase)) flowKey = true;
                    else if (!TryParseUInt(val, out key))
                    {
                        error = Fail($"key='{val}' is not 'flow' or a number in 0..4294967295 (32 bits)");
                        return false;
                    }
                    hasKey = !flowKey;
                    break;
                case "port":
                    if (!ushort.TryParse(val, NumberStyles.None, CultureInfo.InvariantCulture, out portNo) || portNo == 0 || portNo > PortNumber.Highest)
                    {
                        error = Fail($"port='{val}' is not an OpenFlow port number in 1..{PortNumber.Highest}");
                        return false;
                    }
                    break;
                case "underlay":
                    if (!ushort.TryParse(val, NumberStyles.None, CultureInfo.InvariantCulture, out underlay) || underlay == 0 || underlay > PortNumber.Highest)
                    {
                        error = Fail($"underlay='{val}' is not an OpenFlow port number in 1..{PortNumber.Highest}");
                        return false;
                    }
                    break;
                case "remote_mac":
                    if (!MacAddress.TryParse(val, out var rm)) { error = Fail($"remote_mac='{val}' is not a MAC address (aa:bb:cc:dd:ee:ff)"); return false; }
                    remoteMac = rm;
                    break;
                case "local_mac":
                    if (!MacAddress.TryParse(val, out var lm)) { error = Fail($"local_mac='{val}' is not a MAC address (aa:bb:cc:dd:ee:ff)"); return false; }
                    localMac = lm;
                    break;
                case "mac":
                    if (!MacAddress.TryParse(val, out var m)) { error = Fail($"mac='{val}' is not a MAC address (aa:bb:cc:dd:ee:ff)"); return false; }
                    mac = m;
                    break;
                case "dstport":
                    if (kind != TunnelKind.Vxlan) { error = Fail("dstport= is for vxlan tunnels (gre and ipip are IP protocols 47 and 4)"); return false; }
                    if (!ushort.TryParse(val, NumberStyles.None, CultureInfo.InvariantCulture, out dstPort) || dstPort == 0)
                    {
                        error = Fail($"dstport='{val}' is not a UDP port in 1..65535");
                        return false;
                    }
                    break;
                case "ttl":
                    if (!byte.TryParse(val, NumberStyles.None, CultureInfo.InvariantCulture, out ttl) || ttl == 0)
                    {
                        error = Fail($"ttl='{val}' is not in 1..255");
                        return false;
                    }
                    break;
                case "tos":
                    if (!byte.TryParse(val, NumberStyles.None, CultureInfo.InvariantCulture, out tos))
                    {
                        error = Fail($"tos='{val}' is not in 0..255");
                        return false;
                    }
                    break;
                case "inner_src_mac":
                case "inner_dst_mac":
                    if (kind != TunnelKind.Ipip) { error = Fail($"{opt}= is for ipip tunnels (vxlan and gre carry the inner Ethernet header)"); return false; }
                    if (!MacAddress.TryParse(val, out var im)) { error = Fail($"{opt}='{val}' is not a MAC address (aa:bb:cc:dd:ee:ff)"); return false; }
                    if (opt == "inner_src_mac") innerSrc = im;
                    else innerDst = im;
                    break;
                default:
                    error = Fail($"unknown option '{opt}' (known: local, remote, vni, key, port, underlay, remote_mac, local_mac, mac, nexthop, dstport, ttl, tos, inner_src_mac, inner_dst_mac)");
                    return false;
            }
        }
        if (local is null)
        {
            error = Fail("missing local= (this switch's tunnel endpoint IPv4 address on the underlay)");
            return false;
        }
        if (remote is null)
        {
            error = Fail("missing remote= (the far tunnel endpoint's IPv4 address)");
            return false;
        }
        if (local == remote)
        {
            error = Fail("local= and remote= are the same address");
            return false;
        }
        if (!IsUnicast(local.Value) || !IsUnicast(remote.Value))
        {
            error = Fail("local= and remote= must be unicast addresses (not 0.0.0.0, broadcast or multicast)");
            return false;
        }
        if (kind == TunnelKind.Vxlan && !hasKey && !flowKey)
        {
            error = Fail("missing vni= (a number in 0..16777215, or 'flow')");
            return false;
        }
        config = new TunnelConfig
        {
            Name = name,
            Kind = kind,
            LocalIp = local.Value,
            RemoteIp = remote.Value,
            Key = key,
            HasKey = hasKey,
            FlowKey = flowKey,
            PortNo = portNo,
            Underlay = underlay,
            RemoteMac = remoteMac,
            LocalMac = localMac,
            Mac = mac,
            NextHop = nexthop ?? 0,
            DstPort = dstPort,
            Ttl = ttl,
            Tos = tos,
            InnerSrcMac = innerSrc,
            InnerDstMac = innerDst,
        };
        return true;
    }

    private static bool IsUnicast(uint a) => a != 0 && a != 0xFFFF_FFFF && (a >> 28) != 0xE;

    private static bool TryParseUInt(string s, out uint v)
    {
        if (s.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            return uint.TryParse(s.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out v);
        return uint.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out v);
    }

    /// <summary>The canonical spec (parses back to an equal config).</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append(Name).Append(':').Append(Kind switch { TunnelKind.Vxlan => "vxlan", TunnelKind.Gre => "gre", _ => "ipip" });
        sb.Append(",local=").Append(Ipv4.Format(LocalIp)).Append(",remote=").Append(Ipv4.Format(RemoteIp));
        string keyName = Kind == TunnelKind.Vxlan ? "vni" : "key";
        if (FlowKey) sb.Append(',').Append(keyName).Append("=flow");
        else if (HasKey) sb.Append(',').Append(keyName).Append('=').Append(Key.ToString(CultureInfo.InvariantCulture));
        if (PortNo != 0) sb.Append(",port=").Append(PortNo);
        if (Underlay != 0) sb.Append(",underlay=").Append(Underlay);
        if (RemoteMac is { } rm) sb.Append(",remote_mac=").Append(rm);
        if (NextHop != 0) sb.Append(",nexthop=").Append(Ipv4.Format(NextHop));
        if (LocalMac is { } lm) sb.Append(",local_mac=").Append(lm);
        if (Mac is { } m) sb.Append(",mac=").Append(m);
        if (Kind == TunnelKind.Vxlan && DstPort != VxlanPort) sb.Append(",dstport=").Append(DstPort);
        if (Ttl != DefaultTtl) sb.Append(",ttl=").Append(Ttl);
        if (Tos != 0) sb.Append(",tos=").Append(Tos);
        if (InnerSrcMac is { } s) sb.Append(",inner_src_mac=").Append(s);
        if (InnerDstMac is { } d) sb.Append(",inner_dst_mac=").Append(d);
        return sb.ToString();
    }
}
