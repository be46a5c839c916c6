using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath;
using Softswitch.Datapath.Forwarding;
using Softswitch.Ports.Linux;

namespace Softswitch.Ports.AfPacket;

/// <summary>Tuning of an <see cref="AfPacketPort"/>.</summary>
public sealed record AfPacketOptions
{
    /// <summary>Bytes per TPACKET_V3 block (a power of two, a multiple of the page size).</summary>
    public int BlockSize { get; init; } = 1 << 18;
    public int BlockCount { get; init; } = 16;
    /// <summary>The kernel hands a partly filled block over after this many milliseconds (tp_retire_blk_tov): the added latency at low rates.</summary>
    public int BlockTimeoutMs { get; init; } = 1;
    public bool Promiscuous { get; init; } = true;
    public bool QdiscBypass { get; init; } = true;
    /// <summary>How long an empty <see cref="AfPacketPort.Receive"/> waits in poll() (0: never waits).</summary>
    public int IdleWaitMs { get; init; } = 1;
    public ILogger? Logger { get; init; }
}

/// <summary>
/// A port on a Linux interface through an AF_PACKET socket: TPACKET_V3 mmap ring for receive, sendmmsg for transmit.
/// </summary>
/// <remarks>
/// Receive: the kernel fills blocks of <see cref="AfPacketOptions.BlockSize"/> bytes and flips a block's status to
/// TP_STATUS_USER when it is full or its timer expires. We walk the frames of the current block (tpacket3_hdr chain),
/// copy each into a pool buffer (one copy), and give the block back (status TP_STATUS_KERNEL, release store) once
/// every frame in it is consumed; a burst may end mid-block, and the next call resumes there. Only when the current
/// block is still the kernel's does Receive poll() for at most <see cref="AfPacketOptions.IdleWaitMs"/>.
/// The kernel strips 802.1Q tags into metadata before packet sockets see a frame (skb_vlan_untag); we put the tag back
/// (tp_vlan_tci/tp_vlan_tpid) so the datapath sees the frame as it was on the wire.
/// Frames marked TP_STATUS_CSUMNOTREADY (CHECKSUM_PARTIAL: a local sender, e.g. a veth peer with tx checksum offload on,
/// left the L4 checksum unfilled) are passed on unchanged and counted in <see cref="RxChecksumNotReady"/>; the fix is
/// `ethtool -K PEER tx off` on the sending side, not here.
/// Own transmissions are not looped back: PACKET_IGNORE_OUTGOING (Linux 4.20+), and PACKET_OUTGOING frames are skipped
/// if that option is missing. Ring overruns are read from PACKET_STATISTICS (tp_drops) into RxDropped.
/// Transmit: a burst becomes one sendmmsg(MSG_DONTWAIT) whose iovecs point into the pinned slab (the kernel copies
/// before returning), with PACKET_QDISC_BYPASS. The scratch headers live on the stack, so Send is reentrant.
/// Thread safety: Receive from one thread at a time; Send from any number of threads.
/// </remarks>
[SkipLocalsInit]
public sealed unsafe class AfPacketPort : IPort
{
    private const int PACKET_ADD_MEMBERSHIP = 1;
    private const int PACKET_RX_RING = 5;
    private const int PACKET_STATISTICS = 6;
    private const int PACKET_VERSION = 10;
    private const int PACKET_QDISC_BYPASS = 20;
    private const int PACKET_IGNORE_OUTGOING = 23;
    private const int TPACKET_V3 = 2;
    private const int PACKET_MR_PROMISC = 1;
    private const byte PACKET_OUTGOING = 4;

    private const uint TP_STATUS_KERNEL = 0;
    private const uint TP_STATUS_USER = 1 << 0;
    private const uint TP_STATUS_LOSING = 1 << 2;
    private const uint TP_STATUS_CSUMNOTREADY = 1 << 3;
    private const uint TP_STATUS_VLAN_VALID = 1 << 4;
    private const uint TP_STATUS_VLAN_TPID_VALID = 1 << 6;

    // tpacket_block_desc: version, offset_to_priv, then tpacket_hdr_v1.
    private const int BlockStatusOffset = 8;
    private const int BlockNumPktsOffset = 12;
    private const int BlockFirstPktOffset = 16;
    // tpacket3_hdr.
    private const int HdrNextOffset = 0;
    private const int HdrSnapLen = 12;
    private const int HdrLen = 16;
    private const int HdrStatus = 20;
    private const int HdrMac = 24;
    private const int HdrVlanTci = 32;
    private const int HdrVlanTpid = 36;
    private const int HdrSllPktType = 48 + 10; // sockaddr_ll follows at TPACKET_ALIGN(sizeof(tpacket3_hdr)) = 48
    private const int MaxSendBatch = 64;

    private readonly NetInterface _if;
    private readonly AfPacketOptions _opt;
    private readonly PortCounters _counters = new();
    private int _fd;
    private byte* _ring;
    private readonly nuint _ringSize;
    private readonly int _blockSize;
    private readonly int _blockCount;

    // Receive cursor (owned by the poll thread).
    private int _block;
    private byte* _frame;
    private int _left;
    private long _nextStatsTick;

    private long _rxChecksumNotReady;
    private long _rxTooBig;
    private long _rxNoBuffers;

    public PortInfo Info { get; }
    public PortCounters Counters => _counters;
    public bool LinkUp => _if.IsUp;
    public NetInterface Interface => _if;
    /// <summary>OpenFlow port number stamped into <see cref="PacketPool.InPort"/> on receive.</summary>
    public ushort PortNo { get; set; }
    /// <summary>Whether the kernel honours PACKET_IGNORE_OUTGOING (else outgoing frames are filtered here).</summary>
    public bool IgnoresOutgoingInKernel { get; }

    /// <summary>Received frames whose checksum the sender left for offload (TP_STATUS_CSUMNOTREADY); passed on as is.</summary>
    public long RxChecksumNotReady => Volatile.Read(ref _rxChecksumNotReady);
    /// <summary>Received frames dropped because they exceed the pool's buffer size.</summary>
    public long RxTooBig => Volatile.Read(ref _rxTooBig);
    /// <summary>Receive calls that found frames waiting but no free pool buffer (frames stay in the ring).</summary>
    public long RxNoBuffers => Volatile.Read(ref _rxNoBuffers);

    public AfPacketPort(string ifname, AfPacketOptions? options = null)
    {
        _opt = options ?? new AfPacketOptions();
        _if = NetInterface.Open(ifname);
        _blockSize = _opt.BlockSize;
        _blockCount = _opt.BlockCount;
        if (_blockSize < 4096 || (_blockSize & (_blockSize - 1)) != 0 || _blockCount < 2)
            throw new PortOpenException(PortOpenError.InvalidSpec, ifname, $"AF_PACKET ring for '{ifname}': block size must be a power of two >= 4096 and block count >= 2.");
        _ringSize = (nuint)_blockSize * (nuint)_blockCount;

        // Protocol 0: the socket hears nothing until bind() names the protocol and the interface, so no frame of
        // another interface can slip into the ring meanwhile.
        _fd = LibC.socket(LibC.AF_PACKET, LibC.SOCK_RAW | LibC.SOCK_CLOEXEC, 0);
        if (_fd < 0) throw PortOpenException.FromErrno(ifname, "Opening an AF_PACKET socket", LibC.LastErrno);
        try
        {
            SetInt(PACKET_VERSION, TPACKET_V3, "Selecting TPACKET_V3");
            IgnoresOutgoingInKernel = TrySetInt(PACKET_IGNORE_OUTGOING, 1);
            if (!IgnoresOutgoingInKernel)
                _opt.Logger?.LogWarning("{If}: PACKET_IGNORE_OUTGOING unsupported (kernel < 4.20); filtering own frames in user space", ifname);
            if (_opt.QdiscBypass && !TrySetInt(PACKET_QDISC_BYPASS, 1))
                _opt.Logger?.LogWarning("{If}: PACKET_QDISC_BYPASS unsupported", ifname);
            TrySetSockInt(LibC.SO_SNDBUF, 4 << 20);

            uint* req = stackalloc uint[7];
            req[0] = (uint)_blockSize;                               // tp_block_size
            req[1] = (uint)_blockCount;                              // tp_block_nr
            req[2] = 2048;                                           // tp_frame_size (V3: only a sizing hint)
            req[3] = (uint)(_blockSize / 2048 * _blockCount);        // tp_frame_nr
            req[4] = (uint)Math.Max(1, _opt.BlockTimeoutMs);         // tp_retire_blk_tov
            req[5] = 0;                                              // tp_sizeof_priv
            req[6] = 0;                                              // tp_feature_req_word
            if (LibC.setsockopt(_fd, LibC.SOL_PACKET, PACKET_RX_RING, req, 28) != 0)
                throw PortOpenException.FromErrno(ifname, "Setting up the AF_PACKET TPACKET_V3 RX ring", LibC.LastErrno);

            nint map = LibC.mmap(null, _ringSize, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED | LibC.MAP_POPULATE, _fd, 0);
            if (map == LibC.MAP_FAILED) throw PortOpenException.FromErrno(ifname, "Mapping the AF_PACKET RX ring", LibC.LastErrno);
            _ring = (byte*)map;

            byte* sll = stackalloc byte[20];
            new Span<byte>(sll, 20).Clear();
            *(ushort*)sll = LibC.AF_PACKET;
            *(ushort*)(sll + 2) = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(LibC.ETH_P_ALL); // htons
            *(int*)(sll + 4) = _if.Index;
            if (LibC.bind(_fd, sll, 20) != 0) throw PortOpenException.FromErrno(ifname, "Binding the AF_PACKET socket", LibC.LastErrno);

            if (_opt.Promiscuous)
            {
                byte* mreq = stackalloc byte[16];
                new Span<byte>(mreq, 16).Clear();
                *(int*)mreq = _if.Index;
                *(ushort*)(mreq + 4) = PACKET_MR_PROMISC;
                if (LibC.setsockopt(_fd, LibC.SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq, 16) != 0)
                    throw PortOpenException.FromErrno(ifname, "Enabling promiscuous mode (PACKET_MR_PROMISC)", LibC.LastErrno);
            }
            Info = _if.ToPortInfo();
        }
        catch
        {
            Dispose();
            throw;
        }
        _opt.Logger?.LogInformation("{If}: AF_PACKET port open (TPACKET_V3 {Blocks}x{Size} B, qdisc bypass {Bypass})",
            ifname, _blockCount, _blockSize, _opt.QdiscBypass);
    }

    public int Receive(PacketPool pool, Span<int> pkts)
    {
        if (_ring == null) return 0;
        int n = 0;
        int max = pkts.Length;
        bool waited = false;
        long rxBytes = 0;
        while (n < max)
        {
            if (_left == 0)
            {
                byte* bd = _ring + (nint)_block * _blockSize;
                uint status = Volatile.Read(ref *(uint*)(bd + BlockStatusOffset));
                if ((status & TP_STATUS_USER) == 0)
                {
                    if (n > 0 || waited) break;
                    if (_opt.IdleWaitMs <= 0)
                    {
                        // Sharing the thread with other ports: never wait, but keep the kernel's drop count current.
                        if (Environment.TickCount64 >= _nextStatsTick) RefreshIdleStatistics();
                        break;
                    }
                    WaitIdle();
                    waited = true;
                    continue;
                }
                if ((status & TP_STATUS_LOSING) != 0) ReadStatistics();
                _left = (int)*(uint*)(bd + BlockNumPktsOffset);
                _frame = bd + *(uint*)(bd + BlockFirstPktOffset);
                if (_left == 0) { ReleaseBlock(); continue; }
            }

            int want = Math.Min(_left, max - n);
            Span<int> dest = pkts.Slice(n, want);
            int got = pool.Alloc(dest);
            int used = 0;
            while (used < got && _left > 0)
            {
                byte* h = _frame;
                uint st = *(uint*)(h + HdrStatus);
                int snap = (int)*(uint*)(h + HdrSnapLen);
                byte* data = h + *(ushort*)(h + HdrMac);
                _frame = h + *(uint*)(h + HdrNextOffset);
                _left--;
                if (h[HdrSllPktType] == PACKET_OUTGOING) continue;
                if ((st & TP_STATUS_CSUMNOTREADY) != 0) _rxChecksumNotReady++;

                int p = dest[used];
                int room = pool.SlotSize - pool.Head[p];
                bool vlan = (st & TP_STATUS_VLAN_VALID) != 0;
                int len = vlan ? snap + 4 : snap;
                if (len > room || len > ushort.MaxValue || snap < 12 || snap != (int)*(uint*)(h + HdrLen))
                {
                    _rxTooBig++;
                    _counters.RxDropped++;
                    continue;
                }
                byte* dst = (byte*)Unsafe.AsPointer(ref pool.Slab[p * pool.SlotSize + pool.Head[p]]);
                if (vlan)
                {
                    ushort tpid = (st & TP_STATUS_VLAN_TPID_VALID) != 0 ? *(ushort*)(h + HdrVlanTpid) : (ushort)0x8100;
                    ushort tci = *(ushort*)(h + HdrVlanTci);
                    Buffer.MemoryCopy(data, dst, 12, 12);
                    dst[12] = (byte)(tpid >> 8); dst[13] = (byte)tpid;
                    dst[14] = (byte)(tci >> 8); dst[15] = (byte)tci;
                    Buffer.MemoryCopy(data + 12, dst + 16, snap - 12, snap - 12);
                }
                else
                {
                    Buffer.MemoryCopy(data, dst, snap, snap);
                }
                pool.Length[p] = (ushort)len;
                pool.InPort[p] = PortNo;
                rxBytes += len;
                used++;
            }
            if (used < got) pool.Release(dest.Slice(used, got - used));
            // Compact: dest[0..used) are the filled buffers, already in place.
            n += used;
            if (_left == 0) ReleaseBlock();
            if (got < want)
            {
                _rxNoBuffers++;
                break;
            }
        }
        if (n > 0)
        {
            _counters.RxPackets += n;
            _counters.RxBytes += rxBytes;
        }
        return n;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ReleaseBlock()
    {
        byte* bd = _ring + (nint)_block * _blockSize;
        Volatile.Write(ref *(uint*)(bd + BlockStatusOffset), TP_STATUS_KERNEL);
        _left = 0;
        _frame = null;
        if (++_block == _blockCount) _block = 0;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void RefreshIdleStatistics()
    {
        _nextStatsTick = Environment.TickCount64 + 1000;
        ReadStatistics();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void WaitIdle()
    {
        if (Environment.TickCount64 >= _nextStatsTick) RefreshIdleStatistics();
        LibC.PollFd pfd;
        pfd.Fd = _fd;
        pfd.Events = LibC.POLLIN;
        pfd.Revents = 0;
        LibC.poll(&pfd, 1, _opt.IdleWaitMs);
    }

    /// <summary>Adds the kernel's ring drops since the last read (PACKET_STATISTICS resets on read) to RxDropped.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ReadStatistics()
    {
        uint* st = stackalloc uint[3];
        uint len = 12;
        if (LibC.getsockopt(_fd, LibC.SOL_PACKET, PACKET_STATISTICS, st, &len) == 0)
            _counters.RxDropped += st[1];
    }

    /// <summary>Reads PACKET_STATISTICS now (the poll thread does this about once a second when idle and on TP_STATUS_LOSING).
    /// Call only from the receiving thread.</summary>
    public void RefreshStatistics() => ReadStatistics();

    public void Send(PacketPool pool, ReadOnlySpan<int> pkts)
    {
        if (pkts.IsEmpty || _fd < 0) return;
        LibC.MMsgHdr* msgs = stackalloc LibC.MMsgHdr[MaxSendBatch];
        LibC.IoVec* iov = stackalloc LibC.IoVec[MaxSendBatch];
        long sentPkts = 0, sentBytes = 0, dropped = 0;
        fixed (byte* slab = pool.Slab)
        {
            int slot = pool.SlotSize;
            for (int start = 0; start < pkts.Length; start += MaxSendBatch)
            {
                int cnt = Math.Min(MaxSendBatch, pkts.Length - start);
                for (int i = 0; i < cnt; i++)
                {
                    int p = pkts[start + i];
                    iov[i].Base = slab + (nint)p * slot + pool.Head[p];
                    iov[i].Len = pool.Length[p];
                    msgs[i].Hdr = default;
                    msgs[i].Hdr.Iov = &iov[i];
                    msgs[i].Hdr.IovLen = 1;
                    msgs[i].Len = 0;
                }
                int done = 0;
                while (done < cnt)
                {
                    int r = LibC.sendmmsg(_fd, msgs + done, (uint)(cnt - done), LibC.MSG_DONTWAIT);
                    if (r > 0)
                    {
                        for (int i = done; i < done + r; i++) sentBytes += (long)iov[i].Len;
                        sentPkts += r;
                        done += r;
                        continue;
                    }
                    if (r < 0 && LibC.LastErrno == LibC.EINTR) continue;
                    dropped++; // this frame was refused (too short/long, no buffer space, link down): skip it
                    done++;
                }
            }
        }
        if (sentPkts > 0)
        {
            Interlocked.Add(ref _counters.TxPackets, sentPkts);
            Interlocked.Add(ref _counters.TxBytes, sentBytes);
        }
        if (dropped > 0) Interlocked.Add(ref _counters.TxDropped, dropped);
    }

    private void SetInt(int opt, int value, string what)
    {
        if (LibC.setsockopt(_fd, LibC.SOL_PACKET, opt, &value, 4) != 0)
            throw PortOpenException.FromErrno(_if.Name, what, LibC.LastErrno);
    }

    private bool TrySetInt(int opt, int value) => LibC.setsockopt(_fd, LibC.SOL_PACKET, opt, &value, 4) == 0;

    private bool TrySetSockInt(int opt, int value) => LibC.setsockopt(_fd, LibC.SOL_SOCKET, opt, &value, 4) == 0;

    public void Dispose()
    {
        if (_ring != null)
        {
            LibC.munmap(_ring, _ringSize);
            _ring = null;
        }
        if (_fd >= 0)
        {
            LibC.close(_fd);
            _fd = -1;
        }
    }

    public override string ToString() => $"afpacket:{_if.Name}";
}
