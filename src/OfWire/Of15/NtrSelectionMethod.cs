using System.Text;
using Softswitch.OfWire.Of13;
using Softswitch.OfWire.Of14;

namespace Softswitch.OfWire.Of15;

/// <summary>
/// Open vSwitch's select group property NTRT_SELECTION_METHOD (include/openflow/netronome-ext.h, an
/// OFPGPT15_EXPERIMENTER property of Netronome's experimenter id, lib/ofp-group.c): how a select group picks its bucket,
/// <c>hash</c> (a hash of the fields it names, each under a mask, from the basis <see cref="Param"/>) or <c>dp_hash</c>
/// (a datapath hash; the low 32 bits of <see cref="Param"/> its basis, the high 32 its algorithm). Carried in 1.5's
/// GROUP_MOD and GROUP_DESC after the buckets. Immutable once read.
/// </summary>
/// <param name="Fields">The fields hashed (<c>hash</c> only): OXM TLVs without a mask, each value the mask applied to
/// the packet's field.</param>
public sealed record NtrSelectionMethod(string Method, ulong Param, List<Ofp13Oxm> Fields)
{
    /// <summary>NTR_VENDOR_ID, and NTR_COMPAT_VENDOR_ID (the value Open vSwitch 2.4 wrote, still read).</summary>
    public const uint VendorId = 0x0000154d, CompatVendorId = 0x00001540;
    /// <summary>NTRT_SELECTION_METHOD, the experimenter type.</summary>
    public const uint ExpType = 1;
    /// <summary>OFPGPT15_EXPERIMENTER.</summary>
    public const ushort PropExperimenter = 0xffff;
    /// <summary>The property without its fields, and NTR_MAX_SELECTION_METHOD_LEN (the name's room, its NUL included).</summary>
    public const int FixedSize = 40, MaxMethodSize = 16;

    //  0                   1                   2                   3
    // +-------------------------------+-------------------------------+
    // |         type (0xffff)         |  length (unpadded, fields in) |   0
    // +-------------------------------+-------------------------------+
    // |                  experimenter (0x0000154d)                    |   4
    // +---------------------------------------------------------------+
    // |                exp_type (NTRT_SELECTION_METHOD 1)             |   8
    // +---------------------------------------------------------------+
    // |                              pad                              |  12
    // +---------------------------------------------------------------+
    // |       selection_method (16 bytes, NUL-terminated name)        |  16
    // +---------------------------------------------------------------+
    // |                 selection_method_param (64 bits)              |  32
    // +---------------------------------------------------------------+
    // |     fields: OXM TLVs without masks (to length), pad to 8      |  40
    // +---------------------------------------------------------------+
    /// <summary>Writes the property, padded to 8 bytes.</summary>
    public void Write(Ofp13Writer w)
    {
        int start = w.Position;
        w.U16(PropExperimenter); w.U16(0); w.U32(VendorId); w.U32(ExpType); w.Zeros(4);
        w.FixedString(Method, MaxMethodSize);
        w.U64(Param);
        foreach (var f in Fields) Ofp13Match.WriteTlv(w, f);
        w.PatchU16(start + 2, (ushort)(w.Position - start));
        w.Pad8(start);
    }

    /// <summary>
    /// Reads one group property <paramref name="p"/> (header included, padding excluded) of type
    /// <paramref name="type"/>, as Open vSwitch's parse_ofp15_group_properties and parse_group_prop_ntr_selection_method:
    /// a type other than experimenter is BAD_PROPERTY/BAD_TYPE, another experimenter BAD_EXPERIMENTER, another
    /// experimenter type BAD_EXP_TYPE; in a group that is not a select group, or in a DELETE, INSERT_BUCKET or
    /// REMOVE_BUCKET, BAD_VALUE (a type or command outside 1.5's GROUP_MOD_FAILED/BAD_TYPE or BAD_COMMAND); shorter than
    /// 40 bytes BAD_LEN; a name not NUL-terminated, other than <c>hash</c> and <c>dp_hash</c>, or <c>dp_hash</c> with
    /// fields BAD_VALUE; a field with a mask BAD_MATCH/BAD_MASK, twice DUP_FIELD, unknown BAD_FIELD.
    /// </summary>
    public static bool TryRead(ushort type, ReadOnlySpan<byte> p, byte groupType, ushort command,
                               [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out NtrSelectionMethod? method, out Ofp13Error error)
    {
        method = null;
        if (type != PropExperimenter) return Ofp14Props.BadType(out error);
        if (p.Length < 12) return Ofp14Props.BadLen(out error);
        uint experimenter = Be.U32(p, 4);
        if (experimenter is not (VendorId or CompatVendorId)) return Fail(out error, Ofp13Codes.PropBadExperimenter);
        if (Be.U32(p, 8) != ExpType) return Fail(out error, Ofp13Codes.PropBadExpType);
        switch (groupType)
        {
            case 1: break; // OFPGT_SELECT
            case 0 or 2 or 3: return Fail(out error, Ofp13Codes.PropBadValue);
            default:
                error = Ofp13Error.GroupModFailed(Ofp13Codes.GroupBadType);
                return false;
        }
        switch (command)
        {
            case 0 or 1 or 0x8000: break; // ADD, MODIFY, Open vSwitch's ADD_OR_MOD
            case 2 or 3 or 5: return Fail(out error, Ofp13Codes.PropBadValue);
            default:
                error = Ofp13Error.GroupModFailed(Ofp13Codes.GroupBadCommand);
                return false;
        }
        if (p.Length < FixedSize) return Ofp14Props.BadLen(out error);
        var name = p.Slice(16, MaxMethodSize);
        int nul = name.IndexOf((byte)0);
        if (nul < 0) return Fail(out error, Ofp13Codes.PropBadValue);
        string m = Encoding.ASCII.GetString(name[..nul]);
        if (m is not ("hash" or "dp_hash")) return Fail(out error, Ofp13Codes.PropBadValue);
        var tlvs = p[FixedSize..];
        if (!tlvs.IsEmpty && m != "hash") return Fail(out error, Ofp13Codes.PropBadValue);
        var fields = new List<Ofp13Oxm>();
        while (!tlvs.IsEmpty)
        {
            if (!Ofp13Match.TryReadTlv(tlvs, out var f, out int n, out error)) return false;
            if (f.HasMask)
            {
                error = Ofp13Error.BadMatch(Ofp13Codes.MatchBadMask);
                return false;
            }
            if (fields.Exists(o => o.Field == f.Field))
            {
                error = Ofp13Error.BadMatch(Ofp13Codes.MatchDupField);
                return false;
            }
            fields.Add(f);
            tlvs = tlvs[n..];
        }
        method = new NtrSelectionMethod(m, Be.U64(p, 32), fields);
        error = default;
        return true;
    }

    private static bool Fail(out Ofp13Error error, ushort code)
    {
        error = new Ofp13Error(Ofp13ErrorType.BadProperty, code);
        return false;
    }
}
