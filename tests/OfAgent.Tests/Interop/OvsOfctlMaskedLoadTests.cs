using System.Buffers.Binary;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.TestKit;

namespace Softswitch.OfAgent.Tests.Interop;

/// <summary>
/// Real ovs-ofctl: OpenFlow 1.5's masked set_field under a mask of several runs of bits (<c>set_field:0xb0a/0xf0f-&gt;tcp_src</c>,
/// <c>set_field:0x5/0x5-&gt;reg0</c>, part of an IPv6 address and label) is taken, as Open vSwitch takes any mask of a
/// writable field, and reads back as Open vSwitch writes it: up to 1.4 a REG_LOAD per run, in 1.5 the one masked
/// set_field. The expected text is what ovs-ofctl's own <c>parse-flow</c> (<c>parse-group</c>) prints for the same flow
/// (group) in that version, which is the encoding Open vSwitch writes back. A dump re-adds to the same flows; the frames
/// come out rewritten byte for byte, the IPv4 header and TCP/UDP checksums right, in a flow, a packet-out and a bucket.
/// </summary>
public sealed class OvsOfctlMaskedLoadTests
{
    private const string Tcp = "priority=5,tcp,in_port=1,actions=set_field:0xb0a/0xf0f->tcp_src,set_field:0.0.16.0/0.0.240.15->ip_dst,"
                               + "set_field:0x5/0x5->reg0,output:2";

    private const string Udp6 = "priority=6,udp6,in_port=1,actions=set_field:0x5/0x5->reg0,set_field:2001::1/ffff::ffff->ipv6_dst,"
                                + "set_field:0x10001/0xf000f->ipv6_label,output:2";

    private static readonly MacAddress H1 = MacAddress.Parse("00:00:00:00:00:01"), H2 = MacAddress.Parse("00:00:00:00:00:02");

    public static TheoryData<string> Versions => new() { "OpenFlow13", "OpenFlow14", "OpenFlow15" };

    [ToolTheory]
    [RequiresTool("ovs-ofctl")]
    [MemberData(nameof(Versions))]
    public async Task SetFieldsUnderMasksOfSeveralRuns_ReadBackAsOpenVSwitchWritesThem_ReAdd_AndRewriteTheFrame(string version)
    {
        await using var rig = OvsOfctl.Rig();
        OvsOfctl.Ok(rig, "OpenFlow15", "add-flow", Tcp);
        var line = Assert.Single(OvsOfctl.Flows(OvsOfctl.Ok(rig, version, "dump-flows")));
        Assert.EndsWith(OvsOfctl.Parsed(version, "parse-flow", Tcp, "priority=5,"), line);

        // The dump re-adds to the same flow.
        OvsOfctl.ReAddsTheSame(rig, version, OvsOfctl.Ok(rig, version, "dump-flows", "--no-stats"));

        // tcp_src 0x1234 -> 0x1b3a, ip_dst 10.0.0.2 -> 10.0.16.0: the bits outside the masks kept, the checksums right.
        rig.Ports[0].Inject(FrameBuilder.Tcp(H1, H2, 0x0A000001, 0x0A000002, 0x1234, 80));
        rig.Poll();
        var sent = Assert.Single(rig.Ports[1].TakeSent());
        Assert.Equal(Convert.ToHexString(FrameBuilder.Tcp(H1, H2, 0x0A000001, 0x0A001000, 0x1b3a, 80)), Convert.ToHexString(sent));
    }

    public static TheoryData<string> Ipv6Versions => new() { "OpenFlow10", "OpenFlow13", "OpenFlow15" };

    [ToolTheory]
    [RequiresTool("ovs-ofctl")]
    [MemberData(nameof(Ipv6Versions))]
    public async Task PartOfAnIpv6AddressAndLabel_UnderMasksOfSeveralRuns_ReadBackAsOpenVSwitchWritesThem_WithTheUdpChecksum(string version)
    {
        await using var rig = OvsOfctl.Rig();
        OvsOfctl.Ok(rig, "OpenFlow15", "add-flow", Udp6);
        var line = Assert.Single(OvsOfctl.Flows(OvsOfctl.Ok(rig, version, "dump-flows")));
        Assert.EndsWith(OvsOfctl.Parsed(version, "parse-flow", Udp6, "priority=6,"), line);
        OvsOfctl.ReAddsTheSame(rig, version, OvsOfctl.Ok(rig, version, "dump-flows", "--no-stats"));

        // ipv6_dst 2001:db8::2 -> 2001:db8::1 (its first and last 16 bits set, the rest kept); label 0x12345 -> 0x12341
        // with bits 16..19 set to 1: 0x12341; the UDP checksum over the new pseudo-header right.
        var frame = Udp6Frame("2001:db8::2", 0x12345);
        rig.Ports[0].Inject(frame);
        rig.Poll();
        var sent = Assert.Single(rig.Ports[1].TakeSent());
        Assert.Equal(Convert.ToHexString(Udp6Frame("2001:db8::1", 0x12341)), Convert.ToHexString(sent));
    }

    /// <summary>The same masked set_field in a 1.5 group's bucket (read back as parse-group prints it) and in a 1.5 packet-out.</summary>
    [ToolFact]
    [RequiresTool("ovs-ofctl")]
    public async Task ABucketsAndAPacketOutsSetFieldUnderAMaskOfSeveralRuns_RewriteTheFrame()
    {
        await using var rig = OvsOfctl.Rig();
        const string Group = "group_id=1,type=all,bucket=actions=set_field:0xb0a/0xf0f->tcp_src,output:2";
        OvsOfctl.Ok(rig, "OpenFlow15", "add-group", Group);
        foreach (var version in new[] { "OpenFlow13", "OpenFlow15" })
        {
            string dump = OvsOfctl.Ok(rig, version, "dump-groups");
            string group = dump.Split('\n').Single(l => l.Contains("group_id=1,", StringComparison.Ordinal)).Trim();
            Assert.Equal(OvsOfctl.Parsed(version, "parse-group", Group, "group_id=1,"), group);
        }
        OvsOfctl.Ok(rig, "OpenFlow15", "add-flow", "priority=5,tcp,in_port=1,actions=group:1");
        rig.Ports[0].Inject(FrameBuilder.Tcp(H1, H2, 0x0A000001, 0x0A000002, 0x1234, 80));
        rig.Poll();
        string expected = Convert.ToHexString(FrameBuilder.Tcp(H1, H2, 0x0A000001, 0x0A000002, 0x1b3a, 80));
        Assert.Equal(expected, Convert.ToHexString(Assert.Single(rig.Ports[1].TakeSent())));

        OvsOfctl.Ok(rig, "OpenFlow15", "packet-out", "1", "set_field:0xb0a/0xf0f->tcp_src,output:2",
                    Convert.ToHexString(FrameBuilder.Tcp(H1, H2, 0x0A000001, 0x0A000002, 0x1234, 80)));
        rig.Poll();
        Assert.Equal(expected, Convert.ToHexString(Assert.Single(rig.Ports[1].TakeSent())));
    }

    /// <summary>An IPv6 UDP frame to <paramref name="dst"/> with flow label <paramref name="label"/> and a right UDP checksum.</summary>
    private static byte[] Udp6Frame(string dst, uint label)
    {
        var f = FlowFrames.Ipv6Frame(17, 1000, 2000, dst: dst);
        BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(14), 0x6000_0000 | label);
        // The pseudo-header (addresses, UDP length, next header) and the segment, the checksum field zero.
        var udp = f.AsSpan(54);
        BinaryPrimitives.WriteUInt16BigEndian(udp[6..], 0);
        var sum = new byte[40 + udp.Length];
        f.AsSpan(22, 32).CopyTo(sum);
        BinaryPrimitives.WriteUInt32BigEndian(sum.AsSpan(32), (uint)udp.Length);
        sum[39] = 17;
        udp.CopyTo(sum.AsSpan(40));
        ushort c = Checksum.Compute(sum);
        BinaryPrimitives.WriteUInt16BigEndian(udp[6..], c == 0 ? (ushort)0xffff : c);
        return f;
    }
}
