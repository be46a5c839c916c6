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
