namespace Softswitch.Datapath.Ports;

/// <summary>
/// A port's VLAN membership for NORMAL (the L2 learning switch), as Open vSwitch's Port <c>tag</c> and <c>trunks</c>
/// give it. An access port carries one VLAN: it takes untagged frames (or priority-tagged ones, VLAN id 0) into that
/// VLAN, drops frames tagged with another id, and sends untagged. A trunk port carries the VLANs of its set (every
/// VLAN when the set is empty): a frame is in the VLAN of its 802.1Q tag, or VLAN 0 untagged, and leaves tagged
/// unless its VLAN is 0. A port without one (<see cref="PortSlot.Vlan"/> null) is a trunk of every VLAN.
/// </summary>
/// <remarks>Immutable: a change replaces the port's whole membership (<see cref="SwitchDatapath.SetPortVlan"/>). Two
/// memberships are equal when they carry the same VLANs the same way.</remarks>
public sealed class PortVlan : IEquatable<PortVlan>
{
    /// <summary><see cref="Tag"/> of a trunk port.</summary>
    public const ushort NoTag = 0xFFFF;
    public const ushort MaxVlan = 4095;

    // The VLANs a trunk carries, one bit each; null: every VLAN.
    private readonly ulong[]? _trunks;

    /// <summary>The VLAN of an access port, or <see cref="NoTag"/> for a trunk.</summary>
    public ushort Tag { get; }

    private PortVlan(ushort tag, ulong[]? trunks)
    {
        Tag = tag;
        _trunks = trunks;
    }

    /// <summary>An access port of VLAN <paramref name="tag"/> (0 to 4095).</summary>
    public static PortVlan Access(ushort tag)
        => tag <= MaxVlan ? new PortVlan(tag, null) : throw new ArgumentOutOfRangeException(nameof(tag), tag, "a VLAN id is 0 to 4095");

    /// <summary>A trunk of the VLANs listed (0 to 4095), of every VLAN when there are none.</summary>
    public static PortVlan Trunk(IEnumerable<ushort> vlans)
    {
        ulong[]? bits = null;
        foreach (ushort v in vlans)
        {
            if (v > MaxVlan) throw new ArgumentOutOfRangeException(nameof(vlans), v, "a VLAN id is 0 to 4095");
            bits ??= new ulong[(MaxVlan + 1) / 64];
            bits[v >> 6] |= 1UL << (v & 63);
        }
        return new PortVlan(NoTag, bits);
    }

    /// <summary>True for an access port (it sends untagged).</summary>
    public bool IsAccess => Tag != NoTag;

    /// <summary>Whether the port carries VLAN <paramref name="vlan"/> (0 to 4095).</summary>
    public bool Carries(ushort vlan)
    {
        if (Tag != NoTag) return vlan == Tag;
        var t = _trunks;
        return t is null || (t[(vlan >> 6) & 63] >> (vlan & 63) & 1) != 0;
    }

    public bool Equals(PortVlan? other)
        => other is not null && Tag == other.Tag && (ReferenceEquals(_trunks, other._trunks)
           || (_trunks is not null && other._trunks is not null && _trunks.AsSpan().SequenceEqual(other._trunks)));

    public override bool Equals(object? obj) => Equals(obj as PortVlan);

    public override int GetHashCode()
    {
        var h = new HashCode();
        h.Add(Tag);
        if (_trunks is not null) foreach (ulong w in _trunks) h.Add(w);
        return h.ToHashCode();
    }

    public override string ToString()
    {
        if (Tag != NoTag) return $"access vlan {Tag}";
        if (_trunks is null) return "trunk of every vlan";
        var list = new List<int>();
        for (int v = 0; v <= MaxVlan; v++)
            if (Carries((ushort)v)) list.Add(v);
        return "trunk of vlans " + string.Join(',', list);
    }
}
