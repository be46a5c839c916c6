using System.Buffers.Binary;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Classifier;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Offload;
using Softswitch.Datapath.Packets;
using Softswitch.Ports.AfXdp;
using Softswitch.TestKit;
using Xunit.Abstractions;
using static Softswitch.TestKit.FlowFrames;

namespace Softswitch.Ports.Tests.AfXdp;

/// <summary>
/// The flow program's exact-match table (<see cref="XdpFlowTable"/>) in the kernel here: user space places a key in
/// the bucket of its own hash and the program, computing the hash itself, finds it; a full bucket refuses; a modify
/// never shows a frame half of each action; a removed entry's index waits for a grace period before it is written again.
/// </summary>
public sealed class XdpFlowTableTests(ITestOutputHelper output)
{
    private static readonly (ushort, int)[] Ports = [(1, 1_000_001), (2, 1_000_002)];

    private static byte[] RandomFrame(Random rng)
    {
        var src = new MacAddress((ulong)rng.NextInt64(1L << 48) & ~0x0100_0000_0000UL);
        var dst = new MacAddress((ulong)rng.NextInt64(1L << 48) & ~0x0100_0000_0000UL);
        ushort? vlan = rng.Next(4) == 0 ? (ushort)rng.Next(1, 4095) : null;
        return FrameBuilder.Udp(src, dst, (uint)rng.NextInt64(1L << 32), (uint)rng.NextInt64(1L << 32), (ushort)rng.Next(65536), (ushort)rng.Next(65536),
                                vlan: vlan, pcp: (byte)(vlan is null ? 0 : rng.Next(8)), tos: (byte)(rng.Next(64) << 2));
    }

    private static XdpFlowKey KeyOf(byte[] frame, int ifindex) => XdpOffloadTarget.KeyOf(MatchOf(frame, 1, 0).Value, ifindex, withAddresses: false);

    private static int IfIndex(string ifname) => int.Parse(File.ReadAllText($"/sys/class/net/{ifname}/ifindex"));

    private static XdpFlowAction Back(uint slot) => new(XdpFlowProgram.OutInPort, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, slot);

    /// <summary>
    /// Random keys placed by user space (their bucket from the C# hash) in a table of the switch's default size are each
    /// found by the program, which computes the bucket itself: every frame of a placed key comes back (XDP_TX) and counts in its own flow's slot, every frame
    /// of another key is a miss.
    /// </summary>
    [NetnsFact]
    public void TheProgramFindsTheKeyUserSpacePlaced_AndNoOther() => FindsEveryPlacedKey(1);

    /// <summary>The same with 1,000 random keys in one table.</summary>
    [NetnsFact]
    public void TheProgramFindsEachOfAThousandKeysUserSpacePlaced_AndNoOther() => FindsEveryPlacedKey(1000);

    private void FindsEveryPlacedKey(int flows)
    {
        int seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var rng = new Random(seed);
        using var ns = Netns.Create();
        int ifindex = IfIndex(ns.HostIf);
        using var maps = new XdpFlowMaps(XdpOffload.DefaultCapacity);
        var frames = new List<byte[]>();
        for (int f = 0; f < flows; f++)
        {
            var frame = RandomFrame(rng);
            maps.ClearCounters((uint)f);
            Assert.True(maps.Put(KeyOf(frame, ifindex), Back((uint)f)), $"flow {f}: its bucket is full");
            frames.Add(frame);
        }
        using var run = new XdpTestRun(maps, ifindex);
        var o = new byte[64];
        for (int f = 0; f < flows; f++)
        {
            Assert.Equal(XdpTestRun.XdpTx, run.Run(frames[f], o.AsSpan(0, frames[f].Length)));
            Assert.Equal((1L, (long)frames[f].Length), maps.ReadCounters((uint)f));
        }
        for (int i = 0; i < 1000; i++) Assert.Equal(XdpTestRun.XdpPass, run.Run(RandomFrame(rng), o.AsSpan(0, 64)));
        for (int f = 0; f < flows; f++) Assert.Equal(1L, maps.ReadCounters((uint)f).Packets);
    }

    /// <summary>
    /// Each table draws its own hash seed: five keys that share a bucket in one table are spread in another, so keys
    /// aimed at one bucket of a switch (computed without its seed) do not share one. The program hashes with the seed
    /// (<see cref="FindsEveryPlacedKey"/> places keys by the seeded C# hash and the program finds each).
    /// </summary>
    [NetnsFact]
    public void EachTableHasItsOwnSeed_KeysSharingABucketInOneAreSpreadInAnother()
    {
        using var ns = Netns.Create();
        int ifindex = IfIndex(ns.HostIf);
        using var a = new XdpFlowMaps(64);   // 128 buckets: five of 65,535 dports share one (chance they do again: 1 in 128^4)
        using var b = new XdpFlowMaps(64);
        Assert.NotEqual(a.Table.Seed, b.Table.Seed);
        var ports = SameBucket(a, ifindex, 5);
        Span<byte> k = stackalloc byte[XdpFlowProgram.KeySize];
        var inB = new HashSet<uint>();
        foreach (ushort p in ports)
        {
            KeyOf(Frame(p), ifindex).Write(k);
            inB.Add(b.Table.BucketOf(k));
        }
        output.WriteLine($"dports {string.Join(' ', ports)}: one bucket in table a, {inB.Count} buckets in table b");
        Assert.True(inB.Count > 1, "five keys sharing a bucket under one seed share one under another");
    }

    /// <summary>The first <paramref name="count"/> dports whose frames' keys share a bucket (that of the first).</summary>
    private static List<ushort> SameBucket(XdpFlowMaps maps, int ifindex, int count)
    {
        var ports = new List<ushort>();
        Span<byte> k = stackalloc byte[XdpFlowProgram.KeySize];
        uint bucket = 0;
        for (int p = 1; p < 65536 && ports.Count < count; p++)
        {
            KeyOf(Frame((ushort)p), ifindex).Write(k);
            uint b = maps.Table.BucketOf(k);
            if (ports.Count == 0) bucket = b;
            if (b == bucket) ports.Add((ushort)p);
        }
        return ports;
    }

    private static byte[] Frame(ushort dport) => FrameBuilder.Udp(Mac("02:00:00:00:00:01"), Mac("02:00:00:00:00:02"), Ip("10.0.0.1"), Ip("10.0.0.2"), 1000, dport);

    /// <summary>
    /// Five flows whose keys share a bucket of four ways: four are placed and answered in the kernel; the fifth is
    /// refused (bucket-full) and its frames miss to software, where the flow table answers them; when a way is freed
    /// the manager places it.
    /// </summary>
    [NetnsFact]
    public void AFlowWhoseBucketIsFull_StaysInSoftware_UntilAWayIsFreed()
    {
        using var maps = new XdpFlowMaps(64);
        var table = new FlowTable(new ManualClock());
        using var manager = new OffloadManager(table, new XdpOffloadTarget(maps, Ports));
        manager.Attach(startWorker: false);
        var dports = SameBucket(maps, Ports[0].Item2, XdpFlowTable.Ways + 1);
        var entries = new List<FlowEntry>();
        foreach (var p in dports)
        {
            var e = new FlowEntry(MatchOf(Frame(p), 1, 0), 100, new FlowActions([FlowAction.Output(2)]), 0, 0, 0);
            using (var w = table.Write()) w.Insert(e);
            entries.Add(e);
        }
        manager.ProcessPending();
        for (int i = 0; i < XdpFlowTable.Ways; i++)
        {
            Assert.True(manager.TryGetPlacement(entries[i], out var placed) && placed.InHardware, $"flow {i}");
        }
        Assert.True(manager.TryGetPlacement(entries[^1], out var refused));
        Assert.False(refused.InHardware);
        Assert.Equal(XdpReasons.BucketFull, refused.Reason);
        Assert.Equal(0u, IndexOf(maps, dports[^1]));
        var key = MatchOf(Frame(dports[^1]), 1, 0).Value;
        Assert.Same(entries[^1], table.Lookup(key));   // software answers its frames

        using (var w = table.Write()) w.Remove(entries[0]);
        manager.ProcessPending();
        manager.Poll();
        Assert.True(manager.TryGetPlacement(entries[^1], out var retried) && retried.InHardware, retried.Reason.Name);
        Assert.NotEqual(0u, IndexOf(maps, dports[^1]));
    }

    private static uint IndexOf(XdpFlowMaps maps, ushort dport)
    {
        Span<byte> k = stackalloc byte[XdpFlowProgram.KeySize];
        KeyOf(Frame(dport), Ports[0].Item2).Write(k);
        return maps.Table.IndexOf(k);
    }

    /// <summary>
    /// A flow's action changes again and again (three records in turn, each setting the destination MAC, the IPv4
    /// source and the UDP destination port to values of its own) while another thread runs the program on the flow's
    /// frame: every frame that comes back carries one record's three values, never a mix.
    /// </summary>
    [NetnsFact]
    public void AModifyUnderTraffic_NeverForwardsAFrameWithAMixOfTheOldAndNewActions()
    {
        using var ns = Netns.Create();
        int ifindex = IfIndex(ns.HostIf);
        using var maps = new XdpFlowMaps(1024);
        var frame = Frame(2000);
        var key = KeyOf(frame, ifindex);
        const uint Flags = XdpFlowProgram.OutInPort | XdpFlowProgram.SetDlDst | XdpFlowProgram.SetNwSrc | XdpFlowProgram.SetTpDst;
        var records = Enumerable.Range(1, 3)
            .Select(i => new XdpFlowAction(Flags, 0, 0x0a0000000000UL | (uint)i, 0, 0, Ip($"192.168.0.{i}"), 0, 0, (ushort)(5000 + i), 0, 0, 0)).ToArray();
        maps.ClearCounters(0);
        maps.Put(key, records[0]);
        using var run = new XdpTestRun(maps, ifindex);
        long frames = 0, mixed = 0, puts = 0;
        var seen = new int[4];
        using var stop = new CancellationTokenSource();
        var reader = Task.Run(() =>
        {
            var o = new byte[frame.Length];
            while (!stop.IsCancellationRequested)
            {
                Assert.Equal(XdpTestRun.XdpTx, run.Run(frame, o));
                int mac = o[5], src = o[14 + 15], port = BinaryPrimitives.ReadUInt16BigEndian(o.AsSpan(14 + 22)) - 5000;
                frames++;
                if (mac != src || mac != port || mac is < 1 or > 3) mixed++;
                else seen[mac]++;
            }
        });
        var until = DateTime.UtcNow.AddSeconds(3);
        while (DateTime.UtcNow < until && !reader.IsCompleted)
        {
            Assert.True(maps.Put(key, records[puts % 3]));
            puts++;
        }
        stop.Cancel();
        reader.Wait();
        output.WriteLine($"{puts} modifies, {frames} frames ({seen[1]}/{seen[2]}/{seen[3]} of each record), {maps.Table.GracePeriods} grace periods");
        Assert.Equal(0, mixed);
        Assert.True(seen[1] > 0 && seen[2] > 0 && seen[3] > 0, "every record answered frames");
        Assert.True(maps.Table.GracePeriods > 0, "the modifies went round the free indices");
    }

    /// <summary>
    /// A deleted or replaced entry's index is written again only after a grace period: until the free indices run out
    /// no put takes one, and the put that takes one first waits for a grace period.
    /// </summary>
    [NetnsFact]
    public void ADeletedOrReplacedEntrysIndex_IsNotReused_BeforeAGracePeriod()
    {
        using var maps = new XdpFlowMaps(4);
        var t = maps.Table;
        Span<byte> k = stackalloc byte[XdpFlowProgram.KeySize];
        var retired = new HashSet<uint>();
        uint Put(ushort p)
        {
            Span<byte> kk = stackalloc byte[XdpFlowProgram.KeySize];
            var key = KeyOf(Frame(p), 7);
            Assert.True(maps.Put(key, Back(0)));
            key.Write(kk);
            return t.IndexOf(kk);
        }
        uint first = Put(1);
        retired.Add(first);
        uint replaced = Put(1);                       // a modify: a new index, the old one retired
        Assert.NotEqual(first, replaced);
        KeyOf(Frame(1), 7).Write(k);
        Assert.True(t.Delete(k));
        retired.Add(replaced);
        Assert.Equal(0u, t.IndexOf(k));
        for (ushort p = 2; t.GracePeriods == 0; p++)
        {
            uint i = Put(p);
            if (t.GracePeriods == 0) Assert.DoesNotContain(i, retired);
            else Assert.Contains(i, retired);   // taken after the wait: a retired index is free again
            KeyOf(Frame(p), 7).Write(k);
            Assert.True(t.Delete(k));
            retired.Add(i);
            Assert.True(p < t.EntryCount + 1, "never waited");
        }
        Assert.Equal(1, t.GracePeriods);
        Assert.Equal(1, t.RetiredCount);   // the last delete's: every earlier one was freed by the wait
    }
}
