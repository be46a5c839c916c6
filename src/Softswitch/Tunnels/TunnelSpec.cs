using System.Globalization;
using System.Text;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Ports;
using Softswitch.Datapath.Tunnels;

namespace Softswitch.Tunnels;

/// <summary>
/// The text form of a tunnel port (<c>--tunnel</c>, the configuration file's <c>tunnels</c>, the logs): a spec such as
/// <c>vx1:vxlan,local=10.0.0.1,remote=10.0.0.2,vni=100,port=5</c> read into the datapath's <see cref="TunnelConfig"/>,
/// and a config written back as its canonical spec.
/// </summary>
/// <remarks>
/// Grammar: <c>NAME:KIND[,OPTION=VALUE]...</c>, KIND <c>vxlan</c>, <c>geneve</c>, <c>gre</c> (or <c>gretap</c>) or <c>ipip</c>; the
/// options are listed in docs/manual.md, "Tunnel specs". The parser checks what a spec can get wrong by itself;
/// what depends on the datapath (the underlay, a free port number, no other tunnel receiving the same traffic) is
/// <see cref="TunnelRegistry.Add(TunnelConfig)"/>'s to refuse. <see cref="TunnelConfig"/> written back is its canonical
/// spec. Management-plane code: allocates; stateless, thread safe.
/// </remarks>
public static class TunnelSpec
{
    /// <summary>Parses a spec; throws <see cref="FormatException"/> with a message that names the problem.</summary>
    public static TunnelConfig Parse(string? spec)
    {
        if (!TryParse(spec, out var cfg, out var error)) throw new FormatException(error);
        return cfg;
    }

    /// <summary>Parses a spec; false with a message naming the problem (the spec, then what is wrong) on any bad input.</summary>
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
            error = Fail("expected NAME:KIND first (KIND is vxlan, geneve, gre or ipip)");
            return false;
        }
        string name = head[..colon].Trim();
        string kindText = head[(colon + 1)..].Trim().ToLowerInvariant();
        if (name.Length == 0)
        {
            error = Fail("the port name before ':' is empty");
            return false;
        }
        if (!TryKind(kindText, out var kind))
        {
            error = Fail($"unknown tunnel kind '{kindText}' (expected vxlan, geneve, gre or ipip)");
            return false;
        }
        var options = new List<(string, string)>(items.Length - 1);
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
            if (!seen.Add(opt))
            {
                error = Fail($"option '{opt}' given twice");
                return false;
            }
            options.Add((opt, item[(eq + 1)..].Trim()));
        }
        if (TryBuild(name, kind, options, out config, out string why)) return true;
        error = Fail(why);
        return false;
    }

    /// <summary>The tunnel kind a spec's KIND names (gretap is gre); false for any other word.</summary>
    public static bool TryKind(string text, out TunnelKind kind)
    {
        switch (text)
        {
            case "vxlan": kind = TunnelKind.Vxlan; return true;
            case "geneve": kind = TunnelKind.Geneve; return true;
            case "gre": case "gretap": kind = TunnelKind.Gre; return true;
            case "ipip": kind = TunnelKind.Ipip; return true;
            default: kind = default; return false;
        }
    }

    /// <summary>
    /// The config of tunnel port <paramref name="name"/> of <paramref name="kind"/> with <paramref name="options"/> (the
    /// spec's option names, lower case, each once: the parser's, and vswitchd's from an Interface row's options, with no
    /// spec text between); false with what is wrong (without the spec: the caller says where it came from).
    /// </summary>
    public static bool TryBuild(string name, TunnelKind kind, IReadOnlyList<(string Option, string Value)> options, out TunnelConfig config, out string error)
    {
        config = null!;
        error = "";
        string kindText = KindName(kind);
        if (name.Length == 0)
        {
            error = "the port name before ':' is empty";
            return false;
        }
        if (name.Length > TunnelConfig.MaxNameLength)
        {
            error = $"port name '{name}' is longer than {TunnelConfig.MaxNameLength} characters (OpenFlow's limit)";
            return false;
        }

        uint? local = null, remote = null, nexthop = null;
        uint key = 0;
        bool hasKey = false, flowKey = false, csum = false, df = true;
        bool udp = kind is TunnelKind.Vxlan or TunnelKind.Geneve;
        ushort portNo = 0, underlay = 0, dstPort = TunnelConfig.DefaultDstPort(kind);
        byte ttl = TunnelConfig.DefaultTtl, tos = 0;
        MacAddress? remoteMac = null, localMac = null, mac = null, innerSrc = null, innerDst = null;

        foreach (var (opt, val) in options)
        {
            switch (opt)
            {
                case "local":
                case "remote":
                case "nexthop":
                    if (!Ipv4.TryParse(val, out var ip)) { error = $"{opt}='{val}' is not an IPv4 address"; return false; }
                    if (opt == "local") local = ip;
                    else if (opt == "remote") remote = ip;
                    else nexthop = ip;
                    break;
                case "vni":
                    if (!udp) { error = $"vni= is for vxlan and geneve tunnels ({(kind == TunnelKind.Gre ? "gre uses key=" : "ipip has no key")})"; return false; }
                    if (val.Equals("flow", StringComparison.OrdinalIgnoreCase))
                    {
                        flowKey = true;
                    }
                    else if (!uint.TryParse(val, NumberStyles.None, CultureInfo.InvariantCulture, out key) || key > TunnelConfig.MaxVni)
                    {
                        error = $"vni='{val}' is not 'flow' or a number in 0..16777215 (24 bits)";
                        return false;
                    }
                    hasKey = !flowKey;
                    break;
                case "key":
                    if (kind != TunnelKind.Gre) { error = $"key= is for gre tunnels ({(udp ? $"{kindText} uses vni=" : "ipip has no key")})"; return false; }
                    if (val.Equals("flow", StringComparison.OrdinalIgnoreCase))
                    {
                        flowKey = true;
                    }
                    else if (!TryParseUInt(val, out key))
                    {
                        error = $"key='{val}' is not 'flow' or a number in 0..4294967295 (32 bits)";
                        return false;
                    }
                    hasKey = !flowKey;
                    break;
                case "port":
                    if (!ushort.TryParse(val, NumberStyles.None, CultureInfo.InvariantCulture, out portNo) || portNo == 0 || portNo > PortNumber.Highest)
                    {
                        error = $"port='{val}' is not an OpenFlow port number in 1..{PortNumber.Highest}";
                        return false;
                    }
                    break;
                case "underlay":
                    if (!ushort.TryParse(val, NumberStyles.None, CultureInfo.InvariantCulture, out underlay) || underlay == 0 || underlay > PortNumber.Highest)
                    {
                        error = $"underlay='{val}' is not an OpenFlow port number in 1..{PortNumber.Highest}";
                        return false;
                    }
                    break;
                case "remote_mac":
                case "local_mac":
                case "mac":
                    if (!MacAddress.TryParse(val, out var m)) { error = $"{opt}='{val}' is not a MAC address (aa:bb:cc:dd:ee:ff)"; return false; }
                    if (opt == "remote_mac") remoteMac = m;
                    else if (opt == "local_mac") localMac = m;
                    else mac = m;
                    break;
                case "dstport":
                    if (!udp) { error = "dstport= is for vxlan and geneve tunnels (gre and ipip are IP protocols 47 and 4)"; return false; }
                    if (!ushort.TryParse(val, NumberStyles.None, CultureInfo.InvariantCulture, out dstPort) || dstPort == 0)
                    {
                        error = $"dstport='{val}' is not a UDP port in 1..65535";
                        return false;
                    }
                    break;
                case "ttl":
                    if (!byte.TryParse(val, NumberStyles.None, CultureInfo.InvariantCulture, out ttl) || ttl == 0)
                    {
                        error = $"ttl='{val}' is not in 1..255";
                        return false;
                    }
                    break;
                case "tos":
                    if (!byte.TryParse(val, NumberStyles.None, CultureInfo.InvariantCulture, out tos))
                    {
                        error = $"tos='{val}' is not in 0..255";
                        return false;
                    }
                    break;
                case "csum":
                case "df":
                    if (opt == "csum" && !udp) { error = "csum= is for vxlan and geneve tunnels (the outer UDP checksum)"; return false; }
                    if (!bool.TryParse(val, out bool on)) { error = $"{opt}='{val}' is not true or false"; return false; }
                    if (opt == "csum") csum = on;
                    else df = on;
                    break;
                case "inner_src_mac":
                case "inner_dst_mac":
                    if (kind != TunnelKind.Ipip) { error = $"{opt}= is for ipip tunnels (vxlan, geneve and gre carry the inner Ethernet header)"; return false; }
                    if (!MacAddress.TryParse(val, out var im)) { error = $"{opt}='{val}' is not a MAC address (aa:bb:cc:dd:ee:ff)"; return false; }
                    if (opt == "inner_src_mac") innerSrc = im;
                    else innerDst = im;
                    break;
                default:
                    error = $"unknown option '{opt}' (known: local, remote, vni, key, port, underlay, remote_mac, local_mac, mac, nexthop, dstport, ttl, tos, csum, df, inner_src_mac, inner_dst_mac)";
                    return false;
            }
        }
        if (local is null)
        {
            error = "missing local= (this switch's tunnel endpoint IPv4 address on the underlay)";
            return false;
        }
        if (remote is null)
        {
            error = "missing remote= (the far tunnel endpoint's IPv4 address)";
            return false;
        }
        if (local == remote)
        {
            error = "local= and remote= are the same address";
            return false;
        }
        if (!Ipv4.IsUnicast(local.Value) || !Ipv4.IsUnicast(remote.Value))
        {
            error = "local= and remote= must be unicast addresses (not 0.0.0.0, broadcast or multicast)";
            return false;
        }
        if (udp && !hasKey && !flowKey)
        {
            error = "missing vni= (a number in 0..16777215, or 'flow')";
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
            Ttl = ttl,
            UdpChecksum = csum,
            DontFragment = df,
            Tos = tos,
            InnerSrcMac = innerSrc,
            InnerDstMac = innerDst,
        };
        // Left unset when it is the kind's own port, so a spec without dstport= and one with the default are one config.
        if (dstPort != TunnelConfig.DefaultDstPort(kind)) config = config with { DstPort = dstPort };
        return true;
    }

    /// <summary>The canonical spec of <paramref name="c"/>: options in a fixed order, defaults left out; it parses back
    /// to an equal config.</summary>
    public static string Format(TunnelConfig c)
    {
        ArgumentNullException.ThrowIfNull(c);
        var sb = new StringBuilder();
        sb.Append(c.Name).Append(':').Append(KindName(c.Kind));
        sb.Append(",local=").Append(Ipv4.Format(c.LocalIp)).Append(",remote=").Append(Ipv4.Format(c.RemoteIp));
        string keyName = c.IsUdp ? "vni" : "key";
        if (c.FlowKey) sb.Append(',').Append(keyName).Append("=flow");
        else if (c.HasKey) sb.Append(',').Append(keyName).Append('=').Append(c.Key.ToString(CultureInfo.InvariantCulture));
        if (c.PortNo != 0) sb.Append(",port=").Append(c.PortNo);
        if (c.Underlay != 0) sb.Append(",underlay=").Append(c.Underlay);
        if (c.RemoteMac is { } rm) sb.Append(",remote_mac=").Append(rm);
        if (c.NextHop != 0) sb.Append(",nexthop=").Append(Ipv4.Format(c.NextHop));
        if (c.LocalMac is { } lm) sb.Append(",local_mac=").Append(lm);
        if (c.Mac is { } m) sb.Append(",mac=").Append(m);
        if (c.IsUdp && c.DstPort != TunnelConfig.DefaultDstPort(c.Kind)) sb.Append(",dstport=").Append(c.DstPort);
        if (c.Ttl != TunnelConfig.DefaultTtl) sb.Append(",ttl=").Append(c.Ttl);
        if (c.Tos != 0) sb.Append(",tos=").Append(c.Tos);
        if (c.UdpChecksum) sb.Append(",csum=true");
        if (!c.DontFragment) sb.Append(",df=false");
        if (c.InnerSrcMac is { } s) sb.Append(",inner_src_mac=").Append(s);
        if (c.InnerDstMac is { } d) sb.Append(",inner_dst_mac=").Append(d);
        return sb.ToString();
    }

    /// <summary>The spec's word for a kind.</summary>
    public static string KindName(TunnelKind kind) => kind switch
    {
        TunnelKind.Vxlan => "vxlan",
        TunnelKind.Geneve => "geneve",
        TunnelKind.Gre => "gre",
        _ => "ipip",
    };

    private static bool TryParseUInt(string s, out uint v)
    {
        if (s.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            return uint.TryParse(s.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out v);
        return uint.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out v);
    }
}
