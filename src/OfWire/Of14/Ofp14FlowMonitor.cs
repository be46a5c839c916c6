using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using Softswitch.OfWire.Of13;

namespace Softswitch.OfWire.Of14;

/// <summary>
/// Flow monitors on the wire (OpenFlow 1.4.1 section 7.3.5.19): OFPMP_FLOW_MONITOR's requests
/// (<see cref="Ofp14FlowMonitorRequest"/>) and updates (<see cref="Ofp14FlowUpdate"/>) in versions 1.4 and 1.5, and
/// the ONF extension Open vSwitch speaks under 1.3 (ONFST_FLOW_MONITOR, an OFPMP_EXPERIMENTER multipart of experimenter
/// 0x4f4e4600 and type 1870, with Nicira's layouts over an OXM match; ONFT_FLOW_MONITOR_CANCEL, PAUSED and RESUMED,
/// experimenter messages 1870..1872), which ovs-ofctl -O OpenFlow13 monitor sends.
/// </summary>
/// <remarks>
/// Decoders never throw and never read outside their span. As Open vSwitch's ofputil_decode_flow_monitor_request: a
/// request shorter than its 16 bytes and a match, or whose match overruns, is BAD_REQUEST/BAD_LEN, an ONF request whose
/// reserved bytes are not zero NXBRC_MUST_BE_ZERO (<see cref="MustBeZero"/>); flags of an ADD or MODIFY that ask for no event, or carry a bit the form does not define,
/// FLOW_MONITOR_FAILED/BAD_FLAGS (1.4 takes NO_ABBREV too, which the spec defines and Open vSwitch refuses); a command
/// past DELETE FLOW_MONITOR_FAILED/BAD_COMMAND.
/// </remarks>
public static class Ofp14FlowMonitor
{
    /// <summary>OFPMP_FLOW_MONITOR.</summary>
    public const Ofp13MultipartType MultipartType = (Ofp13MultipartType)16;
    /// <summary>OFPET_FLOW_MONITOR_FAILED (1.4 and later).</summary>
    public const Ofp13ErrorType ErrorType = (Ofp13ErrorType)16;
    /// <summary>OFPMOFC_* codes.</summary>
    public const ushort Unknown = 0, MonitorExists = 1, InvalidMonitor = 2, UnknownMonitor = 3, BadCommand = 4, BadFlags = 5,
        BadTableId = 6, BadOut = 7;

    /// <summary>The ONF extension's experimenter types: ONFST_FLOW_MONITOR (and ONFT_FLOW_MONITOR_CANCEL), PAUSED, RESUMED.</summary>
    public const uint OnfFlowMonitor = 1870, OnfPaused = 1871, OnfResumed = 1872;

    /// <summary>The request flags each form defines: 1.4's seven, the ONF (Nicira) form's six (its bits 4 and 5 are ACTIONS and OWN).</summary>
    public const ushort Flags14 = 0x7f, FlagsOnf = 0x3f;
    /// <summary>The event bits (ADD, REMOVED/DELETE, MODIFY), one of which a monitor must ask for.</summary>
    public const ushort EventFlags = 0x0e;

    /// <summary>
    /// An ONF request's reserved bytes not zero: Open vSwitch's NXBRC_MUST_BE_ZERO, held as this code of
    /// <see cref="ErrorType"/> (no code of 1.4's) until <see cref="Error"/> writes it as Nicira's experimenter error.
    /// </summary>
    public static Ofp13Error MustBeZero => Failed(MustBeZeroCode);
    public const ushort MustBeZeroCode = 0x8000;

    /// <summary>Nicira's vendor id, whose experimenter errors carry the flow monitor refusals under 1.3.</summary>
    public const uint NiciraExperimenter = 0x00002320;

    // OpenFlow 1.4+: ofp_error_msg, type OFPET_FLOW_MONITOR_FAILED (16), code. OpenFlow 1.3 (Open vSwitch's "NX1.2-1.3"
    // codes): ofp_error_experimenter_msg:
    // | version | 1 | length | xid |
    // | type 0xffff (16) | exp_code (16): MONITOR_EXISTS 6, BAD_FLAGS 7, UNKNOWN_MONITOR 8, MUST_BE_ZERO 4 |
    // | experimenter 0x00002320 (32)                 |
    // | data: the request's first 64 bytes ...       |
    /// <summary>
    /// The error answering <paramref name="request"/> with <paramref name="error"/> in <paramref name="version"/>'s
    /// form: a flow monitor refusal under 1.3 as Open vSwitch's Nicira experimenter error (a code it has none for as
    /// FLOW_MONITOR_FAILED's nearest 1.3 error: BAD_REQUEST/EPERM); any other error as the 1.3 codec writes it.
    /// </summary>
    public static byte[] Error(byte version, Ofp13Error error, ReadOnlySpan<byte> request)
    {
        if (error.Type != ErrorType || version >= Ofp13.Version14) return Ofp13Messages.Error(version, error, request);
        ushort nx = error.Code switch { MonitorExists => 6, BadFlags => 7, UnknownMonitor => 8, MustBeZeroCode => 4, _ => 0 };
        if (nx == 0) return Ofp13Messages.Error(version, Ofp13Error.BadRequest(Ofp13Codes.RequestEperm), request);
        var data = request[..Math.Min(request.Length, 64)];
        uint xid = request.Length >= 8 ? Be.U32(request, 4) : 0;
        var w = new Ofp13Writer(24 + data.Length);
        int start = w.Begin(version, Ofp13Type.Error, xid);
        w.U16((ushort)Ofp13ErrorType.Experimenter); w.U16(nx); w.U32(NiciraExperimenter);
        w.Bytes(data);
        w.Finish(start);
        return w.ToArray();
    }

    public static Ofp13Error Failed(ushort code) => new(ErrorType, code);

    /// <summary>
    /// An OFPMP_EXPERIMENTER body of ONF's experimenter and type <see cref="OnfFlowMonitor"/>: the bytes after its
    /// experimenter header, or false for another experimenter's.
    /// </summary>
    public static bool IsOnfMonitorBody(ReadOnlySpan<byte> body, out ReadOnlySpan<byte> rest)
    {
        rest = default;
        if (body.Length < 8 || Be.U32(body, 0) != Ofp13Bundle.OnfExperimenter || Be.U32(body, 4) != OnfFlowMonitor) return false;
        rest = body[8..];
        return true;
    }

    /// <summary>
    /// Whether <paramref name="msg"/> is an ONF experimenter message (OFPT_EXPERIMENTER, 1.3) of type
    /// <paramref name="expType"/> and at least 16 bytes.
    /// </summary>
    public static bool IsOnfMessage(ReadOnlySpan<byte> msg, uint expType)
        => msg.Length >= 16 && msg[1] == (byte)Ofp13Type.Experimenter && Be.U32(msg, 8) == Ofp13Bundle.OnfExperimenter && Be.U32(msg, 12) == expType;

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |                ofp_header (8): OFPT_EXPERIMENTER              |   0
    // +---------------------------------------------------------------+
    // |                   experimenter: 0x4f4e4600                    |   8
    // +---------------------------------------------------------------+
    // |               exp_type: ONFT_FLOW_MONITOR_CANCEL              |  12
    // +---------------------------------------------------------------+
    // |                           monitor id                          |  16
    // +---------------------------------------------------------------+
    /// <summary>ONFT_FLOW_MONITOR_CANCEL (1.3): the monitor id; a length other than 20 is BAD_REQUEST/BAD_LEN.</summary>
    public static bool TryDecodeOnfCancel(ReadOnlySpan<byte> msg, out uint id, out Ofp13Error error)
    {
        id = 0;
        error = default;
        if (msg.Length != 20 || !IsOnfMessage(msg, OnfFlowMonitor)) return Ofp13Messages.BadLen(out error);
        id = Be.U32(msg, 16);
        return true;
    }

    /// <summary>An ONF experimenter message of <paramref name="expType"/> with <paramref name="body"/> (1.3): CANCEL, PAUSED, RESUMED.</summary>
    public static byte[] OnfMessage(byte version, uint xid, uint expType, ReadOnlySpan<byte> body = default)
    {
        var w = new Ofp13Writer(16 + body.Length);
        int start = w.Begin(version, Ofp13Type.Experimenter, xid);
        w.U32(Ofp13Bundle.OnfExperimenter); w.U32(expType); w.Bytes(body);
        w.Finish(start);
        return w.ToArray();
    }

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |  request (16 + match, padded to 8): the diagram above TryRead |   0
    // +---------------------------------------------------------------+
    // |          requests back to back to the end of the body         | 16+m
    // +---------------------------------------------------------------+
    /// <summary>
    /// Decodes every request in a multipart body (1.4's, or, with <paramref name="onf"/>, the ONF form's after its
    /// experimenter header) into <paramref name="into"/> (cleared first).
    /// </summary>
    public static bool TryDecodeRequests(ReadOnlySpan<byte> body, bool onf, List<Ofp14FlowMonitorRequest> into, out Ofp13Error error)
    {
        into.Clear();
        error = default;
        while (!body.IsEmpty)
        {
            var r = new Ofp14FlowMonitorRequest();
            if (!(onf ? r.TryReadOnf(body, out int size, out error) : r.TryRead(body, out size, out error))) return false;
            into.Add(r);
            body = body[size..];
        }
        return true;
    }
}

/// <summary>
/// One flow monitor request: ofp14_flow_monitor_request (1.4, 1.5) or onf_flow_monitor_request (1.3's ONF form, with
/// Nicira's flag bits, always an ADD), and its OXM match.
/// </summary>
public sealed class Ofp14FlowMonitorRequest
{
    public const int FixedSize = 16;

    public uint MonitorId, OutPort = 0xffffffff, OutGroup = 0xffffffff;
    /// <summary>OFPFMF_* (the ONF form's flags are turned into these: ACTIONS is INSTRUCTIONS, OWN is ONLY_OWN).</summary>
    public ushort Flags;
    public byte TableId = 0xff, Command;
    public readonly List<Ofp13Oxm> Match = new();

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |                           monitor_id                          |   0
    // +---------------------------------------------------------------+
    // |                            out_port                           |   4
    // +---------------------------------------------------------------+
    // |                           out_group                           |   8
    // +-------------------------------+---------------+---------------+
    // |             flags             |    table_id   |    command    |  12
    // +-------------------------------+---------------+---------------+
    // |               ofp_match (4 + OXMs, padded to 8)               |  16
    // +---------------------------------------------------------------+
    /// <summary>Reads one 1.4 request from the start of <paramref name="s"/>; <paramref name="size"/> is the bytes it took.</summary>
    public bool TryRead(ReadOnlySpan<byte> s, out int size, out Ofp13Error error)
    {
        size = 0;
        Match.Clear();
        if (s.Length < FixedSize + 8) return Ofp13Messages.BadLen(out error);
        MonitorId = Be.U32(s, 0);
        OutPort = Be.U32(s, 4);
        OutGroup = Be.U32(s, 8);
        Flags = Be.U16(s, 12);
        TableId = s[14];
        Command = s[15];
        if (!Ofp13Match.TryDecode(s[FixedSize..], Match, out int matchSize, out error)) return false;
        size = FixedSize + matchSize;
        if (Command > 2)
        {
            error = Ofp14FlowMonitor.Failed(Ofp14FlowMonitor.BadCommand);
            return false;
        }
        // A DELETE's flags are not looked at (Open vSwitch's decoder).
        if (Command != 2 && ((Flags & Ofp14FlowMonitor.EventFlags) == 0 || (Flags & ~Ofp14FlowMonitor.Flags14) != 0))
        {
            error = Ofp14FlowMonitor.Failed(Ofp14FlowMonitor.BadFlags);
            return false;
        }
        return true;
    }

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |                               id                              |   0
    // +-------------------------------+-------------------------------+
    // |          flags (NXFMF)        |           match_len           |   4
    // +-------------------------------+-------------------------------+
    // |                            out_port                           |   8
    // +---------------+-----------------------------------------------+
    // |    table_id   |                 zeros (3)                     |  12
    // +---------------+-----------------------------------------------+
    // |               ofp_match (4 + OXMs, padded to 8)               |  16
    // +---------------------------------------------------------------+
    /// <summary>Reads one request of the ONF form (1.3) from the start of <paramref name="s"/>.</summary>
    public bool TryReadOnf(ReadOnlySpan<byte> s, out int size, out Ofp13Error error)
    {
        size = 0;
        Match.Clear();
        if (s.Length < FixedSize + 8) return Ofp13Messages.BadLen(out error);
        MonitorId = Be.U32(s, 0);
        ushort nx = Be.U16(s, 4);
        OutPort = Be.U32(s, 8);
        TableId = s[12];
        OutGroup = 0xffffffff;
        Command = 0;
        if (!Ofp13Match.TryDecode(s[FixedSize..], Match, out int matchSize, out error)) return false;
        size = FixedSize + matchSize;
        if ((nx & Ofp14FlowMonitor.EventFlags) == 0 || (nx & ~Ofp14FlowMonitor.FlagsOnf) != 0)
        {
            error = Ofp14FlowMonitor.Failed(Ofp14FlowMonitor.BadFlags);
            return false;
        }
        if (s[13] != 0 || s[14] != 0 || s[15] != 0)
        {
            error = Ofp14FlowMonitor.MustBeZero;
            return false;
        }
        Flags = FromNicira(nx);
        return true;
    }

    /// <summary>Nicira's NXFMF_* as OFPFMF_* (ACTIONS is INSTRUCTIONS, OWN is ONLY_OWN).</summary>
    public static ushort FromNicira(ushort nx) => (ushort)((nx & 0x0f) | ((nx & 0x10) != 0 ? 0x10 : 0) | ((nx & 0x20) != 0 ? 0x40 : 0));

    /// <summary>OFPFMF_* as Nicira's NXFMF_* (NO_ABBREV has none).</summary>
    public static ushort ToNicira(ushort f) => (ushort)((f & 0x0f) | ((f & 0x10) != 0 ? 0x10 : 0) | ((f & 0x40) != 0 ? 0x20 : 0));

    /// <summary>Appends the 1.4 form.</summary>
    public void Write(Ofp13Writer w)
    {
        w.U32(MonitorId); w.U32(OutPort); w.U32(OutGroup); w.U16(Flags); w.U8(TableId); w.U8(Command);
        Ofp13Match.Encode(w, CollectionsMarshal.AsSpan(Match));
    }

    /// <summary>Appends the ONF form (1.3).</summary>
    public void WriteOnf(Ofp13Writer w)
    {
        var match = CollectionsMarshal.AsSpan(Match);
        w.U32(MonitorId); w.U16(ToNicira(Flags)); w.U16((ushort)(4 + OxmBytes(match))); w.U32(OutPort); w.U8(TableId); w.Zeros(3);
        Ofp13Match.Encode(w, match);
    }

    internal static int OxmBytes(ReadOnlySpan<Ofp13Oxm> match)
    {
        int n = 0;
        foreach (var f in match) n += 4 + (f.HasMask ? 2 : 1) * Ofp13Match.FieldLength(f.Field);
        return n;
    }
}

/// <summary>
/// One flow update of a flow monitor's reply: ofp_flow_update_full (INITIAL, ADDED, REMOVED, MODIFIED: the flow),
/// ofp_flow_update_abbrev (ABBREV: the xid of the requester's own flow-mod) or ofp_flow_update_paused (PAUSED,
/// RESUMED) in 1.4 and 1.5; or, with <see cref="Onf"/>, the ONF form's (Nicira's layouts and events: ADDED 0, DELETED 1,
/// MODIFIED 2, ABBREV 3; an INITIAL goes as ADDED, as Open vSwitch sends it).
/// </summary>
public sealed class Ofp14FlowUpdate : IOfp13Entry<Ofp14FlowUpdate>
{
    public const int FullSize = 24, ShortSize = 8;

    /// <summary>OFPFME_* (the 1.4 numbering, also for the ONF form).</summary>
    public ushort Event;
    public byte TableId, Reason;
    public ushort IdleTimeout, HardTimeout, Priority;
    public ulong Cookie;
    /// <summary>ABBREV's xid.</summary>
    public uint Xid;
    /// <summary>The ONF form (1.3).</summary>
    public bool Onf;
    public readonly List<Ofp13Oxm> Match = new();
    public readonly List<Ofp13Instruction> Instructions = new();

    /// <summary>OFPFME_* events.</summary>
    public const ushort Initial = 0, Added = 1, Removed = 2, Modified = 3, Abbrev = 4, Paused = 5, Resumed = 6;

    private static ushort ToOnf(ushort ev) => ev switch { Initial or Added => 0, Removed => 1, Modified => 2, _ => 3 };

    private static ushort FromOnf(ushort ev) => ev switch { 0 => Added, 1 => Removed, 2 => Modified, _ => Abbrev };

    public bool IsFull => Event <= Modified;

    public void Write(Ofp13Writer w)
    {
        int start = w.Position;
        if (!IsFull)
        {
            w.U16(ShortSize); w.U16(Onf ? ToOnf(Event) : Event); w.U32(Event == Abbrev ? Xid : 0);
            return;
        }
        var match = CollectionsMarshal.AsSpan(Match);
        if (Onf)
        {
            w.U16(0); w.U16(ToOnf(Event)); w.U16(Reason); w.U16(Priority); w.U16(IdleTimeout); w.U16(HardTimeout);
            w.U16((ushort)(4 + Ofp14FlowMonitorRequest.OxmBytes(match))); w.U8(TableId); w.U8(0); w.U64(Cookie);
        }
        else
        {
            w.U16(0); w.U16(Event); w.U8(TableId); w.U8(Reason); w.U16(IdleTimeout); w.U16(HardTimeout); w.U16(Priority); w.Zeros(4);
            w.U64(Cookie);
        }
        Ofp13Match.Encode(w, match);
        Ofp13Instructions.Encode(w, Instructions);
        w.PatchU16(start, (ushort)(w.Position - start));
    }

    //  0                   1                   2                   3
    // +-------------------------------+-------------------------------+
    // |             length            |         event: OFPFME_*       |   0
    // +---------------+---------------+-------------------------------+
    // |    table_id   |     reason    |          idle_timeout         |   4
    // +---------------+---------------+-------------------------------+
    // |          hard_timeout         |            priority           |   8
    // +-------------------------------+-------------------------------+
    // |                             zeros                             |  12
    // +---------------------------------------------------------------+
    // |                           cookie (8)                          |  16
    // +---------------------------------------------------------------+
    // |               ofp_match (4 + OXMs, padded to 8)               |  24
    // +---------------------------------------------------------------+
    // |                    instructions (to length)                   | 24+m
    // +---------------------------------------------------------------+
    // ABBREV: length 8, event, xid. PAUSED and RESUMED: length 8, event, 4 zero bytes.
    /// <summary>Reads one 1.4 update from the start of <paramref name="s"/>.</summary>
    public static bool TryRead(ReadOnlySpan<byte> s, [MaybeNullWhen(false)] out Ofp14FlowUpdate entry, out int size)
        => TryRead(s, onf: false, out entry, out size);

    //  0                   1                   2                   3
    // +-------------------------------+-------------------------------+
    // |             length            |        event: NXFME_*         |   0
    // +-------------------------------+-------------------------------+
    // |             reason            |            priority           |   4
    // +-------------------------------+-------------------------------+
    // |          idle_timeout         |          hard_timeout         |   8
    // +-------------------------------+---------------+---------------+
    // |           match_len           |    table_id   |      pad      |  12
    // +-------------------------------+---------------+---------------+
    // |                           cookie (8)                          |  16
    // +---------------------------------------------------------------+
    // |               ofp_match (4 + OXMs, padded to 8)               |  24
    // +---------------------------------------------------------------+
    // |                    instructions (to length)                   | 24+m
    // +---------------------------------------------------------------+
    // ABBREV (NXFME_ABBREV 3): length 8, event, xid.
    /// <summary>Reads one update, of the ONF form with <paramref name="onf"/>, from the start of <paramref name="s"/>.</summary>
    public static bool TryRead(ReadOnlySpan<byte> s, bool onf, [MaybeNullWhen(false)] out Ofp14FlowUpdate entry, out int size)
    {
        entry = null;
        size = 0;
        if (s.Length < ShortSize) return false;
        size = Be.U16(s, 0);
        if (size < ShortSize || size > s.Length || size % 8 != 0) return false;
        ushort ev = Be.U16(s, 2);
        var e = new Ofp14FlowUpdate { Onf = onf, Event = onf ? FromOnf(ev) : ev };
        if (onf ? ev > 3 : ev > Resumed) return false;
        if (!e.IsFull)
        {
            if (size != ShortSize) return false;
            if (e.Event == Abbrev) e.Xid = Be.U32(s, 4);
            entry = e;
            return true;
        }
        if (size < FullSize + 8) return false;
        if (onf)
        {
            e.Reason = (byte)Be.U16(s, 4);
            e.Priority = Be.U16(s, 6);
            e.IdleTimeout = Be.U16(s, 8);
            e.HardTimeout = Be.U16(s, 10);
            e.TableId = s[14];
        }
        else
        {
            e.TableId = s[4];
            e.Reason = s[5];
            e.IdleTimeout = Be.U16(s, 6);
            e.HardTimeout = Be.U16(s, 8);
            e.Priority = Be.U16(s, 10);
        }
        e.Cookie = Be.U64(s, 16);
        if (!Ofp13Match.TryDecode(s[FullSize..size], e.Match, out int matchSize, out _)) return false;
        if (!Ofp13Instructions.TryDecode(s[(FullSize + matchSize)..size], e.Instructions, out _)) return false;
        entry = e;
        return true;
    }
}
