using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Softswitch.Datapath.Forwarding;
using Softswitch.Ports.Linux;

namespace Softswitch.Bench.Gen;

/// <summary>
/// `bench gen`: a paced UDP generator on one interface through an AF_PACKET TX ring (TPACKET_V2, PACKET_QDISC_BYPASS):
/// frames are written into ring slots once, per frame only the flow's bytes are patched and the slot's status flipped,
/// and one non-blocking send() (MSG_DONTWAIT: no wait for the frames' completion) hands every filled slot to the
/// driver (a veth transmits them inside that call). A <see cref="Pacer"/> spaces the frames (a few per send at most,
/// not a second's quota at once); unthrottled, each send takes up to <see cref="UnthrottledBatch"/> frames, as trafgen
/// fills its ring before one send. The thread is pinned to one CPU. Modes: a rate for a duration, unthrottled (rate 0 / max), or exactly K frames as
/// fast as possible (a burst). It prints what it sent: frames, seconds, achieved rate, frames the pacer could not
/// send in time (the generator's own limit), and send errors.
/// </summary>
/// <remarks>
/// Ring slots keep a full frame each, and a slot is as small as the frame allows (128 B for 64 B frames, so a
/// 4,096-frame ring is 512 KiB and stays in the cache); per frame only the flow's 8 bytes are patched
/// (<see cref="GenFrames.Patch"/>), so 1518 B frames cost what 64 B ones do on the generator's side. The protocol-0
/// socket receives nothing.
/// </remarks>
public static unsafe class PacketGen
{
    private const int PACKET_VERSION = 10;
    private const int PACKET_TX_RING = 13;
    private const int PACKET_QDISC_BYPASS = 20;
    private const int TPACKET_V2 = 1;
    private const uint TP_STATUS_AVAILABLE = 0;
    private const uint TP_STATUS_SEND_REQUEST = 1;
    private const uint TP_STATUS_WRONG_FORMAT = 4;
    private const int HdrSize = 32;           // TPACKET_ALIGN(sizeof(struct tpacket2_hdr)): frame data starts here on transmit
    private const int BlockSize = 1 << 16;
    /// <summary>Frames per send() when unthrottled (with --batch 0, the default).</summary>
    public const int UnthrottledBatch = 256;
    /// <summary>Frames per send() when paced (with --batch 0, the default).</summary>
    public const int PacedBatch = 32;

    /// <summary>The ring slot for a frame of <paramref name="length"/> bytes: header and frame rounded up to a power of two.</summary>
    public static int SlotSize(int length) => (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)(HdrSize + length));

    public sealed record Options
    {
        public string Dev { get; init; } = "";
        /// <summary>Frames per second; 0: unthrottled.</summary>
        public long Rate { get; init; }
        public double Seconds { get; init; } = 10;
        /// <summary>Non-zero: send exactly this many frames, then stop (Seconds is then a time limit).</summary>
        public long Count { get; init; }
        public int Size { get; init; } = 64;
        public int Flows { get; init; } = 1;
        public int Cpu { get; init; } = -1;
        /// <summary>Most frames per send(); 0: <see cref="UnthrottledBatch"/> unthrottled, <see cref="PacedBatch"/> paced.</summary>
        public int Batch { get; init; }

        /// <summary>The batch in effect.</summary>
        public int EffectiveBatch => Batch > 0 ? Batch : Rate == 0 ? UnthrottledBatch : PacedBatch;
        /// <summary>Frames the pacer may owe after a hiccup (its bucket depth): a generator descheduled for longer
        /// loses the rest (counted as missed) rather than catching up in one burst.</summary>
        public int Depth { get; init; } = 128;
        public int RingFrames { get; init; } = 4096;
        public string DstMac { get; init; } = "ff:ff:ff:ff:ff:ff";
        public string? SrcMac { get; init; }
        public string SrcIp { get; init; } = "10.88.0.1";
        public string DstIp { get; init; } = "10.88.0.2";
        public bool Json { get; init; }
        /// <summary>"packet": the AF_PACKET TX ring; "xdp": the kernel's XDP test-run in live-frames mode (<see cref="XdpGen"/>).</summary>
        public string Mode { get; init; } = "packet";
    }

    public readonly record struct Result(long Sent, double Seconds, long Missed, long SendErrors, long WrongFormat, long RatePps, int FrameSize, int Flows)
    {
        public double Pps => Seconds > 0 ? Sent / Seconds : 0;
    }

    public static int Run(string[] args)
    {
        Options o;
        try { o = Parse(args); }
        catch (Exception e) when (e is FormatException or ArgumentException or OverflowException)
        {
            Console.Error.WriteLine($"gen: {e.Message}");
            Usage();
            return 2;
        }
        if (o.Dev.Length == 0) { Usage(); return 2; }
        Result r;
        try { r = o.Mode == "xdp" ? XdpGen.Send(o) : Send(o); }
        catch (IOException e)
        {
            Console.Error.WriteLine($"gen: {e.Message}");
            return 1;
        }
        if (o.Json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                dev = o.Dev, frame_size = r.FrameSize, flows = r.Flows, rate_pps = r.RatePps, sent = r.Sent, seconds = r.Seconds,
                pps = r.Pps, missed = r.Missed, send_errors = r.SendErrors, wrong_format = r.WrongFormat, cpu = o.Cpu, mode = o.Mode,
            }));
        }
        else
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"gen {o.Dev} ({o.Mode}): sent {r.Sent} frames of {r.FrameSize} B ({r.Flows} flow(s)) in {r.Seconds:F3} s = {r.Pps:F0} pps " +
                $"(asked {(r.RatePps == 0 ? "max" : r.RatePps.ToString(CultureInfo.InvariantCulture))}; missed by the generator {r.Missed}; send errors {r.SendErrors}; refused {r.WrongFormat})"));
        }
        return 0;
    }

    private static void Usage() => Console.Error.WriteLine(
        "usage: Softswitch.Bench gen --dev IF [--rate PPS|max] [--seconds S] [--count K] [--size 64..1518] [--flows N] [--cpu C]\n" +
        "                            [--dst-mac M] [--src-mac M] [--src-ip A] [--dst-ip A] [--batch B] [--depth D] [--mode packet|xdp] [--json]");

    public static Options Parse(string[] args)
    {
        var o = new Options();
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            string V() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{a} needs a value");
            o = a switch
            {
                "--dev" => o with { Dev = V() },
                "--rate" => o with { Rate = V() is "max" or "0" ? 0 : ParseCount(args[i]) },
                "--seconds" => o with { Seconds = double.Parse(V(), CultureInfo.InvariantCulture) },
                "--count" => o with { Count = ParseCount(V()) },
                "--size" => o with { Size = int.Parse(V(), CultureInfo.InvariantCulture) },
                "--flows" => o with { Flows = int.Parse(V(), CultureInfo.InvariantCulture) },
                "--cpu" => o with { Cpu = int.Parse(V(), CultureInfo.InvariantCulture) },
                "--batch" => o with { Batch = int.Parse(V(), CultureInfo.InvariantCulture) },
                "--depth" => o with { Depth = int.Parse(V(), CultureInfo.InvariantCulture) },
                "--ring" => o with { RingFrames = int.Parse(V(), CultureInfo.InvariantCulture) },
                "--dst-mac" => o with { DstMac = V() },
                "--src-mac" => o with { SrcMac = V() },
                "--src-ip" => o with { SrcIp = V() },
                "--dst-ip" => o with { DstIp = V() },
                "--json" => o with { Json = true },
                "--mode" => o with { Mode = V() },
                _ => throw new ArgumentException($"unknown option {a}"),
            };
        }
        if (o.Mode is not ("packet" or "xdp")) throw new ArgumentException("--mode is packet or xdp");
        if (o.Size is < 64 or > 1518) throw new ArgumentException("--size is 64 to 1518");
        if (o.RingFrames < 64 || (o.RingFrames & (o.RingFrames - 1)) != 0) throw new ArgumentException("--ring is a power of two, at least 64");
        if (o.Batch < 0 || o.EffectiveBatch > o.RingFrames / 2) throw new ArgumentException("--batch is 1 to half the ring (0: automatic)");
        if (o.Rate > 0 && o.Depth < o.EffectiveBatch) throw new ArgumentException("--depth is at least --batch");
        return o;
    }

    /// <summary>"1000000", "1e6", "1.5M", "500k".</summary>
    public static long ParseCount(string text)
    {
        double scale = 1;
        string t = text.Trim();
        if (t.EndsWith('k') || t.EndsWith('K')) { scale = 1e3; t = t[..^1]; }
        else if (t.EndsWith('m') || t.EndsWith('M')) { scale = 1e6; t = t[..^1]; }
        double v = double.Parse(t, NumberStyles.Float, CultureInfo.InvariantCulture) * scale;
        if (v < 0 || v > long.MaxValue) throw new ArgumentException($"not a count: {text}");
        return (long)Math.Round(v);
    }

    public static Result Send(Options o)
    {
        if (o.Cpu >= 0 && !CpuPlacement.PinCurrentThread(o.Cpu, out var why)) throw new IOException($"pinning to CPU {o.Cpu}: {why}");
        var nif = NetInterface.Open(o.Dev);
        byte[] src = o.SrcMac is { } sm ? GenFrames.ParseMac(sm) : MacBytes(nif);
        var frames = new GenFrames(o.Size, o.Flows, GenFrames.ParseMac(o.DstMac), src, GenFrames.ParseIp(o.SrcIp), GenFrames.ParseIp(o.DstIp));
        int fd = LibC.socket(LibC.AF_PACKET, LibC.SOCK_RAW | LibC.SOCK_CLOEXEC, 0);
        if (fd < 0) throw new IOException($"socket(AF_PACKET): {LibC.StrError(LibC.LastErrno)}");
        byte* ring = null;
        int slotSize = SlotSize(frames.Length);
        nuint ringSize = (nuint)o.RingFrames * (nuint)slotSize;
        try
        {
            int v = TPACKET_V2;
            if (LibC.setsockopt(fd, LibC.SOL_PACKET, PACKET_VERSION, &v, 4) != 0) throw Err("PACKET_VERSION");
            int one = 1;
            if (LibC.setsockopt(fd, LibC.SOL_PACKET, PACKET_QDISC_BYPASS, &one, 4) != 0) throw Err("PACKET_QDISC_BYPASS");
            uint* req = stackalloc uint[4];
            uint block = (uint)Math.Min(BlockSize, (long)ringSize);
            req[0] = block;
            req[1] = (uint)(ringSize / block);
            req[2] = (uint)slotSize;
            req[3] = (uint)o.RingFrames;
            if (LibC.setsockopt(fd, LibC.SOL_PACKET, PACKET_TX_RING, req, 16) != 0) throw Err("PACKET_TX_RING");
            nint m = LibC.mmap(null, ringSize, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED | LibC.MAP_POPULATE, fd, 0);
            if (m == LibC.MAP_FAILED) throw Err("mmap of the TX ring");
            ring = (byte*)m;
            byte* sll = stackalloc byte[20];
            new Span<byte>(sll, 20).Clear();
            *(ushort*)sll = LibC.AF_PACKET;
            *(int*)(sll + 4) = nif.Index;
            if (LibC.bind(fd, sll, 20) != 0) throw Err($"bind to {o.Dev}");
            for (int s = 0; s < o.RingFrames; s++)
            {
                byte* hdr = ring + (long)s * slotSize;
                frames.Template.CopyTo(new Span<byte>(hdr + HdrSize, frames.Length));
                *(uint*)(hdr + 4) = (uint)frames.Length;   // tp_len, the same for every frame
            }
            return Loop(o, fd, ring, slotSize, frames);
        }
        finally
        {
            if (ring != null) LibC.munmap(ring, ringSize);
            LibC.close(fd);
        }
    }

    private static IOException Err(string what) => new($"{what}: {LibC.StrError(LibC.LastErrno)}");

    internal static byte[] MacBytes(NetInterface nif)
    {
        var b = new byte[6];
        nif.Mac.Write(b);
        return b;
    }

    private static Result Loop(Options o, int fd, byte* ring, int slotSize, GenFrames frames)
    {
        long freq = Stopwatch.Frequency;
        long t0 = Stopwatch.GetTimestamp();
        long end = t0 + (long)(o.Seconds * freq);
        var pacer = new Pacer(o.Rate, o.Depth, freq, t0);
        long sent = 0, queued = 0, errors = 0, wrong = 0, unplaced = 0;
        uint mask = (uint)o.RingFrames - 1;
        uint slot = 0;
        int len = frames.Length;
        int flow = 0;
        long now = t0;
        int batch = o.EffectiveBatch;
        while (now < end && (o.Count == 0 || queued < o.Count))
        {
            int want = batch;
            if (o.Count > 0) want = (int)Math.Min(want, o.Count - queued);
            int n = pacer.Take(now, want);
            if (n == 0)
            {
                now = Stopwatch.GetTimestamp();
                continue;
            }
            int filled = 0;
            for (; filled < n; filled++)
            {
                byte* hdr = ring + (long)(slot & mask) * slotSize;
                uint status = Volatile.Read(ref *(uint*)hdr);
                if (status == TP_STATUS_WRONG_FORMAT) wrong++;
                else if (status != TP_STATUS_AVAILABLE) break;   // the kernel still owns this slot: send what is filled
                frames.Patch(new Span<byte>(hdr + HdrSize, len), flow);
                if (++flow == frames.Flows) flow = 0;
                Volatile.Write(ref *(uint*)hdr, TP_STATUS_SEND_REQUEST);
                slot++;
            }
            queued += filled;
            if (o.Rate > 0) unplaced += n - filled;             // granted, but the ring had no free slot in time
            nint r = LibC.sendto(fd, null, 0, LibC.MSG_DONTWAIT, null, 0);
            if (r < 0)
            {
                int e = LibC.LastErrno;
                if (e is not (LibC.EAGAIN or LibC.EINTR or LibC.ENOBUFS)) throw new IOException($"send on {o.Dev}: {LibC.StrError(e)}");
                if (e != LibC.EAGAIN) errors++;                 // EAGAIN: the socket's send buffer is full; the slots wait
            }
            else
            {
                sent += r / len;
            }
            now = Stopwatch.GetTimestamp();
        }
        // Frames still queued when the time ran out: one last send, then whatever the kernel accepted counts.
        for (int i = 0; i < 100 && queued > sent + wrong; i++)
        {
            nint r = LibC.sendto(fd, null, 0, 0, null, 0);
            if (r > 0) sent += r / len;
            else if (r == 0) break;
        }
        double secs = (Stopwatch.GetTimestamp() - t0) / (double)freq;
        return new Result(sent, secs, pacer.Missed + unplaced, errors, wrong, o.Rate, o.Size, o.Flows);
    }
}
