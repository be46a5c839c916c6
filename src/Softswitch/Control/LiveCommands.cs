using System.Globalization;
using System.Text;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Ports;
using Softswitch.Flows;
using Softswitch.Ofproto;
using Softswitch.Ports.PcapFile;

namespace Softswitch.Control;

/// <summary>
/// The run-time observation commands: <c>pcap/start PORT|all [DIR]</c>, <c>pcap/stop [PORT|all]</c>, <c>pcap/show</c>
/// (a pcapng file per port, see <see cref="PortCapture"/>), and <c>trace/watch</c>, <c>trace/watch-poll</c>,
/// <c>trace/watch-stop</c> (live packets traced as <c>ofproto/trace</c> traces them, see <see cref="TraceWatch"/>).
/// </summary>
/// <remarks>
/// The control protocol is one request, one reply: a watch is begun by <c>trace/watch</c>, which answers with its
/// number, and its client then polls <c>trace/watch-poll ID</c> for the packets traced since the last poll
/// (<c>softswitch ctl trace/watch</c> does all of it and prints as they come). A watch nobody polls for
/// <see cref="LiveTaps.WatchIdleTimeout"/> ends by itself. Management-plane code: it allocates freely.
/// </remarks>
internal static class LiveCommands
{
    public const string WatchUsage = "[FILTER] [--count N] [--rate K]";
    public const int DefaultRate = 10;
    public const int MaxRate = 1000;

    /// <param name="defaultDir">Where pcap/start writes when no DIR is given (--pcap-dir), or null.</param>
    public static void Register(ControlCommands commands, LiveTaps taps, OfFlowTables tables, string? defaultDir)
    {
        commands.Register("pcap/start", "PORT|all [DIR]", $"capture a port (or all) into DIR/NAME.pcapng at run time{(defaultDir is null ? "" : $" (DIR default {defaultDir})")}", 1, 2,
            args => PcapStart(taps, args[0], args.Length > 1 ? args[1] : defaultDir));
        commands.Register("pcap/stop", "[PORT|all]", "stop capturing a port (default all): close its file, say how many packets and drops", 0, 1,
            args => PcapStop(taps, args.Length > 0 ? args[0] : "all"));
        commands.Register("pcap/show", "", "the captures running: port, file, packets, drops", 0, 0, _ => PcapShow(taps));
        commands.Register("trace/watch", WatchUsage, "trace live packets matching FILTER (softswitch ctl polls and prints them)", 0, ControlProtocol.MaxArgs,
            args => WatchBegin(taps, args));
        commands.Register("trace/watch-poll", "ID", "the packets a watch traced since the last poll; first line active or done", 1, 1,
            args => WatchPoll(taps, tables, args[0]));
        commands.Register("trace/watch-stop", "ID", "end a watch", 1, 1, args => WatchStop(taps, args[0]));
    }

    private static List<PortSlot>? Resolve(LiveTaps taps, string which, out string error)
    {
        error = "";
        var ports = taps.Datapath.Ports;
        if (which == "all") return [.. ports.WithLocal];
        PortSlot? slot = ushort.TryParse(which, NumberStyles.None, CultureInfo.InvariantCulture, out ushort no) ? ports.Get(no)
            : which.Equals("LOCAL", StringComparison.OrdinalIgnoreCase) ? ports.Get(PortNumber.Local)
            : ports.WithLocal.FirstOrDefault(p => p.Port.Info.Name == which);
        if (slot is null)
        {
            error = $"no port '{which}' (dp/show lists the ports)";
            return null;
        }
        return [slot];
    }

    private static string Name(PortSlot s) => $"port {FlowFormat.Port(s.No)} ({s.Port.Info.Name})";

    private static ControlReply PcapStart(LiveTaps taps, string which, string? dir)
    {
        if (dir is null) return ControlReply.Error("pcap/start: give a directory (pcap/start PORT|all DIR), or run with --pcap-dir");
        if (Resolve(taps, which, out var error) is not { } slots) return ControlReply.Error($"pcap/start: {error}");
        try
        {
            Directory.CreateDirectory(dir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return ControlReply.Error($"pcap/start: cannot create directory '{dir}': {e.Message}");
        }
        var sb = new StringBuilder();
        var running = taps.Captures().Select(c => c.PortNo).ToHashSet();
        int started = 0;
        foreach (var slot in slots)
        {
            if (which == "all" && running.Contains(slot.No)) continue;
            string path = Path.GetFullPath(Path.Combine(dir, CapturingPort.SafeName(slot.Port.Info.Name) + ".pcapng"));
            try
            {
                taps.Start(slot, path);
                sb.Append(Name(slot)).Append(": capturing to ").Append(path).Append('\n');
                started++;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException)
            {
                if (slots.Count == 1) return ControlReply.Error($"pcap/start: {e.Message}");
                sb.Append(Name(slot)).Append(": not captured: ").Append(e.Message).Append('\n');
            }
        }
        if (started == 0 && slots.Count > 1 && sb.Length == 0) sb.Append("every port is already captured (pcap/show)\n");
        return ControlReply.Success(sb.ToString());
    }

    private static ControlReply PcapStop(LiveTaps taps, string which)
    {
        List<ushort> ports;
        if (which == "all") ports = taps.Captures().Select(c => c.PortNo).ToList();
        else if (Resolve(taps, which, out var error) is { } slots) ports = [slots[0].No];
        else return ControlReply.Error($"pcap/stop: {error}");
        var sb = new StringBuilder();
        foreach (ushort no in ports)
        {
            if (taps.Stop(no) is not { } c)
                return ControlReply.Error($"pcap/stop: port {FlowFormat.Port(no)} is not being captured (pcap/show lists the captures)");
            sb.Append(CultureInfo.InvariantCulture, $"port {FlowFormat.Port(c.PortNo)} ({c.PortName}): {c.Packets} packets, {c.Dropped} dropped, {c.BytesWritten} bytes in {c.Path}\n");
        }
        if (ports.Count == 0) sb.Append("no capture was running\n");
        return ControlReply.Success(sb.ToString());
    }

    private static ControlReply PcapShow(LiveTaps taps)
    {
        var sb = new StringBuilder();
        foreach (var c in taps.Captures())
            sb.Append(CultureInfo.InvariantCulture, $"port {FlowFormat.Port(c.PortNo)} ({c.PortName}): {c.Packets} packets, {c.Dropped} dropped, {c.BytesWritten} bytes written to {c.Path}\n");
        if (sb.Length == 0) sb.Append("no capture is running\n");
        return ControlReply.Success(sb.ToString());
    }

    private static ControlReply WatchBegin(LiveTaps taps, string[] args)
    {
        long count = 0;
        int rate = DefaultRate;
        var words = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] is "--count" or "--rate")
            {
                if (i + 1 >= args.Length || !long.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out long v) || v < 1)
                    return ControlReply.Error($"trace/watch: {args[i]} wants a whole number of at least 1");
                if (args[i] == "--count") count = v;
                else if (v > MaxRate) return ControlReply.Error($"trace/watch: --rate is at most {MaxRate} packets a second");
                else rate = (int)v;
                i++;
                continue;
            }
            words.Add(args[i]);
        }
        string filter = string.Join(',', words);
        FlowMatch match = FlowMatch.All;
        if (filter.Length > 0)
        {
            if (filter.Contains("actions=", StringComparison.OrdinalIgnoreCase))
                return ControlReply.Error("trace/watch: a filter has no actions= (give match fields only)");
            if (!OfctlFlowParser.TryParse(filter, FlowModCommand.Delete, out var mod, out var perror))
                return ControlReply.Error($"trace/watch: bad filter '{filter}': {perror}");
            match = mod.Match;
        }
        if (!taps.TryBeginWatch(filter, match, rate, count, out var watch, out var error)) return ControlReply.Error($"trace/watch: {error}");
        return ControlReply.Success(string.Create(CultureInfo.InvariantCulture,
            $"watch {watch.Id}: {(filter.Length == 0 ? "every packet" : filter)}, at most {rate} a second{(count > 0 ? $", {count} in all" : "")}\n"));
    }

    private static bool TryId(string word, out int id) => int.TryParse(word, NumberStyles.None, CultureInfo.InvariantCulture, out id);

    private static ControlReply WatchPoll(LiveTaps taps, OfFlowTables tables, string word)
    {
        if (!TryId(word, out int id) || taps.Watch(id) is not { } watch) return ControlReply.Error($"trace/watch-poll: no watch {word} (it ended, or nobody polled it for {LiveTaps.WatchIdleTimeout.TotalSeconds:0} s)");
        var samples = watch.Take();
        bool done = watch.Done;
        if (done) taps.EndWatch(id);
        var sb = new StringBuilder(done ? "done\n" : "active\n");
        var dp = taps.Datapath;
        foreach (var s in samples)
        {
            var slot = dp.Ports.Get(s.Key.InPort);
            string at = DateTime.UnixEpoch.AddTicks(s.UnixMicros * 10).ToString("yyyy-MM-ddTHH:mm:ss.ffffffZ", CultureInfo.InvariantCulture);
            sb.Append(CultureInfo.InvariantCulture, $"packet {s.Number} at {at} on port {FlowFormat.Port(s.Key.InPort)}{(slot is null ? "" : $" ({slot.Port.Info.Name})")}, {s.Length} bytes\n");
            var trace = OfprotoTrace.Report(dp, tables, s.Key, s.Frame, s.Frame is null ? $"Note: the frame is over {TraceWatch.MaxFrameSize} bytes: traced by its flow key only" : null, []);
            sb.Append(trace.Text);
            sb.Append('\n');
        }
        return ControlReply.Success(sb.ToString());
    }

    private static ControlReply WatchStop(LiveTaps taps, string word)
    {
        if (!TryId(word, out int id) || !taps.EndWatch(id)) return ControlReply.Error($"trace/watch-stop: no watch {word}");
        return ControlReply.Success($"watch {id} ended\n");
    }
}
