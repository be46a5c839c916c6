using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;

namespace Softswitch.Datapath.Forwarding;

public sealed partial class OutputStage
{
    private const int EthAddresses = 12, TagSize = 4;

    /// <summary>
    /// NORMAL with VLANs (<see cref="PortVlan"/>): the frame's VLAN comes from its input port (an access port's, or the
    /// 802.1Q tag's on a trunk; a frame the port does not carry is dropped and counted), addresses are learned and
    /// looked up in that VLAN, and the frame goes only to ports that carry it, untagged to access ports and VLAN 0,
    /// tagged to trunks. A port whose form differs from the frame's gets a rewritten copy; the others the packet itself.
    /// A mirror's output port (<see cref="PortSlot.MirrorOut"/>) takes no part: what it receives is dropped, nothing is
    /// sent to it (counted drop-mirror-port), as Open vSwitch reserves it for the mirror.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void NormalVlan(ReadOnlySpan<int> pkts, bool copy)
    {
        var mac = _f.Owner.MacTable;
        var ports = _f.Owner.Ports;
        foreach (int p in pkts)
        {
            var f = _pool.Frame(p);
            if (f.Length < 14)
            {
                _f.Drops.Add(DropReason.NormalRunt);
                continue;
            }
            bool tagged = f.Length >= 18 && f[12] == 0x81 && f[13] == 0x00;
            ushort vid = tagged ? (ushort)(BinaryPrimitives.ReadUInt16BigEndian(f[14..]) & 0x0FFF) : (ushort)0;
            ushort inPort = _pool.InPort[p];
            var inSlot = ports.Get(inPort);
            ushort vlan = vid;
            if (inSlot is { MirrorOut: true })
            {
                _f.Drops.Add(DropReason.MirrorPort);
                continue;
            }
            if (inSlot?.Vlan is { } membership)
            {
                if (membership.IsAccess)
                {
                    if (vid != 0)
                    {
                        _f.Drops.Add(DropReason.NormalVlan);
                        continue;
                    }
                    vlan = membership.Tag;
                }
                else if (!membership.Carries(vid))
                {
                    _f.Drops.Add(DropReason.NormalVlan);
                    continue;
                }
            }
            if (inSlot is not null && !mac.Learn(MacAddress.Read(f[6..]), vlan, inPort, _f.Now)) _f.Counters.Add(DatapathCounters.MacTableFull);
            ushort outPort = mac.Lookup(MacAddress.Read(f), vlan, _f.Now);
            if (outPort == PortNumber.None)
            {
                foreach (var s in ports.WithLocal)
                {
                    if (s.No == inPort || (s.Config & (PortConfig.NoFlood | PortConfig.StpNoForward)) != 0 || s.MirrorOut) continue;
                    StageVlan(s, p, vlan, tagged, vid, copy);
                }
                continue;
            }
            if (outPort == inPort)
            {
                _f.Drops.Add(DropReason.NormalToInPort);
                continue;
            }
            if (ports.Get(outPort) is not { } slot) _f.Drops.Add(DropReason.NoSuchPort);
            else if (slot.MirrorOut) _f.Drops.Add(DropReason.MirrorPort);
            else StageVlan(slot, p, vlan, tagged, vid, copy);
        }
    }

    /// <summary>
    /// Queues packet <paramref name="p"/> of VLAN <paramref name="vlan"/> for <paramref name="slot"/> if that port carries
    /// it: as it is when its tag is what the port sends, else a copy with the tag pushed, set or popped.
    /// </summary>
    private void StageVlan(PortSlot slot, int p, ushort vlan, bool tagged, ushort vid, bool copy)
    {
        var membership = slot.Vlan;
        if (membership is not null && !membership.Carries(vlan)) return;
        bool wantTag = vlan != 0 && (membership is null || !membership.IsAccess);
        if (wantTag == tagged && (!tagged || vid == vlan))
        {
            StageTxSlot(slot, p, copy, ActionExecutor.NoQueue);
            return;
        }
        int c = _pool.Clone(p);
        if (c < 0)
        {
            _f.Drops.Add(DropReason.PoolExhausted);
            return;
        }
        if (_f.BurstMirrors is not null) MirrorsFollow(p, c);
        if (Retag(c, tagged, wantTag, vlan)) StageTxSlot(slot, c, false, ActionExecutor.NoQueue);
        else _f.Drops.Add(DropReason.TooBig);
        if (_f.BurstMirrors is not null) MirrorsReturn(c, p);
        _pool.Release(c);
    }

    /// <summary>Gives buffer <paramref name="c"/> (<paramref name="tagged"/> or not) an 802.1Q tag of <paramref name="vlan"/>
    /// (<paramref name="wantTag"/>), or strips its tag; false when there is no room for the tag.</summary>
    private bool Retag(int c, bool tagged, bool wantTag, ushort vlan)
    {
        // The rewrites read only the tag's place: the layers beyond it need no parse.
        var layers = new PacketLayers
        {
            Vlan = tagged ? (ushort)EthAddresses : PacketLayers.Absent,
            Pbb = PacketLayers.Absent,
            EthType = (ushort)(tagged ? EthAddresses + TagSize : EthAddresses),
            Mpls = PacketLayers.Absent,
            L3 = PacketLayers.Absent,
            L4 = PacketLayers.Absent,
        };
        if (wantTag) return PacketRewriter.PushOrSetVlanVid(_pool, c, ref layers, vlan);
        if (tagged) PacketRewriter.StripVlan(_pool, c, ref layers);
        return true;
    }
}
