using System.Diagnostics;
using Softswitch.OfWire.Tests.Of13;

namespace Softswitch.Bench.Fuzz;

/// <summary>
/// bench fuzz13: seeded mutations of the public OpenFlow 1.3 vectors (with <c>--version 5</c>: in OpenFlow 1.4's framing,
/// with the 1.4 vectors beside them; <c>--version 6</c>: in 1.5's, with the 1.4 and 1.5 vectors) through the codec's fuzz oracle
/// (tests/OfWire.Tests/Of13/Of13FuzzOracle.cs): no decoder throws, every decoded message re-encodes to a fixed point, and
/// every refused message gets a defined error in a whole error reply.
/// Prints one line (or JSON); exits 1 at the first violation, with the input in hex.
/// </summary>
public static class Fuzz13Command
{
    public static int Run(string[] args)
    {
        long messages = 1_000_000;
        int seed = Environment.TickCount;
        string dir = Path.Combine("tests", "OfWire.Tests", "Vectors", "of13");
        bool json = false;
        byte version = 4;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--messages": messages = long.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture); break;
                case "--seed": seed = int.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture); break;
                case "--vectors": dir = args[++i]; break;
                case "--json": json = true; break;
                case "--version" when i + 1 < args.Length && args[i + 1] is "4" or "5" or "6": version = byte.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture); break;
                default:
                    Console.Error.WriteLine("usage: Softswitch.Bench fuzz13 [--messages N] [--seed S] [--vectors DIR] [--version 4|5|6] [--json]");
                    return 2;
            }
        }
        var paths = Directory.GetFiles(dir, "*.packet").Order().ToList();
        // Under 1.4 the 1.4 vectors join the 1.3 ones (the layouts 1.4 keeps, now in version 5); under 1.5 the 1.4 and
        // the 1.5 ones (version 6).
        string dir14 = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(dir))!, "of14");
        string dir15 = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(dir))!, "of15");
        if (version >= 5 && Directory.Exists(dir14)) paths.AddRange(Directory.GetFiles(dir14, "*.packet").Order());
        if (version == 6 && Directory.Exists(dir15)) paths.AddRange(Directory.GetFiles(dir15, "*.packet").Order());
        var files = paths.Select(File.ReadAllBytes).ToArray();
        if (files.Length == 0)
        {
            Console.Error.WriteLine($"fuzz13: no vectors in {dir}");
            return 2;
        }
        var rng = new Random(seed);
        long decoded = 0, refused = 0;
        var sw = Stopwatch.StartNew();
        for (long i = 0; i < messages; i++)
        {
            var m = Of13FuzzOracle.Mutate(files[rng.Next(files.Length)], files[rng.Next(files.Length)], rng, version);
            try
            {
                decoded += Of13FuzzOracle.Check(m, out bool r);
                refused += r ? 1 : 0;
            }
            catch (Exception e)
            {
                Console.Error.WriteLine($"fuzz13: seed {seed}, message {i}: {e.GetType().Name}: {e.Message}\ninput: {Convert.ToHexString(m)}");
                return 1;
            }
        }
        double s = sw.Elapsed.TotalSeconds;
        Console.WriteLine(json
            ? $"{{\"messages\":{messages},\"decoded\":{decoded},\"refused\":{refused},\"seconds\":{s:F1},\"seed\":{seed},\"vectors\":{files.Length},\"version\":{version}}}"
            : $"fuzz13: {messages:N0} messages (version {version}) from {files.Length} vectors in {s:F1} s (seed {seed}): {decoded:N0} decodes, each a fixed point, {refused:N0} refusals, each a whole error reply, nothing thrown");
        return 0;
    }
}
