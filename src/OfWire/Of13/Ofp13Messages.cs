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
    public uint BufferId, OutPort, OutGroup;
    public readonly List<Ofp13Oxm> Match = new();
    public readonly List<Ofp13Instruction> Instructions = new();

    /// <summary>Fixed part after the header, before the match.</summary>
    public const int FixedSize = 48;

    /// <summary>Decodes a whole FLOW_MOD message into this object (cleared first).</summary>
    public bool TryDecode(ReadOnlySpan<byte> msg, out Ofp13Error error)
    {
        Match.Clear();
        Instructions.Clear();
        if (msg.Length < FixedSize + 8) return Ofp13Messages.BadLen(out error);
        Version = msg[0];
        Xid = Be.U32(msg, 4);
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
        if (!Ofp13Match.TryDecode(msg[FixedSize..], Match, out int matchSize, out error)) return false;
        return Ofp13Instructions.TryDecode(msg[(FixedSize + matchSize)..], Instructions, out error);
    }

    public byte[] Encode()
    {
        var w = new Ofp13Writer(128);
        int start = w.Begin(Version, Ofp13Type.FlowMod, Xid);
        w.U64(Cookie); w.U64(CookieMask); w.U8(TableId); w.U8(Command); w.U16(IdleTimeout); w.U16(HardTimeout); w.U16(Priority);
        w.U32(BufferId); w.U32(OutPort); w.U32(OutGroup); w.U16(Flags); w.Zeros(2);
        Ofp13Match.Encode(w, CollectionsMarshal.AsSpan(Match));
        Ofp13Instructions.Encode(w, Instructions);
        w.Finish(start);
        return w.ToArray();
    }
}

/// <summary>OFPT_PACKET_OUT, decoded.</summary>
public sealed class Ofp13PacketOut
{
    /// <summary>ofp_header.version: what <see cref="Encode"/> writes, what <see cref="TryDecode"/> read.</summary>
    public byte Version = Ofp13.Version;
    public uint Xid, BufferId, InPort;
    public readonly List<Ofp13Action> Actions = new();
    public ReadOnlyMemory<byte> Data;

    public const int FixedSize = 24;

    public bool TryDecode(ReadOnlySpan<byte> msg, out Ofp13Error error)
    {
        Actions.Clear();
        if (msg.Length < FixedSize) return Ofp13Messages.BadLen(out error);
        Version = msg[0];
        Xid = Be.U32(msg, 4);
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

/// <summary>OFPT_GROUP_MOD, decoded.</summary>
public sealed record Ofp13GroupMod(uint Xid, ushort Command, byte GroupType, uint GroupId, List<Ofp13Bucket> Buckets);

/// <summary>A METER_MOD's or METER_CONFIG's band: DROP (1), DSCP_REMARK (2, with its precedence level), EXPERIMENTER.</summary>
public readonly record struct Ofp13Band(ushort Type, uint Rate, uint BurstSize, byte PrecLevel = 0, uint Experimenter = 0);

/// <summary>OFPT_METER_MOD, decoded.</summary>
public sealed record Ofp13MeterMod(uint Xid, ushort Command, ushort Flags, uint MeterId, List<Ofp13Band> Bands);

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

    public static Ofp13Port Read(ReadOnlySpan<byte> s)
    {
        return new(Be.U32(s, 0), Be.Mac(s, 8), Ofp13Entries.ReadFixedString(s.Slice(16, Ofp13.MaxPortNameLen)), Be.U32(s, 32), Be.U32(s, 36),
                   Be.U32(s, 40), Be.U32(s, 44), Be.U32(s, 48), Be.U32(s, 52), Be.U32(s, 56), Be.U32(s, 60));
    }
}

/// <summary>
/// The OpenFlow 1.3 messages other than FLOW_MOD and PACKET_OUT (which have objects of their own): decoders of the
/// requests a switch receives and encoders of what it sends, each over the whole message (header included).
/// </summary>
/// <remarks>
/// <para>Decoders never throw and never read outside the message; a length that does not fit the message's layout is
/// BAD_REQUEST/BAD_LEN, a field's own error is its type's (BAD_MATCH, BAD_ACTION, ...). Encoders write pad bytes as
/// zero. Layouts are OpenFlow 1.3.5 section 7 (the struct sizes are checked by the spec's OFP_ASSERTs).</para>
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

    /// <summary>OFPT_ERROR answering <paramref name="request"/>: its xid, and its first 64 bytes as data (section 7.4.4).</summary>
    public static byte[] Error(byte version, Ofp13Error error, ReadOnlySpan<byte> request)
        => OfpErrorEnvelope.ForRequest(version, (ushort)error.Type, error.Code, request);

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

    /// <summary>OFPT_SET_CONFIG: flags and miss_send_len.</summary>
    public static bool TryDecodeSetConfig(ReadOnlySpan<byte> msg, out ushort flags, out ushort missSendLen, out Ofp13Error error)
    {
        flags = missSendLen = 0;
        error = default;
        if (msg.Length != 12) return BadLen(out error);
        flags = Be.U16(msg, 8);
        missSendLen = Be.U16(msg, 10);
        return true;
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

    /// <summary>OFPT_PORT_MOD: port_no, hw_addr, config, mask, advertise.</summary>
    public static bool TryDecodePortMod(ReadOnlySpan<byte> msg, out uint port, out ulong hwAddr, out uint config, out uint mask, out uint advertise,
                                        out Ofp13Error error)
    {
        port = config = mask = advertise = 0;
        hwAddr = 0;
        error = default;
        if (msg.Length != 40) return BadLen(out error);
        port = Be.U32(msg, 8);
        hwAddr = Be.Mac(msg, 16);
        config = Be.U32(msg, 24);
        mask = Be.U32(msg, 28);
        advertise = Be.U32(msg, 32);
        return true;
    }

    /// <summary>OFPT_TABLE_MOD: table_id and config.</summary>
    public static bool TryDecodeTableMod(ReadOnlySpan<byte> msg, out byte tableId, out uint config, out Ofp13Error error)
    {
        tableId = 0;
        config = 0;
        error = default;
        if (msg.Length != 16) return BadLen(out error);
        tableId = msg[8];
        config = Be.U32(msg, 12);
        return true;
    }

    /// <summary>OFPT_ROLE_REQUEST: role (OFPCR_ROLE_*) and generation_id.</summary>
    public static bool TryDecodeRoleRequest(ReadOnlySpan<byte> msg, out uint role, out ulong generationId, out Ofp13Error error)
    {
        role = 0;
        generationId = 0;
        error = default;
        if (msg.Length != 24) return BadLen(out error);
        role = Be.U32(msg, 8);
        generationId = Be.U64(msg, 16);
        return true;
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

    /// <summary>OFPT_SET_ASYNC: the six masks (packet-in, port-status, flow-removed; each master/equal then slave).</summary>
    public static bool TryDecodeAsync(ReadOnlySpan<byte> msg, Span<uint> masks, out Ofp13Error error)
    {
        error = default;
        if (msg.Length != 32) return BadLen(out error);
        for (int i = 0; i < 6; i++) masks[i] = Be.U32(msg, 8 + 4 * i);
        return true;
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

    /// <summary>OFPT_QUEUE_GET_CONFIG_REQUEST: the port.</summary>
    public static bool TryDecodeQueueGetConfig(ReadOnlySpan<byte> msg, out uint port, out Ofp13Error error)
    {
        port = 0;
        error = default;
        if (msg.Length != 16) return BadLen(out error);
        port = Be.U32(msg, 8);
        return true;
    }

    /// <summary>OFPT_QUEUE_GET_CONFIG_REPLY: queues without properties (a queue with no rate configured).</summary>
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

    /// <summary>OFPT_GROUP_MOD.</summary>
    public static bool TryDecodeGroupMod(ReadOnlySpan<byte> msg, out Ofp13GroupMod? mod, out Ofp13Error error)
    {
        mod = null;
        error = default;
        if (msg.Length < 16) return BadLen(out error);
        var buckets = new List<Ofp13Bucket>();
        if (!TryReadBuckets(msg[16..], buckets, out error)) return false;
        mod = new Ofp13GroupMod(Be.U32(msg, 4), Be.U16(msg, 8), msg[10], Be.U32(msg, 12), buckets);
        return true;
    }

    /// <summary>Reads a bucket list (GROUP_MOD, GROUP_DESC) to the end of <paramref name="s"/>.</summary>
    public static bool TryReadBuckets(ReadOnlySpan<byte> s, List<Ofp13Bucket> into, out Ofp13Error error)
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
    public static void WriteBuckets(Ofp13Writer w, IEnumerable<Ofp13Bucket> buckets)
    {
        foreach (var b in buckets)
        {
            var actions = CollectionsMarshal.AsSpan(b.Actions);
            w.U16((ushort)(16 + Ofp13Actions.EncodedSize(actions))); w.U16(b.Weight); w.U32(b.WatchPort); w.U32(b.WatchGroup); w.Zeros(4);
            Ofp13Actions.Encode(w, actions);
        }
    }

    /// <summary>OFPT_METER_MOD.</summary>
    public static bool TryDecodeMeterMod(ReadOnlySpan<byte> msg, out Ofp13MeterMod? mod, out Ofp13Error error)
    {
        mod = null;
        error = default;
        if (msg.Length < 16) return BadLen(out error);
        var bands = new List<Ofp13Band>();
        if (!TryReadBands(msg[16..], bands, out error)) return false;
        mod = new Ofp13MeterMod(Be.U32(msg, 4), Be.U16(msg, 8), Be.U16(msg, 10), Be.U32(msg, 12), bands);
        return true;
    }

    /// <summary>Reads a band list (METER_MOD, METER_CONFIG) to the end of <paramref name="s"/>.</summary>
    public static bool TryReadBands(ReadOnlySpan<byte> s, List<Ofp13Band> into, out Ofp13Error error)
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
    public static void WriteBands(Ofp13Writer w, IEnumerable<Ofp13Band> bands)
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
