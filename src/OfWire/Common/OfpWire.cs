using System.Text;

namespace Softswitch.OfWire;

/// <summary>Small helpers shared by the decoders and encoders.</summary>
internal static class OfpWire
{
    /// <summary>
    /// Reads a NUL-terminated fixed-size char field (port name, table name, desc strings).
    /// Latin-1 maps every byte to one char, so a name without NUL or with high bytes survives a round trip.
    /// </summary>
    public static string ReadString(ReadOnlySpan<byte> field)
    {
        int end = field.IndexOf((byte)0);
        if (end < 0)
        {
            end = field.Length;
        }
        return end == 0 ? string.Empty : Encoding.Latin1.GetString(field.Slice(0, end));
    }

    /// <summary>
    /// Writes a string into a fixed-size field, zero filling the rest. A string as long as the field
    /// fills it without a NUL (that is how such a field decodes); longer strings are cut.
    /// </summary>
    public static void WriteString(string? value, Span<byte> field)
    {
        field.Clear();
        if (string.IsNullOrEmpty(value))
        {
            return;
        }
        ReadOnlySpan<char> chars = value.AsSpan(0, Math.Min(value.Length, field.Length));
        Encoding.Latin1.GetBytes(chars, field);
    }

    /// <summary>Copies decoded variable-length data out of the transient frame.</summary>
    public static ReadOnlyMemory<byte> Copy(ReadOnlySpan<byte> data) =>
        data.IsEmpty ? ReadOnlyMemory<byte>.Empty : data.ToArray();
}
