using Softswitch.TestKit;

namespace Softswitch.E2E.Tests;

/// <summary>What `softswitch run` may not share: listen addresses (no SO_REUSEPORT) and interfaces.</summary>
public sealed class BindingTests
{
    [E2EFact]
    public void SecondDaemonOnTheSameListenPortFailsAtStartNamingTheAddress()
    {
        using var first = new SwitchProcess("mem:1", "--local-port", "none", "--unixctl", "none");
        var r = SwitchProcess.RunToExit(30_000, "--ports", "mem:1", "--listen", $"ptcp:{first.ListenPort}", "--local-port", "none", "--unixctl", "none");
        Assert.Equal(2, r.ExitCode);
        AssertInUse(r, first.ListenPort);
        // The first daemon still answers every connection.
        for (int i = 0; i < 8; i++) Assert.Contains("OFPT_FEATURES_REPLY", first.Ofctl("show"));
    }

    [E2EFact]
    public void TheSameListenPortTwiceInOneDaemonFailsAtStart()
    {
        int port = SwitchProcess.FreePort();
        var r = SwitchProcess.RunToExit(30_000, "--ports", "mem:1", "--listen", $"ptcp:{port}", "--listen", $"ptcp:{port}", "--local-port", "none", "--unixctl", "none");
        Assert.Equal(2, r.ExitCode);
        AssertInUse(r, port);
    }

    /// <summary>One line on stderr naming the address: <c>cannot listen on 127.0.0.1:PORT: address already in use</c>.</summary>
    private static void AssertInUse(Sh.Result r, int port)
    {
        // The log goes to stderr too (OVS style): the error is the last line, and a line of its own.
        string line = r.Stderr.Trim().Split('\n')[^1];
        Assert.Equal($"softswitch: cannot listen on 127.0.0.1:{port}: address already in use", line);
    }

    [E2EFact]
    public void SecondDaemonOnTheSameInterfaceRefusesNamingTheFirstsPid()
    {
        using var ns = Netns.Create();
        using var first = new SwitchProcess("afpacket:" + ns.HostIf, "--local-port", "none", "--unixctl", "none");
        var r = SwitchProcess.RunToExit(30_000, "--ports", "afpacket:" + ns.HostIf, "--listen", $"ptcp:{SwitchProcess.FreePort()}", "--local-port", "none", "--unixctl", "none");
        Assert.Equal(2, r.ExitCode);
        Assert.Equal($"softswitch: interface {ns.HostIf} is already used by softswitch pid {first.Pid}", r.Stderr.Trim().Split('\n')[^1]);
        first.Dispose();
        // Once the first is gone the interface is free again.
        using var again = new SwitchProcess("afpacket:" + ns.HostIf, "--local-port", "none", "--unixctl", "none");
        Assert.Contains("OFPT_FEATURES_REPLY", again.Ofctl("show"));
    }
}
