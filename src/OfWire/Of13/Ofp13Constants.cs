// OpenFlow 1.3.5 (ONF TS-023) wire constants. Names follow openflow.h (OFPT_FLOW_MOD -> Ofp13Type.FlowMod); values are
// the 1.3 ones, which differ from 1.0's for many messages, actions, errors and port numbers, and which 1.4 and 1.5 keep
// (they add numbers of their own).
namespace Softswitch.OfWire.Of13;

/// <summary>Fixed numbers of the OpenFlow 1.3 wire format.</summary>
public static class Ofp13
{
    /// <summary>ofp_header.version for OpenFlow 1.3.</summary>
    public const byte Version = 0x04;

    /// <summary>ofp_header.version for OpenFlow 1.4, whose changed layouts (ports, port and queue statistics, port-mod,
    /// table-mod, async configuration, role status) are the Of14 codec's.</summary>
    public const byte Version14 = 0x05;

    /// <summary>ofp_header.version of OpenFlow 1.5, the last version whose messages this codec's layouts serve.</summary>
    public const byte LastVersion = 0x06;

    /// <summary>
    /// Whether this codec's layouts serve <paramref name="version"/>: 1.3 and the versions after it, which keep 1.3's
    /// header, match, actions, instructions and most messages (as Open vSwitch's ofpraw ranges do: OFPT11_FLOW_MOD
    /// serves 1.1 to 1.5). A later version's own messages and properties are its codec's, built on these.
    /// </summary>
    public static bool Serves(byte version) => version is >= Version and <= LastVersion;

    /// <summary>Refuses a version this codec does not write (a caller's mistake, never a peer's input).</summary>
    internal static void CheckVersion(byte version)
    {
        if (!Serves(version)) throw new ArgumentOutOfRangeException(nameof(version), version, "not a version of the OpenFlow 1.3 layouts (0x04 to 0x06)");
    }

    /// <summary>OFPP_MAX: the highest physical port number.</summary>
    public const uint PortMax = 0xffffff00;
    public const uint PortInPort = 0xfffffff8, PortTable = 0xfffffff9, PortNormal = 0xfffffffa, PortFlood = 0xfffffffb,
        PortAll = 0xfffffffc, PortController = 0xfffffffd, PortLocal = 0xfffffffe, PortAny = 0xffffffff;

    /// <summary>OFPG_MAX, OFPG_ALL, OFPG_ANY.</summary>
    public const uint GroupMax = 0xffffff00, GroupAll = 0xfffffffc, GroupAny = 0xffffffff;

    /// <summary>OFPM_MAX and the virtual meters OFPM_SLOWPATH, OFPM_CONTROLLER, OFPM_ALL.</summary>
    public const uint MeterMax = 0xffff0000, MeterSlowpath = 0xfffffffd, MeterController = 0xfffffffe, MeterAll = 0xffffffff;

    /// <summary>OFPTT_MAX and OFPTT_ALL.</summary>
    public const byte TableMax = 0xfe, TableAll = 0xff;

    /// <summary>OFPCML_NO_BUFFER: an output to the controller that sends the whole packet unbuffered.</summary>
    public const ushort ControllerNoBuffer = 0xffff;

    /// <summary>OFP_NO_BUFFER.</summary>
    public const uint NoBuffer = 0xffffffff;

    /// <summary>OFPQ_ALL.</summary>
    public const uint QueueAll = 0xffffffff;

    /// <summary>OFPVID_PRESENT and OFPVID_NONE.</summary>
    public const ushort VidPresent = 0x1000, VidNone = 0;

    /// <summary>OFPXMC_OPENFLOW_BASIC and OFPXMC_EXPERIMENTER.</summary>
    public const ushort OxmClassBasic = 0x8000, OxmClassExperimenter = 0xffff;

    /// <summary>OFPMT_OXM.</summary>
    public const ushort MatchTypeOxm = 1;

    public const int DescStrLen = 256, SerialNumLen = 32, MaxTableNameLen = 32, MaxPortNameLen = 16;
}

/// <summary>ofp_type in OpenFlow 1.3.</summary>
public enum Ofp13Type : byte
{
    Hello = 0, Error = 1, EchoRequest = 2, EchoReply = 3, Experimenter = 4,
    FeaturesRequest = 5, FeaturesReply = 6, GetConfigRequest = 7, GetConfigReply = 8, SetConfig = 9,
    PacketIn = 10, FlowRemoved = 11, PortStatus = 12,
    PacketOut = 13, FlowMod = 14, GroupMod = 15, PortMod = 16, TableMod = 17,
    MultipartRequest = 18, MultipartReply = 19,
    BarrierRequest = 20, BarrierReply = 21,
    QueueGetConfigRequest = 22, QueueGetConfigReply = 23,
    RoleRequest = 24, RoleReply = 25,
    GetAsyncRequest = 26, GetAsyncReply = 27, SetAsync = 28,
    MeterMod = 29,
    /// <summary>OpenFlow 1.4's (not 1.3's): a controller's role changed without its asking (OFPT_ROLE_STATUS).</summary>
    RoleStatus = 30,
    /// <summary>OpenFlow 1.4's: a table's vacancy crossed a threshold (OFPT_TABLE_STATUS).</summary>
    TableStatus = 31,
}

/// <summary>ofp_multipart_type.</summary>
public enum Ofp13MultipartType : ushort
{
    Desc = 0, Flow = 1, Aggregate = 2, Table = 3, PortStats = 4, Queue = 5, Group = 6, GroupDesc = 7, GroupFeatures = 8,
    Meter = 9, MeterConfig = 10, MeterFeatures = 11, TableFeatures = 12, PortDesc = 13,
    /// <summary>OpenFlow 1.4's: each table's configuration and properties (OFPMP_TABLE_DESC).</summary>
    TableDesc = 14,
    /// <summary>OpenFlow 1.4's: the queues of a port with their properties (OFPMP_QUEUE_DESC; 1.3 asks QUEUE_GET_CONFIG).</summary>
    QueueDesc = 15,
    Experimenter = 0xffff,
}

/// <summary>ofp_action_type in OpenFlow 1.3.</summary>
public enum Ofp13ActionType : ushort
{
    Output = 0, CopyTtlOut = 11, CopyTtlIn = 12,
    /// <summary>
    /// OpenFlow 1.1's OFPAT_SET_MPLS_LABEL and OFPAT_SET_MPLS_TC, which 1.2 replaced by set-field and Open vSwitch still
    /// takes in every version from 1.1 (its OFPAT_RAW_SET_MPLS_LABEL, _TC: OF1.1(13), OF1.2+(13), deprecated).
    /// </summary>
    SetMplsLabel = 13, SetMplsTc = 14,
    SetMplsTtl = 15, DecMplsTtl = 16, PushVlan = 17, PopVlan = 18,
    PushMpls = 19, PopMpls = 20, SetQueue = 21, Group = 22, SetNwTtl = 23, DecNwTtl = 24, SetField = 25,
    PushPbb = 26, PopPbb = 27,
    /// <summary>
    /// OpenFlow 1.5's OFPAT_COPY_FIELD (n_bits, offsets, source and destination OXM headers), held as the NXAST_REG_MOVE it
    /// means (Open vSwitch decodes it to its move); decoded in every version, taken only under 1.5.
    /// </summary>
    CopyField = 28,
    /// <summary>OpenFlow 1.5's OFPAT_METER (a meter id), which replaces 1.3's meter instruction; decoded in every version, taken only under 1.5.</summary>
    Meter = 29,
    Experimenter = 0xffff,
}

/// <summary>ofp_instruction_type.</summary>
public enum Ofp13InstructionType : ushort
{
    GotoTable = 1, WriteMetadata = 2, WriteActions = 3, ApplyActions = 4, ClearActions = 5, Meter = 6, Experimenter = 0xffff,
}

/// <summary>ofp_error_type in OpenFlow 1.3.</summary>
public enum Ofp13ErrorType : ushort
{
    HelloFailed = 0, BadRequest = 1, BadAction = 2, BadInstruction = 3, BadMatch = 4, FlowModFailed = 5,
    GroupModFailed = 6, PortModFailed = 7, TableModFailed = 8, QueueOpFailed = 9, SwitchConfigFailed = 10,
    RoleRequestFailed = 11, MeterModFailed = 12, TableFeaturesFailed = 13,
    /// <summary>OpenFlow 1.4's: a property of a message that cannot be taken (OFPET_BAD_PROPERTY).</summary>
    BadProperty = 14,
    /// <summary>OpenFlow 1.4's: a SET_ASYNC that cannot be taken (OFPET_ASYNC_CONFIG_FAILED).</summary>
    AsyncConfigFailed = 15,
    Experimenter = 0xffff,
}

/// <summary>The error codes of each 1.3 error type (ofp_*_code), as constants.</summary>
public static class Ofp13Codes
{
    // OFPET_BAD_REQUEST
    public const ushort BadVersion = 0, BadType = 1, BadMultipart = 2, BadExperimenter = 3, BadExpType = 4, RequestEperm = 5,
        BadLen = 6, BufferEmpty = 7, BufferUnknown = 8, BadTableId = 9, IsSlave = 10, BadPort = 11, BadPacket = 12,
        MultipartBufferOverflow = 13;
    // OFPET_BAD_ACTION
    public const ushort ActionBadType = 0, ActionBadLen = 1, ActionBadExperimenter = 2, ActionBadExpType = 3, ActionBadOutPort = 4,
        ActionBadArgument = 5, ActionEperm = 6, ActionTooMany = 7, ActionBadQueue = 8, ActionBadOutGroup = 9,
        ActionMatchInconsistent = 10, ActionUnsupportedOrder = 11, ActionBadTag = 12, ActionBadSetType = 13,
        ActionBadSetLen = 14, ActionBadSetArgument = 15;
    // OFPET_BAD_INSTRUCTION
    public const ushort InstUnknown = 0, InstUnsupported = 1, InstBadTableId = 2, InstUnsupMetadata = 3, InstUnsupMetadataMask = 4,
        InstBadExperimenter = 5, InstBadExpType = 6, InstBadLen = 7, InstEperm = 8;
    // OFPET_BAD_MATCH
    public const ushort MatchBadType = 0, MatchBadLen = 1, MatchBadTag = 2, MatchBadDlAddrMask = 3, MatchBadNwAddrMask = 4,
        MatchBadWildcards = 5, MatchBadField = 6, MatchBadValue = 7, MatchBadMask = 8, MatchBadPrereq = 9, MatchDupField = 10,
        MatchEperm = 11;
    // OFPET_FLOW_MOD_FAILED
    public const ushort FlowModUnknown = 0, FlowModTableFull = 1, FlowModBadTableId = 2, FlowModOverlap = 3, FlowModEperm = 4,
        FlowModBadTimeout = 5, FlowModBadCommand = 6, FlowModBadFlags = 7;
    // OFPET_GROUP_MOD_FAILED
    public const ushort GroupExists = 0, GroupInvalid = 1, GroupWeightUnsupported = 2, GroupOutOfGroups = 3, GroupOutOfBuckets = 4,
        GroupChainingUnsupported = 5, GroupWatchUnsupported = 6, GroupLoop = 7, GroupUnknown = 8, GroupChained = 9,
        GroupBadType = 10, GroupBadCommand = 11, GroupBadBucket = 12, GroupBadWatch = 13, GroupEperm = 14;
    // OFPET_PORT_MOD_FAILED
    public const ushort PortModBadPort = 0, PortModBadHwAddr = 1, PortModBadConfig = 2, PortModBadAdvertise = 3, PortModEperm = 4;
    // OFPET_TABLE_MOD_FAILED
    public const ushort TableModBadTable = 0, TableModBadConfig = 1, TableModEperm = 2;
    // OFPET_QUEUE_OP_FAILED
    public const ushort QueueBadPort = 0, QueueBadQueue = 1, QueueEperm = 2;
    // OFPET_SWITCH_CONFIG_FAILED
    public const ushort ConfigBadFlags = 0, ConfigBadLen = 1, ConfigEperm = 2;
    // OFPET_ROLE_REQUEST_FAILED
    public const ushort RoleStale = 0, RoleUnsupported = 1, RoleBadRole = 2;
    // OFPET_METER_MOD_FAILED
    public const ushort MeterUnknown = 0, MeterExists = 1, MeterInvalid = 2, MeterUnknownMeter = 3, MeterBadCommand = 4,
        MeterBadFlags = 5, MeterBadRate = 6, MeterBadBurst = 7, MeterBadBand = 8, MeterBadBandValue = 9, MeterOutOfMeters = 10,
        MeterOutOfBands = 11;
    // OFPET_TABLE_FEATURES_FAILED
    public const ushort FeaturesBadTable = 0, FeaturesBadMetadata = 1, FeaturesBadType = 2, FeaturesBadLen = 3,
        FeaturesBadArgument = 4, FeaturesEperm = 5;
    // OFPET_BAD_PROPERTY (OpenFlow 1.4)
    public const ushort PropBadType = 0, PropBadLen = 1, PropBadValue = 2, PropTooMany = 3, PropDupType = 4, PropBadExperimenter = 5,
        PropBadExpType = 6, PropBadExpValue = 7, PropEperm = 8;
    // OFPET_ASYNC_CONFIG_FAILED (OpenFlow 1.4)
    public const ushort AsyncInvalid = 0, AsyncUnsupported = 1, AsyncEperm = 2;
}

/// <summary>An OpenFlow 1.3 error: what a request earns when it cannot be carried out.</summary>
public readonly record struct Ofp13Error(Ofp13ErrorType Type, ushort Code)
{
    public static Ofp13Error BadRequest(ushort code) => new(Ofp13ErrorType.BadRequest, code);
    public static Ofp13Error BadAction(ushort code) => new(Ofp13ErrorType.BadAction, code);
    public static Ofp13Error BadInstruction(ushort code) => new(Ofp13ErrorType.BadInstruction, code);
    public static Ofp13Error BadMatch(ushort code) => new(Ofp13ErrorType.BadMatch, code);
    public static Ofp13Error FlowModFailed(ushort code) => new(Ofp13ErrorType.FlowModFailed, code);
    public static Ofp13Error GroupModFailed(ushort code) => new(Ofp13ErrorType.GroupModFailed, code);
    public static Ofp13Error MeterModFailed(ushort code) => new(Ofp13ErrorType.MeterModFailed, code);

    /// <summary>BAD_REQUEST/BAD_LEN: the commonest refusal of a malformed message.</summary>
    public static Ofp13Error BadLength => BadRequest(Ofp13Codes.BadLen);

    /// <summary>"BAD_MATCH BAD_PREREQ": the spec's names for the log.</summary>
    public override string ToString() => Ofp13ErrorNames.Describe((ushort)Type, Code);
}

/// <summary>The OpenFlow 1.3 spec's names of error types and codes.</summary>
public static class Ofp13ErrorNames
{
    private static readonly string[] s_types =
    [
        "HELLO_FAILED", "BAD_REQUEST", "BAD_ACTION", "BAD_INSTRUCTION", "BAD_MATCH", "FLOW_MOD_FAILED", "GROUP_MOD_FAILED",
        "PORT_MOD_FAILED", "TABLE_MOD_FAILED", "QUEUE_OP_FAILED", "SWITCH_CONFIG_FAILED", "ROLE_REQUEST_FAILED",
        "METER_MOD_FAILED", "TABLE_FEATURES_FAILED", "BAD_PROPERTY", "ASYNC_CONFIG_FAILED",
    ];

    private static readonly string[][] s_codes =
    [
        ["INCOMPATIBLE", "EPERM"],
        ["BAD_VERSION", "BAD_TYPE", "BAD_MULTIPART", "BAD_EXPERIMENTER", "BAD_EXP_TYPE", "EPERM", "BAD_LEN", "BUFFER_EMPTY",
         "BUFFER_UNKNOWN", "BAD_TABLE_ID", "IS_SLAVE", "BAD_PORT", "BAD_PACKET", "MULTIPART_BUFFER_OVERFLOW"],
        ["BAD_TYPE", "BAD_LEN", "BAD_EXPERIMENTER", "BAD_EXP_TYPE", "BAD_OUT_PORT", "BAD_ARGUMENT", "EPERM", "TOO_MANY",
         "BAD_QUEUE", "BAD_OUT_GROUP", "MATCH_INCONSISTENT", "UNSUPPORTED_ORDER", "BAD_TAG", "BAD_SET_TYPE", "BAD_SET_LEN",
         "BAD_SET_ARGUMENT"],
        ["UNKNOWN_INST", "UNSUP_INST", "BAD_TABLE_ID", "UNSUP_METADATA", "UNSUP_METADATA_MASK", "BAD_EXPERIMENTER",
         "BAD_EXP_TYPE", "BAD_LEN", "EPERM"],
        ["BAD_TYPE", "BAD_LEN", "BAD_TAG", "BAD_DL_ADDR_MASK", "BAD_NW_ADDR_MASK", "BAD_WILDCARDS", "BAD_FIELD", "BAD_VALUE",
         "BAD_MASK", "BAD_PREREQ", "DUP_FIELD", "EPERM"],
        ["UNKNOWN", "TABLE_FULL", "BAD_TABLE_ID", "OVERLAP", "EPERM", "BAD_TIMEOUT", "BAD_COMMAND", "BAD_FLAGS"],
        ["GROUP_EXISTS", "INVALID_GROUP", "WEIGHT_UNSUPPORTED", "OUT_OF_GROUPS", "OUT_OF_BUCKETS", "CHAINING_UNSUPPORTED",
         "WATCH_UNSUPPORTED", "LOOP", "UNKNOWN_GROUP", "CHAINED_GROUP", "BAD_TYPE", "BAD_COMMAND", "BAD_BUCKET", "BAD_WATCH", "EPERM"],
        ["BAD_PORT", "BAD_HW_ADDR", "BAD_CONFIG", "BAD_ADVERTISE", "EPERM"],
        ["BAD_TABLE", "BAD_CONFIG", "EPERM"],
        ["BAD_PORT", "BAD_QUEUE", "EPERM"],
        ["BAD_FLAGS", "BAD_LEN", "EPERM"],
        ["STALE", "UNSUP", "BAD_ROLE"],
        ["UNKNOWN", "METER_EXISTS", "INVALID_METER", "UNKNOWN_METER", "BAD_COMMAND", "BAD_FLAGS", "BAD_RATE", "BAD_BURST",
         "BAD_BAND", "BAD_BAND_VALUE", "OUT_OF_METERS", "OUT_OF_BANDS"],
        ["BAD_TABLE", "BAD_METADATA", "BAD_TYPE", "BAD_LEN", "BAD_ARGUMENT", "EPERM"],
        ["BAD_TYPE", "BAD_LEN", "BAD_VALUE", "TOO_MANY", "DUP_TYPE", "BAD_EXPERIMENTER", "BAD_EXP_TYPE", "BAD_EXP_VALUE", "EPERM"],
        ["INVALID", "UNSUPPORTED", "EPERM"],
    ];

    /// <summary>"BAD_MATCH BAD_PREREQ", or numbers for what 1.3 does not name.</summary>
    public static string Describe(ushort type, ushort code)
    {
        if (type == (ushort)Ofp13ErrorType.Experimenter) return $"EXPERIMENTER code {code}";
        if (type >= s_types.Length) return $"error type {type} code {code}";
        var codes = s_codes[type];
        return code < codes.Length ? $"{s_types[type]} {codes[code]}" : $"{s_types[type]} code {code}";
    }
}
