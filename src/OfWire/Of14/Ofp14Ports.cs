using Softswitch.OfWire.Of13;

// OpenFlow 1.4.1 (ONF TS-024) layouts that differ from 1.3's: the port description and the port and queue statistics
// carry their counters and Ethernet features in properties after a shorter fixed part. OpenFlow 1.5 keeps these.
// Everything else of 1.4 and 1.5 that 1.3 lays out the same is the Of13 codec's, written in the caller's version.
namespace Softswitch.OfWire.Of14;

/// <summary>OpenFlow 1.4 property type numbers of the port, port-mod and statistics properties the switch reads and writes.</summary>
public static class Ofp14Props
{
    /// <summary>OFPPDPT_ETHERNET, OFPPMPT_ETHERNET, OFPPSPT_ETHERNET: the Ethernet property of a port, a port-mod, port statistics.</summary>
    public const ushort Ethernet = 0;

    /// <summary>OFPQDPT_MIN_RATE and OFPQDPT_MAX_RATE: a queue's rates, in tenths of a percent.</summary>
    public const ushort QueueMinRate = 1, QueueMaxRate = 2;

    /// <summary>OFPTMPT_EVICTION and OFPTMPT_VACANCY: a table-mod's and table description's properties.</summary>
    public const ushort TableEviction = 2, TableVacancy = 3;

    /// <summary>The first experimenter property type (0xfffe in async configuration, 0xffff elsewhere).</summary>
    public const ushort ExperimenterMin = 0xfffe;

    //  0                   1                   2                   3
    // +-------------------------------+-------------------------------+
    // |              type             |  length (from type, unpadded) |   0
    // +-------------------------------+-------------------------------+
    // |                       body (length - 4)                       |   4
    // +---------------------------------------------------------------+
    // |                   pad to a multiple of 8                      | len
    // +---------------------------------------------------------------+
    // |       further properties, from length rounded up to 8         |
    // +---------------------------------------------------------------+
    /// <summary>
    /// Walks the properties in <paramref name="s"/> (each a type, a length of at least 4 counting its header, padded to
    /// 8): calls <paramref name="each"/> with its type and its bytes (header included, padding excluded); false with
    /// BAD_PROPERTY/BAD_LEN when a length does not fit, or with what <paramref name="each"/> refused.
    /// </summary>
    public static bool TryWalk(ReadOnlySpan<byte> s, PropertyReader each, out Ofp13Error error)
    {
        error = default;
        while (!s.IsEmpty)
        {
            if (s.Length < 4) return BadLen(out error);
            int len = Be.U16(s, 2);
            int padded = (len + 7) & ~7;
            if (len < 4 || padded > s.Length) return BadLen(out error);
            if (!each(Be.U16(s, 0), s[..len], out error)) return false;
            s = s[padded..];
        }
        return true;
    }

    /// <summary>One property for <see cref="TryWalk"/>: false with the error that refuses it.</summary>
    public delegate bool PropertyReader(ushort type, ReadOnlySpan<byte> property, out Ofp13Error error);

    /// <summary>BAD_PROPERTY/BAD_LEN.</summary>
    public static bool BadLen(out Ofp13Error error)
    {
        error = new Ofp13Error(Ofp13ErrorType.BadProperty, Ofp13Codes.PropBadLen);
        return false;
    }

    /// <summary>BAD_PROPERTY/BAD_TYPE: a property type the message does not define (Open vSwitch's OFPPROP_UNKNOWN).</summary>
    public static bool BadType(out Ofp13Error error)
    {
        error = new Ofp13Error(Ofp13ErrorType.BadProperty, Ofp13Codes.PropBadType);
        return false;
    }
}

/// <summary>
/// An ofp_port of OpenFlow 1.4 and 1.5 (40 bytes and an OFPPDPT_ETHERNET property of 32: 72), holding what 1.3's
/// 64-byte ofp_port holds (<see cref="Ofp13Port"/>). Used in PORT_DESC and PORT_STATUS.
/// </summary>
public readonly record struct Ofp14PortDesc(Ofp13Port Port) : IOfp13Entry<Ofp14PortDesc>
{
    /// <summary>The fixed part and the Ethernet property.</summary>
    public const int FixedSize = 40, EthernetSize = 32, Size = FixedSize + EthernetSize;

    public void Write(Ofp13Writer w)
    {
        var p = Port;
        w.U32(p.PortNo); w.U16(Size); w.Zeros(2); w.Mac(p.HwAddr); w.Zeros(2); w.FixedString(p.Name, Ofp13.MaxPortNameLen);
        w.U32(p.Config); w.U32(p.State);
        w.U16(Ofp14Props.Ethernet); w.U16(EthernetSize); w.Zeros(4);
        w.U32(p.Curr); w.U32(p.Advertised); w.U32(p.Supported); w.U32(p.Peer); w.U32(p.CurrSpeed); w.U32(p.MaxSpeed);
    }

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |                            port_no                            |   0
    // +-------------------------------+-------------------------------+
    // |             length            |              pad              |   4
    // +-------------------------------+-------------------------------+
    // |                          hw_addr (6)                          |   8
    // +-------------------------------+-------------------------------+
    // |                               |              pad              |  12
    // +---------------------------------------------------------------+
    // |                           name (16)                           |  16
    // +---------------------------------------------------------------+
    // |                             config                            |  32
    // +---------------------------------------------------------------+
    // |                             state                             |  36
    // +-------------------------------+-------------------------------+
    // |    type: OFPPDPT_ETHERNET     |          length: 32           |  40
    // +-------------------------------+-------------------------------+
    // |                              pad                              |  44
    // +---------------------------------------------------------------+
    // | curr, advertised, supported, peer, curr_/max_speed (4 each)   |  48
    // +---------------------------------------------------------------+
    // |                  further properties (to length)               |  72
    // +---------------------------------------------------------------+
    /// <summary>
    /// Reads a port whose length covers its properties; the Ethernet property gives the features (a port without one
    /// has none), other property types (optical, experimenter) are skipped. False when a length does not fit.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> s, out Ofp14PortDesc entry, out int size)
    {
        entry = default;
        size = 0;
        if (s.Length < FixedSize) return false;
        size = Be.U16(s, 4);
        if (size < FixedSize || size > s.Length || (size & 7) != 0) return false;
        uint curr = 0, advertised = 0, supported = 0, peer = 0, currSpeed = 0, maxSpeed = 0;
        bool bad = false, seen = false;
        bool ok = Ofp14Props.TryWalk(s[FixedSize..size], (ushort type, ReadOnlySpan<byte> p, out Ofp13Error e) =>
        {
            e = default;
            if (type != Ofp14Props.Ethernet) return true;
            if (p.Length != EthernetSize || seen) { bad = true; return Ofp14Props.BadLen(out e); }
            seen = true;
            (curr, advertised, supported, peer, currSpeed, maxSpeed) = (Be.U32(p, 8), Be.U32(p, 12), Be.U32(p, 16), Be.U32(p, 20), Be.U32(p, 24), Be.U32(p, 28));
            return true;
        }, out _);
        if (!ok || bad) return false;
        entry = new(new Ofp13Port(Be.U32(s, 0), Be.Mac(s, 8), Ofp13Entries.ReadFixedString(s.Slice(16, Ofp13.MaxPortNameLen)), Be.U32(s, 32), Be.U32(s, 36),
                                  curr, advertised, supported, peer, currSpeed, maxSpeed));
        return true;
    }
}

/// <summary>
/// OFPMP_PORT_STATS's entry in OpenFlow 1.4 and 1.5: 80 fixed bytes (the duration moved before the counters) and an
/// OFPPSPT_ETHERNET property of 40 with the Ethernet error counters: 120. Holds 1.3's fields (<see cref="Ofp13PortStats"/>).
/// </summary>
public readonly record struct Ofp14PortStats(Ofp13PortStats Stats) : IOfp13Entry<Ofp14PortStats>
{
    public const int FixedSize = 80, EthernetSize = 40, Size = FixedSize + EthernetSize;

    public void Write(Ofp13Writer w)
    {
        var s = Stats;
        w.U16(Size); w.Zeros(2); w.U32(s.PortNo); w.U32(s.DurationSec); w.U32(s.DurationNsec);
        w.U64(s.RxPackets); w.U64(s.TxPackets); w.U64(s.RxBytes); w.U64(s.TxBytes); w.U64(s.RxDropped); w.U64(s.TxDropped);
        w.U64(s.RxErrors); w.U64(s.TxErrors);
        w.U16(Ofp14Props.Ethernet); w.U16(EthernetSize); w.Zeros(4);
        w.U64(s.RxFrameErrors); w.U64(s.RxOverErrors); w.U64(s.RxCrcErrors); w.U64(s.Collisions);
    }

    //  0                   1                   2                   3
    // +-------------------------------+-------------------------------+
    // |             length            |              pad              |   0
    // +-------------------------------+-------------------------------+
    // |                            port_no                            |   4
    // +---------------------------------------------------------------+
    // |                          duration_sec                         |   8
    // +---------------------------------------------------------------+
    // |                         duration_nsec                         |  12
    // +---------------------------------------------------------------+
    // |      rx_packets, tx_packets, rx_bytes, tx_bytes (8 each)      |  16
    // +---------------------------------------------------------------+
    // |     rx_dropped, tx_dropped, rx_errors, tx_errors (8 each)     |  48
    // +-------------------------------+-------------------------------+
    // |    type: OFPPSPT_ETHERNET     |          length: 40           |  80
    // +-------------------------------+-------------------------------+
    // |                              pad                              |  84
    // +---------------------------------------------------------------+
    // |   rx_frame_err, rx_over_err, rx_crc_err, collisions (8 each)  |  88
    // +---------------------------------------------------------------+
    // |                  further properties (to length)               | 120
    // +---------------------------------------------------------------+
    public static bool TryRead(ReadOnlySpan<byte> s, out Ofp14PortStats entry, out int size)
    {
        entry = default;
        size = 0;
        if (s.Length < FixedSize) return false;
        size = Be.U16(s, 0);
        if (size < FixedSize || size > s.Length || (size & 7) != 0) return false;
        ulong frame = 0, over = 0, crc = 0, collisions = 0;
        bool bad = false, seen = false;
        bool ok = Ofp14Props.TryWalk(s[FixedSize..size], (ushort type, ReadOnlySpan<byte> p, out Ofp13Error e) =>
        {
            e = default;
            if (type != Ofp14Props.Ethernet) return true;
            if (p.Length != EthernetSize || seen) { bad = true; return Ofp14Props.BadLen(out e); }
            seen = true;
            (frame, over, crc, collisions) = (Be.U64(p, 8), Be.U64(p, 16), Be.U64(p, 24), Be.U64(p, 32));
            return true;
        }, out _);
        if (!ok || bad) return false;
        entry = new(new Ofp13PortStats(Be.U32(s, 4), Be.U64(s, 16), Be.U64(s, 24), Be.U64(s, 32), Be.U64(s, 40), Be.U64(s, 48), Be.U64(s, 56),
                                       Be.U64(s, 64), Be.U64(s, 72), frame, over, crc, collisions, Be.U32(s, 8), Be.U32(s, 12)));
        return true;
    }
}

/// <summary>OFPMP_QUEUE_STATS's entry in OpenFlow 1.4 and 1.5: a length and 1.3's fields (<see cref="Ofp13QueueStats"/>), 48 bytes, no property.</summary>
public readonly record struct Ofp14QueueStats(Ofp13QueueStats Stats) : IOfp13Entry<Ofp14QueueStats>
{
    public const int Size = 48;

    public void Write(Ofp13Writer w)
    {
        var s = Stats;
        w.U16(Size); w.Zeros(6); w.U32(s.PortNo); w.U32(s.QueueId); w.U64(s.TxBytes); w.U64(s.TxPackets); w.U64(s.TxErrors);
        w.U32(s.DurationSec); w.U32(s.DurationNsec);
    }

    //  0                   1                   2                   3
    // +-------------------------------+-------------------------------+
    // |             length            |              pad              |   0
    // +-------------------------------+-------------------------------+
    // |                              pad                              |   4
    // +---------------------------------------------------------------+
    // |                            port_no                            |   8
    // +---------------------------------------------------------------+
    // |                            queue_id                           |  12
    // +---------------------------------------------------------------+
    // |            tx_bytes, tx_packets, tx_errors (8 each)           |  16
    // +---------------------------------------------------------------+
    // |                          duration_sec                         |  40
    // +---------------------------------------------------------------+
    // |                         duration_nsec                         |  44
    // +---------------------------------------------------------------+
    // |                  properties (to length, skipped)              |  48
    // +---------------------------------------------------------------+
    public static bool TryRead(ReadOnlySpan<byte> s, out Ofp14QueueStats entry, out int size)
    {
        entry = default;
        size = 0;
        if (s.Length < Size) return false;
        size = Be.U16(s, 0);
        if (size < Size || size > s.Length || (size & 7) != 0) return false;
        if (!Ofp14Props.TryWalk(s[Size..size], static (ushort _, ReadOnlySpan<byte> _, out Ofp13Error e) => { e = default; return true; }, out _)) return false;
        entry = new(new Ofp13QueueStats(Be.U32(s, 8), Be.U32(s, 12), Be.U64(s, 16), Be.U64(s, 24), Be.U64(s, 32), Be.U32(s, 40), Be.U32(s, 44)));
        return true;
    }
}

/// <summary>
/// OFPMP_QUEUE_DESC's entry (OpenFlow 1.4 and 1.5, which ask it in place of 1.3's QUEUE_GET_CONFIG): a queue of a port
/// with its OFPQDPT_MIN_RATE and OFPQDPT_MAX_RATE properties (tenths of a percent) when it has them.
/// </summary>
public readonly record struct Ofp14QueueDesc(uint PortNo, uint QueueId, ushort? MinRate, ushort? MaxRate) : IOfp13Entry<Ofp14QueueDesc>
{
    public const int FixedSize = 16, RateSize = 8;

    public void Write(Ofp13Writer w)
    {
        int len = FixedSize + (MinRate is null ? 0 : RateSize) + (MaxRate is null ? 0 : RateSize);
        w.U32(PortNo); w.U32(QueueId); w.U16((ushort)len); w.Zeros(6);
        if (MinRate is { } min) { w.U16(Ofp14Props.QueueMinRate); w.U16(RateSize); w.U16(min); w.Zeros(2); }
        if (MaxRate is { } max) { w.U16(Ofp14Props.QueueMaxRate); w.U16(RateSize); w.U16(max); w.Zeros(2); }
    }

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |                            port_no                            |   0
    // +---------------------------------------------------------------+
    // |                            queue_id                           |   4
    // +-------------------------------+-------------------------------+
    // |              len              |              pad              |   8
    // +-------------------------------+-------------------------------+
    // |                              pad                              |  12
    // +-------------------------------+-------------------------------+
    // |  type: MIN_RATE or MAX_RATE   |           length: 8           |  16
    // +-------------------------------+-------------------------------+
    // |              rate             |              pad              |  20
    // +-------------------------------+-------------------------------+
    public static bool TryRead(ReadOnlySpan<byte> s, out Ofp14QueueDesc entry, out int size)
    {
        entry = default;
        size = 0;
        if (s.Length < FixedSize) return false;
        size = Be.U16(s, 8);
        if (size < FixedSize || size > s.Length || (size & 7) != 0) return false;
        ushort? min = null, max = null;
        bool ok = Ofp14Props.TryWalk(s[FixedSize..size], (ushort type, ReadOnlySpan<byte> p, out Ofp13Error e) =>
        {
            e = default;
            if (type is not (Ofp14Props.QueueMinRate or Ofp14Props.QueueMaxRate)) return true;
            if (p.Length != RateSize || (type == Ofp14Props.QueueMinRate ? min : max) is not null) return Ofp14Props.BadLen(out e);
            if (type == Ofp14Props.QueueMinRate) min = Be.U16(p, 4);
            else max = Be.U16(p, 4);
            return true;
        }, out _);
        if (!ok) return false;
        entry = new(Be.U32(s, 0), Be.U32(s, 4), min, max);
        return true;
    }
}

/// <summary>
/// OFPMP_TABLE_DESC's entry (OpenFlow 1.4 and 1.5), also TABLE_STATUS's body: a table's id and config
/// (OFPTC_EVICTION, OFPTC_VACANCY_EVENTS), then, as Open vSwitch's ofputil_append_table_desc_reply writes them, the
/// OFPTMPT_EVICTION property (the eviction flags) and, with vacancy events on, the OFPTMPT_VACANCY property (down and
/// up thresholds, the vacancy now).
/// </summary>
public readonly record struct Ofp14TableDesc(byte TableId, uint Config, uint? EvictionFlags = null, (byte Down, byte Up, byte Vacancy)? Vacancy = null)
    : IOfp13Entry<Ofp14TableDesc>
{
    public const int FixedSize = 8, PropertySize = 8;

    /// <summary>The entry's bytes: the fixed part and its properties.</summary>
    public int Size => FixedSize + (EvictionFlags is null ? 0 : PropertySize) + (Vacancy is null ? 0 : PropertySize);

    public void Write(Ofp13Writer w)
    {
        w.U16((ushort)Size); w.U8(TableId); w.U8(0); w.U32(Config);
        if (EvictionFlags is { } f) { w.U16(Ofp14Props.TableEviction); w.U16(PropertySize); w.U32(f); }
        if (Vacancy is { } v) { w.U16(Ofp14Props.TableVacancy); w.U16(PropertySize); w.U8(v.Down); w.U8(v.Up); w.U8(v.Vacancy); w.U8(0); }
    }

    //  0                   1                   2                   3
    // +-------------------------------+---------------+---------------+
    // |             length            |    table_id   |      pad      |   0
    // +-------------------------------+---------------+---------------+
    // |                             config                            |   4
    // +-------------------------------+-------------------------------+
    // |    type: OFPTMPT_EVICTION     |           length: 8           |   8
    // +-------------------------------+-------------------------------+
    // |                             flags                             |  12
    // +-------------------------------+---------------+---------------+
    // |     type: OFPTMPT_VACANCY     |           length: 8           |  16
    // +---------------+---------------+---------------+---------------+
    // | vacancy_down  |  vacancy_up   |    vacancy    |      pad      |  20
    // +---------------+---------------+---------------+---------------+
    // (each property optional; others are skipped)
    public static bool TryRead(ReadOnlySpan<byte> s, out Ofp14TableDesc entry, out int size)
    {
        entry = default;
        size = 0;
        if (s.Length < FixedSize) return false;
        size = Be.U16(s, 0);
        if (size < FixedSize || size > s.Length || (size & 7) != 0) return false;
        uint? eviction = null;
        (byte, byte, byte)? vacancy = null;
        bool ok = Ofp14Props.TryWalk(s[FixedSize..size], (ushort type, ReadOnlySpan<byte> p, out Ofp13Error e) =>
        {
            e = default;
            if (type is not (Ofp14Props.TableEviction or Ofp14Props.TableVacancy)) return true;
            if (p.Length != PropertySize) return Ofp14Props.BadLen(out e);
            if (type == Ofp14Props.TableEviction) eviction = Be.U32(p, 4);
            else vacancy = (p[4], p[5], p[6]);
            return true;
        }, out _);
        if (!ok) return false;
        entry = new(s[2], Be.U32(s, 4), eviction, vacancy);
        return true;
    }
}

/// <summary>OFPMP_QUEUE_DESC's request body: a port (OFPP_ANY: every port) and a queue (OFPQ_ALL: every queue).</summary>
public struct Ofp14QueueDescRequest
{
    public const int Size = 8;

    public uint Port, Queue;

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |                            port_no                            |   0
    // +---------------------------------------------------------------+
    // |                            queue_id                           |   4
    // +---------------------------------------------------------------+
    public bool TryDecode(ReadOnlySpan<byte> body, out Ofp13Error error)
    {
        this = default;
        if (!Ofp13Multipart.CheckBody(body, Size, out error)) return false;
        Port = Be.U32(body, 0);
        Queue = Be.U32(body, 4);
        return true;
    }

    public readonly byte[] Encode()
    {
        var w = new Ofp13Writer(Size);
        w.U32(Port); w.U32(Queue);
        return w.ToArray();
    }
}
