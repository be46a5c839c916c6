using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.OfWire.Of10;

namespace Softswitch.OfAgent.Tests.Session;

/// <summary>
/// The connection's send path: replies written at once by the receive loop while nothing is queued, the rest by the
/// send loop; a peer that stops reading and messages queued from other threads meanwhile must still see whole
/// messages, in order.
/// </summary>
public sealed class SendPathTests
{
    [Fact]
    public async Task RepliesToAPeerThatStopsReading_ArriveWhole_InOrder_AmongPacketInsFromAnotherThread()
    {
        // Limits above the backlog, so the packet-ins queue behind the replies instead of being dropped, and the
        // receive loop keeps reading the echo requests while their replies wait.
        await using var rig = new AgentRig(options: new AgentOptions { ReplyQueueLimit = 64 << 20, PacketInQueueLimit = 64 << 20, SendQueueHardLimit = 128 << 20 });
        using var c = await rig.ConnectAsync();
        // The table is empty: every injected frame is a miss, a PACKET_IN queued by the datapath's side while the
        // receive loop writes echo replies.
        using var stop = new CancellationTokenSource();
        var misses = Task.Run(() =>
        {
            int n = 0;
            while (!stop.IsCancellationRequested)
            {
                rig.Ports[0].Inject(FrameBuilder.Udp(MacAddress.Parse("00:00:00:00:00:01"), MacAddress.Parse("00:00:00:00:00:02"),
                    0x0A000001, 0x0A000002 + (uint)n, 1000, 2000, 100));
                rig.Poll();
                n++;
                Thread.Sleep(1);
            }
            return n;
        });

        // 300 echo requests of 16 KiB, unread: about 4.8 MB of replies, far more than the sockets' buffers, so the
        // writes at once meet a full socket and leave the rest to the send loop.
        const int Count = 300;
        var payloads = new byte[Count][];
        var xids = new uint[Count];
        for (int i = 0; i < Count; i++)
        {
            payloads[i] = new byte[16 * 1024];
            Random.Shared.NextBytes(payloads[i]);
            xids[i] = c.Send(new OfpEchoRequest { Data = payloads[i] });
            if (i % 10 == 9) await Task.Delay(10); // in waves, so packet-ins queue between them
        }
        await Task.Delay(300);
        stop.Cancel();
        int injected = await misses;

        int next = 0, packetIns = 0;
        while (next < Count)
        {
            var raw = await c.ReceiveRawAsync(10_000) ?? throw new Xunit.Sdk.XunitException($"stream ended after {next} echo replies");
            Assert.True(OfpMessage.TryDecode(raw, out var m, out var err), $"message {next + packetIns} does not decode: {err}");
            switch (m)
            {
                case OfpEchoReply er:
                    Assert.Equal(xids[next], er.Xid);
                    Assert.Equal(payloads[next], er.Data.ToArray());
                    next++;
                    break;
                case OfpPacketIn:
                    packetIns++;
                    break;
                default:
                    throw new Xunit.Sdk.XunitException($"unexpected {m!.GetType().Name}");
            }
        }
        Assert.True(injected > 0);
        int late = 0;
        while (await c.ReceiveRawAsync(500) is { } extra)
        {
            Assert.True(OfpMessage.TryDecode(extra, out var m, out var err), $"a message after the replies does not decode: {err}");
            Assert.IsType<OfpPacketIn>(m);
            late++;
        }
        Assert.True(packetIns > 0, $"no PACKET_IN arrived among the replies ({injected} misses, {late} messages after the replies)");
        // The connection is still in order after the backlog: a barrier is answered.
        await c.BarrierAsync();
    }
}
