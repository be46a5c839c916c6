using System.Buffers.Binary;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Tests.Actions;
using Xunit.Abstractions;

namespace Softswitch.Datapath.Tests;

/// <summary>
/// Seeded fuzzing of the parser (and of the rewriter on whatever the parser accepts): 200,000 random and
/// mutated frames never throw (spans throw on any out-of-range read), and the layers the parser reports
/// always lie inside the frame. Set SOFTSWITCH_FUZZ_SEED to replay; failures print the seed, the iteration and
/// the frame in hex (add it to ParserEdgeTests as a golden case).
/// </summary>
public class ParserFuzzTests(ITestOutputHelper output)
{
    private const int Iterations = 200_000;
    private static readonly ushort[] InterestingTypes = [0x0800, 0x8100, 0x0806, 0x0000, 0x05FF, 0x0600, 0x05DC, 0x86DD, 0xFFFF, 0x88A8, 0x88E7, 0x8847, 0x8848];
    private static readonly byte[] InterestingBytes = [0x00, 0xFF, 0x45, 0x4F, 0x44, 0x40, 0x81, 0x08, 0x06, 0xAA, 0x03, 0x20, 0x11, 0x01, 0x7F, 0x80];

    internal static List<byte[]> Seeds()
    {
        var seeds = Pcap.Read(Path.Combine(Pcap.CorpusDir(), "parser-corpus.pcap"));
        var r = new Random(1);
        for (int i = 0; i < 64; i++) seeds.Add(Frames.Build(ActionPropertyTests.RandomSpec(r)));
        foreach (var kind in ActionRewriteTests.Kinds) seeds.Add(ActionRewriteTests.Frame(kind));
        seeds.AddRange(ParserOf13Tests.SeedFrames());
        return seeds;
    }

    internal static byte[] Mutate(byte[] seed, Random r)
    {
        var f = new List<byte>(seed);
        int n = r.Next(1, 5);
        for (int m = 0; m < n; m++)
        {
            switch (r.Next(9))
            {
                case 0 when f.Count > 0: f[r.Next(f.Count)] ^= (byte)(1 << r.Next(8)); break;
                case 1 when f.Count > 0: f[r.Next(f.Count)] = InterestingBytes[r.Next(InterestingBytes.Length)]; break;
                case 2:
                {
                    int cut = r.Next(f.Count + 1);   // truncate
                    f.RemoveRange(cut, f.Count - cut);
                    break;
                }
                case 3: for (int i = r.Next(1, 40); i > 0; i--) f.Add((byte)r.Next(256)); break;
                case 4 when f.Count >= 14:
                {
                    // An ethertype/length at 12 or, after a tag, at 16.
                    int at = r.Next(2) == 0 || f.Count < 18 ? 12 : 16;
                    ushort t = InterestingTypes[r.Next(InterestingTypes.Length)];
                    f[at] = (byte)(t >> 8); f[at + 1] = (byte)t;
                    break;
                }
                case 5 when f.Count >= 18:
                {
                    // IPv4 total length or fragment word, or IPv6 payload length, at the untagged or tagged L3.
                    int l3 = r.Next(2) == 0 ? 14 : 18;
                    int which = r.Next(3);
                    int field = l3 + (which == 0 ? 2 : which == 1 ? 6 : 4);
                    int fixedLen = which == 2 ? 40 : 0;
                    if (field + 1 < f.Count)
                    {
                        ushort v = (ushort)(r.Next(3) switch { 0 => r.Next(0x10000), 1 => r.Next(64), _ => f.Count - l3 - fixedLen + r.Next(-3, 4) });
                        f[field] = (byte)(v >> 8); f[field + 1] = (byte)v;
                    }
                    break;
                }
                case 6 when f.Count >= 15:
                {
                    int l3 = f.Count >= 19 && r.Next(2) == 0 ? 18 : 14;
                    f[l3] = (byte)(0x40 | r.Next(16));   // random IHL
                    break;
                }
                case 7 when f.Count > 2:
                {
                    // Delete or duplicate a run (shifts every header after it).
                    int at = r.Next(f.Count), len = Math.Min(r.Next(1, 9), f.Count - at);
                    if (r.Next(2) == 0) f.RemoveRange(at, len);
                    else f.InsertRange(at, f.GetRange(at, len));
                    break;
                }
                default:
                    if (f.Count > 0) f[r.Next(f.Count)] = (byte)r.Next(256);
                    break;
            }
        }
        return f.ToArray();
    }

    internal static byte[] RandomFrame(Random r)
    {
        var f = new byte[r.Next(0, 129)];
        r.NextBytes(f);
        if (f.Length >= 14 && r.Next(2) == 0)
        {
            ushort t = InterestingTypes[r.Next(InterestingTypes.Length)];
            f[12] = (byte)(t >> 8); f[13] = (byte)t;
            if (f.Length > 14 && t == 0x0800) f[14] = (byte)(0x40 | r.Next(16));
        }
        return f;
    }

    /// <summary>The invariants a parse must satisfy whatever the input: every reported layer lies inside the frame,
    /// flags and offsets agree, fields of absent layers are 0, the extension map names exactly the non-zero words.</summary>
    internal static void CheckLayers(ReadOnlySpan<byte> f, ParseError e, in FlowKey k, in PacketLayers l)
    {
        Assert.True(e < ParseError.Count);
        if (l.Vlan != PacketLayers.Absent) Assert.True(l.Vlan == 12 && f.Length >= 18);
        Assert.True(l.Vlan != PacketLayers.Absent || !l.Has(LayerFlags.ServiceTag));
        if (f.Length >= 14) Assert.True(l.EthType >= 12 && l.EthType + 2 <= f.Length, $"eth type at {l.EthType}");
        if (l.Pbb != PacketLayers.Absent)
            Assert.True(l.Has(LayerFlags.Pbb) && l.Pbb + 20 <= f.Length && l.EthType == l.Pbb + 18 && BinaryPrimitives.ReadUInt16BigEndian(f[l.Pbb..]) == 0x88E7);
        else
            Assert.True(!l.Has(LayerFlags.Pbb) && k.PbbIsid == 0);
        if (l.Mpls != PacketLayers.Absent)
            Assert.True(l.Has(LayerFlags.Mpls) && l.MplsDepth >= 1 && l.Mpls + 4 * l.MplsDepth <= f.Length);
        else
            Assert.True(!l.Has(LayerFlags.Mpls) && l.MplsDepth == 0 && k.MplsLabel == 0 && k.MplsTc == 0 && k.MplsBos == 0);

        int l3Kinds = (l.Has(LayerFlags.Ipv4) ? 1 : 0) + (l.Has(LayerFlags.Arp) ? 1 : 0) + (l.Has(LayerFlags.Ipv6) ? 1 : 0);
        int l3End = 0;
        if (l.L3 != PacketLayers.Absent)
        {
            Assert.Equal(1, l3Kinds);
            l3End = l.L3 + (l.Has(LayerFlags.Arp) ? 28 : l.Has(LayerFlags.Ipv6) ? 40 : (f[l.L3] & 0xF) * 4);
            Assert.True(l3End <= f.Length);
        }
        else
        {
            Assert.Equal(0, l3Kinds);
        }

        if (l.L4 != PacketLayers.Absent)
        {
            Assert.True((l.Has(LayerFlags.Ipv4) || l.Has(LayerFlags.Ipv6)) && !l.Has(LayerFlags.LaterFragment));
            int kinds = (l.Has(LayerFlags.Tcp) ? 1 : 0) + (l.Has(LayerFlags.Udp) ? 1 : 0) + (l.Has(LayerFlags.Sctp) ? 1 : 0)
                + (l.Has(LayerFlags.Icmp) ? 1 : 0) + (l.Has(LayerFlags.Icmpv6) ? 1 : 0);
            Assert.Equal(1, kinds);
            int need = l.Has(LayerFlags.Tcp) ? 20 : l.Has(LayerFlags.Udp) ? 8 : l.Has(LayerFlags.Sctp) ? 12 : 4;
            int ipEnd;
            if (l.Has(LayerFlags.Ipv4))
            {
                Assert.True(l.L4 == l3End);
                Assert.False(l.Has(LayerFlags.Icmpv6));
                ipEnd = l.L3 + BinaryPrimitives.ReadUInt16BigEndian(f[(l.L3 + 2)..]);
                Assert.Equal(ParseError.None, e);
            }
            else
            {
                Assert.True(l.L4 >= l3End);
                Assert.False(l.Has(LayerFlags.Icmp));
                ipEnd = l3End + BinaryPrimitives.ReadUInt16BigEndian(f[(l.L3 + 4)..]);
                Assert.True(e is ParseError.None or ParseError.NdTruncated or ParseError.NdBadOption, $"{e} with an L4 layer");
            }
            Assert.True(l.L4 + need <= ipEnd && ipEnd <= f.Length);
        }
        else
        {
            Assert.False(l.Has(LayerFlags.Tcp) || l.Has(LayerFlags.Udp) || l.Has(LayerFlags.Sctp) || l.Has(LayerFlags.Icmp) || l.Has(LayerFlags.Icmpv6));
        }

        if (l.Has(LayerFlags.LaterFragment)) Assert.True(l.Has(LayerFlags.Fragment));
        Assert.Equal(l.Has(LayerFlags.LaterFragment), k.IsLaterFragment);
        // nw_frag as Open vSwitch's: ANY on every fragment, LATER with it on a later one, no other bit.
        Assert.Equal(l.Has(LayerFlags.Fragment), (k.NwFrag & FlowKey.NwFragAny) != 0);
        Assert.Equal(0, k.NwFrag & ~FlowKey.NwFragMask);
        if (l.Has(LayerFlags.Fragment)) Assert.True(k.TpSrc == 0 && k.TpDst == 0 && (l.Has(LayerFlags.Ipv4) || l.Has(LayerFlags.Ipv6)));
        if (l3Kinds == 0)
            Assert.True(k.NwProto == 0 && k.NwSrc == 0 && k.NwDst == 0 && k.NwTos == 0 && k.IpEcn == 0 && k.TpSrc == 0 && k.TpDst == 0);
        if (!l.Has(LayerFlags.Ipv6))
            Assert.True(k.Ipv6Src == 0 && k.Ipv6Dst == 0 && k.Ipv6Flabel == 0 && k.Ipv6ExtHdr == 0 && k.NdTarget == 0);
        else
            Assert.True(k.NwSrc == 0 && k.NwDst == 0);
        if (!l.Has(LayerFlags.Arp) && !l.Has(LayerFlags.Icmpv6)) Assert.True(k.ArpSha.Value == 0 && k.ArpTha.Value == 0);
        if (e == ParseError.Runt) Assert.True(f.Length < 14);
        if (f.Length >= 14) Assert.Equal(MacAddress.Read(f[6..]), k.DlSrc);

        ushort map = 0;
        for (int i = FlowKey.BaseWords; i < FlowKey.Words; i++)
            if (k.AllWords[i] != 0) map |= (ushort)(1 << (i - FlowKey.BaseWords));
        Assert.Equal(map, k.ExtMap);
    }

    [Fact]
    public void RandomAndMutatedFramesNeverThrow()
    {
        int seed = int.TryParse(Environment.GetEnvironmentVariable("SOFTSWITCH_FUZZ_SEED"), out var s) ? s : 20261122;
        output.WriteLine($"fuzz seed {seed} (replay with SOFTSWITCH_FUZZ_SEED={seed}), {Iterations} frames");
        var r = new Random(seed);
        var seeds = Seeds();
        var pool = new PacketPool(4);
        int p = pool.Alloc();
        var counts = new int[(int)ParseError.Count];
        int rewritten = 0;
        for (int it = 0; it < Iterations; it++)
        {
            byte[] f = r.Next(4) == 0 ? RandomFrame(r) : Mutate(seeds[r.Next(seeds.Count)], r);
            try
            {
                var e = PacketParser.Parse(f, 1, out var k, out var l);
                counts[(int)e]++;
                CheckLayers(f, e, k, l);

                // The rewriter on whatever the parser reported: no throw, IPv4 header checksum kept valid.
                if (l.Has(LayerFlags.Ipv4))
                {
                    int ihl = (f[l.L3] & 0xF) * 4;
                    f[l.L3 + 10] = f[l.L3 + 11] = 0;
                    BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(l.L3 + 10), Checksum.Compute(f.AsSpan(l.L3, ihl)));
                }
                pool.Head[p] = PacketPool.Headroom;
                if (f.Length > pool.MaxFrameSize) continue;
                pool.Write(p, f);
                var lp = l;
                uint v = (uint)r.Next();
                PacketRewriter.SetNwSrc(pool.Frame(p), lp, v);
                PacketRewriter.SetNwTos(pool.Frame(p), lp, (byte)v);
                PacketRewriter.SetTpDst(pool.Frame(p), lp, (ushort)v);
                PacketRewriter.SetDlSrc(pool.Frame(p), v);
                PacketRewriter.PushOrSetVlanPcp(pool, p, ref lp, (byte)v);
                PacketRewriter.SetNwDst(pool.Frame(p), lp, ~v);
                PacketRewriter.SetTpSrc(pool.Frame(p), lp, (ushort)~v);
                PacketRewriter.StripVlan(pool, p, ref lp);
                var after = pool.Frame(p);
                if (lp.Has(LayerFlags.Ipv4))
                    Assert.True(Checksum.IsValid(after.Slice(lp.L3, (after[lp.L3] & 0xF) * 4)), "IPv4 header checksum after rewrites");
                // The push then the pop: as long as before, or Ethernet's 60 bytes if the pop took the pushed frame
                // below them (PacketRewriter.KeepEthernetMinimum).
                if (l.Vlan == PacketLayers.Absent && f.Length >= 14) Assert.Equal(f.Length is < 60 and >= 56 ? 60 : f.Length, after.Length);
                var e2 = PacketParser.Parse(after, 1, out var k2, out var l2);
                CheckLayers(after, e2, k2, l2);
                rewritten++;
            }
            catch (Exception ex)
            {
                Assert.Fail($"fuzz seed {seed}, iteration {it}: {ex.GetType().Name}: {ex.Message}\nframe {Convert.ToHexString(f)}\n{ex.StackTrace}");
            }
        }
        for (int i = 0; i < counts.Length; i++) output.WriteLine($"{(ParseError)i}: {counts[i]}");
        // The mutator must reach every outcome, or it is not exploring.
        for (int i = 0; i < counts.Length; i++) Assert.True(counts[i] > 0, $"no frame gave {(ParseError)i}");
        Assert.True(rewritten > Iterations / 2);
    }
}
