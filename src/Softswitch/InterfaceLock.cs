using System.Globalization;
using Softswitch.Control;

namespace Softswitch;

/// <summary>
/// Claims network interfaces for one daemon: a second `softswitch run` on an interface another one uses refuses to
/// start and names the first one's pid (two switches reading one NIC would each forward every frame).
/// </summary>
/// <remarks>
/// Per interface, RUNDIR/NAME.iface.lock is held open with FileShare.None (an advisory flock, released by the kernel
/// when the process dies, so a crashed daemon leaves no stale claim) and RUNDIR/NAME.iface.pid names the holder.
/// Interface names are per network namespace, so the claim is too: the lock file names carry the namespace's inode.
/// Not thread-safe; used once at start-up.
/// </remarks>
internal sealed class InterfaceLock : IDisposable
{
    private readonly List<(FileStream Lock, string PidFile)> _held = new();

    /// <summary>Claims <paramref name="names"/>; on conflict returns null and a one-line <paramref name="error"/>.</summary>
    public static InterfaceLock? TryClaim(IEnumerable<string> names, out string? error)
    {
        error = null;
        var claim = new InterfaceLock();
        string dir = ControlPaths.RunDir;
        try
        {
            Directory.CreateDirectory(dir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return claim; // no run directory: nothing to coordinate through (the control socket warns about it too)
        }
        string ns = NamespaceId();
        foreach (var name in names)
        {
            string stem = Path.Combine(dir, $"{name}.{ns}.iface");
            FileStream fs;
            try
            {
                fs = new FileStream(stem + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException)
            {
                string holder = "another softswitch";
                try
                {
                    if (int.TryParse(File.ReadAllText(stem + ".pid").Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
                        holder = $"softswitch pid {pid}";
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
                claim.Dispose();
                error = $"interface {name} is already used by {holder}";
                return null;
            }
            catch (UnauthorizedAccessException)
            {
                continue; // a run directory we may not write: no claim, as without one
            }
            File.WriteAllText(stem + ".pid", Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n");
            claim._held.Add((fs, stem + ".pid"));
        }
        return claim;
    }

    private static string NamespaceId()
    {
        try
        {
            var target = new FileInfo("/proc/self/ns/net").LinkTarget; // net:[4026531840]
            if (target is not null) return new string(target.Where(char.IsAsciiDigit).ToArray());
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return "0";
    }

    public void Dispose()
    {
        foreach (var (fs, pidFile) in _held)
        {
            try { File.Delete(pidFile); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            fs.Dispose();
        }
        _held.Clear();
    }
}
