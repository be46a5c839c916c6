using System.Text;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Tests.Actions;
using Xunit.Abstractions;

namespace Softswitch.Datapath.Tests;

/// <summary>
/// The minimised parser fuzz corpus, Corpus/parser-fuzz-corpus.txt: one frame per parser outcome (exit reason,
/// layer flags, and whether a VLAN tag, an L3 and an L4 header were found), the shortest found among the seeds of
/// <see cref="ParserFuzzTests"/> and their seeded mutations. Lines are <c>OUTCOME&lt;TAB&gt;HEX</c>. Each frame must
/// keep its outcome (a golden regression) and pass the parser's invariants; the corpus must stay minimal and cover
/// every outcome the mutator reaches at the fixed seed. Regenerate with
/// <c>SSW_WRITE_CORPUS=1 dotnet test tests/Datapath.Tests --filter ParserFuzzCorpusTests</c>.
/// </summary>
public class ParserFuzzCorpusTests(ITestOutputHelper output)
{
    private const string FileName = "parser-fuzz-corpus.txt";
    private const int Seed = 0x9a25e;
    private const int Mutations = 200_000;

    internal static string Outcome(byte[] f)
    {
        var e = PacketParser.Parse(f, 1, out _, out var l);
        return $"{e} {l.Flags} vlan={l.Vlan != PacketLayers.Absent} l3={l.L3 != PacketLayers.Absent} l4={l.L4 != PacketLayers.Absent}";
    }

    private static List<(string Outcome, byte[] Frame)> Minimize()
    {
        var best = new Dictionary<string, byte[]>();
        void Offer(byte[] f)
        {
            string o = Outcome(f);
            if (!best.TryGetValue(o, out var cur) || f.Length < cur.Length) best[o] = f;
        }
        var seeds = ParserFuzzTests.Seeds();
        foreach (var s in seeds) Offer(s);
        var r = new Random(Seed);
        for (int i = 0; i < Mutations; i++) Offer(ParserFuzzTests.Mutate(seeds[i % seeds.Count], r));
        return best.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => (kv.Key, kv.Value)).ToList();
    }

    private static List<(string Outcome, byte[] Frame)> Load() =>
        File.ReadLines(Path.Combine(Pcap.CorpusDir(), FileName)).Where(l => l.Length > 0 && l[0] != '#')
            .Select(l => (l[..l.LastIndexOf('\t')], Convert.FromHexString(l[(l.LastIndexOf('\t') + 1)..]))).ToList();

    [Fact]
    public void EveryCorpusFrameKeepsItsOutcome_AndTheLayersLieInsideIt()
    {
        var corpus = Load();
        Assert.True(corpus.Count > 20, $"only {corpus.Count} frames");
        var changed = new List<string>();
        foreach (var (outcome, f) in corpus)
        {
            if (Outcome(f) is var now && now != outcome) changed.Add($"{Convert.ToHexString(f)}: was '{outcome}', now '{now}'");
            var e = PacketParser.Parse(f, 1, out var k, out var l);
            ParserFuzzTests.CheckLayers(f, e, k, l);
        }
        Assert.True(changed.Count == 0, $"{changed.Count} outcomes changed (if on purpose, regenerate: SSW_WRITE_CORPUS=1):\n" + string.Join("\n", changed));
    }

    [Fact]
    public void CorpusIsMinimal_AndCoversEveryOutcomeTheMutatorReaches()
    {
        var fresh = Minimize();
        if (Environment.GetEnvironmentVariable("SSW_WRITE_CORPUS") == "1")
        {
            var sb = new StringBuilder("# Parser fuzz corpus, minimised: one frame per parser outcome (the shortest found). OUTCOME<TAB>HEX.\n")
                .Append("# Regenerate: SSW_WRITE_CORPUS=1 dotnet test tests/Datapath.Tests --filter ParserFuzzCorpusTests\n");
            foreach (var (o, f) in fresh) sb.Append(o).Append('\t').Append(Convert.ToHexString(f)).Append('\n');
            File.WriteAllText(Path.Combine(Pcap.CorpusDir(), FileName), sb.ToString());
        }
        var corpus = Load();
        var dup = corpus.GroupBy(e => e.Outcome).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.True(dup.Count == 0, "outcomes kept twice: " + string.Join("; ", dup));
        var have = corpus.Select(e => e.Outcome).ToHashSet();
        var missing = fresh.Where(e => !have.Contains(e.Outcome)).Select(e => e.Outcome).ToList();
        output.WriteLine($"{corpus.Count} outcomes in the corpus ({corpus.Sum(e => e.Frame.Length)} bytes); {fresh.Count} reached by {Mutations} mutations");
        Assert.True(missing.Count == 0, $"{missing.Count} outcomes the mutator reaches are not in the corpus (regenerate: SSW_WRITE_CORPUS=1): " + string.Join("; ", missing));
    }
}
