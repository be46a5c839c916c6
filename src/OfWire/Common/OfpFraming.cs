namespace Softswitch.OfWire;

/// <summary>Outcome of looking for one message at the start of received stream bytes.</summary>
public enum OfpFrameStatus
{
    /// <summary>A whole message is present; its length is known.</summary>
    Complete,
    /// <summary>Fewer than 8 bytes, or fewer than the header's length: read more.</summary>
    Incomplete,
    /// <summary>The header's length is below 8 or above the configured maximum: the stream cannot be resynchronised.</summary>
    Invalid,
}

/// <summary>
/// Splits a TCP byte stream into OpenFlow messages on the 8-byte ofp_header. The length is bounded
/// before any body is buffered, so a peer cannot make the receiver hold more than
/// <c>maxMessageSize</c> bytes. Stateless and thread-safe.
/// </summary>
public static class OfpFraming
{
    /// <summary>
    /// Looks at the start of <paramref name="buffer"/>. When the status is Complete, the first
    /// <paramref name="frameLength"/> bytes are one message for the version's decoder.
    /// When Invalid, <paramref name="header"/> still holds what was read (for the xid of the error reply).
    /// </summary>
    public static OfpFrameStatus TryGetFrame(ReadOnlySpan<byte> buffer, out OfpHeader header, out int frameLength,
        int maxMessageSize = OfpHeader.MaxMessageSize)
    {
        frameLength = 0;
        if (!OfpHeader.TryRead(buffer, out header))
        {
            return OfpFrameStatus.Incomplete;
        }
        return Classify(header, buffer.Length, maxMessageSize, out frameLength);
    }

    private static OfpFrameStatus Classify(in OfpHeader header, long available, int maxMessageSize, out int frameLength)
    {
        int length = header.Length;
        int max = Math.Clamp(maxMessageSize, OfpHeader.Size, OfpHeader.MaxMessageSize);
        if (length < OfpHeader.Size || length > max)
        {
            frameLength = 0;
            return OfpFrameStatus.Invalid;
        }
        frameLength = length;
        return available >= length ? OfpFrameStatus.Complete : OfpFrameStatus.Incomplete;
    }
}
