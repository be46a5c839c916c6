using System.Buffers.Binary;
using Softswitch.OfWire.Of10;

namespace Softswitch.OfWire.Tests.Of10;

/// <summary>
/// Nicira actions read into their fields: every one the switch writes to an OpenFlow 1.0 peer, ovs-ofctl's NXAST_REG_LOAD,
/// and hostile lengths, subtypes and loads, each refused with its OpenFlow 1.0 error and never an exception.
/// </summary>
public class NxActionTests
{
    private static OfpAction Decode(string hex)
    {
        byte[] wire = Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));
        Assert.True(OfpAction.TryDecode(wire, out var action, out int size, out var error), error.ToString());
        Assert.Equal(wire.Length, size);
        return action;
    }

    private static byte[] Bytes(OfpAction a)
    {
        byte[] wire = new byte[a.EncodedSize];
        a.Encode(wire);
        return wire;
    }

    /// <summary>What the switch writes (its factories), the bytes (golden, as ovs-ofctl -O OpenFlow10 sends them) and the fields read.</summary>
    public static TheoryData<string, string, NxAction> Written => new()
    {
        { "dec_ttl", "ffff0010 00002320 0012 000000000000", new(NxActionSubtype.DecTtl) },
        { "set_queue:1", "ffff0010 00002320 0004 0000 00000001", new(NxActionSubtype.SetQueue, Arg: 1) },
        { "group:2", "ffff0010 00002320 0028 0000 00000002", new(NxActionSubtype.Group, Arg: 2) },
        { "push_mpls:0x8847", "ffff0010 00002320 0017 8847 00000000", new(NxActionSubtype.PushMpls, Arg: 0x8847) },
        { "pop_mpls:0x0800", "ffff0010 00002320 0018 0800 00000000", new(NxActionSubtype.PopMpls, Arg: 0x0800) },
        { "set_mpls_ttl(9)", "ffff0010 00002320 0019 09 0000000000", new(NxActionSubtype.SetMplsTtl, Arg: 9) },
        { "dec_mpls_ttl", "ffff0010 00002320 001a 000000000000", new(NxActionSubtype.DecMplsTtl) },
        { "set_mpls_label(7)", "ffff0010 00002320 001e 0000 00000007", new(NxActionSubtype.SetMplsLabel, Arg: 7) },
        { "set_mpls_tc(3)", "ffff0010 00002320 001f 03 0000000000", new(NxActionSubtype.SetMplsTc, Arg: 3) },
        { "resubmit(,3)", "ffff0010 00002320 000e fff8 03 000000", new(NxActionSubtype.ResubmitTable, InPort: 0xfff8, Table: 3) },
        { "set_tunnel:0x99", "ffff0010 00002320 0002 0000 00000099", new(NxActionSubtype.SetTunnel, Arg: 0x99) },
        { "set_tunnel64:0x123456789", "ffff0018 00002320 0009 000000000000 0000000123456789", new(NxActionSubtype.SetTunnel64, Arg: 0x123456789) },
        // NXAST_REG_LOAD of NXM_NX_IP_TTL: ofs 0, n_bits 8 (ofs_nbits 0x0007).
        { "load:0x5->NXM_NX_IP_TTL[]", "ffff0018 00002320 0007 0007 00013a01 0000000000000005", new(NxActionSubtype.RegLoad, FieldHeader: 0x00013a01, Value: 5, Mask: 0xff) },
        // NXAST_REG_LOAD2 of NXM_NX_IP_TTL (the TLV right after the subtype, zero padding to 8).
        { "set_field:5->nw_ttl", "ffff0010 00002320 0021 00013a01 05 00", new(NxActionSubtype.RegLoad2, FieldHeader: 0x00013a01, Value: 5, Mask: 0xff) },
    };

    private static OfpAction Factory(string name) => name switch
    {
        "dec_ttl" => OfpAction.Nicira(NxActionSubtype.DecTtl),
        "set_queue:1" => OfpAction.Nicira(NxActionSubtype.SetQueue, 4, 1),
        "group:2" => OfpAction.Nicira(NxActionSubtype.Group, 4, 2),
        "push_mpls:0x8847" => OfpAction.Nicira(NxActionSubtype.PushMpls, 2, 0x8847),
        "pop_mpls:0x0800" => OfpAction.Nicira(NxActionSubtype.PopMpls, 2, 0x0800),
        "set_mpls_ttl(9)" => OfpAction.Nicira(NxActionSubtype.SetMplsTtl, 1, 9),
        "dec_mpls_ttl" => OfpAction.Nicira(NxActionSubtype.DecMplsTtl),
        "set_mpls_label(7)" => OfpAction.Nicira(NxActionSubtype.SetMplsLabel, 4, 7),
        "set_mpls_tc(3)" => OfpAction.Nicira(NxActionSubtype.SetMplsTc, 1, 3),
        "resubmit(,3)" => OfpAction.NxResubmitTable(3),
        "set_tunnel:0x99" => OfpAction.NxSetTunnel(0x99),
        "set_tunnel64:0x123456789" => OfpAction.NxSetTunnel64(0x123456789),
        "load:0x5->NXM_NX_IP_TTL[]" => OfpAction.NxRegLoad(0x00013a01, 0, 8, 5),
        "set_field:5->nw_ttl" => OfpAction.NxRegLoad2([0x00, 0x01, 0x3a, 0x01, 0x05]),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    [Theory]
    [MemberData(nameof(Written))]
    public void WhatTheSwitchWrites_IsTheGoldenBytes_AndReadsBackIntoItsFields(string name, string hex, NxAction expected)
    {
        var action = Decode(hex);
        Assert.Equal(Convert.ToHexString(Bytes(action)), Convert.ToHexString(Bytes(Factory(name))));
        Assert.True(NxAction.TryDecode(action, out var nx, out var error), error.ToString());
        Assert.Equal(expected, nx);
    }

    /// <summary>
    /// Open vSwitch's and Ryu's OpenFlow 1.0 Nicira actions in the golden vectors (ovs-ofctl's own encodings): each of a
    /// subtype the switch reads reads without an error, each other one (pop_queue) is BAD_VENDOR_TYPE (the switch refuses resubmit:PORT later, in the translator).
    /// </summary>
    [Fact]
    public void NiciraActionsOfTheGoldenVectors_ReadOrAreAnUnknownSubtype()
    {
        NxActionSubtype[] read =
        [
            NxActionSubtype.SetTunnel, NxActionSubtype.SetQueue, NxActionSubtype.RegLoad, NxActionSubtype.SetTunnel64,
            NxActionSubtype.ResubmitTable, NxActionSubtype.DecTtl, NxActionSubtype.PushMpls, NxActionSubtype.PopMpls,
            NxActionSubtype.SetMplsTtl, NxActionSubtype.DecMplsTtl, NxActionSubtype.SetMplsLabel, NxActionSubtype.SetMplsTc,
            NxActionSubtype.RegLoad2, NxActionSubtype.Group, NxActionSubtype.Resubmit, NxActionSubtype.Note, NxActionSubtype.Exit,
            NxActionSubtype.DecTtlCntIds, NxActionSubtype.Controller2,
        ];
        int readCount = 0, unknown = 0;
        foreach (var v in VectorFile.All)
        {
            if (v.Expect.ValueKind != System.Text.Json.JsonValueKind.Object || !v.Expect.TryGetProperty("actions", out var actions)
                || actions.ValueKind != System.Text.Json.JsonValueKind.Array)
            {
                continue;
            }
            foreach (var a in actions.EnumerateArray())
            {
                if (!a.TryGetProperty("vendor", out var vendor) || vendor.GetUInt32() != OfpConstants.NiciraVendorId) continue;
                var action = OfpAction.VendorAction(OfpConstants.NiciraVendorId, Convert.FromHexString(a.GetProperty("body_hex").GetString()!));
                bool ok = NxAction.TryDecode(action, out var nx, out var error);
                if (read.Contains((NxActionSubtype)action.NxSubtype))
                {
                    Assert.True(ok, $"{v.Name}: {error}");
                    Assert.Equal((NxActionSubtype)action.NxSubtype, nx.Subtype);
                    readCount++;
                }
                else
                {
                    Assert.Equal(BadVendorType, error);
                    unknown++;
                }
            }
        }
        Assert.True(readCount >= 13 && unknown >= 1, $"read {readCount}, unknown {unknown}");
    }

    [Fact]
    public void OvsOfctlsRegLoad_ReadsAsTheBitsItLoads()
    {
        // load:2->NXM_NX_IP_ECN[0..1]: ofs 0, n_bits 2 (ofs_nbits 0x0001), dst NXM_NX_IP_ECN.
        Assert.True(NxAction.TryDecode(Decode("ffff0018 00002320 0007 0001 00013801 0000000000000002"), out var ecn, out var error), error.ToString());
        Assert.Equal(new NxAction(NxActionSubtype.RegLoad, FieldHeader: 0x00013801, Value: 2, Mask: 3), ecn);
        // The upper half of an IPv6 source: ofs 64, n_bits 64 (ofs_nbits 64 << 6 | 63).
        Assert.True(NxAction.TryDecode(Decode("ffff0018 00002320 0007 103f 00012610 20010db800000000"), out var high, out error), error.ToString());
        Assert.Equal((UInt128)0x20010db800000000UL << 64, high.Value);
        Assert.Equal((UInt128)ulong.MaxValue << 64, high.Mask);
        // A masked REG_LOAD2 (an OXM with hasmask): value and mask as sent.
        Assert.True(NxAction.TryDecode(Decode("ffff0010 00002320 0021 80001302 02 03"), out var masked, out error), error.ToString());
        Assert.Equal(new NxAction(NxActionSubtype.RegLoad2, FieldHeader: 0x80001201, Value: 2, Mask: 3), masked);
    }

    private static readonly OfpError BadLen = OfpError.BadAction(OfpBadActionCode.BadLen);
    private static readonly OfpError BadVendorType = OfpError.BadAction(OfpBadActionCode.BadVendorType);
    private static readonly OfpError BadArgument = OfpError.BadAction(OfpBadActionCode.BadArgument);

    /// <summary>Vendor actions the codec takes as actions (lengths multiples of 8) that no Nicira subtype reads so.</summary>
    public static TheoryData<string, string, ushort> Hostile => new()
    {
        { "no subtype (length 8)", "ffff0008 00002320", (ushort)OfpBadActionCode.BadLen },
        { "dec_ttl over-long", "ffff0018 00002320 0012 0000000000000000000000000000", (ushort)OfpBadActionCode.BadLen },
        { "set_tunnel64 truncated", "ffff0010 00002320 0009 000000000000", (ushort)OfpBadActionCode.BadLen },
        { "reg_load truncated", "ffff0010 00002320 0007 0001 00013801", (ushort)OfpBadActionCode.BadLen },
        { "reg_load over-long", "ffff0020 00002320 0007 0001 00013801 0000000000000002 0000000000000000", (ushort)OfpBadActionCode.BadLen },
        { "resubmit (no table) over-long", "ffff0018 00002320 0001 fff8 00000000 0000000000000000", (ushort)OfpBadActionCode.BadLen },
        { "exit over-long", "ffff0018 00002320 0011 000000000000 0000000000000000", (ushort)OfpBadActionCode.BadLen },
        { "unknown subtype", "ffff0010 00002320 0063 000000000000", (ushort)OfpBadActionCode.BadVendorType },
        { "subtype 0xffff", "ffff0010 00002320 ffff 000000000000", (ushort)OfpBadActionCode.BadVendorType },
        { "resubmit padding", "ffff0010 00002320 000e fff8 03 000100", (ushort)OfpBadActionCode.BadArgument },
        { "reg_load past its field", "ffff0018 00002320 0007 0047 00013801 0000000000000002", (ushort)OfpBadActionCode.BadArgument },
        { "reg_load value wider than n_bits", "ffff0018 00002320 0007 0001 00013801 0000000000000004", (ushort)OfpBadActionCode.BadArgument },
        { "reg_load masked header", "ffff0018 00002320 0007 0001 00013902 0000000000000002", (ushort)OfpBadActionCode.BadArgument },
        { "reg_load experimenter header", "ffff0018 00002320 0007 0001 ffff0104 0000000000000002", (ushort)OfpBadActionCode.BadArgument },
        { "reg_load 255-byte field", "ffff0018 00002320 0007 0001 000138ff 0000000000000002", (ushort)OfpBadActionCode.BadArgument },
        { "reg_load2 TLV past the action", "ffff0010 00002320 0021 00013a08 05 00", (ushort)OfpBadActionCode.BadLen },
        { "reg_load2 TLV of 255 bytes", "ffff0010 00002320 0021 000134ff 05 00", (ushort)OfpBadActionCode.BadLen },
        { "reg_load2 empty TLV", "ffff0010 00002320 0021 00013a00 0000", (ushort)OfpBadActionCode.BadArgument },
        { "reg_load2 non-zero padding", "ffff0010 00002320 0021 00013a01 05 01", (ushort)OfpBadActionCode.BadArgument },
        { "reg_load2 odd masked length", "ffff0010 00002320 0021 00013b01 05 00", (ushort)OfpBadActionCode.BadArgument },
        { "reg_load2 experimenter", "ffff0010 00002320 0021 ffff0101 00 00", (ushort)OfpBadActionCode.BadArgument },
        { "reg_load2 field of 17 bytes", "ffff0020 00002320 0021 00012611 0000000000000000000000000000000000 00", (ushort)OfpBadActionCode.BadArgument },
    };

    [Theory]
    [MemberData(nameof(Hostile))]
    public void AHostileNiciraAction_IsRefusedWithItsError(string what, string hex, ushort code)
    {
        var action = Decode(hex);
        Assert.False(NxAction.TryDecode(action, out var nx, out var error), what);
        Assert.Equal(OfpError.BadAction((OfpBadActionCode)code), error);
        Assert.Equal(default(NxAction), nx);
    }

    /// <summary>
    /// A REG_LOAD2 whose value has 1-bits outside its mask: OFPBMC_BAD_WILDCARDS, as Open vSwitch's nx_pull_entry answers,
    /// which OpenFlow 1.0 carries as its NX1.0(1,262) inside NXET_VENDOR.
    /// </summary>
    [Fact]
    public void ARegLoad2ValueOutsideItsMask_IsBadWildcards()
    {
        var action = Decode("ffff0010 00002320 0021 80001302 06 03");
        Assert.False(NxAction.TryDecode(action, out var nx, out var error));
        Assert.Equal(new OfpError(OfpErrorType.BadRequest, 262, Nicira: true), error);
        Assert.Equal(default(NxAction), nx);
        Assert.False(NxAction.TryDecodeBody(action.VendorBody.Span, out _, out var nxError));
        Assert.Equal(NxActionError.BadWildcards, nxError);
    }

    [Fact]
    public void AnotherVendorsAction_IsNotNiciras()
    {
        Assert.False(NxAction.TryDecode(OfpAction.VendorAction(0x005c16c7, new byte[8]), out _, out var error));
        Assert.Equal(OfpError.BadAction(OfpBadActionCode.BadVendor), error);
        Assert.False(NxAction.TryDecode(OfpAction.Output(1), out _, out error));
        Assert.Equal(OfpError.BadAction(OfpBadActionCode.BadVendor), error);
    }

    /// <summary>
    /// Seeded mutation of every golden action (bytes flipped, the length and subtype rewritten, the body cut or grown):
    /// each result either reads or is refused with one of the action errors (or Open vSwitch's NXBRC_MUST_BE_ZERO, which
    /// OpenFlow 1.0 carries as BAD_REQUEST 526), and none throws.
    /// </summary>
    [Fact]
    public void MutatedNiciraActions_ReadOrGetAnError_NeverThrow()
    {
        const int seed = 20261127;
        var rng = new Random(seed);
        OfpError[] allowed = [BadLen, BadVendorType, BadArgument, OfpError.Nx(OfpErrorType.BadRequest, 515),
                              OfpError.Nx(OfpErrorType.BadAction, 526),
                              // NXAST_CONTROLLER2's property errors (OFPBPC_BAD_TYPE, BAD_LEN, BAD_EXPERIMENTER, BAD_EXP_TYPE).
                              OfpError.Nx((OfpErrorType)13, 2), OfpError.Nx((OfpErrorType)13, 3), OfpError.Nx((OfpErrorType)14, 5),
                              OfpError.Nx((OfpErrorType)14, 6)];
        var seeds = Written.Select(r => Convert.FromHexString(((string)r[1]).Replace(" ", "", StringComparison.Ordinal)))
            .Append(Convert.FromHexString("ffff0018" + "00002320" + "0007" + "0001" + "00013801" + "0000000000000002")).ToArray();
        int read = 0, refused = 0;
        for (int i = 0; i < 20_000; i++)
        {
            byte[] src = seeds[rng.Next(seeds.Length)];
            int size = Math.Max(16, (src.Length + 8 * rng.Next(-1, 3)) & ~7);
            byte[] wire = new byte[size];
            src.AsSpan(0, Math.Min(src.Length, size)).CopyTo(wire);
            if (rng.Next(4) == 0) BinaryPrimitives.WriteUInt16BigEndian(wire.AsSpan(8), (ushort)rng.Next(0, 48));
            for (int k = rng.Next(0, 4); k > 0; k--) wire[rng.Next(8, size)] = (byte)rng.Next(256);
            BinaryPrimitives.WriteUInt16BigEndian(wire.AsSpan(2), (ushort)size);
            Assert.True(OfpAction.TryDecode(wire, out var action, out _, out var codecError), $"seed {seed} round {i}: {Convert.ToHexString(wire)} {codecError}");
            if (NxAction.TryDecode(action, out _, out var error))
            {
                read++;
            }
            else
            {
                Assert.True(allowed.Contains(error), $"seed {seed} round {i}: {Convert.ToHexString(wire)} got {error}");
                refused++;
            }
        }
        Assert.True(read > 1000 && refused > 1000, $"read {read}, refused {refused}");
    }
}
