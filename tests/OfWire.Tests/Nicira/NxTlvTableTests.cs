using System.Buffers.Binary;
using Softswitch.OfWire.Of13;

namespace Softswitch.OfWire.Tests.Nicira;

/// <summary>NXT_TLV_TABLE_MOD's decoder (<see cref="NxTlvTable.TryDecodeMod"/>): its refusals, each Open vSwitch's.</summary>
public sealed class NxTlvTableTests
{
    private static byte[] Mod(ushort command, params (byte Len, ushort Index)[] maps)
    {
        var m = new byte[NxTlvTable.ModHeader + NxTlvTable.MapSize * maps.Length];
        m[0] = Ofp13.Version;
        m[1] = (byte)Ofp13Type.Experimenter;
        BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(2), (ushort)m.Length);
        BinaryPrimitives.WriteUInt32BigEndian(m.AsSpan(8), NxTlvTable.Nicira);
        BinaryPrimitives.WriteUInt32BigEndian(m.AsSpan(12), NxTlvTable.ModSubtype);
        BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(16), command);
        for (int i = 0; i < maps.Length; i++)
        {
            var at = m.AsSpan(NxTlvTable.ModHeader + NxTlvTable.MapSize * i);
            BinaryPrimitives.WriteUInt16BigEndian(at, 0x0102);
            at[3] = maps[i].Len;
            BinaryPrimitives.WriteUInt16BigEndian(at[4..], maps[i].Index);
        }
        return m;
    }

    [Fact]
    public void AGoodMod_GivesItsCommandAndMaps()
    {
        Assert.True(NxTlvTable.TryDecodeMod(Mod(NxTlvTable.Add, (4, 0), (124, 63), (0, 1)), out ushort command, out int maps, out var error));
        Assert.Equal((NxTlvTable.Add, 3, default(Ofp13Error)), (command, maps, error));
        Assert.True(NxTlvTable.TryDecodeMod(Mod(NxTlvTable.Clear), out command, out maps, out _));
        Assert.Equal((NxTlvTable.Clear, 0), (command, maps));
    }

    [Fact]
    public void ALengthOfNoWholeMaps_IsABadLength()
    {
        var m = Mod(NxTlvTable.Add, (4, 0));
        Assert.False(NxTlvTable.TryDecodeMod(m.AsSpan(0, m.Length - 4), out _, out _, out var error));
        Assert.Equal(Ofp13Error.BadLength, error);
        BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(2), (ushort)(m.Length - 4));
        Assert.False(NxTlvTable.TryDecodeMod(m.AsSpan(0, m.Length - 4), out _, out _, out error));
        Assert.Equal(Ofp13Error.BadLength, error);
        Assert.False(NxTlvTable.TryDecodeMod(m.AsSpan(0, 20), out _, out _, out error));
        Assert.Equal(Ofp13Error.BadLength, error);
    }

    [Theory]
    [InlineData((ushort)3, 4, 0, NxTlvTable.BadCommandCode)]
    [InlineData((ushort)3, 3, 99, NxTlvTable.BadCommandCode)]   // the command is read first
    [InlineData(NxTlvTable.Add, 2, 0, NxTlvTable.BadOptLenCode)]
    [InlineData(NxTlvTable.Delete, 128, 0, NxTlvTable.BadOptLenCode)]
    [InlineData(NxTlvTable.Clear, 3, 64, NxTlvTable.BadOptLenCode)] // then each map, its length before its index
    [InlineData(NxTlvTable.Add, 8, 64, NxTlvTable.BadFieldIdxCode)]
    public void ABadCommandOrMap_IsItsNxttmfcError(ushort command, byte len, ushort index, ushort code)
    {
        Assert.False(NxTlvTable.TryDecodeMod(Mod(command, (4, 0), (len, index)), out _, out _, out var error));
        Assert.Equal(NxTlvTable.NxError(code), error);
        // Written as Open vSwitch's NX1.2+ error: experimenter 0x2320, the code.
        var reply = Ofp13Messages.Error(Ofp13.Version, error, Mod(command));
        Assert.Equal((0xffff, code, NxTlvTable.Nicira),
                     (BinaryPrimitives.ReadUInt16BigEndian(reply.AsSpan(8)), BinaryPrimitives.ReadUInt16BigEndian(reply.AsSpan(10)), BinaryPrimitives.ReadUInt32BigEndian(reply.AsSpan(12))));
    }
}
