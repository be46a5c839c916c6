using System.Buffers.Binary;
using Softswitch.OfWire.Of10;
using Softswitch.OfWire.Of13;
using Softswitch.OfWire.Of15;

namespace Softswitch.OfWire;

/// <summary>A bucket of <see cref="NxGroupMod"/>: OpenFlow 1.5's bucket (id, properties) holding 1.0's actions, encoded.</summary>
public sealed record NxGroupBucket(uint BucketId, byte[] Actions, ushort? Weight = null, uint? WatchPort = null, uint? WatchGroup = null);

/// <summary>
/// Open vSwitch's NXT_GROUP_MOD (OFPRAW_NXT_GROUP_MOD, NXT 1.0, subtype 31; lib/ofp-group.c ofputil_encode_group_mod):
/// OpenFlow 1.5's group-mod body under a Nicira vendor header of version 1.0, the buckets' actions in 1.0's form (Nicira
/// actions for what 1.0 lacks). Open vSwitch writes it for one thing a 1.0 connection sees: a group-mod another
/// connection made, forwarded in NXT_REQUESTFORWARD (<see cref="NxAsyncConfig.EncodeRequestForward"/>).
/// </summary>
/// <remarks>
/// The group properties (1.5 defines only experimenter ones; Open vSwitch's selection method) are kept as they came,
/// bytes, so a message re-encodes byte for byte; the switch writes none. Not thread safe (a message object).
/// </remarks>
public sealed class NxGroupMod
{
    /// <summary>NXT_GROUP_MOD's subtype; the head (ofp_header, vendor, subtype) and 1.5's fixed part after it.</summary>
    public const uint Subtype = 31;
    public const int HeadSize = 16, FixedSize = HeadSize + 16;

    public uint Xid, GroupId, CommandBucketId = Ofp15Bucket.All;
    public ushort Command;
    public byte GroupType;
    public readonly List<NxGroupBucket> Buckets = new();
    /// <summary>The group properties, whole, as they came (empty: none).</summary>
    public byte[] Properties = [];

    public byte[] Encode()
    {
        var w = new Ofp13Writer(64);
        int start = w.Position;
        w.U8(OfpConstants.Version); w.U8((byte)Ofp13Type.Experimenter); w.U16(0); w.U32(Xid);
        w.U32(NxAction.VendorId); w.U32(Subtype);
        w.U16(Command); w.U8(GroupType); w.U8(0); w.U32(GroupId); w.U16(0); w.Zeros(2); w.U32(CommandBucketId);
        int buckets = w.Position;
        foreach (var b in Buckets)
        {
            int at = w.Position;
            w.U16(0); w.U16((ushort)b.Actions.Length); w.U32(b.BucketId);
            w.Bytes(b.Actions);
            if (b.Weight is { } weight) { w.U16(Ofp15Bucket.PropWeight); w.U16(8); w.U16(weight); w.Zeros(2); }
            if (b.WatchPort is { } port) { w.U16(Ofp15Bucket.PropWatchPort); w.U16(8); w.U32(port); }
            if (b.WatchGroup is { } group) { w.U16(Ofp15Bucket.PropWatchGroup); w.U16(8); w.U32(group); }
            w.PatchU16(at, (ushort)(w.Position - at));
        }
        w.PatchU16(start + 24, (ushort)(w.Position - buckets));
        w.Bytes(Properties);
        w.Finish(start);
        return w.ToArray();
    }

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |           ofp_header (8): version 1, OFPT_VENDOR (4)          |   0
    // +---------------------------------------------------------------+
    // |                   vendor 0x00002320 (Nicira)                  |   8
    // +---------------------------------------------------------------+
    // |                           subtype 31                          |  12
    // +-------------------------------+---------------+---------------+
    // |            command            |      type     |      pad      |  16
    // +-------------------------------+---------------+---------------+
    // |                            group_id                           |  20
    // +-------------------------------+-------------------------------+
    // |        bucket_array_len       |              pad              |  24
    // +-------------------------------+-------------------------------+
    // |                       command_bucket_id                       |  28
    // +---------------------------------------------------------------+
    // |                   buckets (bucket_array_len)                  |  32
    // +---------------------------------------------------------------+
    // |                 group properties (to the end)                 | 32+b
    // +---------------------------------------------------------------+
    // Each bucket is 1.5's ofp_bucket (len, action_array_len, bucket_id, then 1.0's actions, then WEIGHT, WATCH_PORT and
    // WATCH_GROUP properties of 8 bytes each: the diagram above Ofp15Buckets.TryDecode).
    /// <summary>
    /// Reads a whole NXT_GROUP_MOD (cleared first), with the refusals of Open vSwitch's ofputil_pull_ofp15_group_mod in
    /// OpenFlow 1.3's numbers (1.0 has no group errors): BAD_REQUEST/BAD_LEN for a message shorter than its fixed part,
    /// a length that is not the span's or a bucket list past the message; BAD_REQUEST/BAD_VERSION, BAD_TYPE,
    /// BAD_EXPERIMENTER, BAD_EXP_TYPE for a head that is not NXT_GROUP_MOD's; GROUP_MOD_FAILED/BAD_BUCKET for a bucket
    /// shorter than its header, past the list or whose actions run past it; BAD_PROPERTY/BAD_LEN for a bucket property
    /// that is not 8 bytes, BAD_PROPERTY/BAD_TYPE for one that is not 1.5's three. The actions are kept as bytes (1.0's
    /// codec reads them).
    /// </summary>
    public bool TryDecode(ReadOnlySpan<byte> msg, out Ofp13Error error)
    {
        Buckets.Clear();
        Properties = [];
        if (msg.Length < FixedSize || BinaryPrimitives.ReadUInt16BigEndian(msg[2..]) != msg.Length) return Refuse(Ofp13Error.BadLength, out error);
        if (msg[0] != OfpConstants.Version) return Refuse(Ofp13Error.BadRequest(Ofp13Codes.BadVersion), out error);
        if (msg[1] != (byte)Ofp13Type.Experimenter) return Refuse(Ofp13Error.BadRequest(Ofp13Codes.BadType), out error);
        if (BinaryPrimitives.ReadUInt32BigEndian(msg[8..]) != NxAction.VendorId) return Refuse(Ofp13Error.BadRequest(Ofp13Codes.BadExperimenter), out error);
        if (BinaryPrimitives.ReadUInt32BigEndian(msg[12..]) != Subtype) return Refuse(Ofp13Error.BadRequest(Ofp13Codes.BadExpType), out error);
        Xid = BinaryPrimitives.ReadUInt32BigEndian(msg[4..]);
        Command = BinaryPrimitives.ReadUInt16BigEndian(msg[16..]);
        GroupType = msg[18];
        GroupId = BinaryPrimitives.ReadUInt32BigEndian(msg[20..]);
        int bucketsLen = BinaryPrimitives.ReadUInt16BigEndian(msg[24..]);
        CommandBucketId = BinaryPrimitives.ReadUInt32BigEndian(msg[28..]);
        if (FixedSize + bucketsLen > msg.Length) return Refuse(Ofp13Error.BadLength, out error);
        var badBucket = Ofp13Error.GroupModFailed(Ofp13Codes.GroupBadBucket);
        var s = msg.Slice(FixedSize, bucketsLen);
        while (!s.IsEmpty)
        {
            if (s.Length < Ofp15Bucket.FixedSize) return Refuse(badBucket, out error);
            int len = BinaryPrimitives.ReadUInt16BigEndian(s), actionsLen = BinaryPrimitives.ReadUInt16BigEndian(s[2..]);
            if (len < Ofp15Bucket.FixedSize || len > s.Length || actionsLen > len - Ofp15Bucket.FixedSize) return Refuse(badBucket, out error);
            ushort? weight = null;
            uint? watchPort = null, watchGroup = null;
            var props = s[(Ofp15Bucket.FixedSize + actionsLen)..len];
            while (!props.IsEmpty)
            {
                if (props.Length < 8 || BinaryPrimitives.ReadUInt16BigEndian(props[2..]) != 8)
                    return Refuse(new Ofp13Error(Ofp13ErrorType.BadProperty, Ofp13Codes.PropBadLen), out error);
                ushort type = BinaryPrimitives.ReadUInt16BigEndian(props);
                uint v = BinaryPrimitives.ReadUInt32BigEndian(props[4..]);
                switch (type)
                {
                    case Ofp15Bucket.PropWeight: weight = (ushort)(v >> 16); break;
                    case Ofp15Bucket.PropWatchPort: watchPort = v; break;
                    case Ofp15Bucket.PropWatchGroup: watchGroup = v; break;
                    default: return Refuse(new Ofp13Error(Ofp13ErrorType.BadProperty, Ofp13Codes.PropBadType), out error);
                }
                props = props[8..];
            }
            Buckets.Add(new NxGroupBucket(BinaryPrimitives.ReadUInt32BigEndian(s[4..]), s.Slice(Ofp15Bucket.FixedSize, actionsLen).ToArray(),
                                          weight, watchPort, watchGroup));
            s = s[len..];
        }
        Properties = msg[(FixedSize + bucketsLen)..].ToArray();
        error = default;
        return true;
    }

    private static bool Refuse(Ofp13Error reason, out Ofp13Error error)
    {
        error = reason;
        return false;
    }
}
