using System.Buffers.Binary;
using System.Collections;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using Softswitch.OfWire.Of13;
using Softswitch.OfWire.Of14;
using Softswitch.OfWire.Of15;

namespace Softswitch.OfWire.Tests.Of13;

/// <summary>
/// The OpenFlow 1.3 fuzz oracle, 1.0's (Of10/FuzzTests): an input is offered to every 1.3 decoder (each message a
/// switch decodes, the multipart request bodies, match, actions, instructions and every reply body) and every 1.4 one
/// (the Of14 codec's messages, request body and reply entries, which 1.5 keeps); none may throw,
/// and where one succeeds its value re-encodes to a fixed point: decode(encode(decode(x))) == decode(x), and encoding
/// that again gives the same bytes; where the switch refuses a message, the refusal is an error 1.3 defines and its
/// error reply is built whole. A violation throws, naming the decoder. Also run by bench/reliability at scale
/// (the bench links this file).
/// </summary>
public static class Of13FuzzOracle
{
    /// <summary>Checks one input; returns how many decoders took it.</summary>
    public static int Check(byte[] m) => Check(m, out _);

    /// <summary>Checks one input; returns how many decoders took it, and whether the switch refuses it as a message.</summary>
    public static int Check(byte[] m, out bool refused)
    {
        int n = 0;
        n += Fixed("FLOW_MOD", m, b => { var f = new Ofp13FlowMod(); return (f.TryDecode(b, out _), f); }, f => f.Encode());
        n += Fixed("PACKET_OUT", m, b => { var p = new Ofp13PacketOut(); return (p.TryDecode(b, out _), p); }, p => p.Encode());
        n += Fixed("GROUP_MOD", m, b => { var g = new Ofp13GroupMod(); return (g.TryDecode(b, out _), g); }, g => g.Encode());
        n += Fixed("METER_MOD", m, b => { var g = new Ofp13MeterMod(); return (g.TryDecode(b, out _), g); }, g => g.Encode());
        n += Fixed("PORT_MOD", m, b => { Ofp13PortMod v = default; return (v.TryDecode(b, out _), v); }, v => v.Encode());
        n += Fixed("TABLE_MOD", m, b => { Ofp13TableMod v = default; return (v.TryDecode(b, out _), v); }, v => v.Encode());
        n += Fixed("SET_CONFIG", m, b => { Ofp13SwitchConfig v = default; return (v.TryDecode(b, out _), v); }, v => v.Encode());
        n += Fixed("ROLE_REQUEST", m, b => { Ofp13RoleRequest v = default; return (v.TryDecode(b, out _), v); }, v => v.Encode());
        n += Fixed("SET_ASYNC", m, b => { Ofp13SetAsync v = default; return (v.TryDecode(b, out _), v); }, v => v.Encode());
        n += Fixed("QUEUE_GET_CONFIG", m, b => { Ofp13QueueGetConfigRequest v = default; return (v.TryDecode(b, out _), v); }, v => v.Encode());
        n += Fixed("MULTIPART_REQUEST", m, b => { Ofp13MultipartRequest v = default; return (v.TryDecode(b, out _), (v, Ofp13MultipartRequest.Body(b).ToArray())); },
                   v => v.v.Encode(v.Item2));
        n += Fixed("BUNDLE_CONTROL", m, DecodeBundleControl,
                   v => Ofp13Bundle.ControlRequest(v.Version, v.Xid, v.Id, (Ofp13BundleCtrlType)v.Type, v.Flags));
        n += Fixed("BUNDLE_ADD_MESSAGE", m, DecodeBundleAdd, v => Ofp13Bundle.AddMessage(v.Version, v.Id, v.Flags, v.Inner));
        BundleRefusal(m);
        // Open vSwitch's packet-in extension (any version's header): NXT_SET_PACKET_IN_FORMAT, NXT_PACKET_IN, NXT_PACKET_IN2.
        n += Fixed("NXT_SET_PACKET_IN_FORMAT", m, b => NxPacketIn.TryDecodeSetPacketInFormat(b, out var f, out _) && NxPacketIn.TryReadSubtype(b, out _) ? (true, (b[0], Xid(b), f)) : (false, default),
                   v => NxPacketIn.EncodeSetPacketInFormat(v.Item1, v.Item2, (uint)v.f));
        n += Fixed("NXT_PACKET_IN", m, b => NxPacketIn.TryDecodePacketIn(b, out var f, out var match, out var data, out _) ? (true, (b[0], f, match.ToArray(), data.ToArray())) : (false, default),
                   v => { var d = new byte[42 + ((v.Item3.Length + 7) & ~7) + v.Item4.Length]; NxPacketIn.WritePacketIn(d, v.Item1, v.f, v.Item3, v.Item4); return d; });
        n += Fixed("NXT_PACKET_IN2", m, b => NxPacketIn.TryDecodePacketIn2(b, out var p, out _)
                       ? (true, (b[0], p.Fields, p.Packet.ToArray(), p.Metadata.ToArray(), p.UserData.ToArray())) : (false, default),
                   v =>
                   {
                       var d = new byte[NxPacketIn.PacketIn2Overhead + v.Item3.Length + v.Item4.Length + v.Item5.Length];
                       return d[..NxPacketIn.WritePacketIn2(d, v.Item1, v.Fields, v.Item4, v.Item3, v.Item5)];
                   });
        // Open vSwitch's asynchronous configuration and request forwarding before 1.4 (any version's header).
        n += Fixed("NXT_SET_ASYNC_CONFIG", m, b =>
        {
            var k = new uint[6];
            bool ok = NxPacketIn.TryReadSubtype(b, out uint st) && st == NxAsyncConfig.SetAsyncConfig && NxAsyncConfig.TryDecodeSetAsyncConfig(b, k, out _);
            return (ok, ok ? (b[0], Xid(b), k) : default);
        }, v => NxAsyncConfig.EncodeSetAsyncConfig(v.Item1, v.Item2, v.k));
        n += Fixed("NXT_SET_ASYNC_CONFIG2", m, b =>
        {
            var v = new Ofp14AsyncConfig();
            bool ok = NxPacketIn.TryReadSubtype(b, out uint st) && st == NxAsyncConfig.SetAsyncConfig2 && NxAsyncConfig.TryDecodeSetAsyncConfig2(b, v, out _);
            return (ok, v);
        }, v => NxAsyncConfig.EncodeSetAsyncConfig2(v.Version, v.Xid, v));
        n += Fixed("NXT/ONFT13_REQUESTFORWARD", m, b =>
        {
            bool ok = NxAsyncConfig.TryDecodeRequestForward(b, out int at, out int len);
            return (ok, ok ? (b[0], Xid(b), b.AsSpan(at, len).ToArray()) : default);
        }, v => NxAsyncConfig.EncodeRequestForward(v.Item1, v.Item3, v.Item2));
        refused = AsyncConfig2Refusal(m) || Refusal(m);
        n += Fixed("match", m, b => { var l = new List<Ofp13Oxm>(); return (Ofp13Match.TryDecode(b, l, out _, out _), l); },
                   l => Write(w => Ofp13Match.Encode(w, CollectionsMarshal.AsSpan(l))));
        n += Fixed("actions", m, b => { var l = new List<Ofp13Action>(); return (Ofp13Actions.TryDecode(b, l, out _), l); },
                   l => Write(w => Ofp13Actions.Encode(w, CollectionsMarshal.AsSpan(l))));
        n += Fixed("instructions", m, b => { var l = new List<Ofp13Instruction>(); return (Ofp13Instructions.TryDecode(b, l, out _), l); },
                   l => Write(w => Ofp13Instructions.Encode(w, l)));
        byte[] body = m.Length > Ofp13Multipart.HeaderSize ? m[Ofp13Multipart.HeaderSize..] : m;
        n += Fixed("flow stats request", body, b => { var r = new Ofp13FlowStatsRequest(); return (r.TryDecode(b, out _), r); }, r => r.Encode());
        n += Fixed("id request", body, b => { Ofp13IdRequest v = default; return (v.TryDecode(b, out _), v); }, v => v.Encode());
        n += Fixed("queue request", body, b => { Ofp13QueueRequest v = default; return (v.TryDecode(b, out _), v); }, v => v.Encode());
        n += Entries<Ofp13Desc>(body) + Entries<Ofp13FlowStats>(body) + Entries<Ofp13AggregateStats>(body) + Entries<Ofp13TableStats>(body)
           + Entries<Ofp13PortStats>(body) + Entries<Ofp13QueueStats>(body) + Entries<Ofp13GroupStats>(body) + Entries<Ofp13GroupDesc>(body)
           + Entries<Ofp13GroupFeatures>(body) + Entries<Ofp13MeterStats>(body) + Entries<Ofp13MeterConfig>(body)
           + Entries<Ofp13MeterFeatures>(body) + Entries<Ofp13TableFeatures>(body) + Entries<Ofp13PortDesc>(body);
        // OpenFlow 1.4's own layouts.
        n += Fixed("PORT_MOD 1.4", m, b => { Ofp14PortMod v = default; return (v.TryDecode(b, out _), v); }, v => v.Encode());
        n += Fixed("TABLE_MOD 1.4", m, b => { Ofp14TableMod v = default; return (v.TryDecode(b, out _), v); }, v => v.Encode());
        n += Fixed("SET_ASYNC 1.4", m, b => { var v = new Ofp14AsyncConfig(); return (v.TryDecode(b, out _), v); }, v => v.Encode());
        n += Fixed("REQUESTFORWARD 1.4", m, b =>
        {
            bool ok = Ofp14RequestForward.TryDecode(b, out int at, out int len, out byte reason, out _);
            return (ok, ok ? (b[0], Xid(b), reason, b.AsSpan(at, len).ToArray()) : default);
        }, v => Ofp14RequestForward.Encode(v.Item1, v.Item4, v.Item2));
        n += Fixed("ROLE_STATUS 1.4", m, b => { Ofp14RoleStatus v = default; return (v.TryDecode(b, out _), v); }, v => v.Encode());
        n += Fixed("queue desc request", body, b => { Ofp14QueueDescRequest v = default; return (v.TryDecode(b, out _), v); }, v => v.Encode());
        n += Entries<Ofp14PortDesc>(body) + Entries<Ofp14PortStats>(body) + Entries<Ofp14QueueStats>(body) + Entries<Ofp14QueueDesc>(body)
           + Entries<Ofp14TableDesc>(body) + Entries<Ofp14FlowUpdate>(body);
        // Flow monitors: 1.4's requests, and the ONF form's (1.3) after its experimenter header.
        n += Fixed("flow monitor requests", body, b => DecodeMonitors(b, onf: false), l => Write(w => { foreach (var r in l) r.Write(w); }));
        n += Fixed("ONF flow monitor requests", body.Length > 8 ? body[8..] : body, b => DecodeMonitors(b, onf: true),
                   l => Write(w => { foreach (var r in l) r.WriteOnf(w); }));
        // OpenFlow 1.5's own layouts.
        n += Fixed("PACKET_OUT 1.5", m, b => { var p = new Ofp15PacketOut(); return (p.TryDecode(b, out _), p); }, p => p.Encode());
        n += Fixed("GROUP_MOD 1.5", m, b => { var g = new Ofp15GroupMod(); return (g.TryDecode(b, out _), g); }, g => g.Encode());
        n += Fixed("ofp_stats", body, b => { bool ok = Ofp15Stats.TryRead(b, out var v, out int size, out _); return (ok && size == b.Length, v); },
                   v => Write(w => v.Write(w)));
        n += Entries<Ofp15FlowDesc>(body) + Entries<Ofp15AggregateStats>(body) + Entries<Ofp15GroupDesc>(body) + Entries<Ofp15ControllerStatus>(body);
        n += Fixed("CONTROLLER_STATUS 1.5", m, b => { bool ok = Ofp15ControllerStatus.TryDecodeMessage(b, out var v); return (ok, ok ? (b[0], Xid(b), v) : default); },
                   v => v.v!.Message(v.Item1, v.Item2));
        return n;
    }

    // The highest code of each error type, OFPET_HELLO_FAILED (0) to OFPET_TABLE_FEATURES_FAILED (13) (OpenFlow 1.3.5 7.4.4),
    // then 1.4's OFPET_BAD_PROPERTY (14), OFPET_ASYNC_CONFIG_FAILED (15) and OFPET_FLOW_MONITOR_FAILED (16), which only
    // 1.4 messages earn. 1.5 adds the group-mod codes UNKNOWN_BUCKET (15) and BUCKET_EXISTS (16).
    private static readonly ushort[] s_maxCode = [1, 13, 15, 8, 11, 7, 14, 4, 2, 2, 2, 2, 11, 5, 8, 2, 7];

    /// <summary>
    /// As 1.0's oracle: a message the switch receives and refuses names an error a request can earn (a 1.3 type other
    /// than HELLO_FAILED, a code of that type), and the error reply to it is whole: ERROR under the request's xid, its
    /// length true, the request's first 64 bytes as data.
    /// </summary>
    private static bool Refusal(byte[] m)
    {
        if (m.Length < 8) return false;
        Ofp13Error e;
        bool ok;
        bool of14 = m[0] >= Ofp13.Version14, of15 = Ofp15.Serves(m[0]);
        switch ((Ofp13Type)m[1])
        {
            case Ofp13Type.PacketOut when of15: ok = new Ofp15PacketOut().TryDecode(m, out e); break;
            case Ofp13Type.GroupMod when of15: ok = new Ofp15GroupMod().TryDecode(m, out e); break;
            case Ofp13Type.PortMod when of14: ok = default(Ofp14PortMod).TryDecode(m, out e); break;
            case Ofp13Type.TableMod when of14: ok = default(Ofp14TableMod).TryDecode(m, out e); break;
            case Ofp13Type.SetAsync when of14: ok = new Ofp14AsyncConfig().TryDecode(m, out e); break;
            case Ofp13Type.FlowMod: ok = new Ofp13FlowMod().TryDecode(m, out e); break;
            case Ofp13Type.PacketOut: ok = new Ofp13PacketOut().TryDecode(m, out e); break;
            case Ofp13Type.GroupMod: ok = new Ofp13GroupMod().TryDecode(m, out e); break;
            case Ofp13Type.MeterMod: ok = new Ofp13MeterMod().TryDecode(m, out e); break;
            case Ofp13Type.PortMod: ok = default(Ofp13PortMod).TryDecode(m, out e); break;
            case Ofp13Type.TableMod: ok = default(Ofp13TableMod).TryDecode(m, out e); break;
            case Ofp13Type.SetConfig: ok = default(Ofp13SwitchConfig).TryDecode(m, out e); break;
            case Ofp13Type.RoleRequest: ok = default(Ofp13RoleRequest).TryDecode(m, out e); break;
            case Ofp13Type.SetAsync: ok = default(Ofp13SetAsync).TryDecode(m, out e); break;
            case Ofp13Type.QueueGetConfigRequest: ok = default(Ofp13QueueGetConfigRequest).TryDecode(m, out e); break;
            case Ofp13Type.Experimenter when NxPacketIn.TryReadSubtype(m, out uint asyncSubtype) && asyncSubtype == NxAsyncConfig.SetAsyncConfig:
                ok = NxAsyncConfig.TryDecodeSetAsyncConfig(m, new uint[6], out e);
                break;
            case Ofp13Type.Experimenter when NxPacketIn.TryReadSubtype(m, out uint nxSubtype) && nxSubtype == NxPacketIn.SetPacketInFormat:
                ok = NxPacketIn.TryDecodeSetPacketInFormat(m, out _, out e);
                break;
            case Ofp13Type.MultipartRequest:
                Ofp13MultipartRequest request = default;
                ok = request.TryDecode(m, out e);
                if (ok && request.Type is Ofp13MultipartType.Flow or Ofp13MultipartType.Aggregate)
                {
                    ok = new Ofp13FlowStatsRequest().TryDecode(Ofp13MultipartRequest.Body(m), out e);
                }
                else if (ok && of14 && request.Type == Ofp14FlowMonitor.MultipartType)
                {
                    ok = Ofp14FlowMonitor.TryDecodeRequests(Ofp13MultipartRequest.Body(m), onf: false, [], out e);
                }
                break;
            default: return false;
        }
        if (ok) return false;
        string what = $"{(Ofp13Type)m[1]} refused with type {(ushort)e.Type} code {e.Code}";
        if ((ushort)e.Type is 0 || (ushort)e.Type >= (of14 ? 17 : 14)
            || e.Code > (of15 && e.Type == Ofp13ErrorType.GroupModFailed ? Ofp15.GroupBucketExists : s_maxCode[(ushort)e.Type]))
        {
            throw new InvalidOperationException($"{what}: not an error a request earns");
        }
        byte version = Ofp13.Serves(m[0]) ? m[0] : Ofp13.Version;
        byte[] reply = Ofp13Messages.Error(version, e, m);
        int data = Math.Min(m.Length, 64);
        if (reply.Length != 12 + data || reply[0] != version || reply[1] != 1 || BinaryPrimitives.ReadUInt16BigEndian(reply.AsSpan(2)) != reply.Length
            || BinaryPrimitives.ReadUInt32BigEndian(reply.AsSpan(4)) != Xid(m) || !reply.AsSpan(12).SequenceEqual(m.AsSpan(0, data)))
        {
            throw new InvalidOperationException($"{what}: the error reply is not whole: {Convert.ToHexString(reply)}");
        }
        return true;
    }

    /// <summary>
    /// Open vSwitch's NXT_SET_ASYNC_CONFIG2 under 1.3, which the switch refuses with Open vSwitch's 1.3 errors
    /// (<see cref="NxAsyncConfig.ErrorReply13"/>): an ONF1.3 experimenter error 2370 or 2371, a property's OF1.3(13,3), or
    /// BAD_REQUEST/BAD_LEN; the reply whole, under the request's xid, with its first 64 bytes as data.
    /// </summary>
    private static bool AsyncConfig2Refusal(byte[] m)
    {
        if (m.Length < 16 || m[0] != Ofp13.Version || !NxPacketIn.TryReadSubtype(m, out uint st) || st != NxAsyncConfig.SetAsyncConfig2) return false;
        if (NxAsyncConfig.TryDecodeSetAsyncConfig2(m, new Ofp14AsyncConfig(), out var e)) return false;
        byte[] reply = NxAsyncConfig.ErrorReply13(m[0], e, m);
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(reply.AsSpan(8)), code = BinaryPrimitives.ReadUInt16BigEndian(reply.AsSpan(10));
        bool onf = type == 0xffff;
        int data = Math.Min(m.Length, 64), at = onf ? 16 : 12;
        bool defined = onf ? code is NxAsyncConfig.OnfAsyncInvalid or NxAsyncConfig.OnfAsyncUnsupported
                             && BinaryPrimitives.ReadUInt32BigEndian(reply.AsSpan(12)) == NxAsyncConfig.OnfExperimenter
                           : (type, code) is (13, 3) or (1, Ofp13Codes.BadLen);
        if (!defined || reply.Length != at + data || reply[1] != 1 || BinaryPrimitives.ReadUInt16BigEndian(reply.AsSpan(2)) != reply.Length
            || BinaryPrimitives.ReadUInt32BigEndian(reply.AsSpan(4)) != Xid(m) || !reply.AsSpan(at).SequenceEqual(m.AsSpan(0, data)))
        {
            throw new InvalidOperationException($"NXT_SET_ASYNC_CONFIG2 refused with {e}: the error reply is not Open vSwitch's, whole: {Convert.ToHexString(reply)}");
        }
        return true;
    }

    /// <summary>
    /// A mutation of <paramref name="source"/>: 1-4 of bit flips, random bytes, truncation (header length kept true),
    /// growth with random bytes, a piece of <paramref name="other"/> spliced in; the version byte is <paramref name="version"/>.
    /// </summary>
    public static byte[] Mutate(byte[] source, byte[] other, Random rng, byte version = Ofp13.Version)
    {
        var m = new List<byte>(source);
        for (int k = rng.Next(1, 5); k > 0; k--)
        {
            switch (rng.Next(6))
            {
                case 0 when m.Count > 0: m[rng.Next(m.Count)] ^= (byte)(1 << rng.Next(8)); break;
                case 1 when m.Count > 0: m[rng.Next(m.Count)] = (byte)rng.Next(256); break;
                case 2:
                    int at = rng.Next(Math.Min(m.Count, 8), m.Count + 1);
                    m.RemoveRange(at, m.Count - at);
                    break;
                case 3: for (int i = rng.Next(1, 40); i > 0; i--) m.Add((byte)rng.Next(256)); break;
                case 4 when m.Count > 8 && other.Length > 0:
                    int from = rng.Next(other.Length), to = rng.Next(8, m.Count);
                    for (int i = 0; i < Math.Min(rng.Next(1, 32), Math.Min(other.Length - from, m.Count - to)); i++) m[to + i] = other[from + i];
                    break;
                default: // the first body bytes: types and lengths
                    if (m.Count >= 12) m[rng.Next(8, 12)] = (byte)rng.Next(256);
                    break;
            }
        }
        var r = m.ToArray();
        if (r.Length >= 4)
        {
            r[0] = version;
            r[2] = (byte)(Math.Min(r.Length, 0xffff) >> 8);
            r[3] = (byte)Math.Min(r.Length, 0xffff);
        }
        return r;
    }

    private static uint Xid(byte[] m) => m.Length >= 8 ? (uint)(m[4] << 24 | m[5] << 16 | m[6] << 8 | m[7]) : 0;

    private static int Entries<T>(byte[] body) where T : IOfp13Entry<T>
        => Fixed(typeof(T).Name, body, b => { var l = new List<T>(); return (Ofp13Entries.TryReadAll<T>(b, l), l); },
                 l => Write(w => { foreach (var e in l) e.Write(w); }));

    /// <summary>A bundle control message as decoded (its properties are skipped, so they are not part of it).</summary>
    public sealed record BundleControl(byte Version, uint Xid, uint Id, ushort Type, ushort Flags);

    /// <summary>A bundle add message as decoded: its bundle, flags and inner message (the xid is the inner message's).</summary>
    public sealed record BundleAdd(byte Version, uint Id, ushort Flags, byte[] Inner);

    private static (bool, List<Ofp14FlowMonitorRequest>) DecodeMonitors(byte[] b, bool onf)
    {
        var l = new List<Ofp14FlowMonitorRequest>();
        return (b.Length > 0 && Ofp14FlowMonitor.TryDecodeRequests(b, onf, l, out _), l);
    }

    private static (bool, BundleControl) DecodeBundleControl(byte[] b)
    {
        if (Ofp13Bundle.Kind(b) != Ofp13Bundle.Of14BundleControl || !Ofp13Bundle.TryDecodeControl(b, out uint id, out var type, out ushort flags, out _))
            return (false, null!);
        return (true, new BundleControl(b[0], BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(4)), id, (ushort)type, flags));
    }

    private static (bool, BundleAdd) DecodeBundleAdd(byte[] b)
    {
        if (Ofp13Bundle.Kind(b) != Ofp13Bundle.Of14BundleAddMessage || !Ofp13Bundle.TryDecodeAdd(b, out uint id, out ushort flags, out var inner, out _))
            return (false, null!);
        return (true, new BundleAdd(b[0], id, flags, inner.ToArray()));
    }

    /// <summary>
    /// A bundle message the codec refuses is refused with an OFPBFC code 1.4 defines (or a bad length), and the error
    /// answering it is whole in both forms: 1.4's OFPET_BUNDLE_FAILED and 1.3's ONF experimenter error.
    /// </summary>
    private static void BundleRefusal(byte[] m)
    {
        byte kind = Ofp13Bundle.Kind(m);
        if (kind == 0) return;
        bool ok = kind == Ofp13Bundle.Of14BundleControl
            ? Ofp13Bundle.TryDecodeControl(m, out _, out _, out _, out var error)
            : Ofp13Bundle.TryDecodeAdd(m, out _, out _, out _, out error);
        if (ok) return;
        if (error == Ofp13Error.BadLength) return;
        if (error.Type != (Ofp13ErrorType)Ofp13Bundle.Of14BundleFailed) throw new InvalidOperationException($"bundle refusal {error} is neither BAD_LEN nor a bundle error");
        if (error.Code > (ushort)Ofp13BundleError.BundleInProgress) throw new InvalidOperationException($"bundle refusal {error} is no OFPBFC code");
        foreach (byte version in new byte[] { 4, 5 })
        {
            var reply = Ofp13Messages.Error(version, error, m);
            int data = Math.Min(m.Length, 64), header = version >= 5 ? 12 : 16;
            bool whole = reply.Length == header + data && BinaryPrimitives.ReadUInt16BigEndian(reply.AsSpan(2)) == reply.Length
                && reply[1] == (byte)Ofp13Type.Error && reply.AsSpan(header).SequenceEqual(m.AsSpan(0, data))
                && BinaryPrimitives.ReadUInt32BigEndian(reply.AsSpan(4)) == BinaryPrimitives.ReadUInt32BigEndian(m.AsSpan(4));
            if (!whole) throw new InvalidOperationException($"bundle error reply malformed: {Convert.ToHexString(reply)}");
        }
    }

    private static byte[] Write(Action<Ofp13Writer> write)
    {
        var w = new Ofp13Writer();
        write(w);
        return w.ToArray();
    }

    private static int Fixed<T>(string name, byte[] input, Func<byte[], (bool Ok, T Value)> decode, Func<T, byte[]> encode)
    {
        var (ok, v) = decode(input);
        if (!ok) return 0;
        string first = Dump(v);
        byte[] e1 = encode(v);
        var (ok2, v2) = decode(e1);
        if (!ok2) throw new InvalidOperationException($"{name}: the re-encoded value does not decode: {Convert.ToHexString(e1)}");
        string second = Dump(v2);
        if (first != second) throw new InvalidOperationException($"{name}: decode(encode(decode(x))) differs:\n{first}\n{second}");
        byte[] e2 = encode(v2);
        if (!e1.AsSpan().SequenceEqual(e2)) throw new InvalidOperationException($"{name}: encoding is not stable: {Convert.ToHexString(e1)} then {Convert.ToHexString(e2)}");
        return 1;
    }

    /// <summary>A canonical text of a decoded value: public fields and properties, lists element by element, bytes as hex.</summary>
    public static string Dump(object? o)
    {
        var sb = new StringBuilder();
        Dump(o, sb, 0);
        return sb.ToString();
    }

    private static void Dump(object? o, StringBuilder sb, int depth)
    {
        if (depth > 12) throw new InvalidOperationException("value nests too deep");
        switch (o)
        {
            case null: sb.Append("null"); return;
            case string s: sb.Append('"').Append(s).Append('"'); return;
            case byte[] b: sb.Append(Convert.ToHexString(b)); return;
            case ReadOnlyMemory<byte> mem: sb.Append(Convert.ToHexString(mem.Span)); return;
            case IEnumerable list:
                sb.Append('[');
                foreach (var e in list)
                {
                    Dump(e, sb, depth + 1);
                    sb.Append(',');
                }
                sb.Append(']');
                return;
        }
        var t = o.GetType();
        if (t.IsPrimitive || t.IsEnum || o is UInt128)
        {
            sb.Append(o);
            return;
        }
        sb.Append('{');
        foreach (var f in t.GetFields(BindingFlags.Public | BindingFlags.Instance))
        {
            sb.Append(f.Name).Append('=');
            Dump(f.GetValue(o), sb, depth + 1);
            sb.Append(' ');
        }
        foreach (var p in t.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (p.GetIndexParameters().Length > 0 || p.Name == "EqualityContract") continue;
            sb.Append(p.Name).Append('=');
            Dump(p.GetValue(o), sb, depth + 1);
            sb.Append(' ');
        }
        sb.Append('}');
    }
}
