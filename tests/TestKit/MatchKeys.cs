using Softswitch.Datapath.Flow;

namespace Softswitch.TestKit;

/// <summary>Keys built to hit a match: what classifier tests probe rules with.</summary>
public static class MatchKeys
{
    /// <summary>The key with <paramref name="m"/>'s matched bits and <paramref name="background"/>'s others.</summary>
    public static FlowKey KeyMatching(in FlowMatch m, in FlowKey background)
    {
        var v = m.Value;
        var k = m.Mask;
        var r = background;
        return new FlowKey(v.W0 | (r.W0 & ~k.W0), v.W1 | (r.W1 & ~k.W1), v.W2 | (r.W2 & ~k.W2),
                           v.W3 | (r.W3 & ~k.W3), v.W4 | (r.W4 & ~k.W4), v.W5 | (r.W5 & ~k.W5));
    }
}
