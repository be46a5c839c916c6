using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Softswitch.TestKit;

namespace Softswitch.E2E.Tests;

/// <summary>
/// The Mininet switch class (mininet/softswitch_mn.py) where things go wrong, and under `mn` itself (Debian's 2.3.0).
/// `mn` runs its own cleanup on any exception that reaches it (killall by name, rm /tmp/*.log, OVS bridges deleted),
/// so every run here is in Mininet/sandbox.sh: private network, mount and PID namespaces, the test's own directory as
/// /tmp and a fresh /run. A cleanup there reaches nothing else, and shows: it removes the sandbox's
/// /tmp/mn-cleanup-sentinel.log. Never `mn -c`.
/// </summary>
[RequiresTool("mnexec")]
[RequiresTool("unshare")]
public sealed class MininetSandboxTests
{
    private const string Sentinel = "mn-cleanup-sentinel.log";

    private static string Dir => AppContext.BaseDirectory;

    private static string ClassFile => Path.Combine(Dir, "mininet", "softswitch_mn.py");

    private static string Softswitch => Path.Combine(Dir, "softswitch");

    [E2EFact]
    public void MissingSwitchCommandEndsMnBeforeItMakesAnythingAndWithoutItsCleanup()
    {
        var run = Mn(new() { ["SOFTSWITCH"] = "/nonexistent/softswitch" },
                     "--switch", "softswitch", "--controller", "none", "--test", "pingall");
        Assert.True(run.ExitCode == 1, $"exit code {run.ExitCode}:\n{run.Output}");
        Assert.Contains("no softswitch command (tried $SOFTSWITCH=/nonexistent/softswitch (no executable /nonexistent/softswitch))", run.Output);
        Assert.DoesNotContain("*** Creating network", run.Output);
        AssertNoCleanup(run);
    }

    [E2EFact]
    public void ImportResolvesTheInstalledBinaryThenPathAndOtherwiseSaysWhatItTried()
    {
        var tmp = Directory.CreateTempSubdirectory("ssw-mn-");
        try
        {
            // The installed layout: install.sh writes its bin directory into the class.
            var bin = Directory.CreateDirectory(Path.Combine(tmp.FullName, "bin")).FullName;
            var share = Directory.CreateDirectory(Path.Combine(tmp.FullName, "share")).FullName;
            var empty = Directory.CreateDirectory(Path.Combine(tmp.FullName, "empty")).FullName;
            File.WriteAllText(Path.Combine(share, "softswitch_mn.py"),
                              File.ReadAllText(ClassFile).Replace("_INSTALLED_BINDIR = '@BINDIR@'", $"_INSTALLED_BINDIR = '{bin}'"));
            File.CreateSymbolicLink(Path.Combine(bin, "softswitch"), Softswitch);

            var installed = Import(share, empty);
            Assert.True(installed.ExitCode == 0, installed.Output);
            Assert.Equal($"COMMAND ['{bin}/softswitch']", installed.Output.Trim());

            // A source tree outside a repository, nothing on PATH: the error names every place it looked.
            File.Copy(ClassFile, Path.Combine(empty, "softswitch_mn.py"));
            var missing = Import(empty, empty);
            Assert.NotEqual(0, missing.ExitCode);
            Assert.Contains("SoftswitchError: no softswitch command (tried softswitch on PATH, " +
                            $"{tmp.FullName}/src/Softswitch/bin/Release/net10.0/softswitch", missing.Output);

            // On PATH.
            var onPath = Import(empty, bin);
            Assert.True(onPath.ExitCode == 0, onPath.Output);
            Assert.Equal($"COMMAND ['{bin}/softswitch']", onPath.Output.Trim());
        }
        finally
        {
            tmp.Delete(true);
        }
    }

    [E2EFact]
    public void SwitchFailingToStartEndsMnWithItsErrorAndWithoutItsCleanup()
    {
        var run = Mn(new() { ["SOFTSWITCH"] = Softswitch },
                     "--switch", "softswitch,extra=--no-such-option", "--controller", "none", "--test", "pingall");
        Assert.True(run.ExitCode == 1, $"exit code {run.ExitCode}:\n{run.Output}");
        Assert.Contains("*** softswitch: s1 did not start (", run.Output);
        Assert.Contains("unknown option '--no-such-option'", run.Output);
        Assert.Contains("*** Stopping this network (its own nodes, by pid)", run.Output);
        AssertNoCleanup(run);
    }

    [E2EFact]
    public void SwitchExitingAfterItStartedEndsTheWaitForConnectionsWithItsLog()
    {
        // The switch detaches, then its process is killed: Mininet would wait for it to connect forever.
        var run = Mn(new() { ["SOFTSWITCH"] = "/tmp/dies-after-start.sh", ["REAL_SOFTSWITCH"] = Softswitch },
                     "--switch", "softswitch", "--controller", "none", "--test", "pingall");
        Assert.True(run.ExitCode == 1, $"exit code {run.ExitCode}:\n{run.Output}");
        Assert.Matches(@"\*\*\* softswitch: s1 \(pid \d+\) exited; last lines of /tmp/softswitch-mn/s1/s1.log:", run.Output);
        Assert.Contains("|softswitch|INFO|softswitch running: dpid 0000000000000001", run.Output);
        Assert.Contains("*** Stopping this network (its own nodes, by pid)", run.Output);
        AssertNoCleanup(run);
    }

    [E2EFact]
    [RequiresTool("ovs-testcontroller")]
    public void OvsTestcontrollerRunsWithoutTheOvsServiceAndPings()
    {
        // The sandbox's /run is empty, as on a machine where the Open vSwitch service never ran.
        var run = Mn(new() { ["SOFTSWITCH"] = Softswitch },
                     "--switch", "softswitch", "--controller", "ovsc", "--test", "pingall");
        Assert.True(run.ExitCode == 0, $"exit code {run.ExitCode}:\n{run.Output}\n{run.Logs}");
        Assert.Contains("*** Results: 0% dropped (2/2 received)", run.Output);
        AssertNoCleanup(run);
    }

    /// <summary>
    /// Ctrl-C while `mn` waits for the switches to connect (a remote controller nobody answers, two switches, a link
    /// between them): the class's cleanup runs in place of `mn`'s. It stops this run's switch processes, node shells
    /// and links by pid, says so and that `mn -c` was not run, and `mn` exits at once with 130; the sentinel that
    /// `mn`'s cleanup removes (rm /tmp/*.log) is still there, and nothing of the run is left in the sandbox.
    /// </summary>
    [E2EFact]
    public void CtrlCWhileMnStartsStopsOnlyThisRunByPidNotMnsCleanup()
    {
        var run = CtrlC("ONCE");
        Assert.Matches(@"SWITCH PIDS \d+ \d+", run.Output);
        Assert.Contains("*** softswitch: cleaned up this run only (stopped by pid: 2 switch processes, 5 Mininet nodes, ", run.Output);
    }

    /// <summary>Ctrl-C again and again (every 50 ms until `mn` exits): the cleanup kills what is left of this run at
    /// once (SIGKILL, by pid) and `mn` still exits, leaving nothing of the run and never running its own cleanup.</summary>
    [E2EFact]
    public void RepeatedCtrlCDoesNotHangMnNorLeaveTheRunBehind()
    {
        var run = CtrlC("REPEAT");
        Assert.Matches(@"\*\*\* softswitch: cleaned up this run only \((stopped by pid|killed by pid \(SIGKILL\) after a second Ctrl-C): " +
                       "2 switch processes, 5 Mininet nodes, ", run.Output);
    }

    /// <summary>Ctrl-C as soon as `mn` starts the switches: whatever of them had started (a pid file written since,
    /// the launcher under the switch's shell) is stopped too.</summary>
    [E2EFact]
    public void CtrlCWhileTheSwitchesStartLeavesNoSwitchProcess()
    {
        var run = CtrlC("STARTING");
        Assert.Matches(@"\*\*\* softswitch: cleaned up this run only \(stopped by pid: [0-2] switch processes, 5 Mininet nodes, ", run.Output);
    }

    /// <summary>An exception that is not the switch's (a bad link option, raised by Mininet while it adds the links):
    /// `mn` says "Cleaning up" and calls the class's cleanup, which stops the run's nodes by pid; exit status 1.</summary>
    [E2EFact]
    public void OtherExceptionsInMnCleanUpThisRunOnly()
    {
        var run = Mn(new() { ["SOFTSWITCH"] = Softswitch },
                     "--switch", "softswitch", "--controller", "none", "--topo", "linear,2", "--link", "tc,bw=bogus", "--test", "pingall");
        Assert.True(run.ExitCode == 1, $"exit code {run.ExitCode}:\n{run.Output}");
        Assert.Contains("TypeError: ", run.Output);
        Assert.Contains("*** softswitch: cleaned up this run only (stopped by pid: 0 switch processes, 4 Mininet nodes, ", run.Output);
        Assert.Contains("`sudo mn -c` (machine-wide cleanup) was NOT run", run.Output);
        Assert.DoesNotContain("*** Removing junk from /tmp", run.Output);
        Assert.True(run.SentinelKept, $"/tmp/{Sentinel} was removed: Mininet's cleanup ran\n{run.Output}");
    }

    /// <summary>
    /// A remote controller nobody runs: Mininet waits for the switch to connect forever, but after about 5 s the class
    /// says once what the switch sees (dp/show: the connect refused) and where the README says to start it; Ctrl-C
    /// still ends `mn` (its scoped cleanup, exit status 130).
    /// </summary>
    [E2EFact]
    public void AControllerNobodyRunsIsToldOnceWhileMnWaitsAndCtrlCStillEndsIt()
    {
        var run = Hint("NONE", 6697);
        Assert.Equal("*** s1: no controller accepts connections at tcp:127.0.0.1:6697 (connection refused); start it first " +
                     "(see README: \"A remote controller is one you start first\"), or press Ctrl-C", HintLine(run));
        Assert.True(run.Output.Contains("MN EXIT 130"), run.Output);
        Assert.Contains("*** softswitch: cleaned up this run only (stopped by pid: 1 switch processes, ", run.Output);
        AssertNoCleanup(run);
    }

    /// <summary>The controller starts after the line: nothing more is said, and the wait ends as it would have, pingall passing.</summary>
    [E2EFact]
    [RequiresTool("ovs-testcontroller")]
    public void AControllerStartedAfterTheHintEndsTheWaitAndPings()
    {
        var run = Hint("LATE", 6698);
        Assert.StartsWith("*** s1: no controller accepts connections at tcp:127.0.0.1:6698 (connection refused); ", HintLine(run));
        Assert.True(run.Output.Contains("MN EXIT 0"), run.Output);
        Assert.Contains("*** Results: 0% dropped (2/2 received)", run.Output);
        AssertNoCleanup(run);
    }

    /// <summary>
    /// A controller that accepts the connection but shares no OpenFlow version with the switch (ovs-testcontroller
    /// -O OpenFlow13, the switch protocols=OpenFlow10): the line says so, with the versions, not that nothing listens.
    /// </summary>
    [E2EFact]
    [RequiresTool("ovs-testcontroller")]
    public void AControllerWithNoVersionInCommonIsToldAsSuch()
    {
        var run = Hint("VERSION", 6699);
        string hint = HintLine(run);
        Assert.StartsWith("*** s1: the controller at tcp:127.0.0.1:6699 accepts connections, but no OpenFlow session is agreed (", hint);
        Assert.Contains("OpenFlow 1.3", hint);
        Assert.Contains("HELLO_FAILED", hint);
        Assert.EndsWith("; check the OpenFlow versions it speaks against the switch's (--switch softswitch,protocols=OpenFlow10 offers 1.0 only), " +
                        "or press Ctrl-C", hint);
        Assert.True(run.Output.Contains("MN EXIT 130"), run.Output);
        AssertNoCleanup(run);
    }

    private static Run Hint(string mode, int port)
    {
        var run = Sandboxed(new() { ["SOFTSWITCH"] = Softswitch }, 180_000,
                            "sh", Path.Combine(Dir, "Mininet", "hint_test.sh"), ClassFile, port.ToString(System.Globalization.CultureInfo.InvariantCulture), mode);
        Console.WriteLine($"Controller hint ({mode}):\n{run.Output}");
        Assert.True(run.ExitCode == 0 && run.Output.Contains("RESULT done"), $"exit code {run.ExitCode}:\n{run.Output}\n{run.Logs}");
        Assert.DoesNotContain("MN HUNG", run.Output);
        var after = Regex.Match(run.Output, @"HINT AFTER (\d+) MS");
        Assert.True(after.Success, $"no hint:\n{run.Output}\n{run.Logs}");
        // About 5 s into the wait (the first check counts from the wait's start), well within 30 s on a loaded machine.
        int ms = int.Parse(after.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(ms is >= 4_000 and < 30_000, $"the hint came {ms} ms into the wait:\n{run.Output}");
        return run;
    }

    /// <summary>The class's line about the switch (exactly one).</summary>
    private static string HintLine(Run run)
    {
        var lines = run.Output.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.StartsWith("*** s1: ", StringComparison.Ordinal)).ToList();
        Assert.True(lines.Count == 1, $"{lines.Count} lines about s1:\n{run.Output}");
        return lines[0];
    }

    private static Run CtrlC(string mode)
    {
        var run = Sandboxed(new() { ["SOFTSWITCH"] = Softswitch }, 180_000,
                            "sh", Path.Combine(Dir, "Mininet", "ctrlc_test.sh"), ClassFile, mode);
        Console.WriteLine($"Ctrl-C ({mode}) while mn starts:\n{run.Output}");
        Assert.True(run.ExitCode == 0 && run.Output.Contains("RESULT done"), $"exit code {run.ExitCode}:\n{run.Output}\n{run.Logs}");
        Assert.Contains("SWITCH PIDS ", run.Output);
        // mn's own cleanup, had it run: the sentinel gone (rm /tmp/*.log), its steps printed.
        AssertNoCleanup(run);
        Assert.DoesNotContain("*** Removing excess controllers", run.Output);
        Assert.DoesNotContain("*** Removing junk from /tmp", run.Output);
        var exit = Regex.Match(run.Output, @"MN EXIT (\d+) AFTER (\d+) MS");
        Assert.True(exit.Success, run.Output);
        Assert.True(exit.Groups[1].Value == "130", $"mn exit status {exit.Groups[1].Value}, not 130 (Ctrl-C):\n{run.Output}");
        Assert.True(int.Parse(exit.Groups[2].Value) < 15_000, $"mn took {exit.Groups[2].Value} ms to exit after Ctrl-C:\n{run.Output}");
        Assert.Contains("`sudo mn -c` (machine-wide cleanup) was NOT run", run.Output);
        // Nothing of the run left: its switch processes (by pid), any softswitch, node shells, s1-eth1-like links.
        Assert.DoesNotContain("MN HUNG", run.Output);
        Assert.DoesNotContain(" LEFT ", run.Output);
        return run;
    }

    /// <summary>
    /// Mininet's cluster edition (cluster.py): servers `localhost` and `127.0.0.1`, the second reached through a private
    /// sshd (PermitTunnel, root login with a key made here) on a loopback port of the sandbox, its network stack a
    /// namespace of its own; RemoteSoftswitch on each, joined by cluster.py's ssh tap tunnel; pingall across.
    /// </summary>
    [E2EFact]
    [RequiresLinkType("tap", "tun")]
    [RequiresTool("sshd")]
    [RequiresTool("ssh")]
    [RequiresTool("ssh-keygen")]
    [RequiresTool("sudo")]
    [RequiresTool("socat")]
    [RequiresTool("nsenter")]
    public void ClusterEditionPingsAcrossTwoServers()
    {
        var run = Sandboxed(new() { ["SOFTSWITCH"] = Softswitch }, 240_000,
                            "/usr/bin/python3", Path.Combine(Dir, "Mininet", "cluster_test.py"), "/tmp/cluster", "47122",
                            Path.Combine(Dir, "mininet"));
        Console.WriteLine($"Mininet cluster edition:\n{run.Output}");
        Assert.True(run.ExitCode == 0 && run.Output.Contains("RESULT ok"), $"exit code {run.ExitCode}:\n{run.Output}\n{run.Logs}");
        Assert.Contains("s2 on 127.0.0.1 (pid", run.Output);
        Assert.Contains("Tunnel Running", run.Output);
        Assert.Contains("pingall loss 0.0%", run.Output);
        AssertNoCleanup(run);
    }

    /// <summary>
    /// Mininet's stock switch (OVSSwitch, as `mn --switch ovs` makes it: ovs-vsctl transactions, is_connected, ovs-ofctl by
    /// bridge name) served by `softswitch vswitchd` in place of ovs-vswitchd, on a machine with no Open vSwitch kernel
    /// module: a tree of three switches with Mininet's default controller, then one standalone switch with none; mn's
    /// teardown (del-br, ip link del) leaves no bridge, link or socket.
    /// </summary>
    [E2EFact]
    [RequiresTool("ovsdb-server")]
    [RequiresTool("ovs-vsctl")]
    [RequiresTool("ovs-testcontroller")]
    public void StockOvsSwitchServedByVswitchd()
    {
        var run = Sandboxed(new() { ["SOFTSWITCH"] = Softswitch }, 240_000, "sh", Path.Combine(Dir, "Mininet", "stock_ovs_test.sh"));
        Console.WriteLine($"mn --switch ovs under softswitch vswitchd:\n{run.Output}");
        Assert.True(run.ExitCode == 0 && run.Output.Contains("RESULT done"), $"exit code {run.ExitCode}:\n{run.Output}\n{run.Logs}");
        // Four mn runs and the iperf run's pingAll.
        Assert.Equal(5, Regex.Matches(run.Output, @"\*\*\* Results: 0% dropped").Count);
        Assert.Equal(4, Regex.Matches(run.Output, "MN EXIT 0").Count);
        Assert.Contains("(12/12 received)", run.Output);
        var iperf = Regex.Match(run.Output, @"IPERF (\d+) Mbit/s");
        Assert.True(iperf.Success && int.Parse(iperf.Groups[1].Value, CultureInfo.InvariantCulture) >= 1, "no iperf3 result:\n" + run.Output);
        Assert.DoesNotContain("LEFT ", run.Output);
        AssertNoCleanup(run);
    }

    /// <summary>
    /// Mininet's stock switch with OpenFlow 1.3 (`mn --switch ovs,protocols=OpenFlow13`) served by `softswitch vswitchd`,
    /// under an os-ken OpenFlow 1.3 learning-switch application (a table-miss entry to the controller, then flows per
    /// destination): three switches in a line, pingall across them, every switch seen by the application and its
    /// packet-ins answered; mn's teardown leaves nothing.
    /// </summary>
    [E2EFact]
    [RequiresTool("ovsdb-server")]
    [RequiresTool("ovs-vsctl")]
    [RequiresTool("osken-manager")]
    public void StockOvsSwitchWithOpenFlow13PingsUnderAnOskenApp()
    {
        var run = Sandboxed(new() { ["SOFTSWITCH"] = Softswitch }, 240_000,
                            "sh", Path.Combine(Dir, "Mininet", "stock_ovs_test.sh"), "osken", Path.Combine(Dir, "Mininet", "osken_l2_of13.py"));
        Console.WriteLine($"mn --switch ovs,protocols=OpenFlow13 under softswitch vswitchd and os-ken:\n{run.Output}");
        Assert.True(run.ExitCode == 0 && run.Output.Contains("RESULT done"), $"exit code {run.ExitCode}:\n{run.Output}\n{run.Logs}");
        Assert.Contains("MN EXIT 0", run.Output);
        // The whole output on failure: the ping matrix, os-ken's log and the switch's.
        Assert.True(run.Output.Contains("*** Results: 0% dropped (6/6 received)", StringComparison.Ordinal), $"pingall lost a ping:\n{run.Output}\n{run.Logs}");
        string app = run.Output[(run.Output.IndexOf("OSKEN LOG", StringComparison.Ordinal) + "OSKEN LOG".Length)..];
        // OpenFlow 1.3's features reply (auxiliary_id is 1.3's), one per switch, and packet-ins from its table-miss entry (cookie 0x5eed).
        foreach (var dpid in new[] { "0000000000000001", "0000000000000002", "0000000000000003" })
            Assert.Contains($"features dpid={dpid} n_tables=254 auxiliary_id=0", app);
        Assert.Matches(@"packet_in in_port=\d+ src=\S+ dst=\S+ reason=0 table=0 cookie=5eed", app);
        Assert.DoesNotContain("LEFT ", run.Output);
        AssertNoCleanup(run);
    }

    /// <summary>
    /// Spanning tree under `softswitch vswitchd` (Mininet/stp_test.sh): `mn --switch ovsbr,stp=1 --topo torus,3,3
    /// --wait --test pingall` (a torus of nine bridges, eighteen loops: Mininet's OVSBridge sets stp_enable=true and
    /// waits until `ovs-ofctl show` of every switch has STP_FORWARD and no STP_LEARN) pings every pair; mn's teardown
    /// leaves nothing.
    /// </summary>
    [E2EFact]
    [RequiresTool("ovsdb-server")]
    [RequiresTool("ovs-vsctl")]
    public void StpTorusConvergesAndPingsAll()
    {
        var run = Sandboxed(new() { ["SOFTSWITCH"] = Softswitch }, 420_000, "sh", Path.Combine(Dir, "Mininet", "stp_test.sh"), "torus");
        Console.WriteLine($"mn --switch ovsbr,stp=1 --topo torus,3,3 under softswitch vswitchd:\n{run.Output}");
        Assert.True(run.ExitCode == 0 && run.Output.Contains("RESULT done"), $"exit code {run.ExitCode}:\n{run.Output}\n{run.Logs}");
        Assert.Contains("MN EXIT 0", run.Output);
        Assert.True(run.Output.Contains("*** Results: 0% dropped (72/72 received)", StringComparison.Ordinal), $"pingall lost a ping:\n{run.Output}\n{run.Logs}");
        AssertNoCleanup(run);
    }

    /// <summary>
    /// The same torus with 802.1w RSTP (Mininet/stp_test.sh rstp-torus): `mn --custom rstp_switch.py --switch rstpbr
    /// --topo torus,3,3 --wait --test pingall`, Mininet's OVSBridge with rstp_enable=true set as each bridge is made,
    /// converges (no port learning, one forwarding on each switch) and pings every pair.
    /// </summary>
    [E2EFact]
    [RequiresTool("ovsdb-server")]
    [RequiresTool("ovs-vsctl")]
    public void RstpTorusConvergesAndPingsAll()
    {
        var run = Sandboxed(new() { ["SOFTSWITCH"] = Softswitch }, 180_000, "sh", Path.Combine(Dir, "Mininet", "stp_test.sh"), "rstp-torus");
        Console.WriteLine($"mn --switch rstpbr --topo torus,3,3 under softswitch vswitchd:\n{run.Output}");
        Assert.True(run.ExitCode == 0 && run.Output.Contains("RESULT done"), $"exit code {run.ExitCode}:\n{run.Output}\n{run.Logs}");
        Assert.Contains("MN EXIT 0", run.Output);
        Assert.True(run.Output.Contains("*** Results: 0% dropped (72/72 received)", StringComparison.Ordinal), $"pingall lost a ping:\n{run.Output}\n{run.Logs}");
        AssertNoCleanup(run);
    }

    /// <summary>
    /// A ring of three `softswitch vswitchd` bridges joined by veths with STP on (Mininet/stp_test.sh ring): one root,
    /// one blocked port, a ping across, and a flood of 2,000 broadcast pings that ends when the flood ends (three
    /// seconds after it the ring's veths have carried a few BPDUs more, not a storm); a link cut on the hosts' path
    /// heals within max-age plus twice forward-delay.
    /// </summary>
    [E2EFact]
    [RequiresTool("ovsdb-server")]
    [RequiresTool("ovs-vsctl")]
    public void StpRingBlocksOnePort_AFloodDoesNotStorm()
    {
        var run = Sandboxed(new() { ["SOFTSWITCH"] = Softswitch }, 240_000, "sh", Path.Combine(Dir, "Mininet", "stp_test.sh"), "ring");
        Console.WriteLine($"a ring of three bridges with STP under softswitch vswitchd:\n{run.Output}");
        Assert.True(run.ExitCode == 0 && run.Output.Contains("RESULT done"), $"exit code {run.ExitCode}:\n{run.Output}\n{run.Logs}");
        Assert.Contains("RING BLOCKED 1", run.Output);
        Assert.Matches(@"RING ROOTS ""[0-9a-f]{4}\.[0-9a-f]{12}"" \n", run.Output.Replace("\r", "", StringComparison.Ordinal));
        Assert.Contains("RING PING 0", run.Output);
        var frames = Regex.Match(run.Output, @"RING FRAMES AFTER FLOOD (\d+) THEN (\d+)");
        Assert.True(frames.Success, run.Output);
        long before = long.Parse(frames.Groups[1].Value, CultureInfo.InvariantCulture), after = long.Parse(frames.Groups[2].Value, CultureInfo.InvariantCulture);
        // Hello time 1 s: six veth ends send at most one BPDU a second each (a TCN or two besides).
        Assert.True(after - before <= 30, $"the ring carried {after - before} frames in the 3 s after the flood: a loop\n{run.Output}\n{run.Logs}");
        // Each of the 2,000 broadcasts reaches each bridge once or so: a loop carries them round many times.
        Assert.True(before < 40_000, $"the ring carried {before} frames for a flood of 2,000 broadcasts: a loop\n{run.Output}");
        // The cut heals within max-age plus twice forward-delay (6 + 2 x 4 s), with 3 s of slack for a loaded machine.
        var healed = Regex.Match(run.Output, @"RING CUT sr\d\d HEALED yes AFTER (\d+) ms");
        Assert.True(healed.Success, $"the ring did not heal after a link cut\n{run.Output}\n{run.Logs}");
        Assert.InRange(int.Parse(healed.Groups[1].Value, CultureInfo.InvariantCulture), 0, 17_000);
    }

    /// <summary>
    /// A ring of two `softswitch vswitchd` bridges and one Open vSwitch user-space bridge (ovs-vswitchd, datapath_type
    /// netdev, in a namespace of its own) joined by veths (Mininet/stp_test.sh ovs): with the Open vSwitch bridge's
    /// priority lowest every bridge names it root and the softswitch bridge of the higher priority blocks the link
    /// between the two; with a softswitch
    /// bridge's priority 0 every bridge names that one, and the port 802.1D blocks (the other softswitch bridge's
    /// towards Open vSwitch, whose bridge ID is lower) is the one blocked.
    /// </summary>
    [E2EFact]
    [RequiresTool("ovsdb-server")]
    [RequiresTool("ovs-vsctl")]
    [RequiresTool("ovs-vswitchd")]
    public void StpRingWithAnOpenVswitchBridge_ElectsOneRoot()
    {
        var run = Sandboxed(new() { ["SOFTSWITCH"] = Softswitch }, 240_000, "sh", Path.Combine(Dir, "Mininet", "stp_test.sh"), "ovs");
        Console.WriteLine($"a ring of two softswitch bridges and an Open vSwitch bridge with STP:\n{run.Output}");
        Assert.True(run.ExitCode == 0 && run.Output.Contains("RESULT done"), $"exit code {run.ExitCode}:\n{run.Output}\n{run.Logs}");
        foreach (var (round, root) in new[] { ("OVSROOT", "1000"), ("SSWROOT", "0000") })
        {
            var roots = Regex.Match(run.Output, $@"OVS {round} ROOTS softswitch: ""([0-9a-f.]+)"" ""([0-9a-f.]+)"" ovs: ""([0-9a-f.]+)""");
            Assert.True(roots.Success, run.Output);
            Assert.StartsWith(root + ".", roots.Groups[1].Value, StringComparison.Ordinal);
            Assert.True(roots.Groups[1].Value == roots.Groups[2].Value && roots.Groups[2].Value == roots.Groups[3].Value,
                $"{round}: the bridges name different roots\n{run.Output}\n{run.Logs}");
        }
        Assert.Contains("OVS OVSROOT BLOCKED softswitch: sr12b ovs: \n", run.Output.Replace("\r", "", StringComparison.Ordinal));
        Assert.Contains("OVS SSWROOT BLOCKED softswitch: so1a ovs: \n", run.Output.Replace("\r", "", StringComparison.Ordinal));
    }

    /// <summary>
    /// The same ring with 802.1w RSTP (Mininet/stp_test.sh rstp), laid out both ways: three bridges with fixed addresses
    /// and priorities (stpo 4096, stpr1 16384, stpr2 32768), first with Open vSwitch (a user-space bridge, rstp_enable=true)
    /// running stpo and `softswitch vswitchd` the other two, a host on each of those; then with Open vSwitch running
    /// stpr2 and softswitch stpo and stpr1. Either way every bridge names stpo root and the one alternate is stpr2's port
    /// towards stpr1 (sr12b); with stpr2's priority 0 every bridge names stpr2 and the alternate is stpr1's port towards
    /// stpo (so1a, stpo's bridge ID being lower): the same root bridge ID and the same alternate port whichever daemon
    /// runs which bridge. Each converges in seconds; in the first layout, when the root port of the bridge with the
    /// alternate loses its link, the hosts ping again within a few hello times (the alternate forwards at once).
    /// </summary>
    [E2EFact]
    [RequiresTool("ovsdb-server")]
    [RequiresTool("ovs-vsctl")]
    [RequiresTool("ovs-vswitchd")]
    public void RstpRingWithAnOpenVswitchBridge_ElectsOneRoot_AndFailsOverFast()
    {
        var run = Sandboxed(new() { ["SOFTSWITCH"] = Softswitch }, 180_000, "sh", Path.Combine(Dir, "Mininet", "stp_test.sh"), "rstp");
        Console.WriteLine($"a ring of softswitch bridges and an Open vSwitch bridge with RSTP, both ways round:\n{run.Output}");
        string output = run.Output.Replace("\r", "", StringComparison.Ordinal);
        Assert.True(run.ExitCode == 0 && output.Contains("RESULT done"), $"exit code {run.ExitCode}:\n{output}\n{run.Logs}");
        // The root's bridge ID: its priority over 4096, the system ID extension 0, its address (other_config:hwaddr).
        foreach (var (round, root, alternate) in new[] { ("root=stpo", "1.000.025700000003", "sr12b"), ("root=stpr2", "0.000.025700000002", "so1a") })
        {
            foreach (var layout in new[] { "ovs=stpo", "ovs=stpr2" })
            {
                var roots = Regex.Match(output, $@"RSTP {layout} {round} ROOTS ""([0-9a-f.]+)"" ""([0-9a-f.]+)"" ""([0-9a-f.]+)""");
                Assert.True(roots.Success, output);
                Assert.True(roots.Groups[1].Value == root && roots.Groups[2].Value == root && roots.Groups[3].Value == root,
                    $"{layout} {round}: the bridges name {roots.Value}, not {root} each\n{output}\n{run.Logs}");
                Assert.Contains($"RSTP {layout} {round} ALTERNATE {alternate} \n", output);
                var converged = Regex.Match(output, $@"RSTP {layout} {round} CONVERGED AFTER (\d+) ms");
                Assert.True(converged.Success, output);
                Assert.InRange(int.Parse(converged.Groups[1].Value, CultureInfo.InvariantCulture), 0, 15_000);
            }
        }
        // Which daemon found it: in the second layout Open vSwitch runs stpr2 and so sr12b.
        Assert.Contains("RSTP ovs=stpo root=stpo ALTERNATE BY softswitch: sr12b ovs: \n", output);
        Assert.Contains("RSTP ovs=stpr2 root=stpo ALTERNATE BY softswitch: ovs: sr12b \n", output);
        Assert.Contains("RSTP ovs=stpr2 root=stpr2 ALTERNATE BY softswitch: so1a ovs: \n", output);
        Assert.Contains("RSTP PING 0", output);
        var healed = Regex.Match(output, @"RSTP CUT so2a HEALED yes AFTER (\d+) ms");
        Assert.True(healed.Success, $"the ring did not heal after a link cut\n{output}\n{run.Logs}");
        // Three hello times (2 s each); the alternate takes over as soon as the link's loss is seen.
        Assert.InRange(int.Parse(healed.Groups[1].Value, CultureInfo.InvariantCulture), 0, 6_000);
    }

    /// <summary>
    /// A `softswitch vswitchd` bond (balance-tcp, lacp=active, lacp-time=fast) over two veths to an Open vSwitch
    /// user-space bond in a namespace of its own (Mininet/bond_test.sh): LACP is negotiated and each side names the other
    /// partner, the hosts behind the two bridges ping, 64 TCP flows (from fixed source ports: the same hashes every run)
    /// leave by both members (each 35-65% of the bytes),
    /// and when the member carrying a 10 ms ping goes down the ping moves to the other within a second.
    /// </summary>
    [E2EFact]
    [RequiresTool("ovsdb-server")]
    [RequiresTool("ovs-vsctl")]
    [RequiresTool("ovs-vswitchd")]
    [RequiresTool("socat")]
    public void BondWithLacpToAnOpenVswitchBond_NegotiatesSpreadsAndFailsOver()
    {
        var run = Sandboxed(new() { ["SOFTSWITCH"] = Softswitch }, 120_000, "sh", Path.Combine(Dir, "Mininet", "bond_test.sh"));
        Console.WriteLine($"a softswitch bond with LACP to an Open vSwitch bond:\n{run.Output}");
        Assert.True(run.ExitCode == 0 && run.Output.Contains("RESULT done"), $"exit code {run.ExitCode}:\n{run.Output}\n{run.Logs}");
        Assert.Contains("BOND LACP NEGOTIATED yes", run.Output);
        var ours = Regex.Match(run.Output, @"BOND LACP SOFTSWITCH SYS ([0-9a-f:]+) PARTNERS ([0-9a-f:]+) \n");
        var theirs = Regex.Match(run.Output, @"BOND LACP OVS SYS ([0-9a-f:]+) PARTNERS ([0-9a-f:]+) \n");
        Assert.True(ours.Success && theirs.Success, run.Output);
        Assert.Equal(ours.Groups[1].Value, theirs.Groups[2].Value);
        Assert.Equal(theirs.Groups[1].Value, ours.Groups[2].Value);
        Assert.Matches(@"BOND STATUS ""[0-9a-f:]{17}"" true true", run.Output);
        Assert.Contains("BOND PING 0", run.Output);
        Assert.Contains("BOND FLOWS 64 of 64 sent", run.Output);
        var spread = Regex.Match(run.Output, @"BOND SPREAD (\d+) (\d+)");
        Assert.True(spread.Success, run.Output);
        double one = double.Parse(spread.Groups[1].Value, CultureInfo.InvariantCulture), two = double.Parse(spread.Groups[2].Value, CultureInfo.InvariantCulture);
        Assert.True(one + two > 1_000_000, $"64 flows sent {one + two} bytes\n{run.Output}\n{run.Logs}");
        Assert.InRange(one / (one + two), 0.35, 0.65);
        var failover = Regex.Match(run.Output, @"BOND FAILOVER bda\d lost (\d+) of 300");
        Assert.True(failover.Success, run.Output);
        // 10 ms apart: a second's worth of pings is 100.
        Assert.InRange(int.Parse(failover.Groups[1].Value, CultureInfo.InvariantCulture), 0, 100);
    }

    private sealed record Run(int ExitCode, string Output, string Logs, bool SentinelKept);

    private static void AssertNoCleanup(Run run)
    {
        Assert.DoesNotContain("Cleaning up", run.Output);
        Assert.True(run.SentinelKept, $"/tmp/{Sentinel} was removed: Mininet's cleanup ran\n{run.Output}");
    }

    private static Run Mn(Dictionary<string, string> env, params string[] args)
        => Sandboxed(env, 120_000, ["mn", "--custom", ClassFile, .. args]);

    private static Run Sandboxed(Dictionary<string, string> env, int timeoutMs, params string[] command)
    {
        var root = Directory.CreateTempSubdirectory("ssw-mn-");
        try
        {
            var tmp = Directory.CreateDirectory(Path.Combine(root.FullName, "tmp")).FullName;
            string dies = Path.Combine(tmp, "dies-after-start.sh");
            File.WriteAllText(dies, "#!/bin/sh\n# Runs the switch, then kills it once it has detached.\n" +
                                    "\"$REAL_SOFTSWITCH\" \"$@\" || exit $?\n" +
                                    "while [ $# -gt 0 ]; do [ \"$1\" = --pidfile ] && kill -KILL \"$(cat \"$2\")\"; shift; done\n");
            Sh.Check("chmod", "0755", dies);
            var psi = new ProcessStartInfo("unshare")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var a in new[] { "--net", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc", "--propagation", "private",
                                      "sh", Path.Combine(Dir, "Mininet", "sandbox.sh"), root.FullName })
            {
                psi.ArgumentList.Add(a);
            }
            foreach (var a in command)
            {
                psi.ArgumentList.Add(a);
            }
            foreach (var (k, v) in env)
            {
                psi.Environment[k] = v;
            }
            // The build (switch, class, scripts) stays visible inside even when the clone lies under /tmp.
            psi.Environment["SANDBOX_KEEP"] = Dir.TrimEnd('/');
            var output = new StringBuilder();
            using var p = new Process { StartInfo = psi };
            p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
            p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
            p.Start();
            p.BeginOutputReadLine();
            p.BeginErrorReadLine();
            bool exited = p.WaitForExit(timeoutMs);
            if (!exited)
                p.Kill(true);
            p.WaitForExit();
            string text;
            lock (output) text = output.ToString();
            string logs = string.Join("\n", Directory.EnumerateFiles(tmp, "*.log", SearchOption.AllDirectories)
                .Select(f => $"== {f}\n{File.ReadAllText(f)}"));
            Assert.True(exited, $"{string.Join(' ', command)} did not finish in {timeoutMs / 1000} s:\n{text}\n{logs}");
            return new Run(p.ExitCode, text, logs, File.Exists(Path.Combine(tmp, Sentinel)));
        }
        finally
        {
            try { root.Delete(true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    private static Run Import(string classDir, string path)
    {
        var psi = new ProcessStartInfo("/usr/bin/python3")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = classDir,
        };
        foreach (var a in new[] { "-c", $"import sys; sys.path.insert(0, '{classDir}'); import softswitch_mn as m; print('COMMAND', m.COMMAND)" })
        {
            psi.ArgumentList.Add(a);
        }
        psi.Environment.Remove("SOFTSWITCH");
        psi.Environment["PATH"] = path;
        using var p = Process.Start(psi)!;
        var so = p.StandardOutput.ReadToEndAsync();
        var se = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(60_000), "python3 did not finish in 60 s");
        p.WaitForExit();
        return new Run(p.ExitCode, so.Result + se.Result, "", true);
    }
}
