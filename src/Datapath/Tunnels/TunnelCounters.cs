namespace Softswitch.Datapath.Tunnels;

/// <summary>Why a tunnel dropped a packet. Each value is a named counter (<see cref="TunnelDropCounters"/>).</summary>
public enum TunnelDropReason : byte
{
    /// <summary>Decap: addressed to a local endpoint, but no tunnel port has this remote, VNI/key (or key presence) and UDP port.</summary>
    UnknownKey,
    /// <summary>Decap: outer headers cut short or invalid, VXLAN I flag clear, Geneve version/protocol unsupported or
    /// options that do not fill the option length, GRE version/flags/protocol unsupported, inner frame too short.</summary>
    Malformed,
    /// <summary>Decap: outer IPv4 header checksum, or a present UDP/GRE checksum, is wrong.</summary>
    BadChecksum,
    /// <summary>Decap: an outer IPv4 fragment (tunnel packets are not reassembled).</summary>
    Fragment,
    /// <summary>Encap: the outer packet would exceed the underlay MTU.</summary>
    TooBig,
    /// <summary>Encap (ipip): the inner frame does not carry IPv4.</summary>
    NotIpv4,
    /// <summary>Encap: shorter than an Ethernet header.</summary>
    Runt,
    /// <summary>Encap: the tunnel has no underlay (its port was removed).</summary>
    NoUnderlay,
    /// <summary>Encap: the next hop's MAC is not resolved yet and the hold queue is full.</summary>
    Unresolved,
    /// <summary>Decap: the tunnel port was removed (no OpenFlow port to deliver to).</summary>
    NoPort,
    /// <summary>Encap: no buffer for the encapsulated copy.</summary>
    PoolExhausted,
    /// <summary>Decap: a Geneve packet with a critical option (C bit, or an option type's top bit): options are not
    /// processed here, and RFC 8926 has an endpoint drop what it cannot process.</summary>
    CriticalOption,
    Count,
}

/// <summary>
/// Tunnel drop counters. Drops are the rare path, so they are added atomically from whichever thread drops
/// (forwarders, the control path, callers of <see cref="TunnelPort.Send(Packets.PacketPool, ReadOnlySpan{int})"/>).
/// </summary>
public sealed class TunnelDropCounters
{
    private readonly long[] _c = new long[(int)TunnelDropReason.Count];

    public void Add(TunnelDropReason r, long n = 1) => Interlocked.Add(ref _c[(int)r], n);
    public long this[TunnelDropReason r] => Volatile.Read(ref _c[(int)r]);

    public long Total
    {
        get
        {
            long t = 0;
            for (int i = 0; i < _c.Length; i++) t += Volatile.Read(ref _c[i]);
            return t;
        }
    }

    internal static TunnelDropReason FromEncap(EncapStatus s) => s switch
    {
        EncapStatus.TooBig => TunnelDropReason.TooBig,
        EncapStatus.NotIpv4 => TunnelDropReason.NotIpv4,
        _ => TunnelDropReason.Runt,
    };
}
