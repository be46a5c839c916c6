using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Softswitch.OfWire.Of13;

/// <summary>The flow and aggregate statistics request body (ofp_flow_stats_request, ofp_aggregate_stats_request).</summary>
public sealed class Ofp13FlowStatsRequest
{
    public byte TableId;
    public uint OutPort, OutGroup;
    public ulong Cookie, CookieMask;
    public readonly List<Ofp13Oxm> Match = new();

    //  0                   1                   2                   3
    // +---------------+-----------------------------------------------+
    // |    table_id   |                      pad                      |   0
    // +---------------------------------------------------------------+
    // |                            out_port                           |   4
    // +---------------------------------------------------------------+
    // |                           out_group                           |   8
    // +---------------------------------------------------------------+
    // |                              pad                              |  12
    // +---------------------------------------------------------------+
    // |                           cookie (8)                          |  16
    // +---------------------------------------------------------------+
    // |                        cookie_mask (8)                        |  24
    // +---------------------------------------------------------------+
    // |               ofp_match (4 + OXMs, padded to 8)               |  32
    // +---------------------------------------------------------------+
    /// <summary>Decodes a FLOW or AGGREGATE request's body (<see cref="Ofp13MultipartRequest.Body"/>) into this object (cleared first).</summary>
    public bool TryDecode(ReadOnlySpan<byte> body, out Ofp13Error error)
    {
        Match.Clear();
        TableId = 0;
        OutPort = OutGroup = 0;
        Cookie = CookieMask = 0;
        error = default;
        if (body.Length < 40) return Ofp13Messages.BadLen(out error);
        TableId = body[0];
        OutPort = Be.U32(body, 4);
        OutGroup = Be.U32(body, 8);
        Cookie = Be.U64(body, 16);
        CookieMask = Be.U64(body, 24);
        if (!Ofp13Match.TryDecode(body[32..], Match, out int size, out error)) return false;
        if (32 + size != body.Length) return Ofp13Messages.BadLen(out error);
        return true;
    }

    /// <summary>The body, for <see cref="Ofp13MultipartRequest.Encode"/>.</summary>
    public byte[] Encode()
    {
        var w = new Ofp13Writer(48);
        w.U8(TableId); w.Zeros(3); w.U32(OutPort); w.U32(OutGroup); w.Zeros(4); w.U64(Cookie); w.U64(CookieMask);
        Ofp13Match.Encode(w, CollectionsMarshal.AsSpan(Match));
        return w.ToArray();
    }
}

/// <summary>
/// OFPT_MULTIPART_REQUEST / REPLY (OpenFlow 1.3.5 section 7.3.5): the sizes and flags they share. A request decodes as
/// <see cref="Ofp13MultipartRequest"/>; replies are written by <see cref="Ofp13ReplyWriter"/>, split into parts of at
/// most 65535 bytes with OFPMPF_REPLY_MORE on all but the last.
/// </summary>
public static class Ofp13Multipart
{
    /// <summary>Header and multipart header: ofp_header, type, flags, pad[4].</summary>
    public const int HeaderSize = 16;

    /// <summary>The longest entry a reply can hold: a message's 65535 bytes less this header.</summary>
    public const int MaxEntrySize = ushort.MaxValue - HeaderSize;

    /// <summary>OFPMPF_REQ_MORE / OFPMPF_REPLY_MORE.</summary>
    public const ushort More = 1;

    /// <summary>A request's whole body must be <paramref name="size"/> bytes (port stats, queue, group, meter requests).</summary>
    public static bool CheckBody(ReadOnlySpan<byte> body, int size, out Ofp13Error error)
    {
        error = default;
        return body.Length == size || Ofp13Messages.BadLen(out error);
    }
}

/// <summary>
/// Builds a multipart reply entry by entry and hands it on in parts: when an entry would take a part past 65535 bytes,
/// the part before it goes out with OFPMPF_REPLY_MORE and the entry starts the next one. A reply with no entry is one
/// empty part. An entry longer than <see cref="Ofp13Multipart.MaxEntrySize"/> could only wrap its 16-bit length: it is
/// left out and counted (<see cref="SkippedCount"/>), as Open vSwitch leaves such a flow out of its statistics; the
/// switch refuses flows and groups that would read back so long, so none should come.
/// </summary>
/// <remarks>Not thread safe; one reply at a time. Each part is a new array (handed to <c>send</c>).</remarks>
public sealed class Ofp13ReplyWriter
{
    private readonly Ofp13Writer _w = new(1024);
    private readonly Action<byte[]> _send;
    private readonly Ofp13MultipartType _type;
    private readonly uint _xid;
    private readonly byte _version;
    private int _entry = -1;

    /// <summary>A reply of <paramref name="type"/> in <paramref name="version"/> (the request's) under <paramref name="xid"/>.</summary>
    public Ofp13ReplyWriter(byte version, Ofp13MultipartType type, uint xid, Action<byte[]> send)
    {
        Ofp13.CheckVersion(version);
        _version = version;
        _type = type;
        _xid = xid;
        _send = send;
        BeginPart();
    }

    /// <summary>Entries left out because they were longer than a reply can hold.</summary>
    public int SkippedCount { get; private set; }

    /// <summary>Where the entries are written.</summary>
    public Ofp13Writer Writer => _w;

    private void BeginPart()
    {
        _w.Reset();
        _w.Begin(_version, Ofp13Type.MultipartReply, _xid);
        _w.U16((ushort)_type); _w.U16(0); _w.Zeros(4);
    }

    /// <summary>Writes one entry (<see cref="BeginEntry"/>, its bytes, <see cref="EndEntry"/>).</summary>
    public void Add<T>(in T entry) where T : IOfp13Entry<T>
    {
        BeginEntry();
        entry.Write(_w);
        EndEntry();
    }

    /// <summary>Starts an entry (call before writing it).</summary>
    public void BeginEntry() => _entry = _w.Position;

    /// <summary>Ends the entry begun last: sends the part before it when the part has grown past the limit.</summary>
    public void EndEntry()
    {
        if (_w.Position - _entry > Ofp13Multipart.MaxEntrySize)
        {
            _w.Truncate(_entry);
            SkippedCount++;
            return;
        }
        if (_w.Position <= ushort.MaxValue) return;
        var entry = _w.Written[_entry..].ToArray();
        var part = _w.Written[.._entry].ToArray();
        BinaryPrimitives.WriteUInt16BigEndian(part.AsSpan(2), (ushort)part.Length);
        BinaryPrimitives.WriteUInt16BigEndian(part.AsSpan(10), Ofp13Multipart.More);
        _send(part);
        BeginPart();
        _w.Bytes(entry);
    }

    /// <summary>Sends the last part (without MORE).</summary>
    public void Finish()
    {
        _w.PatchU16(2, (ushort)_w.Length);
        _send(_w.ToArray());
    }
}
