using System.Buffers.Binary;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.OfAgent.Tests.Session;
using Softswitch.TestKit;

namespace Softswitch.OfAgent.Tests.Interop;

/// <summary>
/// Real ovs-ofctl with ip_frag (NXM_NX_IP_FRAG) under OpenFlow 1.0 (NXM), 1.3 and 1.5 (OXM, the NXM_1 class): every
/// name Open vSwitch knows (no, first, later over both bits; yes over ANY; not_later over LATER) added for IPv4 and
/// IPv6, dumped as Open vSwitch prints it, re-added from the dump; then whole packets, first fragments and later
/// fragments of both families, each taking the flow its fragment bits say.
/// </summary>
public sealed class OvsOfctlIpFragTests
{
    private static readonly MacAddress H1 = MacAddress.Parse("00:00:00:00:00:01"), H2 = MacAddress.Parse("00:00:00:00:00:02");

    private static readonly (string Add, string Dumped)[] Flows =
    [
        ("priority=30,ip,ip_frag=later,actions=output:4", "priority=30,ip,nw_frag=later actions=output:4"),
        ("priority=20,ip,ip_frag=first,actions=output:3", "priority=20,ip,nw_frag=first actions=output:3"),
        ("priority=10,ip,ip_frag=no,actions=output:2", "priority=10,ip,nw_frag=no actions=output:2"),
        ("priority=30,ipv6,nw_frag=later,actions=output:4", "priority=30,ipv6,nw_frag=later actions=output:4"),
        ("priority=5,ipv6,ip_frag=yes,actions=output:3", "priority=5,ipv6,nw_frag=yes actions=output:3"),
        ("priority=4,ipv6,ip_frag=not_later,actions=output:2", "priority=4,ipv6,nw_frag=not_later actions=output:2"),
    ];

    [ToolTheory]
    [RequiresTool("ovs-ofctl")]
    [InlineData("OpenFlow10")]
    [InlineData("OpenFlow13")]
    [InlineData("OpenFlow15")]
    public async Task IpFrag_AddDumpReAdd_AndFragmentsTakeTheirFlows(string version)
    {
        await using var rig = OvsOfctl.Rig();
        foreach (var (add, _) in Flows) OvsOfctl.Ok(rig, version, "add-flow", add);
        string dump = OvsOfctl.Ok(rig, version, "dump-flows", "--no-stats");
        var lines = OvsOfctl.Flows(dump);
        Assert.Equal(Flows.Select(f => f.Dumped).Order(StringComparer.Ordinal), lines);

        Assert.Equal(lines, OvsOfctl.Flows(OvsOfctl.ReAdd(rig, version, lines)));

        // IPv4: whole to 2 (no), first to 3, later to 4; IPv6: whole to 2 (not_later), first to 3 (yes), later to 4.
        Assert.Equal(2, Egress(rig, Ipv4(0)));
        Assert.Equal(3, Egress(rig, Ipv4(0x2000)));
        Assert.Equal(4, Egress(rig, Ipv4(0x2001)));
        Assert.Equal(4, Egress(rig, Ipv4(0x0002)));
        Assert.Equal(2, Egress(rig, Ipv6(null)));
        Assert.Equal(3, Egress(rig, Ipv6(0x0001)));
        Assert.Equal(4, Egress(rig, Ipv6(0x00b8)));
        // A dump filtered by ip_frag, and the counts each flow took.
        var later = OvsOfctl.Flows(OvsOfctl.Ok(rig, version, "dump-flows", "ip,nw_frag=later"));
        Assert.Contains("n_packets=2,", Assert.Single(later));
        Assert.False(rig.Log.Contains("unexpected error"), rig.Log.Dump());
    }

    /// <summary>A UDP frame from H1 to H2 with the IPv4 flags-and-offset word <paramref name="fragWord"/>.</summary>
    internal static byte[] Ipv4(ushort fragWord)
    {
        var f = FrameBuilder.Udp(H1, H2, 0x0a000001, 0x0a000002, 1000, 2000);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14 + 6), fragWord);
        return f;
    }

    /// <summary>
    /// An IPv6 UDP frame; with <paramref name="fragOffsetWord"/> a fragment header (its offset-and-M word) before the
    /// UDP header (a first fragment) or before payload (a later one).
    /// </summary>
    internal static byte[] Ipv6(ushort? fragOffsetWord)
    {
        var body = new List<byte>();
        if (fragOffsetWord is { } w) body.AddRange([17, 0, (byte)(w >> 8), (byte)w, 0, 0, 0x12, 0x34]);
        body.AddRange([0x03, 0xe8, 0x07, 0xd0, 0, 16, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
        var f = new byte[14 + 40 + body.Count];
        H2.Write(f);
        H1.Write(f.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x86dd);
        var ip = f.AsSpan(14);
        BinaryPrimitives.WriteUInt32BigEndian(ip, 0x6000_0000);
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)body.Count);
        ip[6] = fragOffsetWord is null ? (byte)17 : (byte)44;
        ip[7] = 64;
        ip[8] = 0x20; ip[9] = 0x01; ip[23] = 1;    // 2001::1
        ip[24] = 0x20; ip[25] = 0x01; ip[39] = 2;  // 2001::2
        body.CopyTo(f, 14 + 40);
        return f;
    }

    private static int Egress(AgentRig rig, byte[] frame)
    {
        rig.Ports[0].Inject(frame);
        rig.Poll();
        var ports = Enumerable.Range(1, rig.Ports.Length - 1).Where(i => rig.Ports[i].TakeSent().Count > 0).Select(i => i + 1).ToArray();
        return Assert.Single(ports);
    }
}
