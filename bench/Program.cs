using BenchmarkDotNet.Running;
using Softswitch.Bench.Pps;

// Softswitch benchmarks.
//   pps [options]     the packets-per-second harness (see PpsOptions for the options; --help lists them)
//   micro [BDN args]  BenchmarkDotNet micro-benchmarks (e.g. micro --filter '*Classifier*')
if (args.Length > 0 && args[0] == "pps")
    return PpsHarness.Run(args[1..]);
if (args.Length > 0 && args[0] == "agent")
    return Softswitch.Bench.Agent.AgentBench.Run(args[1..]);
if (args.Length > 0 && args[0] == "micro")
{
    BenchmarkSwitcher.FromAssembly(typeof(PpsHarness).Assembly).Run(args[1..]);
    return 0;
}
Console.Error.WriteLine("usage: Softswitch.Bench pps [--flows N] [--rules N] [--masks N] [--emc on|off] [--churn R|max] [--seconds S] [--json]");
Console.Error.WriteLine("       Softswitch.Bench agent [--flows N] [--round-trips N] [--offload netfpga-emulated] [--json]");
Console.Error.WriteLine("       Softswitch.Bench micro [BenchmarkDotNet arguments, e.g. --filter '*']");
return 2;
