using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace Softswitch.OfWire;

internal static class ThrowHelper
{
    [DoesNotReturn, MethodImpl(MethodImplOptions.NoInlining)]
    public static void ThrowDestinationTooSmall() =>
        throw new ArgumentException("Destination is smaller than the encoded size.", "destination");

    [DoesNotReturn, MethodImpl(MethodImplOptions.NoInlining)]
    public static void ThrowMessageTooLarge(int size) =>
        throw new InvalidOperationException($"Encoded message would be {size} bytes; an OpenFlow message is at most {OfpHeader.MaxMessageSize}.");

    [DoesNotReturn, MethodImpl(MethodImplOptions.NoInlining)]
    public static void ThrowArgument(string message, string paramName) =>
        throw new ArgumentException(message, paramName);
}
