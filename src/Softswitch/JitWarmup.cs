using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Runtime.CompilerServices;

namespace Softswitch;

/// <summary>
/// Compiles the forwarding path (every method of the datapath and port assemblies) on a background thread at start,
/// so the first packets do not wait on the forwarding thread while the JIT compiles what they reach: methods with
/// loops are compiled fully optimised on first call (see the project file), and a burst that arrives meanwhile
/// overflows the port's ring (measured over veth: the first 2 s of traffic after start lost 2-9 % of the frames,
/// every one for an AF_XDP fill ring found empty, with the forwarding thread stalled up to 130-190 ms).
/// Tiering goes on as before: methods without loops still start in tier 0 and are recompiled with profile data in the
/// runtime's background. Nothing to do in a NativeAOT build.
/// </summary>
internal static class JitWarmup
{
    /// <summary>Starts the warm-up of <paramref name="assemblies"/> on a background thread below normal priority.</summary>
    public static Thread Start(Action<int, TimeSpan>? done, params Assembly[] assemblies)
    {
        var t = new Thread(() =>
        {
            var sw = Stopwatch.StartNew();
            int n = Prepare(assemblies);
            done?.Invoke(n, sw.Elapsed);
        })
        { IsBackground = true, Name = "jit-warmup", Priority = ThreadPriority.BelowNormal };
        t.Start();
        return t;
    }

    /// <summary>Compiles every non-generic method and constructor with a body; returns how many.</summary>
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "Only methods that exist are compiled; a trimmed or AOT build has nothing to compile.")]
    [UnconditionalSuppressMessage("Trimming", "IL2070", Justification = "As above.")]
    [UnconditionalSuppressMessage("Trimming", "IL2075", Justification = "As above.")]
    public static int Prepare(IEnumerable<Assembly> assemblies)
    {
        if (!RuntimeFeature.IsDynamicCodeCompiled) return 0;
        const BindingFlags All = BindingFlags.DeclaredOnly | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static;
        int n = 0;
        foreach (var a in assemblies)
        {
            Type[] types;
            try { types = a.GetTypes(); }
            catch (ReflectionTypeLoadException e) { types = [.. e.Types.Where(t => t is not null).Select(t => t!)]; }
            foreach (var t in types)
            {
                if (t.ContainsGenericParameters) continue;
                foreach (var m in t.GetMethods(All)) n += TryPrepare(m);
                foreach (var c in t.GetConstructors(All)) n += TryPrepare(c);
            }
        }
        return n;
    }

    private static int TryPrepare(MethodBase m)
    {
        if (m.IsAbstract || m.ContainsGenericParameters || (m.MethodImplementationFlags & MethodImplAttributes.InternalCall) != 0
            || (m.Attributes & MethodAttributes.PinvokeImpl) != 0)
        {
            return 0;
        }

        try
        {
            RuntimeHelpers.PrepareMethod(m.MethodHandle);
            return 1;
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or TypeLoadException or BadImageFormatException or InvalidProgramException)
        {
            return 0;   // a method the runtime will not compile ahead of its call (its first call compiles it as before)
        }
    }
}
