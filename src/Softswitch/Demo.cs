using System.Diagnostics;
using Softswitch.Datapath;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Packets;
using Softswitch.Ofproto;
using Spectre.Console;

namespace Softswitch;

/// <summary>
/// `softswitch demo`: the switch on its embedded default. Four in-memory ports with a simulated host on
/// each; first as a standalone learning switch (every host pings every other), then with the TWAREN
/// AcS2 flows of the VM-migration scenario (destination-MAC rewrite and output), then a short
/// throughput run of the real datapath with 10,000 exact flows. It ends by saying what the TWAREN flow was and
/// what to run next. Colour only on a terminal: when stdout is redirected (a pipe, a file) or $NO_COLOR is set, the
/// output is plain text without escape sequences.
/// </summary>
internal static class Demo
{
    /// <summary>The line after the TWAREN flow: what the scenario is (the paper's one-line summary).</summary>
    public const string TwarenLine =
        "TWAREN is Taiwan's research and education network; on its OpenFlow testbed, VMs migrate across network domains and flows like flow1 steer their traffic after them.";

    /// <summary>The closing lines: what to run next.</summary>
    public const string NextLine = "next: run the switch on real interfaces (as root), e.g. softswitch run --ports afpacket:eth1,afpacket:eth2 --controller tcp:127.0.0.1:6653";

    public static int Run(double seconds)
    {
        bool plain = Console.IsOutputRedirected || !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR"));
        var console = CreateConsole(Console.Out, plain);
        if (Console.IsOutputRedirected) console.Profile.Width = 200;   // a pipe or a file has no width: lines are not wrapped at 80

        using var dp = new SwitchDatapath(new DatapathOptions { EmcEntries = 1 << 14 });
        var hosts = new SimulatedHost[4];
        var ports = new MemoryPort[4];
        for (int i = 0; i < 4; i++)
        {
            ports[i] = new MemoryPort($"mem{i + 1}", new MacAddress(0x02_00_00_00_01_00UL + (ulong)i + 1));
            dp.AddPort(ports[i]);
            hosts[i] = new SimulatedHost($"h{i + 1}", ports[i], new MacAddress(0x00_00_00_00_00_01UL + (ulong)i), Ipv4.Parse($"10.0.0.{i + 1}"));
        }
        dp.MissBehavior = MissBehavior.Normal;
        dp.Start();

        console.MarkupLine("[bold]Softswitch demo[/]: 4 in-memory ports, one simulated host on each, fail mode [green]standalone[/] (L2 learning)");
        ushort seq = 0;
        foreach (var a in hosts)
        {
            foreach (var b in hosts)
                if (a != b) a.Ping(b.Ip, 1, ++seq);
        }

        WaitFor(() => hosts.Sum(h => h.EchoRepliesReceived) >= 12, TimeSpan.FromSeconds(5));

        var t = new Table().Title("ping, every host to every other").AddColumn("host").AddColumn("ip").AddColumn("echo replies received").AddColumn("requests answered");
        foreach (var h in hosts) t.AddRow(h.Name, Ipv4.Format(h.Ip), h.EchoRepliesReceived.ToString(), h.EchoRequestsAnswered.ToString());
        console.Write(t);
        console.MarkupLine($"learned MAC addresses: {dp.MacTable.Count}");

        // The TWAREN AcS2 flow1 (seeds/000): traffic to VM-S (h3's IP) gets VM-S's MAC and leaves on port 3.
        var vmsMac = MacAddress.Parse("00:15:17:8f:ca:37");
        var fields = new FlowKeyBuilder().DlType(PacketParser.EthTypeIpv4).NwDst(hosts[2].Ip).Key;
        var flow1 = FlowMatch.FromOpenFlow((OfWildcards.All & ~(OfWildcards.DlType | OfWildcards.NwDstMask)) | OfWildcards.TunIdExt, fields);
        new OfFlowTables(dp).Apply(new FlowMod(FlowModCommand.Add, flow1, 3000, new FlowActions([FlowAction.SetDlDst(vmsMac), FlowAction.Output(3)])));
        long before = ports[2].Counters.TxPackets;
        var rewritten = 0;
        ports[2].OnSend = f => { if (MacAddress.Read(f) == vmsMac) Interlocked.Increment(ref rewritten); hosts[2].OnFrame(f); };
        ports[0].Inject(FrameBuilder.Udp(hosts[0].Mac, hosts[2].Mac, hosts[0].Ip, hosts[2].Ip, 4000, 5000));
        WaitFor(() => Volatile.Read(ref rewritten) > 0, TimeSpan.FromSeconds(2));
        console.MarkupLine($"TWAREN flow1 ([grey]ip,nw_dst={Ipv4.Format(hosts[2].Ip)} actions=mod_dl_dst:{vmsMac},output:3[/]): " +
                               $"{ports[2].Counters.TxPackets - before} packet(s) out of port 3, {rewritten} with the rewritten MAC");
        dp.Stop();
        ports[2].OnSend = hosts[2].OnFrame;

        console.MarkupLine(Markup.Escape(TwarenLine));

        Throughput(console, seconds);
        console.MarkupLine(Markup.Escape(NextLine) + " [grey](README.md: Getting started)[/]");
        return 0;
    }

    /// <summary>A console writing to <paramref name="output"/>: colours and styles on a terminal, plain text when <paramref name="plain"/>.</summary>
    internal static IAnsiConsole CreateConsole(TextWriter output, bool plain)
        => AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = plain ? AnsiSupport.No : AnsiSupport.Detect,
            ColorSystem = plain ? ColorSystemSupport.NoColors : ColorSystemSupport.Detect,
            Interactive = plain ? InteractionSupport.No : InteractionSupport.Detect,
            Out = new AnsiConsoleOutput(output),
        });

    private static void Throughput(IAnsiConsole console, double seconds)
    {
        using var dp = new SwitchDatapath(new DatapathOptions { EmcEntries = 1 << 14 });
        var ports = new MemoryPort[4];
        for (int i = 0; i < 4; i++) dp.AddPort(ports[i] = new MemoryPort($"mem{i + 1}", new MacAddress(0x02_00_00_00_02_00UL + (ulong)i + 1)));
        dp.MissBehavior = MissBehavior.Drop;
        const int flows = 10_000;
        var frames = new byte[flows][];
        var mods = new FlowMod[flows];
        var outs = new[] { new FlowActions([FlowAction.Output(2)]), new FlowActions([FlowAction.Output(3)]), new FlowActions([FlowAction.Output(4)]) };
        for (int i = 0; i < flows; i++)
        {
            frames[i] = FrameBuilder.Udp(new MacAddress(0x0200_0000_1000UL), new MacAddress(0x0200_0000_2000UL), 0x0A000000u + (uint)i, 0x0B000001u, (ushort)(1000 + i % 5000), 80);
            PacketParser.Parse(frames[i], 1, out var key, out _);
            mods[i] = new FlowMod(FlowModCommand.Add, FlowMatch.Exact(key), 0xFFFF, outs[i % 3]);
        }
        new OfFlowTables(dp).ApplyBatch(mods, new FlowModStatus[flows], null);
        ports[0].SetGenerator(frames);
        var fwd = dp.Forwarders[0];
        var warm = Stopwatch.StartNew();
        while (warm.ElapsedMilliseconds < 500) dp.PollOnce();
        long p0 = fwd.Packets, a0 = GC.GetAllocatedBytesForCurrentThread();
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed.TotalSeconds < seconds) for (int i = 0; i < 64; i++) dp.PollOnce();
        double s = sw.Elapsed.TotalSeconds;
        long n = fwd.Packets - p0, alloc = GC.GetAllocatedBytesForCurrentThread() - a0;
        console.MarkupLine($"throughput, one forwarding thread, {flows:N0} exact flows, 64-byte UDP: [bold]{n / s / 1e6:F2} Mpps[/] " +
                               $"({s * 1e9 / Math.Max(1, n):F1} ns/packet, {(double)alloc / Math.Max(1, n):F3} bytes allocated/packet)");
        console.MarkupLine("more: [grey]dotnet run -c Release --project bench -- pps --help[/]");
    }

    private static void WaitFor(Func<bool> cond, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (!cond() && sw.Elapsed < timeout) Thread.Sleep(10);
    }
}
