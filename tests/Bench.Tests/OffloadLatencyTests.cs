using Softswitch.Bench.Agent;
using Softswitch.Bench.Gen;
using Softswitch.Flows;
using Softswitch.Ofproto;
using Softswitch.Ports.AfXdp;

namespace Softswitch.Bench.Tests;

/// <summary>`bench offload-latency`: its percentiles, how it finds a switch's program, and that the keys it watches
/// are the ones the flow program builds from the generator's frames.</summary>
public sealed class OffloadLatencyTests
{
    private static readonly byte[] s_macA = [0x02, 0, 0, 0, 0, 0x0a], s_macB = [0x02, 0, 0, 0, 0, 0x0b];

    [Fact]
    public void PercentileIsTheNearestRank()
    {
        var v = Enumerable.Range(1, 100).Select(i => (double)((i * 37) % 100) + 1).ToList();   // 1..100, shuffled
        Assert.Equal(50, OffloadLatency.Percentile(v, 50));
        Assert.Equal(99, OffloadLatency.Percentile(v, 99));
        Assert.Equal(100, OffloadLatency.Percentile(v, 100));
        Assert.Equal(7, OffloadLatency.Percentile([7], 99));
        Assert.Equal(2, OffloadLatency.Percentile([3, 1, 2], 50));
    }

    [Fact]
    public void PercentileRefusesNoValuesAndOutOfRangeRanks()
    {
        Assert.Throws<ArgumentException>(() => OffloadLatency.Percentile([], 50));
        Assert.Throws<ArgumentOutOfRangeException>(() => OffloadLatency.Percentile([1], 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => OffloadLatency.Percentile([1], 101));
    }

    [Fact]
    public void ReadsTheXdpProgramIdFromIpLinkJson()
    {
        Assert.Equal(3627, SwitchFlowMaps.XdpProgramId(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Data", "ip-link-xdp.json"))));
        Assert.Null(SwitchFlowMaps.XdpProgramId(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Data", "ip-link-no-xdp.json"))));
        Assert.Equal(12, SwitchFlowMaps.XdpProgramId("""[{"ifname":"x","xdp":{"mode":4,"attached":[{"mode":1,"prog":{"id":12}}]}}]"""));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(999)]
    public void KeysAreWhatTheFlowProgramParsesFromTheGeneratorsFrames(int flow)
    {
        // The benchmark's exact flow for generator flow i (zeroloss.sh's exact_flows), and the generator's frame of it.
        uint a = 0x0a580001u + (uint)flow;
        string line = $"priority=100,in_port=1,dl_src=02:00:00:00:00:0a,dl_dst=02:00:00:00:00:0b,dl_vlan=0xffff,udp,nw_tos=0," +
                      $"nw_src={a >> 24}.{(a >> 16) & 255}.{(a >> 8) & 255}.{a & 255},nw_dst=10.88.0.2,tp_src={1024 + flow},tp_dst=9,actions=output:2";
        Assert.True(OfctlFlowParser.TryParse(line, FlowModCommand.Add, out var mod, out string error), error);
        byte[] key = OffloadLatency.Keys([mod], ifindex: 7)[0];

        var frames = new GenFrames(64, 1000, s_macB, s_macA, GenFrames.ParseIp("10.88.0.1"), GenFrames.ParseIp("10.88.0.2"));
        byte[] frame = frames.Template.ToArray();
        frames.Patch(frame, flow);
        Assert.Equal(7, BitConverter.ToInt32(key, 0));                 // ingress ifindex
        Assert.Equal([0, 0], key[4..6]);                               // untagged
        Assert.Equal(frame[12..14], key[6..8]);                        // ethertype
        Assert.Equal(frame[0..6], key[8..14]);                         // destination MAC
        Assert.Equal(frame[6..12], key[14..20]);                       // source MAC
        Assert.Equal(frame[23], key[20]);                              // protocol
        Assert.Equal(frame[15] & 0xfc, key[21]);                       // DSCP
        Assert.Equal(frame[34..38], key[24..28]);                      // UDP ports
        Assert.Equal(frame[26..30], key[28..32]);                      // IPv4 source
        Assert.Equal(frame[30..34], key[32..36]);                      // IPv4 destination
        Assert.Equal([0, 0], key[22..24]);                             // padding
        Assert.Equal(XdpFlowProgram.KeySize, key.Length);
    }

    [Fact]
    public void KeysRefuseAFlowTheMapCannotHoldByAnExactKey()
    {
        Assert.True(OfctlFlowParser.TryParse("priority=100,in_port=1,actions=output:2", FlowModCommand.Add, out var mod, out string error), error);
        Assert.Throws<FormatException>(() => OffloadLatency.Keys([mod], ifindex: 7));
    }

    [Fact]
    public void ResultReportsMedianAndP99PerStageAndNoneForAStageWithoutSamples()
    {
        var r = new OffloadLatency.Result { Samples = 4, KernelTimeouts = 4 };
        r.Map.AddRange([100, 200, 300, 4000]);
        r.Barrier.AddRange([110, 210, 310, 4100]);
        var j = r.ToJson();
        var map = Assert.IsType<Dictionary<string, double>>(j["flow_mod_to_map_us"]);
        Assert.Equal(200, map["median"]);
        Assert.Equal(4000, map["p99"]);
        Assert.Equal(4, map["n"]);
        Assert.Null(j["flow_mod_to_kernel_us"]);
        Assert.Equal(4, j["kernel_timeouts"]);
        Assert.Contains("to the map median 200 us, p99 4000 us", r.Summary(), StringComparison.Ordinal);
    }
}
