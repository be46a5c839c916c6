using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Softswitch.OfWire.Of10;

/// <summary>
/// One OpenFlow 1.0 action, any kind, as a flat immutable value (actions live in plain arrays/lists and
/// are switched on <see cref="Type"/>). Only the fields of the action's kind are meaningful; the others are 0.
/// <para>
/// Vendor actions keep their body (every byte after the vendor id) verbatim, which is what they encode
/// from, so they always round-trip byte-exact. Nicira NXAST_SET_TUNNEL (16 bytes) and NXAST_SET_TUNNEL64
/// (24 bytes) are additionally recognised: <see cref="IsNxSetTunnel"/> and <see cref="TunnelId"/>; every Nicira action
/// the switch reads is read into its fields by <see cref="NxAction"/>. Whether a vendor action is supported (else
/// OFPBAC_BAD_VENDOR) is the translator's decision.
/// </para>
/// Invariant: an instance built by the decoder or the factories always encodes to a valid action.
/// </summary>
[StructLayout(LayoutKind.Auto)]
public readonly struct OfpAction : IEquatable<OfpAction>
{
    public const int HeaderSize = 8;

    private OfpAction(OfpActionType type) => Type = type;

    public OfpActionType Type { get; private init; }

    /// <summary>Output and enqueue: the port.</summary>
    public ushort Port { get; private init; }

    /// <summary>Output: bytes to send to the controller when the port is OFPP_CONTROLLER.</summary>
    public ushort MaxLen { get; private init; }

    /// <summary>Set-VLAN-VID: the 12-bit VLAN id.</summary>
    public ushort VlanVid { get; private init; }

    /// <summary>Set-VLAN-PCP: the 3-bit priority.</summary>
    public byte VlanPcp { get; private init; }

    /// <summary>Set-DL-src/dst: the Ethernet address.</summary>
    public OfpMac DlAddr { get; private init; }

    /// <summary>Set-NW-src/dst: the IPv4 address, host order.</summary>
    public uint NwAddr { get; private init; }

    /// <summary>Set-NW-TOS: the ToS byte (DSCP in the upper 6 bits, low 2 bits zero).</summary>
    public byte NwTos { get; private init; }

    /// <summary>Set-TP-src/dst: the transport port.</summary>
    public ushort TpPort { get; private init; }

    /// <summary>Enqueue: the queue id.</summary>
    public uint QueueId { get; private init; }

    /// <summary>Vendor: the vendor id.</summary>
    public uint Vendor { get; private init; }

    /// <summary>Vendor: the bytes after the vendor id (action length - 8, a multiple of 8).</summary>
    public ReadOnlyMemory<byte> VendorBody { get; private init; }

    /// <summary>Vendor with Nicira id and a body of at least 2 bytes: the NXAST subtype; else 0.</summary>
    public ushort NxSubtype { get; private init; }

    /// <summary>True for a well-formed NXAST_SET_TUNNEL or NXAST_SET_TUNNEL64.</summary>
    public bool IsNxSetTunnel { get; private init; }

    /// <summary>The tunnel id of a recognised Nicira set-tunnel action.</summary>
    public ulong TunnelId { get; private init; }

    /// <summary>Bytes this action occupies on the wire (its len field).</summary>
    public int EncodedSize => Type switch
    {
        OfpActionType.SetDlSrc or OfpActionType.SetDlDst or OfpActionType.Enqueue => 16,
        OfpActionType.Vendor => HeaderSize + VendorBody.Length,
        _ => 8,
    };

    public static OfpAction Output(ushort port, ushort maxLen = 0) => new(OfpActionType.Output) { Port = port, MaxLen = maxLen };
    public static OfpAction SetVlanVid(ushort vlanVid) => new(OfpActionType.SetVlanVid) { VlanVid = vlanVid };
    public static OfpAction SetVlanPcp(byte vlanPcp) => new(OfpActionType.SetVlanPcp) { VlanPcp = vlanPcp };
    public static OfpAction StripVlan() => new(OfpActionType.StripVlan);
    public static OfpAction SetDlSrc(OfpMac mac) => new(OfpActionType.SetDlSrc) { DlAddr = mac };
    public static OfpAction SetDlDst(OfpMac mac) => new(OfpActionType.SetDlDst) { DlAddr = mac };
    public static OfpAction SetNwSrc(uint ipv4) => new(OfpActionType.SetNwSrc) { NwAddr = ipv4 };
    public static OfpAction SetNwDst(uint ipv4) => new(OfpActionType.SetNwDst) { NwAddr = ipv4 };
    public static OfpAction SetNwTos(byte tos) => new(OfpActionType.SetNwTos) { NwTos = tos };
    public static OfpAction SetTpSrc(ushort port) => new(OfpActionType.SetTpSrc) { TpPort = port };
    public static OfpAction SetTpDst(ushort port) => new(OfpActionType.SetTpDst) { TpPort = port };
    public static OfpAction Enqueue(ushort port, uint queueId) => new(OfpActionType.Enqueue) { Port = port, QueueId = queueId };

    /// <summary>A vendor action; the body must make the action a multiple of 8 bytes and at most 65535.</summary>
    public static OfpAction VendorAction(uint vendor, ReadOnlyMemory<byte> body)
    {
        if (body.Length % 8 != 0 || body.Length > 0xfff0)
        {
            ThrowHelper.ThrowArgument("A vendor action body must be a multiple of 8 bytes (the action length must be).", nameof(body));
        }
        return FromVendor(vendor, body);
    }

    /// <summary>Nicira NXAST_SET_TUNNEL with a 32-bit tunnel id.</summary>
    public static OfpAction NxSetTunnel(uint tunnelId)
    {
        byte[] body = new byte[8];
        BinaryPrimitives.WriteUInt16BigEndian(body, (ushort)NxActionSubtype.SetTunnel);
        BinaryPrimitives.WriteUInt32BigEndian(body.AsSpan(4), tunnelId);
        return FromVendor(OfpConstants.NiciraVendorId, body);
    }

    /// <summary>Nicira NXAST_SET_TUNNEL64 with a 64-bit tunnel id.</summary>
    public static OfpAction NxSetTunnel64(ulong tunnelId)
    {
        byte[] body = new byte[16];
        BinaryPrimitives.WriteUInt16BigEndian(body, (ushort)NxActionSubtype.SetTunnel64);
        BinaryPrimitives.WriteUInt64BigEndian(body.AsSpan(8), tunnelId);
        return FromVendor(OfpConstants.NiciraVendorId, body);
    }

    /// <summary>
    /// A 16-byte Nicira action of <paramref name="subtype"/> with no argument (DEC_TTL, DEC_MPLS_TTL), an 8-bit one in the
    /// byte after the subtype (SET_MPLS_TTL, SET_MPLS_TC: <paramref name="width"/> 1), a 16-bit one there (PUSH_MPLS,
    /// POP_MPLS: 2), or a 32-bit one aligned after two pad bytes (SET_QUEUE, GROUP, SET_MPLS_LABEL: 4), as Open vSwitch
    /// writes OpenFlow 1.1+ actions to an OpenFlow 1.0 peer.
    /// </summary>
    public static OfpAction Nicira(NxActionSubtype subtype, int width = 0, uint arg = 0)
    {
        byte[] body = new byte[8];
        BinaryPrimitives.WriteUInt16BigEndian(body, (ushort)subtype);
        switch (width)
        {
            case 1: body[2] = (byte)arg; break;
            case 2: BinaryPrimitives.WriteUInt16BigEndian(body.AsSpan(2), (ushort)arg); break;
            case 4: BinaryPrimitives.WriteUInt32BigEndian(body.AsSpan(4), arg); break;
        }
        return FromVendor(OfpConstants.NiciraVendorId, body);
    }

    /// <summary>
    /// Nicira NXAST_REG_LOAD: sets bits <paramref name="ofs"/>..ofs+<paramref name="bits"/>-1 (1..64 of them) of the field
    /// of NXM or OXM <paramref name="header"/> to <paramref name="value"/> (see <see cref="NxAction"/>).
    /// </summary>
    public static OfpAction NxRegLoad(uint header, int ofs, int bits, ulong value)
    {
        byte[] body = new byte[16];
        BinaryPrimitives.WriteUInt16BigEndian(body, (ushort)NxActionSubtype.RegLoad);
        BinaryPrimitives.WriteUInt16BigEndian(body.AsSpan(2), (ushort)(ofs << 6 | (bits - 1)));
        BinaryPrimitives.WriteUInt32BigEndian(body.AsSpan(4), header);
        BinaryPrimitives.WriteUInt64BigEndian(body.AsSpan(8), value);
        return FromVendor(OfpConstants.NiciraVendorId, body);
    }

    /// <summary>Nicira NXAST_REG_LOAD2: sets the field of <paramref name="tlv"/> (an OXM or NXM TLV without mask) to its value.</summary>
    public static OfpAction NxRegLoad2(ReadOnlySpan<byte> tlv)
    {
        // The TLV follows the subtype at once (in place of ext_action_header's pad, as Open vSwitch writes it), padded to 8.
        byte[] body = new byte[((OfpAction.HeaderSize + 2 + tlv.Length + 7) & ~7) - OfpAction.HeaderSize];
        BinaryPrimitives.WriteUInt16BigEndian(body, (ushort)NxActionSubtype.RegLoad2);
        tlv.CopyTo(body.AsSpan(2));
        return FromVendor(OfpConstants.NiciraVendorId, body);
    }

    /// <summary>
    /// Nicira NXAST_RESUBMIT_TABLE with in_port OFPP_IN_PORT: how Open vSwitch shows an OpenFlow 1.3 goto-table in an
    /// OpenFlow 1.0 reply (ovs-ofctl prints <c>resubmit(,TABLE)</c>).
    /// </summary>
    public static OfpAction NxResubmitTable(byte table)
    {
        byte[] body = new byte[8];
        BinaryPrimitives.WriteUInt16BigEndian(body, (ushort)NxActionSubtype.ResubmitTable);
        BinaryPrimitives.WriteUInt16BigEndian(body.AsSpan(2), (ushort)OfpPort.InPort);
        body[4] = table;
        return FromVendor(OfpConstants.NiciraVendorId, body);
    }

    //  nx_action_resubmit (16)
    // +--------+--------+----------------+
    // | 0xffff | len=16 |  vendor 0x2320 |
    // +--------+--------+-------+--------+
    // | subtype=14 | in_port | table | pad3|
    // +------------+---------+-------+-----+
    //  nx_action_set_tunnel (16)                 nx_action_set_tunnel64 (24)
    // +--------+--------+----------------+      +--------+--------+----------------+
    // | 0xffff | len=16 |  vendor 0x2320 |      | 0xffff | len=24 |  vendor 0x2320 |
    // +--------+--------+----------------+      +--------+--------+----------------+
    // | subtype=2 | pad2|     tun_id     |      | subtype=9 |       pad (6)        |
    // +-----------+-----+----------------+      +-----------+----------------------+
    //                                           |           tun_id (64)            |
    //                                           +----------------------------------+
    private static OfpAction FromVendor(uint vendor, ReadOnlyMemory<byte> body)
    {
        var action = new OfpAction(OfpActionType.Vendor) { Vendor = vendor, VendorBody = body };
        if (vendor != OfpConstants.NiciraVendorId || body.Length < 2)
        {
            return action;
        }
        ReadOnlySpan<byte> b = body.Span;
        ushort subtype = BinaryPrimitives.ReadUInt16BigEndian(b);
        if (subtype == (ushort)NxActionSubtype.SetTunnel && b.Length == 8)
        {
            return action with { NxSubtype = subtype, IsNxSetTunnel = true, TunnelId = BinaryPrimitives.ReadUInt32BigEndian(b.Slice(4)) };
        }
        if (subtype == (ushort)NxActionSubtype.SetTunnel64 && b.Length == 16)
        {
            return action with { NxSubtype = subtype, IsNxSetTunnel = true, TunnelId = BinaryPrimitives.ReadUInt64BigEndian(b.Slice(8)) };
        }
        return action with { NxSubtype = subtype };
    }

    /// <summary>True for a port an output action may name: a physical port below OFPP_MAX or a reserved
    /// port other than OFPP_NONE. Whether the physical port exists is the datapath's question.</summary>
    public static bool IsValidOutputPort(ushort port) =>
        port < (ushort)OfpPort.Max || (port >= (ushort)OfpPort.InPort && port != (ushort)OfpPort.None);

    /// <summary>True for a port an enqueue action may name: physical, OFPP_IN_PORT or OFPP_LOCAL (as OVS).</summary>
    public static bool IsValidEnqueuePort(ushort port) =>
        port < (ushort)OfpPort.Max || port == (ushort)OfpPort.InPort || port == (ushort)OfpPort.Local;

    // Every action starts with the same 4 bytes, len a multiple of 8:
    // +-------------------------------+-------------------------------+
    // |             type              |              len              |
    // +-------------------------------+-------------------------------+
    // Per type, the next bytes (offset 4):
    //   OUTPUT (8)       port(2) max_len(2)
    //   SET_VLAN_VID (8) vlan_vid(2) pad(2)          vlan_vid <= 0xfff  else BAD_ARGUMENT
    //   SET_VLAN_PCP (8) vlan_pcp(1) pad(3)          vlan_pcp <= 7      else BAD_ARGUMENT
    //   STRIP_VLAN (8)   pad(4)
    //   SET_DL_SRC/DST (16) dl_addr(6) pad(6)
    //   SET_NW_SRC/DST (8)  nw_addr(4)
    //   SET_NW_TOS (8)   nw_tos(1) pad(3)            low 2 bits zero    else BAD_ARGUMENT
    //   SET_TP_SRC/DST (8)  tp_port(2) pad(2)
    //   ENQUEUE (16)     port(2) pad(6) queue_id(4)
    //   VENDOR (8+8n)    vendor(4) body(len-8)
    /// <summary>
    /// Decodes the single action at the start of <paramref name="source"/>. On success
    /// <paramref name="size"/> is its length. Errors: OFPBAC_BAD_LEN (fewer than 8 bytes, len not a
    /// multiple of 8, too short, past the end, or wrong for the type), OFPBAC_BAD_TYPE,
    /// OFPBAC_BAD_OUT_PORT, OFPBAC_BAD_ARGUMENT.
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> source, out OfpAction action, out int size, out OfpError error)
    {
        action = default;
        size = 0;
        if ((uint)source.Length < HeaderSize)
        {
            error = OfpError.BadActionLen;
            return false;
        }
        var type = (OfpActionType)BinaryPrimitives.ReadUInt16BigEndian(source);
        int len = BinaryPrimitives.ReadUInt16BigEndian(source.Slice(2));
        if (len < HeaderSize || (len & 7) != 0 || len > source.Length)
        {
            error = OfpError.BadActionLen;
            return false;
        }
        source = source.Slice(0, len);
        int expected = type switch
        {
            OfpActionType.Output or OfpActionType.SetVlanVid or OfpActionType.SetVlanPcp or OfpActionType.StripVlan
                or OfpActionType.SetNwSrc or OfpActionType.SetNwDst or OfpActionType.SetNwTos
                or OfpActionType.SetTpSrc or OfpActionType.SetTpDst => 8,
            OfpActionType.SetDlSrc or OfpActionType.SetDlDst or OfpActionType.Enqueue => 16,
            OfpActionType.Vendor => len,
            _ => -1,
        };
        if (expected < 0)
        {
            error = OfpError.BadAction(OfpBadActionCode.BadType);
            return false;
        }
        if (len != expected)
        {
            error = OfpError.BadActionLen;
            return false;
        }

        error = default;
        switch (type)
        {
            case OfpActionType.Output:
                action = Output(BinaryPrimitives.ReadUInt16BigEndian(source.Slice(4)), BinaryPrimitives.ReadUInt16BigEndian(source.Slice(6)));
                if (!IsValidOutputPort(action.Port))
                {
                    error = OfpError.BadAction(OfpBadActionCode.BadOutPort);
                }
                break;
            case OfpActionType.SetVlanVid:
                action = SetVlanVid(BinaryPrimitives.ReadUInt16BigEndian(source.Slice(4)));
                if (action.VlanVid > 0xfff)
                {
                    error = OfpError.BadAction(OfpBadActionCode.BadArgument);
                }
                break;
            case OfpActionType.SetVlanPcp:
                action = SetVlanPcp(source[4]);
                if (action.VlanPcp > 7)
                {
                    error = OfpError.BadAction(OfpBadActionCode.BadArgument);
                }
                break;
            case OfpActionType.StripVlan:
                action = StripVlan();
                break;
            case OfpActionType.SetDlSrc:
                action = SetDlSrc(OfpMac.Read(source.Slice(4)));
                break;
            case OfpActionType.SetDlDst:
                action = SetDlDst(OfpMac.Read(source.Slice(4)));
                break;
            case OfpActionType.SetNwSrc:
                action = SetNwSrc(BinaryPrimitives.ReadUInt32BigEndian(source.Slice(4)));
                break;
            case OfpActionType.SetNwDst:
                action = SetNwDst(BinaryPrimitives.ReadUInt32BigEndian(source.Slice(4)));
                break;
            case OfpActionType.SetNwTos:
                action = SetNwTos(source[4]);
                if ((action.NwTos & 0x03) != 0)
                {
                    error = OfpError.BadAction(OfpBadActionCode.BadArgument);
                }
                break;
            case OfpActionType.SetTpSrc:
                action = SetTpSrc(BinaryPrimitives.ReadUInt16BigEndian(source.Slice(4)));
                break;
            case OfpActionType.SetTpDst:
                action = SetTpDst(BinaryPrimitives.ReadUInt16BigEndian(source.Slice(4)));
                break;
            case OfpActionType.Enqueue:
                action = Enqueue(BinaryPrimitives.ReadUInt16BigEndian(source.Slice(4)), BinaryPrimitives.ReadUInt32BigEndian(source.Slice(12)));
                if (!IsValidEnqueuePort(action.Port))
                {
                    error = OfpError.BadAction(OfpBadActionCode.BadOutPort);
                }
                break;
            default: // Vendor
                action = FromVendor(BinaryPrimitives.ReadUInt32BigEndian(source.Slice(4)), OfpWire.Copy(source.Slice(HeaderSize)));
                break;
        }
        if (error != default)
        {
            action = default;
            return false;
        }
        size = len;
        return true;
    }

    /// <summary>Writes the action (pads zero) and returns its size.</summary>
    public int Encode(Span<byte> destination)
    {
        int size = EncodedSize;
        if ((uint)destination.Length < (uint)size)
        {
            ThrowHelper.ThrowDestinationTooSmall();
        }
        Span<byte> d = destination.Slice(0, size);
        d.Clear();
        BinaryPrimitives.WriteUInt16BigEndian(d, (ushort)Type);
        BinaryPrimitives.WriteUInt16BigEndian(d.Slice(2), (ushort)size);
        switch (Type)
        {
            case OfpActionType.Output:
                BinaryPrimitives.WriteUInt16BigEndian(d.Slice(4), Port);
                BinaryPrimitives.WriteUInt16BigEndian(d.Slice(6), MaxLen);
                break;
            case OfpActionType.SetVlanVid:
                BinaryPrimitives.WriteUInt16BigEndian(d.Slice(4), VlanVid);
                break;
            case OfpActionType.SetVlanPcp:
                d[4] = VlanPcp;
                break;
            case OfpActionType.SetDlSrc:
            case OfpActionType.SetDlDst:
                DlAddr.Write(d.Slice(4));
                break;
            case OfpActionType.SetNwSrc:
            case OfpActionType.SetNwDst:
                BinaryPrimitives.WriteUInt32BigEndian(d.Slice(4), NwAddr);
                break;
            case OfpActionType.SetNwTos:
                d[4] = NwTos;
                break;
            case OfpActionType.SetTpSrc:
            case OfpActionType.SetTpDst:
                BinaryPrimitives.WriteUInt16BigEndian(d.Slice(4), TpPort);
                break;
            case OfpActionType.Enqueue:
                BinaryPrimitives.WriteUInt16BigEndian(d.Slice(4), Port);
                BinaryPrimitives.WriteUInt32BigEndian(d.Slice(12), QueueId);
                break;
            case OfpActionType.Vendor:
                BinaryPrimitives.WriteUInt32BigEndian(d.Slice(4), Vendor);
                VendorBody.Span.CopyTo(d.Slice(HeaderSize));
                break;
        }
        return size;
    }

    public bool Equals(OfpAction other) =>
        Type == other.Type && Port == other.Port && MaxLen == other.MaxLen && VlanVid == other.VlanVid
        && VlanPcp == other.VlanPcp && DlAddr == other.DlAddr && NwAddr == other.NwAddr && NwTos == other.NwTos
        && TpPort == other.TpPort && QueueId == other.QueueId && Vendor == other.Vendor
        && NxSubtype == other.NxSubtype && IsNxSetTunnel == other.IsNxSetTunnel && TunnelId == other.TunnelId
        && VendorBody.Span.SequenceEqual(other.VendorBody.Span);

    public override bool Equals(object? obj) => obj is OfpAction other && Equals(other);

    public override int GetHashCode() =>
        HashCode.Combine(Type, Port, MaxLen, VlanVid, DlAddr, NwAddr, QueueId, HashCode.Combine(Vendor, TunnelId, VendorBody.Length));

    public static bool operator ==(OfpAction left, OfpAction right) => left.Equals(right);
    public static bool operator !=(OfpAction left, OfpAction right) => !left.Equals(right);

    public override string ToString() => Type switch
    {
        OfpActionType.Output => $"output:{Port} max_len={MaxLen}",
        OfpActionType.SetVlanVid => $"set_vlan_vid:{VlanVid}",
        OfpActionType.SetVlanPcp => $"set_vlan_pcp:{VlanPcp}",
        OfpActionType.StripVlan => "strip_vlan",
        OfpActionType.SetDlSrc => $"set_dl_src:{DlAddr}",
        OfpActionType.SetDlDst => $"set_dl_dst:{DlAddr}",
        OfpActionType.SetNwSrc => $"set_nw_src:{NwAddr:x8}",
        OfpActionType.SetNwDst => $"set_nw_dst:{NwAddr:x8}",
        OfpActionType.SetNwTos => $"set_nw_tos:{NwTos}",
        OfpActionType.SetTpSrc => $"set_tp_src:{TpPort}",
        OfpActionType.SetTpDst => $"set_tp_dst:{TpPort}",
        OfpActionType.Enqueue => $"enqueue:{Port}:{QueueId}",
        OfpActionType.Vendor when IsNxSetTunnel => $"nx_set_tunnel{(VendorBody.Length == 16 ? "64" : "")}:{TunnelId:x}",
        OfpActionType.Vendor => $"vendor:{Vendor:x8} body={Convert.ToHexString(VendorBody.Span)}",
        _ => $"type{(ushort)Type}",
    };
}

/// <summary>Action lists: the actions[] of flow-mod, packet-out and flow stats.</summary>
public static class OfpActions
{
    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |      action (len): the diagram above OfpAction.TryDecode      |   0
    // +---------------------------------------------------------------+
    // |          actions back to back, to the end of the list         | len
    // +---------------------------------------------------------------+
    /// <summary>
    /// Decodes a whole action list (exactly <paramref name="source"/>, no trailing bytes) and appends the
    /// actions to <paramref name="destination"/>. On failure nothing is appended and
    /// <paramref name="error"/> is the OFPET_BAD_ACTION error of the first bad action.
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> source, List<OfpAction> destination, out OfpError error)
    {
        int start = destination.Count;
        while (!source.IsEmpty)
        {
            if (!OfpAction.TryDecode(source, out OfpAction action, out int size, out error))
            {
                destination.RemoveRange(start, destination.Count - start);
                return false;
            }
            destination.Add(action);
            source = source.Slice(size);
        }
        error = default;
        return true;
    }

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |        actions[]: the diagram above the overload before       |   0
    // +---------------------------------------------------------------+
    /// <summary>Decodes an action list into a new list sized for it.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> source, out List<OfpAction> actions, out OfpError error)
    {
        actions = new List<OfpAction>(Math.Min(source.Length / OfpAction.HeaderSize, 64));
        return TryDecode(source, actions, out error);
    }

    /// <summary>Bytes the list occupies on the wire.</summary>
    public static int GetEncodedSize(List<OfpAction>? actions)
    {
        if (actions is null)
        {
            return 0;
        }
        int size = 0;
        foreach (OfpAction action in CollectionsMarshal.AsSpan(actions))
        {
            size += action.EncodedSize;
        }
        return size;
    }

    /// <summary>Writes the list and returns its size.</summary>
    public static int Encode(List<OfpAction>? actions, Span<byte> destination) =>
        actions is null ? 0 : Encode(CollectionsMarshal.AsSpan(actions), destination);

    /// <summary>Writes the actions back to back and returns the bytes written.</summary>
    public static int Encode(ReadOnlySpan<OfpAction> actions, Span<byte> destination)
    {
        int offset = 0;
        foreach (OfpAction action in actions)
        {
            offset += action.Encode(destination.Slice(offset));
        }
        return offset;
    }
}
