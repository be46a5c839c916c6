using System.Buffers.Binary;
using Softswitch.OfWire.Of10;
using Softswitch.OfWire.Of13;
using Softswitch.OfWire.Tests.Of10;

namespace Softswitch.OfWire.Tests.Nicira;

/// <summary>
/// Open vSwitch's extended packet-in in the shared Nicira codec: NXAST_CONTROLLER2 (tests/ofp-actions.at) decodes to its
/// properties and re-encodes byte for byte under OpenFlow 1.0 and 1.3; NXT_SET_PACKET_IN_FORMAT, NXT_PACKET_IN,
/// NXT_PACKET_IN2 and NXT_RESUME (tests/ofp-print.at, kept in Vectors/of10-vectors.jsonl) decode, and the packet-ins
/// re-encode byte for byte; refusals as Open vSwitch's decoders answer them.
/// </summary>
public sealed class NxController2Tests
{
    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));

    private static byte[] Vector(string name) => VectorFile.All.Single(v => v.Name == name).Bytes;

    private const string ControllerVector =
        "ovs OF1.0 action: actions=controller(reason=invalid_ttl,max_len=1234,id=5678,userdata=01.02.03.04.05,pause) (line 119)";

    [Fact]
    public void OpenVswitchController2_DecodesAndReEncodes_InBothVersions()
    {
        byte[] wire = Vector(ControllerVector);
        Assert.Equal(64, wire.Length);

        Assert.True(OfpAction.TryDecode(wire, out var a10, out int size, out var error10), error10.ToString());
        Assert.Equal(64, size);
        Assert.True(NxAction.TryDecode(a10, out var nx, out error10), error10.ToString());
        Assert.Equal(NxActionSubtype.Controller2, nx.Subtype);
        Assert.Equal(1234, nx.MaxLen);
        Assert.Equal(5678UL, nx.Arg);
        Assert.Equal(2, nx.Table); // invalid_ttl
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5 }, nx.ControllerUserData);
        Assert.True(nx.ControllerPause);
        Assert.Equal(NxAction.NoControllerMeter, nx.ControllerMeterId);
        byte[] body = new byte[nx.BodySize];
        nx.WriteBody(body);
        Assert.Equal(Convert.ToHexString(wire[8..]), Convert.ToHexString(body));

        var list = new List<Ofp13Action>();
        Assert.True(Ofp13Actions.TryDecode(wire, list, out var error13), error13.ToString());
        var w = new Ofp13Writer();
        Ofp13Actions.Encode(w, [Ofp13Action.Nicira(NxAction.Controller2(1234, 5678, 2, [1, 2, 3, 4, 5], pause: true))]);
        Assert.Equal(Convert.ToHexString(wire), Convert.ToHexString(w.ToArray()));
        Assert.Equal(Assert.Single(list).Nx.ControllerUserData, nx.ControllerUserData);
    }

    /// <summary>Only properties that differ from their defaults are written (encode_CONTROLLER): userdata alone, and none at all.</summary>
    [Theory]
    [InlineData("0102030405", "ffff 0020 00002320 0025 000000000000 0003 0009 0102030405 00000000000000")]
    [InlineData("", "ffff 0010 00002320 0025 000000000000")]
    public void DefaultProperties_AreLeftOut(string userData, string wire)
    {
        var nx = NxAction.Controller2(userData: userData.Length == 0 ? null : Convert.FromHexString(userData));
        var w = new Ofp13Writer();
        Ofp13Actions.Encode(w, [Ofp13Action.Nicira(nx)]);
        Assert.Equal(Convert.ToHexString(Hex(wire)), Convert.ToHexString(w.ToArray()));
        Assert.True(NxAction.TryDecodeBody(Hex(wire)[8..], out var back, out var e), e.ToString());
        Assert.Equal(0xffff, back.MaxLen);
        Assert.Equal(1, back.Table); // reason action
        Assert.Equal(0UL, back.Arg);
        Assert.False(back.ControllerPause);
        Assert.Equal(userData, Convert.ToHexString(back.ControllerUserData ?? []), ignoreCase: true);
    }

    /// <summary>A meter_id property: exactly 4 bytes (ofpprop_parse_u32), written when not NX_CTLR_NO_METER.</summary>
    [Fact]
    public void MeterId_RoundTrips_AndMustBeFourBytes()
    {
        var nx = NxAction.Controller2(meterId: 7);
        byte[] body = new byte[nx.BodySize];
        nx.WriteBody(body);
        Assert.Equal("00250000000000000005000800000007", Convert.ToHexString(body));
        Assert.True(NxAction.TryDecodeBody(body, out var back, out _));
        Assert.Equal(7u, back.ControllerMeterId);
        Assert.False(NxAction.TryDecodeBody(Hex("0025 000000000000 0005 0006 0007 0000"), out _, out var e));
        Assert.Equal(NxActionError.BadPropertyLen, e);
    }

    [Theory]
    [InlineData("0025 000000000001", NxActionError.MustBeZero)]              // ext_action_header's pad
    [InlineData("0025 000000000000 0000 0003 00000000", NxActionError.BadPropertyLen)] // length under the header
    [InlineData("0025 000000000000 0003 0010 01020304", NxActionError.BadPropertyLen)] // past the action
    [InlineData("0025 000000000000 0000 0005 04 000000", NxActionError.BadPropertyLen)] // max_len needs 2 bytes
    [InlineData("0025 000000000000 0002 0004 00000000", NxActionError.BadPropertyLen)] // reason needs 1 byte
    [InlineData("0025 000000000000 0009 0004 00000000", NxActionError.BadPropertyType)]
    [InlineData("0025 000000000000 ffff 0008 00000000", NxActionError.BadPropertyLen)] // experimenter under 12 bytes
    [InlineData("0025 000000000000 ffff 000c 00000000 00000001 00000000", NxActionError.BadPropertyExperimenter)]
    [InlineData("0025 000000000000 ffff 000c 00002320 00000001 00000000", NxActionError.BadPropertyExpType)]
    public void Refusals_AreOpenVswitchs(string body, NxActionError expected)
    {
        Assert.False(NxAction.TryDecodeBody(Hex(body), out _, out var e));
        Assert.Equal(expected, e);
    }

    /// <summary>The property errors with each version's code: 1.0 NX1.0(13,3), 1.3 OF1.3(13,3) (OFPBPC_BAD_LEN).</summary>
    [Fact]
    public void PropertyErrors_CarryEachVersionsCode()
    {
        byte[] wire = Hex("ffff 0018 00002320 0025 000000000000 0000 0003 00000000");
        Assert.True(OfpAction.TryDecode(wire, out var a10, out _, out _));
        Assert.False(NxAction.TryDecode(a10, out _, out var e10));
        Assert.Equal(OfpError.Nx((OfpErrorType)13, 3), e10);
        Assert.False(Ofp13Actions.TryDecode(wire, [], out var e13));
        Assert.Equal(new Ofp13Error(Ofp13ErrorType.TableFeaturesFailed, Ofp13Codes.FeaturesBadLen), e13);
    }

    [Fact]
    public void SetPacketInFormat_DecodesAndEncodes_AsOpenVswitch()
    {
        byte[] wire = Vector("ovs NXT_SET_PACKET_IN (line 3079)");
        Assert.True(NxPacketIn.TryReadSubtype(wire, out uint subtype));
        Assert.Equal(NxPacketIn.SetPacketInFormat, subtype);
        Assert.True(NxPacketIn.TryDecodeSetPacketInFormat(wire, out var format, out _));
        Assert.Equal(NxPacketInFormat.Nxt, format);
        Assert.Equal(wire, NxPacketIn.EncodeSetPacketInFormat(1, 2, 1));

        // A format past nxt_packet_in2 is EPERM (not a length error); any size but 20 bytes BAD_LEN.
        Assert.False(NxPacketIn.TryDecodeSetPacketInFormat(NxPacketIn.EncodeSetPacketInFormat(4, 2, 3), out _, out var error));
        Assert.Equal(Ofp13Error.BadRequest(Ofp13Codes.RequestEperm), error);
        Assert.False(NxPacketIn.TryDecodeSetPacketInFormat([.. wire, 0, 0, 0, 0], out _, out error));
        Assert.Equal(Ofp13Error.BadLength, error);
    }

    [Fact]
    public void NxtPacketIn_DecodesAndReEncodesByteForByte()
    {
        byte[] wire = Vector("ovs NXT_PACKET_IN (line 3089)");
        Assert.True(NxPacketIn.TryDecodePacketIn(wire, out var f, out var match, out var data, out _));
        Assert.Equal(new NxPacketInFields(NxPacketIn.NoBuffer, 64, 1, 7, 9), f);
        Assert.Equal(0x4e, match.Length);
        Assert.Equal(64, data.Length);
        var again = new byte[wire.Length];
        Assert.Equal(wire.Length, NxPacketIn.WritePacketIn(again, 1, f, match, data));
        Assert.Equal(Convert.ToHexString(wire), Convert.ToHexString(again));
    }

    [Fact]
    public void NxtPacketIn2_DecodesAndReEncodesByteForByte()
    {
        byte[] wire = Vector("ovs NX_PACKET_IN2 (line 3135)");
        Assert.True(NxPacketIn.TryReadSubtype(wire, out uint subtype));
        Assert.Equal(NxPacketIn.PacketIn2, subtype);
        Assert.True(NxPacketIn.TryDecodePacketIn2(wire, out var pin, out _));
        Assert.Equal(new NxPacketInFields(0x114, 64, 1, 7, 0xfedcba9876543210), pin.Fields);
        Assert.Equal(48, pin.Packet.Length);
        Assert.Equal("800004085A5A5A5A5A5A5A5A", Convert.ToHexString(pin.Metadata));
        Assert.Equal("0102030405", Convert.ToHexString(pin.UserData));
        Assert.True(pin.Continuation.IsEmpty);
        var again = new byte[wire.Length];
        Assert.Equal(wire.Length, NxPacketIn.WritePacketIn2(again, 1, pin.Fields, pin.Metadata, pin.Packet, pin.UserData));
        Assert.Equal(Convert.ToHexString(wire), Convert.ToHexString(again));
    }

    /// <summary>NXT_RESUME carries NXT_PACKET_IN2's properties (its packet and metadata); the switch answers it NXR_NOT_SUPPORTED.</summary>
    [Fact]
    public void Resume_Decodes()
    {
        byte[] wire = Vector("ovs NXT_RESUME (line 3492)");
        Assert.True(NxPacketIn.TryReadSubtype(wire, out uint subtype));
        Assert.Equal(NxPacketIn.Resume, subtype);
        Assert.True(NxPacketIn.TryDecodePacketIn2(wire, out var pin, out _));
        Assert.Equal(14, pin.Packet.Length);
        Assert.Equal(14, pin.Fields.TotalLen);
        Assert.Equal("00000002FFFD", Convert.ToHexString(pin.Metadata));
    }

    /// <summary>
    /// The switch's own packet-ins: the context in nx_put_raw's order, NXM headers in NXT_PACKET_IN, OXM headers in the
    /// version in NXT_PACKET_IN2 (tun_id NXM_NX_TUN_ID under 1.0, OXM_OF_TUNNEL_ID from 1.3); full_len only when cut,
    /// buffer_id only when buffered, userdata last.
    /// </summary>
    [Fact]
    public void ContextWriters_NameTheFieldsAsOpenVswitch()
    {
        byte[] frame = new byte[60];
        frame.AsSpan().Fill(0xab);
        var f = new NxPacketInFields(NxPacketIn.NoBuffer, frame.Length, 1, 3, 0x77);
        var buf = new byte[NxPacketIn.PacketInOverhead + frame.Length];
        int n = NxPacketIn.WritePacketIn(buf, 1, f, inPort: 2, tunnelId: 5, metadata: 0, frame);
        Assert.True(NxPacketIn.TryDecodePacketIn(buf.AsSpan(0, n), out var back, out var match, out var data, out _));
        Assert.Equal(f, back);
        Assert.Equal("00000002" + "0002" + "00012008" + "0000000000000005", Convert.ToHexString(match));
        Assert.Equal(frame, data.ToArray());
        Assert.Equal(n, BinaryPrimitives.ReadUInt16BigEndian(buf.AsSpan(2)));

        foreach (byte version in new byte[] { 1, 4 })
        {
            byte[] userData = [9, 8, 7];
            var cut = f with { BufferId = 0x42 };
            var buf2 = new byte[NxPacketIn.PacketIn2Overhead + userData.Length + frame.Length];
            int m = NxPacketIn.WritePacketIn2(buf2, version, cut, inPort: 0xfffffffe, tunnelId: 5, metadata: 0x1234, frame.AsSpan(0, 20), userData);
            Assert.Equal(version, buf2[0]);
            Assert.True(NxPacketIn.TryDecodePacketIn2(buf2.AsSpan(0, m), out var pin, out _));
            Assert.Equal(cut, pin.Fields);
            Assert.Equal(20, pin.Packet.Length);
            string tun = version == 1 ? "00012008" : "80004C08";
            Assert.Equal("80000004FFFFFFFE" + tun + "0000000000000005" + "800004080000000000001234", Convert.ToHexString(pin.Metadata));
            Assert.Equal("090807", Convert.ToHexString(pin.UserData));
        }
    }

    /// <summary>NXT_PACKET_IN2 refusals as decode_nx_packet_in2's: no packet, full_len under the packet, a bad u32, an unknown property, a property past the message.</summary>
    [Theory]
    [InlineData("0001 0008 00000040", Ofp13ErrorType.BadRequest, Ofp13Codes.BadLen)]
    [InlineData("0000 0006 aabb 0000 0001 0008 00000001", Ofp13ErrorType.BadRequest, Ofp13Codes.BadLen)]
    [InlineData("0000 0006 aabb 0000 0002 0006 0000 0000", Ofp13ErrorType.BadProperty, Ofp13Codes.PropBadLen)]
    [InlineData("0000 0006 aabb 0000 0009 0004 00000000", Ofp13ErrorType.BadProperty, Ofp13Codes.PropBadType)]
    [InlineData("0000 0006 aabb 0000 0003 0010 07", Ofp13ErrorType.BadProperty, Ofp13Codes.PropBadLen)]
    [InlineData("0000 0006 aabb 0000 0004 0008 00000000", Ofp13ErrorType.BadProperty, Ofp13Codes.PropBadLen)]
    [InlineData("0000 0006 aabb 0000 0005 0004 00000000", Ofp13ErrorType.BadProperty, Ofp13Codes.PropBadLen)]
    public void PacketIn2Refusals(string props, Ofp13ErrorType type, ushort code)
    {
        byte[] body = Hex(props);
        var msg = new byte[NxPacketIn.HeaderSize + body.Length];
        msg[0] = 1;
        msg[1] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(msg.AsSpan(2), (ushort)msg.Length);
        BinaryPrimitives.WriteUInt32BigEndian(msg.AsSpan(8), NxAction.VendorId);
        BinaryPrimitives.WriteUInt32BigEndian(msg.AsSpan(12), NxPacketIn.PacketIn2);
        body.CopyTo(msg, NxPacketIn.HeaderSize);
        Assert.False(NxPacketIn.TryDecodePacketIn2(msg, out _, out var error));
        Assert.Equal(new Ofp13Error(type, code), error);
    }

    /// <summary>NXT_PACKET_IN refusals as ofputil_decode_packet_in's: the fixed part short, the match padded past the message (nx_pull_match), the 2 pad bytes missing.</summary>
    [Fact]
    public void PacketInRefusals()
    {
        var buf = new byte[NxPacketIn.PacketInOverhead + 4];
        int n = NxPacketIn.WritePacketIn(buf, 1, new NxPacketInFields(NxPacketIn.NoBuffer, 4, 0, 0, 0), inPort: 1, tunnelId: 0, metadata: 0, [1, 2, 3, 4]);
        var msg = buf.AsSpan(0, n);
        Assert.True(NxPacketIn.TryDecodePacketIn(msg, out _, out var match, out var data, out _));
        Assert.Equal((6, 4), (match.Length, data.Length));
        Assert.False(NxPacketIn.TryDecodePacketIn(msg[..39], out _, out _, out _, out var error));
        Assert.Equal(Ofp13Error.BadLength, error);
        // The 6-byte match is padded to 8 (48); the 2 pad bytes after it run to 50.
        Assert.False(NxPacketIn.TryDecodePacketIn(msg[..47], out _, out _, out _, out error));
        Assert.Equal(Ofp13Error.BadMatch(Ofp13Codes.MatchBadLen), error);
        Assert.False(NxPacketIn.TryDecodePacketIn(msg[..49], out _, out _, out _, out error));
        Assert.Equal(Ofp13Error.BadLength, error);
        Assert.True(NxPacketIn.TryDecodePacketIn(msg[..50], out _, out _, out data, out _));
        Assert.Equal(0, data.Length);
    }
}
