using System.Globalization;
using System.Text.RegularExpressions;

namespace Softswitch.Tests;

/// <summary>
/// A strict reader of the OpenMetrics 1.0 text format (what a Prometheus server checks when it scrapes with
/// <c>Accept: application/openmetrics-text</c>): metadata lines (<c># TYPE</c>, <c># HELP</c>, <c># UNIT</c>) declare a
/// family before its samples, each family appears once, a sample's name is its family's name plus a suffix its type
/// allows (counter: <c>_total</c>, <c>_created</c>), label values are quoted and escaped, and the exposition ends with
/// <c># EOF</c>. Fails the test on the first line that breaks a rule, quoting it.
/// </summary>
internal sealed partial class OpenMetricsText
{
    public Dictionary<string, string> Types { get; } = new();
    public Dictionary<string, string> Units { get; } = new();
    /// <summary>Samples by name and label set as written (<c>name{a="1",b="2"}</c>, labels sorted by name).</summary>
    public Dictionary<string, double> Samples { get; } = new();

    [GeneratedRegex(@"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*=""(?:[^""\\\n]|\\[\\""n])*""(?:,[a-zA-Z_][a-zA-Z0-9_]*=""(?:[^""\\\n]|\\[\\""n])*"")*)?\})? (-?[0-9][0-9.eE+-]*|NaN|\+Inf|-Inf)( -?[0-9.eE+-]+)?$")]
    private static partial Regex SampleLine();

    [GeneratedRegex(@"([a-zA-Z_][a-zA-Z0-9_]*)=""((?:[^""\\]|\\.)*)""")]
    private static partial Regex LabelPair();

    private static readonly Dictionary<string, string[]> s_suffixes = new()
    {
        ["counter"] = ["_total", "_created"],
        ["gauge"] = [""],
        ["info"] = ["_info"],
        ["stateset"] = [""],
        ["unknown"] = [""],
        ["histogram"] = ["_bucket", "_count", "_sum", "_created"],
        ["gaugehistogram"] = ["_gbucket", "_gcount", "_gsum"],
        ["summary"] = ["", "_count", "_sum", "_created"],
    };

    public static OpenMetricsText Parse(string body)
    {
        var m = new OpenMetricsText();
        Assert.EndsWith("# EOF\n", body);
        var lines = body[..^"# EOF\n".Length].Split('\n');
        Assert.Equal("", lines[^1]);
        string? current = null;
        var closed = new HashSet<string>();
        foreach (var line in lines.AsSpan(0, lines.Length - 1))
        {
            if (line.StartsWith('#'))
            {
                var parts = line.Split(' ', 4);
                Assert.True(parts.Length >= 3 && parts[0] == "#" && parts[1] is "TYPE" or "HELP" or "UNIT", $"not an OpenMetrics metadata line: '{line}'");
                string family = parts[2];
                if (family != current)
                {
                    Assert.True(current is null || closed.Add(current), $"family {current} appears twice");
                    Assert.False(closed.Contains(family), $"family {family} appears twice");
                    current = family;
                }
                if (parts[1] == "TYPE")
                {
                    Assert.True(parts.Length == 4 && s_suffixes.ContainsKey(parts[3]), $"bad TYPE line: '{line}'");
                    Assert.True(m.Types.TryAdd(family, parts[3]), $"two TYPE lines for {family}");
                }
                else if (parts[1] == "UNIT")
                {
                    Assert.True(parts.Length == 4 && family.EndsWith("_" + parts[3], StringComparison.Ordinal), $"a family's name must end with its unit: '{line}'");
                    m.Units[family] = parts[3];
                }
                continue;
            }
            var s = SampleLine().Match(line);
            Assert.True(s.Success, $"not an OpenMetrics sample: '{line}'");
            string name = s.Groups[1].Value;
            string? type = current is null ? null : m.Types.GetValueOrDefault(current);
            Assert.True(type is not null, $"sample {name} without a TYPE line before it");
            Assert.True(Array.Exists(s_suffixes[type], suffix => name == current + suffix), $"sample {name} does not belong to family {current} ({type})");
            var labels = new SortedDictionary<string, string>(StringComparer.Ordinal);
            foreach (Match l in LabelPair().Matches(s.Groups[2].Value))
                Assert.True(labels.TryAdd(l.Groups[1].Value, l.Groups[2].Value), $"label {l.Groups[1].Value} twice: '{line}'");
            string key = labels.Count == 0 ? name : name + "{" + string.Join(',', labels.Select(kv => $"{kv.Key}=\"{kv.Value}\"")) + "}";
            double value = s.Groups[3].Value switch
            {
                "NaN" => double.NaN,
                "+Inf" => double.PositiveInfinity,
                "-Inf" => double.NegativeInfinity,
                var v => double.Parse(v, NumberStyles.Float, CultureInfo.InvariantCulture),
            };
            if (type == "counter" && name.EndsWith("_total", StringComparison.Ordinal)) Assert.True(value >= 0, $"negative counter: '{line}'");
            Assert.True(m.Samples.TryAdd(key, value), $"sample {key} twice");
        }
        return m;
    }

    /// <summary>The value of <paramref name="key"/> (<c>name{label="v",...}</c>, labels sorted), failing the test when absent.</summary>
    public double this[string key] => Samples.TryGetValue(key, out var v) ? v : throw new Xunit.Sdk.XunitException($"no sample {key}; have:\n{string.Join('\n', Samples.Keys.Order())}");
}
