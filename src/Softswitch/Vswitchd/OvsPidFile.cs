namespace Softswitch.Vswitchd;

/// <summary>
/// A pid file as Open vSwitch's daemons keep it: the pid and a newline, and a write lock (fcntl F_SETLK) on it held for
/// the life of the process. ovs-appctl and ovs-vsctl read the lock before they trust the pid (an unlocked file is a
/// stale one: "No such process"), so without it `ovs-appctl COMMAND` finds no daemon.
/// </summary>
internal sealed class OvsPidFile : IDisposable
{
    private readonly FileStream _file;

    public string Path { get; }

    private OvsPidFile(string path, FileStream file)
    {
        Path = path;
        _file = file;
    }

    /// <summary>Creates, locks and writes the file; null with the reason when another live process holds it or it cannot be written.</summary>
    public static OvsPidFile? TryCreate(string path, out string error)
    {
        error = "";
        FileStream? file = null;
        try
        {
            if (System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path)) is { } dir) Directory.CreateDirectory(dir);
            file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite);
            try
            {
                if (!OperatingSystem.IsMacOS()) file.Lock(0, long.MaxValue); // fcntl F_SETLK, as Open vSwitch locks it
            }
            catch (IOException)
            {
                string holder = File.ReadAllText(path).Trim();
                error = $"--pidfile {path}: locked by process {holder} (another daemon runs with this pid file)";
                file.Dispose();
                return null;
            }
            file.SetLength(0);
            var bytes = System.Text.Encoding.ASCII.GetBytes(Environment.ProcessId + "\n");
            file.Write(bytes);
            file.Flush(flushToDisk: false);
            return new OvsPidFile(path, file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            file?.Dispose();
            error = $"--pidfile {path}: {e.Message}";
            return null;
        }
    }

    /// <summary>Removes the file, then lets go of the lock.</summary>
    public void Dispose()
    {
        try
        {
            File.Delete(Path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        _file.Dispose();
    }
}
