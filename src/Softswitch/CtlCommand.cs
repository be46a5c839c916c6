using Softswitch.Control;

namespace Softswitch;

/// <summary>
/// `softswitch ctl [--target T] [COMMAND [ARG...]]`: sends one command (default <c>help</c>) to a running daemon's control socket and prints
/// the reply (like ovs-appctl). Exit code 0 when the command succeeded, 1 when the daemon answered with an error,
/// 2 when the daemon could not be reached or the request is malformed.
/// </summary>
internal static class CtlCommand
{
    public static int Run(string? target, double timeoutSeconds, IReadOnlyList<string> words, TextWriter stdout, TextWriter stderr)
    {
        if (words.Count == 0) words = ["help"];
        if (!ControlPaths.TryResolve(target, out string path, out string error))
        {
            stderr.WriteLine($"softswitch: {error}");
            return 2;
        }
        if (!(timeoutSeconds > 0)) timeoutSeconds = 30;
        ControlReply reply;
        try
        {
            reply = ControlClient.Call(path, words[0], words.Skip(1).ToList(), TimeSpan.FromSeconds(timeoutSeconds));
        }
        catch (ControlSocketException e)
        {
            stderr.WriteLine($"softswitch: {e.Message}");
            return 2;
        }
        if (reply.Ok)
        {
            stdout.Write(reply.Text);
            return 0;
        }
        stderr.Write($"softswitch: {path}: {reply.Text}");
        if (!reply.Text.EndsWith('\n')) stderr.WriteLine();
        return 1;
    }
}
