using Softswitch.OfWire.Of10;
using Softswitch.TestKit;

namespace Softswitch.OfWire.Tests.Of10;

/// <summary>
/// The agent's flow-mod decoder (fields and a reused action list, no message object) against the message decoder:
/// the same answer, field by field and error by error, for the golden flow-mods and their seeded mutations; and no
/// allocation once the list has its size.
/// </summary>
public class FlowModFieldsDecodeTests
{
    private static IEnumerable<byte[]> FlowModFrames()
    {
        foreach (var v in VectorFile.All)
            if (v.Bytes.Length >= OfpHeader.Size && v.Bytes[1] == (byte)OfpType.FlowMod) yield return v.Bytes;
        yield return new OfpFlowMod { Command = OfpFlowModCommand.Add, Priority = 20, Cookie = 0x55, Actions = [OfpAction.Output(2)] }.ToArray();
        yield return new OfpFlowMod { Command = OfpFlowModCommand.DeleteStrict, Priority = 20 }.ToArray();
    }

    private static void AssertSame(byte[] frame, List<OfpAction> scratch, string context)
    {
        bool slowOk = OfpMessage.TryDecode(frame, out OfpMessage? m, out OfpError slowError);
        scratch.Clear();
        bool fastOk = OfpFlowMod.TryDecode(frame, scratch, out var f, out OfpError fastError);
        Assert.True(slowOk == fastOk, $"{context}: message decoder {slowOk} ({slowError}), fields decoder {fastOk} ({fastError})");
        if (!slowOk)
        {
            Assert.True(slowError == fastError, $"{context}: errors differ: {slowError} vs {fastError}");
            return;
        }
        var fm = Assert.IsType<OfpFlowMod>(m);
        Assert.Equal(new OfpFlowModFields(fm.Match, fm.Cookie, fm.Command, fm.IdleTimeout, fm.HardTimeout, fm.Priority, fm.BufferId, fm.OutPort, fm.Flags), f);
        Assert.Equal(fm.Actions, scratch);
    }

    [Fact]
    public void AgreesWithTheMessageDecoderOnGoldenFlowModsAndTheirMutations()
    {
        var rng = new Random(16);
        var scratch = new List<OfpAction>();
        int n = 0, decoded = 0;
        foreach (var frame in FlowModFrames())
        {
            AssertSame(frame, scratch, $"frame {n}");
            for (int i = 0; i < 2000; i++)
            {
                var mutant = (byte[])frame.Clone();
                int flips = 1 + rng.Next(4);
                for (int k = 0; k < flips; k++)
                {
                    // The header's type stays a flow-mod (the agent routes on it); everything else may change.
                    int at = rng.Next(mutant.Length);
                    if (at != 1) mutant[at] = (byte)rng.Next(256);
                }
                AssertSame(mutant, scratch, $"frame {n} mutant {i}");
                if (OfpFlowMod.TryDecode(mutant, scratch, out _, out _)) decoded++;
            }
            n++;
        }
        Assert.True(n >= 3, "too few flow-mod vectors");
        Assert.True(decoded > 0, "no mutant decoded: the comparison never reached the fields");
    }

    [Fact]
    public void OtherTypesAndVersionsAreRefusedAsTheMessageDecoderDoes()
    {
        var scratch = new List<OfpAction>();
        var frame = new OfpFlowMod { Command = OfpFlowModCommand.Add, Actions = [OfpAction.Output(1)] }.ToArray();
        var v4 = (byte[])frame.Clone();
        v4[0] = 4;
        Assert.False(OfpFlowMod.TryDecode(v4, scratch, out _, out var e));
        Assert.Equal(OfpError.BadRequest(OfpBadRequestCode.BadVersion), e);
        Assert.False(OfpFlowMod.TryDecode(new OfpBarrierRequest().ToArray(), scratch, out _, out e));
        Assert.Equal(OfpError.BadRequest(OfpBadRequestCode.BadType), e);
        Assert.False(OfpFlowMod.TryDecode(frame.AsSpan(0, 20), scratch, out _, out e));
        Assert.Equal(OfpError.BadLen, e);
    }

    [Fact]
    public void DecodingIntoAReusedListAllocatesNothing()
    {
        var scratch = new List<OfpAction>(16);
        var add = new OfpFlowMod { Command = OfpFlowModCommand.Add, Priority = 20, Actions = [OfpAction.Output(2), OfpAction.Output(3)] }.ToArray();
        var del = new OfpFlowMod { Command = OfpFlowModCommand.DeleteStrict, Priority = 20 }.ToArray();
        for (int i = 0; i < 100; i++)
        {
            scratch.Clear();
            OfpFlowMod.TryDecode(add, scratch, out _, out _);
        }
        Assert.Equal(0, AllocationMeter.SteadyState(() =>
        {
            for (int i = 0; i < 2_500; i++)
            {
                scratch.Clear();
                Assert.True(OfpFlowMod.TryDecode(add, scratch, out _, out _));
                scratch.Clear();
                Assert.True(OfpFlowMod.TryDecode(del, scratch, out _, out _));
            }
        }));
    }
}
