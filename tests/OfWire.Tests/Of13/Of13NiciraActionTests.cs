using Softswitch.OfWire.Of13;

namespace Softswitch.OfWire.Tests.Of13;

/// <summary>
/// Nicira actions under OpenFlow 1.3 (OFPAT_EXPERIMENTER, experimenter 0x00002320): the bytes of Open vSwitch's
/// tests/ofp-actions.at (its OpenFlow 1.1+ action table, the form 1.3 shares) decode into the fields the shared Nicira
/// codec reads, re-encode byte for byte, and hostile bodies are refused with 1.3's codes, never an exception.
/// </summary>
public sealed class Of13NiciraActionTests
{
    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));

    /// <summary>ovs-ofctl's text (ofp-actions.at), the bytes, and the fields read.</summary>
    public static TheoryData<string, string, NxAction> OvsVectors => new()
    {
        { "resubmit:5", "ffff 0010 00002320 0001 0005 00000000", new(NxActionSubtype.Resubmit, InPort: 5, Table: 0xff) },
        { "set_tunnel:0x12345678", "ffff 0010 00002320 0002 0000 12345678", new(NxActionSubtype.SetTunnel, Arg: 0x12345678) },
        { "load:0xf009->NXM_OF_VLAN_TCI[]", "ffff 0018 00002320 0007 000f 00000802 000000000000f009",
          new(NxActionSubtype.RegLoad, FieldHeader: 0x00000802, Value: 0xf009, Mask: 0xffff) },
        { "set_tunnel64:0xc426384d49c53d60", "ffff 0018 00002320 0009 000000000000 c426384d49c53d60",
          new(NxActionSubtype.SetTunnel64, Arg: 0xc426384d49c53d60) },
        { "set_tunnel64:0x885f3298", "ffff 0018 00002320 0009 000000000000 00000000885f3298", new(NxActionSubtype.SetTunnel64, Arg: 0x885f3298) },
        { "resubmit(10,5)", "ffff 0010 00002320 000e 000a 05 000000", new(NxActionSubtype.ResubmitTable, InPort: 10, Table: 5) },
        { "exit", "ffff 0010 00002320 0011 000000000000", new(NxActionSubtype.Exit) },
        { "resubmit(,1)", "ffff 0010 00002320 000e fff8 01 000000", new(NxActionSubtype.ResubmitTable, InPort: 0xfff8, Table: 1) },
        { "dec_ttl (Nicira's)", "ffff 0010 00002320 0012 000000000000", new(NxActionSubtype.DecTtl) },
        { "load:0x1->NXM_NX_REG0[] (read; the switch refuses the field)", "ffff 0018 00002320 0007 001f 00010004 0000000000000001",
          new(NxActionSubtype.RegLoad, FieldHeader: 0x00010004, Value: 1, Mask: 0xffffffff) },
        { "set_field:5->nw_ttl as REG_LOAD2", "ffff 0010 00002320 0021 00013a01 05 00",
          new(NxActionSubtype.RegLoad2, FieldHeader: 0x00013a01, Value: 5, Mask: 0xff) },
    };

    [Theory]
    [MemberData(nameof(OvsVectors))]
    public void OpenVswitchBytes_DecodeToTheirFields_AndReEncodeByteForByte(string text, string hex, NxAction expected)
    {
        byte[] wire = Hex(hex);
        var list = new List<Ofp13Action>();
        Assert.True(Ofp13Actions.TryDecode(wire, list, out var error), $"{text}: {error}");
        var a = Assert.Single(list);
        Assert.Equal(Ofp13ActionType.Experimenter, a.Type);
        Assert.Equal(NxAction.VendorId, a.Arg);
        Assert.Equal(expected, a.Nx with { Note = null });
        Assert.Equal(wire.Length, a.Size);
        var w = new Ofp13Writer();
        Ofp13Actions.Encode(w, list.ToArray());
        Assert.Equal(Convert.ToHexString(wire), Convert.ToHexString(w.ToArray()));
    }

    [Fact]
    public void ANote_IsKeptVerbatim_PaddingIncluded()
    {
        // ofp-actions.at: note:11.e9.9a.ad.67.f3, and a longer note whose last bytes are zero (Open vSwitch keeps them).
        foreach (string hex in new[] { "ffff 0010 00002320 0008 11e99aad67f3", "ffff 0018 00002320 0008 0102030405060708 0900000000" + "00" })
        {
            byte[] wire = Hex(hex);
            var list = new List<Ofp13Action>();
            Assert.True(Ofp13Actions.TryDecode(wire, list, out var error), error.ToString());
            var nx = Assert.Single(list).Nx;
            Assert.Equal(NxActionSubtype.Note, nx.Subtype);
            Assert.Equal(Convert.ToHexString(wire.AsSpan(10)), Convert.ToHexString(nx.Note!));
            var w = new Ofp13Writer();
            Ofp13Actions.Encode(w, list.ToArray());
            Assert.Equal(Convert.ToHexString(wire), Convert.ToHexString(w.ToArray()));
        }
    }

    /// <summary>Bytes refused, with the 1.3 BAD_ACTION code each earns.</summary>
    public static TheoryData<string, string, ushort> Refused => new()
    {
        { "another experimenter", "ffff 0010 00000065 0001 0005 00000000", Ofp13Codes.ActionBadExperimenter },
        { "move of 16 bytes", "ffff 0010 00002320 0006 0010 0000 0000", Ofp13Codes.ActionBadLen },
        { "move of a masked header", "ffff 0018 00002320 0006 0010 0000 0000 00000102 00010004", Ofp13Codes.ActionBadArgument },
        { "learn shorter than its fixed part", "ffff 0018 00002320 0010 000a 0014 0050 123456789abcdef0", Ofp13Codes.ActionBadLen },
        { "resubmit of 24 bytes", "ffff 0018 00002320 000e fff8 01 000000 0000000000000000", Ofp13Codes.ActionBadLen },
        { "the experimenter header alone", "ffff 0008 00002320", Ofp13Codes.ActionBadLen },
        { "resubmit_table padding not zero", "ffff 0010 00002320 000e fff8 01 000001", Ofp13Codes.ActionBadArgument },
        { "a load past its field", "ffff 0018 00002320 0007 040f 00000802 000000000000f009", Ofp13Codes.ActionBadArgument },
        { "a REG_LOAD2 TLV past the action", "ffff 0010 00002320 0021 00013a08 05 00", Ofp13Codes.ActionBadLen },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public void HostileBodies_AreRefusedWithTheirCodes(string what, string hex, ushort code)
    {
        var list = new List<Ofp13Action>();
        Assert.False(Ofp13Actions.TryDecode(Hex(hex), list, out var error), what);
        Assert.Equal(Ofp13Error.BadAction(code), error);
    }

    [Fact]
    public void EveryTruncationAndEveryByteFlip_DecodesOrIsRefused_AndWhatDecodesReEncodesToAFixedPoint()
    {
        foreach (var row in OvsVectors)
        {
            byte[] wire = Hex((string)row[1]);
            for (int cut = 0; cut < wire.Length; cut++)
            {
                bool ok = Ofp13Actions.TryDecode(wire.AsSpan(0, cut), new List<Ofp13Action>(), out var e);
                Assert.True(ok == (cut == 0), $"{row[0]} cut at {cut}: {e}");
            }
            for (int i = 8; i < wire.Length; i++)
            {
                for (int bit = 0; bit < 8; bit++)
                {
                    byte[] m = (byte[])wire.Clone();
                    m[i] ^= (byte)(1 << bit);
                    var first = new List<Ofp13Action>();
                    if (!Ofp13Actions.TryDecode(m, first, out var error))
                    {
                        // A flip into NXAST_CONJUNCTION with a bad n: NXBAC_BAD_CONJUNCTION, Nicira's experimenter error.
                        if (error != new Ofp13Error(Ofp13ErrorType.Experimenter, NxAction.BadConjunctionExpCode))
                            Assert.Equal(Ofp13ErrorType.BadAction, error.Type);
                        continue;
                    }
                    var w = new Ofp13Writer();
                    Ofp13Actions.Encode(w, first.ToArray());
                    var second = new List<Ofp13Action>();
                    Assert.True(Ofp13Actions.TryDecode(w.ToArray(), second, out error), $"{row[0]} byte {i} bit {bit}: {error}");
                    Assert.Equal(Of13FuzzOracle.Dump(first), Of13FuzzOracle.Dump(second));
                }
            }
        }
    }
}
