using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Softswitch.Datapath.Flow;

/// <summary>
/// The header fields of one packet that flows can match, for every OpenFlow version: 128 bytes = sixteen ulongs, the
/// first six (the base) holding the OpenFlow 1.0 12-tuple and the tunnel id, the other ten (the extension) metadata,
/// IPv6, neighbour discovery, ARP hardware addresses, MPLS and PBB.
/// </summary>
/// <remarks>
/// Every field sits at a fixed byte offset (the <c>*Offset</c> constants) and holds its bytes in network order, as on
/// the wire; accessors convert to host order. A mask (<see cref="FlowMatch"/>) has the same layout, and a rule matches
/// when <c>(key &amp; mask) == value</c> over the words. The xmap says which extension words are non-zero, so keys
/// whose xmaps are both 0 are equal when their bases are. Immutable; a test pins the size.
/// Design, layout diagram and field meanings: docs/datapath.md, "The key".
/// </remarks>
[StructLayout(LayoutKind.Sequential, Size = Size)]
public readonly struct FlowKey : IEquatable<FlowKey>
{
    public const int Size = 128, Words = 16, BaseWords = 6, BaseSize = 48;
    public const int InPortOffset = 0, DlVlanOffset = 2, DlTypeOffset = 4, DlVlanPcpOffset = 6, NwTosOffset = 7;
    public const int DlSrcOffset = 8, NwProtoOffset = 14, IpEcnOffset = 15, DlDstOffset = 16, ExtMapOffset = 22;
    public const int NwSrcOffset = 24, NwDstOffset = 28, TpSrcOffset = 32, TpDstOffset = 34, Ipv6FlabelOffset = 36, TunIdOffset = 40;
    /// <summary>
    /// nw_frag, one byte: the top byte of the flow label's big-endian word (the label has 20 bits), with Open vSwitch's
    /// bits (FLOW_NW_FRAG_ANY, FLOW_NW_FRAG_LATER). Flows match it (ip_frag, NXM_NX_IP_FRAG); it also tells the pipeline
    /// walk that a later fragment has no L4 header.
    /// </summary>
    public const int NwFragOffset = Ipv6FlabelOffset;
    /// <summary>nw_frag's bit for any fragment (IPv4 MF or offset set; an IPv6 fragment header): FLOW_NW_FRAG_ANY.</summary>
    public const byte NwFragAny = 1;
    /// <summary>nw_frag's bit for a fragment other than the first (IPv4 offset or IPv6 fragment offset non-zero): no L4 header, ports 0 (FLOW_NW_FRAG_LATER; set with <see cref="NwFragAny"/>).</summary>
    public const byte NwFragLater = 2;
    /// <summary>nw_frag's meaningful bits (FLOW_NW_FRAG_MASK).</summary>
    public const byte NwFragMask = NwFragAny | NwFragLater;
    public const int MetadataOffset = 48, Ipv6SrcOffset = 56, Ipv6DstOffset = 72, NdTargetOffset = 88;
    public const int ArpShaOffset = 104, Ipv6ExtHdrOffset = 110, ArpThaOffset = 112, MplsTcOffset = 118, MplsBosOffset = 119;
    public const int MplsLabelOffset = 120, PbbIsidOffset = 124;
    /// <summary>ND's link-layer address options share ARP's hardware address slots (never both in one packet).</summary>
    public const int NdSllOffset = ArpShaOffset, NdTllOffset = ArpThaOffset;
    /// <summary>OFPVID_PRESENT: the bit of the vlan field set on a tagged frame.</summary>
    public const ushort VlanPresent = 0x1000;
    /// <summary>OpenFlow 1.0's dl_vlan for an untagged frame (OFP_VLAN_NONE).</summary>
    public const ushort VlanNone = 0xFFFF;

    public readonly ulong W0, W1, W2, W3, W4, W5;
    public readonly ulong W6, W7, W8, W9, W10, W11, W12, W13, W14, W15;

    /// <summary>A key with only base words (the extension all zero).</summary>
    public FlowKey(ulong w0, ulong w1, ulong w2, ulong w3, ulong w4, ulong w5)
    {
        W0 = w0; W1 = w1; W2 = w2; W3 = w3; W4 = w4; W5 = w5;
    }

    /// <summary>The key's 128 bytes (read-only view of this value).</summary>
    [UnscopedRef]
    public ReadOnlySpan<byte> Bytes => MemoryMarshal.AsBytes(MemoryMarshal.CreateReadOnlySpan(in W0, Words));

    /// <summary>The key's words (read-only view of this value).</summary>
    [UnscopedRef]
    public ReadOnlySpan<ulong> AllWords => MemoryMarshal.CreateReadOnlySpan(in W0, Words);

    public ushort InPort => BinaryPrimitives.ReadUInt16BigEndian(Bytes[InPortOffset..]);
    /// <summary>The vlan field as stored: OFPVID_PRESENT | vid, or 0 untagged.</summary>
    public ushort VlanVid => BinaryPrimitives.ReadUInt16BigEndian(Bytes[DlVlanOffset..]);
    /// <summary>OpenFlow 1.0's view of the vlan field: the VID, or 0xFFFF untagged. Meaningful on packet keys and values, not on masks.</summary>
    public ushort DlVlan => (VlanVid & VlanPresent) != 0 ? (ushort)(VlanVid & 0x0FFF) : VlanNone;
    public byte IpEcn => Bytes[IpEcnOffset];
    /// <summary>Which extension words are non-zero (bit i: word 6 + i).</summary>
    public ushort ExtMap => BinaryPrimitives.ReadUInt16BigEndian(Bytes[ExtMapOffset..]);
    /// <summary>The flow label: the low three bytes of its word (the top one is <see cref="NwFrag"/>).</summary>
    public uint Ipv6Flabel => BinaryPrimitives.ReadUInt32BigEndian(Bytes[Ipv6FlabelOffset..]) & 0x00FF_FFFF;
    /// <summary>The fragment flags (<see cref="NwFragAny"/>, <see cref="NwFragLater"/>); 0 for a packet that is not a fragment.</summary>
    public byte NwFrag => Bytes[NwFragOffset];
    /// <summary>A fragment other than the first: it carries no L4 header, so L4 rewrites leave it (and its key) alone.</summary>
    public bool IsLaterFragment => (Bytes[NwFragOffset] & NwFragLater) != 0;
    public ulong Metadata => BinaryPrimitives.ReadUInt64BigEndian(Bytes[MetadataOffset..]);
    public UInt128 Ipv6Src => BinaryPrimitives.ReadUInt128BigEndian(Bytes[Ipv6SrcOffset..]);
    public UInt128 Ipv6Dst => BinaryPrimitives.ReadUInt128BigEndian(Bytes[Ipv6DstOffset..]);
    public UInt128 NdTarget => BinaryPrimitives.ReadUInt128BigEndian(Bytes[NdTargetOffset..]);
    public MacAddress ArpSha => MacAddress.Read(Bytes[ArpShaOffset..]);
    public MacAddress ArpTha => MacAddress.Read(Bytes[ArpThaOffset..]);
    public ushort Ipv6ExtHdr => BinaryPrimitives.ReadUInt16BigEndian(Bytes[Ipv6ExtHdrOffset..]);
    public byte MplsTc => Bytes[MplsTcOffset];
    public byte MplsBos => Bytes[MplsBosOffset];
    public uint MplsLabel => BinaryPrimitives.ReadUInt32BigEndian(Bytes[MplsLabelOffset..]);
    public uint PbbIsid => BinaryPrimitives.ReadUInt32BigEndian(Bytes[PbbIsidOffset..]);
    public ushort DlType => BinaryPrimitives.ReadUInt16BigEndian(Bytes[DlTypeOffset..]);
    public byte DlVlanPcp => Bytes[DlVlanPcpOffset];
    public byte NwTos => Bytes[NwTosOffset];
    public MacAddress DlSrc => MacAddress.Read(Bytes[DlSrcOffset..]);
    public MacAddress DlDst => MacAddress.Read(Bytes[DlDstOffset..]);
    public byte NwProto => Bytes[NwProtoOffset];
    public uint NwSrc => BinaryPrimitives.ReadUInt32BigEndian(Bytes[NwSrcOffset..]);
    public uint NwDst => BinaryPrimitives.ReadUInt32BigEndian(Bytes[NwDstOffset..]);
    public ushort TpSrc => BinaryPrimitives.ReadUInt16BigEndian(Bytes[TpSrcOffset..]);
    public ushort TpDst => BinaryPrimitives.ReadUInt16BigEndian(Bytes[TpDstOffset..]);
    public ulong TunId => BinaryPrimitives.ReadUInt64BigEndian(Bytes[TunIdOffset..]);

    /// <summary>CRC32C over the base words, then the extension words when the key has any (see <see cref="ExtMap"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint Hash()
    {
        uint h = BitOperations.Crc32C(0x9E3779B9u, W0);
        h = BitOperations.Crc32C(h, W1);
        h = BitOperations.Crc32C(h, W2);
        h = BitOperations.Crc32C(h, W3);
        h = BitOperations.Crc32C(h, W4);
        h = BitOperations.Crc32C(h, W5);
        if ((W6 | W7 | W8 | W9 | W10 | W11 | W12 | W13 | W14 | W15) != 0)
        {
            var ext = AllWords[BaseWords..];
            foreach (ulong w in ext) h = BitOperations.Crc32C(h, w);
        }
        return h;
    }

    /// <summary><c>this &amp; mask</c>, word by word.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public FlowKey And(in FlowKey mask)
    {
        Unsafe.SkipInit(out FlowKey r);
        ref ulong d = ref Unsafe.AsRef(in r.W0);
        ref readonly ulong a = ref W0, m = ref mask.W0;
        for (int i = 0; i < Words; i += 4)
            (Vector256.LoadUnsafe(in a, (nuint)i) & Vector256.LoadUnsafe(in m, (nuint)i)).StoreUnsafe(ref d, (nuint)i);
        return r;
    }

    /// <summary>True when <c>(this &amp; mask) == value</c> over every word.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool MatchesMasked(in FlowKey mask, in FlowKey value)
    {
        ref readonly ulong k = ref W0, m = ref mask.W0, v = ref value.W0;
        var d = Vector256<ulong>.Zero;
        for (int i = 0; i < Words; i += 4)
            d |= (Vector256.LoadUnsafe(in k, (nuint)i) & Vector256.LoadUnsafe(in m, (nuint)i)) ^ Vector256.LoadUnsafe(in v, (nuint)i);
        return d == Vector256<ulong>.Zero;
    }

    /// <summary>Scalar twin of <see cref="MatchesMasked"/> (tests).</summary>
    public bool MatchesMaskedScalar(in FlowKey mask, in FlowKey value)
    {
        ulong d = 0;
        var k = AllWords; var m = mask.AllWords; var v = value.AllWords;
        for (int i = 0; i < Words; i++) d |= (k[i] & m[i]) ^ v[i];
        return d == 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Equals(FlowKey other)
    {
        ref readonly ulong a = ref W0, b = ref other.W0;
        var d = Vector256<ulong>.Zero;
        for (int i = 0; i < Words; i += 4)
            d |= Vector256.LoadUnsafe(in a, (nuint)i) ^ Vector256.LoadUnsafe(in b, (nuint)i);
        return d == Vector256<ulong>.Zero;
    }

    /// <summary>
    /// <see cref="Equals(FlowKey)"/> for packet keys (keys whose <see cref="ExtMap"/> is right, as the parser and
    /// <see cref="FlowKeyBuilder"/> keep it): compares the base words, and the extension only when the map (part of the
    /// base) is non-zero, so an OpenFlow 1.0 packet's compare reads 48 bytes. Not for masks (their map is zero whatever
    /// their extension).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool EqualsPacketKey(in FlowKey other)
    {
        ref readonly ulong a = ref W0, b = ref other.W0;
        var d = (Vector256.LoadUnsafe(in a) ^ Vector256.LoadUnsafe(in b)).AsByte();
        var d4 = (Vector128.LoadUnsafe(in a, 4) ^ Vector128.LoadUnsafe(in b, 4)).AsByte();
        if ((d.GetLower() | d.GetUpper() | d4) != Vector128<byte>.Zero) return false;
        return (W2 & ExtMapWordMask) == 0 || EqualsExtension(other);
    }

    /// <summary>The bits of W2 that hold <see cref="ExtMap"/> (bytes 22-23, the top two bytes of the little-endian word).</summary>
    private const ulong ExtMapWordMask = 0xFFFF_0000_0000_0000UL;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool EqualsExtension(in FlowKey other)
    {
        ref readonly ulong a = ref W6, b = ref other.W6;
        var d = (Vector256.LoadUnsafe(in a) ^ Vector256.LoadUnsafe(in b))
              | (Vector256.LoadUnsafe(in a, 4) ^ Vector256.LoadUnsafe(in b, 4));
        return d == Vector256<ulong>.Zero && (Vector128.LoadUnsafe(in a, 8) ^ Vector128.LoadUnsafe(in b, 8)) == Vector128<ulong>.Zero;
    }

    public override bool Equals(object? obj) => obj is FlowKey k && Equals(k);
    public override int GetHashCode() => (int)Hash();
    public static bool operator ==(in FlowKey a, in FlowKey b) => a.Equals(b);
    public static bool operator !=(in FlowKey a, in FlowKey b) => !a.Equals(b);

    public override string ToString()
        => $"in_port={InPort},vlan=0x{VlanVid:x4},pcp={DlVlanPcp},dl_src={DlSrc},dl_dst={DlDst},dl_type=0x{DlType:x4}," +
           $"nw_tos={NwTos},nw_proto={NwProto},nw_src={Ipv4.Format(NwSrc)},nw_dst={Ipv4.Format(NwDst)},tp_src={TpSrc},tp_dst={TpDst}" +
           (NwFrag != 0 ? IsLaterFragment ? ",nw_frag=later" : ",nw_frag=first" : "") + (TunId != 0 ? $",tun_id=0x{TunId:x}" : "");
}

/// <summary>Writes a <see cref="FlowKey"/> field by field (the parser and tests use it).</summary>
public struct FlowKeyBuilder
{
    private FlowKey _key;

    public FlowKeyBuilder(in FlowKey start) => _key = start;

    public readonly FlowKey Key => _key;

    /// <summary>The key being written, without a copy (valid while the builder lives; the next setter changes it).</summary>
    [UnscopedRef]
    public readonly ref readonly FlowKey KeyRef => ref _key;

    [UnscopedRef]
    public Span<byte> Bytes => MemoryMarshal.AsBytes(MemoryMarshal.CreateSpan(ref Unsafe.AsRef(in _key.W0), FlowKey.Words));

    public void Clear() => _key = default;

    public FlowKeyBuilder InPort(ushort v) { BinaryPrimitives.WriteUInt16BigEndian(Bytes[FlowKey.InPortOffset..], v); return this; }
    /// <summary>Sets the vlan field from OpenFlow 1.0's view: 0xFFFF untagged, else the VID (stored as OFPVID_PRESENT | vid).</summary>
    public FlowKeyBuilder DlVlan(ushort v) => VlanVid(v == FlowKey.VlanNone ? (ushort)0 : (ushort)(FlowKey.VlanPresent | (v & 0x0FFF)));
    /// <summary>Sets the vlan field as stored (OFPVID_PRESENT | vid, 0 untagged; any bits, for masks).</summary>
    public FlowKeyBuilder VlanVid(ushort v) { BinaryPrimitives.WriteUInt16BigEndian(Bytes[FlowKey.DlVlanOffset..], v); return this; }
    public FlowKeyBuilder DlType(ushort v) { BinaryPrimitives.WriteUInt16BigEndian(Bytes[FlowKey.DlTypeOffset..], v); return this; }
    public FlowKeyBuilder DlVlanPcp(byte v) { Bytes[FlowKey.DlVlanPcpOffset] = v; return this; }
    public FlowKeyBuilder NwTos(byte v) { Bytes[FlowKey.NwTosOffset] = v; return this; }
    public FlowKeyBuilder DlSrc(MacAddress v) { v.Write(Bytes[FlowKey.DlSrcOffset..]); return this; }
    public FlowKeyBuilder DlDst(MacAddress v) { v.Write(Bytes[FlowKey.DlDstOffset..]); return this; }
    public FlowKeyBuilder NwProto(byte v) { Bytes[FlowKey.NwProtoOffset] = v; return this; }
    public FlowKeyBuilder NwSrc(uint v) { BinaryPrimitives.WriteUInt32BigEndian(Bytes[FlowKey.NwSrcOffset..], v); return this; }
    public FlowKeyBuilder NwDst(uint v) { BinaryPrimitives.WriteUInt32BigEndian(Bytes[FlowKey.NwDstOffset..], v); return this; }
    public FlowKeyBuilder TpSrc(ushort v) { BinaryPrimitives.WriteUInt16BigEndian(Bytes[FlowKey.TpSrcOffset..], v); return this; }
    public FlowKeyBuilder TpDst(ushort v) { BinaryPrimitives.WriteUInt16BigEndian(Bytes[FlowKey.TpDstOffset..], v); return this; }
    public FlowKeyBuilder TunId(ulong v) { BinaryPrimitives.WriteUInt64BigEndian(Bytes[FlowKey.TunIdOffset..], v); return this; }
    public FlowKeyBuilder IpEcn(byte v) { Bytes[FlowKey.IpEcnOffset] = v; return this; }
    /// <summary>Sets the flow label's three bytes (<see cref="FlowKey.NwFrag"/>, the top byte of its word, kept).</summary>
    public FlowKeyBuilder Ipv6Flabel(uint v)
    {
        var b = Bytes;
        b[FlowKey.Ipv6FlabelOffset + 1] = (byte)(v >> 16);
        BinaryPrimitives.WriteUInt16BigEndian(b[(FlowKey.Ipv6FlabelOffset + 2)..], (ushort)v);
        return this;
    }
    public FlowKeyBuilder NwFrag(byte v) { Bytes[FlowKey.NwFragOffset] = v; return this; }
    public FlowKeyBuilder Metadata(ulong v) { BinaryPrimitives.WriteUInt64BigEndian(Bytes[FlowKey.MetadataOffset..], v); return UpdateExtMap(); }
    public FlowKeyBuilder Ipv6Src(UInt128 v) { BinaryPrimitives.WriteUInt128BigEndian(Bytes[FlowKey.Ipv6SrcOffset..], v); return UpdateExtMap(); }
    public FlowKeyBuilder Ipv6Dst(UInt128 v) { BinaryPrimitives.WriteUInt128BigEndian(Bytes[FlowKey.Ipv6DstOffset..], v); return UpdateExtMap(); }
    public FlowKeyBuilder NdTarget(UInt128 v) { BinaryPrimitives.WriteUInt128BigEndian(Bytes[FlowKey.NdTargetOffset..], v); return UpdateExtMap(); }
    public FlowKeyBuilder ArpSha(MacAddress v) { v.Write(Bytes[FlowKey.ArpShaOffset..]); return UpdateExtMap(); }
    public FlowKeyBuilder ArpTha(MacAddress v) { v.Write(Bytes[FlowKey.ArpThaOffset..]); return UpdateExtMap(); }
    public FlowKeyBuilder Ipv6ExtHdr(ushort v) { BinaryPrimitives.WriteUInt16BigEndian(Bytes[FlowKey.Ipv6ExtHdrOffset..], v); return UpdateExtMap(); }
    public FlowKeyBuilder MplsTc(byte v) { Bytes[FlowKey.MplsTcOffset] = v; return UpdateExtMap(); }
    public FlowKeyBuilder MplsBos(byte v) { Bytes[FlowKey.MplsBosOffset] = v; return UpdateExtMap(); }
    public FlowKeyBuilder MplsLabel(uint v) { BinaryPrimitives.WriteUInt32BigEndian(Bytes[FlowKey.MplsLabelOffset..], v); return UpdateExtMap(); }
    public FlowKeyBuilder PbbIsid(uint v) { BinaryPrimitives.WriteUInt32BigEndian(Bytes[FlowKey.PbbIsidOffset..], v); return UpdateExtMap(); }

    /// <summary>Recomputes the map of non-zero extension words (the builder keeps it right after every extension write).</summary>
    public FlowKeyBuilder UpdateExtMap()
    {
        var words = MemoryMarshal.Cast<byte, ulong>(Bytes);
        ushort map = 0;
        for (int i = FlowKey.BaseWords; i < FlowKey.Words; i++)
            if (words[i] != 0) map |= (ushort)(1 << (i - FlowKey.BaseWords));
        BinaryPrimitives.WriteUInt16BigEndian(Bytes[FlowKey.ExtMapOffset..], map);
        return this;
    }
}
