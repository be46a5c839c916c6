using System.Globalization;
using ScottPlot;
using ScottPlot.TickGenerators;

namespace Softswitch.Bench.Plots;

/// <summary>
/// Draws a <see cref="PlotData"/>'s sections with ScottPlot, each as SVG and PNG (SkiaSharp, headless): rows as
/// grouped bars, the timeline as lines with the moment churn began marked, latency as a CDF, scaling as Mpps per
/// thread count beside the linear extrapolation of one thread. Runs after a measurement, never during one.
/// </summary>
public static class Charts
{
    public const int Width = 900, Height = 500;
    public const string SoftswitchName = "Softswitch";

    /// <summary>Axis labels, fixed so a reader (and the tests) can find them.</summary>
    public const string RowsX = "benchmark row", TimeX = "time into the measured window (s)", CdfY = "share of samples at or below (%)",
        ThreadsX = "forwarding threads", ChurnLabel = "churn starts", LinearName = "linear from 1 thread";

    private static readonly IPalette s_palette = new ScottPlot.Palettes.Category10();

    /// <summary>Writes DIR/PREFIX-KIND.svg and .png for every section present; returns the files written.</summary>
    public static List<string> RenderAll(PlotData data, string dir, string prefix)
    {
        Directory.CreateDirectory(dir);
        var written = new List<string>();
        void Save(Plot plot, string kind)
        {
            string b = Path.Combine(dir, $"{prefix}-{kind}");
            plot.SaveSvg(b + ".svg", Width, Height);
            plot.SavePng(b + ".png", Width, Height);
            written.Add(b + ".svg");
            written.Add(b + ".png");
        }
        if (data.Rows is { Items.Count: > 0 } r) Save(Rows(r, data.Title), "rows");
        if (data.Timeline is { Series.Count: > 0 } t) Save(Timeline(t, data.Title), "timeline");
        if (data.Latency is { Series.Count: > 0 } l) Save(LatencyCdf(l, data.Title), "latency-cdf");
        if (data.Scaling is { Series.Count: > 0 } s) Save(Scaling(s, data.Title), "scaling");
        return written;
    }

    /// <summary>Softswitch's bar and the peer's side by side for each row, values on top.</summary>
    public static Plot Rows(RowsSection s, string? title)
    {
        var plot = New(title ?? (s.Peer is null ? "Forwarding rate per row" : $"{SoftswitchName} and {s.Peer} per row"));
        int n = s.Items.Count;
        bool peer = s.Peer is not null;
        bool ceiling = s.Ceiling is not null;
        int bars = 1 + (peer ? 1 : 0) + (ceiling ? 1 : 0);
        double stride = bars + 1;
        var mine = new List<Bar>(n);
        var theirs = new List<Bar>(n);
        var limit = new List<Bar>(n);
        var ticks = new double[n];
        var labels = new string[n];
        for (int i = 0; i < n; i++)
        {
            var it = s.Items[i];
            double x = i * stride;
            mine.Add(Bar(x, it.Softswitch, s_palette.GetColor(0)));
            if (peer && it.Peer is { } p) theirs.Add(Bar(x + 1, p, s_palette.GetColor(1)));
            if (ceiling && it.Ceiling is { } c) limit.Add(Bar(x + bars - 1, c, s_palette.GetColor(2)));
            ticks[i] = x + (bars - 1) / 2.0;
            labels[i] = it.Name;
        }
        var a = plot.Add.Bars(mine);
        a.LegendText = s.Mine ?? SoftswitchName;
        if (peer)
        {
            var b = plot.Add.Bars(theirs);
            b.LegendText = s.Peer!;
            // A peer with no bar at all still gets its legend entry's colour.
            if (theirs.Count == 0) b.Color = s_palette.GetColor(1);
        }
        if (ceiling)
        {
            var c = plot.Add.Bars(limit);
            c.LegendText = s.Ceiling!;
            if (limit.Count == 0) c.Color = s_palette.GetColor(2);
        }
        plot.Axes.Bottom.TickGenerator = new NumericManual(ticks, labels);
        if (n > 6)
        {
            // Many rows: the names are turned so they do not run into each other, and the axis panel made tall enough.
            plot.Axes.Bottom.TickLabelStyle.Rotation = 40;
            plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleLeft;
            plot.Axes.Bottom.MinimumSize = 30 + 6.5f * labels.Max(l => l.Length);
        }
        plot.XLabel(RowsX);
        plot.YLabel(s.Unit);
        plot.Axes.Margins(bottom: 0, top: 0.15);
        plot.ShowLegend(Alignment.UpperRight);
        return plot;
    }

    /// <summary>One line per series over the measured window; a dashed vertical line where churn began.</summary>
    public static Plot Timeline(TimelineSection s, string? title)
    {
        var plot = New(title ?? "Forwarding rate over time");
        for (int i = 0; i < s.Series.Count; i++)
        {
            var ser = s.Series[i];
            int n = Math.Min(ser.TimeS.Length, ser.Mpps.Length);
            var line = plot.Add.ScatterLine(ser.TimeS[..n], ser.Mpps[..n], s_palette.GetColor(i));
            line.LegendText = ser.Name;
            line.LineWidth = 2;
        }
        if (s.ChurnStartS is { } c && c >= 0)
        {
            var v = plot.Add.VerticalLine(c, 2, s_palette.GetColor(3), LinePattern.Dashed);
            v.LegendText = ChurnLabel;
        }
        plot.XLabel(TimeX);
        plot.YLabel("Mpps");
        double tMax = 0;
        foreach (var ser in s.Series) tMax = Math.Max(tMax, ser.TimeS.Length == 0 ? 0 : ser.TimeS.Max());
        plot.Axes.SetLimitsX(0, Math.Max(tMax, 1e-3) * 1.02);
        FromZero(plot, s.Series.SelectMany(x => x.Mpps));
        plot.ShowLegend(Alignment.LowerRight);
        return plot;
    }

    /// <summary>
    /// Each series' samples sorted against their cumulative share; the legend gives p50 and p99. A long tail (the
    /// largest sample over <see cref="LogTailRatio"/> times the smallest median, all samples positive) puts the x axis
    /// on a log scale, so the body of each distribution stays readable.
    /// </summary>
    public static Plot LatencyCdf(LatencySection s, string? title)
    {
        var plot = New(title ?? $"{s.What}: cumulative distribution");
        var sorted = new List<double[]>();
        foreach (var ser in s.Series)
        {
            var x = (double[])ser.Samples.Clone();
            Array.Sort(x);
            sorted.Add(x);
        }
        var present = sorted.Where(x => x.Length > 0).ToList();
        bool log = present.Count > 0 && present.All(x => x[0] > 0)
            && present.Max(x => x[^1]) > LogTailRatio * present.Min(x => Quantile(x, 0.5));
        for (int i = 0; i < s.Series.Count; i++)
        {
            var ser = s.Series[i];
            var x = sorted[i];
            if (x.Length == 0) continue;
            var y = new double[x.Length];
            for (int k = 0; k < x.Length; k++) y[k] = 100.0 * (k + 1) / x.Length;
            var line = plot.Add.ScatterLine(log ? [.. x.Select(Math.Log10)] : x, y, s_palette.GetColor(i));
            line.LineWidth = 2;
            line.LegendText = string.Create(CultureInfo.InvariantCulture,
                $"{ser.Name} (p50 {Quantile(x, 0.5):G4}, p99 {Quantile(x, 0.99):G4} {s.Unit}, n={x.Length})");
        }
        plot.XLabel(log ? $"{s.What} ({s.Unit}, log scale)" : $"{s.What} ({s.Unit})");
        if (log) plot.Axes.Bottom.TickGenerator = LogTicks(present.Min(x => x[0]), present.Max(x => x[^1]));
        plot.YLabel(CdfY);
        plot.Axes.SetLimitsY(0, 101);
        plot.ShowLegend(Alignment.LowerRight);
        return plot;
    }

    /// <summary>Total Mpps per thread count, with the first series' one-thread rate extrapolated linearly.</summary>
    public static Plot Scaling(ScalingSection s, string? title)
    {
        var plot = New(title ?? "Forwarding rate per thread count");
        var allThreads = new SortedSet<int>();
        for (int i = 0; i < s.Series.Count; i++)
        {
            var ser = s.Series[i];
            int n = Math.Min(ser.Threads.Length, ser.Mpps.Length);
            var x = new double[n];
            for (int k = 0; k < n; k++)
            {
                x[k] = ser.Threads[k];
                allThreads.Add(ser.Threads[k]);
            }
            var line = plot.Add.Scatter(x, ser.Mpps[..n], s_palette.GetColor(i));
            line.LegendText = ser.Name;
            line.LineWidth = 2;
            line.MarkerSize = 8;
        }
        if (s.Series.Count > 0 && allThreads.Count > 1)
        {
            var first = s.Series[0];
            int one = Array.IndexOf(first.Threads, 1);
            if (one >= 0 && one < first.Mpps.Length)
            {
                double[] xs = [.. allThreads.Select(t => (double)t)];
                double[] ys = [.. xs.Select(t => t * first.Mpps[one])];
                var ideal = plot.Add.ScatterLine(xs, ys, Colors.Gray);
                ideal.LinePattern = LinePattern.Dashed;
                ideal.LegendText = LinearName;
            }
        }
        double[] tickPos = [.. allThreads.Select(t => (double)t)];
        plot.Axes.Bottom.TickGenerator = new NumericManual(tickPos, [.. allThreads.Select(t => t.ToString(CultureInfo.InvariantCulture))]);
        plot.XLabel(ThreadsX);
        plot.YLabel("Mpps");
        if (allThreads.Count > 0) plot.Axes.SetLimitsX(allThreads.Min - 0.25, allThreads.Max + 0.25);
        var top = s.Series.SelectMany(x => x.Mpps).ToList();
        if (s.Series.Count > 0 && Array.IndexOf(s.Series[0].Threads, 1) is int o && o >= 0 && o < s.Series[0].Mpps.Length && allThreads.Count > 1)
            top.Add(s.Series[0].Mpps[o] * allThreads.Max);
        FromZero(plot, top);
        plot.ShowLegend(Alignment.UpperLeft);
        return plot;
    }

    public const double LogTailRatio = 20;

    /// <summary>Ticks at 1, 2 and 5 of each decade from <paramref name="min"/> to <paramref name="max"/>, placed at their log10.</summary>
    private static NumericManual LogTicks(double min, double max)
    {
        var ticks = new NumericManual();
        for (int d = (int)Math.Floor(Math.Log10(min)); d <= (int)Math.Ceiling(Math.Log10(max)); d++)
        {
            foreach (int m in (int[])[1, 2, 5])
            {
                double v = m * Math.Pow(10, d);
                if (v < min / 2 || v > max * 2) continue;
                ticks.AddMajor(Math.Log10(v), v.ToString(v >= 1 ? "#,0" : "G3", CultureInfo.InvariantCulture));
            }
        }
        return ticks;
    }

    /// <summary>The value at quantile <paramref name="q"/> of sorted samples (nearest rank).</summary>
    public static double Quantile(double[] sorted, double q)
        => sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];

    /// <summary>The y axis from 0 to a little above the largest value (rates read against zero, not a zoomed band).</summary>
    private static void FromZero(Plot plot, IEnumerable<double> values)
    {
        double max = 0;
        foreach (double v in values) if (double.IsFinite(v)) max = Math.Max(max, v);
        plot.Axes.SetLimitsY(0, max > 0 ? max * 1.15 : 1);
    }

    private static Plot New(string title)
    {
        var plot = new Plot();
        plot.Title(WrapTitle(title));
        return plot;
    }

    /// <summary>Widest title line, in characters, that fits the default 900-pixel image.</summary>
    public const int TitleWidth = 80;

    /// <summary>
    /// <paramref name="title"/> broken at spaces into lines of at most <see cref="TitleWidth"/> characters (a word longer
    /// than that keeps a line of its own), so a long title (date, load, step length) is not cut at the image's edges.
    /// </summary>
    public static string WrapTitle(string title)
    {
        if (title.Length <= TitleWidth) return title;
        var sb = new System.Text.StringBuilder(title.Length + 4);
        int line = 0;
        foreach (var word in title.Split(' '))
        {
            if (line > 0 && line + 1 + word.Length > TitleWidth)
            {
                sb.Append('\n');
                line = 0;
            }
            else if (line > 0)
            {
                sb.Append(' ');
                line++;
            }
            sb.Append(word);
            line += word.Length;
        }
        return sb.ToString();
    }

    private static Bar Bar(double x, double value, Color color) => new()
    {
        Position = x,
        Value = value,
        FillColor = color,
        Label = value.ToString("G3", CultureInfo.InvariantCulture),
    };
}
