using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Tests.Actions;

namespace Softswitch.Datapath.Tests;

/// <summary>VLAN push/set/strip: exact frame bytes, offsets, headroom.</summary>
public class ActionVlanTests
{
    private const string Macs = "020000000002 020000000001";
    private static readonly byte[] Untagged = Frames.Hex(Macs + "0800 4500001c 00000000 4011 0000 0a000001 0a000002 0001 0002 0008 0000");
    private static readonly byte[] Tagged = Frames.Hex(Macs + "8100 b123 0800 4500001c 00000000 4011 0000 0a000001 0a000002 0001 0002 0008 0000");

    private static (PacketPool Pool, int P, PacketLayers L) Load(byte[] f)
    {
        var pool = new PacketPool(2);
        int p = pool.Alloc();
        pool.Write(p, f);
        PacketParser.Parse(f, 0, out _, out var l);
        return (pool, p, l);
    }

    [Fact]
    public void SetVidOnUntaggedPushesTagWithPcpZero()
    {
        var (pool, p, l) = Load(Untagged);
        Assert.Equal(PacketLayers.Absent, l.Vlan);
        Assert.True(PacketRewriter.PushOrSetVlanVid(pool, p, ref l, 0x0ABC));
        Assert.Equal(Frames.Hex(Macs + "8100 0abc 0800 4500001c 00000000 4011 0000 0a000001 0a000002 0001 0002 0008 0000"), pool.Frame(p).ToArray());
        Assert.Equal(PacketPool.Headroom - 4, pool.Head[p]);
        Assert.Equal(Untagged.Length + 4, pool.Length[p]);
        Assert.Equal((ushort)12, l.Vlan);
        Assert.Equal((ushort)18, l.L3);
        Assert.Equal((ushort)38, l.L4);
    }

    [Fact]
    public void StripOnADoubleTaggedFrameMakesTheInnerTagTheOuterOne()
    {
        // The parser stops at the inner tag's TPID; after the strip that tag is the outer one and a VID set rewrites it.
        var (pool, p, l) = Load(Frames.Hex(Macs + "88a8 0064 8100 a0c8 0800 4500001c 00000000 4011 0000 0a000001 0a000002 0001 0002 0008 0000"));
        Assert.Equal(((ushort)12, (ushort)16, PacketLayers.Absent), (l.Vlan, l.EthType, l.L3));
        PacketRewriter.StripVlan(pool, p, ref l);
        Assert.Equal(((ushort)12, (ushort)16), (l.Vlan, l.EthType));
        Assert.True(PacketRewriter.PushOrSetVlanVid(pool, p, ref l, 7));
        Assert.Equal(Frames.Hex(Macs + "8100 a007 0800 4500"), pool.Frame(p)[..20].ToArray());
    }

    [Fact]
    public void SetPcpOnUntaggedPushesTagWithVidZero()
    {
        var (pool, p, l) = Load(Untagged);
        Assert.True(PacketRewriter.PushOrSetVlanPcp(pool, p, ref l, 5));
        Assert.Equal(Frames.Hex(Macs + "8100 a000 0800"), pool.Frame(p)[..18].ToArray());
        PacketParser.Parse(pool.Frame(p), 0, out var k, out var fresh);
        Assert.Equal((ushort)0, k.DlVlan);
        Assert.Equal(5, k.DlVlanPcp);
        Assert.Equal(fresh, l);
    }

    [Fact]
    public void SetVidOnTaggedKeepsPcpAndCfi()
    {
        var (pool, p, l) = Load(Tagged);
        Assert.True(PacketRewriter.PushOrSetVlanVid(pool, p, ref l, 0x0042));
        Assert.Equal(Frames.Hex(Macs + "8100 b042 0800"), pool.Frame(p)[..18].ToArray());
        Assert.Equal(Tagged.Length, pool.Length[p]);
        Assert.Equal(PacketPool.Headroom, pool.Head[p]);
    }

    [Fact]
    public void SetPcpOnTaggedKeepsVidAndCfi()
    {
        var (pool, p, l) = Load(Tagged);
        Assert.True(PacketRewriter.PushOrSetVlanPcp(pool, p, ref l, 0xFA)); // only the low 3 bits: 2
        Assert.Equal(Frames.Hex(Macs + "8100 5123 0800"), pool.Frame(p)[..18].ToArray());
    }

    [Fact]
    public void StripRemovesTagAndRestoresOffsets()
    {
        var (pool, p, l) = Load(Tagged);
        PacketRewriter.StripVlan(pool, p, ref l);
        Assert.Equal(Untagged, pool.Frame(p).ToArray());
        Assert.Equal(PacketPool.Headroom + 4, pool.Head[p]);
        Assert.Equal(PacketLayers.Absent, l.Vlan);
        Assert.Equal((ushort)14, l.L3);
        Assert.Equal((ushort)34, l.L4);
    }

    [Fact]
    public void StripOnUntaggedIsNoOp()
    {
        var (pool, p, l) = Load(Untagged);
        var before = l;
        PacketRewriter.StripVlan(pool, p, ref l);
        Assert.Equal(Untagged, pool.Frame(p).ToArray());
        Assert.Equal(before, l);
        Assert.Equal(PacketPool.Headroom, pool.Head[p]);
    }

    [Fact]
    public void PushThenStripRoundTrips()
    {
        var (pool, p, l) = Load(Untagged);
        var l0 = l;
        for (int i = 0; i < 100; i++)
        {
            Assert.True(PacketRewriter.PushOrSetVlanVid(pool, p, ref l, (ushort)i));
            PacketRewriter.StripVlan(pool, p, ref l);
        }
        Assert.Equal(Untagged, pool.Frame(p).ToArray());
        Assert.Equal(l0, l);
        Assert.Equal(PacketPool.Headroom, pool.Head[p]);
    }

    [Fact]
    public void PushWithoutHeadroomFailsAndLeavesFrame()
    {
        var (pool, p, l) = Load(Untagged);
        Assert.True(pool.Push(p, PacketPool.Headroom - 2)); // 2 bytes of headroom left
        var shifted = pool.Frame(p).ToArray();
        var l0 = l;
        Assert.False(PacketRewriter.PushOrSetVlanVid(pool, p, ref l, 1));
        Assert.Equal(shifted, pool.Frame(p).ToArray());
        Assert.Equal(l0, l);

        // The executor counts it and carries on.
        var exec = new ActionExecutor();
        var sink = new CountingSink();
        var layers = new[] { l };
        exec.Execute(new FlowActions([FlowAction.SetVlanPcp(1), FlowAction.Output(2)]), pool, new[] { p }, layers, ref sink);
        Assert.Equal(1, exec.VlanPushFailed);
        Assert.Equal(1, sink.Packets);
    }

    [Fact]
    public void PushOnRuntIsRefused()
    {
        var (pool, p, l) = Load(new byte[13]);
        Assert.False(PacketRewriter.PushOrSetVlanVid(pool, p, ref l, 1));
        Assert.Equal(13, pool.Length[p]);
    }

    [Fact]
    public void PushOnNonIpAndLlcFrames()
    {
        foreach (var kind in new[] { "arp-request", "llc", "ipv6-ethertype" })
        {
            byte[] f = ActionRewriteTests.Frame(kind);
            var (pool, p, l) = Load(f);
            Assert.True(PacketRewriter.PushOrSetVlanVid(pool, p, ref l, 9));
            byte[] a = pool.Frame(p).ToArray();
            Assert.Equal([.. f.AsSpan(0, 12), 0x81, 0x00, 0x00, 0x09, .. f.AsSpan(12)], a);
            PacketParser.Parse(a, 0, out var k, out var fresh);
            Assert.Equal(fresh, l);
            Assert.Equal((ushort)9, k.DlVlan);
        }
    }

    [Fact]
    public void BatchOfMixedTaggedAndUntagged()
    {
        var b = new Batch(Untagged, Tagged, Untagged, Tagged);
        b.Run(FlowAction.SetVlanVid(7));
        for (int i = 0; i < 4; i++)
        {
            PacketParser.Parse(b.Frame(i), 0, out var k, out var fresh);
            Assert.Equal((ushort)7, k.DlVlan);
            Assert.Equal(i % 2 == 0 ? 0 : 5, k.DlVlanPcp);
            Assert.Equal(fresh, b.Layers[i]);
        }
        b.Run(FlowAction.StripVlan());
        for (int i = 0; i < 4; i++) Assert.Equal(Untagged, b.Frame(i));
    }
}
