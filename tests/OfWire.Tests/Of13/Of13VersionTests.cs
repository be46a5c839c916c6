using Softswitch.OfWire.Of13;

namespace Softswitch.OfWire.Tests.Of13;

/// <summary>
/// The 1.3 codec's layouts serve 1.3 to 1.5: every encoder writes the version it is given, the messages it decodes
/// keep the version they came in, and a version outside the range is refused before a byte is written.
/// </summary>
public sealed class Of13VersionTests
{
    [Theory]
    [InlineData(0x04)]
    [InlineData(0x05)]
    [InlineData(0x06)]
    public void EveryEncoderWritesTheVersionItIsGiven(byte version)
    {
        Assert.Equal(version, Ofp13Messages.Empty(version, Ofp13Type.BarrierReply, 1)[0]);
        Assert.Equal(version, Ofp13Messages.Error(version, Ofp13Error.BadLength, [4, 14, 0, 8, 0, 0, 0, 1])[0]);
        Assert.Equal(version, Ofp13Messages.FeaturesReply(version, 1, 2, 3, 4, 0, 0)[0]);
        Assert.Equal(version, Ofp13Messages.ConfigReply(version, 1, 0, 128)[0]);
        Assert.Equal(version, Ofp13Messages.FlowRemoved(version, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, [])[0]);
        Assert.Equal(version, Ofp13Messages.PortStatus(version, 1, 0, new Ofp13Port(1, 2, "p1", 0, 0, 0, 0, 0, 0, 0, 0))[0]);
        Assert.Equal(version, Ofp13Messages.RoleReply(version, 1, 2, 3)[0]);
        Assert.Equal(version, Ofp13Messages.AsyncReply(version, 1, new uint[6])[0]);
        Assert.Equal(version, Ofp13Messages.QueueGetConfigReply(version, 1, 2, [])[0]);
        var packetIn = new byte[Ofp13Messages.PacketInSize([Ofp13Oxm.Exact(0, 1)], 4)];
        Ofp13Messages.WritePacketIn(version, packetIn, 1, Ofp13.NoBuffer, 4, 0, 0, 0, [Ofp13Oxm.Exact(0, 1)], [1, 2, 3, 4]);
        Assert.Equal(version, packetIn[0]);
        var parts = new List<byte[]>();
        var reply = new Ofp13ReplyWriter(version, Ofp13MultipartType.Desc, 1, parts.Add);
        reply.Finish();
        Assert.Equal(version, Assert.Single(parts)[0]);
    }

    [Theory]
    [InlineData(0x05)]
    [InlineData(0x06)]
    public void ADecodedFlowModOrPacketOut_KeepsItsVersion_AndWritesItAgain(byte version)
    {
        var fm = new Ofp13FlowMod { Version = version, Xid = 9, Priority = 1, BufferId = Ofp13.NoBuffer, OutPort = Ofp13.PortAny, OutGroup = Ofp13.GroupAny };
        var bytes = fm.Encode();
        Assert.Equal(version, bytes[0]);
        var decoded = new Ofp13FlowMod();
        Assert.True(decoded.TryDecode(bytes, out var error), error.ToString());
        Assert.Equal(version, decoded.Version);
        Assert.Equal(bytes, decoded.Encode());

        var po = new Ofp13PacketOut { Version = version, Xid = 9, BufferId = Ofp13.NoBuffer, InPort = Ofp13.PortController, Data = new byte[] { 1, 2 } };
        var pob = po.Encode();
        var pod = new Ofp13PacketOut();
        Assert.True(pod.TryDecode(pob, out error), error.ToString());
        Assert.Equal(version, pod.Version);
        Assert.Equal(pob, pod.Encode());
    }

    [Theory]
    [InlineData(0x00)]
    [InlineData(0x01)]
    [InlineData(0x03)]
    [InlineData(0x07)]
    public void AVersionOutsideTheLayouts_IsRefusedBeforeAByteIsWritten(byte version)
    {
        Assert.False(Ofp13.Serves(version));
        var w = new Ofp13Writer();
        Assert.Throws<ArgumentOutOfRangeException>(() => w.Begin(version, Ofp13Type.Hello, 1));
        Assert.Equal(0, w.Length);
        Assert.Throws<ArgumentOutOfRangeException>(() => Ofp13Messages.Empty(version, Ofp13Type.BarrierReply, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Ofp13ReplyWriter(version, Ofp13MultipartType.Desc, 1, _ => { }));
    }

    [Theory]
    [InlineData(0x01)]
    [InlineData(0x07)]
    public void ARequestOfAVersionOutsideTheLayouts_IsRefusedWithBadVersion(byte version)
    {
        var badVersion = Ofp13Error.BadRequest(Ofp13Codes.BadVersion);
        byte[] Of(byte[] m)
        {
            m[0] = version;
            return m;
        }
        var fm = new Ofp13FlowMod { Priority = 1, BufferId = Ofp13.NoBuffer, OutPort = Ofp13.PortAny, OutGroup = Ofp13.GroupAny };
        Assert.False(new Ofp13FlowMod().TryDecode(Of(fm.Encode()), out var e));
        Assert.Equal(badVersion, e);
        Assert.False(new Ofp13PacketOut().TryDecode(Of(new Ofp13PacketOut { BufferId = Ofp13.NoBuffer }.Encode()), out e));
        Assert.Equal(badVersion, e);
        Assert.False(new Ofp13GroupMod().TryDecode(Of(new Ofp13GroupMod().Encode()), out e));
        Assert.Equal(badVersion, e);
        Assert.False(new Ofp13MeterMod().TryDecode(Of(new Ofp13MeterMod().Encode()), out e));
        Assert.Equal(badVersion, e);
        Assert.False(default(Ofp13PortMod).TryDecode(Of(new Ofp13PortMod { Version = Ofp13.Version }.Encode()), out e));
        Assert.Equal(badVersion, e);
        Assert.False(default(Ofp13TableMod).TryDecode(Of(new Ofp13TableMod { Version = Ofp13.Version }.Encode()), out e));
        Assert.Equal(badVersion, e);
        Assert.False(default(Ofp13SwitchConfig).TryDecode(Of(new Ofp13SwitchConfig { Version = Ofp13.Version }.Encode()), out e));
        Assert.Equal(badVersion, e);
        Assert.False(default(Ofp13RoleRequest).TryDecode(Of(new Ofp13RoleRequest { Version = Ofp13.Version }.Encode()), out e));
        Assert.Equal(badVersion, e);
        Assert.False(default(Ofp13SetAsync).TryDecode(Of(new Ofp13SetAsync { Version = Ofp13.Version }.Encode()), out e));
        Assert.Equal(badVersion, e);
        Assert.False(default(Ofp13QueueGetConfigRequest).TryDecode(Of(new Ofp13QueueGetConfigRequest { Version = Ofp13.Version }.Encode()), out e));
        Assert.Equal(badVersion, e);
        Assert.False(default(Ofp13MultipartRequest).TryDecode(Of(new Ofp13MultipartRequest { Version = Ofp13.Version }.Encode([])), out e));
        Assert.Equal(badVersion, e);
    }

    [Fact]
    public void ARequestOf14_DecodesAndWritesBackIn14()
    {
        var role = new Ofp13RoleRequest { Version = 0x05, Xid = 3, Role = 2, GenerationId = 99 };
        Ofp13RoleRequest decoded = default;
        Assert.True(decoded.TryDecode(role.Encode(), out var e), e.ToString());
        Assert.Equal(role, decoded);
        Assert.Equal(0x05, decoded.Encode()[0]);
    }
}
