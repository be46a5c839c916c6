using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Softswitch.OfAgent.Session;
using Softswitch.OfWire.Of10;
using Softswitch.TestKit;

namespace Softswitch.OfAgent.Tests.Session;

/// <summary>
/// Errors from peers: logged in the peer's own words, never answered with an error; a controller that refuses our
/// HELLO is retried with Open vSwitch's growing back-off.
/// </summary>
public sealed class PeerErrorTests
{
    /// <summary>An OFPT_ERROR of <paramref name="version"/> with type, code and data.</summary>
    private static byte[] Error(byte version, ushort type, ushort code, byte[] data, uint xid = 7)
    {
        var m = new byte[12 + data.Length];
        m[0] = version;
        m[1] = (byte)OfpType.Error;
        BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(2), (ushort)m.Length);
        BinaryPrimitives.WriteUInt32BigEndian(m.AsSpan(4), xid);
        BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(8), type);
        BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(10), code);
        data.CopyTo(m, 12);
        return m;
    }

    private static readonly byte[] s_hello13 = [4, 0, 0, 8, 0, 0, 0, 1];

    [Fact]
    public void BackoffDoublesToItsMaximumAndOnlyAConnectionThatStayedUpResetsIt()
    {
        var eight = TimeSpan.FromSeconds(8);
        var b = TimeSpan.Zero;
        var seen = new List<double>();
        for (int i = 0; i < 6; i++)
        {
            b = OfConnectionManager.NextBackoff(b, stayedUp: false, eight);
            seen.Add(b.TotalSeconds);
        }
        Assert.Equal(new double[] { 1, 2, 4, 8, 8, 8 }, seen);
        Assert.Equal(TimeSpan.FromSeconds(1), OfConnectionManager.NextBackoff(eight, stayedUp: true, eight));
        Assert.Equal(TimeSpan.FromSeconds(10), OfConnectionManager.NextBackoff(TimeSpan.FromSeconds(8), stayedUp: false, TimeSpan.FromSeconds(10)));
        Assert.Equal(TimeSpan.FromSeconds(1), OfConnectionManager.NextBackoff(TimeSpan.Zero, stayedUp: false, TimeSpan.FromMilliseconds(500)));
    }

    [Fact]
    public void APeersErrorIsToldInPrintableBoundedText()
    {
        var hostile = Encoding.ASCII.GetBytes("bad\x1b[2J\nversion").Concat(Enumerable.Repeat((byte)'x', 500)).ToArray();
        string d = OfPeerError.Describe(Error(4, 0, 0, hostile));
        Assert.StartsWith("HELLO_FAILED INCOMPATIBLE \"bad?[2J?version", d);
        Assert.All(d, ch => Assert.InRange(ch, ' ', '~'));
        Assert.True(d.Length < OfPeerError.MaxTextSize + 40, d);
        Assert.Equal("HELLO_FAILED EPERM \"no\"", OfPeerError.Describe(Error(1, 0, 1, "no\0junk"u8.ToArray())));
        Assert.Equal("BAD_REQUEST BAD_TYPE (about our message type 10, xid 0x53530002)",
            OfPeerError.Describe(Error(1, 1, 1, [1, 10, 0, 8, 0x53, 0x53, 0, 2])));
        Assert.Equal("BAD_MATCH BAD_DL_ADDR_MASK", OfPeerError.Describe(Error(4, 4, 3, [])));
        Assert.Equal("BAD_MATCH BAD_DL_ADDR_MASK", OfPeerError.Describe(Error(5, 4, 3, []))); // 1.4 keeps 1.3's numbers
        Assert.Equal("ASYNC_CONFIG_FAILED INVALID", OfPeerError.Describe(Error(5, 15, 0, [])));
        Assert.Equal("error type 4 code 3", OfPeerError.Describe(Error(7, 4, 3, []))); // a version no release uses
        Assert.Equal("a truncated ERROR (10 bytes)", OfPeerError.Describe(new byte[10]));
    }

    [Fact]
    public async Task AnErrorFromAPeerIsLoggedAndNeverAnswered_InAnyState()
    {
        // A switch that speaks only OpenFlow 1.0 (--protocols OpenFlow10), refused by a 1.3-only peer.
        await using var rig = new AgentRig(options: new AgentOptions { Versions = 1u << 1 });
        // After HELLO: an OpenFlow 1.3 error and a 1.0 one about a request of ours; the next reply is the barrier's.
        using (var c = await rig.ConnectAsync())
        {
            c.SendRaw(Error(4, 1, 1, [4, 18, 0, 8, 0, 0, 0, 9]));
            c.SendRaw(Error(1, 1, 1, [1, 10, 0, 8, 0x53, 0x53, 0, 2]));
            c.SendRaw(Error(1, 1, 1, [])); // shorter than any request it could be about
            var before = await c.BarrierAsync();
            Assert.Empty(before);
            Assert.True(rig.Log.Contains("peer sent error BAD_REQUEST BAD_TYPE (about our message type 10, xid 0x53530002)"), rig.Log.Dump());
            Assert.True(rig.Log.Contains("peer sent error BAD_REQUEST BAD_TYPE (about our message type 18, xid 0x00000009)"), rig.Log.Dump());
        }

        // Before HELLO: a 1.3 HELLO_FAILED instead of a HELLO is the peer refusing us, not a message to refuse.
        using (var s = new Socket(SocketType.Stream, ProtocolType.Tcp))
        {
            await s.ConnectAsync(IPAddress.Loopback, rig.ListenPort);
            var buf = new byte[64];
            Assert.Equal(8, await s.ReceiveAsync(buf)); // the switch's HELLO
            s.Send(Error(4, 0, 0, "unsupported version 0x1"u8.ToArray()));
            Assert.Equal(0, await ReadAll(s, buf)); // closed, nothing sent
            Assert.True(await Wait.UntilAsync(() => rig.Log.Contains("peer refused our HELLO: HELLO_FAILED INCOMPATIBLE \"unsupported version 0x1\" (it speaks OpenFlow 1.3; this switch speaks 1.0); closing")),
                rig.Log.Dump());
        }

        // An ERROR header announcing a length below 8 cannot be framed: the connection closes without a BAD_LEN.
        using (var c = await rig.ConnectAsync())
        {
            await c.BarrierAsync();
            c.SendRaw([1, 1, 0, 4, 0, 0, 0, 9]);
            Assert.Null(await c.ReceiveRawAsync(5000));
        }
        Assert.Equal(0, rig.Agent.ErrorsSent);
    }

    /// <summary>Bytes received until the peer closes (a 10 s bound): 0 when it sent nothing before closing.</summary>
    private static async Task<int> ReadAll(Socket s, byte[] buf)
    {
        int total = 0;
        using var cts = new CancellationTokenSource(10_000);
        try
        {
            while (true)
            {
                int n = await s.ReceiveAsync(buf, SocketFlags.None, cts.Token);
                if (n == 0) return total;
                total += n;
            }
        }
        catch (SocketException)
        {
            return total;
        }
    }

    /// <summary>
    /// A controller that speaks only OpenFlow 1.3 answers every HELLO with its own and HELLO_FAILED: the switch retries
    /// after 1, 2, 4, 4 s (a 4 s maximum here), logs one warning per attempt with the controller's own text, never
    /// answers the error, and never counts the controller as connected.
    /// </summary>
    [Fact]
    public async Task AControllerThatRefusesOurHelloIsRetriedWithGrowingBackoff()
    {
        using var server = new TcpListener(IPAddress.Loopback, 0);
        server.Start();
        int port = ((IPEndPoint)server.LocalEndpoint).Port;
        var attempts = new List<long>();
        var afterOurHello = new List<byte[]>(); // what the switch sent after its HELLO, per attempt
        var clock = Stopwatch.StartNew();
        using var stop = new CancellationTokenSource();
        var controller = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                Socket s;
                try { s = await server.AcceptSocketAsync(stop.Token); }
                catch (OperationCanceledException) { return; }
                lock (attempts) attempts.Add(clock.ElapsedMilliseconds);
                using (s)
                {
                    s.Send(s_hello13);
                    s.Send(Error(4, 0, 0, "unsupported version 0x1"u8.ToArray(), xid: 1));
                    // Everything the switch sends until it closes (a HELLO_FAILED ends the connection on its side too).
                    var got = new List<byte>();
                    var buf = new byte[4096];
                    using var cts = new CancellationTokenSource(10_000);
                    try
                    {
                        while (true)
                        {
                            int n = await s.ReceiveAsync(buf, SocketFlags.None, cts.Token);
                            if (n == 0) break;
                            got.AddRange(buf.AsSpan(0, n).ToArray());
                        }
                    }
                    catch (Exception e) when (e is SocketException or OperationCanceledException) { }
                    lock (attempts) afterOurHello.Add(got.Skip(8).ToArray());
                }
            }
        });

        await using (var rig = new AgentRig(options: new AgentOptions { Controllers = { $"tcp:127.0.0.1:{port}" }, MaxBackoff = TimeSpan.FromSeconds(4), Versions = 1u << 1 }))
        {
            Assert.True(await Wait.UntilAsync(() => { lock (attempts) return afterOurHello.Count >= 5; }, 60_000), rig.Log.Dump());
            var warnings = rig.Log.Lines.Where(l => l.Message.Contains("refused our HELLO", StringComparison.Ordinal)).ToList();
            Assert.True(warnings.Count >= 4, rig.Log.Dump());
            Assert.All(warnings, w =>
            {
                Assert.Equal(LogLevel.Warning, w.Level);
                Assert.Contains($"controller tcp:127.0.0.1:{port} refused our HELLO: HELLO_FAILED INCOMPATIBLE \"unsupported version 0x1\" (it speaks OpenFlow 1.3; this switch speaks 1.0); retrying in ", w.Message, StringComparison.Ordinal);
            });
            var delays = warnings.Take(4).Select(w => double.Parse(Regex.Match(w.Message, @"retrying in ([0-9.]+) s$").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
            Assert.Equal(new double[] { 1, 2, 4, 4 }, delays);
            long[] at;
            lock (attempts) at = attempts.Take(5).ToArray();
            // Load can only lengthen the waits: each interval is at least the back-off announced before it.
            for (int i = 0; i < 4; i++)
                Assert.True(at[i + 1] - at[i] >= delays[i] * 1000 - 100, $"attempts at {string.Join(", ", at)} ms; announced waits {string.Join(", ", delays)} s");
            lock (attempts) Assert.All(afterOurHello, sent => Assert.Empty(sent));
            Assert.DoesNotContain(rig.Log.Lines, l => l.Message.Contains("table misses go to the controller", StringComparison.Ordinal));
            Assert.DoesNotContain(rig.Log.Lines, l => l.Message.Contains("peer sent error", StringComparison.Ordinal));
            // One warning per attempt; routine lines of the retries are at Debug.
            Assert.True(rig.Log.Lines.Count(l => l.Level >= LogLevel.Information && l.Message.Contains("connected", StringComparison.Ordinal)
                && l.Message.StartsWith("controller tcp:", StringComparison.Ordinal)) <= 1, rig.Log.Dump());
        }
        stop.Cancel();
        server.Stop();
        await controller;
    }
}
