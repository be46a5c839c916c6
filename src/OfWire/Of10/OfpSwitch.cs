using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;

namespace Softswitch.OfWire.Of10;

// Session and switch-configuration messages: hello, echo, vendor, features, get/set config, barrier,
// queue config.

/// <summary>
/// OFPT_HELLO. 1.0 says the body must be ignored; it is kept (OF1.3+ peers put a version bitmap there)
/// so that it round-trips. Decodes at any header version: version negotiation is the session's.
/// </summary>
public sealed class OfpHello : OfpMessage
{
    public override OfpType Type => OfpType.Hello;

    /// <summary>Bytes after the header, ignored by a 1.0 switch.</summary>
    public ReadOnlyMemory<byte> Body { get; set; }

    private protected override int BodySize => Body.Length;

    private protected override void EncodeBody(Span<byte> body) => Body.Span.CopyTo(body);

    // +---------------------------+
    // | ofp_header (8)            |
    // +---------------------------+
    // | body (length - 8), ignored|
    // +---------------------------+
    internal static bool TryDecodeBody(ReadOnlySpan<byte> body, out OfpMessage? message, out OfpError error) =>
        Success(new OfpHello { Body = OfpWire.Copy(body) }, out message, out error);
}

/// <summary>Shared shape of OFPT_ECHO_REQUEST and OFPT_ECHO_REPLY: arbitrary data.</summary>
public abstract class OfpEchoMessage : OfpMessage
{
    private protected OfpEchoMessage()
    {
    }

    /// <summary>Arbitrary payload; a reply carries the request's payload back.</summary>
    public ReadOnlyMemory<byte> Data { get; set; }

    private protected override int BodySize => Data.Length;

    private protected override void EncodeBody(Span<byte> body) => Data.Span.CopyTo(body);
}

/// <summary>OFPT_ECHO_REQUEST.</summary>
public sealed class OfpEchoRequest : OfpEchoMessage
{
    public override OfpType Type => OfpType.EchoRequest;

    /// <summary>The reply the switch sends: same xid, same data.</summary>
    public OfpEchoReply CreateReply() => new() { Xid = Xid, Data = Data };

    // +---------------------------+
    // | ofp_header (8)            |
    // +---------------------------+
    // | data (length - 8)         |
    // +---------------------------+
    internal static bool TryDecodeBody(ReadOnlySpan<byte> body, out OfpMessage? message, out OfpError error) =>
        Success(new OfpEchoRequest { Data = OfpWire.Copy(body) }, out message, out error);
}

/// <summary>OFPT_ECHO_REPLY.</summary>
public sealed class OfpEchoReply : OfpEchoMessage
{
    public override OfpType Type => OfpType.EchoReply;

    // +---------------------------+
    // | ofp_header (8)            |
    // +---------------------------+
    // | data (length - 8)         |
    // +---------------------------+
    internal static bool TryDecodeBody(ReadOnlySpan<byte> body, out OfpMessage? message, out OfpError error) =>
        Success(new OfpEchoReply { Data = OfpWire.Copy(body) }, out message, out error);
}

/// <summary>OFPT_VENDOR. Whether the vendor is supported (else OFPBRC_BAD_VENDOR) is the session's call.</summary>
public sealed class OfpVendor : OfpMessage
{
    public const int MinSize = 12;

    public override OfpType Type => OfpType.Vendor;

    /// <summary>Vendor id (e.g. <see cref="OfpConstants.NiciraVendorId"/>).</summary>
    public uint Vendor { get; set; }

    /// <summary>Vendor-defined bytes after the vendor id.</summary>
    public ReadOnlyMemory<byte> Data { get; set; }

    private protected override int BodySize => 4 + Data.Length;

    private protected override void EncodeBody(Span<byte> body)
    {
        BinaryPrimitives.WriteUInt32BigEndian(body, Vendor);
        Data.Span.CopyTo(body.Slice(4));
    }

    // +---------------------------+
    // | ofp_header (8)            |
    // +---------------------------+
    // | vendor (4)                |
    // +---------------------------+
    // | data (length - 12)        |
    // +---------------------------+
    internal static bool TryDecodeBody(ReadOnlySpan<byte> body, out OfpMessage? message, out OfpError error)
    {
        if ((uint)body.Length < 4)
        {
            return Fail(OfpError.BadLen, out message, out error);
        }
        return Success(new OfpVendor
        {
            Vendor = BinaryPrimitives.ReadUInt32BigEndian(body),
            Data = OfpWire.Copy(body.Slice(4)),
        }, out message, out error);
    }
}

/// <summary>OFPT_FEATURES_REQUEST: header only.</summary>
public sealed class OfpFeaturesRequest : OfpMessage
{
    public override OfpType Type => OfpType.FeaturesRequest;
    private protected override int BodySize => 0;
    private protected override void EncodeBody(Span<byte> body) { }
}

/// <summary>OFPT_FEATURES_REPLY (struct ofp_switch_features) with its ports.</summary>
public sealed class OfpFeaturesReply : OfpMessage
{
    public const int MinSize = 32;

    public override OfpType Type => OfpType.FeaturesReply;

    /// <summary>Datapath id; the low 48 bits are a MAC, the upper 16 implementer-defined.</summary>
    public ulong DatapathId { get; set; }
    public uint NBuffers { get; set; }
    public byte NTables { get; set; }
    public OfpCapabilities Capabilities { get; set; }

    /// <summary>Bitmap of supported actions, bit n = 1 &lt;&lt; OfpActionType n.</summary>
    public uint Actions { get; set; }

    public List<OfpPhyPort> Ports { get; set; } = new();

    private protected override int BodySize => MinSize - OfpHeader.Size + Ports.Count * OfpPhyPort.Size;

    private protected override void EncodeBody(Span<byte> body)
    {
        BinaryPrimitives.WriteUInt64BigEndian(body, DatapathId);
        BinaryPrimitives.WriteUInt32BigEndian(body.Slice(8), NBuffers);
        body[12] = NTables;
        BinaryPrimitives.WriteUInt32BigEndian(body.Slice(16), (uint)Capabilities);
        BinaryPrimitives.WriteUInt32BigEndian(body.Slice(20), Actions);
        int offset = 24;
        foreach (OfpPhyPort port in CollectionsMarshal.AsSpan(Ports))
        {
            port.Write(body.Slice(offset));
            offset += OfpPhyPort.Size;
        }
    }

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // | ofp_header (8)                                                |  0
    // +---------------------------------------------------------------+
    // |                       datapath_id (8)                         |  8
    // +---------------------------------------------------------------+
    // |                          n_buffers                            | 16
    // +---------------+-----------------------------------------------+
    // |   n_tables    |                  pad (3)                      | 20
    // +---------------+-----------------------------------------------+
    // |                        capabilities                           | 24
    // +---------------------------------------------------------------+
    // |                          actions                              | 28
    // +---------------------------------------------------------------+
    // | ofp_phy_port (48) x n, n inferred from length                 | 32
    // +---------------------------------------------------------------+
    internal static bool TryDecodeBody(ReadOnlySpan<byte> body, out OfpMessage? message, out OfpError error)
    {
        const int fixedBody = MinSize - OfpHeader.Size;
        if ((uint)body.Length < fixedBody || (body.Length - fixedBody) % OfpPhyPort.Size != 0)
        {
            return Fail(OfpError.BadLen, out message, out error);
        }
        var reply = new OfpFeaturesReply
        {
            DatapathId = BinaryPrimitives.ReadUInt64BigEndian(body),
            NBuffers = BinaryPrimitives.ReadUInt32BigEndian(body.Slice(8)),
            NTables = body[12],
            Capabilities = (OfpCapabilities)BinaryPrimitives.ReadUInt32BigEndian(body.Slice(16)),
            Actions = BinaryPrimitives.ReadUInt32BigEndian(body.Slice(20)),
            Ports = new List<OfpPhyPort>((body.Length - fixedBody) / OfpPhyPort.Size),
        };
        for (ReadOnlySpan<byte> ports = body.Slice(fixedBody); !ports.IsEmpty; ports = ports.Slice(OfpPhyPort.Size))
        {
            OfpPhyPort.TryRead(ports, out OfpPhyPort port);
            reply.Ports.Add(port);
        }
        return Success(reply, out message, out error);
    }
}

/// <summary>OFPT_GET_CONFIG_REQUEST: header only.</summary>
public sealed class OfpGetConfigRequest : OfpMessage
{
    public override OfpType Type => OfpType.GetConfigRequest;
    private protected override int BodySize => 0;
    private protected override void EncodeBody(Span<byte> body) { }
}

/// <summary>Shared shape (struct ofp_switch_config) of OFPT_GET_CONFIG_REPLY and OFPT_SET_CONFIG.</summary>
public abstract class OfpSwitchConfig : OfpMessage
{
    public const int Size = 12;

    private protected OfpSwitchConfig()
    {
    }

    /// <summary>OFPC_FRAG_* in the low 2 bits; other bits kept as received.</summary>
    public OfpConfigFlags Flags { get; set; }

    /// <summary>Bytes of a table-miss packet sent to the controller.</summary>
    public ushort MissSendLen { get; set; } = OfpConstants.DefaultMissSendLen;

    private protected override int BodySize => Size - OfpHeader.Size;

    private protected override void EncodeBody(Span<byte> body)
    {
        BinaryPrimitives.WriteUInt16BigEndian(body, (ushort)Flags);
        BinaryPrimitives.WriteUInt16BigEndian(body.Slice(2), MissSendLen);
    }

    // +---------------------------+
    // | ofp_header (8)            |
    // +-------------+-------------+
    // | flags (2)   | miss_send_len (2)
    // +-------------+-------------+
    internal static bool TryDecodeBody(ReadOnlySpan<byte> body, OfpSwitchConfig value, out OfpMessage? message, out OfpError error)
    {
        if (body.Length != Size - OfpHeader.Size)
        {
            return Fail(OfpError.BadLen, out message, out error);
        }
        value.Flags = (OfpConfigFlags)BinaryPrimitives.ReadUInt16BigEndian(body);
        value.MissSendLen = BinaryPrimitives.ReadUInt16BigEndian(body.Slice(2));
        return Success(value, out message, out error);
    }
}

/// <summary>OFPT_GET_CONFIG_REPLY.</summary>
public sealed class OfpGetConfigReply : OfpSwitchConfig
{
    public override OfpType Type => OfpType.GetConfigReply;
}

/// <summary>OFPT_SET_CONFIG.</summary>
public sealed class OfpSetConfig : OfpSwitchConfig
{
    public override OfpType Type => OfpType.SetConfig;
}

/// <summary>OFPT_BARRIER_REQUEST: header only.</summary>
public sealed class OfpBarrierRequest : OfpMessage
{
    public override OfpType Type => OfpType.BarrierRequest;
    private protected override int BodySize => 0;
    private protected override void EncodeBody(Span<byte> body) { }

    /// <summary>The reply the switch sends once every earlier message is processed.</summary>
    public OfpBarrierReply CreateReply() => new() { Xid = Xid };
}

/// <summary>OFPT_BARRIER_REPLY: header only.</summary>
public sealed class OfpBarrierReply : OfpMessage
{
    public override OfpType Type => OfpType.BarrierReply;
    private protected override int BodySize => 0;
    private protected override void EncodeBody(Span<byte> body) { }
}

/// <summary>OFPT_QUEUE_GET_CONFIG_REQUEST.</summary>
public sealed class OfpQueueGetConfigRequest : OfpMessage
{
    public const int Size = 12;

    public override OfpType Type => OfpType.QueueGetConfigRequest;

    /// <summary>Port to be queried; should refer to a valid physical port (i.e. &lt; OFPP_MAX).</summary>
    public ushort Port { get; set; }

    private protected override int BodySize => Size - OfpHeader.Size;

    private protected override void EncodeBody(Span<byte> body) => BinaryPrimitives.WriteUInt16BigEndian(body, Port);

    // +---------------------------+
    // | ofp_header (8)            |
    // +-------------+-------------+
    // | port (2)    | pad (2)     |
    // +-------------+-------------+
    internal static bool TryDecodeBody(ReadOnlySpan<byte> body, out OfpMessage? message, out OfpError error)
    {
        if (body.Length != Size - OfpHeader.Size)
        {
            return Fail(OfpError.BadLen, out message, out error);
        }
        return Success(new OfpQueueGetConfigRequest { Port = BinaryPrimitives.ReadUInt16BigEndian(body) }, out message, out error);
    }
}

/// <summary>OFPT_QUEUE_GET_CONFIG_REPLY with its queues.</summary>
public sealed class OfpQueueGetConfigReply : OfpMessage
{
    public const int MinSize = 16;

    public override OfpType Type => OfpType.QueueGetConfigReply;

    public ushort Port { get; set; }

    public List<OfpPacketQueue> Queues { get; set; } = new();

    private protected override int BodySize
    {
        get
        {
            int size = MinSize - OfpHeader.Size;
            foreach (OfpPacketQueue queue in CollectionsMarshal.AsSpan(Queues))
            {
                size += queue.EncodedSize;
            }
            return size;
        }
    }

    private protected override void EncodeBody(Span<byte> body)
    {
        BinaryPrimitives.WriteUInt16BigEndian(body, Port);
        int offset = MinSize - OfpHeader.Size;
        foreach (OfpPacketQueue queue in CollectionsMarshal.AsSpan(Queues))
        {
            offset += queue.Encode(body.Slice(offset));
        }
    }

    // +---------------------------------------------+
    // | ofp_header (8)                              |
    // +-------------+-------------------------------+
    // | port (2)    | pad (6)                       |
    // +-------------+-------------------------------+
    // | ofp_packet_queue (len each) ... to the end  |
    // +---------------------------------------------+
    internal static bool TryDecodeBody(ReadOnlySpan<byte> body, out OfpMessage? message, out OfpError error)
    {
        const int fixedBody = MinSize - OfpHeader.Size;
        if ((uint)body.Length < fixedBody)
        {
            return Fail(OfpError.BadLen, out message, out error);
        }
        var reply = new OfpQueueGetConfigReply { Port = BinaryPrimitives.ReadUInt16BigEndian(body) };
        for (ReadOnlySpan<byte> rest = body.Slice(fixedBody); !rest.IsEmpty;)
        {
            if (!OfpPacketQueue.TryDecode(rest, out OfpPacketQueue? queue, out int size))
            {
                return Fail(OfpError.BadLen, out message, out error);
            }
            reply.Queues.Add(queue);
            rest = rest.Slice(size);
        }
        return Success(reply, out message, out error);
    }
}

/// <summary>struct ofp_packet_queue: one queue and its properties.</summary>
public sealed class OfpPacketQueue
{
    public const int HeaderSize = 8;

    public uint QueueId { get; set; }

    public List<OfpQueueProperty> Properties { get; set; } = new();

    public int EncodedSize
    {
        get
        {
            int size = HeaderSize;
            foreach (OfpQueueProperty property in CollectionsMarshal.AsSpan(Properties))
            {
                size += property.EncodedSize;
            }
            return size;
        }
    }

    internal int Encode(Span<byte> destination)
    {
        int size = EncodedSize;
        BinaryPrimitives.WriteUInt32BigEndian(destination, QueueId);
        BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(4), (ushort)size);
        int offset = HeaderSize;
        foreach (OfpQueueProperty property in CollectionsMarshal.AsSpan(Properties))
        {
            offset += property.Encode(destination.Slice(offset));
        }
        return size;
    }

    // +---------------------------+-------------+-------------+
    // | queue_id (4)              | len (2)     | pad (2)     |
    // +---------------------------+-------------+-------------+
    // | ofp_queue_prop_header-led properties, filling len     |
    // +-------------------------------------------------------+
    internal static bool TryDecode(ReadOnlySpan<byte> source, [NotNullWhen(true)] out OfpPacketQueue? queue, out int size)
    {
        queue = null;
        size = 0;
        if ((uint)source.Length < HeaderSize)
        {
            return false;
        }
        int len = BinaryPrimitives.ReadUInt16BigEndian(source.Slice(4));
        if (len < HeaderSize || len > source.Length)
        {
            return false;
        }
        var result = new OfpPacketQueue { QueueId = BinaryPrimitives.ReadUInt32BigEndian(source) };
        for (ReadOnlySpan<byte> rest = source.Slice(HeaderSize, len - HeaderSize); !rest.IsEmpty;)
        {
            if (!OfpQueueProperty.TryDecode(rest, out OfpQueueProperty property, out int propertySize))
            {
                return false;
            }
            result.Properties.Add(property);
            rest = rest.Slice(propertySize);
        }
        queue = result;
        size = len;
        return true;
    }
}

/// <summary>
/// A queue property. OFPQT_MIN_RATE (16 bytes) decodes to <see cref="Rate"/>; any other property keeps
/// its bytes after the 8-byte header in <see cref="Body"/> (OVS sends OF1.2's MAX_RATE=2 on 1.0 too).
/// </summary>
public readonly record struct OfpQueueProperty
{
    public const int HeaderSize = 8;
    public const int MinRateSize = 16;

    public OfpQueueProperties Property { get; init; }

    /// <summary>OFPQT_MIN_RATE: rate in 1/10 of a percent; &gt; 1000 means disabled.</summary>
    public ushort Rate { get; init; }

    /// <summary>Other properties: the bytes after the property header.</summary>
    public ReadOnlyMemory<byte> Body { get; init; }

    public static OfpQueueProperty MinRate(ushort rate) => new() { Property = OfpQueueProperties.MinRate, Rate = rate };

    /// <summary>Any property other than OFPQT_MIN_RATE, kept as raw bytes after its header.</summary>
    public static OfpQueueProperty Other(OfpQueueProperties property, ReadOnlyMemory<byte> body)
    {
        if (property == OfpQueueProperties.MinRate || body.Length > 0xfff0)
        {
            ThrowHelper.ThrowArgument("Use MinRate() for OFPQT_MIN_RATE; other bodies are at most 65520 bytes.", nameof(property));
        }
        return new() { Property = property, Body = body };
    }

    public int EncodedSize => Property == OfpQueueProperties.MinRate ? MinRateSize : HeaderSize + Body.Length;

    public bool Equals(OfpQueueProperty other) =>
        Property == other.Property && Rate == other.Rate && Body.Span.SequenceEqual(other.Body.Span);

    public override int GetHashCode() => HashCode.Combine(Property, Rate, Body.Length);

    internal int Encode(Span<byte> destination)
    {
        int size = EncodedSize;
        BinaryPrimitives.WriteUInt16BigEndian(destination, (ushort)Property);
        BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(2), (ushort)size);
        if (Property == OfpQueueProperties.MinRate)
        {
            BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(HeaderSize), Rate);
        }
        else
        {
            Body.Span.CopyTo(destination.Slice(HeaderSize));
        }
        return size;
    }

    // +-------------+-------------+---------------------------+
    // | property (2)| len (2)     | pad (4)                   |
    // +-------------+-------------+---------------------------+
    // MIN_RATE:  | rate (2) | pad (6) |          others: | body (len - 8) |
    internal static bool TryDecode(ReadOnlySpan<byte> source, out OfpQueueProperty property, out int size)
    {
        property = default;
        size = 0;
        if ((uint)source.Length < HeaderSize)
        {
            return false;
        }
        var type = (OfpQueueProperties)BinaryPrimitives.ReadUInt16BigEndian(source);
        int len = BinaryPrimitives.ReadUInt16BigEndian(source.Slice(2));
        if (len < HeaderSize || len > source.Length)
        {
            return false;
        }
        if (type == OfpQueueProperties.MinRate)
        {
            if (len != MinRateSize)
            {
                return false;
            }
            property = MinRate(BinaryPrimitives.ReadUInt16BigEndian(source.Slice(HeaderSize)));
        }
        else
        {
            property = Other(type, OfpWire.Copy(source.Slice(HeaderSize, len - HeaderSize)));
        }
        size = len;
        return true;
    }
}
