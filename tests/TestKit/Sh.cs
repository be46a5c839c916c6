using System.Diagnostics;

namespace Softswitch.TestKit;

/// <summary>Runs external commands (ip, ethtool, python3) for the namespace tests.</summary>
public static class Sh
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public bool Ok => ExitCode == 0;
    }

    public static Result Run(string file, IEnumerable<string> args, int timeoutMs = 10_000, string? stdin = null)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        var so = p.StandardOutput.ReadToEndAsync();
        var se = p.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            p.StandardInput.Write(stdin);
            p.StandardInput.Close();
        }
        if (!p.WaitForExit(timeoutMs))
        {
            try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in {timeoutMs} ms");
        }
        p.WaitForExit();
        return new Result(p.ExitCode, so.Result, se.Result);
    }

    public static Result Run(string file, params string[] args) => Run(file, (IEnumerable<string>)args);

    /// <summary>Runs and throws with the command's stderr when it fails.</summary>
    public static string Check(string file, params string[] args)
    {
        var r = Run(file, args);
        if (!r.Ok) throw new InvalidOperationException($"`{file} {string.Join(' ', args)}` failed ({r.ExitCode}): {r.Stderr.Trim()}");
        return r.Stdout;
    }

    public static bool Exists(string file)
    {
        if (file.Contains('/')) return File.Exists(file);
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':'))
            if (dir.Length > 0 && File.Exists(Path.Combine(dir, file))) return true;
        foreach (var dir in new[] { "/usr/sbin", "/sbin", "/usr/bin", "/bin" })
            if (File.Exists(Path.Combine(dir, file))) return true;
        return false;
    }
}
