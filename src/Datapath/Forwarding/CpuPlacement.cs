using System.Globalization;
using System.Runtime.InteropServices;

namespace Softswitch.Datapath.Forwarding;

/// <summary>
/// Where threads run: CPU lists as <c>taskset -c</c> writes them (<c>1</c>, <c>2-3</c>, <c>1,3,5-7</c>), the CPUs this
/// process may use, and the Linux calls that place a thread (<c>sched_setaffinity</c>) — what the daemon's
/// <c>--forwarding-cpus</c> is made of: forwarding threads on CPUs of their own, every other thread kept off them, as
/// Open vSwitch's <c>pmd-cpu-mask</c> keeps its non-PMD threads off the PMD cores.
/// </summary>
/// <remarks>
/// <para><b>Inheritance</b>: a new thread starts with its creator's CPU set. <see cref="KeepEveryThreadOff"/> moves every
/// thread the process has (<c>/proc/self/task</c>: the runtime's own threads too, the collector's and the finalizer's
/// among them), so threads made later by any of them stay off as well; a forwarding thread then places itself with
/// <see cref="PinCurrentThread"/>. A thread made by a forwarding thread would start on its CPU; forwarding threads make
/// none.</para>
/// <para>CPUs numbered up to <see cref="MaxCpus"/> − 1 (a 1024-bit <c>cpu_set_t</c>, glibc's size). Linux only; elsewhere
/// <see cref="IsSupported"/> is false and nothing is placed.</para>
/// </remarks>
public static partial class CpuPlacement
{
    /// <summary>CPUs a set can name: glibc's <c>cpu_set_t</c> holds 1024.</summary>
    public const int MaxCpus = 1024;
    private const int Words = MaxCpus / 64;

    public static bool IsSupported => OperatingSystem.IsLinux();

    /// <summary>Parses a CPU list (<c>1</c>, <c>2-3</c>, <c>1,3,5-7</c>): distinct CPUs in the order written.</summary>
    public static bool TryParseList(string text, out int[] cpus, out string error)
    {
        cpus = [];
        error = "";
        var list = new List<int>();
        foreach (var raw in text.Split(','))
        {
            string item = raw.Trim();
            int dash = item.IndexOf('-');
            string lo = dash < 0 ? item : item[..dash], hi = dash < 0 ? item : item[(dash + 1)..];
            if (!int.TryParse(lo, NumberStyles.None, CultureInfo.InvariantCulture, out int first)
                || !int.TryParse(hi, NumberStyles.None, CultureInfo.InvariantCulture, out int last))
            {
                error = $"'{text}': want CPU numbers and ranges, comma-separated (1 or 2-3 or 1,3,5-7)";
                return false;
            }
            if (last < first)
            {
                error = $"'{text}': the range {item} runs backwards";
                return false;
            }
            if (last >= MaxCpus)
            {
                error = $"'{text}': CPU {last} is beyond {MaxCpus - 1}";
                return false;
            }
            for (int c = first; c <= last; c++)
                if (!list.Contains(c)) list.Add(c);
        }
        cpus = [.. list];
        return true;
    }

    /// <summary>Writes a CPU set as a list, ranges joined (<c>0,2-3</c>).</summary>
    public static string Format(IEnumerable<int> cpus)
    {
        var sorted = cpus.Distinct().Order().ToArray();
        var parts = new List<string>();
        for (int i = 0; i < sorted.Length;)
        {
            int j = i;
            while (j + 1 < sorted.Length && sorted[j + 1] == sorted[j] + 1) j++;
            parts.Add(j == i ? sorted[i].ToString(CultureInfo.InvariantCulture) : $"{sorted[i]}-{sorted[j]}");
            i = j + 1;
        }
        return string.Join(',', parts);
    }

    /// <summary>The CPUs the calling thread may run on (at start, the process's: what taskset or a cgroup allow).</summary>
    public static int[] Allowed()
    {
        if (!IsSupported) return [];
        Span<ulong> mask = stackalloc ulong[Words];
        if (sched_getaffinity(0, Words * sizeof(ulong), ref MemoryMarshal.GetReference(mask)) < 0)
            throw new IOException($"sched_getaffinity failed (errno {Marshal.GetLastPInvokeError()})");
        return ToList(mask);
    }

    /// <summary>Places the calling thread on <paramref name="cpu"/> alone; false (with the reason) when the kernel refuses.</summary>
    public static bool PinCurrentThread(int cpu, out string error)
    {
        Span<ulong> mask = stackalloc ulong[Words];
        mask.Clear();
        mask[cpu / 64] = 1UL << (cpu % 64);
        return Set(0, mask, out error);
    }

    /// <summary>
    /// Moves every thread of the process off <paramref name="cpus"/>, onto the rest of what it may use; returns that
    /// rest (empty, and nothing moved, when <paramref name="cpus"/> is all of it). A thread that ends meanwhile is skipped.
    /// </summary>
    public static int[] KeepEveryThreadOff(IReadOnlyCollection<int> cpus)
    {
        var rest = Allowed().Except(cpus).ToArray();
        if (rest.Length == 0) return rest;
        Span<ulong> mask = stackalloc ulong[Words];
        mask.Clear();
        foreach (int c in rest) mask[c / 64] |= 1UL << (c % 64);
        // Twice: a thread made during the first pass by a thread not yet moved started with the old set.
        for (int pass = 0; pass < 2; pass++)
        {
            foreach (var dir in Directory.EnumerateDirectories("/proc/self/task"))
            {
                if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int tid))
                    Set(tid, mask, out _);
            }
        }
        return rest;
    }

    private static bool Set(int tid, ReadOnlySpan<ulong> mask, out string error)
    {
        error = "";
        if (!IsSupported)
        {
            error = "CPU placement needs Linux";
            return false;
        }
        if (sched_setaffinity(tid, Words * sizeof(ulong), in MemoryMarshal.GetReference(mask)) == 0) return true;
        error = $"sched_setaffinity failed (errno {Marshal.GetLastPInvokeError()})";
        return false;
    }

    private static int[] ToList(ReadOnlySpan<ulong> mask)
    {
        var list = new List<int>();
        for (int w = 0; w < mask.Length; w++)
        {
            for (int b = 0; b < 64; b++)
                if ((mask[w] & (1UL << b)) != 0) list.Add(w * 64 + b);
        }
        return [.. list];
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int sched_getaffinity(int pid, nint size, ref ulong mask);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int sched_setaffinity(int pid, nint size, in ulong mask);
}
