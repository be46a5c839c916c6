using System.Buffers.Binary;

namespace Softswitch.OfWire.Of13;

/// <summary>
/// One OpenFlow 1.3 action (ofp_action_*): the type and its argument. <see cref="Arg"/> is the port (OUTPUT), queue id
/// (SET_QUEUE), group id (GROUP), label or TC (1.1's SET_MPLS_LABEL, SET_MPLS_TC), TTL (SET_MPLS_TTL, SET_NW_TTL) or ethertype (PUSH_VLAN, PUSH_MPLS, POP_MPLS,
/// PUSH_PBB) or experimenter id (EXPERIMENTER: always Nicira's, the only one decoded); <see cref="MaxLen"/> is OUTPUT's
/// max_len; <see cref="Field"/> is SET_FIELD's OXM TLV; <see cref="Nx"/> is a Nicira action's body.
/// </summary>
public readonly record struct Ofp13Action(Ofp13ActionType Type, uint Arg = 0, ushort MaxLen = 0, Ofp13Oxm Field = default,
                                          NxAction Nx = default)
{
    public static Ofp13Action Output(uint port, ushort maxLen = 0) => new(Ofp13ActionType.Output, port, maxLen);
    public static Ofp13Action SetField(in Ofp13Oxm field) => new(Ofp13ActionType.SetField, Field: field);
    /// <summary>A Nicira action (OFPAT_EXPERIMENTER, experimenter 0x00002320, the same body as OpenFlow 1.0's vendor action).</summary>
    public static Ofp13Action Nicira(in NxAction nx) => new(Ofp13ActionType.Experimenter, NxAction.VendorId, Nx: nx);

    /// <summary>OpenFlow 1.5's OFPAT_COPY_FIELD of the move <paramref name="move"/> (an NXAST_REG_MOVE's fields).</summary>
    public static Ofp13Action CopyField(in NxAction move) => new(Ofp13ActionType.CopyField, Nx: move);

    /// <summary>The ONF extension's copy-field under 1.3 (experimenter 0x4f4e4600, type 3200) of the move <paramref name="move"/>.</summary>
    public static Ofp13Action OnfCopyField(in NxAction move) => new(Ofp13ActionType.Experimenter, Ofp13Bundle.OnfExperimenter, Nx: move);

    /// <summary>Its size on the wire.</summary>
    public int Size => Type switch
    {
        Ofp13ActionType.Output => 16,
        Ofp13ActionType.SetField => (4 + Ofp13Match.TlvSize(Field) + 7) & ~7,
        Ofp13ActionType.CopyField => Ofp13Actions.CopyFieldSize,
        Ofp13ActionType.Experimenter when Arg == Ofp13Bundle.OnfExperimenter => Ofp13Actions.OnfCopyFieldSize,
        Ofp13ActionType.Experimenter => 8 + Nx.BodySize,
        _ => 8,
    };
}

/// <summary>
/// Action lists of OpenFlow 1.3 (apply/write-actions, packet-out, group buckets): decoded with the 1.3 BAD_ACTION codes,
/// encoded byte-exact (a decoded list re-encodes to its bytes, pad bytes zero).
/// </summary>
/// <remarks>
/// Decoding checks the wire: an action shorter than 8 bytes, not a multiple of 8 or longer than what is left (BAD_LEN),
/// a fixed-size action of another size (BAD_LEN), a type 1.3 does not define (BAD_TYPE; 1.5's METER and COPY_FIELD are
/// read, and taken only where 1.5 allows them; 1.1's SET_MPLS_LABEL and SET_MPLS_TC are read, as Open vSwitch reads them), an experimenter action of another experimenter than Nicira's and the
/// ONF's (BAD_EXPERIMENTER; of the ONF's, only copy-field, type 3200: BAD_EXP_TYPE), a copy-field with an
/// experimenter or masked header or a non-zero pad byte (BAD_ARGUMENT), a Nicira body <see cref="NxAction.TryDecodeBody"/> refuses
/// (BAD_EXP_TYPE, BAD_LEN, BAD_ARGUMENT), a set-field whose TLV is not an OPENFLOW_BASIC field (BAD_SET_TYPE), whose
/// length is wrong (BAD_SET_LEN) or that carries a mask (BAD_SET_ARGUMENT: OpenFlow 1.3 set-field has none). Whether an
/// argument fits a packet (ports, queues, groups, prerequisites) is the switch's. Stateless.
/// </remarks>
public static class Ofp13Actions
{
    /// <summary>OFPAT_COPY_FIELD's size with two 4-byte OXM headers (ofp15_action_copy_field, 16, less its pad2, the headers, padding).</summary>
    public const int CopyFieldSize = 24;
    /// <summary>The ONF extension's copy-field size with two 4-byte headers (onf_action_copy_field, 24, less its pad3, the headers, padding).</summary>
    public const int OnfCopyFieldSize = 32;
    /// <summary>ONFACT_ET_COPY_FIELD: the ONF experimenter action type of copy-field under 1.3.</summary>
    public const ushort OnfCopyFieldType = 3200;

    /// <summary>The size of a list on the wire.</summary>
    public static int EncodedSize(ReadOnlySpan<Ofp13Action> actions)
    {
        int n = 0;
        foreach (var a in actions) n += a.Size;
        return n;
    }

    public static void Encode(Ofp13Writer w, ReadOnlySpan<Ofp13Action> actions)
    {
        foreach (var a in actions)
        {
            int start = w.Position;
            w.U16((ushort)a.Type);
            w.U16((ushort)a.Size);
            switch (a.Type)
            {
                case Ofp13ActionType.Output:
                    w.U32(a.Arg); w.U16(a.MaxLen); w.Zeros(6);
                    break;
                case Ofp13ActionType.SetMplsTtl:
                case Ofp13ActionType.SetNwTtl:
                    w.U8((byte)a.Arg); w.Zeros(3);
                    break;
                case Ofp13ActionType.PushVlan:
                case Ofp13ActionType.PushMpls:
                case Ofp13ActionType.PopMpls:
                case Ofp13ActionType.PushPbb:
                    w.U16((ushort)a.Arg); w.Zeros(2);
                    break;
                case Ofp13ActionType.SetQueue:
                case Ofp13ActionType.Group:
                case Ofp13ActionType.Meter:
                case Ofp13ActionType.SetMplsLabel:
                    w.U32(a.Arg);
                    break;
                case Ofp13ActionType.SetMplsTc:
                    w.U8((byte)a.Arg); w.Zeros(3);
                    break;
                case Ofp13ActionType.SetField:
                    Ofp13Match.WriteTlv(w, a.Field);
                    w.Pad8(start);
                    break;
                case Ofp13ActionType.CopyField:
                    WriteCopyField(w.Reserve(CopyFieldSize - 4), a.Nx);
                    break;
                case Ofp13ActionType.Experimenter when a.Arg == Ofp13Bundle.OnfExperimenter:
                {
                    var b = w.Reserve(OnfCopyFieldSize - 4);
                    b.Clear();
                    BinaryPrimitives.WriteUInt32BigEndian(b, Ofp13Bundle.OnfExperimenter);
                    BinaryPrimitives.WriteUInt16BigEndian(b[4..], OnfCopyFieldType);
                    WriteCopyField(b[8..], a.Nx);
                    break;
                }
                case Ofp13ActionType.Experimenter:
                    w.U32(a.Arg);
                    a.Nx.WriteBody(w.Reserve(a.Nx.BodySize));
                    break;
                default:
                    w.Zeros(4);
                    break;
            }
        }
    }

    //  0                   1                   2                   3
    // +-------------------------------+-------------------------------+
    // |              type             |      len (multiple of 8)      |   0
    // +---------------------------------------------------------------+
    // |                    body (len - 4), by type:                   |   4
    // +---------------------------------------------------------------+
    // COPY_FIELD (24, OpenFlow 1.5): n_bits (2), src_offset (2), dst_offset (2), pad (2), the source's and the
    // destination's OXM headers (4 each), pad (4). EXPERIMENTER 0x4f4e4600 type 3200 (32, the ONF extension's copy-field
    // under 1.3): experimenter (4), exp_type (2), pad (2), then COPY_FIELD's body from n_bits.
    // OUTPUT (16): port (4), max_len (2), pad (6). SET_QUEUE, GROUP, METER (8): id (4). SET_MPLS_LABEL (8, OpenFlow 1.1's):
    // label (4). SET_MPLS_TTL, SET_NW_TTL (8): ttl (1), pad (3); SET_MPLS_TC (8, OpenFlow 1.1's): tc (1), pad (3). PUSH_VLAN, PUSH_MPLS, POP_MPLS, PUSH_PBB (8): ethertype (2), pad (2). SET_FIELD: one OXM TLV, padded to
    // len. COPY_TTL_*, DEC_*_TTL, POP_VLAN, POP_PBB (8): pad (4). EXPERIMENTER (16 or more): experimenter (4), then
    // Nicira's body (subtype first, NxAction's diagram) when the experimenter is 0x00002320.
    /// <summary>Decodes the whole span as an action list, appended to <paramref name="into"/>.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> s, List<Ofp13Action> into, out Ofp13Error error)
    {
        error = default;
        while (!s.IsEmpty)
        {
            if (s.Length < 8)
            {
                error = Ofp13Error.BadAction(Ofp13Codes.ActionBadLen);
                return false;
            }
            var type = (Ofp13ActionType)BinaryPrimitives.ReadUInt16BigEndian(s);
            int len = BinaryPrimitives.ReadUInt16BigEndian(s[2..]);
            if (len < 8 || (len & 7) != 0 || len > s.Length)
            {
                error = Ofp13Error.BadAction(Ofp13Codes.ActionBadLen);
                return false;
            }
            var a = s[..len];
            Ofp13Action action;
            switch (type)
            {
                case Ofp13ActionType.Output:
                    if (len != 16) return Fail(Ofp13Codes.ActionBadLen, out error);
                    action = new(type, Be.U32(a, 4), Be.U16(a, 8));
                    break;
                case Ofp13ActionType.CopyTtlOut:
                case Ofp13ActionType.CopyTtlIn:
                case Ofp13ActionType.DecMplsTtl:
                case Ofp13ActionType.PopVlan:
                case Ofp13ActionType.DecNwTtl:
                case Ofp13ActionType.PopPbb:
                    if (len != 8) return Fail(Ofp13Codes.ActionBadLen, out error);
                    action = new(type);
                    break;
                case Ofp13ActionType.SetMplsTtl:
                case Ofp13ActionType.SetNwTtl:
                case Ofp13ActionType.SetMplsTc:
                    if (len != 8) return Fail(Ofp13Codes.ActionBadLen, out error);
                    action = new(type, a[4]);
                    break;
                case Ofp13ActionType.PushVlan:
                case Ofp13ActionType.PushMpls:
                case Ofp13ActionType.PopMpls:
                case Ofp13ActionType.PushPbb:
                    if (len != 8) return Fail(Ofp13Codes.ActionBadLen, out error);
                    action = new(type, Be.U16(a, 4));
                    break;
                case Ofp13ActionType.SetQueue:
                case Ofp13ActionType.Group:
                case Ofp13ActionType.Meter:
                case Ofp13ActionType.SetMplsLabel:
                    if (len != 8) return Fail(Ofp13Codes.ActionBadLen, out error);
                    action = new(type, Be.U32(a, 4));
                    break;
                case Ofp13ActionType.SetField:
                {
                    var tlv = a[4..];
                    if (tlv.Length < 4) return Fail(Ofp13Codes.ActionBadSetLen, out error);
                    byte field = Ofp13Match.FieldOf(BinaryPrimitives.ReadUInt16BigEndian(tlv), (byte)(tlv[2] >> 1));
                    if (field == 0xff) return Fail(Ofp13Codes.ActionBadSetType, out error);
                    // A mask (OpenFlow 1.5's masked set-field) is read here and refused by the translation before 1.5.
                    int width = Ofp13Match.FieldLength(field) * ((tlv[2] & 1) != 0 ? 2 : 1);
                    if (tlv[3] != width || len != ((4 + 4 + tlv[3] + 7) & ~7)) return Fail(Ofp13Codes.ActionBadSetLen, out error);
                    if (!Ofp13Match.TryReadTlv(tlv, out var oxm, out _, out var tlvError, anyMask: true))
                    {
                        // Value bits outside the mask are the match error Open vSwitch's nx_pull_entry gives (BAD_WILDCARDS).
                        if (tlvError == Ofp13Error.BadMatch(Ofp13Codes.MatchBadWildcards))
                        {
                            error = tlvError;
                            return false;
                        }
                        return Fail(Ofp13Codes.ActionBadSetLen, out error);
                    }
                    action = Ofp13Action.SetField(oxm);
                    break;
                }
                case Ofp13ActionType.CopyField:
                    if (len != CopyFieldSize) return Fail(Ofp13Codes.ActionBadLen, out error);
                    if (!TryReadCopyField(a[4..], out var copy)) return Fail(Ofp13Codes.ActionBadArgument, out error);
                    action = Ofp13Action.CopyField(copy);
                    break;
                case Ofp13ActionType.Experimenter when len >= 16 && Be.U32(a, 4) == Ofp13Bundle.OnfExperimenter:
                {
                    if (Be.U16(a, 8) != OnfCopyFieldType || (a[10] | a[11]) != 0) return Fail(Ofp13Codes.ActionBadExpType, out error);
                    if (len != OnfCopyFieldSize) return Fail(Ofp13Codes.ActionBadLen, out error);
                    if (!TryReadCopyField(a[12..], out var onf)) return Fail(Ofp13Codes.ActionBadArgument, out error);
                    action = Ofp13Action.OnfCopyField(onf);
                    break;
                }
                case Ofp13ActionType.Experimenter:
                {
                    if (Be.U32(a, 4) != NxAction.VendorId) return Fail(Ofp13Codes.ActionBadExperimenter, out error);
                    if (!NxAction.TryDecodeBody(a[8..], out var nx, out var nxError))
                    {
                        if (nxError == NxActionError.BadConjunction)
                        {
                            error = new Ofp13Error(Ofp13ErrorType.Experimenter, NxAction.BadConjunctionExpCode);
                            return false;
                        }
                        // CONTROLLER2's property errors as Open vSwitch numbers them in 1.3 (OF1.3(13,3) OFPBPC_BAD_LEN,
                        // OF1.3(13,2) OFPBPC_BAD_TYPE, under OFPET_TABLE_FEATURES_FAILED); its experimenter-property
                        // errors (ONF1.3(4445), (4446)) as BAD_TYPE. This codec knows no version: 1.4 and 1.5 get the same.
                        if (nxError is NxActionError.BadPropertyLen or NxActionError.BadPropertyType or NxActionError.BadPropertyExperimenter
                            or NxActionError.BadPropertyExpType)
                        {
                            error = new Ofp13Error(Ofp13ErrorType.TableFeaturesFailed,
                                                   nxError == NxActionError.BadPropertyLen ? Ofp13Codes.FeaturesBadLen : Ofp13Codes.FeaturesBadType);
                            return false;
                        }
                        // A REG_LOAD2's value outside its mask: the match error Open vSwitch's nx_pull_entry gives.
                        if (nxError == NxActionError.BadWildcards)
                        {
                            error = Ofp13Error.BadMatch(Ofp13Codes.MatchBadWildcards);
                            return false;
                        }
                        // NXBRC_MUST_BE_ZERO is an experimenter error from 1.2 on (NX1.2+(5)), which this codec does not
                        // write: BAD_ARGUMENT.
                        return Fail(nxError switch
                        {
                            NxActionError.BadSubtype => Ofp13Codes.ActionBadExpType,
                            NxActionError.BadLen => Ofp13Codes.ActionBadLen,
                            NxActionError.BadOutPort => Ofp13Codes.ActionBadOutPort,
                            _ => Ofp13Codes.ActionBadArgument,
                        }, out error);
                    }
                    action = Ofp13Action.Nicira(nx);
                    break;
                }
                default:
                    return Fail(Ofp13Codes.ActionBadType, out error);
            }
            into.Add(action);
            s = s[len..];
        }
        return true;
    }

    // ofp15_action_copy_field from n_bits: b is the action from its offset 4 (OFPAT_COPY_FIELD, 24 bytes: after type and
    // len) or 12 (ONF's, 32 bytes: after type 0xffff, len, experimenter 0x4f4e4600, exp_type 3200 and 2 zero bytes).
    //  0                   1                   2                   3
    // +-------------------------------+-------------------------------+
    // |             n_bits            |           src_offset          |   0
    // +-------------------------------+-------------------------------+
    // |           dst_offset          |              pad              |   4
    // +-------------------------------+-------------------------------+
    // |                        src: OXM header                        |   8
    // +---------------------------------------------------------------+
    // |                        dst: OXM header                        |  12
    // +---------------------------------------------------------------+
    // |                              pad                              |  16
    // +---------------------------------------------------------------+
    /// <summary>
    /// Copy-field's body from n_bits (20 bytes: n_bits, src_offset, dst_offset, pad, two OXM headers, pad) as the
    /// NXAST_REG_MOVE it means; false for an experimenter or masked header or a pad byte not zero (so what is read
    /// re-encodes to its bytes). Whether the headers name fields the switch moves, and the ranges fit them, is the
    /// translator's, as for a move.
    /// </summary>
    private static bool TryReadCopyField(ReadOnlySpan<byte> b, out NxAction move)
    {
        move = default;
        uint src = BinaryPrimitives.ReadUInt32BigEndian(b[8..]), dst = BinaryPrimitives.ReadUInt32BigEndian(b[12..]);
        if ((b[6] | b[7]) != 0 || b[16..20].ContainsAnyExcept((byte)0)) return false;
        if (!NxAction.IsPlainHeader(src) || !NxAction.IsPlainHeader(dst)) return false;
        move = new NxAction(NxActionSubtype.RegMove, FieldHeader: dst, SrcHeader: src, Bits: BinaryPrimitives.ReadUInt16BigEndian(b),
                            SrcOfs: BinaryPrimitives.ReadUInt16BigEndian(b[2..]), DstOfs: BinaryPrimitives.ReadUInt16BigEndian(b[4..]));
        return true;
    }

    /// <summary>Writes copy-field's 20-byte body from n_bits (<see cref="TryReadCopyField"/>'s layout) of the move <paramref name="move"/>.</summary>
    private static void WriteCopyField(Span<byte> b, in NxAction move)
    {
        b = b[..20];
        b.Clear();
        BinaryPrimitives.WriteUInt16BigEndian(b, move.Bits);
        BinaryPrimitives.WriteUInt16BigEndian(b[2..], move.SrcOfs);
        BinaryPrimitives.WriteUInt16BigEndian(b[4..], move.DstOfs);
        BinaryPrimitives.WriteUInt32BigEndian(b[8..], move.SrcHeader);
        BinaryPrimitives.WriteUInt32BigEndian(b[12..], move.FieldHeader);
    }

    private static bool Fail(ushort code, out Ofp13Error error)
    {
        error = Ofp13Error.BadAction(code);
        return false;
    }
}

/// <summary>One OpenFlow 1.3 instruction (ofp_instruction_*), as it came: the type and its arguments.</summary>
public sealed record Ofp13Instruction(Ofp13InstructionType Type, byte TableId = 0, ulong Metadata = 0, ulong MetadataMask = 0,
                                      uint MeterId = 0, List<Ofp13Action>? Actions = null)
{
    public int Size => Type switch
    {
        Ofp13InstructionType.WriteMetadata => 24,
        Ofp13InstructionType.WriteActions or Ofp13InstructionType.ApplyActions or Ofp13InstructionType.ClearActions
            => 8 + Ofp13Actions.EncodedSize(Actions is null ? default : System.Runtime.InteropServices.CollectionsMarshal.AsSpan(Actions)),
        _ => 8,
    };
}

/// <summary>
/// Instruction lists of OpenFlow 1.3 (flow-mods, flow stats): decoded with BAD_INSTRUCTION's codes (and BAD_ACTION's
/// for the actions inside), encoded byte-exact in the order they came.
/// </summary>
/// <remarks>
/// An instruction shorter than 8 bytes, not a multiple of 8 or longer than what is left, or of a fixed size other than
/// its own, is BAD_LEN; an unknown type UNKNOWN_INST; an experimenter instruction BAD_EXPERIMENTER; a type that comes
/// twice UNSUP_INST (1.3.5 section 5.9 allows each at most once and names no code for it; Open vSwitch's 1.4 DUP_INST
/// does not exist in 1.3).
/// </remarks>
public static class Ofp13Instructions
{
    public static int EncodedSize(IReadOnlyList<Ofp13Instruction> list)
    {
        int n = 0;
        foreach (var i in list) n += i.Size;
        return n;
    }

    public static void Encode(Ofp13Writer w, IReadOnlyList<Ofp13Instruction> list)
    {
        foreach (var i in list)
        {
            w.U16((ushort)i.Type);
            w.U16((ushort)i.Size);
            switch (i.Type)
            {
                case Ofp13InstructionType.GotoTable:
                    w.U8(i.TableId); w.Zeros(3);
                    break;
                case Ofp13InstructionType.WriteMetadata:
                    w.Zeros(4); w.U64(i.Metadata); w.U64(i.MetadataMask);
                    break;
                case Ofp13InstructionType.Meter:
                    w.U32(i.MeterId);
                    break;
                default:
                    w.Zeros(4);
                    if (i.Actions is { } a) Ofp13Actions.Encode(w, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(a));
                    break;
            }
        }
    }

    //  0                   1                   2                   3
    // +-------------------------------+-------------------------------+
    // |              type             |      len (multiple of 8)      |   0
    // +---------------------------------------------------------------+
    // |                    body (len - 4), by type:                   |   4
    // +---------------------------------------------------------------+
    // GOTO_TABLE (8): table_id (1), pad (3). WRITE_METADATA (24): pad (4), metadata (8), metadata_mask (8). METER (8):
    // meter_id (4). WRITE_ACTIONS, APPLY_ACTIONS, CLEAR_ACTIONS: pad (4), actions (len - 8).
    /// <summary>Decodes the whole span as an instruction list, appended to <paramref name="into"/>; an instruction type twice is BAD_INSTRUCTION/UNSUP_INST, as Open vSwitch answers it.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> s, List<Ofp13Instruction> into, out Ofp13Error error)
    {
        error = default;
        uint seen = 0;
        while (!s.IsEmpty)
        {
            if (s.Length < 8) return Fail(Ofp13Codes.InstBadLen, out error);
            var type = (Ofp13InstructionType)BinaryPrimitives.ReadUInt16BigEndian(s);
            int len = BinaryPrimitives.ReadUInt16BigEndian(s[2..]);
            if (len < 8 || (len & 7) != 0 || len > s.Length) return Fail(Ofp13Codes.InstBadLen, out error);
            var body = s[..len];
            Ofp13Instruction ins;
            switch (type)
            {
                case Ofp13InstructionType.GotoTable:
                    if (len != 8) return Fail(Ofp13Codes.InstBadLen, out error);
                    ins = new(type, TableId: body[4]);
                    break;
                case Ofp13InstructionType.WriteMetadata:
                    if (len != 24) return Fail(Ofp13Codes.InstBadLen, out error);
                    ins = new(type, Metadata: Be.U64(body, 8), MetadataMask: Be.U64(body, 16));
                    break;
                case Ofp13InstructionType.Meter:
                    if (len != 8) return Fail(Ofp13Codes.InstBadLen, out error);
                    ins = new(type, MeterId: Be.U32(body, 4));
                    break;
                case Ofp13InstructionType.WriteActions:
                case Ofp13InstructionType.ApplyActions:
                case Ofp13InstructionType.ClearActions:
                {
                    var actions = new List<Ofp13Action>();
                    if (!Ofp13Actions.TryDecode(body[8..], actions, out error)) return false;
                    ins = new(type, Actions: actions);
                    break;
                }
                case Ofp13InstructionType.Experimenter:
                    return Fail(Ofp13Codes.InstBadExperimenter, out error);
                default:
                    return Fail(Ofp13Codes.InstUnknown, out error);
            }
            uint bit = 1u << (int)type;
            if ((seen & bit) != 0) return Fail(Ofp13Codes.InstUnsupported, out error);
            seen |= bit;
            into.Add(ins);
            s = s[len..];
        }
        return true;
    }

    private static bool Fail(ushort code, out Ofp13Error error)
    {
        error = Ofp13Error.BadInstruction(code);
        return false;
    }
}
