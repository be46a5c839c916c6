using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;

namespace Softswitch.Bench.Micro;

/// <summary>PacketParser.Parse on a 64-byte UDP frame, a VLAN-tagged TCP frame, IPv6 TCP (plain and behind hop-by-hop and
/// destination options headers) and a two-label MPLS frame; results are per packet.</summary>
[MemoryDiagnoser]
public class ParserBenchmarks
{
    private const int Batch = 32;
    private byte[] _udp64 = [];
    private byte[] _vlanTcp = [];
    private byte[] _ipv6Tcp = [];
    private byte[] _ipv6ExtTcp = [];
    private byte[] _mpls = [];
    private readonly FlowKey[] _keys = new FlowKey[Batch];
    private readonly PacketLayers[] _layers = new PacketLayers[Batch];

    [GlobalSetup]
    public void Setup()
    {
        _udp64 = BenchFrames.Udp64();
        _vlanTcp = BenchFrames.VlanTcp();
        _ipv6Tcp = BenchFrames.Ipv6Tcp(extHeaders: false);
        _ipv6ExtTcp = BenchFrames.Ipv6Tcp(extHeaders: true);
        _mpls = BenchFrames.Mpls();
    }

    private int ParseBatch(byte[] frame)
    {
        int errors = 0;
        for (int i = 0; i < Batch; i++) errors += (int)PacketParser.Parse(frame, 1, out _keys[i], out _layers[i]);
        return errors;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public int ParseIpv6Tcp() => ParseBatch(_ipv6Tcp);

    [Benchmark(OperationsPerInvoke = Batch)]
    public int ParseIpv6ExtHeadersTcp() => ParseBatch(_ipv6ExtTcp);

    [Benchmark(OperationsPerInvoke = Batch)]
    public int ParseMpls() => ParseBatch(_mpls);

    [Benchmark(OperationsPerInvoke = Batch)]
    public int ParseUdp64()
    {
        int errors = 0;
        for (int i = 0; i < Batch; i++) errors += (int)PacketParser.Parse(_udp64, 1, out _keys[i], out _layers[i]);
        return errors;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public int ParseVlanTcp()
    {
        int errors = 0;
        for (int i = 0; i < Batch; i++) errors += (int)PacketParser.Parse(_vlanTcp, 1, out _keys[i], out _layers[i]);
        return errors;
    }
}

/// <summary>Test frames for the micro benchmarks (checksums are valid).</summary>
internal static class BenchFrames
{
    /// <summary>A 64-byte frame (60 + FCS on the wire: here 64 bytes of data): Ethernet, IPv4, UDP, 22 bytes payload.</summary>
    public static byte[] Udp64() => Build(vlan: false, proto: 17, frameSize: 64);

    /// <summary>Ethernet + 802.1Q + IPv4 + TCP with 64 bytes of payload (122 bytes).</summary>
    public static byte[] VlanTcp() => Build(vlan: true, proto: 6, frameSize: 18 + 20 + 20 + 64);

    /// <summary>Ethernet + IPv6 + TCP with 64 bytes of payload; with <paramref name="extHeaders"/>, hop-by-hop and
    /// destination options headers (8 bytes each) before the TCP header.</summary>
    public static byte[] Ipv6Tcp(bool extHeaders)
    {
        int ext = extHeaders ? 16 : 0;
        var f = new byte[14 + 40 + ext + 20 + 64];
        new MacAddress(0x0200_0000_0002).Write(f);
        new MacAddress(0x0200_0000_0001).Write(f.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x86DD);
        var ip = f.AsSpan(14);
        BinaryPrimitives.WriteUInt32BigEndian(ip, 0x6000_0000 | 0x12345);
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)(f.Length - 54));
        ip[6] = extHeaders ? (byte)0 : (byte)6;
        ip[7] = 64;
        ip[8] = 0x20; ip[9] = 0x01; ip[23] = 1;
        ip[24] = 0x20; ip[25] = 0x01; ip[39] = 2;
        int l4 = 54;
        if (extHeaders)
        {
            f[54] = 60; f[56] = 1; f[57] = 4;    // hop-by-hop: next = destination options, PadN
            f[62] = 6; f[64] = 1; f[65] = 4;     // destination options: next = TCP, PadN
            l4 = 70;
        }
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(l4), 1234);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(l4 + 2), 80);
        f[l4 + 12] = 0x50;
        return f;
    }

    /// <summary>Ethernet + two MPLS labels + a 20-byte IPv4 header and 64 bytes (the payload is not parsed).</summary>
    public static byte[] Mpls()
    {
        var f = new byte[14 + 8 + 20 + 64];
        new MacAddress(0x0200_0000_0002).Write(f);
        new MacAddress(0x0200_0000_0001).Write(f.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x8847);
        BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(14), (1000u << 12) | 64);
        BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(18), (16u << 12) | 0x100 | 64);
        f[22] = 0x45;
        return f;
    }

    private static byte[] Build(bool vlan, byte proto, int frameSize)
    {
        var f = new byte[frameSize];
        new MacAddress(0x0200_0000_0002).Write(f);
        new MacAddress(0x0200_0000_0001).Write(f.AsSpan(6));
        int off = 12;
        if (vlan)
        {
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x8100);
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14), 0x2064);
            off = 16;
        }
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(off), 0x0800);
        int l3 = off + 2, l4 = l3 + 20;
        var ip = f.AsSpan(l3);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(frameSize - l3));
        ip[8] = 64;
        ip[9] = proto;
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], 0x0A000001);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], 0x0A000002);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Softswitch.Datapath.Packets.Checksum.Compute(ip[..20]));
        var seg = f.AsSpan(l4);
        BinaryPrimitives.WriteUInt16BigEndian(seg, 1234);
        BinaryPrimitives.WriteUInt16BigEndian(seg[2..], 80);
        for (int i = proto == 6 ? 20 : 8; i < seg.Length; i++) seg[i] = (byte)i;
        int csumAt = proto == 6 ? 16 : 6;
        if (proto == 6) seg[12] = 0x50;
        else BinaryPrimitives.WriteUInt16BigEndian(seg[4..], (ushort)seg.Length);
        ushort c = Softswitch.Datapath.Packets.Checksum.ComputeL4(0x0A000001, 0x0A000002, proto, seg);
        BinaryPrimitives.WriteUInt16BigEndian(seg[csumAt..], c == 0 && proto == 17 ? (ushort)0xFFFF : c);
        return f;
    }
}
