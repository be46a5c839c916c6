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
/// BAD_REQUEST/IS_SLAVE, a malformed one the codec's error (<see cref="NxTlvTable.TryDecodeMod"/>). Stateless.
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
        if (!NxTlvTable.TryDecodeMod(msg, out ushort command, out int maps, out var error)) { ctx.SendError(c, error, msg); return; }
        // DELETE and CLEAR of unmapped options are ignored (nicira-ext.h); an ADD of any option finds no room.
        if (command != NxTlvTable.Add || maps == 0) return;
        ctx.Log.LogDebug("{Conn}: TLV table mod (command {Command}, {Maps} maps) refused: no tun_metadata here", c.Name, command, maps);
        ctx.SendError(c, NxTlvTable.NxError(NxTlvTable.TableFullCode), msg);
    }
}
