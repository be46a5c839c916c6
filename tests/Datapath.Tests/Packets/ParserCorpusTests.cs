using System.Text;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Tests.Actions;

namespace Softswitch.Datapath.Tests;

/// <summary>
/// The pcap corpus in Corpus/ (built with scapy by Corpus/gen_corpus.py, committed): every frame's parse against
/// the expected 12-tuple, error and offsets; scapy's checksums against ours; and scapy-built rewrite goldens.
/// </summary>
public class ParserCorpusTests
{
    private static string CorpusFile(string name) => Path.Combine(Pcap.CorpusDir(), name);

    internal static string Describe(int index, string name, ParseError error, in FlowKey k, in PacketLayers l)
    {
        static string Off(ushort o) => o == PacketLayers.Absent ? "-" : o.ToString();
        var flags = new List<string>();
        foreach (LayerFlags f in Enum.GetValues<LayerFlags>())
            if (f != LayerFlags.None && l.Has(f)) flags.Add(f.ToString());
        return new StringBuilder()
            .Append($"{index} {name} error={error} dl_src={k.DlSrc} dl_dst={k.DlDst} dl_vlan=0x{k.DlVlan:x4} ")
            .Append($"pcp={k.DlVlanPcp} dl_type=0x{k.DlType:x4} tos={k.NwTos} proto={k.NwProto} nw_src={Ipv4.Format(k.NwSrc)} ")
            .Append($"nw_dst={Ipv4.Format(k.NwDst)} tp_src={k.TpSrc} tp_dst={k.TpDst} vlan={Off(l.Vlan)} l3={Off(l.L3)} l4={Off(l.L4)} ")
            .Append($"flags={(flags.Count == 0 ? "None" : string.Join(",", flags))}")
            .ToString();
    }

    [Fact]
    public void CorpusParsesAsExpected()
    {
        var frames = Pcap.Read(CorpusFile("parser-corpus.pcap"));
        var expected = File.ReadAllLines(CorpusFile("parser-corpus.expected"));
        Assert.Equal(expected.Length, frames.Count);
        Assert.True(frames.Count > 500);
        var failures = new List<string>();
        for (int i = 0; i < frames.Count; i++)
        {
            string name = expected[i].Split(' ')[1];
            var err = PacketParser.Parse(frames[i], 3, out var key, out var layers, tunId: 0x77);
            Assert.Equal((ushort)3, key.InPort);
            Assert.Equal(0x77UL, key.TunId);
            string actual = Describe(i, name, err, key, layers);
            if (actual != expected[i]) failures.Add($"expected {expected[i]}\n  actual {actual}\n  frame {Convert.ToHexString(frames[i])}");
        }
        Assert.True(failures.Count == 0, $"{failures.Count} mismatches:\n" + string.Join("\n", failures.Take(10)));
    }

    [Fact]
    public void ScapyChecksumsAgreeWithOurs()
    {
        int checkedFrames = 0;
        foreach (var f in Pcap.Read(CorpusFile("parser-corpus.pcap")))
        {
            if (PacketParser.Parse(f, 0, out _, out var l) != ParseError.None || !l.Has(LayerFlags.Ipv4)) continue;
            int ihl = (f[l.L3] & 0xF) * 4;
            Assert.True(Checksum.IsValid(f.AsSpan(l.L3, ihl)), Convert.ToHexString(f));
            Ref.AssertChecksums(f);
            checkedFrames++;
        }
        Assert.True(checkedFrames > 300);
    }

    [Fact]
    public void PcapWriterRoundTrips()
    {
        var frames = Pcap.Read(CorpusFile("parser-corpus.pcap"));
        string tmp = Path.Combine(Path.GetTempPath(), $"softswitch-corpus-{Environment.ProcessId}-{Guid.NewGuid():N}.pcap");
        try
        {
            Pcap.Write(tmp, frames);
            var back = Pcap.Read(tmp);
            Assert.Equal(frames.Count, back.Count);
            for (int i = 0; i < frames.Count; i++) Assert.Equal(frames[i], back[i]);
            Assert.Equal(File.ReadAllBytes(CorpusFile("parser-corpus.pcap")), File.ReadAllBytes(tmp));
        }
        finally
        {
            File.Delete(tmp);
        }
    }

    [Fact]
    public void PcapReaderRejectsGarbage()
    {
        Assert.Throws<InvalidDataException>(() => Pcap.Read(new byte[10]));
        Assert.Throws<InvalidDataException>(() => Pcap.Read(new byte[24]));
        var ok = File.ReadAllBytes(CorpusFile("parser-corpus.pcap"));
        Assert.Throws<InvalidDataException>(() => Pcap.Read(ok.AsSpan(0, 24 + 16 + 3)));
    }

    internal static FlowAction ParseAction(string spec)
    {
        var parts = spec.Split('=');
        string v = parts.Length > 1 ? parts[1] : "";
        return parts[0] switch
        {
            "set_nw_src" => FlowAction.SetNwSrc(Ipv4.Parse(v)),
            "set_nw_dst" => FlowAction.SetNwDst(Ipv4.Parse(v)),
            "set_nw_tos" => FlowAction.SetNwTos(byte.Parse(v)),
            "set_tp_src" => FlowAction.SetTpSrc(ushort.Parse(v)),
            "set_tp_dst" => FlowAction.SetTpDst(ushort.Parse(v)),
            "set_dl_src" => FlowAction.SetDlSrc(MacAddress.Parse(v)),
            "set_dl_dst" => FlowAction.SetDlDst(MacAddress.Parse(v)),
            "set_vlan_vid" => FlowAction.SetVlanVid(ushort.Parse(v)),
            "set_vlan_pcp" => FlowAction.SetVlanPcp(byte.Parse(v)),
            "strip_vlan" => FlowAction.StripVlan(),
            _ => throw new FormatException(spec),
        };
    }

    /// <summary>Before/after pairs built by scapy (after = field changed, checksums recomputed from scratch):
    /// our incremental rewrite must produce the same bytes.</summary>
    [Fact]
    public void RewritesMatchScapyGoldens()
    {
        var frames = Pcap.Read(CorpusFile("rewrite-golden.pcap"));
        var lines = File.ReadAllLines(CorpusFile("rewrite-golden.expected"));
        Assert.Equal(lines.Length * 2, frames.Count);
        var failures = new List<string>();
        for (int i = 0; i < lines.Length; i++)
        {
            var parts = lines[i].Split(' ');
            var action = ParseAction(parts[2]);
            byte[] before = frames[2 * i], expect = frames[2 * i + 1];
            // scapy's bytes are not padded; a pop that takes a frame below Ethernet's 60 bytes pads it back to them.
            if (parts[2] == "strip_vlan" && before.Length >= 60 && expect.Length < 60) expect = [.. expect, .. new byte[60 - expect.Length]];
            var b = new Batch(before);
            b.Run(action, FlowAction.Output(1));
            byte[] got = b.Frame(0);
            if (!got.AsSpan().SequenceEqual(expect))
                failures.Add($"{lines[i]}\n  expect {Convert.ToHexString(expect)}\n  got    {Convert.ToHexString(got)}");
        }
        Assert.True(failures.Count == 0, $"{failures.Count} of {lines.Length} differ:\n" + string.Join("\n", failures.Take(8)));
    }
}
