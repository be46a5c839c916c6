using System.Buffers.Binary;
using System.Text;
using Softswitch.OfWire;
using Softswitch.OfWire.Of10;

namespace Softswitch.OfAgent.Session;

/// <summary>
/// An OFPT_ERROR received from a peer, told in the spec's words for the log: type and code names, and the peer's own
/// explanation for HELLO_FAILED (ASCII text in every version) or, for other errors, which of our messages it is about.
/// </summary>
/// <remarks>
/// Stateless; rare path (an error from a peer), so it may allocate. The peer's text is cut to
/// <see cref="MaxTextSize"/> characters and every byte outside printable ASCII becomes '?', so a peer cannot write
/// control characters or a flood into the log.
/// </remarks>
internal static class OfPeerError
{
    /// <summary>The most characters of a peer's explanation that reach the log.</summary>
    public const int MaxTextSize = 160;

    /// <summary>Whether the whole message <paramref name="msg"/> (an OFPT_ERROR of any version) is a HELLO_FAILED.</summary>
    public static bool IsHelloFailed(ReadOnlySpan<byte> msg)
        => msg.Length >= OfpErrorMsg.MinSize && BinaryPrimitives.ReadUInt16BigEndian(msg[8..]) == (ushort)OfpErrorType.HelloFailed;

    /// <summary>
    /// "HELLO_FAILED INCOMPATIBLE "text"", "BAD_REQUEST BAD_TYPE (about our message type 10, xid 0x53530001)", ...
    /// for the whole error message <paramref name="msg"/>.
    /// </summary>
    public static string Describe(ReadOnlySpan<byte> msg)
    {
        if (msg.Length < OfpErrorMsg.MinSize) return $"a truncated ERROR ({msg.Length} bytes)";
        byte version = msg[0];
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(msg[8..]);
        ushort code = BinaryPrimitives.ReadUInt16BigEndian(msg[10..]);
        var data = msg[OfpErrorMsg.MinSize..];
        string name = Name(version, type, code);
        if (type == (ushort)OfpErrorType.HelloFailed) return data.IsEmpty ? name : $"{name} \"{Printable(data)}\"";
        if (data.Length >= OfpHeader.Size)
            return $"{name} (about our message type {data[1]}, xid 0x{BinaryPrimitives.ReadUInt32BigEndian(data[4..]):x8})";
        return name;
    }

    /// <summary>The bytes up to the first NUL, printable ASCII kept and anything else as '?', cut to <see cref="MaxTextSize"/>.</summary>
    public static string Printable(ReadOnlySpan<byte> data)
    {
        int nul = data.IndexOf((byte)0);
        if (nul >= 0) data = data[..nul];
        bool cut = data.Length > MaxTextSize;
        if (cut) data = data[..MaxTextSize];
        var sb = new StringBuilder(data.Length + 3);
        foreach (byte b in data) sb.Append(b is >= 0x20 and <= 0x7e ? (char)b : '?');
        if (cut) sb.Append("...");
        return sb.ToString();
    }

    /// <summary>
    /// The spec's names: HELLO_FAILED's codes are the same in every version; the other types are named as OpenFlow 1.0
    /// or 1.3 (and the versions after it, which keep 1.3's numbers and add their own) numbers them, on a message of that
    /// version (1.0 and 1.3 number them differently).
    /// </summary>
    private static string Name(byte version, ushort type, ushort code)
    {
        if (type == (ushort)OfpErrorType.HelloFailed) return $"HELLO_FAILED {code switch { 0 => "INCOMPATIBLE", 1 => "EPERM", _ => $"code {code}" }}";
        if (Softswitch.OfWire.Of13.Ofp13.Serves(version)) return Softswitch.OfWire.Of13.Ofp13ErrorNames.Describe(type, code);
        if (version != OfpConstants.Version || type > (ushort)OfpErrorType.QueueOpFailed) return $"error type {type} code {code}";
        string[] codes = s_codes[type];
        string typeName = s_types[type];
        return code < codes.Length ? $"{typeName} {codes[code]}" : $"{typeName} code {code}";
    }

    private static readonly string[] s_types = ["HELLO_FAILED", "BAD_REQUEST", "BAD_ACTION", "FLOW_MOD_FAILED", "PORT_MOD_FAILED", "QUEUE_OP_FAILED"];

    private static readonly string[][] s_codes =
    [
        ["INCOMPATIBLE", "EPERM"],
        ["BAD_VERSION", "BAD_TYPE", "BAD_STAT", "BAD_VENDOR", "BAD_SUBTYPE", "EPERM", "BAD_LEN", "BUFFER_EMPTY", "BUFFER_UNKNOWN"],
        ["BAD_TYPE", "BAD_LEN", "BAD_VENDOR", "BAD_VENDOR_TYPE", "BAD_OUT_PORT", "BAD_ARGUMENT", "EPERM", "TOO_MANY", "BAD_QUEUE"],
        ["ALL_TABLES_FULL", "OVERLAP", "EPERM", "BAD_EMERG_TIMEOUT", "BAD_COMMAND", "UNSUPPORTED"],
        ["BAD_PORT", "BAD_HW_ADDR"],
        ["BAD_PORT", "BAD_QUEUE", "EPERM"],
    ];
}
