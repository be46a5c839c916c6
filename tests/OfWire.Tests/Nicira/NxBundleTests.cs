using Softswitch.OfWire.Of10;
using Softswitch.OfWire.Of13;

namespace Softswitch.OfWire.Tests.Nicira;

/// <summary>
/// NXAST_BUNDLE and NXAST_BUNDLE_LOAD in the shared Nicira codec: Open vSwitch's bytes (tests/ofp-actions.at) decode to
/// their arguments and re-encode byte for byte under OpenFlow 1.0 and 1.3; what decode_bundle and bundle_check refuse is
/// refused with their errors in both versions.
/// </summary>
public sealed class NxBundleTests
{
    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));

    // ofp-actions.at, OpenFlow 1.0 and 1.1 alike.
    internal const string BundleVector = "ffff 0028 00002320 000c 0001 0000 0000 00000002 0002 0000 00000000 00000000 0004 0008 00000000";
    internal const string BundleLoadVector = "ffff 0028 00002320 000d 0001 0000 0000 00000002 0002 001f 00010004 00000000 0004 0008 00000000";

    [Theory]
    [InlineData(BundleVector, false)]
    [InlineData(BundleLoadVector, true)]
    public void OpenVswitchBytes_DecodeAndReEncode_InBothVersions(string wire, bool load)
    {
        var list = new List<Ofp13Action>();
        Assert.True(Ofp13Actions.TryDecode(Hex(wire), list, out var error13), error13.ToString());
        var nx = Assert.Single(list).Nx;
        Assert.Equal(load ? NxActionSubtype.BundleLoad : NxActionSubtype.Bundle, nx.Subtype);
        // bundle(eth_src,0,hrw,ofport,members:4,8), bundle_load(...,NXM_NX_REG0[],...)
        Assert.Equal((0, 0, NxAction.BundleHrw), (nx.BundleFields, nx.BundleBasis, nx.BundleAlgorithm));
        Assert.Equal(new ushort[] { 4, 8 }, nx.Members);
        Assert.Equal(load ? (0x00010004u, 0, 32) : (0u, 0, 0), (nx.FieldHeader, (int)nx.DstOfs, (int)nx.Bits));
        var w = new Ofp13Writer();
        Ofp13Actions.Encode(w, list.ToArray());
        Assert.Equal(Convert.ToHexString(Hex(wire)), Convert.ToHexString(w.ToArray()));

        Assert.True(OfpAction.TryDecode(Hex(wire), out var a10, out _, out var error10), error10.ToString());
        Assert.True(NxAction.TryDecode(a10, out var nx10, out error10), error10.ToString());
        Assert.Equal(nx.Members, nx10.Members);
        byte[] body = new byte[nx10.BodySize];
        nx10.WriteBody(body);
        Assert.Equal(Convert.ToHexString(Hex(wire)[8..]), Convert.ToHexString(body));
    }

    /// <summary>Members pad to 8 bytes: 0 members take none, 5 take 16 (bundle action with many ports, bundle.at).</summary>
    [Fact]
    public void MemberLists_PadToEightBytes_AndReadBack()
    {
        foreach (int n in new[] { 0, 1, 4, 5, 40 })
        {
            var members = Enumerable.Range(1, n).Select(i => (ushort)i).ToArray();
            var nx = NxAction.Bundle(NxAction.MaxHashFields, 60, NxAction.BundleActiveBackup, members, 0x00010004, 16, 16);
            Assert.Equal(24 + ((2 * n + 7) & ~7), nx.BodySize);
            byte[] body = new byte[nx.BodySize];
            nx.WriteBody(body);
            Assert.True(NxAction.TryDecodeBody(body, out var back, out var e), e.ToString());
            Assert.Equal(members, back.Members);
            Assert.Equal((nx.Subtype, nx.BundleFields, nx.BundleBasis, nx.BundleAlgorithm, nx.FieldHeader, nx.DstOfs, nx.Bits),
                         (back.Subtype, back.BundleFields, back.BundleBasis, back.BundleAlgorithm, back.FieldHeader, back.DstOfs, back.Bits));
        }
    }

    /// <summary>
    /// As decode_bundle and bundle_check: fields past symmetric_l3, an algorithm other than hrw or active_backup, a
    /// member_type other than NXM_OF_IN_PORT, non-zero reserved bytes, a bundle's destination, a bundle_load's destination
    /// of 8 bits: BAD_ARGUMENT; 3 members in 4 bytes: BAD_LEN; the controller (0xfffd) or 0xff00 as a member: BAD_OUT_PORT.
    /// </summary>
    [Theory]
    [InlineData("ffff 0028 00002320 000c 0001 0007 0000 00000002 0002 0000 00000000 00000000 0004 0008 00000000", 5)]
    [InlineData("ffff 0028 00002320 000c 0002 0000 0000 00000002 0002 0000 00000000 00000000 0004 0008 00000000", 5)]
    [InlineData("ffff 0028 00002320 000c 0001 0000 0000 00000003 0002 0000 00000000 00000000 0004 0008 00000000", 5)]
    [InlineData("ffff 0028 00002320 000c 0001 0000 0000 00000002 0002 0000 00000000 00000001 0004 0008 00000000", 5)]
    [InlineData("ffff 0028 00002320 000c 0001 0000 0000 00000002 0002 001f 00010004 00000000 0004 0008 00000000", 5)]
    [InlineData("ffff 0028 00002320 000d 0001 0000 0000 00000002 0002 0007 00010004 00000000 0004 0008 00000000", 5)]
    [InlineData("ffff 0028 00002320 000c 0001 0000 0000 00000002 0005 0000 00000000 00000000 0004 0008 00000000", 1)]
    [InlineData("ffff 0028 00002320 000c 0001 0000 0000 00000002 0002 0000 00000000 00000000 0004 fffd 00000000", 4)]
    [InlineData("ffff 0028 00002320 000c 0001 0000 0000 00000002 0002 0000 00000000 00000000 0004 ff00 00000000", 4)]
    public void BadBodies_AreRefused(string wire, ushort code)
    {
        Assert.True(OfpAction.TryDecode(Hex(wire), out var a10, out _, out var decodeError), decodeError.ToString());
        Assert.False(NxAction.TryDecode(a10, out _, out var error10));
        Assert.Equal(OfpError.BadAction((OfpBadActionCode)code), error10);
        var list = new List<Ofp13Action>();
        Assert.False(Ofp13Actions.TryDecode(Hex(wire), list, out var error13));
        Assert.Equal(Ofp13Error.BadAction(code), error13);
    }

    /// <summary>The reserved ports Open vSwitch takes as members (IN_PORT, TABLE, NORMAL, FLOOD, ALL, LOCAL, NONE) decode.</summary>
    [Fact]
    public void ReservedMembers_OpenVswitchTakes_Decode()
    {
        var nx = NxAction.Bundle(0, 0, NxAction.BundleActiveBackup, [0xfff8, 0xfff9, 0xfffa, 0xfffb, 0xfffc, 0xfffe, 0xffff, 0xfeff]);
        byte[] body = new byte[nx.BodySize];
        nx.WriteBody(body);
        Assert.True(NxAction.TryDecodeBody(body, out var back, out var e), e.ToString());
        Assert.Equal(nx.Members, back.Members);
    }
}
