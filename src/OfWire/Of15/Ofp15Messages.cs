using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using Softswitch.OfWire.Of13;
using Softswitch.OfWire.Of14;

namespace Softswitch.OfWire.Of15;

/// <summary>
/// The layouts OpenFlow 1.5 (ofp_header version 6) changes again (1.5.1 section 7; Open vSwitch's ofp-msgs.h marks them
/// "OFPT 1.5+" and "OFPST 1.5+"): the flow statistics entry (OFPMP_FLOW_DESC: its counters as OXS statistics),
/// the aggregate reply and FLOW_REMOVED (OXS statistics too), PACKET_OUT (a match instead of in_port), GROUP_MOD and
/// the group description (bucket ids, bucket properties, a command bucket id). Everything else 1.5 keeps from 1.3 and
/// 1.4 (the Of13 and Of14 codecs, which take the version).
/// </summary>
/// <remarks>
/// Decoders take version 1.5 only (<see cref="Serves"/>), never throw and never read outside the message, and answer
/// as Open vSwitch's decoders do: a length that does not fit the fixed part BAD_REQUEST/BAD_LEN; the match, action and
/// instruction lists with the Of13 codec's errors; a bucket that does not fit GROUP_MOD_FAILED/BAD_BUCKET, a bucket
/// property that does not BAD_PROPERTY/BAD_LEN or BAD_TYPE.
/// </remarks>
public static class Ofp15
{
    /// <summary>ofp_header.version of OpenFlow 1.5.</summary>
    public const byte Version = 0x06;

    /// <summary>Whether these layouts serve <paramref name="version"/>: OpenFlow 1.5 alone.</summary>
    public static bool Serves(byte version) => version == Version;

    /// <summary>OFPGMFC_UNKNOWN_BUCKET and OFPGMFC_BUCKET_EXISTS, the group-mod codes 1.5 adds.</summary>
    public const ushort GroupUnknownBucket = 15, GroupBucketExists = 16;

    /// <summary>OFPBRC_PIPELINE_FIELDS_ONLY: a packet-out match naming a field that is not a pipeline field.</summary>
    public const ushort PipelineFieldsOnly = 17;

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |     ofp_header (8): version 1.5 (Ofp13Messages.TryHeader)     |   0
    // +---------------------------------------------------------------+
    /// <summary>As <see cref="Ofp13Messages"/>' header check, for version 1.5 alone.</summary>
    internal static bool TryHeader(ReadOnlySpan<byte> msg, int size, out byte version, out uint xid, out Ofp13Error error)
        => Ofp13Messages.TryHeader(msg, size, exact: false, Version, out version, out xid, out error);

    internal static void CheckVersion(byte version)
    {
        if (!Serves(version)) throw new ArgumentOutOfRangeException(nameof(version), version, "not OpenFlow 1.5's version (0x06)");
    }
}

/// <summary>
/// ofp_stats: a flow's (or an aggregate's) counters as OXS fields of class OFPXSC_OPENFLOW_BASIC (0x8002). A field
/// absent is null. Written as Open vSwitch's oxs_put_stats writes them (duration, idle time, packets, bytes, flow
/// count, each only when present), padded to 8.
/// </summary>
public struct Ofp15Stats : IEquatable<Ofp15Stats>
{
    /// <summary>OFPXST_OFB_DURATION, IDLE_TIME, FLOW_COUNT, PACKET_COUNT, BYTE_COUNT.</summary>
    public const byte Duration = 0, IdleTime = 1, FlowCount = 3, PacketCount = 4, ByteCount = 5;
    /// <summary>OFPXSC_OPENFLOW_BASIC.</summary>
    public const ushort ClassBasic = 0x8002, ClassExperimenter = 0xffff;

    public (uint Sec, uint Nsec)? DurationValue;
    /// <summary>Seconds idle (the high 32 bits of OFPXST_OFB_IDLE_TIME, as Open vSwitch reads it).</summary>
    public uint? IdleSec;
    public ulong? Packets, Bytes;
    public uint? Flows;

    /// <summary>Its size on the wire, padding included.</summary>
    public readonly int Size
    {
        get
        {
            int n = 4 + (DurationValue is null ? 0 : 12) + (IdleSec is null ? 0 : 12) + (Packets is null ? 0 : 12)
                + (Bytes is null ? 0 : 12) + (Flows is null ? 0 : 8);
            return (n + 7) & ~7;
        }
    }

    public readonly void Write(Ofp13Writer w)
    {
        int start = w.Position;
        w.U16(0); w.U16(0);
        if (DurationValue is { } d) { Header(w, Duration, 8); w.U32(d.Sec); w.U32(d.Nsec); }
        if (IdleSec is { } idle) { Header(w, IdleTime, 8); w.U32(idle); w.U32(0); }
        if (Packets is { } p) { Header(w, PacketCount, 8); w.U64(p); }
        if (Bytes is { } b) { Header(w, ByteCount, 8); w.U64(b); }
        if (Flows is { } f) { Header(w, FlowCount, 4); w.U32(f); }
        w.PatchU16(start + 2, (ushort)(w.Position - start));
        w.Pad8(start);
    }

    private static void Header(Ofp13Writer w, byte field, byte length)
    {
        w.U16(ClassBasic); w.U8((byte)(field << 1)); w.U8(length);
    }

    //  0                   1                   2                   3
    // +-------------------------------+-------------------------------+
    // |            reserved           |     length (before padding)   |   0
    // +-------------------------------+-------------+-+---------------+
    // |     oxs_class (0x8002)        |  oxs_field  |r|  oxs_length   |   4
    // +-------------------------------+-------------+-+---------------+
    // |              value (oxs_length bytes), then the next          |   8
    // +---------------------------------------------------------------+
    // DURATION (8): seconds, nanoseconds. IDLE_TIME (8): seconds, a fraction. PACKET_COUNT, BYTE_COUNT (8).
    // FLOW_COUNT (4). Zeros to a multiple of 8.
    /// <summary>
    /// Reads an ofp_stats from the start of <paramref name="s"/>; <paramref name="size"/> is what it takes, padding
    /// included. As Open vSwitch's oxs_pull_stat: a length under 4 or past the span is BAD_MATCH/BAD_LEN, so is a
    /// field that does not fit; a field it does not know (another class, number or length) is skipped.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> s, out Ofp15Stats stats, out int size, out Ofp13Error error)
    {
        stats = default;
        size = 0;
        error = Ofp13Error.BadMatch(Ofp13Codes.MatchBadLen);
        if (s.Length < 4) return false;
        int len = Be.U16(s, 2);
        int padded = (len + 7) & ~7;
        if (len < 4 || padded > s.Length) return false;
        var f = s[4..len];
        while (!f.IsEmpty)
        {
            if (f.Length < 4) return false;
            ushort cls = Be.U16(f, 0);
            int header = cls == ClassExperimenter ? 8 : 4;
            int payload = f[3] - (cls == ClassExperimenter ? 4 : 0);
            if (payload < 0 || f.Length < header + payload) return false;
            var v = f.Slice(header, payload);
            if (cls == ClassBasic && (f[2] & 1) == 0)
            {
                switch (f[2] >> 1)
                {
                    case Duration when payload == 8: stats.DurationValue = (Be.U32(v, 0), Be.U32(v, 4)); break;
                    case IdleTime when payload == 8: stats.IdleSec = Be.U32(v, 0); break;
                    case PacketCount when payload == 8: stats.Packets = Be.U64(v, 0); break;
                    case ByteCount when payload == 8: stats.Bytes = Be.U64(v, 0); break;
                    case FlowCount when payload == 4: stats.Flows = Be.U32(v, 0); break;
                }
            }
            f = f[(header + payload)..];
        }
        size = padded;
        error = default;
        return true;
    }

    public readonly bool Equals(Ofp15Stats o)
        => DurationValue == o.DurationValue && IdleSec == o.IdleSec && Packets == o.Packets && Bytes == o.Bytes && Flows == o.Flows;

    public override readonly bool Equals(object? obj) => obj is Ofp15Stats o && Equals(o);

    public override readonly int GetHashCode() => HashCode.Combine(DurationValue, IdleSec, Packets, Bytes, Flows);
}

/// <summary>
/// OFPMP_FLOW_DESC's entry (OpenFlow 1.5's flow statistics, ofp_flow_desc): 24 fixed bytes, the match, the counters
/// as OXS statistics (<see cref="Ofp15Stats"/>), the instructions. Mutable so that a long reply reuses one.
/// </summary>
public sealed class Ofp15FlowDesc : IOfp13Entry<Ofp15FlowDesc>
{
    /// <summary>The bytes before the match.</summary>
    public const int FixedSize = 24;

    public byte TableId;
    public ushort Priority, IdleTimeout, HardTimeout, Flags, Importance;
    public ulong Cookie;
    public Ofp15Stats Stats;
    public readonly List<Ofp13Oxm> Match = new();
    public readonly List<Ofp13Instruction> Instructions = new();

    public void Write(Ofp13Writer w)
    {
        int start = w.Position;
        w.U16(0); w.Zeros(2); w.U8(TableId); w.U8(0); w.U16(Priority); w.U16(IdleTimeout); w.U16(HardTimeout); w.U16(Flags);
        w.U16(Importance); w.U64(Cookie);
        Ofp13Match.Encode(w, CollectionsMarshal.AsSpan(Match));
        Stats.Write(w);
        Ofp13Instructions.Encode(w, Instructions);
        w.PatchU16(start, (ushort)(w.Position - start));
    }

    //  0                   1                   2                   3
    // +-------------------------------+-------------------------------+
    // |             length            |              pad              |   0
    // +---------------+---------------+-------------------------------+
    // |    table_id   |      pad      |            priority           |   4
    // +-------------------------------+-------------------------------+
    // |          idle_timeout         |          hard_timeout         |   8
    // +-------------------------------+-------------------------------+
    // |             flags             |           importance          |  12
    // +---------------------------------------------------------------+
    // |                           cookie (8)                          |  16
    // +---------------------------------------------------------------+
    // |                    ofp_match (padded to 8)                    |  24
    // +---------------------------------------------------------------+
    // |                 ofp_stats (OXS, padded to 8)                  | 24+m
    // +---------------------------------------------------------------+
    // |                    instructions (to length)                   |
    // +---------------------------------------------------------------+
    public static bool TryRead(ReadOnlySpan<byte> s, [MaybeNullWhen(false)] out Ofp15FlowDesc entry, out int size)
    {
        entry = null;
        size = 0;
        if (s.Length < FixedSize + 8) return false;
        size = Be.U16(s, 0);
        if (size < FixedSize + 8 || size > s.Length) return false;
        var e = new Ofp15FlowDesc
        {
            TableId = s[4], Priority = Be.U16(s, 6), IdleTimeout = Be.U16(s, 8), HardTimeout = Be.U16(s, 10), Flags = Be.U16(s, 12),
            Importance = Be.U16(s, 14), Cookie = Be.U64(s, 16),
        };
        if (!Ofp13Match.TryDecode(s[FixedSize..size], e.Match, out int matchSize, out _)) return false;
        int at = FixedSize + matchSize;
        if (!Ofp15Stats.TryRead(s[at..size], out e.Stats, out int statsSize, out _)) return false;
        if (!Ofp13Instructions.TryDecode(s[(at + statsSize)..size], e.Instructions, out _)) return false;
        entry = e;
        return true;
    }
}

/// <summary>OFPMP_AGGREGATE's body in OpenFlow 1.5: an ofp_stats holding packets, bytes and flows.</summary>
public readonly record struct Ofp15AggregateStats(Ofp15Stats Stats) : IOfp13Entry<Ofp15AggregateStats>
{
    public static Ofp15AggregateStats Of(ulong packets, ulong bytes, uint flows) => new(new Ofp15Stats { Packets = packets, Bytes = bytes, Flows = flows });

    public void Write(Ofp13Writer w) => Stats.Write(w);

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // | ofp_stats (padded to 8): the diagram above Ofp15Stats.TryRead |   0
    // +---------------------------------------------------------------+
    // PACKET_COUNT, BYTE_COUNT and FLOW_COUNT, as Open vSwitch writes an aggregate reply.
    public static bool TryRead(ReadOnlySpan<byte> s, out Ofp15AggregateStats entry, out int size)
    {
        bool ok = Ofp15Stats.TryRead(s, out var stats, out size, out _);
        entry = new(stats);
        return ok;
    }
}

/// <summary>OFPT_FLOW_REMOVED of OpenFlow 1.5: 16 fixed bytes, the match, the counters as OXS statistics.</summary>
public static class Ofp15FlowRemoved
{
    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |                         ofp_header (8)                        |   0
    // +---------------+---------------+-------------------------------+
    // |    table_id   |     reason    |            priority           |   8
    // +-------------------------------+-------------------------------+
    // |          idle_timeout         |          hard_timeout         |  12
    // +---------------------------------------------------------------+
    // |                           cookie (8)                          |  16
    // +---------------------------------------------------------------+
    // |                    ofp_match (padded to 8)                    |  24
    // +---------------------------------------------------------------+
    // |                 ofp_stats (OXS, padded to 8)                  | 24+m
    // +---------------------------------------------------------------+
    /// <summary>The message, with duration, packets and bytes in its statistics (Open vSwitch's ofputil_encode_flow_removed).</summary>
    public static byte[] Encode(byte version, uint xid, byte tableId, byte reason, ushort priority, ushort idleTimeout, ushort hardTimeout,
                                ulong cookie, ReadOnlySpan<Ofp13Oxm> match, in Ofp15Stats stats)
    {
        Ofp15.CheckVersion(version);
        var w = new Ofp13Writer(24 + Ofp13Match.EncodedSize(match) + stats.Size);
        int start = w.Begin(version, Ofp13Type.FlowRemoved, xid);
        w.U8(tableId); w.U8(reason); w.U16(priority); w.U16(idleTimeout); w.U16(hardTimeout); w.U64(cookie);
        Ofp13Match.Encode(w, match);
        stats.Write(w);
        w.Finish(start);
        return w.ToArray();
    }
}

/// <summary>
/// OFPT_PACKET_OUT of OpenFlow 1.5: the packet's pipeline fields as a match (in_port among them) in place of 1.3's
/// in_port, then the actions and the frame.
/// </summary>
public sealed class Ofp15PacketOut
{
    public byte Version = Ofp15.Version;
    public uint Xid, BufferId;
    public readonly List<Ofp13Oxm> Match = new();
    public readonly List<Ofp13Action> Actions = new();
    public ReadOnlyMemory<byte> Data;

    /// <summary>The header and the fixed part, before the match.</summary>
    public const int FixedSize = 16;

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |                         ofp_header (8)                        |   0
    // +---------------------------------------------------------------+
    // |                           buffer_id                           |   8
    // +-------------------------------+-------------------------------+
    // |          actions_len          |              pad              |  12
    // +---------------------------------------------------------------+
    // |               ofp_match (4 + OXMs, padded to 8)               |  16
    // +---------------------------------------------------------------+
    // |                     actions (actions_len)                     | 16+m
    // +---------------------------------------------------------------+
    // |                  data (the frame, to the end)                 |
    // +---------------------------------------------------------------+
    public bool TryDecode(ReadOnlySpan<byte> msg, out Ofp13Error error)
    {
        Match.Clear();
        Actions.Clear();
        Data = ReadOnlyMemory<byte>.Empty;
        BufferId = 0;
        if (!Ofp15.TryHeader(msg, FixedSize + 8, out Version, out Xid, out error)) return false;
        BufferId = Be.U32(msg, 8);
        int actionsLen = Be.U16(msg, 12);
        if (!TryDecodeLoose(msg[FixedSize..], Match, out int matchSize, out error)) return false;
        int at = FixedSize + matchSize;
        if (at + actionsLen > msg.Length)
        {
            error = Ofp13Error.BadLength;
            return false;
        }
        if (!Ofp13Actions.TryDecode(msg.Slice(at, actionsLen), Actions, out error)) return false;
        Data = msg[(at + actionsLen)..].ToArray();
        return true;
    }

    //  0                   1                   2                   3
    // +-------------------------------+-------------------------------+
    // |      type: OFPMT_OXM (1)      |       length (unpadded)       |   0
    // +-------------------------------+-------------------------------+
    // |           OXM TLVs (to length): unknown ones skipped          |   4
    // +---------------------------------------------------------------+
    // |                       zero padding to 8                       | len
    // +---------------------------------------------------------------+
    /// <summary>
    /// The match as Open vSwitch's oxm_pull_match_loose reads a packet-out's: a field it does not know (BAD_FIELD) is
    /// skipped, so zero padding counted in the match's length reads as nothing; any other fault is the match's error.
    /// </summary>
    private static bool TryDecodeLoose(ReadOnlySpan<byte> s, List<Ofp13Oxm> into, out int size, out Ofp13Error error)
    {
        size = 0;
        error = Ofp13Error.BadMatch(Ofp13Codes.MatchBadLen);
        if (s.Length < 4) return false;
        int len = Be.U16(s, 2);
        if (Be.U16(s, 0) != Ofp13.MatchTypeOxm)
        {
            error = Ofp13Error.BadMatch(Ofp13Codes.MatchBadType);
            return false;
        }
        size = (len + 7) & ~7;
        if (len < 4 || size > s.Length) return false;
        var tlvs = s[4..len];
        while (!tlvs.IsEmpty)
        {
            if (Ofp13Match.TryReadTlv(tlvs, out var f, out int n, out error)) into.Add(f);
            else if (error != Ofp13Error.BadMatch(Ofp13Codes.MatchBadField) || n > tlvs.Length) return false;
            tlvs = tlvs[n..];
        }
        error = default;
        return true;
    }

    public byte[] Encode()
    {
        var actions = CollectionsMarshal.AsSpan(Actions);
        var w = new Ofp13Writer(64 + Data.Length);
        int start = w.Begin(Version, Ofp13Type.PacketOut, Xid);
        w.U32(BufferId); w.U16((ushort)Ofp13Actions.EncodedSize(actions)); w.Zeros(2);
        Ofp13Match.Encode(w, CollectionsMarshal.AsSpan(Match));
        Ofp13Actions.Encode(w, actions);
        w.Bytes(Data.Span);
        w.Finish(start);
        return w.ToArray();
    }
}

/// <summary>
/// An ofp_bucket of OpenFlow 1.5 (GROUP_MOD, GROUP_DESC): its id, its actions, and the properties it carries (null:
/// absent; the group-mod's reader gives the defaults: weight 1 in a select group, else 0, watching nothing).
/// </summary>
public sealed record Ofp15Bucket(uint BucketId, List<Ofp13Action> Actions, ushort? Weight = null, uint? WatchPort = null, uint? WatchGroup = null)
{
    /// <summary>OFPGBPT_WEIGHT, OFPGBPT_WATCH_PORT, OFPGBPT_WATCH_GROUP.</summary>
    public const ushort PropWeight = 0, PropWatchPort = 1, PropWatchGroup = 2;
    public const int FixedSize = 8;

    /// <summary>OFPG_BUCKET_MAX (the last id a bucket may have), OFPG_BUCKET_FIRST, OFPG_BUCKET_LAST, OFPG_BUCKET_ALL.</summary>
    public const uint MaxId = 0xffffff00, First = 0xfffffffd, Last = 0xfffffffe, All = 0xffffffff;
}

/// <summary>
/// A GROUP_MOD's or GROUP_DESC's bucket list in OpenFlow 1.5 (ofp_bucket with a bucket id and properties): read to the
/// end of its span, written back with the properties each bucket carries. A bucket that does not fit, or whose id is past
/// OFPG_BUCKET_MAX, is GROUP_MOD_FAILED/BAD_BUCKET; a property's errors are BAD_PROPERTY's. Stateless.
/// </summary>
public static class Ofp15Buckets
{
    //  0                   1                   2                   3
    // +-------------------------------+-------------------------------+
    // |              len              |        action_array_len       |   0
    // +-------------------------------+-------------------------------+
    // |                           bucket_id                           |   4
    // +---------------------------------------------------------------+
    // |                  actions (action_array_len)                   |   8
    // +---------------------------------------------------------------+
    // |  properties (to len): WEIGHT (type 0, length 8: weight, pad), |
    // |     WATCH_PORT (1, 8: port), WATCH_GROUP (2, 8: group id)     |
    // +---------------------------------------------------------------+
    /// <summary>Reads <paramref name="s"/> whole as buckets, as Open vSwitch's ofputil_pull_ofp15_buckets.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> s, List<Ofp15Bucket> into, out Ofp13Error error)
    {
        error = default;
        while (!s.IsEmpty)
        {
            if (s.Length < Ofp15Bucket.FixedSize) return BadBucket(out error);
            int len = Be.U16(s, 0), actionsLen = Be.U16(s, 2);
            if (len < Ofp15Bucket.FixedSize || len > s.Length || actionsLen > len - Ofp15Bucket.FixedSize) return BadBucket(out error);
            var actions = new List<Ofp13Action>();
            if (!Ofp13Actions.TryDecode(s.Slice(Ofp15Bucket.FixedSize, actionsLen), actions, out error)) return false;
            ushort? weight = null;
            uint? watchPort = null, watchGroup = null;
            if (!Ofp14Props.TryWalk(s[(Ofp15Bucket.FixedSize + actionsLen)..len], (ushort type, ReadOnlySpan<byte> p, out Ofp13Error e) =>
            {
                e = default;
                switch (type)
                {
                    case Ofp15Bucket.PropWeight:
                        // Open vSwitch writes 8 bytes (the weight and 2 pad bytes) and takes any payload of 2 bytes or more.
                        if (p.Length < 6) return Ofp14Props.BadLen(out e);
                        weight = Be.U16(p, 4);
                        return true;
                    case Ofp15Bucket.PropWatchPort:
                    case Ofp15Bucket.PropWatchGroup:
                        if (p.Length != 8) return Ofp14Props.BadLen(out e);
                        if (type == Ofp15Bucket.PropWatchPort) watchPort = Be.U32(p, 4);
                        else watchGroup = Be.U32(p, 4);
                        return true;
                    default:
                        return Ofp14Props.BadType(out e);
                }
            }, out error))
            {
                return false;
            }
            uint id = Be.U32(s, 4);
            if (id > Ofp15Bucket.MaxId) return BadBucket(out error);
            into.Add(new Ofp15Bucket(id, actions, weight, watchPort, watchGroup));
            s = s[len..];
        }
        return true;
    }

    private static bool BadBucket(out Ofp13Error error)
    {
        error = Ofp13Error.GroupModFailed(Ofp13Codes.GroupBadBucket);
        return false;
    }

    /// <summary>Writes buckets (GROUP_MOD, GROUP_DESC), each with the properties it carries.</summary>
    public static void Encode(Ofp13Writer w, IEnumerable<Ofp15Bucket> buckets)
    {
        foreach (var b in buckets)
        {
            int start = w.Position;
            var actions = CollectionsMarshal.AsSpan(b.Actions);
            w.U16(0); w.U16((ushort)Ofp13Actions.EncodedSize(actions)); w.U32(b.BucketId);
            Ofp13Actions.Encode(w, actions);
            if (b.Weight is { } weight) { w.U16(Ofp15Bucket.PropWeight); w.U16(8); w.U16(weight); w.Zeros(2); }
            if (b.WatchPort is { } port) { w.U16(Ofp15Bucket.PropWatchPort); w.U16(8); w.U32(port); }
            if (b.WatchGroup is { } group) { w.U16(Ofp15Bucket.PropWatchGroup); w.U16(8); w.U32(group); }
            w.PatchU16(start, (ushort)(w.Position - start));
        }
    }
}

/// <summary>OFPT_GROUP_MOD of OpenFlow 1.5: 1.3's command, type and id, the buckets' length, a command bucket id, 1.5 buckets.</summary>
public sealed class Ofp15GroupMod
{
    public const int FixedSize = 24;
    /// <summary>OFPGC_INSERT_BUCKET and OFPGC_REMOVE_BUCKET, the commands 1.5 adds.</summary>
    public const ushort InsertBucket = 3, RemoveBucket = 5;

    public byte Version = Ofp15.Version;
    public uint Xid, GroupId, CommandBucketId = Ofp15Bucket.All;
    public ushort Command;
    public byte GroupType;
    public readonly List<Ofp15Bucket> Buckets = new();
    /// <summary>Open vSwitch's selection method property (null: none).</summary>
    public NtrSelectionMethod? Selection;

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |                         ofp_header (8)                        |   0
    // +-------------------------------+---------------+---------------+
    // |            command            |      type     |      pad      |   8
    // +---------------------------------------------------------------+
    // |                            group_id                           |  12
    // +-------------------------------+-------------------------------+
    // |        bucket_array_len       |              pad              |  16
    // +-------------------------------+-------------------------------+
    // |                       command_bucket_id                       |  20
    // +---------------------------------------------------------------+
    // |                 buckets (bucket_array_len)                    |  24
    // +---------------------------------------------------------------+
    // |                  group properties (to the end)                |
    // +---------------------------------------------------------------+
    /// <summary>
    /// Decodes a whole GROUP_MOD (cleared first). As Open vSwitch's ofputil_pull_ofp15_group_mod: a command bucket id
    /// other than ALL for ADD, MODIFY and DELETE, or not FIRST, LAST or a bucket id for INSERT (ALL too for REMOVE), is
    /// BAD_BUCKET; a bucket length past the message BAD_LEN; two buckets of one id BAD_BUCKET. Of group properties (1.5
    /// defines only experimenter ones) Open vSwitch's selection method is read (<see cref="NtrSelectionMethod.TryRead"/>);
    /// any other is BAD_PROPERTY's.
    /// </summary>
    public bool TryDecode(ReadOnlySpan<byte> msg, out Ofp13Error error)
    {
        Buckets.Clear();
        Selection = null;
        Command = 0;
        GroupType = 0;
        GroupId = 0;
        CommandBucketId = Ofp15Bucket.All;
        if (!Ofp15.TryHeader(msg, FixedSize, out Version, out Xid, out error)) return false;
        Command = Be.U16(msg, 8);
        GroupType = msg[10];
        GroupId = Be.U32(msg, 12);
        int bucketsLen = Be.U16(msg, 16);
        CommandBucketId = Be.U32(msg, 20);
        uint at = CommandBucketId;
        bool fits = Command switch
        {
            RemoveBucket => at is <= Ofp15Bucket.MaxId or Ofp15Bucket.First or Ofp15Bucket.Last or Ofp15Bucket.All,
            InsertBucket => at is <= Ofp15Bucket.MaxId or Ofp15Bucket.First or Ofp15Bucket.Last,
            _ => at == Ofp15Bucket.All,
        };
        if (!fits)
        {
            error = Ofp13Error.GroupModFailed(Ofp13Codes.GroupBadBucket);
            return false;
        }
        if (FixedSize + bucketsLen > msg.Length)
        {
            error = Ofp13Error.BadLength;
            return false;
        }
        if (!Ofp15Buckets.TryDecode(msg.Slice(FixedSize, bucketsLen), Buckets, out error)) return false;
        var ids = new HashSet<uint>();
        foreach (var b in Buckets)
        {
            if (!ids.Add(b.BucketId))
            {
                error = Ofp13Error.GroupModFailed(Ofp13Codes.GroupBadBucket);
                return false;
            }
        }
        NtrSelectionMethod? selection = null;
        byte type = GroupType;
        ushort command = Command;
        bool ok = Ofp14Props.TryWalk(msg[(FixedSize + bucketsLen)..], (ushort t, ReadOnlySpan<byte> p, out Ofp13Error e) =>
        {
            if (!NtrSelectionMethod.TryRead(t, p, type, command, out var m, out e)) return false;
            selection = m;
            return true;
        }, out error);
        Selection = selection;
        return ok;
    }

    public byte[] Encode()
    {
        var w = new Ofp13Writer(64);
        int start = w.Begin(Version, Ofp13Type.GroupMod, Xid);
        w.U16(Command); w.U8(GroupType); w.U8(0); w.U32(GroupId); w.U16(0); w.Zeros(2); w.U32(CommandBucketId);
        int buckets = w.Position;
        Ofp15Buckets.Encode(w, Buckets);
        w.PatchU16(start + 16, (ushort)(w.Position - buckets));
        Selection?.Write(w);
        w.Finish(start);
        return w.ToArray();
    }
}

/// <summary>OFPMP_GROUP_DESC's entry in OpenFlow 1.5: 16 bytes, the 1.5 buckets, then Open vSwitch's selection method property when the group has one.</summary>
public sealed record Ofp15GroupDesc(byte GroupType, uint GroupId, List<Ofp15Bucket> Buckets, NtrSelectionMethod? Selection = null) : IOfp13Entry<Ofp15GroupDesc>
{
    public const int FixedSize = 16;

    public void Write(Ofp13Writer w)
    {
        int start = w.Position;
        w.U16(0); w.U8(GroupType); w.U8(0); w.U32(GroupId); w.U16(0); w.Zeros(6);
        Ofp15Buckets.Encode(w, Buckets);
        w.PatchU16(start + 8, (ushort)(w.Position - start - FixedSize));
        Selection?.Write(w);
        w.PatchU16(start, (ushort)(w.Position - start));
    }

    //  0                   1                   2                   3
    // +-------------------------------+---------------+---------------+
    // |             length            |      type     |      pad      |   0
    // +---------------------------------------------------------------+
    // |                            group_id                           |   4
    // +-------------------------------+-------------------------------+
    // |        bucket_list_len        |              pad              |   8
    // +-------------------------------+-------------------------------+
    // |                              pad                              |  12
    // +---------------------------------------------------------------+
    // |                  buckets (bucket_list_len)                    |  16
    // +---------------------------------------------------------------+
    // |            group properties (to length): selection method     |
    // +---------------------------------------------------------------+
    public static bool TryRead(ReadOnlySpan<byte> s, [MaybeNullWhen(false)] out Ofp15GroupDesc entry, out int size)
    {
        entry = null;
        size = 0;
        if (s.Length < FixedSize) return false;
        size = Be.U16(s, 0);
        int bucketsLen = Be.U16(s, 8);
        if (size < FixedSize || size > s.Length || FixedSize + bucketsLen > size) return false;
        var buckets = new List<Ofp15Bucket>();
        if (!Ofp15Buckets.TryDecode(s.Slice(FixedSize, bucketsLen), buckets, out _)) return false;
        NtrSelectionMethod? selection = null;
        byte type = s[2];
        if (!Ofp14Props.TryWalk(s[(FixedSize + bucketsLen)..size], (ushort t, ReadOnlySpan<byte> p, out Ofp13Error e) =>
            {
                if (!NtrSelectionMethod.TryRead(t, p, type, 0, out var m, out e)) return false;
                selection = m;
                return true;
            }, out _))
        {
            return false;
        }
        entry = new(type, Be.U32(s, 4), buckets, selection);
        return true;
    }
}
