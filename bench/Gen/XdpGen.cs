using System.Diagnostics;
using System.Globalization;
using Softswitch.Datapath.Forwarding;
using Softswitch.Ports.AfXdp;
using Softswitch.Ports.Linux;

namespace Softswitch.Bench.Gen;

/// <summary>
/// `bench gen --mode xdp`: the generator as the kernel's own XDP test-run in live-frames mode
/// (<c>BPF_PROG_TEST_RUN</c> with <c>BPF_F_TEST_XDP_LIVE_FRAMES</c>, as xdp-tools' xdp-trafficgen): a program of ours
/// runs once per frame on a page-pool copy of the template and redirects it (<c>bpf_redirect</c>) out of the
/// interface, so a frame costs no socket buffer on the sending side; a veth hands it to its peer as an XDP frame,
/// as a NIC's driver hands a received frame to its XDP program. The peer must run an XDP program (or have GRO on),
/// otherwise the veth refuses every frame.
/// </summary>
/// <remarks>
/// The program paces and counts (<see cref="Program"/>): its state is one array-map entry (when the next frame is
/// due, frames sent, a limit), so a test-run call of many runs spins in the kernel, dropping runs (a page recycle
/// each) until a frame is due, and the frames leave spaced by the rate as the AF_PACKET mode spaces them. With N flows
/// it writes flow (sent mod N)'s 8 bytes from a second array map (the values <see cref="GenFrames.Patch"/> writes), so
/// flows rotate frame by frame. Unthrottled, every run is a frame. What counts as sent is what the veth accepted (its
/// <c>xdp_xmit</c> counters in <c>ethtool -S</c>, before and after the run): a frame refused (the peer's ring full, or
/// no program there, which no error counter shows) is a send error.
/// </remarks>
public static unsafe class XdpGen
{
    private const int BPF_PROG_TEST_RUN = 10;
    private const uint BPF_F_TEST_XDP_LIVE_FRAMES = 1 << 1;
    private const uint BPF_MAP_TYPE_ARRAY = 2;
    private const int BPF_FUNC_redirect = 23;
    private const int BPF_FUNC_ktime_get_ns = 5;
    private const int AttrSize = 128;
    /// <summary>Frames per test-run call when unthrottled.</summary>
    public const int UnthrottledChunk = 1 << 14;
    /// <summary>Program runs per test-run call when paced (most of them drops while no frame is due).</summary>
    private const int PacedRuns = 1 << 12;
    /// <summary>Frames the kernel runs between two flushes to the device (its NAPI budget).</summary>
    private const int KernelBatch = 64;

    /// <summary>The pacing state, one array-map entry the program reads and writes per frame.</summary>
    private const int StateSize = 40;
    private const short NextOff = 0;       // u64: when the next frame is due, ns << FixedShift (CLOCK_MONOTONIC)
    private const short SentOff = 8;       // u64: frames redirected so far
    private const short LimitOff = 16;     // u64: stop after this many (0: no limit)
    private const short SlackOff = 24;     // u64: how far behind the schedule may lag (the bucket's depth), fixed point
    private const short IntervalOff = 32;  // u64: ns between frames, fixed point (0: unthrottled)
    private const int FixedShift = 10;

    /// <summary>The program, for every run: with a limit, drop once <c>sent</c> reaches it; paced, drop until the
    /// next frame is due, then move the schedule one interval on (never lagging more than the slack behind now);
    /// count the frame; with <paramref name="flows"/> over 1, write flow <c>sent mod flows</c>'s 8 bytes (map
    /// <paramref name="patchesFd"/>); redirect it out of <paramref name="ifindex"/>. A dropped run costs the
    /// kernel's loop a page recycle, so pacing spins in the kernel, a run at a time, as the AF_PACKET mode spins on
    /// the clock.</summary>
    public static ulong[] Program(int ifindex, int flows, int stateFd, int patchesFd)
    {
        var a = new Asm();
        a.Op(0xbf, 6, 1, 0, 0);                                 // r6 = ctx
        a.Op(0x85, 0, 0, 0, BPF_FUNC_ktime_get_ns);             // r0 = now (ns)
        a.Op(0xbf, 7, 0, 0, 0);                                 // r7 = now
        a.Op(0x67, 7, 0, 0, FixedShift);                        // r7 <<= shift
        a.Op(0x62, 10, 0, -4, 0);                               // key = 0
        a.Op(0xbf, 2, 10, 0, 0);
        a.Op(0x07, 2, 0, 0, -4);                                // r2 = &key
        a.LoadMap(1, stateFd);                                  // r1 = state map
        a.Op(0x85, 0, 0, 0, Bpf.BPF_FUNC_map_lookup_elem);
        a.Jump(0x15, 0, 0, 0, "drop");                          // if !state goto drop
        a.Op(0xbf, 8, 0, 0, 0);                                 // r8 = state
        a.Op(0x79, 9, 8, SentOff, 0);                           // r9 = sent
        a.Op(0x79, 1, 8, LimitOff, 0);                          // r1 = limit
        a.Jump(0x15, 1, 0, 0, "nolimit");                       // if limit == 0 skip
        a.Jump(0x3d, 9, 1, 0, "drop");                          // if sent >= limit goto drop
        a.Label("nolimit");
        a.Op(0x79, 1, 8, NextOff, 0);                           // r1 = next
        a.Jump(0xad, 7, 1, 0, "drop");                          // if now < next goto drop
        a.Op(0xbf, 2, 7, 0, 0);                                 // r2 = now
        a.Op(0x79, 3, 8, SlackOff, 0);
        a.Op(0x1f, 2, 3, 0, 0);                                 // r2 = now - slack
        a.Jump(0x3d, 1, 2, 0, "ontime");                        // if next >= now - slack skip
        a.Op(0xbf, 1, 2, 0, 0);                                 // next = now - slack (what lagged more is not sent)
        a.Label("ontime");
        a.Op(0x79, 3, 8, IntervalOff, 0);
        a.Op(0x0f, 1, 3, 0, 0);                                 // next += interval
        a.Op(0x7b, 8, 1, NextOff, 0);                           // state.next = next
        a.Op(0xbf, 1, 9, 0, 0);
        a.Op(0x07, 1, 0, 0, 1);
        a.Op(0x7b, 8, 1, SentOff, 0);                           // state.sent = sent + 1
        if (flows > 1)
        {
            a.Op(0xbf, 1, 9, 0, 0);
            a.Op(0x97, 1, 0, 0, flows);                         // r1 = sent % flows
            a.Op(0x63, 10, 1, -8, 0);                           // key = flow
            a.Op(0xbf, 2, 10, 0, 0);
            a.Op(0x07, 2, 0, 0, -8);                            // r2 = &key
            a.LoadMap(1, patchesFd);                            // r1 = patch map
            a.Op(0x85, 0, 0, 0, Bpf.BPF_FUNC_map_lookup_elem);
            a.Jump(0x15, 0, 0, 0, "out");                       // if !patch goto out
            a.Op(0x61, 2, 6, 0, 0);                             // r2 = ctx->data
            a.Op(0x61, 3, 6, 4, 0);                             // r3 = ctx->data_end
            a.Op(0xbf, 4, 2, 0, 0);
            a.Op(0x07, 4, 0, 0, GenFrames.UdpSrcPortOffset + 2);
            a.Jump(0x2d, 4, 3, 0, "out");                       // if data + 36 > data_end goto out
            a.Op(0x79, 1, 0, 0, 0);                             // r1 = patch (wire order, little-endian u64)
            a.Op(0x63, 2, 1, GenFrames.SrcIpOffset, 0);         // source address
            a.Op(0x77, 1, 0, 0, 32);
            a.Op(0x6b, 2, 1, GenFrames.IpChecksumOffset, 0);    // IPv4 checksum
            a.Op(0x77, 1, 0, 0, 16);
            a.Op(0x6b, 2, 1, GenFrames.UdpSrcPortOffset, 0);    // UDP source port
        }
        a.Label("out");
        a.Op(0xb7, 1, 0, 0, ifindex);
        a.Op(0xb7, 2, 0, 0, 0);
        a.Op(0x85, 0, 0, 0, BPF_FUNC_redirect);                 // return bpf_redirect(ifindex, 0)
        a.Op(0x95, 0, 0, 0, 0);
        a.Label("drop");
        a.Op(0xb7, 0, 0, 0, Bpf.XDP_DROP);
        a.Op(0x95, 0, 0, 0, 0);
        return a.Build();
    }

    /// <summary>A few lines of BPF assembly with forward jumps to labels.</summary>
    private sealed class Asm
    {
        private readonly List<ulong> _insns = [];
        private readonly List<(int At, string Label)> _jumps = [];
        private readonly Dictionary<string, int> _labels = [];

        public void Op(byte code, int dst, int src, short off, int imm) => _insns.Add(Bpf.Insn(code, dst, src, off, imm));

        public void LoadMap(int dst, int mapFd)
        {
            Op(0x18, dst, 1, 0, mapFd);   // ld_imm64, BPF_PSEUDO_MAP_FD
            _insns.Add(0);
        }

        public void Jump(byte code, int dst, int src, int imm, string label)
        {
            _jumps.Add((_insns.Count, label));
            Op(code, dst, src, 0, imm);
        }

        public void Label(string name) => _labels[name] = _insns.Count;

        public ulong[] Build()
        {
            foreach (var (at, label) in _jumps)
            {
                ulong off = (ushort)(short)(_labels[label] - at - 1);
                _insns[at] = (_insns[at] & ~(0xFFFFUL << 16)) | (off << 16);
            }
            return [.. _insns];
        }
    }

    public static PacketGen.Result Send(PacketGen.Options o)
    {
        if (o.Cpu >= 0 && !CpuPlacement.PinCurrentThread(o.Cpu, out var why)) throw new IOException($"pinning to CPU {o.Cpu}: {why}");
        var nif = NetInterface.Open(o.Dev);
        byte[] src = o.SrcMac is { } sm ? GenFrames.ParseMac(sm) : PacketGen.MacBytes(nif);
        var frames = new GenFrames(o.Size, o.Flows, GenFrames.ParseMac(o.DstMac), src, GenFrames.ParseIp(o.SrcIp), GenFrames.ParseIp(o.DstIp));
        int state = -1, patches = -1, prog = -1, hold = -1;
        string holder = $"gen{Environment.ProcessId:x}h";
        try
        {
            prog = Load(frames, nif.Index, out state, out patches);
            hold = Hold(prog, holder);
            long? before = XdpXmit(o.Dev);
            var r = Loop(o, prog, state, frames);
            if (before is not { } b0 || XdpXmit(o.Dev) is not { } b1) return r;
            long accepted = Math.Min(r.Sent, b1 - b0);
            return r with { Sent = accepted, SendErrors = r.SendErrors + (r.Sent - accepted) };
        }
        finally
        {
            Close(hold, prog, state, patches);
            if (hold >= 0) Ip("link", "del", holder);
        }
    }

    /// <summary>
    /// Keeps the program in the kernel's XDP dispatcher for the run: each test-run call adds its program to the
    /// dispatcher and removes it after (code patching with IPIs to every CPU, milliseconds on a VM, during which no
    /// frame leaves), unless the program is attached somewhere already. So it is attached (generic mode) to one end
    /// of a private veth pair that carries nothing, deleted after the run. Returns the link, or -1 if that failed
    /// (the run then pays the patching per call).
    /// </summary>
    private static int Hold(int prog, string name)
    {
        if (!Ip("link", "add", name, "type", "veth", "peer", "name", name[..^1] + "p")) return -1;
        int link = Bpf.AttachXdp(prog, NetInterface.Open(name).Index, Bpf.XDP_FLAGS_SKB_MODE);
        if (link >= 0) return link;
        Ip("link", "del", name);
        return -1;
    }

    private static bool Ip(params string[] args)
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo("ip", args) { RedirectStandardError = true, UseShellExecute = false });
            if (p is null) return false;
            p.StandardError.ReadToEnd();
            p.WaitForExit();
            return p.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }

    /// <summary>The program's output for <paramref name="count"/> frames in a row (the kernel's test run without
    /// live frames returns the frame as the program left it): flow by flow, what leaves the interface.</summary>
    public static byte[][] RunOnEachFlow(GenFrames frames, int count)
    {
        int state = -1, patches = -1, prog = -1;
        byte* attr = stackalloc byte[AttrSize];
        try
        {
            prog = Load(frames, ifindex: 1, out state, out patches);
            var outs = new byte[count][];
            byte[] input = frames.Template.ToArray();
            for (int i = 0; i < count; i++)
            {
                outs[i] = new byte[frames.Length];
                fixed (byte* d = input)
                fixed (byte* o = outs[i])
                {
                    new Span<byte>(attr, AttrSize).Clear();
                    *(uint*)(attr + 0) = (uint)prog;
                    *(uint*)(attr + 8) = (uint)input.Length;     // data_size_in
                    *(uint*)(attr + 12) = (uint)input.Length;    // data_size_out
                    *(ulong*)(attr + 16) = (ulong)d;
                    *(ulong*)(attr + 24) = (ulong)o;             // data_out
                    *(uint*)(attr + 32) = 1;                     // repeat
                    long r = LibC.syscall3(LibC.SYS_bpf, BPF_PROG_TEST_RUN, (long)attr, AttrSize);
                    if (r < 0) throw new IOException($"test run: {LibC.StrError(LibC.LastErrno)}");
                }
            }
            return outs;
        }
        finally
        {
            Close(prog, state, patches);
        }
    }

    private static int Load(GenFrames frames, int ifindex, out int state, out int patches)
    {
        state = Check(Bpf.CreateMap(BPF_MAP_TYPE_ARRAY, 4, StateSize, 1, "gen_state"), "creating the pacing state");
        patches = -1;
        if (frames.Flows > 1)
        {
            patches = Check(Bpf.CreateMap(BPF_MAP_TYPE_ARRAY, 4, 8, frames.Flows, "gen_patches"), "creating the flow map");
            Span<byte> key = stackalloc byte[4];
            Span<byte> value = stackalloc byte[8];
            for (int f = 0; f < frames.Flows; f++)
            {
                BitConverter.TryWriteBytes(key, f);
                BitConverter.TryWriteBytes(value, frames.PatchValue(f));
                Check(Bpf.UpdateElem(patches, key, value), "filling the flow map");
            }
        }
        int prog = Bpf.LoadXdpProgram(Program(ifindex, frames.Flows, state, patches), "bench_gen", out string log);
        if (prog < 0) throw new IOException($"loading the generator's program: {LibC.StrError(-prog)} {log}");
        return prog;
    }

    private static void Close(params ReadOnlySpan<int> fds)
    {
        foreach (int fd in fds) if (fd >= 0) LibC.close(fd);
    }

    private static int Check(int r, string what) => r >= 0 ? r : throw new IOException($"{what}: {LibC.StrError(-r)}");

    private static PacketGen.Result Loop(PacketGen.Options o, int prog, int stateMap, GenFrames frames)
    {
        byte* data = (byte*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)frames.Length, 64);
        byte* attr = stackalloc byte[AttrSize];
        Span<byte> key = stackalloc byte[4];
        Span<byte> st = stackalloc byte[StateSize];
        key.Clear();
        try
        {
            frames.Template.CopyTo(new Span<byte>(data, frames.Length));
            long freq = Stopwatch.Frequency;
            long t0 = Stopwatch.GetTimestamp();
            long t0Ns = (long)(t0 * (1e9 / freq));   // CLOCK_MONOTONIC, the program's clock
            st.Clear();
            if (o.Rate > 0)
            {
                long interval = (long)Math.Round(1e9 * (1 << FixedShift) / o.Rate);
                BitConverter.TryWriteBytes(st[NextOff..], t0Ns << FixedShift);
                BitConverter.TryWriteBytes(st[SlackOff..], interval * o.Depth);
                BitConverter.TryWriteBytes(st[IntervalOff..], interval);
            }
            BitConverter.TryWriteBytes(st[LimitOff..], o.Count);
            Check(Bpf.UpdateElem(stateMap, key, st), "setting the pacing state");
            long end = t0 + (long)(o.Seconds * freq);
            long sent = 0, errors = 0;
            long now = t0;
            while (now < end && (o.Count == 0 || sent < o.Count))
            {
                // Unthrottled, a run is a frame; paced, most runs are drops (a few tens of ns each) until one is due.
                int runs = o.Rate == 0 ? UnthrottledChunk : PacedRuns;
                if (o.Rate == 0 && o.Count > 0) runs = (int)Math.Min(runs, o.Count - sent);
                int e = TestRun(attr, prog, data, frames.Length, runs);
                if (e == -LibC.EINTR) errors++;
                else if (e != 0) throw new IOException($"test run of the generator's program: {LibC.StrError(-e)}");
                Check(Bpf.LookupElem(stateMap, key, st), "reading the pacing state");
                sent = BitConverter.ToInt64(st[SentOff..]);
                now = Stopwatch.GetTimestamp();
            }
            double secs = (Stopwatch.GetTimestamp() - t0) / (double)freq;
            long due = o.Rate == 0 ? sent : (long)Math.Min(o.Count > 0 ? o.Count : long.MaxValue, secs * o.Rate);
            return new PacketGen.Result(sent, secs, Math.Max(0, due - sent), errors, 0, o.Rate, o.Size, o.Flows);
        }
        finally
        {
            System.Runtime.InteropServices.NativeMemory.AlignedFree(data);
        }
    }

    /// <summary>Runs the program on <paramref name="repeat"/> live frames of <paramref name="data"/>; 0 or -errno.</summary>
    private static int TestRun(byte* a, int prog, byte* data, int length, int repeat)
    {
        new Span<byte>(a, AttrSize).Clear();
        *(uint*)(a + 0) = (uint)prog;            // prog_fd
        *(uint*)(a + 8) = (uint)length;          // data_size_in
        *(ulong*)(a + 16) = (ulong)data;         // data_in
        *(uint*)(a + 32) = (uint)repeat;         // repeat
        *(uint*)(a + 64) = BPF_F_TEST_XDP_LIVE_FRAMES; // flags
        *(uint*)(a + 72) = KernelBatch;          // batch_size
        long r = LibC.syscall3(LibC.SYS_bpf, BPF_PROG_TEST_RUN, (long)a, AttrSize);
        return r < 0 ? -LibC.LastErrno : 0;
    }

    /// <summary>Frames the interface's XDP transmit accepted so far (the sum of its <c>xdp_xmit</c> counters in
    /// <c>ethtool -S</c>, as a veth keeps them); null if it has none or ethtool is missing.</summary>
    public static long? XdpXmit(string dev)
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo("ethtool", ["-S", dev]) { RedirectStandardOutput = true, UseShellExecute = false });
            if (p is null) return null;
            string text = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            return SumXdpXmit(text);
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }

    /// <summary>The sum of the <c>*_xdp_xmit</c> counters in <c>ethtool -S</c> output; null if there is none.</summary>
    public static long? SumXdpXmit(string ethtoolStats)
    {
        long sum = 0;
        bool found = false;
        foreach (var line in ethtoolStats.Split('\n'))
        {
            int colon = line.IndexOf(':');
            if (colon < 0 || !line.AsSpan(0, colon).Trim().EndsWith("_xdp_xmit", StringComparison.Ordinal)) continue;
            if (long.TryParse(line.AsSpan(colon + 1).Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out long v))
            {
                sum += v;
                found = true;
            }
        }
        return found ? sum : null;
    }
}
