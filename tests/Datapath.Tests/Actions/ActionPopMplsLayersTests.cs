using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Packets;

namespace Softswitch.Datapath.Tests.Actions;

/// <summary>
/// After pop_mpls empties the stack, the actions after it find the network header the new ethertype names, as a parse
/// of the frame would: not the header a push earlier in the list covered when the pop names another type.
/// </summary>
public sealed class ActionPopMplsLayersTests
{
    [Fact]
    public void PopAsArpOverAnIpv6Payload_APushAfterHasNoIpTtlToCopy()
    {
        // push_mpls over IPv6 (hop limit 64), pop it as ARP, push again: the new entry's TTL is 0, not the IPv6 hop limit.
        var (f, l) = ActionOfp13Tests.RunUnchecked(ActionOfp13Tests.Ipv6Udp,
            FlowAction.PushMpls(PacketParser.EthTypeMpls), FlowAction.PopMpls(PacketParser.EthTypeArp), FlowAction.PushMpls(PacketParser.EthTypeMpls));
        Assert.Equal(0, f[14 + 3]);
        Assert.Equal(LayerFlags.Mpls, l.Flags & (LayerFlags.Mpls | LayerFlags.Ipv6 | LayerFlags.Udp));
    }

    [Fact]
    public void PopAsIpv4_ItsTransportIsKnown_SoASetFixesTheUdpChecksum()
    {
        // A popped IPv4/UDP packet whose layers the parser never saw under the label: set ipv4_src fixes the UDP checksum too.
        var inner = ActionOfp13Tests.Ipv4Udp;
        var mpls = new byte[inner.Length + 4];
        inner.AsSpan(0, 12).CopyTo(mpls);
        mpls[12] = 0x88;
        mpls[13] = 0x47;
        mpls[16] = 0x01; // bottom of stack
        mpls[17] = 64;
        inner.AsSpan(12 + 2).CopyTo(mpls.AsSpan(18));
        PacketParser.Parse(mpls, 1, out _, out var layers);
        var pool = new PacketPool(2);
        int p = pool.Alloc();
        pool.Write(p, mpls);
        var sink = new RecordingSink();
        var all = new[] { layers };
        new ActionExecutor().Execute(new FlowActions([FlowAction.PopMpls(PacketParser.EthTypeIpv4), FlowAction.SetNwSrc(0x0a000009)]), pool, [p], all, ref sink);
        var expected = ActionOfp13Tests.Expect(inner, 26, "0a000009");
        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(pool.Frame(p).ToArray()));
        Assert.Equal(LayerFlags.Ipv4 | LayerFlags.Udp, all[0].Flags & (LayerFlags.Ipv4 | LayerFlags.Udp));
    }
}
