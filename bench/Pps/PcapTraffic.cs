using System.Globalization;
using System.Runtime.InteropServices;
using Softswitch.Datapath;
using Softswitch.Datapath.Flow;
using Softswitch.Flows;
using Softswitch.Ports.PcapFile;

namespace Softswitch.Bench.Pps;

/// <summary>
/// The pps harness's inputs from files, as another switch would take them: the frames of a capture (replayed on
/// port 1 from memory, cycling) and the flows of an <c>ovs-ofctl add-flows</c> file, read by the same parser the
/// switch's host uses for ovs-ofctl syntax.
/// </summary>
internal static class PcapTraffic
{
    private const uint LinkTypeEthernet = 1;

    public static Traffic Load(PpsOptions o)
    {
        var (header, records) = PcapReader.ReadAll(o.Pcap!);
        if (header.LinkType != LinkTypeEthernet) throw new InvalidDataException($"{o.Pcap}: link type {header.LinkType}, not Ethernet");
        var frames = new List<byte[]>(records.Count);
        foreach (var r in records)
            if (r.Data.Length >= 14) frames.Add(r.Data);
        if (frames.Count == 0) throw new InvalidDataException($"{o.Pcap}: no Ethernet frames");
        var mods = OfctlFlowParser.ParseFile(o.FlowFile!);
        var masks = new HashSet<FlowKey>();
        foreach (var m in mods)
            if (!m.Match.IsExact) masks.Add(m.Match.Mask);
        return new Traffic { Frames = [.. frames], Mods = [.. mods], MaskCount = masks.Count };
    }

    /// <summary>Pins the calling thread to one CPU (Linux sched_setaffinity); throws when the kernel refuses.</summary>
    public static void PinCurrentThread(int cpu)
    {
        if (!OperatingSystem.IsLinux() || cpu is < 0 or >= 64) throw new ArgumentException($"--pin-cpu {cpu}: needs Linux and a CPU below 64");
        ulong mask = 1UL << cpu;
        if (SchedSetAffinity(0, sizeof(ulong), ref mask) != 0)
            throw new ArgumentException($"--pin-cpu {cpu}: sched_setaffinity failed (errno {Marshal.GetLastPInvokeError()})");
    }

    /// <summary>
    /// Keeps the calling thread, and every thread it makes from now on (a thread inherits its creator's CPU mask), off
    /// <paramref name="cpu"/>, which a forwarding thread is to own; nothing is done when no other CPU is allowed.
    /// </summary>
    public static void KeepCurrentThreadOff(int cpu)
    {
        if (!OperatingSystem.IsLinux() || cpu is < 0 or >= 64) throw new ArgumentException($"--pin-cpu {cpu}: needs Linux and a CPU below 64");
        ulong mask = 0;
        if (SchedGetAffinity(0, sizeof(ulong), ref mask) < 0)
            throw new ArgumentException($"--pin-cpu {cpu}: sched_getaffinity failed (errno {Marshal.GetLastPInvokeError()})");
        ulong rest = mask & ~(1UL << cpu);
        if (rest == 0) return;
        if (SchedSetAffinity(0, sizeof(ulong), ref rest) != 0)
            throw new ArgumentException($"--pin-cpu {cpu}: sched_setaffinity failed (errno {Marshal.GetLastPInvokeError()})");
    }

    [DllImport("libc", EntryPoint = "sched_getaffinity", SetLastError = true)]
    private static extern int SchedGetAffinity(int pid, nint size, ref ulong mask);

    [DllImport("libc", EntryPoint = "sched_setaffinity", SetLastError = true)]
    private static extern int SchedSetAffinity(int pid, nint size, ref ulong mask);

    /// <summary>Teaches the learning table the <c>MAC PORT</c> lines of <paramref name="path"/> (VLAN 0).</summary>
    public static void Learn(SwitchDatapath dp, string path)
    {
        long now = dp.Clock.NowNanos;
        int lineNo = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNo++;
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 0 || parts[0].StartsWith('#')) continue;
            if (parts.Length != 2 || !MacAddress.TryParse(parts[0], out var mac) || !ushort.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var port))
                throw new FormatException($"{path}:{lineNo}: expected MAC PORT");
            dp.MacTable.Learn(mac, 0, port, now);
        }
    }
}
