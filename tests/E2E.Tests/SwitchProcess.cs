using System.Diagnostics;
using System.Text;
using Softswitch.TestKit;

namespace Softswitch.E2E.Tests;

/// <summary>
/// The real `softswitch run` daemon as a child process, with a private OpenFlow listener on loopback. Ends only
/// the process it started (by pid), on Dispose even when a test fails.
/// </summary>
internal sealed class SwitchProcess : IDisposable
{
    private readonly Process _p;
    private readonly StringBuilder _out = new();

    public int ListenPort { get; }
    public string Endpoint => $"tcp:127.0.0.1:{ListenPort}";

    /// <summary>A free TCP port below Linux's ephemeral range (see <see cref="FreePorts.Tcp"/>).</summary>
    public static int FreePort() => FreePorts.Tcp();

    /// <summary>A free TCP port in [<paramref name="min"/>, <paramref name="max"/>).</summary>
    public static int FreePort(int min, int max) => FreePorts.Tcp(min, max);

    public SwitchProcess(string ports, params string[] extra) : this(FreePort(), ports, extra)
    {
    }

    public SwitchProcess(string ports, IReadOnlyDictionary<string, string> environment, params string[] extra) : this(FreePort(), ports, environment, extra)
    {
    }

    public SwitchProcess(int listenPort, string ports, params string[] extra) : this(listenPort, ports, new Dictionary<string, string>(), extra)
    {
    }

    public SwitchProcess(int listenPort, string ports, IReadOnlyDictionary<string, string> environment, params string[] extra)
    {
        ListenPort = listenPort;
        string dll = Path.Combine(AppContext.BaseDirectory, "softswitch.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var (k, v) in environment) psi.Environment[k] = v;
        foreach (var a in new[] { dll, "run", "--ports", ports, "--listen", $"ptcp:{ListenPort}" }) psi.ArgumentList.Add(a);
        foreach (var a in extra) psi.ArgumentList.Add(a);
        _p = Process.Start(psi)!;
        _p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_out) _out.AppendLine(e.Data); };
        _p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_out) _out.AppendLine(e.Data); };
        _p.BeginOutputReadLine();
        _p.BeginErrorReadLine();
        // Up when it answers `ovs-ofctl show` within 30 s of its start. On a loaded machine one attempt may meet the
        // daemon still compiling its request path: such an attempt is given up after 10 s and another one made.
        try
        {
            WaitUntilAnswering();
        }
        catch
        {
            // A daemon that never came up is not left behind by the test that gave up on it.
            try { _p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            _p.Dispose();
            throw;
        }
    }

    private void WaitUntilAnswering()
    {
        var sw = Stopwatch.StartNew();
        string last = "no attempt finished";
        while (sw.ElapsedMilliseconds < 30_000)
        {
            if (_p.HasExited) throw new InvalidOperationException($"softswitch exited ({_p.ExitCode}):\n{Output}");
            try
            {
                var r = Sh.Run("ovs-ofctl", ["-O", "OpenFlow10", "show", Endpoint], 10_000);
                if (r.Ok) return;
                last = r.Stderr;
            }
            catch (TimeoutException e)
            {
                last = e.Message;
            }
            Thread.Sleep(200);
        }
        throw new TimeoutException($"softswitch did not answer ovs-ofctl show in 30 s (last: {last}):\n{Output}");
    }

    public string Output
    {
        get { lock (_out) return _out.ToString(); }
    }

    /// <summary>Runs `ovs-ofctl -O OpenFlow10 [--strict] CMD tcp:... ARGS`; a leading option such as --strict goes before the command.</summary>
    public string Ofctl(string cmd, params string[] args)
    {
        string[] argv = cmd.StartsWith("--", StringComparison.Ordinal)
            ? ["-O", "OpenFlow10", cmd, args[0], Endpoint, .. args[1..]]
            : ["-O", "OpenFlow10", cmd, Endpoint, .. args];
        var r = Sh.Run("ovs-ofctl", argv, 60_000);
        if (!r.Ok) throw new InvalidOperationException($"ovs-ofctl {cmd} {string.Join(' ', args)}: {r.Stderr}{r.Stdout}");
        return r.Stdout;
    }

    /// <summary>The value of counter <paramref name="name"/> in `ctl coverage/show` output; fails the test when it is missing.</summary>
    public static long CoverageCounter(string coverage, string name)
    {
        var m = System.Text.RegularExpressions.Regex.Match(coverage, "^" + System.Text.RegularExpressions.Regex.Escape(name) + @"\s+(\d+)", System.Text.RegularExpressions.RegexOptions.Multiline);
        Assert.True(m.Success, $"{name} missing from coverage/show:\n{coverage}");
        return long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Runs `softswitch ctl ARGS` (the same build as the daemon).</summary>
    public static Sh.Result Ctl(params string[] args)
        => Sh.Run("dotnet", [Path.Combine(AppContext.BaseDirectory, "softswitch.dll"), "ctl", .. args], 30_000);

    public bool HasExited => _p.HasExited;
    public int Pid => _p.Id;

    /// <summary>Runs `softswitch run ARGS` to completion (for start-up failures); kills it after <paramref name="timeoutMs"/>.</summary>
    public static Sh.Result RunToExit(int timeoutMs, params string[] args)
        => Sh.Run("dotnet", [Path.Combine(AppContext.BaseDirectory, "softswitch.dll"), "run", .. args], timeoutMs);

    public void Dispose()
    {
        try
        {
            if (!_p.HasExited)
            {
                Sh.Run("kill", "-TERM", _p.Id.ToString());
                if (!_p.WaitForExit(5000)) _p.Kill(true);
            }
        }
        catch (InvalidOperationException) { }
        _p.Dispose();
    }
}

/// <summary>N hosts, each a namespace with an IPv4 address on a veth whose root end is a switch port.</summary>
internal sealed class Hosts : IDisposable
{
    public readonly List<Netns> Ns = new();
    public readonly List<string> Ips = new();

    /// <param name="kernelOffloads">Leave the veths' default offloads (tx checksum, TSO, GSO) on, as a user's are.</param>
    public Hosts(int n, string subnet = "10.77.0", bool kernelOffloads = false)
    {
        try
        {
            for (int i = 0; i < n; i++)
            {
                var ns = Netns.Create(kernelOffloads);
                Ns.Add(ns);
                string ip = $"{subnet}.{i + 1}";
                Ips.Add(ip);
                ns.Exec("ip", "addr", "add", $"{ip}/24", "dev", ns.NsIf);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The daemon's --ports spec: afpacket on every root-side veth end, in host order.</summary>
    public string PortSpec => string.Join(',', Ns.Select(n => "afpacket:" + n.HostIf));

    public bool Ping(int from, int to, int count = 1, double timeout = 2)
        => Ns[from].Exec("ping", "-c", count.ToString(), "-W", timeout.ToString(System.Globalization.CultureInfo.InvariantCulture), Ips[to]).Ok;

    /// <summary>
    /// iperf3 TCP for <paramref name="seconds"/> s from host <paramref name="from"/> to <paramref name="to"/> (the
    /// server serves once and exits); the received rate in bit/s. Fails the test when iperf3 fails.
    /// </summary>
    public double Iperf3(int from, int to, int seconds = 2)
    {
        var server = Process.Start(new ProcessStartInfo("ip") { ArgumentList = { "netns", "exec", Ns[to].Name, "iperf3", "-s", "-1", "-B", Ips[to] }, RedirectStandardOutput = true, RedirectStandardError = true })!;
        try
        {
            Thread.Sleep(500);
            var r = Ns[from].Exec("iperf3", "-c", Ips[to], "-t", seconds.ToString(System.Globalization.CultureInfo.InvariantCulture), "-J");
            Assert.True(r.Ok, "iperf3 failed: " + r.Stderr + r.Stdout[..Math.Min(400, r.Stdout.Length)]);
            using var doc = System.Text.Json.JsonDocument.Parse(r.Stdout);
            return doc.RootElement.GetProperty("end").GetProperty("sum_received").GetProperty("bits_per_second").GetDouble();
        }
        finally
        {
            if (!server.HasExited) server.Kill(true);
            server.Dispose();
        }
    }

    public void AllPairsPing()
    {
        var failed = new List<string>();
        for (int a = 0; a < Ns.Count; a++)
        {
            for (int b = 0; b < Ns.Count; b++)
                if (a != b && !Ping(a, b) && !Ping(a, b, 2, 3)) failed.Add($"h{a + 1}->h{b + 1}");
        }

        Assert.True(failed.Count == 0, "pings failed: " + string.Join(", ", failed));
    }

    public void Dispose()
    {
        foreach (var n in Ns) n.Dispose();
    }
}
