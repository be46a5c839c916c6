using System.Text;
using Softswitch.OfWire.Of10;

namespace Softswitch.OfWire.Tests.Of10;

/// <summary>
/// The minimised wire fuzz corpus, Corpus/wire-corpus.txt: one input per distinct decoder outcome (framing status;
/// the decoded message type, stats type and action types, and for Nicira's messages what the NXM flow format's decoders
/// answer; or the OFPT_ERROR type and code the decoder answers),
/// the shortest input found for it, plus regression inputs kept whatever their outcome. Lines are
/// <c>OUTCOME&lt;TAB&gt;HEX</c>; a line whose outcome starts with <c>regression:</c> is kept by the minimiser.
/// Regenerate with <c>SSW_WRITE_CORPUS=1 dotnet test tests/OfWire.Tests --filter WireCorpusTests</c>.
/// </summary>
public static class WireCorpus
{
    public const string FileName = "wire-corpus.txt";
    public const string RegressionPrefix = "regression:";
    public const int Seed = 0x0c0_0a15;
    public const int Mutations = 150_000;

    /// <summary>What the decoder does with <paramref name="input"/>, as a short stable string.</summary>
    public static string Outcome(ReadOnlySpan<byte> input)
    {
        var st = OfpFraming.TryGetFrame(input, out _, out int len);
        if (st != OfpFrameStatus.Complete) return $"frame {st}";
        // Unknown types are one outcome: they all take the same path.
        string type = Enum.IsDefined((OfpType)input[1]) ? ((OfpType)input[1]).ToString() : "unknown-type";
        if (!OfpMessage.TryDecode(input[..len], out OfpMessage? msg, out OfpError err))
            return $"error {type} {err.Type}/{err.Code}";
        var sb = new StringBuilder("ok ").Append(msg.Type);
        if (msg is OfpStatsRequest rq) sb.Append(' ').Append(rq.StatsType);
        if (msg is OfpStatsReply rp) sb.Append(' ').Append(rp.StatsType);
        List<OfpAction>? actions = msg switch { OfpFlowMod fm => fm.Actions, OfpPacketOut po => po.Actions, _ => null };
        if (actions is not null)
            sb.Append(" [").Append(string.Join(',', actions.Select(a => a.Type).Distinct().Order())).Append(']');
        // Nicira's messages and statistics: what the NXM flow format's decoders make of them.
        string nx = WireFuzzTargets.Nicira(input[..len]);
        if (nx.Length > 0) sb.Append(' ').Append(nx);
        return sb.ToString();
    }

    /// <summary>The golden vectors and <paramref name="mutations"/> seeded mutations of them.</summary>
    public static IEnumerable<byte[]> Candidates(int seed, int mutations)
    {
        var vectors = VectorFile.All;
        foreach (var v in vectors) yield return v.Bytes;
        var rng = new Random(seed);
        var buffer = new byte[70_000];
        for (int i = 0; i < mutations; i++)
        {
            int len = FuzzTests.Mutate(vectors[i % vectors.Count].Bytes, buffer, rng, vectors);
            yield return buffer.AsSpan(0, len).ToArray();
        }
    }

    /// <summary>For each outcome the shortest input (the first among equals), ordered by outcome; regression entries
    /// of <paramref name="keep"/> stay whatever their outcome.</summary>
    public static List<(string Outcome, byte[] Bytes)> Minimize(IEnumerable<byte[]> inputs, IEnumerable<(string Outcome, byte[] Bytes)>? keep = null)
    {
        var best = new Dictionary<string, byte[]>();
        foreach (var b in inputs)
        {
            string o = Outcome(b);
            if (!best.TryGetValue(o, out var cur) || b.Length < cur.Length) best[o] = b;
        }
        var result = best.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => (kv.Key, kv.Value)).ToList();
        if (keep is not null) result.AddRange(keep.Where(e => e.Outcome.StartsWith(RegressionPrefix, StringComparison.Ordinal)));
        return result;
    }

    public static string SourcePath()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Softswitch.sln"))) return Path.Combine(d.FullName, "tests", "OfWire.Tests", "Corpus", FileName);
        throw new InvalidOperationException("Softswitch.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>The committed corpus, copied next to the test binaries at build time.</summary>
    public static List<(string Outcome, byte[] Bytes)> Load(string? path = null)
    {
        path ??= Path.Combine(AppContext.BaseDirectory, "Corpus", FileName);
        var list = new List<(string, byte[])>();
        foreach (var line in File.ReadLines(path))
        {
            if (line.Length == 0 || line[0] == '#') continue;
            int tab = line.LastIndexOf('\t');
            list.Add((line[..tab], Convert.FromHexString(line[(tab + 1)..])));
        }
        return list;
    }

    public static void Save(string path, IEnumerable<(string Outcome, byte[] Bytes)> entries)
    {
        var sb = new StringBuilder();
        sb.Append("# OpenFlow 1.0 wire fuzz corpus, minimised: one input per decoder outcome (the shortest found), then\n")
          .Append("# regression inputs. OUTCOME<TAB>HEX. Regenerate: SSW_WRITE_CORPUS=1 dotnet test tests/OfWire.Tests --filter WireCorpusTests\n");
        foreach (var (o, b) in entries) sb.Append(o).Append('\t').Append(Convert.ToHexString(b)).Append('\n');
        File.WriteAllText(path, sb.ToString());
    }
}
