using Softswitch.OfWire;
using Softswitch.OfWire.Of10;
using Softswitch.OfWire.Of13;
using Softswitch.Ofproto;
using Of10Actions = Softswitch.OfAgent.Of10.Translate.ActionTranslator;
using Of13Actions = Softswitch.OfAgent.Of13.Translate.ActionTranslator;

namespace Softswitch.OfAgent.Tests.Nicira;

/// <summary>
/// clone(...) (NXAST_CLONE) in OpenFlow 1.0 and 1.3: Open vSwitch's bytes (tests/ofp-actions.at) read as the model's
/// clone of its nested actions, each version's nested list its own, written back byte for byte; a bad nested action is
/// refused with the error it gets at the top level; in write-actions a clone is OFPBAC_BAD_TYPE, as the action set refuses it.
/// </summary>
public sealed class CloneTranslationTests
{
    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));

    // ofp-actions.at, OpenFlow 1.0: actions=clone(mod_vlan_vid:5,output:10)
    private const string Of10Vector = "ffff 0020 00002320 002a 000000000000 0001 0008 0005 0000 0000 0008 000a 0000";

    private static readonly OfAction Expected = OfAction.CloneOf([OfAction.SetVlanVid(5), OfAction.Output(10)]);

    [Fact]
    public void TheCodec_KeepsTheNestedBytes_AndWritesThemBack()
    {
        byte[] wire = Hex(Of10Vector);
        Assert.True(OfpActions.TryDecode(wire, out List<OfpAction> list, out var error), error.ToString());
        Assert.True(NxAction.TryDecode(list[0], out var nx, out error), error.ToString());
        Assert.Equal(NxActionSubtype.Clone, nx.Subtype);
        Assert.Equal(Hex("0001 0008 0005 0000 0000 0008 000a 0000"), nx.Nested);
        Assert.Equal(wire.Length - 8, nx.BodySize);
        var body = new byte[nx.BodySize];
        nx.WriteBody(body);
        Assert.Equal(wire[8..], body);
        // A body shorter than the ext_action_header's: BAD_LEN.
        Assert.False(NxAction.TryDecodeBody(Hex("002a 0000 0000"), out _, out var e));
        Assert.Equal(NxActionError.BadLen, e);
    }

    [Fact]
    public void OpenFlow10_ReadsTheVector_AsTheClone_AndWritesItBackByteForByte()
    {
        Assert.True(OfpActions.TryDecode(Hex(Of10Vector), out List<OfpAction> list, out var error), error.ToString());
        Assert.True(Of10Actions.TryDecode(list, out var actions, out error), error.ToString());
        Assert.Equal(Expected, Assert.Single(actions.ToArray()));
        var back = Of10Actions.ToOfp([Expected]);
        var bytes = new byte[OfpActions.GetEncodedSize(back)];
        OfpActions.Encode(back, bytes);
        Assert.Equal(Convert.ToHexString(Hex(Of10Vector)), Convert.ToHexString(bytes));
    }

    [Fact]
    public void OpenFlow10_ABadNestedAction_IsRefusedAsAtTheTopLevel()
    {
        // clone(NXAST subtype 0x99): BAD_VENDOR_TYPE; clone(a vendor action of another vendor): BAD_VENDOR.
        Assert.True(OfpActions.TryDecode(Hex("ffff 0020 00002320 002a 000000000000 ffff 0010 00002320 0099 000000000000"), out List<OfpAction> l1, out _));
        Assert.False(Of10Actions.TryDecode(l1, out _, out var e1));
        Assert.Equal(OfpError.BadAction(OfpBadActionCode.BadVendorType), e1);
        Assert.True(OfpActions.TryDecode(Hex("ffff 0020 00002320 002a 000000000000 ffff 0010 00001234 0001 000000000000"), out List<OfpAction> l2, out _));
        Assert.False(Of10Actions.TryDecode(l2, out _, out var e2));
        Assert.Equal(OfpError.BadAction(OfpBadActionCode.BadVendor), e2);
        // Nested bytes that are no action list (an output whose length runs past them): BAD_LEN.
        Assert.True(OfpActions.TryDecode(Hex("ffff 0018 00002320 002a 000000000000 0000 0010 000a 0000"), out List<OfpAction> l3, out _));
        Assert.False(Of10Actions.TryDecode(l3, out _, out var e3));
        Assert.Equal(OfpError.BadAction(OfpBadActionCode.BadLen), e3);
    }

    [Fact]
    public void OpenFlow13_ReadsItsOwnNestedList_AResubmitInItToo_AndWritesItBack()
    {
        // clone(set_field:0x1005->vlan_vid (OFPVID_PRESENT|5), resubmit(,3)), as ovs-ofctl -O OpenFlow13 writes it.
        string nested = "0019 0010 80000c02 1005 000000000000" + "ffff 0010 00002320 000e fff8 03 000000";
        byte[] wire = Hex($"ffff 0030 00002320 002a 000000000000 {nested}");
        var list = new List<Ofp13Action>();
        Assert.True(Ofp13Actions.TryDecode(wire, list, out var error), error.ToString());
        Assert.True(Of13Actions.TryToOf(list.ToArray(), true, out var actions, out error), error.ToString());
        var clone = Assert.Single(actions);
        Assert.Equal(OfAction.CloneOf([OfAction.SetVlanVid(5), OfAction.Resubmit(3)]), clone);
        var back = new List<Ofp13Action>();
        Of13Actions.ToWire([clone], false, back);
        var w = new Ofp13Writer();
        Ofp13Actions.Encode(w, back.ToArray());
        Assert.Equal(Convert.ToHexString(wire), Convert.ToHexString(w.ToArray()));
        // A packet-out's list and a group bucket's take the nested resubmit, as at the top level.
        Assert.True(Of13Actions.TryPacketOutToOf(list.ToArray(), out _, out error), error.ToString());
        Assert.True(Of13Actions.TryToOf(list.ToArray(), out _, out error), error.ToString());
        Assert.True(Of13Actions.NotInActionSet([clone]));
    }

    [Fact]
    public void OpenFlow13_ABadNestedAction_IsRefusedAsAtTheTopLevel()
    {
        var list = new List<Ofp13Action>();
        Assert.True(Ofp13Actions.TryDecode(Hex("ffff 0020 00002320 002a 000000000000 ffff 0010 00002320 0099 000000000000"), list, out _));
        Assert.False(Of13Actions.TryToOf(list.ToArray(), true, out _, out var error));
        Assert.Equal(Ofp13Error.BadAction(Ofp13Codes.ActionBadExpType), error);
    }
}
