using System.Runtime.InteropServices;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Ports;

namespace Softswitch.Datapath.Actions;

/// <summary>
/// The datapath's action kinds (the controller protocols map their action types to these explicitly; the values
/// are the datapath's own and mean nothing on any wire).
/// </summary>
public enum ActionKind : byte
{
    Output,
    /// <summary>Output through one of a port's transmit queues.</summary>
    Enqueue,
    StripVlan,
    SetVlanVid,
    SetVlanPcp,
    SetDlSrc,
    SetDlDst,
    SetNwSrc,
    SetNwDst,
    SetNwTos,
    SetTpSrc,
    SetTpDst,
    /// <summary>Sets the tunnel id used when a later output encapsulates.</summary>
    SetTunnel,

    // ---- OpenFlow 1.3 set-field (OXM) targets beyond OpenFlow 1.0's
    /// <summary>The two ECN bits of IPv4's TOS or IPv6's traffic class (Value = ecn, 2 bits).</summary>
    SetIpEcn,
    /// <summary>IPv6 source (<see cref="FlowAction.Wide"/>), L4 checksums over the pseudo-header fixed.</summary>
    SetIpv6Src,
    SetIpv6Dst,
    /// <summary>IPv6 flow label (Value, 20 bits).</summary>
    SetIpv6Flabel,
    /// <summary>ICMP or ICMPv6 type (Value, 8 bits), checksum fixed.</summary>
    SetIcmpType,
    SetIcmpCode,
    /// <summary>ARP opcode (Value, 16 bits).</summary>
    SetArpOp,
    /// <summary>ARP sender/target protocol address (Value, IPv4 host order).</summary>
    SetArpSpa,
    SetArpTpa,
    /// <summary>ARP sender/target hardware address (Value, MAC layout).</summary>
    SetArpSha,
    SetArpTha,
    /// <summary>Neighbour discovery target (<see cref="FlowAction.Wide"/>), ICMPv6 checksum fixed.</summary>
    SetNdTarget,
    /// <summary>ND source/target link-layer address option (Value, MAC layout), when the message carries the option.</summary>
    SetNdSll,
    SetNdTll,
    /// <summary>Top MPLS label stack entry's label (20 bits), traffic class (3 bits), bottom-of-stack (1 bit).</summary>
    SetMplsLabel,
    SetMplsTc,
    SetMplsBos,
    /// <summary>802.1ah I-SID (Value, 24 bits).</summary>
    SetPbbIsid,
    /// <summary>The ethertype after the VLAN tags (Value, 16 bits).</summary>
    SetEthType,
    /// <summary>IPv4's protocol (header checksum fixed) or IPv6's last next header (Value, 8 bits).</summary>
    SetIpProto,

    // ---- OpenFlow 1.1+ actions
    /// <summary>Push a VLAN tag (Value = TPID, 0x8100 or 0x88a8); VID and PCP copied from the outer tag, else 0.</summary>
    PushVlan,
    /// <summary>Push an MPLS label stack entry (Value = ethertype, 0x8847 or 0x8848).</summary>
    PushMpls,
    /// <summary>Pop the top MPLS label stack entry (Value = the ethertype written in its place).</summary>
    PopMpls,
    /// <summary>Push an 802.1ah I-tag (with backbone addresses copied from the customer's).</summary>
    PushPbb,
    /// <summary>Pop the backbone header (everything before the customer's addresses).</summary>
    PopPbb,
    /// <summary>Set the top MPLS entry's TTL (Value, 8 bits).</summary>
    SetMplsTtl,
    /// <summary>Decrement the top MPLS entry's TTL; a TTL that would reach 0 is an invalid-TTL packet.</summary>
    DecMplsTtl,
    /// <summary>Set the IPv4 TTL (header checksum fixed) or IPv6 hop limit (Value, 8 bits).</summary>
    SetNwTtl,
    /// <summary>Decrement the IPv4 TTL or IPv6 hop limit; a TTL that would reach 0 is an invalid-TTL packet.</summary>
    DecNwTtl,
    /// <summary>Copy the TTL from the next-to-outermost header (MPLS entry or IP) to the outermost MPLS entry.</summary>
    CopyTtlOut,
    /// <summary>Copy the TTL from the outermost MPLS entry to the next-to-outermost header (MPLS entry or IP).</summary>
    CopyTtlIn,
    /// <summary>Set the queue the later outputs of this list send through (<see cref="FlowAction.QueueId"/>).</summary>
    SetQueue,
    /// <summary>Apply group <see cref="FlowAction.QueueId"/> (the group id) from the executor's group table.</summary>
    Group,
    /// <summary>
    /// Run the packets through meter <see cref="FlowAction.QueueId"/> of the executor's meter table: a drop band takes
    /// the packets past its rate out of the batch, a DSCP-remark band raises their drop precedence. Never written by a
    /// controller as an action: the pipeline puts a rule's meter instruction before its apply-actions.
    /// </summary>
    Meter,
    /// <summary>
    /// The pipeline's metadata for the packet-ins of the outputs to the controller after it (Value). Never written by a
    /// controller: a multi-table verdict puts it before such an output when earlier tables wrote metadata.
    /// </summary>
    PacketInMetadata,
    /// <summary>
    /// Ends a multi-table verdict's list where the packet's headers changed and the pipeline goes on with the packet
    /// parsed anew (QueueId: the table it goes on in). Changes nothing itself, but counts as a change: outputs and
    /// groups before it work on copies, since later tables may rewrite the packet. Never written by a controller.
    /// </summary>
    Recirculate,
    /// <summary>
    /// Look the packet up again in table <see cref="FlowAction.QueueId"/> (255: the table of the rule that holds it) as
    /// if it came in on <see cref="FlowAction.Port"/> (<see cref="Ports.PortNumber.InPort"/>: its own), run what
    /// that lookup finds, then go on with the rest of this list (Open vSwitch's resubmit). Only the pipeline walk runs
    /// it: it composes the found rule's actions in its place, so the executor never meets one.
    /// </summary>
    Resubmit,
    /// <summary>
    /// Open vSwitch's exit: no action after it runs, in this list, in the lists of the resubmits around it or in later
    /// tables; the action set still does. Only the pipeline walk runs it (it composes nothing after it).
    /// </summary>
    Exit,
    /// <summary>
    /// Open vSwitch's load (a set_field of a register): <see cref="FlowAction.LoadDst"/> set to <see cref="FlowAction.Wide"/>.
    /// Only the pipeline walk runs it: a register is written in its register file, a packet field becomes the set-field
    /// action that rewrites it.
    /// </summary>
    FieldLoad,
    /// <summary>
    /// Open vSwitch's move: <see cref="FlowAction.MoveDst"/> set to the bits of <see cref="FlowAction.MoveSrc"/>, each a
    /// register or a packet field. Only the pipeline walk runs it, as <see cref="FieldLoad"/>.
    /// </summary>
    FieldMove,
    /// <summary>
    /// Open vSwitch's output_reg: an output to the port numbered by <see cref="FlowAction.OutputSrc"/>'s bits (MaxLen as an
    /// output's). Only the pipeline walk runs it: it composes the output to that port.
    /// </summary>
    OutputField,
    /// <summary>
    /// Open vSwitch's conjunction(id, k/n): the rule that holds it is clause <see cref="FlowAction.ConjClause"/> (0-based) of
    /// <see cref="FlowAction.ConjClauses"/> of conjunctive match <see cref="FlowAction.QueueId"/>. Not an action a packet
    /// runs: a rule whose list holds only these is a clause its table's lookup combines (docs/datapath.md, "Conjunctive
    /// matches"); the walk composes nothing for it.
    /// </summary>
    Conjunction,
    /// <summary>
    /// Open vSwitch's learn: template <see cref="FlowAction.QueueId"/> of <see cref="LearnTemplates"/>. Only the pipeline
    /// walk runs it: it reads the template's fields and composes a <see cref="LearnRequest"/> with their values.
    /// </summary>
    Learn,
    /// <summary>
    /// A learn as a composed list carries it: template <see cref="FlowAction.QueueId"/>, the values read
    /// (<see cref="FlowAction.MaxLen"/> <see cref="LearnValue"/> items right after it), its <see cref="LearnState"/>
    /// (<see cref="FlowAction.Port"/>, an index into <see cref="FlowActions.LearnStates"/>). The executor hands it to the
    /// sink once per batch, which posts the request for the layer above to install the learned flow.
    /// </summary>
    LearnRequest,
    /// <summary>One value of the <see cref="LearnRequest"/> before it (<see cref="FlowAction.Wide"/>); does nothing itself.</summary>
    LearnValue,
    /// <summary>
    /// Open vSwitch's note: does nothing to the packet. <see cref="FlowAction.QueueId"/> indexes the note's bytes in the
    /// list's <see cref="FlowActions.Data"/>, kept to be reported as given. The walk composes nothing for it; the executor
    /// skips it.
    /// </summary>
    Note,
    /// <summary>
    /// Open vSwitch's clone: the <see cref="FlowAction.QueueId"/> items right after it run on a copy of the packets (its
    /// own action set, key and register changes; the packets go on after them as they were). A flow's clone is composed by
    /// the pipeline walk (its actions composed as any, its action set appended to them); the executor runs the items on
    /// copies, or on the packets themselves when nothing follows them in the list.
    /// </summary>
    Clone,
    /// <summary>
    /// Open vSwitch's multipath: the link a hash of the packet's fields picks (<see cref="Actions.Multipath"/>) loaded
    /// into <see cref="FlowAction.MultipathDst"/>. Only the pipeline walk runs it, as <see cref="FieldLoad"/>: the link
    /// depends on the key alone.
    /// </summary>
    Multipath,
    /// <summary>
    /// Open vSwitch's bundle and bundle_load: the member a bundle algorithm picks among the live ports of a list
    /// (<see cref="Actions.Bundle"/>), output to (<see cref="FlowAction.BundleHasDst"/> false) or loaded into
    /// <see cref="FlowAction.BundleDst"/>. Only the pipeline walk runs it: the pick depends on the key and on which
    /// ports are live, which a verdict that holds it records (docs/datapath.md, "Bundle").
    /// </summary>
    Bundle,
    /// <summary>
    /// Open vSwitch's fin_timeout: a TCP packet with FIN or RST lowers the idle and hard timeouts of the rule that holds
    /// it (<see cref="FlowAction.FinIdle"/>, <see cref="FlowAction.FinHard"/>). The pipeline walk composes it with the
    /// visit of that rule (<see cref="FlowAction.FinVisit"/>); the executor asks the sink to signal the rule for the
    /// packets that carry either flag (docs/datapath.md, "Fin timeout").
    /// </summary>
    FinTimeout,
    /// <summary>
    /// A group whose buckets the pipeline walk composed (a bucket holds a resubmit: docs/datapath.md, "Resubmit"): group
    /// <see cref="FlowAction.QueueId"/>, the <see cref="FlowAction.Value"/> items right after it its buckets in the
    /// group's order, each a <see cref="Bucket"/> marker and its composed items; <see cref="FlowAction.GroupVisit"/> as a
    /// composed group's. The executor picks the buckets as for <see cref="Group"/> (type, hash, liveness, counters) and
    /// runs each picked bucket's composed items in place of its list.
    /// </summary>
    ComposedGroup,
    /// <summary>One bucket of the <see cref="ComposedGroup"/> around it: the <see cref="FlowAction.QueueId"/> items right after it.</summary>
    Bucket,
    /// <summary>
    /// Open vSwitch's sample: each packet of the batch, with probability <see cref="FlowAction.SampleProbability"/> out of
    /// 65535, is handed (its first bytes as they are at this point of the list, and the action's ids) to its forwarding
    /// thread's flow sampler, whose ring the host's per-flow IPFIX exporter drains. The packet goes
    /// on unchanged (docs/datapath.md, "Sample").
    /// </summary>
    Sample,
}

/// <summary>
/// One action, flat: the kind and its arguments. Arrays of these are executed once per flow-batch.
/// </summary>
/// <remarks>
/// Arguments by kind: Output: <see cref="Port"/> (a <see cref="Ports.PortNumber"/>), <see cref="MaxLen"/> (bytes sent to the controller);
/// Enqueue: Port, <see cref="QueueId"/>; SetVlanVid: Value = vid (12 bits); SetVlanPcp: Value = pcp (3 bits);
/// SetDlSrc/Dst: Value = MAC (48 bits, <see cref="Flow.MacAddress"/> layout); SetNwSrc/Dst: Value = IPv4 host order;
/// SetNwTos: Value = tos byte (DSCP bits, low two bits zero; IPv4 TOS or IPv6 traffic class); SetTpSrc/Dst: Value = port
/// (TCP, UDP or SCTP; Value2 the IP protocol the rewrite named, reported back, not used to rewrite); SetTunnel: Value = tunnel id. The 128-bit arguments (IPv6 addresses, ND target) use
/// <see cref="Value"/> for the low and <see cref="Value2"/> for the high 64 bits (<see cref="Wide"/>); SetQueue, Group and
/// Meter carry their id in <see cref="QueueId"/>. The struct stays 32 bytes, flat, so a list is one array of values.
/// Immutable. The datapath has no text form of actions: the host prints them (ovs-ofctl's syntax).
/// </remarks>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct FlowAction(ActionKind Kind, ushort Port, ushort MaxLen, uint QueueId, ulong Value, ulong Value2 = 0)
{
    /// <summary>The 128-bit argument: <see cref="Value2"/> high, <see cref="Value"/> low.</summary>
    public UInt128 Wide => new(Value2, Value);

    private static FlowAction Of(ActionKind k, ulong v) => new(k, 0, 0, 0, v);
    private static FlowAction Of(ActionKind k, UInt128 v) => new(k, 0, 0, 0, (ulong)v, (ulong)(v >> 64));

    public static FlowAction Output(ushort port, ushort maxLen = 0) => new(ActionKind.Output, port, maxLen, 0, 0);

    /// <summary>
    /// An output to the controller carrying the layer above's opaque <paramref name="userData"/> (Value) and
    /// <paramref name="userTag"/> (Value2), handed back unread with each upcall it makes (<c>Upcall</c>),
    /// as Open vSwitch's userspace action carries its userdata. A plain output to the controller port carries 0 and 0.
    /// </summary>
    public static FlowAction OutputToController(ushort maxLen, ulong userData, uint userTag)
        => new(ActionKind.Output, Ports.PortNumber.Controller, maxLen, 0, userData, userTag);
    public static FlowAction Enqueue(ushort port, uint queueId) => new(ActionKind.Enqueue, port, 0, queueId, 0);
    public static FlowAction SetVlanVid(ushort vid) => new(ActionKind.SetVlanVid, 0, 0, 0, vid);
    public static FlowAction SetVlanPcp(byte pcp) => new(ActionKind.SetVlanPcp, 0, 0, 0, pcp);
    public static FlowAction StripVlan() => new(ActionKind.StripVlan, 0, 0, 0, 0);
    public static FlowAction SetDlSrc(Flow.MacAddress mac) => new(ActionKind.SetDlSrc, 0, 0, 0, mac.Value);
    public static FlowAction SetDlDst(Flow.MacAddress mac) => new(ActionKind.SetDlDst, 0, 0, 0, mac.Value);
    public static FlowAction SetNwSrc(uint ip) => new(ActionKind.SetNwSrc, 0, 0, 0, ip);
    public static FlowAction SetNwDst(uint ip) => new(ActionKind.SetNwDst, 0, 0, 0, ip);
    public static FlowAction SetNwTos(byte tos) => new(ActionKind.SetNwTos, 0, 0, 0, tos);
    /// <summary>Sets the L4 source port of whatever transport the packet carries; <paramref name="ipProto"/> (in Value2) is the
    /// transport the rewrite was asked for (6, 17, 132; 0: unsaid), kept to be reported as given.</summary>
    public static FlowAction SetTpSrc(ushort port, byte ipProto = 0) => new(ActionKind.SetTpSrc, 0, 0, 0, port, ipProto);
    /// <summary>The destination twin of <see cref="SetTpSrc"/>.</summary>
    public static FlowAction SetTpDst(ushort port, byte ipProto = 0) => new(ActionKind.SetTpDst, 0, 0, 0, port, ipProto);
    public static FlowAction SetTunnel(ulong tunId) => new(ActionKind.SetTunnel, 0, 0, 0, tunId);
    public static FlowAction PacketInMetadata(ulong metadata) => new(ActionKind.PacketInMetadata, 0, 0, 0, metadata);
    /// <summary>The end of a verdict's list that goes on in table <paramref name="table"/> after a re-parse (<see cref="ActionKind.Recirculate"/>).</summary>
    public static FlowAction Recirculate(int table) => new(ActionKind.Recirculate, 0, 0, (uint)table, 0);

    public static FlowAction SetIpEcn(byte ecn) => Of(ActionKind.SetIpEcn, (ulong)(ecn & 3));
    public static FlowAction SetIpv6Src(UInt128 ip) => Of(ActionKind.SetIpv6Src, ip);
    public static FlowAction SetIpv6Dst(UInt128 ip) => Of(ActionKind.SetIpv6Dst, ip);
    public static FlowAction SetIpv6Flabel(uint label) => Of(ActionKind.SetIpv6Flabel, label & 0xFFFFF);
    /// <summary>
    /// Sets the ICMP type of whichever ICMP the packet carries; <paramref name="icmpv6"/> (<see cref="Port"/> 1): the layer
    /// above named ICMPv6's field, kept to be reported as given, never read here.
    /// </summary>
    public static FlowAction SetIcmpType(byte type, bool icmpv6 = false) => new(ActionKind.SetIcmpType, icmpv6 ? (ushort)1 : (ushort)0, 0, 0, type);
    /// <summary>The code twin of <see cref="SetIcmpType"/>.</summary>
    public static FlowAction SetIcmpCode(byte code, bool icmpv6 = false) => new(ActionKind.SetIcmpCode, icmpv6 ? (ushort)1 : (ushort)0, 0, 0, code);
    /// <summary>An ICMP set (<see cref="SetIcmpType"/>, <see cref="SetIcmpCode"/>) given for ICMPv6's field.</summary>
    public bool IsIcmpv6 => Kind is ActionKind.SetIcmpType or ActionKind.SetIcmpCode && Port == 1;
    public static FlowAction SetArpOp(ushort op) => Of(ActionKind.SetArpOp, op);
    public static FlowAction SetArpSpa(uint ip) => Of(ActionKind.SetArpSpa, ip);
    public static FlowAction SetArpTpa(uint ip) => Of(ActionKind.SetArpTpa, ip);
    public static FlowAction SetArpSha(Flow.MacAddress mac) => Of(ActionKind.SetArpSha, mac.Value);
    public static FlowAction SetArpTha(Flow.MacAddress mac) => Of(ActionKind.SetArpTha, mac.Value);
    public static FlowAction SetNdTarget(UInt128 ip) => Of(ActionKind.SetNdTarget, ip);
    public static FlowAction SetNdSll(Flow.MacAddress mac) => Of(ActionKind.SetNdSll, mac.Value);
    public static FlowAction SetNdTll(Flow.MacAddress mac) => Of(ActionKind.SetNdTll, mac.Value);
    public static FlowAction SetMplsLabel(uint label) => Of(ActionKind.SetMplsLabel, label & 0xFFFFF);
    public static FlowAction SetMplsTc(byte tc) => Of(ActionKind.SetMplsTc, (ulong)(tc & 7));
    public static FlowAction SetMplsBos(byte bos) => Of(ActionKind.SetMplsBos, (ulong)(bos & 1));
    public static FlowAction SetPbbIsid(uint isid) => Of(ActionKind.SetPbbIsid, isid & 0xFFFFFF);
    public static FlowAction SetEthType(ushort ethType) => Of(ActionKind.SetEthType, ethType);
    public static FlowAction SetIpProto(byte proto) => Of(ActionKind.SetIpProto, proto);
    public static FlowAction PushVlan(ushort tpid) => Of(ActionKind.PushVlan, tpid);
    public static FlowAction PopVlan() => StripVlan();
    public static FlowAction PushMpls(ushort ethType) => Of(ActionKind.PushMpls, ethType);
    public static FlowAction PopMpls(ushort ethType) => Of(ActionKind.PopMpls, ethType);
    public static FlowAction PushPbb() => Of(ActionKind.PushPbb, 0x88E7);
    public static FlowAction PopPbb() => Of(ActionKind.PopPbb, 0);
    public static FlowAction SetMplsTtl(byte ttl) => Of(ActionKind.SetMplsTtl, ttl);
    public static FlowAction DecMplsTtl() => Of(ActionKind.DecMplsTtl, 0);
    public static FlowAction SetNwTtl(byte ttl) => Of(ActionKind.SetNwTtl, ttl);
    public static FlowAction DecNwTtl() => Of(ActionKind.DecNwTtl, 0);

    /// <summary>The most controller ids a <see cref="DecNwTtl(ReadOnlySpan{ushort})"/> holds (they live in the action itself).</summary>
    public const int MaxTtlControllerIds = 10;

    /// <summary>
    /// A dec_ttl whose invalid-TTL packets go to the controllers of ids <paramref name="ids"/>, one packet-in per id (Open
    /// vSwitch's dec_ttl(id,...)): <see cref="Port"/> 1 marks the form, <see cref="MaxLen"/> counts the ids, packed 16 bits
    /// each into <see cref="Value"/> (0-3), <see cref="Value2"/> (4-7) and <see cref="QueueId"/> (8-9). At most
    /// <see cref="MaxTtlControllerIds"/>.
    /// </summary>
    public static FlowAction DecNwTtl(ReadOnlySpan<ushort> ids)
    {
        if (ids.Length > MaxTtlControllerIds) ThrowHelper.Argument(nameof(ids));
        ulong v = 0, v2 = 0;
        uint q = 0;
        for (int i = 0; i < ids.Length; i++)
        {
            if (i < 4) v |= (ulong)ids[i] << (16 * i);
            else if (i < 8) v2 |= (ulong)ids[i] << (16 * (i - 4));
            else q |= (uint)ids[i] << (16 * (i - 8));
        }
        return new(ActionKind.DecNwTtl, 1, (ushort)ids.Length, q, v, v2);
    }

    /// <summary>A <see cref="ActionKind.DecNwTtl"/> that names its packet-ins' controller ids (<see cref="DecNwTtl(ReadOnlySpan{ushort})"/>).</summary>
    public bool HasTtlControllerIds => Kind == ActionKind.DecNwTtl && Port == 1;

    /// <summary>The number of controller ids of a <see cref="DecNwTtl(ReadOnlySpan{ushort})"/> (0 for a plain dec_ttl).</summary>
    public int TtlControllerIdCount => HasTtlControllerIds ? MaxLen : 0;

    /// <summary>Controller id <paramref name="i"/> (below <see cref="TtlControllerIdCount"/>) of a <see cref="DecNwTtl(ReadOnlySpan{ushort})"/>.</summary>
    public ushort TtlControllerId(int i)
        => (ushort)(i < 4 ? Value >> (16 * i) : i < 8 ? Value2 >> (16 * (i - 4)) : QueueId >> (16 * (i - 8)));
    public static FlowAction CopyTtlOut() => Of(ActionKind.CopyTtlOut, 0);
    public static FlowAction CopyTtlIn() => Of(ActionKind.CopyTtlIn, 0);
    public static FlowAction SetQueue(uint queueId) => new(ActionKind.SetQueue, 0, 0, queueId, 0);
    /// <summary>
    /// Group <paramref name="groupId"/>. <paramref name="visit"/>: 0 in a rule's list; in a composed list, one more than
    /// the visit of the rule whose actions apply the group (a fin_timeout in its buckets lowers that rule).
    /// </summary>
    public static FlowAction Group(uint groupId, int visit = 0) => new(ActionKind.Group, 0, 0, groupId, 0, (ulong)(uint)visit);
    /// <summary>A composed <see cref="ActionKind.Group"/>'s rule visit plus one (0: not composed).</summary>
    public int GroupVisit => (int)(uint)Value2;
    public static FlowAction Meter(uint meterId) => new(ActionKind.Meter, 0, 0, meterId, 0);
    /// <summary>A resubmit to <paramref name="table"/> (255: this table) as if received on <paramref name="inPort"/> (<see cref="Ports.PortNumber.InPort"/>: its own port).</summary>
    public static FlowAction Resubmit(byte table, ushort inPort = Ports.PortNumber.InPort) => new(ActionKind.Resubmit, inPort, 0, table, 0);
    /// <summary>A note whose bytes are <see cref="FlowActions.Data"/>[<paramref name="index"/>] (<see cref="ActionKind.Note"/>).</summary>
    public static FlowAction Note(int index) => new(ActionKind.Note, 0, 0, (uint)index, 0);
    /// <summary>
    /// multipath(fields,basis,algorithm,maxLink+1,arg,dst) (<see cref="ActionKind.Multipath"/>): <paramref name="fields"/>
    /// an NX_HASH_FIELDS_* value, <paramref name="algorithm"/> an NX_MP_ALG_* one (<see cref="Actions.Multipath"/>).
    /// </summary>
    public static FlowAction Multipath(FieldRef dst, int fields, ushort basis, int algorithm, ushort maxLink, uint arg)
        => new(ActionKind.Multipath, (ushort)dst.Field, (ushort)dst.Ofs, (uint)dst.Bits | (uint)fields << 8 | (uint)algorithm << 16,
               basis | (ulong)maxLink << 16 | (ulong)arg << 32);
    /// <summary>A <see cref="ActionKind.Multipath"/>'s destination.</summary>
    public FieldRef MultipathDst => new((PipelineField)Port, MaxLen, (int)(QueueId & 0xFF));
    /// <summary>A <see cref="ActionKind.Multipath"/>'s NX_HASH_FIELDS_* value.</summary>
    public int MultipathFields => (int)((QueueId >> 8) & 0xFF);
    /// <summary>A <see cref="ActionKind.Multipath"/>'s NX_MP_ALG_* value.</summary>
    public int MultipathAlgorithm => (int)((QueueId >> 16) & 0xFF);
    /// <summary>A <see cref="ActionKind.Multipath"/>'s hash basis.</summary>
    public ushort MultipathBasis => (ushort)Value;
    /// <summary>A <see cref="ActionKind.Multipath"/>'s number of links less one.</summary>
    public ushort MultipathMaxLink => (ushort)(Value >> 16);
    /// <summary>A <see cref="ActionKind.Multipath"/>'s argument (iter_hash's modulus).</summary>
    public uint MultipathArg => (uint)(Value >> 32);

    /// <summary>
    /// bundle(fields,basis,algorithm,ofport,members:...) (<see cref="ActionKind.Bundle"/>), or bundle_load into
    /// <paramref name="dst"/> when it is not null: <paramref name="fields"/> an NX_HASH_FIELDS_* value,
    /// <paramref name="algorithm"/> an NX_BD_ALG_* one, <paramref name="membersId"/> the member list's id in
    /// <see cref="BundleMembers"/>.
    /// </summary>
    public static FlowAction Bundle(FieldRef? dst, int fields, ushort basis, int algorithm, int membersId)
        => new(ActionKind.Bundle, (ushort)(dst?.Field ?? 0), (ushort)(dst?.Ofs ?? 0),
               (uint)(dst?.Bits ?? 0) | (uint)fields << 8 | (uint)algorithm << 16 | (dst is null ? 0u : 1u << 24),
               basis | (ulong)(uint)membersId << 16);
    /// <summary>A <see cref="ActionKind.Bundle"/> that loads its pick (bundle_load) rather than outputs to it.</summary>
    public bool BundleHasDst => (QueueId >> 24) != 0;
    /// <summary>A bundle_load's destination.</summary>
    public FieldRef BundleDst => new((PipelineField)Port, MaxLen, (int)(QueueId & 0xFF));
    /// <summary>A <see cref="ActionKind.Bundle"/>'s NX_HASH_FIELDS_* value.</summary>
    public int BundleFields => (int)((QueueId >> 8) & 0xFF);
    /// <summary>A <see cref="ActionKind.Bundle"/>'s NX_BD_ALG_* value.</summary>
    public int BundleAlgorithm => (int)((QueueId >> 16) & 0xFF);
    /// <summary>A <see cref="ActionKind.Bundle"/>'s hash basis.</summary>
    public ushort BundleBasis => (ushort)Value;
    /// <summary>A <see cref="ActionKind.Bundle"/>'s member list id (<see cref="BundleMembers"/>).</summary>
    public int BundleMembersId => (int)(uint)(Value >> 16);

    /// <summary>
    /// fin_timeout(idle_timeout=<paramref name="idle"/>,hard_timeout=<paramref name="hard"/>) (<see cref="ActionKind.FinTimeout"/>;
    /// 0: that timeout untouched). <paramref name="visit"/>: 0 in a rule's list; in a composed list, one more than the
    /// visit (<see cref="Classifier.PipelineVerdict.Hits"/>) of the rule that holds it.
    /// </summary>
    public static FlowAction FinTimeout(ushort idle, ushort hard, int visit = 0) => new(ActionKind.FinTimeout, idle, hard, (uint)visit, 0);
    /// <summary>A <see cref="ActionKind.FinTimeout"/>'s idle timeout, seconds (0: untouched).</summary>
    public ushort FinIdle => Port;
    /// <summary>A <see cref="ActionKind.FinTimeout"/>'s hard timeout, seconds (0: untouched).</summary>
    public ushort FinHard => MaxLen;
    /// <summary>A composed <see cref="ActionKind.FinTimeout"/>'s visit plus one (0: not composed).</summary>
    public int FinVisit => (int)QueueId;

    /// <summary>
    /// sample(probability=<paramref name="probability"/>,...) (<see cref="ActionKind.Sample"/>): <paramref name="samplingPort"/>
    /// a 16-bit OpenFlow port number (0xffff: none) and <paramref name="direction"/> (0 default, 1 ingress, 2 egress) are
    /// carried to the exporter unread; <paramref name="form"/> is the layer above's (the wire form), never read here.
    /// </summary>
    public static FlowAction Sample(ushort probability, uint collectorSetId, uint obsDomainId, uint obsPointId, ushort samplingPort, byte direction, byte form = 0)
        => new(ActionKind.Sample, samplingPort, probability, collectorSetId, obsDomainId | (ulong)obsPointId << 32, direction | (ulong)form << 8);
    /// <summary>A <see cref="ActionKind.Sample"/>'s probability: packets sampled out of 65535.</summary>
    public ushort SampleProbability => MaxLen;
    /// <summary>A <see cref="ActionKind.Sample"/>'s collector set id.</summary>
    public uint SampleCollectorSetId => QueueId;
    /// <summary>A <see cref="ActionKind.Sample"/>'s observation domain id.</summary>
    public uint SampleObsDomainId => (uint)Value;
    /// <summary>A <see cref="ActionKind.Sample"/>'s observation point id.</summary>
    public uint SampleObsPointId => (uint)(Value >> 32);
    /// <summary>A <see cref="ActionKind.Sample"/>'s sampling port (a 16-bit OpenFlow port number; 0xffff: none).</summary>
    public ushort SamplingPort => Port;
    /// <summary>A <see cref="ActionKind.Sample"/>'s direction (0 default, 1 ingress, 2 egress).</summary>
    public byte SampleDirection => (byte)Value2;
    /// <summary>A <see cref="ActionKind.Sample"/>'s wire form (the layer above's).</summary>
    public byte SampleForm => (byte)(Value2 >> 8);

    /// <summary>A clone of the <paramref name="count"/> items after it (<see cref="ActionKind.Clone"/>).</summary>
    public static FlowAction CloneOf(int count) => new(ActionKind.Clone, 0, 0, (uint)count, 0);
    /// <summary>
    /// Group <paramref name="groupId"/> with its buckets composed in the <paramref name="count"/> items after it
    /// (<see cref="ActionKind.ComposedGroup"/>); a select group's bucket the walk picked, <paramref name="pick"/>
    /// (<see cref="NoBucketPicked"/>: none live; <see cref="NotPicked"/>: every bucket composed, the executor picks).
    /// </summary>
    public static FlowAction ComposedGroupOf(uint groupId, int visit, int count, int pick = NotPicked)
        => new(ActionKind.ComposedGroup, 0, 0, groupId, (ulong)(uint)count, (ulong)(uint)visit | (ulong)(uint)(pick + 2) << 32);
    /// <summary>A <see cref="ActionKind.ComposedGroup"/>'s <see cref="ComposedPick"/> when the walk picked no bucket.</summary>
    public const int NotPicked = -2;
    /// <summary>A <see cref="ActionKind.ComposedGroup"/>'s <see cref="ComposedPick"/> when the walk found no live bucket to pick.</summary>
    public const int NoBucketPicked = -1;
    /// <summary>A <see cref="ActionKind.ComposedGroup"/>'s picked bucket (a select group's, picked by the walk), or
    /// <see cref="NoBucketPicked"/>, or <see cref="NotPicked"/>.</summary>
    public int ComposedPick => (int)(uint)(Value2 >> 32) - 2;
    /// <summary>A composed bucket of the <paramref name="count"/> items after it (<see cref="ActionKind.Bucket"/>).</summary>
    public static FlowAction BucketOf(int count) => new(ActionKind.Bucket, 0, 0, (uint)count, 0);
    /// <summary>Ends the pipeline's actions here (<see cref="ActionKind.Exit"/>).</summary>
    public static FlowAction Exit() => new(ActionKind.Exit, 0, 0, 0, 0);
    /// <summary>A learn of template <paramref name="templateId"/> (<see cref="ActionKind.Learn"/>).</summary>
    public static FlowAction Learn(int templateId) => new(ActionKind.Learn, 0, 0, (uint)templateId, 0);
    /// <summary>A composed learn request (<see cref="ActionKind.LearnRequest"/>) of <paramref name="values"/> values, its state <paramref name="state"/>.</summary>
    public static FlowAction LearnRequest(int templateId, int values, int state) => new(ActionKind.LearnRequest, (ushort)state, (ushort)values, (uint)templateId, 0);
    /// <summary>One value of a learn request (<see cref="ActionKind.LearnValue"/>).</summary>
    public static FlowAction LearnValue(UInt128 v) => Of(ActionKind.LearnValue, v);

    /// <summary>Clause <paramref name="clause"/> (0-based, below <paramref name="clauses"/>) of conjunctive match <paramref name="id"/> (<see cref="ActionKind.Conjunction"/>).</summary>
    public static FlowAction Conjunction(uint id, byte clause, byte clauses) => new(ActionKind.Conjunction, (ushort)(clause | clauses << 8), 0, id, 0);
    /// <summary>A <see cref="ActionKind.Conjunction"/>'s id.</summary>
    public uint ConjId => QueueId;
    /// <summary>A <see cref="ActionKind.Conjunction"/>'s clause, 0-based (Open vSwitch's text shows it plus one).</summary>
    public byte ConjClause => (byte)Port;
    /// <summary>A <see cref="ActionKind.Conjunction"/>'s number of clauses (2..64).</summary>
    public byte ConjClauses => (byte)(Port >> 8);

    /// <summary>
    /// Sets <paramref name="dst"/> to <paramref name="value"/> (right-aligned, <see cref="ActionKind.FieldLoad"/>);
    /// <paramref name="form"/> is the layer above's (how the action was written, to be reported as given), never read here.
    /// </summary>
    public static FlowAction FieldLoad(FieldRef dst, UInt128 value, byte form = 0)
        => new(ActionKind.FieldLoad, (ushort)dst.Field, (ushort)dst.Ofs, (uint)dst.Bits | (uint)form << 8,
               (ulong)(value & dst.ValueMask), (ulong)((value & dst.ValueMask) >> 64));

    /// <summary>A <see cref="ActionKind.FieldLoad"/>'s form (see <see cref="FieldLoad"/>).</summary>
    public byte LoadForm => (byte)(QueueId >> 8);

    /// <summary>An action that sets one whole packet field (set_field's kinds and OpenFlow 1.0's mod_* ones, nw_ttl among them).</summary>
    public bool IsFieldSet => Kind is ActionKind.SetVlanVid or ActionKind.SetVlanPcp or ActionKind.SetDlSrc or ActionKind.SetDlDst
        or ActionKind.SetNwSrc or ActionKind.SetNwDst or ActionKind.SetNwTos or ActionKind.SetTpSrc or ActionKind.SetTpDst or ActionKind.SetTunnel
        or ActionKind.SetIpEcn or ActionKind.SetIpv6Src or ActionKind.SetIpv6Dst or ActionKind.SetIpv6Flabel or ActionKind.SetIcmpType
        or ActionKind.SetIcmpCode or ActionKind.SetArpOp or ActionKind.SetArpSpa or ActionKind.SetArpTpa or ActionKind.SetArpSha
        or ActionKind.SetArpTha or ActionKind.SetNdTarget or ActionKind.SetNdSll or ActionKind.SetNdTll or ActionKind.SetMplsLabel
        or ActionKind.SetMplsTc or ActionKind.SetMplsBos or ActionKind.SetPbbIsid or ActionKind.SetEthType or ActionKind.SetIpProto
        or ActionKind.SetNwTtl;

    /// <summary>
    /// A field set's form (<see cref="IsFieldSet"/>; 0 for any other action): the layer above's (how the action was
    /// written, to be reported as given), never read here: the rewrite, the plan's fusion and an offload target's
    /// encoding ignore it.
    /// </summary>
    public byte SetFieldForm => IsFieldSet ? LoadForm : (byte)0;

    /// <summary>This field set (<see cref="IsFieldSet"/>) with form <paramref name="form"/> (see <see cref="SetFieldForm"/>).</summary>
    public FlowAction WrittenAs(byte form) => IsFieldSet ? this with { QueueId = (uint)form << 8 } : this;

    /// <summary>Copies <paramref name="src"/> into <paramref name="dst"/> (<see cref="ActionKind.FieldMove"/>; equal widths).</summary>
    public static FlowAction FieldMove(FieldRef src, FieldRef dst)
        => new(ActionKind.FieldMove, (ushort)src.Field, (ushort)src.Ofs, (uint)src.Bits | (uint)dst.Field << 8 | (uint)dst.Ofs << 16, 0);

    /// <summary>Outputs to the port <paramref name="src"/>'s bits name (<see cref="ActionKind.OutputField"/>).</summary>
    public static FlowAction OutputField(FieldRef src, ushort maxLen = 0)
        => new(ActionKind.OutputField, (ushort)src.Field, maxLen, (uint)src.Bits | (uint)src.Ofs << 8, 0);

    /// <summary>A <see cref="ActionKind.FieldLoad"/>'s destination.</summary>
    public FieldRef LoadDst => new((PipelineField)Port, MaxLen, (int)(QueueId & 0xFF));
    /// <summary>A <see cref="ActionKind.FieldMove"/>'s source.</summary>
    public FieldRef MoveSrc => new((PipelineField)Port, MaxLen, (int)(QueueId & 0xFF));
    /// <summary>A <see cref="ActionKind.FieldMove"/>'s destination.</summary>
    public FieldRef MoveDst => new((PipelineField)((QueueId >> 8) & 0xFF), (int)(QueueId >> 16), (int)(QueueId & 0xFF));
    /// <summary>An <see cref="ActionKind.OutputField"/>'s source.</summary>
    public FieldRef OutputSrc => new((PipelineField)Port, (int)(QueueId >> 8), (int)(QueueId & 0xFF));

    public bool IsOutput => Kind is ActionKind.Output or ActionKind.Enqueue;
    /// <summary>The action changes packet bytes (outputs before it must send copies).</summary>
    public bool ModifiesPacket => Kind == ActionKind.Bundle ? BundleHasDst : Kind is not (ActionKind.Output or ActionKind.Enqueue or ActionKind.SetTunnel or ActionKind.SetQueue or ActionKind.Group
                                               or ActionKind.Resubmit or ActionKind.Exit or ActionKind.FieldLoad or ActionKind.FieldMove
                                               or ActionKind.OutputField or ActionKind.Conjunction or ActionKind.Learn or ActionKind.LearnRequest or ActionKind.LearnValue
                                               or ActionKind.Note or ActionKind.Clone or ActionKind.Multipath or ActionKind.Bundle
                                               or ActionKind.FinTimeout or ActionKind.ComposedGroup or ActionKind.Bucket or ActionKind.Sample);
}

/// <summary>
/// An immutable action list with facts precomputed once per flow-mod so the hot path never re-derives them.
/// </summary>
/// <remarks>
/// Design: <see cref="Items"/> is run in order once per flow-batch. <see cref="ModifiedAfter"/>[i] is true when
/// some action after i changes packet bytes: an output at i must then send a copy, otherwise it can share the
/// buffer (reference counted). An empty list means drop. Never mutated after construction: a MODIFY flow-mod
/// swaps the whole object on the flow entry. The executor runs <see cref="Plan"/>, the items with some runs fused
/// (<see cref="ActionPlan"/>), compiled here once; everything else (printing, translating, interning) reads the items.
/// </remarks>
public sealed class FlowActions
{
    public static readonly FlowActions Drop = new([]);

    public readonly FlowAction[] Items;
    /// <summary>
    /// The byte strings the list's actions keep for the layer above (a note's bytes), indexed by the action's
    /// <see cref="FlowAction.QueueId"/>; empty for most lists. Never read on the packet path.
    /// </summary>
    public readonly byte[][] Data;
    public readonly bool[] ModifiedAfter;
    /// <summary>Some action sends to the controller.</summary>
    public readonly bool HasController;
    /// <summary>Number of output/enqueue actions.</summary>
    public readonly int OutputCount;
    /// <summary>
    /// Every action is a <see cref="ActionKind.Conjunction"/> (and there is one): the rule is a clause of conjunctive
    /// matches, which its table's lookup combines (Open vSwitch's "soft" match), never a rule a packet runs.
    /// </summary>
    public readonly bool IsConjunctive;
    /// <summary>The smallest <see cref="FlowAction.ConjClauses"/> of a conjunctive list (0 for any other).</summary>
    public readonly byte MinConjClauses;
    /// <summary>Some action is a <see cref="ActionKind.Resubmit"/>, an <see cref="ActionKind.Exit"/>, a register action
    /// (<see cref="ActionKind.FieldLoad"/>, <see cref="ActionKind.FieldMove"/>, <see cref="ActionKind.OutputField"/>,
    /// <see cref="ActionKind.Multipath"/>, <see cref="ActionKind.Bundle"/>), a <see cref="ActionKind.FinTimeout"/> or a
    /// <see cref="ActionKind.Learn"/>: only the multi-stage pipeline walk runs such a list. A
    /// <see cref="ActionKind.Conjunction"/> too: only the walk's lookups combine clauses; and a <see cref="ActionKind.Clone"/>,
    /// whose key, register and action-set changes only the walk keeps apart.</summary>
    public readonly bool NeedsWalk;
    /// <summary>One state per <see cref="ActionKind.LearnRequest"/> of the list (null: none), by the request's <see cref="FlowAction.Port"/>.</summary>
    public readonly LearnState[]? LearnStates;
    /// <summary>What the executor runs: <see cref="Items"/> itself, or a shorter list with fused steps (<see cref="ActionPlan"/>).</summary>
    internal readonly FlowAction[] Plan;
    /// <summary><see cref="ModifiedAfter"/> for <see cref="Plan"/> (the same array when nothing fused).</summary>
    internal readonly bool[] PlanModifiedAfter;
    /// <summary>
    /// The port when the list is exactly one output to a numbered port (<see cref="Ports.PortNumber.IsNumbered"/>),
    /// else 0: a forwarder queues such a flow's packets for that port as it classifies them, with no flow-batch.
    /// </summary>
    internal readonly ushort SoleOutput;
    /// <summary>
    /// The last action is a <see cref="ActionKind.Resubmit"/> outside every clone's body: nothing of the list runs after
    /// what it composes, so the pipeline walk takes it as a step of its loop rather than a nested lookup.
    /// </summary>
    internal readonly bool EndsInResubmit;
    /// <summary>
    /// The port when the plan is one or more steps that only rewrite the packet (<see cref="ActionExecutor.IsRewrite"/>)
    /// then one output to a numbered port, else 0: a forwarder runs such a list on each packet as it classifies it
    /// (<see cref="ActionExecutor.RewriteOne"/>) and queues the packet for that port, with no flow-batch, as it does a
    /// <see cref="SoleOutput"/>'s.
    /// </summary>
    internal readonly ushort RewriteOutput;

    public FlowActions(FlowAction[] items) : this(items, [], fuse: true) { }

    /// <summary>A list whose actions keep <paramref name="data"/> (see <see cref="Data"/>).</summary>
    public FlowActions(FlowAction[] items, byte[][] data) : this(items, data, fuse: true) { }

    /// <summary>A list whose plan is its items as they are when <paramref name="fuse"/> is false (to check the fused
    /// plan against).</summary>
    internal FlowActions(FlowAction[] items, bool fuse) : this(items, [], fuse) { }

    private FlowActions(FlowAction[] items, byte[][] data, bool fuse)
    {
        Items = items;
        Data = data;
        ModifiedAfter = new bool[items.Length];
        bool modified = false;
        for (int i = items.Length - 1; i >= 0; i--)
        {
            ModifiedAfter[i] = modified;
            if (items[i].ModifiesPacket) modified = true;
            if (items[i].Kind is ActionKind.Resubmit or ActionKind.Exit or ActionKind.FieldLoad or ActionKind.FieldMove or ActionKind.OutputField
                or ActionKind.Conjunction or ActionKind.Learn or ActionKind.Clone or ActionKind.Multipath or ActionKind.Bundle
                or ActionKind.FinTimeout)
            {
                NeedsWalk = true;
            }
            if (items[i].IsOutput)
            {
                OutputCount++;
                if (items[i].Port == PortNumber.Controller) HasController = true;
            }
        }
        if (items.Length != 0 && Array.TrueForAll(items, static a => a.Kind == ActionKind.Conjunction))
        {
            IsConjunctive = true;
            MinConjClauses = byte.MaxValue;
            foreach (var a in items) MinConjClauses = Math.Min(MinConjClauses, a.ConjClauses);
        }
        int learns = 0;
        foreach (var a in items)
            if (a.Kind == ActionKind.LearnRequest) learns = Math.Max(learns, a.Port + 1);
        if (learns > 0)
        {
            LearnStates = new LearnState[learns];
            for (int i = 0; i < learns; i++) LearnStates[i] = new LearnState();
        }
        if (items.Length != 0 && items[^1].Kind == ActionKind.Resubmit)
        {
            EndsInResubmit = true;
            for (int i = 0; i < items.Length - 1; i++)
                if (items[i].Kind == ActionKind.Clone && i + (long)items[i].QueueId >= items.Length - 1) EndsInResubmit = false;
        }
        (Plan, PlanModifiedAfter) = fuse ? ActionPlan.Compile(items, ModifiedAfter) : (items, ModifiedAfter);
        if (Plan.Length == 0 || Plan[^1].Kind != ActionKind.Output || !Ports.PortNumber.IsNumbered(Plan[^1].Port)) return;
        if (Plan.Length == 1)
        {
            SoleOutput = Plan[0].Port;
            return;
        }
        for (int i = 0; i < Plan.Length - 1; i++)
            if (!ActionExecutor.IsRewrite(Plan[i].Kind)) return;
        RewriteOutput = Plan[^1].Port;
    }

    public int Count => Items.Length;

    /// <summary>Whether <paramref name="a"/> and <paramref name="b"/> (lists' <see cref="Data"/>) hold the same byte strings.</summary>
    public static bool SameData(byte[][] a, byte[][] b)
    {
        if (a.Length != b.Length) return false;
        for (int i = 0; i < a.Length; i++)
            if (!a[i].AsSpan().SequenceEqual(b[i])) return false;
        return true;
    }

    public bool OutputsTo(ushort port)
    {
        foreach (var a in Items)
            if (a.IsOutput && a.Port == port) return true;
        return false;
    }

    /// <summary>Whether the list applies group <paramref name="groupId"/>.</summary>
    public bool AppliesGroup(uint groupId)
    {
        foreach (var a in Items)
            if (a.Kind == ActionKind.Group && a.QueueId == groupId) return true;
        return false;
    }
}
