using System.Buffers;
using Softswitch.OfWire.Of10;

namespace Softswitch.OfWire.Tests.Of10;

public class FramingTests
{
    private static byte[] Header(int length, uint xid = 1) =>
        [0x01, (byte)OfpType.EchoRequest, (byte)(length >> 8), (byte)length, (byte)(xid >> 24), (byte)(xid >> 16), (byte)(xid >> 8), (byte)xid];

    [Fact]
    public void FewerThan8BytesIsIncomplete()
    {
        for (int n = 0; n < 8; n++)
        {
            Assert.Equal(OfpFrameStatus.Incomplete, OfpFraming.TryGetFrame(new byte[n], out _, out int len));
            Assert.Equal(0, len);
        }
    }

    [Fact]
    public void LengthBelow8IsInvalid()
    {
        for (int length = 0; length < 8; length++)
        {
            Assert.Equal(OfpFrameStatus.Invalid, OfpFraming.TryGetFrame(Header(length, 0xabcd), out OfpHeader h, out _));
            Assert.Equal(0xabcdu, h.Xid);
        }
    }

    [Fact]
    public void LengthAboveTheConfiguredMaximumIsInvalidBeforeAnyBodyArrives()
    {
        Assert.Equal(OfpFrameStatus.Invalid, OfpFraming.TryGetFrame(Header(1025), out _, out _, maxMessageSize: 1024));
        Assert.Equal(OfpFrameStatus.Incomplete, OfpFraming.TryGetFrame(Header(1024), out _, out int len, maxMessageSize: 1024));
        Assert.Equal(1024, len);
        Assert.Equal(OfpFrameStatus.Incomplete, OfpFraming.TryGetFrame(Header(65535), out _, out len));
        Assert.Equal(65535, len);
    }

    [Fact]
    public void AWhole65535ByteMessageIsCompleteAndDecodes()
    {
        var echo = new OfpEchoRequest { Xid = 9, Data = new byte[65535 - 8] };
        byte[] stream = [.. echo.ToArray(), .. Header(8)];
        Assert.Equal(OfpFrameStatus.Complete, OfpFraming.TryGetFrame(stream, out OfpHeader h, out int len));
        Assert.Equal(65535, len);
        Assert.Equal(OfpType.EchoRequest, (OfpType)h.Type);
        Assert.True(OfpMessage.TryDecode(stream.AsSpan(0, len), out OfpEchoRequest? decoded, out _));
        Assert.Equal(65527, decoded.Data.Length);
        Assert.Equal(stream.AsSpan(0, len).ToArray(), decoded.ToArray());
    }

    [Fact]
    public void BackToBackMessagesAreSplitOneByOne()
    {
        byte[] stream = [.. new OfpHello { Xid = 1 }.ToArray(), .. new OfpEchoRequest { Xid = 2, Data = new byte[] { 1, 2, 3 } }.ToArray(),
            .. new OfpBarrierRequest { Xid = 3 }.ToArray(), .. Header(20)];
        var xids = new List<uint>();
        ReadOnlySpan<byte> rest = stream;
        while (OfpFraming.TryGetFrame(rest, out OfpHeader h, out int len) == OfpFrameStatus.Complete)
        {
            Assert.True(OfpMessage.TryDecode(rest.Slice(0, len), out OfpMessage? m, out _));
            Assert.Equal((OfpType)h.Type, m.Type);
            xids.Add(m.Xid);
            rest = rest.Slice(len);
        }
        Assert.Equal([1u, 2u, 3u], xids);
        Assert.Equal(8, rest.Length); // a header announcing 20 bytes, body still to come
    }

}

public class ErrorReplyTests
{
    [Fact]
    public void ReplyEchoesTheXidAndTheFirst64Bytes()
    {
        var fm = new OfpFlowMod { Xid = 0xdeadbeef, Actions = { OfpAction.Output(1), OfpAction.Output(2) } };
        byte[] request = fm.ToArray();
        Assert.Equal(88, request.Length);

        OfpErrorMsg reply = OfpErrorMsg.ForRequest(OfpError.BadAction(OfpBadActionCode.BadOutPort), request);
        Assert.Equal(0xdeadbeefu, reply.Xid);
        Assert.Equal(OfpConstants.Version, reply.Version);
        Assert.Equal(OfpErrorType.BadAction, reply.ErrorType);
        Assert.Equal((ushort)OfpBadActionCode.BadOutPort, reply.Code);
        Assert.Equal(request.AsSpan(0, 64).ToArray(), reply.Data.ToArray());

        byte[] wire = reply.ToArray();
        Assert.Equal(12 + 64, wire.Length);
        Span<byte> direct = stackalloc byte[128];
        int n = OfpErrorMsg.WriteReply(OfpError.BadAction(OfpBadActionCode.BadOutPort), request, direct);
        Assert.Equal(wire, direct.Slice(0, n).ToArray());

        Assert.True(OfpMessage.TryDecode(wire, out OfpErrorMsg? decoded, out _));
        Assert.Equal(OfpError.BadAction(OfpBadActionCode.BadOutPort), decoded.Error);
    }

    [Fact]
    public void ShortRequestsAreEchoedWholeAndHeaderlessOnesGetXid0()
    {
        OfpErrorMsg r1 = OfpErrorMsg.ForRequest(OfpError.BadRequest(OfpBadRequestCode.BadType), Convert.FromHexString("01fe000812345678"));
        Assert.Equal(0x12345678u, r1.Xid);
        Assert.Equal(8, r1.Data.Length);

        OfpErrorMsg r2 = OfpErrorMsg.ForRequest(OfpError.BadRequest(OfpBadRequestCode.BadLen), [0xaa, 0xbb]);
        Assert.Equal(0u, r2.Xid);
        Assert.Equal("AABB", Convert.ToHexString(r2.Data.Span));
    }

    [Fact]
    public void RepliesBuiltForOvsRequestsEqualOvsVswitchdRepliesByteForByte()
    {
        // ovs-vswitchd puts the whole request in the data; with no 64-byte cap the helper must agree exactly.
        int compared = 0;
        byte[] direct = new byte[128];
        foreach (WireVector v in VectorFile.All.Where(v => v.Name.StartsWith("ovs-vswitchd 3.1.0: OFPT_ERROR", StringComparison.Ordinal)))
        {
            Assert.True(OfpMessage.TryDecode(v.Bytes, out OfpErrorMsg? ovs, out _));
            OfpErrorMsg ours = OfpErrorMsg.ForRequest(ovs.Error, ovs.Data.Span, maxDataSize: int.MaxValue);
            Assert.Equal(Convert.ToHexString(v.Bytes), Convert.ToHexString(ours.ToArray()));
            if (ovs.Data.Length <= OfpConstants.ErrorDataMinSize)
            {
                int n = OfpErrorMsg.WriteReply(ovs.Error, ovs.Data.Span, direct);
                Assert.Equal(Convert.ToHexString(v.Bytes), Convert.ToHexString(direct.AsSpan(0, n)));
            }
            compared++;
        }
        Assert.True(compared >= 10);
    }

    [Fact]
    public void DecoderErrorPlusReplyHelperGivesTheFullAnswerForABadFrame()
    {
        byte[] bad = Convert.FromHexString("0110000c5c2ce4c000420000"); // stats type 0x42
        Assert.False(OfpMessage.TryDecode(bad, out _, out OfpError err));
        byte[] reply = OfpErrorMsg.ForRequest(err, bad).ToArray();
        Assert.Equal("010100185C2CE4C0000100020110000C5C2CE4C000420000", Convert.ToHexString(reply));
    }
}

public class MessageApiTests
{
    [Fact]
    public void EchoAndBarrierRepliesCopyXidAndData()
    {
        var echo = new OfpEchoRequest { Xid = 5, Data = new byte[] { 1, 2 } };
        OfpEchoReply reply = echo.CreateReply();
        Assert.Equal(5u, reply.Xid);
        Assert.Equal("0103000A000000050102", Convert.ToHexString(reply.ToArray()));
        Assert.Equal(7u, new OfpBarrierRequest { Xid = 7 }.CreateReply().Xid);
    }

    [Fact]
    public void TypedDecodeRejectsAnotherType()
    {
        byte[] hello = new OfpHello { Xid = 1 }.ToArray();
        Assert.True(OfpMessage.TryDecode(hello, out OfpHello? _, out _));
        Assert.False(OfpMessage.TryDecode(hello, out OfpFlowMod? fm, out OfpError err));
        Assert.Null(fm);
        Assert.Equal(OfpError.BadRequest(OfpBadRequestCode.BadType), err);
    }

    [Fact]
    public void EncodeChecksTheDestinationAndWritesThroughABufferWriter()
    {
        var msg = new OfpSetConfig { Xid = 3, Flags = OfpConfigFlags.FragDrop, MissSendLen = 0xffff };
        Assert.Equal(12, msg.EncodedSize);
        Assert.Throws<ArgumentException>(() => msg.Encode(new byte[11]));
        Assert.False(msg.TryEncode(new byte[11], out _));

        var writer = new ArrayBufferWriter<byte>();
        Assert.Equal(12, msg.Encode(writer));
        Assert.Equal("0109000C000000030001FFFF", Convert.ToHexString(writer.WrittenSpan));
    }

    [Fact]
    public void EncodeZeroesPadBytesEvenInADirtyBuffer()
    {
        var ps = new OfpPortStatus { Reason = OfpPortReason.Modify, Desc = new OfpPhyPort { PortNo = 1, Name = "p1" } };
        byte[] dirty = Enumerable.Repeat((byte)0xee, 100).ToArray();
        int n = ps.Encode(dirty);
        Assert.Equal(ps.ToArray(), dirty.AsSpan(0, n).ToArray());
        Assert.Equal(0xee, dirty[n]);
    }

    [Fact]
    public void FlowModDecodeAllocatesOnlyTheMessageListAndActionArray()
    {
        var fm = new OfpFlowMod
        {
            Match = new OfpMatch { Wildcards = OfpFlowWildcards.All & ~OfpFlowWildcards.InPort, InPort = 1 },
            Actions = { OfpAction.SetVlanVid(10), OfpAction.SetDlDst(OfpMac.Broadcast), OfpAction.Output(2), OfpAction.Output(3) },
        };
        byte[] wire = fm.ToArray();
        for (int i = 0; i < 100; i++)
        {
            OfpMessage.TryDecode(wire, out _, out _); // warm up (tiering)
        }
        const int n = 1000;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < n; i++)
        {
            OfpMessage.TryDecode(wire, out _, out _);
        }
        long perMessage = (GC.GetAllocatedBytesForCurrentThread() - before) / n;
        // OfpFlowMod + List<OfpAction> + one OfpAction[4]: a few hundred bytes, nothing per field.
        Assert.True(perMessage <= 640, $"{perMessage} bytes allocated per flow-mod decode");
    }

    [Fact]
    public void MatchNwPrefixHelpers()
    {
        var m = new OfpMatch { Wildcards = OfpMatch.WithNwDstPrefix(OfpMatch.WithNwSrcPrefix(OfpFlowWildcards.All, 16), 8) };
        Assert.Equal(16, m.NwSrcPrefixLength);
        Assert.Equal(8, m.NwDstPrefixLength);
        Assert.Equal(16, m.NwSrcWildcardBits);
        var all = OfpMatch.All;
        Assert.Equal(0, all.NwSrcPrefixLength);
        Assert.Equal(32, all.NwDstWildcardBits);
        var weird = new OfpMatch { Wildcards = (OfpFlowWildcards)((uint)63 << 8) };
        Assert.Equal(32, weird.NwSrcWildcardBits);
    }

    [Fact]
    public void MacParseAndFormat()
    {
        OfpMac mac = OfpMac.Parse("aa:BB:cc:00:11:ff");
        Assert.Equal(0xaabbcc0011ffUL, mac.Value);
        Assert.Equal("aa:bb:cc:00:11:ff", mac.ToString());
        Assert.False(OfpMac.TryParse("aa:bb:cc:00:11", out _));
        Assert.False(OfpMac.TryParse("aa:bb:cc:00:11:zz", out _));
    }

    [Fact]
    public void NamesLongerThanTheirFieldAreCutAndAFullFieldHasNoNUL()
    {
        var port = new OfpPhyPort { PortNo = 1, Name = "0123456789abcdefXYZ" };
        byte[] wire = new byte[OfpPhyPort.Size];
        port.Write(wire);
        Assert.True(OfpPhyPort.TryRead(wire, out OfpPhyPort back));
        Assert.Equal("0123456789abcdef", back.Name);
    }

    [Fact]
    public void SizesOfTheFixedStructsMatchOpenflowH()
    {
        Assert.Equal(8, OfpHeader.Size);
        Assert.Equal(40, OfpMatch.Size);
        Assert.Equal(48, OfpPhyPort.Size);
        Assert.Equal(72, OfpFlowMod.MinSize);
        Assert.Equal(88, OfpFlowRemoved.Size);
        Assert.Equal(64, OfpPortStatus.Size);
        Assert.Equal(32, OfpPortMod.Size);
        Assert.Equal(16, OfpPacketOut.MinSize);
        Assert.Equal(18, OfpPacketIn.MinSize);
        Assert.Equal(32, OfpFeaturesReply.MinSize);
        Assert.Equal(12, OfpSwitchConfig.Size);
        Assert.Equal(1056, OfpDescStatsReply.BodySizeBytes);
        Assert.Equal(88, OfpFlowStats.MinSize);
        Assert.Equal(64, OfpTableStats.Size);
        Assert.Equal(104, OfpPortStats.Size);
        Assert.Equal(32, OfpQueueStats.Size);
        Assert.Equal(new byte[] { 1, 0, 0, 8, 0, 0, 0, 0 }, new OfpHello().ToArray());
        Assert.Equal(12, new OfpDescStatsRequest().EncodedSize);
        Assert.Equal(56, new OfpFlowStatsRequest().EncodedSize);
        Assert.Equal(20, new OfpPortStatsRequest().EncodedSize);
        Assert.Equal(20, new OfpQueueStatsRequest().EncodedSize);
        Assert.Equal(36, new OfpAggregateStatsReply().EncodedSize);
        Assert.Equal(1068, new OfpDescStatsReply().EncodedSize);
        Assert.Equal(0x3fffffu, (uint)OfpFlowWildcards.All);
        Assert.Equal(0x3f00u, (uint)OfpFlowWildcards.NwSrcMask);
        Assert.Equal(0xfc000u, (uint)OfpFlowWildcards.NwDstMask);
        Assert.Equal(0x2000u, (uint)OfpFlowWildcards.NwSrcAll);
        Assert.Equal(0x80000u, (uint)OfpFlowWildcards.NwDstAll);
    }
}
