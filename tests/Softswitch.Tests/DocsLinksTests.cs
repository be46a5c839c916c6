using System.Text.RegularExpressions;

namespace Softswitch.Tests;

/// <summary>
/// The README and the pages under docs/ link to each other and to images by relative paths: every such link names a
/// file that exists and, with a #fragment, a heading of that file (GitHub's anchor: lower case, punctuation dropped,
/// spaces as hyphens).
/// </summary>
public sealed partial class DocsLinksTests
{
    private static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "README.md")) && Directory.Exists(Path.Combine(d.FullName, "docs"))) return d.FullName;
        throw new InvalidOperationException("no README.md and docs/ above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"!?\[[^\]]*\]\(([^)\s]+)\)")]
    private static partial Regex Link();

    [GeneratedRegex(@"```.*?```", RegexOptions.Singleline)]
    private static partial Regex CodeBlock();

    [GeneratedRegex(@"[^\w\- ]")]
    private static partial Regex NotInAnchor();

    private static string Anchor(string heading) => NotInAnchor().Replace(heading.Trim().ToLowerInvariant(), "").Replace(' ', '-');

    [Fact]
    public void EveryRelativeLinkResolves()
    {
        string root = RepoRoot();
        var pages = Directory.GetFiles(Path.Combine(root, "docs"), "*.md").Prepend(Path.Combine(root, "README.md")).ToList();
        var broken = new List<string>();
        int links = 0;
        foreach (var page in pages)
        {
            string text = CodeBlock().Replace(File.ReadAllText(page), "");
            foreach (Match m in Link().Matches(text))
            {
                string target = m.Groups[1].Value;
                if (target.Contains("://", StringComparison.Ordinal) || target.StartsWith("mailto:", StringComparison.Ordinal)) continue;
                links++;
                int hash = target.IndexOf('#', StringComparison.Ordinal);
                string path = hash < 0 ? target : target[..hash];
                string file = path.Length == 0 ? page : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(page)!, path));
                string where = $"{Path.GetRelativePath(root, page)}: {target}";
                if (!File.Exists(file))
                {
                    broken.Add(where + " (no such file)");
                    continue;
                }
                if (hash < 0) continue;
                var anchors = File.ReadLines(file).Where(l => l.StartsWith('#')).Select(l => Anchor(l.TrimStart('#')));
                if (!anchors.Contains(target[(hash + 1)..])) broken.Add(where + " (no such heading)");
            }
        }
        Assert.True(links > 20, $"only {links} relative links found: the pattern no longer reads the pages");
        Assert.True(broken.Count == 0, string.Join("\n", broken));
    }
}
