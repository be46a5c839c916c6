namespace Softswitch.OfWire.Of13;

// The fixed-layout requests a switch receives, each a struct in the codec's decode shape (see Ofp13Messages):
// TryDecode fills it from the whole message, header included, and Encode writes it back with pad bytes as zero, so
// that a decoded request written again decodes to the same fields.

/// <summary>OFPT_SET_CONFIG: ofp_switch_config (OpenFlow 1.3.5 section 7.3.2).</summary>
public struct Ofp13SwitchConfig
{
    public const int Size = 12;

    public byte Version;
    public uint Xid;
    public ushort Flags, MissSendLen;

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |                         ofp_header (8)                        |   0
    // +-------------------------------+-------------------------------+
    // |             flags             |         miss_send_len         |   8
    // +-------------------------------+-------------------------------+
    public bool TryDecode(ReadOnlySpan<byte> msg, out Ofp13Error error)
    {
        this = default;
        if (!Ofp13Messages.TryHeader(msg, Size, exact: true, out Version, out Xid, out error)) return false;
        Flags = Be.U16(msg, 8);
        MissSendLen = Be.U16(msg, 10);
        return true;
    }

    public readonly byte[] Encode()
    {
        var w = new Ofp13Writer(Size);
        int start = w.Begin(Version, Ofp13Type.SetConfig, Xid);
        w.U16(Flags); w.U16(MissSendLen);
        w.Finish(start);
        return w.ToArray();
    }
}

/// <summary>OFPT_PORT_MOD (section 7.3.4.3).</summary>
public struct Ofp13PortMod
{
    public const int Size = 40;

    public byte Version;
    public uint Xid, PortNo, Config, Mask, Advertise;
    /// <summary>A 48-bit MAC address in the low bits.</summary>
    public ulong HwAddr;

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
    // +---------------------------------------------------------------+
    // |                           advertise                           |  32
    // +---------------------------------------------------------------+
    // |                              pad                              |  36
    // +---------------------------------------------------------------+
    public bool TryDecode(ReadOnlySpan<byte> msg, out Ofp13Error error)
    {
        this = default;
        if (!Ofp13Messages.TryHeader(msg, Size, exact: true, out Version, out Xid, out error)) return false;
        PortNo = Be.U32(msg, 8);
        HwAddr = Be.Mac(msg, 16);
        Config = Be.U32(msg, 24);
        Mask = Be.U32(msg, 28);
        Advertise = Be.U32(msg, 32);
        return true;
    }

    public readonly byte[] Encode()
    {
        var w = new Ofp13Writer(Size);
        int start = w.Begin(Version, Ofp13Type.PortMod, Xid);
        w.U32(PortNo); w.Zeros(4); w.Mac(HwAddr); w.Zeros(2); w.U32(Config); w.U32(Mask); w.U32(Advertise); w.Zeros(4);
        w.Finish(start);
        return w.ToArray();
    }
}

/// <summary>OFPT_TABLE_MOD (section 7.3.3).</summary>
public struct Ofp13TableMod
{
    public const int Size = 16;

    public byte Version, TableId;
    public uint Xid, Config;

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |                         ofp_header (8)                        |   0
    // +---------------+-----------------------------------------------+
    // |    table_id   |                      pad                      |   8
    // +---------------------------------------------------------------+
    // |                             config                            |  12
    // +---------------------------------------------------------------+
    public bool TryDecode(ReadOnlySpan<byte> msg, out Ofp13Error error)
    {
        this = default;
        if (!Ofp13Messages.TryHeader(msg, Size, exact: true, out Version, out Xid, out error)) return false;
        TableId = msg[8];
        Config = Be.U32(msg, 12);
        return true;
    }

    public readonly byte[] Encode()
    {
        var w = new Ofp13Writer(Size);
        int start = w.Begin(Version, Ofp13Type.TableMod, Xid);
        w.U8(TableId); w.Zeros(3); w.U32(Config);
        w.Finish(start);
        return w.ToArray();
    }
}

/// <summary>OFPT_ROLE_REQUEST: the role (OFPCR_ROLE_*) and generation_id (section 7.3.9).</summary>
public struct Ofp13RoleRequest
{
    public const int Size = 24;

    public byte Version;
    public uint Xid, Role;
    public ulong GenerationId;

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |                         ofp_header (8)                        |   0
    // +---------------------------------------------------------------+
    // |                              role                             |   8
    // +---------------------------------------------------------------+
    // |                              pad                              |  12
    // +---------------------------------------------------------------+
    // |                       generation_id (8)                       |  16
    // +---------------------------------------------------------------+
    public bool TryDecode(ReadOnlySpan<byte> msg, out Ofp13Error error)
    {
        this = default;
        if (!Ofp13Messages.TryHeader(msg, Size, exact: true, out Version, out Xid, out error)) return false;
        Role = Be.U32(msg, 8);
        GenerationId = Be.U64(msg, 16);
        return true;
    }

    public readonly byte[] Encode()
    {
        var w = new Ofp13Writer(Size);
        int start = w.Begin(Version, Ofp13Type.RoleRequest, Xid);
        w.U32(Role); w.Zeros(4); w.U64(GenerationId);
        w.Finish(start);
        return w.ToArray();
    }
}

/// <summary>
/// OFPT_SET_ASYNC: ofp_async_config's six masks (section 7.3.10), each pair [0] for a master or equal controller,
/// [1] for a slave; the bits are the wire reasons.
/// </summary>
public struct Ofp13SetAsync
{
    public const int Size = 32;

    public byte Version;
    public uint Xid;
    public uint PacketInMaster, PacketInSlave, PortStatusMaster, PortStatusSlave, FlowRemovedMaster, FlowRemovedSlave;

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |                         ofp_header (8)                        |   0
    // +---------------------------------------------------------------+
    // |                packet_in_mask[0]: master, equal               |   8
    // +---------------------------------------------------------------+
    // |                    packet_in_mask[1]: slave                   |  12
    // +---------------------------------------------------------------+
    // |                      port_status_mask[0]                      |  16
    // +---------------------------------------------------------------+
    // |                      port_status_mask[1]                      |  20
    // +---------------------------------------------------------------+
    // |                      flow_removed_mask[0]                     |  24
    // +---------------------------------------------------------------+
    // |                      flow_removed_mask[1]                     |  28
    // +---------------------------------------------------------------+
    public bool TryDecode(ReadOnlySpan<byte> msg, out Ofp13Error error)
    {
        this = default;
        if (!Ofp13Messages.TryHeader(msg, Size, exact: true, out Version, out Xid, out error)) return false;
        PacketInMaster = Be.U32(msg, 8);
        PacketInSlave = Be.U32(msg, 12);
        PortStatusMaster = Be.U32(msg, 16);
        PortStatusSlave = Be.U32(msg, 20);
        FlowRemovedMaster = Be.U32(msg, 24);
        FlowRemovedSlave = Be.U32(msg, 28);
        return true;
    }

    public readonly byte[] Encode()
    {
        var w = new Ofp13Writer(Size);
        int start = w.Begin(Version, Ofp13Type.SetAsync, Xid);
        w.U32(PacketInMaster); w.U32(PacketInSlave); w.U32(PortStatusMaster); w.U32(PortStatusSlave); w.U32(FlowRemovedMaster); w.U32(FlowRemovedSlave);
        w.Finish(start);
        return w.ToArray();
    }
}

/// <summary>OFPT_QUEUE_GET_CONFIG_REQUEST: the port (section 7.3.6).</summary>
public struct Ofp13QueueGetConfigRequest
{
    public const int Size = 16;

    public byte Version;
    public uint Xid, Port;

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |                         ofp_header (8)                        |   0
    // +---------------------------------------------------------------+
    // |                              port                             |   8
    // +---------------------------------------------------------------+
    // |                              pad                              |  12
    // +---------------------------------------------------------------+
    public bool TryDecode(ReadOnlySpan<byte> msg, out Ofp13Error error)
    {
        this = default;
        if (!Ofp13Messages.TryHeader(msg, Size, exact: true, out Version, out Xid, out error)) return false;
        Port = Be.U32(msg, 8);
        return true;
    }

    public readonly byte[] Encode()
    {
        var w = new Ofp13Writer(Size);
        int start = w.Begin(Version, Ofp13Type.QueueGetConfigRequest, Xid);
        w.U32(Port); w.Zeros(4);
        w.Finish(start);
        return w.ToArray();
    }
}

/// <summary>
/// OFPT_MULTIPART_REQUEST's header: the type and flags (section 7.3.5). The body is the rest of the message
/// (<see cref="Body"/>), decoded by the type's body: <see cref="Ofp13FlowStatsRequest"/>, <see cref="Ofp13IdRequest"/>,
/// <see cref="Ofp13QueueRequest"/>, or nothing.
/// </summary>
public struct Ofp13MultipartRequest
{
    public byte Version;
    public uint Xid;
    public Ofp13MultipartType Type;
    public ushort Flags;

    /// <summary>The body of <paramref name="msg"/>, the message this was decoded from (empty when it is no longer than the header).</summary>
    public static ReadOnlySpan<byte> Body(ReadOnlySpan<byte> msg) => msg.Length > Ofp13Multipart.HeaderSize ? msg[Ofp13Multipart.HeaderSize..] : default;

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |                         ofp_header (8)                        |   0
    // +-------------------------------+-------------------------------+
    // |              type             |             flags             |   8
    // +---------------------------------------------------------------+
    // |                              pad                              |  12
    // +---------------------------------------------------------------+
    // |                       body (length - 16)                      |  16
    // +---------------------------------------------------------------+
    public bool TryDecode(ReadOnlySpan<byte> msg, out Ofp13Error error)
    {
        this = default;
        if (!Ofp13Messages.TryHeader(msg, Ofp13Multipart.HeaderSize, exact: false, out Version, out Xid, out error)) return false;
        Type = (Ofp13MultipartType)Be.U16(msg, 8);
        Flags = Be.U16(msg, 10);
        return true;
    }

    /// <summary>The request with <paramref name="body"/> after its header.</summary>
    public readonly byte[] Encode(ReadOnlySpan<byte> body)
    {
        var w = new Ofp13Writer(Ofp13Multipart.HeaderSize + body.Length);
        int start = w.Begin(Version, Ofp13Type.MultipartRequest, Xid);
        w.U16((ushort)Type); w.U16(Flags); w.Zeros(4);
        w.Bytes(body);
        w.Finish(start);
        return w.ToArray();
    }
}

/// <summary>The body of PORT_STATS, GROUP, METER and METER_CONFIG requests: one 32-bit number (port, group, meter) and 4 pad bytes.</summary>
public struct Ofp13IdRequest
{
    public const int Size = 8;

    public uint Id;

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |                 port_no / group_id / meter_id                 |   0
    // +---------------------------------------------------------------+
    // |                              pad                              |   4
    // +---------------------------------------------------------------+
    public bool TryDecode(ReadOnlySpan<byte> body, out Ofp13Error error)
    {
        this = default;
        if (!Ofp13Multipart.CheckBody(body, Size, out error)) return false;
        Id = Be.U32(body, 0);
        return true;
    }

    public readonly byte[] Encode()
    {
        var w = new Ofp13Writer(Size);
        w.U32(Id); w.Zeros(4);
        return w.ToArray();
    }
}

/// <summary>The body of a QUEUE request: port and queue.</summary>
public struct Ofp13QueueRequest
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
