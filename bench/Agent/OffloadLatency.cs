using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text.Json;
using Softswitch.Flows;
using Softswitch.Ofproto;
using Softswitch.OfWire.Of10;
using Softswitch.Ports.AfXdp;
using Softswitch.Ports.Linux;

namespace Softswitch.Bench.Agent;

/// <summary>
/// `bench offload-latency`: per sample, an OpenFlow 1.0 FLOW_MOD ADD and barrier for one exact flow whose frames already
/// arrive, timed from its send until the switch's XDP flow map holds the key, until the flow's counter slot counts a
/// frame (the first forwarded in the kernel; the slot is cleared before the key is written) and until the
/// BARRIER_REPLY; then DELETE_STRICT and barrier, and a check that the key left. The map is found from outside
/// (<see cref="SwitchFlowMaps"/>) and polled, yielding the CPU, so a loaded machine adds scheduling delay to the first
/// two; the reply is stamped on arrival. The row and its reading: docs/benchmarks.md ("The offload rows").
/// </summary>
public static class OffloadLatency
{
    public static int Run(string[] args)
    {
        string? target = null, flowFile = null, dev = null;
        int samples = 200, gapMs = 20, timeoutMs = 2000;
        bool json = false, traffic = true;
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
                switch (args[i])
                {
                    case "--target": target = Next(); break;
                    case "--flow-file": flowFile = Next(); break;
                    case "--dev": dev = Next(); break;
                    case "--samples": samples = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--gap-ms": gapMs = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--timeout-ms": timeoutMs = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--no-traffic": traffic = false; break;
                    case "--json": json = true; break;
                    default: throw new ArgumentException($"unknown option {args[i]}");
                }
            }
            if (target is null || flowFile is null || dev is null || samples < 1 || gapMs < 0 || timeoutMs < 1)
                throw new ArgumentException("need --target tcp:HOST:PORT|unix:FILE --flow-file FILE --dev IF (--samples N >= 1)");
        }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
        {
            Console.Error.WriteLine($"offload-latency: {e.Message}");
            return 2;
        }

        List<FlowMod> flows;
        List<byte[]> keys;
        SwitchFlowMaps maps;
        Socket s;
        try
        {
            flows = OfctlFlowParser.ParseFile(flowFile);
            if (flows.Count == 0) throw new FormatException($"{flowFile} has no flows");
            keys = Keys(flows, NetInterface.Open(dev).Index);
            maps = SwitchFlowMaps.Open(dev);
            s = OfConnection.Connect(target);
        }
        catch (Exception e) when (e is FormatException or IOException or SocketException or PortOpenException)
        {
            Console.Error.WriteLine($"offload-latency: {e.Message}");
            return 1;
        }
        using var mapsScope = maps;
        using var socket = s;
        var peer = new Peer(s, maps);
        if (!peer.WaitHello(TimeSpan.FromSeconds(10)))
        {
            Console.Error.WriteLine($"offload-latency: no HELLO from {target}");
            return 1;
        }

        var result = new Result();
        double tick = 1e6 / Stopwatch.Frequency;
        long timeout = timeoutMs * Stopwatch.Frequency / 1000;
        for (int n = 0; n < samples; n++)
        {
            int f = n % flows.Count;
            byte[] key = keys[f];
            uint addXid = (uint)(4 * n) + 1, addBarrier = (uint)(4 * n) + 2, delXid = (uint)(4 * n) + 3, delBarrier = (uint)(4 * n) + 4;
            if (maps.Slot(key) is not null) result.AlreadyPlaced++;
            byte[] add = [.. OfConnection.Encode(flows[f], OfpFlowModCommand.Add, addXid), .. new OfpBarrierRequest { Xid = addBarrier }.ToArray()];
            peer.Watch(addBarrier, key);
            long t0 = Stopwatch.GetTimestamp();
            peer.Send(add);
            long tMap = 0, tKernel = 0, tBarrier = 0;
            uint slot = 0;
            while (Stopwatch.GetTimestamp() - t0 < timeout)
            {
                if (tMap == 0 && maps.Slot(key) is { } sl)
                {
                    tMap = Stopwatch.GetTimestamp();
                    slot = sl;
                }
                if (tMap != 0 && tKernel == 0 && traffic && maps.Packets(slot) > 0) tKernel = Stopwatch.GetTimestamp();
                if (tBarrier == 0) tBarrier = peer.BarrierReplyTime(addBarrier);
                if (tMap != 0 && tBarrier != 0 && (tKernel != 0 || !traffic)) break;
                Thread.Yield();
            }
            if (tMap != 0) result.Map.Add((tMap - t0) * tick); else result.MapTimeouts++;
            if (tKernel != 0) result.Kernel.Add((tKernel - t0) * tick); else if (traffic) result.KernelTimeouts++;
            if (tBarrier != 0) result.Barrier.Add((tBarrier - t0) * tick); else result.BarrierTimeouts++;

            byte[] del = [.. OfConnection.Encode(flows[f], OfpFlowModCommand.DeleteStrict, delXid), .. new OfpBarrierRequest { Xid = delBarrier }.ToArray()];
            peer.Send(del);
            if (!peer.WaitBarrier(delBarrier, TimeSpan.FromMilliseconds(5000))) result.BarrierTimeouts++;
            else if (maps.Slot(key) is not null) result.InMapAfterDeleteBarrier++;
            if (gapMs > 0) Thread.Sleep(gapMs);
        }
        result.Errors = peer.Errors;
        result.NotInMapAtBarrierReply = peer.NotInMapAtReply;
        result.Samples = samples;
        if (json) Console.WriteLine(JsonSerializer.Serialize(result.ToJson()));
        else Console.WriteLine(result.Summary());
        return 0;
    }

    /// <summary>Each flow's map key (what the target writes for it) on the port of <paramref name="ifindex"/>; throws
    /// <see cref="FormatException"/> for a flow the map cannot hold by an exact key.</summary>
    public static List<byte[]> Keys(List<FlowMod> flows, int ifindex)
    {
        var keys = new List<byte[]>(flows.Count);
        foreach (var f in flows)
        {
            if (!f.Match.IsExact) throw new FormatException($"not an exact flow: {f.Match}");
            var k = new byte[XdpFlowProgram.KeySize];
            XdpOffloadTarget.KeyOf(f.Match.Value, ifindex, withAddresses: false).Write(k);
            keys.Add(k);
        }
        return keys;
    }

    /// <summary>The samples (microseconds from the FLOW_MOD's send) and what went wrong.</summary>
    public sealed class Result
    {
        public List<double> Map { get; } = [];
        public List<double> Kernel { get; } = [];
        public List<double> Barrier { get; } = [];
        public int Samples { get; set; }
        public int MapTimeouts { get; set; }
        public int KernelTimeouts { get; set; }
        public int BarrierTimeouts { get; set; }
        public int InMapAfterDeleteBarrier { get; set; }
        public int AlreadyPlaced { get; set; }
        public int NotInMapAtBarrierReply { get; set; }
        public long Errors { get; set; }

        public Dictionary<string, object?> ToJson() => new()
        {
            ["samples"] = Samples,
            ["flow_mod_to_map_us"] = Stats(Map),
            ["flow_mod_to_kernel_us"] = Stats(Kernel),
            ["flow_mod_to_barrier_reply_us"] = Stats(Barrier),
            ["map_timeouts"] = MapTimeouts,
            ["kernel_timeouts"] = KernelTimeouts,
            ["barrier_timeouts"] = BarrierTimeouts,
            ["in_map_after_delete_barrier"] = InMapAfterDeleteBarrier,
            ["not_in_map_at_add_barrier_reply"] = NotInMapAtBarrierReply,
            ["already_placed"] = AlreadyPlaced,
            ["errors"] = Errors,
        };

        public string Summary()
        {
            static string F(List<double> v) => v.Count == 0 ? "-" : string.Create(CultureInfo.InvariantCulture, $"median {Percentile(v, 50):F0} us, p99 {Percentile(v, 99):F0} us, max {v.Max():F0} us");
            return $"offload-latency: {Samples} flow-mods; to the map {F(Map)}; to the first frame forwarded in the kernel {F(Kernel)}; " +
                   $"to the BARRIER_REPLY {F(Barrier)}; timeouts map {MapTimeouts}, kernel {KernelTimeouts}, barrier {BarrierTimeouts}; " +
                   $"not in the map at the add's barrier reply {NotInMapAtBarrierReply}; in the map after the delete's barrier {InMapAfterDeleteBarrier}; errors {Errors}";
        }

        private static Dictionary<string, double>? Stats(List<double> v) => v.Count == 0 ? null : new()
        {
            ["median"] = Math.Round(Percentile(v, 50), 1),
            ["p99"] = Math.Round(Percentile(v, 99), 1),
            ["max"] = Math.Round(v.Max(), 1),
            ["n"] = v.Count,
        };
    }

    /// <summary>The nearest-rank <paramref name="p"/>th percentile (0 &lt; p &lt;= 100) of <paramref name="values"/> (not empty).</summary>
    public static double Percentile(IReadOnlyList<double> values, double p)
    {
        if (values.Count == 0) throw new ArgumentException("no values", nameof(values));
        if (!(p > 0 && p <= 100)) throw new ArgumentOutOfRangeException(nameof(p));
        var sorted = values.Order().ToArray();
        int rank = (int)Math.Ceiling(p / 100 * sorted.Length);
        return sorted[Math.Clamp(rank, 1, sorted.Length) - 1];
    }

    /// <summary>The switch's side of the connection: a reader thread that answers echo requests, counts errors,
    /// timestamps each BARRIER_REPLY by its xid and, for the watched one, checks the map holds the watched key.</summary>
    private sealed class Peer
    {
        private readonly Socket _s;
        private readonly SwitchFlowMaps _maps;
        private byte[] _watchKey = [];
        private uint _watchXid;
        private int _notInMap;
        private readonly Dictionary<uint, long> _barriers = [];
        private readonly ManualResetEventSlim _hello = new();
        private long _errors;

        public Peer(Socket s, SwitchFlowMaps maps)
        {
            _s = s;
            _maps = maps;
            Send(new OfpHello().ToArray());
            new Thread(ReadLoop) { IsBackground = true, Name = "latency-reader" }.Start();
        }

        public long Errors => Interlocked.Read(ref _errors);
        public int NotInMapAtReply => Volatile.Read(ref _notInMap);

        /// <summary>When the reply to barrier <paramref name="xid"/> arrives, the map must hold <paramref name="key"/>.</summary>
        public void Watch(uint xid, byte[] key)
        {
            lock (_barriers)
            {
                _watchKey = key;
                _watchXid = xid;
            }
        }

        public bool WaitHello(TimeSpan t) => _hello.Wait(t);

        public void Send(byte[] b)
        {
            lock (_s) _s.Send(b);
        }

        /// <summary>When the reply to barrier <paramref name="xid"/> arrived (a Stopwatch timestamp), or 0.</summary>
        public long BarrierReplyTime(uint xid)
        {
            lock (_barriers) return _barriers.GetValueOrDefault(xid);
        }

        public bool WaitBarrier(uint xid, TimeSpan t)
        {
            lock (_barriers)
            {
                var end = Stopwatch.GetTimestamp() + (long)(t.TotalSeconds * Stopwatch.Frequency);
                while (!_barriers.ContainsKey(xid))
                {
                    long left = end - Stopwatch.GetTimestamp();
                    if (left <= 0) return false;
                    Monitor.Wait(_barriers, TimeSpan.FromSeconds((double)left / Stopwatch.Frequency));
                }
                return true;
            }
        }

        private void ReadLoop()
        {
            var buf = new byte[1 << 16];
            int end = 0;
            try
            {
                while (true)
                {
                    int n = _s.Receive(buf, end, buf.Length - end, SocketFlags.None);
                    if (n == 0) return;
                    end += n;
                    int start = 0;
                    while (end - start >= 8)
                    {
                        int len = BinaryPrimitives.ReadUInt16BigEndian(buf.AsSpan(start + 2));
                        if (len < 8) return;
                        if (end - start < len) break;
                        switch ((OfpType)buf[start + 1])
                        {
                            case OfpType.Hello: _hello.Set(); break;
                            case OfpType.Error: Interlocked.Increment(ref _errors); break;
                            case OfpType.BarrierReply:
                                long now = Stopwatch.GetTimestamp();
                                uint xid = BinaryPrimitives.ReadUInt32BigEndian(buf.AsSpan(start + 4));
                                lock (_barriers)
                                {
                                    if (xid == _watchXid && _maps.Slot(_watchKey) is null) _notInMap++;
                                    _barriers[xid] = now;
                                    Monitor.PulseAll(_barriers);
                                }
                                break;
                            case OfpType.EchoRequest:
                                var reply = buf.AsSpan(start, len).ToArray();
                                reply[1] = (byte)OfpType.EchoReply;
                                Send(reply);
                                break;
                        }
                        start += len;
                    }
                    Buffer.BlockCopy(buf, start, buf, 0, end - start);
                    end -= start;
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }
        }
    }
}
