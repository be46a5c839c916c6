using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text.Json;
using Softswitch.Flows;
using Softswitch.OfWire.Of10;
using Softswitch.Ofproto;

namespace Softswitch.Bench.Agent;

/// <summary>
/// `bench churn`: plays an OpenFlow 1.0 controller against any switch listening on TCP or a Unix socket (Softswitch or Open vSwitch)
/// and sends flow-mods at a steady rate: pairs of DELETE_STRICT and ADD of flows taken at random from an
/// <c>ovs-ofctl add-flows</c> file (so the table keeps its size and the traffic's flows keep being replaced).
/// </summary>
/// <remarks>
/// Every 10 ms the mods due at the target rate are sent, then a BARRIER_REQUEST; at most 8 barriers are
/// outstanding, so a switch that cannot keep up slows the sender and the reported rate is what it applied
/// (acknowledged by BARRIER_REPLY). A barrier follows at most 10 ms worth of mods at the target rate, also after
/// the sender was held back, so a slow switch acknowledges in small steps and the progress file moves with what it
/// applied (one batch of everything due would take such a switch longer than a measurement window to acknowledge). Echo requests are answered. Errors from the switch are counted.
/// <c>--ready-file</c> is created once the first batch is sent (a script starts its measurement then);
/// <c>--progress-file</c> holds the flow-mods acknowledged so far, rewritten every 100 ms.
/// </remarks>
public static class ChurnClient
{
    private const int MaxOutstandingBarriers = 8;

    public static int Run(string[] args)
    {
        string? target = null, flowFile = null, readyFile = null, progressFile = null;
        double rate = 100_000, seconds = 10;
        bool json = false;
        int seed = 7;
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
                switch (args[i])
                {
                    case "--target": target = Next(); break;
                    case "--flow-file": flowFile = Next(); break;
                    case "--rate": rate = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--seconds": seconds = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--seed": seed = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--json": json = true; break;
                    case "--ready-file": readyFile = Next(); break;
                    case "--progress-file": progressFile = Next(); break;
                    default: throw new ArgumentException($"unknown option {args[i]}");
                }
            }
            if (target is null || flowFile is null || !(rate > 0) || !(seconds > 0))
                throw new ArgumentException("need --target tcp:HOST:PORT|unix:FILE --flow-file FILE (--rate R > 0 --seconds S > 0)");
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            Console.Error.WriteLine($"churn: {e.Message}");
            return 2;
        }

        List<FlowMod> flows;
        try { flows = OfctlFlowParser.ParseFile(flowFile); }
        catch (Exception e) when (e is FormatException or IOException)
        {
            Console.Error.WriteLine($"churn: {e.Message}");
            return 2;
        }
        if (flows.Count == 0)
        {
            Console.Error.WriteLine($"churn: {flowFile} has no flows");
            return 2;
        }

        // Every flow's DELETE_STRICT and ADD, encoded once.
        var del = new byte[flows.Count][];
        var add = new byte[flows.Count][];
        for (int i = 0; i < flows.Count; i++)
        {
            del[i] = OfConnection.Encode(flows[i], OfpFlowModCommand.DeleteStrict, (uint)(2 * i));
            add[i] = OfConnection.Encode(flows[i], OfpFlowModCommand.Add, (uint)((2 * i) + 1));
        }

        Socket s;
        try { s = OfConnection.Connect(target); }
        catch (Exception e) when (e is SocketException or FormatException)
        {
            Console.Error.WriteLine($"churn: {target}: {e.Message}");
            return 1;
        }
        using var socket = s;
        s.Send(new OfpHello().ToArray());
        long barriersAcked = 0, errors = 0;
        var helloSeen = new ManualResetEventSlim();
        var reader = new Thread(() => ReadLoop(s, helloSeen, ref barriersAcked, ref errors)) { IsBackground = true, Name = "churn-reader" };
        reader.Start();
        if (!helloSeen.Wait(TimeSpan.FromSeconds(10)))
        {
            Console.Error.WriteLine($"churn: no HELLO from {target}");
            return 1;
        }

        long maxPerBarrier = Math.Max(2, (long)(rate / 100) & ~1L);
        var rng = new Random(seed);
        var buf = new byte[4 << 20];
        long sent = 0, barriers = 0;
        var ackedAt = new List<long>();
        var sw = Stopwatch.StartNew();
        double nextProgress = 0;
        while (sw.Elapsed.TotalSeconds < seconds)
        {
            if (progressFile is not null && sw.Elapsed.TotalSeconds >= nextProgress)
            {
                // The flow-mods acknowledged so far, rewritten every 100 ms (a script reads it around its window).
                long ackedBarriers = Interlocked.Read(ref barriersAcked);
                long ackedMods = ackedBarriers == 0 ? 0 : ackedAt[(int)ackedBarriers - 1];
                File.WriteAllText(progressFile + ".tmp", $"{ackedMods}\n");
                File.Move(progressFile + ".tmp", progressFile, overwrite: true);
                nextProgress += 0.1;
            }
            long due = (long)(sw.Elapsed.TotalSeconds * rate) & ~1L;
            if (due - sent < 2 || barriers - Interlocked.Read(ref barriersAcked) >= MaxOutstandingBarriers)
            {
                Thread.Sleep(1);
                continue;
            }
            int used = 0;
            long batchEnd = sent + maxPerBarrier;
            while (sent < due && sent < batchEnd && used + 512 < buf.Length)
            {
                int k = rng.Next(flows.Count);
                del[k].CopyTo(buf, used);
                used += del[k].Length;
                add[k].CopyTo(buf, used);
                used += add[k].Length;
                sent += 2;
            }
            used += new OfpBarrierRequest { Xid = 0xB0000000u + (uint)barriers }.Encode(buf.AsSpan(used));
            ackedAt.Add(sent);
            barriers++;
            try
            {
                lock (s) s.Send(buf.AsSpan(0, used));
            }
            catch (SocketException e)
            {
                // The switch closed the connection (e.g. a harness that ended its measurement first): report what
                // was acknowledged until then instead of dying mid-write.
                Console.Error.WriteLine($"churn: {target} closed the connection after {sw.Elapsed.TotalSeconds:F1} s ({e.SocketErrorCode}); stopping");
                break;
            }
            if (readyFile is not null && barriers == 1) File.WriteAllText(readyFile, "sending\n");
        }
        double sendSecs = sw.Elapsed.TotalSeconds;
        // Wait (briefly) for the last barriers.
        var drain = Stopwatch.StartNew();
        while (Interlocked.Read(ref barriersAcked) < barriers && drain.Elapsed.TotalSeconds < 10) Thread.Sleep(1);
        double secs = sw.Elapsed.TotalSeconds;
        long acked = Interlocked.Read(ref barriersAcked);
        long applied = acked == 0 ? 0 : ackedAt[(int)Math.Min(acked, ackedAt.Count) - 1];
        try { s.Shutdown(SocketShutdown.Both); } catch (SocketException) { } // already closed by the peer

        var r = new
        {
            target,
            flows = flows.Count,
            rate_requested = rate,
            flow_mods_sent = sent,
            flow_mods_acked = applied,
            flow_mods_per_s = applied / secs,
            seconds = secs,
            send_seconds = sendSecs,
            errors = Interlocked.Read(ref errors),
        };
        if (json) Console.WriteLine(JsonSerializer.Serialize(r));
        else Console.WriteLine($"churn: {applied:N0} flow-mods acknowledged in {secs:F2} s = {r.flow_mods_per_s:N0}/s (asked {rate:N0}/s), {r.errors} errors");
        return 0;
    }

    private static void ReadLoop(Socket s, ManualResetEventSlim helloSeen, ref long barriersAcked, ref long errors)
    {
        var buf = new byte[1 << 20];
        int start = 0, end = 0;
        try
        {
            while (true)
            {
                while (end - start >= 8)
                {
                    int len = BinaryPrimitives.ReadUInt16BigEndian(buf.AsSpan(start + 2));
                    if (len < 8) return;
                    if (end - start < len) break;
                    var type = (OfpType)buf[start + 1];
                    switch (type)
                    {
                        case OfpType.Hello: helloSeen.Set(); break;
                        case OfpType.BarrierReply: Interlocked.Increment(ref barriersAcked); break;
                        case OfpType.Error: Interlocked.Increment(ref errors); break;
                        case OfpType.EchoRequest:
                            {
                                var reply = buf.AsSpan(start, len).ToArray();
                                reply[1] = (byte)OfpType.EchoReply;
                                lock (s) s.Send(reply);
                                break;
                            }
                    }
                    start += len;
                }
                if (start > 0)
                {
                    Buffer.BlockCopy(buf, start, buf, 0, end - start);
                    end -= start;
                    start = 0;
                }
                int n = s.Receive(buf, end, buf.Length - end, SocketFlags.None);
                if (n == 0) return;
                end += n;
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
    }
}
