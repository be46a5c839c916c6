using Softswitch.OfAgent.Of13.Translate;
using Softswitch.OfAgent.Session;
using Softswitch.OfWire;
using Softswitch.OfWire.Of13;
using Softswitch.OfWire.Of14;
using Softswitch.OfWire.Of15;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Of13.Handlers;

/// <summary>
/// Request forwarding (OpenFlow 1.4.1 section 7.4.6; Open vSwitch's connmgr_send_requestforward and
/// ofputil_encode_requestforward): a GROUP_MOD or METER_MOD a connection made, once the switch carried it out, is sent
/// in OFPT_REQUESTFORWARD to the other connections that asked for it (<see cref="OfConnection.ForwardRequest"/> picks
/// them), the request written in each one's version with its sender's xid.
/// </summary>
/// <remarks>
/// A METER_MOD has one layout from 1.3 to 1.5: the request as sent, in the receiver's version. A GROUP_MOD likewise
/// between 1.3 and 1.4, and between 1.5 and 1.5; across 1.5's change it is written anew, as Open vSwitch's
/// ofputil_encode_group_mod does: to 1.5 each bucket gets its place as its id (a weight where the group selects or it
/// is not 0, its watches where set); from 1.5 the buckets lose their ids, and an INSERT_BUCKET or REMOVE_BUCKET, which
/// earlier versions lack, goes as a MODIFY with the group's buckets after it. Open vSwitch forwards to 1.3 connections
/// too, whose request-forward masks only its NXT_SET_ASYNC_CONFIG2 sets, in ONFT13_REQUESTFORWARD, and so does this
/// switch; to 1.0 ones a group-mod as NXT_GROUP_MOD (1.5's layout, its commands and bucket ids as 1.5 writes them, the
/// buckets' actions in 1.0's form) in NXT_REQUESTFORWARD, and never a meter-mod (connmgr_send_requestforward skips a
/// meter-mod for a connection before 1.3), as this switch does. Stateless; runs on the sender's receive loop.
/// </remarks>
internal static class RequestForwarder
{
    private const ushort GroupModify = 1;

    /// <summary>Forwards GROUP_MOD <paramref name="msg"/> (carried out on group <paramref name="groupId"/>).</summary>
    public static void GroupMod(OfSwitch sw, OfConnection c, ReadOnlySpan<byte> msg, uint groupId)
    {
        byte[] original = msg.ToArray();
        c.ForwardRequest(Ofp14RequestForward.ReasonGroupMod, v => GroupModIn(v, original, sw, groupId));
    }

    /// <summary>Forwards METER_MOD <paramref name="msg"/>.</summary>
    public static void MeterMod(OfConnection c, ReadOnlySpan<byte> msg)
    {
        byte[] original = msg.ToArray();
        c.ForwardRequest(Ofp14RequestForward.ReasonMeterMod, v => v < Ofp13.Version ? null : InVersion(original, v));
    }

    private static byte[] InVersion(byte[] request, byte version)
    {
        var copy = (byte[])request.Clone();
        copy[0] = version;
        return copy;
    }

    /// <summary>GROUP_MOD <paramref name="original"/> in <paramref name="version"/>; null when it does not decode (never, once carried out).</summary>
    internal static byte[]? GroupModIn(byte version, byte[] original, OfSwitch sw, uint groupId)
    {
        if (version == OfWire.Of10.OfpConstants.Version) return NxGroupModOf(original, sw, groupId);
        if (version < Ofp13.Version) return null;
        bool from15 = Ofp15.Serves(original[0]), to15 = Ofp15.Serves(version);
        if (from15 == to15) return InVersion(original, version);
        if (to15)
        {
            var m = new Ofp13GroupMod();
            if (!m.TryDecode(original, out _)) return null;
            bool select = GroupTypeMap.TryToModel(m.GroupType, out var type) && type == OfGroupType.Select;
            var g = new Ofp15GroupMod { Version = version, Xid = m.Xid, Command = m.Command, GroupType = m.GroupType, GroupId = m.GroupId };
            for (int i = 0; i < m.Buckets.Count; i++)
            {
                var b = m.Buckets[i];
                g.Buckets.Add(new Ofp15Bucket((uint)i, b.Actions, select || b.Weight != 0 ? b.Weight : null, b.WatchPort != OfPort.Any ? b.WatchPort : null,
                                              b.WatchGroup != GroupModRequest.AnyGroup ? b.WatchGroup : null));
            }
            return g.Encode();
        }
        var m15 = new Ofp15GroupMod();
        if (!m15.TryDecode(original, out _)) return null;
        var g13 = new Ofp13GroupMod { Version = version, Xid = m15.Xid, Command = m15.Command, GroupType = m15.GroupType, GroupId = m15.GroupId };
        if (m15.Command is Ofp15GroupMod.InsertBucket or Ofp15GroupMod.RemoveBucket)
        {
            g13.Command = GroupModify;
            foreach (var d in sw.GroupDescriptions(groupId))
            {
                foreach (var b in d.Buckets)
                {
                    var actions = new List<Ofp13Action>();
                    ActionTranslator.ToWire(b.Actions.Span, false, actions);
                    g13.Buckets.Add(new Ofp13Bucket(b.Weight, b.WatchPort, b.WatchGroup, actions));
                }
            }
            return g13.Encode();
        }
        bool select15 = GroupTypeMap.TryToModel(m15.GroupType, out var type15) && type15 == OfGroupType.Select;
        foreach (var b in m15.Buckets)
            g13.Buckets.Add(new Ofp13Bucket(b.Weight ?? (ushort)(select15 ? 1 : 0), b.WatchPort ?? OfPort.Any, b.WatchGroup ?? GroupModRequest.AnyGroup, b.Actions));
        return g13.Encode();
    }

    /// <summary>
    /// GROUP_MOD <paramref name="original"/> as Open vSwitch writes it for a 1.0 connection: NXT_GROUP_MOD, 1.5's
    /// group-mod (written from 1.3's layout as for a 1.5 connection) with each bucket's actions in 1.0's form.
    /// </summary>
    private static byte[]? NxGroupModOf(byte[] original, OfSwitch sw, uint groupId)
    {
        byte[]? as15 = Ofp15.Serves(original[0]) ? original : GroupModIn(Ofp15.Version, original, sw, groupId);
        var m = new Ofp15GroupMod();
        if (as15 is null || !m.TryDecode(as15, out _)) return null;
        var nx = new NxGroupMod { Xid = m.Xid, Command = m.Command, GroupType = m.GroupType, GroupId = m.GroupId, CommandBucketId = m.CommandBucketId };
        foreach (var b in m.Buckets)
        {
            if (!ActionTranslator.TryToOf(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(b.Actions), out var actions, out _)) return null;
            var wire = OfAgent.Of10.Translate.ActionTranslator.ToOfp(actions);
            var bytes = new byte[OfWire.Of10.OfpActions.GetEncodedSize(wire)];
            OfWire.Of10.OfpActions.Encode(wire, bytes);
            nx.Buckets.Add(new NxGroupBucket(b.BucketId, bytes, b.Weight, b.WatchPort, b.WatchGroup));
        }
        if (m.Selection is { } selection)
        {
            var w = new Ofp13Writer(64);
            selection.Write(w);
            nx.Properties = w.ToArray();
        }
        return nx.Encode();
    }
}
