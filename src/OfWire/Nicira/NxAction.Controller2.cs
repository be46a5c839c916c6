using System.Buffers.Binary;

namespace Softswitch.OfWire;

/// <summary>NXAST_CONTROLLER2 (ovs lib/ofp-actions.c, struct ext_action_header and the NXAC2PT_* properties).</summary>
public readonly partial record struct NxAction
{
    // NXAC2PT_* properties, by type:
    //   MAX_LEN (0): u16 (then 2 zero bytes), default 65535    CONTROLLER_ID (1): u16 (then 2 zero bytes), default 0
    //   REASON (2): u8, default 1 (action)       USERDATA (3): any bytes, for NXT_PACKET_IN2
    //   PAUSE (4): a flag (payload not read)     METER_ID (5): u32, exactly 4 bytes, default 0xffffffff (none)
    // As Open vSwitch's decode_NXAST_RAW_CONTROLLER2: a pad byte not zero is NXBRC_MUST_BE_ZERO; a property shorter
    // than its header or past the action, a u8 or u16 payload shorter than its value, or a u32 payload not 4 bytes is
    // OFPBPC_BAD_LEN; an unknown type OFPBPC_BAD_TYPE (an experimenter property, type 0xffff: shorter than 12 bytes
    // BAD_LEN, experimenter 0 BAD_EXPERIMENTER, any other BAD_EXP_TYPE). A property given twice: the last one counts.
    // Written back, only the properties whose values differ from the defaults appear, in the order above (encode_CONTROLLER).

    /// <summary>NXAC2PT_* property types.</summary>
    private const ushort PropMaxLen = 0, PropControllerId = 1, PropReason = 2, PropUserData = 3, PropPause = 4, PropMeterId = 5,
        PropExperimenter = 0xffff;

    /// <summary>NX_CTLR_NO_METER: a controller action that names no meter.</summary>
    public const uint NoControllerMeter = 0xffffffff;

    /// <summary>
    /// controller(reason=<paramref name="reason"/>,max_len=<paramref name="maxLen"/>,id=<paramref name="id"/>,userdata=...,pause,meter_id=...)
    /// as NXAST_CONTROLLER2 (<paramref name="userData"/> null or empty: none; <paramref name="meterId"/>
    /// <see cref="NoControllerMeter"/>: none).
    /// </summary>
    public static NxAction Controller2(ushort maxLen = 0xffff, ushort id = 0, byte reason = 1, byte[]? userData = null, bool pause = false,
                                       uint meterId = NoControllerMeter)
        => new(NxActionSubtype.Controller2, Arg: id, Table: reason, MaxLen: maxLen, Note: userData, InPort: pause ? (ushort)1 : (ushort)0,
               SrcHeader: meterId);

    /// <summary>A controller action's userdata (NXAST_CONTROLLER2's USERDATA property; null: none).</summary>
    public byte[]? ControllerUserData => Subtype == NxActionSubtype.Controller2 ? Note : null;
    /// <summary>A controller action's pause flag (continuations: the packet's trip is frozen into the packet-in).</summary>
    public bool ControllerPause => Subtype == NxActionSubtype.Controller2 && InPort != 0;
    /// <summary>A controller action's meter (<see cref="NoControllerMeter"/>: none).</summary>
    public uint ControllerMeterId => Subtype == NxActionSubtype.Controller2 ? SrcHeader : NoControllerMeter;

    // b, what the decoder reads, is the action from its subtype (offset 8): b[k] is offset 8 + k.
    //  0                   1                   2                   3
    // +-------------------------------+-------------------------------+
    // |          type: 0xffff         |              len              |   0
    // +-------------------------------+-------------------------------+
    // |                       vendor: 0x00002320                      |   4
    // +-------------------------------+-------------------------------+
    // |          subtype: 37          |              zero             |   8
    // +-------------------------------+-------------------------------+
    // |                              zero                             |  12
    // +-------------------------------+-------------------------------+
    // |    property type: NXAC2PT_*   |      length: 4 + payload      |  16
    // +-------------------------------+-------------------------------+
    // |         payload, zero padding to 8; further properties        |  20
    // +---------------------------------------------------------------+
    // The property types and payloads: the list above.
    private static bool TryController2(ReadOnlySpan<byte> b, out NxAction nx, out NxActionError error)
    {
        nx = default;
        if (b[2..8].ContainsAnyExcept((byte)0)) return Fail(NxActionError.MustBeZero, out error);
        ushort maxLen = 0xffff, id = 0;
        byte reason = 1;
        byte[]? userData = null;
        bool pause = false;
        uint meter = NoControllerMeter;
        var props = b[8..];
        while (props.Length > 0)
        {
            if (props.Length < 4) return Fail(NxActionError.BadPropertyLen, out error);
            ushort type = BinaryPrimitives.ReadUInt16BigEndian(props);
            int len = BinaryPrimitives.ReadUInt16BigEndian(props[2..]);
            int padded = (len + 7) & ~7;
            if (len < 4 || padded > props.Length) return Fail(NxActionError.BadPropertyLen, out error);
            var payload = props[4..len];
            switch (type)
            {
                case PropMaxLen:
                    if (payload.Length < 2) return Fail(NxActionError.BadPropertyLen, out error);
                    maxLen = BinaryPrimitives.ReadUInt16BigEndian(payload);
                    break;
                case PropControllerId:
                    if (payload.Length < 2) return Fail(NxActionError.BadPropertyLen, out error);
                    id = BinaryPrimitives.ReadUInt16BigEndian(payload);
                    break;
                case PropReason:
                    if (payload.Length < 1) return Fail(NxActionError.BadPropertyLen, out error);
                    reason = payload[0];
                    break;
                case PropUserData:
                    userData = payload.ToArray();
                    break;
                case PropPause:
                    pause = true;
                    break;
                case PropMeterId:
                    if (payload.Length != 4) return Fail(NxActionError.BadPropertyLen, out error);
                    meter = BinaryPrimitives.ReadUInt32BigEndian(payload);
                    break;
                case PropExperimenter:
                    if (len < 12) return Fail(NxActionError.BadPropertyLen, out error);
                    return Fail(BinaryPrimitives.ReadUInt32BigEndian(payload) == 0 ? NxActionError.BadPropertyExperimenter
                                                                                   : NxActionError.BadPropertyExpType, out error);
                default:
                    return Fail(NxActionError.BadPropertyType, out error);
            }
            props = props[padded..];
        }
        error = default;
        nx = Controller2(maxLen, id, reason, userData is { Length: > 0 } ? userData : null, pause, meter);
        return true;
    }

    /// <summary>NXAST_CONTROLLER2's body size: the header's 8 bytes and each property that differs from its default.</summary>
    private int Controller2BodySize()
    {
        int n = 8;
        if (MaxLen != 0xffff) n += 8;
        if (Arg != 0) n += 8;
        if (Table != 1) n += 8;
        if (Note is { Length: > 0 } u) n += (4 + u.Length + 7) & ~7;
        if (ControllerPause) n += 8;
        if (SrcHeader != NoControllerMeter) n += 8;
        return n;
    }

    private void WriteController2(Span<byte> dest)
    {
        int pos = 8;
        // A u16 property is 8 bytes long, the value then 2 zero bytes (ofpprop_put_u16).
        if (MaxLen != 0xffff) pos += PutProperty(dest[pos..], PropMaxLen, 4, (uint)MaxLen << 16);
        if (Arg != 0) pos += PutProperty(dest[pos..], PropControllerId, 4, (uint)(ushort)Arg << 16);
        if (Table != 1) pos += PutProperty(dest[pos..], PropReason, 1, Table);
        if (Note is { Length: > 0 } u)
        {
            BinaryPrimitives.WriteUInt16BigEndian(dest[pos..], PropUserData);
            BinaryPrimitives.WriteUInt16BigEndian(dest[(pos + 2)..], (ushort)(4 + u.Length));
            u.CopyTo(dest[(pos + 4)..]);
            pos += (4 + u.Length + 7) & ~7;
        }
        if (ControllerPause) pos += PutProperty(dest[pos..], PropPause, 0, 0);
        if (SrcHeader != NoControllerMeter) PutProperty(dest[pos..], PropMeterId, 4, SrcHeader);
    }

    /// <summary>A property of a <paramref name="size"/>-byte big-endian value (the rest zero, as written); its padded size.</summary>
    private static int PutProperty(Span<byte> dest, ushort type, int size, uint value)
    {
        BinaryPrimitives.WriteUInt16BigEndian(dest, type);
        BinaryPrimitives.WriteUInt16BigEndian(dest[2..], (ushort)(4 + size));
        for (int i = 0; i < size; i++) dest[4 + i] = (byte)(value >> (8 * (size - 1 - i)));
        return 8;
    }
}
