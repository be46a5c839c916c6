using System.Buffers.Binary;
using System.Diagnostics;
using Xunit.Abstractions;
using Softswitch.OfWire.Of10;
using Softswitch.OfWire.Of13;
using Softswitch.OfWire.Of14;

namespace Softswitch.OfWire.Tests.Of10;

/// <summary>
/// One fuzz target per decoder. Each must not throw on any input; where a decode succeeds, the result
/// must re-encode and that encoding must decode again to the same bytes (encode is a fixed point).
/// </summary>
public static class WireFuzzTargets
{
    public static void Message(ReadOnlySpan<byte> input)
    {
        OfpFraming.TryGetFrame(input, out _, out _);
        OfpFraming.TryGetFrame(input, out _, out _, maxMessageSize: 64);
        Nicira(input);
        if (OfpMessage.TryDecode(input, out OfpMessage? msg, out _))
        {
            Stable(msg.ToArray(), input.Length);
        }
        else if (input.Length >= OfpHeader.Size)
        {
            // Whatever the error, the reply must be buildable.
            OfpErrorMsg.ForRequest(OfpError.BadRequest(OfpBadRequestCode.BadLen), input).ToArray();
        }
    }

    /// <summary>The NX1.0 errors the Nicira decoders may answer with (Open vSwitch's OFPBMC_* in 1.0 and NXBRC_*).</summary>
    private static readonly HashSet<(ushort, ushort)> s_nxErrors =
        [(0, 263), (1, 256), (1, 258), (1, 259), (1, 260), (1, 261), (1, 262), (1, 521), (1, 515), (1, 518), (1, 520), (13, 3), (3, 258)];

    /// <summary>Whether <paramref name="e"/> is an error the Nicira decoders define: a standard BAD_REQUEST or BAD_ACTION, or one of Open vSwitch's NX1.0 codes.</summary>
    public static bool Defined(Nx10Error e)
        => e.Nicira ? s_nxErrors.Contains((e.Type, e.Code)) : e.Type is (ushort)OfpErrorType.BadRequest or (ushort)OfpErrorType.BadAction;

    /// <summary>
    /// Open vSwitch's Nicira messages of the NXM flow format (<see cref="Nx10"/>, <see cref="NxMatch"/>): a refusal is a
    /// defined error; a decode encodes to a message that decodes to the same encoding (the encoding is a fixed point),
    /// no longer than the input (the input's own bytes when they are canonical: zero pads, no all-ones masks).
    /// Returns the outcome (for the corpus): the subtype decoded, or the error.
    /// </summary>
    public static string Nicira(ReadOnlySpan<byte> input)
    {
        if (input.Length < OfpHeader.Size || input[0] != OfpConstants.Version || BinaryPrimitives.ReadUInt16BigEndian(input[2..]) != input.Length) return "";
        if (input[1] == (byte)OfpType.Vendor)
        {
            if (!Nx10.TryReadSubtype(input, out uint sub, out var e)) return Refused(e);
            uint xid = BinaryPrimitives.ReadUInt32BigEndian(input[4..]);
            switch (sub)
            {
                case Nx10.SetFlowFormat:
                    if (!Nx10.TryDecodeSetFlowFormat(input, out uint format, out e)) return Refused(e);
                    Same(Nx10.Message(sub, xid, [(byte)(format >> 24), (byte)(format >> 16), (byte)(format >> 8), (byte)format]), input);
                    return "nx set_flow_format";
                case Nx10.FlowModTableId:
                    if (!Nx10.TryDecodeFlowModTableId(input, out bool set, out e)) return Refused(e);
                    if (Nx10.TryDecodeFlowModTableId(Nx10.Message(sub, xid, [set ? (byte)1 : (byte)0, 0, 0, 0, 0, 0, 0, 0]), out bool again, out _) != true || again != set)
                        throw new InvalidOperationException("flow_mod_table_id does not re-encode");
                    return "nx flow_mod_table_id";
                case Nx10.FlowMod:
                {
                    var actions = new List<OfpAction>();
                    if (!Nx10.TryDecodeFlowMod(input, actions, out var f, out var err)) return Refused(err);
                    var match = new List<Ofp13Oxm>();
                    if (!NxMatch.TryDecode(input.Slice(Nx10.FlowModMatchOffset, f.MatchLength), match, out var me)) return Refused(Nx10Error.Of(me));
                    byte[] enc = Nx10.EncodeFlowMod(xid, f, [.. match], [.. actions]);
                    if (enc.Length > input.Length) throw new InvalidOperationException($"NXT_FLOW_MOD grew from {input.Length} to {enc.Length} bytes");
                    var actions2 = new List<OfpAction>();
                    if (!Nx10.TryDecodeFlowMod(enc, actions2, out var f2, out err)) throw new InvalidOperationException($"re-encoded NXT_FLOW_MOD refused: {err}");
                    var match2 = new List<Ofp13Oxm>();
                    if (!NxMatch.TryDecode(enc.AsSpan(Nx10.FlowModMatchOffset, f2.MatchLength), match2, out _) || !match2.SequenceEqual(match))
                        throw new InvalidOperationException("re-encoded nx_match differs");
                    Same(Nx10.EncodeFlowMod(xid, f2, [.. match2], [.. actions2]), enc);
                    return "nx flow_mod";
                }
                case NxPacketIn.SetPacketInFormat:
                    if (!NxPacketIn.TryDecodeSetPacketInFormat(input, out var pinFormat, out var pinError)) return Refused(Nx10Error.Of(pinError));
                    Same(NxPacketIn.EncodeSetPacketInFormat(OfpConstants.Version, xid, (uint)pinFormat), input);
                    return "nx set_packet_in_format";
                case NxPacketIn.PacketIn:
                    return NxtPacketIn(input) ? "nx packet_in" : "nx packet_in short";
                case NxPacketIn.PacketIn2 or NxPacketIn.Resume:
                    return NxtPacketIn2(input) ? "nx packet_in2" : "nx packet_in2 refused";
                case NxAsyncConfig.SetAsyncConfig:
                {
                    var masks = new uint[6];
                    if (!NxAsyncConfig.TryDecodeSetAsyncConfig(input, masks, out var asyncError)) return Refused(Nx10Error.Of(asyncError));
                    Same(NxAsyncConfig.EncodeSetAsyncConfig(OfpConstants.Version, xid, masks), input);
                    return "nx set_async_config";
                }
                case NxAsyncConfig.SetAsyncConfig2:
                {
                    var config = new Ofp14AsyncConfig();
                    if (!NxAsyncConfig.TryDecodeSetAsyncConfig2(input, config, out var ae)) return Refused(NxAsyncConfig.Error10(ae));
                    byte[] enc = NxAsyncConfig.EncodeSetAsyncConfig2(OfpConstants.Version, xid, config);
                    if (enc.Length > input.Length) throw new InvalidOperationException($"NXT_SET_ASYNC_CONFIG2 grew from {input.Length} to {enc.Length} bytes");
                    var config2 = new Ofp14AsyncConfig();
                    if (!NxAsyncConfig.TryDecodeSetAsyncConfig2(enc, config2, out ae) || config2.Present != config.Present || !config2.Masks.AsSpan().SequenceEqual(config.Masks))
                        throw new InvalidOperationException($"re-encoded NXT_SET_ASYNC_CONFIG2 differs ({ae})");
                    Same(NxAsyncConfig.EncodeSetAsyncConfig2(OfpConstants.Version, xid, config2), enc);
                    return "nx set_async_config2";
                }
                case NxAsyncConfig.RequestForward:
                {
                    if (!NxAsyncConfig.TryDecodeRequestForward(input, out int at, out int len)) return "nx requestforward refused";
                    byte[] enc = NxAsyncConfig.EncodeRequestForward(OfpConstants.Version, input.Slice(at, len), xid);
                    if (enc.Length > input.Length || !NxAsyncConfig.TryDecodeRequestForward(enc, out int at2, out int len2)
                        || !enc.AsSpan(at2, len2).SequenceEqual(input.Slice(at, len)))
                    {
                        throw new InvalidOperationException("re-encoded NXT_REQUESTFORWARD differs");
                    }
                    return "nx requestforward";
                }
                case NxFlowMonitor.Cancel:
                    if (!NxFlowMonitor.TryDecodeCancel(input, out uint id, out e)) return Refused(e);
                    Same(NxFlowMonitor.EncodeCancel(xid, id), input);
                    return "nx flow_monitor_cancel";
                default:
                    return "nx subtype other";
            }
        }
        if (input[1] == (byte)OfpType.StatsRequest && input.Length >= 10 && BinaryPrimitives.ReadUInt16BigEndian(input[8..]) == (ushort)OfpStatsType.Vendor)
        {
            if (!Nx10.TryDecodeStatsRequest(input, out var f, out var err)) return Refused(err);
            if (f.Subtype == NxFlowMonitor.StatsFlowMonitor) return FlowMonitorRequest(input);
            if (f.Subtype is not (Nx10.StatsFlow or Nx10.StatsAggregate)) return "nxst subtype other";
            var match = new List<Ofp13Oxm>();
            if (!NxMatch.TryDecode(input.Slice(Nx10.StatsMatchOffset, f.MatchLength), match, out var me)) return Refused(Nx10Error.Of(me));
            uint xid = BinaryPrimitives.ReadUInt32BigEndian(input[4..]);
            byte[] enc = Nx10.EncodeStatsRequest(xid, f.Subtype, f.OutPort, f.TableId, [.. match]);
            if (enc.Length > input.Length) throw new InvalidOperationException("NXST request grew");
            if (!Nx10.TryDecodeStatsRequest(enc, out var f2, out _) || f2 with { MatchLength = 0 } != f with { MatchLength = 0 })
                throw new InvalidOperationException("re-encoded NXST request differs");
            return f.Subtype == Nx10.StatsFlow ? "nxst flow" : "nxst aggregate";
        }
        if (input[1] == (byte)OfpType.StatsReply && input.Length >= Nx10.StatsHeaderSize && BinaryPrimitives.ReadUInt16BigEndian(input[8..]) == (ushort)OfpStatsType.Vendor
            && BinaryPrimitives.ReadUInt32BigEndian(input[12..]) == OfpConstants.NiciraVendorId
            && BinaryPrimitives.ReadUInt32BigEndian(input[16..]) == NxFlowMonitor.StatsFlowMonitor)
        {
            return FlowMonitorReply(input);
        }
        return "";
    }

    /// <summary>NXT_PACKET_IN: what decodes re-encodes (pad bytes zero) to a message that decodes to the same fields, match and frame.</summary>
    public static bool NxtPacketIn(ReadOnlySpan<byte> input)
    {
        if (!NxPacketIn.TryDecodePacketIn(input, out var f, out var match, out var data, out _)) return false;
        var enc = new byte[input.Length];
        int n = NxPacketIn.WritePacketIn(enc, input[0], f, match, data);
        if (n != input.Length) throw new InvalidOperationException($"NXT_PACKET_IN re-encoded to {n} bytes, not {input.Length}");
        if (!NxPacketIn.TryDecodePacketIn(enc, out var f2, out var match2, out var data2, out _) || f2 != f || !match2.SequenceEqual(match) || !data2.SequenceEqual(data))
        {
            throw new InvalidOperationException("re-encoded NXT_PACKET_IN differs");
        }
        return true;
    }

    /// <summary>
    /// NXT_PACKET_IN2 (and NXT_RESUME, the same properties): what decodes re-encodes, without its continuation, to a
    /// message that decodes to the same fields, packet, metadata and userdata, and encoding that again gives the same bytes.
    /// </summary>
    public static bool NxtPacketIn2(ReadOnlySpan<byte> input)
    {
        if (!NxPacketIn.TryDecodePacketIn2(input, out var pin, out _)) return false;
        var enc = new byte[input.Length + 64];
        int n = NxPacketIn.WritePacketIn2(enc, input[0], pin.Fields, pin.Metadata, pin.Packet, pin.UserData);
        if (!NxPacketIn.TryDecodePacketIn2(enc.AsSpan(0, n), out var again, out _) || again.Fields != pin.Fields || !again.Packet.SequenceEqual(pin.Packet)
            || !again.Metadata.SequenceEqual(pin.Metadata) || !again.UserData.SequenceEqual(pin.UserData))
        {
            throw new InvalidOperationException("re-encoded NXT_PACKET_IN2 differs");
        }
        var enc2 = new byte[n + 64];
        int n2 = NxPacketIn.WritePacketIn2(enc2, input[0], again.Fields, again.Metadata, again.Packet, again.UserData);
        if (!enc2.AsSpan(0, n2).SequenceEqual(enc.AsSpan(0, n))) throw new InvalidOperationException("NXT_PACKET_IN2 encoding is not stable");
        return true;
    }

    /// <summary>An NXST_FLOW_MONITOR request: each entry and its match read, written back no longer, and read again the same.</summary>
    private static string FlowMonitorRequest(ReadOnlySpan<byte> input)
    {
        var fields = new List<NxFlowMonitorRequestFields>();
        if (!NxFlowMonitor.TryDecodeRequests(input, fields, out var err)) return Refused(err);
        var requests = new List<NxFlowMonitorRequest>();
        foreach (var r in fields)
        {
            var match = new List<Ofp13Oxm>();
            if (!NxMatch.TryDecode(input.Slice(r.MatchOffset, r.MatchLength), match, out var me)) return Refused(Nx10Error.Of(me));
            requests.Add(new NxFlowMonitorRequest(r.Id, r.Flags, r.OutPort, r.TableId, [.. match]));
        }
        uint xid = BinaryPrimitives.ReadUInt32BigEndian(input[4..]);
        byte[] enc = NxFlowMonitor.EncodeRequest(xid, requests);
        if (enc.Length > input.Length) throw new InvalidOperationException("NXST_FLOW_MONITOR request grew");
        if (!NxFlowMonitor.TryDecodeRequests(enc, fields, out err)) throw new InvalidOperationException($"re-encoded NXST_FLOW_MONITOR request refused: {err}");
        var again = new List<NxFlowMonitorRequest>();
        foreach (var r in fields)
        {
            var match = new List<Ofp13Oxm>();
            if (!NxMatch.TryDecode(enc.AsSpan(r.MatchOffset, r.MatchLength), match, out _)) throw new InvalidOperationException("re-encoded monitor match refused");
            again.Add(new NxFlowMonitorRequest(r.Id, r.Flags, r.OutPort, r.TableId, [.. match]));
        }
        if (again.Count != requests.Count || again.Where((r, i) => (r.Id, r.Flags, r.OutPort, r.TableId) != (requests[i].Id, requests[i].Flags, requests[i].OutPort, requests[i].TableId)
                                                                  || !r.Match.SequenceEqual(requests[i].Match)).Any())
        {
            throw new InvalidOperationException("re-encoded NXST_FLOW_MONITOR request differs");
        }
        Same(NxFlowMonitor.EncodeRequest(xid, again), enc);
        return "nxst flow_monitor";
    }

    /// <summary>An NXST_FLOW_MONITOR reply: its updates read, written back as one reply no longer, and read again the same.</summary>
    private static string FlowMonitorReply(ReadOnlySpan<byte> input)
    {
        var updates = new List<NxFlowUpdate>();
        if (!NxFlowMonitor.TryDecodeReply(input, updates, out var err)) return Refused(err);
        uint xid = BinaryPrimitives.ReadUInt32BigEndian(input[4..]);
        var parts = NxFlowMonitor.EncodeReplies(xid, updates);
        if (parts.Count != 1 || parts[0].Length > input.Length) throw new InvalidOperationException("NXST_FLOW_MONITOR reply grew");
        var again = new List<NxFlowUpdate>();
        if (!NxFlowMonitor.TryDecodeReply(parts[0], again, out err)) throw new InvalidOperationException($"re-encoded NXST_FLOW_MONITOR reply refused: {err}");
        if (!again.SequenceEqual(updates)) throw new InvalidOperationException("re-encoded NXST_FLOW_MONITOR reply differs");
        Same(NxFlowMonitor.EncodeReplies(xid, again)[0], parts[0]);
        return "nxst flow_monitor reply";
    }

    private static string Refused(Nx10Error e)
    {
        if (!Defined(e)) throw new InvalidOperationException($"undefined refusal {e}");
        e.ForRequest([1, 4, 0, 8, 0, 0, 0, 1]);
        return $"nx error {e}";
    }

    private static void Same(ReadOnlySpan<byte> encoded, ReadOnlySpan<byte> input)
    {
        if (!encoded.SequenceEqual(input)) throw new InvalidOperationException("a fixed-size Nicira message does not re-encode to its bytes");
    }

    public static void Actions(ReadOnlySpan<byte> input)
    {
        if (OfpActions.TryDecode(input, out List<OfpAction> actions, out _))
        {
            foreach (var a in actions)
            {
                // A vendor action reads as a Nicira action or gets an error, and never throws.
                if (a.Type != OfpActionType.Vendor) continue;
                if (!NxAction.TryDecode(a, out var nx, out var nxError))
                {
                    if (nxError == default) throw new InvalidOperationException("a refused Nicira action without an error");
                }
                else if (nx.Subtype == NxActionSubtype.Controller2)
                {
                    Controller2FixedPoint(nx);
                }
                else if (nx.Subtype is NxActionSubtype.Bundle or NxActionSubtype.BundleLoad)
                {
                    BundleFixedPoint(nx);
                }
            }
            byte[] wire = new byte[OfpActions.GetEncodedSize(actions)];
            OfpActions.Encode(actions, wire);
            if (!wire.AsSpan().SequenceEqual(input) && !OfpActions.TryDecode(wire, out _, out _))
            {
                throw new InvalidOperationException("re-encoded action list does not decode");
            }
        }
    }

    /// <summary>NXAST_BUNDLE(_LOAD): its body re-encodes to one that decodes to the same action and encodes to the same bytes.</summary>
    private static void BundleFixedPoint(in NxAction nx)
    {
        var body = new byte[nx.BodySize];
        nx.WriteBody(body);
        if (!NxAction.TryDecodeBody(body, out var again, out var e)) throw new InvalidOperationException($"re-encoded bundle refused: {e}");
        if ((again.Subtype, again.BundleFields, again.BundleBasis, again.BundleAlgorithm, again.FieldHeader, again.DstOfs, again.Bits)
            != (nx.Subtype, nx.BundleFields, nx.BundleBasis, nx.BundleAlgorithm, nx.FieldHeader, nx.DstOfs, nx.Bits)
            || !(again.Members ?? []).AsSpan().SequenceEqual(nx.Members ?? []))
        {
            throw new InvalidOperationException("re-encoded bundle differs");
        }
        var body2 = new byte[again.BodySize];
        again.WriteBody(body2);
        if (!body2.AsSpan().SequenceEqual(body)) throw new InvalidOperationException("bundle encoding is not stable");
    }

    /// <summary>NXAST_CONTROLLER2: its body re-encodes (defaults left out) to one that decodes to the same action and encodes to the same bytes.</summary>
    private static void Controller2FixedPoint(in NxAction nx)
    {
        var body = new byte[nx.BodySize];
        nx.WriteBody(body);
        if (!NxAction.TryDecodeBody(body, out var again, out var e)) throw new InvalidOperationException($"re-encoded CONTROLLER2 refused: {e}");
        if (again.MaxLen != nx.MaxLen || again.Arg != nx.Arg || again.Table != nx.Table || again.ControllerPause != nx.ControllerPause
            || again.ControllerMeterId != nx.ControllerMeterId || !(again.ControllerUserData ?? []).AsSpan().SequenceEqual(nx.ControllerUserData ?? []))
        {
            throw new InvalidOperationException("re-encoded CONTROLLER2 differs");
        }
        var body2 = new byte[again.BodySize];
        again.WriteBody(body2);
        if (!body2.AsSpan().SequenceEqual(body)) throw new InvalidOperationException("CONTROLLER2 encoding is not stable");
    }

    public static void Structs(ReadOnlySpan<byte> input)
    {
        byte[] scratch = new byte[128];
        if (OfpMatch.TryRead(input, out OfpMatch match))
        {
            match.Write(scratch);
        }
        if (OfpPhyPort.TryRead(input, out OfpPhyPort port))
        {
            port.Write(scratch);
        }
        if (OfpTableStats.TryRead(input, out OfpTableStats table))
        {
            table.Write(scratch);
        }
        if (OfpFlowStats.TryDecode(input, out OfpFlowStats? flow, out _, out _))
        {
            flow.Encode(new byte[flow.EncodedSize]);
        }
    }

    private static void Stable(byte[] encoded, int inputLength)
    {
        if (encoded.Length > inputLength)
        {
            throw new InvalidOperationException($"re-encoding grew from {inputLength} to {encoded.Length} bytes");
        }
        if (!OfpMessage.TryDecode(encoded, out OfpMessage? again, out OfpError err))
        {
            throw new InvalidOperationException($"re-encoded message does not decode: {err}");
        }
        if (!again.ToArray().AsSpan().SequenceEqual(encoded))
        {
            throw new InvalidOperationException("encoding is not a fixed point");
        }
    }
}

/// <summary>Seeded mutation of every golden vector (garnet Garnet.fuzz / ovs tests/oss-fuzz style).</summary>
public class FuzzTests
{
    private const int TotalIterations = 500_000;
    private readonly ITestOutputHelper _output;

    public FuzzTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public void MutatedGoldenVectorsNeverThrow()
    {
        int seed = int.TryParse(Environment.GetEnvironmentVariable("OF10_FUZZ_SEED"), out int s) ? s : 0x0f10_5eed;
        _output.WriteLine($"fuzz seed {seed} (set OF10_FUZZ_SEED to replay another)");
        var rng = new Random(seed);
        IReadOnlyList<WireVector> corpus = VectorFile.All;
        int perVector = TotalIterations / corpus.Count + 1;
        var stopwatch = Stopwatch.StartNew();
        int iterations = 0;
        int decodedOk = 0;
        byte[] buffer = new byte[70_000];

        foreach (WireVector v in corpus)
        {
            for (int i = 0; i < perVector; i++)
            {
                int len = Mutate(v.Bytes, buffer, rng, corpus);
                ReadOnlySpan<byte> input = buffer.AsSpan(0, len);
                try
                {
                    switch (v.Kind)
                    {
                        case "actions":
                            WireFuzzTargets.Actions(input);
                            WireFuzzTargets.Message(input);
                            break;
                        case "struct":
                            WireFuzzTargets.Structs(input);
                            WireFuzzTargets.Actions(input);
                            break;
                        default:
                            WireFuzzTargets.Message(input);
                            if (input.Length > OfpHeader.Size)
                            {
                                WireFuzzTargets.Actions(input.Slice(OfpHeader.Size));
                                WireFuzzTargets.Structs(input.Slice(OfpHeader.Size));
                            }
                            break;
                    }
                    if (OfpMessage.TryDecode(input, out _, out _))
                    {
                        decodedOk++;
                    }
                }
                catch (Exception ex)
                {
                    Assert.Fail($"seed {seed}, vector '{v.Id}', iteration {i}: {ex.GetType().Name}: {ex.Message}\n" +
                        $"input ({len} bytes): {Convert.ToHexString(input)}\n{ex.StackTrace}");
                }
                iterations++;
            }
        }

        _output.WriteLine($"{iterations} inputs in {stopwatch.ElapsedMilliseconds} ms, {decodedOk} decoded as valid messages");
        Assert.True(iterations >= TotalIterations);
        Assert.True(decodedOk > 1000, "mutations should leave many inputs valid, or the fuzzer is not reaching decoders");
    }

    /// <summary>
    /// Open vSwitch's bundle, bundle_load and fin_timeout actions (ofp-actions.at), mutated, through the action target:
    /// a refusal carries an error, a decoded bundle re-encodes to a fixed point, a re-encoded list decodes.
    /// </summary>
    [Fact]
    public void MutatedBundleAndFinTimeoutActions_HoldTheActionOracle()
    {
        var rng = new Random(0x0b0d);
        string[] vectors =
        [
            Nicira.NxBundleTests.BundleVector, Nicira.NxBundleTests.BundleLoadVector, "ffff 0010 00002320 0013 000a 0014 0000",
            Nicira.NxBundleTests.BundleVector + Nicira.NxBundleTests.BundleLoadVector,
        ];
        int decoded = 0;
        foreach (var hex in vectors)
        {
            byte[] seed = Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));
            for (int i = 0; i < 4_000; i++)
            {
                var m = (byte[])seed.Clone();
                for (int k = rng.Next(1, 4); k > 0; k--) m[rng.Next(4, m.Length)] ^= (byte)rng.Next(1, 256);
                if (rng.Next(4) == 0) m = m[..rng.Next(8, m.Length)];
                WireFuzzTargets.Actions(m);
                if (OfpActions.TryDecode(m, out List<OfpAction> list, out _) && list.All(a => NxAction.TryDecode(a, out _, out _))) decoded++;
            }
        }
        Assert.True(decoded > 500, $"only {decoded} mutated bundle and fin_timeout lists decoded");
    }

    /// <summary>
    /// Open vSwitch's flow monitor vectors of OpenFlow 1.0 (<see cref="Nicira.NxFlowMonitorVectorTests"/>), mutated as the
    /// golden vectors are, through the Nicira oracle: every refusal a defined error, every decode a fixed point.
    /// </summary>
    [Fact]
    public void MutatedFlowMonitorVectors_HoldTheNiciraOracle()
    {
        int seed = int.TryParse(Environment.GetEnvironmentVariable("OF10_FUZZ_SEED"), out int s) ? s : 0x0f10_5eed;
        var rng = new Random(seed);
        byte[][] seeds = [.. new[] { Nicira.NxFlowMonitorVectorTests.Request, Nicira.NxFlowMonitorVectorTests.Reply, Nicira.NxFlowMonitorVectorTests.Cancel,
                                     Nicira.NxFlowMonitorVectorTests.Paused }.Select(h => Convert.FromHexString(h.Replace(" ", "", StringComparison.Ordinal)))];
        var outcomes = NiciraOutcomes(seeds, 50_000, rng, seed);
        foreach (var reached in new[] { "nxst flow_monitor", "nxst flow_monitor reply", "nx flow_monitor_cancel" })
            Assert.True(outcomes.GetValueOrDefault(reached) > 100, $"the mutations reach '{reached}' too rarely");
        Assert.Contains(outcomes.Keys, k => k.Contains("NX1.0(1,518)", StringComparison.Ordinal));
    }

    /// <summary>
    /// Open vSwitch's asynchronous configuration and request forwarding vectors of OpenFlow 1.0
    /// (<see cref="Nicira.NxAsyncConfigTests"/>: NXT_SET_ASYNC_CONFIG, NXT_SET_ASYNC_CONFIG2, NXT_REQUESTFORWARD), mutated
    /// as the golden vectors are, through the Nicira oracle: every refusal a defined error, every decode a fixed point.
    /// </summary>
    [Fact]
    public void MutatedAsyncConfigVectors_HoldTheNiciraOracle()
    {
        int seed = int.TryParse(Environment.GetEnvironmentVariable("OF10_FUZZ_SEED"), out int s) ? s : 0x0f10_a5c0;
        var rng = new Random(seed);
        byte[][] seeds = [.. Nicira.NxAsyncConfigTests.Seeds().Where(m => m[0] == OfpConstants.Version)];
        var outcomes = NiciraOutcomes(seeds, 20_000, rng, seed);
        foreach (var reached in new[] { "nx set_async_config", "nx set_async_config2", "nx requestforward" })
            Assert.True(outcomes.GetValueOrDefault(reached) > 100, $"the mutations reach '{reached}' too rarely");
        Assert.Contains(outcomes.Keys, k => k.Contains("NX1.0(1,521)", StringComparison.Ordinal));
    }

    /// <summary>
    /// <paramref name="rounds"/> mutations of each of <paramref name="seeds"/> (<see cref="Mutate"/>) through the Nicira
    /// oracle, none of which may throw; how often each outcome came (also written to the test output).
    /// </summary>
    private Dictionary<string, int> NiciraOutcomes(byte[][] seeds, int rounds, Random rng, int seed)
    {
        var corpus = VectorFile.All;
        var outcomes = new Dictionary<string, int>();
        byte[] buffer = new byte[70_000];
        foreach (var v in seeds)
        {
            for (int i = 0; i < rounds; i++)
            {
                int len = Mutate(v, buffer, rng, corpus);
                try
                {
                    string o = WireFuzzTargets.Nicira(buffer.AsSpan(0, len));
                    outcomes[o] = outcomes.GetValueOrDefault(o) + 1;
                }
                catch (Exception ex)
                {
                    Assert.Fail($"seed {seed}, iteration {i}: {ex.GetType().Name}: {ex.Message}\ninput: {Convert.ToHexString(buffer.AsSpan(0, len))}");
                }
            }
        }
        foreach (var (o, n) in outcomes.OrderBy(kv => kv.Key, StringComparer.Ordinal)) _output.WriteLine($"{n,7} {o}");
        return outcomes;
    }

    /// <summary>Applies 1-4 mutations to a copy of <paramref name="source"/> in <paramref name="dest"/>; returns the length.</summary>
    internal static int Mutate(byte[] source, byte[] dest, Random rng, IReadOnlyList<WireVector> corpus)
    {
        source.CopyTo(dest, 0);
        int len = source.Length;
        int count = rng.Next(1, 5);
        for (int m = 0; m < count; m++)
        {
            switch (rng.Next(10))
            {
                case 0: // bit flips
                    if (len > 0)
                    {
                        dest[rng.Next(len)] ^= (byte)(1 << rng.Next(8));
                    }
                    break;
                case 1: // interesting byte
                    if (len > 0)
                    {
                        dest[rng.Next(len)] = s_interesting8[rng.Next(s_interesting8.Length)];
                    }
                    break;
                case 2: // random byte
                    if (len > 0)
                    {
                        dest[rng.Next(len)] = (byte)rng.Next(256);
                    }
                    break;
                case 3: // interesting 16-bit value at any offset: hits len, actions_len, ports, types
                    if (len >= 2)
                    {
                        BinaryPrimitives.WriteUInt16BigEndian(dest.AsSpan(rng.Next(len - 1)), s_interesting16[rng.Next(s_interesting16.Length)]);
                    }
                    break;
                case 4: // truncate
                    len = rng.Next(len + 1);
                    break;
                case 5: // truncate and keep the header length consistent, so the type decoder runs
                    len = rng.Next(Math.Min(len, OfpHeader.Size), len + 1);
                    FixLength(dest, len);
                    break;
                case 6: // header length edit
                    if (len >= 4)
                    {
                        int lie = rng.Next(3) switch { 0 => len + rng.Next(-9, 10), 1 => rng.Next(0x10000), _ => len };
                        BinaryPrimitives.WriteUInt16BigEndian(dest.AsSpan(2), (ushort)Math.Clamp(lie, 0, 0xffff));
                    }
                    break;
                case 7: // grow with random bytes, length kept consistent
                    int extra = rng.Next(1, 40);
                    for (int i = 0; i < extra && len < dest.Length; i++)
                    {
                        dest[len++] = (byte)rng.Next(256);
                    }
                    FixLength(dest, len);
                    break;
                case 8: // splice a piece of another vector in
                    byte[] other = corpus[rng.Next(corpus.Count)].Bytes;
                    if (other.Length > 0 && len > 0)
                    {
                        int from = rng.Next(other.Length);
                        int at = rng.Next(len);
                        int n = Math.Min(rng.Next(1, 32), Math.Min(other.Length - from, len - at));
                        other.AsSpan(from, n).CopyTo(dest.AsSpan(at));
                    }
                    break;
                default: // version/type edits
                    if (len >= 2)
                    {
                        dest[rng.Next(2)] = (byte)(rng.Next(3) == 0 ? rng.Next(256) : rng.Next(24));
                    }
                    break;
            }
        }
        return len;
    }

    private static void FixLength(byte[] dest, int len)
    {
        if (len >= 4)
        {
            BinaryPrimitives.WriteUInt16BigEndian(dest.AsSpan(2), (ushort)Math.Min(len, 0xffff));
        }
    }

    private static readonly byte[] s_interesting8 = [0x00, 0x01, 0x02, 0x03, 0x07, 0x08, 0x0b, 0x0c, 0x10, 0x7f, 0x80, 0xfe, 0xff];

    private static readonly ushort[] s_interesting16 =
        [0, 1, 4, 7, 8, 9, 12, 15, 16, 24, 40, 44, 48, 64, 72, 88, 104, 1056, 0x7fff, 0x8000, 0xff00, 0xfff7, 0xfff8, 0xfffd, 0xfffe, 0xffff];
}
