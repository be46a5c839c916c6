using Microsoft.Extensions.Logging;
using Softswitch.OfAgent.Common;
using Softswitch.OfAgent.Session;
using Softswitch.OfWire;
using Softswitch.OfWire.Of13;

namespace Softswitch.OfAgent.Of13.Handlers;

/// <summary>
/// Open vSwitch's TLV table (<see cref="NxTlvTable"/>) under 1.3 and later: the switch has no tun_metadata field, so a
/// REQUEST (<c>ovs-ofctl dump-tlv-map</c>) is answered with an empty table of no capacity, and a MOD that maps nothing
/// (CLEAR, a DELETE, an ADD of no option: what ovs-save's restore sends for an empty map) succeeds while an ADD of an
/// option is NXTTMFC_TABLE_FULL, as Open vSwitch answers a map beyond its space; a slave's MOD is
/// BAD_REQUEST/IS_SLAVE. Stateless.
/// </summary>
internal sealed class TlvTableHandler(OfRequestContext ctx)
{
    /// <summary>Whether <paramref name="msg"/> is a TLV table message this handler answers (a MOD or a REQUEST).</summary>
    public static bool Serves(ReadOnlySpan<byte> msg) => NxTlvTable.Subtype(msg) is NxTlvTable.ModSubtype or NxTlvTable.RequestSubtype;

    public void Handle(OfConnection c, ReadOnlySpan<byte> msg, uint xid)
    {
        if (NxTlvTable.Subtype(msg) == NxTlvTable.RequestSubtype)
        {
            c.SendRaw(NxTlvTable.EmptyReply(c.Version, xid));
            return;
        }
        if (!c.Controller.MayWrite) { ctx.SendError(c, Ofp13Error.BadRequest(Ofp13Codes.IsSlave), msg); return; }
        if (!NxTlvTable.TryDecodeMod(msg, out ushort command, out int maps)) { ctx.SendError(c, Ofp13Error.BadLength, msg); return; }
        ushort refusal = command switch
        {
            NxTlvTable.Add => maps == 0 ? (ushort)0 : NxTlvTable.TableFullCode,
            NxTlvTable.Delete or NxTlvTable.Clear => 0,   // unmapped options are ignored (nicira-ext.h)
            _ => NxTlvTable.BadCommandCode,
        };
        if (refusal == 0) return;
        Interlocked.Increment(ref ctx.ErrorsSent);
        ctx.Log.LogDebug("{Conn}: TLV table mod (command {Command}, {Maps} maps) refused: no tun_metadata here", c.Name, command, maps);
        c.SendRaw(NxTlvTable.Error(c.Version, refusal, msg));
    }
}
