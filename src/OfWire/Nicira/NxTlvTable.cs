using System.Buffers.Binary;
using Softswitch.OfWire.Of13;

namespace Softswitch.OfWire;

/// <summary>
/// Open vSwitch's TLV table messages (include/openflow/nicira-ext.h), Nicira experimenter messages of any version from
/// 1.2 on: NXT_TLV_TABLE_MOD (24), NXT_TLV_TABLE_REQUEST (25) and NXT_TLV_TABLE_REPLY (26), which map Geneve option
/// TLVs to the tun_metadata fields (<c>ovs-ofctl add-tlv-map</c>, <c>dump-tlv-map</c>; ovs-save saves and restores the
/// map with them). The switch has no tun_metadata field, so its table holds nothing: the reply says so (0 bytes of
/// option space, 0 fields) and a mod that would map an option is NXTTMFC_TABLE_FULL.
/// </summary>
public static class NxTlvTable
{
    //  0                   1                   2                   3
    // +-------+-------+---------------+-------------------------------+
    // |version| 4 EXP |    length     |              xid              |
    // +-------+-------+---------------+-------------------------------+
    // |      experimenter 0x2320      |   subtype 24 / 25 / 26        |
    // +-------------------------------+-------------------------------+
    // MOD (24):    | command (2) | pad (6) | nx_tlv_map[] (8 bytes each: class 2, type 1, len 1, index 2, pad 2)
    // REQUEST (25): nothing
    // REPLY (26):  | max_option_space (4) | max_fields (2) | reserved (10) | nx_tlv_map[]

    public const uint Nicira = 0x0000_2320;
    public const uint ModSubtype = 24, RequestSubtype = 25, ReplySubtype = 26;
    /// <summary>nx_tlv_table_mod_command.</summary>
    public const ushort Add = 0, Delete = 1, Clear = 2;
    /// <summary>Bytes of a MOD before its maps, and of each map.</summary>
    public const int ModHeader = 24, MapSize = 8;
    /// <summary>The NXTTMFC_* experimenter error codes from 1.2 on (Open vSwitch's NX1.2+ numbers): BAD_COMMAND, BAD_OPT_LEN, BAD_FIELD_IDX, TABLE_FULL.</summary>
    public const ushort BadCommandCode = 16, BadOptLenCode = 17, BadFieldIdxCode = 18, TableFullCode = 19;
    /// <summary>The longest option a map may name (Open vSwitch's TLV_MAX_OPT_SIZE), and the tun_metadata fields a map's index may name (TUN_METADATA_NUM_OPTS).</summary>
    public const int MaxOptionSize = 124, FieldCount = 64;

    /// <summary>The subtype of a Nicira experimenter message (OFPT_EXPERIMENTER, 16 bytes at least), else 0.</summary>
    public static uint Subtype(ReadOnlySpan<byte> msg)
        => msg.Length >= 16 && msg[1] == (byte)Ofp13Type.Experimenter && BinaryPrimitives.ReadUInt32BigEndian(msg[8..]) == Nicira
            ? BinaryPrimitives.ReadUInt32BigEndian(msg[12..]) : 0;

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |      ofp_header (8), experimenter 0x2320, subtype 24 (16)     |   0
    // +-------------------------------+-------------------------------+
    // |            command            |              pad              |  16
    // +-------------------------------+-------------------------------+
    // |                              pad                              |  20
    // +-------------------------------+---------------+---------------+
    // |       nx_tlv_map: class       |      type     |      len      |  24
    // +-------------------------------+---------------+---------------+
    // |             index             |              pad              |  28
    // +-------------------------------+-------------------------------+
    // |             further maps, 8 bytes each, to length             |  32
    // +---------------------------------------------------------------+
    /// <summary>
    /// A MOD's command and number of maps, as Open vSwitch's ofputil_decode_tlv_table_mod reads them: false with
    /// BAD_REQUEST/BAD_LEN when the length is not the header and whole maps, else with an NXTTMFC_* error
    /// (<see cref="NxError"/>): a command other than ADD, DELETE and CLEAR BAD_COMMAND; a map whose option length is not
    /// a multiple of 4 or over <see cref="MaxOptionSize"/> BAD_OPT_LEN, whose index is not below <see cref="FieldCount"/>
    /// BAD_FIELD_IDX (the first such map's error).
    /// </summary>
    public static bool TryDecodeMod(ReadOnlySpan<byte> msg, out ushort command, out int maps, out Ofp13Error error)
    {
        command = 0;
        maps = 0;
        int length = msg.Length >= 4 ? BinaryPrimitives.ReadUInt16BigEndian(msg[2..]) : 0;
        if (length != msg.Length || length < ModHeader || (length - ModHeader) % MapSize != 0)
        {
            error = Ofp13Error.BadLength;
            return false;
        }
        command = BinaryPrimitives.ReadUInt16BigEndian(msg[16..]);
        maps = (length - ModHeader) / MapSize;
        if (command > Clear) return Refuse(BadCommandCode, out error);
        for (var m = msg[ModHeader..]; !m.IsEmpty; m = m[MapSize..])
        {
            if (m[3] % 4 != 0 || m[3] > MaxOptionSize) return Refuse(BadOptLenCode, out error);
            if (BinaryPrimitives.ReadUInt16BigEndian(m[4..]) >= FieldCount) return Refuse(BadFieldIdxCode, out error);
        }
        error = default;
        return true;
    }

    /// <summary>The NXTTMFC_* error <paramref name="code"/> (an experimenter error of Nicira's, NX1.2+).</summary>
    public static Ofp13Error NxError(ushort code) => new(Ofp13ErrorType.Experimenter, code);

    private static bool Refuse(ushort code, out Ofp13Error error)
    {
        error = NxError(code);
        return false;
    }

    /// <summary>The REPLY of an empty table that can hold nothing, answering a REQUEST of <paramref name="xid"/>.</summary>
    public static byte[] EmptyReply(byte version, uint xid)
    {
        var w = new Ofp13Writer(32);
        int start = w.Begin(version, Ofp13Type.Experimenter, xid);
        w.U32(Nicira);
        w.U32(ReplySubtype);
        w.U32(0);      // max_option_space
        w.U16(0);      // max_fields
        w.Zeros(10);
        w.Finish(start);
        return w.ToArray();
    }
}
