using Softswitch.Datapath.Flow;

namespace Softswitch.TestKit;

/// <summary>Keys built to hit a match: what classifier tests probe rules with.</summary>
public static class MatchKeys
{
    /// <summary>The key with <paramref name="m"/>'s matched bits and <paramref name="background"/>'s others (its map of extension words recomputed).</summary>
    public static FlowKey KeyMatching(in FlowMatch m, in FlowKey background)
    {
        var v = m.Value;
        var b = new FlowKeyBuilder(background);
        var words = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(b.Bytes);
        var vw = v.AllWords;
        var kw = m.Mask.AllWords;
        for (int i = 0; i < FlowKey.Words; i++) words[i] = vw[i] | (words[i] & ~kw[i]);
        return b.UpdateExtMap().Key;
    }
}
