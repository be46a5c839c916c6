using BenchmarkDotNet.Attributes;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;

namespace Softswitch.Bench.Micro;

/// <summary>
/// Each action over a 32-packet batch of 64-byte UDP frames through <see cref="ActionExecutor"/>, reported per
/// packet. Every invocation runs the action twice with two different values (so each run really rewrites and
/// the checksum update is not skipped as a no-op): OperationsPerInvoke = 64 packet-actions.
/// </summary>
[MemoryDiagnoser]
public class ActionBenchmarks
{
    private const int Batch = 32;
    private const int Ops = 2 * Batch;

    private PacketPool _pool = null!;
    private int[] _pkts = [];
    private PacketLayers[] _layers = [];
    private readonly ActionExecutor _exec = new();
    private NullSink _sink;
    private FlowActions _dlSrc = null!, _dlDst = null!, _nwSrc = null!, _nwDst = null!, _nwTos = null!, _tpSrc = null!, _tpDst = null!;
    private FlowActions _vlanSet = null!, _vlanPcp = null!, _pushStrip = null!, _output = null!, _rewriteAndOutput = null!;
    private FlowActions _ipv6Src = null!, _pushPopVlan = null!, _pushPopMpls = null!, _decTtl = null!;

    private struct NullSink : IActionSink
    {
        public long Packets;
        public ulong Tunnel;
        public void Output(ushort port, ushort maxLen, uint queueId, bool modifiedAfter, ReadOnlySpan<int> pkts) => Packets += pkts.Length;
        public void SetTunnel(ulong tunnelId) => Tunnel = tunnelId;
        public void InvalidTtl(ReadOnlySpan<int> pkts, ushort controllerId) => Packets += pkts.Length;
        public void ToController(ushort maxLen, uint queueId, bool modifiedAfter, ulong userData, uint userTag, ReadOnlySpan<int> pkts) => Packets += pkts.Length;
    }

    [GlobalSetup]
    public void Setup()
    {
        _pool = new PacketPool(Batch + 1);
        _pkts = new int[Batch];
        _layers = new PacketLayers[Batch];
        byte[] frame = BenchFrames.Udp64();
        for (int i = 0; i < Batch; i++)
        {
            _pkts[i] = _pool.Alloc();
            _pool.Write(_pkts[i], frame);
            PacketParser.Parse(frame, 1, out _, out _layers[i]);
        }
        static FlowActions Two(FlowAction a, FlowAction b) => new([a, b]);
        _dlSrc = Two(FlowAction.SetDlSrc(new MacAddress(0x0200_0000_00AA)), FlowAction.SetDlSrc(new MacAddress(0x0200_0000_00BB)));
        _dlDst = Two(FlowAction.SetDlDst(new MacAddress(0x0200_0000_00AA)), FlowAction.SetDlDst(new MacAddress(0x0200_0000_00BB)));
        _nwSrc = Two(FlowAction.SetNwSrc(0xC0A80001), FlowAction.SetNwSrc(0xC0A80002));
        _nwDst = Two(FlowAction.SetNwDst(0xC0A80001), FlowAction.SetNwDst(0xC0A80002));
        _nwTos = Two(FlowAction.SetNwTos(0xB8), FlowAction.SetNwTos(0x28));
        _tpSrc = Two(FlowAction.SetTpSrc(1000), FlowAction.SetTpSrc(2000));
        _tpDst = Two(FlowAction.SetTpDst(1000), FlowAction.SetTpDst(2000));
        _output = Two(FlowAction.Output(1), FlowAction.Output(2));
        _pushStrip = Two(FlowAction.SetVlanVid(100), FlowAction.StripVlan());
        _vlanSet = Two(FlowAction.SetVlanVid(100), FlowAction.SetVlanVid(200));
        _vlanPcp = Two(FlowAction.SetVlanPcp(3), FlowAction.SetVlanPcp(5));
        _ipv6Src = Two(FlowAction.SetIpv6Src(new UInt128(0x20010DB8_00000000, 0xAA)), FlowAction.SetIpv6Src(new UInt128(0x20010DB8_00000000, 0xBB)));
        _pushPopVlan = Two(FlowAction.PushVlan(0x88A8), FlowAction.PopVlan());
        _pushPopMpls = Two(FlowAction.PushMpls(0x8847), FlowAction.PopMpls(0x0800));
        _decTtl = Two(FlowAction.SetNwTtl(64), FlowAction.DecNwTtl());
        _rewriteAndOutput = new FlowActions([FlowAction.SetNwSrc(0xC0A80001), FlowAction.SetTpDst(53), FlowAction.Output(1),
                                             FlowAction.SetNwSrc(0x0A000001), FlowAction.SetTpDst(80), FlowAction.Output(2)]);
    }

    /// <summary>The tagged-frame benchmarks start from frames tagged once here.</summary>
    [GlobalSetup(Targets = [nameof(SetVlanVidTagged), nameof(SetVlanPcpTagged)])]
    public void SetupTagged()
    {
        Setup();
        Run(new FlowActions([FlowAction.SetVlanVid(1)]));
    }

    /// <summary>The IPv6 benchmark runs on 64-byte IPv6/UDP frames (layers as the parser reports them).</summary>
    [GlobalSetup(Target = nameof(SetIpv6Src))]
    public void SetupIpv6()
    {
        Setup();
        var f = new byte[14 + 40 + 10];
        new MacAddress(0x0200_0000_0002).Write(f);
        new MacAddress(0x0200_0000_0001).Write(f.AsSpan(6));
        f[12] = 0x86; f[13] = 0xDD; f[14] = 0x60; f[19] = 10; f[20] = 17; f[21] = 64;
        f[22] = 0x20; f[23] = 0x01; f[37] = 1; f[38] = 0x20; f[39] = 0x01; f[53] = 2;
        f[54] = 0x04; f[55] = 0xD2; f[56] = 0x04; f[57] = 0xD3; f[59] = 10; f[60] = 0x12; f[61] = 0x34;
        var layers = new PacketLayers { Vlan = PacketLayers.Absent, Pbb = PacketLayers.Absent, EthType = 12, Mpls = PacketLayers.Absent, L3 = 14, L4 = 54, Flags = LayerFlags.Ipv6 | LayerFlags.Udp };
        for (int i = 0; i < Batch; i++)
        {
            _pool.Write(_pkts[i], f);
            _layers[i] = layers;
        }
    }

    private void Run(FlowActions a) => _exec.Execute(a, _pool, _pkts, _layers, ref _sink);

    [Benchmark(OperationsPerInvoke = Ops)] public void SetDlSrc() => Run(_dlSrc);
    [Benchmark(OperationsPerInvoke = Ops)] public void SetDlDst() => Run(_dlDst);
    [Benchmark(OperationsPerInvoke = Ops)] public void SetNwSrc() => Run(_nwSrc);
    [Benchmark(OperationsPerInvoke = Ops)] public void SetNwDst() => Run(_nwDst);
    [Benchmark(OperationsPerInvoke = Ops)] public void SetNwTos() => Run(_nwTos);
    [Benchmark(OperationsPerInvoke = Ops)] public void SetTpSrc() => Run(_tpSrc);
    [Benchmark(OperationsPerInvoke = Ops)] public void SetTpDst() => Run(_tpDst);
    /// <summary>Push a tag on untagged frames, then strip it: two length-changing actions.</summary>
    [Benchmark(OperationsPerInvoke = Ops)] public void PushVlanThenStrip() => Run(_pushStrip);

    /// <summary>SetVlanVid/SetVlanPcp on tagged frames: set in place, no push.</summary>
    [Benchmark(OperationsPerInvoke = Ops)] public void SetVlanVidTagged() => Run(_vlanSet);
    [Benchmark(OperationsPerInvoke = Ops)] public void SetVlanPcpTagged() => Run(_vlanPcp);

    /// <summary>set_field ipv6_src on IPv6/UDP: 16 bytes written, the UDP checksum fixed over the pseudo-header.</summary>
    [Benchmark(OperationsPerInvoke = Ops)] public void SetIpv6Src() => Run(_ipv6Src);
    /// <summary>push_vlan (0x88a8) then pop_vlan: two length changes with offsets kept.</summary>
    [Benchmark(OperationsPerInvoke = Ops)] public void PushPopVlan() => Run(_pushPopVlan);
    /// <summary>push_mpls then pop_mpls: two length changes, the TTL copied from IPv4.</summary>
    [Benchmark(OperationsPerInvoke = Ops)] public void PushPopMpls() => Run(_pushPopMpls);
    /// <summary>mod_nw_ttl then dec_ttl: two IPv4 header checksum updates (and the expiry check).</summary>
    [Benchmark(OperationsPerInvoke = Ops)] public void SetAndDecTtl() => Run(_decTtl);

    /// <summary>Two outputs: the sink call per batch (no per-packet work).</summary>
    [Benchmark(OperationsPerInvoke = Ops)] public void Output() => Run(_output);

    /// <summary>A realistic NAT-ish list: two rewrites and an output, twice (6 actions, per packet).</summary>
    [Benchmark(OperationsPerInvoke = Batch)] public void RewriteAndOutput() => Run(_rewriteAndOutput);
}
