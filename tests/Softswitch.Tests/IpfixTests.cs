using System.Buffers.Binary;
using Softswitch.Datapath.Forwarding;
using Softswitch.Ipfix;
using Softswitch.TestKit;

namespace Softswitch.Tests;

/// <summary>
/// The IPFIX exporting process of bridge sampling: a record's bytes against a hand-checked vector, every template
/// against the records written under it (a decoder of the test's own), sequence numbers counting data records (RFC
/// 7011, 3.1), templates sent first and again after the template interval, and the flow cache's active timeout, most
/// flows and forced end, on a clock the test drives.
/// </summary>
public sealed class IpfixTests
{
    private const long T0 = 1_700_000_000_250_000; // microseconds since 1970

    private sealed class Sink : IIpfixSink
    {
        public readonly List<byte[]> Messages = [];
        /// <summary>False: messages are counted, not kept (nothing allocated).</summary>
        public bool Keep = true;
        public int Count;

        public int Send(ReadOnlySpan<byte> message)
        {
            if (message.Length > IpfixMessage.MaxSize) Assert.Fail($"a message of {message.Length} bytes");
            Count++;
            if (Keep) Messages.Add(message.ToArray());
            return 0;
        }
    }

    private sealed class Rig
    {
        public readonly Sink Sink = new();
        public long Now = T0;
        public readonly IpfixExportProcess Process;

        public Rig(IpfixSettings settings) => Process = new IpfixExportProcess(settings, Sink, () => Now);

        public void Sample(byte[] frame, IpfixPort ingress, IpfixPort? egress = null, int outputs = 1)
            => Process.Sample(new PacketSample(1, 2, outputs, frame.Length, Math.Min(frame.Length, PacketSampler.HeaderSize), 0, 0),
                frame.AsSpan(0, Math.Min(frame.Length, PacketSampler.HeaderSize)), ingress, egress);

        public IpfixDecoder Decode() => IpfixDecoder.Decode(Sink.Messages);
    }

    private static readonly IpfixPort s_p1 = new(5, "p1"), s_p2 = new(6, "p2");

    /// <summary>An IPv4 UDP frame 02:..:01 to 02:..:02, 192.0.2.1:1234 to 192.0.2.2:5678, TOS 0xb8, TTL 64, 60 bytes.</summary>
    private static byte[] Udp4(ushort srcPort = 1234, int size = 60)
    {
        var f = new byte[size];
        Convert.FromHexString("020000000002" + "020000000001" + "0800").CopyTo(f, 0);
        Convert.FromHexString("45B8" + (size - 14).ToString("X4", System.Globalization.CultureInfo.InvariantCulture) + "00000000" + "4011" + "0000" + "C0000201" + "C0000202").CopyTo(f, 14);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(34), srcPort);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(36), 5678);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(38), (ushort)(size - 34));
        return f;
    }

    [Fact]
    public void IngressUdpRecord_GoldenBytes()
    {
        var r = new Rig(new IpfixSettings(Sampling: 400, ObsDomainId: 7, ObsPointId: 9, OutputSampling: false));
        r.Sample(Udp4(), s_p1);
        r.Process.Run();
        string hex = Convert.ToHexString(r.Sink.Messages[^1]);
        Assert.Equal(
            "000A" + "0107" + "6553F101" + "00000000" + "00000007"        // version 10, 263 bytes, export time 1700000001, sequence 0, domain 7
            + "011C" + "00F7"                                             // data set of template 284 (IPv4, UDP, ingress), 247 bytes
            + "00000009" + "00" + "020000000001" + "020000000002" + "0800" + "0E" // point 9, ingress, source MAC, destination MAC, IPv4, 14-byte Ethernet header
            + "00000005" + "00000000" + "027031" + "00"                  // ingress ifindex 5, type 0, name "p1", no description
            + "04" + "40" + "11" + "2E" + "05" + "B8"                     // IPv4, TTL 64, UDP, DSCP 46, precedence 5, TOS 0xb8
            + "C0000201" + "C0000202" + "04D2" + "162E"                   // 192.0.2.1 -> 192.0.2.2, 1234 -> 5678
            + "000B71B0" + "000B71B0"                                     // flow start and end 0.75 s before the export time
            + "0000000000000000" + "0000000000000000"                     // dropped packets: delta, total
            + "0000000000000190" + "0000000000000190"                     // packets: delta 400 (the sampling rate), total
            + "0000000000000190" + "0000000000000000" + "0000000000000000" // ingress unicast, multicast, broadcast totals
            + "0000000000000000" + "0000000000000000"                     // egress unicast, broadcast totals
            + "0000000000000000" + "0000000000000000"                     // post-multicast packets: delta, total
            + "0000000000005DC0" + "0000000000005DC0"                     // layer 2 octets: 400 x 60
            + "02"                                                        // end reason: active timeout (no caching)
            + "0000000000000000" + "0000000000000000"                     // dropped octets
            + "00000000000047E0" + "00000000000047E0"                     // octets: 400 x 46 (the IP length)
            + "00000000000CEA40" + "00000000000CEA40"                     // octets' sum of squares: 18400 x 46
            + "000000000000002E" + "000000000000002E"                     // least and most IP length
            + "0000000000000000" + "0000000000000000",                    // post-multicast octets
            hex);
        Assert.Equal(1, r.Process.RecordsSent);
    }

    [Fact]
    public void Templates_AreOpenVswitchs_AndComeBeforeTheFirstRecord()
    {
        var r = new Rig(new IpfixSettings(400, ObsDomainId: 7));
        r.Sample(Udp4(), s_p1);
        r.Process.Run();
        var d = r.Decode();
        Assert.Empty(d.Errors);
        var dataTemplates = d.Templates.Where(t => t.Key.Domain == 7).ToDictionary(t => t.Key.Id, t => t.Value);
        // Two layer-2 kinds x (no IP, IPv4 or IPv6 with five transports) x two directions.
        Assert.Equal(2 * 11 * 2, dataTemplates.Count);
        Assert.Equal(IpfixTemplate.All().Select(t => t.Id).Order(), dataTemplates.Keys.Order());
        var udp4 = dataTemplates[284];
        Assert.Equal(
            [(138, 4), (61, 1), (56, 6), (80, 6), (256, 2), (240, 1), (10, 4), (368, 4), (82, 0xFFFF), (83, 0xFFFF),
             (60, 1), (192, 1), (4, 1), (195, 1), (196, 1), (5, 1), (8, 4), (12, 4), (7, 2), (11, 2),
             (158, 4), (159, 4), (133, 8), (135, 8), (2, 8), (86, 8), (354, 8), (355, 8), (356, 8), (357, 8), (358, 8), (19, 8), (174, 8), (352, 8), (353, 8), (136, 1),
             (132, 8), (134, 8), (1, 8), (85, 8), (198, 8), (199, 8), (25, 8), (26, 8), (20, 8), (175, 8)],
            udp4.Select(f => ((int)f.Id, (int)f.Length)).ToArray());
        // The exporting process's statistics: an options template and its record, in domain 0.
        Assert.Equal([new IpfixFieldSpec(144, 4, 0), new IpfixFieldSpec(167, 8, 0)], d.Templates[(0, IpfixTemplate.ExporterStatsId)]);
        Assert.Single(d.Records, x => x.TemplateId == IpfixTemplate.ExporterStatsId && x.Domain == 0);
        int firstData = d.Messages.FindIndex(m => m.DataRecords > 0 && m.Domain == 7);
        int lastTemplate = d.Messages.FindLastIndex(m => m.TemplateIds.Count > 0);
        Assert.True(lastTemplate < firstData);
        Assert.All(d.Messages, m => Assert.True(m.Length <= 1024));
    }

    /// <summary>Frames of every layer combination, ingress and egress, with a virtual observation id: each record is read
    /// whole by its template (no byte left, none missing), and its fields say what the frame holds.</summary>
    [Fact]
    public void EveryTemplate_DescribesItsRecords()
    {
        var r = new Rig(new IpfixSettings(100, ObsPointId: 3, VirtualObsId: "vobs-1"));
        var frames = new List<byte[]>
        {
            Udp4(),
            Convert.FromHexString("FFFFFFFFFFFF" + "020000000001" + "88B5" + new string('0', 92)),           // no IP, broadcast
            Convert.FromHexString("010000000002" + "020000000001" + "8100" + "A00A" + "0800"                 // VLAN 10, priority 5, IPv4 TCP SYN+ACK
                + "4500002C00000000" + "4006" + "0000" + "0A000001" + "0A000002" + "0050" + "1F90" + "0000000000000000" + "5012" + "0000" + "00000000" + "00000000"),
            Convert.FromHexString("020000000002" + "020000000001" + "0800" + "45000054" + "00000000" + "4001" + "0000" + "0A000001" + "0A000002" + "0800" + "0000" + new string('0', 60)), // ICMP echo
            Convert.FromHexString("020000000002" + "020000000001" + "86DD" + "6001234500140640" + "20010DB8000000000000000000000001" + "20010DB8000000000000000000000002"
                + "0050" + "1F90" + "00000000" + "00000000" + "5002" + "0000" + "00000000"),                   // IPv6 TCP, flow label 0x12345
            Convert.FromHexString("020000000002" + "020000000001" + "86DD" + "60000000000C3A40" + "20010DB8000000000000000000000001" + "20010DB8000000000000000000000002"
                + "80000000" + "00000000" + "00000000"),                                                    // ICMPv6 echo request
            Convert.FromHexString("020000000002" + "020000000001" + "0800" + "45000028" + "00000000" + "402F" + "0000" + "0A000001" + "0A000002" + new string('0', 24)), // GRE: another transport
        };
        foreach (var f in frames) r.Sample(f, s_p1, s_p2);
        r.Process.Run();
        var d = r.Decode();
        Assert.Empty(d.Errors);
        var records = d.Records.Where(x => x.Domain == 0 && x.TemplateId != IpfixTemplate.ExporterStatsId).ToList();
        Assert.Equal(2 * frames.Count, records.Count);
        Assert.Equal(frames.Count, records.Count(x => x.U(61) == 0));
        foreach (var x in records)
        {
            Assert.Equal(3ul, x.U(138));
            Assert.Equal(100ul, x.U(2));
            Assert.Equal("vobs-1", System.Text.Encoding.UTF8.GetString(Assert.Single(x.All(898, IpfixTemplate.Vmware))));
            Assert.Equal(5ul, x.U(10));
            Assert.Equal("p1", System.Text.Encoding.UTF8.GetString(x.All(82).First()));
            if (x.U(61) == 1)
            {
                Assert.Equal(6ul, x.U(14));
                Assert.Equal("p2", System.Text.Encoding.UTF8.GetString(x.All(82).Last()));
            }
        }
        var vlan = records.First(x => x.Values.Any(v => v.Field.Id == 58));
        Assert.Equal((10ul, 5ul, 18ul, 0x0800ul, 6ul), (vlan.U(58), vlan.U(244), vlan.U(240), vlan.U(256), vlan.U(4)));
        Assert.Equal((80ul, 8080ul), (vlan.U(7), vlan.U(11)));
        var tcp6 = records.First(x => x.Values.Any(v => v.Field.Id == 31) && x.Values.Any(v => v.Field.Id == 7));
        Assert.Equal((0x12345ul, 64ul, 6ul, 80ul), (tcp6.U(31), tcp6.U(192), tcp6.U(4), tcp6.U(7)));
        var icmp6 = records.First(x => x.Values.Any(v => v.Field.Id == 178));
        Assert.Equal((128ul, 0ul), (icmp6.U(178), icmp6.U(179)));
        var icmp4 = records.First(x => x.Values.Any(v => v.Field.Id == 176));
        Assert.Equal(8ul, icmp4.U(176));
        var bcast = records.First(x => x.U(256) == 0x88B5 && x.U(61) == 0);
        Assert.DoesNotContain(bcast.Values, v => v.Field.Id == 60); // no IP fields
        Assert.True(bcast.U(356) >= 100); // ingress broadcast total
        var gre = records.First(x => x.Values.Any(v => v.Field.Id == 4 && v.Value[0] == 47));
        Assert.DoesNotContain(gre.Values, v => v.Field.Id is 7 or 176);
        // The TCP flag totals count SYN and ACK of the two TCP samples at the rate (ingress and egress each).
        var lastTcp = records.Last(x => x.Values.Any(v => v.Field.Id == 218));
        Assert.Equal((4ul * 100, 2ul * 100), (lastTcp.U(218), lastTcp.U(222)));
    }

    /// <summary>A message's sequence number is the data records sent before it in its domain; templates count none.</summary>
    [Fact]
    public void SequenceNumbers_CountDataRecords()
    {
        var r = new Rig(new IpfixSettings(10, ObsDomainId: 3, OutputSampling: false));
        for (int round = 0; round < 3; round++)
        {
            for (ushort i = 0; i < 9; i++) r.Sample(Udp4((ushort)(1000 + i)), s_p1);
            r.Process.Run();
            r.Now += 1_000_000;
        }
        var d = r.Decode();
        Assert.Empty(d.Errors);
        var data = d.Messages.Where(m => m.Domain == 3).ToList();
        uint sent = 0;
        foreach (var m in data)
        {
            Assert.Equal(sent, m.Sequence);
            sent += (uint)m.DataRecords;
        }
        Assert.Equal(27u, sent);
        Assert.True(data.Count(m => m.DataRecords > 0) >= 3 * 3, "nine records of 243 bytes take three messages a round");
        // Domain 0 has the statistics record only: its messages count it.
        var stats = d.Messages.Where(m => m.Domain == 0).ToList();
        Assert.Equal([0u, 0u], stats.Select(m => m.Sequence));
    }

    [Fact]
    public void Templates_AreResentAfterTheTemplateInterval()
    {
        var r = new Rig(new IpfixSettings(10));
        int TemplateMessages() => r.Decode().Messages.Count(m => m.SetIds.Contains((ushort)2));
        r.Sample(Udp4(), s_p1);
        r.Process.Run();
        int once = TemplateMessages();
        Assert.True(once >= 1);
        r.Now += (IpfixSettings.TemplateInterval - 2) * 1_000_000L;
        r.Sample(Udp4(), s_p1);
        r.Process.Run();
        Assert.Equal(once, TemplateMessages());
        r.Now += 2_000_000;
        r.Sample(Udp4(), s_p1);
        r.Process.Run();
        Assert.Equal(2 * once, TemplateMessages());
    }

    [Fact]
    public void Cache_AggregatesAFlowUntilItsActiveTimeout()
    {
        var r = new Rig(new IpfixSettings(50, CacheActiveTimeout: 10, CacheMaxFlows: 100, OutputSampling: false));
        r.Sample(Udp4(), s_p1);
        r.Now += 1_000_000;
        r.Sample(Udp4(), s_p1);
        r.Now += 4_000_000;
        r.Sample(Udp4(), s_p1);
        r.Sample(Udp4(srcPort: 99), s_p1);
        r.Now = T0 + 9_999_999;
        r.Process.Run();
        Assert.Equal(0, r.Process.RecordsSent);
        Assert.Equal(2, r.Process.CachedFlows);
        r.Now = T0 + 10_000_000;
        r.Process.Run();
        var record = Assert.Single(r.Decode().Records, x => x.Domain == 0 && x.TemplateId != IpfixTemplate.ExporterStatsId);
        Assert.Equal((3ul * 50, 2ul, 1234ul), (record.U(2), record.U(136), record.U(7)));
        // Export time 1700000011 s: the flow started 10.75 s and ended 5.75 s before it.
        Assert.Equal((10_750_000ul, 5_750_000ul), (record.U(158), record.U(159)));
        Assert.Equal(1, r.Process.CachedFlows);
    }

    [Fact]
    public void Cache_OverItsMostFlows_SendsTheOldest_AndAForcedEndSendsTheRest()
    {
        var r = new Rig(new IpfixSettings(50, CacheActiveTimeout: 60, CacheMaxFlows: 2, OutputSampling: false));
        for (ushort i = 0; i < 3; i++)
        {
            r.Sample(Udp4((ushort)(100 + i)), s_p1);
            r.Now += 1000;
        }
        r.Process.Run();
        var first = Assert.Single(r.Decode().Records, x => x.Domain == 0 && x.TemplateId != IpfixTemplate.ExporterStatsId);
        Assert.Equal((100ul, 5ul), (first.U(7), first.U(136))); // lack of resources
        Assert.Equal(2, r.Process.CachedFlows);
        r.Process.Run(forced: true);
        var rest = r.Decode().Records.Where(x => x.Domain == 0 && x.TemplateId != IpfixTemplate.ExporterStatsId).Skip(1).ToList();
        Assert.Equal([(101ul, 4ul), (102ul, 4ul)], rest.Select(x => (x.U(7), x.U(136))));
        Assert.Equal(0, r.Process.CachedFlows);
    }

    [Fact]
    public void DroppedPackets_AndInputOutputSampling()
    {
        var r = new Rig(new IpfixSettings(20, InputSampling: false));
        r.Sample(Udp4(), s_p1, s_p2);
        r.Sample(Udp4(), s_p1, egress: null, outputs: 0);
        r.Process.Run();
        var rec = Assert.Single(r.Decode().Records, x => x.TemplateId != IpfixTemplate.ExporterStatsId);
        Assert.Equal((1ul, 6ul, 0ul), (rec.U(61), rec.U(14), rec.U(133)));

        var r2 = new Rig(new IpfixSettings(20, OutputSampling: false));
        r2.Sample(Udp4(), s_p1, egress: null, outputs: 0);
        r2.Process.Run();
        var dropped = Assert.Single(r2.Decode().Records, x => x.TemplateId != IpfixTemplate.ExporterStatsId);
        Assert.Equal((20ul, 20ul * 46), (dropped.U(133), dropped.U(132)));
    }

    [Fact]
    public void BfdAndRuntFrames_AreNotRecorded()
    {
        var r = new Rig(new IpfixSettings(20));
        var bfd = Udp4();
        BinaryPrimitives.WriteUInt16BigEndian(bfd.AsSpan(36), 3784);
        r.Sample(bfd, s_p1);
        r.Sample([1, 2, 3], s_p1);
        r.Process.Run();
        Assert.Equal(0, r.Process.RecordsSent);
        Assert.Equal(1, r.Process.Unparsed);
    }

    /// <summary>Every template defined here is the one Open vSwitch 3.1 sends under the same id, field for field
    /// (Data/ovs-3.1-ipfix-templates.hex: its template messages, captured from ovs-vswitchd), the options template too.</summary>
    [Fact]
    public void Templates_AreTheOnesOpenVswitchSends()
    {
        var lines = File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "Data", "ovs-3.1-ipfix-templates.hex"));
        var ovs = IpfixDecoder.Decode(lines.Where(l => l.Length > 0 && l[0] != '#').Select(Convert.FromHexString));
        Assert.Empty(ovs.Errors);
        foreach (var t in IpfixTemplate.All())
        {
            var theirs = ovs.Templates[(9, t.Id)];
            Assert.Equal(theirs, t.Fields(virtualObsId: false).Select(f => new IpfixFieldSpec((ushort)(f.Id & 0x7FFF), f.Length, f.Enterprise)));
        }
        Assert.Equal(ovs.Templates[(0, IpfixTemplate.ExporterStatsId)], [new IpfixFieldSpec(144, 4, 0), new IpfixFieldSpec(167, 8, 0)]);
        // Open vSwitch also defines a tunnel template for each (its enterprise elements): not served here.
        Assert.Equal(2 * 44 + 1, ovs.Templates.Count);
    }

    /// <summary>Once its cache has held its most flows, the exporting process allocates nothing per sample.</summary>
    [Fact]
    public void Sampling_InSteadyState_AllocatesNothing()
    {
        var r = new Rig(new IpfixSettings(10, CacheActiveTimeout: 5, CacheMaxFlows: 8));
        var frames = Enumerable.Range(0, 16).Select(i => Udp4((ushort)(2000 + i))).ToArray();
        var sample = new PacketSample(1, 2, 1, 60, 60, 0, 0);
        void Round()
        {
            for (int i = 0; i < 1000; i++) r.Process.Sample(sample, frames[i % frames.Length], s_p1, s_p2);
            r.Process.Run();
        }
        r.Sink.Keep = false;
        Round(); // templates, the cache's entries and the dictionary's buckets made
        long min = long.MaxValue;
        for (int round = 0; round < 4 && min != 0; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            Round();
            min = Math.Min(min, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        Assert.True(r.Process.RecordsSent > 1000, $"{r.Process.RecordsSent} records");
        Assert.Equal(0, min);
    }

    [Fact]
    public void Settings_RefuseAVirtualObsIdOverItsLimit()
        => Assert.Throws<ArgumentException>(() => new IpfixExportProcess(new IpfixSettings(1, VirtualObsId: new string('x', 255)), new Sink(), () => T0));
}
