using Softswitch.Control;
using Softswitch.Datapath;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.Logging;
using Softswitch.OfAgent;
using Softswitch.Ofproto;

namespace Softswitch.Tests;

/// <summary>--queues and the queue commands: the syntax, its errors naming what is wrong, and what the datapath gets.</summary>
public sealed class QosConfigTests : IDisposable
{
    private readonly SwitchDatapath _dp = new(new DatapathOptions { PacketInRate = 0 }, new ManualClock());
    private readonly QosConfig _qos;
    private readonly ControlCommands _commands = new(Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);

    public QosConfigTests()
    {
        _dp.AddPort(new MemoryPort("eth1", new MacAddress(0x0200_0000_0001UL)));
        _dp.AddPort(new MemoryPort("eth2", new MacAddress(0x0200_0000_0002UL)));
        _qos = new QosConfig(_dp);
        var agent = new OfSwitchAgent(new OfSwitch(_dp, new OfSwitchOptions { DatapathId = 1 }), new AgentOptions());
        HostCommands.Register(_commands, new HostCommands.Context(_dp, agent, new Vlog(console: new StringWriter()), () => { }) { Qos = _qos });
    }

    public void Dispose() => _dp.Dispose();

    private ControlReply Run(string line) => _commands.Execute(System.Text.Encoding.UTF8.GetBytes(line + "\n"));

    [Fact]
    public void ASpecShapesItsPortsAndItsErrorsSayWhatIsWrong()
    {
        Assert.True(_qos.TryApply("eth1 max-rate=100M; eth1:0 max-rate=30M; 1:1 min-rate=1.5M,max-rate=70m", out var error), error);
        var shaper = _dp.ShaperOf(1)!;
        Assert.Equal(100_000_000, shaper.MaxRate);
        Assert.Equal(30_000_000, shaper.Queues[0]!.MaxRate);
        Assert.Equal((1_500_000, 70_000_000), (shaper.Queues[1]!.MinRate, shaper.Queues[1]!.MaxRate));
        Assert.Null(_dp.ShaperOf(2));

        Assert.False(_qos.TryApply("eth9 max-rate=1M", out error));
        Assert.Equal("'eth9 max-rate=1M': no port 'eth9' (ports: 1 (eth1), 2 (eth2))", error);
        Assert.False(_qos.TryApply("eth1:0 max-rate=fast", out error));
        Assert.Contains("max-rate 'fast' is not a rate", error);
        Assert.False(_qos.TryApply("eth1:0 rate=1M", out error));
        Assert.Contains("unknown setting 'rate'", error);
        Assert.False(_qos.TryApply("eth1:8 max-rate=1M", out error));
        Assert.Contains("queue '8' is not 0 to 7", error);
        Assert.False(_qos.TryApply("eth1:2 min-rate=2M,max-rate=1M", out error));
        Assert.Contains("min-rate is above max-rate", error);
        Assert.False(_qos.TryApply("eth1 min-rate=1M", out error));
        Assert.Contains("a port has a max-rate only", error);
    }

    [Fact]
    public void TheCommandsAddDeleteAndShow()
    {
        Assert.Equal("no port is shaped\n", Run("queue/show").Text);
        var r = Run("queue/add eth2 3 min-rate=10M,max-rate=20M");
        Assert.True(r.Ok, r.Text);
        Assert.Contains("port 2 (eth2): max-rate=none", r.Text);
        Assert.Contains("queue 0 (default): min-rate=none max-rate=none", r.Text);
        Assert.Contains("queue 3: min-rate=10M max-rate=20M backlog=0 tx_packets=0", r.Text);
        Assert.Contains("port 2 (eth2): max-rate=50M", Run("qos/set 2 max-rate=50M").Text);
        Assert.DoesNotContain("queue 3", Run("queue/del eth2 3").Text);
        Assert.False(Run("queue/del eth2 3").Ok);
        Assert.Equal("no port is shaped\n", Run("qos/set eth2 max-rate=0").Text);
        Assert.Null(_dp.ShaperOf(2));
    }
}
