using Softswitch.Datapath.Tunnels;

namespace Softswitch.TestKit;

/// <summary>
/// Tunnel port configurations for tests, built as the datapath's <see cref="TunnelConfig"/> records (no spec strings:
/// the host's spec parser has tests of its own). Each gives the kind, the name, the endpoints and the key; the rest
/// (port number, underlay, MACs, TTL, ...) is added with a <c>with</c> expression.
/// </summary>
public static class TestTunnels
{
    /// <summary>VXLAN with a fixed VNI (24 bits).</summary>
    public static TunnelConfig Vxlan(string name, uint local, uint remote, uint vni)
        => new() { Name = name, Kind = TunnelKind.Vxlan, LocalIp = local, RemoteIp = remote, Key = vni, HasKey = true };

    /// <summary>Geneve with a fixed VNI (24 bits), UDP port 6081.</summary>
    public static TunnelConfig Geneve(string name, uint local, uint remote, uint vni)
        => new() { Name = name, Kind = TunnelKind.Geneve, LocalIp = local, RemoteIp = remote, Key = vni, HasKey = true };

    /// <summary>GRE (gretap), with a fixed key when <paramref name="key"/> is given, without a key otherwise.</summary>
    public static TunnelConfig Gre(string name, uint local, uint remote, uint? key = null)
        => new() { Name = name, Kind = TunnelKind.Gre, LocalIp = local, RemoteIp = remote, Key = key ?? 0, HasKey = key is not null };

    /// <summary>IP in IP (no key).</summary>
    public static TunnelConfig Ipip(string name, uint local, uint remote)
        => new() { Name = name, Kind = TunnelKind.Ipip, LocalIp = local, RemoteIp = remote };

    /// <summary>VXLAN or GRE with a flow key: any id is accepted on receive, send uses the set_tunnel id.</summary>
    public static TunnelConfig FlowKeyed(TunnelKind kind, string name, uint local, uint remote)
        => new() { Name = name, Kind = kind, LocalIp = local, RemoteIp = remote, FlowKey = true };

    /// <summary>
    /// A tunnel of <paramref name="kind"/> with a fixed <paramref name="key"/>, or none when it is null (GRE without a
    /// key; IP in IP ignores it), for theories that run one case per kind.
    /// </summary>
    public static TunnelConfig Of(TunnelKind kind, uint? key, string name, uint local, uint remote) => kind switch
    {
        TunnelKind.Vxlan => Vxlan(name, local, remote, key ?? throw new ArgumentNullException(nameof(key), "VXLAN needs a VNI")),
        TunnelKind.Geneve => Geneve(name, local, remote, key ?? throw new ArgumentNullException(nameof(key), "Geneve needs a VNI")),
        TunnelKind.Gre => Gre(name, local, remote, key),
        _ => Ipip(name, local, remote),
    };
}
