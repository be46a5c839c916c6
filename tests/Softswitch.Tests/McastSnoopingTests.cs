using System.Text;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;
using Softswitch.Snooping;
using Softswitch.TestKit;

namespace Softswitch.Tests;

/// <summary>
/// IGMP and MLD snooping's protocol room (<see cref="McastSnooping"/> over <see cref="McastFrame"/>), on a fake clock in
/// milliseconds: IGMPv1, v2 (join, leave) and v3 records, MLDv1 and v2, as Open vSwitch's lib/mcast-snooping.c takes
/// them; queries make router ports; aging of ports and routers; the table-size limit (least recently reported group
/// first); frames cut short, with a bad checksum or records past their end refused whole, never thrown on.
/// </summary>
public sealed class McastSnoopingTests
{
    private static readonly MacAddress H1 = MacAddress.Parse("0e:00:00:00:0c:01"), H2 = MacAddress.Parse("0e:00:00:00:0c:02"),
        R = MacAddress.Parse("0e:00:00:00:0c:09");

    private static (ulong, ulong) G4(string group) => McastSnoopingTable.MappedIpv4(McastFrames.Ipv4(group));

    private static (ulong, ulong) G6(string group)
    {
        var b = System.Net.IPAddress.Parse(group).GetAddressBytes();
        return (System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(b), System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(b.AsSpan(8)));
    }

    private static ushort[] Ports(McastSnooping s, (ulong High, ulong Low) g, ushort vlan = 0) => s.PortsOf(g.High, g.Low, vlan);

    private static void Ok(McastSnooping s, byte[] frame, ushort port, long now, ushort vlan = 0) => Assert.Equal(McastFrameError.None, s.Receive(frame, port, vlan, now));

    [Fact]
    public void IgmpV1AndV2_JoinAndLeave_PerPortAndVlan()
    {
        var s = new McastSnooping();
        Ok(s, McastFrames.IgmpV2Report(H1, "10.0.0.1", "239.1.1.1"), 1, 0);
        Ok(s, McastFrames.IgmpV1Report(H2, "10.0.0.2", "239.1.1.1"), 2, 0);
        Ok(s, McastFrames.IgmpV2Report(H2, "10.0.0.2", "239.1.1.1", vlan: 10), 2, 0, vlan: 10);
        Assert.Equal([1, 2], Ports(s, G4("239.1.1.1")));
        Assert.Equal([2], Ports(s, G4("239.1.1.1"), 10));
        Assert.Equal(2, s.GroupCount);
        // A leave takes the port out at once; the last port out takes the group.
        Ok(s, McastFrames.IgmpLeave(H1, "10.0.0.1", "239.1.1.1"), 1, 0);
        Assert.Equal([2], Ports(s, G4("239.1.1.1")));
        Ok(s, McastFrames.IgmpLeave(H2, "10.0.0.2", "239.1.1.1"), 2, 0);
        Assert.Empty(Ports(s, G4("239.1.1.1")));
        Assert.Equal(1, s.GroupCount);
        var t = s.Build();
        Assert.Equal(1, t.Count);
        Assert.Equal([(ushort)2], t.Lookup(G4("239.1.1.1").Item1, G4("239.1.1.1").Item2, 10)!);
        Assert.False(s.Changed);
    }

    [Fact]
    public void IgmpV3Records_AsOpenVswitchTakesThem()
    {
        var s = new McastSnooping();
        string[] none = [], one = ["10.9.9.9"];
        // IS_EX and TO_EX join (with or without sources), ALLOW and BLOCK with sources join, IS_IN and TO_IN with
        // sources join; an unknown record type (7) is skipped.
        Ok(s, McastFrames.IgmpV3Report(H1, "10.0.0.1", null, (McastFrame.ModeIsExclude, "239.0.0.1", none), (McastFrame.ChangeToExclude, "239.0.0.2", one),
            (McastFrame.AllowNewSources, "239.0.0.3", one), (McastFrame.BlockOldSources, "239.0.0.4", one), (McastFrame.ModeIsInclude, "239.0.0.5", one),
            (McastFrame.ChangeToInclude, "239.0.0.6", one), (7, "239.0.0.7", none)), 1, 0);
        for (int i = 1; i <= 6; i++) Assert.Equal([1], Ports(s, G4($"239.0.0.{i}")));
        Assert.Empty(Ports(s, G4("239.0.0.7")));
        // IS_IN and TO_IN with no source are leaves.
        Ok(s, McastFrames.IgmpV3Report(H1, "10.0.0.1", null, (McastFrame.ChangeToInclude, "239.0.0.1", none), (McastFrame.ModeIsInclude, "239.0.0.2", none)), 1, 0);
        Assert.Empty(Ports(s, G4("239.0.0.1")));
        Assert.Empty(Ports(s, G4("239.0.0.2")));
        Assert.Equal(4, s.GroupCount);
        var text = new StringBuilder();
        s.Show(text, 0, p => p.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Contains("    1     0  IGMPv3    239.0.0.3           0\n", text.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Mld_V1AndV2_LikeIgmp()
    {
        var s = new McastSnooping();
        Ok(s, McastFrames.MldV1Report(H1, "fe80::1", "ff05::1"), 1, 0);
        Ok(s, McastFrames.MldV2Report(H2, "fe80::2", (McastFrame.ChangeToExclude, "ff05::1", []), (McastFrame.ModeIsExclude, "ff0e::42", [])), 2, 0);
        Assert.Equal([1, 2], Ports(s, G6("ff05::1")));
        Assert.Equal([2], Ports(s, G6("ff0e::42")));
        Ok(s, McastFrames.MldDone(H1, "fe80::1", "ff05::1"), 1, 0);
        Ok(s, McastFrames.MldV2Report(H2, "fe80::2", (McastFrame.ChangeToInclude, "ff0e::42", [])), 2, 0);
        Assert.Equal([2], Ports(s, G6("ff05::1")));
        Assert.Empty(Ports(s, G6("ff0e::42")));
        // A query from a router's link-local address marks its port; one from :: does not.
        Ok(s, McastFrames.MldQuery(R, "::"), 4, 0);
        Assert.False(s.IsRouter(0, 4));
        Ok(s, McastFrames.MldQuery(R, "fe80::9"), 5, 0);
        Assert.True(s.IsRouter(0, 5));
        var text = new StringBuilder();
        s.Show(text, 1000, p => p.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(" port  VLAN  protocol  GROUP                Age\n"
            + "    2     0  MLDv2     ff05::1           1\n"
            + "    5     0  UNKNOWN   querier               1\n", text.ToString());
    }

    [Fact]
    public void Queries_MakeRouterPorts_WhichJoinNothing_AndAgeOutAfter180Seconds()
    {
        var s = new McastSnooping();
        Ok(s, McastFrames.IgmpQuery(R, "0.0.0.0"), 3, 0);
        Assert.False(s.IsRouter(0, 3));
        Ok(s, McastFrames.IgmpQuery(R, "10.0.0.9"), 3, 0);
        Assert.True(s.IsRouter(0, 3));
        Assert.False(s.IsRouter(10, 3));
        // Avoid duplicate packets: a router port gets a group's traffic anyway, it joins nothing.
        Ok(s, McastFrames.IgmpV2Report(H1, "10.0.0.1", "239.2.2.2"), 3, 0);
        Assert.Empty(Ports(s, G4("239.2.2.2")));
        var t = s.Build();
        Assert.Equal([new McastSnoopingTable.Router(0, 3)], t.Routers.ToArray());
        Assert.Equal(0, s.Run(179_999));
        Assert.Equal(1, s.Run(180_000));
        Assert.False(s.IsRouter(0, 3));
        Assert.True(s.Changed);
        Assert.Empty(s.Build().Routers.ToArray());
    }

    [Fact]
    public void Ports_AgeOutOfGroups_AfterTheAgingTime_EachReportRestartingIt()
    {
        var s = new McastSnooping();
        s.Configure(60, McastSnooping.DefaultMaxEntries, true);
        Ok(s, McastFrames.IgmpV2Report(H1, "10.0.0.1", "239.3.3.3"), 1, 0);
        Ok(s, McastFrames.IgmpV2Report(H2, "10.0.0.2", "239.3.3.3"), 2, 0);
        Ok(s, McastFrames.IgmpV2Report(H2, "10.0.0.2", "239.3.3.3"), 2, 30_000);   // refreshed
        Assert.Equal(0, s.Run(59_999));
        Assert.Equal(1, s.Run(60_000));
        Assert.Equal([2], Ports(s, G4("239.3.3.3")));
        Assert.Equal(1, s.Run(90_000));
        Assert.Equal(0, s.GroupCount);
        // A longer aging time moves every expiry by the difference; out of range, it is clamped (15 to 3600 s).
        Ok(s, McastFrames.IgmpV2Report(H1, "10.0.0.1", "239.3.3.3"), 1, 100_000);
        s.Configure(120, McastSnooping.DefaultMaxEntries, true);
        Assert.Equal(0, s.Run(219_999));
        Assert.Equal(1, s.Run(220_000));
        s.Configure(1, 1, true);
        Assert.Equal((15, 10), (s.IdleTimeS, s.MaxEntries));
        s.Configure(100_000, 10_000_000, true);
        Assert.Equal((3600, 1_000_000), (s.IdleTimeS, s.MaxEntries));
    }

    [Fact]
    public void TheTableSize_IsKept_TheLeastRecentlyReportedGroupMakingRoom()
    {
        var s = new McastSnooping();
        s.Configure(300, 10, true);
        for (int i = 0; i < 10; i++) Ok(s, McastFrames.IgmpV2Report(H1, "10.0.0.1", $"239.4.0.{i}"), 1, i);
        Ok(s, McastFrames.IgmpV2Report(H1, "10.0.0.1", "239.4.0.0"), 2, 20);   // 239.4.0.0 reported again: 239.4.0.1 is now the oldest
        Ok(s, McastFrames.IgmpV2Report(H1, "10.0.0.1", "239.4.0.99"), 1, 30);
        Assert.Equal(10, s.GroupCount);
        Assert.Equal(1, s.Evicted);
        Assert.Empty(Ports(s, G4("239.4.0.1")));
        Assert.Equal([1, 2], Ports(s, G4("239.4.0.0")));
        Assert.Equal([1], Ports(s, G4("239.4.0.99")));
        Assert.Equal(10, s.Build().Count);
        // A smaller size evicts at the next round (10 is the least there is: 5 is taken as 10, so nothing goes).
        s.Configure(300, 5, true);
        Assert.Equal(0, s.Run(40));
    }

    [Fact]
    public void FloodPortsLearnNothing_FloodReportPortsLeaveOnlyByAging_RemovedPortsAreForgotten()
    {
        var s = new McastSnooping();
        s.SetFloodPorts([4], [5]);
        Ok(s, McastFrames.IgmpV2Report(H1, "10.0.0.1", "239.5.5.5"), 4, 0);
        Ok(s, McastFrames.IgmpQuery(R, "10.0.0.9"), 4, 0);
        Assert.Empty(Ports(s, G4("239.5.5.5")));
        Assert.False(s.IsRouter(0, 4));
        Ok(s, McastFrames.IgmpV2Report(H1, "10.0.0.1", "239.5.5.5"), 5, 0);
        Ok(s, McastFrames.IgmpLeave(H1, "10.0.0.1", "239.5.5.5"), 5, 0);
        Assert.Equal([5], Ports(s, G4("239.5.5.5")));
        Ok(s, McastFrames.IgmpV2Report(H1, "10.0.0.1", "239.5.5.5"), 1, 0);
        Ok(s, McastFrames.IgmpQuery(R, "10.0.0.9"), 2, 0);
        var t = s.Build();
        Assert.Equal([(ushort)4], t.FloodPorts);
        Assert.Equal([(ushort)5], t.FloodReportPorts);
        s.KeepPorts(new HashSet<ushort> { 5 });
        Assert.Equal([5], Ports(s, G4("239.5.5.5")));
        Assert.False(s.IsRouter(0, 2));
        Assert.Empty(s.Build().FloodPorts);
        s.Flush();
        Assert.Equal(0, s.GroupCount);
    }

    [Fact]
    public void BadFrames_AreRefusedWhole_NeverThrownOn()
    {
        var s = new McastSnooping();
        Assert.Equal(McastFrameError.BadChecksum,
            s.Receive(McastFrames.Igmp(H1, "10.0.0.1", "239.6.6.6", [0x16, 0, 0, 0, 239, 6, 6, 6], badChecksum: true), 1, 0, 0));
        Assert.Equal(McastFrameError.BadChecksum, s.Receive(McastFrames.Mld(H1, "fe80::1", "ff05::1", Mld(131, "ff05::1"), badChecksum: true), 1, 0, 0));
        // A group that is not multicast.
        Assert.Equal(McastFrameError.BadGroup, s.Receive(McastFrames.Igmp(H1, "10.0.0.1", "239.6.6.6", [0x16, 0, 0, 0, 10, 6, 6, 6]), 1, 0, 0));
        // More records than the report holds: nothing of it is learned (its first record is whole).
        var report = McastFrames.IgmpV3Report(H1, "10.0.0.1", null, (McastFrame.ModeIsExclude, "239.6.6.7", []));
        Assert.Equal(McastFrameError.Truncated, s.Receive(WithRecordCount(report, 2), 1, 0, 0));
        // Not IGMP or MLD at all.
        Assert.Equal(McastFrameError.NotIgmpOrMld, s.Receive(McastFrames.UdpToGroup(H1, "10.0.0.1", "239.6.6.6"), 1, 0, 0));
        Assert.Equal(0, s.GroupCount);

        // Every prefix of every kind of message, and seeded mutations of each: an answer, never an exception.
        byte[][] valid =
        [
            McastFrames.IgmpV2Report(H1, "10.0.0.1", "239.6.6.6", vlan: 7), McastFrames.IgmpLeave(H1, "10.0.0.1", "239.6.6.6"), McastFrames.IgmpQuery(R, "10.0.0.9"),
            McastFrames.IgmpV3Report(H1, "10.0.0.1", null, (McastFrame.ChangeToExclude, "239.6.6.8", ["10.1.1.1", "10.1.1.2"]), (McastFrame.ModeIsInclude, "239.6.6.9", [])),
            McastFrames.MldV1Report(H1, "fe80::1", "ff05::2"), McastFrames.MldQuery(R, "fe80::9"),
            McastFrames.MldV2Report(H1, "fe80::1", (McastFrame.ChangeToExclude, "ff05::3", ["2001:db8::1"])),
        ];
        foreach (var frame in valid)
        {
            Assert.Equal(McastFrameError.None, new McastSnooping().Receive(frame, 1, 0, 0));
            int end = PayloadEnd(frame);
            for (int n = 0; n < end; n++)
            {
                var error = new McastSnooping().Receive(frame.AsSpan(0, n), 1, 0, 0);
                Assert.True(error != McastFrameError.None, $"{Convert.ToHexString(frame)} cut to {n} bytes read as whole");
            }
        }
        var random = new Random(57);
        int refused = 0;
        for (int i = 0; i < 20_000; i++)
        {
            var frame = (byte[])valid[i % valid.Length].Clone();
            for (int k = random.Next(1, 4); k > 0; k--) frame[random.Next(12, frame.Length)] = (byte)random.Next(256);
            if (new McastSnooping().Receive(frame, 1, 0, 0) != McastFrameError.None) refused++;
        }
        Assert.True(refused > 10_000, $"{refused} of 20,000 mutated frames refused: the checksum should catch most");
    }

    /// <summary>Where an IPv4 or IPv6 frame's packet ends (past it the Ethernet padding).</summary>
    private static int PayloadEnd(byte[] f)
    {
        int off = f[12] == 0x81 ? 18 : 14;
        return f[off - 2] == 0x08
            ? off + System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(off + 2))
            : off + 40 + System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(off + 4));
    }

    private static byte[] Mld(byte type, string group)
    {
        var m = new byte[24];
        m[0] = type;
        System.Net.IPAddress.Parse(group).GetAddressBytes().CopyTo(m, 8);
        return m;
    }

    /// <summary>An IGMPv3 report (untagged, router alert) with its record count set to <paramref name="count"/> and its checksum made right.</summary>
    private static byte[] WithRecordCount(byte[] report, int count)
    {
        var f = (byte[])report.Clone();
        const int igmp = 14 + 24;
        int len = System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(16)) - 24;
        f[igmp + 7] = (byte)count;
        f[igmp + 2] = f[igmp + 3] = 0;
        ushort sum = (ushort)~McastFrame.Fold(McastFrame.Sum(f.AsSpan(igmp, len), 0));
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(igmp + 2), sum);
        return f;
    }
}
