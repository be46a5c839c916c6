using Softswitch.Datapath.Ports;

namespace Softswitch.Datapath.Forwarding;

/// <summary>
/// One port mirror (Open vSwitch's Mirror row): the ports whose arriving packets (<see cref="Sources"/>) and departing
/// packets (<see cref="Destinations"/>) it selects, optionally only in some VLANs, and where a copy of each selected
/// packet goes: one port (<see cref="OutPort"/>, SPAN), or every port that carries <see cref="OutVlan"/> (RSPAN),
/// truncated to <see cref="Snaplen"/> bytes when that is set. Counts what it sent (the row's statistics).
/// </summary>
/// <remarks>Immutable but for its counters: a change of the row is a new mirror (<see cref="SwitchDatapath.SetMirrors"/>).
/// Counted with atomic adds from every forwarding thread, per mirrored packet only.</remarks>
public sealed class Mirror
{
    // The VLANs selected, one bit each; null: every VLAN.
    private readonly ulong[]? _vlans;
    private long _txPackets, _txBytes;

    /// <param name="name">The row's name (for logs and tools).</param>
    /// <param name="sources">Ports whose arriving packets are selected.</param>
    /// <param name="destinations">Ports whose departing packets are selected.</param>
    /// <param name="vlans">VLANs the selected packets must be in (0 to 4095); empty or null: every VLAN.</param>
    /// <param name="outPort">The port the copies go to, or <see cref="PortNumber.None"/> when they go to <paramref name="outVlan"/>.</param>
    /// <param name="outVlan">The VLAN (1 to 4095) the copies are flooded in when there is no output port; else -1.</param>
    /// <param name="snaplen">Bytes of each copy kept (14 or more); 0: the whole frame.</param>
    public Mirror(string name, IEnumerable<ushort> sources, IEnumerable<ushort> destinations, IEnumerable<ushort>? vlans, ushort outPort, int outVlan = -1, int snaplen = 0)
    {
        if ((outPort == PortNumber.None) == (outVlan < 0)) throw new ArgumentException("a mirror outputs to a port or to a VLAN, exactly one of them");
        if (outVlan > PortVlan.MaxVlan || outVlan == 0) throw new ArgumentOutOfRangeException(nameof(outVlan), outVlan, "an output VLAN is 1 to 4095");
        if (snaplen != 0 && snaplen < 14) throw new ArgumentOutOfRangeException(nameof(snaplen), snaplen, "a snaplen keeps at least an Ethernet header (14 bytes)");
        Name = name;
        Sources = [.. sources.Distinct().Order()];
        Destinations = [.. destinations.Distinct().Order()];
        foreach (ushort v in vlans ?? [])
        {
            if (v > PortVlan.MaxVlan) throw new ArgumentOutOfRangeException(nameof(vlans), v, "a VLAN id is 0 to 4095");
            _vlans ??= new ulong[(PortVlan.MaxVlan + 1) / 64];
            _vlans[v >> 6] |= 1UL << (v & 63);
        }
        OutPort = outPort;
        OutVlan = outVlan;
        Snaplen = snaplen;
    }

    public string Name { get; }
    public IReadOnlyList<ushort> Sources { get; }
    public IReadOnlyList<ushort> Destinations { get; }
    /// <summary>The port the copies go to, or <see cref="PortNumber.None"/> (they go to <see cref="OutVlan"/>).</summary>
    public ushort OutPort { get; }
    /// <summary>The VLAN the copies are flooded in, or -1 (they go to <see cref="OutPort"/>).</summary>
    public int OutVlan { get; }
    /// <summary>Bytes of each copy kept; 0: the whole frame.</summary>
    public int Snaplen { get; }
    /// <summary>True when only packets of some VLANs are selected.</summary>
    public bool SelectsVlans => _vlans is not null;

    /// <summary>Whether a packet of VLAN <paramref name="vlan"/> (0 untagged) is selected.</summary>
    public bool Selects(ushort vlan) => _vlans is null || (_vlans[(vlan >> 6) & 63] >> (vlan & 63) & 1) != 0;

    /// <summary>Packets mirrored (each counted once however many copies it made).</summary>
    public long TxPackets => Volatile.Read(ref _txPackets);
    /// <summary>Bytes of the packets mirrored, as they were selected (before <see cref="Snaplen"/>).</summary>
    public long TxBytes => Volatile.Read(ref _txBytes);

    internal void Count(int bytes)
    {
        Interlocked.Increment(ref _txPackets);
        Interlocked.Add(ref _txBytes, bytes);
    }

    /// <summary>Whether <paramref name="other"/> selects and sends as this one does (its counters aside).</summary>
    public bool SameAs(Mirror other)
        => Name == other.Name && Sources.SequenceEqual(other.Sources) && Destinations.SequenceEqual(other.Destinations) && OutPort == other.OutPort
           && OutVlan == other.OutVlan && Snaplen == other.Snaplen
           && (ReferenceEquals(_vlans, other._vlans) || (_vlans is not null && other._vlans is not null && _vlans.AsSpan().SequenceEqual(other._vlans)));
}

/// <summary>
/// A datapath's mirrors, as the forwarding threads read them (<see cref="SwitchDatapath.Mirrors"/>): the mirrors by bit
/// (a packet's mirrors are a mask), and for each the mirrors that send to the same place, so a packet selected by two
/// of them is copied there once (as Open vSwitch's dup_mirrors).
/// </summary>
public sealed class MirrorSet
{
    /// <summary>Mirrors a datapath holds at most (Open vSwitch's MAX_MIRRORS).</summary>
    public const int MaxMirrors = 32;

    public MirrorSet(IReadOnlyList<Mirror> mirrors)
    {
        if (mirrors.Count > MaxMirrors) throw new ArgumentException($"at most {MaxMirrors} mirrors", nameof(mirrors));
        Mirrors = [.. mirrors];
        Dup = new uint[Mirrors.Length];
        for (int i = 0; i < Mirrors.Length; i++)
        {
            for (int j = 0; j < Mirrors.Length; j++)
                if (Mirrors[i].OutPort == Mirrors[j].OutPort && Mirrors[i].OutVlan == Mirrors[j].OutVlan) Dup[i] |= 1u << j;
        }
    }

    public Mirror[] Mirrors { get; }
    /// <summary>For mirror i, the mask of the mirrors that send where it sends (i among them).</summary>
    internal uint[] Dup { get; }
}
