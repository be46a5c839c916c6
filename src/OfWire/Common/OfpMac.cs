using System.Buffers.Binary;
using System.Globalization;

namespace Softswitch.OfWire;

/// <summary>
/// A 48-bit Ethernet address held in the low bits of a ulong, most significant byte first on the wire
/// (so 01:02:03:04:05:06 is 0x010203040506). Immutable value; equality is numeric.
/// </summary>
public readonly record struct OfpMac(ulong Value)
{
    public const int Size = 6;
    private const ulong Mask = 0xffff_ffff_ffffUL;

    public static OfpMac Broadcast => new(Mask);

    /// <summary>Reads 6 bytes; the caller has checked the span holds them.</summary>
    public static OfpMac Read(ReadOnlySpan<byte> source) =>
        new(((ulong)BinaryPrimitives.ReadUInt16BigEndian(source) << 32) | BinaryPrimitives.ReadUInt32BigEndian(source.Slice(2)));

    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination, (ushort)(Value >> 32));
        BinaryPrimitives.WriteUInt32BigEndian(destination.Slice(2), (uint)Value);
    }

    /// <summary>Parses "aa:bb:cc:dd:ee:ff" (or '-' separated).</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out OfpMac mac)
    {
        mac = default;
        if (text.Length != 17)
        {
            return false;
        }
        ulong value = 0;
        for (int i = 0; i < 6; i++)
        {
            if (i > 0 && text[i * 3 - 1] is not (':' or '-'))
            {
                return false;
            }
            if (!byte.TryParse(text.Slice(i * 3, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte b))
            {
                return false;
            }
            value = (value << 8) | b;
        }
        mac = new OfpMac(value);
        return true;
    }

    public static OfpMac Parse(string text) =>
        TryParse(text, out OfpMac mac) ? mac : throw new FormatException($"Not an Ethernet address: '{text}'.");

    public override string ToString()
    {
        Span<byte> b = stackalloc byte[Size];
        Write(b);
        return string.Create(CultureInfo.InvariantCulture, $"{b[0]:x2}:{b[1]:x2}:{b[2]:x2}:{b[3]:x2}:{b[4]:x2}:{b[5]:x2}");
    }

    public static implicit operator OfpMac(ulong value) => new(value & Mask);
}
