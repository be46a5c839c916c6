using Softswitch.Datapath;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Tunnels;
using Softswitch.Ofproto;
using Softswitch.Ports.PcapFile;
using Softswitch.TestKit;
using Xunit.Abstractions;

namespace Softswitch.Ports.Tests;

/// <summary>
/// What our tunnel ports put on the underlay, as an independent dissector (tshark) reads it: the tunnel layers are
/// recognised (VXLAN and Geneve with the VNI, GRE with its key, IP-in-IP), nothing is malformed, and every IPv4 header
/// checksum, outer and inner, verifies, as does the outer UDP checksum when one is sent (csum=true). Covers IP-in-IP, which no peer on this kernel can decapsulate.
/// </summary>
public sealed class TunnelDissectionTests(ITestOutputHelper output)
{
    [ToolTheory]
    [RequiresTool("tshark")]
    [InlineData(TunnelKind.Vxlan, 100u, "eth:ethertype:ip:udp:vxlan:eth:ethertype:ip:icmp:data", "vxlan.vni", "100")]
    [InlineData(TunnelKind.Gre, 5u, "eth:ethertype:ip:gre:eth:ethertype:ip:icmp:data", "gre.key", "0x00000005")]
    [InlineData(TunnelKind.Gre, null, "eth:ethertype:ip:gre:eth:ethertype:ip:icmp:data", "gre.proto", "0x6558")]
    [InlineData(TunnelKind.Ipip, null, "eth:ethertype:ip:ip:icmp:data", "ip.proto", "4,1")]
    [InlineData(TunnelKind.Geneve, 100u, "eth:ethertype:ip:udp:geneve:eth:ethertype:ip:icmp:data", "geneve.vni", "0x000064")]
    [InlineData(TunnelKind.Geneve, 100u, "eth:ethertype:ip:udp:geneve:eth:ethertype:ip:icmp:data", "udp.checksum.status", "1", true)]
    [InlineData(TunnelKind.Vxlan, 100u, "eth:ethertype:ip:udp:vxlan:eth:ethertype:ip:icmp:data", "udp.checksum.status", "1", true)]
    public void Tshark_DissectsOurEncapsulation(TunnelKind kind, uint? key, string layers, string field, string expected, bool csum = false)
    {
        var hostMac = MacAddress.Parse("0e:00:00:00:00:01");
        using var dp = new SwitchDatapath(new DatapathOptions { PacketInRate = 0 });
        var host = new MemoryPort("host", hostMac);
        var under = new MemoryPort("under", MacAddress.Parse("02:00:00:00:aa:01")) { CaptureSent = true };
        dp.AddPort(host, 1);
        dp.AddPort(under, 2);
        dp.Tunnels.Add(TestTunnels.Of(kind, key, "t", Ipv4.Parse("10.96.0.1"), Ipv4.Parse("10.96.0.2")) with
        {
            PortNo = 10, Underlay = 2, RemoteMac = MacAddress.Parse("02:00:00:00:aa:02"), UdpChecksum = csum,
        });
        var all = FlowMatch.FromOpenFlow(OfWildcards.All & ~OfWildcards.InPort | OfWildcards.TunIdExt, new FlowKeyBuilder().InPort(1).Key);
        Assert.Equal(FlowModStatus.Ok, new OfFlowTables(dp).Apply(new FlowMod(FlowModCommand.Add, all, 100, new FlowActions([FlowAction.Output(10)]))));

        for (ushort seq = 1; seq <= 8; seq++)
            host.Inject(FrameBuilder.IcmpEcho(hostMac, MacAddress.Parse("0e:00:00:00:00:02"), Ipv4.Parse("192.168.9.1"), Ipv4.Parse("192.168.9.2"), false, 7, seq));
        dp.PollUntilIdle();
        var sent = under.TakeSent();
        Assert.Equal(8, sent.Count);

        string pcap = Path.Combine(Path.GetTempPath(), $"ssw-dissect-{Environment.ProcessId:x}-{Random.Shared.Next():x}.pcap");
        try
        {
            using (var w = new PcapWriter(pcap))
                foreach (var f in sent) w.Write(f);
            var r = Sh.Run("tshark", ["-r", pcap, "-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", "-T", "fields", "-E", "separator=|",
                                      "-e", "frame.protocols", "-e", "ip.checksum.status", "-e", "ip.flags.df", "-e", field], 60_000);
            Assert.True(r.Ok, $"tshark: {r.Stderr}");
            output.WriteLine(r.Stdout);
            var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(8, lines.Length);
            foreach (var line in lines)
            {
                var f = line.Split('|');
                Assert.Equal(layers, f[0]);
                Assert.All(f[1].Split(','), s => Assert.Equal("1", s));   // every IPv4 header checksum verifies
                Assert.StartsWith("1", f[2]);                              // outer header: don't fragment
                Assert.Equal(expected, f[3]);
            }
        }
        finally
        {
            File.Delete(pcap);
        }
    }
}
