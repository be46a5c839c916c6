using System.Buffers.Binary;
using Microsoft.Extensions.Logging.Abstractions;
using Softswitch.OfAgent.Common;
using Softswitch.OfAgent.Of13;
using Softswitch.OfAgent.Tests.Session;
using Softswitch.OfWire.Of13;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Tests.Of13;

/// <summary>
/// The 1.3 protocol writes the switch's reports in the version it is built for: a later version that keeps 1.3's
/// layouts gets FLOW_REMOVED and PACKET_IN under its own version byte, the bytes after it unchanged; PORT_STATUS, whose
/// port 1.4 lays out anew, carries the same port in 1.4's layout; 1.5's FLOW_REMOVED, laid out anew, the same flow with
/// its counters as OXS statistics.
/// </summary>
public sealed class ReportVersionTests
{
    [Theory]
    [InlineData(0x05)]
    [InlineData(0x06)]
    public async Task EveryReportGoesOutInTheProtocolsVersion_TheRestAsIn13(byte version)
    {
        await using var rig = new AgentRig();
        var ctx = new OfRequestContext(rig.Switch, new AgentOptions(), NullLogger.Instance);
        var v13 = new OfProtocol13(ctx, Ofp13.Version);
        var later = new OfProtocol13(ctx, version);
        Assert.Equal(version, later.Version);

        var port = new OfPortDesc(1, 0x0200_0000_0001, "p1", default, default, default, default, default, default, 10_000_000, 0);
        var status13 = v13.PortStatus(OfPortReason.Add, port);
        var status = later.PortStatus(OfPortReason.Add, port);
        Assert.Equal((version, (byte)Ofp13Type.PortStatus, 16 + Softswitch.OfWire.Of14.Ofp14PortDesc.Size), (status[0], status[1], status.Length));
        Assert.Equal(status13.AsSpan(8, 8).ToArray(), status.AsSpan(8, 8).ToArray()); // reason and pad
        Assert.True(Softswitch.OfWire.Of14.Ofp14PortDesc.TryRead(status.AsSpan(16), out var read, out _));
        Assert.True(Ofp13Port.TryRead(status13.AsSpan(16), out var port13, out _));
        Assert.Equal(port13, read.Port);

        var removed = new OfFlowRemoved(OfMatch.Any, 7, 100, OfFlowRemovedReason.IdleTimeout, 2, 1_500_000_000, 10, 0, 3, 180);
        if (version == Softswitch.OfWire.Of15.Ofp15.Version)
        {
            // 1.5 lays FLOW_REMOVED out anew: table, reason, priority, timeouts, cookie, the match, OXS counters.
            var r15 = later.FlowRemoved(removed);
            Assert.Equal((version, (byte)Ofp13Type.FlowRemoved), (r15[0], r15[1]));
            Assert.Equal(((byte)2, (byte)0), (r15[8], r15[9])); // table 2, IDLE_TIMEOUT
            Assert.Equal(((ushort)100, (ushort)10, (ushort)0), (BinaryPrimitives.ReadUInt16BigEndian(r15.AsSpan(10)),
                BinaryPrimitives.ReadUInt16BigEndian(r15.AsSpan(12)), BinaryPrimitives.ReadUInt16BigEndian(r15.AsSpan(14))));
            Assert.Equal(7ul, BinaryPrimitives.ReadUInt64BigEndian(r15.AsSpan(16)));
            Assert.True(Softswitch.OfWire.Of15.Ofp15Stats.TryRead(r15.AsSpan(32), out var stats, out int size, out _)); // after the empty match (8)
            Assert.Equal(r15.Length, 32 + size);
            Assert.Equal(((1u, 500_000_000u), 3ul, 180ul), (stats.DurationValue!.Value, stats.Packets!.Value, stats.Bytes!.Value));
        }
        else
        {
            AssertSameButVersion(version, v13.FlowRemoved(removed), later.FlowRemoved(removed));
        }

        byte[] frame = new byte[64];
        frame[12] = 0x08;
        var a = new byte[v13.PacketInOverhead + frame.Length];
        var b = new byte[later.PacketInOverhead + frame.Length];
        int na = v13.WritePacketIn(a, Ofp13.NoBuffer, new OfPacketIn(frame, 1, OfPacketInReason.Action, 128, 0, 0), frame.Length);
        int nb = later.WritePacketIn(b, Ofp13.NoBuffer, new OfPacketIn(frame, 1, OfPacketInReason.Action, 128, 0, 0), frame.Length);
        AssertSameButVersion(version, a[..na], b[..nb]);
    }

    private static void AssertSameButVersion(byte version, byte[] in13, byte[] inLater)
    {
        Assert.Equal(Ofp13.Version, in13[0]);
        Assert.Equal(version, inLater[0]);
        Assert.Equal(in13.AsSpan(1).ToArray(), inLater.AsSpan(1).ToArray());
    }
}
