using System.Globalization;
using System.Text;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.Ports.PcapFile;

namespace Softswitch.Bench.Rows;

/// <summary>
/// `bench rows --row NAME --dir DIR`: writes one side-by-side benchmark row's inputs, the same for every switch:
/// <c>NAME.pcap</c> (the frames the source port replays, cycling), <c>NAME.flows</c> (an <c>ovs-ofctl add-flows</c>
/// file) and, for the NORMAL row, <c>NAME.fdb</c> (one <c>MAC PORT</c> line per address the learning table knows
/// before traffic starts).
/// </summary>
/// <remarks>
/// Every row's frames arrive on port 1 and leave on ports 2..<c>--ports</c> (the sinks). Frames are 64-byte UDP over
/// IPv4, untagged, shuffled so consecutive frames hit different flows. Exact flows pin every OpenFlow 1.0 field
/// (ovs-ofctl puts <c>dl_vlan=0xffff</c> on the wire with dl_vlan_pcp 0 matched, so they are exact for both
/// switches). A row with more flows than <c>--max-frames</c> replays a random sample of one frame per flow (a
/// DPDK pcap port keeps every frame of its file in packet buffers).
/// </remarks>
public static class RowFiles
{
    public static readonly string[] Names = ["1-flow", "exact-1k", "exact-100k", "exact-1m", "wild-1k-16", "normal-1k", "rewrite-1k"];
    private static readonly MacAddress SrcMac = new(0x0200_0000_1000UL), DstMac = new(0x0200_0000_2000UL);

    public static int Run(string[] args)
    {
        string? row = null, dir = null;
        int ports = 4, maxFrames = 131_072, seed = 1;
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--row": row = Next(); break;
                case "--dir": dir = Next(); break;
                case "--ports": ports = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--max-frames": maxFrames = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--seed": seed = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                default:
                    Console.Error.WriteLine($"rows: unknown option {args[i]} (--row {string.Join('|', Names)} --dir DIR [--ports N] [--max-frames N] [--seed N])");
                    return 2;
            }
        }
        if (row is null || dir is null || !Names.Contains(row) || ports < 2 || maxFrames < 1)
        {
            Console.Error.WriteLine($"rows: need --row {string.Join('|', Names)} and --dir DIR (--ports >= 2)");
            return 2;
        }
        Directory.CreateDirectory(dir);
        var r = Build(row, ports, maxFrames, seed);
        Write(Path.Combine(dir, row), r);
        Console.WriteLine($"{row}: {r.Flows.Count:N0} flows, {r.Frames.Length:N0} frames{(r.Fdb.Count > 0 ? $", {r.Fdb.Count:N0} learned MACs" : "")}");
        return 0;
    }

    public sealed record Row(List<string> Flows, byte[][] Frames, List<(MacAddress Mac, ushort Port)> Fdb);

    /// <summary>The inputs of one row (deterministic for a seed).</summary>
    public static Row Build(string row, int ports, int maxFrames, int seed)
    {
        var rng = new Random(seed);
        var flows = new List<string>();
        var frames = new List<byte[]>();
        var fdb = new List<(MacAddress, ushort)>();
        int sinks = ports - 1;
        ushort Sink(int i) => (ushort)(2 + i % sinks);
        switch (row)
        {
            case "1-flow":
                flows.Add("priority=100,in_port=1,actions=output:2");
                for (int i = 0; i < 1024; i++) frames.Add(Udp(SrcMac, DstMac, 0x0A00_0000u | (uint)i, 0x0B00_0001u, (ushort)(1024 + i), 5001));
                break;
            case "exact-1k":
            case "exact-100k":
            case "exact-1m":
            case "rewrite-1k":
                {
                    int n = row switch { "exact-1k" or "rewrite-1k" => 1000, "exact-100k" => 100_000, _ => 1_000_000 };
                    bool rewrite = row == "rewrite-1k";
                    var sample = n <= maxFrames ? null : SampleIndexes(n, maxFrames, rng);
                    for (int i = 0; i < n; i++)
                    {
                        uint src = 0x0A00_0000u | (uint)(i & 0xFFFFFF);
                        uint dst = 0x0B00_0000u | (uint)(rng.Next() & 0xFFFF);
                        ushort sport = (ushort)(1024 + (i & 0x7FFF));
                        string actions = rewrite
                            ? $"mod_dl_dst:02:00:00:00:30:{i % 256:x2},mod_nw_dst:12.0.{(i >> 8) & 255}.{i & 255},output:{Sink(i)}"
                            : $"output:{Sink(i)}";
                        flows.Add($"udp,in_port=1,dl_vlan=0xffff,dl_src={SrcMac},dl_dst={DstMac},nw_src={Ipv4.Format(src)},nw_dst={Ipv4.Format(dst)},nw_tos=0,tp_src={sport},tp_dst=5001,actions={actions}");
                        if (sample is null || sample.Contains(i)) frames.Add(Udp(SrcMac, DstMac, src, dst, sport, 5001));
                    }
                    break;
                }
            case "wild-1k-16":
                {
                    // 16 masks: which of in_port, nw_proto, tp_dst are matched, times nw_dst prefix lengths 32/24/16/8.
                    int[] prefixes = [32, 24, 16, 8];
                    for (int i = 0; i < 1000; i++)
                    {
                        int m = i % 16, shape = m % 4, prefix = prefixes[m / 4];
                        uint src = 0x0C00_0000u | (uint)rng.Next(1 << 20);
                        uint dst = 0x0D00_0000u | (uint)(i * 2654435761u >> 8);
                        ushort sport = (ushort)(2000 + i), dport = (ushort)(5001 + i % 7);
                        uint net = dst & (~0u << (32 - prefix));
                        string match = shape switch
                        {
                            0 => $"ip,in_port=1,nw_dst={Ipv4.Format(net)}/{prefix}",
                            1 => $"udp,in_port=1,nw_dst={Ipv4.Format(net)}/{prefix}",
                            2 => $"udp,in_port=1,nw_dst={Ipv4.Format(net)}/{prefix},tp_dst={dport}",
                            _ => $"ip,nw_dst={Ipv4.Format(net)}/{prefix}",
                        };
                        flows.Add($"priority={100 + rng.Next(30000)},{match},actions=output:{Sink(i)}");
                        frames.Add(Udp(SrcMac, DstMac, src, dst, sport, dport));
                    }
                    break;
                }
            case "normal-1k":
                {
                    // 1,000 hosts behind port 1 talk to 1,000 hosts known behind the sinks.
                    flows.Add("priority=0,actions=NORMAL");
                    for (int i = 0; i < 1000; i++)
                    {
                        var src = new MacAddress(0x0200_0001_0000UL | (uint)i);
                        var dst = new MacAddress(0x0200_0002_0000UL | (uint)i);
                        fdb.Add((dst, Sink(i)));
                        frames.Add(Udp(src, dst, 0x0A01_0000u | (uint)i, 0x0B01_0000u | (uint)i, (ushort)(1024 + i), 5001));
                    }
                    break;
                }
            default:
                throw new ArgumentException($"unknown row {row}");
        }
        var arr = frames.ToArray();
        rng.Shuffle(arr);
        return new Row(flows, arr, fdb);
    }

    /// <summary>Writes PREFIX.pcap, PREFIX.flows and (when the row has one) PREFIX.fdb.</summary>
    public static void Write(string prefix, Row r)
    {
        using (var w = new PcapWriter(prefix + ".pcap", bufferSize: 1 << 20))
        {
            foreach (var f in r.Frames) w.Write(f, 0);
        }
        var sb = new StringBuilder(r.Flows.Count * 160);
        foreach (var f in r.Flows) sb.Append(f).Append('\n');
        File.WriteAllText(prefix + ".flows", sb.ToString());
        if (r.Fdb.Count > 0)
        {
            sb.Clear();
            foreach (var (mac, port) in r.Fdb) sb.Append(mac).Append(' ').Append(port.ToString(CultureInfo.InvariantCulture)).Append('\n');
            File.WriteAllText(prefix + ".fdb", sb.ToString());
        }
        else
        {
            File.Delete(prefix + ".fdb");
        }
    }

    private static byte[] Udp(MacAddress src, MacAddress dst, uint ipSrc, uint ipDst, ushort sport, ushort dport)
        => FrameBuilder.Udp(src, dst, ipSrc, ipDst, sport, dport, 64);

    private static HashSet<int> SampleIndexes(int n, int k, Random rng)
    {
        var set = new HashSet<int>(k);
        while (set.Count < k) set.Add(rng.Next(n));
        return set;
    }
}
