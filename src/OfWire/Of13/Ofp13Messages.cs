using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Softswitch.OfWire.Of13;

/// <summary>OFPT_FLOW_MOD, decoded (OpenFlow 1.3.5 section 7.3.4.1).</summary>
public sealed class Ofp13FlowMod
{
    /// <summary>ofp_header.version: what <see cref="Encode"/> writes, what <see cref="TryDecode"/> read.</summary>
    public byte Version = Ofp13.Version;
    public uint Xid;
    public ulong Cookie, CookieMask;
    public byte TableId, Command;
    public ushort IdleTimeout, HardTimeout, Priority, Flags;
    /// <summary>OpenFlow 1.4's importance (1.3's pad: read and written as 0 there).</summary>
    public ushort Importance;
    public uint BufferId, OutPort, OutGroup;
    public readonly List<Ofp13Oxm> Match = new();
    public readonly List<Ofp13Instruction> Instructions = new();

    /// <summary>Fixed part after the header, before the match.</summary>
    public const int FixedSize = 48;

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |                         ofp_header (8)                        |   0
    // +---------------------------------------------------------------+
    // |                           cookie (8)                          |   8
    // +---------------------------------------------------------------+
    // |                        cookie_mask (8)                        |  16
    // +---------------+---------------+-------------------------------+
    // |    table_id   |    command    |          idle_timeout         |  24
    // +-------------------------------+-------------------------------+
    // |          hard_timeout         |            priority           |  28
    // +---------------------------------------------------------------+
    // |                           buffer_id                           |  32
    // +---------------------------------------------------------------+
    // |                            out_port                           |  36
    // +---------------------------------------------------------------+
    // |                           out_group                           |  40
    // +-------------------------------+-------------------------------+
    // |             flags             |   pad (1.4, 1.5: importance)  |  44
    // +---------------------------------------------------------------+
    // |               ofp_match (4 + OXMs, padded to 8)               |  48
    // +---------------------------------------------------------------+
    // |                   instructions (to the end)                   | 48+m
    // +---------------------------------------------------------------+
    /// <summary>Decodes a whole FLOW_MOD message into this object (cleared first).</summary>
    public bool TryDecode(ReadOnlySpan<byte> msg, out Ofp13Error error)
    {
        Match.Clear();
        Instructions.Clear();
        if (!Ofp13Messages.TryHeader(msg, FixedSize + 8, exact: false, out Version, out Xid, out error)) return false;
        Cookie = Be.U64(msg, 8);
        CookieMask = Be.U64(msg, 16);
        TableId = msg[24];
        Command = msg[25];
        IdleTimeout = Be.U16(msg, 26);
        HardTimeout = Be.U16(msg, 28);
        Priority = Be.U16(msg, 30);
        BufferId = Be.U32(msg, 32);
        OutPort = Be.U32(msg, 36);
        OutGroup = Be.U32(msg, 40);
        Flags = Be.U16(msg, 44);
        Importance = Version >= Ofp13.Version14 ? Be.U16(msg, 46) : (ushort)0;
        if (!Ofp13Match.TryDecode(msg[FixedSize..], Match, out int matchSize, out error)) return false;
        return Ofp13Instructions.TryDecode(msg[(FixedSize + matchSize)..], Instructions, out error);
    }

    public byte[] Encode()
    {
        var w = new Ofp13Writer(128);
        int start = w.Begin(Version, Ofp13Type.FlowMod, Xid);
        w.U64(Cookie); w.U64(CookieMask); w.U8(TableId); w.U8(Command); w.U16(IdleTimeout); w.U16(HardTimeout); w.U16(Priority);
        w.U32(BufferId); w.U32(OutPort); w.U32(OutGroup); w.U16(Flags); w.U16(Version >= Ofp13.Version14 ? Importance : (ushort)0);
        Ofp13Match.Encode(w, CollectionsMarshal.AsSpan(Match));
        Ofp13Instructions.Encode(w, Instructions);
        w.Finish(start);
        return w.ToArray();
    }
}

/// <summary>OFPT_PACKET_OUT, decoded (section 7.3.7).</summary>
public sealed class Ofp13PacketOut
{
    /// <summary>ofp_header.version: what <see cref="Encode"/> writes, what <see cref="TryDecode"/> read.</summary>
    public byte Version = Ofp13.Version;
    public uint Xid, BufferId, InPort;
    public readonly List<Ofp13Action> Actions = new();
    public ReadOnlyMemory<byte> Data;

    public const int FixedSize = 24;

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |                         ofp_header (8)                        |   0
    // +---------------------------------------------------------------+
    // |                           buffer_id                           |   8
    // +---------------------------------------------------------------+
    // |                            in_port                            |  12
    // +-------------------------------+-------------------------------+
    // |          actions_len          |              pad              |  16
    // +---------------------------------------------------------------+
    // |                              pad                              |  20
    // +---------------------------------------------------------------+
    // |                     actions (actions_len)                     |  24
    // +---------------------------------------------------------------+
    // |                  data (the frame, to the end)                 | 24+a
    // +---------------------------------------------------------------+
    /// <summary>Decodes a whole PACKET_OUT message into this object (cleared first).</summary>
    public bool TryDecode(ReadOnlySpan<byte> msg, out Ofp13Error error)
    {
        Actions.Clear();
        Data = ReadOnlyMemory<byte>.Empty;
        if (!Ofp13Messages.TryHeader(msg, FixedSize, exact: false, out Version, out Xid, out error)) return false;
        BufferId = Be.U32(msg, 8);
        InPort = Be.U32(msg, 12);
        int actionsLen = Be.U16(msg, 16);
        if (FixedSize + actionsLen > msg.Length) return Ofp13Messages.BadLen(out error);
        if (!Ofp13Actions.TryDecode(msg.Slice(FixedSize, actionsLen), Actions, out error)) return false;
        Data = msg[(FixedSize + actionsLen)..].ToArray();
        return true;
    }

    public byte[] Encode()
    {
        var w = new Ofp13Writer(64 + Data.Length);
        int start = w.Begin(Version, Ofp13Type.PacketOut, Xid);
        w.U32(BufferId); w.U32(InPort); w.U16((ushort)Ofp13Actions.EncodedSize(CollectionsMarshal.AsSpan(Actions))); w.Zeros(6);
        Ofp13Actions.Encode(w, CollectionsMarshal.AsSpan(Actions));
        w.Bytes(Data.Span);
        w.Finish(start);
        return w.ToArray();
    }
}

/// <summary>A GROUP_MOD's or GROUP_DESC's bucket.</summary>
public sealed record Ofp13Bucket(ushort Weight, uint WatchPort, uint WatchGroup, List<Ofp13Action> Actions)
{
    /// <summary>The bytes before the actions (ofp_bucket).</summary>
    public const int FixedSize = 16;
}

/// <summary>OFPT_GROUP_MOD, decoded (section 7.3.4.2).</summary>
public sealed class Ofp13GroupMod
{
    public const int FixedSize = 16;

    /// <summary>ofp_header.version: what <see cref="Encode"/> writes, what <see cref="TryDecode"/> read.</summary>
    public byte Version = Ofp13.Version;
    public uint Xid, GroupId;
    public ushort Command;
    public byte GroupType;
    public readonly List<Ofp13Bucket> Buckets = new();

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |                         ofp_header (8)                        |   0
    // +-------------------------------+---------------+---------------+
    // |            command            |      type     |      pad      |   8
    // +---------------------------------------------------------------+
    // |                            group_id                           |  12
    // +---------------------------------------------------------------+
    // |                      buckets (to the end)                     |  16
    // +---------------------------------------------------------------+
    /// <summary>Decodes a whole GROUP_MOD message into this object (cleared first).</summary>
    public bool TryDecode(ReadOnlySpan<byte> msg, out Ofp13Error error)
    {
        Buckets.Clear();
        Command = 0;
        GroupType = 0;
        GroupId = 0;
        if (!Ofp13Messages.TryHeader(msg, FixedSize, exact: false, out Version, out Xid, out error)) return false;
        Command = Be.U16(msg, 8);
        GroupType = msg[10];
        GroupId = Be.U32(msg, 12);
        return Ofp13Buckets.TryDecode(msg[FixedSize..], Buckets, out error);
    }

    public byte[] Encode()
    {
        var w = new Ofp13Writer(64);
        int start = w.Begin(Version, Ofp13Type.GroupMod, Xid);
        w.U16(Command); w.U8(GroupType); w.U8(0); w.U32(GroupId);
        Ofp13Buckets.Encode(w, Buckets);
        w.Finish(start);
        return w.ToArray();
    }
}

/// <summary>A METER_MOD's or METER_CONFIG's band: DROP (1), DSCP_REMARK (2, with its precedence level), EXPERIMENTER.</summary>
public readonly record struct Ofp13Band(ushort Type, uint Rate, uint BurstSize, byte PrecLevel = 0, uint Experimenter = 0);

/// <summary>OFPT_METER_MOD, decoded (section 7.3.4.4).</summary>
public sealed class Ofp13MeterMod
{
    public const int FixedSize = 16;

    /// <summary>ofp_header.version: what <see cref="Encode"/> writes, what <see cref="TryDecode"/> read.</summary>
    public byte Version = Ofp13.Version;
    public uint Xid, MeterId;
    public ushort Command, Flags;
    public readonly List<Ofp13Band> Bands = new();

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |                         ofp_header (8)                        |   0
    // +-------------------------------+-------------------------------+
    // |            command            |             flags             |   8
    // +---------------------------------------------------------------+
    // |                            meter_id                           |  12
    // +---------------------------------------------------------------+
    // |                       bands (to the end)                      |  16
    // +---------------------------------------------------------------+
    /// <summary>Decodes a whole METER_MOD message into this object (cleared first).</summary>
    public bool TryDecode(ReadOnlySpan<byte> msg, out Ofp13Error error)
    {
        Bands.Clear();
        Command = Flags = 0;
        MeterId = 0;
        if (!Ofp13Messages.TryHeader(msg, FixedSize, exact: false, out Version, out Xid, out error)) return false;
        Command = Be.U16(msg, 8);
        Flags = Be.U16(msg, 10);
        MeterId = Be.U32(msg, 12);
        return Ofp13Bands.TryDecode(msg[FixedSize..], Bands, out error);
    }

    public byte[] Encode()
    {
        var w = new Ofp13Writer(64);
        int start = w.Begin(Version, Ofp13Type.MeterMod, Xid);
        w.U16(Command); w.U16(Flags); w.U32(MeterId);
        Ofp13Bands.Encode(w, Bands);
        w.Finish(start);
        return w.ToArray();
    }
}

/// <summary>An ofp_port of OpenFlow 1.3 (64 bytes).</summary>
public readonly record struct Ofp13Port(uint PortNo, ulong HwAddr, string Name, uint Config, uint State, uint Curr, uint Advertised,
                                         uint Supported, uint Peer, uint CurrSpeed, uint MaxSpeed)
{
    public const int Size = 64;

    public void Write(Ofp13Writer w)
    {
        w.U32(PortNo); w.Zeros(4); w.Mac(HwAddr); w.Zeros(2); w.FixedString(Name, Ofp13.MaxPortNameLen);
        w.U32(Config); w.U32(State); w.U32(Curr); w.U32(Advertised); w.U32(Supported); w.U32(Peer); w.U32(CurrSpeed); w.U32(MaxSpeed);
    }

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |                            port_no                            |   0
    // +---------------------------------------------------------------+
    // |                              pad                              |   4
    // +---------------------------------------------------------------+
    // |                          hw_addr (6)                          |   8
    // +-------------------------------+-------------------------------+
    // |                               |              pad              |  12
    // +---------------------------------------------------------------+
    // |                           name (16)                           |  16
    // +---------------------------------------------------------------+
    // |                             config                            |  32
    // +---------------------------------------------------------------+
    // |                             state                             |  36
    // +---------------------------------------------------------------+
    // |                              curr                             |  40
    // +---------------------------------------------------------------+
    // |                           advertised                          |  44
    // +---------------------------------------------------------------+
    // |                           supported                           |  48
    // +---------------------------------------------------------------+
    // |                              peer                             |  52
    // +---------------------------------------------------------------+
    // |                           curr_speed                          |  56
    // +---------------------------------------------------------------+
    // |                           max_speed                           |  60
    // +---------------------------------------------------------------+
    /// <summary>Reads the 64-byte ofp_port at the start of <paramref name="s"/>; false when it is shorter.</summary>
    public static bool TryRead(ReadOnlySpan<byte> s, out Ofp13Port port, out int size)
    {
        size = Size;
        port = default;
        if (s.Length < Size) return false;
        port = new(Be.U32(s, 0), Be.Mac(s, 8), Ofp13Entries.ReadFixedString(s.Slice(16, Ofp13.MaxPortNameLen)), Be.U32(s, 32), Be.U32(s, 36),
                   Be.U32(s, 40), Be.U32(s, 44), Be.U32(s, 48), Be.U32(s, 52), Be.U32(s, 56), Be.U32(s, 60));
        return true;
    }
}

/// <summary>
/// The encoders of what a switch sends (replies and reports, each a whole message in the version it is given). The
/// lists inside requests are their own codecs (<see cref="Ofp13Buckets"/>, <see cref="Ofp13Bands"/>, as
/// <see cref="Ofp13Actions"/>). The requests a switch receives decode in the codec's one shape, on their own types: <see cref="Ofp13FlowMod"/>, <see cref="Ofp13PacketOut"/>, <see cref="Ofp13GroupMod"/>,
/// <see cref="Ofp13MeterMod"/>, <see cref="Ofp13SwitchConfig"/>, <see cref="Ofp13PortMod"/>, <see cref="Ofp13TableMod"/>,
/// <see cref="Ofp13RoleRequest"/>, <see cref="Ofp13SetAsync"/>, <see cref="Ofp13QueueGetConfigRequest"/>,
/// <see cref="Ofp13MultipartRequest"/> and the multipart bodies.
/// </summary>
/// <remarks>
/// <para>The decode shape: <c>bool TryDecode(ReadOnlySpan&lt;byte&gt; msg, out Ofp13Error error)</c>, an instance method
/// of the message's type that fills it (cleared first; a class when it holds lists, reused by its handler, a struct
/// otherwise) from the whole message, header included, and keeps the header's version and xid; <c>Encode()</c> writes
/// it back in that version. The parts of a message (OXM fields, actions, instructions, buckets, bands, reply entries)
/// are read by static readers: a list by <c>static bool TryDecode(ReadOnlySpan&lt;byte&gt; s, List&lt;T&gt; into, out Ofp13Error
/// error)</c> on its codec (appending; <see cref="Ofp13Actions"/>, <see cref="Ofp13Instructions"/>, <see cref="Ofp13Match"/>,
/// <see cref="Ofp13Buckets"/>, <see cref="Ofp13Bands"/>; the match, which pads itself, gives its size before the
/// error), one part by <c>static bool TryRead(ReadOnlySpan&lt;byte&gt; s, out T
/// entry, out int size)</c> on its type (<see cref="IOfp13Entry{TSelf}"/>, <see cref="Ofp13Port"/>), with an <c>out</c>
/// error after the size where the part has errors of its own. Each decoder has the wire diagram of what it reads
/// above it.</para>
/// <para>Decoders never throw and never read outside the message; a length that does not fit the message's layout is
/// BAD_REQUEST/BAD_LEN, a version outside <see cref="Ofp13.Serves"/> BAD_REQUEST/BAD_VERSION, a field's own error is
/// its type's (BAD_MATCH, BAD_ACTION, ...). Encoders write pad bytes as zero. Layouts are OpenFlow 1.3.5 section 7
/// (the struct sizes are checked by the spec's OFP_ASSERTs), which 1.4 and 1.5 keep for these messages.</para>
/// <para>Stateless.</para>
/// </remarks>
public static class Ofp13Messages
{
    public const int HeaderSize = 8;

    internal static bool BadLen(out Ofp13Error error)
    {
        error = Ofp13Error.BadLength;
        return false;
    }

    //  0                   1                   2                   3
    // +---------------+---------------+-------------------------------+
    // |    version    |      type     |             length            |   0
    // +---------------+---------------+-------------------------------+
    // |                              xid                              |   4
    // +---------------------------------------------------------------+
    /// <summary>
    /// The header checks every request decoder makes first: the message is <paramref name="size"/> bytes (at least,
    /// unless <paramref name="exact"/>), else BAD_LEN; its version is one of <see cref="Ofp13.Serves"/>, else
    /// BAD_VERSION. Reads the version and xid.
    /// </summary>
    internal static bool TryHeader(ReadOnlySpan<byte> msg, int size, bool exact, out byte version, out uint xid, out Ofp13Error error)
        => TryHeader(msg, size, exact, Ofp13.Version, out version, out xid, out error);

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |     ofp_header (8): the diagram above the overload before     |   0
    // +---------------------------------------------------------------+
    /// <summary>The header check of every layout from OpenFlow 1.1 on: the length (exactly <paramref name="size"/>, or at
    /// least), then the version (<paramref name="lowest"/> up to <see cref="Ofp13.LastVersion"/>: the versions that
    /// share the layout), as Open vSwitch's decoders answer them (BAD_REQUEST/BAD_LEN, BAD_REQUEST/BAD_VERSION).</summary>
    internal static bool TryHeader(ReadOnlySpan<byte> msg, int size, bool exact, byte lowest, out byte version, out uint xid, out Ofp13Error error)
    {
        version = 0;
        xid = 0;
        error = default;
        if (exact ? msg.Length != size : msg.Length < size) return BadLen(out error);
        if (msg[0] < lowest || msg[0] > Ofp13.LastVersion)
        {
            error = Ofp13Error.BadRequest(Ofp13Codes.BadVersion);
            return false;
        }
        version = msg[0];
        xid = Be.U32(msg, 4);
        return true;
    }

    /// <summary>A message that is only its header (FEATURES_REQUEST, BARRIER, GET_CONFIG_REQUEST, GET_ASYNC_REQUEST).</summary>
    public static byte[] Empty(byte version, Ofp13Type type, uint xid)
    {
        Ofp13.CheckVersion(version);
        var m = new byte[HeaderSize];
        m[0] = version;
        m[1] = (byte)type;
        m[3] = HeaderSize;
        BinaryPrimitives.WriteUInt32BigEndian(m.AsSpan(4), xid);
        return m;
    }

    // An experimenter error (type OFPET_EXPERIMENTER), the form of Open vSwitch's "NX1.2+" codes:
    // | ofp_header (8) | type 0xffff (2) | exp_code (2) | experimenter 0x00002320 (4) | data: the request's first 64 bytes |
    /// <summary>
    /// OFPT_ERROR answering <paramref name="request"/>: its xid, and its first 64 bytes as data (section 7.4.4). An error
    /// of type <see cref="Ofp13ErrorType.Experimenter"/> is a Nicira one (the only experimenter errors this path sends:
    /// Open vSwitch's NX1.2+ codes): its code is the exp_code, the experimenter NX_VENDOR_ID. A bundle error (type
    /// OFPET_BUNDLE_FAILED, <see cref="Ofp13Bundle.Failed"/>) is written in the version's form (<see cref="Ofp13Bundle.Error"/>:
    /// under 1.3 the ONF's experimenter error).
    /// </summary>
    public static byte[] Error(byte version, Ofp13Error error, ReadOnlySpan<byte> request)
    {
        if (error.Type == (Ofp13ErrorType)Ofp13Bundle.Of14BundleFailed) return Ofp13Bundle.Error(version, (Ofp13BundleError)error.Code, request);
        if (error.Type != Ofp13ErrorType.Experimenter) return OfpErrorEnvelope.ForRequest(version, (ushort)error.Type, error.Code, request);
        var data = request[..Math.Min(request.Length, OfpErrorEnvelope.DataSize)];
        uint xid = request.Length >= HeaderSize ? BinaryPrimitives.ReadUInt32BigEndian(request[4..]) : 0;
        var w = new Ofp13Writer(16 + data.Length);
        int start = w.Begin(version, Ofp13Type.Error, xid);
        w.U16((ushort)Ofp13ErrorType.Experimenter);
        w.U16(error.Code);
        w.U32(NxAction.VendorId);
        w.Bytes(data);
        w.Finish(start);
        return w.ToArray();
    }

    /// <summary>OFPT_FEATURES_REPLY (no ports in 1.3: PORT_DESC lists them).</summary>
    public static byte[] FeaturesReply(byte version, uint xid, ulong datapathId, uint nBuffers, byte nTables, byte auxiliaryId, uint capabilities)
    {
        var w = new Ofp13Writer(32);
        int start = w.Begin(version, Ofp13Type.FeaturesReply, xid);
        w.U64(datapathId); w.U32(nBuffers); w.U8(nTables); w.U8(auxiliaryId); w.Zeros(2); w.U32(capabilities); w.U32(0);
        w.Finish(start);
        return w.ToArray();
    }

    /// <summary>OFPT_GET_CONFIG_REPLY.</summary>
    public static byte[] ConfigReply(byte version, uint xid, ushort flags, ushort missSendLen)
    {
        var w = new Ofp13Writer(12);
        int start = w.Begin(version, Ofp13Type.GetConfigReply, xid);
        w.U16(flags); w.U16(missSendLen);
        w.Finish(start);
        return w.ToArray();
    }

    /// <summary>The size of a PACKET_IN of <paramref name="match"/> and <paramref name="dataLen"/> bytes of frame.</summary>
    public static int PacketInSize(ReadOnlySpan<Ofp13Oxm> match, int dataLen) => 24 + Ofp13Match.EncodedSize(match) + 2 + dataLen;

    /// <summary>
    /// OFPT_PACKET_IN into <paramref name="dest"/> (at least <see cref="PacketInSize"/> bytes); returns its size.
    /// Allocation-free: written per packet-in per connection.
    /// </summary>
    public static int WritePacketIn(byte version, Span<byte> dest, uint xid, uint bufferId, ushort totalLen, byte reason, byte tableId, ulong cookie,
                                    ReadOnlySpan<Ofp13Oxm> match, ReadOnlySpan<byte> data)
    {
        Ofp13.CheckVersion(version);
        dest[0] = version;
        dest[1] = (byte)Ofp13Type.PacketIn;
        BinaryPrimitives.WriteUInt32BigEndian(dest[4..], xid);
        BinaryPrimitives.WriteUInt32BigEndian(dest[8..], bufferId);
        BinaryPrimitives.WriteUInt16BigEndian(dest[12..], totalLen);
        dest[14] = reason;
        dest[15] = tableId;
        BinaryPrimitives.WriteUInt64BigEndian(dest[16..], cookie);
        int pos = 24 + Ofp13Match.Encode(dest[24..], match);
        dest[pos++] = 0;
        dest[pos++] = 0;
        data.CopyTo(dest[pos..]);
        pos += data.Length;
        BinaryPrimitives.WriteUInt16BigEndian(dest[2..], (ushort)pos);
        return pos;
    }

    /// <summary>OFPT_FLOW_REMOVED.</summary>
    public static byte[] FlowRemoved(byte version, uint xid, ulong cookie, ushort priority, byte reason, byte tableId, uint durationSec, uint durationNsec,
                                     ushort idleTimeout, ushort hardTimeout, ulong packetCount, ulong byteCount, ReadOnlySpan<Ofp13Oxm> match)
    {
        var w = new Ofp13Writer(64 + Ofp13Match.EncodedSize(match));
        int start = w.Begin(version, Ofp13Type.FlowRemoved, xid);
        w.U64(cookie); w.U16(priority); w.U8(reason); w.U8(tableId); w.U32(durationSec); w.U32(durationNsec);
        w.U16(idleTimeout); w.U16(hardTimeout); w.U64(packetCount); w.U64(byteCount);
        Ofp13Match.Encode(w, match);
        w.Finish(start);
        return w.ToArray();
    }

    /// <summary>OFPT_PORT_STATUS.</summary>
    public static byte[] PortStatus(byte version, uint xid, byte reason, in Ofp13Port port)
    {
        var w = new Ofp13Writer(80);
        int start = w.Begin(version, Ofp13Type.PortStatus, xid);
        w.U8(reason); w.Zeros(7);
        port.Write(w);
        w.Finish(start);
        return w.ToArray();
    }

    /// <summary>OFPT_ROLE_REPLY.</summary>
    public static byte[] RoleReply(byte version, uint xid, uint role, ulong generationId)
    {
        var w = new Ofp13Writer(24);
        int start = w.Begin(version, Ofp13Type.RoleReply, xid);
        w.U32(role); w.Zeros(4); w.U64(generationId);
        w.Finish(start);
        return w.ToArray();
    }

    /// <summary>OFPT_GET_ASYNC_REPLY.</summary>
    public static byte[] AsyncReply(byte version, uint xid, ReadOnlySpan<uint> masks)
    {
        var w = new Ofp13Writer(32);
        int start = w.Begin(version, Ofp13Type.GetAsyncReply, xid);
        foreach (uint m in masks[..6]) w.U32(m);
        w.Finish(start);
        return w.ToArray();
    }

    /// <summary>OFPT_QUEUE_GET_CONFIG_REPLY: each queue with its OFPQT_MIN_RATE and OFPQT_MAX_RATE properties (rates in tenths of a percent) when it has them.</summary>
    public static byte[] QueueGetConfigReply(byte version, uint xid, uint port, ReadOnlySpan<(uint Queue, uint Port, ushort? MinRate, ushort? MaxRate)> queues)
    {
        var w = new Ofp13Writer(16 + 48 * queues.Length);
        int start = w.Begin(version, Ofp13Type.QueueGetConfigReply, xid);
        w.U32(port); w.Zeros(4);
        foreach (var (q, p, min, max) in queues)
        {
            int len = 16 + (min is null ? 0 : 16) + (max is null ? 0 : 16);
            w.U32(q); w.U32(p); w.U16((ushort)len); w.Zeros(6);
            if (min is { } mn)
            {
                w.U16(1); w.U16(16); w.Zeros(4); w.U16(mn); w.Zeros(6); // OFPQT_MIN_RATE
            }
            if (max is { } mx)
            {
                w.U16(2); w.U16(16); w.Zeros(4); w.U16(mx); w.Zeros(6); // OFPQT_MAX_RATE
            }
        }
        w.Finish(start);
        return w.ToArray();
    }
}

/// <summary>
/// A GROUP_MOD's or GROUP_DESC's bucket list (ofp_bucket, OpenFlow 1.3.5 section 7.3.4.2): read to the end of its span,
/// written back in the same layout. A bucket shorter than 16 bytes, not a multiple of 8 or past the list is
/// GROUP_MOD_FAILED/BAD_BUCKET; its actions' errors are theirs. Stateless.
/// </summary>
public static class Ofp13Buckets
{
    //  0                   1                   2                   3
    // +-------------------------------+-------------------------------+
    // |              len              |             weight            |   0
    // +---------------------------------------------------------------+
    // |                           watch_port                          |   4
    // +---------------------------------------------------------------+
    // |                          watch_group                          |   8
    // +---------------------------------------------------------------+
    // |                              pad                              |  12
    // +---------------------------------------------------------------+
    // |                       actions (len - 16)                      |  16
    // +---------------------------------------------------------------+
    /// <summary>Reads a bucket list (GROUP_MOD, GROUP_DESC) to the end of <paramref name="s"/>: ofp_buckets, each a multiple of 8 bytes.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> s, List<Ofp13Bucket> into, out Ofp13Error error)
    {
        error = default;
        while (!s.IsEmpty)
        {
            if (s.Length < 16) return GroupBadBucket(out error);
            int len = Be.U16(s, 0);
            if (len < 16 || (len & 7) != 0 || len > s.Length) return GroupBadBucket(out error);
            var actions = new List<Ofp13Action>();
            if (!Ofp13Actions.TryDecode(s[16..len], actions, out error)) return false;
            into.Add(new Ofp13Bucket(Be.U16(s, 2), Be.U32(s, 4), Be.U32(s, 8), actions));
            s = s[len..];
        }
        return true;
    }

    private static bool GroupBadBucket(out Ofp13Error error)
    {
        error = Ofp13Error.GroupModFailed(Ofp13Codes.GroupBadBucket);
        return false;
    }

    /// <summary>Writes buckets (GROUP_MOD, GROUP_DESC).</summary>
    public static void Encode(Ofp13Writer w, IEnumerable<Ofp13Bucket> buckets)
    {
        foreach (var b in buckets)
        {
            var actions = CollectionsMarshal.AsSpan(b.Actions);
            w.U16((ushort)(16 + Ofp13Actions.EncodedSize(actions))); w.U16(b.Weight); w.U32(b.WatchPort); w.U32(b.WatchGroup); w.Zeros(4);
            Ofp13Actions.Encode(w, actions);
        }
    }
}

/// <summary>
/// A METER_MOD's or METER_CONFIG's band list (ofp_meter_band_header, OpenFlow 1.3.5 section 7.3.4.4): read to the end of
/// its span, written back 16 bytes a band. A band shorter than 16 bytes, not a multiple of 8 or past the list is
/// METER_MOD_FAILED/BAD_BAND. Stateless.
/// </summary>
public static class Ofp13Bands
{
    //  0                   1                   2                   3
    // +-------------------------------+-------------------------------+
    // |              type             |              len              |   0
    // +---------------------------------------------------------------+
    // |                              rate                             |   4
    // +---------------------------------------------------------------+
    // |                           burst_size                          |   8
    // +---------------------------------------------------------------+
    // |         prec_level (DSCP_REMARK) / experimenter / pad         |  12
    // +---------------------------------------------------------------+
    /// <summary>Reads a band list (METER_MOD, METER_CONFIG) to the end of <paramref name="s"/>: ofp_meter_band_headers of 16 bytes (or more, a multiple of 8).</summary>
    public static bool TryDecode(ReadOnlySpan<byte> s, List<Ofp13Band> into, out Ofp13Error error)
    {
        error = default;
        while (!s.IsEmpty)
        {
            if (s.Length < 16) return MeterBadBand(out error);
            ushort type = Be.U16(s, 0);
            int len = Be.U16(s, 2);
            if (len < 16 || (len & 7) != 0 || len > s.Length) return MeterBadBand(out error);
            into.Add(new Ofp13Band(type, Be.U32(s, 4), Be.U32(s, 8), type == 2 ? s[12] : (byte)0, type == 0xffff ? Be.U32(s, 12) : 0));
            s = s[len..];
        }
        return true;
    }

    private static bool MeterBadBand(out Ofp13Error error)
    {
        error = Ofp13Error.MeterModFailed(Ofp13Codes.MeterBadBand);
        return false;
    }

    /// <summary>Writes meter bands (METER_MOD, METER_CONFIG).</summary>
    public static void Encode(Ofp13Writer w, IEnumerable<Ofp13Band> bands)
    {
        foreach (var b in bands)
        {
            w.U16(b.Type); w.U16(16); w.U32(b.Rate); w.U32(b.BurstSize);
            switch (b.Type)
            {
                case 2: w.U8(b.PrecLevel); w.Zeros(3); break;
                case 0xffff: w.U32(b.Experimenter); break;
                default: w.Zeros(4); break;
            }
        }
    }
}
