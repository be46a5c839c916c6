using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Softswitch.TestKit;

namespace Softswitch.E2E.Tests;

/// <summary>
/// `--sflow`: the daemon forwards N frames from port 1 to port 2 with 1-in-K sampling while a UDP collector in the
/// test receives the datagrams. They are decoded twice, by the decoder here and by tshark's sFlow dissector, and the
/// samples must be right: the count within a wide binomial bound of (packets seen)/K, the sample pool rising to the
/// port's received count, the header bytes those of a sent frame, and the ports' counter samples equal to what the
/// switch forwarded.
/// </summary>
public sealed class SflowTests
{
    private const int Frames = 20_000;
    private const int Rate = 50;
    private const int FrameSize = 150;
    private const ushort EtherType = 0x88B5;

    [E2EFact]
    [RequiresTool("tshark")]
    public void Sampling_OneInK_SamplesAndCountersReachTheCollector()
    {
        using var hosts = new Hosts(2, subnet: "10.79.0");
        using var collector = new Collector();
        string ctl = Path.Combine(Path.GetTempPath(), $"s7-sflow-{Guid.NewGuid():N}.ctl");
        using var sw = new SwitchProcess(hosts.PortSpec, "--fail-mode", "secure", "--unixctl", ctl, "--sflow", $"127.0.0.1:{collector.Port}",
            "--sflow-sampling", Rate.ToString(CultureInfo.InvariantCulture), "--sflow-polling", "1");
        sw.Ofctl("add-flow", "in_port=1,actions=output:2");

        var src = Convert.FromHexString(hosts.Ns[0].NsMac.Replace(":", "", StringComparison.Ordinal));
        var frames = new List<byte[]>(Frames);
        for (int i = 0; i < Frames; i++)
        {
            var f = new byte[FrameSize];
            f.AsSpan(0, 6).Fill(0xFF);
            src.CopyTo(f, 6);
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), EtherType);
            BinaryPrimitives.WriteInt32BigEndian(f.AsSpan(14), i);
            for (int b = 18; b < FrameSize; b++) f[b] = (byte)(i + b);
            frames.Add(f);
        }
        hosts.Ns[0].SendFrames(frames);

        // Wait for two counter samples in a row that show port 1's received count settled and all of it sent on port 2.
        Decoded d = default!;
        var sw2 = Stopwatch.StartNew();
        long lastIn = -1;
        while (true)
        {
            d = Decode(collector.Datagrams());
            var in1 = d.Counters.Where(c => c.IfIndex == 1).ToList();
            var out2 = d.Counters.Where(c => c.IfIndex == 2).ToList();
            if (in1.Count > 0 && out2.Count > 0)
            {
                long now = in1[^1].InPackets;
                if (now == lastIn && now > 0 && out2[^1].OutPackets == now && d.Flows.Count > 0 && d.Flows[^1].Pool > now - 20 * Rate) break;
                lastIn = now;
            }
            Assert.True(sw2.Elapsed < TimeSpan.FromSeconds(60), $"no settled counters in 60 s: {in1.Count} port-1 samples, last in {lastIn}; {d.Flows.Count} flow samples\n{sw.Output}");
            Thread.Sleep(1200);
        }

        long seen = d.Counters.Last(c => c.IfIndex == 1).InPackets;
        Assert.True(seen >= Frames / 2, $"port 1 received only {seen} of {Frames} frames");
        Assert.True(seen <= Frames, $"port 1 received {seen} frames, more than the {Frames} sent");

        // 1 in K with a random skip in [1, 2K-1]: the count is close to seen/K (tighter than binomial); allow 6 sigma.
        double mean = (double)seen / Rate, bound = 6 * Math.Sqrt(mean) + 3;
        Console.WriteLine($"sflow: {seen} packets seen, {d.Flows.Count} flow samples (expected {mean:F0} +- {bound:F0}), {d.Counters.Count} counter samples");
        Assert.InRange(d.Flows.Count, mean - bound, mean + bound);

        uint lastPool = 0;
        uint lastSeq = 0;
        foreach (var f in d.Flows)
        {
            Assert.Equal((uint)Rate, f.Rate);
            Assert.Equal((2u << 24) | 1000, f.SourceId);
            Assert.Equal(1u, f.Input);
            Assert.Equal(2u, f.Output);
            Assert.Equal(0u, f.Drops);
            Assert.True(f.Sequence == lastSeq + 1, $"flow sample sequence {f.Sequence} after {lastSeq}");
            Assert.True(f.Pool > lastPool, $"sample pool {f.Pool} after {lastPool}");
            Assert.True(f.Pool <= seen, $"sample pool {f.Pool} above the {seen} packets port 1 received");
            Assert.Equal(FrameSize + 4, f.FrameLength);
            Assert.Equal(4, f.Stripped);
            Assert.Equal(128, f.Header.Length);
            int seq = BinaryPrimitives.ReadInt32BigEndian(f.Header.AsSpan(14));
            Assert.InRange(seq, 0, Frames - 1);
            Assert.Equal(Convert.ToHexString(frames[seq].AsSpan(0, 128)), Convert.ToHexString(f.Header));
            lastPool = f.Pool;
            lastSeq = f.Sequence;
        }

        var p1 = d.Counters.Last(c => c.IfIndex == 1);
        Assert.Equal((ulong)seen * FrameSize, p1.InOctets);
        // ifSpeed is the port's link mode, what the kernel reports for the interface (veth: 10000 Mb/s).
        ulong mbps = ulong.Parse(File.ReadAllText($"/sys/class/net/{hosts.Ns[0].HostIf}/speed").Trim(), CultureInfo.InvariantCulture);
        Assert.Equal(mbps * 1_000_000, p1.Speed);
        Assert.Equal(3u, p1.Status); // admin and link up
        var p2 = d.Counters.Last(c => c.IfIndex == 2);
        Assert.Equal((uint)seen, p2.OutPackets);
        Assert.Equal(IPAddress.Loopback, d.Agent);

        // The registry counts what was sent: every flow sample the collector got, none lost to a full ring.
        string coverage = SwitchProcess.Ctl("-t", ctl, "coverage/show").Stdout;
        Assert.Equal(d.Flows.Count, SwitchProcess.CoverageCounter(coverage, "sflow-flow-samples"));
        Assert.Equal(0, SwitchProcess.CoverageCounter(coverage, "sflow-sample-drops"));
        Assert.Equal(0, SwitchProcess.CoverageCounter(coverage, "sflow-send-errors"));

        // tshark's dissector reads the same datagrams the same way, without complaint.
        string pcap = Path.Combine(Path.GetTempPath(), $"s7-sflow-{Guid.NewGuid():N}.pcap");
        try
        {
            WritePcap(pcap, collector.Datagrams(), collector.Port);
            string decodeAs = $"udp.port=={collector.Port},sflow";
            var bad = Sh.Run("tshark", ["-r", pcap, "-d", decodeAs, "-Y", "_ws.malformed || _ws.expert.severity >= error"], 60_000);
            Assert.True(bad.Ok, bad.Stderr);
            Assert.Equal("", bad.Stdout.Trim());
            var r = Sh.Run("tshark", ["-r", pcap, "-d", decodeAs, "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=;",
                "-e", "sflow.flow_sample.sample_pool", "-e", "sflow.flow_sample.sampling_rate", "-e", "sflow.flow_sample.input_interface",
                "-e", "sflow.flow_sample.output_interface", "-e", "sflow_245.header.frame_length", "-e", "sflow_245.ifindex",
                "-e", "sflow_245.ifinpkt", "-e", "sflow_245.agent"], 60_000);
            Assert.True(r.Ok, r.Stderr);
            var pools = new List<uint>();
            long lastIfIn1 = -1;
            foreach (var line in r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                var cols = line.Split('\t');
                pools.AddRange(Values(cols[0]).Select(v => (uint)Number(v)));
                Assert.All(Values(cols[1]), v => Assert.Equal((ulong)Rate, Number(v)));
                Assert.All(Values(cols[2]), v => Assert.Equal(1UL, Number(v)));
                Assert.All(Values(cols[3]), v => Assert.Equal(2UL, Number(v)));
                Assert.All(Values(cols[4]), v => Assert.Equal((ulong)FrameSize + 4, Number(v)));
                var ifs = Values(cols[5]).ToList();
                var ins = Values(cols[6]).ToList();
                Assert.Equal(ifs.Count, ins.Count);
                for (int i = 0; i < ifs.Count; i++)
                    if (Number(ifs[i]) == 1) lastIfIn1 = (long)Number(ins[i]);
                Assert.Equal("127.0.0.1", cols[7]);
            }
            Assert.Equal(d.Flows.Select(f => f.Pool), pools);
            Assert.Equal(seen, lastIfIn1);
        }
        finally
        {
            File.Delete(pcap);
        }
    }

    /// <summary>A number as tshark prints a field: decimal, or hex with 0x (interface indexes).</summary>
    private static ulong Number(string v)
        => v.StartsWith("0x", StringComparison.Ordinal) ? ulong.Parse(v[2..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture) : ulong.Parse(v, CultureInfo.InvariantCulture);

    private static IEnumerable<string> Values(string col) => col.Split(';', StringSplitOptions.RemoveEmptyEntries);

    internal sealed record FlowSample(uint Sequence, uint SourceId, uint Rate, uint Pool, uint Drops, uint Input, uint Output, int FrameLength, int Stripped, byte[] Header);

    internal sealed record CounterSample(uint Sequence, uint IfIndex, ulong Speed, uint Status, ulong InOctets, uint InPackets, ulong OutOctets, uint OutPackets);

    internal sealed record Decoded(IPAddress Agent, List<FlowSample> Flows, List<CounterSample> Counters);

    /// <summary>Decodes sFlow v5 datagrams (the records the switch sends); fails the test on anything malformed.</summary>
    internal static Decoded Decode(IReadOnlyList<byte[]> datagrams)
    {
        var flows = new List<FlowSample>();
        var counters = new List<CounterSample>();
        IPAddress agent = IPAddress.None;
        uint lastDatagram = 0;
        foreach (var dg in datagrams)
        {
            var r = new Reader(dg);
            Assert.Equal(5u, r.U32());
            uint type = r.U32();
            Assert.True(type is 1 or 2, $"agent address type {type}");
            agent = new IPAddress(r.Bytes(type == 1 ? 4 : 16));
            Assert.Equal(0u, r.U32()); // sub-agent
            uint seq = r.U32();
            Assert.Equal(lastDatagram + 1, seq);
            lastDatagram = seq;
            r.U32(); // uptime
            uint samples = r.U32();
            for (int s = 0; s < samples; s++)
            {
                uint format = r.U32();
                int length = (int)r.U32();
                var body = new Reader(r.Bytes(length));
                if (format == 1)
                {
                    uint sseq = body.U32(), source = body.U32(), rate = body.U32(), pool = body.U32(), drops = body.U32(), input = body.U32(), output = body.U32();
                    Assert.Equal(1u, body.U32()); // one record
                    Assert.Equal(1u, body.U32()); // sampled_header
                    var rec = new Reader(body.Bytes((int)body.U32()));
                    Assert.Equal(1u, rec.U32()); // Ethernet
                    int frameLength = (int)rec.U32(), stripped = (int)rec.U32(), headerLength = (int)rec.U32();
                    var header = rec.Bytes(headerLength);
                    rec.Bytes(((headerLength + 3) & ~3) - headerLength);
                    Assert.True(rec.AtEnd && body.AtEnd, "flow sample longer than its records");
                    flows.Add(new FlowSample(sseq, source, rate, pool, drops, input, output, frameLength, stripped, header));
                }
                else if (format == 2)
                {
                    uint sseq = body.U32(), source = body.U32();
                    Assert.Equal(1u, body.U32());
                    Assert.Equal(1u, body.U32()); // generic interface counters
                    Assert.Equal(88u, body.U32());
                    uint ifIndex = body.U32();
                    Assert.Equal(source, ifIndex);
                    Assert.Equal(6u, body.U32());
                    ulong speed = body.U64();
                    body.U32();
                    uint status = body.U32();
                    ulong inOctets = body.U64();
                    uint inPackets = body.U32();
                    for (int k = 0; k < 5; k++) body.U32();
                    ulong outOctets = body.U64();
                    uint outPackets = body.U32();
                    for (int k = 0; k < 5; k++) body.U32();
                    Assert.True(body.AtEnd);
                    counters.Add(new CounterSample(sseq, ifIndex, speed, status, inOctets, inPackets, outOctets, outPackets));
                }
                else
                {
                    Assert.Fail($"unexpected sample format {format}");
                }
            }
            Assert.True(r.AtEnd, "datagram longer than its samples");
        }
        return new Decoded(agent, flows, counters);
    }

    private sealed class Reader(byte[] data)
    {
        private int _at;
        public bool AtEnd => _at == data.Length;

        public byte[] Bytes(int n)
        {
            Assert.True(n >= 0 && _at + n <= data.Length, $"truncated: want {n} bytes at {_at} of {data.Length}");
            var b = data.AsSpan(_at, n).ToArray();
            _at += n;
            return b;
        }

        public uint U32() => BinaryPrimitives.ReadUInt32BigEndian(Bytes(4));
        public ulong U64() => BinaryPrimitives.ReadUInt64BigEndian(Bytes(8));
    }

    /// <summary>The datagrams as Ethernet/IPv4/UDP frames from 127.0.0.1 to the collector's port, in a pcap file.</summary>
    internal static void WritePcap(string path, IReadOnlyList<byte[]> datagrams, int port)
    {
        using var w = new BinaryWriter(File.Create(path));
        w.Write(0xA1B2C3D4u);
        w.Write((ushort)2);
        w.Write((ushort)4);
        w.Write(0);
        w.Write(0);
        w.Write(65535);
        w.Write(1);
        int t = 0;
        foreach (var dg in datagrams)
        {
            var f = new byte[14 + 20 + 8 + dg.Length];
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0800);
            f[14] = 0x45;
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(16), (ushort)(20 + 8 + dg.Length));
            f[22] = 64;
            f[23] = 17;
            f[26] = 127;
            f[29] = 1;
            f[30] = 127;
            f[33] = 1;
            uint sum = 0;
            for (int i = 14; i < 34; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(i));
            while (sum > 0xFFFF) sum = (sum & 0xFFFF) + (sum >> 16);
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(24), (ushort)~sum);
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(34), 40000);
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(36), (ushort)port);
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(38), (ushort)(8 + dg.Length));
            dg.CopyTo(f, 42);
            w.Write(++t);
            w.Write(0);
            w.Write(f.Length);
            w.Write(f.Length);
            w.Write(f);
        }
    }

    /// <summary>A UDP socket on 127.0.0.1 (a port in 47400-47499) keeping every datagram it receives.</summary>
    internal sealed class Collector : IDisposable
    {
        private readonly UdpClient _udp;
        private readonly List<byte[]> _got = new();
        private readonly Thread _thread;

        public int Port { get; }

        public Collector()
        {
            UdpClient? udp = null;
            for (int p = 47400 + Random.Shared.Next(100), tries = 0; udp is null && tries < 100; p = 47400 + ((p - 47400 + 1) % 100), tries++)
            {
                try
                {
                    udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, p));
                    Port = p;
                }
                catch (SocketException)
                {
                }
            }
            _udp = udp ?? throw new InvalidOperationException("no free UDP port in 47400-47499");
            _udp.Client.ReceiveBufferSize = 4 << 20;
            _thread = new Thread(Run) { IsBackground = true };
            _thread.Start();
        }

        private void Run()
        {
            var from = new IPEndPoint(IPAddress.Any, 0);
            try
            {
                while (true)
                {
                    var b = _udp.Receive(ref from);
                    lock (_got) _got.Add(b);
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }
        }

        public IReadOnlyList<byte[]> Datagrams()
        {
            lock (_got) return _got.ToList();
        }

        public void Dispose() => _udp.Dispose();
    }
}
