using System.Globalization;
using System.Net.Sockets;

namespace Softswitch.Control;

/// <summary>Where control sockets live, and how `softswitch ctl --target` finds one.</summary>
/// <remarks>
/// The run directory is $SOFTSWITCH_RUNDIR, else /run/softswitch as root, else a per-user directory under the temp
/// directory. A daemon's default socket is RUNDIR/DPID.ctl with the datapath id as 16 hex digits (RUNDIR/DPID.PID.ctl
/// when another daemon with the same datapath id already answers there). A target containing '/' is a path; a hex number is a datapath id; any other
/// word is a name in the run directory (RUNDIR/NAME.ctl); no target means the only live socket in the run directory.
/// </remarks>
internal static class ControlPaths
{
    public const string RunDirVariable = "SOFTSWITCH_RUNDIR";

    /// <summary>$SOFTSWITCH_RUNDIR, else /run/softswitch for root, else a per-user directory under the temp directory.</summary>
    public static string RunDir
        => Environment.GetEnvironmentVariable(RunDirVariable) is { Length: > 0 } d ? d
         : SocketFile.EffectiveUid == 0 ? "/run/softswitch"
         : Path.Combine(Path.GetTempPath(), $"softswitch-{Environment.UserName}");

    public static string DefaultFor(ulong dpid) => DefaultFor(dpid, RunDir);

    public static string DefaultFor(ulong dpid, string runDir) => Path.Combine(runDir, $"{dpid:x16}.ctl");

    /// <summary>The name a second daemon with the same datapath id takes: RUNDIR/DPID.PID.ctl.</summary>
    public static string DefaultFor(ulong dpid, int pid) => Path.Combine(RunDir, $"{dpid:x16}.{pid}.ctl");

    /// <summary>The socket path for <paramref name="target"/> (see the remarks); false with a message for the user.</summary>
    public static bool TryResolve(string? target, out string path, out string error) => TryResolve(target, RunDir, out path, out error);

    public static bool TryResolve(string? target, string runDir, out string path, out string error)
    {
        path = "";
        error = "";
        if (target is { Length: > 0 })
        {
            if (target.Contains('/'))
            {
                path = target;
                return true;
            }
            string hex = target.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? target[2..] : target;
            path = hex.Length is > 0 and <= 16 && ulong.TryParse(hex, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong dpid)
                ? DefaultFor(dpid, runDir)
                : Path.Combine(runDir, target + ".ctl");
            return true;
        }
        string dir = runDir;
        string[] found;
        try
        {
            found = Directory.Exists(dir) ? Directory.GetFiles(dir, "*.ctl") : [];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error = $"cannot list {dir}: {e.Message}";
            return false;
        }
        // Only sockets somebody answers on: a daemon killed without cleaning up leaves its file behind.
        var live = found.Where(IsLive).ToArray();
        Array.Sort(live, StringComparer.Ordinal);
        switch (live.Length)
        {
            case 1:
                path = live[0];
                return true;
            case 0:
                error = found.Length == 0
                    ? $"no control socket in {dir} (is `softswitch run` running? give --target PATH for its --unixctl)"
                    : $"no running softswitch answers in {dir} (stale: {string.Join(", ", found.Select(Path.GetFileName))}); give --target PATH";
                return false;
            default:
                error = $"several control sockets in {dir}; pick one with --target: {string.Join(", ", live.Select(Path.GetFileName))}";
                return false;
        }
    }

    /// <summary>
    /// The control socket of the daemon whose pid <paramref name="pidFile"/> holds (as <c>softswitch run --pidfile</c> writes
    /// it): the live socket in the run directory whose other end is that process. False with a message for the user.
    /// </summary>
    public static bool TryResolvePidFile(string pidFile, string runDir, out string path, out int pid, out string error)
    {
        path = "";
        pid = 0;
        string text;
        try
        {
            text = File.ReadAllText(pidFile).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error = $"--pidfile {pidFile}: {e.Message} (is the switch running with this --pidfile?)";
            return false;
        }
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out pid) || pid <= 0)
        {
            error = $"--pidfile {pidFile}: holds '{text}', not a process id";
            return false;
        }
        string[] found;
        try
        {
            found = Directory.Exists(runDir) ? Directory.GetFiles(runDir, "*.ctl") : [];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error = $"cannot list {runDir}: {e.Message}";
            return false;
        }
        Array.Sort(found, StringComparer.Ordinal);
        foreach (string f in found)
        {
            try
            {
                using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                probe.Connect(new UnixDomainSocketEndPoint(f));
                if (ControlClient.PeerPid(probe) != pid) continue;
            }
            catch (SocketException)
            {
                continue;
            }
            path = f;
            error = "";
            return true;
        }
        error = ProcessExit.IsGone(pid)
            ? $"--pidfile {pidFile}: process {pid} is not running"
            : $"--pidfile {pidFile}: process {pid} has no control socket in {runDir} (give --target the path of its --unixctl)";
        return false;
    }

    /// <summary>Whether something accepts connections on the socket at <paramref name="path"/>.</summary>
    public static bool IsLive(string path)
    {
        try
        {
            using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            probe.Connect(new UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}

/// <summary>Whether a process has ended, and waiting until it has (for <c>softswitch ctl exit</c>).</summary>
internal static class ProcessExit
{
    /// <summary>True when no process <paramref name="pid"/> runs: /proc has no entry, or only a zombie waiting to be reaped.</summary>
    public static bool IsGone(int pid)
    {
        if (!OperatingSystem.IsLinux()) return true;
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return true;
        }
        // "PID (COMM) STATE ...": COMM may hold spaces and parentheses, the state follows the last ')'.
        int close = stat.LastIndexOf(')');
        return close >= 0 && close + 2 < stat.Length && stat[close + 2] is 'Z' or 'X';
    }

    /// <summary>Polls until <paramref name="pid"/> is gone; false when it still runs after <paramref name="timeout"/>.</summary>
    public static bool WaitGone(int pid, TimeSpan timeout)
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        while (!IsGone(pid))
        {
            if (sw.Elapsed > timeout) return false;
            Thread.Sleep(10);
        }
        return true;
    }
}

/// <summary>Sends one request to a control socket and reads the reply (the client side of <see cref="ControlProtocol"/>).</summary>
internal static class ControlClient
{
    /// <summary>The daemon's reply; throws <see cref="ControlSocketException"/> when it cannot be reached or answers garbage.</summary>
    public static ControlReply Call(string path, string command, IReadOnlyList<string> args, TimeSpan timeout)
        => Call(path, command, args, timeout, out _);

    /// <param name="peerPid">The daemon's process id as the kernel tells it (SO_PEERCRED), or 0 when unknown.</param>
    public static ControlReply Call(string path, string command, IReadOnlyList<string> args, TimeSpan timeout, out int peerPid)
    {
        peerPid = 0;
        if (!ControlProtocol.TryFormatRequest(command, args, out var request, out string error)) throw new ControlSocketException(error);
        if (!File.Exists(path) && !SocketFile.TryStat(path, out _))
            throw new ControlSocketException($"no control socket at {path} (is `softswitch run` running with this --unixctl?)");
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.SendTimeout = socket.ReceiveTimeout = (int)Math.Clamp(timeout.TotalMilliseconds, 1, int.MaxValue);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(path));
        }
        catch (SocketException e)
        {
            string hint = e.SocketErrorCode switch
            {
                SocketError.AddressNotAvailable or SocketError.ConnectionRefused => " (is `softswitch run` running with this --unixctl?)",
                SocketError.AccessDenied => " (the socket is only for its owner; try as root)",
                _ => "",
            };
            throw new ControlSocketException($"cannot connect to {path}: {e.Message}{hint}");
        }
        peerPid = PeerPid(socket);
        try
        {
            socket.Send(request);
            socket.Shutdown(SocketShutdown.Send);
            var reply = new MemoryStream();
            var buf = new byte[64 * 1024];
            int n;
            while ((n = socket.Receive(buf)) > 0)
            {
                if (reply.Length + n > ControlProtocol.MaxReplySize + 1024)
                    throw new ControlSocketException($"reply from {path} is larger than {ControlProtocol.MaxReplySize} bytes");
                reply.Write(buf, 0, n);
            }
            if (!ControlProtocol.TryDecodeReply(reply.GetBuffer().AsSpan(0, (int)reply.Length), out var r))
                throw new ControlSocketException($"{path} did not answer with a control reply (is it a softswitch control socket?)");
            return r;
        }
        catch (SocketException e)
        {
            throw new ControlSocketException(e.SocketErrorCode == SocketError.TimedOut
                ? $"no reply from {path} within {timeout.TotalSeconds:0.#} s"
                : $"talking to {path}: {e.Message}");
        }
    }

    /// <summary>The process at the other end of a connected Unix socket (SO_PEERCRED's struct ucred), or 0 off Linux.</summary>
    public static int PeerPid(Socket socket)
    {
        if (!OperatingSystem.IsLinux()) return 0;
        Span<byte> ucred = stackalloc byte[12];   // pid, uid, gid
        try
        {
            return socket.GetRawSocketOption(1 /* SOL_SOCKET */, 17 /* SO_PEERCRED */, ucred) == 12 ? BitConverter.ToInt32(ucred) : 0;
        }
        catch (SocketException)
        {
            return 0;
        }
    }
}
