using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Softswitch.Bench.Plots;
using Softswitch.Datapath;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Memory;
using Softswitch.Datapath.Packets;
using Softswitch.OfAgent;
using Softswitch.Ofproto;
using Softswitch.OfWire.Of10;
using Softswitch.Ports.NetFpga;

namespace Softswitch.Bench.Agent;

/// <summary>
/// `bench agent`: plays a controller against the real agent over loopback TCP. Measures flow-mods per second
/// over one connection until the BARRIER_REPLY, and the packet-in → packet-out round trip (a miss on a memory
/// port until the released packet leaves another port), median and p99, and every sample in the JSON for a CDF; and the
/// FLOW_MOD+BARRIER round trip (one flow-mod and a barrier written together, until the BARRIER_REPLY), median and p99:
/// the connection's receive-handle-reply path on its own.
/// </summary>
public static class AgentBench
{
    public static int Run(string[] args)
    {
        int flows = 200_000, rtts = 2000;
        bool json = false;
        string? offloadMode = null, plotDir = null;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--flows": flows = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--round-trips": rtts = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--json": json = true; break;
                case "--offload": offloadMode = args[++i]; break;
                case "--plot": plotDir = args[++i]; break;
                default: Console.Error.WriteLine($"agent: unknown option {args[i]} (--flows N --round-trips N --offload netfpga-emulated --json --plot DIR)"); return 2;
            }
        }

        using var dp = new SwitchDatapath(new DatapathOptions { PacketInRate = 0 });
        var ports = new MemoryPort[4];
        for (int i = 0; i < 4; i++) ports[i] = new MemoryPort($"mem{i + 1}", new MacAddress(0x0200_0000_0000UL + (ulong)i + 1));
        NetFpgaOffload? offload = null;
        if (offloadMode is null)
        {
            for (int i = 0; i < 4; i++) dp.AddPort(ports[i]);
        }
        else
        {
            if (offloadMode != "netfpga-emulated")
            {
                Console.Error.WriteLine($"agent: --offload {offloadMode}: only netfpga-emulated runs without a board");
                return 2;
            }
            offload = NetFpgaOffload.Attach(dp, ports, NetFpgaMode.Emulated);
        }
        var agent = new OfSwitchAgent(new OfSwitch(dp, new OfSwitchOptions { DatapathId = 1 }), new AgentOptions { Controllers = { "ptcp:0" }, ReplyQueueLimit = 16 << 20, PacketInQueueLimit = 16 << 20 });
        agent.Start();
        dp.Start();
        int port = agent.ListenEndpoints[0].Port;

        using var s = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        s.Connect(IPAddress.Loopback, port);
        var rx = new Reader(s);
        rx.Next(); // HELLO
        s.Send(new OfpHello().ToArray());

        // 1. Flow-mods per second: N distinct exact flow-mods written back to back, then a barrier.
        var buf = new List<byte>(flows * 80);
        var fm = new OfpFlowMod { Command = OfpFlowModCommand.Add, Priority = 100 };
        fm.Actions.Add(OfpAction.Output(2));
        var batch = new byte[1 << 20];
        int used = 0;
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < flows; i++)
        {
            fm.Xid = (uint)i;
            fm.Match = new OfpMatch
            {
                Wildcards = 0, InPort = 1, DlType = 0x0800, NwProto = 17, NwSrc = 0x0A000000u + (uint)i, NwDst = 0x0B000001,
                TpSrc = 1000, TpDst = 2000, DlVlan = 0xFFFF,
            };
            if (used + 128 > batch.Length)
            {
                s.Send(batch.AsSpan(0, used));
                used = 0;
            }
            used += fm.Encode(batch.AsSpan(used));
        }
        used += new OfpBarrierRequest { Xid = 0xBA44 }.Encode(batch.AsSpan(used));
        s.Send(batch.AsSpan(0, used));
        while (true)
        {
            var m = rx.Next();
            if (m[1] == (byte)OfpType.BarrierReply) break;
            if (m[1] == (byte)OfpType.Error) throw new InvalidOperationException("flow-mod refused");
        }
        double fmSecs = sw.Elapsed.TotalSeconds;
        int installed = agent.Switch.Flows.ActiveExact;
        // With offload: when every flow has a placement (hardware or software with a reason), counted from the first
        // flow-mod sent.
        double placedSecs = fmSecs;
        int inHardware = 0;
        double latencyMeanUs = 0, latencyMaxUs = 0;
        if (offload is not null)
        {
            while (true)
            {
                var st = offload.Manager.Stats;
                if (st.HardwareFlows + st.SoftwareFlows >= installed)
                {
                    inHardware = st.HardwareFlows;
                    latencyMeanUs = st.PlacementLatencyMeanMicros;
                    latencyMaxUs = st.PlacementLatencyMaxMicros;
                    break;
                }
                Thread.Sleep(1);
            }
            placedSecs = sw.Elapsed.TotalSeconds;
        }

        // 2. FLOW_MOD+BARRIER round trips: a flow-mod (modifying one flow, so the table does not grow) and a barrier
        // in one write, timed until the BARRIER_REPLY.
        var fmb = new double[rtts];
        var one = new byte[256];
        fm.Command = OfpFlowModCommand.ModifyStrict;
        for (int i = 0; i < rtts + rtts / 10; i++)
        {
            fm.Xid = (uint)i;
            fm.Match = new OfpMatch
            {
                Wildcards = 0, InPort = 1, DlType = 0x0800, NwProto = 17, NwSrc = 0x0A000000u + (uint)(i % 1000), NwDst = 0x0B000001,
                TpSrc = 1000, TpDst = 2000, DlVlan = 0xFFFF,
            };
            int n = fm.Encode(one);
            n += new OfpBarrierRequest { Xid = 0xBB00_0000u + (uint)i }.Encode(one.AsSpan(n));
            long t0 = Stopwatch.GetTimestamp();
            s.Send(one.AsSpan(0, n));
            while (true)
            {
                var m = rx.Next();
                if (m[1] == (byte)OfpType.BarrierReply) break;
                if (m[1] == (byte)OfpType.Error) throw new InvalidOperationException("flow-mod refused");
            }
            // The first tenth warms up.
            if (i >= rtts / 10) fmb[i - rtts / 10] = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
        }
        Array.Sort(fmb);

        // 3. Packet-in -> packet-out round trip.
        long arrived = 0;
        ports[2].OnSend = _ => Interlocked.Increment(ref arrived);
        var lat = new double[rtts];
        var po = new OfpPacketOut { InPort = 1 };
        po.Actions.Add(OfpAction.Output(3));
        for (int i = 0; i < rtts; i++)
        {
            var frame = FrameBuilder.Udp(new MacAddress(1), new MacAddress(2), 0x0C000000u + (uint)i, 0x0D000001, 5, 6);
            long before = Interlocked.Read(ref arrived);
            long t0 = Stopwatch.GetTimestamp();
            ports[0].Inject(frame);
            byte[] pin;
            do pin = rx.Next(); while (pin[1] != (byte)OfpType.PacketIn);
            OfpMessage.TryDecode(pin, out var pm, out _);
            po.BufferId = ((OfpPacketIn)pm!).BufferId;
            s.Send(po.ToArray());
            while (Interlocked.Read(ref arrived) == before) Thread.SpinWait(10);
            lat[i] = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
        }
        Array.Sort(lat);
        // Every round trip's time, for the CDF (`bench plot`); recorded into the array above, read after the loop.
        var latency = new LatencySection
        {
            What = "packet-in to packet-out round trip",
            Unit = "us",
            Series = [new LatencySeries { Name = offloadMode is null ? "Softswitch" : $"Softswitch, {offloadMode}", Samples = lat }],
        };
        var r = new
        {
            flow_mods = flows,
            flow_mods_installed = installed,
            flow_mods_per_s = flows / fmSecs,
            offload = offloadMode ?? "none",
            flows_in_hardware = inHardware,
            all_placed_s = placedSecs,
            placement_latency_mean_us = latencyMeanUs,
            placement_latency_max_us = latencyMaxUs,
            round_trips = rtts,
            flow_mod_barrier_median_us = fmb[rtts / 2],
            flow_mod_barrier_p99_us = fmb[(int)(rtts * 0.99)],
            packet_in_out_median_us = lat[rtts / 2],
            packet_in_out_p99_us = lat[(int)(rtts * 0.99)],
            latency,
        };
        agent.DisposeAsync().AsTask().GetAwaiter().GetResult();
        offload?.Dispose();
        string text = JsonSerializer.Serialize(r);
        if (json)
        {
            Console.WriteLine(text);
        }
        else
        {
            Console.WriteLine($"flow-mods over one connection until BARRIER_REPLY: {flows:N0} in {fmSecs:F3} s = {r.flow_mods_per_s:N0}/s ({installed:N0} installed)");
            if (offload is not null)
            {
                Console.WriteLine($"offload {offloadMode}: every flow placed {placedSecs:F3} s after the first flow-mod ({inHardware:N0} in hardware); " +
                                  $"flow-mod to placement: mean {latencyMeanUs / 1000:F1} ms, max {latencyMaxUs / 1000:F1} ms");
            }

            Console.WriteLine($"FLOW_MOD+BARRIER round trip over {rtts:N0}: median {r.flow_mod_barrier_median_us:F1} us, p99 {r.flow_mod_barrier_p99_us:F1} us");
            Console.WriteLine($"packet-in -> packet-out round trip over {rtts:N0} packets: median {r.packet_in_out_median_us:F1} us, p99 {r.packet_in_out_p99_us:F1} us");
        }
        if (plotDir is not null)
        {
            // With --json, stdout stays the one JSON line: the files written are listed on stderr.
            var stdout = Console.Out;
            if (json) Console.SetOut(Console.Error);
            try { PlotCommand.WriteBeside(plotDir, "agent", text, new PlotData { Title = $"bench agent: {rtts:N0} packet-in to packet-out round trips", Latency = latency }); }
            finally { Console.SetOut(stdout); }
        }
        return 0;
    }

    private sealed class Reader(Socket s)
    {
        private readonly byte[] _buf = new byte[1 << 20];
        private int _start, _end;

        public byte[] Next()
        {
            while (true)
            {
                if (_end - _start >= 8)
                {
                    int len = (_buf[_start + 2] << 8) | _buf[_start + 3];
                    if (_end - _start >= len)
                    {
                        var m = _buf.AsSpan(_start, len).ToArray();
                        _start += len;
                        return m;
                    }
                }
                if (_start > 0)
                {
                    Buffer.BlockCopy(_buf, _start, _buf, 0, _end - _start);
                    _end -= _start;
                    _start = 0;
                }
                int n = s.Receive(_buf, _end, _buf.Length - _end, SocketFlags.None);
                if (n == 0) throw new IOException("switch closed the connection");
                _end += n;
            }
        }
    }
}
