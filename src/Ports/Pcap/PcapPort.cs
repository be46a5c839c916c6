using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Extensions.Logging;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;
using Softswitch.Ports.Linux;

namespace Softswitch.Ports.Pcap;

/// <summary>Tuning of a <see cref="PcapPort"/>.</summary>
public sealed record PcapOptions
{
    public int SnapLen { get; init; } = 65535;
    /// <summary>Kernel buffer (libpcap's ring) in bytes.</summary>
    public int BufferSize { get; init; } = 4 << 20;
    public bool Promiscuous { get; init; } = true;
    /// <summary>How long an empty <see cref="PcapPort.Receive"/> waits in poll() on the capture fd (0, the default: never
    /// waits; the forwarding thread blocks on <see cref="PcapPort.WaitFd"/> instead).</summary>
    public int IdleWaitMs { get; init; }
    public ILogger? Logger { get; init; }
}

/// <summary>
/// A port through libpcap (the portable fallback: slower than AF_PACKET, one syscall per transmitted frame).
/// </summary>
/// <remarks>
/// Open: pcap_create, snaplen, promisc, immediate mode (no buffering delay), pcap_activate, then non-blocking mode
/// and pcap_setdirection(PCAP_D_IN) so our own injected frames are not captured back.
/// Receive: pcap_next_ex in a loop up to the burst size, copying each frame into a pool buffer (libpcap's pointer is
/// valid only until the next call); buffers are allocated once per non-empty burst and leftovers returned. An idle
/// forwarding thread blocks on the selectable fd (<see cref="WaitFd"/>, libpcap runs it in immediate mode).
/// libpcap re-inserts 802.1Q tags the kernel moved into metadata, so frames arrive as on the wire.
/// Transmit: pcap_inject per frame, under a lock (a pcap_t is not thread safe).
/// Drops: ps_drop + ps_ifdrop from pcap_stats (cumulative), read about once a second by the poll thread.
/// </remarks>
[SkipLocalsInit]
public sealed unsafe class PcapPort : IPort
{
    private readonly NetInterface _if;
    private readonly PcapOptions _opt;
    private readonly PortCounters _counters = new() { RxErrors = 0 }; // the one error counter this port keeps
    private readonly Lock _txLock = new();
    private nint _pcap;
    private readonly int _fd;
    private long _nextStatsTick;
    private long _lastKernelDrops;
    private long _rxTooBig;

    public PortInfo Info { get; }
    public PortCounters Counters => _counters;
    public bool LinkUp => _if.IsUp;
    public NetInterface Interface => _if;
    public long RxTooBig => Volatile.Read(ref _rxTooBig);
    public int WaitFd => _fd >= 0 ? _fd : PortWait.Unavailable;

    /// <summary>libpcap's version string, or null when libpcap is not installed.</summary>
    public static string? LibraryVersion => LibPcap.Available ? LibPcap.Str(LibPcap.pcap_lib_version()) : null;

    public PcapPort(string ifname, PcapOptions? options = null)
    {
        _opt = options ?? new PcapOptions();
        _if = NetInterface.Open(ifname);
        if (!LibPcap.Available)
        {
            throw new PortOpenException(PortOpenError.LibraryMissing, ifname,
                $"pcap:{ifname} needs libpcap, but {LibPcap.Lib} could not be loaded: install it (Debian/Ubuntu: `apt-get install libpcap0.8`) or use afpacket:{ifname}.");
        }

        byte* errbuf = stackalloc byte[LibPcap.ErrbufSize];
        errbuf[0] = 0;
        Span<byte> name = stackalloc byte[LibC.IFNAMSIZ];
        name.Clear();
        Encoding.ASCII.GetBytes(ifname, name);
        fixed (byte* n = name) _pcap = LibPcap.pcap_create(n, errbuf);
        if (_pcap == 0)
            throw new PortOpenException(PortOpenError.Failed, ifname, $"pcap_create({ifname}) failed: {LibPcap.Str(errbuf)}");
        try
        {
            LibPcap.pcap_set_snaplen(_pcap, _opt.SnapLen);
            LibPcap.pcap_set_promisc(_pcap, _opt.Promiscuous ? 1 : 0);
            LibPcap.pcap_set_immediate_mode(_pcap, 1);
            LibPcap.pcap_set_timeout(_pcap, 1);
            LibPcap.pcap_set_buffer_size(_pcap, _opt.BufferSize);
            int rc = LibPcap.pcap_activate(_pcap);
            if (rc < 0) throw ActivateError(ifname, rc);
            if (rc > 0)
                _opt.Logger?.LogWarning("{If}: pcap_activate warning: {Warning} {Detail}", ifname, LibPcap.Str(LibPcap.pcap_statustostr(rc)), Err());
            if (LibPcap.pcap_setnonblock(_pcap, 1, errbuf) < 0)
                throw new PortOpenException(PortOpenError.Failed, ifname, $"pcap_setnonblock({ifname}) failed: {LibPcap.Str(errbuf)}");
            if (LibPcap.pcap_setdirection(_pcap, LibPcap.PCAP_D_IN) < 0)
            {
                throw new PortOpenException(PortOpenError.Unsupported, ifname,
                    $"pcap:{ifname}: libpcap cannot capture inbound-only (pcap_setdirection: {Err()}); without it the port would receive its own transmissions.");
            }

            _fd = LibPcap.pcap_get_selectable_fd(_pcap);
            Info = _if.ToPortInfo();
        }
        catch
        {
            Dispose();
            throw;
        }
        _opt.Logger?.LogInformation("{If}: pcap port open ({Version})", ifname, LibraryVersion);
    }

    private PortOpenException ActivateError(string ifname, int rc)
    {
        string detail = Err();
        string status = LibPcap.Str(LibPcap.pcap_statustostr(rc));
        string text = detail.Length > 0 ? $"{status}: {detail}" : status;
        return rc switch
        {
            LibPcap.PCAP_ERROR_NO_SUCH_DEVICE => new PortOpenException(PortOpenError.InterfaceMissing, ifname,
                $"pcap:{ifname}: no such capture device ({text}); see `ip link`."),
            LibPcap.PCAP_ERROR_PERM_DENIED or LibPcap.PCAP_ERROR_PROMISC_PERM_DENIED => new PortOpenException(PortOpenError.PermissionDenied, ifname,
                $"pcap:{ifname}: permission denied ({text}): run as root or grant CAP_NET_RAW and CAP_NET_ADMIN."),
            LibPcap.PCAP_ERROR_IFACE_NOT_UP => new PortOpenException(PortOpenError.Failed, ifname,
                $"pcap:{ifname}: the interface is down ({text}); `ip link set {ifname} up`."),
            _ => new PortOpenException(PortOpenError.Failed, ifname, $"pcap:{ifname}: pcap_activate failed ({text})."),
        };
    }

    private string Err() => _pcap == 0 ? "" : LibPcap.Str(LibPcap.pcap_geterr(_pcap));

    public int Receive(PacketPool pool, Span<int> pkts)
    {
        nint pcap = _pcap;
        if (pcap == 0 || pkts.IsEmpty) return 0;
        LibPcap.PktHdr* hdr;
        byte* data;
        int r = LibPcap.pcap_next_ex(pcap, &hdr, &data);
        if (r != 1)
        {
            if (r == 0) WaitIdle();
            else if (r < 0) _counters.RxErrors++;
            return 0;
        }

        int got = pool.Alloc(pkts);
        int n = 0;
        long bytes = 0;
        if (got == 0)
        {
            _counters.AddRxDropped(1); // libpcap already took this frame out of its ring
            return 0;
        }
        while (true)
        {
            int p = pkts[n];
            int len = (int)hdr->CapLen;
            if (len <= pool.Room(p) && hdr->CapLen == hdr->Len)
            {
                new ReadOnlySpan<byte>(data, len).CopyTo(new Span<byte>(pool.Slab, pool.FrameOffset(p), len));
                pool.Length[p] = (ushort)len;
                bytes += len;
                n++;
            }
            else
            {
                _rxTooBig++;
                _counters.AddRxDropped(1);
            }
            if (n == got) break;
            r = LibPcap.pcap_next_ex(pcap, &hdr, &data);
            if (r != 1)
            {
                if (r < 0) _counters.RxErrors++;
                break;
            }
        }
        if (n < got) pool.Release(pkts.Slice(n, got - n));
        _counters.AddRx(n, bytes);
        return n;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void WaitIdle()
    {
        long now = Environment.TickCount64;
        if (now >= _nextStatsTick)
        {
            _nextStatsTick = now + 1000;
            RefreshStatistics();
        }
        if (_fd < 0 || _opt.IdleWaitMs <= 0) return;
        LibC.PollFd pfd;
        pfd.Fd = _fd;
        pfd.Events = LibC.POLLIN;
        pfd.Revents = 0;
        LibC.poll(&pfd, 1, _opt.IdleWaitMs);
    }

    /// <summary>Folds libpcap's cumulative drop counts into RxDropped. Call only from the receiving thread.</summary>
    public void RefreshStatistics()
    {
        LibPcap.Stat st;
        if (_pcap == 0 || LibPcap.pcap_stats(_pcap, &st) != 0) return;
        long drops = (long)st.Drop + st.IfDrop;
        if (drops > _lastKernelDrops) _counters.AddRxDropped(drops - _lastKernelDrops);
        _lastKernelDrops = drops;
    }

    public void Send(PacketPool pool, ReadOnlySpan<int> pkts)
    {
        if (pkts.IsEmpty) return;
        long sent = 0, bytes = 0, dropped = 0;
        fixed (byte* slab = pool.Slab)
        {
            lock (_txLock)
            {
                nint pcap = _pcap;
                if (pcap == 0) return;
                foreach (int p in pkts)
                {
                    int len = pool.Length[p];
                    if (LibPcap.pcap_inject(pcap, slab + (nint)pool.FrameOffset(p), (nuint)len) == len)
                    {
                        sent++;
                        bytes += len;
                    }
                    else
                    {
                        dropped++;
                    }
                }
            }
        }
        if (sent > 0)
        {
            _counters.AddTx(sent, bytes);
        }
        if (dropped > 0) _counters.AddTxDropped(dropped);
    }

    public void Dispose()
    {
        lock (_txLock)
        {
            if (_pcap != 0)
            {
                LibPcap.pcap_close(_pcap);
                _pcap = 0;
            }
        }
    }

    public override string ToString() => $"pcap:{_if.Name}";
}
