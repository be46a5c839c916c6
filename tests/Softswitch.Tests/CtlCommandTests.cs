using Softswitch.Control;

namespace Softswitch.Tests;

/// <summary>`softswitch ctl`: finding the daemon's socket, printing the reply, exit codes.</summary>
public sealed class CtlCommandTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("ssw-ctlcmd-");

    public void Dispose() => _dir.Delete(recursive: true);

    private static (int Code, string Out, string Err) Ctl(string? target, params string[] words)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = CtlCommand.Run(target, 10, words, o, e);
        return (code, o.ToString(), e.ToString());
    }

    [Fact]
    public void Success_PrintsText_Exit0_ErrorExit1_UnreachableExit2()
    {
        string path = Path.Combine(_dir.FullName, "sw.ctl");
        var commands = new ControlCommands();
        commands.Register("offload/show", "", "show things", 0, 0, _ => ControlReply.Success("hardware flows: 3\n"));
        using (ControlServer.Start(path, commands))
        {
            // The only socket in the run directory is the default target.
            Assert.True(ControlPaths.TryResolve(null, _dir.FullName, out var found, out var error), error);
            Assert.Equal(path, found);
            Assert.Equal((0, "hardware flows: 3\n", ""), Ctl(path, "offload/show"));
            var (code, stdout, stderr) = Ctl(path, "offload/shw");
            Assert.Equal(1, code);
            Assert.Equal("", stdout);
            Assert.Equal($"softswitch: {path}: unknown command 'offload/shw' (did you mean offload/show?); 'help' lists the commands\n", stderr.ReplaceLineEndings("\n"));
            Assert.Equal(2, Ctl(path, "offload/show", "two words").Code);   // cannot be sent as one request
            var help = Ctl(path);   // no command: help
            Assert.Equal(0, help.Code);
            Assert.Contains("  offload/show  show things\n", help.Out);
        }
        var gone = Ctl(path, "offload/show");
        Assert.Equal(2, gone.Code);
        Assert.Contains("no control socket at", gone.Err);
    }

    [Fact]
    public void PidFile_FindsTheSocketOfThatProcess_AmongOthers()
    {
        string run = _dir.FullName, pidFile = Path.Combine(run, "sw.pid");
        using var mine = ControlServer.Start(Path.Combine(run, "0000000000000001.ctl"), new ControlCommands());
        using var other = ControlServer.Start(Path.Combine(run, "0000000000000002.ctl"), new ControlCommands());
        File.WriteAllText(Path.Combine(run, "0000000000000003.ctl"), "");   // left behind: nobody answers there
        // Both sockets are this process's: the first in name order is the one found.
        File.WriteAllText(pidFile, Environment.ProcessId + "\n");
        Assert.True(ControlPaths.TryResolvePidFile(pidFile, run, out var path, out int pid, out var error), error);
        Assert.Equal(Path.Combine(run, "0000000000000001.ctl"), path);
        Assert.Equal(Environment.ProcessId, pid);

        // A pid that owns no socket there: said so, with the way out.
        using var child = System.Diagnostics.Process.Start("sleep", "30");
        try
        {
            File.WriteAllText(pidFile, child.Id + "\n");
            Assert.False(ControlPaths.TryResolvePidFile(pidFile, run, out _, out _, out error));
            Assert.Contains($"process {child.Id} has no control socket in {run}", error);
        }
        finally
        {
            child.Kill();
            child.WaitForExit();
        }
        Assert.False(ControlPaths.TryResolvePidFile(pidFile, run, out _, out _, out error));
        Assert.Contains($"process {child.Id} is not running", error);
        File.WriteAllText(pidFile, "x\n");
        Assert.False(ControlPaths.TryResolvePidFile(pidFile, run, out _, out _, out error));
        Assert.Contains("not a process id", error);
        Assert.False(ControlPaths.TryResolvePidFile(Path.Combine(run, "none.pid"), run, out _, out _, out error));
        Assert.Contains("is the switch running with this --pidfile?", error);
    }

    [Fact]
    public void Exit_WaitsForTheProcess_AndSaysWhenItDoesNotEnd()
    {
        // The daemon here is this test process, which does not end: ctl exit waits its timeout, then says so (exit 1).
        string path = Path.Combine(_dir.FullName, "sw.ctl");
        var commands = new ControlCommands();
        int exits = 0;
        commands.Register("exit", "", "stop", 0, 0, _ => { Interlocked.Increment(ref exits); return ControlReply.Success(""); });
        using var server = ControlServer.Start(path, commands);
        var o = new StringWriter();
        var e = new StringWriter();
        Assert.Equal(1, CtlCommand.Run(path, 0.5, ["exit"], o, e));
        Assert.Equal(1, exits);
        Assert.Contains($"the switch (pid {Environment.ProcessId}) still runs 0.5 s after exit", e.ToString());
        Assert.False(ProcessExit.IsGone(Environment.ProcessId));
    }

    [Fact]
    public void Target_PathDpidOrName_DefaultIsTheOnlySocket()
    {
        string run = _dir.FullName;
        Assert.True(ControlPaths.TryResolve("/x/y.ctl", run, out var p, out _));
        Assert.Equal("/x/y.ctl", p);
        Assert.True(ControlPaths.TryResolve("0x20000000001", run, out p, out _));
        Assert.Equal(Path.Combine(run, "0000020000000001.ctl"), p);
        Assert.Equal(ControlPaths.DefaultFor(0x20000000001, run), p);
        Assert.True(ControlPaths.TryResolve("lab-switch", run, out p, out _));
        Assert.Equal(Path.Combine(run, "lab-switch.ctl"), p);

        Assert.False(ControlPaths.TryResolve(null, run, out _, out var error));
        Assert.Contains("no control socket in", error);
        File.WriteAllText(Path.Combine(run, "0000000000000009.ctl"), "");   // left behind: nobody answers there
        Assert.False(ControlPaths.TryResolve(null, run, out _, out error));
        Assert.Contains("no running softswitch answers", error);
        using var one = ControlServer.Start(Path.Combine(run, "0000000000000001.ctl"), new ControlCommands());
        Assert.True(ControlPaths.TryResolve(null, run, out p, out error), error);
        Assert.Equal(Path.Combine(run, "0000000000000001.ctl"), p);
        using var two = ControlServer.Start(Path.Combine(run, "0000000000000002.ctl"), new ControlCommands());
        Assert.False(ControlPaths.TryResolve(null, run, out _, out error));
        Assert.Contains("several control sockets", error);
        Assert.Contains("0000000000000002.ctl", error);
    }
}
