using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;
using Softswitch.Ports.Linux;

namespace Softswitch.Ports.AfPacket;

/// <summary>Tuning of an <see cref="AfPacketPort"/>.</summary>
public sealed record AfPacketOptions
{
    /// <summary>Bytes of the TPACKET_V2 receive ring (rounded to whole blocks; frames are sized for the interface's MTU).</summary>
    public int RingSize { get; init; } = 32 << 20;
    /// <summary>Non-null: the receive ring holds this many frames (rounded up to whole blocks) whatever their size, in
    /// place of <see cref="RingSize"/>.</summary>
    public int? RxFrames { get; init; }
    /// <summary>Non-null and smaller than the ring <see cref="RingSize"/> or <see cref="RxFrames"/> makes: the port starts with a
    /// receive ring of this many frames (rounded up to whole pages) and grows it to the full size the first time it is
    /// busy (one receive takes half of it, or the kernel loses a frame: TP_STATUS_LOSING, PACKET_STATISTICS). An idle port then pins a few
    /// pages instead of the full ring: the kernel allocates a ring whole when it is set up.</summary>
    public int? InitialRxFrames { get; init; }
    /// <summary>Non-null and larger than the full ring: a port whose full ring loses frames (the kernel marks a frame
    /// TP_STATUS_LOSING, or PACKET_STATISTICS counts drops) grows it fourfold, again at each later loss, up to this
    /// many bytes, so a port that a ring of <see cref="RingSize"/> does not hold (its thread preempted for longer than
    /// the ring lasts) ends with the ring it needs. Each grow, as the first, moves to a second socket and loses nothing (AfPacketPort.GrowRing).</summary>
    public int? MaxRingSize { get; init; }
    public bool Promiscuous { get; init; } = true;
    public bool QdiscBypass { get; init; } = true;
    /// <summary>Take the kernel's offloads (PACKET_VNET_HDR): complete partial checksums and segment GSO super-frames in
    /// software. Off: such frames are passed on as the kernel gives them (wrong checksums, oversize frames dropped).</summary>
    public bool VnetHeader { get; init; } = true;
    /// <summary>Non-zero: join this PACKET_FANOUT group (hash by flow), so several sockets on one interface share its
    /// traffic, each flow staying on one socket. The id must be unique to this interface within the process.</summary>
    public int FanoutGroup { get; init; }
    /// <summary>How long an empty <see cref="AfPacketPort.Receive"/> waits in poll() (0, the default: never waits; the
    /// forwarding thread blocks on <see cref="AfPacketPort.WaitFd"/> instead).</summary>
    public int IdleWaitMs { get; init; }
    public ILogger? Logger { get; init; }
}

/// <summary>
/// A port on a Linux interface through an AF_PACKET socket: TPACKET_V2 mmap ring for receive, sendmmsg for transmit,
/// and the kernel's checksum and segmentation offloads taken in software (PACKET_VNET_HDR, as Open vSwitch's
/// netdev-linux does).
/// </summary>
/// <remarks>
/// Every frame carries a virtio-net header both ways: a received frame that needs its checksum gets it completed in
/// software; a GSO super-frame is handed on whole or cut into segments (<see cref="SoftwareOffload"/>). The kernel's
/// stripped 802.1Q tag is put back, so the datapath sees frames as on the wire. A frame that fits no buffer is dropped
/// and counted (RxOversize, RxDropped): nothing is lost silently. Send is one sendmmsg per burst
/// (<see cref="PacketSocketTransmit"/>), reentrant. The receive ring grows by moving to a second socket of a fanout
/// group, losing nothing (<see cref="GrowRing"/>); Send follows it.
/// Thread safety: Receive and PrepareWait from one thread at a time; Send from any number of threads.
/// Design: docs/ports.md, "AF_PACKET".
/// </remarks>
[SkipLocalsInit]
public sealed unsafe class AfPacketPort : IPort
{
    private const int PACKET_ADD_MEMBERSHIP = 1;
    private const int PACKET_RX_RING = 5;
    private const int PACKET_STATISTICS = 6;
    private const int PACKET_COPY_THRESH = 7;
    private const int PACKET_VERSION = 10;
    private const int PACKET_VNET_HDR = 15;
    private const int PACKET_FANOUT = 18;
    private const int PACKET_FANOUT_DATA = 22;
    private const int PACKET_QDISC_BYPASS = 20;
    private const int PACKET_IGNORE_OUTGOING = 23;
    private const int TPACKET_V2 = 1;
    private const int PACKET_MR_PROMISC = 1;
    private const byte PACKET_OUTGOING = 4;
    private const int PACKET_FANOUT_HASH = 0;
    private const int PACKET_FANOUT_CBPF = 6;
    private const int PACKET_FANOUT_FLAG_IGNORE_OUTGOING = 0x4000;
    private const int PACKET_FANOUT_FLAG_UNIQUEID = 0x2000;   // flags share the upper half of the option with the type
    private const int PACKET_FANOUT_FLAG_DEFRAG = 0x8000;
    private const int SO_RCVBUFFORCE = 33;
    private const int SO_ATTACH_FILTER = 26;
    private const int SO_DETACH_FILTER = 27;
    private const int MSG_TRUNC = 0x20;

    private const uint TP_STATUS_KERNEL = 0;
    private const uint TP_STATUS_USER = 1 << 0;
    private const uint TP_STATUS_COPY = 1 << 1;
    private const uint TP_STATUS_LOSING = 1 << 2;
    private const uint TP_STATUS_CSUMNOTREADY = 1 << 3;
    private const uint TP_STATUS_VLAN_VALID = 1 << 4;
    private const uint TP_STATUS_VLAN_TPID_VALID = 1 << 6;

    // tpacket2_hdr: status, len, snaplen, mac, net, sec, nsec, vlan_tci, vlan_tpid; sockaddr_ll follows at 32.
    private const int HdrStatus = 0;
    private const int HdrLen = 4;
    private const int HdrSnapLen = 8;
    private const int HdrMac = 12;
    private const int HdrVlanTci = 24;
    private const int HdrVlanTpid = 26;
    private const int HdrSllPktType = 32 + 10;
    // The kernel puts a frame at TPACKET_ALIGN(hdrlen 52 + 16) + vnet header - 14 from its ring slot start.
    private const int RingMacOffset = 80 + VirtioNetHeader.Size - 14;
    /// <summary>Scratch for a frame read whole from the socket queue: the largest GSO super-frame plus headers.</summary>
    private const int ScratchSize = 256 * 1024;

    private readonly NetInterface _if;
    private readonly AfPacketOptions _opt;
    private readonly PortCounters _counters;
    private int _fd;                       // the receive socket (its ring is _ring); WaitFd
    private int _txFd;                     // the socket Send uses: _fd, or during a grow's switch the new one
    private int _txBusy;                   // Sends in flight (any thread)
    // A grow through the fanout group (GrowRing): the group's join word (0: none yet); whether this port grows in
    // place instead (a member of a hash group that splits an interface across threads, or the group was refused);
    // the new socket and ring while the old ring is drained (_nextFd -1: none); the old socket once drained, closed
    // when no Send uses it any more (_staleFd -1: none).
    private int _growGroup;
    private bool _growInPlace;
    private int _nextFd = -1;
    private Ring _nextRing;
    private int _staleFd = -1;
    private byte* _ring;
    private nuint _ringSize;
    private readonly int _frameSize;
    private int _frameCount;
    private int _framesPerBlock;
    private int _blockSize;
    // The full ring's geometry (blocks of _fullBlockSize; a grown ring has more of them, up to _maxBlocks); whether a
    // larger ring is still to be had (_canGrow); the frames one receive takes that make the small initial ring grow
    // (0: only a loss makes a ring grow); a grow put off while a GSO super-frame is taken out of the ring, or while
    // the last grow's switch is still under way, waits (_growPending).
    private readonly int _fullBlockSize, _fullBlocks, _maxBlocks;
    private bool _canGrow;
    private int _growAt;
    private bool _growPending;
    // Frames offered to the port (received and dropped) at the start of the current window of about ten seconds, and
    // when it started (the receiving thread's): a full ring grows past its size only when its port was offered at
    // least a ring's frames a second over the window, not for a burst a quiet port lost.
    private long _windowOffered, _windowTicks;
    private const int GrowWindowSeconds = 10;
    private bool _vnet;
    private bool _ignoresOutgoing;
    private byte* _zeroVnet;

    // Receive state (owned by the poll thread).
    private int _head;
    private long _nextStatsTick;
    private readonly byte[] _scratch;      // a whole frame read from the queue (vnet header first), or a super-frame being cut
    private readonly byte* _scratchPtr;    // _scratch is pinned
    private int _superLength;              // bytes of the super-frame in _scratch (from ScratchFrameOffset)
    private SoftwareOffload.Cursor _gso;
    // The slots the old ring held when it was replaced by a larger one (copied whole, header and frame, in ring
    // order), received before the new ring's: _carryNext of _carryCount taken (null: none).
    private byte* _carry;
    private int _carryCount, _carryNext;

    private long _rxNoBuffers;

    public PortInfo Info { get; }
    public PortCounters Counters => _counters;
    public bool LinkUp => _if.IsUp;
    public NetInterface Interface => _if;
    /// <summary>Whether the kernel honours PACKET_IGNORE_OUTGOING (else outgoing frames are filtered here).</summary>
    public bool IgnoresOutgoingInKernel => _ignoresOutgoing;
    /// <summary>Whether frames come with virtio-net headers (the kernel's offloads are taken in software).</summary>
    public bool VnetHeader => _vnet;
    /// <summary>Bytes of one receive ring slot (sized for the interface's MTU).</summary>
    public int RingFrameSize => _frameSize;
    /// <summary>Frames the receive ring holds (<see cref="AfPacketOptions.RxFrames"/>, or what <see cref="AfPacketOptions.RingSize"/> makes).
    /// A grow's new ring counts from the grow on, while the old one is taken to its end.</summary>
    public int RingFrames => _nextFd >= 0 ? _nextRing.FrameCount : _frameCount;

    /// <summary>Received frames whose checksum the sender left for offload and that we completed.</summary>
    public long RxChecksumNotReady => Volatile.Read(ref _counters.RxChecksumCompleted);
    /// <summary>Received frames dropped because they exceed the pool's buffer size (or the scratch buffer).</summary>
    public long RxTooBig => Volatile.Read(ref _counters.RxOversize);
    /// <summary>Receive calls that found frames waiting but no free pool buffer (frames stay in the ring).</summary>
    public long RxNoBuffers => Volatile.Read(ref _rxNoBuffers);

    private const int ScratchFrameOffset = 16;   // room to put a VLAN tag back in front of a queued frame

    public AfPacketPort(string ifname, AfPacketOptions? options = null) : this(ifname, options, null)
    {
    }

    /// <summary>A port, or (with <paramref name="shared"/>) an extra receiver counting into the main port's counters.</summary>
    private AfPacketPort(string ifname, AfPacketOptions? options, PortCounters? shared)
    {
        // RxErrors is the one error counter this port keeps (frames the socket queue lost, checksums it could not
        // complete): 0 from the start, not the "not maintained" -1 that the first error would turn into 0.
        _counters = shared ?? new PortCounters { RxErrors = 0 };
        _opt = options ?? new AfPacketOptions();
        _if = NetInterface.Open(ifname);
        int mtu = Math.Max(_if.Mtu, 1500);
        // A ring slot holds the frame headers, the virtio-net header and an MTU-sized frame (VLAN tags live in metadata).
        int need = RingMacOffset + 14 + mtu;
        _frameSize = 2048;
        while (_frameSize < need) _frameSize *= 2;
        _fullBlockSize = Math.Max(_frameSize, 1 << 16);
        int fullPerBlock = _fullBlockSize / _frameSize;
        _fullBlocks = Math.Max(2, _opt.RxFrames is { } want ? (want + fullPerBlock - 1) / fullPerBlock : _opt.RingSize / _fullBlockSize);
        _maxBlocks = _opt.MaxRingSize is { } max ? Math.Max(_fullBlocks, max / _fullBlockSize) : _fullBlocks;
        _canGrow = _maxBlocks > _fullBlocks;
        int blockSize = _fullBlockSize, blocks = _fullBlocks;
        if (_opt.InitialRxFrames is { } initial)
        {
            // Small blocks (a page, or one frame when frames are larger) so a small ring is small.
            int smallBlock = Math.Max(_frameSize, Environment.SystemPageSize);
            int perBlock = smallBlock / _frameSize;
            int smallBlocks = Math.Max(1, (Math.Max(initial, 2) + perBlock - 1) / perBlock);
            if (smallBlocks * perBlock < _fullBlocks * fullPerBlock)
            {
                blockSize = smallBlock;
                blocks = smallBlocks;
                _growAt = Math.Max(1, smallBlocks * perBlock / 2);
                _canGrow = true;
            }
        }
        _scratch = GC.AllocateUninitializedArray<byte>(ScratchSize, pinned: true);
        _scratchPtr = (byte*)Unsafe.AsPointer(ref _scratch[0]);
        _zeroVnet = (byte*)NativeMemory.AllocZeroed(VirtioNetHeader.Size);

        _fd = _txFd = -1;
        _growInPlace = _opt.FanoutGroup != 0;
        try
        {
            _fd = OpenSocket(blockSize, blocks, _opt.FanoutGroup != 0 ? FanoutArg(_opt.FanoutGroup) : 0, first: true, out var ring);
            UseRing(ring);
            _txFd = _fd;
            Info = _if.ToPortInfo();
        }
        catch
        {
            Dispose();
            throw;
        }
        _opt.Logger?.LogInformation("{If}: AF_PACKET port open (TPACKET_V2 {Frames}x{Size} B, MTU {Mtu}, offloads {Vnet}, qdisc bypass {Bypass}{Fanout})",
            ifname, _frameCount, _frameSize, mtu, _vnet ? "taken in software" : "off", _opt.QdiscBypass,
            _opt.FanoutGroup != 0 ? $", fanout group {_opt.FanoutGroup}" : "");
    }

    /// <summary>A mapped receive ring: its base, bytes, and geometry.</summary>
    private struct Ring
    {
        public byte* Base;
        public nuint Size;
        public int BlockSize, FramesPerBlock, FrameCount;
    }

    /// <summary>
    /// Opens one socket on the interface with every setting of this port, its receive ring of <paramref name="blocks"/>
    /// blocks set up and mapped, bound, and (non-zero <paramref name="fanoutArg"/>) in that PACKET_FANOUT group: the
    /// port's first socket and each one a grow opens (<see cref="GrowRing"/>) are set up here alike, so a frame is
    /// filtered the same whichever socket takes it. Throws <see cref="PortOpenException"/> (the socket closed).
    /// </summary>
    private int OpenSocket(int blockSize, int blocks, int fanoutArg, bool first, out Ring ring)
    {
        ring = default;
        string ifname = _if.Name;
        // Protocol 0: the socket hears nothing until bind() names the protocol and the interface, so no frame of
        // another interface can slip into the ring meanwhile.
        int fd = LibC.socket(LibC.AF_PACKET, LibC.SOCK_RAW | LibC.SOCK_CLOEXEC, 0);
        if (fd < 0) throw PortOpenException.FromErrno(ifname, "Opening an AF_PACKET socket", LibC.LastErrno);
        try
        {
            SetInt(fd, PACKET_VERSION, TPACKET_V2, "Selecting TPACKET_V2");
            if (first)
            {
                if (_opt.VnetHeader)
                {
                    _vnet = TrySetInt(fd, PACKET_VNET_HDR, 1);
                    if (!_vnet)
                    {
                        _opt.Logger?.LogWarning("{If}: PACKET_VNET_HDR unsupported ({Error}): frames with checksum offload or GSO from local senders pass unfixed; turn offloads off on the sending side (ethtool -K PEER tx off tso off gso off)",
                            ifname, LibC.StrError(LibC.LastErrno));
                    }
                }
                _ignoresOutgoing = TrySetInt(fd, PACKET_IGNORE_OUTGOING, 1);
                if (!_ignoresOutgoing)
                    _opt.Logger?.LogWarning("{If}: PACKET_IGNORE_OUTGOING unsupported (kernel < 4.20); filtering own frames in user space", ifname);
                if (_opt.QdiscBypass && !TrySetInt(fd, PACKET_QDISC_BYPASS, 1))
                    _opt.Logger?.LogWarning("{If}: PACKET_QDISC_BYPASS unsupported", ifname);
            }
            else
            {
                // A later socket takes what the first took: frames must come in the format the receive path expects.
                if (_vnet) SetInt(fd, PACKET_VNET_HDR, 1, "Taking virtio-net headers (PACKET_VNET_HDR)");
                if (_ignoresOutgoing) TrySetInt(fd, PACKET_IGNORE_OUTGOING, 1);
                if (_opt.QdiscBypass) TrySetInt(fd, PACKET_QDISC_BYPASS, 1);
            }
            TrySetSockInt(fd, LibC.SO_SNDBUF, 4 << 20);
            // Frames larger than a ring slot are queued whole on the socket; its buffer bounds how many may wait.
            if (!TrySetSockInt(fd, SO_RCVBUFFORCE, 8 << 20)) TrySetSockInt(fd, LibC.SO_RCVBUF, 8 << 20);
            TrySetInt(fd, PACKET_COPY_THRESH, 1);

            if (MapRing(fd, blockSize, blocks, out ring) is { } ringError) throw PortOpenException.FromErrno(ifname, ringError.What, ringError.Errno);

            // A socket that joins a fanout group hears every frame on its own hook from bind until it joins, frames the
            // group's members get too: a filter that passes nothing keeps them out, taken off once it has joined.
            if (fanoutArg != 0 && !SetProgram(fd, LibC.SOL_SOCKET, SO_ATTACH_FILTER, 0))
                throw PortOpenException.FromErrno(ifname, "Attaching a filter until the socket joins its fanout group", LibC.LastErrno);

            byte* sll = stackalloc byte[20];
            new Span<byte>(sll, 20).Clear();
            *(ushort*)sll = LibC.AF_PACKET;
            *(ushort*)(sll + 2) = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(LibC.ETH_P_ALL); // htons
            *(int*)(sll + 4) = _if.Index;
            if (LibC.bind(fd, sll, 20) != 0) throw PortOpenException.FromErrno(ifname, "Binding the AF_PACKET socket", LibC.LastErrno);

            if (_opt.Promiscuous)
            {
                byte* mreq = stackalloc byte[16];
                new Span<byte>(mreq, 16).Clear();
                *(int*)mreq = _if.Index;
                *(ushort*)(mreq + 4) = PACKET_MR_PROMISC;
                if (LibC.setsockopt(fd, LibC.SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq, 16) != 0)
                    throw PortOpenException.FromErrno(ifname, "Enabling promiscuous mode (PACKET_MR_PROMISC)", LibC.LastErrno);
            }
            // Bound first: the kernel lets only a bound socket join.
            if (fanoutArg != 0)
            {
                SetInt(fd, PACKET_FANOUT, fanoutArg, "Joining the PACKET_FANOUT group");
                int none = 0;
                if (LibC.setsockopt(fd, LibC.SOL_SOCKET, SO_DETACH_FILTER, &none, 4) != 0)
                    throw PortOpenException.FromErrno(ifname, "Detaching the filter after joining the fanout group", LibC.LastErrno);
            }
            return fd;
        }
        catch
        {
            if (ring.Base != null) LibC.munmap(ring.Base, ring.Size);
            ring = default;
            LibC.close(fd);
            throw;
        }
    }

    /// <summary>Sets up and maps a receive ring of <paramref name="blocks"/> blocks on <paramref name="fd"/> (which has none); null, or what failed.</summary>
    private (string What, int Errno)? MapRing(int fd, int blockSize, int blocks, out Ring ring)
    {
        ring = default;
        int perBlock = blockSize / _frameSize;
        uint* req = stackalloc uint[4];
        req[0] = (uint)blockSize;               // tp_block_size
        req[1] = (uint)blocks;                  // tp_block_nr
        req[2] = (uint)_frameSize;              // tp_frame_size
        req[3] = (uint)(blocks * perBlock);     // tp_frame_nr
        if (LibC.setsockopt(fd, LibC.SOL_PACKET, PACKET_RX_RING, req, 16) != 0)
            return ("Setting up the AF_PACKET TPACKET_V2 RX ring", LibC.LastErrno);
        nuint size = (nuint)blockSize * (nuint)blocks;
        nint map = LibC.mmap(null, size, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED | LibC.MAP_POPULATE, fd, 0);
        if (map == LibC.MAP_FAILED)
        {
            int errno = LibC.LastErrno;
            new Span<uint>(req, 4).Clear();
            LibC.setsockopt(fd, LibC.SOL_PACKET, PACKET_RX_RING, req, 16);
            return ("Mapping the AF_PACKET RX ring", errno);
        }
        ring.Base = (byte*)map;
        ring.Size = size;
        ring.BlockSize = blockSize;
        ring.FramesPerBlock = perBlock;
        ring.FrameCount = blocks * perBlock;
        return null;
    }

    /// <summary>Receives from <paramref name="ring"/> from its first slot on.</summary>
    private void UseRing(in Ring ring)
    {
        _ring = ring.Base;
        _ringSize = ring.Size;
        _blockSize = ring.BlockSize;
        _framesPerBlock = ring.FramesPerBlock;
        _frameCount = ring.FrameCount;
        _head = 0;
    }

    /// <summary>Bytes of the receive ring now (the small initial ring until the port first gets busy; see <see cref="AfPacketOptions.InitialRxFrames"/>).</summary>
    public long RingBytes => (long)(_nextFd >= 0 ? _nextRing.Size : _ringSize);

    /// <summary>
    /// Replaces the ring with a larger one, right after a receive (else at a later receive while a GSO super-frame is
    /// being taken out of it, or while the last grow's old socket is still to be closed): a small ring with one four
    /// times its size in the same small blocks (16, 64, 256 frames), or with the full ring once that is no larger, so a
    /// port takes the memory its bursts need and no more; or (<see cref="AfPacketOptions.MaxRingSize"/>) a full ring
    /// that lost frames with one four times its size, up to that most.
    /// The kernel swaps a socket's ring only by unhooking the socket for an RCU grace period and purging its queue, so a
    /// grow never touches the receiving socket's ring: it opens a second socket with the larger ring (<see cref="OpenSocket"/>,
    /// every setting of the first), which joins the port's PACKET_FANOUT group (PACKET_FANOUT_CBPF: a one-instruction
    /// program names the member that gets every frame; the group is made on the first socket at its first grow). The
    /// program then names the new socket; the kernel returns only after a grace period, so the old ring then holds
    /// everything it will ever get. Send moves to the new socket at once; Receive takes the old ring to its end, then
    /// unmaps it and receives from the new one (<see cref="SwitchToNextRing"/>): no frame is lost, none taken twice,
    /// and flows keep their order, since one member gets all frames at any time. The old socket is closed once no Send
    /// uses it (<see cref="CloseStale"/>). A member of a hash group that splits the interface across threads
    /// (<see cref="OpenReceivers"/>, <see cref="AfPacketOptions.FanoutGroup"/>), or a port whose kernel refused the
    /// group, grows in place (<see cref="GrowInPlace"/>), losing what arrives during the swap uncounted
    /// (docs/ports.md, "Ring growth"). If the larger ring cannot be had, the port keeps its ring and grows no more (a
    /// log line says so).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void GrowRing()
    {
        _growPending = true;
        if (_staleFd >= 0) CloseStale();
        if (_ring == null || _gso.Active || _carry != null || _nextFd >= 0 || _staleFd >= 0) return;
        _growPending = false;
        // A small ring to one four times it in the same small blocks, or to the full ring once that is no larger;
        // from a full ring to four times it, up to the most.
        int oldBlockSize = _blockSize, oldBlocks = _frameCount / _framesPerBlock;
        int blockSize = _fullBlockSize, blocks;
        if (oldBlockSize != _fullBlockSize)
        {
            bool toFull = 4L * _frameCount >= (long)_fullBlocks * (_fullBlockSize / _frameSize);
            blockSize = toFull ? _fullBlockSize : oldBlockSize;
            blocks = toFull ? _fullBlocks : 4 * oldBlocks;
        }
        else
        {
            blocks = (int)Math.Min(_maxBlocks, 4L * oldBlocks);
        }
        _growAt = 0;
        _canGrow = false;
        if (!_growInPlace && (_growGroup != 0 || CreateGrowGroup()))
        {
            GrowThroughFanout(blockSize, blocks);
            return;
        }
        GrowInPlace(oldBlockSize, oldBlocks, blockSize, blocks);
    }

    /// <summary>After a ring of <paramref name="blocks"/> blocks of <paramref name="blockSize"/> is in use: when it grows next.</summary>
    private void SetGrowth(int blockSize, int blocks)
    {
        if (blockSize != _fullBlockSize)
        {
            // Still small: the next receive that takes half of it (or a loss) grows it again.
            _growAt = Math.Max(1, blocks * (blockSize / _frameSize) / 2);
            _canGrow = true;
        }
        else
        {
            _growAt = 0;
            _canGrow = blocks < _maxBlocks;
        }
    }

    /// <summary>
    /// Makes the receiving socket the one member of a new PACKET_FANOUT_CBPF group whose program sends every frame to
    /// member 0 (itself), ignoring outgoing frames where the kernel can. A refusal (a log line) makes this port grow in
    /// place. Joining moves the socket from its own hook to the group's without a grace period between, so a frame
    /// passing at that instant may miss it: this happens once, at the port's first grow.
    /// </summary>
    private bool CreateGrowGroup()
    {
        int kind = PACKET_FANOUT_CBPF | PACKET_FANOUT_FLAG_UNIQUEID;
        bool created = TrySetInt(_fd, PACKET_FANOUT, (kind | PACKET_FANOUT_FLAG_IGNORE_OUTGOING) << 16);
        if (!created)
        {
            created = TrySetInt(_fd, PACKET_FANOUT, kind << 16);
            if (created) _ignoresOutgoing = false;   // the group's hook passes outgoing frames: filtered here
        }
        int v = 0;
        uint len = 4;
        if (!created || LibC.getsockopt(_fd, LibC.SOL_PACKET, PACKET_FANOUT, &v, &len) != 0 || !SetMember(_fd, 0))
        {
            _opt.Logger?.LogWarning("{If}: no PACKET_FANOUT_CBPF group to grow the receive ring through ({Error}); it grows in place, losing what arrives meanwhile",
                _if.Name, LibC.StrError(LibC.LastErrno));
            _growInPlace = true;
            return false;
        }
        // The word getsockopt reads (id, mode, flags) is what a later socket joins with.
        _growGroup = v;
        return true;
    }

    /// <summary>Has the fanout group's program send every frame to member <paramref name="member"/> (the kernel's
    /// member order: the first socket is 0, a joining one the next). Replacing a program, the kernel waits for an RCU
    /// grace period before it returns, so no frame is still on its way to the member the old program named.</summary>
    private static bool SetMember(int fd, uint member) => SetProgram(fd, LibC.SOL_PACKET, PACKET_FANOUT_DATA, member);

    /// <summary>Sets a classic BPF program of one instruction that returns <paramref name="value"/> (a socket filter:
    /// the bytes to keep, 0 none; a fanout program: the member).</summary>
    private static bool SetProgram(int fd, int level, int opt, uint value)
    {
        // sock_filter { u16 code; u8 jt; u8 jf; u32 k }: BPF_RET | BPF_K.
        ulong insn = 0x06UL | ((ulong)value << 32);
        // sock_fprog { u16 len; (pad); sock_filter* filter }
        byte* prog = stackalloc byte[16];
        new Span<byte>(prog, 16).Clear();
        *(ushort*)prog = 1;
        *(ulong**)(prog + 8) = &insn;
        return LibC.setsockopt(fd, level, opt, prog, 16) == 0;
    }

    /// <summary>The grow of <see cref="GrowRing"/> through a second socket in the port's fanout group.</summary>
    private void GrowThroughFanout(int blockSize, int blocks)
    {
        int fd;
        Ring ring;
        try
        {
            fd = OpenSocket(blockSize, blocks, _growGroup, first: false, out ring);
        }
        catch (PortOpenException e)
        {
            _opt.Logger?.LogWarning("{If}: cannot grow the receive ring to {Bytes} bytes ({Error}); it keeps {Frames} frames",
                _if.Name, (long)blockSize * blocks, e.Message, _frameCount);
            return;
        }
        // The group has two members now: the receiving socket (0) and the new one (1), which gets nothing yet.
        if (!SetMember(fd, 1))
        {
            int errno = LibC.LastErrno;
            LibC.munmap(ring.Base, ring.Size);
            LibC.close(fd);
            _opt.Logger?.LogWarning("{If}: cannot switch the receive ring to a larger one ({Error}); it keeps {Frames} frames",
                _if.Name, LibC.StrError(errno), _frameCount);
            return;
        }
        // Every frame from here on goes to the new socket; the old ring holds all it will get, taken out before it.
        _nextRing = ring;
        _nextFd = fd;
        Interlocked.Exchange(ref _txFd, fd);
    }

    /// <summary>
    /// The old ring taken to its end (a grow through the fanout group): reads the old socket's last counts, counts
    /// what still waits on its queue as dropped (the whole copy of a frame whose ring slot was lost; none normally),
    /// unmaps its ring and receives from the new socket's.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void SwitchToNextRing()
    {
        ReadStatistics();
        while (LibC.recvfrom(_fd, _scratchPtr, ScratchSize, LibC.MSG_DONTWAIT | MSG_TRUNC, null, null) >= 0) _counters.AddRxDropped(1);
        LibC.munmap(_ring, _ringSize);
        _staleFd = _fd;
        _fd = _nextFd;
        _nextFd = -1;
        UseRing(_nextRing);
        _nextRing = default;
        SetGrowth(_blockSize, _frameCount / _framesPerBlock);
        _growPending = false;
        CloseStale();
        PortWait.NoteWaitFdChanged();   // the forwarding thread's epoll set follows WaitFd
        _opt.Logger?.LogInformation("{If}: receive ring grown to {Frames} frames ({Bytes} bytes)", _if.Name, _frameCount, (long)_ringSize);
    }

    /// <summary>
    /// Closes the socket a grow left (its ring taken and unmapped) once no Send is using it: a Send that read it before
    /// the switch may still be sending on it (tried again at later receives and waits). The group then has the one
    /// member, and its program names member 0 again for the next grow.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void CloseStale()
    {
        // Send counts itself in before it reads _txFd (both full fences), and _txFd left this socket at the switch:
        // no Send in flight now means none uses it, nor will.
        if (Volatile.Read(ref _txBusy) != 0) return;
        LibC.close(_staleFd);
        _staleFd = -1;
        SetMember(_fd, 0);
    }

    /// <summary>
    /// The grow of <see cref="GrowRing"/> on the receiving socket itself: the kernel swaps rings only on an unmapped
    /// socket with none, so the old ring is unmapped and released, the new one set up and mapped. Under steady traffic
    /// the old ring never drains (the kernel refills it as fast as it is read), so the slots it holds at the swap are
    /// copied out first and received before the new ring's (<see cref="CarryHeldFrames"/>), in order. Frames still
    /// queued on the socket once the new ring is mapped are read and counted as dropped; a frame the kernel put in the
    /// old ring between the copy and the release is lost with it, and so are frames that arrive while each ring call
    /// has the socket unhooked or that it purges from the queue: those no counter sees. If the new ring cannot be had,
    /// the old one is set up again and kept.
    /// </summary>
    private void GrowInPlace(int oldBlockSize, int oldBlocks, int blockSize, int blocks)
    {
        CarryHeldFrames();
        LibC.munmap(_ring, _ringSize);
        _ring = null;
        uint* req = stackalloc uint[4];
        new Span<uint>(req, 4).Clear();
        if (LibC.setsockopt(_fd, LibC.SOL_PACKET, PACKET_RX_RING, req, 16) != 0)
        {
            int errno = LibC.LastErrno;
            // The old ring is still set up: map it again.
            nint map = LibC.mmap(null, _ringSize, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED | LibC.MAP_POPULATE, _fd, 0);
            if (map != LibC.MAP_FAILED) _ring = (byte*)map;
            _opt.Logger?.LogWarning("{If}: cannot release the receive ring to grow it ({Error}); it keeps {Frames} frames",
                _if.Name, LibC.StrError(errno), _frameCount);
            return;
        }
        if (MapRing(_fd, blockSize, blocks, out var ring) is { } error)
        {
            var again = MapRing(_fd, oldBlockSize, oldBlocks, out var old);
            if (again is null) UseRing(old);
            _opt.Logger?.LogWarning("{If}: cannot grow the receive ring to {Bytes} bytes ({What}: {Error}); {Kept}",
                _if.Name, (long)blockSize * blocks, error.What, LibC.StrError(error.Errno),
                again is null ? $"it keeps {_frameCount} frames" : "the port receives nothing more");
        }
        else
        {
            UseRing(ring);
            SetGrowth(blockSize, blocks);
        }
        // What the kernel queued while the socket had no ring (and copies a released slot pointed at).
        while (true)
        {
            nint r = LibC.recvfrom(_fd, _scratchPtr, ScratchSize, LibC.MSG_DONTWAIT | MSG_TRUNC, null, null);
            if (r < 0) break;
            _counters.AddRxDropped(1);
        }
        // A loss the kernel counted before the swap was the old ring's: counted, and no reason to grow the new one.
        ReadStatistics();
        _growPending = false;
        _opt.Logger?.LogInformation("{If}: receive ring grown to {Frames} frames ({Bytes} bytes)", _if.Name, _frameCount, (long)_ringSize);
    }

    /// <summary>Whether this port grows its ring through a second socket in a fanout group (false: in place, or not yet grown).</summary>
    internal bool GrowsThroughFanout => _growGroup != 0 && !_growInPlace;

    /// <summary>Tests: makes the next receive that takes a frame grow the ring, as a loss would (receiving thread only).</summary>
    internal void ForceGrow()
    {
        if (_canGrow) _growPending = true;
    }

    public int WaitFd => _fd >= 0 ? _fd : PortWait.Unavailable;

    /// <summary>With PACKET_VNET_HDR the kernel segments and checksums what a frame's virtio-net header asks of it.</summary>
    public bool AcceptsOffload => _vnet;

    private static int FanoutArg(int group) => (group & 0xFFFF) | ((PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG) << 16);

    /// <summary>
    /// Splits this interface's receiving into <paramref name="count"/> sockets of one PACKET_FANOUT group (hash by flow,
    /// fragments defragmented first so they hash alike): this port and count - 1 receive-only sockets with their own
    /// rings, counting into this port's counters. The group id comes from the kernel (PACKET_FANOUT_FLAG_UNIQUEID), so
    /// it collides with no other process. If the kernel refuses, one line says so and this port receives alone. The
    /// members are receive-only sockets of this type (the datapath polls them as <see cref="IRxQueue"/>s: their
    /// transmit path is never used, and they transmit nothing).
    /// </summary>
    public AfPacketPort[] OpenReceivers(int count)
    {
        if (count <= 1 || _fd < 0) return [this];
        var list = new List<AfPacketPort> { this };
        try
        {
            int group = _opt.FanoutGroup;
            if (group == 0)
            {
                SetInt(_fd, PACKET_FANOUT, FanoutArg(0) | (PACKET_FANOUT_FLAG_UNIQUEID << 16), "Creating a PACKET_FANOUT group");
                _growInPlace = true;   // a hash group's member: a grow through the group would move flows between threads
                int v = 0;
                uint len = 4;
                if (LibC.getsockopt(_fd, LibC.SOL_PACKET, PACKET_FANOUT, &v, &len) != 0)
                    throw PortOpenException.FromErrno(_if.Name, "Reading the PACKET_FANOUT group id", LibC.LastErrno);
                group = v & 0xFFFF;
            }
            for (int i = 1; i < count; i++)
                list.Add(new AfPacketPort(_if.Name, _opt with { FanoutGroup = group }, _counters));
            _opt.Logger?.LogInformation("{If}: receiving through {Count} sockets of fanout group {Group} (hash by flow), one per forwarding thread",
                _if.Name, count, group);
            return [.. list];
        }
        catch (PortOpenException e)
        {
            for (int i = 1; i < list.Count; i++) list[i].Dispose();
            _opt.Logger?.LogWarning("{If}: cannot split receiving across {Count} threads ({Error}); one thread receives from it", _if.Name, count, e.Message);
            return [this];
        }
    }

    IRxQueue[] IPort.OpenReceivers(int count) => [.. OpenReceivers(count)];

    public bool PrepareWait()
    {
        if (_carry != null || _nextFd >= 0) return false;   // the old ring's end is a receive away
        if (_staleFd >= 0) CloseStale();
        if (_ring == null) return true;
        if (_gso.Active) return false;
        return (Volatile.Read(ref *(uint*)Frame(_head)) & TP_STATUS_USER) == 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private byte* Frame(int i) => _ring + (nint)(i / _framesPerBlock) * _blockSize + (nint)(i % _framesPerBlock) * _frameSize;

    public int Receive(PacketPool pool, Span<int> pkts)
    {
        if (_ring == null) return 0;
        int n = 0;
        int max = pkts.Length;
        long rxBytes = 0;
        bool waited = false;
        while (n < max)
        {
            if (_gso.Active)
            {
                n += EmitSegments(pool, pkts[n..], ref rxBytes);
                if (_gso.Active) break;   // the pool ran dry or the burst is full
                continue;
            }
            byte* h = _carry == null ? Frame(_head) : _carry + (nint)_carryNext * _frameSize;
            uint st = Volatile.Read(ref *(uint*)(h + HdrStatus));
            if ((st & TP_STATUS_USER) == 0)
            {
                if (_nextFd >= 0 && _carry == null)
                {
                    // A grow switched the group to its new socket: the old ring's end; the new ring's frames follow.
                    SwitchToNextRing();
                    continue;
                }
                if (n > 0 || waited || _opt.IdleWaitMs <= 0)
                {
                    if (n == 0 && Environment.TickCount64 >= _nextStatsTick) RefreshIdleStatistics();
                    break;
                }
                WaitIdle();
                waited = true;
                continue;
            }
            if ((st & TP_STATUS_LOSING) != 0)
            {
                ReadStatistics();
            }
            if (h[HdrSllPktType] == PACKET_OUTGOING)
            {
                ReleaseFrame(h, st);
                continue;
            }
            int p;
            if ((st & TP_STATUS_COPY) != 0 && _vnet && pool.LargeFreeCount > 0)
            {
                // Larger than a ring slot (a GSO super-frame): whole into a large buffer, to be handed on as it is.
                p = TakeWhole(pool, h, st);
                if (p >= 0)
                {
                    pkts[n++] = p;
                    rxBytes += pool.Length[p];
                }
                ReleaseFrame(h, st);
                continue;
            }
            if (pool.Alloc(pkts.Slice(n, 1)) == 0)
            {
                _rxNoBuffers++;
                break;   // the frame stays in the ring
            }
            p = pkts[n];
            if (TakeFrame(pool, p, h, st, out int len))
            {
                pkts[n++] = p;
                rxBytes += len;
            }
            else
            {
                pool.Release(p);
            }
            ReleaseFrame(h, st);
        }
        if (n > 0)
        {
            // Receivers split by fanout share these counters, so updates are atomic (once per burst).
            _counters.AddRx(n, rxBytes);
            if (_canGrow && (_growPending || (_growAt != 0 && n >= _growAt))) GrowRing();
        }
        return n;
    }

    /// <summary>
    /// Copies the frame of ring slot <paramref name="h"/> into buffer <paramref name="p"/> (VLAN tag restored, partial
    /// checksum completed), or starts cutting it when it is a GSO super-frame (then returns false: segments follow).
    /// </summary>
    private bool TakeFrame(PacketPool pool, int p, byte* h, uint st, out int len)
    {
        len = 0;
        bool vlan = (st & TP_STATUS_VLAN_VALID) != 0;
        ushort tpid = (st & TP_STATUS_VLAN_TPID_VALID) != 0 ? *(ushort*)(h + HdrVlanTpid) : (ushort)0x8100;
        ushort tci = *(ushort*)(h + HdrVlanTci);
        byte* data;
        int snap;
        VirtioNetHeader vh = default;
        if ((st & TP_STATUS_COPY) != 0)
        {
            // The ring holds a truncated copy; the whole frame (virtio-net header first) waits on the socket queue.
            int hdr = _vnet ? VirtioNetHeader.Size : 0;
            nint r = LibC.recvfrom(_fd, _scratchPtr + ScratchFrameOffset - hdr, (nuint)(ScratchSize - ScratchFrameOffset + hdr),
                LibC.MSG_DONTWAIT | MSG_TRUNC, null, null);
            if (r < hdr + 12 || r > ScratchSize - ScratchFrameOffset + hdr)
            {
                if (r >= 0) Oversize();
                else Interlocked.Increment(ref _counters.RxErrors);
                return false;
            }
            if (_vnet) vh = VirtioNetHeader.Read(new ReadOnlySpan<byte>(_scratch, ScratchFrameOffset - hdr, hdr));
            snap = (int)r - hdr;
            data = _scratchPtr + ScratchFrameOffset;
        }
        else
        {
            data = h + *(ushort*)(h + HdrMac);
            snap = (int)*(uint*)(h + HdrSnapLen);
            if (snap < 12 || snap != (int)*(uint*)(h + HdrLen))
            {
                Oversize();   // truncated in the ring and no copy queued (the socket buffer was full)
                return false;
            }
            if (_vnet) vh = VirtioNetHeader.Read(new ReadOnlySpan<byte>(data - VirtioNetHeader.Size, VirtioNetHeader.Size));
        }
        int shift = vlan ? 4 : 0;
        if (vh.IsGso)
        {
            StartSuper(data, snap, vlan, tpid, tci, in vh);
            return false;
        }
        len = snap + shift;
        int room = pool.Room(p);
        if (len > room || len > ushort.MaxValue)
        {
            Oversize();
            return false;
        }
        byte* dst = (byte*)Unsafe.AsPointer(ref pool.Slab[pool.FrameOffset(p)]);
        CopyWithTag(data, snap, dst, vlan, tpid, tci);
        pool.Length[p] = (ushort)len;
        if (vh.NeedsChecksum)
        {
            if (SoftwareOffload.CompleteChecksum(new Span<byte>(dst, len), vh.CsumStart + shift, vh.CsumOffset)) Interlocked.Increment(ref _counters.RxChecksumCompleted);
            else Interlocked.Increment(ref _counters.RxErrors);
        }
        return true;
    }

    /// <summary>
    /// Reads the whole frame queued behind ring slot <paramref name="h"/> (TP_STATUS_COPY) straight into a large buffer,
    /// its virtio-net header landing in the headroom: a GSO super-frame keeps its offload request
    /// (<see cref="PacketPool.Offload"/>), a plain frame has its partial checksum completed. Returns the buffer, or -1
    /// (counted) when the frame was refused or lost.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private int TakeWhole(PacketPool pool, byte* h, uint st)
    {
        int p = pool.AllocLarge();
        bool vlan = (st & TP_STATUS_VLAN_VALID) != 0;
        int shift = vlan ? 4 : 0;
        byte* frame = (byte*)Unsafe.AsPointer(ref pool.Slab[pool.SlotOffset(p) + PacketPool.Headroom]);
        int cap = PacketPool.LargeDataSize - shift;
        nint r = LibC.recvfrom(_fd, frame - VirtioNetHeader.Size, (nuint)(cap + VirtioNetHeader.Size), LibC.MSG_DONTWAIT | MSG_TRUNC, null, null);
        if (r < VirtioNetHeader.Size + 14 || r > cap + VirtioNetHeader.Size)
        {
            pool.Release(p);
            if (r >= 0) Oversize();
            else Interlocked.Increment(ref _counters.RxErrors);
            return -1;
        }
        var vh = VirtioNetHeader.Read(new ReadOnlySpan<byte>(frame - VirtioNetHeader.Size, VirtioNetHeader.Size));
        int len = (int)r - VirtioNetHeader.Size;
        if (vlan)
        {
            // The kernel keeps the tag in metadata: put it back by moving the MAC addresses 4 bytes forward.
            ushort tpid = (st & TP_STATUS_VLAN_TPID_VALID) != 0 ? *(ushort*)(h + HdrVlanTpid) : (ushort)0x8100;
            ushort tci = *(ushort*)(h + HdrVlanTci);
            byte* dst = frame - 4;
            Buffer.MemoryCopy(frame, dst, 12, 12);
            dst[12] = (byte)(tpid >> 8); dst[13] = (byte)tpid;
            dst[14] = (byte)(tci >> 8); dst[15] = (byte)tci;
            pool.Head[p] = PacketPool.Headroom - 4;
            len += 4;
        }
        pool.Length[p] = (ushort)len;
        var f = pool.Frame(p);
        if (vh.IsGso)
        {
            var refusal = SoftwareOffload.Start(f, vh.GsoType, vh.GsoSize, out _);
            if (refusal != GsoRefusal.None)
            {
                pool.Release(p);
                Interlocked.Increment(ref _counters.RxGsoRefused);
                _counters.AddRxDropped(1);
                _opt.Logger?.LogDebug("{If}: GSO frame refused ({Reason}, gso_type {Type})", _if.Name, refusal, vh.GsoType);
                return -1;
            }
            ref var o = ref pool.OffloadOf(p);
            o.GsoType = vh.GsoType;
            o.GsoSize = vh.GsoSize;
            if (vh.NeedsChecksum)
            {
                o.CsumStart = (ushort)(vh.CsumStart + shift);
                o.CsumOffset = vh.CsumOffset;
            }
            Interlocked.Increment(ref _counters.RxGsoWhole);
        }
        else if (vh.NeedsChecksum)
        {
            if (SoftwareOffload.CompleteChecksum(f, vh.CsumStart + shift, vh.CsumOffset)) Interlocked.Increment(ref _counters.RxChecksumCompleted);
            else Interlocked.Increment(ref _counters.RxErrors);
        }
        return p;
    }

    private static void CopyWithTag(byte* src, int snap, byte* dst, bool vlan, ushort tpid, ushort tci)
    {
        if (!vlan)
        {
            Buffer.MemoryCopy(src, dst, snap, snap);
            return;
        }
        Buffer.MemoryCopy(src, dst, 12, 12);
        Buffer.MemoryCopy(src + 12, dst + 16, snap - 12, snap - 12);
        dst[12] = (byte)(tpid >> 8); dst[13] = (byte)tpid;
        dst[14] = (byte)(tci >> 8); dst[15] = (byte)tci;
    }

    /// <summary>Puts a GSO super-frame (tag restored) in the scratch buffer and prepares to cut it.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void StartSuper(byte* data, int snap, bool vlan, ushort tpid, ushort tci, in VirtioNetHeader vh)
    {
        byte* s = _scratchPtr;
        int len = snap + (vlan ? 4 : 0);
        if (data == s + ScratchFrameOffset)
        {
            // Read whole from the socket queue: it is in place; a tag goes in by moving the MAC addresses back.
            _superOffset = ScratchFrameOffset;
            if (vlan)
            {
                _superOffset -= 4;
                byte* dst = s + _superOffset;
                Buffer.MemoryCopy(data, dst, 12, 12);
                dst[12] = (byte)(tpid >> 8); dst[13] = (byte)tpid;
                dst[14] = (byte)(tci >> 8); dst[15] = (byte)tci;
            }
        }
        else
        {
            if (len > ScratchSize)
            {
                Oversize();
                return;
            }
            CopyWithTag(data, snap, s, vlan, tpid, tci);
            _superOffset = 0;
        }
        _superLength = len;
        var frame = new ReadOnlySpan<byte>(_scratch, _superOffset, len);
        var refusal = SoftwareOffload.Start(frame, vh.GsoType, vh.GsoSize, out _gso);
        if (refusal != GsoRefusal.None)
        {
            _gso.Clear();
            Interlocked.Increment(ref _counters.RxGsoRefused);
            _counters.AddRxDropped(1);
            _opt.Logger?.LogDebug("{If}: GSO frame refused ({Reason}, gso_type {Type})", _if.Name, refusal, vh.GsoType);
            return;
        }
        Interlocked.Increment(ref _counters.RxGsoFrames);
    }

    private int _superOffset;

    /// <summary>Cuts segments of the current super-frame into fresh pool buffers, up to <paramref name="pkts"/>.Length.</summary>
    private int EmitSegments(PacketPool pool, Span<int> pkts, ref long rxBytes)
    {
        var frame = new ReadOnlySpan<byte>(_scratch, _superOffset, _superLength);
        int n = 0;
        while (n < pkts.Length && _gso.Active)
        {
            if (pool.Alloc(pkts.Slice(n, 1)) == 0)
            {
                _rxNoBuffers++;
                break;
            }
            int p = pkts[n];
            int len = SoftwareOffload.Next(frame, ref _gso, pool.Tail(p));
            if (len <= 0)
            {
                // A segment larger than a pool buffer: the whole super-frame is lost, and counted.
                pool.Release(p);
                _gso.Clear();
                Oversize();
                break;
            }
            pool.Length[p] = (ushort)len;
            rxBytes += len;
            Interlocked.Increment(ref _counters.RxGsoSegments);
            n++;
        }
        return n;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Oversize()
    {
        Interlocked.Increment(ref _counters.RxOversize);
        _counters.AddRxDropped(1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ReleaseFrame(byte* h, uint st)
    {
        if (_carry != null)
        {
            if (++_carryNext == _carryCount) FreeCarry();
            return;
        }
        Volatile.Write(ref *(uint*)(h + HdrStatus), TP_STATUS_KERNEL);
        if (++_head == _frameCount) _head = 0;
    }

    /// <summary>
    /// Before a grow releases the ring: copies the slots it holds (from the head on, in the order the kernel filled
    /// them) whole into a buffer that <see cref="Receive"/> takes before the new ring, so a grow loses none of them. A
    /// slot that holds only the start of a frame larger than a slot (TP_STATUS_COPY) cannot come along: its whole copy
    /// waits on the socket queue, which the grow drains; it is counted as dropped. Also when the buffer cannot be had.
    /// </summary>
    private void CarryHeldFrames()
    {
        int held = 0;
        while (held < _frameCount && (Volatile.Read(ref *(uint*)Frame((_head + held) % _frameCount)) & TP_STATUS_USER) != 0) held++;
        if (held == 0) return;
        byte* carry;
        try
        {
            carry = (byte*)NativeMemory.Alloc((nuint)held * (nuint)_frameSize);
        }
        catch (OutOfMemoryException)
        {
            carry = null;
        }
        int kept = 0;
        for (int i = 0; i < held; i++)
        {
            byte* h = Frame((_head + i) % _frameCount);
            if (carry == null || (Volatile.Read(ref *(uint*)(h + HdrStatus)) & TP_STATUS_COPY) != 0)
            {
                _counters.AddRxDropped(1);
                continue;
            }
            Buffer.MemoryCopy(h, carry + (nint)kept * _frameSize, _frameSize, _frameSize);
            kept++;
        }
        if (kept == 0)
        {
            NativeMemory.Free(carry);
            return;
        }
        _carry = carry;
        _carryCount = kept;
        _carryNext = 0;
    }

    private void FreeCarry()
    {
        NativeMemory.Free(_carry);
        _carry = null;
        _carryCount = _carryNext = 0;
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

    /// <summary>
    /// Adds the kernel's ring drops since the last read (PACKET_STATISTICS resets on read) to RxDropped; a loss makes a
    /// ring that can still grow do so at the next receive (<see cref="GrowRing"/>): the small initial ring always, a
    /// full ring only when its port has been offered at least a ring's frames a second over a window of about ten
    /// seconds (<see cref="GrowWindowSeconds"/>). A port that rarely sees that many lost its frames to a burst or to a
    /// thread kept from its CPU, which a larger ring would hold only at a large price: a grown ring is resident memory,
    /// up to tens of MiB a port, on topologies of a hundred bridges whose one forwarding thread a loaded machine keeps
    /// waiting.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ReadStatistics()
    {
        uint* st = stackalloc uint[3];
        uint len = 12;
        long now = System.Diagnostics.Stopwatch.GetTimestamp();
        if (_windowTicks == 0 || now - _windowTicks >= GrowWindowSeconds * System.Diagnostics.Stopwatch.Frequency)
        {
            _windowTicks = now;
            _windowOffered = _counters.RxPackets + _counters.RxDropped;
        }
        if (LibC.getsockopt(_fd, LibC.SOL_PACKET, PACKET_STATISTICS, st, &len) == 0 && st[1] != 0)
        {
            _counters.AddRxDropped(st[1]);
            long offered = _counters.RxPackets + _counters.RxDropped - _windowOffered;
            bool sustained = _blockSize != _fullBlockSize || offered >= (long)_frameCount * GrowWindowSeconds;
            if (_canGrow && sustained) _growPending = true;
        }
    }

    /// <summary>Reads PACKET_STATISTICS now (the poll thread does this about once a second when idle and on TP_STATUS_LOSING).
    /// Call only from the receiving thread.</summary>
    public void RefreshStatistics() => ReadStatistics();

    /// <summary>One sendmmsg per burst on the transmit socket: the receiving one, or from a grow's switch on the new
    /// socket (<see cref="GrowRing"/>), whose old one stays open while a Send may still use it.</summary>
    public void Send(PacketPool pool, ReadOnlySpan<int> pkts)
    {
        if (pkts.IsEmpty) return;
        Interlocked.Increment(ref _txBusy);
        try
        {
            int fd = Volatile.Read(ref _txFd);
            if (fd >= 0) PacketSocketTransmit.Send(fd, pool, pkts, _vnet ? _zeroVnet : null, _counters);
        }
        finally
        {
            Interlocked.Decrement(ref _txBusy);
        }
    }

    private void SetInt(int fd, int opt, int value, string what)
    {
        if (LibC.setsockopt(fd, LibC.SOL_PACKET, opt, &value, 4) != 0)
            throw PortOpenException.FromErrno(_if.Name, what, LibC.LastErrno);
    }

    private static bool TrySetInt(int fd, int opt, int value) => LibC.setsockopt(fd, LibC.SOL_PACKET, opt, &value, 4) == 0;

    private static bool TrySetSockInt(int fd, int opt, int value) => LibC.setsockopt(fd, LibC.SOL_SOCKET, opt, &value, 4) == 0;

    public void Dispose()
    {
        if (_carry != null) FreeCarry();
        if (_ring != null)
        {
            LibC.munmap(_ring, _ringSize);
            _ring = null;
        }
        if (_nextFd >= 0)
        {
            LibC.munmap(_nextRing.Base, _nextRing.Size);
            LibC.close(_nextFd);
            _nextFd = -1;
        }
        if (_staleFd >= 0)
        {
            LibC.close(_staleFd);
            _staleFd = -1;
        }
        _txFd = -1;
        if (_fd >= 0)
        {
            LibC.close(_fd);
            _fd = -1;
        }
        if (_zeroVnet != null)
        {
            NativeMemory.Free(_zeroVnet);
            _zeroVnet = null;
        }
    }

    public override string ToString() => $"afpacket:{_if.Name}";
}
