using System.Net.Sockets;
using System.Text;
using Softswitch.Control;
using Softswitch.TestKit;

namespace Softswitch.Tests.Control;

/// <summary>The control socket over a real Unix domain socket in a private directory.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class ControlServerTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("ssw-ctl-");
    private string SocketPath => Path.Combine(_dir.FullName, "sw.ctl");

    public void Dispose() => _dir.Delete(recursive: true);

    private static ControlCommands Commands()
    {
        var c = new ControlCommands();
        c.Register("echo", "WORD...", "echo things", 0, 16, a => ControlReply.Success(string.Join(' ', a)));
        c.Register("boom", "", "boom things", 0, 0, _ => throw new InvalidOperationException("kaput"));
        return c;
    }

    /// <summary>Sends raw bytes (optionally without shutting down the send side) and reads the raw reply.</summary>
    private static string Raw(string path, byte[] request, bool shutdown = true)
    {
        using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { ReceiveTimeout = 10_000 };
        s.Connect(new UnixDomainSocketEndPoint(path));
        s.Send(request);
        if (shutdown) s.Shutdown(SocketShutdown.Send);
        var ms = new MemoryStream();
        var buf = new byte[4096];
        int n;
        while ((n = s.Receive(buf)) > 0) ms.Write(buf, 0, n);
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    [ToolFact]
    [RequiresRoot("chowning a directory to another user")]
    public void ARunDirectoryOthersControlIsRefused()
    {
        string dir = Path.Combine(_dir.FullName, "run");
        Directory.CreateDirectory(dir);
        string sock = Path.Combine(dir, "sw.ctl");

        File.SetUnixFileMode(dir, (UnixFileMode)Convert.ToInt32("777", 8));
        var e = Assert.Throws<ControlSocketException>(() => ControlServer.Start(sock, Commands()));
        Assert.Equal($"run directory '{dir}' is writable by others (mode 0777) without the sticky bit; not using it", e.Message);
        File.SetUnixFileMode(dir, (UnixFileMode)Convert.ToInt32("1777", 8)); // like /tmp: fine
        using (ControlServer.Start(sock, Commands())) { }

        File.SetUnixFileMode(dir, (UnixFileMode)Convert.ToInt32("750", 8));
        var (code, _, err) = Run("chown", "54321", dir);
        Assert.True(code == 0, err);
        e = Assert.Throws<ControlSocketException>(() => ControlServer.Start(sock, Commands()));
        Assert.Equal($"run directory '{dir}' is owned by uid 54321, not by this user (uid 0) or root; not using it", e.Message);
        Assert.False(File.Exists(sock));
    }

    private static (int, string, string) Run(string tool, params string[] args)
    {
        var psi = new System.Diagnostics.ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = System.Diagnostics.Process.Start(psi)!;
        string so = p.StandardOutput.ReadToEnd(), se = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, so, se);
    }

    [Fact]
    public void Answers_AndSurvivesMalformedRequests()
    {
        using var server = ControlServer.Start(SocketPath, Commands());
        Assert.Equal(ControlReply.Success("a b\n"), ControlClient.Call(SocketPath, "echo", ["a", "b"], TimeSpan.FromSeconds(10)));

        Assert.Equal("ERROR\nunknown command 'nope'; 'help' lists the commands\n", Raw(SocketPath, "nope\n"u8.ToArray()));
        Assert.StartsWith("ERROR\nrequest is not UTF-8", Raw(SocketPath, [0xC3, 0x28, 0x0A]));
        Assert.StartsWith("ERROR\nempty request", Raw(SocketPath, "\n"u8.ToArray()));
        Assert.Equal("ERROR\n'boom' failed: kaput\n", Raw(SocketPath, "boom\n"u8.ToArray()));
        // Longer than a request may be, no LF: refused once the bound is reached, whatever follows.
        var huge = Encoding.ASCII.GetBytes("echo " + new string('x', 64 * 1024));
        Assert.Equal($"ERROR\nrequest longer than {ControlProtocol.MaxRequestSize} bytes\n", Raw(SocketPath, huge));
        // Only the first line counts.
        Assert.Equal("OK\none\n", Raw(SocketPath, "echo one\necho two\n"u8.ToArray()));
        // A line without LF, then EOF.
        Assert.Equal("OK\nlast\n", Raw(SocketPath, "echo last"u8.ToArray()));
        // Connect and close without a word: nothing to answer, nothing breaks.
        using (var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            s.Connect(new UnixDomainSocketEndPoint(SocketPath));
        }
        Assert.Equal(ControlReply.Success("still here\n"), ControlClient.Call(SocketPath, "echo", ["still", "here"], TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public void SilentClient_TimesOut_WithAnError()
    {
        using var server = ControlServer.Start(SocketPath, Commands(), requestTimeout: TimeSpan.FromMilliseconds(300));
        string reply = Raw(SocketPath, "echo no-newline-yet"u8.ToArray(), shutdown: false);
        Assert.Equal("ERROR\nno request line within 0.3 s\n", reply);
    }

    [Fact]
    public void TricklingClient_TimesOut_AtTheRequestDeadline_NotPerRead()
    {
        using var server = ControlServer.Start(SocketPath, Commands(), requestTimeout: TimeSpan.FromMilliseconds(500));
        using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { ReceiveTimeout = 10_000 };
        s.Connect(new UnixDomainSocketEndPoint(SocketPath));
        using var stop = new ManualResetEventSlim();
        // A byte every 100 ms, never a LF: each read finds something, the request's deadline must still hold.
        var trickle = new Thread(() =>
        {
            try
            {
                s.Send("echo "u8);
                while (!stop.Wait(100)) s.Send("x"u8);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
        });
        var clock = System.Diagnostics.Stopwatch.StartNew();
        trickle.Start();
        var ms = new MemoryStream();
        var buf = new byte[4096];
        int n;
        while ((n = s.Receive(buf)) > 0) ms.Write(buf, 0, n);
        var elapsed = clock.Elapsed;
        stop.Set();
        Assert.True(trickle.Join(5000));
        Assert.Equal("ERROR\nno request line within 0.5 s\n", Encoding.UTF8.GetString(ms.ToArray()));
        Assert.InRange(elapsed, TimeSpan.FromMilliseconds(400), TimeSpan.FromSeconds(3));
    }

    [Fact]
    public void Dispose_WakesClientsThatHaveNotSentALine_Promptly()
    {
        var server = ControlServer.Start(SocketPath, Commands(), requestTimeout: TimeSpan.FromSeconds(30));
        using var silent = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { ReceiveTimeout = 10_000 };
        using var half = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { ReceiveTimeout = 10_000 };
        silent.Connect(new UnixDomainSocketEndPoint(SocketPath));
        half.Connect(new UnixDomainSocketEndPoint(SocketPath));
        half.Send("echo not-finished"u8);
        Thread.Sleep(300);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        server.Dispose();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1.5), $"Dispose took {clock.Elapsed}");
        static string ReadAll(Socket s)
        {
            var ms = new MemoryStream();
            var buf = new byte[4096];
            int n;
            while ((n = s.Receive(buf)) > 0) ms.Write(buf, 0, n);
            return Encoding.UTF8.GetString(ms.ToArray());
        }
        Assert.Equal("", ReadAll(silent));
        Assert.Equal("ERROR\nthe daemon is stopping; request not run\n", ReadAll(half));
        Assert.False(File.Exists(SocketPath));
    }

    [Fact]
    public void SocketIsOwnerOnly_AndRemovedOnDispose()
    {
        var server = ControlServer.Start(SocketPath, Commands());
        Assert.True(SocketFile.TryStat(SocketPath, out var info));
        Assert.True(info.IsSocket);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(SocketPath));
        server.Dispose();
        Assert.False(SocketFile.TryStat(SocketPath, out _));
        var e = Assert.Throws<ControlSocketException>(() => ControlClient.Call(SocketPath, "help", [], TimeSpan.FromSeconds(1)));
        Assert.Contains("no control socket at", e.Message);
    }

    [Fact]
    public void Dispose_LeavesANewerDaemonsSocketAlone()
    {
        var old = ControlServer.Start(SocketPath, Commands());
        File.Delete(SocketPath);  // someone removed it by hand, and a new daemon took the path
        using var newer = ControlServer.Start(SocketPath, Commands());
        old.Dispose();
        Assert.True(SocketFile.TryStat(SocketPath, out var info) && info.IsSocket);
        Assert.True(ControlClient.Call(SocketPath, "help", [], TimeSpan.FromSeconds(10)).Ok);
    }

    [Fact]
    public void MissingDirectory_IsCreated()
    {
        string path = Path.Combine(_dir.FullName, "run", "softswitch", "x.ctl");
        using var server = ControlServer.Start(path, Commands());
        Assert.True(ControlClient.Call(path, "help", [], TimeSpan.FromSeconds(10)).Ok);
    }

    [Fact]
    public void StaleSocket_IsTakenOver_LiveOneAndOtherFilesAreNot()
    {
        // A socket file nobody listens on (its daemon died): bound under another name (the runtime unlinks that one
        // on Dispose), linked into place, closed.
        string staging = SocketPath + ".staging";
        using (var dead = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            dead.Bind(new UnixDomainSocketEndPoint(staging));
            File.Move(staging, SocketPath);
        }
        Assert.True(SocketFile.TryStat(SocketPath, out var stale) && stale.IsSocket);
        using (var server = ControlServer.Start(SocketPath, Commands()))
        {
            Assert.True(ControlClient.Call(SocketPath, "help", [], TimeSpan.FromSeconds(10)).Ok);
            var live = Assert.Throws<ControlSocketException>(() => ControlServer.Start(SocketPath, Commands()));
            Assert.Contains("in use", live.Message);
            // The first one still answers.
            Assert.True(ControlClient.Call(SocketPath, "help", [], TimeSpan.FromSeconds(10)).Ok);
        }

        string file = Path.Combine(_dir.FullName, "not-a-socket.ctl");
        File.WriteAllText(file, "precious");
        var e = Assert.Throws<ControlSocketException>(() => ControlServer.Start(file, Commands()));
        Assert.Contains("not a socket", e.Message);
        Assert.Equal("precious", File.ReadAllText(file));
    }

    [Fact]
    public void TooLongPath_IsAUserError()
    {
        var e = Assert.Throws<ControlSocketException>(() => ControlServer.Start(Path.Combine(_dir.FullName, new string('x', 120) + ".ctl"), Commands()));
        Assert.Contains("longer than", e.Message);
    }

    [Fact]
    public void NotAControlSocket_IsReportedByTheClient()
    {
        using var other = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        other.Bind(new UnixDomainSocketEndPoint(SocketPath));
        other.Listen(1);
        var serve = new Thread(() =>
        {
            using var c = other.Accept();
            c.Receive(new byte[100]);
            c.Send("HTTP/1.1 400 Bad Request\r\n\r\n"u8.ToArray());
            c.Shutdown(SocketShutdown.Both);
        });
        serve.Start();
        var e = Assert.Throws<ControlSocketException>(() => ControlClient.Call(SocketPath, "help", [], TimeSpan.FromSeconds(10)));
        Assert.Contains("did not answer with a control reply", e.Message);
        Assert.True(serve.Join(5000));
    }

    [Fact]
    public void MoreClientsThanSlots_AreToldBusy_ThenServed()
    {
        using var server = ControlServer.Start(SocketPath, Commands(), requestTimeout: TimeSpan.FromSeconds(3));
        // Fill every slot with clients that say nothing.
        var idle = new List<Socket>();
        try
        {
            for (int i = 0; i < ControlServer.MaxConnections; i++)
            {
                var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                s.Connect(new UnixDomainSocketEndPoint(SocketPath));
                idle.Add(s);
            }
            Thread.Sleep(300);
            var busy = ControlClient.Call(SocketPath, "help", [], TimeSpan.FromSeconds(10));
            Assert.False(busy.Ok);
            Assert.StartsWith("busy", busy.Text);
        }
        finally
        {
            foreach (var s in idle) s.Dispose();
        }
        // The slots free up as those clients go away.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        ControlReply r;
        do
        {
            Thread.Sleep(100);
            r = ControlClient.Call(SocketPath, "help", [], TimeSpan.FromSeconds(10));
        } while (!r.Ok && DateTime.UtcNow < deadline);
        Assert.True(r.Ok, r.Text);
    }
}
