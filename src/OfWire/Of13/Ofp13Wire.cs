using System.Buffers.Binary;
using System.Text;

namespace Softswitch.OfWire.Of13;

/// <summary>
/// A growable big-endian buffer that builds messages of the layouts OpenFlow 1.3 and later share: the header first
/// (<see cref="Begin"/>, in the version the caller speaks), fields in wire order, lengths patched once known
/// (<see cref="Finish"/>). Used for replies and requests that are not per packet; the per-packet PACKET_IN is written
/// into a caller's span (<see cref="Ofp13Messages.WritePacketIn"/>).
/// </summary>
/// <remarks>Not thread safe; one message (or one multipart reply part) at a time. Pad bytes are written as zero.</remarks>
public sealed class Ofp13Writer
{
    private byte[] _buf;
    private int _pos;

    public Ofp13Writer(int capacity = 256) => _buf = new byte[capacity];

    /// <summary>Bytes written so far.</summary>
    public int Length => _pos;

    /// <summary>The bytes written so far (valid until the next write).</summary>
    public ReadOnlySpan<byte> Written => _buf.AsSpan(0, _pos);

    /// <summary>Forgets what was written; the buffer is kept.</summary>
    public void Reset() => _pos = 0;

    /// <summary>Forgets what was written from <paramref name="position"/> on.</summary>
    public void Truncate(int position) => _pos = Math.Min(_pos, position);

    private Span<byte> Take(int n)
    {
        if (_pos + n > _buf.Length) Array.Resize(ref _buf, Math.Max(_buf.Length * 2, _pos + n));
        var s = _buf.AsSpan(_pos, n);
        _pos += n;
        return s;
    }

    /// <summary>
    /// Starts a message at the current position: its header, of <paramref name="version"/> (one of
    /// <see cref="Ofp13.Serves"/>), with length 0 (patched by <see cref="Finish"/>); returns where it starts.
    /// </summary>
    public int Begin(byte version, Ofp13Type type, uint xid)
    {
        Ofp13.CheckVersion(version);
        int start = _pos;
        U8(version); U8((byte)type); U16(0); U32(xid);
        return start;
    }

    /// <summary>Patches the length of the message begun at <paramref name="start"/>.</summary>
    public void Finish(int start) => PatchU16(start + 2, (ushort)(_pos - start));

    /// <summary>The whole buffer's bytes, copied.</summary>
    public byte[] ToArray() => _buf.AsSpan(0, _pos).ToArray();

    public void U8(byte v) => Take(1)[0] = v;
    public void U16(ushort v) => BinaryPrimitives.WriteUInt16BigEndian(Take(2), v);
    public void U32(uint v) => BinaryPrimitives.WriteUInt32BigEndian(Take(4), v);
    public void U64(ulong v) => BinaryPrimitives.WriteUInt64BigEndian(Take(8), v);
    public void Bytes(ReadOnlySpan<byte> v) => v.CopyTo(Take(v.Length));
    public void Zeros(int n) => Take(n).Clear();
    /// <summary>The next <paramref name="n"/> bytes, for an encoder that writes them in place (valid until the next write).</summary>
    public Span<byte> Reserve(int n) => Take(n);
    /// <summary>A 48-bit MAC address held in the low bits of <paramref name="mac"/>.</summary>
    public void Mac(ulong mac) { U16((ushort)(mac >> 32)); U32((uint)mac); }

    /// <summary>A fixed-size NUL-padded string in UTF-8, cut to leave the last byte NUL.</summary>
    public void FixedString(string s, int size)
    {
        var span = Take(size);
        span.Clear();
        var bytes = Encoding.UTF8.GetBytes(s);
        bytes.AsSpan(0, Math.Min(bytes.Length, size - 1)).CopyTo(span);
    }

    /// <summary>Zeros up to the next multiple of 8 counted from <paramref name="start"/>.</summary>
    public void Pad8(int start) => Zeros((8 - ((_pos - start) & 7)) & 7);

    public int Position => _pos;
    public void PatchU16(int at, ushort v) => BinaryPrimitives.WriteUInt16BigEndian(_buf.AsSpan(at), v);
    public void PatchU32(int at, uint v) => BinaryPrimitives.WriteUInt32BigEndian(_buf.AsSpan(at), v);
}

/// <summary>Reads of big-endian fields that never leave the span (the caller checked the length).</summary>
internal static class Be
{
    public static ushort U16(ReadOnlySpan<byte> s, int at) => BinaryPrimitives.ReadUInt16BigEndian(s[at..]);
    public static uint U32(ReadOnlySpan<byte> s, int at) => BinaryPrimitives.ReadUInt32BigEndian(s[at..]);
    public static ulong U64(ReadOnlySpan<byte> s, int at) => BinaryPrimitives.ReadUInt64BigEndian(s[at..]);
    public static ulong Mac(ReadOnlySpan<byte> s, int at) => ((ulong)U16(s, at) << 32) | U32(s, at + 2);
}
