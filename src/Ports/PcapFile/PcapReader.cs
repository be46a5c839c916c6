using System.Buffers.Binary;

namespace Softswitch.Ports.PcapFile;

/// <summary>One record of a pcap file.</summary>
public readonly record struct PcapRecord(long UnixMicros, int OriginalLength, byte[] Data);

/// <summary>
/// Reads classic pcap files (either byte order, micro- or nanosecond magic). Meant for tests and tools, not the
/// hot path: each record becomes an array.
/// </summary>
public static class PcapReader
{
    public sealed record Header(uint LinkType, int SnapLen, bool Nanoseconds);

    public static (Header Header, List<PcapRecord> Records) ReadAll(string path) => Read(File.ReadAllBytes(path));

    public static (Header Header, List<PcapRecord> Records) Read(ReadOnlySpan<byte> file)
    {
        if (file.Length < 24) throw new InvalidDataException("pcap file shorter than its 24-byte header");
        uint magic = BinaryPrimitives.ReadUInt32LittleEndian(file);
        bool le, nano;
        switch (magic)
        {
            case 0xA1B2C3D4: le = true; nano = false; break;
            case 0xA1B23C4D: le = true; nano = true; break;
            case 0xD4C3B2A1: le = false; nano = false; break;
            case 0x4D3CB2A1: le = false; nano = true; break;
            default: throw new InvalidDataException($"not a pcap file (magic {magic:x8})");
        }
        uint U32(ReadOnlySpan<byte> s) => le ? BinaryPrimitives.ReadUInt32LittleEndian(s) : BinaryPrimitives.ReadUInt32BigEndian(s);
        var header = new Header(U32(file[20..]), (int)U32(file[16..]), nano);
        var records = new List<PcapRecord>();
        int pos = 24;
        while (pos < file.Length)
        {
            if (file.Length - pos < 16) throw new InvalidDataException($"truncated record header at offset {pos}");
            var h = file.Slice(pos, 16);
            long sec = U32(h), frac = U32(h[4..]);
            int incl = (int)U32(h[8..]), orig = (int)U32(h[12..]);
            pos += 16;
            if (incl < 0 || incl > file.Length - pos) throw new InvalidDataException($"truncated record data at offset {pos}");
            records.Add(new PcapRecord(sec * 1_000_000 + (nano ? frac / 1000 : frac), orig, file.Slice(pos, incl).ToArray()));
            pos += incl;
        }
        return (header, records);
    }
}
