using Microsoft.Extensions.Logging.Abstractions;
using Softswitch.Control;
using Softswitch.Datapath;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Offload;
using Softswitch.OfAgent;
using Softswitch.Offload;
using Softswitch.Ofproto;

namespace Softswitch.Tests.Offload;

/// <summary>
/// Any <see cref="IOffloadTarget"/> attaches through the host's one path, and the host prints what the target says:
/// its description, and its own refusal reasons by name and in its words.
/// </summary>
public sealed class GenericOffloadTargetTests : IDisposable
{
    private static readonly OffloadReason s_vetoed = OffloadReason.Define("test-target-vetoed",
        "the test target keeps flows to port 3 for itself");

    private readonly ManualClock _clock = new();
    private readonly SwitchDatapath _dp;
    private readonly OfFlowTables _flows;
    private readonly IOffloadAttachment _offload;
    private readonly ControlCommands _commands = new();

    public GenericOffloadTargetTests()
    {
        _dp = new SwitchDatapath(new DatapathOptions { EmcEntries = 1024, PacketInRate = 0 }, _clock);
        for (ushort p = 1; p <= 4; p++) _dp.AddPort(new MemoryPort($"gt{p}", new MacAddress(0x0200_0000_0000UL + p)), p);
        var target = new DummyOffloadTarget([1, 2, 3, 4], OffloadLookupModel.Priority)
        {
            Reasons = [s_vetoed],
            Refuse = e => e.Actions.Items.Length > 0 && e.Actions.Items[0].Port == 3
                ? OffloadResult.Refused(s_vetoed, "port 3 is the target's own")
                : null,
        };
        _offload = OffloadSetup.AttachTarget(_dp, target, NullLogger.Instance);
        var agent = new OfSwitchAgent(new OfSwitch(_dp, new OfSwitchOptions { DatapathId = 0x42 }), new AgentOptions());
        _flows = agent.Switch.Flows;
        DaemonCommands.Register(_commands, _dp, agent, _offload.Manager, _offload.Describe);
    }

    public void Dispose()
    {
        _offload.Dispose();
        _dp.Dispose();
    }

    private ControlReply Run(string line) => _commands.Execute(System.Text.Encoding.UTF8.GetBytes(line + "\n"));

    private void Add(ushort inPort, ushort outPort)
    {
        var m = FlowMatch.FromOpenFlow((OfWildcards.All & ~OfWildcards.InPort) | OfWildcards.TunIdExt, new FlowKeyBuilder().InPort(inPort).Key);
        Assert.Equal(FlowModStatus.Ok, _flows.Apply(new FlowMod(FlowModCommand.Add, m, 10, new FlowActions([FlowAction.Output(outPort)])), null));
    }

    [Fact]
    public void ATargetsOwnRefusalReason_ReachesTheHostsReport_InItsOwnWords()
    {
        Add(1, 2);
        Add(2, 3);
        var show = Run("offload/show");
        Assert.True(show.Ok, show.Text);
        Assert.StartsWith("offload target: dummy\n", show.Text);
        Assert.Contains("hardware flows: 1 (1 rows)\n", show.Text);
        Assert.Contains("  test-target-vetoed: 1 (the test target keeps flows to port 3 for itself)\n", show.Text);
        Assert.Contains("target: dummy target (Priority), ports 1,2,3,4, 64 rows per table\n", show.Text);

        var sw = Run("offload/dump-flows sw");
        Assert.True(sw.Ok, sw.Text);
        Assert.Contains("placement=sw(reason=test-target-vetoed,detail=\"port 3 is the target's own\")", sw.Text);
        Assert.Contains("in_port=2", sw.Text);
        // The counter registry has it too, under the target's name.
        Assert.Equal(1, _dp.Counters.Read(s_vetoed.Counter));
    }
}
