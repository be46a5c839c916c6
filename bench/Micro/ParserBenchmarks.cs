using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;

namespace Softswitch.Bench.Micro;

/// <summary>PacketParser.Parse on a 64-byte UDP frame and on a VLAN-tagged TCP frame; results are per packet.</summary>
[MemoryDiagnoser]
public class ParserBenchmarks
{
    private const int Batch = 32;
    private byte[] _udp64 = [];
    private byte[] _vlanTcp = [];
    private readonly FlowKey[] _keys = new FlowKey[Batch];
    private readonly PacketLayers[] _layers = new PacketLayers[Batch];

    [GlobalSetup]
    public void Setup()
    {
        _udp64 = BenchFrames.Udp64();
        _vlanTcp = BenchFrames.VlanTcp();
    }

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
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Softswitch.Datapath.Actions.Checksum.Compute(ip[..20]));
        var seg = f.AsSpan(l4);
        BinaryPrimitives.WriteUInt16BigEndian(seg, 1234);
        BinaryPrimitives.WriteUInt16BigEndian(seg[2..], 80);
        for (int i = proto == 6 ? 20 : 8; i < seg.Length; i++) seg[i] = (byte)i;
        int csumAt = proto == 6 ? 16 : 6;
        if (proto == 6) seg[12] = 0x50;
        else BinaryPrimitives.WriteUInt16BigEndian(seg[4..], (ushort)seg.Length);
        ushort c = Softswitch.Datapath.Actions.Checksum.ComputeL4(0x0A000001, 0x0A000002, proto, seg);
        BinaryPrimitives.WriteUInt16BigEndian(seg[csumAt..], c == 0 && proto == 17 ? (ushort)0xFFFF : c);
        return f;
    }
}
