using System.Buffers.Binary;
using Softswitch.OfWire.Of10;
using Softswitch.OfWire.Of13;
using Softswitch.OfWire.Of14;

namespace Softswitch.OfWire.Tests.Nicira;

/// <summary>
/// Open vSwitch's asynchronous configuration before 1.4 and the request forwarding that reaches it, against its
/// tests/ofp-print.at vectors byte for byte: NXT_SET_ASYNC_CONFIG, NXT_REQUESTFORWARD around NXT_GROUP_MOD,
/// ONFT13_REQUESTFORWARD around a meter-mod; NXT_SET_ASYNC_CONFIG2 with OFPT_SET_ASYNC's properties; the refusals.
/// </summary>
public sealed class NxAsyncConfigTests
{
    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));

    /// <summary>ofp-print.at "NXT_SET_ASYNC_CONFIG": bit 12 of both packet-in masks is no reason (the decode leaves it to the reader).</summary>
    internal const string SetAsyncConfig =
        "01 04 00 28 00 00 00 00 00 00 23 20 00 00 00 13 00 00 10 05 00 00 10 07 00 00 00 03 00 00 00 07 00 00 00 00 00 00 00 03";

    /// <summary>ofp-print.at "NXT_REQUESTFORWARD - inner NXT_GROUP_MOD".</summary>
    internal const string RequestForwardGroupMod10 =
        "01 04 00 b8 00 00 00 02 00 00 23 20 00 00 00 84 " +
        "01 04 00 a8 00 00 00 02 00 00 23 20 00 00 00 1f 00 00 01 00 87 65 43 21 " +
        "00 60 00 00 ff ff ff ff 00 20 00 08 00 00 00 00 00 00 00 08 00 01 00 00 " +
        "00 00 00 08 00 64 00 00 00 01 00 08 00 00 00 01 00 20 00 08 00 00 00 01 " +
        "00 00 00 08 00 02 00 00 00 00 00 08 00 c8 00 00 00 01 00 08 00 00 00 02 " +
        "00 20 00 08 00 00 00 02 00 00 00 08 00 03 00 00 00 00 00 08 00 c8 00 00 " +
        "00 01 00 08 00 00 00 03 ff ff 00 28 00 00 15 40 00 00 00 01 00 00 00 00 " +
        "68 61 73 68 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 07";

    /// <summary>ofp-print.at "ONFT_REQUESTFORWARD - inner OFPT_METER_MOD - OF1.3".</summary>
    internal const string RequestForwardMeterMod13 =
        "04 04 00 30 00 00 00 02 4F 4E 46 00 00 00 09 2e 04 1d 00 20 00 00 00 02 00 00 00 0d 00 00 00 05 00 01 00 10 00 00 04 00 00 00 00 80 00 00 00 00";

    /// <summary>ofp-print.at "OFPT_SET_ASYNC_CONFIG": its property list (after the 8-byte header).</summary>
    internal const string SetAsync14Properties =
        "00 00 00 08 00 00 00 05 00 01 00 08 00 00 00 02 00 02 00 08 00 00 00 02 00 03 00 08 00 00 00 05 00 04 00 08 00 00 00 1c 00 05 00 08 00 00 00 05";

    /// <summary>The vectors above as whole messages, NXT_SET_ASYNC_CONFIG2's with OFPT_SET_ASYNC's properties (the fuzz seeds).</summary>
    internal static byte[][] Seeds()
    {
        byte[] props = Hex(SetAsync14Properties);
        byte[] config2 = [1, 4, 0, (byte)(16 + props.Length), 0, 0, 0, 9, 0, 0, 0x23, 0x20, 0, 0, 0, 27, .. props];
        return [Hex(SetAsyncConfig), Hex(RequestForwardGroupMod10), Hex(RequestForwardMeterMod13), config2];
    }

    [Fact]
    public void SetAsyncConfig_DecodesOpenVswitchsVector_AndReEncodesItByteForByte()
    {
        byte[] wire = Hex(SetAsyncConfig);
        Assert.True(NxPacketIn.TryReadSubtype(wire, out uint subtype));
        Assert.Equal(NxAsyncConfig.SetAsyncConfig, subtype);
        var masks = new uint[6];
        Assert.True(NxAsyncConfig.TryDecodeSetAsyncConfig(wire, masks, out _));
        Assert.Equal([0x1005u, 0x1007u, 3u, 7u, 0u, 3u], masks);
        Assert.Equal(wire, NxAsyncConfig.EncodeSetAsyncConfig(1, 0, masks));
        // Not 40 bytes: refused (OFPBRC_BAD_LEN).
        Assert.False(NxAsyncConfig.TryDecodeSetAsyncConfig(wire.AsSpan(0, 36), masks, out var error));
        Assert.Equal(Ofp13Error.BadLength, error);
        byte[] longer = [.. wire, 0, 0, 0, 0];
        Assert.False(NxAsyncConfig.TryDecodeSetAsyncConfig(longer, masks, out error));
        Assert.Equal(Ofp13Error.BadLength, error);
    }

    [Fact]
    public void RequestForward_Of10AroundNxtGroupMod_AndOf13AroundAMeterMod_AreOpenVswitchsBytes()
    {
        byte[] wire = Hex(RequestForwardGroupMod10);
        Assert.True(NxAsyncConfig.TryDecodeRequestForward(wire, out int at, out int len));
        Assert.Equal((16, 0xa8), (at, len));
        byte[] inner = wire[at..(at + len)];
        Assert.True(NxPacketIn.TryReadSubtype(inner, out uint innerSubtype));
        Assert.Equal(31u, innerSubtype); // NXT_GROUP_MOD
        // The switch's is xid 0; this vector's outer xid is 2.
        Assert.Equal(wire, NxAsyncConfig.EncodeRequestForward(1, inner, 2));

        wire = Hex(RequestForwardMeterMod13);
        Assert.True(NxAsyncConfig.TryDecodeRequestForward(wire, out at, out len));
        inner = wire[at..(at + len)];
        var meter = new Ofp13MeterMod();
        Assert.True(meter.TryDecode(inner, out var e), e.ToString());
        Assert.Equal(5u, meter.MeterId);
        Assert.Equal(wire, NxAsyncConfig.EncodeRequestForward(4, inner, 2));

        // An inner request of another version, or running past the message, is no request forward.
        byte[] bad = (byte[])wire.Clone();
        bad[16] = 5;
        Assert.False(NxAsyncConfig.TryDecodeRequestForward(bad, out _, out _));
        bad = (byte[])wire.Clone();
        BinaryPrimitives.WriteUInt16BigEndian(bad.AsSpan(18), 0x40);
        Assert.False(NxAsyncConfig.TryDecodeRequestForward(bad, out _, out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => NxAsyncConfig.EncodeRequestForward(5, inner));
    }

    [Fact]
    public void SetAsyncConfig2_TakesOfpt14SetAsyncsProperties_WithThe10BitsOfPacketInBefore14()
    {
        byte[] props = Hex(SetAsync14Properties);
        var set = new Ofp14AsyncConfig();
        foreach (byte version in new byte[] { 1, 4 })
        {
            byte[] wire = [version, 4, 0, (byte)(16 + props.Length), 0, 0, 0, 9, 0, 0, 0x23, 0x20, 0, 0, 0, 27, .. props];
            Assert.True(NxAsyncConfig.TryDecodeSetAsyncConfig2(wire, set, out var e), e.ToString());
            Assert.Equal((version, 9u, 0x3fu), (set.Version, set.Xid, set.Present));
            Assert.Equal((5u, 2u, 0x1cu), (set[Ofp14AsyncProp.PacketInSlave], set[Ofp14AsyncProp.PacketInMaster], set[Ofp14AsyncProp.FlowRemovedSlave]));
            Assert.Equal(wire, NxAsyncConfig.EncodeSetAsyncConfig2(version, 9, set));

            // OFPR_ACTION_SET (bit 3) is 1.4's: INVALID before it (Open vSwitch's OFPR10_BITS), as 0x40 is in 1.4.
            byte[] actionSet = (byte[])wire.Clone();
            actionSet[23] = 0x08;
            Assert.False(NxAsyncConfig.TryDecodeSetAsyncConfig2(actionSet, set, out e));
            Assert.Equal(new Ofp13Error(Ofp13ErrorType.AsyncConfigFailed, Ofp13Codes.AsyncInvalid), e);
            // Property type 17: UNSUPPORTED; a property 12 bytes long: BAD_LEN; a list not of whole 8-byte units: the message's BAD_LEN.
            byte[] unknown = (byte[])wire.Clone();
            unknown[17] = 17;
            Assert.False(NxAsyncConfig.TryDecodeSetAsyncConfig2(unknown, set, out e));
            Assert.Equal(new Ofp13Error(Ofp13ErrorType.AsyncConfigFailed, Ofp13Codes.AsyncUnsupported), e);
            byte[] longProp = (byte[])wire.Clone();
            longProp[19] = 12;
            Assert.False(NxAsyncConfig.TryDecodeSetAsyncConfig2(longProp, set, out e));
            Assert.Equal(new Ofp13Error(Ofp13ErrorType.BadProperty, Ofp13Codes.PropBadLen), e);
            byte[] ragged = [.. wire, 0, 0, 0, 0];
            ragged[3] += 4;
            Assert.False(NxAsyncConfig.TryDecodeSetAsyncConfig2(ragged, set, out e));
            Assert.Equal(Ofp13Error.BadLength, e);
        }
    }

    /// <summary>
    /// The refusals as Open vSwitch's ofperr_encode_msg writes them: under 1.0 OFPACFC_* is NXBRC_UNENCODABLE_ERROR and a
    /// property's BAD_LEN NX1.0(13,3); under 1.3 OFPACFC_INVALID and _UNSUPPORTED are ONF1.3(2370) and (2371), experimenter
    /// errors of the ONF, and a property's BAD_LEN OF1.3(13,3).
    /// </summary>
    [Fact]
    public void Refusals_AreOpenVswitchsErrorsOfEachVersion()
    {
        var invalid = new Ofp13Error(Ofp13ErrorType.AsyncConfigFailed, Ofp13Codes.AsyncInvalid);
        var unsupported = new Ofp13Error(Ofp13ErrorType.AsyncConfigFailed, Ofp13Codes.AsyncUnsupported);
        var badLen = new Ofp13Error(Ofp13ErrorType.BadProperty, Ofp13Codes.PropBadLen);
        Assert.Equal(Nx10Error.Unencodable, NxAsyncConfig.Error10(invalid));
        Assert.Equal(Nx10Error.Unencodable, NxAsyncConfig.Error10(unsupported));
        Assert.Equal(Nx10Error.Nx(13, 3), NxAsyncConfig.Error10(badLen));
        Assert.Equal((Nx10Error)OfpError.BadRequest(OfpBadRequestCode.BadLen), NxAsyncConfig.Error10(Ofp13Error.BadLength));

        byte[] request = [4, 4, 0, 24, 0, 0, 0, 7, 0, 0, 0x23, 0x20, 0, 0, 0, 27, 0, 17, 0, 8, 0, 0, 0, 1];
        foreach (var (e, type, code, experimenter) in new[] { (invalid, 0xffff, 2370, 0x4f4e4600u), (unsupported, 0xffff, 2371, 0x4f4e4600u), (badLen, 13, 3, 0u) })
        {
            byte[] reply = NxAsyncConfig.ErrorReply13(4, e, request);
            Assert.Equal((4, 1, 7u), (reply[0], reply[1], BinaryPrimitives.ReadUInt32BigEndian(reply.AsSpan(4))));
            Assert.Equal(reply.Length, BinaryPrimitives.ReadUInt16BigEndian(reply.AsSpan(2)));
            Assert.Equal((type, code), (BinaryPrimitives.ReadUInt16BigEndian(reply.AsSpan(8)), BinaryPrimitives.ReadUInt16BigEndian(reply.AsSpan(10))));
            int data = experimenter == 0 ? 12 : 16;
            if (experimenter != 0) Assert.Equal(experimenter, BinaryPrimitives.ReadUInt32BigEndian(reply.AsSpan(12)));
            Assert.Equal(request, reply[data..]);
        }
    }

    /// <summary>
    /// ofp-print.at's NXT_GROUP_MOD (inside "NXT_REQUESTFORWARD - inner NXT_GROUP_MOD"): 1.5's group-mod under a 1.0
    /// Nicira head, read (a select group 0x87654321, three buckets of ids 0-2 with their weights, watch ports and 1.0
    /// outputs, the selection-method property kept as bytes) and written back byte for byte; a short, a wrong-subtype
    /// and a bad-property message are not read.
    /// </summary>
    [Fact]
    public void NxtGroupMod_OvsVector_ReadAndWrittenBack()
    {
        byte[] forward = Hex(RequestForwardGroupMod10);
        Assert.True(NxAsyncConfig.TryDecodeRequestForward(forward, out int at, out int len));
        byte[] inner = forward.AsSpan(at, len).ToArray();
        var m = new NxGroupMod();
        Assert.True(m.TryDecode(inner, out _));
        Assert.Equal((2u, (ushort)0, (byte)1, 0x87654321u, 0xffffffffu), (m.Xid, m.Command, m.GroupType, m.GroupId, m.CommandBucketId));
        Assert.Equal(3, m.Buckets.Count);
        for (int i = 0; i < 3; i++)
        {
            var b = m.Buckets[i];
            Assert.Equal((uint)i, b.BucketId);
            Assert.Equal((ushort)(i == 0 ? 100 : 200), b.Weight);
            Assert.Equal((uint)(i + 1), b.WatchPort);
            Assert.Null(b.WatchGroup);
            Assert.Equal(new byte[] { 0, 0, 0, 8, 0, (byte)(i + 1), 0, 0 }, b.Actions); // OFPAT_OUTPUT to port i+1
        }
        Assert.Equal(40, m.Properties.Length);
        Assert.Equal(Convert.ToHexString(inner), Convert.ToHexString(m.Encode()));
        Assert.Equal(Convert.ToHexString(forward), Convert.ToHexString(NxAsyncConfig.EncodeRequestForward(1, m.Encode(), 2)));

        Assert.False(new NxGroupMod().TryDecode(inner.AsSpan(0, NxGroupMod.FixedSize - 1), out var error));
        Assert.Equal(Ofp13Error.BadLength, error);
        byte[] other = (byte[])inner.Clone();
        other[15] = 0x20;
        Assert.False(new NxGroupMod().TryDecode(other, out error));
        Assert.Equal(Ofp13Error.BadRequest(Ofp13Codes.BadExpType), error);
        byte[] badProp = (byte[])inner.Clone();
        badProp[NxGroupMod.FixedSize + 16 + 1] = 7; // the first bucket's weight property is of type 7
        Assert.False(new NxGroupMod().TryDecode(badProp, out error));
        Assert.Equal(new Ofp13Error(Ofp13ErrorType.BadProperty, Ofp13Codes.PropBadType), error);
        byte[] badPropLen = (byte[])inner.Clone();
        badPropLen[NxGroupMod.FixedSize + 16 + 3] = 12; // and 12 bytes long
        Assert.False(new NxGroupMod().TryDecode(badPropLen, out error));
        Assert.Equal(new Ofp13Error(Ofp13ErrorType.BadProperty, Ofp13Codes.PropBadLen), error);
        byte[] badBucket = (byte[])inner.Clone();
        badBucket[NxGroupMod.FixedSize + 1] = 8;    // the first bucket 8 bytes, under its header
        Assert.False(new NxGroupMod().TryDecode(badBucket, out error));
        Assert.Equal(Ofp13Error.GroupModFailed(Ofp13Codes.GroupBadBucket), error);
        byte[] pastEnd = (byte[])inner.Clone();
        BinaryPrimitives.WriteUInt16BigEndian(pastEnd.AsSpan(24), (ushort)inner.Length); // bucket_array_len past the message
        Assert.False(new NxGroupMod().TryDecode(pastEnd, out error));
        Assert.Equal(Ofp13Error.BadLength, error);
    }
}
