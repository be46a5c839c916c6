using System.Text.RegularExpressions;

namespace Softswitch.Tests;

/// <summary>
/// scripts/test.sh checks, after installing the dependencies, that every program a test needs is there (a failure in CI):
/// its list must name each program a test requires with [RequiresTool], and no test may skip itself by returning early.
/// </summary>
public sealed partial class TestToolListTests
{
    private static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "scripts", "test.sh"))) return d.FullName;
        throw new InvalidOperationException("no scripts/test.sh above " + AppContext.BaseDirectory);
    }

    private static IEnumerable<string> TestSources()
        => Directory.EnumerateFiles(Path.Combine(RepoRoot(), "tests"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                     && !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal));

    [GeneratedRegex(@"^tools=\(([^)]*)\)", RegexOptions.Multiline)]
    private static partial Regex ToolList();

    [GeneratedRegex(@"RequiresTool\(""([^""]+)""\)")]
    private static partial Regex RequiresTool();

    [Fact]
    public void EveryRequiredToolIsInTheListTestShChecks()
    {
        var list = ToolList().Match(File.ReadAllText(Path.Combine(RepoRoot(), "scripts", "test.sh")));
        Assert.True(list.Success, "scripts/test.sh has no tools=(...) list");
        var listed = list.Groups[1].Value.Split((char[])[' ', '\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries).ToHashSet();
        var required = TestSources().SelectMany(f => RequiresTool().Matches(File.ReadAllText(f)).Select(m => (Tool: m.Groups[1].Value, File: Path.GetFileName(f))))
            .ToList();
        Assert.Contains(required, r => r.Tool == "ovs-ofctl");
        var unlisted = required.Where(r => !listed.Contains(r.Tool)).Select(r => $"{r.Tool} ({r.File})").Distinct().ToList();
        Assert.True(unlisted.Count == 0, "required by a test but not in scripts/test.sh's tools: " + string.Join(", ", unlisted));
    }

    // A test method's head: its [Fact]/[Theory] (or a TestKit kind of either), any more attributes, then its signature.
    [GeneratedRegex(@"\[\w*(Fact|Theory)\b[^\]]*\](\s*\[[^\]]*\])*\s*public [^{;=]*\(")]
    private static partial Regex TestMethodHead();

    // An early return on something the machine may lack: a file or program, a platform capability, root, a variable.
    [GeneratedRegex(@"if \((?<cond>[^;{}]*(Exists|IsSupported|Available|Installed|IsPrivilegedProcess|IsLinux|GetEnvironmentVariable|\bnull\b)[^;{}]*)\)\s*return;")]
    private static partial Regex CapabilityReturn();

    /// <summary>The body of the method whose head ends at <paramref name="from"/>: its braces, or its expression up to the ';'.</summary>
    private static string Body(string text, int from)
    {
        int brace = text.IndexOf('{', from), arrow = text.IndexOf("=>", from, StringComparison.Ordinal);
        if (arrow >= 0 && (brace < 0 || arrow < brace)) return text[arrow..text.IndexOf(';', arrow)];
        int depth = 0;
        for (int i = brace; i < text.Length; i++)
        {
            if (text[i] == '{') depth++;
            else if (text[i] == '}' && --depth == 0) return text[brace..(i + 1)];
        }
        return text[brace..];
    }

    /// <summary>Early returns of test methods on a missing tool or capability in <paramref name="text"/>, as "Method: condition".</summary>
    private static IEnumerable<string> CapabilityReturns(string text)
        => TestMethodHead().Matches(text).SelectMany(h =>
        {
            string name = text[..(h.Index + h.Length - 1)].Split(' ', '\n', '\t').Last();
            return CapabilityReturn().Matches(Body(text, h.Index + h.Length)).Select(r => $"{name}: {r.Groups["cond"].Value}");
        });

    [Fact]
    public void TheEarlyReturnCheckFindsTheShapesItLooksFor()
    {
        const string sample = """
            [Fact]
            public void A() { if (!CpuPlacement.IsSupported) return; Assert.True(true); }
            [Theory, InlineData(1)]
            [Trait("k", "v")]
            public async Task B(int x) { await Task.Yield(); if (!File.Exists("/usr/bin/tshark") && x > 0) return; }
            [Fact]
            public void C() { if (tool == null) return; }
            private static void Helper() { if (!File.Exists("f")) return; }
            [NetnsFact]
            public void D() => Run(() => { if (x is null) return; });
            [Fact]
            public void E() { if (n != 2) return; }
            """;
        Assert.Equal(["A: !CpuPlacement.IsSupported", "B: !File.Exists(\"/usr/bin/tshark\") && x > 0", "C: tool == null"],
            CapabilityReturns(sample).ToArray());
    }

    [Fact]
    public void NoTestReturnsEarlyWhenAToolOrCapabilityIsMissing()
    {
        // Such a test reports passed without having run; ToolFact with RequiresTool (or a fact that sets Skip) says why.
        var found = TestSources().Where(f => Path.GetFileName(f) != nameof(TestToolListTests) + ".cs")
            .SelectMany(f => CapabilityReturns(File.ReadAllText(f)).Select(r => $"{Path.GetFileName(f)}: {r}")).ToList();
        Assert.True(found.Count == 0, string.Join("; ", found));
    }

    [Fact]
    public void NoTestSkipsItselfByReturning()
    {
        // The patterns that once made a test without its tool report passed; RequiresTool with ToolFact says why instead.
        string[] patterns = ["Console.WriteLine(\"SKIPPED", "Console.WriteLine($\"SKIPPED", "ExternalTool.Require("];
        var found = TestSources().Where(f => Path.GetFileName(f) != nameof(TestToolListTests) + ".cs")
            .SelectMany(f => patterns.Where(File.ReadAllText(f).Contains).Select(p => $"{Path.GetFileName(f)}: {p}")).ToList();
        Assert.True(found.Count == 0, string.Join("; ", found));
    }
}
