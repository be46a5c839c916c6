using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Tunnels;

namespace Softswitch.Bench.Micro;

/// <summary>
/// Tunnel encapsulation and decapsulation per packet, 32 packets per invocation.
/// Encap*: <see cref="TunnelHeader.Encapsulate"/> of a 64-byte UDP frame (template copy, frame copy, length and
/// checksum patch, VXLAN source-port hash). Decap*: the encapsulated frame is written into a buffer (as a port's
/// receive would; <see cref="ReceiveCopyOnly"/> is that copy alone) and <see cref="UnderlayBinding.Classify"/>
/// validates and strips it. <see cref="ClassifyOrdinary"/>: the cost an underlay adds to non-tunnel traffic.
/// Geneve: as VXLAN, and with csum=true (the outer UDP checksum summed per packet); decapsulated without options and
/// with two options of 8 bytes each (the option walk).
/// </summary>
[MemoryDiagnoser]
public class TunnelBenchmarks
{
    private const int Batch = 32;

    private PacketPool _pool = null!;
    private int[] _bufs = [];
    private byte[] _inner = [], _innerMax = [];
    private TunnelHeader _vxlan = null!, _gre = null!, _ipip = null!, _geneve = null!, _geneveCsum = null!;
    private byte[] _vxlanWire = [], _greWire = [], _ipipWire = [], _geneveWire = [], _geneveOptionsWire = [];
    private UnderlayBinding _rxVxlan = null!, _rxGre = null!, _rxIpip = null!, _rxGeneve = null!;

    [GlobalSetup]
    public void Setup()
    {
        _pool = new PacketPool(Batch + 1);
        _bufs = new int[Batch];
        for (int i = 0; i < Batch; i++) _bufs[i] = _pool.Alloc();
        var a = new MacAddress(0x0000_0000_0001);
        var b = new MacAddress(0x0000_0000_0002);
        _inner = FrameBuilder.Udp(a, b, 0xC0A8_0101, 0xC0A8_0102, 1000, 2000, 64);
        _innerMax = FrameBuilder.Udp(a, b, 0xC0A8_0101, 0xC0A8_0102, 1000, 2000, 1464); // the largest that fits a 1500-byte underlay
        var ul = new MemoryPort("u", new MacAddress(0x0200_0000_0001));
        const uint ipA = 0x0A00_0001, ipB = 0x0A00_0002;   // 10.0.0.1, 10.0.0.2
        var common = new TunnelConfig { Name = "vx", LocalIp = ipA, RemoteIp = ipB, RemoteMac = new MacAddress(0x0200_0000_0002) };
        _vxlan = new TunnelPort(common with { Kind = TunnelKind.Vxlan, Key = 100, HasKey = true }, ul).Header;
        _gre = new TunnelPort(common with { Name = "gre", Kind = TunnelKind.Gre, Key = 5, HasKey = true }, ul).Header;
        _ipip = new TunnelPort(common with { Name = "ip", Kind = TunnelKind.Ipip }, ul).Header;
        _geneve = new TunnelPort(common with { Name = "ge", Kind = TunnelKind.Geneve, Key = 100, HasKey = true }, ul).Header;
        _geneveCsum = new TunnelPort(common with { Name = "gc", Kind = TunnelKind.Geneve, Key = 100, HasKey = true, UdpChecksum = true }, ul).Header;
        _vxlanWire = Wire(_vxlan);
        _geneveWire = Wire(_geneve);
        _geneveOptionsWire = WithOptions(_geneveWire, [0x01, 0x02, 0x03, 0x01, 1, 2, 3, 4, 0x01, 0x02, 0x04, 0x01, 5, 6, 7, 8]);
        _greWire = Wire(_gre);
        _ipipWire = Wire(_ipip);
        var rxUl = new MemoryPort("u", new MacAddress(0x0200_0000_0002));
        var back = new TunnelConfig { Name = "vx", LocalIp = ipB, RemoteIp = ipA };
        var drops = new TunnelDropCounters();
        _rxVxlan = new UnderlayBinding(null, [new TunnelPort(back with { Kind = TunnelKind.Vxlan, Key = 100, HasKey = true }, rxUl)], drops);
        _rxGre = new UnderlayBinding(null, [new TunnelPort(back with { Name = "gre", Kind = TunnelKind.Gre, Key = 5, HasKey = true }, rxUl)], drops);
        _rxIpip = new UnderlayBinding(null, [new TunnelPort(back with { Name = "ip", Kind = TunnelKind.Ipip }, rxUl)], drops);
        _rxGeneve = new UnderlayBinding(null, [new TunnelPort(back with { Name = "ge", Kind = TunnelKind.Geneve, Key = 100, HasKey = true }, rxUl)], drops);
    }

    /// <summary>A Geneve frame with <paramref name="options"/> (whole 4-byte words) after its base header, lengths and
    /// the outer IPv4 checksum fixed.</summary>
    private static byte[] WithOptions(byte[] wire, byte[] options)
    {
        byte[] f = [.. wire.AsSpan(0, 50), .. options, .. wire.AsSpan(50)];
        f[42] = (byte)(options.Length / 4);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(16), (ushort)(f.Length - 14));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(38), (ushort)(f.Length - 34));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(24), 0);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(24), Checksum.Compute(f.AsSpan(14, 20)));
        return f;
    }

    private byte[] Wire(TunnelHeader h)
    {
        int p = _bufs[0];
        h.Encapsulate(_inner, _pool, p, 100);
        return _pool.Frame(p).ToArray();
    }

    private int Encap(TunnelHeader h, byte[] inner)
    {
        int ok = 0;
        var pool = _pool;
        foreach (int p in _bufs) ok += h.Encapsulate(inner, pool, p, 100) == EncapStatus.Ok ? 1 : 0;
        return ok;
    }

    [Benchmark(OperationsPerInvoke = Batch)] public int EncapVxlan() => Encap(_vxlan, _inner);
    [Benchmark(OperationsPerInvoke = Batch)] public int EncapGre() => Encap(_gre, _inner);
    [Benchmark(OperationsPerInvoke = Batch)] public int EncapIpip() => Encap(_ipip, _inner);
    [Benchmark(OperationsPerInvoke = Batch)] public int EncapVxlanMaxFrame() => Encap(_vxlan, _innerMax);
    [Benchmark(OperationsPerInvoke = Batch)] public int EncapGeneve() => Encap(_geneve, _inner);
    [Benchmark(OperationsPerInvoke = Batch)] public int EncapGeneveCsum() => Encap(_geneveCsum, _inner);
    [Benchmark(OperationsPerInvoke = Batch)] public int EncapGeneveCsumMaxFrame() => Encap(_geneveCsum, _innerMax);

    private int Decap(UnderlayBinding b, byte[] wire)
    {
        int ok = 0;
        var pool = _pool;
        foreach (int p in _bufs)
        {
            pool.Head[p] = PacketPool.Headroom;
            pool.Write(p, wire);
            ok += b.Classify(pool, p, out _, out _) == RxVerdict.Decapsulated ? 1 : 0;
        }
        return ok;
    }

    [Benchmark(OperationsPerInvoke = Batch)] public int DecapVxlan() => Decap(_rxVxlan, _vxlanWire);
    [Benchmark(OperationsPerInvoke = Batch)] public int DecapGre() => Decap(_rxGre, _greWire);
    [Benchmark(OperationsPerInvoke = Batch)] public int DecapIpip() => Decap(_rxIpip, _ipipWire);
    [Benchmark(OperationsPerInvoke = Batch)] public int DecapGeneve() => Decap(_rxGeneve, _geneveWire);
    [Benchmark(OperationsPerInvoke = Batch)] public int DecapGeneveOptions() => Decap(_rxGeneve, _geneveOptionsWire);

    /// <summary>The receive copy the Decap benchmarks include, alone.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public int ReceiveCopyOnly()
    {
        var pool = _pool;
        foreach (int p in _bufs)
        {
            pool.Head[p] = PacketPool.Headroom;
            pool.Write(p, _vxlanWire);
        }
        return pool.Length[_bufs[0]];
    }

    /// <summary>Ordinary traffic on an underlay port: the checks it pays before continuing into the pipeline.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public int ClassifyOrdinary()
    {
        int pass = 0;
        var pool = _pool;
        int p = _bufs[0];
        pool.Head[p] = PacketPool.Headroom;
        pool.Write(p, _inner);
        for (int i = 0; i < Batch; i++) pass += _rxVxlan.Classify(pool, p, out _, out _) == RxVerdict.Pass ? 1 : 0;
        return pass;
    }
}
