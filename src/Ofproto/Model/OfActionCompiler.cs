using Softswitch.Datapath.Actions;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Ports;

namespace Softswitch.Ofproto;

/// <summary>
/// <see cref="OfAction"/> lists ↔ the datapath's <see cref="FlowActions"/>, validated against the switch as the spec
/// asks: output to a port that does not exist is <see cref="OfError.BadOutPort"/> (Open vSwitch accepts it; the spec
/// does not), TABLE only in packet-out, a queue a port does not have <see cref="OfError.BadQueue"/>, an argument no
/// packet can take (a push TPID or ethertype the spec does not allow, a value wider than its field)
/// <see cref="OfError.BadArgument"/>. Prerequisites against the flow's match (set ipv6_src needs an IPv6 match, as
/// OpenFlow 1.3 asks) are the caller's, which has the match; at run time an action whose layer the packet lacks is a
/// no-op.
/// </summary>
/// <remarks>
/// Compiling allocates nothing when the list equals one of the <see cref="RecentListCount"/> lists the calling thread
/// compiled last: it is built in a per-thread scratch array and the equal immutable <see cref="FlowActions"/> is
/// returned (a controller's flow-mods repeat few action lists). Thread safety: the scratch state is per thread; the
/// lists returned are immutable and may be shared by any number of flows.
/// </remarks>
public static class OfActionCompiler
{
    /// <summary>Distinct action lists each thread keeps for reuse.</summary>
    public const int RecentListCount = 16;

    [ThreadStatic] private static FlowAction[]? s_scratch;
    [ThreadStatic] private static FlowActions[]? s_recent;
    [ThreadStatic] private static int s_recentNext;

    /// <summary>The datapath's list for <paramref name="actions"/>, or the reason it is refused.</summary>
    public static OfError TryCompile(ReadOnlySpan<OfAction> actions, PortTable ports, ActionContext context, int queuesPerPort, out FlowActions result)
        => TryCompile(actions, ports, context, queuesPerPort, PacketInOrigin.None, out result);

    /// <summary>
    /// As <see cref="TryCompile(ReadOnlySpan{OfAction}, PortTable, ActionContext, int, out FlowActions)"/>, with the
    /// flow the actions belong to (<paramref name="origin"/>): its outputs to the controller carry its cookie and table,
    /// and whether it is a table-miss flow entry, into the packet-ins they make. A group bucket's plain outputs to the
    /// controller are OFPR_GROUP's (<see cref="PacketInOrigin.Via"/>), whoever compiles it.
    /// </summary>
    public static OfError TryCompile(ReadOnlySpan<OfAction> actions, PortTable ports, ActionContext context, int queuesPerPort,
                                     in PacketInOrigin origin, out FlowActions result)
    {
        result = FlowActions.Drop;
        if (actions.Length == 0) return OfError.None;
        // A conjunction stands alone: checked before anything else, as Open vSwitch's ofpacts_verify runs before the
        // ports are checked.
        if (MixesConjunction(actions)) return OfError.BadConjunction;
        var items = s_scratch is { } sc && sc.Length >= actions.Length ? sc : s_scratch = new FlowAction[Math.Max(16, actions.Length)];
        List<byte[]>? data = null;
        int count = 0;
        var from = context == ActionContext.GroupBucket ? origin with { Via = OfPacketInReason.Group } : origin;
        var e = CompileList(actions, ports, context, queuesPerPort, from, ref items, ref count, ref data, 0, out _);
        s_scratch = items;
        if (e != OfError.None || count == 0) return e;
        result = Shared(items.AsSpan(0, count), data is null ? [] : [.. data]);
        return OfError.None;
    }

    /// <summary>The most clones nested in one another a list may hold.</summary>
    public const int MaxCloneDepth = 64;

    /// <summary>
    /// Compiles <paramref name="actions"/> into <paramref name="items"/> from <paramref name="count"/> (grown as needed):
    /// a clone is its marker (<see cref="FlowAction.CloneOf"/>) and then its actions, flat. <paramref name="exited"/>: an
    /// exit ended a packet-out's or a bucket's list here (the lists around it end too).
    /// </summary>
    private static OfError CompileList(ReadOnlySpan<OfAction> actions, PortTable ports, ActionContext context, int queuesPerPort,
                                       in PacketInOrigin origin, ref FlowAction[] items, ref int count, ref List<byte[]>? data, int depth,
                                       out bool exited)
    {
        exited = false;
        for (int i = 0; i < actions.Length; i++)
        {
            var a = actions[i];
            if (a.Type == OfActionType.Exit && context != ActionContext.FlowMod)
            {
                // A packet-out's or a bucket's list (the executor runs it, not the walk) simply ends here.
                exited = true;
                break;
            }
            if (a.Type == OfActionType.Clone)
            {
                // Its marker, then its actions; a conjunction in it is no clause of anything.
                var nested = a.Nested ?? [];
                if (depth >= MaxCloneDepth) return OfError.BadArgument;
                foreach (var x in nested)
                    if (x.Type == OfActionType.Conjunction) return OfError.BadConjunction;
                int at = count;
                Put(ref items, ref count, default);
                var ce = CompileList(nested, ports, context, queuesPerPort, origin, ref items, ref count, ref data, depth + 1, out exited);
                if (ce != OfError.None) return ce;
                items[at] = FlowAction.CloneOf(count - at - 1);
                if (exited) break;
                continue;
            }
            FlowAction f = default;
            switch (a.Type)
            {
                case OfActionType.Output:
                {
                    var e = CheckOutPort(a.Port, ports, context, out var dp);
                    if (e != OfError.None) return e;
                    f = dp == PortNumber.Controller ? FlowAction.OutputToController(a.MaxLen, origin.Cookie, origin.UserTag)
                                                          : FlowAction.Output(dp, a.MaxLen);
                    break;
                }
                case OfActionType.Enqueue:
                {
                    if (!OfPort.ToDatapath(a.Port, out var dp)) return OfError.BadOutPort;
                    if (a.Port != OfPort.InPort && ports.Get(dp) is null) return OfError.BadOutPort;
                    if (a.QueueId >= (uint)queuesPerPort) return OfError.BadQueue;
                    f = FlowAction.Enqueue(dp, a.QueueId);
                    break;
                }
                case OfActionType.SetVlanVid: f = FlowAction.SetVlanVid((ushort)a.Value); break;
                case OfActionType.SetVlanPcp: f = FlowAction.SetVlanPcp((byte)a.Value); break;
                case OfActionType.PopVlan: f = FlowAction.StripVlan(); break;
                case OfActionType.SetEthSrc: f = FlowAction.SetDlSrc(new MacAddress(a.Value)); break;
                case OfActionType.SetEthDst: f = FlowAction.SetDlDst(new MacAddress(a.Value)); break;
                case OfActionType.SetNwSrc: f = FlowAction.SetNwSrc((uint)a.Value); break;
                case OfActionType.SetNwDst: f = FlowAction.SetNwDst((uint)a.Value); break;
                case OfActionType.SetNwTos: f = FlowAction.SetNwTos((byte)a.Value); break;
                case OfActionType.SetTpSrc: f = FlowAction.SetTpSrc((ushort)a.Value, a.TpProto); break;
                case OfActionType.SetTpDst: f = FlowAction.SetTpDst((ushort)a.Value, a.TpProto); break;
                case OfActionType.SetTunnel: f = FlowAction.SetTunnel(a.Value); break;
                case OfActionType.SetQueue:
                    if (a.QueueId >= (uint)queuesPerPort) return OfError.BadQueue;
                    f = FlowAction.SetQueue(a.QueueId);
                    break;
                case OfActionType.Group: f = FlowAction.Group(a.QueueId); break;
                case OfActionType.Resubmit:
                {
                    // A flow's, a packet-out's or a group bucket's lookup again (the pipeline walk runs them; "this
                    // table" is table 0 in a packet-out, the applying rule's in a bucket). Any in_port may be looked up with.
                    if (a.QueueId > 0xff) return OfError.BadArgument;
                    ushort inPort = PortNumber.InPort;
                    if (a.Port != OfPort.InPort && !OfPort.ToDatapath(a.Port, out inPort)) return OfError.BadArgument;
                    f = FlowAction.Resubmit((byte)a.QueueId, inPort);
                    break;
                }
                case OfActionType.Exit:
                    f = FlowAction.Exit();
                    break;
                case OfActionType.Controller:
                {
                    if (a.Value > PacketInOrigin.MaxReason) return OfError.BadArgument;
                    ulong userData = origin.Cookie;
                    uint tag = origin.ControllerUserTag((byte)a.Value, (ushort)a.QueueId);
                    if (a.ControllerData.Length > 0 || a.IsController2)
                    {
                        // The userdata (and the cookie) ride as an interned entry's id: a packet-in copies nothing.
                        int id = ControllerUserData.Intern(origin.Cookie, a.ControllerData, a.IsController2);
                        if (id < 0) return OfError.BadArgument;
                        userData = (ulong)id;
                        tag |= PacketInOrigin.RecordBit;
                    }
                    f = FlowAction.OutputToController(a.MaxLen, userData, tag);
                    break;
                }
                case OfActionType.Note:
                    (data ??= []).Add(a.Data ?? []);
                    f = FlowAction.Note(data.Count - 1);
                    break;
                case OfActionType.FieldLoad:
                {
                    // Only the pipeline walk runs register actions: a flow's, and a packet-out's or a bucket's load into a
                    // packet field (the forwarder walks such a packet-out, and a group whose buckets load composes).
                    var dst = a.LoadDst;
                    if ((context != ActionContext.FlowMod && !OfSubfield.IsPacketField(dst.Field)) || !dst.IsValid || !OfSubfield.IsWritable(dst.Field)
                        || (a.Wide & ~dst.ValueMask) != 0)
                    {
                        return OfError.BadArgument;
                    }
                    f = FlowAction.FieldLoad(dst.ToDatapath(), a.Wide, a.LoadMarks);
                    break;
                }
                case OfActionType.FieldMove:
                {
                    var (src, dst) = (a.MoveSrc, a.MoveDst);
                    if (context != ActionContext.FlowMod || !src.IsValid || !dst.IsValid || !OfSubfield.IsWritable(dst.Field)) return OfError.BadArgument;
                    f = FlowAction.FieldMove(src.ToDatapath(), dst.ToDatapath());
                    break;
                }
                case OfActionType.Conjunction:
                    // Only conjunctions in the list (MixesConjunction), each a clause Open vSwitch takes.
                    if (a.ConjClauses is < 2 or > 64 || a.ConjClause >= a.ConjClauses) return OfError.BadConjunction;
                    f = FlowAction.Conjunction(a.QueueId, a.ConjClause, a.ConjClauses);
                    break;
                case OfActionType.Multipath:
                {
                    // Only the pipeline walk runs it; the links must fit the destination's bits (the codec checks the wire's).
                    var dst = a.MultipathDst;
                    if (context != ActionContext.FlowMod || !dst.IsValid || !OfSubfield.IsWritable(dst.Field) || a.MultipathFields > 6
                        || a.MultipathAlgorithm > 3 || (dst.Bits < 16 && a.MultipathMaxLink >> dst.Bits != 0))
                    {
                        return OfError.BadArgument;
                    }
                    f = FlowAction.Multipath(dst.ToDatapath(), a.MultipathFields, a.MultipathBasis, a.MultipathAlgorithm, a.MultipathMaxLink, a.MultipathArg);
                    break;
                }
                case OfActionType.Bundle:
                {
                    // A flow's pick is made by the pipeline walk, a packet-out's or a bucket's by the executor (each
                    // packet's key and the ports' liveness); a bundle_load's destination takes a port number (16 bits at
                    // least, as decode_bundle asks). Outside a flow only a packet field is written: registers,
                    // metadata and the tunnel id are the walk's, as for the other register actions there.
                    var dst = a.BundleDst;
                    var members = a.BundleMembers;
                    if (a.BundleFields > 6 || a.BundleAlgorithm > 1 || members.Length > 2048
                        || (dst is { } d && (!d.IsValid || !OfSubfield.IsWritable(d.Field) || d.Bits < 16
                                             || (context != ActionContext.FlowMod && !WritesPacketField(d.ToDatapath().Field)))))
                    {
                        return OfError.BadArgument;
                    }
                    foreach (ushort m in members)
                        if (m == 0xfffd || (m >= 0xff00 && m is not (0xfff8 or 0xfff9 or 0xfffa or 0xfffb or 0xfffc or 0xfffe or 0xffff))) return OfError.BadOutPort;
                    int id = BundleMembers.Register(members);
                    if (id < 0) return OfError.BadArgument;
                    f = FlowAction.Bundle(dst?.ToDatapath(), a.BundleFields, a.BundleBasis, a.BundleAlgorithm, id);
                    break;
                }
                case OfActionType.FinTimeout:
                    // The rule that holds it is lowered; in a bucket, the rule that applied the group; in a packet-out
                    // none (Open vSwitch's xlate_fin_timeout with no rule), so it does nothing there.
                    f = FlowAction.FinTimeout(a.FinIdle, a.FinHard);
                    break;
                case OfActionType.Sample:
                    // As Open vSwitch's check_SAMPLE: nothing more than the codec's (probability 0, a direction past egress).
                    if (a.SampleProbability == 0 || a.SampleDirection > 2) return OfError.BadArgument;
                    f = FlowAction.Sample(a.SampleProbability, a.SampleCollectorSetId, a.SampleObsDomainId, a.SampleObsPointId, a.SamplingPort,
                                          a.SampleDirection, a.SampleForm);
                    break;
                case OfActionType.OutputField:
                    if (context != ActionContext.FlowMod || !a.OutputSrc.IsValid) return OfError.BadArgument;
                    f = FlowAction.OutputField(a.OutputSrc.ToDatapath(), a.MaxLen);
                    break;
                case OfActionType.Learn:
                    // Only the pipeline walk runs a learn: a flow's, never a packet-out's or a bucket's.
                    if (context != ActionContext.FlowMod || a.LearnSpec is not { } learn || learn.Check() != OfError.None) return OfError.BadArgument;
                    f = FlowAction.Learn((int)a.QueueId);
                    break;
                default:
                {
                    var e = CompileOfp13(a, out f);
                    if (e != OfError.None) return e;
                    break;
                }
            }
            // A field set written as a load keeps that form (presentation only: nothing in the datapath reads it).
            if (a.SetFieldForm != OfAction.LoadFormSetField) f = f.WrittenAs(a.SetFieldForm);
            Put(ref items, ref count, f);
        }
        return OfError.None;
    }

    private static void Put(ref FlowAction[] items, ref int count, in FlowAction f)
    {
        if (count == items.Length) Array.Resize(ref items, items.Length * 2);
        items[count++] = f;
    }

    /// <summary>A conjunction beside an action of another kind (ofp-actions.c's ofpacts_verify refuses it).</summary>
    private static bool MixesConjunction(ReadOnlySpan<OfAction> actions)
    {
        int conj = 0;
        foreach (var a in actions)
            if (a.Type == OfActionType.Conjunction) conj++;
        return conj != 0 && conj != actions.Length;
    }

    /// <summary>The OpenFlow 1.1+ actions: range checks, then the datapath's action.</summary>
    private static OfError CompileOfp13(in OfAction a, out FlowAction f)
    {
        ulong v = a.Value;
        f = default;
        ulong max = a.Type switch
        {
            OfActionType.SetIpEcn => 3,
            OfActionType.SetIpv6Flabel or OfActionType.SetMplsLabel => 0xFFFFF,
            OfActionType.SetIcmpType or OfActionType.SetIcmpCode or OfActionType.SetMplsTtl or OfActionType.SetNwTtl => 0xFF,
            OfActionType.SetArpOp or OfActionType.SetEthType => 0xFFFF,
            OfActionType.SetIpProto => 0xFF,
            OfActionType.SetArpSpa or OfActionType.SetArpTpa => 0xFFFF_FFFF,
            OfActionType.SetArpSha or OfActionType.SetArpTha or OfActionType.SetNdSll or OfActionType.SetNdTll => 0xFFFF_FFFF_FFFF,
            OfActionType.SetMplsTc => 7,
            OfActionType.SetMplsBos => 1,
            OfActionType.SetPbbIsid => 0xFFFFFF,
            _ => ulong.MaxValue,
        };
        if (v > max) return OfError.BadArgument;
        switch (a.Type)
        {
            case OfActionType.SetIpEcn: f = FlowAction.SetIpEcn((byte)v); break;
            case OfActionType.SetIpv6Src: f = FlowAction.SetIpv6Src(a.Wide); break;
            case OfActionType.SetIpv6Dst: f = FlowAction.SetIpv6Dst(a.Wide); break;
            case OfActionType.SetIpv6Flabel: f = FlowAction.SetIpv6Flabel((uint)v); break;
            case OfActionType.SetIcmpType: f = FlowAction.SetIcmpType((byte)v, a.IsIcmpv6); break;
            case OfActionType.SetIcmpCode: f = FlowAction.SetIcmpCode((byte)v, a.IsIcmpv6); break;
            case OfActionType.SetArpOp: f = FlowAction.SetArpOp((ushort)v); break;
            case OfActionType.SetArpSpa: f = FlowAction.SetArpSpa((uint)v); break;
            case OfActionType.SetArpTpa: f = FlowAction.SetArpTpa((uint)v); break;
            case OfActionType.SetArpSha: f = FlowAction.SetArpSha(new MacAddress(v)); break;
            case OfActionType.SetArpTha: f = FlowAction.SetArpTha(new MacAddress(v)); break;
            case OfActionType.SetNdTarget: f = FlowAction.SetNdTarget(a.Wide); break;
            case OfActionType.SetNdSll: f = FlowAction.SetNdSll(new MacAddress(v)); break;
            case OfActionType.SetNdTll: f = FlowAction.SetNdTll(new MacAddress(v)); break;
            case OfActionType.SetMplsLabel: f = FlowAction.SetMplsLabel((uint)v); break;
            case OfActionType.SetMplsTc: f = FlowAction.SetMplsTc((byte)v); break;
            case OfActionType.SetMplsBos: f = FlowAction.SetMplsBos((byte)v); break;
            case OfActionType.SetPbbIsid: f = FlowAction.SetPbbIsid((uint)v); break;
            case OfActionType.SetEthType: f = FlowAction.SetEthType((ushort)v); break;
            case OfActionType.SetIpProto: f = FlowAction.SetIpProto((byte)v); break;
            case OfActionType.PushVlan:
                if (v is not (0x8100 or 0x88A8)) return OfError.BadArgument;
                f = FlowAction.PushVlan((ushort)v);
                break;
            case OfActionType.PushMpls:
                if (v is not (0x8847 or 0x8848)) return OfError.BadArgument;
                f = FlowAction.PushMpls((ushort)v);
                break;
            case OfActionType.PopMpls:
                if (v is < 0x0600 or > 0xFFFF) return OfError.BadArgument;
                f = FlowAction.PopMpls((ushort)v);
                break;
            case OfActionType.PushPbb:
                if (v != 0x88E7) return OfError.BadArgument;
                f = FlowAction.PushPbb();
                break;
            case OfActionType.PopPbb: f = FlowAction.PopPbb(); break;
            case OfActionType.SetMplsTtl: f = FlowAction.SetMplsTtl((byte)v); break;
            case OfActionType.DecMplsTtl: f = FlowAction.DecMplsTtl(); break;
            case OfActionType.SetNwTtl: f = FlowAction.SetNwTtl((byte)v); break;
            case OfActionType.DecNwTtl when a.TtlControllerIds is { } ids:
                // The ids live in the datapath's action itself: more than it holds is refused, not cut.
                if (ids.Length > FlowAction.MaxTtlControllerIds) return OfError.BadArgument;
                f = FlowAction.DecNwTtl(ids);
                break;
            case OfActionType.DecNwTtl: f = FlowAction.DecNwTtl(); break;
            case OfActionType.CopyTtlOut: f = FlowAction.CopyTtlOut(); break;
            case OfActionType.CopyTtlIn: f = FlowAction.CopyTtlIn(); break;
            default: return OfError.BadActionType;
        }
        return OfError.None;
    }

    /// <summary>The calling thread's recent list equal to <paramref name="items"/>, else a new one (then remembered).</summary>
    private static FlowActions Shared(ReadOnlySpan<FlowAction> items, byte[][] data)
    {
        var recent = s_recent ??= new FlowActions[RecentListCount];
        foreach (var r in recent)
            if (r is not null && items.SequenceEqual(r.Items) && FlowActions.SameData(data, r.Data)) return r;
        var list = new FlowActions(items.ToArray(), data);
        recent[s_recentNext] = list;
        s_recentNext = (s_recentNext + 1) % RecentListCount;
        return list;
    }

    /// <summary>Checks an output port against the switch's ports.</summary>
    /// <summary>Whether <paramref name="f"/> is a header field of the frame (what the executor writes outside the walk).</summary>
    private static bool WritesPacketField(PipelineField f) => f is >= PipelineField.EthSrc and <= PipelineField.ArpTha and not (PipelineField.EthType or PipelineField.IpProto);

    private static OfError CheckOutPort(uint port, PortTable ports, ActionContext context, out ushort dp)
    {
        dp = 0;
        switch (port)
        {
            case OfPort.InPort:
            case OfPort.Normal:
            case OfPort.Flood:
            case OfPort.All:
            case OfPort.Controller:
                OfPort.ToDatapath(port, out dp);
                return OfError.None;
            case OfPort.Local:
                if (ports.Local is null) return OfError.BadOutPort;
                dp = PortNumber.Local;
                return OfError.None;
            case OfPort.Table:
                if (context != ActionContext.PacketOut) return OfError.BadOutPort;
                dp = PortNumber.Table;
                return OfError.None;
            default:
                if (port == 0 || port >= PortNumber.Highest || ports.Get((ushort)port) is null) return OfError.BadOutPort;
                dp = (ushort)port;
                return OfError.None;
        }
    }

    /// <summary>Writes the OpenFlow layer's form of <paramref name="actions"/> into <paramref name="into"/> (at least as long); returns the count.</summary>
    public static int ToOfActions(FlowActions actions, Span<OfAction> into)
    {
        var items = actions.Items;
        int n = 0;
        for (int i = 0; i < items.Length; i++) into[n++] = ToOfAction(actions, ref i);
        return n;
    }

    /// <summary>The OpenFlow layer's form of item <paramref name="i"/> of <paramref name="actions"/>; a clone takes its
    /// actions with it (<paramref name="i"/> left at its last).</summary>
    private static OfAction ToOfAction(FlowActions actions, ref int i)
    {
        var a = actions.Items[i];
        if (a.Kind == ActionKind.Note) return OfAction.Note(actions.Data[a.QueueId]);
        if (a.Kind != ActionKind.Clone) return ToOfAction(a);
        int end = i + 1 + (int)a.QueueId;
        var nested = new List<OfAction>();
        for (i++; i < end; i++) nested.Add(ToOfAction(actions, ref i));
        i = end - 1;
        return OfAction.CloneOf([.. nested]);
    }

    /// <summary>A dec_ttl(ids)'s controller ids (<see cref="FlowAction.DecNwTtl(ReadOnlySpan{ushort})"/>).</summary>
    private static ushort[] TtlControllerIds(in FlowAction a)
    {
        var ids = new ushort[a.TtlControllerIdCount];
        for (int i = 0; i < ids.Length; i++) ids[i] = a.TtlControllerId(i);
        return ids;
    }

    /// <summary>
    /// The OpenFlow layer's form of <paramref name="a"/>, an action that keeps no data (a note's bytes are its list's:
    /// <see cref="ToOfActions"/>); a field set keeps the form it was written in.
    /// </summary>
    public static OfAction ToOfAction(in FlowAction a)
    {
        var o = Plain(a);
        return a.SetFieldForm != OfAction.LoadFormSetField ? o.WrittenAs(a.SetFieldForm) : o;
    }

    private static OfAction Plain(in FlowAction a) => a.Kind switch
    {
        ActionKind.Output when a.Port == PortNumber.Controller && PacketInOrigin.IsControllerAction((uint)a.Value2, out byte reason, out ushort id)
            => PacketInOrigin.HasRecord((uint)a.Value2) && ControllerUserData.Get(a.Value) is { } e
                ? OfAction.Controller(a.MaxLen, reason, id, e.UserData, e.Controller2)
                : OfAction.Controller(a.MaxLen, reason, id),
        ActionKind.Output => OfAction.Output(OfPort.FromDatapath(a.Port), a.MaxLen),
        ActionKind.Enqueue => OfAction.Enqueue(OfPort.FromDatapath(a.Port), a.QueueId),
        ActionKind.SetVlanVid => OfAction.SetVlanVid((ushort)a.Value),
        ActionKind.SetVlanPcp => OfAction.SetVlanPcp((byte)a.Value),
        ActionKind.StripVlan => OfAction.PopVlan(),
        ActionKind.SetDlSrc => OfAction.SetEthSrc(a.Value),
        ActionKind.SetDlDst => OfAction.SetEthDst(a.Value),
        ActionKind.SetNwSrc => OfAction.SetNwSrc((uint)a.Value),
        ActionKind.SetNwDst => OfAction.SetNwDst((uint)a.Value),
        ActionKind.SetNwTos => OfAction.SetNwTos((byte)a.Value),
        ActionKind.SetTpSrc => OfAction.SetTpSrc((ushort)a.Value, (byte)a.Value2),
        ActionKind.SetTpDst => OfAction.SetTpDst((ushort)a.Value, (byte)a.Value2),
        ActionKind.SetTunnel => OfAction.SetTunnel(a.Value),
        ActionKind.SetIpEcn => OfAction.SetIpEcn((byte)a.Value),
        ActionKind.SetIpv6Src => OfAction.SetIpv6Src(a.Wide),
        ActionKind.SetIpv6Dst => OfAction.SetIpv6Dst(a.Wide),
        ActionKind.SetIpv6Flabel => OfAction.SetIpv6Flabel((uint)a.Value),
        ActionKind.SetIcmpType => OfAction.SetIcmpType((byte)a.Value, a.IsIcmpv6),
        ActionKind.SetIcmpCode => OfAction.SetIcmpCode((byte)a.Value, a.IsIcmpv6),
        ActionKind.SetArpOp => OfAction.SetArpOp((ushort)a.Value),
        ActionKind.SetArpSpa => OfAction.SetArpSpa((uint)a.Value),
        ActionKind.SetArpTpa => OfAction.SetArpTpa((uint)a.Value),
        ActionKind.SetArpSha => OfAction.SetArpSha(a.Value),
        ActionKind.SetArpTha => OfAction.SetArpTha(a.Value),
        ActionKind.SetNdTarget => OfAction.SetNdTarget(a.Wide),
        ActionKind.SetNdSll => OfAction.SetNdSll(a.Value),
        ActionKind.SetNdTll => OfAction.SetNdTll(a.Value),
        ActionKind.SetMplsLabel => OfAction.SetMplsLabel((uint)a.Value),
        ActionKind.SetMplsTc => OfAction.SetMplsTc((byte)a.Value),
        ActionKind.SetMplsBos => OfAction.SetMplsBos((byte)a.Value),
        ActionKind.SetPbbIsid => OfAction.SetPbbIsid((uint)a.Value),
        ActionKind.SetEthType => OfAction.SetEthType((ushort)a.Value),
        ActionKind.SetIpProto => OfAction.SetIpProto((byte)a.Value),
        ActionKind.PushVlan => OfAction.PushVlan((ushort)a.Value),
        ActionKind.PushMpls => OfAction.PushMpls((ushort)a.Value),
        ActionKind.PopMpls => OfAction.PopMpls((ushort)a.Value),
        ActionKind.PushPbb => OfAction.PushPbb(),
        ActionKind.PopPbb => OfAction.PopPbb(),
        ActionKind.SetMplsTtl => OfAction.SetMplsTtl((byte)a.Value),
        ActionKind.DecMplsTtl => OfAction.DecMplsTtl(),
        ActionKind.SetNwTtl => OfAction.SetNwTtl((byte)a.Value),
        ActionKind.DecNwTtl when a.HasTtlControllerIds => OfAction.DecNwTtl(TtlControllerIds(a)),
        ActionKind.DecNwTtl => OfAction.DecNwTtl(),
        ActionKind.CopyTtlOut => OfAction.CopyTtlOut(),
        ActionKind.CopyTtlIn => OfAction.CopyTtlIn(),
        ActionKind.SetQueue => OfAction.SetQueue(a.QueueId),
        ActionKind.Group => OfAction.Group(a.QueueId),
        ActionKind.Exit => OfAction.Exit(),
        ActionKind.Conjunction => OfAction.Conjunction(a.ConjId, a.ConjClause, a.ConjClauses),
        ActionKind.Resubmit => OfAction.Resubmit((byte)a.QueueId, a.Port == PortNumber.InPort ? OfPort.InPort : OfPort.FromDatapath(a.Port)),
        ActionKind.FieldLoad => OfAction.FieldLoad(OfSubfield.FromDatapath(a.LoadDst), a.Wide, a.LoadForm),
        ActionKind.FieldMove => OfAction.FieldMove(OfSubfield.FromDatapath(a.MoveSrc), OfSubfield.FromDatapath(a.MoveDst)),
        ActionKind.OutputField => OfAction.OutputField(OfSubfield.FromDatapath(a.OutputSrc), a.MaxLen),
        ActionKind.Learn => new OfAction(OfActionType.Learn, QueueId: a.QueueId),
        ActionKind.Bundle => OfAction.Bundle((ushort)a.BundleFields, a.BundleBasis, (ushort)a.BundleAlgorithm, BundleMembers.Get(a.BundleMembersId),
                                             a.BundleHasDst ? OfSubfield.FromDatapath(a.BundleDst) : null),
        ActionKind.FinTimeout => OfAction.FinTimeout(a.FinIdle, a.FinHard),
        ActionKind.Sample => OfAction.Sample(a.SampleProbability, a.SampleCollectorSetId, a.SampleObsDomainId, a.SampleObsPointId, a.SamplingPort,
                                             a.SampleDirection, a.SampleForm),
        ActionKind.Multipath => OfAction.Multipath((ushort)a.MultipathFields, a.MultipathBasis, (ushort)a.MultipathAlgorithm, a.MultipathMaxLink,
                                                   a.MultipathArg, OfSubfield.FromDatapath(a.MultipathDst)),
        _ => throw new InvalidOperationException($"unknown action kind {a.Kind}"),
    };
}

/// <summary>
/// Where an action list's packet-ins come from: the flow's cookie and table, and whether the flow is a table-miss flow
/// entry (priority 0, matching everything: OpenFlow 1.3 reports its packet-ins as misses).
/// </summary>
/// <remarks>
/// The datapath carries it unread in its output-to-controller action and hands it back with the upcall: the cookie as
/// the user data, the table id and the table-miss flag as the user tag (<see cref="UserTag"/>, <see cref="FromUpcall"/>).
/// An Open vSwitch controller action adds its reason and controller id to the tag (<see cref="ControllerTag"/>); one with
/// userdata, or written as NXAST_CONTROLLER2, carries the id of a <see cref="ControllerUserData"/> entry in place of the
/// cookie (which the entry holds) and sets <see cref="RecordBit"/>.
/// A plain output to the controller port names in the tag where it is (<see cref="Via"/>): a flow's apply-actions, its
/// action set (write-actions) or a group's bucket, OpenFlow 1.4's OFPR_ACTION, OFPR_ACTION_SET and OFPR_GROUP; the
/// datapath tells a packet-out's upcalls apart itself (<c>UpcallReason.PacketOut</c>). All of it is fixed when the
/// actions are compiled: a packet-in costs nothing more.
/// Tag bits: 0-7 the table, 8 table-miss, 9 a controller action, 10-13 its reason (without bit 9: <see cref="Via"/>),
/// 14 the record bit, 16-31 its controller id.
/// </remarks>
/// <param name="Via">Where a plain output to the controller port is: <see cref="OfPacketInReason.Action"/> (apply-actions),
/// <see cref="OfPacketInReason.ActionSet"/> or <see cref="OfPacketInReason.Group"/>.</param>
public readonly record struct PacketInOrigin(ulong Cookie, byte TableId, bool TableMiss, OfPacketInReason Via = OfPacketInReason.Action)
{
    /// <summary>In <see cref="UserTag"/>: the flow is a table-miss flow entry.</summary>
    private const uint TableMissBit = 0x100;
    /// <summary>In a user tag: the output is Open vSwitch's controller action (reason and controller id above it).</summary>
    private const uint ControllerBit = 0x200;

    /// <summary>
    /// The largest reason a controller action may give (packet_out: OpenFlow 1.4's OFPR_* of Open vSwitch's
    /// ofp_packet_in_reason, each mapped to what an older version carries when the packet-in goes out).
    /// </summary>
    public const byte MaxReason = 5;

    /// <summary>In a controller action's tag: the user data is a <see cref="ControllerUserData"/> entry's id, not the cookie.</summary>
    public const uint RecordBit = 0x4000;

    /// <summary>The tag bits of a controller action's <paramref name="reason"/> and controller <paramref name="id"/>.</summary>
    public static uint ControllerTag(byte reason, ushort id) => ControllerBit | (uint)(reason & 0xf) << 10 | (uint)id << 16;

    /// <summary>Whether <paramref name="userTag"/> is a controller action's whose user data is a <see cref="ControllerUserData"/> id.</summary>
    public static bool HasRecord(uint userTag) => (userTag & (ControllerBit | RecordBit)) == (ControllerBit | RecordBit);

    /// <summary>Whether <paramref name="userTag"/> is a controller action's, and its reason and controller id.</summary>
    public static bool IsControllerAction(uint userTag, out byte reason, out ushort id)
    {
        reason = (byte)((userTag >> 10) & 0xf);
        id = (ushort)(userTag >> 16);
        return (userTag & ControllerBit) != 0;
    }

    /// <summary>Actions of no flow (a packet-out's): cookie -1, as OpenFlow 1.3.5 section 7.4.1 asks.</summary>
    public static PacketInOrigin None => new(ulong.MaxValue, 0, false);

    /// <summary>In a user tag: the reason bits (a controller action's reason, else <see cref="Via"/>).</summary>
    private const uint ReasonBits = 0xf << 10;

    /// <summary>
    /// The user tag of the datapath's output-to-controller action: the table id, the table-miss bit and, unless it is
    /// apply-actions, <see cref="Via"/>.
    /// </summary>
    /// <remarks>Cookie 0 in table 0 is user data 0 and tag 0, what a plain output to the controller port carries.</remarks>
    public uint UserTag => (TableMiss ? TableMissBit : 0) | TableId | (Via == OfPacketInReason.Action ? 0 : (uint)Via << 10);

    /// <summary>
    /// <paramref name="userTag"/> (an output to the controller's, as compiled) for that output where the action set runs
    /// it from a rule's list (a rule the set's resubmit, or a resubmit in its group's buckets, reached): an apply-actions
    /// output becomes the action set's, as Open vSwitch's in_action_set makes it; a bucket's or an action set's own output,
    /// and Open vSwitch's controller action (which names its reason), stay as they are.
    /// </summary>
    public static uint InActionSet(uint userTag)
        => (userTag & ControllerBit) != 0 || (userTag & ReasonBits) != 0 ? userTag : userTag | (uint)OfPacketInReason.ActionSet << 10;

    /// <summary>The user tag of a controller action with <paramref name="reason"/> and controller <paramref name="id"/> of this origin (its own reason, not <see cref="Via"/>).</summary>
    public uint ControllerUserTag(byte reason, ushort id) => (UserTag & ~ReasonBits) | ControllerTag(reason, id);

    /// <summary>The origin an upcall's user data and tag carry back (the cookie from the entry when the tag has <see cref="RecordBit"/>).</summary>
    public static PacketInOrigin FromUpcall(ulong userData, uint userTag)
    {
        var via = (userTag & ControllerBit) == 0 && (userTag & ReasonBits) != 0 ? (OfPacketInReason)((userTag & ReasonBits) >> 10) : OfPacketInReason.Action;
        return new(HasRecord(userTag) ? ControllerUserData.Get(userData)?.Cookie ?? 0 : userData, (byte)userTag, (userTag & TableMissBit) != 0, via);
    }
}
