using System.Collections.Concurrent;
using System.Diagnostics;
using Softswitch.OfAgent.Tests.Session;
using Softswitch.TestKit;

namespace Softswitch.OfAgent.Tests.Interop;

/// <summary>
/// A real <c>ovs-ofctl monitor</c> on a rig's listener: line-buffered through <c>stdbuf</c> (its stdout is a pipe
/// here), with a control socket of its own in the temporary directory (the default one needs Open vSwitch's run
/// directory), every line it prints (stdout and stderr) in <see cref="Lines"/>. Disposing it ends it.
/// </summary>
internal sealed class OvsOfctlMonitor : IDisposable
{
    private readonly Process _process;

    private OvsOfctlMonitor(Process process, string ctl)
    {
        _process = process;
        Ctl = ctl;
    }

    /// <summary>Every line printed so far.</summary>
    public ConcurrentQueue<string> Lines { get; } = new();

    /// <summary>The monitor's control socket (for <c>ovs-appctl -t</c>).</summary>
    public string Ctl { get; }

    /// <summary>What it printed so far, one line each.</summary>
    public string Text => string.Join('\n', Lines);

    /// <summary>
    /// Starts <c>ovs-ofctl OPTIONS monitor tcp:127.0.0.1:PORT AFTER --unixctl=CTL</c>; <paramref name="name"/> names its
    /// control socket (unique within the test process).
    /// </summary>
    public static OvsOfctlMonitor Start(AgentRig rig, string name, string[] options, params string[] after)
    {
        string ctl = Path.Combine(Path.GetTempPath(), $"{name}-{Environment.ProcessId}.ctl");
        var psi = new ProcessStartInfo("stdbuf") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])["-oL", "ovs-ofctl", .. options, "monitor", $"tcp:127.0.0.1:{rig.ListenPort}", .. after, $"--unixctl={ctl}"])
            psi.ArgumentList.Add(a);
        var monitor = new OvsOfctlMonitor(Process.Start(psi)!, ctl);
        monitor._process.OutputDataReceived += (_, e) => { if (e.Data is { } l) monitor.Lines.Enqueue(l); };
        monitor._process.ErrorDataReceived += (_, e) => { if (e.Data is { } l) monitor.Lines.Enqueue(l); };
        monitor._process.BeginOutputReadLine();
        monitor._process.BeginErrorReadLine();
        return monitor;
    }

    /// <summary>The first line printed that <paramref name="what"/> accepts, waited for up to 10 s (else the test fails with <paramref name="why"/> and every line).</summary>
    public async Task<string> LineAsync(Func<string, bool> what, string why)
    {
        Assert.True(await Wait.UntilAsync(() => Lines.Any(what), 10_000), why + ":\n" + Text);
        return Lines.First(what);
    }

    /// <summary>Sends <paramref name="message"/> on the monitor's connection (<c>ovs-appctl ofctl/send</c>), then a barrier (<c>ofctl/barrier</c>).</summary>
    public void SendAndBarrier(ReadOnlySpan<byte> message)
    {
        var (code, so, se) = ExternalTool.Run("ovs-appctl", "-t", Ctl, "ofctl/send", Convert.ToHexString(message));
        Assert.True(code == 0, $"ofctl/send failed: {se}{so}");
        Barrier();
    }

    /// <summary>A barrier on the monitor's connection (<c>ovs-appctl ofctl/barrier</c>): what the switch sent it before is printed once this returns.</summary>
    public void Barrier()
    {
        var (code, so, se) = ExternalTool.Run("ovs-appctl", "-t", Ctl, "ofctl/barrier");
        Assert.True(code == 0, $"ofctl/barrier failed: {se}{so}");
    }

    public void Dispose()
    {
        try
        {
            _process.Kill(true);
        }
        catch (InvalidOperationException)
        {
            // It had ended already.
        }
        _process.WaitForExit(5000);
        _process.Dispose();
    }
}
