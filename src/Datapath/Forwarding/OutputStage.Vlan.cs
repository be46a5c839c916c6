using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Counters;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Packets;
using Softswitch.Datapath.Ports;

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
    /// sent to it (counted drop-mirror-port), as Open vSwitch reserves it for the mirror. A bond's members
    /// (<see cref="PortSlot.Bond"/>) are one port: what a member receives is admitted by the bond
    /// (<see cref="Bond.Admit"/>; counted drop-bond-inadmissible) and learned behind the bond's key, a frame for the bond
    /// and a flood leave by one member (<see cref="Bond.Choose"/>), and a flood never goes back into the bond it came from.
    /// With multicast snooping on (<see cref="SwitchDatapath.McastSnooping"/>), IP multicast goes where
    /// <see cref="Snoop"/> sends it.
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
            // A bond's members are one port to NORMAL: admitted by the bond's rule, learned behind its key.
            var inBond = inSlot?.Bond;
            ushort learnAs = inPort;
            if (inBond is not null)
            {
                var verdict = inBond.Admit(inPort, (f[0] & 1) != 0);
                if (verdict == BondVerdict.DropIfMoved)
                {
                    ushort was = mac.Lookup(MacAddress.Read(f[6..]), vlan, _f.Now);
                    verdict = was == PortNumber.None || was == inBond.Key ? BondVerdict.Accept : BondVerdict.Drop;
                }
                if (verdict != BondVerdict.Accept)
                {
                    _f.Drops.Add(DropReason.BondInadmissible);
                    continue;
                }
                learnAs = inBond.Key;
            }
            if (inSlot is not null && !mac.Learn(MacAddress.Read(f[6..]), vlan, learnAs, _f.Now)) _f.Counters.Add(DatapathCounters.MacTableFull);
            // Multicast with snooping on: IP multicast goes where snooping says (one test per unicast frame, two per
            // multicast frame while snooping is off).
            if ((f[0] & 1) != 0 && _f.Owner.McastSnooping is { } snooping
                && Snoop(snooping, p, f, new NormalInput(inPort, inSlot is not null, inBond, learnAs, vlan, tagged, vid), copy))
            {
                continue;
            }
            ushort outPort = mac.Lookup(MacAddress.Read(f), vlan, _f.Now);
            if (outPort == PortNumber.None)
            {
                FloodVlan(p, f, new NormalInput(inPort, inSlot is not null, inBond, learnAs, vlan, tagged, vid), copy);
                continue;
            }
            if (outPort == learnAs)
            {
                _f.Drops.Add(DropReason.NormalToInPort);
                continue;
            }
            if (ports.Get(outPort) is not { } slot) _f.Drops.Add(DropReason.NoSuchPort);
            else if (slot.MirrorOut) _f.Drops.Add(DropReason.MirrorPort);
            else if (slot.Bond is { } outBond) ToBond(outBond, p, vlan, tagged, vid, copy);
            else ToVlanPort(slot, p, vlan, tagged, vid, copy);
        }
    }

    /// <summary>NORMAL's flood of a frame: every port that carries its VLAN but the input port (or bond), those that do
    /// not flood, a spanning tree keeps from forwarding or a mirror outputs to; a bond once, by the member it would send
    /// the frame by.</summary>
    private void FloodVlan(int p, ReadOnlySpan<byte> f, in NormalInput input, bool copy)
    {
        foreach (var s in _f.Owner.Ports.WithLocal)
        {
            if (s.No == input.Port || (s.Config & (PortConfig.NoFlood | PortConfig.StpNoForward)) != 0 || s.MirrorOut) continue;
            // A bond is flooded once, by the member it would send the frame by; never the bond it came from.
            if (s.Bond is { } bond)
            {
                if (ReferenceEquals(bond, input.Bond) || bond.Choose(f, input.Vlan) != s.No) continue;
                bond.Account(f, input.Vlan);
            }
            ToVlanPort(s, p, input.Vlan, input.Tagged, input.Vid, copy);
        }
    }

    /// <summary>NORMAL's output to a bond: by the member <see cref="Bond.Send"/> picks (its bytes counted to its bucket while the bond accounts), or dropped (counted) when it has none.</summary>
    private void ToBond(Bond bond, int p, ushort vlan, bool tagged, ushort vid, bool copy)
    {
        ushort member = bond.Send(_pool.Frame(p), vlan);
        if (member == PortNumber.None || _f.Owner.Ports.Get(member) is not { } slot)
        {
            _f.Drops.Add(DropReason.BondNoMember);
            return;
        }
        ToVlanPort(slot, p, vlan, tagged, vid, copy);
    }

    /// <summary>
    /// Queues packet <paramref name="p"/> of VLAN <paramref name="vlan"/> for <paramref name="slot"/> if that port carries
    /// it: as it is when its tag is what the port sends, else a copy with the tag pushed, set or popped.
    /// </summary>
    private void ToVlanPort(PortSlot slot, int p, ushort vlan, bool tagged, ushort vid, bool copy)
    {
        var membership = slot.Vlan;
        if (membership is not null && !membership.Carries(vlan)) return;
        bool wantTag = vlan != 0 && (membership is null || !membership.IsAccess);
        if (wantTag == tagged && (!tagged || vid == vlan))
        {
            Stage(slot, p, copy);
            return;
        }
        int c = _pool.Clone(p);
        if (c < 0)
        {
            _f.Drops.Add(DropReason.PoolExhausted);
            return;
        }
        if (_f.BurstMirrors is not null) MirrorsFollow(p, c);
        if (Retag(c, tagged, wantTag, vlan)) Stage(slot, c);
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
