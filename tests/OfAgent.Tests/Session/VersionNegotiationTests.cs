using System.Net;
using System.Net.Sockets;
using Softswitch.OfWire;
using Softswitch.TestKit;
using Softswitch.OfWire.Of10;

namespace Softswitch.OfAgent.Tests.Session;

/// <summary>Version negotiation as OpenFlow 1.3.5 section 6.3.1 states it: HELLOs with and without the version bitmap.</summary>
public sealed class VersionNegotiationTests
{
    private const uint V10 = 1u << 1, V11 = 1u << 2, V12 = 1u << 3, V13 = 1u << 4, V14 = 1u << 5, V15 = 1u << 6;
    private const uint Ours = V10 | V13;

    [Theory]
    // Both HELLOs carry a bitmap: the highest version in both.
    [InlineData(4, V10 | V13, 4)]
    [InlineData(6, V10 | V11 | V12 | V13 | V14 | V15, 4)]
    [InlineData(6, V10 | V14 | V15, 1)]
    [InlineData(4, V11 | V12, 0)]
    [InlineData(6, V14 | V15, 0)]
    [InlineData(1, V10, 1)]
    public void WithBitmaps_TheHighestCommonVersion(byte peerVersion, uint peerBitmap, byte agreed)
        => Assert.Equal(agreed, OfpHelloVersions.Negotiate(Ours, peerVersion, peerBitmap));

    [Theory]
    // Without a bitmap: the smaller header version, which we must speak.
    [InlineData(1, 1)]
    [InlineData(4, 4)]
    [InlineData(5, 4)]
    [InlineData(6, 4)]
    [InlineData(2, 0)] // 1.1: the peer will speak 1.1, which we do not
    [InlineData(3, 0)]
    [InlineData(0, 0)]
    public void WithoutBitmap_TheSmallerVersionIfWeSpeakIt(byte peerVersion, byte agreed)
        => Assert.Equal(agreed, OfpHelloVersions.Negotiate(Ours, peerVersion, null));

    [Fact]
    public void OneZeroOnly_AgreesOnOneZeroWithALaterPeerWithoutBitmap_AndNotWithOneThatSaysItSpeaksOnlyLater()
    {
        Assert.Equal(1, OfpHelloVersions.Negotiate(V10, 4, null));
        Assert.Equal(0, OfpHelloVersions.Negotiate(V10, 4, V13));
    }

    [Fact]
    public void OurHello_NamesTheHighestVersion_WithABitmapWhenMoreThanOneZero()
    {
        var both = OfpHelloVersions.Hello(Ours, 0x53530000);
        Assert.Equal(new byte[] { 4, 0, 0, 16, 0x53, 0x53, 0, 0, 0, 1, 0, 8, 0, 0, 0, 0x12 }, both);
        Assert.True(OfpHelloVersions.TryReadBitmap(both, out uint bitmap));
        Assert.Equal(Ours, bitmap);

        var only10 = OfpHelloVersions.Hello(V10, 7);
        Assert.Equal(new byte[] { 1, 0, 0, 8, 0, 0, 0, 7 }, only10);
        Assert.False(OfpHelloVersions.TryReadBitmap(only10, out _));
    }

    [Fact]
    public void ReadsTheBitmapAfterAnUnknownElement_AndIgnoresHigherWords()
    {
        byte[] hello =
        [
            6, 0, 0, 32, 0, 0, 0, 1,
            0, 9, 0, 6, 0xaa, 0xbb, 0, 0,            // an unknown element of 6 bytes, padded to 8
            0, 1, 0, 12, 0, 0, 0, 0x32, 0, 0, 0, 1,  // the bitmap: 1.0, 1.3, 1.4 in the first word; a second word
            0, 0, 0, 0,
        ];
        Assert.True(OfpHelloVersions.TryReadBitmap(hello, out uint bitmap));
        Assert.Equal(V10 | V13 | V14, bitmap);
    }

    [Theory]
    [InlineData(new byte[] { 4, 0, 0, 12, 0, 0, 0, 1, 0, 1, 0, 2 })]              // element shorter than its header
    [InlineData(new byte[] { 4, 0, 0, 12, 0, 0, 0, 1, 0, 1, 0, 16 })]             // element longer than the message
    [InlineData(new byte[] { 4, 0, 0, 12, 0, 0, 0, 1, 0, 1, 0, 4 })]              // a bitmap element without a bitmap
    [InlineData(new byte[] { 4, 0, 0, 16, 0, 0, 0, 1, 0, 1, 0, 8, 0, 0 })]        // the frame is shorter than its length
    [InlineData(new byte[] { 4, 0, 0, 10, 0, 0, 0, 1, 0, 1 })]                     // a partial element header
    public void AMalformedHello_CountsAsOneWithoutBitmap(byte[] hello)
        => Assert.False(OfpHelloVersions.TryReadBitmap(hello, out _));

    [Fact]
    public void TheRefusalSaysBothSides()
    {
        Assert.Equal("We support versions 0x01, 0x04; you support 0x05, 0x06",
                     System.Text.Encoding.ASCII.GetString(OfpHelloVersions.IncompatibleText(Ours, 6, V14 | V15)));
        Assert.Equal("We support versions 0x01; you support 0x00",
                     System.Text.Encoding.ASCII.GetString(OfpHelloVersions.IncompatibleText(V10, 0, null)));
        Assert.Equal("1.0 and 1.3", OfpHelloVersions.Describe(Ours));
    }

    [Theory]
    [InlineData("OpenFlow10", V10)]
    [InlineData("openflow10 , OpenFlow10", V10)]
    public void ProtocolsAreSpelledAsOpenVSwitchSpellsThem(string text, uint versions)
    {
        Assert.True(AgentOptions.TryParseVersions(text, out uint v, out _));
        Assert.Equal(versions, v);
    }

    [Theory]
    [InlineData("OpenFlow16", "unknown protocol 'OpenFlow16'")]
    [InlineData("OpenFlow12", "OpenFlow12 is not spoken by this switch")]
    [InlineData(" , ", "no protocol given")]
    public void AnUnknownOrUnspokenProtocolIsNamed(string text, string error)
    {
        Assert.False(AgentOptions.TryParseVersions(text, out _, out string why));
        Assert.StartsWith(error, why, StringComparison.Ordinal);
    }

    private static async Task<byte[]?> Next(Socket s, List<byte> buf)
    {
        var tmp = new byte[4096];
        using var cts = new CancellationTokenSource(5000);
        while (true)
        {
            if (buf.Count >= 8 && buf.Count >= ((buf[2] << 8) | buf[3]))
            {
                int len = (buf[2] << 8) | buf[3];
                var msg = buf.GetRange(0, len).ToArray();
                buf.RemoveRange(0, len);
                return msg;
            }
            int n;
            try { n = await s.ReceiveAsync(tmp, SocketFlags.None, cts.Token); }
            catch (Exception e) when (e is OperationCanceledException or SocketException) { return null; }
            if (n == 0) return null;
            buf.AddRange(tmp.AsSpan(0, n).ToArray());
        }
    }

    [Fact]
    public async Task AOneThreeOnlyPeer_GetsHelloFailedNamingBothSides_FromAOneZeroSwitch()
    {
        await using var rig = new AgentRig(options: new AgentOptions { Versions = V10 });
        using var s = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await s.ConnectAsync(IPAddress.Loopback, rig.ListenPort);
        var buf = new List<byte>();
        Assert.Equal(new byte[] { 1, 0, 0, 8 }, (await Next(s, buf))![..4]); // a 1.0-only switch: the plain 1.0 HELLO
        s.Send(OfpHelloVersions.Hello(V13, 9));
        var err = await Next(s, buf);
        Assert.NotNull(err);
        Assert.Equal((byte)OfpType.Error, err![1]);
        Assert.Equal(new byte[] { 0, 0, 0, 0 }, err[8..12]); // HELLO_FAILED INCOMPATIBLE
        Assert.Equal("We support versions 0x01; you support 0x04", System.Text.Encoding.ASCII.GetString(err[12..]));
        Assert.Null(await Next(s, buf)); // closed
        Assert.True(await Wait.UntilAsync(() => rig.Log.Contains("the peer speaks OpenFlow 1.3, this switch 1.0 (--protocols); sent HELLO_FAILED, closing")), rig.Log.Dump());
    }

    [Fact]
    public async Task APeerOfferingBoth_AgreesOnOneZero_AndAMessageOfAnotherVersionIsBadVersion()
    {
        await using var rig = new AgentRig(options: new AgentOptions { Versions = V10 });
        using var s = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await s.ConnectAsync(IPAddress.Loopback, rig.ListenPort);
        var buf = new List<byte>();
        await Next(s, buf);
        s.Send(OfpHelloVersions.Hello(V10 | V13, 9));
        s.Send(new OfpFeaturesRequest { Xid = 10 }.ToArray());
        var reply = await Next(s, buf);
        Assert.Equal((byte)OfpType.FeaturesReply, reply![1]);
        Assert.Equal(1, reply[0]);
        byte[] wrong = [4, 20, 0, 8, 0, 0, 0, 11]; // a 1.3 BARRIER_REQUEST
        s.Send(wrong);
        var err = await Next(s, buf);
        Assert.Equal(new byte[] { 1, 1 }, err![..2]);
        Assert.Equal(new byte[] { 0, 1, 0, 0 }, err[8..12]); // BAD_REQUEST BAD_VERSION
        Assert.Equal(wrong, err[12..]);
        Assert.True(rig.Log.Contains("negotiated OpenFlow 1.0 (peer offered versions 1.0 and 1.3)"), rig.Log.Dump());
    }
}
