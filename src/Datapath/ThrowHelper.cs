using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace Softswitch.Datapath;

/// <summary>Throws from out-of-line helpers so hot callers stay small.</summary>
internal static class ThrowHelper
{
    [DoesNotReturn, MethodImpl(MethodImplOptions.NoInlining)]
    public static void Argument(string name) => throw new ArgumentException("invalid argument", name);

    [DoesNotReturn, MethodImpl(MethodImplOptions.NoInlining)]
    public static void ArgumentOutOfRange(string name) => throw new ArgumentOutOfRangeException(name);

    [DoesNotReturn, MethodImpl(MethodImplOptions.NoInlining)]
    public static void InvalidOperation(string message) => throw new InvalidOperationException(message);
}
