using System.Runtime.CompilerServices;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;

namespace Softswitch.Ports.Linux;

/// <summary>
/// The transmit loop of a packet socket: a burst becomes sendmmsg(MSG_DONTWAIT) calls of up to <see cref="MaxBatch"/>
/// frames whose iovecs point into the pinned slab (the kernel copies before returning), optionally each behind a
/// virtio-net header (a socket with PACKET_VNET_HDR). Used by the AF_PACKET port and by the AF_XDP port's packet-socket
/// fallback (threads that own no TX ring).
/// </summary>
/// <remarks>
/// A frame the kernel refuses (too short or too long, no buffer space, link down) is skipped and counted in TxDropped;
/// EINTR retries the same frames. Sent frames and bytes go to TxPackets and TxBytes. Counters are added with one
/// interlocked add each per burst, so several threads may send on one port at once.
/// Thread safety: stateless; the message headers, iovecs and scratch virtio-net headers live on the caller's stack,
/// so the loop is reentrant. Allocates nothing.
/// </remarks>
[SkipLocalsInit]
internal static unsafe class PacketSocketTransmit
{
    /// <summary>Frames per sendmmsg call.</summary>
    public const int MaxBatch = 64;

    /// <summary>
    /// Sends <paramref name="pkts"/> on <paramref name="fd"/> and counts the outcome in <paramref name="counters"/>.
    /// Returns the number of frames sent.
    /// </summary>
    /// <param name="zeroVnetHeader">Null for a socket without PACKET_VNET_HDR. Otherwise each frame goes behind a
    /// virtio-net header: this all-zero one (the frame is final), or, for a packet that owes an offload
    /// (<see cref="PacketPool.OwesOffload"/>: a super-frame in a large buffer), its request, for the kernel to
    /// segment it or complete its checksum.</param>
    public static long Send(int fd, PacketPool pool, ReadOnlySpan<int> pkts, byte* zeroVnetHeader, PortCounters counters)
    {
        LibC.MMsgHdr* msgs = stackalloc LibC.MMsgHdr[MaxBatch];
        LibC.IoVec* iov = stackalloc LibC.IoVec[MaxBatch * 2];
        byte* vhdrs = stackalloc byte[MaxBatch * VirtioNetHeader.Size];
        bool vnet = zeroVnetHeader != null;
        int per = vnet ? 2 : 1;
        long sentPkts = 0, sentBytes = 0, dropped = 0;
        fixed (byte* slab = pool.Slab)
        {
            for (int start = 0; start < pkts.Length; start += MaxBatch)
            {
                int cnt = Math.Min(MaxBatch, pkts.Length - start);
                for (int i = 0; i < cnt; i++)
                {
                    int p = pkts[start + i];
                    LibC.IoVec* v = iov + i * per;
                    if (vnet)
                    {
                        v->Base = pool.OwesOffload(p) ? OffloadHeader(pool, p, vhdrs + i * VirtioNetHeader.Size) : zeroVnetHeader;
                        v->Len = VirtioNetHeader.Size;
                        v++;
                    }
                    v->Base = slab + pool.FrameOffset(p);
                    v->Len = pool.Length[p];
                    msgs[i].Hdr = default;
                    msgs[i].Hdr.Iov = iov + i * per;
                    msgs[i].Hdr.IovLen = (nuint)per;
                    msgs[i].Len = 0;
                }
                int done = 0;
                while (done < cnt)
                {
                    int r = LibC.sendmmsg(fd, msgs + done, (uint)(cnt - done), LibC.MSG_DONTWAIT);
                    if (r > 0)
                    {
                        for (int i = done; i < done + r; i++) sentBytes += pool.Length[pkts[start + i]];
                        sentPkts += r;
                        done += r;
                        continue;
                    }
                    if (r < 0 && LibC.LastErrno == LibC.EINTR) continue;
                    dropped++;   // this frame was refused (too short or long, no buffer space, link down): skip it
                    done++;
                }
            }
        }
        if (sentPkts > 0)
        {
            counters.AddTx(sentPkts, sentBytes);
        }
        if (dropped > 0) counters.AddTxDropped(dropped);
        return sentPkts;
    }

    /// <summary>The virtio-net header asking the kernel to finish a large buffer's frame (segment it, complete its checksum).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static byte* OffloadHeader(PacketPool pool, int p, byte* dst)
    {
        ref var o = ref pool.OffloadOf(p);
        var vh = new VirtioNetHeader(o.NeedsChecksum ? VirtioNetHeader.FlagNeedsCsum : (byte)0, o.GsoType, o.HdrLen, o.GsoSize, o.CsumStart, o.CsumOffset);
        vh.Write(new Span<byte>(dst, VirtioNetHeader.Size));
        return dst;
    }
}
