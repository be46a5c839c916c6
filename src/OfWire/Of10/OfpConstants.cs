// OpenFlow 1.0.0 wire constants. Names follow openflow.h (OFPT_FLOW_MOD -> OfpType.FlowMod); values are
// the 1.0.0 ones. Every enum is backed by the wire width of its field, so a value the switch does not know
// survives a decode/encode round trip unchanged.
namespace Softswitch.OfWire.Of10;

/// <summary>Fixed numbers of the OpenFlow 1.0 wire format.</summary>
public static class OfpConstants
{
    /// <summary>ofp_header.version for OpenFlow 1.0.</summary>
    public const byte Version = 0x01;

    /// <summary>Size of struct ofp_header.</summary>
    public const int HeaderSize = 8;

    /// <summary>Largest message the 16-bit length field can describe.</summary>
    public const int MaxMessageSize = ushort.MaxValue;

    /// <summary>OFP_TCP_PORT in the 1.0 header (IANA later assigned 6653).</summary>
    public const int TcpPort = 6633;

    public const int EthAddrSize = 6;
    public const int MaxPortNameSize = 16;
    public const int MaxTableNameSize = 32;
    public const int DescStrSize = 256;
    public const int SerialNumSize = 32;

    /// <summary>buffer_id meaning "no buffered packet" (packet-in, packet-out, flow-mod).</summary>
    public const uint NoBuffer = 0xffffffff;

    /// <summary>OFP_DEFAULT_MISS_SEND_LEN.</summary>
    public const ushort DefaultMissSendLen = 128;

    /// <summary>OFP_VLAN_NONE: dl_vlan value matching frames without an 802.1Q tag.</summary>
    public const ushort VlanNone = 0xffff;

    /// <summary>OFPQ_ALL: every queue of a port (queue stats request).</summary>
    public const uint QueueAll = 0xffffffff;

    /// <summary>OFPTT_ALL: every table (flow and aggregate stats requests).</summary>
    public const byte TableAll = 0xff;
    /// <summary>The emergency flows' table in flow and aggregate stats requests (OF1.0 ofp_flow_stats_request).</summary>
    public const byte TableEmergency = 0xfe;

    /// <summary>OFP_DEFAULT_PRIORITY.</summary>
    public const ushort DefaultPriority = 0x8000;

    /// <summary>OFP_FLOW_PERMANENT: idle/hard timeout value meaning "never".</summary>
    public const ushort FlowPermanent = 0;

    /// <summary>OFP_DL_TYPE_ETH2_CUTOFF: dl_type values below are 802.3 lengths.</summary>
    public const ushort DlTypeEth2Cutoff = 0x0600;

    /// <summary>OFP_DL_TYPE_NOT_ETH_TYPE: dl_type for frames without an Ethernet type.</summary>
    public const ushort DlTypeNotEthType = 0x05ff;

    /// <summary>The spec asks an error reply to carry at least this many bytes of the failed request.</summary>
    public const int ErrorDataMinSize = 64;

    /// <summary>Nicira (Open vSwitch) vendor id, NX_VENDOR_ID.</summary>
    public const uint NiciraVendorId = 0x00002320;

    /// <summary>Big Switch Networks vendor id.</summary>
    public const uint BigSwitchVendorId = 0x005c16c7;
}

/// <summary>ofp_type: the message type in ofp_header.</summary>
public enum OfpType : byte
{
    Hello = 0,
    Error = 1,
    EchoRequest = 2,
    EchoReply = 3,
    Vendor = 4,
    FeaturesRequest = 5,
    FeaturesReply = 6,
    GetConfigRequest = 7,
    GetConfigReply = 8,
    SetConfig = 9,
    PacketIn = 10,
    FlowRemoved = 11,
    PortStatus = 12,
    PacketOut = 13,
    FlowMod = 14,
    PortMod = 15,
    StatsRequest = 16,
    StatsReply = 17,
    BarrierRequest = 18,
    BarrierReply = 19,
    QueueGetConfigRequest = 20,
    QueueGetConfigReply = 21,
}

/// <summary>ofp_port: reserved port numbers. Physical ports are 1 .. Max-1.</summary>
public enum OfpPort : ushort
{
    /// <summary>Maximum number of physical ports; itself not a valid port.</summary>
    Max = 0xff00,
    InPort = 0xfff8,
    /// <summary>Run the flow table; valid only as a packet-out destination.</summary>
    Table = 0xfff9,
    Normal = 0xfffa,
    Flood = 0xfffb,
    All = 0xfffc,
    Controller = 0xfffd,
    Local = 0xfffe,
    None = 0xffff,
}

/// <summary>ofp_action_type.</summary>
public enum OfpActionType : ushort
{
    Output = 0,
    SetVlanVid = 1,
    SetVlanPcp = 2,
    StripVlan = 3,
    SetDlSrc = 4,
    SetDlDst = 5,
    SetNwSrc = 6,
    SetNwDst = 7,
    SetNwTos = 8,
    SetTpSrc = 9,
    SetTpDst = 10,
    Enqueue = 11,
    Vendor = 0xffff,
}

/// <summary>ofp_flow_wildcards. The nw_src/nw_dst fields are 6-bit counts of ignored low-order bits, not flags.</summary>
[Flags]
public enum OfpFlowWildcards : uint
{
    None = 0,
    InPort = 1 << 0,
    DlVlan = 1 << 1,
    DlSrc = 1 << 2,
    DlDst = 1 << 3,
    DlType = 1 << 4,
    NwProto = 1 << 5,
    TpSrc = 1 << 6,
    TpDst = 1 << 7,

    NwSrcShift = 8,
    NwSrcBits = 6,
    NwSrcMask = ((1 << 6) - 1) << 8,
    NwSrcAll = 32 << 8,

    NwDstShift = 14,
    NwDstBits = 6,
    NwDstMask = ((1 << 6) - 1) << 14,
    NwDstAll = 32 << 14,

    DlVlanPcp = 1 << 20,
    NwTos = 1 << 21,

    /// <summary>Every field wildcarded (OFPFW_ALL).</summary>
    All = (1 << 22) - 1,

    /// <summary>OFPFW_ICMP_TYPE shares the tp_src bit.</summary>
    IcmpType = TpSrc,
    /// <summary>OFPFW_ICMP_CODE shares the tp_dst bit.</summary>
    IcmpCode = TpDst,
}

/// <summary>ofp_flow_mod_command.</summary>
public enum OfpFlowModCommand : ushort
{
    Add = 0,
    Modify = 1,
    ModifyStrict = 2,
    Delete = 3,
    DeleteStrict = 4,
}

/// <summary>ofp_flow_mod_flags.</summary>
[Flags]
public enum OfpFlowModFlags : ushort
{
    None = 0,
    SendFlowRem = 1 << 0,
    CheckOverlap = 1 << 1,
    Emerg = 1 << 2,
}

/// <summary>ofp_stats_types.</summary>
public enum OfpStatsType : ushort
{
    Desc = 0,
    Flow = 1,
    Aggregate = 2,
    Table = 3,
    Port = 4,
    Queue = 5,
    /// <summary>
    /// Port descriptions: not in OpenFlow 1.0.0 but Open vSwitch's extension of it (the number OpenFlow 1.3 gave
    /// OFPMP_PORT_DESC), which `ovs-ofctl -O OpenFlow10 dump-ports-desc` sends; the reply is ofp_phy_port entries.
    /// </summary>
    PortDesc = 13,
    Vendor = 0xffff,
}

/// <summary>ofp_stats_reply_flags.</summary>
[Flags]
public enum OfpStatsReplyFlags : ushort
{
    None = 0,
    /// <summary>OFPSF_REPLY_MORE: more replies with the same xid follow.</summary>
    ReplyMore = 1 << 0,
}

/// <summary>ofp_error_type.</summary>
public enum OfpErrorType : ushort
{
    HelloFailed = 0,
    BadRequest = 1,
    BadAction = 2,
    FlowModFailed = 3,
    PortModFailed = 4,
    QueueOpFailed = 5,
}

/// <summary>ofp_hello_failed_code.</summary>
public enum OfpHelloFailedCode : ushort
{
    Incompatible = 0,
    Eperm = 1,
}

/// <summary>ofp_bad_request_code.</summary>
public enum OfpBadRequestCode : ushort
{
    BadVersion = 0,
    BadType = 1,
    BadStat = 2,
    BadVendor = 3,
    BadSubtype = 4,
    Eperm = 5,
    BadLen = 6,
    BufferEmpty = 7,
    BufferUnknown = 8,
}

/// <summary>ofp_bad_action_code.</summary>
public enum OfpBadActionCode : ushort
{
    BadType = 0,
    BadLen = 1,
    BadVendor = 2,
    BadVendorType = 3,
    BadOutPort = 4,
    BadArgument = 5,
    Eperm = 6,
    TooMany = 7,
    BadQueue = 8,
}

/// <summary>ofp_flow_mod_failed_code.</summary>
public enum OfpFlowModFailedCode : ushort
{
    AllTablesFull = 0,
    Overlap = 1,
    Eperm = 2,
    BadEmergTimeout = 3,
    BadCommand = 4,
    Unsupported = 5,
}

/// <summary>ofp_port_mod_failed_code.</summary>
public enum OfpPortModFailedCode : ushort
{
    BadPort = 0,
    BadHwAddr = 1,
}

/// <summary>ofp_queue_op_failed_code.</summary>
public enum OfpQueueOpFailedCode : ushort
{
    BadPort = 0,
    BadQueue = 1,
    Eperm = 2,
}

/// <summary>ofp_capabilities (features reply).</summary>
[Flags]
public enum OfpCapabilities : uint
{
    None = 0,
    FlowStats = 1 << 0,
    TableStats = 1 << 1,
    PortStats = 1 << 2,
    Stp = 1 << 3,
    /// <summary>Reserved in 1.0.0, must not be set (was OFPC_MULTI_PHY_TX in drafts).</summary>
    Reserved = 1 << 4,
    IpReasm = 1 << 5,
    QueueStats = 1 << 6,
    ArpMatchIp = 1 << 7,
}

/// <summary>ofp_port_config (phy_port.config, port_mod.config/mask).</summary>
[Flags]
public enum OfpPortConfig : uint
{
    None = 0,
    PortDown = 1 << 0,
    NoStp = 1 << 1,
    NoRecv = 1 << 2,
    NoRecvStp = 1 << 3,
    NoFlood = 1 << 4,
    NoFwd = 1 << 5,
    NoPacketIn = 1 << 6,
}

/// <summary>ofp_port_state. The STP values are a 2-bit field at bit 8, not independent flags.</summary>
[Flags]
public enum OfpPortState : uint
{
    None = 0,
    LinkDown = 1 << 0,
    StpListen = 0 << 8,
    StpLearn = 1 << 8,
    StpForward = 2 << 8,
    StpBlock = 3 << 8,
    StpMask = 3 << 8,
}

/// <summary>ofp_port_features (curr, advertised, supported, peer; port_mod.advertise).</summary>
[Flags]
public enum OfpPortFeatures : uint
{
    None = 0,
    Rate10MbHd = 1 << 0,
    Rate10MbFd = 1 << 1,
    Rate100MbHd = 1 << 2,
    Rate100MbFd = 1 << 3,
    Rate1GbHd = 1 << 4,
    Rate1GbFd = 1 << 5,
    Rate10GbFd = 1 << 6,
    Copper = 1 << 7,
    Fiber = 1 << 8,
    Autoneg = 1 << 9,
    Pause = 1 << 10,
    PauseAsym = 1 << 11,
}

/// <summary>ofp_packet_in_reason.</summary>
public enum OfpPacketInReason : byte
{
    NoMatch = 0,
    Action = 1,
}

/// <summary>ofp_flow_removed_reason.</summary>
public enum OfpFlowRemovedReason : byte
{
    IdleTimeout = 0,
    HardTimeout = 1,
    Delete = 2,
}

/// <summary>ofp_port_reason (port status).</summary>
public enum OfpPortReason : byte
{
    Add = 0,
    Delete = 1,
    Modify = 2,
}

/// <summary>ofp_config_flags: the IP fragment handling mode, a 2-bit field.</summary>
[Flags]
public enum OfpConfigFlags : ushort
{
    FragNormal = 0,
    FragDrop = 1,
    FragReasm = 2,
    FragMask = 3,
}

/// <summary>ofp_queue_properties.</summary>
public enum OfpQueueProperties : ushort
{
    /// <summary>OFPQT_NONE: no property defined for the queue.</summary>
    None = 0,
    /// <summary>OFPQT_MIN_RATE: minimum datarate guaranteed, in 1/10 of a percent.</summary>
    MinRate = 1,
}
