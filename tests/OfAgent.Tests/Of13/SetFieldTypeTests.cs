using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Ports;
using Softswitch.OfAgent.Of13.Translate;
using Softswitch.OfWire.Of13;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Tests.Of13;

/// <summary>
/// set_field on eth_type and ip_proto from the wire to the datapath's action and back to the same bytes (OpenFlow 1.3
/// sets every field whose prerequisites hold).
/// </summary>
public sealed class SetFieldTypeTests
{
    public static TheoryData<string, ActionKind, ulong> Cases => new()
    {
        // ofp_action_set_field: type 25, length 16, OXM eth_type (field 5, 2 bytes) 0x86dd, 6 bytes of pad.
        { "0019 0010 80000a02 86dd 000000000000", ActionKind.SetEthType, 0x86DD },
        // OXM ip_proto (field 10, 1 byte) 17, 7 bytes of pad.
        { "0019 0010 80001401 11 00000000000000", ActionKind.SetIpProto, 17 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void DecodedTranslatedCompiledAndWrittenBack(string hex, ActionKind kind, ulong value)
    {
        byte[] wire = Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));
        var decoded = new List<Ofp13Action>();
        Assert.True(Ofp13Actions.TryDecode(wire, decoded, out _));
        Assert.True(ActionTranslator.TryToOf([.. decoded], out var model, out var error), error.ToString());

        Assert.Equal(OfError.None, OfActionCompiler.TryCompile(model, new PortTable([], null), ActionContext.FlowMod, 8, out var compiled));
        var item = Assert.Single(compiled.Items);
        Assert.Equal(kind, item.Kind);
        Assert.Equal(value, item.Value);

        var back = new List<Ofp13Action>();
        ActionTranslator.ToWire([OfActionCompiler.ToOfAction(item)], false, back);
        var w = new Ofp13Writer();
        Ofp13Actions.Encode(w, [.. back]);
        Assert.Equal(Convert.ToHexString(wire), Convert.ToHexString(w.Written));
    }
}
