using System.Buffers.Binary;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;
using Softswitch.TestKit;

namespace Softswitch.Datapath.Tests.Ports;

/// <summary>
/// A virtual port written outside the datapath assembly, with nothing but <see cref="IEncapsulatingPort"/> and its
/// <see cref="OutputContext"/>: what a Geneve or vhost port in src/Ports would have.
/// </summary>
public sealed class VirtualPortTests
{
    private const ushort Host = 1, Wire = 2, Virtual = 7;

    /// <summary>Prepends an 8-byte header holding the packet's tunnel id and sends the result on the wire port.</summary>
    private sealed class TagPort : IEncapsulatingPort
    {
        public PortInfo Info { get; } = new("tag0", MacAddress.Parse("0a:00:00:00:00:07"));
        public PortCounters Counters { get; } = new();
        public bool LinkUp => true;
        public int WaitFd => PortWait.NeverReceives;
        public PortSlot? WireSlot;
        public int Receive(PacketPool pool, Span<int> pkts) => 0;
        public void Send(PacketPool pool, ReadOnlySpan<int> pkts) => throw new InvalidOperationException("forwarders use Encapsulate");
        public void Dispose() { }

        public void Encapsulate(in OutputContext context, int p)
        {
            var pool = context.Pool;
            int b = pool.Alloc();
            if (b < 0) return;
            var inner = pool.Frame(p);
            var f = pool.Tail(b)[..(8 + inner.Length)];
            BinaryPrimitives.WriteUInt64BigEndian(f, context.TunnelId);
            inner.CopyTo(f[8..]);
            pool.Length[b] = (ushort)f.Length;
            context.Send(WireSlot ?? context.Port(Wire)!, b);
            pool.Release(b);
            context.CountTx(inner.Length);
        }

        public void CountTx(long packets, long bytes)
        {
            Counters.AddTx(packets, bytes);
        }
    }

    [Fact]
    public void AVirtualPortOfAnotherAssembly_EncapsulatesWithTheFlowsTunnelId_AndSendsThroughItsContext()
    {
        using var dp = new SwitchDatapath(new DatapathOptions { EmcEntries = 1024, PacketInRate = 0 }, new ManualClock()) { MissBehavior = MissBehavior.Drop };
        var host = new MemoryPort("host", MacAddress.Parse("0a:00:00:00:00:01"));
        var wire = new MemoryPort("wire", MacAddress.Parse("0a:00:00:00:00:02")) { CaptureSent = true };
        var tag = new TagPort();
        dp.AddPort(host, Host);
        dp.AddPort(wire, Wire);
        dp.AddPort(tag, Virtual);
        var inPort = new FlowKeyBuilder().InPort(Host).Key;
        using (var w = dp.Pipeline.Table(0).Write())
        {
            w.Insert(new FlowEntry(new FlowMatch(new FlowKeyBuilder().InPort(0xFFFF).Key, inPort), 100,
                new FlowActions([FlowAction.SetTunnel(0x77), FlowAction.Output(Virtual)]), 0, 0, 0));
        }
        var frame = FlowFrames.Udp("0a:00:00:00:00:01", "0a:00:00:00:00:09", "10.0.0.1", "10.0.0.9");
        for (int i = 0; i < 3; i++) host.Inject(frame);
        dp.PollUntilIdle();

        var sent = wire.TakeSent();
        Assert.Equal(3, sent.Count);
        foreach (var s in sent)
        {
            Assert.Equal(0x77UL, BinaryPrimitives.ReadUInt64BigEndian(s));
            Assert.Equal(frame, s[8..]);
        }
        Assert.Equal((3L, 3L * frame.Length), (tag.Counters.TxPackets, tag.Counters.TxBytes));
    }

    [Fact]
    public void AVirtualPortSendingToAVirtualPort_IsRefusedAndCounted()
    {
        using var dp = new SwitchDatapath(new DatapathOptions { EmcEntries = 1024, PacketInRate = 0 }, new ManualClock()) { MissBehavior = MissBehavior.Drop };
        var host = new MemoryPort("host", MacAddress.Parse("0a:00:00:00:00:01"));
        var wire = new MemoryPort("wire", MacAddress.Parse("0a:00:00:00:00:02")) { CaptureSent = true };
        var tag = new TagPort();
        dp.AddPort(host, Host);
        dp.AddPort(wire, Wire);
        tag.WireSlot = dp.AddPort(tag, Virtual);   // sends to itself: one level only
        using (var w = dp.Pipeline.Table(0).Write())
            w.Insert(new FlowEntry(FlowMatch.All, 100, new FlowActions([FlowAction.Output(Virtual)]), 0, 0, 0));
        host.Inject(FlowFrames.Udp("0a:00:00:00:00:01", "0a:00:00:00:00:09", "10.0.0.1", "10.0.0.9"));
        dp.PollUntilIdle();

        Assert.Empty(wire.TakeSent());
        Assert.Equal(1, dp.DropCount(DropReason.Unsupported));
    }
}
