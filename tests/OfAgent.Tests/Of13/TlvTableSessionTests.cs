using System.Buffers.Binary;
using Softswitch.OfAgent.Tests.Session;
using Softswitch.OfWire;
using Softswitch.OfWire.Of13;
using Controller = Softswitch.OfAgent.Tests.Of13.Of14SessionTests.Controller;

namespace Softswitch.OfAgent.Tests.Of13;

/// <summary>
/// NXT_TLV_TABLE_MOD's refusals on the wire under 1.3, as Open vSwitch's ofputil_decode_tlv_table_mod gives them before
/// the table is touched: a map's option length or field index out of range is its NXTTMFC_* error whatever the command,
/// an ADD of good maps NXTTMFC_TABLE_FULL (no tun_metadata here), a DELETE of good maps nothing.
/// </summary>
public sealed class TlvTableSessionTests
{
    private const uint V13 = 1u << 4;

    /// <summary>An NXT_TLV_TABLE_MOD of <paramref name="command"/> mapping one option of <paramref name="len"/> bytes to tun_metadata<paramref name="index"/>.</summary>
    private static byte[] Mod(ushort command, byte len, ushort index)
    {
        var m = new byte[NxTlvTable.ModHeader + NxTlvTable.MapSize];
        m[0] = Ofp13.Version;
        m[1] = (byte)Ofp13Type.Experimenter;
        BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(2), (ushort)m.Length);
        BinaryPrimitives.WriteUInt32BigEndian(m.AsSpan(8), NxTlvTable.Nicira);
        BinaryPrimitives.WriteUInt32BigEndian(m.AsSpan(12), NxTlvTable.ModSubtype);
        BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(16), command);
        BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(24), 0xffff);    // option class
        m[27] = len;
        BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(28), index);
        return m;
    }

    /// <summary>The NXTTMFC code of the error answering <paramref name="xid"/>, or null when the barrier came back first.</summary>
    private static async Task<ushort?> Answer(Controller c, uint xid)
    {
        uint barrier = c.Send(Ofp13Messages.Empty(Ofp13.Version, Ofp13Type.BarrierRequest, 0));
        while (true)
        {
            var m = await c.NextAsync() ?? throw new Xunit.Sdk.XunitException("no reply");
            uint got = BinaryPrimitives.ReadUInt32BigEndian(m.AsSpan(4));
            if (got == barrier) return null;
            if (got != xid) continue;
            Assert.Equal((byte)Ofp13Type.Error, m[1]);
            Assert.Equal(0xffff, BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(8)));
            Assert.Equal(NxTlvTable.Nicira, BinaryPrimitives.ReadUInt32BigEndian(m.AsSpan(12)));
            return BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(10));
        }
    }

    [Theory]
    [InlineData(NxTlvTable.Add, 3, 0, NxTlvTable.BadOptLenCode)]
    [InlineData(NxTlvTable.Delete, 3, 0, NxTlvTable.BadOptLenCode)]
    [InlineData(NxTlvTable.Add, 128, 0, NxTlvTable.BadOptLenCode)]
    [InlineData(NxTlvTable.Add, 4, 64, NxTlvTable.BadFieldIdxCode)]
    [InlineData(NxTlvTable.Delete, 4, 64, NxTlvTable.BadFieldIdxCode)]
    [InlineData((ushort)3, 3, 64, NxTlvTable.BadCommandCode)]
    [InlineData(NxTlvTable.Add, 124, 63, NxTlvTable.TableFullCode)]
    [InlineData(NxTlvTable.Add, 4, 0, NxTlvTable.TableFullCode)]
    public async Task AMod_IsRefusedWithItsDecodeError_BeforeTheTableFull(ushort command, byte len, ushort index, ushort expected)
    {
        await using var rig = new AgentRig(options: new AgentOptions { Versions = V13 });
        using var c = await Controller.ConnectAsync(rig.ListenPort, V13);
        Assert.Equal(expected, await Answer(c, c.Send(Mod(command, len, index))));
    }

    [Fact]
    public async Task ADeleteOfGoodMaps_IsTaken()
    {
        await using var rig = new AgentRig(options: new AgentOptions { Versions = V13 });
        using var c = await Controller.ConnectAsync(rig.ListenPort, V13);
        Assert.Null(await Answer(c, c.Send(Mod(NxTlvTable.Delete, 4, 0))));
        Assert.Null(await Answer(c, c.Send(Mod(NxTlvTable.Clear, 8, 63))));
    }
}
