using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Ports;

namespace Softswitch.Datapath.Forwarding;

public sealed partial class OutputStage
{
    // Which mirrors a packet was already copied to, per buffer: the burst's epoch in the high half, the mirror bits in
    // the low one. A buffer whose epoch is not the current one has been to no mirror (a copy or a buffer made since the
    // burst began). Made at the first burst with mirrors (once, its pool's size), never per packet.
    private ulong[] _mirrorSeen = [];
    private uint _mirrorEpoch;

    /// <summary>
    /// The ingress selection of a burst received on <paramref name="inSlot"/> (parsed, before its flows run): each
    /// packet that a mirror selects by this port (and VLAN) is copied to it as it arrived; every packet starts its
    /// record of the mirrors it went to (see <see cref="MirrorEgress"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal void MirrorIngress(MirrorSet set, PortSlot inSlot, ReadOnlySpan<int> pkts)
    {
        ulong epoch = NextMirrorEpoch();
        uint src = inSlot.MirrorSrc;
        foreach (int p in pkts) _mirrorSeen[p] = epoch | (src == 0 ? 0 : MirrorPacket(set, src, p, inSlot.No));
    }

    /// <summary>A packet made on the control path (packet-out): it has been to no mirror yet.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal void MirrorFresh(int p) => _mirrorSeen[p] = NextMirrorEpoch();

    /// <summary>Buffer <paramref name="c"/>, a copy of <paramref name="p"/> (rewritten, or a segment) output in its place,
    /// has been to the mirrors <paramref name="p"/> has been to.</summary>
    private void MirrorsFollow(int p, int c)
    {
        if (_mirrorSeen.Length != 0) _mirrorSeen[c] = _mirrorSeen[p];
    }

    /// <summary>The mirrors the copy <paramref name="c"/> went to are ones <paramref name="p"/> went to (a later output of
    /// <paramref name="p"/> is not copied to them again).</summary>
    private void MirrorsReturn(int c, int p)
    {
        if (_mirrorSeen.Length != 0 && (uint)(_mirrorSeen[p] >> 32) == _mirrorEpoch) _mirrorSeen[p] |= (uint)_mirrorSeen[c];
    }

    private ulong NextMirrorEpoch()
    {
        if (_mirrorSeen.Length == 0) _mirrorSeen = new ulong[_pool.IndexLimit];
        return (ulong)++_mirrorEpoch << 32;
    }

    /// <summary>
    /// The egress selection: packet <paramref name="p"/> leaves by <paramref name="slot"/>, which mirrors select for what
    /// it sends; each of them that has not had this packet yet (nor a mirror that sends to the same place) gets a copy
    /// of it as it is now (Open vSwitch 2.5 and later).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void MirrorEgress(MirrorSet set, PortSlot slot, int p)
    {
        if (_mirrorSeen.Length == 0) return;   // no burst with mirrors has begun on this thread
        ulong seen = _mirrorSeen[p];
        bool current = (uint)(seen >> 32) == _mirrorEpoch;
        uint done = current ? (uint)seen : 0;
        uint candidates = slot.MirrorDst & ~done;
        if (candidates == 0) return;
        uint used = MirrorPacket(set, candidates, p, _pool.InPort[p]);
        if (current) _mirrorSeen[p] = seen | used;
    }

    /// <summary>
    /// Copies packet <paramref name="p"/> (received on <paramref name="inPort"/>) to each mirror of
    /// <paramref name="candidates"/> that selects its VLAN, once per place; returns the mirrors done (those copied to and
    /// those that send to the same place).
    /// </summary>
    private uint MirrorPacket(MirrorSet set, uint candidates, int p, ushort inPort)
    {
        var f = _pool.Frame(p);
        if (f.Length < 14) return 0;
        bool tagged = f.Length >= 18 && f[12] == 0x81 && f[13] == 0x00;
        ushort vid = tagged ? (ushort)(BinaryPrimitives.ReadUInt16BigEndian(f[14..]) & 0x0FFF) : (ushort)0;
        // The packet's VLAN as NORMAL sees it: an access port's, else its tag's (0 untagged).
        ushort vlan = !tagged && _f.Owner.Ports.Get(inPort)?.Vlan is { IsAccess: true } access ? access.Tag : vid;
        var mirrors = set.Mirrors;
        uint done = 0;
        while (candidates != 0)
        {
            int i = BitOperations.TrailingZeroCount(candidates);
            candidates &= candidates - 1;
            if (i >= mirrors.Length) continue;   // the set changed since the port's bits were read
            var m = mirrors[i];
            if (!m.Selects(vlan)) continue;
            done |= set.Dup[i];
            candidates &= ~set.Dup[i];
            m.Count(f.Length);
            if (m.OutPort != PortNumber.None)
            {
                if (m.OutPort != inPort && _f.Owner.Ports.Get(m.OutPort) is { } outSlot) MirrorCopy(m, outSlot, p, tagged, vlan);
                continue;
            }
            // To a VLAN (RSPAN): every port that carries it but the input port and mirror output ports, tagged with it
            // (untagged to its access ports); never a frame already in that VLAN, nor one to a reserved address
            // (01:80:c2:00:00:0x, the bridge protocols'), as Open vSwitch.
            if (vlan == m.OutVlan || (f[0] == 0x01 && f[1] == 0x80 && f[2] == 0xC2 && f[3] == 0 && f[4] == 0 && (f[5] & 0xF0) == 0)) continue;
            foreach (var s in _f.Owner.Ports.WithLocal)
            {
                if (s.No == inPort || s.MirrorOut || (s.Vlan is { } sv && !sv.Carries((ushort)m.OutVlan))) continue;
                MirrorCopy(m, s, p, tagged, (ushort)m.OutVlan);
            }
        }
        return done;
    }

    /// <summary>
    /// One copy of <paramref name="p"/> (of VLAN <paramref name="vlan"/>) to <paramref name="slot"/>: tagged as the port
    /// sends that VLAN (untagged from an access port or for VLAN 0), cut to the mirror's snaplen, and queued past the
    /// egress mirrors (a copy is never mirrored again).
    /// </summary>
    private void MirrorCopy(Mirror m, PortSlot slot, int p, bool tagged, ushort vlan)
    {
        int c = _pool.Clone(p);
        if (c < 0)
        {
            _f.Drops.Add(DropReason.PoolExhausted);
            return;
        }
        bool wantTag = vlan != 0 && slot.Vlan is not { IsAccess: true };
        bool ok = true;
        if (wantTag != tagged || (tagged && (BinaryPrimitives.ReadUInt16BigEndian(_pool.Frame(c)[14..]) & 0x0FFF) != vlan)) ok = Retag(c, tagged, wantTag, vlan);
        if (ok && m.Snaplen > 0 && _pool.Length[c] > m.Snaplen)
        {
            _pool.Length[c] = (ushort)m.Snaplen;
            // A cut super-frame is one frame of snaplen bytes: nothing left to segment or checksum.
            if (_pool.IsLarge(c)) _pool.OffloadOf(c) = default;
        }
        if (ok) Stage(slot, c, mirrored: true);
        else _f.Drops.Add(DropReason.TooBig);
        _pool.Release(c);
    }
}
