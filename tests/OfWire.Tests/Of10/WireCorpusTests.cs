using Xunit.Abstractions;

namespace Softswitch.OfWire.Tests.Of10;

/// <summary>The committed, minimised wire corpus (<see cref="WireCorpus"/>): golden outcomes, minimality and coverage.</summary>
public class WireCorpusTests(ITestOutputHelper output)
{
    [Fact]
    public void EveryCorpusInputKeepsItsOutcome_AndTheFuzzTargetsHold()
    {
        var corpus = WireCorpus.Load();
        Assert.True(corpus.Count > 50, $"only {corpus.Count} corpus inputs");
        var failures = new List<string>();
        foreach (var (outcome, bytes) in corpus)
        {
            // Regression entries record why they were kept; their outcome is checked as "never throws" only.
            if (!outcome.StartsWith(WireCorpus.RegressionPrefix, StringComparison.Ordinal) && WireCorpus.Outcome(bytes) is var now && now != outcome)
                failures.Add($"{Convert.ToHexString(bytes)}: was '{outcome}', now '{now}'");
            WireFuzzTargets.Message(bytes);
            if (bytes.Length > OfpHeader.Size)
            {
                WireFuzzTargets.Actions(bytes.AsSpan(OfpHeader.Size));
                WireFuzzTargets.Structs(bytes.AsSpan(OfpHeader.Size));
            }
        }
        Assert.True(failures.Count == 0, $"{failures.Count} outcomes changed (if on purpose, regenerate the corpus: SSW_WRITE_CORPUS=1):\n"
            + string.Join("\n", failures.Take(20)));
    }

    [Fact]
    public void CorpusIsMinimal_AndCoversEveryOutcomeTheMutatorReaches()
    {
        var committed = WireCorpus.Load();
        var fresh = WireCorpus.Minimize(WireCorpus.Candidates(WireCorpus.Seed, WireCorpus.Mutations), committed);
        if (Environment.GetEnvironmentVariable("SSW_WRITE_CORPUS") == "1")
        {
            WireCorpus.Save(WireCorpus.SourcePath(), fresh);
            output.WriteLine($"wrote {fresh.Count} inputs to {WireCorpus.SourcePath()}");
            committed = fresh;
        }
        var plain = committed.Where(e => !e.Outcome.StartsWith(WireCorpus.RegressionPrefix, StringComparison.Ordinal)).ToList();
        var dup = plain.GroupBy(e => e.Outcome).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.True(dup.Count == 0, "outcomes kept twice: " + string.Join("; ", dup));
        var have = plain.Select(e => e.Outcome).ToHashSet();
        var missing = fresh.Select(e => e.Outcome).Where(o => !o.StartsWith(WireCorpus.RegressionPrefix, StringComparison.Ordinal) && !have.Contains(o)).ToList();
        output.WriteLine($"{plain.Count} outcomes in the corpus ({plain.Sum(e => e.Bytes.Length)} bytes), {fresh.Count} found by {WireCorpus.Mutations} mutations");
        Assert.True(missing.Count == 0, $"{missing.Count} outcomes the mutator reaches are not in the corpus (regenerate: SSW_WRITE_CORPUS=1): "
            + string.Join("; ", missing.Take(20)));
    }
}
