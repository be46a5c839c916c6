using System.Runtime.CompilerServices;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.Ports.AfXdp;
using Softswitch.Ports.PcapFile;
using Softswitch.TestKit;
using Xunit.Abstractions;

namespace Softswitch.Ports.Tests.AfXdp;

/// <summary>
/// The flow program's key against the datapath's parser, frame by frame: every frame of the parser's corpus (Ethernet
/// and 802.2 SNAP, untagged and tagged, IPv4 with options and fragments, truncations, runts, ARP, LLDP, STP) and of
/// the shapes the offload must not key (IPv6 with extension headers and fragments, neighbour discovery, two tags,
/// MPLS, PBB). For each, user space places the key it computes from the parser's match (as it places an offloaded
/// flow's); the program, run by the kernel on each frame with every key in its map, either finds that frame's own key
/// or hands the frame to user space. A hit on another frame's key would be a flow applied to packets it does not match.
/// Frames the program is meant to key (IPv4 without options or fragments, any protocol; IPv6 without extension headers,
/// TCP, UDP or ICMPv6 but neighbour discovery; Ethernet II, untagged or one 802.1Q tag) must hit, and no other.
/// </summary>
public sealed class XdpKeyDifferentialTests(ITestOutputHelper output)
{
    private static string CorpusPcap([CallerFilePath] string thisFile = "")
        => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(thisFile)!, "..", "..", "Datapath.Tests", "Corpus", "parser-corpus.pcap"));

    private const string Macs = "020000000002 020000000001";
    private const string V6 = "20010db8000000000000000000000001 20010db8000000000000000000000002";

    /// <summary>The shapes the corpus lacks, by name.</summary>
    private static IEnumerable<(string Name, byte[] Frame)> Extras()
    {
        static byte[] H(string hex) => Convert.FromHexString(hex.Replace(" ", ""));
        const string Ip4Udp = "45000024 00010000 4011 0000 0a000001 0a000002 04d20050 0010 0000 deadbeefcafebabe";
        const string Tcp = "04d20050 00000001 00000000 50022000 0000 0000";
        yield return ("ipv6-tcp", H(Macs + "86dd 60000000 0014 06 40" + V6 + Tcp));
        yield return ("ipv6-udp", H(Macs + "86dd 60000000 0010 11 40" + V6 + "04d20050 0010 0000 0102030405060708"));
        yield return ("ipv6-icmpv6-echo", H(Macs + "86dd 60000000 0008 3a 40" + V6 + "80000000 00010001"));
        yield return ("ipv6-nd-ns", H(Macs + "86dd 60000000 0018 3a ff" + V6 + "87000000 00000000 20010db8000000000000000000000002"));
        yield return ("ipv6-hbh-tcp", H(Macs + "86dd 60000000 001c 00 40" + V6 + "0600 0000 00000000" + Tcp));
        yield return ("ipv6-frag-first-tcp", H(Macs + "86dd 60000000 001c 2c 40" + V6 + "0600 0001 00000001" + Tcp));
        yield return ("ipv6-frag-later", H(Macs + "86dd 60000000 001c 2c 40" + V6 + "0600 0100 00000001" + Tcp));
        yield return ("ipv6-tagged-udp", H(Macs + "8100 2005 86dd 60000000 0010 11 40" + V6 + "04d20050 0010 0000 0102030405060708"));
        yield return ("qinq-udp", H(Macs + "88a8 0064 8100 0005 0800" + Ip4Udp));
        yield return ("two-8021q-udp", H(Macs + "8100 0064 8100 0005 0800" + Ip4Udp));
        yield return ("mpls-udp", H(Macs + "8847 00064140" + Ip4Udp));
        yield return ("mpls2-udp", H(Macs + "8847 00064040 000c8140" + Ip4Udp));
        yield return ("pbb-udp", H("0a000000bb02 0a000000bb01 88e7 00123456" + Macs + "0800" + Ip4Udp));
        yield return ("tagged-ipv4-udp", H(Macs + "8100 a005 0800" + Ip4Udp));
    }

    /// <summary>Whether the program is meant to key <paramref name="f"/> (see the class summary).</summary>
    private static bool Keyable(byte[] f, in FlowKey k, in PacketLayers l, ParseError e)
    {
        if (e != ParseError.None || l.Has(LayerFlags.Mpls) || l.Has(LayerFlags.Pbb)) return false;
        bool oneTag = l.Vlan == PacketLayers.Absent ? l.EthType == 12 : l.Vlan == 12 && l.EthType == 16 && f[12] == 0x81 && f[13] == 0;
        // An Ethernet II type, not an 802.3 length with an LLC/SNAP header after it (the program reads only the former).
        if (!oneTag || l.L3 != l.EthType + 2) return false;
        if (l.Has(LayerFlags.Ipv4))
            return f[l.L3] == 0x45 && !l.Has(LayerFlags.Fragment);   // any protocol: one without ports is keyed with 0s
        if (l.Has(LayerFlags.Ipv6))
            return l.L4 != PacketLayers.Absent && l.L4 == l.L3 + 40 && (l.Has(LayerFlags.Tcp) || l.Has(LayerFlags.Udp) || (l.Has(LayerFlags.Icmpv6) && k.TpSrc is not (135 or 136)));
        return false;
    }

    [NetnsFact]
    public void TheProgramFindsEachFramesOwnKey_OrHandsTheFrameToUserSpace()
    {
        // Runts under an Ethernet header never reach an XDP program (the kernel's test run refuses them too).
        var frames = PcapReader.ReadAll(CorpusPcap()).Records.Select((r, i) => ($"corpus {i}", r.Data)).Concat(Extras())
            .Where(f => f.Item2.Length >= 14).ToList();
        Assert.True(frames.Count > 600, $"{frames.Count} frames");
        using var ns = Netns.Create();
        int ifindex = int.Parse(File.ReadAllText($"/sys/class/net/{ns.HostIf}/ifindex"));
        using var maps = new XdpFlowMaps(XdpOffload.DefaultCapacity);

        // Every frame's key, as user space computes it from the parser's match, each distinct key in a slot of its own.
        var slots = new Dictionary<XdpFlowKey, uint>();
        var parsed = new List<(string Name, byte[] Frame, uint Slot, bool Keyable)>();
        foreach (var (name, frame) in frames)
        {
            var e = PacketParser.Parse(frame, 1, out FlowKey k, out PacketLayers l);
            var key = XdpOffloadTarget.KeyOf(k, ifindex, withAddresses: false);
            if (!slots.TryGetValue(key, out uint slot))
            {
                slot = (uint)slots.Count;
                slots.Add(key, slot);
                maps.ClearCounters(slot);
                Assert.True(maps.Put(key, new XdpFlowAction(XdpFlowProgram.OutInPort, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, slot)), $"{name}: its bucket is full");
            }
            parsed.Add((name, frame, slot, Keyable(frame, k, l, e)));
        }

        using var run = new XdpTestRun(maps, ifindex);
        var o = new byte[2048];
        int hits = 0, keyable = 0;
        var wrong = new List<string>();
        foreach (var (name, frame, slot, mustHit) in parsed)
        {
            var before = Enumerable.Range(0, slots.Count).Select(s => maps.ReadCounters((uint)s).Packets).ToArray();
            int verdict = run.Run(frame, o.AsSpan(0, frame.Length));
            var grew = Enumerable.Range(0, slots.Count).Where(s => maps.ReadCounters((uint)s).Packets != before[s]).ToArray();
            if (mustHit) keyable++;
            if (verdict == XdpTestRun.XdpTx)
            {
                hits++;
                if (!mustHit) wrong.Add($"{name}: found by the program, which is not meant to key it: {Convert.ToHexString(frame)}");
                if (grew.Length != 1 || grew[0] != slot) wrong.Add($"{name}: hit slot(s) {string.Join(',', grew)}, its own is {slot}: {Convert.ToHexString(frame)}");
            }
            else if (verdict != XdpTestRun.XdpPass || grew.Length != 0)
            {
                wrong.Add($"{name}: verdict {verdict}, counted in {string.Join(',', grew)}");
            }
            else if (mustHit)
            {
                wrong.Add($"{name}: a frame the program keys went to user space: {Convert.ToHexString(frame)}");
            }
        }
        output.WriteLine($"{frames.Count} frames, {slots.Count} distinct keys, {hits} found by the program, {keyable} it must find");
        Assert.True(wrong.Count == 0, string.Join('\n', wrong.Take(20)));
        Assert.True(keyable > 60, $"only {keyable} keyable frames");
        Assert.Equal(keyable, hits);
    }
}
