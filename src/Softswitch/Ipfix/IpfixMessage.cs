using System.Buffers.Binary;

namespace Softswitch.Ipfix;

/// <summary>
/// Builds one IPFIX message (RFC 7011, section 3): the message header, then sets (template sets, id 2; options template
/// sets, id 3; data sets, id = their template's id), each a set header and records, until the next would not fit in
/// <see cref="MaxSize"/> bytes. Every number is big-endian.
/// </summary>
/// <remarks>
/// <code>
/// message header:  version=10 (2) | length (2, the whole message) | export time (4, s since 1970) |
///                  sequence number (4, data records sent before this message in its domain) | observation domain id (4)
/// set header:      set id (2) | length (2, the set header included)
/// template record: template id (2) | field count (2) | field specifiers: element id (2) | length (2, 65535: variable)
///                  [| enterprise number (4) when the element id's top bit is set]
/// variable-length value: length (1, under 255) | bytes
/// </code>
/// <para><see cref="MaxSize"/> is Open vSwitch's MAX_MESSAGE_LEN (1024 bytes, "to accommodate low MTU"): every
/// message fits a UDP datagram on any path with the IPv4 or IPv6 minimum MTU. Not thread-safe: one exporter thread.</para>
/// </remarks>
internal sealed class IpfixMessage
{
    public const int MaxSize = 1024;
    public const int HeaderSize = 16, SetHeaderSize = 4;
    public const ushort Version = 10;
    public const ushort TemplateSetId = 2, OptionsTemplateSetId = 3;

    private readonly byte[] _buf = new byte[MaxSize];
    private int _length;
    private int _setStart = -1;

    /// <summary>Bytes written so far (the open set's included).</summary>
    public int Length => _length;
    /// <summary>The set open now (0 when none).</summary>
    public ushort OpenSet { get; private set; }
    /// <summary>Data records in the message (counted by <see cref="CountRecord"/>).</summary>
    public int Records { get; private set; }

    /// <summary>Starts a message: its header, with no set yet.</summary>
    public void Begin(uint exportTime, uint sequence, uint domain)
    {
        _length = 0;
        _setStart = -1;
        OpenSet = 0;
        Records = 0;
        U16(Version);
        U16(0); // length, set by Finish
        U32(exportTime);
        U32(sequence);
        U32(domain);
    }

    /// <summary>Whether <paramref name="size"/> more bytes fit.</summary>
    public bool Fits(int size) => _length + size <= MaxSize;

    /// <summary>Opens a set of id <paramref name="setId"/> (closing the one open).</summary>
    public void BeginSet(ushort setId)
    {
        EndSet();
        _setStart = _length;
        OpenSet = setId;
        U16(setId);
        U16(0);
    }

    /// <summary>Closes the open set: its length filled in.</summary>
    public void EndSet()
    {
        if (_setStart < 0) return;
        BinaryPrimitives.WriteUInt16BigEndian(_buf.AsSpan(_setStart + 2), (ushort)(_length - _setStart));
        _setStart = -1;
        OpenSet = 0;
    }

    /// <summary>Counts one data record written into the open set.</summary>
    public void CountRecord() => Records++;

    /// <summary>The finished message (its set closed, its length filled in).</summary>
    public ReadOnlySpan<byte> Finish()
    {
        EndSet();
        BinaryPrimitives.WriteUInt16BigEndian(_buf.AsSpan(2), (ushort)_length);
        return _buf.AsSpan(0, _length);
    }

    public void U8(byte v) => _buf[_length++] = v;

    public void U16(ushort v)
    {
        BinaryPrimitives.WriteUInt16BigEndian(_buf.AsSpan(_length), v);
        _length += 2;
    }

    public void U32(uint v)
    {
        BinaryPrimitives.WriteUInt32BigEndian(_buf.AsSpan(_length), v);
        _length += 4;
    }

    public void U64(ulong v)
    {
        BinaryPrimitives.WriteUInt64BigEndian(_buf.AsSpan(_length), v);
        _length += 8;
    }

    public void Bytes(ReadOnlySpan<byte> v)
    {
        v.CopyTo(_buf.AsSpan(_length));
        _length += v.Length;
    }

    /// <summary>A variable-length value under 255 bytes: its length byte, then the bytes.</summary>
    public void Variable(ReadOnlySpan<byte> v)
    {
        U8((byte)v.Length);
        Bytes(v);
    }
}
