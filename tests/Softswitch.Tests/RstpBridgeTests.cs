using System.Buffers.Binary;
using Softswitch.Stp;
using Softswitch.TestKit;

namespace Softswitch.Tests;

/// <summary>
/// The 802.1w engine on a simulated network driven by a fake clock: bridges joined by point-to-point links, BPDUs
/// delivered at each step of 100 ms (or at once, to see what needs no timer). Root election, alternate ports, the
/// proposal/agreement handshake, edge ports, failover, topology change and the fallback to 802.1D with a legacy
/// neighbour (an <see cref="StpBridge"/>).
/// </summary>
public sealed class RstpBridgeTests
{
    /// <summary>Bridges (RSTP or 802.1D), links between their ports, and the BPDUs in flight.</summary>
    private sealed class Net
    {
        public readonly List<RstpBridge> Bridges = [];
        public readonly List<StpBridge> Legacy = [];
        private readonly Dictionary<(int, int), (int, int)> _links = [];
        private readonly HashSet<(int, int)> _cut = [];
        private readonly List<(int Bridge, int Port, byte[] Bpdu)> _inFlight = [];
        public readonly List<(int Bridge, int Port, byte[] Bpdu)> Sent = [];
        public readonly List<(int Bridge, int Port)> Flushed = [];

        /// <summary>Legacy bridges are numbered from 100 (their port numbers are their engine indexes).</summary>
        private const int LegacyBase = 100;

        private sealed class Tx(Net net, int bridge) : IStpTransmit
        {
            public void Send(int portNo, ReadOnlySpan<byte> bpdu)
            {
                net._inFlight.Add((bridge, portNo, bpdu.ToArray()));
                net.Sent.Add((bridge, portNo, bpdu.ToArray()));
            }
        }

        public RstpBridge Add(ulong mac, int priority = RstpBridge.DefaultPriority)
        {
            var b = new RstpBridge($"br{Bridges.Count}", mac, new Tx(this, Bridges.Count));
            Assert.True(b.SetPriority(priority));
            Bridges.Add(b);
            return b;
        }

        public int AddLegacy(ulong mac)
        {
            Legacy.Add(new StpBridge($"stp{Legacy.Count}", ((ulong)StpBridge.DefaultBridgePriority << 48) | mac, new Tx(this, LegacyBase + Legacy.Count)));
            return LegacyBase + Legacy.Count - 1;
        }

        private void Up(int b, int p)
        {
            if (b >= LegacyBase)
            {
                Legacy[b - LegacyBase].EnablePort(Legacy[b - LegacyBase].Port(p));
            }
            else
            {
                var port = Bridges[b].Port(p) ?? Bridges[b].AddPort(p)!;
                Bridges[b].SetMacOperational(port, true);
            }
        }

        public void Link(int b1, int p1, int b2, int p2)
        {
            _links[(b1, p1)] = (b2, p2);
            _links[(b2, p2)] = (b1, p1);
            Up(b1, p1);
            Up(b2, p2);
        }

        /// <summary>The link goes down: both ends see it (carrier lost).</summary>
        public void Down(int b1, int p1)
        {
            var (b2, p2) = _links[(b1, p1)];
            _links.Remove((b1, p1));
            _links.Remove((b2, p2));
            foreach (var (b, p) in new[] { (b1, p1), (b2, p2) })
            {
                if (b >= LegacyBase) Legacy[b - LegacyBase].DisablePort(Legacy[b - LegacyBase].Port(p));
                else Bridges[b].SetMacOperational(Bridges[b].Port(p)!, false);
            }
        }

        /// <summary>The link stops carrying frames both ways, without either port seeing its link go down.</summary>
        public void Cut(int b, int p) => _cut.Add((b, p));

        public void Run(int ms)
        {
            for (int t = 0; t < ms; t += 100)
            {
                foreach (var b in Bridges) b.Tick(100);
                foreach (var b in Legacy) b.Tick(100);
                Deliver();
            }
        }

        public void Deliver()
        {
            for (int guard = 0; guard < 1000 && _inFlight.Count > 0; guard++)
            {
                var batch = _inFlight.ToArray();
                _inFlight.Clear();
                foreach (var (b, p, bpdu) in batch)
                {
                    if (_cut.Contains((b, p)) || !_links.TryGetValue((b, p), out var to) || _cut.Contains(to)) continue;
                    if (to.Item1 >= LegacyBase)
                    {
                        var lb = Legacy[to.Item1 - LegacyBase];
                        lb.Received(lb.Port(to.Item2), bpdu);
                    }
                    else
                    {
                        var rb = Bridges[to.Item1];
                        rb.Received(rb.Port(to.Item2)!, bpdu);
                    }
                }
                foreach (var (i, rb) in Bridges.Index())
                    while (rb.TryTakeFdbFlush(out var port)) Flushed.Add((i, port.Number));
            }
        }

        public (RstpRole, RstpState) Of(int b, int p) => (Bridges[b].Port(p)!.Role, Bridges[b].Port(p)!.State);
    }

    /// <summary>The ring: bridge 1 (lowest address) the root; bridges 0 and 2 reach it directly; the segment between 0
    /// and 2 is designated by 2 (the lower ID), so 0's port 2 is the alternate, discarding.</summary>
    private static Net Ring()
    {
        var net = new Net();
        net.Add(0x0000_0000_0003);
        net.Add(0x0000_0000_0001);
        net.Add(0x0000_0000_0002);
        net.Link(0, 1, 1, 1);
        net.Link(1, 2, 2, 1);
        net.Link(2, 2, 0, 2);
        return net;
    }

    [Fact]
    public void Ring_ElectsOneRoot_OneAlternateDiscarding()
    {
        var net = Ring();
        net.Run(10_000);
        ulong root = net.Bridges[1].BridgeId;
        Assert.All(net.Bridges, b => Assert.Equal(root, b.RootId));
        Assert.True(net.Bridges[1].IsRoot);
        Assert.False(net.Bridges[0].IsRoot);
        Assert.Equal((RstpRole.Designated, RstpState.Forwarding), net.Of(1, 1));
        Assert.Equal((RstpRole.Designated, RstpState.Forwarding), net.Of(1, 2));
        Assert.Equal((RstpRole.Root, RstpState.Forwarding), net.Of(0, 1));
        Assert.Equal((RstpRole.Root, RstpState.Forwarding), net.Of(2, 1));
        Assert.Equal((RstpRole.Designated, RstpState.Forwarding), net.Of(2, 2));
        Assert.Equal((RstpRole.Alternate, RstpState.Discarding), net.Of(0, 2));
        Assert.Equal(RstpBridge.DefaultPortPathCost, net.Bridges[0].RootPathCost);
        Assert.Equal(0u, net.Bridges[1].RootPathCost);
        Assert.Equal(net.Bridges[0].Port(1)!.PortId, net.Bridges[0].BridgePortId);
        Assert.Same(net.Bridges[0].Port(1), net.Bridges[0].RootPort);
        Assert.Null(net.Bridges[1].RootPort);
        // The alternate's record is the designated bridge of its segment (bridge 2's port 2).
        Assert.Equal(net.Bridges[2].BridgeId, net.Bridges[0].Port(2)!.DesignatedBridgeId);
        Assert.Equal(net.Bridges[2].Port(2)!.PortId, net.Bridges[0].Port(2)!.DesignatedPortId);
        Assert.Equal(1, net.Bridges.Sum(b => b.Ports.Count(p => p.State == RstpState.Discarding)));
        // RST BPDUs only (version 2, type 2, 36 bytes), every one of them.
        Assert.All(net.Sent, s => Assert.Equal((36, 2, 2), (s.Bpdu.Length, (int)s.Bpdu[2], (int)s.Bpdu[3])));
    }

    /// <summary>Two point-to-point designated/root pairs reach forwarding through the handshake, with no timer run at
    /// all: the proposal, the sync, the agreement and the transitions all happen as the BPDUs are delivered.</summary>
    [Fact]
    public void ProposalAgreement_ForwardsWithoutWaitingForATimer()
    {
        var net = new Net();
        var b0 = net.Add(0x0000_0000_0005);
        var b1 = net.Add(0x0000_0000_0001);
        var b2 = net.Add(0x0000_0000_0009);
        net.Link(0, 1, 1, 1);
        net.Link(0, 2, 2, 1);
        net.Deliver();
        Assert.Equal((RstpRole.Designated, RstpState.Forwarding), net.Of(1, 1));
        Assert.Equal((RstpRole.Root, RstpState.Forwarding), net.Of(0, 1));
        Assert.Equal((RstpRole.Designated, RstpState.Forwarding), net.Of(0, 2));
        Assert.Equal((RstpRole.Root, RstpState.Forwarding), net.Of(2, 1));
        Assert.Equal(b1.BridgeId, b2.RootId);
        Assert.Equal(2 * RstpBridge.DefaultPortPathCost, b2.RootPathCost);
        // The designated port proposed, the root port answered with an agreement (flags: bit 1 proposal, bit 6 agreement).
        Assert.Contains(net.Sent, s => s.Bridge == 1 && (s.Bpdu[4] & 0x02) != 0);
        Assert.Contains(net.Sent, s => s.Bridge == 0 && s.Port == 1 && (s.Bpdu[4] & 0x40) != 0 && ((s.Bpdu[4] >> 2) & 3) == 2);
        Assert.Equal(b0.BridgeId, b2.Port(1)!.DesignatedBridgeId);
    }

    /// <summary>The same on the 100 ms clock: a bridge joined to a running tree forwards on its root port within a
    /// second of its link coming up (RSTP), where 802.1D waits twice the forward delay.</summary>
    [Fact]
    public void NewLink_ForwardsWithinASecond()
    {
        var net = Ring();
        net.Run(10_000);
        var b3 = net.Add(0x0000_0000_0010);
        net.Link(3, 1, 2, 3);
        net.Run(1000);
        Assert.Equal((RstpRole.Root, RstpState.Forwarding), net.Of(3, 1));
        Assert.Equal((RstpRole.Designated, RstpState.Forwarding), net.Of(2, 3));
        Assert.Equal(2 * RstpBridge.DefaultPortPathCost, b3.RootPathCost);
    }

    [Fact]
    public void RootLinkDown_AlternateTakesOverAtOnce_AndFlushes()
    {
        var net = Ring();
        net.Run(10_000);
        net.Flushed.Clear();
        net.Down(0, 1);
        net.Run(1000);
        Assert.Equal((RstpRole.Root, RstpState.Forwarding), net.Of(0, 2));
        Assert.Equal((RstpRole.Disabled, RstpState.Discarding), net.Of(0, 1));
        Assert.Equal(2 * RstpBridge.DefaultPortPathCost, net.Bridges[0].RootPathCost);
        Assert.Equal(net.Bridges[1].BridgeId, net.Bridges[0].RootId);
        // The new root port's forwarding is a topology change: the other bridges flush what they learned.
        Assert.Contains(net.Flushed, f => f.Bridge == 2);
        Assert.Contains(net.Flushed, f => f.Bridge == 1);
    }

    /// <summary>A link that stops carrying BPDUs without its carrier going: the root port's information ages out after
    /// three hello times (6 s), and the alternate takes over.</summary>
    [Fact]
    public void RootLinkSilent_FailsOverWithinThreeHelloTimes()
    {
        var net = Ring();
        net.Run(10_000);
        net.Cut(0, 1);
        net.Run(3 * RstpBridge.HelloTime * 1000 + 1000);
        Assert.Equal((RstpRole.Root, RstpState.Forwarding), net.Of(0, 2));
        Assert.Equal(RstpRole.Designated, net.Of(0, 1).Item1);
        Assert.Equal(net.Bridges[1].BridgeId, net.Bridges[0].RootId);
    }

    [Fact]
    public void RootBridgeGone_NextLowestBecomesRoot()
    {
        var net = Ring();
        net.Run(10_000);
        net.Down(1, 1);
        net.Down(1, 2);
        net.Run(3000);
        ulong root = net.Bridges[2].BridgeId;
        Assert.Equal(root, net.Bridges[0].RootId);
        Assert.True(net.Bridges[2].IsRoot);
        Assert.Equal((RstpRole.Root, RstpState.Forwarding), net.Of(0, 2));
        Assert.Equal((RstpRole.Designated, RstpState.Forwarding), net.Of(2, 2));
    }

    [Fact]
    public void EdgePorts_AdminAtOnce_AutoAfterTheEdgeDelay_LoseEdgeOnABpdu()
    {
        var net = new Net();
        var b = net.Add(0x0000_0000_0001);
        var admin = b.AddPort(1)!;
        b.SetEdge(admin, adminEdge: true, autoEdge: true);
        b.SetMacOperational(admin, true);
        var auto = b.AddPort(2)!;
        b.SetMacOperational(auto, true);
        var none = b.AddPort(3)!;
        b.SetEdge(none, adminEdge: false, autoEdge: false);
        b.SetMacOperational(none, true);
        Assert.True(admin.OperEdge);
        Assert.Equal(RstpState.Forwarding, admin.State);
        Assert.False(auto.OperEdge);
        Assert.Equal(RstpState.Discarding, auto.State);
        // No BPDU for the migrate time (3 s, point-to-point): the auto-edge port is an edge port and forwards.
        net.Run(RstpBridge.MigrateTime * 1000 + 1000);
        Assert.True(auto.OperEdge);
        Assert.Equal(RstpState.Forwarding, auto.State);
        Assert.False(none.OperEdge);
        Assert.NotEqual(RstpState.Forwarding, none.State);
        // The port without auto-edge forwards only after the forward delay (no agreement comes).
        net.Run(30_000);
        Assert.Equal(RstpState.Forwarding, none.State);
        // A bridge appears on the edge port: it is an edge port no more.
        var b1 = net.Add(0x0000_0000_0009);
        net.Link(1, 1, 0, 2);
        // This bridge answers the newcomer's inferior BPDU with its next hello (within 2 s).
        net.Run(2500);
        Assert.False(auto.OperEdge);
        Assert.Equal(RstpRole.Designated, auto.Role);
        Assert.Equal((RstpRole.Root, RstpState.Forwarding), net.Of(1, 1));
        Assert.Equal(b.BridgeId, b1.RootId);
    }

    /// <summary>An 802.1D neighbour: the RSTP port hears configuration BPDUs, falls back to sending them (not RST BPDUs)
    /// after the migrate time, and the two bridges agree on one root; the legacy root port forwards after its forward
    /// delays.</summary>
    [Fact]
    public void LegacyNeighbour_PortFallsBackTo8021D_AndOneRootIsElected()
    {
        var net = new Net();
        var b = net.Add(0x0000_0000_0001);
        int legacy = net.AddLegacy(0x0000_0000_0002);
        net.Link(0, 1, legacy, 0);
        net.Run(8000);
        Assert.False(b.Port(1)!.SendRstp);
        // Since the fallback only 802.1D configuration BPDUs (type 0, 35 bytes) go out of it.
        int fallback = net.Sent.FindLastIndex(s => s.Bridge == 0 && s.Bpdu[3] == 2);
        var after = net.Sent.Skip(fallback + 1).Where(s => s.Bridge == 0).ToList();
        Assert.NotEmpty(after);
        Assert.All(after, s => Assert.Equal((35, 0), (s.Bpdu.Length, (int)s.Bpdu[3])));
        net.Run(2 * StpBridge.DefaultForwardDelayMs + 4000);
        var stp = net.Legacy[0];
        Assert.Equal(b.BridgeId, stp.DesignatedRoot);
        Assert.True(b.IsRoot);
        Assert.Equal(StpState.Forwarding, stp.Port(0).State);
        Assert.Equal((RstpRole.Designated, RstpState.Forwarding), net.Of(0, 1));
    }

    /// <summary>The legacy neighbour as the root: this bridge's root port is found from configuration BPDUs, and a
    /// topology change here is told to the root in TCN BPDUs (it acknowledges).</summary>
    [Fact]
    public void LegacyRoot_RootPortSendsTcn_OnATopologyChange()
    {
        var net = new Net();
        var b = net.Add(0x0000_0000_0009);
        int legacy = net.AddLegacy(0x0000_0000_0002);
        net.Link(0, 1, legacy, 0);
        net.Run(40_000);
        Assert.Equal(net.Legacy[0].BridgeId, b.RootId);
        Assert.Equal((RstpRole.Root, RstpState.Forwarding), net.Of(0, 1));
        int before = net.Sent.Count;
        // A new non-edge port of this bridge reaches forwarding: a topology change, told to the root by TCN.
        var b2 = net.Add(0x0000_0000_0010);
        net.Link(1, 1, 0, 2);
        net.Run(3000);
        Assert.Contains(net.Sent.Skip(before), s => s.Bridge == 0 && s.Port == 1 && s.Bpdu.Length == 4 && s.Bpdu[3] == 0x80);
        Assert.True(net.Legacy[0].TopologyChange);
        Assert.Equal(net.Legacy[0].BridgeId, b2.RootId);
    }

    /// <summary>mcheck on a port talking 802.1D: it sends RST BPDUs again (a legacy neighbour that left would be
    /// found gone); with the legacy neighbour still there, which cannot read them, the neighbour's record of this root
    /// ages out (max age, 20 s), it sends configuration BPDUs again, and the port falls back again.</summary>
    [Fact]
    public void Mcheck_SendsRstBpdusAgain_ThenFallsBackWhileTheLegacyNeighbourStays()
    {
        var net = new Net();
        var b = net.Add(0x0000_0000_0001);
        int legacy = net.AddLegacy(0x0000_0000_0002);
        net.Link(0, 1, legacy, 0);
        net.Run(8000);
        Assert.False(b.Port(1)!.SendRstp);
        int before = net.Sent.Count;
        b.Mcheck(b.Port(1)!);
        Assert.True(b.Port(1)!.SendRstp);
        net.Run(2500);
        Assert.Contains(net.Sent.Skip(before), s => s.Bridge == 0 && s.Bpdu[3] == 2);
        Assert.True(b.Port(1)!.SendRstp);
        net.Run(StpBridge.DefaultMaxAgeMs + 4000);
        Assert.False(b.Port(1)!.SendRstp);
        Assert.Equal(b.BridgeId, net.Legacy[0].DesignatedRoot);
    }

    [Fact]
    public void Identifiers_AndSettings_AsOpenVswitchTakesThem()
    {
        var b = new RstpBridge("br", 0x0000_0000_0001, new NullTx());
        Assert.Equal(0x8000_0000_0000_0001UL, b.BridgeId);
        Assert.True(b.SetPriority(4097)); // rounded down to 4096
        Assert.Equal(0x1000_0000_0000_0001UL, b.BridgeId);
        Assert.False(b.SetPriority(61441));
        Assert.False(b.SetPriority(-1));
        var p = b.AddPort(5)!;
        Assert.Equal(0x8005, p.PortId);
        Assert.True(b.SetPortPriority(p, 33)); // rounded down to 32
        Assert.Equal(0x2005, p.PortId);
        Assert.False(b.SetPortPriority(p, 241));
        Assert.Null(b.AddPort(5));
        Assert.Null(b.AddPort(0));
        Assert.Null(b.AddPort(4096));
        Assert.False(b.SetPathCost(p, 0));
        Assert.True(b.SetPathCost(p, 200000000));
        Assert.False(b.SetTransmitHoldCount(11));
        Assert.False(b.SetAgeingTime(9));
        Assert.False(b.SetForceProtocolVersion(1));
        // max age must stay within 2 × (forward delay − 1): 30 is refused with forward delay 15, taken with 16.
        Assert.False(b.SetTimes(30, 15));
        Assert.Equal(20, b.BridgeMaxAge);
        Assert.True(b.SetTimes(30, 16));
        Assert.Equal((30, 16), (b.BridgeMaxAge, b.BridgeForwardDelay));
        Assert.Equal(20000u, RstpBridge.SpeedToCost(1000));
        Assert.Equal(2000u, RstpBridge.SpeedToCost(10_000));
        Assert.Equal(200000u, RstpBridge.SpeedToCost(100));
        Assert.Equal(2000u, RstpBridge.SpeedToCost(0));
    }

    [Fact]
    public void BadBpdus_CountAsErrors_AndChangeNothing()
    {
        var tx = new NullTx();
        var b = new RstpBridge("br", 0x0000_0000_0009, tx);
        var p = b.AddPort(1)!;
        b.SetMacOperational(p, true);
        b.Received(p, new byte[3]);
        b.Received(p, [0, 1, 2, 2, 0x3C, 0, 0, 0]); // protocol identifier 1
        b.Received(p, new byte[20]); // a configuration BPDU too short
        var rst = new byte[36];
        rst[2] = 2;
        rst[3] = 2;
        b.Received(p, rst.AsSpan(0, 35)); // an RST BPDU too short
        rst[3] = 0x33;
        b.Received(p, rst); // an unknown type
        Assert.Equal(5, p.ErrorCount);
        Assert.Equal(0, p.RxCount);
        Assert.True(b.IsRoot);
        // Its own configuration BPDU looped back to it is an error too.
        var own = new byte[35];
        BinaryPrimitives.WriteUInt64BigEndian(own.AsSpan(17), b.BridgeId);
        BinaryPrimitives.WriteUInt16BigEndian(own.AsSpan(25), p.PortId);
        BinaryPrimitives.WriteUInt16BigEndian(own.AsSpan(29), 20 << 8);
        b.Received(p, own);
        Assert.Equal(6, p.ErrorCount);
    }

    /// <summary>Two bridges joined by one link, their BPDUs passed through buffers made once: once converged, the hellos
    /// received and the timers run allocate nothing.</summary>
    [Fact]
    public void ReceivingAndTicking_AllocateNothing()
    {
        var link = new Link();
        var b0 = new RstpBridge("b0", 0x0000_0000_0001, new LinkEnd(link, 0));
        var b1 = new RstpBridge("b1", 0x0000_0000_0002, new LinkEnd(link, 1));
        var p0 = b0.AddPort(1)!;
        var p1 = b1.AddPort(1)!;
        b0.SetMacOperational(p0, true);
        b1.SetMacOperational(p1, true);
        for (int i = 0; i < 100; i++)
        {
            b0.Tick(100);
            b1.Tick(100);
            link.Deliver(b0, p0, b1, p1);
        }
        Assert.Equal((RstpRole.Root, RstpState.Forwarding), (p1.Role, p1.State));
        long rx = p1.RxCount;
        Assert.Equal(0, AllocationMeter.SteadyState(() =>
        {
            for (int i = 0; i < 200; i++)
            {
                b0.Tick(100);
                b1.Tick(100);
                link.Deliver(b0, p0, b1, p1);
            }
        }));
        Assert.True(p1.RxCount - rx >= 9, $"{p1.RxCount - rx} hellos in 20 s");
    }

    /// <summary>BPDUs in flight on one link, in buffers made once.</summary>
    private sealed class Link
    {
        private readonly byte[][] _bpdu = [.. Enumerable.Range(0, 64).Select(_ => new byte[RstpBridge.RstBpduSize])];
        private readonly int[] _from = new int[64], _size = new int[64];
        private int _count;

        public void Add(int from, ReadOnlySpan<byte> bpdu)
        {
            if (_count == _bpdu.Length) return;
            bpdu.CopyTo(_bpdu[_count]);
            _from[_count] = from;
            _size[_count] = bpdu.Length;
            _count++;
        }

        public void Deliver(RstpBridge b0, RstpPort p0, RstpBridge b1, RstpPort p1)
        {
            for (int i = 0; i < _count; i++)
            {
                if (_from[i] == 0) b1.Received(p1, _bpdu[i].AsSpan(0, _size[i]));
                else b0.Received(p0, _bpdu[i].AsSpan(0, _size[i]));
            }
            _count = 0;
        }
    }

    private sealed class LinkEnd(Link link, int end) : IStpTransmit
    {
        public void Send(int portNo, ReadOnlySpan<byte> bpdu) => link.Add(end, bpdu);
    }

    private sealed class NullTx : IStpTransmit
    {
        public void Send(int portNo, ReadOnlySpan<byte> bpdu)
        {
        }
    }
}
