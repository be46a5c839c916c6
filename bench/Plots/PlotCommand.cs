using System.Text.Json;
using System.Text.Json.Nodes;

namespace Softswitch.Bench.Plots;

/// <summary>
/// `bench plot --input RESULT.json [--input MORE.json] --out DIR [--name PREFIX] [--title T]`: draws a result file's
/// sections (see <see cref="PlotData"/>) again without rerunning anything. Several inputs are merged (e.g. one pps
/// run per thread count into one scaling plot).
/// </summary>
public static class PlotCommand
{
    public static int Run(string[] args)
    {
        var inputs = new List<string>();
        string? outDir = null, name = null, title = null;
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            try
            {
                switch (args[i])
                {
                    case "--input": inputs.Add(Next()); break;
                    case "--out": outDir = Next(); break;
                    case "--name": name = Next(); break;
                    case "--title": title = Next(); break;
                    case "--help":
                    case "-h":
                        Console.WriteLine("plot --input RESULT.json [--input MORE.json ...] --out DIR [--name PREFIX] [--title TITLE]");
                        Console.WriteLine("  draws each section of the result file(s) as DIR/PREFIX-{rows,timeline,latency-cdf,scaling}.{svg,png}");
                        Console.WriteLine("  sections: rows (Mpps per row, Softswitch and a peer), timeline (Mpps per interval, churn start),");
                        Console.WriteLine("  latency (samples, as a CDF), scaling (Mpps per thread count); `pps --json` and `agent --json` output are result files");
                        return 0;
                    default: throw new ArgumentException($"unknown option {args[i]}");
                }
            }
            catch (ArgumentException e)
            {
                Console.Error.WriteLine($"plot: {e.Message}");
                return 2;
            }
        }
        if (inputs.Count == 0 || outDir is null)
        {
            Console.Error.WriteLine("plot: need --input RESULT.json and --out DIR");
            return 2;
        }
        var data = new PlotData();
        try
        {
            foreach (var f in inputs) data.Merge(PlotData.Load(f));
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"plot: {e.Message}");
            return 2;
        }
        if (title is not null) data.Title = title;
        if (data.IsEmpty)
        {
            Console.Error.WriteLine($"plot: {string.Join(", ", inputs)} has no rows, timeline, latency or scaling section");
            return 1;
        }
        foreach (var f in Charts.RenderAll(data, outDir, name ?? Path.GetFileNameWithoutExtension(inputs[0])))
            Console.WriteLine($"wrote {f}");
        return 0;
    }

    /// <summary>Draws a harness's result beside its table: DIR/NAME.json (the result file) and its plots.</summary>
    public static void WriteBeside(string dir, string name, string json, PlotData data)
    {
        Directory.CreateDirectory(dir);
        string file = Path.Combine(dir, name + ".json");
        // The title goes into the result file too, so `bench plot` draws the same plots from it later.
        var node = JsonNode.Parse(json)!.AsObject();
        if (data.Title is not null && !node.ContainsKey("title")) node["title"] = data.Title;
        File.WriteAllText(file, node.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        Console.WriteLine($"result file {file}");
        foreach (var f in Charts.RenderAll(data, dir, name)) Console.WriteLine($"wrote {f}");
    }
}
