namespace Softswitch.Vswitchd;

/// <summary>
/// Softswitch run by the name <c>ovs-vswitchd</c> (a link of that name to the program: install.sh and the package put
/// one in PREFIX/lib/softswitch/sbin): as busybox, the name selects the command, here `softswitch vswitchd`, and the
/// command line is ovs-vswitchd's. So Open vSwitch's ovs-ctl, given <c>OVS_SBINDIR=PREFIX/lib/softswitch/sbin</c>,
/// starts this daemon as its own ovs-vswitchd, and finds it running: ovs-lib's <c>daemon_is_running</c> compares
/// /proc/PID/comm with <c>ovs-vswitchd</c>, and the kernel names a process after the file it was run by (the link's
/// name, not its target's).
/// </summary>
/// <remarks>
/// The name is argv[0] as the process was started (/proc/self/cmdline's first word): under the framework-dependent
/// host, <see cref="Environment.GetCommandLineArgs"/> gives the assembly's path there, and
/// <see cref="Environment.ProcessPath"/> is the link's target. ovs-ctl runs it by name through PATH (OVS_SBINDIR
/// first), so the link's own path (for --detach, which runs the program again) is found on PATH.
/// </remarks>
internal static class OvsVswitchdName
{
    public const string Name = "ovs-vswitchd";

    private static readonly string? s_argv0 = ReadArgv0();

    /// <summary>Whether this process was run by the name ovs-vswitchd.</summary>
    public static bool Active => s_argv0 is not null && Path.GetFileName(s_argv0) == Name;

    /// <summary>
    /// The command line as `softswitch` takes it: run as ovs-vswitchd, `vswitchd` before the arguments (a program run
    /// again by --detach already has it), except for --help, --version and -V alone, which are the program's own.
    /// </summary>
    public static string[] Arguments(string[] args)
    {
        if (!Active) return args;
        if (args is ["--version" or "-V"]) return ["--version"];
        if (args is ["--help" or "-h"]) return ["vswitchd", "--help"];
        return args is ["vswitchd", ..] ? args : ["vswitchd", .. args];
    }

    /// <summary>The path to run this program again by the same name: argv[0] as given when it holds a '/', else the
    /// first file of that name on PATH (as execvp found it); null when there is none.</summary>
    public static string? ProgramPath()
    {
        if (s_argv0 is null) return null;
        if (s_argv0.Contains('/')) return Path.GetFullPath(s_argv0);
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, s_argv0);
            if (File.Exists(candidate)) return Path.GetFullPath(candidate);
        }
        return null;
    }

    private static string? ReadArgv0()
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            var bytes = File.ReadAllBytes("/proc/self/cmdline");
            int end = Array.IndexOf(bytes, (byte)0);
            return System.Text.Encoding.UTF8.GetString(bytes, 0, end < 0 ? bytes.Length : end);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
