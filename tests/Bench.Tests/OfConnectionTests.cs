using System.Net.Sockets;
using Softswitch.Bench.Agent;
using Softswitch.Flows;
using Softswitch.Ofproto;
using Softswitch.OfWire.Of10;

namespace Softswitch.Bench.Tests;

/// <summary>The bench's OpenFlow clients: connecting to a switch's Unix socket, and the flow-mods they send.</summary>
public sealed class OfConnectionTests
{
    [Fact]
    public void ConnectsToAUnixSocket()
    {
        string path = Path.Combine(Path.GetTempPath(), $"bench-of-{Environment.ProcessId}-{Guid.NewGuid():N}.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(path));
            listener.Listen(1);
            using var client = OfConnection.Connect("unix:" + path);
            using var server = listener.Accept();
            client.Send([1, 2, 3]);
            var buf = new byte[3];
            Assert.Equal(3, server.Receive(buf));
            Assert.Equal([1, 2, 3], buf);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void RefusesAListeningEndpoint()
    {
        Assert.Throws<FormatException>(() => OfConnection.Connect("punix:/tmp/x.sock"));
        Assert.Throws<FormatException>(() => OfConnection.Connect("ptcp:6653"));
    }

    [Fact]
    public void EncodesAnAddWithItsActionsAndADeleteStrictWithout()
    {
        Assert.True(OfctlFlowParser.TryParse("priority=100,in_port=1,dl_vlan=0xffff,udp,tp_src=1024,actions=output:2", FlowModCommand.Add, out var f, out string error), error);
        var actions = new List<OfpAction>();
        Assert.True(OfpFlowMod.TryDecode(OfConnection.Encode(f, OfpFlowModCommand.Add, 7), actions, out var add, out _));
        Assert.Equal(OfpFlowModCommand.Add, add.Command);
        Assert.Equal(100, add.Priority);
        Assert.Single(actions);
        actions.Clear();
        Assert.True(OfpFlowMod.TryDecode(OfConnection.Encode(f, OfpFlowModCommand.DeleteStrict, 8), actions, out var del, out _));
        Assert.Equal(OfpFlowModCommand.DeleteStrict, del.Command);
        Assert.Equal(add.Match, del.Match);
        Assert.Empty(actions);
    }
}
