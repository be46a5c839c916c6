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
/// IPv4, untagged (IPv6 in the IPv6 rows, VLAN 10 in vlan-push-pop), shuffled so consecutive frames hit different
/// flows. The rows of <see cref="OpenFlow13Rows"/> are written in ovs-ofctl's OpenFlow 1.3 syntax: 1,000 exact IPv6
/// flows; a four-table pipeline shaped like Faucet's over 1,000 MACs (VLAN check, eth_src, eth_dst writing the output
/// into the action set, a catch-all last table); 1,000 IPv6 flows rewriting ipv6_src; 1,000 flows retagging (pop_vlan,
/// push_vlan, set vlan_vid); 1,000 flows pushing an MPLS label. Exact flows pin every OpenFlow 1.0 field
/// (ovs-ofctl puts <c>dl_vlan=0xffff</c> on the wire with dl_vlan_pcp 0 matched, so they are exact for both
/// switches). A row with more flows than <c>--max-frames</c> replays a random sample of one frame per flow (a
/// DPDK pcap port keeps every frame of its file in packet buffers).
/// </remarks>
public static class RowFiles
{
    public static readonly string[] Names = ["1-flow", "exact-1k", "exact-100k", "exact-1m", "wild-1k-16", "normal-1k", "rewrite-1k",
                                             "ipv6-exact-1k", "multitable-4", "setfield-ipv6", "vlan-push-pop", "mpls-push"];

    /// <summary>The rows whose flows are OpenFlow 1.3's (tables, goto_table, write_actions, push/pop, set_field): <c>ovs-ofctl -O OpenFlow13 add-flows</c>.</summary>
    public static readonly string[] OpenFlow13Rows = ["ipv6-exact-1k", "multitable-4", "setfield-ipv6", "vlan-push-pop", "mpls-push"];
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
            case "ipv6-exact-1k":
            case "setfield-ipv6":
                for (int i = 0; i < 1000; i++)
                {
                    var src = new UInt128(0x20010DB8_00000000UL, (ulong)i + 1);
                    var dst = new UInt128(0x20010DB8_00010000UL, (ulong)rng.Next(1 << 16) + 1);
                    ushort sport = (ushort)(1024 + i);
                    string actions = row == "setfield-ipv6"
                        ? $"set_field:2001:db8:2::{i + 1:x}->ipv6_src,output:{Sink(i)}"
                        : $"output:{Sink(i)}";
                    flows.Add($"priority=100,udp6,in_port=1,dl_src={SrcMac},dl_dst={DstMac},ipv6_src={Ip6(src)},ipv6_dst={Ip6(dst)},tp_src={sport},tp_dst=5001,actions={actions}");
                    frames.Add(Udp6(SrcMac, DstMac, src, dst, sport, 5001));
                }
                break;
            case "multitable-4":
                {
                    const int hosts = 1000;
                    static MacAddress Host(int i) => new(0x0200_0001_0000UL + (ulong)i);
                    flows.Add("table=0,priority=100,in_port=1,vlan_tci=0x0000/0x1fff,actions=goto_table:1");
                    for (int i = 0; i < hosts; i++)
                    {
                        flows.Add($"table=1,priority=100,dl_src={Host(i)},actions=goto_table:2");
                        flows.Add($"table=2,priority=100,dl_dst={Host(i)},actions=write_actions(output:{Sink(i)}),goto_table:3");
                    }
                    flows.Add("table=3,priority=0,actions=");
                    for (int i = 0; i < hosts; i++)
                        frames.Add(Udp(Host(i), Host((i * 7 + 1) % hosts), 0x0A00_0000u | (uint)i, 0x0B00_0000u | (uint)(i * 7 + 1), (ushort)(1024 + i), 5001));
                    break;
                }
            case "vlan-push-pop":
            case "mpls-push":
                for (int i = 0; i < 1000; i++)
                {
                    uint src = 0x0A00_0000u | (uint)i, dst = 0x0B00_0000u | (uint)(rng.Next() & 0xFFFF);
                    ushort sport = (ushort)(1024 + i);
                    bool vlan = row == "vlan-push-pop";
                    string actions = vlan
                        ? $"pop_vlan,push_vlan:0x8100,set_field:{0x1000 | (20 + i % 1000)}->vlan_vid,output:{Sink(i)}"
                        : $"push_mpls:0x8847,set_field:{100 + i}->mpls_label,output:{Sink(i)}";
                    string tag = vlan ? "dl_vlan=10," : "";
                    flows.Add($"priority=100,udp,in_port=1,{tag}dl_src={SrcMac},dl_dst={DstMac},nw_src={Ipv4.Format(src)},nw_dst={Ipv4.Format(dst)},tp_src={sport},tp_dst=5001,actions={actions}");
                    frames.Add(FrameBuilder.Udp(SrcMac, DstMac, src, dst, sport, 5001, 64, vlan ? (ushort)10 : null));
                }
                break;
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

    private static string Ip6(UInt128 a) => new System.Net.IPAddress(ToBytes(a)).ToString();

    private static byte[] ToBytes(UInt128 a)
    {
        var b = new byte[16];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt128BigEndian(b, a);
        return b;
    }

    /// <summary>A 64-byte Ethernet/IPv6/UDP frame (2 bytes of payload), its UDP checksum over the pseudo-header.</summary>
    private static byte[] Udp6(MacAddress src, MacAddress dst, UInt128 ipSrc, UInt128 ipDst, ushort sport, ushort dport)
    {
        var f = new byte[64];
        dst.Write(f);
        src.Write(f.AsSpan(6));
        f[12] = 0x86; f[13] = 0xDD;
        var ip = f.AsSpan(14);
        ip[0] = 0x60;
        const int udpLen = 64 - 54;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(ip[4..], udpLen);
        ip[6] = 17;
        ip[7] = 64;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt128BigEndian(ip[8..], ipSrc);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt128BigEndian(ip[24..], ipDst);
        var udp = f.AsSpan(54);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(udp, sport);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(udp[2..], dport);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(udp[4..], udpLen);
        // The checksum: the pseudo-header (addresses, length, next header) and the UDP header and payload.
        uint sum = 17 + udpLen;
        for (int i = 8; i < 40; i += 2) sum += (uint)((ip[i] << 8) | ip[i + 1]);
        for (int i = 0; i < udpLen; i += 2) sum += (uint)((udp[i] << 8) | udp[i + 1]);
        while (sum >> 16 != 0) sum = (sum & 0xFFFF) + (sum >> 16);
        ushort c = (ushort)~sum;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(udp[6..], c == 0 ? (ushort)0xFFFF : c);
        return f;
    }

    private static HashSet<int> SampleIndexes(int n, int k, Random rng)
    {
        var set = new HashSet<int>(k);
        while (set.Count < k) set.Add(rng.Next(n));
        return set;
    }
}
