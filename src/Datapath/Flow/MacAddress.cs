using System.Buffers.Binary;
using System.Globalization;

namespace Softswitch.Datapath.Flow;

/// <summary>A 48-bit Ethernet address held in the low 48 bits of a ulong (first wire byte most significant).</summary>
public readonly record struct MacAddress(ulong Value)
{
    public static readonly MacAddress Broadcast = new(0xFFFF_FFFF_FFFFUL);

    public bool IsMulticast => (Value & 0x0100_0000_0000UL) != 0;
    public bool IsBroadcast => Value == 0xFFFF_FFFF_FFFFUL;

    public static MacAddress Read(ReadOnlySpan<byte> six)
        => new(((ulong)BinaryPrimitives.ReadUInt16BigEndian(six) << 32) | BinaryPrimitives.ReadUInt32BigEndian(six[2..]));

    public void Write(Span<byte> six)
    {
        BinaryPrimitives.WriteUInt16BigEndian(six, (ushort)(Value >> 32));
        BinaryPrimitives.WriteUInt32BigEndian(six[2..], (uint)Value);
    }

    public static MacAddress Parse(string s)
    {
        if (!TryParse(s, out var m)) throw new FormatException($"not a MAC address: '{s}'");
        return m;
    }

    public static bool TryParse(string? s, out MacAddress mac)
    {
        mac = default;
        if (s is null) return false;
        var parts = s.Split(':', '-');
        if (parts.Length != 6) return false;
        ulong v = 0;
        foreach (var p in parts)
        {
            if (p.Length is < 1 or > 2 || !byte.TryParse(p, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var b)) return false;
            v = (v << 8) | b;
        }
        mac = new MacAddress(v);
        return true;
    }

    public override string ToString()
        => string.Create(17, Value, static (span, v) =>
        {
            const string hex = "0123456789abcdef";
            for (int i = 0; i < 6; i++)
            {
                byte b = (byte)(v >> (40 - 8 * i));
                span[i * 3] = hex[b >> 4];
                span[i * 3 + 1] = hex[b & 15];
                if (i < 5) span[i * 3 + 2] = ':';
            }
        });
}

/// <summary>IPv4 addresses as host-order uints.</summary>
public static class Ipv4
{
    public static string Format(uint a) => $"{a >> 24}.{(a >> 16) & 255}.{(a >> 8) & 255}.{a & 255}";

    /// <summary>Whether <paramref name="a"/> is a unicast address: not 0.0.0.0, the limited broadcast or multicast (224/4).</summary>
    public static bool IsUnicast(uint a) => a != 0 && a != 0xFFFF_FFFF && (a >> 28) != 0xE;

    public static uint Parse(string s)
    {
        if (!TryParse(s, out var a)) throw new FormatException($"not an IPv4 address: '{s}'");
        return a;
    }

    public static bool TryParse(string? s, out uint addr)
    {
        addr = 0;
        if (s is null) return false;
        var parts = s.Split('.');
        if (parts.Length != 4) return false;
        foreach (var p in parts)
        {
            if (!byte.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out var b)) return false;
            addr = (addr << 8) | b;
        }
        return true;
    }
}
