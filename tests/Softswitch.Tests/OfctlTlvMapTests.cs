using Softswitch.Datapath;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.OfAgent;
using Softswitch.Ofproto;
using Softswitch.TestKit;

namespace Softswitch.Tests;

/// <summary>
/// Open vSwitch's TLV table with the real ovs-ofctl, as ovs-save saves and restores it: dump-tlv-map shows an empty map
/// of no capacity (no tun_metadata here), add-tlv-map of nothing (what the restore sends for an empty map) and
/// del-tlv-map succeed, and a map of an option is refused with NXTTMFC_TABLE_FULL.
/// </summary>
public sealed class OfctlTlvMapTests
{
    private static (int Code, string Out) Ofctl(string version, int port, string command, params string[] args)
    {
        var (code, stdout, stderr) = ExternalTool.Run("ovs-ofctl", ["-O", version, command, $"tcp:127.0.0.1:{port}", .. args]);
        return (code, stdout + stderr);
    }

    [ToolTheory]
    [RequiresTool("ovs-ofctl")]
    [InlineData("OpenFlow13")]
    [InlineData("OpenFlow14")]
    [InlineData("OpenFlow15")]
    public async Task TlvMap_IsEmpty_AnEmptyAddSucceeds_AMappedOptionIsTableFull(string version)
    {
        using var dp = new SwitchDatapath(new DatapathOptions { PacketInRate = 0 });
        dp.AddPort(new MemoryPort("p1", new MacAddress(0x0200_0000_0001)));
        var agent = new OfSwitchAgent(new OfSwitch(dp, new OfSwitchOptions { DatapathId = 1 }),
                                      new AgentOptions { Listeners = { "ptcp:0" }, Versions = AgentOptions.AllVersions });
        try
        {
            agent.Start();
            int port = agent.ListenEndpoints[0].Port;
            var (code, text) = Ofctl(version, port, "dump-tlv-map");
            Assert.True(code == 0, text);
            Assert.Contains("max option space=0 max fields=0", text, StringComparison.Ordinal);
            Assert.Contains("allocated option space=0", text, StringComparison.Ordinal);
            Assert.DoesNotMatch("(?m)^ +0x", text);   // no mapping line (what ovs-save's awk would save)

            (code, text) = Ofctl(version, port, "add-tlv-map", "");
            Assert.True(code == 0, text);
            (code, text) = Ofctl(version, port, "del-tlv-map");
            Assert.True(code == 0, text);

            (code, text) = Ofctl(version, port, "add-tlv-map", "{class=0xffff,type=0,len=4}->tun_metadata0");
            Assert.NotEqual(0, code);
            Assert.Contains("NXTTMFC_TABLE_FULL", text, StringComparison.Ordinal);
            // The connection goes on: the map is still empty.
            (code, text) = Ofctl(version, port, "dump-tlv-map");
            Assert.True(code == 0, text);
            Assert.Contains("allocated option space=0", text, StringComparison.Ordinal);
        }
        finally
        {
            await agent.DisposeAsync();
        }
    }
}
