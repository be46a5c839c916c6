using System.Globalization;
using System.Net;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Tests.Actions;
using Softswitch.TestKit;

namespace Softswitch.Datapath.Tests;

/// <summary>
/// The OpenFlow 1.3 golden frames of <see cref="ParserOf13Tests"/> read by tshark (an implementation independent of
/// ours): every field our key holds for a layer tshark decodes must be what tshark reads there.
/// </summary>
public class ParserTsharkTests
{
    private static readonly string[] Fields =
    [
        "vlan.id", "ieee8021ad.id", "ieee8021ah.isid", "mpls.label", "mpls.exp", "mpls.bottom", "ipv6.src", "ipv6.dst",
        "ipv6.flow", "ipv6.tclass.dscp", "ipv6.tclass.ecn", "ip.dsfield.ecn", "tcp.srcport", "udp.srcport", "sctp.srcport",
        "icmpv6.type", "icmpv6.nd.ns.target_address", "icmpv6.nd.na.target_address", "icmpv6.opt.linkaddr",
        "arp.src.hw_mac", "arp.dst.hw_mac",
    ];

    private static ulong Num(string s) => s.StartsWith("0x", StringComparison.Ordinal)
        ? ulong.Parse(s.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture)
        : ulong.Parse(s, CultureInfo.InvariantCulture);

    private static UInt128 Addr(string s) => System.Buffers.Binary.BinaryPrimitives.ReadUInt128BigEndian(IPAddress.Parse(s).GetAddressBytes());

    [ToolFact]
    [RequiresTool("tshark")]
    public void TsharkReadsTheSameFields()
    {
        var frames = ParserOf13Tests.SeedFrames().ToList();
        string dir = Path.Combine(Path.GetTempPath(), $"softswitch-parser-tshark-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            string pcap = Path.Combine(dir, "of13.pcap");
            Pcap.Write(pcap, frames);
            var args = new List<string> { "-r", pcap, "-T", "fields", "-E", "occurrence=f", "-E", "separator=/t" };
            foreach (var f in Fields) { args.Add("-e"); args.Add(f); }
            var (code, stdout, stderr) = ExternalTool.Run("tshark", [.. args]);
            Assert.True(code == 0, stderr);
            var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(frames.Count, lines.Length);
            int compared = 0;
            for (int i = 0; i < frames.Count; i++)
            {
                var t = lines[i].Split('\t');
                string Get(string field) => t[Array.IndexOf(Fields, field)];
                var e = PacketParser.Parse(frames[i], 1, out var k, out var l);
                string ctx = $"frame {i} ({e}): {Convert.ToHexString(frames[i])}\n tshark: {lines[i]}";
                void Same(ulong ours, string field)
                {
                    Assert.True(Get(field).Length > 0, $"tshark has no {field}; {ctx}");
                    Assert.True(ours == Num(Get(field)), $"{field}: ours {ours}, tshark {Get(field)}; {ctx}");
                    compared++;
                }

                if (l.Vlan != PacketLayers.Absent) Same(k.VlanVid & 0x0FFFu, l.Has(LayerFlags.ServiceTag) ? "ieee8021ad.id" : "vlan.id");
                if (l.Has(LayerFlags.Pbb)) Same(k.PbbIsid, "ieee8021ah.isid");
                if (l.Has(LayerFlags.Mpls))
                {
                    Same(k.MplsLabel, "mpls.label");
                    Same(k.MplsTc, "mpls.exp");
                    Same(k.MplsBos, "mpls.bottom");
                }
                if (l.Has(LayerFlags.Ipv4)) Same(k.IpEcn, "ip.dsfield.ecn");
                if (l.Has(LayerFlags.Ipv6))
                {
                    Assert.True(k.Ipv6Src == Addr(Get("ipv6.src")) && k.Ipv6Dst == Addr(Get("ipv6.dst")), ctx);
                    Same(k.Ipv6Flabel, "ipv6.flow");
                    Same((ulong)(k.NwTos >> 2), "ipv6.tclass.dscp");
                    Same(k.IpEcn, "ipv6.tclass.ecn");
                }
                if (!l.Has(LayerFlags.Fragment))
                {
                    if (l.Has(LayerFlags.Tcp)) Same(k.TpSrc, "tcp.srcport");
                    if (l.Has(LayerFlags.Udp)) Same(k.TpSrc, "udp.srcport");
                    if (l.Has(LayerFlags.Sctp)) Same(k.TpSrc, "sctp.srcport");
                    if (l.Has(LayerFlags.Icmpv6)) Same(k.TpSrc, "icmpv6.type");
                }
                if (k.NdTarget != 0)
                {
                    string target = k.TpSrc == PacketParser.NdSolicit ? Get("icmpv6.nd.ns.target_address") : Get("icmpv6.nd.na.target_address");
                    Assert.True(k.NdTarget == Addr(target), ctx);
                }
                if (l.Has(LayerFlags.Icmpv6) && (k.ArpSha.Value | k.ArpTha.Value) != 0)
                    Assert.Equal(Get("icmpv6.opt.linkaddr"), (k.ArpSha.Value != 0 ? k.ArpSha : k.ArpTha).ToString());
                if (l.Has(LayerFlags.Arp))
                {
                    Assert.Equal(Get("arp.src.hw_mac"), k.ArpSha.ToString());
                    Assert.Equal(Get("arp.dst.hw_mac"), k.ArpTha.ToString());
                }
            }
            Assert.True(compared > 30, $"only {compared} fields compared");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
