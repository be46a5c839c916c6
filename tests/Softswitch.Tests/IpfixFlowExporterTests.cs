using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Softswitch.Datapath;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.Ipfix;
using Softswitch.TestKit;

namespace Softswitch.Tests;

/// <summary>
/// Per-flow IPFIX: the samples of a flow's sample action reach a UDP collector of its collector set as IPFIX records
/// carrying the action's observation domain (the message's) and point ids, each standing for 65535 / its probability
/// packets, ingress or egress as the action says; a collector set no exporter serves gets nothing, its samples counted.
/// </summary>
public sealed class IpfixFlowExporterTests
{
    private sealed class Collector : IDisposable
    {
        private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);

        public Collector()
        {
            _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            _socket.ReceiveTimeout = 2000;
        }

        public IPEndPoint EndPoint => (IPEndPoint)_socket.LocalEndPoint!;

        /// <summary>Every datagram until none comes for a while.</summary>
        public List<byte[]> Datagrams()
        {
            var list = new List<byte[]>();
            var buf = new byte[65536];
            while (true)
            {
                try
                {
                    int n = _socket.Receive(buf);
                    list.Add(buf[..n]);
                }
                catch (SocketException)
                {
                    return list;
                }
            }
        }

        public void Dispose() => _socket.Dispose();
    }

    private static readonly MacAddress H1 = MacAddress.Parse("00:00:00:00:00:01"), H2 = MacAddress.Parse("00:00:00:00:00:02");

    private static FlowMatch InPort(ushort port) => new(new FlowKeyBuilder().InPort(0xFFFF).Key, new FlowKeyBuilder().InPort(port).Key);

    [Fact]
    public void ASampleActionsPackets_ReachItsCollectorSet_WithTheActionsDomainAndPoint()
    {
        using var r = new DatapathRig(3, new DatapathOptions { EmcEntries = 1024, PacketInRate = 0, FlowSampleSeed = 99 });
        using var udp = new Collector();
        using var other = new Collector();
        r.Insert(0, InPort(1), 10, [FlowAction.Sample(65535, 5, 77, 88, 0xffff, 0), FlowAction.Output(2)]);
        r.Insert(0, InPort(2), 10, [FlowAction.Sample(21845, 6, 78, 89, 3, 2), FlowAction.Output(3)]);
        r.Insert(0, InPort(3), 10, [FlowAction.Sample(65535, 404, 1, 1, 0xffff, 0), FlowAction.Output(1)]);
        var e = IpfixFlowExporters.Start(r.Dp, NullLogger.Instance);
        try
        {
            e.SetPorts(new Dictionary<ushort, IpfixPort> { [1] = new(11, "p1"), [2] = new(12, "p2"), [3] = new(13, "p3") });
            e.Configure([new IpfixCollectorSet(5, [udp.EndPoint], new IpfixSettings(1)), new IpfixCollectorSet(6, [other.EndPoint], new IpfixSettings(1))]);
            r.Dp.FlowSampling = true;
            var frame = FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, 1000, 2000);
            r.Send(1, frame, times: 10);
            r.Send(2, frame, times: 60);
            r.Send(3, frame, times: 4);
            Assert.Equal(10, r.Sent(2).Count);
        }
        finally
        {
            e.Dispose(); // every flow of the caches leaves now
        }

        var d = IpfixDecoder.Decode(udp.Datagrams());
        Assert.Empty(d.Errors);
        var records = d.Records.Where(x => x.Domain == 77).ToList();
        Assert.NotEmpty(records);
        Assert.All(records, x =>
        {
            Assert.Equal(88ul, x.U(138)); // observationPointId
            Assert.Equal(0ul, x.U(61));   // flowDirection: ingress
            Assert.Equal(11ul, x.U(10));  // ingressInterface
        });
        Assert.Equal(10ul, (ulong)records.Sum(x => (long)x.U(2))); // packetDeltaCount: 65535 / 65535 each
        Assert.All(d.Messages.Where(m => m.Domain != 0), m => Assert.Equal(77u, m.Domain)); // domain 0: the exporting process's statistics
        Assert.DoesNotContain(d.Records, x => x.Domain != 77 && x.Domain != 0);

        var o = IpfixDecoder.Decode(other.Datagrams());
        Assert.Empty(o.Errors);
        var egress = o.Records.Where(x => x.Domain == 78).ToList();
        Assert.InRange(egress.Count, 5, 40); // 60 packets at 1 in 3 (a fixed seed)
        Assert.All(egress, x =>
        {
            Assert.Equal(89ul, x.U(138));
            Assert.Equal(1ul, x.U(61));   // egress, as the action says
            Assert.Equal(13ul, x.U(14));  // egressInterface: the sampling port's
            Assert.Equal(3ul, x.U(2));    // packetDeltaCount: 65535 / 21845
        });
        Assert.Equal(4, e.NoSetDrops);     // collector set 404 has no exporter
        Assert.True(e.RecordsSent >= 2, $"{e.RecordsSent} records");
    }

    [Fact]
    public void ACollectorSetRemoved_StopsGettingRecords_AndItsCacheLeavesFirst()
    {
        using var r = new DatapathRig(3, new DatapathOptions { EmcEntries = 1024, PacketInRate = 0 });
        using var udp = new Collector();
        r.Insert(0, InPort(1), 10, [FlowAction.Sample(65535, 5, 7, 8, 0xffff, 0), FlowAction.Output(2)]);
        var e = IpfixFlowExporters.Start(r.Dp, NullLogger.Instance);
        try
        {
            // A cache that holds flows for an hour: only the removal sends them.
            e.Configure([new IpfixCollectorSet(5, [udp.EndPoint], new IpfixSettings(1, CacheActiveTimeout: 3600, CacheMaxFlows: 100))]);
            r.Dp.FlowSampling = true;
            r.Send(1, FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, 1000, 2000), times: 3);
            Assert.True(SpinWait.SpinUntil(() => e.SamplesTaken == 3, 30_000), $"{e.SamplesTaken} samples taken");
            e.Configure([]);
            var d = IpfixDecoder.Decode(udp.Datagrams());
            var rec = Assert.Single(d.Records, x => x.Domain == 7);
            Assert.Equal(3ul, rec.U(2));
            Assert.Equal(4ul, rec.U(136)); // flowEndReason: forced end
            r.Send(1, FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, 1000, 2000), times: 3);
            Assert.True(SpinWait.SpinUntil(() => e.NoSetDrops == 3, 30_000), $"{e.NoSetDrops} dropped");
            Assert.Empty(udp.Datagrams());
        }
        finally
        {
            e.Dispose();
        }
    }
}
