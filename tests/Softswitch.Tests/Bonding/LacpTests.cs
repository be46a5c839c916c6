using System.Text;
using Softswitch.Bonding;
using Softswitch.Datapath.Ports;

namespace Softswitch.Tests.Bonding;

/// <summary>
/// LACP (<see cref="Lacp"/>, 802.1AX as Open vSwitch's lib/lacp.c runs it) on a fake clock: two systems wired member to
/// member negotiate, each member is enabled only once its partner says it is in sync, a partner that goes quiet expires
/// then defaults, a passive side waits for an active one, a loop to oneself never attaches, and the frame round-trips.
/// Bond member selection (<see cref="BondMembers"/>): carrier with up and down delays, the active member's choice.
/// </summary>
public sealed class LacpTests
{
    /// <summary>Two LACP systems whose members i are wired together, stepped on one clock every 100 ms.</summary>
    private sealed class Pair
    {
        public readonly Lacp A = new("bondA"), B = new("bondB");
        public long Now;
        public readonly bool[] Wired = [true, true];
        private readonly byte[] _frame = new byte[LacpFrame.FrameSize];

        public Pair(bool aActive = true, bool bActive = true, bool fast = true, ulong bSysId = 0x0200_0000_00B0)
        {
            A.Configure(0x0200_0000_00A0, 65534, aActive, fast);
            B.Configure(bSysId, 65534, bActive, fast);
            for (ushort i = 1; i <= 2; i++)
            {
                A.SetCarrier(A.Register(i, $"a{i}", i, 65535, 0, Now), true, Now);
                B.SetCarrier(B.Register(i, $"b{i}", i, 65535, 0, Now), true, Now);
            }
        }

        public void Run(int ms)
        {
            for (int t = 0; t < ms; t += 100)
            {
                Now += 100;
                A.Run(Now, (m, actor, partner) => Deliver(B, m.No, actor, partner));
                B.Run(Now, (m, actor, partner) => Deliver(A, m.No, actor, partner));
            }
        }

        private void Deliver(Lacp to, ushort member, LacpInfo actor, LacpInfo partner)
        {
            if (!Wired[member - 1]) return;
            LacpFrame.Write(_frame, 0x0200_0000_0001, actor, partner);
            to.Received(to.Find(member)!, _frame, Now);
        }

        public void Cut(int member)
        {
            Wired[member - 1] = false;
            A.SetCarrier(A.Find((ushort)member)!, false, Now);
            B.SetCarrier(B.Find((ushort)member)!, false, Now);
        }
    }

    [Fact]
    public void TwoActiveSystems_Negotiate_AndEveryMemberIsInSync()
    {
        var p = new Pair();
        Assert.False(p.A.Negotiated);
        Assert.Equal(BondLacp.Configured, p.A.Status);
        p.Run(3000);
        foreach (var lacp in new[] { p.A, p.B })
        {
            Assert.True(lacp.Negotiated);
            Assert.Equal(BondLacp.Negotiated, lacp.Status);
            Assert.All(lacp.Members, m => Assert.True(Lacp.MayEnable(m) && Lacp.IsCurrent(m) && m.Status == LacpMemberStatus.Current, m.Name));
        }
        var a1 = p.A.Find(1)!;
        Assert.Equal(0x0200_0000_00B0UL, a1.Partner.SysId);
        Assert.Equal(1, a1.Partner.Key);   // B's key: its key member's port id
        var actor = p.A.Actor(a1);
        Assert.Equal(Lacp.StateActivity | Lacp.StateTimeout | Lacp.StateAggregation | Lacp.StateSync | Lacp.StateCollecting | Lacp.StateDistributing, actor.State);
        // Fast: a PDU a second, plus those sent when the actor changed.
        Assert.InRange(a1.TxPdus, 3, 8);
        Assert.Equal(a1.TxPdus, p.B.Find(1)!.RxPdus);
    }

    [Fact]
    public void APartnerThatGoesQuiet_Expires_ThenDefaults_AndItsMemberIsDisabled()
    {
        var p = new Pair();
        p.Run(3000);
        p.Wired[1] = false;   // member 2 stops hearing its partner (the carrier stays up)
        var a2 = p.A.Find(2)!;
        long cut = p.Now;
        // It was heard within the last second (fast): it expires three seconds after, no later.
        while (a2.Status == LacpMemberStatus.Current && p.Now - cut <= 4000) p.Run(100);
        Assert.Equal(LacpMemberStatus.Expired, a2.Status);
        Assert.InRange(p.Now - cut, 2000, 3100);
        Assert.False(Lacp.MayEnable(a2));
        Assert.True(Lacp.IsCurrent(a2));
        // Expired for three fast intervals, then defaulted.
        p.Run(2900);
        Assert.Equal(LacpMemberStatus.Expired, a2.Status);
        p.Run(100);
        Assert.Equal(LacpMemberStatus.Defaulted, a2.Status);
        Assert.False(Lacp.IsCurrent(a2));
        Assert.Equal((1L, 1L), (a2.LinkExpired, a2.LinkDefaulted));
        // The other member carries on; the bond stays negotiated.
        Assert.True(Lacp.MayEnable(p.A.Find(1)!));
        Assert.True(p.A.Negotiated);
    }

    [Fact]
    public void ACarrierLoss_TakesTheMemberOutAtOnce_AndItsReturnBringsItBack()
    {
        var p = new Pair();
        p.Run(3000);
        p.Cut(1);
        p.Run(100);
        Assert.False(Lacp.MayEnable(p.A.Find(1)!));
        Assert.True(Lacp.MayEnable(p.A.Find(2)!));
        p.Wired[0] = true;
        p.A.SetCarrier(p.A.Find(1)!, true, p.Now);
        p.B.SetCarrier(p.B.Find(1)!, true, p.Now);
        p.Run(3000);
        Assert.True(Lacp.MayEnable(p.A.Find(1)!));
        Assert.True(Lacp.MayEnable(p.B.Find(1)!));
    }

    [Fact]
    public void PassiveSides_WaitForAnActiveOne()
    {
        var both = new Pair(aActive: false, bActive: false);
        both.Run(5000);
        Assert.False(both.A.Negotiated || both.B.Negotiated);
        Assert.All(both.A.Members, m => Assert.Equal(0, m.TxPdus));
        var one = new Pair(aActive: true, bActive: false);
        one.Run(3000);
        Assert.True(one.A.Negotiated && one.B.Negotiated);
        Assert.All(one.B.Members, m => Assert.True(Lacp.MayEnable(m)));
    }

    [Fact]
    public void AMemberLoopedToItsOwnSystem_NeverAttaches()
    {
        var p = new Pair(bSysId: 0x0200_0000_00A0);
        p.Run(3000);
        // (Open vSwitch's lacp_update_attached may leave the bond marked negotiated from before the loop was seen; no
        // member carries anything.)
        Assert.All(p.A.Members, m => Assert.False(m.Attached || Lacp.MayEnable(m)));
    }

    [Fact]
    public void Frames_RoundTrip_MarkersAndBadFramesAreCounted()
    {
        var actor = new LacpInfo(65534, 0x0200_0000_00A0, 7, 65535, 3, Lacp.StateActivity | Lacp.StateSync);
        var partner = new LacpInfo(100, 0x0200_0000_00B0, 9, 1, 4, Lacp.StateTimeout);
        var frame = new byte[LacpFrame.FrameSize];
        Assert.Equal(124, LacpFrame.Write(frame, 0x0200_0000_0011, actor, partner));
        Assert.Equal("0180C2000002020000000011880901010114FFFE0200000000A00007FFFF000309000000", Convert.ToHexString(frame, 0, 36));
        Assert.Equal(LacpFrame.SubtypeLacp, LacpFrame.Parse(frame, out var a, out var b));
        Assert.Equal((actor, partner), (a, b));
        Assert.Equal(0, LacpFrame.Parse(frame.AsSpan(0, 100), out _, out _));
        var lacp = new Lacp("b");
        var m = lacp.Register(1, "m", 1, 65535, 0, 0);
        lacp.SetCarrier(m, true, 0);
        frame[14] = LacpFrame.SubtypeMarker;
        lacp.Received(m, frame, 0);
        frame[14] = 9;
        lacp.Received(m, frame, 0);
        Assert.Equal((2L, 1L, 1L), (m.RxPdus, m.RxMarker, m.RxBad));
        Assert.Equal(LacpMemberStatus.Defaulted, m.Status);
    }

    [Fact]
    public void Show_PrintsAsOpenVswitch()
    {
        var p = new Pair();
        p.Run(3000);
        var s = new StringBuilder();
        p.A.Show(s);
        string text = s.ToString();
        Assert.StartsWith("---- bondA ----\n  status: active negotiated\n  sys_id: 02:00:00:00:00:a0\n  sys_priority: 65534\n  aggregation key: 1\n  lacp_time: fast\n", text);
        Assert.Contains("\nmember: a1: current attached\n  port_id: 1\n  port_priority: 65535\n  may_enable: true\n", text);
        Assert.Contains("  partner sys_id: 02:00:00:00:00:b0\n", text);
        Assert.Contains("  actor state: activity timeout aggregation synchronized collecting distributing\n", text);
    }

    [Fact]
    public void Members_AreEnabledAfterTheirUpdelay_DisabledAfterTheirDowndelay_AndTheActiveOneMoves()
    {
        var b = new BondMembers("bond0", BondMode.ActiveBackup) { UpdelayMs = 200, DowndelayMs = 300 };
        var m1 = b.Add(1, "p1", 0x0200_0000_0001);
        var m2 = b.Add(2, "p2", 0x0200_0000_0002);
        b.SetCarrier(m1, true);
        b.SetCarrier(m2, true);
        // No member enabled: the first whose updelay ends is enabled at once and made active.
        Assert.True(b.Run(0));
        Assert.Same(m1, b.Active);
        Assert.True(m1.Enabled);
        Assert.False(m2.Enabled);
        Assert.False(b.Run(100));
        Assert.True(b.Run(200));
        Assert.True(m2.Enabled);
        // The active member's carrier drops: still enabled until its downdelay ends, then the other takes over.
        b.SetCarrier(m1, false);
        Assert.False(b.Run(300));
        Assert.True(m1.Enabled);
        Assert.True(b.Run(600));
        Assert.False(m1.Enabled);
        Assert.Same(m2, b.Active);
        Assert.Equal(0x0200_0000_0002UL, b.ActiveMac);
        // A carrier that flaps back within the delay changes nothing.
        b.SetCarrier(m2, false);
        b.Run(700);
        b.SetCarrier(m2, true);
        Assert.False(b.Run(1100));
        Assert.True(m2.Enabled);
        // LACP's word counts as the carrier does.
        BondMembers.SetMayEnable(m2, false);
        b.Run(1200);
        Assert.True(b.Run(1500));
        Assert.Null(b.Active);
        var bond = new Bond("bond0", BondMode.ActiveBackup, [1, 2]);
        b.Publish(bond, BondLacp.Off);
        Assert.Equal(PortNumber.None, bond.Active);
    }

    [Fact]
    public void TheLastActiveMember_IsChosenAgainByItsAddress()
    {
        var b = new BondMembers("bond0", BondMode.BalanceSlb) { ActiveMac = 0x0200_0000_0002 };
        var m1 = b.Add(1, "p1", 0x0200_0000_0001);
        var m2 = b.Add(2, "p2", 0x0200_0000_0002);
        b.SetCarrier(m1, true);
        b.SetCarrier(m2, true);
        b.Run(0);
        Assert.Same(m2, b.Active);
        var bond = new Bond("bond0", BondMode.BalanceSlb, [1, 2]);
        b.Publish(bond, BondLacp.Off);
        Assert.Equal((ushort)2, bond.Active);
        Assert.True(bond.IsEnabled(1) && bond.IsEnabled(2));
        var s = new StringBuilder();
        b.Show(s, BondLacp.Off, 0, 0);
        Assert.StartsWith("---- bond0 ----\nbond_mode: balance-slb\n", s.ToString());
        Assert.Contains("active member mac: 02:00:00:00:00:02(p2)\n\nmember p1: enabled\n  may_enable: true\n\nmember p2: enabled\n  active member\n  may_enable: true\n", s.ToString());
    }
}
