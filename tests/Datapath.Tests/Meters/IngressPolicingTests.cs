using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Packets;

namespace Softswitch.Datapath.Tests;

/// <summary>
/// A port's ingress policing (Open vSwitch's Interface ingress_policing_rate and ingress_policing_burst): what the port
/// receives beyond its burst is dropped before it is parsed and counted drop-ingress-policing; the bucket refills at
/// the rate; a rate of 0 stops policing.
/// </summary>
public sealed class IngressPolicingTests : IDisposable
{
    private readonly ManualClock _clock = new();
    private readonly SwitchDatapath _dp;
    private readonly MemoryPort _in = new("pin", new MacAddress(0x02_00_00_00_00_01UL));
    private readonly MemoryPort _out = new("pout", new MacAddress(0x02_00_00_00_00_02UL)) { CaptureSent = true };

    public IngressPolicingTests()
    {
        _dp = new SwitchDatapath(new DatapathOptions(), _clock);
        _dp.AddPort(_in, 1);
        _dp.AddPort(_out, 2);
        _dp.MissBehavior = MissBehavior.Normal;
    }

    public void Dispose() => _dp.Dispose();

    private int Send(int frames)
    {
        var frame = FrameBuilder.Udp(new MacAddress(0x02_00_00_00_00_0aUL), new MacAddress(0x02_00_00_00_00_0bUL), 0x0a000001, 0x0a000002, 1, 2, frameSize: 1000);
        for (int i = 0; i < frames; i++)
        {
            _in.Inject(frame);
            _dp.PollUntilIdle();
        }
        return _out.TakeSent().Count;
    }

    [Fact]
    public void APolicedPort_PassesItsBurst_DropsTheRest_AndRefillsAtItsRate()
    {
        Assert.Equal(10, Send(10));   // not policed
        Assert.True(_dp.SetPolicing(1, rateKbps: 1000, burstKb: 100));
        // 100 kbit is 12,500 bytes: 12 frames of 1,000 B pass (13 when a frame starts a new bucket at the edge of a
        // refill), the rest are dropped.
        int passed = Send(40);
        Assert.InRange(passed, 12, 13);
        Assert.Equal(40 - passed, _dp.DropCount(DropReason.IngressPolicing));

        // 100 ms at 1,000 kbit/s is 100 kbit more.
        _clock.Advance(TimeSpan.FromMilliseconds(100));
        Assert.InRange(Send(40), 11, 13);

        Assert.True(_dp.SetPolicing(1, 0, 0));
        Assert.Equal(40, Send(40));
        Assert.False(_dp.SetPolicing(9, 1000, 0));   // no such port
    }
}
