using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Softswitch.Control;
using Softswitch.TestKit;
using Softswitch.Tests.Control;

namespace Softswitch.Tests;

/// <summary>
/// The real `softswitch` program as a child process (in-memory ports, no root needed): one-line user errors with exit
/// code 2, --help listing the defaults, --detach/--pidfile/--log-file, the ctl commands, port/add and port/del with
/// PORT_STATUS, and SIGHUP or `ctl exit` ending it cleanly. Every process it starts ends by pid.
/// </summary>
public sealed class DaemonCliTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("ssw-cli-");

    /// <summary>The detached daemons' datapath id, private to this test process: it names their default management
    /// socket, /run/softswitch/DPID.mgmt, which another test run on the machine must not answer.</summary>
    private static readonly string Dpid = (0x2a_0000UL | (uint)(Environment.ProcessId & 0xFFFF)).ToString("x16", System.Globalization.CultureInfo.InvariantCulture);

    private static string DpidColons => string.Join(':', Enumerable.Range(0, 8).Select(i => Dpid.Substring(2 * i, 2)));
    private readonly List<int> _pids = new();

    public void Dispose()
    {
        foreach (int pid in _pids)
        {
            try { using var p = Process.GetProcessById(pid); p.Kill(); }
            catch (ArgumentException) { }
            catch (InvalidOperationException) { }
        }
        _dir.Delete(recursive: true);
    }

    private static string Dll => Path.Combine(AppContext.BaseDirectory, "softswitch.dll");

    private static (int Code, string Out, string Err) Softswitch(params string[] args) => Softswitch(null, args);

    private static (int Code, string Out, string Err) Softswitch(Dictionary<string, string>? env, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var (k, v) in env ?? []) psi.Environment[k] = v;
        psi.ArgumentList.Add(Dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(60_000))
        {
            p.Kill(true);
            Assert.Fail($"softswitch {string.Join(' ', args)} did not finish");
        }
        p.WaitForExit();
        return (p.ExitCode, o.Result, e.Result);
    }

    [Theory]
    [InlineData(new[] { "run" }, "softswitch: no ports: give --ports, e.g. --ports afpacket:eth1,afpacket:eth2")]
    [InlineData(new[] { "run", "--ports", "mem:2", "--bogus" }, "softswitch: unknown option '--bogus' (see `softswitch run --help`)")]
    [InlineData(new[] { "run", "--port", "mem:2" }, "softswitch: unknown option '--port' (did you mean --ports?)")]
    [InlineData(new[] { "run", "--ports", "mem:2", "--threads", "many" }, "softswitch: --threads wants a whole number, e.g. 4, not 'many'")]
    [InlineData(new[] { "demo", "--seconds", "abc" }, "softswitch: --seconds wants a number, e.g. 2.5, not 'abc'")]
    [InlineData(new[] { "version" }, "softswitch: unknown command 'version' (commands: run, demo, ctl, vswitchd)")]
    [InlineData(new[] { "rnu" }, "softswitch: unknown command 'rnu' (did you mean run? commands: run, demo, ctl, vswitchd)")]
    [InlineData(new[] { "ctl", "--pidfile", "/nonexistent/sw.pid", "exit" }, "softswitch: --pidfile /nonexistent/sw.pid: ")]
    [InlineData(new[] { "run", "--ports", "mem:2", "--listen", "tcp:1.2.3.4:5" }, "softswitch: bad OpenFlow endpoint 'tcp:1.2.3.4:5': --listen waits")]
    [InlineData(new[] { "run", "--ports", "mem:2", "--controller", "udp:1.2.3.4" }, "softswitch: bad OpenFlow endpoint 'udp:1.2.3.4': ")]
    [InlineData(new[] { "run", "--ports", "mem:2", "--listen", "ptcp:x" }, "softswitch: bad OpenFlow endpoint 'ptcp:x': ")]
    [InlineData(new[] { "run", "--ports", "mem:2", "--dpid", "xyz" }, "softswitch: --dpid 'xyz': want up to 16 hex digits")]
    [InlineData(new[] { "run", "--ports", "mem:2", "--fail-mode", "open" }, "softswitch: --fail-mode must be standalone or secure, not 'open'")]
    [InlineData(new[] { "run", "--ports", "mem:2", "--log-level", "ofagent:loud" }, "softswitch: --log-level: bad log level 'ofagent:loud'")]
    [InlineData(new[] { "run", "--ports", "2=mem:1,2=mem:1" }, "OpenFlow port number 2 is already taken")]
    [InlineData(new[] { "run", "--ports", "mem:2", "--forwarding-cpus", "1-0" }, "softswitch: --forwarding-cpus '1-0': the range 1-0 runs backwards")]
    [InlineData(new[] { "run", "--ports", "mem:2", "--forwarding-cpus", "one" }, "softswitch: --forwarding-cpus 'one': want CPU numbers and ranges")]
    [InlineData(new[] { "run", "--ports", "mem:2", "--forwarding-cpus", "1023" }, "softswitch: --forwarding-cpus 1023: CPU 1023 is not one this process may use")]
    [InlineData(new[] { "run", "--ports", "mem:2", "--linger-us=-1" }, "softswitch: --linger-us must be 0 to 1000000, not -1")]
    [InlineData(new[] { "run", "--ports", "mem:2", "--pmd-rxq-assign", "load" }, "softswitch: --pmd-rxq-assign must be cycles, roundrobin or group, not 'load'")]
    [InlineData(new[] { "run", "--ports", "mem:2", "--pmd-auto-lb-load-threshold", "101" }, "softswitch: --pmd-auto-lb-load-threshold must be a percentage from 0 to 100, not 101")]
    [InlineData(new[] { "run", "--ports", "mem:2", "--pmd-auto-lb-improvement-threshold=-1" }, "softswitch: --pmd-auto-lb-improvement-threshold must be a percentage from 0 to 100, not -1")]
    [InlineData(new[] { "run", "--ports", "mem:2", "--pmd-auto-lb-rebal-interval", "20001" }, "softswitch: --pmd-auto-lb-rebal-interval must be 0 to 20000 minutes, not 20001")]
    [InlineData(new[] { "run", "--ports", "mem:2", "--flow-limit", "0" }, "softswitch: --flow-limit must be from 1 to 4194304 (the most flows a table holds, as OVS's flow_limit), not 0")]
    [InlineData(new[] { "run", "--ports", "mem:2", "--flow-limit=-5" }, "softswitch: --flow-limit must be from 1 to 4194304 (the most flows a table holds, as OVS's flow_limit), not -5")]
    [InlineData(new[] { "run", "--ports", "mem:2", "--flow-limit", "4194305" }, "softswitch: --flow-limit must be from 1 to 4194304 (the most flows a table holds, as OVS's flow_limit), not 4194305")]
    [InlineData(new[] { "run", "--ports", "mem:2", "--flow-limit", "many" }, "softswitch: --flow-limit wants a whole number, e.g. 4, not 'many'")]
    [InlineData(new[] { "run", "--ports", "mem:2", "--flow-limit", "1e6" }, "softswitch: --flow-limit wants a whole number, e.g. 4, not '1e6'")]
    [InlineData(new[] { "demo", "--seconds", "0" }, "softswitch: --seconds must be above 0")]
    [InlineData(new string[0], "softswitch: give a command: run, demo, ctl or vswitchd")]
    [InlineData(new[] { "ctl", "--format", "yaml", "fdb/show" }, "softswitch: --format must be text or json")]
    public void UserMistake_IsOneLine_ExitCode2_NoUsage(string[] args, string expected)
    {
        var (code, stdout, stderr) = Softswitch(args);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.StartsWith("softswitch: ", stderr);
        Assert.Contains(expected, stderr);
        Assert.Single(stderr.TrimEnd('\n').Split('\n'));
        Assert.DoesNotContain("Usage", stderr);
        Assert.DoesNotContain("System.", stderr);
        Assert.DoesNotContain("Required command was not provided", stderr);
    }

    [Fact]
    public void CtlExit_ReturnsOnceTheSwitchHasEnded_SoItStartsAgainAtOnce()
    {
        for (int round = 0; round < 2; round++)
        {
            // The same socket and pid file each round: a switch still running would hold both ("process N is running and owns it").
            var (pid, ctl, pidFile, _) = Detached();
            Assert.Contains(", config none, ", Softswitch("ctl", "-t", ctl, "dp/show").Out);
            var sw = Stopwatch.StartNew();
            var exit = Softswitch("ctl", "-t", ctl, "exit");
            Assert.True(exit.Code == 0, exit.Err);
            Console.WriteLine($"softswitch ctl exit returned in {sw.ElapsedMilliseconds} ms (a process start included)");
            Assert.True(ProcessExit.IsGone(pid), $"pid {pid} still runs when ctl exit has returned");
            Assert.False(File.Exists(ctl), "socket removed");
            Assert.False(File.Exists(pidFile), "pid file removed");
            _pids.Remove(pid);
        }
    }

    [Fact]
    public void Demo_ThroughAPipe_IsPlainText_AndSaysWhatItShowed()
    {
        // A terminal type that invites colour: the pipe alone must turn it off.
        var (code, stdout, stderr) = Softswitch(new Dictionary<string, string> { ["TERM"] = "xterm-256color", ["COLORTERM"] = "truecolor" }, "demo", "--seconds", "0.2");
        Assert.True(code == 0, stderr);
        Assert.DoesNotContain('\u001b', stdout);
        Assert.Contains("TWAREN flow1 (ip,nw_dst=10.0.0.3 actions=mod_dl_dst:00:15:17:8f:ca:37,output:3)", stdout);
        Assert.Contains(Demo.TwarenLine, System.Text.RegularExpressions.Regex.Replace(stdout, @"\s+", " "));
        Assert.Contains("next: run the switch on real interfaces", stdout);
        Assert.Contains("softswitch run --ports afpacket:", stdout);
    }

    [Fact]
    public void FlowLimit_IsEveryTablesMax_AndABadOneInTheConfigIsRefusedAtStart()
    {
        string path = Path.Combine(_dir.FullName, "c.json");
        File.WriteAllText(path, """{"ports": "mem:2", "flowLimit": 0}""");
        var (code, _, stderr) = Softswitch("run", "--config", path);
        Assert.Equal(2, code);
        Assert.Equal("softswitch: --flow-limit must be from 1 to 4194304 (the most flows a table holds, as OVS's flow_limit), not 0\n", stderr);

        var (pid, ctl, _, _) = Detached("--flow-limit", "5000");
        var show = Softswitch("ctl", "-t", ctl, "dp/show");
        Assert.True(show.Code == 0, show.Err);
        Assert.Contains("table 0 (classifier): 0 flows (max 5000)", show.Out);
        Assert.Contains("stage tuple-space: 0 flows (max 5000)", show.Out);
        Assert.Equal(0, Softswitch("ctl", "-t", ctl, "exit").Code);
        WaitGone(pid);
    }

    [Fact]
    public void ConfigMistake_SuggestsTheKey()
    {
        string path = Path.Combine(_dir.FullName, "c.json");
        File.WriteAllText(path, """{"port": "mem:2"}""");
        var (code, _, stderr) = Softswitch("run", "--config", path);
        Assert.Equal(2, code);
        Assert.Equal($"softswitch: config '{path}': unknown setting 'port' (did you mean 'ports'?)\n", stderr);
    }

    [Fact]
    public void Help_ListsEveryOptionWithItsDefault()
    {
        var (code, stdout, _) = Softswitch("run", "--help");
        Assert.Equal(0, code);
        foreach (var option in new[] { "--ports", "--controller", "--listen", "--tunnel", "--offload", "--dpid", "--fail-mode", "--config", "--threads",
                     "--emc-entries", "--packet-in-rate", "--pcap-dir", "--stats", "--log-level", "--log-file", "--unixctl", "--pidfile", "--detach", "--metrics",
                     "--flow-limit" })
        {
            Assert.Contains(option, stdout);
        }

        foreach (var d in new[] { "default standalone", "default 1)", "default 8192", "default 20000", "default info", "default none", "default 2000000" })
            Assert.Contains(d, stdout);
    }

    private (int Pid, string Ctl, string PidFile, string Log) Detached(params string[] extra) => DetachedOn("mem:2", extra);

    private (int Pid, string Ctl, string PidFile, string Log) DetachedOn(string ports, params string[] extra)
    {
        string ctl = Path.Combine(_dir.FullName, "sw.ctl"), pidFile = Path.Combine(_dir.FullName, "sw.pid"), log = Path.Combine(_dir.FullName, "sw.log");
        var sw = Stopwatch.StartNew();
        var (code, stdout, stderr) = Softswitch(["run", "--ports", ports, "--dpid", DpidColons, "--unixctl", ctl, "--pidfile", pidFile,
            "--log-file", log, "--detach", .. extra]);
        Assert.True(code == 0, $"--detach failed ({code}): {stdout}{stderr}");
        int pid = int.Parse(File.ReadAllText(pidFile).Trim());
        _pids.Add(pid);
        Assert.Contains($"running as pid {pid}", stdout);
        Assert.True(File.Exists(ctl), "the control socket exists when --detach returns");
        Console.WriteLine($"softswitch run --detach returned ready in {sw.ElapsedMilliseconds} ms");
        return (pid, ctl, pidFile, log);
    }

    /// <summary>
    /// --pmd-rxq-assign roundrobin places the receive queues as other_config:pmd-rxq-assign=roundrobin does under the
    /// vswitchd: after `ctl dpif-netdev/pmd-rxq-rebalance` three idle ports go to the two threads in port order
    /// (mem1 and mem3 on thread 0, mem2 on 1), where cycles (the default, dealt up and down) would put mem3 on thread 1.
    /// </summary>
    [Fact]
    public void PmdRxqAssign_RoundRobin_PlacesTheQueuesInPortOrder_WhenCtlRebalances()
    {
        var (_, ctl, _, log) = DetachedOn("mem:3", "--threads", "2", "--local-port", "none", "--pmd-rxq-assign", "roundrobin", "--pmd-auto-lb",
            "--pmd-auto-lb-load-threshold", "90", "--pmd-auto-lb-improvement-threshold", "20", "--pmd-auto-lb-rebal-interval", "0");
        string Ctl(params string[] words)
        {
            var (o, e) = (new StringWriter(), new StringWriter());
            Assert.True(CtlCommand.Run(ctl, 30, words, o, e) == 0, $"ctl {string.Join(' ', words)}: {e}");
            return o.ToString();
        }
        Assert.Equal("pmd rxq rebalance requested.\n", Ctl("dpif-netdev/pmd-rxq-rebalance"));
        var show = Ctl("dpif-netdev/pmd-rxq-show");
        var threads = show.Split("pmd thread numa_id 0 core_id ", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, threads.Length);
        Assert.StartsWith("0:", threads[0]);
        Assert.StartsWith("1:", threads[1]);
        Assert.Contains("port: mem1", threads[0]);
        Assert.Contains("port: mem3", threads[0]);
        Assert.Contains("port: mem2", threads[1]);
        Assert.DoesNotContain("port: mem2", threads[0]);
        Assert.DoesNotContain("port: mem3", threads[1]);
        Assert.Contains("queue-id:  0 (enabled)   pmd usage: NOT AVAIL", show);
        // -pmd CORE shows that thread alone.
        Assert.Equal("pmd thread numa_id 0 core_id " + threads[1], Ctl("dpif-netdev/pmd-rxq-show", "-pmd", "1"));
        Assert.Contains("rx queues placed by roundrobin; PMD auto load balance is enabled (load threshold 90%, improvement threshold 20%, interval 1 min)",
            File.ReadAllText(log));
    }

    [TwoCpuFact]
    public void ForwardingCpus_PinTheForwardingThreads_AndKeepEveryOtherThreadOff()
    {
        var allowed = global::Softswitch.Datapath.Forwarding.CpuPlacement.Allowed();
        int cpu = allowed[^1];
        var (pid, ctl, _, log) = Detached("--threads", "2", "--forwarding-cpus", cpu.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var threads = new List<(string Name, string Cpus)>();
        foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
        {
            string name = File.ReadAllText(Path.Combine(task, "comm")).Trim();
            string cpus = File.ReadLines(Path.Combine(task, "status")).First(l => l.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal)).Split(':')[1].Trim();
            threads.Add((name, cpus));
        }
        var fwd = threads.Where(t => t.Name.StartsWith("fwd-", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, fwd.Count);
        Assert.All(fwd, t => Assert.Equal(cpu.ToString(System.Globalization.CultureInfo.InvariantCulture), t.Cpus));
        // Every other thread (the runtime's own included: the collector's, the finalizer, the tiered compiler) is off it.
        var others = threads.Except(fwd).ToList();
        Assert.Contains(others, t => t.Name.Contains("Finalizer", StringComparison.Ordinal));
        foreach (var (name, cpus) in others)
            Assert.DoesNotContain(cpu, Expand(cpus));
        Assert.Contains($"forwarding threads on CPU(s) {cpu}, the other threads on", File.ReadAllText(log));
        Assert.Equal(0, Softswitch("ctl", "-t", ctl, "exit").Code);
        WaitGone(pid);

        static IEnumerable<int> Expand(string list) => list.Split(',').SelectMany(r =>
        {
            var ends = r.Split('-').Select(int.Parse).ToArray();
            return Enumerable.Range(ends[0], ends[^1] - ends[0] + 1);
        });
    }

    private void WaitGone(int pid)
    {
        // A detached daemon is not this process's child: once it exits it stays a zombie until init reaps it, which a
        // busy machine's init may take seconds to do. A zombie has ended (ProcessExit.IsGone), as `softswitch ctl exit` sees it.
        if (ProcessExit.WaitGone(pid, TimeSpan.FromSeconds(10))) return;
        // Still there: what the daemon's logs end with says where its stop is (it names a slow stage every 5 s).
        var tails = new System.Text.StringBuilder();
        foreach (var f in _dir.EnumerateFiles("*.log*"))
        {
            var lines = File.ReadAllLines(f.FullName);
            tails.Append("\n== ").Append(f.Name).Append('\n').AppendJoin('\n', lines.Skip(Math.Max(0, lines.Length - 15)));
        }
        string state = File.Exists($"/proc/{pid}/status") ? string.Join(", ", File.ReadAllLines($"/proc/{pid}/status").Where(l => l.StartsWith("State:") || l.StartsWith("Threads:"))) : "";
        Assert.Fail($"pid {pid} still runs 10 s later ({state}){tails}");
    }

    [Fact]
    public void Detach_Pidfile_CtlCommands_SighupEndsCleanly()
    {
        var (pid, ctl, pidFile, log) = Detached("--log-level", "info,control:dbg");

        var version = Softswitch("ctl", "-t", ctl, "version");
        Assert.Equal(0, version.Code);
        Assert.StartsWith("softswitch ", version.Out);
        var list = Softswitch("ctl", "-t", ctl, "list-commands");
        foreach (var c in new[] { "version", "exit", "list-commands", "vlog/set", "vlog/list", "vlog/reopen", "fdb/show", "fdb/flush", "memory/show", "dump-flows", "port/add", "port/del", "dp/show" })
            Assert.Contains("  " + c, list.Out);

        using (var mem = JsonDocument.Parse(Softswitch("ctl", "-t", ctl, "--format", "json", "memory/show").Out))
        {
            Assert.Equal(2, mem.RootElement.GetProperty("ports").GetInt32());
            Assert.True(mem.RootElement.GetProperty("rss-bytes").GetInt64() > 0);
        }
        Assert.Equal(" port  VLAN  MAC                Age\n", Softswitch("ctl", "-t", ctl, "fdb/show").Out);
        Assert.Equal("[]\n", Softswitch("ctl", "-t", ctl, "fdb/show", "--format", "json").Out);
        Assert.Equal("table successfully flushed\n", Softswitch("ctl", "-t", ctl, "fdb/flush").Out);
        Assert.Equal("", Softswitch("ctl", "-t", ctl, "dump-flows").Out);
        var bad = Softswitch("ctl", "-t", ctl, "fdb/show", "--format", "xml");
        Assert.Equal(2, bad.Code);
        Assert.Contains("--format must be text or json", bad.Err);
        var extra = Softswitch("ctl", "-t", ctl, "fdb/show", "json");   // the daemon's own check
        Assert.Equal(1, extra.Code);
        Assert.Contains("fdb/show takes only --format text|json", extra.Err);

        Assert.Equal(0, Softswitch("ctl", "-t", ctl, "vlog/set", "afpacket:warn").Code);
        var levels = Softswitch("ctl", "-t", ctl, "vlog/list").Out;
        Assert.Matches(@"(?m)^afpacket\s+warn$", levels);
        Assert.Matches(@"(?m)^control\s+dbg$", levels);
        Assert.Equal(1, Softswitch("ctl", "-t", ctl, "vlog/set", "afpacket:loud").Code);

        File.Move(log, log + ".1");
        Assert.Equal(0, Softswitch("ctl", "-t", ctl, "vlog/reopen").Code);

        Process.Start("kill", ["-HUP", pid.ToString()])!.WaitForExit();
        WaitGone(pid);
        Assert.False(File.Exists(ctl), "socket removed");
        Assert.False(File.Exists(pidFile), "pid file removed");
        string before = File.ReadAllText(log + ".1"), after = File.ReadAllText(log);
        // The first line's form (a WARN first when the LOCAL tap's name is taken by another switch of this dpid).
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\|00001\|\w+\|(INFO|WARN)\|", before);
        Assert.Contains($"|softswitch|INFO|softswitch running: dpid {Dpid}", before);
        Assert.Contains("|control|DBG|control socket: version -> ok", before);
        Assert.DoesNotContain("vlog/list", after);   // written before the reopen
        Assert.Contains("|control|DBG|control socket: vlog/reopen -> ok", after);
        Assert.Contains("|softswitch|INFO|shutting down (SIGHUP)", after);
    }

    /// <summary>
    /// A SIGHUP sent the moment the pid file appears (a supervisor or a test that signals as soon as it knows the pid)
    /// ends the daemon cleanly: the signals are handled from before the pid file is written, so the signal is neither
    /// lost nor left to the default action. Three rounds, each a fresh start.
    /// </summary>
    [Fact]
    public async Task Sighup_TheMomentThePidFileAppears_EndsTheDaemonCleanly()
    {
        string ctl = Path.Combine(_dir.FullName, "hup.ctl"), pidFile = Path.Combine(_dir.FullName, "hup.pid"), log = Path.Combine(_dir.FullName, "hup.log");
        for (int round = 0; round < 3; round++)
        {
            File.Delete(log);
            var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in new[] { Dll, "run", "--ports", "mem:2", "--dpid", "00:00:00:00:00:00:00:2b", "--unixctl", ctl, "--pidfile", pidFile, "--log-file", log })
                psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            _pids.Add(p.Id);
            var o = p.StandardOutput.ReadToEndAsync();
            var e = p.StandardError.ReadToEndAsync();
            var sw = Stopwatch.StartNew();
            while (!File.Exists(pidFile) && !p.HasExited && sw.ElapsedMilliseconds < 60_000) Thread.SpinWait(1000);
            Assert.True(File.Exists(pidFile), $"round {round}: no pid file ({(p.HasExited ? $"exited {p.ExitCode}" : "still running")})");
            Assert.Equal(0, Signals.kill(p.Id, Signals.SIGHUP));
            Assert.True(p.WaitForExit(30_000), $"round {round}: the daemon did not end after SIGHUP");
            p.WaitForExit();
            string text = File.Exists(log) ? File.ReadAllText(log) : "";
            Assert.True(p.ExitCode == 0, $"round {round}: exit code {p.ExitCode}\n{await o}{await e}{text}");
            Assert.Contains("|softswitch|INFO|shutting down (SIGHUP)", text);
            Assert.False(File.Exists(pidFile), "pid file removed");
        }
    }

    private static class Signals
    {
        public const int SIGHUP = 1;

        [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
        public static extern int kill(int pid, int sig);
    }

    /// <summary>dp/show has a line per active controller: here nothing listens, so the connect is refused, and it says so.</summary>
    [Fact]
    public void DpShow_SaysWhyAnActiveControllerIsNotConnected()
    {
        int port = FreePort();
        var (pid, ctl, _, _) = Detached("--controller", $"tcp:127.0.0.1:{port}");
        string line = "";
        var sw = Stopwatch.StartNew();
        while (sw.ElapsedMilliseconds < 30_000)
        {
            line = Softswitch("ctl", "-t", ctl, "dp/show").Out.Split('\n').FirstOrDefault(l => l.StartsWith("controller tcp:", StringComparison.Ordinal)) ?? "";
            if (line.Contains("failed attempt", StringComparison.Ordinal)) break;
            Thread.Sleep(100);
        }
        Assert.Matches($@"^controller tcp:127\.0\.0\.1:{port}: not connected, \d+ failed attempt\(s\), last: connect failed: connection refused$", line);
        Assert.Equal(0, Softswitch("ctl", "-t", ctl, "exit").Code);
        WaitGone(pid);
    }

    [Fact]
    public void PortAddDel_AtRunTime_TellTheController_CtlExitEnds()
    {
        int port = FreePort();
        // A controller connection (primary: it gets PORT_STATUS), passive so the test can connect to it.
        var (pid, ctl, pidFile, _) = Detached("--controller", $"ptcp:{port}");
        using var of = new TcpClient();
        of.Connect(IPAddress.Loopback, port);
        using var peer = new EchoingPeer(of.GetStream());   // answers the switch's echoes while ctl runs
        peer.Send([0x01, 0x00, 0x00, 0x08, 0, 0, 0, 1]);   // HELLO, OpenFlow 1.0
        peer.Send([0x01, 18, 0x00, 0x08, 0, 0, 0, 2]);      // BARRIER_REQUEST
        // The switch's HELLO comes before it reads ours; its BARRIER_REPLY comes after it handled our HELLO (requests
        // are handled in order): only then is this the controller that takes PORT_STATUS.
        peer.WaitFor(19, TimeSpan.FromSeconds(60));

        var add = Softswitch("ctl", "-t", ctl, "port/add", "mem:1", "7");
        Assert.True(add.Code == 0, add.Err);
        Assert.Equal("port 7: mem:1\n", add.Out);
        var status = peer.WaitFor(12, TimeSpan.FromSeconds(60));   // OFPT_PORT_STATUS
        Assert.Equal(0, status[8]);           // OFPPR_ADD
        Assert.Equal(7, BinaryPrimitives.ReadUInt16BigEndian(status.AsSpan(16)));
        Assert.Contains("  7 mem7: link", Softswitch("ctl", "-t", ctl, "dp/show").Out);

        var taken = Softswitch("ctl", "-t", ctl, "port/add", "mem:1", "7");
        Assert.Equal(1, taken.Code);
        Assert.Contains("port number 7 is taken", taken.Err);

        var del = Softswitch("ctl", "-t", ctl, "port/del", "mem7");
        Assert.True(del.Code == 0, del.Err);
        status = peer.WaitFor(12, TimeSpan.FromSeconds(60));
        Assert.Equal(1, status[8]);           // OFPPR_DELETE
        Assert.Equal(7, BinaryPrimitives.ReadUInt16BigEndian(status.AsSpan(16)));
        Assert.Equal(1, Softswitch("ctl", "-t", ctl, "port/del", "7").Code);

        Assert.Equal(0, Softswitch("ctl", "-t", ctl, "exit").Code);
        WaitGone(pid);
        Assert.False(File.Exists(ctl));
        Assert.False(File.Exists(pidFile));
    }

    private static (int Code, string Out, string Err) OvsAppctl(params string[] args)
    {
        var psi = new ProcessStartInfo("ovs-appctl") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(30_000), $"ovs-appctl {string.Join(' ', args)} did not finish");
        p.WaitForExit();
        return (p.ExitCode, o.Result, e.Result);
    }

    [ToolFact]
    [RequiresTool("ovs-appctl")]
    public void OvsAppctl_SpeaksToTheControlSocket()
    {
        var (pid, ctl, pidFile, _) = Detached();

        var version = OvsAppctl("-t", ctl, "version");
        Assert.True(version.Code == 0, version.Err);
        Assert.Equal(Softswitch("ctl", "-t", ctl, "version").Out, version.Out);
        Assert.StartsWith("softswitch ", version.Out);
        foreach (var command in new[] { "fdb/show", "vlog/list", "list-commands", "coverage/show" })
        {
            var r = OvsAppctl("-t", ctl, command);
            Assert.True(r.Code == 0, $"{command}: {r.Err}");
            Assert.Equal(Softswitch("ctl", "-t", ctl, command).Out, r.Out);
        }
        var dp = OvsAppctl("-t", ctl, "dp/show");
        Assert.Equal(0, dp.Code);
        Assert.StartsWith($"datapath {Dpid}: 2 port(s)", dp.Out);
        Assert.Contains("  1 mem1: link up", dp.Out);
        Assert.Equal("[]\n", OvsAppctl("-t", ctl, "fdb/show", "--format", "json").Out);
        Assert.Equal(0, OvsAppctl("-t", ctl, "vlog/set", "ofagent:dbg").Code);
        Assert.Matches(@"(?m)^ofagent\s+dbg$", OvsAppctl("-t", ctl, "vlog/list").Out);

        // Errors: ovs-appctl prints the daemon's message and "server returned an error", exit code 2.
        var unknown = OvsAppctl("-t", ctl, "no/such");
        Assert.Equal(2, unknown.Code);
        Assert.Equal("", unknown.Out);
        Assert.Contains("unknown command 'no/such'", unknown.Err);
        Assert.Contains("server returned an error", unknown.Err);
        var badArgs = OvsAppctl("-t", ctl, "fdb/show", "json");
        Assert.Equal(2, badArgs.Code);
        Assert.Contains("fdb/show takes only --format text|json", badArgs.Err);

        var exit = OvsAppctl("-t", ctl, "exit");
        Assert.True(exit.Code == 0, exit.Err);
        WaitGone(pid);
        Assert.False(File.Exists(ctl));
        Assert.False(File.Exists(pidFile));
    }

    [Fact]
    public void PcapDir_FilesNamedAfterTheInterface_LogSaysWhere()
    {
        string dir = Path.Combine(_dir.FullName, "captures");
        var (pid, ctl, _, log) = Detached("--pcap-dir", dir);
        Assert.Equal(["mem1-rx.pcap", "mem1-tx.pcap", "mem2-rx.pcap", "mem2-tx.pcap"], Directory.GetFiles(dir).Select(Path.GetFileName).Order());
        Assert.Equal(0, Softswitch("ctl", "-t", ctl, "port/add", "mem:1", "5").Code);
        Assert.True(File.Exists(Path.Combine(dir, "mem5-rx.pcap")));
        Assert.Equal(0, Softswitch("ctl", "-t", ctl, "exit").Code);
        WaitGone(pid);
        string text = File.ReadAllText(log);
        foreach (var (no, name) in new[] { (1, "mem1"), (2, "mem2"), (5, "mem5") })
            Assert.Contains($"|pcap|INFO|port {no} ({name}): capturing to {dir}/{name}-rx.pcap and {dir}/{name}-tx.pcap", text);
    }

    [ToolFact]
    [RequiresTool("tshark")]
    public void PcapStartStop_AtRunTime_APcapngPerPort_ReadByTshark()
    {
        string dir = Path.Combine(_dir.FullName, "live");
        int of = FreePort();
        var (pid, ctl, _, _) = Detached("--controller", $"ptcp:{of}");
        var started = Softswitch("ctl", "-t", ctl, "pcap/start", "all", dir);
        Assert.True(started.Code == 0, started.Err);
        Assert.Contains($"port 1 (mem1): capturing to {dir}/mem1.pcapng\n", started.Out);
        Assert.Contains($"port 2 (mem2): capturing to {dir}/mem2.pcapng\n", started.Out);

        // Three packet-outs to port 1, one to its own in_port (dropped before any send).
        using (var controller = new TcpClient())
        {
            controller.Connect(IPAddress.Loopback, of);
            using var peer = new EchoingPeer(controller.GetStream());
            peer.Send([0x01, 0x00, 0x00, 0x08, 0, 0, 0, 1]);
            peer.WaitFor(0, TimeSpan.FromSeconds(60));
            for (int i = 0; i < 4; i++) peer.Send(i < 3 ? PacketOut(0xffff, 1, (uint)(10 + i)) : PacketOut(2, 2, 13));
            peer.Send([0x01, 18, 0x00, 0x08, 0, 0, 0, 99]);
            peer.WaitFor(19, TimeSpan.FromSeconds(60));
        }
        var stopped = Softswitch("ctl", "-t", ctl, "pcap/stop");
        Assert.True(stopped.Code == 0, stopped.Err);
        Assert.Contains("port 1 (mem1): 3 packets, 0 dropped", stopped.Out);
        Assert.Contains("port 2 (mem2): 0 packets, 0 dropped", stopped.Out);
        Assert.Equal("no capture is running\n", Softswitch("ctl", "-t", ctl, "pcap/show").Out);

        var file = PcapNgFile.Read(Path.Combine(dir, "mem1.pcapng"));
        Assert.Equal("mem1", file.InterfaceName);
        Assert.Equal(3, file.Packets.Count);
        Assert.All(file.Packets, p => Assert.Equal((60, 2u), (p.Frame.Length, p.Flags & 3)));
        var r = Sh.Run("tshark", ["-r", Path.Combine(dir, "mem1.pcapng"), "-T", "fields", "-e", "frame.interface_name", "-e", "eth.type"], 60_000);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(Enumerable.Repeat("mem1\t0x88b5", 3), r.Stdout.Trim().Split('\n'));
        Assert.Empty(PcapNgFile.Read(Path.Combine(dir, "mem2.pcapng")).Packets);

        Assert.Equal(0, Softswitch("ctl", "-t", ctl, "exit").Code);
        WaitGone(pid);
    }

    [Fact]
    public async Task Metrics_ScrapedOverHttp_ParseAsOpenMetrics_MatchDpShow()
    {
        int port = FreePort(), of = FreePort();
        var (pid, ctl, _, _) = Detached("--metrics", $"127.0.0.1:{port}", "--controller", $"ptcp:{of}");
        // A generous limit, as the other waits here: the first scrape of a daemon just started, beside a loaded test run.
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };

        async Task<OpenMetricsText> Scrape()
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{port}/metrics");
            request.Headers.Accept.ParseAdd("application/openmetrics-text; version=1.0.0");
            using var response = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("application/openmetrics-text", response.Content.Headers.ContentType?.MediaType);
            return OpenMetricsText.Parse(await response.Content.ReadAsStringAsync());
        }

        var m = await Scrape();
        Assert.Equal("counter", m.Types["softswitch_interface_rx_packets"]);
        Assert.Equal("gauge", m.Types["softswitch_interface_link_up"]);
        Assert.Equal(0, m["softswitch_interface_rx_packets_total{name=\"mem1\",port=\"1\"}"]);
        Assert.Equal(1, m["softswitch_interface_link_up{name=\"mem2\",port=\"2\"}"]);
        Assert.Equal(0, m["softswitch_controller_connected"]);
        Assert.Equal(0, m["softswitch_datapath_drops_total{reason=\"miss-secure\"}"]);
        Assert.Equal(0, m["softswitch_coverage_total{counter=\"emc-hit\"}"]);
        Assert.Contains("softswitch_flows{table=\"classifier\"}", m.Samples.Keys);
        string target = Assert.Single(m.Samples.Keys, k => k.StartsWith("target_info{", StringComparison.Ordinal));
        Assert.Contains($"service_instance_id=\"{Dpid}\"", target);
        Assert.Contains("service_name=\"softswitch\"", target);

        // Traffic: a controller sends three packet-outs to port 1 and one back to its own in_port (dropped, counted).
        using (var controller = new TcpClient())
        {
            controller.Connect(IPAddress.Loopback, of);
            using var peer = new EchoingPeer(controller.GetStream());
            peer.Send([0x01, 0x00, 0x00, 0x08, 0, 0, 0, 1]);     // HELLO, OpenFlow 1.0
            peer.WaitFor(0, TimeSpan.FromSeconds(60));            // the switch's HELLO
            for (int i = 0; i < 4; i++) peer.Send(i < 3 ? PacketOut(0xffff, 1, (uint)(10 + i)) : PacketOut(2, 2, 13));
            peer.Send([0x01, 18, 0x00, 0x08, 0, 0, 0, 99]);      // BARRIER_REQUEST
            peer.WaitFor(19, TimeSpan.FromSeconds(60));           // BARRIER_REPLY: every packet-out is done
            m = await Scrape();
            Assert.Equal(1, m["softswitch_controller_connected"]);
        }

        // The values are dp/show's (read once more after the scrape: nothing moves between them here).
        string dpShow = Softswitch("ctl", "-t", ctl, "dp/show").Out;
        var line = System.Text.RegularExpressions.Regex.Match(dpShow, @"(?m)^  1 mem1: .* tx (\d+) packets (\d+) bytes");
        Assert.True(line.Success, dpShow);
        Assert.Equal(3, long.Parse(line.Groups[1].Value));
        Assert.Equal(3, m["softswitch_interface_tx_packets_total{name=\"mem1\",port=\"1\"}"]);
        Assert.Equal(long.Parse(line.Groups[2].Value), m["softswitch_interface_tx_bytes_total{name=\"mem1\",port=\"1\"}"]);
        Assert.Equal(3 * 60, m["softswitch_interface_tx_bytes_total{name=\"mem1\",port=\"1\"}"]);
        string coverage = Softswitch("ctl", "-t", ctl, "coverage/show").Out;
        long toInPort = long.Parse(System.Text.RegularExpressions.Regex.Match(coverage, @"(?m)^drop-output-to-in-port +(\d+)").Groups[1].Value);
        Assert.Equal(1, toInPort);
        Assert.Equal(toInPort, m["softswitch_datapath_drops_total{reason=\"output-to-in-port\"}"]);
        Assert.Equal(toInPort, m["softswitch_coverage_total{counter=\"drop-output-to-in-port\"}"]);
        var listener = System.Text.RegularExpressions.Regex.Match(dpShow, @"(?m)^listener (ptcp:\S+): \d+ open, (\d+) accepted, (\d+) established");
        Assert.True(listener.Success, dpShow);
        Assert.Equal(1, long.Parse(listener.Groups[3].Value));
        Assert.Equal(1, m[$"softswitch_listener_established_total{{endpoint=\"{listener.Groups[1].Value}\"}}"]);

        // A port added at run time appears at the next scrape; the plain Prometheus format is the default.
        Assert.Equal(0, Softswitch("ctl", "-t", ctl, "port/add", "mem:1", "9").Code);
        string plain = await http.GetStringAsync($"http://127.0.0.1:{port}/metrics");
        Assert.Contains("softswitch_interface_rx_packets_total{name=\"mem9\",port=\"9\"} 0", plain);
        Assert.Contains("# TYPE softswitch_interface_rx_packets_total counter", plain);
        Assert.DoesNotContain("# EOF", plain);
        Assert.Equal(0, Softswitch("ctl", "-t", ctl, "port/del", "9").Code);
        Assert.DoesNotContain("port=\"9\"", await http.GetStringAsync($"http://127.0.0.1:{port}/metrics"));

        Assert.Equal(0, Softswitch("ctl", "-t", ctl, "exit").Code);
        WaitGone(pid);
    }

    /// <summary>OFPT_PACKET_OUT of a 60-byte frame, no buffer, one output action.</summary>
    private static byte[] PacketOut(ushort inPort, ushort outPort, uint xid)
    {
        var msg = new byte[8 + 8 + 8 + 60];
        msg[0] = 1;
        msg[1] = 13;
        BinaryPrimitives.WriteUInt16BigEndian(msg.AsSpan(2), (ushort)msg.Length);
        BinaryPrimitives.WriteUInt32BigEndian(msg.AsSpan(4), xid);
        BinaryPrimitives.WriteUInt32BigEndian(msg.AsSpan(8), 0xffffffff);   // buffer_id: none
        BinaryPrimitives.WriteUInt16BigEndian(msg.AsSpan(12), inPort);
        BinaryPrimitives.WriteUInt16BigEndian(msg.AsSpan(14), 8);            // actions_len
        BinaryPrimitives.WriteUInt16BigEndian(msg.AsSpan(16), 0);            // OFPAT_OUTPUT
        BinaryPrimitives.WriteUInt16BigEndian(msg.AsSpan(18), 8);
        BinaryPrimitives.WriteUInt16BigEndian(msg.AsSpan(20), outPort);
        var frame = msg.AsSpan(24);
        frame[..6].Fill(0xff);                                                // broadcast from 02:00:00:00:00:01
        frame[6] = 2;
        frame[11] = 1;
        frame[12] = 0x88;                                                     // an experimental EtherType
        frame[13] = 0xb5;
        return msg;
    }

    private static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }
}
