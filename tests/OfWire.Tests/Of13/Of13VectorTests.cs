using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Softswitch.OfWire.Of13;

namespace Softswitch.OfWire.Tests.Of13;

/// <summary>
/// OpenFlow 1.3 messages from a public test corpus (Ryu/os-ken's packet data, see Vectors/of13/README.md): each request
/// decodes (or is refused with the error it earns), re-encodes byte for byte where the switch also writes it, and every
/// truncation of it is refused without a throw; each message a switch sends is written by the switch's encoders byte for
/// byte from its own fields.
/// </summary>
public sealed class Of13VectorTests
{
    private static string Dir => Path.Combine(AppContext.BaseDirectory, "Vectors", "of13");

    private static IEnumerable<string> Files => Directory.GetFiles(Dir, "*.packet").Select(f => Path.GetFileName(f)).Order();

    /// <summary>The vectors of messages a switch receives (the others are the switch's own, checked below).</summary>
    public static TheoryData<string> Requests => [.. Files.Where(f => Decode(File.ReadAllBytes(Path.Combine(Dir, f))) is not null)];

    /// <summary>The requests the switch accepts whole.</summary>
    public static TheoryData<string> Accepted => [.. Files.Where(f => Decode(File.ReadAllBytes(Path.Combine(Dir, f))) is { Ok: true })];

    [Fact]
    public void TheVectorsHoldRequestsAndAcceptedRequests()
    {
        Assert.True(Requests.Count >= 20, $"{Requests.Count} request vectors");
        Assert.True(Accepted.Count >= Requests.Count - s_refused.Count, $"{Accepted.Count} of {Requests.Count} accepted");
    }

    /// <summary>Vectors a switch refuses, and why: experimenter actions and fields this switch does not have.</summary>
    private static readonly Dictionary<string, (Ofp13ErrorType, ushort)> s_refused = new()
    {
        ["4-2-ofp_flow_mod.packet"] = (Ofp13ErrorType.BadAction, Ofp13Codes.ActionBadExperimenter),
        // ONF's pbb_uca (experimenter class) in the match (its Nicira tun_ipv4_src/dst are served now, as in
        // libofproto-OFP13-flow_mod.packet, which is accepted).
        ["4-60-ofp_flow_mod.packet"] = (Ofp13ErrorType.BadMatch, Ofp13Codes.MatchBadField),
    };

    /// <summary>Decodes a request the way the switch does; null when the type is one a switch sends, not receives.</summary>
    private static (bool Ok, Ofp13Error Error)? Decode(byte[] m)
    {
        Ofp13Error e;
        switch ((Ofp13Type)m[1])
        {
            case Ofp13Type.FlowMod: return (new Ofp13FlowMod().TryDecode(m, out e), e);
            case Ofp13Type.PacketOut: return (new Ofp13PacketOut().TryDecode(m, out e), e);
            case Ofp13Type.GroupMod: return (new Ofp13GroupMod().TryDecode(m, out e), e);
            case Ofp13Type.MeterMod: return (new Ofp13MeterMod().TryDecode(m, out e), e);
            case Ofp13Type.PortMod: return (default(Ofp13PortMod).TryDecode(m, out e), e);
            case Ofp13Type.TableMod: return (default(Ofp13TableMod).TryDecode(m, out e), e);
            case Ofp13Type.SetConfig: return (default(Ofp13SwitchConfig).TryDecode(m, out e), e);
            case Ofp13Type.RoleRequest: return (default(Ofp13RoleRequest).TryDecode(m, out e), e);
            case Ofp13Type.SetAsync: return (default(Ofp13SetAsync).TryDecode(m, out e), e);
            case Ofp13Type.QueueGetConfigRequest: return (default(Ofp13QueueGetConfigRequest).TryDecode(m, out e), e);
            case Ofp13Type.MultipartRequest:
            {
                Ofp13MultipartRequest request = default;
                if (!request.TryDecode(m, out e)) return (false, e);
                return request.Type is Ofp13MultipartType.Flow or Ofp13MultipartType.Aggregate
                    ? (new Ofp13FlowStatsRequest().TryDecode(Ofp13MultipartRequest.Body(m), out e), e) : (true, e);
            }
            default: return null;
        }
    }

    [Theory]
    [MemberData(nameof(Requests))]
    public void RequestsDecodeOrAreRefusedAsTheyShouldBe_AndReEncodeByteForByte(string file)
    {
        var m = File.ReadAllBytes(Path.Combine(Dir, file));
        Assert.Equal(4, m[0]);
        Assert.Equal(m.Length, BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(2)));
        var r = Decode(m)!.Value;
        if (s_refused.TryGetValue(file, out var refusal))
        {
            Assert.False(r.Ok, $"{file} was accepted");
            Assert.Equal(refusal, (r.Error.Type, r.Error.Code));
            return;
        }
        Assert.True(r.Ok, $"{file}: {r.Error}");
        if ((Ofp13Type)m[1] == Ofp13Type.FlowMod)
        {
            var fm = new Ofp13FlowMod();
            Assert.True(fm.TryDecode(m, out _));
            Assert.Equal(Convert.ToHexString(m), Convert.ToHexString(fm.Encode()));
        }
        if ((Ofp13Type)m[1] == Ofp13Type.PacketOut)
        {
            var po = new Ofp13PacketOut();
            Assert.True(po.TryDecode(m, out _));
            Assert.Equal(Convert.ToHexString(m), Convert.ToHexString(po.Encode()));
        }
    }

    [Theory]
    [MemberData(nameof(Accepted))]
    public void EveryTruncationIsRefused_NeverAThrow(string file)
    {
        var m = File.ReadAllBytes(Path.Combine(Dir, file));
        for (int len = 8; len < m.Length; len++)
        {
            var cut = m[..len];
            BinaryPrimitives.WriteUInt16BigEndian(cut.AsSpan(2), (ushort)len);
            var r = Decode(cut)!.Value;
            // A few cuts land on a boundary that is itself a valid message (a multipart request without its body is
            // checked by type later; an action list cut after a whole action); none may throw.
            if (r.Ok)
            {
                Assert.True((Ofp13Type)m[1] is Ofp13Type.MultipartRequest or Ofp13Type.PacketOut or Ofp13Type.GroupMod or Ofp13Type.MeterMod or Ofp13Type.FlowMod,
                    $"{file} cut to {len} bytes was accepted");
            }
        }
    }

    [Fact]
    public void TheSwitchsOwnMessagesAreWrittenAsThePublicVectors()
    {
        byte[] V(string f) => File.ReadAllBytes(Path.Combine(Dir, f));
        uint Xid(byte[] m) => BinaryPrimitives.ReadUInt32BigEndian(m.AsSpan(4));

        var f = V("4-6-ofp_features_reply.packet");
        Assert.Equal(f, Ofp13Messages.FeaturesReply(Ofp13.Version, Xid(f), BinaryPrimitives.ReadUInt64BigEndian(f.AsSpan(8)), BinaryPrimitives.ReadUInt32BigEndian(f.AsSpan(16)),
            f[20], f[21], BinaryPrimitives.ReadUInt32BigEndian(f.AsSpan(24))));

        var gc = V("4-9-ofp_get_config_reply.packet");
        Assert.Equal(gc, Ofp13Messages.ConfigReply(Ofp13.Version, Xid(gc), BinaryPrimitives.ReadUInt16BigEndian(gc.AsSpan(8)), BinaryPrimitives.ReadUInt16BigEndian(gc.AsSpan(10))));

        var rr = V("4-20-ofp_role_reply.packet");
        Assert.Equal(rr, Ofp13Messages.RoleReply(Ofp13.Version, Xid(rr), BinaryPrimitives.ReadUInt32BigEndian(rr.AsSpan(8)), BinaryPrimitives.ReadUInt64BigEndian(rr.AsSpan(16))));

        var ar = V("4-43-ofp_get_async_reply.packet");
        var masks = new uint[6];
        for (int i = 0; i < 6; i++) masks[i] = BinaryPrimitives.ReadUInt32BigEndian(ar.AsSpan(8 + 4 * i));
        Assert.Equal(ar, Ofp13Messages.AsyncReply(Ofp13.Version, Xid(ar), masks));

        var ps = V("4-39-ofp_port_status.packet");
        Assert.True(Ofp13Port.TryRead(ps.AsSpan(16), out var psPort, out _));
        Assert.Equal(ps, Ofp13Messages.PortStatus(Ofp13.Version, Xid(ps), ps[8], psPort));

        var fr = V("4-40-ofp_flow_removed.packet");
        var match = new List<Ofp13Oxm>();
        Assert.True(Ofp13Match.TryDecode(fr.AsSpan(48), match, out _, out _));
        Assert.Equal(fr, Ofp13Messages.FlowRemoved(Ofp13.Version, Xid(fr), BinaryPrimitives.ReadUInt64BigEndian(fr.AsSpan(8)), BinaryPrimitives.ReadUInt16BigEndian(fr.AsSpan(16)),
            fr[18], fr[19], BinaryPrimitives.ReadUInt32BigEndian(fr.AsSpan(20)), BinaryPrimitives.ReadUInt32BigEndian(fr.AsSpan(24)),
            BinaryPrimitives.ReadUInt16BigEndian(fr.AsSpan(28)), BinaryPrimitives.ReadUInt16BigEndian(fr.AsSpan(30)),
            BinaryPrimitives.ReadUInt64BigEndian(fr.AsSpan(32)), BinaryPrimitives.ReadUInt64BigEndian(fr.AsSpan(40)), CollectionsMarshal.AsSpan(match)));

        // (4-59 and libofproto-OFP13-packet_in carry Nicira and ONF experimenter fields this switch has not: it never writes them.)
        foreach (var name in new[] { "4-4-ofp_packet_in.packet" })
        {
            var pi = V(name);
            match.Clear();
            Assert.True(Ofp13Match.TryDecode(pi.AsSpan(24), match, out int size, out _), name);
            var data = pi.AsSpan(24 + size + 2);
            var written = new byte[pi.Length];
            int n = Ofp13Messages.WritePacketIn(Ofp13.Version, written, Xid(pi), BinaryPrimitives.ReadUInt32BigEndian(pi.AsSpan(8)), BinaryPrimitives.ReadUInt16BigEndian(pi.AsSpan(12)),
                pi[14], pi[15], BinaryPrimitives.ReadUInt64BigEndian(pi.AsSpan(16)), CollectionsMarshal.AsSpan(match), data);
            Assert.Equal(Convert.ToHexString(pi), Convert.ToHexString(written.AsSpan(0, n)));
        }
    }
}
