using Softswitch.Stp;

namespace Softswitch.Tests.Stp;

/// <summary>
/// The 802.1D engine on a simulated network driven by a fake clock: bridges joined by point-to-point links, BPDUs
/// delivered at each step of 100 ms. Root election, roles, the state walk, topology change and max-age expiry.
/// </summary>
public sealed class StpBridgeTests
{
    /// <summary>Bridges, links between their ports, and the BPDUs in flight.</summary>
    private sealed class Net
    {
        public readonly List<StpBridge> Bridges = [];
        private readonly Dictionary<(int, int), (int, int)> _links = [];
        private readonly HashSet<(int, int)> _cut = [];
        private readonly List<(int Bridge, int Port, byte[] Bpdu)> _inFlight = [];
        public readonly List<(int Bridge, int Port, byte[] Bpdu)> Sent = [];

        private sealed class Tx(Net net, int bridge) : IStpTransmit
        {
            public void Send(int portNo, ReadOnlySpan<byte> bpdu)
            {
                net._inFlight.Add((bridge, portNo, bpdu.ToArray()));
                net.Sent.Add((bridge, portNo, bpdu.ToArray()));
            }
        }

        public StpBridge Add(ulong mac, ushort priority = StpBridge.DefaultBridgePriority)
        {
            var b = new StpBridge($"br{Bridges.Count}", ((ulong)priority << 48) | mac, new Tx(this, Bridges.Count));
            Bridges.Add(b);
            return b;
        }

        public void Link(int b1, int p1, int b2, int p2)
        {
            _links[(b1, p1)] = (b2, p2);
            _links[(b2, p2)] = (b1, p1);
            Bridges[b1].EnablePort(Bridges[b1].Port(p1));
            Bridges[b2].EnablePort(Bridges[b2].Port(p2));
        }

        /// <summary>The link stops carrying frames, one way or both, without either port seeing its link go down.</summary>
        public void Cut(int b, int p) => _cut.Add((b, p));

        public void Run(int ms)
        {
            for (int t = 0; t < ms; t += 100)
            {
                foreach (var b in Bridges) b.Tick(100);
                Deliver();
            }
        }

        public void Deliver()
        {
            for (int guard = 0; guard < 100 && _inFlight.Count > 0; guard++)
            {
                var batch = _inFlight.ToArray();
                _inFlight.Clear();
                foreach (var (b, p, bpdu) in batch)
                {
                    if (_cut.Contains((b, p)) || !_links.TryGetValue((b, p), out var to) || _cut.Contains(to)) continue;
                    var rb = Bridges[to.Item1];
                    rb.Received(rb.Port(to.Item2), bpdu);
                }
            }
        }
    }

    private const int Converge = 2 * StpBridge.DefaultForwardDelayMs + 4000;

    [Fact]
    public void Ring_ElectsLowestId_BlocksOnePort()
    {
        var net = new Net();
        net.Add(0x0000_0000_0003);
        net.Add(0x0000_0000_0001); // lowest address: the root
        net.Add(0x0000_0000_0002);
        net.Link(0, 0, 1, 0);
        net.Link(1, 1, 2, 0);
        net.Link(2, 1, 0, 1);
        net.Run(Converge);
        ulong root = net.Bridges[1].BridgeId;
        Assert.All(net.Bridges, b => Assert.Equal(root, b.DesignatedRoot));
        Assert.True(net.Bridges[1].IsRoot);
        Assert.All(net.Bridges[1].EnabledPorts, p => Assert.Equal((StpRole.Designated, StpState.Forwarding), (p.Role, p.State)));
        // Bridge 3 (index 0) and bridge 2 (index 2) each reach the root directly; their shared segment is designated
        // by the lower bridge ID (index 2), so index 0's port 1 is the one blocked.
        Assert.Equal(StpRole.Root, net.Bridges[0].Port(0).Role);
        Assert.Equal(StpRole.Root, net.Bridges[2].Port(0).Role);
        Assert.Equal((StpRole.Designated, StpState.Forwarding), (net.Bridges[2].Port(1).Role, net.Bridges[2].Port(1).State));
        Assert.Equal((StpRole.Alternate, StpState.Blocking), (net.Bridges[0].Port(1).Role, net.Bridges[0].Port(1).State));
        Assert.Equal(2, net.Bridges[0].RootPathCost);
        Assert.Equal(0, net.Bridges[1].RootPathCost);
        int blocked = net.Bridges.Sum(b => b.EnabledPorts.Count(p => p.State == StpState.Blocking));
        Assert.Equal(1, blocked);
    }

    [Fact]
    public void Priority_OutranksAddress()
    {
        var net = new Net();
        net.Add(0x0000_0000_0001);
        net.Add(0x0000_0000_0009, priority: 4096);
        net.Link(0, 0, 1, 0);
        net.Run(Converge);
        Assert.True(net.Bridges[1].IsRoot);
        Assert.Equal(net.Bridges[1].BridgeId, net.Bridges[0].DesignatedRoot);
        // Changing priority later moves the root back.
        net.Bridges[0].SetBridgePriority(0);
        net.Run(Converge);
        Assert.True(net.Bridges[0].IsRoot);
        Assert.Equal(net.Bridges[0].BridgeId, net.Bridges[1].DesignatedRoot);
    }

    [Fact]
    public void Port_WalksListeningLearningForwarding_OnForwardDelay()
    {
        var net = new Net();
        var b = net.Add(0x0000_0000_0001);
        b.EnablePort(b.Port(4));
        Assert.Equal(StpState.Listening, b.Port(4).State); // alone: designated, so it starts towards forwarding at once
        Assert.True(b.TryTakeChangedPort(out var changed));
        Assert.Same(b.Port(4), changed);
        Assert.False(b.TryTakeChangedPort(out _));
        net.Run(StpBridge.DefaultForwardDelayMs - 200);
        Assert.Equal(StpState.Listening, b.Port(4).State);
        net.Run(400);
        Assert.Equal(StpState.Learning, b.Port(4).State);
        net.Run(StpBridge.DefaultForwardDelayMs - 400);
        Assert.Equal(StpState.Learning, b.Port(4).State);
        net.Run(400);
        Assert.Equal(StpState.Forwarding, b.Port(4).State);
        Assert.True(b.TryTakeChangedPort(out changed));
        Assert.Same(b.Port(4), changed);
        Assert.Equal(0x8005, b.Port(4).PortId); // priority 128, number 5
        b.DisablePort(b.Port(4));
        Assert.Equal((StpState.Disabled, StpRole.Disabled), (b.Port(4).State, b.Port(4).Role));
    }

    [Fact]
    public void Bpdus_CarryWhatTheRootSays_EveryHelloTime()
    {
        var net = new Net();
        var root = net.Add(0x0000_0000_0001, priority: 0x1000);
        net.Add(0x0000_0000_0002);
        net.Link(0, 0, 1, 0);
        net.Run(Converge);
        net.Sent.Clear();
        net.Run(10_000);
        var fromRoot = net.Sent.Where(s => s.Bridge == 0).ToList();
        Assert.InRange(fromRoot.Count, 4, 6); // hello 2 s
        var c = fromRoot[^1].Bpdu;
        Assert.Equal(StpBridge.ConfigBpduSize, c.Length);
        Assert.Equal("0000" + "00" + "00", Convert.ToHexString(c, 0, 4));
        Assert.Equal("1000000000000001", Convert.ToHexString(c, 5, 8)); // root id
        Assert.Equal("00000000", Convert.ToHexString(c, 13, 4));         // cost
        Assert.Equal("1000000000000001", Convert.ToHexString(c, 17, 8)); // bridge id
        Assert.Equal("8001", Convert.ToHexString(c, 25, 2));
        Assert.Equal("0000" + "1400" + "0200" + "0F00", Convert.ToHexString(c, 27, 8)); // age 0, 20 s, 2 s, 15 s in 1/256 s
        Assert.DoesNotContain(net.Sent, s => s.Bridge == 1); // the other bridge's only port is its root port
        Assert.True(root.Port(0).TxCount >= fromRoot.Count);
        Assert.Equal(0, net.Bridges[1].Port(0).ErrorCount);
    }

    [Fact]
    public void TopologyChange_TcnReachesRoot_FlushesEveryBridge()
    {
        var net = new Net();
        net.Add(0x0000_0000_0001);
        net.Add(0x0000_0000_0002);
        net.Add(0x0000_0000_0003);
        net.Link(0, 0, 1, 0);
        net.Link(1, 1, 2, 0);
        net.Run(Converge);
        foreach (var b in net.Bridges) b.TakeFdbFlush();
        net.Sent.Clear();
        // A new leaf port on the last bridge reaches forwarding: it detects a topology change.
        net.Bridges[2].EnablePort(net.Bridges[2].Port(7));
        net.Run(Converge);
        Assert.Contains(net.Sent, s => s.Bridge == 2 && s.Bpdu.Length == StpBridge.TcnBpduSize);
        Assert.Contains(net.Sent, s => s.Bridge == 1 && s.Bpdu.Length == StpBridge.TcnBpduSize); // relayed to the root
        Assert.Contains(net.Sent, s => s.Bridge == 0 && s.Bpdu.Length == StpBridge.ConfigBpduSize && (s.Bpdu[4] & 0x01) != 0);
        Assert.Contains(net.Sent, s => s.Bridge == 1 && s.Bpdu.Length == StpBridge.ConfigBpduSize && (s.Bpdu[4] & 0x80) != 0); // ack
        Assert.All(net.Bridges, b => Assert.True(b.TakeFdbFlush()));
        // The root signals it for max-age plus forward-delay, then stops.
        net.Sent.Clear();
        net.Run(StpBridge.DefaultMaxAgeMs + StpBridge.DefaultForwardDelayMs);
        Assert.False(net.Bridges[0].TopologyChange);
        Assert.Equal(0, net.Sent[^1].Bpdu[4] & 0x01);
    }

    [Fact]
    public void LinkLoss_MaxAgeExpires_BlockedPortTakesOver()
    {
        var net = new Net();
        net.Add(0x0000_0000_0003);
        net.Add(0x0000_0000_0001);
        net.Add(0x0000_0000_0002);
        net.Link(0, 0, 1, 0);
        net.Link(1, 1, 2, 0);
        net.Link(2, 1, 0, 1);
        net.Run(Converge);
        var blocked = net.Bridges[0].Port(1);
        Assert.Equal(StpState.Blocking, blocked.State);
        // The root's link to bridge index 0 goes silent (no link-down seen by either end).
        net.Cut(1, 0);
        net.Run(StpBridge.DefaultMaxAgeMs - 2000);
        Assert.Equal(StpState.Blocking, blocked.State);
        net.Run(4000);
        Assert.Equal(StpRole.Root, blocked.Role); // the root is now reached the other way round
        Assert.Equal(StpState.Listening, blocked.State);
        net.Run(2 * StpBridge.DefaultForwardDelayMs + 1000);
        Assert.Equal(StpState.Forwarding, blocked.State);
        Assert.Equal(4, net.Bridges[0].RootPathCost);
        // The silent port: bridge 0's end decided it is designated (nothing heard) and forwards; the tree is whole.
        Assert.Equal(net.Bridges[1].BridgeId, net.Bridges[0].DesignatedRoot);
    }

    [Fact]
    public void RootLoss_NextLowestBecomesRoot()
    {
        var net = new Net();
        net.Add(0x0000_0000_0001);
        net.Add(0x0000_0000_0002);
        net.Add(0x0000_0000_0003);
        net.Link(0, 0, 1, 0);
        net.Link(1, 1, 2, 0);
        net.Run(Converge);
        Assert.Equal(net.Bridges[0].BridgeId, net.Bridges[2].DesignatedRoot);
        net.Bridges[1].DisablePort(net.Bridges[1].Port(0)); // link to the root down
        Assert.True(net.Bridges[1].IsRoot);
        // The far bridge keeps what its root port last heard (a better root) until that information is max-age old.
        net.Run(StpBridge.DefaultMaxAgeMs - 3000);
        Assert.Equal(net.Bridges[0].BridgeId, net.Bridges[2].DesignatedRoot);
        net.Run(4000);
        Assert.Equal(net.Bridges[1].BridgeId, net.Bridges[2].DesignatedRoot);
    }

    [Fact]
    public void BadBpdus_CountedAsErrors_ChangeNothing()
    {
        var net = new Net();
        var b = net.Add(0x0000_0000_0005);
        b.EnablePort(b.Port(0));
        var p = b.Port(0);
        b.Received(p, [0x00]);                               // runt
        b.Received(p, [0x00, 0x01, 0x00, 0x00]);             // protocol id 1
        b.Received(p, [0x00, 0x00, 0x00, 0x00, 0x00]);       // config too short
        b.Received(p, [0x00, 0x00, 0x00, 0x02]);             // unknown type (RST without RSTP)
        Assert.Equal(4, p.ErrorCount);
        Assert.Equal(0, p.RxCount);
        Assert.True(b.IsRoot);
        // A BPDU whose message age reached its max age is dropped silently.
        var old = new byte[StpBridge.ConfigBpduSize];
        old[12] = 1; // root id ...0001, better than ours
        old[27] = 0x14; // age 20 s
        old[29] = 0x14; // max age 20 s
        b.Received(p, old);
        Assert.True(b.IsRoot);
    }

    [Fact]
    public void Times_ClampedAsTheStandardRequires()
    {
        var net = new Net();
        var b = net.Add(1);
        b.SetTimes(500, 3000, 1000);
        Assert.Equal((1000, 6000, 4000), (StpBridge.TimerToMs(b.BridgeHelloTime), StpBridge.TimerToMs(b.BridgeMaxAge), StpBridge.TimerToMs(b.BridgeForwardDelay)));
        Assert.Equal(b.BridgeMaxAge, b.MaxAge); // the root uses its own
        Assert.Equal(19, StpBridge.SpeedToCost(100));
        Assert.Equal(2, StpBridge.SpeedToCost(10000));
        Assert.Equal(4, StpBridge.SpeedToCost(1000));
        Assert.Equal(100, StpBridge.SpeedToCost(10));
    }

    [Fact]
    public void Frame_WriteAndParse_RoundTrip()
    {
        var frame = new byte[64];
        byte[] bpdu = [0, 0, 0, 0x80];
        int size = StpFrame.Write(frame, 0x0200_0000_0001, bpdu);
        Assert.Equal(60, size);
        Assert.Equal("0180C2000000" + "020000000001" + "0007" + "424203" + "00000080", Convert.ToHexString(frame, 0, 21));
        Assert.True(StpFrame.TryGetBpdu(frame.AsSpan(0, size), out var got));
        Assert.Equal(bpdu, got.ToArray());
        frame[15] = 0xAA; // SNAP, not the STP SAP
        Assert.False(StpFrame.TryGetBpdu(frame.AsSpan(0, size), out _));
        Assert.False(StpFrame.TryGetBpdu(frame.AsSpan(0, 10), out _));
    }
}
