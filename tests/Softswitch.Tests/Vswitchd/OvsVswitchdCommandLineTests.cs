using Softswitch.Logging;
using Softswitch.Vswitchd;

namespace Softswitch.Tests.Vswitchd;

/// <summary>
/// ovs-vswitchd's command line as ovs-ctl builds it (<c>unix:DB -vconsole:emer -vsyslog:err -vfile:info --mlockall
/// --no-chdir --log-file=... --pidfile=... --detach --monitor [--user U] [--no-self-confinement]</c>): the -v specs
/// set the level of the destination this daemon writes, --user is taken for the user it runs as and refused for
/// another (no privileges are dropped).
/// </summary>
public sealed class OvsVswitchdCommandLineTests
{
    private static Vlog.Level LevelOf(Vlog vlog, string module)
    {
        vlog.CreateLogger(module);
        return vlog.List().Single(m => m.Module == module).Level;
    }

    [Fact]
    public void SpellVerbose_GluedValuesBecomeVerboseOptions_TheRestIsKept()
    {
        string[] ovsCtl = ["vswitchd", "unix:/run/openvswitch/db.sock", "-vconsole:emer", "-vsyslog:err", "-vfile:info", "--mlockall", "--no-chdir",
            "--log-file=/var/log/openvswitch/ovs-vswitchd.log", "--pidfile=/run/openvswitch/ovs-vswitchd.pid", "--detach", "--monitor", "-V"];
        Assert.Equal(["vswitchd", "unix:/run/openvswitch/db.sock", "--verbose=console:emer", "--verbose=syslog:err", "--verbose=file:info", "--mlockall", "--no-chdir",
            "--log-file=/var/log/openvswitch/ovs-vswitchd.log", "--pidfile=/run/openvswitch/ovs-vswitchd.pid", "--detach", "--monitor", "-V"], VswitchdCommand.SpellVerbose(ovsCtl));
        Assert.Equal(["--verbose=ANY:dbg", "--verbose=ANY:dbg", "--verbose=bridge:warn"], VswitchdCommand.SpellVerbose(["-v", "--verbose", "--verbose=bridge:warn"]));
    }

    [Fact]
    public void OvsCtlsSpecs_WithALogFile_SetTheFilesLevel_AndSayWhatIsNotWritten()
    {
        using var vlog = new Vlog(console: TextWriter.Null);
        Assert.True(vlog.TrySet("warn", out _));
        var notes = new List<string>();
        foreach (var spec in new[] { "console:emer", "syslog:err", "file:info" })
        {
            Assert.True(VswitchdCommand.TryApplyVerbose(vlog, toFile: true, spec, out var error, out var note), error);
            if (note is not null) notes.Add(note);
        }
        Assert.Equal(Vlog.Level.Info, LevelOf(vlog, "bridge"));
        Assert.Equal("-vsyslog:err: taken, not acted on (nothing is written to syslog)", Assert.Single(notes));

        // A module's level, a destination left out (every destination), the level left out (dbg), ANY.
        Assert.True(VswitchdCommand.TryApplyVerbose(vlog, true, "ofagent:file:warn", out _, out _));
        Assert.Equal(Vlog.Level.Warn, LevelOf(vlog, "ofagent"));
        Assert.True(VswitchdCommand.TryApplyVerbose(vlog, true, "vswitchd", out _, out _));
        Assert.Equal(Vlog.Level.Dbg, LevelOf(vlog, "vswitchd"));
        Assert.True(VswitchdCommand.TryApplyVerbose(vlog, true, "ANY:ANY:err", out _, out _));
        Assert.Equal(Vlog.Level.Err, LevelOf(vlog, "bridge"));
        Assert.True(VswitchdCommand.TryApplyVerbose(vlog, true, "PATTERN:file:%D{%H:%M:%S}|%m", out _, out var pattern));
        Assert.StartsWith("-vPATTERN:file:", pattern);
    }

    [Fact]
    public void WithoutALogFile_TheConsoleIsTheDestination()
    {
        using var vlog = new Vlog(console: TextWriter.Null);
        Assert.True(VswitchdCommand.TryApplyVerbose(vlog, toFile: false, "file:dbg", out _, out _));
        Assert.Equal(Vlog.Level.Info, LevelOf(vlog, "bridge"));
        Assert.True(VswitchdCommand.TryApplyVerbose(vlog, toFile: false, "console:emer", out _, out _));
        Assert.Equal(Vlog.Level.Emer, LevelOf(vlog, "bridge"));
    }

    [Theory]
    [InlineData("console:file:info", "two destinations (console, file)")]
    [InlineData("info:warn", "two levels (info, warn)")]
    [InlineData("bridge:ofagent", "two modules (bridge, ofagent), or a level or destination misspelled")]
    public void ASpecOfTwoOfAKind_IsRefused(string spec, string why)
    {
        using var vlog = new Vlog(console: TextWriter.Null);
        Assert.False(VswitchdCommand.TryApplyVerbose(vlog, true, spec, out var error, out _));
        Assert.Equal(why, error);
    }

    [Fact]
    public void User_IsTakenForTheUserItRunsAs_AndRefusedForAnother()
    {
        Assert.True(VswitchdCommand.IsOwnUser(Environment.UserName, out var error), error);
        Assert.False(VswitchdCommand.IsOwnUser("ssw-no-such-user:ssw-no-such-group", out error));
        Assert.StartsWith("--user ssw-no-such-user:ssw-no-such-group: this daemon runs as the user that starts it and drops no privileges", error);
    }

    [Fact]
    public void NotRunAsOvsVswitchd_TheArgumentsAreSoftswitchs()
    {
        Assert.False(OvsVswitchdName.Active);
        Assert.Equal(["run", "--ports", "mem:2"], OvsVswitchdName.Arguments(["run", "--ports", "mem:2"]));
    }
}
