using Softswitch.OfWire.Of13;

namespace Softswitch.OfWire.Of14;

/// <summary>
/// The messages OpenFlow 1.4 lays out anew (1.4.1 section 7; 1.5 keeps them): PORT_STATUS with a 1.4 port, PORT_MOD
/// and TABLE_MOD with properties, SET_ASYNC and GET_ASYNC_REPLY as properties, ROLE_STATUS. The requests decode in
/// the codec's one shape (<see cref="Ofp13Messages"/>): an instance <c>TryDecode(msg, out error)</c> that fills the
/// value from the whole message and keeps its version and xid, and <c>Encode()</c> that writes it back in that version.
/// </summary>
/// <remarks>
/// Decoders take versions 1.4 and 1.5 only (<see cref="Serves"/>; 1.3's layouts of the same types are the Of13
/// codec's), never throw and never read outside the message. A length that does not fit the fixed part is
/// BAD_REQUEST/BAD_LEN, a property whose length does not fit BAD_PROPERTY/BAD_LEN, a property type the message does not
/// define BAD_PROPERTY/BAD_TYPE (SET_ASYNC: ASYNC_CONFIG_FAILED/UNSUPPORTED; TABLE_MOD: BAD_REQUEST/BAD_TYPE), as Open
/// vSwitch's decoders answer them.
/// </remarks>
public static class Ofp14Messages
{
    /// <summary>Whether these layouts serve <paramref name="version"/>: OpenFlow 1.4 (0x05) and 1.5 (0x06).</summary>
    public static bool Serves(byte version) => version is Ofp13.Version14 or Ofp13.LastVersion;

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |  ofp_header (8): version 1.4 or 1.5 (Ofp13Messages.TryHeader) |   0
    // +---------------------------------------------------------------+
    /// <summary>As <see cref="Ofp13Messages"/>' header check, for versions 1.4 and 1.5.</summary>
    internal static bool TryHeader(ReadOnlySpan<byte> msg, int size, bool exact, out byte version, out uint xid, out Ofp13Error error)
        => Ofp13Messages.TryHeader(msg, size, exact, Ofp13.Version14, out version, out xid, out error);

    internal static void CheckVersion(byte version)
    {
        if (!Serves(version)) throw new ArgumentOutOfRangeException(nameof(version), version, "not a version of the OpenFlow 1.4 layouts (0x05 or 0x06)");
    }

    /// <summary>OFPTR_VACANCY_DOWN and OFPTR_VACANCY_UP, TABLE_STATUS's reasons (and their bits in the async configuration's table-status masks).</summary>
    public const byte TableReasonVacancyDown = 3, TableReasonVacancyUp = 4;

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |                         ofp_header (8)                        |   0
    // +---------------+-----------------------------------------------+
    // |     reason    |                      pad                      |   8
    // +---------------+-----------------------------------------------+
    // |             ofp_table_desc (8 + properties, Ofp14TableDesc)   |  16
    // +---------------------------------------------------------------+
    /// <summary>OFPT_TABLE_STATUS: the reason (<see cref="TableReasonVacancyDown"/>, <see cref="TableReasonVacancyUp"/>), 7 pad bytes, the table's description.</summary>
    public static byte[] TableStatus(byte version, uint xid, byte reason, in Ofp14TableDesc table)
    {
        CheckVersion(version);
        var w = new Ofp13Writer(16 + table.Size);
        int start = w.Begin(version, Ofp13Type.TableStatus, xid);
        w.U8(reason); w.Zeros(7);
        table.Write(w);
        w.Finish(start);
        return w.ToArray();
    }

    /// <summary>OFPT_PORT_STATUS: the reason, 7 pad bytes, a 1.4 port (<see cref="Ofp14PortDesc"/>): 88 bytes.</summary>
    public static byte[] PortStatus(byte version, uint xid, byte reason, in Ofp13Port port)
    {
        CheckVersion(version);
        var w = new Ofp13Writer(16 + Ofp14PortDesc.Size);
        int start = w.Begin(version, Ofp13Type.PortStatus, xid);
        w.U8(reason); w.Zeros(7);
        new Ofp14PortDesc(port).Write(w);
        w.Finish(start);
        return w.ToArray();
    }
}

/// <summary>OFPT_PORT_MOD of OpenFlow 1.4 and 1.5: 32 fixed bytes and properties, of which OFPPMPT_ETHERNET carries what to advertise.</summary>
public struct Ofp14PortMod
{
    public const int FixedSize = 32, EthernetSize = 8;

    public byte Version;
    public uint Xid, PortNo, Config, Mask;
    /// <summary>A 48-bit MAC address in the low bits.</summary>
    public ulong HwAddr;
    /// <summary>The Ethernet property's advertise bits; null when the message has no Ethernet property (advertise nothing new).</summary>
    public uint? Advertise;

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |                         ofp_header (8)                        |   0
    // +---------------------------------------------------------------+
    // |                            port_no                            |   8
    // +---------------------------------------------------------------+
    // |                              pad                              |  12
    // +---------------------------------------------------------------+
    // |                          hw_addr (6)                          |  16
    // +-------------------------------+-------------------------------+
    // |                               |              pad              |  20
    // +---------------------------------------------------------------+
    // |                             config                            |  24
    // +---------------------------------------------------------------+
    // |                              mask                             |  28
    // +-------------------------------+-------------------------------+
    // |    type: OFPPMPT_ETHERNET     |           length: 8           |  32
    // +-------------------------------+-------------------------------+
    // |                           advertise                           |  36
    // +---------------------------------------------------------------+
    public bool TryDecode(ReadOnlySpan<byte> msg, out Ofp13Error error)
    {
        this = default;
        if (!Ofp14Messages.TryHeader(msg, FixedSize, exact: false, out Version, out Xid, out error)) return false;
        PortNo = Be.U32(msg, 8);
        HwAddr = Be.Mac(msg, 16);
        Config = Be.U32(msg, 24);
        Mask = Be.U32(msg, 28);
        uint? advertise = null;
        bool ok = Ofp14Props.TryWalk(msg[FixedSize..], (ushort type, ReadOnlySpan<byte> p, out Ofp13Error e) =>
        {
            e = default;
            if (type != Ofp14Props.Ethernet) return Ofp14Props.BadType(out e);
            if (p.Length != EthernetSize) return Ofp14Props.BadLen(out e);
            advertise = Be.U32(p, 4);
            return true;
        }, out error);
        Advertise = advertise;
        return ok;
    }

    public readonly byte[] Encode()
    {
        var w = new Ofp13Writer(FixedSize + EthernetSize);
        int start = w.Begin(Version, Ofp13Type.PortMod, Xid);
        w.U32(PortNo); w.Zeros(4); w.Mac(HwAddr); w.Zeros(2); w.U32(Config); w.U32(Mask);
        if (Advertise is { } a) { w.U16(Ofp14Props.Ethernet); w.U16(EthernetSize); w.U32(a); }
        w.Finish(start);
        return w.ToArray();
    }
}

/// <summary>
/// OFPT_TABLE_MOD of OpenFlow 1.4 and 1.5: 1.3's 16 bytes and properties, OFPTMPT_EVICTION (flags) and OFPTMPT_VACANCY
/// (down and up thresholds, in percent).
/// </summary>
public struct Ofp14TableMod
{
    public const int FixedSize = 16, PropertySize = 8;

    /// <summary>OFPTC_EVICTION and OFPTC_VACANCY_EVENTS, the config bits OpenFlow 1.4 adds.</summary>
    public const uint ConfigEviction = 1u << 2, ConfigVacancyEvents = 1u << 3;

    public byte Version, TableId;
    public uint Xid, Config;
    /// <summary>The eviction property's flags (OFPTMPEF_*), null without one.</summary>
    public uint? EvictionFlags;
    /// <summary>The vacancy property's thresholds, null without one.</summary>
    public (byte Down, byte Up)? Vacancy;

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |                         ofp_header (8)                        |   0
    // +---------------+-----------------------------------------------+
    // |    table_id   |                      pad                      |   8
    // +---------------+-----------------------------------------------+
    // |                             config                            |  12
    // +-------------------------------+-------------------------------+
    // |    type: OFPTMPT_EVICTION     |           length: 8           |  16
    // +-------------------------------+-------------------------------+
    // |                             flags                             |  20
    // +-------------------------------+---------------+---------------+
    // |     type: OFPTMPT_VACANCY     |           length: 8           |  24
    // +---------------+---------------+---------------+---------------+
    // | vacancy_down  |  vacancy_up   |    vacancy    |      pad      |  28
    // +---------------+---------------+---------------+---------------+
    public bool TryDecode(ReadOnlySpan<byte> msg, out Ofp13Error error)
    {
        this = default;
        if (!Ofp14Messages.TryHeader(msg, FixedSize, exact: false, out Version, out Xid, out error)) return false;
        TableId = msg[8];
        Config = Be.U32(msg, 12);
        uint? eviction = null;
        (byte, byte)? vacancy = null;
        bool ok = Ofp14Props.TryWalk(msg[FixedSize..], (ushort type, ReadOnlySpan<byte> p, out Ofp13Error e) =>
        {
            e = default;
            switch (type)
            {
                case Ofp14Props.TableEviction:
                    if (p.Length != PropertySize) return Ofp14Props.BadLen(out e);
                    eviction = Be.U32(p, 4);
                    return true;
                case Ofp14Props.TableVacancy:
                    if (p.Length != PropertySize) return Ofp14Props.BadLen(out e);
                    // Open vSwitch's parse_table_mod_vacancy_property: down above up, either above 100, or a vacancy other
                    // than 0 (a table-mod sets no vacancy), is BAD_VALUE.
                    if (p[4] > p[5] || p[5] > 100 || p[6] != 0)
                    {
                        e = new Ofp13Error(Ofp13ErrorType.BadProperty, Ofp13Codes.PropBadValue);
                        return false;
                    }
                    vacancy = (p[4], p[5]);
                    return true;
                default:
                    // Open vSwitch answers an unknown table-mod property with BAD_REQUEST/BAD_TYPE.
                    e = Ofp13Error.BadRequest(Ofp13Codes.BadType);
                    return false;
            }
        }, out error);
        EvictionFlags = eviction;
        Vacancy = vacancy;
        return ok;
    }

    public readonly byte[] Encode()
    {
        var w = new Ofp13Writer(FixedSize + 2 * PropertySize);
        int start = w.Begin(Version, Ofp13Type.TableMod, Xid);
        w.U8(TableId); w.Zeros(3); w.U32(Config);
        if (EvictionFlags is { } f) { w.U16(Ofp14Props.TableEviction); w.U16(PropertySize); w.U32(f); }
        if (Vacancy is { } v) { w.U16(Ofp14Props.TableVacancy); w.U16(PropertySize); w.U8(v.Down); w.U8(v.Up); w.Zeros(2); }
        w.Finish(start);
        return w.ToArray();
    }
}

/// <summary>OFPACPT_*: the asynchronous configuration's property types, a slave's and a master's mask of each kind.</summary>
public enum Ofp14AsyncProp : ushort
{
    PacketInSlave = 0, PacketInMaster = 1, PortStatusSlave = 2, PortStatusMaster = 3, FlowRemovedSlave = 4, FlowRemovedMaster = 5,
    RoleStatusSlave = 6, RoleStatusMaster = 7, TableStatusSlave = 8, TableStatusMaster = 9, RequestForwardSlave = 10, RequestForwardMaster = 11,
    /// <summary>OpenFlow 1.5's controller-status masks (OFPACPT_CONT_STATUS_SLAVE and _MASTER; 12 and 13, flow statistics, are not taken).</summary>
    ContStatusSlave = 14, ContStatusMaster = 15,
}

/// <summary>
/// OFPT_SET_ASYNC and OFPT_GET_ASYNC_REPLY of OpenFlow 1.4 and 1.5: a list of OFPACPT_* properties, each one mask. A
/// SET_ASYNC changes the masks it names and leaves the others (<see cref="Present"/>); a GET_ASYNC_REPLY names all.
/// </summary>
public sealed class Ofp14AsyncConfig
{
    /// <summary>The property types 0..15 (1.4's 0..11; 14 and 15 in 1.5 only).</summary>
    public const int Count = 16, PropertySize = 8;

    /// <summary>
    /// The reasons each kind's mask may hold (OpenFlow 1.4.1 section 7.3.10, 1.5.1's): OFPR_*, OFPPR_*, OFPRR_*, OFPCRR_*,
    /// OFPTR_VACANCY_*, OFPRFR_*, then (1.5) OFPCSR_*; 0 for a type not taken (1.5's flow-statistics masks).
    /// </summary>
    private static readonly uint[] s_valid = [0x3f, 0x3f, 0x7, 0x7, 0x3f, 0x3f, 0x7, 0x7, 0x18, 0x18, 0x3, 0x3, 0, 0, 0x7f, 0x7f];

    private const byte Ofp15Version = 6;

    public byte Version = Ofp13.Version14;
    public uint Xid;
    /// <summary>The message type: SET_ASYNC or GET_ASYNC_REPLY (one layout).</summary>
    public Ofp13Type Type = Ofp13Type.SetAsync;
    /// <summary>Each property type's mask, by <see cref="Ofp14AsyncProp"/>.</summary>
    public readonly uint[] Masks = new uint[Count];
    /// <summary>The bit of each property type the message names.</summary>
    public uint Present;

    public uint this[Ofp14AsyncProp p] => Masks[(int)p];

    /// <summary>Names property <paramref name="p"/> with <paramref name="mask"/>.</summary>
    public void Set(Ofp14AsyncProp p, uint mask)
    {
        Masks[(int)p] = mask;
        Present |= 1u << (int)p;
    }

    public bool Has(Ofp14AsyncProp p) => (Present & (1u << (int)p)) != 0;

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |                         ofp_header (8)                        |   0
    // +-------------------------------+-------------------------------+
    // |        type: OFPACPT_*        |           length: 8           |   8
    // +-------------------------------+-------------------------------+
    // |                              mask                             |  12
    // +---------------------------------------------------------------+
    // |                  further properties (to length)               |  16
    // +---------------------------------------------------------------+
    /// <summary>
    /// Decodes a whole SET_ASYNC or GET_ASYNC_REPLY (cleared first). As Open vSwitch's
    /// ofputil_decode_set_async_config: a property of no OFPACPT_* type the switch takes (experimenters, 1.5's
    /// flow-statistics masks, and the controller-status masks before 1.5, included) is ASYNC_CONFIG_FAILED/UNSUPPORTED, a mask with a bit its kind does not define ASYNC_CONFIG_FAILED/INVALID, a length
    /// other than 8 BAD_PROPERTY/BAD_LEN; a type named twice takes the last.
    /// </summary>
    public bool TryDecode(ReadOnlySpan<byte> msg, out Ofp13Error error)
    {
        Array.Clear(Masks);
        Present = 0;
        Xid = 0;
        if (!Ofp14Messages.TryHeader(msg, Ofp13Messages.HeaderSize, exact: false, out Version, out Xid, out error)) return false;
        Type = (Ofp13Type)msg[1];
        return TryDecodeProperties(msg[Ofp13Messages.HeaderSize..], Version, out error);
    }

    //  0                   1                   2                   3
    // +-------------------------------+-------------------------------+
    // |        type: OFPACPT_*        |           length: 8           |   0
    // +-------------------------------+-------------------------------+
    // |                              mask                             |   4
    // +---------------------------------------------------------------+
    // |                further properties (to the end)                |   8
    // +---------------------------------------------------------------+
    /// <summary>
    /// The property list of an asynchronous configuration in <paramref name="version"/> (cleared first; what
    /// <see cref="TryDecode"/> reads after the header, and Open vSwitch's NXT_SET_ASYNC_CONFIG2 after its own), with its
    /// refusals. Before 1.4 a packet-in mask may hold OFPR_NO_MATCH, OFPR_ACTION and OFPR_INVALID_TTL only (Open vSwitch's
    /// OFPR10_BITS: a bit past them is INVALID).
    /// </summary>
    public bool TryDecodeProperties(ReadOnlySpan<byte> properties, byte version, out Ofp13Error error)
    {
        Array.Clear(Masks);
        Present = 0;
        var masks = Masks;
        uint present = 0;
        bool ok = Ofp14Props.TryWalk(properties, (ushort type, ReadOnlySpan<byte> p, out Ofp13Error e) =>
        {
            e = default;
            if (type >= Count || s_valid[type] == 0 || (type >= (ushort)Ofp14AsyncProp.ContStatusSlave && version != Ofp15Version))
            {
                e = new Ofp13Error(Ofp13ErrorType.AsyncConfigFailed, Ofp13Codes.AsyncUnsupported);
                return false;
            }
            if (p.Length != PropertySize) return Ofp14Props.BadLen(out e);
            uint mask = Be.U32(p, 4);
            uint valid = type <= (ushort)Ofp14AsyncProp.PacketInMaster && version < Ofp13.Version14 ? PacketInValid10 : s_valid[type];
            if ((mask & ~valid) != 0)
            {
                e = new Ofp13Error(Ofp13ErrorType.AsyncConfigFailed, Ofp13Codes.AsyncInvalid);
                return false;
            }
            masks[type] = mask;
            present |= 1u << type;
            return true;
        }, out error);
        Present = present;
        return ok;
    }

    /// <summary>OFPR_NO_MATCH, OFPR_ACTION and OFPR_INVALID_TTL: a packet-in mask's reasons before 1.4.</summary>
    private const uint PacketInValid10 = 0x7;

    /// <summary>The message, with the properties <see cref="Present"/> names, in type order.</summary>
    public byte[] Encode()
    {
        var w = new Ofp13Writer(Ofp13Messages.HeaderSize + Count * PropertySize);
        int start = w.Begin(Version, Type, Xid);
        WriteProperties(w);
        w.Finish(start);
        return w.ToArray();
    }

    /// <summary>Writes the properties <see cref="Present"/> names, in type order (after a message's head).</summary>
    public void WriteProperties(Ofp13Writer w)
    {
        for (int t = 0; t < Count; t++)
        {
            if ((Present & (1u << t)) == 0) continue;
            w.U16((ushort)t); w.U16(PropertySize); w.U32(Masks[t]);
        }
    }
}

/// <summary>
/// OFPT_ROLE_STATUS (OpenFlow 1.4 and 1.5): a controller's new role, why (OFPCRR_MASTER_REQUEST: another controller
/// became master; OFPCRR_CONFIG), and the generation id. The switch sends it, unasked.
/// </summary>
public struct Ofp14RoleStatus
{
    public const int Size = 24;

    /// <summary>OFPCRR_MASTER_REQUEST and OFPCRR_CONFIG.</summary>
    public const byte ReasonMasterRequest = 0, ReasonConfig = 1;

    public byte Version, Reason;
    public uint Xid, Role;
    public ulong GenerationId;

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |                         ofp_header (8)                        |   0
    // +---------------------------------------------------------------+
    // |                              role                             |   8
    // +---------------+-----------------------------------------------+
    // |     reason    |                      pad                      |  12
    // +---------------+-----------------------------------------------+
    // |                       generation_id (8)                       |  16
    // +---------------------------------------------------------------+
    // |               properties (to length, skipped)                 |  24
    // +---------------------------------------------------------------+
    public bool TryDecode(ReadOnlySpan<byte> msg, out Ofp13Error error)
    {
        this = default;
        if (!Ofp14Messages.TryHeader(msg, Size, exact: false, out Version, out Xid, out error)) return false;
        Role = Be.U32(msg, 8);
        Reason = msg[12];
        GenerationId = Be.U64(msg, 16);
        return Ofp14Props.TryWalk(msg[Size..], static (ushort _, ReadOnlySpan<byte> _, out Ofp13Error e) => { e = default; return true; }, out error);
    }

    public readonly byte[] Encode()
    {
        var w = new Ofp13Writer(Size);
        int start = w.Begin(Version, Ofp13Type.RoleStatus, Xid);
        w.U32(Role); w.U8(Reason); w.Zeros(3); w.U64(GenerationId);
        w.Finish(start);
        return w.ToArray();
    }
}
