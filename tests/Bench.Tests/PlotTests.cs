using System.Xml.Linq;
using Softswitch.Bench.Plots;
using SkiaSharp;

namespace Softswitch.Bench.Tests;

/// <summary>
/// Each plot drawn from a fixed result file: the PNG decodes at the plot's size and is not blank, the SVG parses as
/// XML and names its axes and its series.
/// </summary>
public sealed class PlotTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bench-plots-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Data(string name) => Path.Combine(AppContext.BaseDirectory, "Data", name);

    private Dictionary<string, string> RenderFixture()
    {
        var written = Charts.RenderAll(PlotData.Load(Data("all-sections.json")), _dir, "fixed");
        Assert.Equal(8, written.Count);
        return written.ToDictionary(f => Path.GetFileName(f), f => f);
    }

    [Theory]
    [InlineData("rows")]
    [InlineData("timeline")]
    [InlineData("latency-cdf")]
    [InlineData("scaling")]
    public void PngDecodesAtThePlotSizeAndIsNotBlank(string kind)
    {
        var files = RenderFixture();
        AssertPng(files[$"fixed-{kind}.png"]);
    }

    [Fact]
    public void RowsSvgNamesAxesRowNamesAndBothSwitches()
    {
        var text = SvgText(RenderFixture()["fixed-rows.svg"]);
        AssertContainsAll(text, Charts.RowsX, "Mpps", "Softswitch", "OVS-DPDK", "1-flow", "exact-100k", "churn-100k", "Fixed result: every section");
    }

    [Fact]
    public void RowsWithACeilingDrawItAsAThirdBarWithItsLegend()
    {
        var data = new PlotData
        {
            Rows = new RowsSection
            {
                Peer = "Open vSwitch afxdp", Ceiling = "kernel XDP redirect", Unit = "Mpps at zero loss",
                Items = [new RowItem { Name = "64 B, 1 flow", Softswitch = 1.1, Peer = 1.2, Ceiling = 1.3 }],
            },
        };
        var written = Charts.RenderAll(data, _dir, "ceiling");
        var svg = written.Single(f => f.EndsWith("-rows.svg", StringComparison.Ordinal));
        AssertContainsAll(SvgText(svg), "Softswitch", "Open vSwitch afxdp", "kernel XDP redirect", "64 B, 1 flow", "1.3");
    }

    [Fact]
    public void TimelineSvgNamesAxesSeriesAndTheChurnStart()
    {
        var text = SvgText(RenderFixture()["fixed-timeline.svg"]);
        AssertContainsAll(text, Charts.TimeX, "Mpps", "Softswitch, churn 100,000/s", "OVS-DPDK, churn 100,000/s", Charts.ChurnLabel);
    }

    [Fact]
    public void LatencyCdfSvgNamesAxesSeriesAndItsQuantiles()
    {
        var text = SvgText(RenderFixture()["fixed-latency-cdf.svg"]);
        // 12 samples: p50 is the 6th smallest (35.1), p99 the largest (120.7).
        AssertContainsAll(text, "packet-in to packet-out round trip (us)", Charts.CdfY, "Softswitch (p50 35.1, p99 120.7 us, n=12)");
    }

    [Fact]
    public void LatencyCdfWithALongTailHasALogAxis()
    {
        var data = new PlotData
        {
            Latency = new LatencySection
            {
                What = "ping round trip", Unit = "ms",
                Series = [new LatencySeries { Name = "tailed", Samples = [0.2, 0.21, 0.25, 0.3, 0.22, 19.5] }, new LatencySeries { Name = "tight", Samples = [0.09, 0.1, 0.11] }],
            },
        };
        var written = Charts.RenderAll(data, _dir, "tail");
        AssertPng(written[1]);
        var text = SvgText(written[0]);
        AssertContainsAll(text, "ping round trip (ms, log scale)", "tailed (p50 0.22", "tight (p50 0.1");
        // Ticks at 1, 2 and 5 of each decade (a linear axis from 0 to 20 has none at 0.2 or 0.5).
        var elements = text.Split('\n').Select(e => e.Trim()).ToList();
        Assert.Contains("0.2", elements);
        Assert.Contains("0.5", elements);
    }

    [Fact]
    public void ScalingSvgNamesAxesSeriesAndTheLinearLine()
    {
        var text = SvgText(RenderFixture()["fixed-scaling.svg"]);
        AssertContainsAll(text, Charts.ThreadsX, "Mpps", "Softswitch AF_PACKET", "Softswitch in-memory ports", Charts.LinearName);
    }

    [Fact]
    public void HarnessOutputWithProgressLinesBeforeTheJsonDrawsItsTimeline()
    {
        var data = PlotData.Load(Data("pps-output.txt"));
        Assert.NotNull(data.Timeline);
        Assert.Null(data.Rows);
        var written = Charts.RenderAll(data, _dir, "pps");
        Assert.Equal([Path.Combine(_dir, "pps-timeline.svg"), Path.Combine(_dir, "pps-timeline.png")], written);
        AssertPng(written[1]);
        AssertContainsAll(SvgText(written[0]), "Softswitch, churn 100,000/s", Charts.ChurnLabel, Charts.TimeX);
    }

    [Fact]
    public void PlotCommandRendersFromAResultFileAndMergesInputs()
    {
        var solo = Path.Combine(_dir, "solo.json");
        File.WriteAllText(solo, """{"scaling":{"series":[{"name":"Second run","threads":[1,2],"mpps":[1.0,1.9]}]}}""");
        var outDir = Path.Combine(_dir, "out");
        Assert.Equal(0, PlotCommand.Run(["--input", Data("all-sections.json"), "--input", solo, "--out", outDir, "--name", "m"]));
        foreach (var kind in new[] { "rows", "timeline", "latency-cdf", "scaling" })
        {
            Assert.True(File.Exists(Path.Combine(outDir, $"m-{kind}.svg")), kind);
            AssertPng(Path.Combine(outDir, $"m-{kind}.png"));
        }
        AssertContainsAll(SvgText(Path.Combine(outDir, "m-scaling.svg")), "Softswitch AF_PACKET", "Second run");
    }

    [Fact]
    public void PlotCommandRefusesAFileWithoutSections()
    {
        var empty = Path.Combine(_dir, "empty.json");
        File.WriteAllText(empty, """{"mpps": 3.2}""");
        Assert.Equal(1, PlotCommand.Run(["--input", empty, "--out", Path.Combine(_dir, "none")]));
        Assert.False(Directory.Exists(Path.Combine(_dir, "none")));
        Assert.Equal(2, PlotCommand.Run(["--out", _dir]));
    }

    private static void AssertPng(string path)
    {
        using var bmp = SKBitmap.Decode(path);
        Assert.NotNull(bmp);
        Assert.Equal(Charts.Width, bmp.Width);
        Assert.Equal(Charts.Height, bmp.Height);
        // Not blank: many pixels differ from the background (the top-left corner), in several colours.
        var background = bmp.GetPixel(0, 0);
        int differ = 0;
        var colours = new HashSet<SKColor>();
        for (int y = 0; y < bmp.Height; y += 2)
        {
            for (int x = 0; x < bmp.Width; x += 2)
            {
                var c = bmp.GetPixel(x, y);
                if (c != background) differ++;
                if (colours.Count < 64) colours.Add(c);
            }
        }
        Assert.True(differ > bmp.Width * bmp.Height / 4 / 50, $"{path}: only {differ} sampled pixels differ from the background");
        Assert.True(colours.Count >= 4, $"{path}: {colours.Count} colours");
    }

    /// <summary>Every text element's content, one per line (the XML parser decodes escapes such as &amp;gt;).</summary>
    private static string SvgText(string path)
    {
        var doc = XDocument.Load(path);
        Assert.Equal("svg", doc.Root!.Name.LocalName);
        return string.Join("\n", doc.Descendants().Where(e => e.Name.LocalName == "text").Select(e => e.Value));
    }

    private static void AssertContainsAll(string text, params string[] wanted)
    {
        foreach (var w in wanted) Assert.True(text.Contains(w, StringComparison.Ordinal), $"'{w}' missing from the SVG's text:\n{text}");
    }

    [Fact]
    public void ALongTitleIsBrokenAtSpacesIntoLinesThatFitAndAShortOneIsKept()
    {
        const string title = "Zero-loss throughput over veth, afpacket (loss <= 0.01% over 3 s steps; 2026-11-26 15:17 UTC, load before a step 0.78-1.81)";
        string wrapped = Softswitch.Bench.Plots.Charts.WrapTitle(title);
        var lines = wrapped.Split('\n');
        Assert.True(lines.Length >= 2, wrapped);
        Assert.All(lines, l => Assert.InRange(l.Length, 1, Softswitch.Bench.Plots.Charts.TitleWidth));
        Assert.Equal(title, string.Join(' ', lines));
        Assert.Equal("Forwarding rate per row", Softswitch.Bench.Plots.Charts.WrapTitle("Forwarding rate per row"));
    }
}
