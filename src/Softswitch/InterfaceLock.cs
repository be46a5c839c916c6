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
/// The holder deletes both files when it lets go (the lock file while still holding it), so the run directory does not
/// fill with one lock file per interface ever used. A claimant that opened the lock file just before its holder
/// deleted it would hold a lock on a file no one else can see: each claim checks, once locked, that its open file is
/// still the one at the path (its /proc/self/fd link is not marked deleted), and opens again otherwise. A daemon that
/// dies leaves its files; the next claim of the interface takes them over.
/// Not thread-safe; used once at start-up.
/// </remarks>
internal sealed class InterfaceLock : IDisposable
{
    private readonly List<(FileStream Lock, string Stem)> _held = new();

    /// <summary>Claims <paramref name="names"/> in <paramref name="runDir"/> (default: the run directory); on conflict
    /// returns null and a one-line <paramref name="error"/>.</summary>
    public static InterfaceLock? TryClaim(IEnumerable<string> names, out string? error, string? runDir = null)
    {
        error = null;
        var claim = new InterfaceLock();
        string dir = runDir ?? ControlPaths.RunDir;
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
            FileStream? fs = null;
            try
            {
                for (int attempt = 0; fs is null; attempt++)
                {
                    fs = new FileStream(stem + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
                    if (attempt < 10 && IsUnlinked(fs))
                    {
                        fs.Dispose(); // its holder deleted it as we opened it: lock the file that is there now
                        fs = null;
                    }
                }
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
            claim._held.Add((fs, stem));
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

    /// <summary>Whether the file <paramref name="fs"/> has open is no longer at its path (deleted after we opened it).</summary>
    private static bool IsUnlinked(FileStream fs)
    {
        try
        {
            string? target = new FileInfo($"/proc/self/fd/{fs.SafeFileHandle.DangerousGetHandle()}").LinkTarget;
            return target is not null && target.EndsWith(" (deleted)", StringComparison.Ordinal);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        foreach (var (fs, stem) in _held)
        {
            // The pid file first, then the lock file while it is still locked (see the remarks), then the lock.
            try { File.Delete(stem + ".pid"); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            try { File.Delete(stem + ".lock"); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            fs.Dispose();
        }
        _held.Clear();
    }
}
