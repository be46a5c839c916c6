using Softswitch.OfWire;
using Softswitch.Ofproto;
using Of10Actions = Softswitch.OfAgent.Of10.Translate.ActionTranslator;

namespace Softswitch.OfAgent.Tests.Of10;

/// <summary>
/// LEARN2's limit and result_dst (Open vSwitch's decode_NXAST_RAW_LEARN2): taken into the model and written back the
/// same; a result_dst the switch does not write is BAD_SET_ARGUMENT's refusal, one past its field BAD_SET_LEN's, a
/// result_dst_ofs without NX_LEARN_F_WRITE_RESULT BAD_ARGUMENT's.
/// </summary>
public sealed class LearnLimitTranslatorTests
{
    private const uint Reg0 = 0x00010004, InPort = 0x00000002, EthSrc = 0x00000406, EthDst = 0x00000206;

    private static NxLearn Learn(ushort flags, uint limit, uint resultHeader, ushort resultOfs)
        => new(0, 0, 0x8000, 0x7, flags, 1, 0, 0, [new NxLearnSpec(NxLearnSrc.Field, NxLearnDst.Match, 48, EthSrc, 0, 0, EthDst, 0)],
               true, limit, resultHeader, resultOfs);

    [Fact]
    public void ALimitAndAResultBit_AreTheModels_AndWriteBackTheSame()
    {
        var nx = Learn(NxLearn.WriteResult, 2, Reg0, 3);
        Assert.True(Of10Actions.TryLearn(nx, out var item, out _));
        var l = item!.Value.LearnSpec!;
        Assert.Equal(2u, l.Limit);
        Assert.Equal(new OfSubfield(OfField.Reg0, 3, 1), l.ResultDst);
        Assert.Equal(nx, Of10Actions.LearnNx(item.Value).Learn);

        // A limit alone.
        var plain = Learn(0, 5, 0, 0);
        Assert.True(Of10Actions.TryLearn(plain, out item, out _));
        Assert.Null(item!.Value.LearnSpec!.ResultDst);
        Assert.Equal(plain, Of10Actions.LearnNx(item.Value).Learn);
    }

    [Fact]
    public void AResultDstTheSwitchDoesNotWrite_OrAnOffsetWithoutTheFlag_IsRefused()
    {
        Assert.False(Of10Actions.TryLearn(Learn(NxLearn.WriteResult, 2, InPort, 0), out _, out var why));
        Assert.Equal(Of10Actions.NxRefusal.NotWritable, why);
        Assert.False(Of10Actions.TryLearn(Learn(0, 2, 0, 3), out _, out why));
        Assert.Equal(Of10Actions.NxRefusal.BadArgument, why);
        Assert.False(Of10Actions.TryLearn(Learn(NxLearn.WriteResult, 2, Reg0, 32), out _, out why)); // past reg0's 32 bits
        Assert.Equal(Of10Actions.NxRefusal.BadSetLen, why);
    }
}
