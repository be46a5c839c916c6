using System.Text;
using Softswitch.Control;

namespace Softswitch.Tests.Control;

/// <summary>The control socket's request line and reply framing: good lines, and every kind of bad one.</summary>
public sealed class ControlProtocolTests
{
    private static (bool Ok, ControlRequest Request, string Error) Parse(byte[] line)
    {
        bool ok = ControlProtocol.TryParseRequest(line, out var r, out string e);
        return (ok, r, e);
    }

    private static (bool Ok, ControlRequest Request, string Error) Parse(string line) => Parse(Encoding.UTF8.GetBytes(line));

    [Theory]
    [InlineData("offload/show\n", "offload/show", "")]
    [InlineData("offload/show", "offload/show", "")]                       // no LF: the client shut its side down
    [InlineData("offload/dump-flows hw\r\n", "offload/dump-flows", "hw")]
    [InlineData("  offload/dump-flows \t sw  \n", "offload/dump-flows", "sw")]
    [InlineData("dp/show a b c\n", "dp/show", "a b c")]
    public void GoodLines(string line, string command, string args)
    {
        var (ok, r, e) = Parse(line);
        Assert.True(ok, e);
        Assert.Equal(command, r.Command);
        Assert.Equal(args, string.Join(' ', r.Args));
    }

    [Theory]
    [InlineData("", "empty request")]
    [InlineData("\n", "empty request")]
    [InlineData("   \t \n", "empty request")]
    [InlineData("Offload/Show\n", "not a command name")]
    [InlineData("offload/show;rm -rf /\n", "not a command name")]
    [InlineData("help\nhelp\n", "control characters")]
    [InlineData("help\0\n", "control characters")]
    [InlineData("help \u001b[31m\n", "control characters")]
    public void BadLines(string line, string expect)
    {
        var (ok, _, e) = Parse(line);
        Assert.False(ok);
        Assert.Contains(expect, e);
    }

    [Fact]
    public void NotUtf8_IsRefused()
    {
        var (ok, _, e) = Parse([0x68, 0x65, 0xFF, 0xFE, 0x0A]);
        Assert.False(ok);
        Assert.Contains("UTF-8", e);
    }

    [Fact]
    public void TooLong_IsRefused_LongestAccepted()
    {
        var longest = "help " + new string('x', ControlProtocol.MaxRequestSize - 6) + "\n";
        Assert.Equal(ControlProtocol.MaxRequestSize, Encoding.UTF8.GetByteCount(longest));
        Assert.True(Parse(longest).Ok);
        var (ok, _, e) = Parse("help " + new string('x', ControlProtocol.MaxRequestSize) + "\n");
        Assert.False(ok);
        Assert.Contains("longer than", e);
    }

    [Fact]
    public void TooManyArguments_IsRefused()
    {
        Assert.True(Parse("x " + string.Join(' ', Enumerable.Repeat("a", ControlProtocol.MaxArgs))).Ok);
        var (ok, _, e) = Parse("x " + string.Join(' ', Enumerable.Repeat("a", ControlProtocol.MaxArgs + 1)));
        Assert.False(ok);
        Assert.Contains("too many arguments", e);
    }

    [Fact]
    public void RandomBytes_NeverThrow()
    {
        var rng = new Random(20261122);
        for (int i = 0; i < 20_000; i++)
        {
            var b = new byte[rng.Next(0, 300)];
            rng.NextBytes(b);
            if (rng.Next(4) == 0) Encoding.ASCII.GetBytes("offload/show ").AsSpan(0, Math.Min(13, b.Length)).CopyTo(b);
            ControlProtocol.TryParseRequest(b, out _, out _);
            new ControlCommands().Execute(b);
        }
    }

    [Fact]
    public void FormatRequest_RefusesWhatWouldNotRoundTrip()
    {
        Assert.True(ControlProtocol.TryFormatRequest("offload/dump-flows", ["hw"], out var bytes, out _));
        Assert.Equal("offload/dump-flows hw\n", Encoding.UTF8.GetString(bytes));
        Assert.False(ControlProtocol.TryFormatRequest("offload/dump-flows", ["h w"], out _, out _));
        Assert.False(ControlProtocol.TryFormatRequest("offload/dump-flows", ["a\nb"], out _, out _));
        Assert.False(ControlProtocol.TryFormatRequest("offload/dump-flows", [""], out _, out _));
        Assert.False(ControlProtocol.TryFormatRequest("Bad Name", [], out _, out _));
    }

    [Fact]
    public void Reply_RoundTrips_AndGarbageIsNotAReply()
    {
        var ok = ControlProtocol.EncodeReply(ControlReply.Success("a\nb"));
        Assert.Equal("OK\na\nb\n", Encoding.UTF8.GetString(ok));
        Assert.True(ControlProtocol.TryDecodeReply(ok, out var r));
        Assert.Equal(ControlReply.Success("a\nb\n"), r);

        var err = ControlProtocol.EncodeReply(ControlReply.Error("unknown command 'x'"));
        Assert.Equal("ERROR\nunknown command 'x'\n", Encoding.UTF8.GetString(err));
        Assert.True(ControlProtocol.TryDecodeReply(err, out r));
        Assert.False(r.Ok);

        Assert.True(ControlProtocol.TryDecodeReply("OK\n"u8, out r));
        Assert.Equal("", r.Text);
        Assert.False(ControlProtocol.TryDecodeReply(""u8, out _));
        Assert.False(ControlProtocol.TryDecodeReply("OK"u8, out _));
        Assert.False(ControlProtocol.TryDecodeReply("HTTP/1.1 200 OK\r\n"u8, out _));
    }
}

/// <summary>Command dispatch: unknown commands, argument counts, failing handlers, help.</summary>
public sealed class ControlCommandsTests
{
    private static ControlReply Run(ControlCommands c, string line) => c.Execute(Encoding.UTF8.GetBytes(line));

    [Fact]
    public void UnknownCommand_IsAnError_NamingHelp()
    {
        var r = Run(new ControlCommands(), "offload/shwo\n");
        Assert.False(r.Ok);
        Assert.Equal("unknown command 'offload/shwo'; 'help' lists the commands", r.Text);
    }

    [Theory]
    [InlineData("add-port", "(did you mean port/add?)")]
    [InlineData("del-port", "(did you mean port/del?)")]
    [InlineData("dump-flow", "(did you mean dump-flows?)")]
    [InlineData("show", "(did you mean dp/show or fdb/show?)")]
    public void UnknownCommand_SuggestsTheNearOnes(string typed, string suggestion)
    {
        var c = new ControlCommands();
        foreach (var name in new[] { "port/add", "port/del", "dump-flows", "dp/show", "fdb/show", "version" })
            c.Register(name, "", name, 0, 0, _ => ControlReply.Success(""));
        var r = Run(c, typed + "\n");
        Assert.False(r.Ok);
        Assert.Equal($"unknown command '{typed}' {suggestion}; 'help' lists the commands", r.Text);
    }

    [Fact]
    public void ArgumentCounts_AreChecked_WithUsage()
    {
        var c = new ControlCommands();
        c.Register("offload/dump-flows", "[hw|sw]", "dump-flows things", 0, 1, a => ControlReply.Success("n=" + a.Length));
        Assert.Equal(ControlReply.Success("n=0"), Run(c, "offload/dump-flows\n"));
        Assert.Equal(ControlReply.Success("n=1"), Run(c, "offload/dump-flows hw\n"));
        var r = Run(c, "offload/dump-flows hw sw\n");
        Assert.False(r.Ok);
        Assert.Equal("'offload/dump-flows' takes 0 to 1 argument(s), not 2; usage: offload/dump-flows [hw|sw]", r.Text);
        Assert.False(Run(c, "help me\n").Ok);
    }

    [Fact]
    public void FailingHandler_IsAnErrorReply_NotACrash()
    {
        var c = new ControlCommands();
        c.Register("boom", "", "boom things", 0, 0, _ => throw new InvalidOperationException("kaput"));
        var r = Run(c, "boom\n");
        Assert.False(r.Ok);
        Assert.Equal("'boom' failed: kaput", r.Text);
        Assert.True(Run(c, "help\n").Ok);
    }

    [Fact]
    public void Help_ListsEveryCommand_Sorted_WithUsage()
    {
        var c = new ControlCommands();
        c.Register("offload/show", "", "show things", 0, 0, _ => ControlReply.Success(""));
        c.Register("dp/show", "", "show things", 0, 0, _ => ControlReply.Success(""));
        c.Register("offload/dump-flows", "[hw|sw]", "dump-flows things", 0, 1, _ => ControlReply.Success(""));
        var r = Run(c, "help\n");
        Assert.True(r.Ok);
        Assert.Equal("The available commands are:\n" +
                     "  dp/show                     show things\n" +
                     "  help                        this list\n" +
                     "  offload/dump-flows [hw|sw]  dump-flows things\n" +
                     "  offload/show                show things\n", r.Text);
    }

    [Fact]
    public void Register_RefusesBadNamesAndDuplicates()
    {
        var c = new ControlCommands();
        Assert.Throws<ArgumentException>(() => c.Register("Bad Name", "", "Bad Name things", 0, 0, _ => default));
        Assert.Throws<InvalidOperationException>(() => c.Register("help", "", "help things", 0, 0, _ => default));
        Assert.Throws<ArgumentOutOfRangeException>(() => c.Register("x", "", "x things", 2, 1, _ => default));
    }
}
