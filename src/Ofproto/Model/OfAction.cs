using System.Runtime.InteropServices;

namespace Softswitch.Ofproto;

/// <summary>The kinds of action the OpenFlow layer knows, whatever the version that asked for them.</summary>
public enum OfActionType : byte
{
    /// <summary>Output to <see cref="OfAction.Port"/> (an <see cref="OfPort"/> number), at most <see cref="OfAction.MaxLen"/> bytes to the controller.</summary>
    Output,
    /// <summary>Output through queue <see cref="OfAction.QueueId"/> of <see cref="OfAction.Port"/> (OpenFlow 1.0 enqueue; set_queue + output later).</summary>
    Enqueue,
    /// <summary>Set the VLAN id (<see cref="OfAction.Value"/>, 12 bits), tagging an untagged packet.</summary>
    SetVlanVid,
    /// <summary>Set the VLAN priority (<see cref="OfAction.Value"/>, 3 bits), tagging an untagged packet.</summary>
    SetVlanPcp,
    /// <summary>Remove the outer VLAN tag.</summary>
    PopVlan,
    /// <summary>Set the Ethernet source (<see cref="OfAction.Value"/>, 48 bits).</summary>
    SetEthSrc,
    SetEthDst,
    /// <summary>Set the IPv4 source (<see cref="OfAction.Value"/>, host order).</summary>
    SetNwSrc,
    SetNwDst,
    /// <summary>Set the IPv4 DSCP bits in place (<see cref="OfAction.Value"/> = tos &amp; 0xfc).</summary>
    SetNwTos,
    /// <summary>Set the TCP or UDP source port (or ICMP type).</summary>
    SetTpSrc,
    SetTpDst,
    /// <summary>Set the tunnel id a later output to a tunnel port encapsulates with.</summary>
    SetTunnel,

    // ---- OpenFlow 1.2+ set-field targets (OXM); Value holds the field (host order), Value2 the high half of 128 bits
    SetIpEcn,
    SetIpv6Src,
    SetIpv6Dst,
    SetIpv6Flabel,
    /// <summary>ICMPv4 or ICMPv6 type (the OXM field says which; the datapath writes the packet's ICMP header).</summary>
    SetIcmpType,
    SetIcmpCode,
    SetArpOp,
    SetArpSpa,
    SetArpTpa,
    SetArpSha,
    SetArpTha,
    SetNdTarget,
    SetNdSll,
    SetNdTll,
    SetMplsLabel,
    SetMplsTc,
    SetMplsBos,
    SetPbbIsid,
    /// <summary>The ethertype after the VLAN tags (<see cref="OfAction.Value"/>, 16 bits).</summary>
    SetEthType,
    /// <summary>IPv4's protocol or IPv6's next header (<see cref="OfAction.Value"/>, 8 bits).</summary>
    SetIpProto,

    // ---- OpenFlow 1.1+ actions
    /// <summary>Push a VLAN tag with TPID <see cref="OfAction.Value"/> (0x8100 or 0x88a8).</summary>
    PushVlan,
    /// <summary>Push an MPLS entry, ethertype <see cref="OfAction.Value"/> (0x8847 or 0x8848).</summary>
    PushMpls,
    /// <summary>Pop an MPLS entry, writing ethertype <see cref="OfAction.Value"/>.</summary>
    PopMpls,
    /// <summary>Push a PBB I-tag (ethertype <see cref="OfAction.Value"/>, 0x88e7).</summary>
    PushPbb,
    PopPbb,
    SetMplsTtl,
    DecMplsTtl,
    SetNwTtl,
    DecNwTtl,
    CopyTtlOut,
    CopyTtlIn,
    /// <summary>The queue later outputs use (<see cref="OfAction.QueueId"/>).</summary>
    SetQueue,
    /// <summary>Apply group <see cref="OfAction.QueueId"/> (the datapath counts it and applies nothing yet).</summary>
    Group,
    /// <summary>
    /// Open vSwitch's resubmit: look the packet up in table <see cref="OfAction.QueueId"/> (255: the flow's own table) as
    /// if it came in on <see cref="OfAction.Port"/> (<see cref="OfPort.InPort"/>: its own), run what it finds, go on.
    /// A flow's apply-actions only.
    /// </summary>
    Resubmit,
    /// <summary>
    /// Open vSwitch's exit: no action after it runs (the action set still does). In a packet-out's or a group bucket's
    /// list it ends that list.
    /// </summary>
    Exit,
    /// <summary>
    /// Open vSwitch's load (or set_field) of a register: <see cref="OfAction.LoadDst"/> set to <see cref="OfAction.Wide"/>,
    /// <see cref="OfAction.LoadForm"/> how it was written (<see cref="OfAction.LoadFormSetField"/>, <see cref="OfAction.LoadFormRegLoad"/>,
    /// <see cref="OfAction.LoadFormRegLoad2"/>), to be written back the same way. A flow's apply-actions only.
    /// </summary>
    FieldLoad,
    /// <summary>Open vSwitch's move: <see cref="OfAction.MoveSrc"/>'s bits into <see cref="OfAction.MoveDst"/>. A flow's apply-actions only.</summary>
    FieldMove,
    /// <summary>Open vSwitch's output_reg: output to the port <see cref="OfAction.OutputSrc"/>'s bits hold. A flow's apply-actions only.</summary>
    OutputField,
    /// <summary>
    /// Open vSwitch's conjunction(id,k/n): clause <see cref="OfAction.ConjClause"/> (0-based) of <see cref="OfAction.ConjClauses"/> of
    /// conjunctive match <see cref="OfAction.QueueId"/>. Only with other conjunctions in a flow's apply-actions (the flow is
    /// then a clause its table combines; docs/datapath.md, "Conjunctive matches").
    /// </summary>
    Conjunction,
    /// <summary>Open vSwitch's learn: <see cref="OfAction.LearnSpec"/> (registered by id in <see cref="OfAction.QueueId"/>). A flow's apply-actions only.</summary>
    Learn,
    /// <summary>Open vSwitch's note: <see cref="OfAction.Data"/>, kept and reported as given; does nothing to the packet.</summary>
    Note,
    /// <summary>
    /// Open vSwitch's controller action: a packet-in of at most <see cref="OfAction.MaxLen"/> bytes with reason
    /// <see cref="OfAction.Value"/> (<see cref="OfPacketInReason"/>'s wire value: 0 no_match, 1 action, 2 invalid_ttl)
    /// to the connections of controller id <see cref="OfAction.QueueId"/>, with the userdata of <see cref="OfAction.Data"/>
    /// (NXT_PACKET_IN2's; <see cref="OfAction.IsController2"/>: written as NXAST_CONTROLLER2).
    /// </summary>
    Controller,
    /// <summary>
    /// Open vSwitch's clone: <see cref="OfAction.Nested"/> run on a copy of the packet (its own action set, registers and
    /// key changes, dropped after it); the packet goes on after it as it was.
    /// </summary>
    Clone,
    /// <summary>
    /// Open vSwitch's multipath: the link (below <see cref="OfAction.MultipathMaxLink"/> + 1) a hash of the packet's fields
    /// (<see cref="OfAction.MultipathFields"/>, basis <see cref="OfAction.MultipathBasis"/>) picks by
    /// <see cref="OfAction.MultipathAlgorithm"/> (<see cref="OfAction.MultipathArg"/>) loaded into <see cref="OfAction.MultipathDst"/>.
    /// A flow's apply-actions only.
    /// </summary>
    Multipath,
    /// <summary>
    /// Open vSwitch's bundle and bundle_load: the live member (<see cref="OfAction.BundleMembers"/>, 16-bit OpenFlow port
    /// numbers) a bundle algorithm (<see cref="OfAction.BundleAlgorithm"/>; hrw hashes <see cref="OfAction.BundleFields"/>
    /// with basis <see cref="OfAction.BundleBasis"/>) picks, output to or, with <see cref="OfAction.BundleDst"/>, loaded
    /// into it. A flow's apply-actions only.
    /// </summary>
    Bundle,
    /// <summary>
    /// Open vSwitch's fin_timeout: a TCP FIN or RST lowers the rule's idle and hard timeouts to
    /// <see cref="OfAction.FinIdle"/> and <see cref="OfAction.FinHard"/> (0: untouched). A flow's apply-actions only.
    /// </summary>
    FinTimeout,
    /// <summary>
    /// Open vSwitch's sample: each packet, with probability <see cref="OfAction.SampleProbability"/> out of 65535, goes to
    /// the IPFIX exporter of collector set <see cref="OfAction.SampleCollectorSetId"/> with the action's observation domain
    /// and point ids (<see cref="OfAction.SampleObsDomainId"/>, <see cref="OfAction.SampleObsPointId"/>), its sampling port
    /// (<see cref="OfAction.SamplingPort"/>, a 16-bit OpenFlow port number; 0xffff: none) and direction. The packet goes on
    /// unchanged. Not in an action set.
    /// </summary>
    Sample,
}

/// <summary>
/// One action, version-independent: a codec decodes each wire action into one of these (port numbers through
/// <see cref="OfPort"/>), and the OpenFlow layer validates the list against the switch (ports, queues) and compiles it
/// for the datapath (<see cref="OfActionCompiler"/>).
/// </summary>
[StructLayout(LayoutKind.Auto)]
public readonly record struct OfAction(OfActionType Type, uint Port = 0, ushort MaxLen = 0, uint QueueId = 0, ulong Value = 0, ulong Value2 = 0,
                                       byte[]? Data = null)
{
    /// <summary>Equal type and arguments, and <see cref="Data"/> of the same bytes.</summary>
    public bool Equals(OfAction other)
        => Type == other.Type && Port == other.Port && MaxLen == other.MaxLen && QueueId == other.QueueId && Value == other.Value
           && Value2 == other.Value2 && Data.AsSpan().SequenceEqual(other.Data) && Nested.AsSpan().SequenceEqual(other.Nested);

    public override int GetHashCode() => HashCode.Combine(Type, Port, MaxLen, QueueId, Value, Value2, Data?.Length ?? -1, Nested?.Length ?? -1);

    /// <summary>multipath(<paramref name="fields"/>,<paramref name="basis"/>,<paramref name="algorithm"/>,<paramref name="maxLink"/>+1,<paramref name="arg"/>,<paramref name="dst"/>).</summary>
    public static OfAction Multipath(ushort fields, ushort basis, ushort algorithm, ushort maxLink, uint arg, OfSubfield dst)
        => new(OfActionType.Multipath, (uint)dst.Field, (ushort)dst.Ofs, (uint)dst.Bits | (uint)fields << 8 | (uint)algorithm << 16,
               basis | (ulong)maxLink << 16 | (ulong)arg << 32);

    public OfSubfield MultipathDst => new((OfField)Port, MaxLen, (int)(QueueId & 0xFF));
    public ushort MultipathFields => (ushort)((QueueId >> 8) & 0xFF);
    public ushort MultipathAlgorithm => (ushort)((QueueId >> 16) & 0xFF);
    public ushort MultipathBasis => (ushort)Value;
    public ushort MultipathMaxLink => (ushort)(Value >> 16);
    public uint MultipathArg => (uint)(Value >> 32);

    /// <summary>
    /// bundle(<paramref name="fields"/>,<paramref name="basis"/>,<paramref name="algorithm"/>,ofport,members:...), or
    /// bundle_load into <paramref name="dst"/> when it is not null; <paramref name="members"/> 16-bit OpenFlow port numbers.
    /// </summary>
    public static OfAction Bundle(ushort fields, ushort basis, ushort algorithm, ReadOnlySpan<ushort> members, OfSubfield? dst = null)
    {
        var data = new byte[2 * members.Length];
        for (int i = 0; i < members.Length; i++) System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(2 * i), members[i]);
        return new(OfActionType.Bundle, (uint)(dst?.Field ?? 0), (ushort)(dst?.Ofs ?? 0),
                   (uint)(dst?.Bits ?? 0) | (uint)(fields & 0xFF) << 8 | (uint)(algorithm & 0xFF) << 16 | (dst is null ? 0u : 1u << 24), basis, Data: data);
    }

    /// <summary>A bundle_load's destination (null: a bundle, which outputs).</summary>
    public OfSubfield? BundleDst => (QueueId >> 24) != 0 ? new OfSubfield((OfField)Port, MaxLen, (int)(QueueId & 0xFF)) : null;
    public ushort BundleFields => (ushort)((QueueId >> 8) & 0xFF);
    public ushort BundleAlgorithm => (ushort)((QueueId >> 16) & 0xFF);
    public ushort BundleBasis => (ushort)Value;

    /// <summary>A bundle's members, 16-bit OpenFlow port numbers.</summary>
    public ushort[] BundleMembers
    {
        get
        {
            var d = Data ?? [];
            var m = new ushort[d.Length / 2];
            for (int i = 0; i < m.Length; i++) m[i] = System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(2 * i));
            return m;
        }
    }

    /// <summary>fin_timeout(idle_timeout=<paramref name="idle"/>,hard_timeout=<paramref name="hard"/>) (0: that timeout untouched).</summary>
    public static OfAction FinTimeout(ushort idle, ushort hard) => new(OfActionType.FinTimeout, Value: idle | (ulong)hard << 16);
    public ushort FinIdle => (ushort)Value;
    public ushort FinHard => (ushort)(Value >> 16);

    /// <summary>
    /// sample(probability=<paramref name="probability"/>,collector_set_id=...,obs_domain_id=...,obs_point_id=...): a
    /// <paramref name="samplingPort"/> of 0xffff is none; <paramref name="direction"/> 0 default, 1 ingress, 2 egress;
    /// <paramref name="form"/> the wire form it came in (0 NXAST_SAMPLE, 1 SAMPLE2, 2 SAMPLE3), written back as given.
    /// </summary>
    public static OfAction Sample(ushort probability, uint collectorSetId, uint obsDomainId, uint obsPointId, ushort samplingPort = 0xffff,
                                  byte direction = 0, byte form = 0)
        => new(OfActionType.Sample, samplingPort, probability, collectorSetId, obsDomainId | (ulong)obsPointId << 32, direction | (ulong)form << 8);
    public ushort SampleProbability => MaxLen;
    public uint SampleCollectorSetId => QueueId;
    public uint SampleObsDomainId => (uint)Value;
    public uint SampleObsPointId => (uint)(Value >> 32);
    public ushort SamplingPort => (ushort)Port;
    public byte SampleDirection => (byte)Value2;
    public byte SampleForm => (byte)(Value2 >> 8);

    /// <summary>A <see cref="OfActionType.Clone"/>'s actions (null for any other action).</summary>
    public OfAction[]? Nested { get; init; }

    /// <summary>clone(<paramref name="actions"/>): the actions run on a copy of the packet.</summary>
    public static OfAction CloneOf(OfAction[] actions) => new(OfActionType.Clone) { Nested = actions };

    /// <summary>The 128-bit argument (IPv6 address, ND target): <see cref="Value2"/> high, <see cref="Value"/> low.</summary>
    public UInt128 Wide => new(Value2, Value);

    public static OfAction Output(uint port, ushort maxLen = 0) => new(OfActionType.Output, port, maxLen);
    public static OfAction Enqueue(uint port, uint queueId) => new(OfActionType.Enqueue, port, QueueId: queueId);
    public static OfAction SetVlanVid(ushort vid) => new(OfActionType.SetVlanVid, Value: vid);
    public static OfAction SetVlanPcp(byte pcp) => new(OfActionType.SetVlanPcp, Value: pcp);
    public static OfAction PopVlan() => new(OfActionType.PopVlan);
    public static OfAction SetEthSrc(ulong mac) => new(OfActionType.SetEthSrc, Value: mac);
    public static OfAction SetEthDst(ulong mac) => new(OfActionType.SetEthDst, Value: mac);
    public static OfAction SetNwSrc(uint ip) => new(OfActionType.SetNwSrc, Value: ip);
    public static OfAction SetNwDst(uint ip) => new(OfActionType.SetNwDst, Value: ip);
    public static OfAction SetNwTos(byte tos) => new(OfActionType.SetNwTos, Value: tos);
    /// <summary>Sets the L4 source port; <paramref name="ipProto"/> is the transport whose field the controller named (6 TCP,
    /// 17 UDP, 132 SCTP; 0: none, as OpenFlow 1.0's set_tp_src), kept to be reported as given (the datapath rewrites
    /// whichever transport the packet carries).</summary>
    public static OfAction SetTpSrc(ushort port, byte ipProto = 0) => new(OfActionType.SetTpSrc, Value: port, Value2: ipProto);
    /// <summary>The destination twin of <see cref="SetTpSrc"/>.</summary>
    public static OfAction SetTpDst(ushort port, byte ipProto = 0) => new(OfActionType.SetTpDst, Value: port, Value2: ipProto);

    /// <summary>The transport a <see cref="SetTpSrc"/> or <see cref="SetTpDst"/> named (6, 17, 132; 0: none).</summary>
    public byte TpProto => Type is OfActionType.SetTpSrc or OfActionType.SetTpDst ? (byte)Value2 : (byte)0;
    public static OfAction SetTunnel(ulong id) => new(OfActionType.SetTunnel, Value: id);
    public static OfAction SetIpEcn(byte ecn) => new(OfActionType.SetIpEcn, Value: ecn);
    public static OfAction SetIpv6Src(UInt128 ip) => new(OfActionType.SetIpv6Src, Value: (ulong)ip, Value2: (ulong)(ip >> 64));
    public static OfAction SetIpv6Dst(UInt128 ip) => new(OfActionType.SetIpv6Dst, Value: (ulong)ip, Value2: (ulong)(ip >> 64));
    public static OfAction SetIpv6Flabel(uint label) => new(OfActionType.SetIpv6Flabel, Value: label);
    /// <summary>Sets the ICMP type; <paramref name="icmpv6"/>: the controller named ICMPv6's field (kept to be reported as given; the
    /// datapath rewrites whichever ICMP the packet carries).</summary>
    public static OfAction SetIcmpType(byte type, bool icmpv6 = false) => new(OfActionType.SetIcmpType, Value: type, Value2: icmpv6 ? 1UL : 0);
    /// <summary>Sets the ICMP code; <paramref name="icmpv6"/> as for <see cref="SetIcmpType"/>.</summary>
    public static OfAction SetIcmpCode(byte code, bool icmpv6 = false) => new(OfActionType.SetIcmpCode, Value: code, Value2: icmpv6 ? 1UL : 0);

    /// <summary>An ICMP set-field action given for ICMPv6's field (<see cref="SetIcmpType"/>, <see cref="SetIcmpCode"/>).</summary>
    public bool IsIcmpv6 => Type is OfActionType.SetIcmpType or OfActionType.SetIcmpCode && Value2 == 1;
    public static OfAction SetArpOp(ushort op) => new(OfActionType.SetArpOp, Value: op);
    public static OfAction SetArpSpa(uint ip) => new(OfActionType.SetArpSpa, Value: ip);
    public static OfAction SetArpTpa(uint ip) => new(OfActionType.SetArpTpa, Value: ip);
    public static OfAction SetArpSha(ulong mac) => new(OfActionType.SetArpSha, Value: mac);
    public static OfAction SetArpTha(ulong mac) => new(OfActionType.SetArpTha, Value: mac);
    public static OfAction SetNdTarget(UInt128 ip) => new(OfActionType.SetNdTarget, Value: (ulong)ip, Value2: (ulong)(ip >> 64));
    public static OfAction SetNdSll(ulong mac) => new(OfActionType.SetNdSll, Value: mac);
    public static OfAction SetNdTll(ulong mac) => new(OfActionType.SetNdTll, Value: mac);
    public static OfAction SetMplsLabel(uint label) => new(OfActionType.SetMplsLabel, Value: label);
    public static OfAction SetMplsTc(byte tc) => new(OfActionType.SetMplsTc, Value: tc);
    public static OfAction SetMplsBos(byte bos) => new(OfActionType.SetMplsBos, Value: bos);
    public static OfAction SetPbbIsid(uint isid) => new(OfActionType.SetPbbIsid, Value: isid);
    public static OfAction SetEthType(ushort ethType) => new(OfActionType.SetEthType, Value: ethType);
    public static OfAction SetIpProto(byte proto) => new(OfActionType.SetIpProto, Value: proto);
    public static OfAction PushVlan(ushort tpid) => new(OfActionType.PushVlan, Value: tpid);
    public static OfAction PushMpls(ushort ethType) => new(OfActionType.PushMpls, Value: ethType);
    public static OfAction PopMpls(ushort ethType) => new(OfActionType.PopMpls, Value: ethType);
    public static OfAction PushPbb(ushort ethType = 0x88E7) => new(OfActionType.PushPbb, Value: ethType);
    public static OfAction PopPbb() => new(OfActionType.PopPbb);
    public static OfAction SetMplsTtl(byte ttl) => new(OfActionType.SetMplsTtl, Value: ttl);
    public static OfAction DecMplsTtl() => new(OfActionType.DecMplsTtl);
    public static OfAction SetNwTtl(byte ttl) => new(OfActionType.SetNwTtl, Value: ttl);
    public static OfAction DecNwTtl() => new(OfActionType.DecNwTtl);

    /// <summary>
    /// Open vSwitch's dec_ttl(id,...): as <see cref="DecNwTtl()"/>, its invalid-TTL packet-ins to the controllers of ids
    /// <paramref name="ids"/> (kept in <see cref="Data"/>, two bytes each, big-endian).
    /// </summary>
    public static OfAction DecNwTtl(ReadOnlySpan<ushort> ids)
    {
        var data = new byte[2 * ids.Length];
        for (int i = 0; i < ids.Length; i++) System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(2 * i), ids[i]);
        return new(OfActionType.DecNwTtl, Data: data);
    }

    /// <summary>A dec_ttl's controller ids (<see cref="DecNwTtl(ReadOnlySpan{ushort})"/>); null for a plain dec_ttl or another action.</summary>
    public ushort[]? TtlControllerIds
    {
        get
        {
            if (Type != OfActionType.DecNwTtl || Data is not { } d) return null;
            var ids = new ushort[d.Length / 2];
            for (int i = 0; i < ids.Length; i++) ids[i] = System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(2 * i));
            return ids;
        }
    }
    public static OfAction CopyTtlOut() => new(OfActionType.CopyTtlOut);
    public static OfAction CopyTtlIn() => new(OfActionType.CopyTtlIn);
    public static OfAction SetQueue(uint queueId) => new(OfActionType.SetQueue, QueueId: queueId);
    public static OfAction Group(uint groupId) => new(OfActionType.Group, QueueId: groupId);
    /// <summary>A resubmit to <paramref name="table"/> (255: this table) as if received on <paramref name="inPort"/>.</summary>
    public static OfAction Resubmit(byte table, uint inPort = OfPort.InPort) => new(OfActionType.Resubmit, inPort, QueueId: table);
    public static OfAction Exit() => new(OfActionType.Exit);
    /// <summary>Clause <paramref name="clause"/> (0-based) of <paramref name="clauses"/> of conjunctive match <paramref name="id"/>.</summary>
    public static OfAction Conjunction(uint id, byte clause, byte clauses) => new(OfActionType.Conjunction, clause, clauses, id);
    /// <summary>A <see cref="OfActionType.Conjunction"/>'s clause, 0-based.</summary>
    public byte ConjClause => (byte)Port;
    /// <summary>A <see cref="OfActionType.Conjunction"/>'s number of clauses.</summary>
    public byte ConjClauses => (byte)MaxLen;
    /// <summary>A packet-in of at most <paramref name="maxLen"/> bytes, reason <paramref name="reason"/> (0 no_match, 1 action, 2 invalid_ttl), to controller id <paramref name="id"/>.</summary>
    public static OfAction Controller(ushort maxLen, byte reason, ushort id) => new(OfActionType.Controller, OfPort.Controller, maxLen, id, reason);

    /// <summary>
    /// As <see cref="Controller(ushort, byte, ushort)"/>, with <paramref name="userData"/> for NXT_PACKET_IN2's userdata
    /// (kept in <see cref="Data"/>; null or empty: none), written as NXAST_CONTROLLER2 when <paramref name="controller2"/>
    /// (always so with userdata, as Open vSwitch writes it).
    /// </summary>
    public static OfAction Controller(ushort maxLen, byte reason, ushort id, byte[]? userData, bool controller2)
        => new(OfActionType.Controller, OfPort.Controller, maxLen, id, reason, controller2 || userData is { Length: > 0 } ? 1UL : 0,
               userData is { Length: > 0 } ? userData : null);

    /// <summary>A controller action's userdata (empty: none).</summary>
    public ReadOnlySpan<byte> ControllerData => Type == OfActionType.Controller ? Data : default;

    /// <summary>A controller action written as NXAST_CONTROLLER2 (with userdata, or as the peer wrote it).</summary>
    public bool IsController2 => Type == OfActionType.Controller && Value2 != 0;
    /// <summary>A note of <paramref name="bytes"/> (kept as given, padding included).</summary>
    public static OfAction Note(byte[] bytes) => new(OfActionType.Note, Data: bytes);

    /// <summary>The forms a register load was written in (<see cref="LoadForm"/>).</summary>
    public const byte LoadFormSetField = 0, LoadFormRegLoad = 1, LoadFormRegLoad2 = 2;

    /// <summary>
    /// A field set written as OFPAT_SET_FIELD of a field whose plain action is another one (Open vSwitch's
    /// <c>set_field:64-&gt;nw_ttl</c>, whose plain action is <c>mod_nw_ttl</c>; <c>set_field:32-&gt;nw_tos</c>): written back
    /// as that set-field from OpenFlow 1.2 on, as the plain action's OpenFlow 1.0 form before.
    /// </summary>
    public const byte LoadFormNxSetField = 3;

    /// <summary>The bits of <see cref="SetFieldForm"/> that say the form (<see cref="LoadFormSetField"/> ... <see cref="LoadFormNxSetField"/>).</summary>
    public const byte LoadFormKindMask = 3;

    /// <summary>
    /// With a load form: the field was named by its OXM header where that names another field than the NXM one (Open
    /// vSwitch's ip_dscp, OXM_OF_IP_DSCP, the six DSCP bits, beside nw_tos, NXM_OF_IP_TOS, the whole ToS byte).
    /// </summary>
    public const byte LoadFormOxmName = 4;

    /// <summary>
    /// With <see cref="LoadFormSetField"/>: a set of the MPLS label or TC or of the tunnel id written as a set-field
    /// (OFPAT_SET_FIELD), not as the field's own action (set_mpls_label, set_mpls_tc, set_tunnel). Open vSwitch keeps the
    /// two apart (its set_field beside OFPACT_SET_MPLS_LABEL, ...): from OpenFlow 1.2 on both are the set-field; in 1.0
    /// the set-field is the load Open vSwitch writes for it (set_field_to_nxast: <c>load:0x7-&gt;OXM_OF_MPLS_LABEL[]</c>),
    /// the action its Nicira form (<c>set_mpls_label(7)</c>).
    /// </summary>
    public const byte LoadFormOfpSetField = 8;

    /// <summary>
    /// A set-field action of a whole packet field (<see cref="SetEthDst"/>, <see cref="SetNwDst"/>, <see cref="SetTunnel"/>,
    /// ...), which may carry the form it was written in (<see cref="SetFieldForm"/>).
    /// </summary>
    public bool IsFieldSet => Type is OfActionType.SetVlanVid or OfActionType.SetVlanPcp or OfActionType.SetEthSrc or OfActionType.SetEthDst
        or OfActionType.SetNwSrc or OfActionType.SetNwDst or OfActionType.SetNwTos or OfActionType.SetTpSrc or OfActionType.SetTpDst
        or OfActionType.SetTunnel or OfActionType.SetIpEcn or OfActionType.SetIpv6Src or OfActionType.SetIpv6Dst or OfActionType.SetIpv6Flabel
        or OfActionType.SetIcmpType or OfActionType.SetIcmpCode or OfActionType.SetArpOp or OfActionType.SetArpSpa or OfActionType.SetArpTpa
        or OfActionType.SetArpSha or OfActionType.SetArpTha or OfActionType.SetNdTarget or OfActionType.SetNdSll or OfActionType.SetNdTll
        or OfActionType.SetMplsLabel or OfActionType.SetMplsTc or OfActionType.SetMplsBos or OfActionType.SetPbbIsid or OfActionType.SetEthType
        or OfActionType.SetIpProto or OfActionType.SetNwTtl;

    /// <summary>
    /// How a set-field action (<see cref="IsFieldSet"/>) was written: <see cref="LoadFormSetField"/> (a set-field, an OpenFlow
    /// 1.0 action), or a whole-field <see cref="LoadFormRegLoad"/> / <see cref="LoadFormRegLoad2"/>, written back the same
    /// way (as Open vSwitch keeps ofpact_set_field's raw action). Presentation only: it changes nothing the action does,
    /// but an action written as a load is not equal to the same set-field (Open vSwitch's ofpacts_equal compares the raw
    /// action too). 0 for any other action.
    /// </summary>
    public byte SetFieldForm => IsFieldSet ? LoadForm : LoadFormSetField;

    /// <summary>The form of <see cref="SetFieldForm"/> without its flags (<see cref="LoadFormOxmName"/>).</summary>
    public byte SetFieldKind => (byte)(SetFieldForm & LoadFormKindMask);

    /// <summary>This set-field action (<see cref="IsFieldSet"/>) marked as written in <paramref name="form"/>.</summary>
    public OfAction WrittenAs(byte form) => IsFieldSet ? this with { QueueId = (uint)form << 8 } : this;

    /// <summary>
    /// The mark on a <see cref="OfActionType.FieldLoad"/>'s form (<see cref="LoadMarks"/>) of a further run of bits of the
    /// load before it: one load under a mask of several runs (NXAST_REG_LOAD2, OpenFlow 1.5's masked set-field) is a load
    /// per run, the low run first, each after it so marked, and is written back whole (<see cref="JoinsPrevious"/>).
    /// </summary>
    public const byte LoadJoined = 0x80;

    /// <summary>
    /// A load of <paramref name="value"/> (right-aligned) into <paramref name="dst"/>, written as <paramref name="form"/>
    /// (with <see cref="LoadJoined"/>: a further run of the load before it).
    /// </summary>
    public static OfAction FieldLoad(OfSubfield dst, UInt128 value, byte form = LoadFormSetField)
        => new(OfActionType.FieldLoad, (uint)dst.Field, (ushort)dst.Ofs, (uint)dst.Bits | (uint)form << 8, (ulong)value, (ulong)(value >> 64));

    /// <summary>A move of <paramref name="src"/>'s bits into <paramref name="dst"/> (equal widths).</summary>
    public static OfAction FieldMove(OfSubfield src, OfSubfield dst)
        => new(OfActionType.FieldMove, (uint)src.Field, (ushort)src.Ofs, (uint)src.Bits | (uint)dst.Field << 8 | (uint)dst.Ofs << 16);

    /// <summary>An output to the port <paramref name="src"/>'s bits hold, at most <paramref name="maxLen"/> bytes to the controller.</summary>
    public static OfAction OutputField(OfSubfield src, ushort maxLen)
        => new(OfActionType.OutputField, (uint)src.Field, maxLen, (uint)src.Bits | (uint)src.Ofs << 8);

    /// <summary>A learn action (<paramref name="learn"/> registered; see <see cref="OfLearn.Id"/>, which must not be -1).</summary>
    public static OfAction Learn(OfLearn learn) => new(OfActionType.Learn, QueueId: (uint)learn.Id);

    /// <summary>A <see cref="OfActionType.Learn"/>'s learn (null for any other action).</summary>
    public OfLearn? LearnSpec => Type == OfActionType.Learn ? Datapath.Actions.LearnTemplates.Get((int)QueueId) as OfLearn : null;

    public OfSubfield LoadDst => new((OfField)Port, MaxLen, (int)(QueueId & 0xFF));
    /// <summary>How a load was written (<see cref="LoadFormSetField"/>, <see cref="LoadFormRegLoad"/>, <see cref="LoadFormRegLoad2"/>).</summary>
    public byte LoadForm => (byte)((QueueId >> 8) & 0x7Fu);

    /// <summary>A load's form with its <see cref="LoadJoined"/> mark, as the datapath's action carries it.</summary>
    public byte LoadMarks => (byte)(QueueId >> 8);

    /// <summary>A <see cref="OfActionType.FieldLoad"/> that is a further run of bits of the load before it (<see cref="LoadJoined"/>).</summary>
    public bool JoinsPrevious => Type == OfActionType.FieldLoad && (LoadMarks & LoadJoined) != 0;
    public OfSubfield MoveSrc => new((OfField)Port, MaxLen, (int)(QueueId & 0xFF));
    public OfSubfield MoveDst => new((OfField)((QueueId >> 8) & 0xFF), (int)(QueueId >> 16), (int)(QueueId & 0xFF));
    public OfSubfield OutputSrc => new((OfField)Port, (int)(QueueId >> 8), (int)(QueueId & 0xFF));
}

/// <summary>
/// Where an action list runs: a flow's actions may not output to TABLE, a packet-out's may; a resubmit runs in the
/// pipeline walk from a flow's actions (apply or write) and a packet-out's, never a bucket's; the register actions only
/// from a flow's apply-actions; an exit in a packet-out's or a group bucket's list ends that list (Open vSwitch ends a
/// bucket's translation there and goes on after the group).
/// </summary>
public enum ActionContext : byte
{
    FlowMod,
    PacketOut,
    GroupBucket,
}
