using Softswitch.OfWire.Of10;

namespace Softswitch.OfWire;

/// <summary>A Nicira action as OpenFlow 1.0 carries it: a vendor action (<see cref="OfpAction"/>) of vendor 0x00002320.</summary>
public readonly partial record struct NxAction
{
    /// <summary>NXBRC_MUST_BE_ZERO in OpenFlow 1.0, as Open vSwitch sends it: NX1.0(1,515), inside NXET_VENDOR.</summary>
    public static readonly OfpError MustBeZero10 = OfpError.Nx(OfpErrorType.BadRequest, 515);

    /// <summary>NXBAC_BAD_CONJUNCTION in OpenFlow 1.0, as Open vSwitch sends it: NX1.0(2,526), inside NXET_VENDOR.</summary>
    public static readonly OfpError BadConjunction10 = OfpError.Nx(OfpErrorType.BadAction, BadConjunctionCode10);

    /// <summary>OFPBMC_BAD_WILDCARDS in OpenFlow 1.0, as Open vSwitch sends it: NX1.0(1,262), inside NXET_VENDOR.</summary>
    public static readonly OfpError BadWildcards10 = OfpError.Nx(OfpErrorType.BadRequest, 262);

    //  0                   1                   2                   3
    // +-------------------------------+-------------------------------+
    // |          type: 0xffff         |              len              |   0
    // +-------------------------------+-------------------------------+
    // |                       vendor 0x00002320                       |   4
    // +---------------------------------------------------------------+
    // |    subtype, then its body: the diagram above TryDecodeBody    |   8
    // +---------------------------------------------------------------+
    /// <summary>
    /// Reads <paramref name="action"/> as a Nicira action (<see cref="TryDecodeBody"/>), with OpenFlow 1.0's errors
    /// (OFPET_BAD_ACTION): BAD_VENDOR (not Nicira's), BAD_VENDOR_TYPE, BAD_LEN, BAD_ARGUMENT.
    /// </summary>
    public static bool TryDecode(in OfpAction action, out NxAction nx, out OfpError error)
    {
        nx = default;
        error = default;
        if (action.Type != OfpActionType.Vendor || action.Vendor != OfpConstants.NiciraVendorId)
        {
            error = OfpError.BadAction(OfpBadActionCode.BadVendor);
            return false;
        }
        if (TryDecodeBody(action.VendorBody.Span, out nx, out var e)) return true;
        if (e == NxActionError.BadConjunction)
        {
            error = BadConjunction10;
            return false;
        }
        if (PropertyError10(e) is { } prop)
        {
            error = prop;
            return false;
        }
        if (e == NxActionError.BadWildcards)
        {
            error = BadWildcards10;
            return false;
        }
        error = e == NxActionError.MustBeZero ? MustBeZero10 : OfpError.BadAction(e switch
        {
            NxActionError.BadSubtype => OfpBadActionCode.BadVendorType,
            NxActionError.BadLen => OfpBadActionCode.BadLen,
            NxActionError.BadOutPort => OfpBadActionCode.BadOutPort,
            _ => OfpBadActionCode.BadArgument,
        });
        return false;
    }

    /// <summary>
    /// A CONTROLLER2 property error as Open vSwitch sends it in OpenFlow 1.0, inside NXET_VENDOR (NX1.0-1.1: OFPBPC_BAD_TYPE
    /// (13,2), BAD_LEN (13,3), BAD_EXPERIMENTER (14,5), BAD_EXP_TYPE (14,6)); null for any other error.
    /// </summary>
    private static OfpError? PropertyError10(NxActionError e) => e switch
    {
        NxActionError.BadPropertyType => OfpError.Nx((OfpErrorType)13, 2),
        NxActionError.BadPropertyLen => OfpError.Nx((OfpErrorType)13, 3),
        NxActionError.BadPropertyExperimenter => OfpError.Nx((OfpErrorType)14, 5),
        NxActionError.BadPropertyExpType => OfpError.Nx((OfpErrorType)14, 6),
        _ => null,
    };
}
