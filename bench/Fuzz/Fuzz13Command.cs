using System.Diagnostics;
using Softswitch.OfWire.Tests.Of13;

namespace Softswitch.Bench.Fuzz;

/// <summary>
/// bench fuzz13: seeded mutations of the public OpenFlow 1.3 vectors through the codec's fuzz oracle
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
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--messages": messages = long.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture); break;
                case "--seed": seed = int.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture); break;
                case "--vectors": dir = args[++i]; break;
                case "--json": json = true; break;
                default:
                    Console.Error.WriteLine("usage: Softswitch.Bench fuzz13 [--messages N] [--seed S] [--vectors DIR] [--json]");
                    return 2;
            }
        }
        var files = Directory.GetFiles(dir, "*.packet").Order().Select(File.ReadAllBytes).ToArray();
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
            var m = Of13FuzzOracle.Mutate(files[rng.Next(files.Length)], files[rng.Next(files.Length)], rng);
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
            ? $"{{\"messages\":{messages},\"decoded\":{decoded},\"refused\":{refused},\"seconds\":{s:F1},\"seed\":{seed},\"vectors\":{files.Length}}}"
            : $"fuzz13: {messages:N0} messages from {files.Length} vectors in {s:F1} s (seed {seed}): {decoded:N0} decodes, each a fixed point, {refused:N0} refusals, each a whole error reply, nothing thrown");
        return 0;
    }
}
