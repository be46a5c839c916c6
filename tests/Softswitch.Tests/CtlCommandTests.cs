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
            Assert.Equal($"softswitch: {path}: unknown command 'offload/shw'; 'help' lists the commands\n", stderr.ReplaceLineEndings("\n"));
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
