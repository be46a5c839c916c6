using Softswitch.Control;

namespace Softswitch;

/// <summary>
/// `softswitch ctl [--target T | --pidfile FILE] [COMMAND [ARG...]]`: sends one command (default <c>help</c>) to a running
/// daemon's control socket and prints the reply (like ovs-appctl). Exit code 0 when the command succeeded, 1 when the
/// daemon answered with an error (or did not end after <c>exit</c>), 2 when the daemon could not be reached or the request
/// is malformed.
/// </summary>
/// <remarks>
/// <c>exit</c> returns once the daemon's process has ended (its pid from SO_PEERCRED), so the same ports, pid file and
/// socket can be used again by the next command; the wait is bounded by the timeout.
/// </remarks>
internal static class CtlCommand
{
    public static int Run(string? target, double timeoutSeconds, IReadOnlyList<string> words, TextWriter stdout, TextWriter stderr)
        => Run(target, null, timeoutSeconds, words, stdout, stderr);

    public static int Run(string? target, string? pidFile, double timeoutSeconds, IReadOnlyList<string> words, TextWriter stdout, TextWriter stderr)
    {
        if (words.Count == 0) words = ["help"];
        string path, error;
        if (pidFile is not null && target is not null)
        {
            stderr.WriteLine("softswitch: give --target or --pidfile, not both");
            return 2;
        }
        if (pidFile is not null ? !ControlPaths.TryResolvePidFile(pidFile, ControlPaths.RunDir, out path, out _, out error)
                                : !ControlPaths.TryResolve(target, out path, out error))
        {
            stderr.WriteLine($"softswitch: {error}");
            return 2;
        }
        if (!(timeoutSeconds > 0)) timeoutSeconds = 30;
        var timeout = TimeSpan.FromSeconds(timeoutSeconds);
        if (words[0] == "trace/watch") return TraceWatchClient.Run(path, words.Skip(1).ToList(), timeout, stdout, stderr);
        ControlReply reply;
        int pid;
        try
        {
            reply = ControlClient.Call(path, words[0], words.Skip(1).ToList(), timeout, out pid);
        }
        catch (ControlSocketException e)
        {
            stderr.WriteLine($"softswitch: {e.Message}");
            return 2;
        }
        if (reply.Ok)
        {
            stdout.Write(reply.Text);
            if (words[0] == "exit" && pid > 0 && !ProcessExit.WaitGone(pid, timeout))
            {
                stderr.WriteLine($"softswitch: {path}: the switch (pid {pid}) still runs {timeoutSeconds:0.#} s after exit");
                return 1;
            }
            return 0;
        }
        stderr.Write($"softswitch: {path}: {reply.Text}");
        if (!reply.Text.EndsWith('\n')) stderr.WriteLine();
        return 1;
    }
}
