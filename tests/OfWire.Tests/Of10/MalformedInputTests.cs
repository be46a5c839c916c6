using System.Buffers.Binary;
using Softswitch.OfWire.Of10;

namespace Softswitch.OfWire.Tests.Of10;

/// <summary>Hand-written bad input: truncation, versions, lying lengths, per-type sizes (ovs tests/ofp-print.at style).</summary>
public class MalformedInputTests
{
    private static readonly OfpError BadLen = OfpError.BadRequest(OfpBadRequestCode.BadLen);

    /// <summary>Golden messages the codec accepts (non-malformed, not a documented deviation).</summary>
    public static IEnumerable<WireVector> GoodMessages =>
        VectorFile.All.Where(v => v.Kind == "message" && !v.Malformed && !GoldenVectorTests.Deviations.ContainsKey(v.Name));

    private static readonly HashSet<OfpType> s_fixedSize =
    [
        OfpType.FeaturesRequest, OfpType.GetConfigRequest, OfpType.GetConfigReply, OfpType.SetConfig,
        OfpType.FlowRemoved, OfpType.PortStatus, OfpType.PortMod, OfpType.BarrierRequest, OfpType.BarrierReply,
        OfpType.QueueGetConfigRequest,
    ];

    private static byte[] WithLength(ReadOnlySpan<byte> bytes, int length)
    {
        byte[] copy = bytes.ToArray();
        BinaryPrimitives.WriteUInt16BigEndian(copy.AsSpan(2), (ushort)length);
        return copy;
    }

    private static void AssertError(ReadOnlySpan<byte> frame, OfpError expected, string context)
    {
        Assert.False(OfpMessage.TryDecode(frame, out OfpMessage? msg, out OfpError actual), $"{context}: decoded");
        Assert.Null(msg);
        Assert.True(expected == actual, $"{context}: expected {expected}, got {actual}");
    }

    [Fact]
    public void EveryStrictPrefixOfEveryGoldenMessageIsBadLen()
    {
        int checkedCount = 0;
        foreach (WireVector v in VectorFile.All.Where(v => v.Kind == "message"))
        {
            for (int len = 0; len < v.Bytes.Length; len++)
            {
                AssertError(v.Bytes.AsSpan(0, len), BadLen, $"{v.Id} prefix {len}");
                checkedCount++;
            }
        }
        Assert.True(checkedCount > 10_000);
    }

    [Fact]
    public void EveryPrefixWithItsLengthFieldPatchedNeverThrowsAndShortFixedSizeTypesAreBadLen()
    {
        foreach (WireVector v in GoodMessages)
        {
            OfpHeader.TryRead(v.Bytes, out OfpHeader h);
            for (int len = OfpHeader.Size; len < v.Bytes.Length; len++)
            {
                byte[] prefix = WithLength(v.Bytes.AsSpan(0, len), len);
                bool ok = OfpMessage.TryDecode(prefix, out OfpMessage? msg, out OfpError err);
                if (s_fixedSize.Contains((OfpType)h.Type))
                {
                    Assert.False(ok, $"{v.Id} cut to {len}");
                    Assert.Equal(BadLen, err);
                }
                else if (ok)
                {
                    // Variable-size bodies (echo data, packet data, lists cut at an entry boundary) may
                    // still be valid; then they re-encode to the same bytes.
                    Assert.Equal(Convert.ToHexString(prefix), Convert.ToHexString(msg!.ToArray()));
                }
                else
                {
                    Assert.True(err.Type is OfpErrorType.BadRequest or OfpErrorType.BadAction, $"{v.Id} cut to {len}: {err}");
                }
            }
        }
    }

    [Fact]
    public void NonHelloWithAVersionOtherThan1IsBadVersion()
    {
        byte[] versions = [0x00, 0x02, 0x03, 0x04, 0x05, 0x06, 0x7f, 0x80, 0x97, 0xff];
        foreach (WireVector v in GoodMessages.Where(v => v.Bytes[1] != (byte)OfpType.Hello))
        {
            foreach (byte version in versions)
            {
                byte[] frame = (byte[])v.Bytes.Clone();
                frame[0] = version;
                AssertError(frame, OfpError.BadRequest(OfpBadRequestCode.BadVersion), $"{v.Id} version {version}");
            }
        }
    }

    [Fact]
    public void VersionIsCheckedBeforeType()
    {
        AssertError(Convert.FromHexString("04fe000800000001"), OfpError.BadRequest(OfpBadRequestCode.BadVersion), "v4 type 254");
        AssertError(Convert.FromHexString("01fe000800000001"), OfpError.BadRequest(OfpBadRequestCode.BadType), "v1 type 254");
    }

    [Fact]
    public void HelloOfAnyVersionDecodesKeepsItsVersionAndBodyAndReencodes()
    {
        foreach (byte version in new byte[] { 0x00, 0x01, 0x04, 0x06, 0xff })
        {
            byte[] frame = Convert.FromHexString("0100001000000007" + "00010008000000f0");
            frame[0] = version;
            Assert.True(OfpMessage.TryDecode(frame, out OfpHello? hello, out _));
            Assert.Equal(version, hello.Version);
            Assert.Equal(7u, hello.Xid);
            Assert.Equal("00010008000000F0", Convert.ToHexString(hello.Body.Span));
            Assert.Equal(frame, hello.ToArray());
        }
    }

    [Fact]
    public void UnknownMessageTypesAreBadType()
    {
        for (int type = 22; type <= 255; type++)
        {
            byte[] frame = [0x01, (byte)type, 0x00, 0x0c, 0, 0, 0, 9, 1, 2, 3, 4];
            AssertError(frame, OfpError.BadRequest(OfpBadRequestCode.BadType), $"type {type}");
        }
    }

    [Fact]
    public void ALengthFieldThatLiesAboutTheFrameIsBadLen()
    {
        foreach (WireVector v in GoodMessages)
        {
            int n = v.Bytes.Length;
            foreach (int lie in new[] { 0, 1, 7, 8, n - 1, n + 1, n + 8, n + 1000, 65535 })
            {
                if (lie == n || lie < 0 || lie > 65535)
                {
                    continue;
                }
                AssertError(WithLength(v.Bytes, lie), BadLen, $"{v.Id} length field {lie} for {n} bytes");
            }
        }
    }

    [Theory]
    [InlineData(OfpType.FeaturesRequest, 12)]
    [InlineData(OfpType.GetConfigRequest, 9)]
    [InlineData(OfpType.GetConfigReply, 8)]
    [InlineData(OfpType.GetConfigReply, 16)]
    [InlineData(OfpType.SetConfig, 11)]
    [InlineData(OfpType.SetConfig, 16)]
    [InlineData(OfpType.BarrierRequest, 12)]
    [InlineData(OfpType.BarrierReply, 9)]
    [InlineData(OfpType.QueueGetConfigRequest, 8)]
    [InlineData(OfpType.QueueGetConfigRequest, 16)]
    [InlineData(OfpType.QueueGetConfigReply, 12)]
    [InlineData(OfpType.Error, 10)]
    [InlineData(OfpType.Vendor, 11)]
    [InlineData(OfpType.FeaturesReply, 28)]
    [InlineData(OfpType.FeaturesReply, 64)] // 32 bytes of a 48-byte port
    [InlineData(OfpType.FeaturesReply, 81)]
    [InlineData(OfpType.PacketIn, 17)]
    [InlineData(OfpType.FlowRemoved, 80)]
    [InlineData(OfpType.FlowRemoved, 96)]
    [InlineData(OfpType.PortStatus, 56)]
    [InlineData(OfpType.PortStatus, 72)]
    [InlineData(OfpType.PortMod, 28)]
    [InlineData(OfpType.PortMod, 40)]
    [InlineData(OfpType.PacketOut, 15)]
    [InlineData(OfpType.FlowMod, 64)]
    [InlineData(OfpType.FlowMod, 71)]
    [InlineData(OfpType.StatsRequest, 10)]
    [InlineData(OfpType.StatsReply, 11)]
    public void WrongLengthForTheTypeIsBadLen(OfpType type, int length)
    {
        byte[] frame = new byte[length];
        new OfpHeader(OfpConstants.Version, (byte)type, (ushort)length, 0x42).Write(frame);
        AssertError(frame, BadLen, $"{type} of {length} bytes");
    }

    [Theory]
    [InlineData("0000", "00000000")] // DESC with a body
    [InlineData("0001", "")] // FLOW without its 44-byte body
    [InlineData("0001", "003fffff00000000000000000000000000000000000000000000000000000000000000000000000000ff00ffff00000000")] // 48
    [InlineData("0002", "003fffff0000000000000000000000000000000000000000000000000000000000000000000000ff00")] // 42
    [InlineData("0003", "00000000")] // TABLE with a body
    [InlineData("0004", "ffff0000")] // PORT short
    [InlineData("0004", "ffff00000000000000000000")] // PORT long
    [InlineData("0005", "fffc0000ffff")] // QUEUE short
    [InlineData("ffff", "002320")] // VENDOR without a full vendor id
    public void StatsRequestBodyOfTheWrongSizeIsBadLen(string type, string body)
    {
        byte[] frame = StatsFrame(0x10, type, body);
        AssertError(frame, BadLen, $"stats request {type} body {body.Length / 2}");
    }

    [Theory]
    [InlineData("0000", "00")] // DESC not 1056
    [InlineData("0001", "0058")] // FLOW entry cut
    [InlineData("0001", "0050000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000")] // entry length 80 < 88
    [InlineData("0002", "00000000000000000000000000000000")] // AGGREGATE 16
    [InlineData("0003", "0000000000000000")] // TABLE not a multiple of 64
    [InlineData("0004", "0001000000000000")] // PORT not a multiple of 104
    [InlineData("0005", "00010000000000010000")] // QUEUE not a multiple of 32
    [InlineData("ffff", "")] // VENDOR without vendor id
    public void StatsReplyBodyOfTheWrongSizeIsBadLen(string type, string body)
    {
        AssertError(StatsFrame(0x11, type, body), BadLen, $"stats reply {type}");
    }

    [Theory]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(0x42)]
    [InlineData(0xfffe)]
    public void UnknownStatsTypeIsBadStat(int statsType)
    {
        string type = statsType.ToString("x4");
        AssertError(StatsFrame(0x10, type, ""), OfpError.BadRequest(OfpBadRequestCode.BadStat), $"request {type}");
        AssertError(StatsFrame(0x11, type, ""), OfpError.BadRequest(OfpBadRequestCode.BadStat), $"reply {type}");
    }

    [Theory]
    [InlineData(5)]
    [InlineData(7)]
    [InlineData(0x0100)]
    [InlineData(0xffff)]
    public void FlowModWithAnUnknownCommandIsBadCommand(int command)
    {
        var fm = new OfpFlowMod { Xid = 3, Actions = { OfpAction.Output(1) } };
        byte[] frame = fm.ToArray();
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(56), (ushort)command);
        AssertError(frame, OfpError.FlowModFailed(OfpFlowModFailedCode.BadCommand), $"command {command}");
    }

    /// <summary>
    /// A flag bit OpenFlow 1.0 does not define is OFPFMFC_BAD_FLAGS, as Open vSwitch's ofputil_decode_flow_mod_flags answers,
    /// sent as its NX1.0(3,258) (1.0 has no code for it); an OFPT_FLOW_MOD and an NXT_FLOW_MOD alike. The three it defines pass.
    /// </summary>
    [Theory]
    [InlineData(0x0008)]
    [InlineData(0x0010)]
    [InlineData(0x8000)]
    [InlineData(0xffff)]
    public void FlowModWithAFlagOneZeroDoesNotDefineIsBadFlags(int flags)
    {
        var badFlags = OfpError.Nx(OfpErrorType.FlowModFailed, 258);
        Assert.Equal(badFlags, OfpFlowMod.BadFlags10);
        var fm = new OfpFlowMod { Xid = 3, Actions = { OfpAction.Output(1) }, Flags = (OfpFlowModFlags)flags };
        AssertError(fm.ToArray(), badFlags, $"flags {flags:x4}");
        var nx = new NxFlowModFields(0, 0, 0, 0, 1, 0xffffffff, 0xffff, (OfpFlowModFlags)flags, 0);
        Assert.False(Nx10.TryDecodeFlowMod(Nx10.EncodeFlowMod(4, nx, [], [OfpAction.Output(1)]), [], out _, out var error));
        Assert.Equal(new Nx10Error(3, 258, true), error);

        const OfpFlowModFlags all = OfpFlowModFlags.SendFlowRem | OfpFlowModFlags.CheckOverlap | OfpFlowModFlags.Emerg;
        fm.Flags = all;
        Assert.True(OfpMessage.TryDecode(fm.ToArray(), out var msg, out var e), e.ToString());
        Assert.Equal(all, Assert.IsType<OfpFlowMod>(msg).Flags);
        Assert.True(Nx10.TryDecodeFlowMod(Nx10.EncodeFlowMod(4, nx with { Flags = all }, [], [OfpAction.Output(1)]), [], out var f, out _));
        Assert.Equal(all, f.Flags);
    }

    [Fact]
    public void PacketOutActionsLenPastTheEndIsBadRequestBadLen()
    {
        // As ovs-vswitchd answered in the of10_probe capture: actions_len 200 in a 24-byte packet-out.
        AssertError(Convert.FromHexString("010d00185c2ce4cfffffffff000100c80000000800020000"), BadLen, "actions_len 200");
        var po = new OfpPacketOut { Actions = { OfpAction.Output(2) }, Data = new byte[] { 1, 2, 3 } };
        byte[] frame = po.ToArray();
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(14), (ushort)(frame.Length - 16 + 1));
        AssertError(frame, BadLen, "actions_len one past the end");
    }

    [Fact]
    public void PacketOutActionsLenNotAMultipleOf8IsBadActionBadLen()
    {
        var po = new OfpPacketOut { Actions = { OfpAction.Output(2) }, Data = new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 } };
        byte[] frame = po.ToArray();
        foreach (int actionsLen in new[] { 4, 9, 12, 15 })
        {
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(14), (ushort)actionsLen);
            AssertError(frame, OfpError.BadAction(OfpBadActionCode.BadLen), $"actions_len {actionsLen}");
        }
    }

    [Fact]
    public void PacketOutActionsLenZeroMakesEverythingData()
    {
        byte[] frame = Convert.FromHexString("010d001400000001ffffffff00010000" + "00000008");
        Assert.True(OfpMessage.TryDecode(frame, out OfpPacketOut? po, out _));
        Assert.Empty(po.Actions);
        Assert.Equal("00000008", Convert.ToHexString(po.Data.Span));
    }

    [Fact]
    public void FlowModActionErrorsAreReportedAsBadAction()
    {
        (string actions, OfpError error)[] cases =
        [
            ("00000010fffeffff0000000000000000", OfpError.BadAction(OfpBadActionCode.BadLen)),
            ("0020000800000000", OfpError.BadAction(OfpBadActionCode.BadType)),
            ("00000008ff800000", OfpError.BadAction(OfpBadActionCode.BadOutPort)),
            ("0000000800010000" + "0001000810000000", OfpError.BadAction(OfpBadActionCode.BadArgument)),
            ("0000000800010000" + "00000004", OfpError.BadAction(OfpBadActionCode.BadLen)),
        ];
        foreach ((string actions, OfpError error) in cases)
        {
            byte[] head = new OfpFlowMod { Xid = 1 }.ToArray();
            byte[] frame = [.. head, .. Convert.FromHexString(actions)];
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(2), (ushort)frame.Length);
            AssertError(frame, error, actions);
        }
    }

    [Fact]
    public void ErrorsOvsVswitchdAnsweredMatchTheDecoderForCodecLevelFaultsAndStateFaultsDecode()
    {
        // The of10_probe capture: each OFPT_ERROR from ovs-vswitchd carries the whole offending request.
        // Where the fault is visible on the wire alone, the decoder must give the same error; where it
        // needs switch state (overlap, unknown buffer, vendor, port, queue), the request must decode.
        int codecLevel = 0, stateLevel = 0;
        foreach (WireVector v in VectorFile.All.Where(v => v.Name.StartsWith("ovs-vswitchd 3.1.0: OFPT_ERROR", StringComparison.Ordinal)))
        {
            Assert.True(OfpMessage.TryDecode(v.Bytes, out OfpErrorMsg? reply, out _), v.Id);
            bool decoded = OfpMessage.TryDecode(reply.Data.Span, out OfpMessage? request, out OfpError err);
            bool stateDependent = reply.Error == OfpError.FlowModFailed(OfpFlowModFailedCode.Overlap)
                || reply.Error == OfpError.BadRequest(OfpBadRequestCode.BufferUnknown)
                || reply.Error == OfpError.BadRequest(OfpBadRequestCode.BadVendor)
                || reply.ErrorType is OfpErrorType.PortModFailed or OfpErrorType.QueueOpFailed;
            if (stateDependent)
            {
                Assert.True(decoded, $"{v.Id}: {reply.Error} needs switch state, yet the decoder said {err}");
                stateLevel++;
            }
            else
            {
                Assert.False(decoded, $"{v.Id}: decoder accepted a request OVS rejected with {reply.Error}");
                Assert.True(reply.Error == err, $"{v.Id}: OVS said {reply.Error}, decoder says {err}");
                codecLevel++;
            }
        }
        Assert.True(codecLevel >= 8, $"codec-level cases: {codecLevel}");
        Assert.True(stateLevel >= 5, $"state-level cases: {stateLevel}");
    }

    private static byte[] StatsFrame(byte msgType, string statsTypeHex, string bodyHex)
    {
        byte[] body = Convert.FromHexString(bodyHex);
        byte[] frame = new byte[12 + body.Length];
        frame[0] = 1;
        frame[1] = msgType;
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(2), (ushort)frame.Length);
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(4), 0x77);
        Convert.FromHexString(statsTypeHex).CopyTo(frame, 8);
        body.CopyTo(frame, 12);
        return frame;
    }
}
