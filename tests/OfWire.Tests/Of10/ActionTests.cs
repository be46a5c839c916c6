using System.Buffers.Binary;
using Softswitch.OfWire.Of10;

namespace Softswitch.OfWire.Tests.Of10;

/// <summary>Action list decoding: lengths, types, arguments, ports, vendor and Nicira tunnel actions.</summary>
public class ActionTests
{
    private static readonly OfpError BadLen = OfpError.BadAction(OfpBadActionCode.BadLen);
    private static readonly OfpError BadType = OfpError.BadAction(OfpBadActionCode.BadType);
    private static readonly OfpError BadOutPort = OfpError.BadAction(OfpBadActionCode.BadOutPort);
    private static readonly OfpError BadArgument = OfpError.BadAction(OfpBadActionCode.BadArgument);

    private static void AssertRejected(byte[] list, OfpError expected, string context)
    {
        var actions = new List<OfpAction> { OfpAction.StripVlan() };
        Assert.False(OfpActions.TryDecode(list, actions, out OfpError actual), $"{context}: accepted");
        Assert.True(expected == actual, $"{context}: expected {expected}, got {actual}");
        Assert.Single(actions); // nothing appended on failure, earlier content untouched
    }

    private static byte[] Action(OfpActionType type, int len, params byte[] rest)
    {
        byte[] a = new byte[Math.Max(4, 4 + rest.Length)];
        BinaryPrimitives.WriteUInt16BigEndian(a, (ushort)type);
        BinaryPrimitives.WriteUInt16BigEndian(a.AsSpan(2), (ushort)len);
        rest.CopyTo(a, 4);
        return a;
    }

    public static TheoryData<OfpActionType, int> Sizes => new()
    {
        { OfpActionType.Output, 8 }, { OfpActionType.SetVlanVid, 8 }, { OfpActionType.SetVlanPcp, 8 },
        { OfpActionType.StripVlan, 8 }, { OfpActionType.SetDlSrc, 16 }, { OfpActionType.SetDlDst, 16 },
        { OfpActionType.SetNwSrc, 8 }, { OfpActionType.SetNwDst, 8 }, { OfpActionType.SetNwTos, 8 },
        { OfpActionType.SetTpSrc, 8 }, { OfpActionType.SetTpDst, 8 }, { OfpActionType.Enqueue, 16 },
    };

    [Theory]
    [MemberData(nameof(Sizes))]
    public void EachStandardActionHasExactlyOneValidLength(OfpActionType type, int size)
    {
        foreach (int len in new[] { 0, 4, 7, 8, 9, 12, 16, 24, 32 })
        {
            byte[] list = Action(type, len, new byte[28]);
            if (len == size)
            {
                Assert.True(OfpActions.TryDecode(list.AsSpan(0, len), out List<OfpAction> actions, out OfpError err), $"{type} len {len}: {err}");
                Assert.Equal(type, Assert.Single(actions).Type);
            }
            else
            {
                // Lengths that fit the buffer but are wrong for the type, and lengths that overrun it.
                AssertRejected(list, BadLen, $"{type} len {len}");
            }
        }
    }

    [Fact]
    public void ListsThatCannotHoldAWholeActionAreBadLen()
    {
        AssertRejected([0, 0, 0, 4], BadLen, "4 bytes");
        AssertRejected([0, 0, 0, 8, 0, 1, 0], BadLen, "7 bytes");
        AssertRejected(Convert.FromHexString("0000000800010000" + "00000008"), BadLen, "action then 4 bytes");
        AssertRejected(Convert.FromHexString("0000000800010000" + "000000080001"), BadLen, "action then 6 bytes");
        AssertRejected(Convert.FromHexString("0000000800010000" + "0000001000010000"), BadLen, "second action overruns");
        AssertRejected(Convert.FromHexString("ffff0010000023200002000012345678" + "ffff0018"), BadLen, "vendor then a short header");
        AssertRejected(Convert.FromHexString("ffff0018000023200002000012345678"), BadLen, "vendor length overruns");
        AssertRejected(Convert.FromHexString("ffff000400002320"), BadLen, "vendor length 4");
        AssertRejected(Convert.FromHexString("ffff000c0000232000000000"), BadLen, "vendor length 12");
    }

    [Fact]
    public void EmptyListIsValid()
    {
        Assert.True(OfpActions.TryDecode(ReadOnlySpan<byte>.Empty, out List<OfpAction> actions, out _));
        Assert.Empty(actions);
    }

    [Fact]
    public void UnknownActionTypesAreBadType()
    {
        foreach (int type in new[] { 12, 13, 0x19, 0x20, 0x1000, 0x8000, 0xfffe })
        {
            AssertRejected(Action((OfpActionType)type, 8, 0, 0, 0, 0), BadType, $"type {type}");
            AssertRejected(Action((OfpActionType)type, 16, new byte[12]), BadType, $"type {type} len 16");
        }
    }

    [Fact]
    public void OutputPortsBelowMaxAndReservedPortsExceptNoneAreValid()
    {
        for (int port = 0; port <= 0xffff; port++)
        {
            byte[] list = [0, 0, 0, 8, (byte)(port >> 8), (byte)port, 0, 0];
            bool valid = port < 0xff00 || (port >= 0xfff8 && port != 0xffff);
            if (valid)
            {
                Assert.True(OfpActions.TryDecode(list, out List<OfpAction> actions, out _), $"port {port:x4}");
                Assert.Equal((ushort)port, actions[0].Port);
            }
            else
            {
                AssertRejected(list, BadOutPort, $"port {port:x4}");
            }
        }
    }

    [Fact]
    public void EnqueuePortsArePhysicalInPortOrLocal()
    {
        foreach (int port in new[] { 0, 1, 0xfeff, 0xfff8, 0xfffe })
        {
            var list = Convert.FromHexString($"000b0010{port:x4}00000000000000000007");
            Assert.True(OfpActions.TryDecode(list, out List<OfpAction> actions, out _), $"port {port:x4}");
            Assert.Equal(7u, actions[0].QueueId);
        }
        foreach (int port in new[] { 0xff00, 0xfff7, 0xfff9, 0xfffa, 0xfffb, 0xfffc, 0xfffd, 0xffff })
        {
            AssertRejected(Convert.FromHexString($"000b0010{port:x4}00000000000000000007"), BadOutPort, $"port {port:x4}");
        }
    }

    [Fact]
    public void VlanVidPcpAndTosOutOfRangeAreBadArgument()
    {
        Assert.True(OfpActions.TryDecode(Convert.FromHexString("000100080fff0000"), out List<OfpAction> ok1, out _));
        Assert.Equal(0xfff, ok1[0].VlanVid);
        AssertRejected(Convert.FromHexString("0001000810000000"), BadArgument, "vid 0x1000");
        AssertRejected(Convert.FromHexString("00010008ffff0000"), BadArgument, "vid 0xffff");

        Assert.True(OfpActions.TryDecode(Convert.FromHexString("0002000807000000"), out List<OfpAction> ok2, out _));
        Assert.Equal(7, ok2[0].VlanPcp);
        AssertRejected(Convert.FromHexString("0002000808000000"), BadArgument, "pcp 8");

        Assert.True(OfpActions.TryDecode(Convert.FromHexString("00080008fc000000"), out List<OfpAction> ok3, out _));
        Assert.Equal(0xfc, ok3[0].NwTos);
        AssertRejected(Convert.FromHexString("0008000801000000"), BadArgument, "tos 1 (ECN bit)");
        AssertRejected(Convert.FromHexString("0008000832000000"), BadArgument, "tos 0x32");
    }

    [Fact]
    public void NonZeroPadBytesAreAcceptedAndEncodedAsZero()
    {
        Assert.True(OfpActions.TryDecode(Convert.FromHexString("00010008000affff"), out List<OfpAction> actions, out _));
        Assert.Equal(10, actions[0].VlanVid);
        byte[] encoded = new byte[8];
        actions[0].Encode(encoded);
        Assert.Equal("00010008000A0000", Convert.ToHexString(encoded));
    }

    [Fact]
    public void NiciraSetTunnelAndSetTunnel64DecodeToATunnelId()
    {
        Assert.True(OfpActions.TryDecode(Convert.FromHexString("ffff0010000023200002000012345678"), out List<OfpAction> a32, out _));
        OfpAction t32 = Assert.Single(a32);
        Assert.Equal(OfpActionType.Vendor, t32.Type);
        Assert.Equal(OfpConstants.NiciraVendorId, t32.Vendor);
        Assert.True(t32.IsNxSetTunnel);
        Assert.Equal((ushort)NxActionSubtype.SetTunnel, t32.NxSubtype);
        Assert.Equal(0x12345678UL, t32.TunnelId);
        Assert.Equal(t32, OfpAction.NxSetTunnel(0x12345678));

        byte[] wire64 = Convert.FromHexString("ffff00180000232000090000000000000123456789abcdef");
        Assert.True(OfpActions.TryDecode(wire64, out List<OfpAction> a64, out _));
        OfpAction t64 = Assert.Single(a64);
        Assert.True(t64.IsNxSetTunnel);
        Assert.Equal((ushort)NxActionSubtype.SetTunnel64, t64.NxSubtype);
        Assert.Equal(0x0123456789abcdefUL, t64.TunnelId);
        Assert.Equal(t64, OfpAction.NxSetTunnel64(0x0123456789abcdef));

        byte[] encoded = new byte[24];
        Assert.Equal(24, OfpAction.NxSetTunnel64(0x0123456789abcdef).Encode(encoded));
        Assert.Equal(wire64, encoded);
    }

    [Fact]
    public void OtherVendorActionsDecodeGenericallyWithTheirBody()
    {
        // Nicira resubmit, set_tunnel with the wrong length, a BSN action, an empty-body vendor action.
        (string hex, uint vendor, ushort nxSubtype)[] cases =
        [
            ("ffff0010000023200001000500000000", 0x2320, 1),
            ("ffff0018000023200002000000000000" + "0000000012345678", 0x2320, 2),
            ("ffff0010005c16c70000000212345678", 0x5c16c7, 0),
            ("ffff000800abcdef", 0xabcdef, 0),
        ];
        foreach ((string hex, uint vendor, ushort nxSubtype) in cases)
        {
            byte[] wire = Convert.FromHexString(hex);
            Assert.True(OfpActions.TryDecode(wire, out List<OfpAction> actions, out _), hex);
            OfpAction a = Assert.Single(actions);
            Assert.Equal(vendor, a.Vendor);
            Assert.Equal(nxSubtype, a.NxSubtype);
            Assert.False(a.IsNxSetTunnel);
            Assert.Equal(wire.AsSpan(8).ToArray(), a.VendorBody.ToArray());
            byte[] encoded = new byte[a.EncodedSize];
            a.Encode(encoded);
            Assert.Equal(wire, encoded);
        }
    }

    [Fact]
    public void VendorActionFactoryRejectsBodiesThatBreak8ByteAlignment()
    {
        Assert.Throws<ArgumentException>(() => OfpAction.VendorAction(1, new byte[3]));
        Assert.Equal(16, OfpAction.VendorAction(1, new byte[8]).EncodedSize);
    }

    [Fact]
    public void EveryFactoryActionRoundTrips()
    {
        OfpAction[] all =
        [
            OfpAction.Output(3), OfpAction.Output((ushort)OfpPort.Controller, 128), OfpAction.SetVlanVid(4095),
            OfpAction.SetVlanPcp(7), OfpAction.StripVlan(), OfpAction.SetDlSrc(OfpMac.Parse("02:00:00:00:00:01")),
            OfpAction.SetDlDst(OfpMac.Broadcast), OfpAction.SetNwSrc(0x0a000001), OfpAction.SetNwDst(0xc0a80001),
            OfpAction.SetNwTos(0xb8), OfpAction.SetTpSrc(80), OfpAction.SetTpDst(443), OfpAction.Enqueue(2, 9),
            OfpAction.VendorAction(0xabcdef, new byte[16]), OfpAction.NxSetTunnel(5), OfpAction.NxSetTunnel64(ulong.MaxValue),
        ];
        var list = new List<OfpAction>(all);
        byte[] wire = new byte[OfpActions.GetEncodedSize(list)];
        Assert.Equal(wire.Length, OfpActions.Encode(list, wire));
        Assert.True(OfpActions.TryDecode(wire, out List<OfpAction> decoded, out OfpError err), err.ToString());
        Assert.Equal(all, decoded);
    }

    [Fact]
    public void AFlowModWithTheMostActionsThatFitRoundTrips()
    {
        // 72-byte flow-mod + 8182 output actions = 65528 bytes, the largest 8-aligned list under 65535.
        var fm = new OfpFlowMod { Xid = 1, Command = OfpFlowModCommand.Add };
        for (int i = 0; i < 8182; i++)
        {
            fm.Actions.Add(OfpAction.Output((ushort)(i % 0xff00)));
        }
        byte[] wire = fm.ToArray();
        Assert.Equal(65528, wire.Length);
        Assert.True(OfpMessage.TryDecode(wire, out OfpFlowMod? decoded, out OfpError err), err.ToString());
        Assert.Equal(8182, decoded.Actions.Count);
        Assert.Equal(wire, decoded.ToArray());

        fm.Actions.Add(OfpAction.Output(1));
        Assert.Equal(65536, fm.EncodedSize);
        Assert.False(fm.TryEncode(new byte[70000], out int written));
        Assert.Equal(0, written);
        Assert.Throws<InvalidOperationException>(() => fm.ToArray());
    }
}
