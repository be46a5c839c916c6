using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Softswitch.Datapath.Flow;

/// <summary>
/// The OpenFlow 1.0 12-tuple (plus a tunnel id) of one packet, as 48 bytes = six ulongs.
/// </summary>
/// <remarks>
/// Design: every field sits at a fixed byte offset and multi-byte fields hold their bytes in
/// network order, exactly as they appear on the wire, so the parser copies bytes and never swaps.
/// A mask (see <see cref="FlowMatch"/>) has the same layout; a rule matches when
/// <c>(key &amp; mask) == value</c> over the six words. The accessors below convert to host order
/// for readers that want numbers (tests, stats, the agent).
/// <code>
///  byte  0      2       4       6    7    8        14    15   16       22  24     28     32     34     36   40
///       +------+-------+-------+----+----+--------+-----+----+--------+---+------+------+------+------+----+--------+
///       |in_pt |dl_vlan|dl_type|pcp |tos |dl_src  |proto|pad |dl_dst  |pad|nw_src|nw_dst|tp_src|tp_dst|pad |tun_id  |
///       +------+-------+-------+----+----+--------+-----+----+--------+---+------+------+------+------+----+--------+
/// </code>
/// dl_vlan is 0xFFFF for untagged frames (OFP_VLAN_NONE); nw_tos holds the DSCP bits (tos &amp; 0xFC);
/// for ARP nw_proto is the opcode's low byte and nw_src/nw_dst the sender/target protocol addresses;
/// for ICMP tp_src/tp_dst are type/code. Immutable; safe to share across threads.
/// A test pins the size at 48 bytes: changing the layout means changing that test knowingly.
/// </remarks>
[StructLayout(LayoutKind.Sequential, Size = Size)]
public readonly struct FlowKey : IEquatable<FlowKey>
{
    public const int Size = 48;
    public const int InPortOffset = 0, DlVlanOffset = 2, DlTypeOffset = 4, DlVlanPcpOffset = 6, NwTosOffset = 7;
    public const int DlSrcOffset = 8, NwProtoOffset = 14, DlDstOffset = 16;
    public const int NwSrcOffset = 24, NwDstOffset = 28, TpSrcOffset = 32, TpDstOffset = 34, TunIdOffset = 40;

    public readonly ulong W0, W1, W2, W3, W4, W5;

    public FlowKey(ulong w0, ulong w1, ulong w2, ulong w3, ulong w4, ulong w5)
    {
        W0 = w0; W1 = w1; W2 = w2; W3 = w3; W4 = w4; W5 = w5;
    }

    /// <summary>The key's 48 bytes (read-only view of this value).</summary>
    [UnscopedRef]
    public ReadOnlySpan<byte> Bytes => MemoryMarshal.AsBytes(MemoryMarshal.CreateReadOnlySpan(in W0, 6));

    public ushort InPort => BinaryPrimitives.ReadUInt16BigEndian(Bytes[InPortOffset..]);
    public ushort DlVlan => BinaryPrimitives.ReadUInt16BigEndian(Bytes[DlVlanOffset..]);
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

    /// <summary>CRC32C over the six words: computed once per packet and carried along.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint Hash()
    {
        uint h = BitOperations.Crc32C(0x9E3779B9u, W0);
        h = BitOperations.Crc32C(h, W1);
        h = BitOperations.Crc32C(h, W2);
        h = BitOperations.Crc32C(h, W3);
        h = BitOperations.Crc32C(h, W4);
        return BitOperations.Crc32C(h, W5);
    }

    /// <summary><c>this &amp; mask</c>, word by word.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public FlowKey And(in FlowKey mask)
        => new(W0 & mask.W0, W1 & mask.W1, W2 & mask.W2, W3 & mask.W3, W4 & mask.W4, W5 & mask.W5);

    /// <summary>True when <c>(this &amp; mask) == value</c>: three Vector128 lanes ORed, one zero test.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool MatchesMasked(in FlowKey mask, in FlowKey value)
    {
        if (Vector128.IsHardwareAccelerated)
        {
            ref readonly ulong k = ref W0, m = ref mask.W0, v = ref value.W0;
            var d0 = (Vector128.LoadUnsafe(in k) & Vector128.LoadUnsafe(in m)) ^ Vector128.LoadUnsafe(in v);
            var d1 = (Vector128.LoadUnsafe(in k, 2) & Vector128.LoadUnsafe(in m, 2)) ^ Vector128.LoadUnsafe(in v, 2);
            var d2 = (Vector128.LoadUnsafe(in k, 4) & Vector128.LoadUnsafe(in m, 4)) ^ Vector128.LoadUnsafe(in v, 4);
            return (d0 | d1 | d2) == Vector128<ulong>.Zero;
        }
        return MatchesMaskedScalar(mask, value);
    }

    /// <summary>Scalar twin of <see cref="MatchesMasked"/> (used when SIMD is off, and by tests).</summary>
    public bool MatchesMaskedScalar(in FlowKey mask, in FlowKey value)
        => (((W0 & mask.W0) ^ value.W0) | ((W1 & mask.W1) ^ value.W1) | ((W2 & mask.W2) ^ value.W2)
          | ((W3 & mask.W3) ^ value.W3) | ((W4 & mask.W4) ^ value.W4) | ((W5 & mask.W5) ^ value.W5)) == 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Equals(FlowKey other)
        => ((W0 ^ other.W0) | (W1 ^ other.W1) | (W2 ^ other.W2) | (W3 ^ other.W3) | (W4 ^ other.W4) | (W5 ^ other.W5)) == 0;

    public override bool Equals(object? obj) => obj is FlowKey k && Equals(k);
    public override int GetHashCode() => (int)Hash();
    public static bool operator ==(in FlowKey a, in FlowKey b) => a.Equals(b);
    public static bool operator !=(in FlowKey a, in FlowKey b) => !a.Equals(b);

    public override string ToString()
        => $"in_port={InPort},dl_vlan=0x{DlVlan:x4},pcp={DlVlanPcp},dl_src={DlSrc},dl_dst={DlDst},dl_type=0x{DlType:x4}," +
           $"nw_tos={NwTos},nw_proto={NwProto},nw_src={Ipv4.Format(NwSrc)},nw_dst={Ipv4.Format(NwDst)},tp_src={TpSrc},tp_dst={TpDst}" +
           (TunId != 0 ? $",tun_id=0x{TunId:x}" : "");
}

/// <summary>Writes a <see cref="FlowKey"/> field by field (the parser and tests use it).</summary>
public struct FlowKeyBuilder
{
    private FlowKey _key;

    public FlowKeyBuilder(in FlowKey start) => _key = start;

    public readonly FlowKey Key => _key;

    [UnscopedRef]
    public Span<byte> Bytes => MemoryMarshal.AsBytes(MemoryMarshal.CreateSpan(ref Unsafe.AsRef(in _key.W0), 6));

    public void Clear() => _key = default;

    public FlowKeyBuilder InPort(ushort v) { BinaryPrimitives.WriteUInt16BigEndian(Bytes[FlowKey.InPortOffset..], v); return this; }
    public FlowKeyBuilder DlVlan(ushort v) { BinaryPrimitives.WriteUInt16BigEndian(Bytes[FlowKey.DlVlanOffset..], v); return this; }
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
}
