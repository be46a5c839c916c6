using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Softswitch.Control;

/// <summary>
/// The daemon's control socket: a Unix stream socket (mode 0600) answering one request per connection, the way
/// ovs-appctl talks to ovs-vswitchd.
/// </summary>
/// <remarks>
/// Protocol: the client sends one line (a command and its arguments, at most <see cref="MaxRequest"/> bytes, ended
/// by a newline or by shutting down its side); the server answers <c>ok\n</c> followed by the output, or
/// <c>error: MESSAGE\n</c>, and closes. A client that sends nothing for <see cref="ClientTimeout"/>, a request that is too
/// long, or a handler that throws gets an error answer and a log line; the daemon carries on. At most
/// <see cref="MaxClients"/> requests run at once; further clients wait in the listen backlog.
/// </remarks>
internal sealed class ControlServer : IDisposable
{
    public const int MaxRequest = 4096;
    public const int MaxClients = 4;
    public static readonly TimeSpan ClientTimeout = TimeSpan.FromSeconds(2);

    private readonly ControlCommands _commands;
    private readonly ILogger _log;
    private readonly Socket _listener;
    private readonly SemaphoreSlim _slots = new(MaxClients);
    private readonly Thread _acceptThread;
    private volatile bool _stopping;

    public string Path { get; }

    private ControlServer(string path, Socket listener, ControlCommands commands, ILogger log)
    {
        Path = path;
        _listener = listener;
        _commands = commands;
        _log = log;
        _acceptThread = new Thread(AcceptLoop) { IsBackground = true, Name = "unixctl" };
        _acceptThread.Start();
    }

    /// <summary>The directory control sockets go to by default: /run/softswitch as root, else a per-user temp directory.</summary>
    public static string DefaultDirectory
        => Environment.UserName == "root" || Environment.GetEnvironmentVariable("USER") == "root"
            ? "/run/softswitch"
            : System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"softswitch-{Environment.UserName}");

    /// <summary>
    /// Binds <paramref name="path"/>. A stale socket file (no daemon answers it) is replaced; a live one is an
    /// <see cref="IOException"/> naming the path.
    /// </summary>
    public static ControlServer Start(string path, ControlCommands commands, ILogger log)
    {
        string? dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir) && !Directory.Exists(dir))
            Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
                                           UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        if (File.Exists(path))
        {
            if (IsLive(path)) throw new IOException($"another daemon answers on {path}");
            File.Delete(path);
        }
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            s.Bind(new UnixDomainSocketEndPoint(path));
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            s.Listen(16);
        }
        catch
        {
            s.Dispose();
            throw;
        }
        return new ControlServer(path, s, commands, log);
    }

    /// <summary>True when something accepts connections on the socket at <paramref name="path"/>.</summary>
    public static bool IsLive(string path)
    {
        try
        {
            using var c = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            c.Connect(new UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private void AcceptLoop()
    {
        while (!_stopping)
        {
            Socket client;
            try
            {
                _slots.Wait();
                client = _listener.Accept();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                _slots.Release();
                if (_stopping) return;
                _log.LogWarning("control socket {Path}: accept failed: {Error}", Path, e.Message);
                Thread.Sleep(100);
                continue;
            }
            ThreadPool.UnsafeQueueUserWorkItem(static st => st.Server.Serve(st.Client), (Server: this, Client: client), preferLocal: false);
        }
    }

    private void Serve(Socket client)
    {
        try
        {
            client.ReceiveTimeout = (int)ClientTimeout.TotalMilliseconds;
            client.SendTimeout = (int)ClientTimeout.TotalMilliseconds;
            string reply;
            if (!TryReadRequest(client, out string request, out string? problem))
            {
                reply = "error: " + problem + "\n";
                _log.LogWarning("control socket {Path}: {Problem}", Path, problem);
            }
            else
            {
                bool ok;
                string output;
                try
                {
                    ok = _commands.TryRun(request, out output);
                }
                catch (Exception e)
                {
                    // A handler bug must not take the daemon down: the client and the log both hear about it.
                    ok = false;
                    output = $"internal error in '{ControlCommands.Printable(request)}': {e.GetType().Name}: {e.Message}";
                    _log.LogError(e, "control socket {Path}: command '{Request}' failed", Path, ControlCommands.Printable(request));
                }
                reply = ok ? "ok\n" + output : "error: " + output + "\n";
                _log.LogDebug("control socket: '{Request}' -> {Result}", ControlCommands.Printable(request), ok ? "ok" : output);
            }
            client.Send(Encoding.UTF8.GetBytes(reply));
            client.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            _log.LogDebug("control socket {Path}: client went away: {Error}", Path, e.Message);
        }
        finally
        {
            client.Dispose();
            _slots.Release();
        }
    }

    /// <summary>Reads bytes up to the first newline (or the client's end of stream), at most <see cref="MaxRequest"/>.</summary>
    private static bool TryReadRequest(Socket client, out string request, out string? problem)
    {
        var buf = new byte[MaxRequest + 1];
        int len = 0;
        request = "";
        while (true)
        {
            int nl = Array.IndexOf(buf, (byte)'\n', 0, len);
            if (nl >= 0)
            {
                len = nl;
                break;
            }
            if (len > MaxRequest)
            {
                problem = $"request longer than {MaxRequest} bytes";
                return false;
            }
            int n;
            try
            {
                n = client.Receive(buf, len, buf.Length - len, SocketFlags.None);
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock)
            {
                problem = $"no complete request within {ClientTimeout.TotalSeconds:0} s";
                return false;
            }
            if (n == 0) break;
            len += n;
        }
        try
        {
            request = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(buf, 0, len).TrimEnd('\r');
        }
        catch (DecoderFallbackException)
        {
            problem = "request is not UTF-8 text";
            return false;
        }
        problem = null;
        return true;
    }

    public void Dispose()
    {
        if (_stopping) return;
        _stopping = true;
        _listener.Dispose();
        try { File.Delete(Path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
