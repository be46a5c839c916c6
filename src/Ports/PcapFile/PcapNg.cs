using System.Buffers.Binary;
using System.Text;

namespace Softswitch.Ports.PcapFile;

/// <summary>
/// The pcapng blocks a live capture writes (little-endian, one section, one Ethernet interface per file, microsecond
/// timestamps).
/// </summary>
/// <remarks>
/// Layout (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-02.html; every block is
/// <c>type | total length | body | total length</c>, body and options padded to 32 bits):
/// <code>
/// SHB  0x0A0D0D0A | len | byte-order magic 1A2B3C4D | major 1 | minor 0 | section length -1 | options | len
/// IDB  1 | len | linktype 1 | reserved | snaplen | if_name (2), if_description (3) | len
/// EPB  6 | len | interface 0 | ts high | ts low | captured | original | frame, padded | epb_flags (2) | len
/// ISB  5 | len | interface 0 | ts high | ts low | isb_starttime (2) | isb_endtime (3) | isb_ifrecv (4) | isb_ifdrop (5) | len
/// </code>
/// An option is <c>code (16) | length (16) | value, padded</c>; the list ends with code 0, length 0. epb_flags' low two
/// bits give the direction: 1 inbound, 2 outbound.
/// </remarks>
public static class PcapNg
{
    public const uint SectionHeaderType = 0x0A0D0D0A;
    public const uint InterfaceDescriptionType = 1;
    public const uint InterfaceStatisticsType = 5;
    public const uint EnhancedPacketType = 6;
    public const uint ByteOrderMagic = 0x1A2B3C4D;
    public const uint Inbound = 1;
    public const uint Outbound = 2;
    public const ushort OptIfName = 2, OptIfDescription = 3, OptEpbFlags = 2;
    public const ushort OptIsbStartTime = 2, OptIsbEndTime = 3, OptIsbIfRecv = 4, OptIsbIfDrop = 5;

    /// <summary>Bytes of an EPB around a frame of <paramref name="captured"/> bytes: 28 of header, the padded frame, 12 of flags and end of options, 4 of trailer.</summary>
    public static int EnhancedPacketSize(int captured) => 44 + Pad(captured);

    public static int Pad(int n) => (n + 3) & ~3;

    /// <summary>Writes an EPB for <paramref name="frame"/> (cut at <paramref name="snapLen"/>) at the start of <paramref name="dst"/>; returns its size.</summary>
    public static int WriteEnhancedPacket(Span<byte> dst, ReadOnlySpan<byte> frame, int snapLen, long unixMicros, uint direction)
    {
        int captured = Math.Min(frame.Length, snapLen);
        int size = EnhancedPacketSize(captured);
        BinaryPrimitives.WriteUInt32LittleEndian(dst, EnhancedPacketType);
        BinaryPrimitives.WriteUInt32LittleEndian(dst[4..], (uint)size);
        BinaryPrimitives.WriteUInt32LittleEndian(dst[8..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(dst[12..], (uint)((ulong)unixMicros >> 32));
        BinaryPrimitives.WriteUInt32LittleEndian(dst[16..], (uint)unixMicros);
        BinaryPrimitives.WriteUInt32LittleEndian(dst[20..], (uint)captured);
        BinaryPrimitives.WriteUInt32LittleEndian(dst[24..], (uint)frame.Length);
        frame[..captured].CopyTo(dst[28..]);
        int o = 28 + captured;
        for (int end = 28 + Pad(captured); o < end; o++) dst[o] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(dst[o..], OptEpbFlags);
        BinaryPrimitives.WriteUInt16LittleEndian(dst[(o + 2)..], 4);
        BinaryPrimitives.WriteUInt32LittleEndian(dst[(o + 4)..], direction);
        BinaryPrimitives.WriteUInt32LittleEndian(dst[(o + 8)..], 0);           // opt_endofopt
        BinaryPrimitives.WriteUInt32LittleEndian(dst[(o + 12)..], (uint)size);
        return size;
    }

    /// <summary>The section header and the one interface's description, named <paramref name="name"/>.</summary>
    public static byte[] Header(string name, string description, int snapLen)
    {
        using var ms = new MemoryStream();
        var w = new BlockWriter(ms);
        w.Begin(SectionHeaderType);
        w.U32(ByteOrderMagic);
        w.U16(1);
        w.U16(0);
        w.U64(ulong.MaxValue);                 // section length unknown
        w.U32(0);                              // opt_endofopt
        w.End();
        w.Begin(InterfaceDescriptionType);
        w.U16(1);                              // LINKTYPE_ETHERNET
        w.U16(0);
        w.U32((uint)snapLen);
        w.Option(OptIfName, Encoding.UTF8.GetBytes(name));
        w.Option(OptIfDescription, Encoding.UTF8.GetBytes(description));
        w.U32(0);
        w.End();
        return ms.ToArray();
    }

    /// <summary>An interface statistics block: the capture's span, the packets it was offered and those it dropped.</summary>
    public static byte[] Statistics(long startMicros, long endMicros, ulong received, ulong dropped)
    {
        using var ms = new MemoryStream();
        var w = new BlockWriter(ms);
        w.Begin(InterfaceStatisticsType);
        w.U32(0);
        w.U32((uint)((ulong)endMicros >> 32));
        w.U32((uint)endMicros);
        Span<byte> v = stackalloc byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(v, (uint)((ulong)startMicros >> 32));
        BinaryPrimitives.WriteUInt32LittleEndian(v[4..], (uint)startMicros);
        w.Option(OptIsbStartTime, v);
        BinaryPrimitives.WriteUInt32LittleEndian(v, (uint)((ulong)endMicros >> 32));
        BinaryPrimitives.WriteUInt32LittleEndian(v[4..], (uint)endMicros);
        w.Option(OptIsbEndTime, v);
        BinaryPrimitives.WriteUInt64LittleEndian(v, received);
        w.Option(OptIsbIfRecv, v);
        BinaryPrimitives.WriteUInt64LittleEndian(v, dropped);
        w.Option(OptIsbIfDrop, v);
        w.U32(0);
        w.End();
        return ms.ToArray();
    }

    /// <summary>Builds one block at a time into a stream, patching both lengths at <see cref="End"/> (management path).</summary>
    private sealed class BlockWriter(MemoryStream ms)
    {
        private long _start;

        public void Begin(uint type)
        {
            _start = ms.Position;
            U32(type);
            U32(0);
        }

        public void U16(ushort v) { Span<byte> b = stackalloc byte[2]; BinaryPrimitives.WriteUInt16LittleEndian(b, v); ms.Write(b); }
        public void U32(uint v) { Span<byte> b = stackalloc byte[4]; BinaryPrimitives.WriteUInt32LittleEndian(b, v); ms.Write(b); }
        public void U64(ulong v) { Span<byte> b = stackalloc byte[8]; BinaryPrimitives.WriteUInt64LittleEndian(b, v); ms.Write(b); }

        public void Option(ushort code, ReadOnlySpan<byte> value)
        {
            U16(code);
            U16((ushort)value.Length);
            ms.Write(value);
            for (int i = value.Length; i < Pad(value.Length); i++) ms.WriteByte(0);
        }

        public void End()
        {
            uint len = (uint)(ms.Position - _start + 4);
            U32(len);
            long end = ms.Position;
            ms.Position = _start + 4;
            U32(len);
            ms.Position = end;
        }
    }
}
