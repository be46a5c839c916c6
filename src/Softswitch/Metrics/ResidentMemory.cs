namespace Softswitch.Metrics;

/// <summary>
/// The process's resident memory (RSS) read from <c>/proc/self/statm</c> (its second field, in pages) into a stack
/// buffer: a file handle and no other allocation, where <see cref="Environment.WorkingSet"/> builds a
/// <c>System.Diagnostics.Process</c> through reflection on Linux. Falls back to <see cref="Environment.WorkingSet"/>
/// where the file cannot be read. Stateless; safe from any thread.
/// </summary>
internal static class ResidentMemory
{
    public static long Bytes()
    {
        if (OperatingSystem.IsLinux())
        {
            try
            {
                using var handle = File.OpenHandle("/proc/self/statm");
                Span<byte> buf = stackalloc byte[128];
                int n = RandomAccess.Read(handle, buf, 0);
                if (TryParseStatmResident(buf[..n], out long pages)) return pages * Environment.SystemPageSize;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        return Environment.WorkingSet;
    }

    /// <summary>The second space-separated number of a statm line (resident pages); false when there is none.</summary>
    internal static bool TryParseStatmResident(ReadOnlySpan<byte> statm, out long pages)
    {
        pages = 0;
        int sp = statm.IndexOf((byte)' ');
        if (sp < 0) return false;
        var rest = statm[(sp + 1)..];
        int i = 0;
        while (i < rest.Length && rest[i] >= (byte)'0' && rest[i] <= (byte)'9')
        {
            pages = pages * 10 + (rest[i] - '0');
            i++;
        }
        return i > 0;
    }
}
