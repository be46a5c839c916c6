using System.Globalization;
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
