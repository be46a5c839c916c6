using System.Buffers.Binary;
using Softswitch.OfWire.Of13;

namespace Softswitch.OfWire.Tests.Of13;

/// <summary>Random and mutated OpenFlow 1.3 messages: every decoder answers true or an error, never throws, never reads past the message.</summary>
public sealed class Of13FuzzTests
{
    private static void DecodeAll(byte[] m)
    {
        new Ofp13FlowMod().TryDecode(m, out _);
        new Ofp13PacketOut().TryDecode(m, out _);
        Ofp13Messages.TryDecodeGroupMod(m, out _, out _);
        Ofp13Messages.TryDecodeMeterMod(m, out _, out _);
        Ofp13Messages.TryDecodePortMod(m, out _, out _, out _, out _, out _, out _);
        Ofp13Messages.TryDecodeTableMod(m, out _, out _, out _);
        Ofp13Messages.TryDecodeSetConfig(m, out _, out _, out _);
        Ofp13Messages.TryDecodeRoleRequest(m, out _, out _, out _);
        Ofp13Messages.TryDecodeAsync(m, stackalloc uint[6], out _);
        Ofp13Messages.TryDecodeQueueGetConfig(m, out _, out _);
        if (Ofp13Multipart.TryDecodeRequest(m, out _, out _, out _, out var body, out _)) new Ofp13FlowStatsRequest().TryDecode(body, out _);
        Ofp13Match.TryDecode(m, new List<Ofp13Oxm>(), out _, out _);
        Ofp13Actions.TryDecode(m, new List<Ofp13Action>(), out _);
        Ofp13Instructions.TryDecode(m, new List<Ofp13Instruction>(), out _);
    }

    [Fact]
    public void RandomBytesOfEveryLength()
    {
        var rng = new Random(1303);
        for (int i = 0; i < 20_000; i++)
        {
            var m = new byte[rng.Next(0, 160)];
            rng.NextBytes(m);
            if (m.Length >= 4)
            {
                m[0] = 4;
                BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(2), (ushort)m.Length);
            }
            DecodeAll(m);
        }
    }

    [Fact]
    public void EveryPublicVectorWithBytesFlipped()
    {
        var rng = new Random(1304);
        foreach (var file in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Vectors", "of13"), "*.packet"))
        {
            var original = File.ReadAllBytes(file);
            if (original.Length <= 8) continue;
            for (int i = 0; i < 300; i++)
            {
                var m = (byte[])original.Clone();
                for (int k = rng.Next(1, 4); k > 0; k--) m[rng.Next(8, m.Length)] ^= (byte)rng.Next(1, 256);
                DecodeAll(m);
            }
        }
    }
}
