using System.Text.Json;
using System.Text.Json.Serialization;

namespace Softswitch.Bench.Plots;

/// <summary>
/// What `bench plot` draws, read from a result file: any JSON object with one or more of the sections
/// <c>rows</c> (Mpps per row, Softswitch and a peer side by side), <c>timeline</c> (forwarding rate per interval,
/// and when churn started), <c>latency</c> (samples, drawn as a CDF) and <c>scaling</c> (Mpps per forwarding-thread
/// count). Other fields are ignored, so a harness's own JSON (`bench pps --json`, `bench agent --json`) is a result
/// file as it stands; the compare scripts write one with their rows.
/// </summary>
/// <remarks>
/// Names are fixed by <see cref="JsonPropertyNameAttribute"/>, so the sections read and write the same whatever
/// naming policy the enclosing result uses.
/// </remarks>
public sealed class PlotData
{
    [JsonPropertyName("title")] public string? Title { get; set; }
    [JsonPropertyName("rows")] public RowsSection? Rows { get; set; }
    [JsonPropertyName("timeline")] public TimelineSection? Timeline { get; set; }
    [JsonPropertyName("latency")] public LatencySection? Latency { get; set; }
    [JsonPropertyName("scaling")] public ScalingSection? Scaling { get; set; }

    public bool IsEmpty => Rows is null && Timeline is null && Latency is null && Scaling is null;

    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNameCaseInsensitive = true,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        // Rates may be NaN or infinite (a row that did not run); they are written as strings rather than fail.
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>
    /// Reads a result file: one JSON object, or lines of which the last object is taken (a harness's output with its
    /// progress lines before the JSON).
    /// </summary>
    public static PlotData Load(string path)
    {
        string text = File.ReadAllText(path);
        try
        {
            return JsonSerializer.Deserialize<PlotData>(text, JsonOptions) ?? new PlotData();
        }
        catch (JsonException)
        {
            var last = text.Split('\n').Select(l => l.Trim()).LastOrDefault(l => l.StartsWith('{'))
                ?? throw new InvalidDataException($"{path}: no JSON object");
            try { return JsonSerializer.Deserialize<PlotData>(last, JsonOptions) ?? new PlotData(); }
            catch (JsonException e) { throw new InvalidDataException($"{path}: {e.Message}"); }
        }
    }

    /// <summary>One file's sections after another's: rows, series and samples are appended; the first title stays.</summary>
    public void Merge(PlotData other)
    {
        Title ??= other.Title;
        if (other.Rows is { } r)
        {
            Rows ??= new RowsSection { Peer = r.Peer, Unit = r.Unit };
            Rows.Peer ??= r.Peer;
            Rows.Ceiling ??= r.Ceiling;
            Rows.Mine ??= r.Mine;
            Rows.Items.AddRange(r.Items);
        }
        if (other.Timeline is { } t)
        {
            Timeline ??= new TimelineSection();
            Timeline.Series.AddRange(t.Series);
            Timeline.ChurnStartS ??= t.ChurnStartS;
        }
        if (other.Latency is { } l)
        {
            Latency ??= new LatencySection { What = l.What, Unit = l.Unit };
            Latency.Series.AddRange(l.Series);
        }
        if (other.Scaling is { } s)
        {
            Scaling ??= new ScalingSection();
            Scaling.Series.AddRange(s.Series);
        }
    }
}

/// <summary>Forwarding rate per row for Softswitch and a peer (bars side by side).</summary>
public sealed class RowsSection
{
    /// <summary>The name of the first bar in the legend (Softswitch's, with the configuration it ran in); null: "Softswitch".</summary>
    [JsonPropertyName("mine")] public string? Mine { get; set; }
    /// <summary>The peer's name in the legend (e.g. OVS-DPDK); null when only Softswitch ran.</summary>
    [JsonPropertyName("peer")] public string? Peer { get; set; }
    [JsonPropertyName("unit")] public string Unit { get; set; } = "Mpps";
    /// <summary>The name of a third bar per row, a limit both are measured against (e.g. the kernel's own XDP
    /// forwarding); null when the rows have none.</summary>
    [JsonPropertyName("ceiling")] public string? Ceiling { get; set; }
    [JsonPropertyName("items")] public List<RowItem> Items { get; set; } = [];
}

public sealed class RowItem
{
    [JsonPropertyName("name")] public string Name { get; set; } = "";
    [JsonPropertyName("softswitch")] public double Softswitch { get; set; }
    /// <summary>The peer's rate on the same row; null when the peer did not run it.</summary>
    [JsonPropertyName("peer")] public double? Peer { get; set; }
    /// <summary>The ceiling's rate on the same row; null when it did not run.</summary>
    [JsonPropertyName("ceiling")] public double? Ceiling { get; set; }
}

/// <summary>Forwarding rate per sampling interval; <see cref="ChurnStartS"/> marks when flow-mods began.</summary>
public sealed class TimelineSection
{
    /// <summary>Seconds into the measured window at which churn began (null: no churn, or it began before the window).</summary>
    [JsonPropertyName("churn_start_s")] public double? ChurnStartS { get; set; }
    [JsonPropertyName("series")] public List<TimeSeries> Series { get; set; } = [];
}

public sealed class TimeSeries
{
    [JsonPropertyName("name")] public string Name { get; set; } = "";
    /// <summary>End of each interval, seconds from the start of the measured window.</summary>
    [JsonPropertyName("t_s")] public double[] TimeS { get; set; } = [];
    /// <summary>Mpps forwarded over each interval.</summary>
    [JsonPropertyName("mpps")] public double[] Mpps { get; set; } = [];
}

/// <summary>Latency samples per series, drawn as a cumulative distribution.</summary>
public sealed class LatencySection
{
    /// <summary>What was timed (the x axis reads "WHAT (UNIT)").</summary>
    [JsonPropertyName("what")] public string What { get; set; } = "latency";
    [JsonPropertyName("unit")] public string Unit { get; set; } = "us";
    [JsonPropertyName("series")] public List<LatencySeries> Series { get; set; } = [];
}

public sealed class LatencySeries
{
    [JsonPropertyName("name")] public string Name { get; set; } = "";
    [JsonPropertyName("samples")] public double[] Samples { get; set; } = [];
}

/// <summary>Total forwarding rate per forwarding-thread count.</summary>
public sealed class ScalingSection
{
    [JsonPropertyName("series")] public List<ScalingSeries> Series { get; set; } = [];
}

public sealed class ScalingSeries
{
    [JsonPropertyName("name")] public string Name { get; set; } = "";
    [JsonPropertyName("threads")] public int[] Threads { get; set; } = [];
    /// <summary>Total Mpps at each thread count.</summary>
    [JsonPropertyName("mpps")] public double[] Mpps { get; set; } = [];
}
