using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace Softswitch.OfWire;

/// <summary>
/// Version negotiation in every OpenFlow version: the HELLO a switch sends (with the version bitmap element of
/// OpenFlow 1.3.1+ when it speaks more than 1.0), the bitmap read from a peer's HELLO, and the version both agree on.
/// </summary>
/// <remarks>
/// <para>A set of versions is a bitmap of <c>ofp_header.version</c> values, bit <c>v</c> for version <c>v</c> (bit 1:
/// OpenFlow 1.0, bit 4: OpenFlow 1.3), as in <c>ofp_hello_elem_versionbitmap</c>.</para>
/// <para>Negotiation, OpenFlow 1.3.5 section 6.3.1: when both HELLOs carry a bitmap, the highest version set in both;
/// otherwise the smaller of the two header versions, which the recipient must support. (Open vSwitch reads a HELLO
/// without a bitmap as "every version up to this one" and takes the highest common one; a peer that follows the spec
/// would then speak the smaller header version while we spoke another, so the spec's rule is kept here.) A version
/// nobody shares is 0: the caller answers HELLO_FAILED/INCOMPATIBLE with <see cref="IncompatibleText"/> and closes.</para>
/// <para>Reading a peer's HELLO is lenient as the spec asks ("ignore unknown elements"): an element shorter than its
/// header or longer than what is left ends the walk, and the HELLO counts as one without a bitmap. Stateless; the
/// reads never leave the span.</para>
/// </remarks>
public static class OfpHelloVersions
{
    /// <summary>OpenFlow 1.0's version number: a HELLO of it carries no version bitmap.</summary>
    private const byte Version10 = 0x01;

    /// <summary>OFPHET_VERSIONBITMAP.</summary>
    public const ushort VersionBitmapElement = 1;

    /// <summary>The bit of one version in a version set.</summary>
    public static uint Bit(byte version) => version < 32 ? 1u << version : 0;

    /// <summary>The highest version of a set (0 for an empty one).</summary>
    public static byte Highest(uint versions) => versions == 0 ? (byte)0 : (byte)(31 - BitOperations.LeadingZeroCount(versions));

    /// <summary>The lowest version of a set (0 for an empty one).</summary>
    public static byte Lowest(uint versions) => versions == 0 ? (byte)0 : (byte)BitOperations.TrailingZeroCount(versions);

    /// <summary>
    /// Our HELLO for the versions <paramref name="versions"/>: the header names the highest; a bitmap element follows
    /// when the set holds more than OpenFlow 1.0 (a 1.0-only switch sends the plain 8-byte HELLO of OpenFlow 1.0).
    /// </summary>
    public static byte[] Hello(uint versions, uint xid)
    {
        byte highest = Highest(versions);
        if (highest == 0) throw new ArgumentException("no OpenFlow version to offer", nameof(versions));
        bool bitmap = highest > Version10;
        var msg = new byte[bitmap ? OfpHeader.Size + 8 : OfpHeader.Size];
        new OfpHeader(highest, OfpHeader.HelloType, (ushort)msg.Length, xid).Write(msg);
        if (bitmap)
        {
            BinaryPrimitives.WriteUInt16BigEndian(msg.AsSpan(8), VersionBitmapElement);
            BinaryPrimitives.WriteUInt16BigEndian(msg.AsSpan(10), 8); // type, length, one 32-bit bitmap; no padding
            BinaryPrimitives.WriteUInt32BigEndian(msg.AsSpan(12), versions);
        }
        return msg;
    }

    //  0                   1                   2                   3
    // +---------------------------------------------------------------+
    // |                   ofp_header (8): OFPT_HELLO                  |   0
    // +-------------------------------+-------------------------------+
    // |    type: VERSIONBITMAP (1)    |             length            |   8
    // +-------------------------------+-------------------------------+
    // |                bitmaps[0]: bit v for version v                |  12
    // +---------------------------------------------------------------+
    // |      further bitmaps, zero padding to 8, further elements     |  16
    // +---------------------------------------------------------------+
    /// <summary>
    /// The first 32 bits of the version bitmap in the whole HELLO <paramref name="hello"/> (header included), or
    /// false when it carries none (an OpenFlow 1.0 HELLO, or one whose elements do not parse).
    /// </summary>
    public static bool TryReadBitmap(ReadOnlySpan<byte> hello, out uint bitmap)
    {
        bitmap = 0;
        if (hello.Length < OfpHeader.Size) return false;
        int length = Math.Min(hello.Length, BinaryPrimitives.ReadUInt16BigEndian(hello[2..]));
        var elements = hello[OfpHeader.Size..Math.Max(OfpHeader.Size, length)];
        while (elements.Length >= 4)
        {
            ushort type = BinaryPrimitives.ReadUInt16BigEndian(elements);
            ushort len = BinaryPrimitives.ReadUInt16BigEndian(elements[2..]);
            if (len < 4 || len > elements.Length) return false;
            if (type == VersionBitmapElement)
            {
                if (len < 8) return false;
                bitmap = BinaryPrimitives.ReadUInt32BigEndian(elements[4..]);
                return true;
            }
            int padded = (len + 7) & ~7; // elements are padded to 8 bytes
            if (padded >= elements.Length) return false;
            elements = elements[padded..];
        }
        return false;
    }

    /// <summary>
    /// The version agreed with a peer whose HELLO had header version <paramref name="peerVersion"/> and, when it
    /// carried one, the bitmap <paramref name="peerBitmap"/>; 0 when there is none.
    /// </summary>
    public static byte Negotiate(uint ours, byte peerVersion, uint? peerBitmap)
    {
        if (peerBitmap is { } theirs) return Highest(ours & theirs);
        byte v = Math.Min(Highest(ours), peerVersion);
        return (ours & Bit(v)) != 0 ? v : (byte)0;
    }

    /// <summary>"1.0", "1.3", ...; "0xNN" for a version byte no OpenFlow release uses.</summary>
    public static string Name(byte version) => version is >= 1 and <= 6 ? $"1.{version - 1}" : $"0x{version:x2}";

    /// <summary>"1.0 and 1.3", "1.3": a version set as the log and errors say it.</summary>
    public static string Describe(uint versions)
    {
        var names = new List<string>();
        for (byte v = 1; v < 32; v++) if ((versions & Bit(v)) != 0) names.Add(Name(v));
        return names.Count switch
        {
            0 => "none",
            1 => names[0],
            _ => string.Join(", ", names[..^1]) + " and " + names[^1],
        };
    }

    /// <summary>
    /// The text of our HELLO_FAILED/INCOMPATIBLE: which versions we speak and which the peer offered, as Open vSwitch
    /// words it ("We support versions 0x01, 0x04; you support 0x02").
    /// </summary>
    public static byte[] IncompatibleText(uint ours, byte peerVersion, uint? peerBitmap)
    {
        string Hex(uint set)
        {
            var sb = new StringBuilder();
            for (byte v = 1; v < 32; v++)
                if ((set & Bit(v)) != 0) sb.Append(sb.Length == 0 ? "" : ", ").Append($"0x{v:x2}");
            return sb.Length == 0 ? "none" : sb.ToString();
        }
        string theirs = peerBitmap is { } b ? Hex(b) : $"0x{peerVersion:x2}";
        return Encoding.ASCII.GetBytes($"We support versions {Hex(ours)}; you support {theirs}");
    }
}
