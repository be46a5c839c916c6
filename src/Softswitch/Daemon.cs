using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace Softswitch;

/// <summary>
/// What makes `softswitch run` a daemon as OVS's are: <c>--detach</c> (the command returns once the switch is ready,
/// leaving it running in its own session), <c>--pidfile</c>, and systemd's readiness protocol (<c>Type=notify</c>).
/// </summary>
/// <remarks>
/// .NET cannot fork, so <c>--detach</c> starts the same program again without <c>--detach</c> and with
/// <see cref="DetachedVariable"/> set, forwards the child's stderr until the child writes <see cref="ReadyLine"/> on
/// its stdout (ready), then returns 0; a child that exits first hands back its exit code and its messages. The child
/// calls setsid(2), so the terminal's or the launching shell's hangup does not reach it, and after readiness it drops
/// what it would write to the (closed) pipes. sd_notify is one datagram on $NOTIFY_SOCKET (a path, or '@' for the
/// abstract namespace), as sd_notify(3) describes; without the variable it does nothing. Called from the main thread
/// only.
/// </remarks>
internal static partial class Daemon
{
    public const string DetachedVariable = "SOFTSWITCH_DETACHED";
    public const string ReadyLine = "softswitch: ready";

    public static bool IsDetachedChild => Environment.GetEnvironmentVariable(DetachedVariable) == "1";

    /// <summary>In the child: leave the launcher's session.</summary>
    public static void EnterOwnSession()
    {
        if (OperatingSystem.IsLinux()) _ = SetSid();
    }

    /// <summary>Runs this program again with <paramref name="args"/> (which no longer hold --detach) and waits until it
    /// is ready; <paramref name="program"/>: the path to run it by (a link to it, whose name the process takes), else its own.</summary>
    public static int Detach(IReadOnlyList<string> args, TimeSpan timeout, string? program = null)
    {
        string exe = program ?? Environment.ProcessPath ?? throw new InvalidOperationException("cannot find this program's path");
        var psi = new ProcessStartInfo(exe)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        // Framework-dependent: the host is `dotnet` and the program is the dll it was given.
        if (Path.GetFileNameWithoutExtension(exe) == "dotnet") psi.ArgumentList.Add(Environment.GetCommandLineArgs()[0]);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment[DetachedVariable] = "1";
        using var child = Process.Start(psi)!;
        child.StandardInput.Close();
        var errors = new StringBuilder();
        child.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (errors) errors.AppendLine(e.Data);
        };
        child.BeginErrorReadLine();
        var deadline = Stopwatch.StartNew();
        bool ready = false, ended = false;
        while (!ready && !ended)
        {
            var readLine = child.StandardOutput.ReadLineAsync();
            var left = timeout - deadline.Elapsed;
            if (left <= TimeSpan.Zero || !readLine.Wait(left)) break;
            if (readLine.Result is null) ended = true;
            else ready = readLine.Result == ReadyLine;
        }
        if (ready)
        {
            // What a detached daemon logged before it was ready: warnings and errors reach the user, the rest is in
            // the log file (or gone, as with OVS daemons detached without --log-file).
            lock (errors)
            {
                foreach (var line in errors.ToString().Split('\n'))
                    if (line.Contains("|WARN|") || line.Contains("|ERR|") || line.Contains("|EMER|")) Console.Error.WriteLine(line.TrimEnd('\r'));
            }
            Console.Out.WriteLine($"softswitch: running as pid {child.Id}");
            return 0;
        }
        if (!ended)
        {
            lock (errors) Console.Error.Write(errors.ToString());
            Console.Error.WriteLine($"softswitch: the switch (pid {child.Id}) was not ready within {timeout.TotalSeconds:0} s; stopping it");
            child.Kill(true);
            return 1;
        }
        child.WaitForExit();
        lock (errors) Console.Error.Write(errors.ToString());
        return child.ExitCode == 0 ? 1 : child.ExitCode;
    }

    /// <summary>Says the switch is ready: to the --detach launcher (then the console goes quiet) and to systemd.</summary>
    public static void SignalReady(Action? quietConsole)
    {
        if (IsDetachedChild)
        {
            try
            {
                Console.Out.WriteLine(ReadyLine);
                Console.Out.Flush();
            }
            catch (IOException) { }
            quietConsole?.Invoke();
            Console.SetOut(TextWriter.Null);
            Console.SetError(TextWriter.Null);
        }
        Notify("READY=1\nMAINPID=" + Environment.ProcessId);
    }

    /// <summary>Sends one sd_notify(3) message; false when there is no $NOTIFY_SOCKET or it cannot be reached.</summary>
    public static bool Notify(string state)
    {
        string? path = Environment.GetEnvironmentVariable("NOTIFY_SOCKET");
        if (string.IsNullOrEmpty(path)) return false;
        if (path[0] == '@') path = "\0" + path[1..];
        try
        {
            using var s = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            s.Connect(new UnixDomainSocketEndPoint(path));
            s.Send(Encoding.UTF8.GetBytes(state));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Writes the pid file (the pid and a newline, replacing a stale one); false with a message when it cannot.</summary>
    public static bool TryWritePidFile(string path, out string error)
    {
        error = "";
        try
        {
            if (File.Exists(path) && int.TryParse(File.ReadAllText(path).Trim(), out int old) && old != Environment.ProcessId && IsAlive(old))
            {
                error = $"--pidfile {path}: process {old} is running and owns it (another softswitch?)";
                return false;
            }
            var dir = Path.GetDirectoryName(Path.GetFullPath(path));
            if (dir is not null) Directory.CreateDirectory(dir);
            string tmp = path + ".tmp";
            File.WriteAllText(tmp, Environment.ProcessId + "\n");
            File.Move(tmp, path, overwrite: true);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error = $"--pidfile {path}: {e.Message}";
            return false;
        }
    }

    /// <summary>Removes the pid file if it still names this process.</summary>
    public static void RemovePidFile(string path)
    {
        try
        {
            if (File.Exists(path) && File.ReadAllText(path).Trim() == Environment.ProcessId.ToString()) File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    private static bool IsAlive(int pid)
    {
        if (!OperatingSystem.IsLinux()) return false;
        return Kill(pid, 0) == 0 || Marshal.GetLastPInvokeError() == 1; // EPERM: alive, someone else's
    }

    [LibraryImport("libc", EntryPoint = "setsid")]
    private static partial int SetSid();

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
