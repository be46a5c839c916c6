using BenchmarkDotNet.Running;
using Softswitch.Bench.Pps;

// Softswitch benchmarks.
//   pps [options]     the packets-per-second harness (see PpsOptions for the options; --help lists them)
//   rows --row NAME   the inputs of one side-by-side row (pcap, ovs-ofctl flows, fdb)
//   churn ...         flow-mods at a steady rate over OpenFlow to any switch
//   offload-latency ...   flow-mod to XDP flow map (and to the first frame forwarded in the kernel) under --offload xdp
//   fuzz13 [--messages N]   mutated OpenFlow 1.3 vectors through the codec's fixed-point oracle (--version 5: in 1.4's framing, with the 1.4 vectors)
//   flowmod-alloc     bytes allocated per flow-mod by each stage of the agent's flow-mod path
//   micro [BDN args]  BenchmarkDotNet micro-benchmarks (e.g. micro --filter '*Classifier*')
//   exact-gate [--flows 1000,100000,1000000] [--rounds 3]   the exact table against a one-level record table,
//                     interleaved in one process (the same work as micro --filter '*ExactGate*')
//   gen --dev IF ...  a paced UDP generator, pinned: AF_PACKET TX ring with qdisc bypass (Gen/PacketGen), or with
//                     --mode xdp the kernel's XDP test-run injecting XDP frames (Gen/XdpGen)
//   xdp drop|pass|redirect ...   the bench's minimal XDP programs, attached until SIGTERM (see Gen/XdpCommand)
//   plot --input RESULT.json --out DIR   the plots of a result file (SVG and PNG), without rerunning
if (args.Length > 0 && args[0] == "pps")
    return PpsHarness.Run(args[1..]);
if (args.Length > 0 && args[0] == "agent")
    return Softswitch.Bench.Agent.AgentBench.Run(args[1..]);
if (args.Length > 0 && args[0] == "rows")
    return Softswitch.Bench.Rows.RowFiles.Run(args[1..]);
if (args.Length > 0 && args[0] == "churn")
    return Softswitch.Bench.Agent.ChurnClient.Run(args[1..]);
if (args.Length > 0 && args[0] == "offload-latency")
    return Softswitch.Bench.Agent.OffloadLatency.Run(args[1..]);
if (args.Length > 0 && args[0] == "fuzz13")
    return Softswitch.Bench.Fuzz.Fuzz13Command.Run(args[1..]);
if (args.Length > 0 && args[0] == "flowmod-alloc")
    return Softswitch.Bench.Micro.FlowModPathBenchmarks.RunAllocations(args[1..]);
if (args.Length > 0 && args[0] == "exact-gate")
    return Softswitch.Bench.Micro.ExactGateCommand.Run(args[1..]);
if (args.Length > 0 && args[0] == "gen")
    return Softswitch.Bench.Gen.PacketGen.Run(args[1..]);
if (args.Length > 0 && args[0] == "xdp")
    return Softswitch.Bench.Gen.XdpCommand.Run(args[1..]);
if (args.Length > 0 && args[0] == "plot")
    return Softswitch.Bench.Plots.PlotCommand.Run(args[1..]);
if (args.Length > 0 && args[0] == "micro")
{
    BenchmarkSwitcher.FromAssembly(typeof(PpsHarness).Assembly).Run(args[1..]);
    return 0;
}
Console.Error.WriteLine("usage: Softswitch.Bench pps [--flows N] [--rules N] [--masks N] [--emc on|off] [--churn R|max] [--seconds S] [--json]");
Console.Error.WriteLine("       Softswitch.Bench agent [--flows N] [--round-trips N] [--offload netfpga-emulated] [--json]");
Console.Error.WriteLine("       Softswitch.Bench rows --row NAME --dir DIR   (a side-by-side row's pcap, flows and fdb files)");
Console.Error.WriteLine("       Softswitch.Bench churn --target tcp:HOST:PORT|unix:FILE --flow-file F --rate R --seconds S [--json]");
Console.Error.WriteLine("       Softswitch.Bench offload-latency --target tcp:HOST:PORT|unix:FILE --flow-file F --dev IF [--samples N] [--gap-ms G] [--timeout-ms T] [--no-traffic] [--json]");
Console.Error.WriteLine("       Softswitch.Bench fuzz13 [--messages N] [--seed S] [--vectors DIR] [--version 4|5] [--json]");
Console.Error.WriteLine("       Softswitch.Bench flowmod-alloc [--pairs N]");
Console.Error.WriteLine("       Softswitch.Bench gen --dev IF [--rate PPS|max] [--seconds S] [--count K] [--size 64|1518] [--flows N] [--cpu C] [--mode packet|xdp] [--json]");
Console.Error.WriteLine("       Softswitch.Bench xdp drop --dev IF | pass --dev IF | redirect --from IF --to IF");
Console.Error.WriteLine("       Softswitch.Bench plot --input RESULT.json --out DIR [--name PREFIX]   (SVG and PNG plots of a result file)");
Console.Error.WriteLine("       Softswitch.Bench micro [BenchmarkDotNet arguments, e.g. --filter '*']");
Console.Error.WriteLine("       Softswitch.Bench exact-gate [--flows 1000,100000,1000000] [--rounds 3] [--slices 5] [--slice-ms 200]");
return 2;
