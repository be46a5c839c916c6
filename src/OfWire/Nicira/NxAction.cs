using System.Buffers.Binary;

namespace Softswitch.OfWire;

/// <summary>Nicira action subtypes (nx_action_header.subtype) the codec recognises.</summary>
public enum NxActionSubtype : ushort
{
    /// <summary>NXAST_RESUBMIT: look the packet up again as if it came in on in_port, in the same table; length 16.</summary>
    Resubmit = 1,
    /// <summary>NXAST_SET_TUNNEL: 32-bit tunnel id, action length 16.</summary>
    SetTunnel = 2,
    /// <summary>NXAST_SET_QUEUE: 32-bit queue id, action length 16.</summary>
    SetQueue = 4,
    /// <summary>NXAST_REG_MOVE: n_bits of one NXM/OXM field copied into another, action length 24.</summary>
    RegMove = 6,
    /// <summary>NXAST_REG_LOAD: a 64-bit value into bits ofs..ofs+n_bits-1 of an NXM or OXM field, action length 24.</summary>
    RegLoad = 7,
    /// <summary>NXAST_MULTIPATH: a hash of some of the flow's fields picks one of n links into a field's bits, length 32.</summary>
    Multipath = 10,
    /// <summary>NXAST_BUNDLE: output to the live member a bundle algorithm picks, length 32 + the members padded to 8
    /// (<see cref="NxAction.Bundle"/>).</summary>
    Bundle = 12,
    /// <summary>NXAST_BUNDLE_LOAD: NXAST_BUNDLE whose pick is loaded into a field's bits instead.</summary>
    BundleLoad = 13,
    /// <summary>NXAST_NOTE: opaque bytes that do nothing to the packet, action length 16 or more.</summary>
    Note = 8,
    /// <summary>NXAST_SET_TUNNEL64: 64-bit tunnel id, action length 24.</summary>
    SetTunnel64 = 9,
    /// <summary>NXAST_RESUBMIT_TABLE: look the packet up again (in_port, table), action length 16.</summary>
    ResubmitTable = 14,
    /// <summary>NXAST_OUTPUT_REG: output to the port a field's bits hold, action length 24.</summary>
    OutputReg = 15,
    /// <summary>NXAST_EXIT: stop running actions, action length 16.</summary>
    Exit = 17,
    /// <summary>NXAST_DEC_TTL, action length 16.</summary>
    DecTtl = 18,
    /// <summary>NXAST_FIN_TIMEOUT: the idle and hard timeouts a TCP FIN or RST lowers its rule's to, length 16.</summary>
    FinTimeout = 19,
    /// <summary>NXAST_DEC_TTL_CNT_IDS: dec_ttl whose invalid-TTL packet-ins go to the listed controller ids
    /// (<see cref="NxAction.ControllerIds"/>), length 16 + the ids padded to 8.</summary>
    DecTtlCntIds = 21,
    /// <summary>NXAST_CONTROLLER: a packet-in with its own max_len, controller id and reason, action length 16.</summary>
    Controller = 20,
    /// <summary>NXAST_CONTROLLER2: the controller action as properties (max_len, controller id, reason, userdata, pause,
    /// meter), length 16 or more (<see cref="NxAction.Controller2"/>).</summary>
    Controller2 = 37,
    /// <summary>NXAST_PUSH_MPLS: 16-bit ethertype, action length 16.</summary>
    PushMpls = 23,
    /// <summary>NXAST_POP_MPLS: 16-bit ethertype, action length 16.</summary>
    PopMpls = 24,
    /// <summary>NXAST_SET_MPLS_TTL: 8-bit TTL, action length 16.</summary>
    SetMplsTtl = 25,
    /// <summary>NXAST_DEC_MPLS_TTL, action length 16.</summary>
    DecMplsTtl = 26,
    /// <summary>NXAST_SET_MPLS_LABEL: 32-bit label, action length 16.</summary>
    SetMplsLabel = 30,
    /// <summary>NXAST_SET_MPLS_TC: 8-bit traffic class, action length 16.</summary>
    SetMplsTc = 31,
    /// <summary>NXAST_OUTPUT_REG2: NXAST_OUTPUT_REG with the header after max_len, action length 24.</summary>
    OutputReg2 = 32,
    /// <summary>NXAST_REG_LOAD2: one OXM TLV, the field and the value it is set to, padded to 8 bytes.</summary>
    RegLoad2 = 33,
    /// <summary>NXAST_CONJUNCTION: clause, n_clauses and a 32-bit id, action length 16 (<see cref="NxAction.Conjunction"/>).</summary>
    Conjunction = 34,
    /// <summary>NXAST_GROUP: 32-bit group id, action length 16.</summary>
    Group = 40,
    /// <summary>NXAST_LEARN: a flow-mod built from the packet (<see cref="NxLearn"/>), length 32 or more.</summary>
    Learn = 16,
    /// <summary>NXAST_LEARN2: NXAST_LEARN with a limit and a result field, length 40 or more.</summary>
    Learn2 = 45,
    /// <summary>NXAST_CLONE: actions run on a copy of the packet (<see cref="NxAction.Nested"/>, the version's own action
    /// list), length 16 + the actions.</summary>
    Clone = 42,
    /// <summary>NXAST_SAMPLE: sample packets with a probability to a collector set, length 24 (<see cref="NxAction.Sample"/>).</summary>
    Sample = 29,
    /// <summary>NXAST_SAMPLE2: NXAST_SAMPLE with a sampling port, length 32.</summary>
    Sample2 = 38,
    /// <summary>NXAST_SAMPLE3: NXAST_SAMPLE2 with a direction, length 32.</summary>
    Sample3 = 41,
}

/// <summary>Why a Nicira action body was refused; each version names it with its own error code.</summary>
public enum NxActionError : byte
{
    None,
    /// <summary>A subtype the codec does not know (OpenFlow 1.0 BAD_VENDOR_TYPE, 1.1 and later BAD_EXP_TYPE).</summary>
    BadSubtype,
    /// <summary>A length that is not the subtype's (BAD_LEN).</summary>
    BadLen,
    /// <summary>An argument the subtype does not allow (BAD_ARGUMENT).</summary>
    BadArgument,
    /// <summary>Padding that must be zero is not (Open vSwitch's NXBRC_MUST_BE_ZERO).</summary>
    MustBeZero,
    /// <summary>A conjunction whose n is outside 2..64 or whose clause is not below n (Open vSwitch's NXBAC_BAD_CONJUNCTION).</summary>
    BadConjunction,
    /// <summary>A property shorter than its header, past the action, or of a payload too short for its value (OFPBPC_BAD_LEN).</summary>
    BadPropertyLen,
    /// <summary>A property type the action does not define (OFPBPC_BAD_TYPE).</summary>
    BadPropertyType,
    /// <summary>An experimenter property of experimenter 0 (OFPBPC_BAD_EXPERIMENTER).</summary>
    BadPropertyExperimenter,
    /// <summary>An experimenter property the action does not define (OFPBPC_BAD_EXP_TYPE).</summary>
    BadPropertyExpType,
    /// <summary>A bundle member that is no port Open vSwitch outputs to (OFPBAC_BAD_OUT_PORT).</summary>
    BadOutPort,
    /// <summary>
    /// A REG_LOAD2 whose value has 1-bits where its mask has 0-bits: the match error Open vSwitch's nx_pull_entry gives
    /// (OFPBMC_BAD_WILDCARDS).
    /// </summary>
    BadWildcards,
}

/// <summary>
/// A Nicira action (experimenter/vendor 0x00002320) read into its subtype's fields: the Open vSwitch extensions
/// (ovs lib/ofp-actions.c). Every OpenFlow version carries the same body after its own header (OpenFlow 1.0's vendor
/// action, 1.1 and later's OFPAT_EXPERIMENTER), so one codec serves them all (<see cref="TryDecodeBody"/>,
/// <see cref="WriteBody"/>); each version maps <see cref="NxActionError"/> to its error codes.
/// </summary>
/// <remarks>
/// <para>Fields are in host order. <see cref="Arg"/>: the integer argument (tunnel id, queue, group, ethertype, MPLS TTL,
/// label or TC; CONTROLLER's controller id, with its reason in <see cref="Table"/> and its <see cref="MaxLen"/>). Resubmit: <see cref="InPort"/> and <see cref="Table"/> (NXAST_RESUBMIT's table is 255, Open vSwitch's
/// "this table"). REG_LOAD and REG_LOAD2 are one shape, a load of <see cref="Value"/> under <see cref="Mask"/> into the
/// field of <see cref="FieldHeader"/> (its 32-bit NXM or OXM header, hasmask clear, the length byte the value's bytes):
/// REG_LOAD's mask is its ofs/n_bits range, an unmasked REG_LOAD2's the all-ones of the value's bytes. Whether the switch
/// can set that field is not the codec's to say. <see cref="Note"/>: NXAST_NOTE's bytes, kept as they came (padding
/// included, as Open vSwitch keeps them). REG_MOVE: <see cref="Bits"/> bits from <see cref="SrcOfs"/> of the field of
/// <see cref="SrcHeader"/> to <see cref="DstOfs"/> of <see cref="FieldHeader"/>'s. OUTPUT_REG and OUTPUT_REG2:
/// <see cref="Bits"/> bits from <see cref="SrcOfs"/> of <see cref="SrcHeader"/>'s field, <see cref="MaxLen"/>. Headers
/// are 32-bit NXM or OXM headers (hasmask clear); whether they name fields the switch knows is not the codec's to say.</para>
/// <para>Immutable; stateless decoder.</para>
/// </remarks>
public readonly partial record struct NxAction(NxActionSubtype Subtype, ulong Arg = 0, ushort InPort = 0, byte Table = 0,
                                               uint FieldHeader = 0, UInt128 Value = default, UInt128 Mask = default,
                                               byte[]? Note = null, uint SrcHeader = 0, ushort Bits = 0, ushort SrcOfs = 0,
                                               ushort DstOfs = 0, ushort MaxLen = 0)
{
    /// <summary>The largest field value a load may carry (an IPv6 address).</summary>
    public const int MaxFieldSize = 16;
    /// <summary>NX_VENDOR_ID, the experimenter (vendor) id of every Nicira action.</summary>
    public const uint VendorId = 0x00002320;
    /// <summary>OFPP_IN_PORT in a resubmit's 16-bit in_port.</summary>
    public const ushort InPortOwn = 0xfff8;

    // Every Nicira action starts with nx_action_header; b, what TryDecodeBody reads, is the action from its subtype
    // (offset 8): b[k] is offset 8 + k.
    //  0                   1                   2                   3
    // +-------------------------------+-------------------------------+
    // |          type: 0xffff         |              len              |   0
    // +-------------------------------+-------------------------------+
    // |                       vendor: 0x00002320                      |   4
    // +-------------------------------+-------------------------------+
    // |            subtype            |        per subtype ...        |   8
    // +-------------------------------+-------------------------------+
    // |                    ... per subtype (to len)                   |  12
    // +---------------------------------------------------------------+
    // Per subtype, its fields in order from offset 10 (b[2]):
    //   SET_TUNNEL(2), SET_QUEUE(4), SET_MPLS_LABEL(30), GROUP(40)  len 16: pad(2) arg32
    //   SET_TUNNEL64(9)                                             len 24: pad(6) arg64
    //   PUSH_MPLS(23), POP_MPLS(24)                                 len 16: ethertype(2) pad(4)
    //   SET_MPLS_TTL(25), SET_MPLS_TC(31)                           len 16: arg8 pad(5)
    //   DEC_TTL(18), DEC_MPLS_TTL(26), EXIT(17)                     len 16: pad(6)
    //   RESUBMIT(1)                                                 len 16: in_port(2) pad(4), pad not read
    //   CONTROLLER(20)                          len 16: max_len(2) controller_id(2) reason(1) zero(1), zero not read
    //   RESUBMIT_TABLE(14)                                          len 16: in_port(2) table(1) pad(3), pad zero
    //   NOTE(8)                                                 len 16+8n: note bytes (6+8n)
    //   REG_LOAD(7)                                                 len 24: ofs_nbits(2) dst(4) value(8)
    //   REG_LOAD2(33)                                       len 16+8n: OXM/NXM TLV, zero padding to 8
    //   REG_MOVE(6)                          len 24: n_bits(2) src_ofs(2) dst_ofs(2) src(4) dst(4)
    //   OUTPUT_REG(15)                       len 24: ofs_nbits(2) src(4) max_len(2) zero(6)
    //   OUTPUT_REG2(32)                      len 24: ofs_nbits(2) max_len(2) src(4) zero(6)
    //   CONJUNCTION(34)                                             len 16: clause(1) n_clauses(1) id(4)
    //   LEARN(16), LEARN2(45)              len 32+, 40+: NxLearn's diagram (its flow-mod and specs, in Learn)
    //   FIN_TIMEOUT(19) len 16, MULTIPATH(10) len 32: NxAction.FinTimeout.cs
    //   BUNDLE(12), BUNDLE_LOAD(13)         len 32+8n: NxAction.Bundle.cs
    //   DEC_TTL_CNT_IDS(21)                 len 16+8n: n_controllers(2) zero(4), then the ids (2 each), zero padding
    //   CLONE(42)                           len 16+n: pad(6), then the nested actions (NxAction.Clone.cs)
    //   CONTROLLER2(37)                     len 16+8n: zero(6), then NXAC2PT_* properties (NxAction.Controller2.cs)
    //   SAMPLE(29) len 24, SAMPLE2(38), SAMPLE3(41) len 32: NxAction.Sample.cs
    /// <summary>
    /// Reads <paramref name="b"/>, the bytes after the vendor id (subtype first), as a Nicira action. Errors:
    /// <see cref="NxActionError.BadSubtype"/> (a subtype not listed above), <see cref="NxActionError.BadLen"/> (a length
    /// not its subtype's, a TLV past the action), <see cref="NxActionError.BadArgument"/> (resubmit padding not zero; a
    /// load outside its field, of an experimenter or masked header, of a value wider than <see cref="MaxFieldSize"/> bytes
    /// or with bits outside its range or mask, or with non-zero padding), the property errors of CONTROLLER2.
    /// </summary>
    public static bool TryDecodeBody(ReadOnlySpan<byte> b, out NxAction nx, out NxActionError error)
    {
        nx = default;
        if (b.Length < 8) return Fail(NxActionError.BadLen, out error); // nx_action_header is 16 bytes
        var subtype = (NxActionSubtype)BinaryPrimitives.ReadUInt16BigEndian(b);
        if (subtype is NxActionSubtype.Learn or NxActionSubtype.Learn2) return TryDecodeLearn(b, subtype, out nx, out error);
        if (subtype == NxActionSubtype.DecTtlCntIds) return TryDecTtlCntIds(b, out nx, out error);
        if (subtype == NxActionSubtype.Clone) return TryClone(b, out nx, out error);
        if (subtype == NxActionSubtype.Controller2) return TryController2(b, out nx, out error);
        if (subtype is NxActionSubtype.Bundle or NxActionSubtype.BundleLoad) return TryBundle(b, subtype, out nx, out error);
        if (subtype is NxActionSubtype.Sample or NxActionSubtype.Sample2 or NxActionSubtype.Sample3) return TrySample(b, subtype, out nx, out error);
        int expected = subtype switch
        {
            NxActionSubtype.SetTunnel or NxActionSubtype.SetQueue or NxActionSubtype.ResubmitTable or NxActionSubtype.DecTtl
                or NxActionSubtype.PushMpls or NxActionSubtype.PopMpls or NxActionSubtype.SetMplsTtl or NxActionSubtype.DecMplsTtl
                or NxActionSubtype.SetMplsLabel or NxActionSubtype.SetMplsTc or NxActionSubtype.Group or NxActionSubtype.Resubmit
                or NxActionSubtype.Exit or NxActionSubtype.Conjunction or NxActionSubtype.Controller or NxActionSubtype.FinTimeout => 8,
            NxActionSubtype.SetTunnel64 or NxActionSubtype.RegLoad or NxActionSubtype.RegMove or NxActionSubtype.OutputReg
                or NxActionSubtype.OutputReg2 => 16,
            NxActionSubtype.Multipath => 24,
            NxActionSubtype.RegLoad2 or NxActionSubtype.Note => b.Length,
            _ => -1,
        };
        if (expected < 0) return Fail(NxActionError.BadSubtype, out error);
        if (b.Length != expected) return Fail(NxActionError.BadLen, out error);
        error = default;
        switch (subtype)
        {
            case NxActionSubtype.SetTunnel or NxActionSubtype.SetQueue or NxActionSubtype.SetMplsLabel or NxActionSubtype.Group:
                nx = new(subtype, Arg: BinaryPrimitives.ReadUInt32BigEndian(b[4..]));
                return true;
            case NxActionSubtype.SetTunnel64:
                nx = new(subtype, Arg: BinaryPrimitives.ReadUInt64BigEndian(b[8..]));
                return true;
            case NxActionSubtype.PushMpls or NxActionSubtype.PopMpls:
                nx = new(subtype, Arg: BinaryPrimitives.ReadUInt16BigEndian(b[2..]));
                return true;
            case NxActionSubtype.SetMplsTtl or NxActionSubtype.SetMplsTc:
                nx = new(subtype, Arg: b[2]);
                return true;
            case NxActionSubtype.DecTtl or NxActionSubtype.DecMplsTtl or NxActionSubtype.Exit:
                nx = new(subtype);
                return true;
            case NxActionSubtype.Resubmit:
                nx = new(subtype, InPort: BinaryPrimitives.ReadUInt16BigEndian(b[2..]), Table: 0xff);
                return true;
            case NxActionSubtype.Controller: // the last byte is not read, as Open vSwitch's decode_NXAST_RAW_CONTROLLER
                nx = new(subtype, MaxLen: BinaryPrimitives.ReadUInt16BigEndian(b[2..]), Arg: BinaryPrimitives.ReadUInt16BigEndian(b[4..]),
                         Table: b[6]);
                return true;
            case NxActionSubtype.ResubmitTable:
                if ((b[5] | b[6] | b[7]) != 0) return Fail(NxActionError.BadArgument, out error); // as Open vSwitch
                nx = new(subtype, InPort: BinaryPrimitives.ReadUInt16BigEndian(b[2..]), Table: b[4]);
                return true;
            case NxActionSubtype.Note:
                nx = new(subtype, Note: b[2..].ToArray());
                return true;
            case NxActionSubtype.RegLoad:
                return TryRegLoad(b, out nx, out error);
            case NxActionSubtype.Conjunction:
                return TryConjunction(b, out nx, out error);
            case NxActionSubtype.FinTimeout:
                return TryFinTimeout(b, out nx, out error);
            case NxActionSubtype.Multipath:
                return TryMultipath(b, out nx, out error);
            case NxActionSubtype.RegMove:
            {
                uint src = BinaryPrimitives.ReadUInt32BigEndian(b[8..]), dst = BinaryPrimitives.ReadUInt32BigEndian(b[12..]);
                if (!PlainHeader(src) || !PlainHeader(dst)) return Fail(NxActionError.BadArgument, out error);
                nx = new(subtype, FieldHeader: dst, SrcHeader: src, Bits: BinaryPrimitives.ReadUInt16BigEndian(b[2..]),
                         SrcOfs: BinaryPrimitives.ReadUInt16BigEndian(b[4..]), DstOfs: BinaryPrimitives.ReadUInt16BigEndian(b[6..]));
                return true;
            }
            case NxActionSubtype.OutputReg or NxActionSubtype.OutputReg2:
            {
                int ofsBits = BinaryPrimitives.ReadUInt16BigEndian(b[2..]);
                bool two = subtype == NxActionSubtype.OutputReg2;
                uint src = BinaryPrimitives.ReadUInt32BigEndian(b[(two ? 6 : 4)..]);
                ushort maxLen = BinaryPrimitives.ReadUInt16BigEndian(b[(two ? 4 : 8)..]);
                if (b[10..].ContainsAnyExcept((byte)0))
                    return Fail(two ? NxActionError.MustBeZero : NxActionError.BadArgument, out error); // as Open vSwitch
                if (!PlainHeader(src)) return Fail(NxActionError.BadArgument, out error);
                nx = new(subtype, SrcHeader: src, SrcOfs: (ushort)(ofsBits >> 6), Bits: (ushort)((ofsBits & 63) + 1), MaxLen: maxLen);
                return true;
            }
            default:
                return TryRegLoad2(b, out nx, out error);
        }
    }

    /// <summary>A 32-bit NXM or OXM header without hasmask (an experimenter class takes 8 bytes: not here).</summary>
    public static bool IsPlainHeader(uint header) => PlainHeader(header);

    private static bool PlainHeader(uint header) => (header & 0x100) == 0 && header >> 16 != 0xffff && (header & 0xff) != 0;

    /// <summary>
    /// The size of the body <see cref="WriteBody"/> writes: the action's length less its 8-byte header (type, length,
    /// vendor id), so that the whole action is a multiple of 8.
    /// </summary>
    public int BodySize => Subtype switch
    {
        NxActionSubtype.SetTunnel64 or NxActionSubtype.RegLoad or NxActionSubtype.RegMove or NxActionSubtype.OutputReg
            or NxActionSubtype.OutputReg2 => 16,
        NxActionSubtype.Multipath or NxActionSubtype.Sample2 or NxActionSubtype.Sample3 => 24,
        NxActionSubtype.Sample => 16,
        NxActionSubtype.Note => ((8 + 2 + (Note?.Length ?? 0) + 7) & ~7) - 8,
        NxActionSubtype.RegLoad2 => ((8 + 2 + 4 + (IsWhole ? 1 : 2) * FieldSize + 7) & ~7) - 8,
        NxActionSubtype.Learn or NxActionSubtype.Learn2 => Learn?.BodySize ?? 8,
        NxActionSubtype.DecTtlCntIds => 8 + ((2 * (ControllerIds?.Length ?? 0) + 7) & ~7),
        NxActionSubtype.Clone => 8 + (Nested?.Length ?? 0),
        NxActionSubtype.Controller2 => Controller2BodySize(),
        NxActionSubtype.Bundle or NxActionSubtype.BundleLoad => BundleBodySize,
        _ => 8,
    };

    private int FieldSize => (int)(FieldHeader & 0xff);

    /// <summary>A REG_LOAD2 that sets its whole field (written without a mask).</summary>
    private bool IsWhole => Mask == AllOnes(FieldSize * 8);

    /// <summary>
    /// Writes the body (subtype first) into <paramref name="dest"/>, <see cref="BodySize"/> bytes, padding zero: the
    /// same bytes Open vSwitch writes for the action. A REG_LOAD's range is its mask's (contiguous, as decoded).
    /// </summary>
    public void WriteBody(Span<byte> dest)
    {
        dest = dest[..BodySize];
        dest.Clear();
        BinaryPrimitives.WriteUInt16BigEndian(dest, (ushort)Subtype);
        Learn?.Write(dest);
        switch (Subtype)
        {
            case NxActionSubtype.SetTunnel or NxActionSubtype.SetQueue or NxActionSubtype.SetMplsLabel or NxActionSubtype.Group:
                BinaryPrimitives.WriteUInt32BigEndian(dest[4..], (uint)Arg);
                break;
            case NxActionSubtype.SetTunnel64:
                BinaryPrimitives.WriteUInt64BigEndian(dest[8..], Arg);
                break;
            case NxActionSubtype.PushMpls or NxActionSubtype.PopMpls:
                BinaryPrimitives.WriteUInt16BigEndian(dest[2..], (ushort)Arg);
                break;
            case NxActionSubtype.SetMplsTtl or NxActionSubtype.SetMplsTc:
                dest[2] = (byte)Arg;
                break;
            case NxActionSubtype.Resubmit:
                BinaryPrimitives.WriteUInt16BigEndian(dest[2..], InPort);
                break;
            case NxActionSubtype.Controller:
                BinaryPrimitives.WriteUInt16BigEndian(dest[2..], MaxLen);
                BinaryPrimitives.WriteUInt16BigEndian(dest[4..], (ushort)Arg);
                dest[6] = Table;
                break;
            case NxActionSubtype.ResubmitTable:
                BinaryPrimitives.WriteUInt16BigEndian(dest[2..], InPort);
                dest[4] = Table;
                break;
            case NxActionSubtype.Note:
                Note.AsSpan().CopyTo(dest[2..]);
                break;
            case NxActionSubtype.Conjunction:
                WriteConjunction(dest);
                break;
            case NxActionSubtype.DecTtlCntIds:
                WriteDecTtlCntIds(dest);
                break;
            case NxActionSubtype.Clone:
                Nested.AsSpan().CopyTo(dest[8..]);
                break;
            case NxActionSubtype.Controller2:
                WriteController2(dest);
                break;
            case NxActionSubtype.FinTimeout or NxActionSubtype.Multipath:
                WriteFinTimeoutOrMultipath(dest);
                break;
            case NxActionSubtype.Bundle or NxActionSubtype.BundleLoad:
                WriteBundle(dest);
                break;
            case NxActionSubtype.Sample or NxActionSubtype.Sample2 or NxActionSubtype.Sample3:
                WriteSample(dest);
                break;
            case NxActionSubtype.RegLoad:
            {
                int ofs = (int)UInt128.TrailingZeroCount(Mask), bits = (int)UInt128.PopCount(Mask);
                BinaryPrimitives.WriteUInt16BigEndian(dest[2..], (ushort)((ofs << 6) | (bits - 1)));
                BinaryPrimitives.WriteUInt32BigEndian(dest[4..], FieldHeader);
                BinaryPrimitives.WriteUInt64BigEndian(dest[8..], (ulong)(Value >> ofs));
                break;
            }
            case NxActionSubtype.RegMove:
                BinaryPrimitives.WriteUInt16BigEndian(dest[2..], Bits);
                BinaryPrimitives.WriteUInt16BigEndian(dest[4..], SrcOfs);
                BinaryPrimitives.WriteUInt16BigEndian(dest[6..], DstOfs);
                BinaryPrimitives.WriteUInt32BigEndian(dest[8..], SrcHeader);
                BinaryPrimitives.WriteUInt32BigEndian(dest[12..], FieldHeader);
                break;
            case NxActionSubtype.OutputReg or NxActionSubtype.OutputReg2:
            {
                bool two = Subtype == NxActionSubtype.OutputReg2;
                BinaryPrimitives.WriteUInt16BigEndian(dest[2..], (ushort)((SrcOfs << 6) | ((Bits - 1) & 63)));
                BinaryPrimitives.WriteUInt32BigEndian(dest[(two ? 6 : 4)..], SrcHeader);
                BinaryPrimitives.WriteUInt16BigEndian(dest[(two ? 4 : 8)..], MaxLen);
                break;
            }
            case NxActionSubtype.RegLoad2:
            {
                int size = FieldSize;
                bool whole = IsWhole;
                BinaryPrimitives.WriteUInt32BigEndian(dest[2..], whole ? FieldHeader : (FieldHeader & 0xfffffe00u) | 0x100u | (uint)(2 * size));
                WriteValue(dest.Slice(6, size), Value);
                if (!whole) WriteValue(dest.Slice(6 + size, size), Mask);
                break;
            }
        }
    }

    // b, what the decoder reads, is the action from its subtype (offset 8): b[k] is offset 8 + k.
    //  0                   1                   2                   3
    // +-------------------------------+-------------------------------+
    // |          type: 0xffff         |              len              |   0
    // +-------------------------------+-------------------------------+
    // |                       vendor: 0x00002320                      |   4
    // +-------------------------------+-------------------------------+
    // |           subtype: 7          |           ofs_nbits           |   8
    // +-------------------------------+-------------------------------+
    // |                dst: a 32-bit NXM or OXM header                |  12
    // +---------------------------------------------------------------+
    // |                           value (8)                           |  16
    // +---------------------------------------------------------------+
    // ofs_nbits: the offset in the field (upper 10 bits) and n_bits - 1 (lower 6).
    private static bool TryRegLoad(ReadOnlySpan<byte> b, out NxAction nx, out NxActionError error)
    {
        nx = default;
        int ofsBits = BinaryPrimitives.ReadUInt16BigEndian(b[2..]);
        int ofs = ofsBits >> 6, bits = (ofsBits & 63) + 1;
        uint header = BinaryPrimitives.ReadUInt32BigEndian(b[4..]);
        ulong value = BinaryPrimitives.ReadUInt64BigEndian(b[8..]);
        int size = (int)(header & 0xff);
        bool masked = (header & 0x100) != 0, experimenter = header >> 16 == 0xffff;
        if (masked || experimenter || size is 0 or > MaxFieldSize || ofs + bits > size * 8 || (bits < 64 && value >> bits != 0))
            return Fail(NxActionError.BadArgument, out error);
        error = default;
        nx = new(NxActionSubtype.RegLoad, FieldHeader: header, Value: (UInt128)value << ofs,
                 Mask: ((UInt128.One << bits) - 1) << ofs);
        return true;
    }

    // b, what the decoder reads, is the action from its subtype (offset 8): b[k] is offset 8 + k.
    //  0                   1                   2                   3
    // +-------------------------------+-------------------------------+
    // |          type: 0xffff         |              len              |   0
    // +-------------------------------+-------------------------------+
    // |                       vendor: 0x00002320                      |   4
    // +-------------------------------+-------------------------------+
    // |          subtype: 33          |       OXM/NXM header ...      |   8
    // +-------------------------------+-------------------------------+
    // |           ... header          |           value ...           |  12
    // +-------------------------------+-------------------------------+
    // |               value, then the mask when hasmask               |  16
    // +---------------------------------------------------------------+
    // |                       zero padding to 8                       |
    // +---------------------------------------------------------------+
    // The TLV starts right after the subtype (in place of ext_action_header's pad), as Open vSwitch writes it.
    private static bool TryRegLoad2(ReadOnlySpan<byte> b, out NxAction nx, out NxActionError error)
    {
        nx = default;
        ReadOnlySpan<byte> tlv = b[2..];
        uint header = BinaryPrimitives.ReadUInt32BigEndian(tlv);
        int length = (int)(header & 0xff);
        bool masked = (header & 0x100) != 0;
        if (4 + length > tlv.Length) return Fail(NxActionError.BadLen, out error);
        int size = masked ? length / 2 : length;
        if (header >> 16 == 0xffff || (masked && (length & 1) != 0) || size is 0 or > MaxFieldSize
            || tlv[(4 + length)..].ContainsAnyExcept((byte)0))
        {
            return Fail(NxActionError.BadArgument, out error);
        }
        UInt128 value = ReadValue(tlv.Slice(4, size));
        UInt128 mask = masked ? ReadValue(tlv.Slice(4 + size, size)) : AllOnes(size * 8);
        if ((value & ~mask) != 0) return Fail(NxActionError.BadWildcards, out error);
        error = default;
        nx = new(NxActionSubtype.RegLoad2, FieldHeader: (header & 0xfffffe00u) | (uint)size, Value: value, Mask: mask);
        return true;
    }

    /// <summary>The low <paramref name="bits"/> bits set.</summary>
    public static UInt128 AllOnes(int bits) => bits >= 128 ? UInt128.MaxValue : (UInt128.One << bits) - 1;

    private static UInt128 ReadValue(ReadOnlySpan<byte> bytes)
    {
        UInt128 v = 0;
        foreach (byte x in bytes) v = (v << 8) | x;
        return v;
    }

    private static void WriteValue(Span<byte> dest, UInt128 v)
    {
        for (int i = dest.Length - 1; i >= 0; i--, v >>= 8) dest[i] = (byte)v;
    }

    private static bool Fail(NxActionError code, out NxActionError error)
    {
        error = code;
        return false;
    }
}
