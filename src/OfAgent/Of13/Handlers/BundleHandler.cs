using Microsoft.Extensions.Logging;
using Softswitch.OfAgent.Common;
using Softswitch.OfAgent.Of13.Translate;
using Softswitch.OfAgent.Session;
using Softswitch.OfWire.Of13;
using Softswitch.OfWire.Of14;
using Softswitch.Ofproto;

namespace Softswitch.OfAgent.Of13.Handlers;

/// <summary>
/// Bundles (OpenFlow 1.4.1 section 7.3.9; Open vSwitch's handle_bundle_control and handle_bundle_add): OFPT_BUNDLE_CONTROL
/// and OFPT_BUNDLE_ADD_MESSAGE under 1.4 and later, and the same bodies as the ONF extension under 1.3
/// (<see cref="Ofp13Bundle"/> decodes both framings). The connection's bundles are <see cref="OfConnection.Bundles"/>;
/// the commit is the switch's (<see cref="OfSwitch.CommitBundle"/>).
/// </summary>
/// <remarks>
/// What a bundle may hold: flow-mods, port-mods, group-mods (a DELETE's flows leave with the commit, see
/// <see cref="OfSwitch.CommitBundle"/>) and packet-outs (sent after the commit, in their place), decoded and translated
/// when added (a message that does not decode is refused with its own error then, as Open vSwitch refuses it); and
/// requests that change nothing (echo, barrier, features, get-config, get-async,
/// queue-get-config, multipart other than the flow monitor's), answered at the commit in their place after the
/// bundle's changes, each as if it came alone (the 1.4 spec lets a switch take any message in a bundle; Open vSwitch
/// refuses these, OFTest's bundle tests send them). Any other message (meter-mod, role, set-config, ...) is
/// OFPBFC_MSG_UNSUP, as Open vSwitch's. A slave's
/// bundle messages are refused with BAD_REQUEST/IS_SLAVE. Stateless; a connection's messages come on one thread.
/// </remarks>
internal sealed class BundleHandler(OfRequestContext ctx, OfRequestDispatcher answerer)
{
    [ThreadStatic] private static List<byte[]>? s_expired;

    public void Handle(OfConnection c, ReadOnlySpan<byte> msg)
    {
        if (!c.Controller.MayWrite) { ctx.SendError(c, Ofp13Error.BadRequest(Ofp13Codes.IsSlave), msg); return; }
        long now = Environment.TickCount64;
        var bundles = c.Bundles;
        var expired = s_expired ??= new List<byte[]>();
        expired.Clear();
        bundles.Expire(now, expired);
        foreach (var opened in expired) SendBundleError(c, Ofp13BundleError.Timeout, opened);
        expired.Clear();
        if (Ofp13Bundle.Kind(msg) == Ofp13Bundle.Of14BundleControl) Control(c, msg, bundles, now);
        else Add(c, msg, bundles, now);
    }

    private void Control(OfConnection c, ReadOnlySpan<byte> msg, OfBundles bundles, long now)
    {
        if (!Ofp13Bundle.TryDecodeControl(msg, out uint id, out var type, out ushort flags, out var error)) { ctx.SendError(c, error, msg); return; }
        BundleError err;
        Ofp13BundleCtrlType reply;
        switch (type)
        {
            case Ofp13BundleCtrlType.OpenRequest:
                err = bundles.Open(id, flags, msg.ToArray(), now);
                reply = Ofp13BundleCtrlType.OpenReply;
                break;
            case Ofp13BundleCtrlType.CloseRequest:
                err = bundles.Close(id, flags, now);
                reply = Ofp13BundleCtrlType.CloseReply;
                break;
            case Ofp13BundleCtrlType.DiscardRequest:
                err = bundles.Discard(id);
                reply = Ofp13BundleCtrlType.DiscardReply;
                break;
            case Ofp13BundleCtrlType.CommitRequest:
            {
                // The flows it changes are the connection's own for its flow monitors (ABBREV with the commit's xid).
                using var source = OfFlowMonitors.From(c.Controller, System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(msg[4..]));
                err = bundles.Commit(id, flags, ctx.Switch, c.Controller, out var failed, out var failedError, m => Answer(c, m));
                // The failing message's own error first, echoing its ADD (its xid), then the commit's OFPBFC_MSG_FAILED.
                if (failed is not null) ctx.SendError(c, WireMap.ToWire(failedError, failed.FlowMod is null ? RefusedRequest.Other : RefusedRequest.FlowMod), failed.Message);
                reply = Ofp13BundleCtrlType.CommitReply;
                break;
            }
            default:
                // A reply, or a type 1.4 does not define.
                SendBundleError(c, Ofp13BundleError.BadType, msg);
                return;
        }
        if (err != BundleError.None) { SendBundleError(c, ToWire(err), msg); return; }
        c.SendRaw(Ofp13Bundle.ControlReply(c.Version, System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(msg[4..]), id, reply, flags));
    }

    private void Add(OfConnection c, ReadOnlySpan<byte> msg, OfBundles bundles, long now)
    {
        if (!Ofp13Bundle.TryDecodeAdd(msg, out uint id, out ushort flags, out var inner, out var error)) { ctx.SendError(c, error, msg); return; }
        BundledRequest request;
        switch ((Ofp13Type)inner[1])
        {
            case Ofp13Type.FlowMod:
            {
                if (!FlowModHandler.TryFlowMod(inner, out var fm, out var e)) { ctx.SendError(c, e, msg); return; }
                request = new BundledRequest(fm, null, msg.ToArray());
                break;
            }
            case Ofp13Type.PortMod:
            {
                if (!SwitchConfigHandler.TryPortMod(inner, out var pm, out var e)) { ctx.SendError(c, e, msg); return; }
                request = new BundledRequest(null, pm, msg.ToArray());
                break;
            }
            case Ofp13Type.GroupMod:
            {
                if (!FlowModHandler.TryGroupMod(inner, out var gm, out var e)) { ctx.SendError(c, e, msg); return; }
                request = new BundledRequest(null, null, msg.ToArray(), gm);
                break;
            }
            case Ofp13Type.PacketOut:
            {
                // Decoded now (its refusal is its own error, as Open vSwitch's); checked before the bundle's changes and
                // sent after them, in its place among the answered requests.
                if (!FlowModHandler.TryPacketOut(inner, out var po, out var e)) { ctx.SendError(c, e, msg); return; }
                request = new BundledRequest(null, null, msg.ToArray(), Answered: true, PacketOut: po);
                break;
            }
            case Ofp13Type.EchoRequest or Ofp13Type.BarrierRequest or Ofp13Type.FeaturesRequest or Ofp13Type.GetConfigRequest
                or Ofp13Type.GetAsyncRequest:
            case Ofp13Type.QueueGetConfigRequest when c.Version == Ofp13.Version:
            case Ofp13Type.MultipartRequest when inner.Length >= 10 && ChangesNothing((Ofp13MultipartType)System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(inner[8..])):
                request = new BundledRequest(null, null, msg.ToArray(), Answered: true);
                break;
            default:
                // Meter-mods are not bundled here; nor is anything else that changes the switch.
                SendBundleError(c, Ofp13BundleError.MsgUnsup, msg);
                return;
        }
        var err = bundles.Add(id, flags, request, now, inner.Length);
        if (err != BundleError.None) SendBundleError(c, ToWire(err), msg);
    }

    /// <summary>A multipart request that only reads: not a flow monitor's (OFPMP_FLOW_MONITOR, or the ONF's under an experimenter type).</summary>
    private static bool ChangesNothing(Ofp13MultipartType type) => type != Ofp14FlowMonitor.MultipartType && type != (Ofp13MultipartType)0xFFFF;

    /// <summary>
    /// After its bundle's commit: a bundled request that changes nothing, answered as if it came alone; a group-mod,
    /// forwarded (REQUESTFORWARD, the inner request's xid) to the controllers whose request-forward mask asks, as Open
    /// vSwitch's do_bundle_commit does.
    /// </summary>
    private void Answer(OfConnection c, BundledRequest m)
    {
        if (!Ofp13Bundle.TryDecodeAdd(m.Message, out _, out _, out var inner, out _)) return;
        if (m.GroupMod is { } gm) RequestForwarder.GroupMod(ctx.Switch, c, inner, gm.GroupId);
        else answerer.Handle(c, inner);
    }

    private void SendBundleError(OfConnection c, Ofp13BundleError code, ReadOnlySpan<byte> request)
    {
        Interlocked.Increment(ref ctx.ErrorsSent);
        ctx.Log.LogDebug("{Conn}: bundle error {Code} for a {Len}-byte request", c.Name, code, request.Length);
        c.SendRaw(Ofp13Bundle.Error(c.Version, code, request));
    }

    private static Ofp13BundleError ToWire(BundleError e) => e switch
    {
        BundleError.BadId => Ofp13BundleError.BadId,
        BundleError.BundleExist => Ofp13BundleError.BundleExist,
        BundleError.BundleClosed => Ofp13BundleError.BundleClosed,
        BundleError.OutOfBundles => Ofp13BundleError.OutOfBundles,
        BundleError.BadFlags => Ofp13BundleError.BadFlags,
        BundleError.MsgConflict => Ofp13BundleError.MsgConflict,
        BundleError.MsgTooMany => Ofp13BundleError.MsgTooMany,
        BundleError.MsgFailed => Ofp13BundleError.MsgFailed,
        _ => Ofp13BundleError.Unknown,
    };
}
