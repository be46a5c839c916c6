using System.Globalization;
using Softswitch.Control;

namespace Softswitch;

/// <summary>
/// <c>softswitch ctl trace/watch [FILTER] [--count N] [--rate K] [--seconds S]</c>: begins a watch on the daemon, then
/// polls it (the control protocol is one request, one reply) and prints each traced packet as it comes, until N
/// packets were printed, S seconds passed, or Ctrl-C; then ends the watch. Exit code as <see cref="CtlCommand"/>.
/// </summary>
internal static class TraceWatchClient
{
    /// <summary>How often the daemon is asked for what it traced.</summary>
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(200);

    public static int Run(string path, List<string> args, TimeSpan timeout, TextWriter stdout, TextWriter stderr, CancellationToken cancel = default)
    {
        double seconds = 0;
        int at = args.IndexOf("--seconds");
        if (at >= 0)
        {
            if (at + 1 >= args.Count || !double.TryParse(args[at + 1], NumberStyles.Float, CultureInfo.InvariantCulture, out seconds) || !(seconds > 0))
            {
                stderr.WriteLine("softswitch: trace/watch: --seconds wants a number above 0");
                return 2;
            }
            args.RemoveRange(at, 2);
        }
        using var interrupted = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            interrupted.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            var begin = Call(path, "trace/watch", args, timeout, stderr);
            if (begin is not { } b) return 2;
            if (!b.Ok) return Failed(path, b, stderr);
            stderr.Write(b.Text);   // "watch ID: ...", to stderr: stdout has only the traces
            string id = b.Text["watch ".Length..b.Text.IndexOf(':', StringComparison.Ordinal)];
            long deadline = seconds > 0 ? Environment.TickCount64 + (long)(seconds * 1000) : long.MaxValue;
            while (true)
            {
                var poll = Call(path, "trace/watch-poll", [id], timeout, stderr);
                if (poll is not { } p) return 2;
                if (!p.Ok) return Failed(path, p, stderr);
                int nl = p.Text.IndexOf('\n', StringComparison.Ordinal);
                stdout.Write(p.Text[(nl + 1)..]);
                stdout.Flush();
                if (p.Text.StartsWith("done", StringComparison.Ordinal)) return 0;
                if (Environment.TickCount64 >= deadline || interrupted.Token.WaitHandle.WaitOne(PollInterval) || Environment.TickCount64 >= deadline)
                {
                    Call(path, "trace/watch-stop", [id], timeout, stderr);
                    return 0;
                }
            }
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    private static ControlReply? Call(string path, string command, IReadOnlyList<string> args, TimeSpan timeout, TextWriter stderr)
    {
        try
        {
            return ControlClient.Call(path, command, args, timeout);
        }
        catch (ControlSocketException e)
        {
            stderr.WriteLine($"softswitch: {e.Message}");
            return null;
        }
    }

    private static int Failed(string path, ControlReply reply, TextWriter stderr)
    {
        stderr.Write($"softswitch: {path}: {reply.Text}");
        if (!reply.Text.EndsWith('\n')) stderr.WriteLine();
        return 1;
    }
}
