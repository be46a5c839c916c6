using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Groups;

namespace Softswitch.Ofproto;

/// <summary>One message of a bundle: a flow-mod, a port-mod or a group-mod, as the switch's request, with the ADD message it came in.</summary>
/// <param name="Message">The whole BUNDLE_ADD_MESSAGE (the error for a message that fails the commit echoes it, with its xid).</param>
/// <param name="GroupMod">A group-mod, DELETE too (ovs-ofctl's <c>add-groups --bundle</c>, which ovs-save's restore uses).</param>
/// <param name="Answered">A request that changes nothing (an echo, a barrier, a statistics request, ...), which the
/// connection answers at the commit, in its place after the bundle's changes are in; <paramref name="Message"/> is its
/// ADD_MESSAGE.</param>
public sealed record BundledRequest(FlowModRequest? FlowMod, PortModRequest? PortMod, byte[] Message, GroupModRequest? GroupMod = null, bool Answered = false,
                                    PacketOutRequest? PacketOut = null);

/// <summary>A bundle refusal (OpenFlow 1.4.1's OFPBFC_* codes the switch gives; the codec has their wire values).</summary>
public enum BundleError : byte
{
    None,
    /// <summary>OFPBFC_BAD_ID: no bundle with that id.</summary>
    BadId,
    /// <summary>OFPBFC_BUNDLE_EXIST: an OPEN of an id that is open.</summary>
    BundleExist,
    /// <summary>OFPBFC_BUNDLE_CLOSED: an ADD or CLOSE to a closed bundle.</summary>
    BundleClosed,
    /// <summary>OFPBFC_OUT_OF_BUNDLES: the connection has <see cref="OfBundles.MaxBundles"/> open.</summary>
    OutOfBundles,
    /// <summary>OFPBFC_BAD_FLAGS: unknown flag bits, or flags other than the bundle's.</summary>
    BadFlags,
    /// <summary>OFPBFC_MSG_CONFLICT: a port-mod into an ATOMIC bundle (port changes cannot be undone).</summary>
    MsgConflict,
    /// <summary>OFPBFC_MSG_TOO_MANY: the connection's bundles hold <see cref="OfBundles.MessageLimit"/> messages or <see cref="OfBundles.ByteLimit"/> bytes.</summary>
    MsgTooMany,
    /// <summary>OFPBFC_MSG_FAILED: a message of the bundle failed its commit (that message's own error goes first).</summary>
    MsgFailed,
}

/// <summary>
/// One connection's bundles (OpenFlow 1.4.1 section 7.3.9; Open vSwitch's ofproto/bundles.c): opened, added to,
/// closed, committed or discarded by the connection's controller; the commit is the switch's
/// (<see cref="OfSwitch.CommitBundle"/>). A bundle idle for <see cref="IdleTimeout"/> is dropped with OFPBFC_TIMEOUT
/// when the connection next sends a bundle message (<see cref="Expire"/>); a connection's bundles end with it.
/// </summary>
/// <remarks>Not thread safe: a connection's messages are handled on one thread at a time.</remarks>
public sealed class OfBundles
{
    /// <summary>Open bundles a connection may have at once.</summary>
    public const int MaxBundles = 64;
    /// <summary>Messages a connection's bundles may hold together (one bundle of them all, or several).</summary>
    public const int MaxMessages = 1 << 18;
    /// <summary>Bytes of messages a connection's bundles may hold together (50 MiB, the messages themselves without their
    /// ADD_MESSAGE framing): a hostile controller's 262,144 messages of 64 KiB would otherwise hold 16 GiB.</summary>
    public const long MaxBytes = 50L << 20;
    /// <summary>OFPBF_ATOMIC, OFPBF_ORDERED: the flags a bundle may have.</summary>
    public const ushort Atomic = 1, Ordered = 2;

    /// <summary>Messages this connection's bundles may hold together (<see cref="MaxMessages"/> unless set).</summary>
    public int MessageLimit { get; init; } = MaxMessages;

    /// <summary>Bytes this connection's bundles may hold together (<see cref="MaxBytes"/> unless set).</summary>
    public long ByteLimit { get; init; } = MaxBytes;

    /// <summary>How long a bundle may go without a message before it is dropped (Open vSwitch's default: 10 s).</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(10);

    private readonly Dictionary<uint, Bundle> _bundles = new();
    private int _messages; // in every bundle
    private long _bytes;   // of their messages

    /// <summary>Drops bundle <paramref name="id"/> (with its messages); false when there is none.</summary>
    private bool Drop(uint id, out Bundle? bundle)
    {
        if (!_bundles.Remove(id, out bundle)) return false;
        _messages -= bundle.Messages.Count;
        _bytes -= bundle.Bytes;
        return true;
    }

    private sealed class Bundle(ushort flags, byte[] opened, long now)
    {
        public readonly ushort Flags = flags;
        public readonly byte[] Opened = opened;
        public bool Closed;
        public long Bytes;
        public long Used = now;
        public readonly List<BundledRequest> Messages = new();
    }

    /// <summary>Bundles open on the connection.</summary>
    public int Count => _bundles.Count;

    /// <summary>Drops every bundle idle for <see cref="IdleTimeout"/> at <paramref name="nowTicks"/> (<see cref="Environment.TickCount64"/>), appending the message that opened each.</summary>
    public void Expire(long nowTicks, List<byte[]> expired)
    {
        long limit = nowTicks - (long)IdleTimeout.TotalMilliseconds;
        foreach (var (id, b) in _bundles)
        {
            if (b.Used > limit) continue;
            expired.Add(b.Opened);
            Drop(id, out _);
        }
    }

    /// <summary>OPEN_REQUEST: a new bundle.</summary>
    public BundleError Open(uint id, ushort flags, byte[] message, long nowTicks)
    {
        if ((flags & ~(Atomic | Ordered)) != 0) return BundleError.BadFlags;
        if (_bundles.ContainsKey(id)) return BundleError.BundleExist;
        if (_bundles.Count >= MaxBundles) return BundleError.OutOfBundles;
        _bundles[id] = new Bundle(flags, message, nowTicks);
        return BundleError.None;
    }

    /// <summary>CLOSE_REQUEST: no more messages. A closed bundle or other flags drop it (Open vSwitch alike).</summary>
    public BundleError Close(uint id, ushort flags, long nowTicks)
    {
        if (!_bundles.TryGetValue(id, out var b)) return BundleError.BadId;
        if (b.Closed)
        {
            Drop(id, out _);
            return BundleError.BundleClosed;
        }
        if (b.Flags != flags)
        {
            Drop(id, out _);
            return BundleError.BadFlags;
        }
        b.Closed = true;
        b.Used = nowTicks;
        return BundleError.None;
    }

    /// <summary>DISCARD_REQUEST: the bundle and its messages are dropped.</summary>
    public BundleError Discard(uint id) => Drop(id, out _) ? BundleError.None : BundleError.BadId;

    /// <summary>
    /// ADD_MESSAGE: <paramref name="request"/> joins the bundle (opened implicitly when the id is new, as the 1.4 spec
    /// allows and Open vSwitch does). A closed bundle or other flags drop it; a full one refuses the message.
    /// <paramref name="bytes"/>: the bundled message's length (its ADD_MESSAGE's when left out), counted against
    /// <see cref="ByteLimit"/>.
    /// </summary>
    public BundleError Add(uint id, ushort flags, BundledRequest request, long nowTicks, int bytes = -1)
    {
        if (bytes < 0) bytes = request.Message.Length;
        if (!_bundles.TryGetValue(id, out var b))
        {
            var err = Open(id, flags, request.Message, nowTicks);
            if (err != BundleError.None) return err;
            b = _bundles[id];
        }
        else if (b.Closed)
        {
            Drop(id, out _);
            return BundleError.BundleClosed;
        }
        else if (b.Flags != flags)
        {
            Drop(id, out _);
            return BundleError.BadFlags;
        }
        if ((flags & Atomic) != 0 && request.PortMod is not null) return BundleError.MsgConflict;
        if (_messages >= MessageLimit || _bytes + bytes > ByteLimit) return BundleError.MsgTooMany;
        b.Messages.Add(request);
        _messages++;
        _bytes += bytes;
        b.Bytes += bytes;
        b.Used = nowTicks;
        return BundleError.None;
    }

    /// <summary>
    /// COMMIT_REQUEST: the bundle's messages applied by <paramref name="sw"/> all or none
    /// (<see cref="OfSwitch.CommitBundle"/>). The bundle ends whatever the outcome. <see cref="BundleError.MsgFailed"/>
    /// names the message that failed (<paramref name="failed"/>) and its own error (<paramref name="failedError"/>).
    /// After a commit that succeeds, <paramref name="answer"/> is given, in order, what the connection still acts on:
    /// the bundle's answered requests (<see cref="BundledRequest.Answered"/>) and its group-mods, which are forwarded to
    /// the controllers that asked as Open vSwitch's do_bundle_commit forwards them (ofproto_group_mod_finish).
    /// </summary>
    public BundleError Commit(uint id, ushort flags, OfSwitch sw, OfController? from, out BundledRequest? failed, out OfError failedError,
                              Action<BundledRequest>? answer = null)
    {
        failed = null;
        failedError = OfError.None;
        if (!Drop(id, out var b)) return BundleError.BadId;
        if (b!.Flags != flags) return BundleError.BadFlags;
        failedError = sw.CommitBundle(b.Messages, from, out int index);
        if (failedError == OfError.None)
        {
            if (answer is not null)
            {
                foreach (var m in b.Messages)
                    if (m.Answered || m.GroupMod is not null) answer(m);
            }
            return BundleError.None;
        }
        if (index >= 0) failed = b.Messages[index];
        return BundleError.MsgFailed;
    }
}

public sealed partial class OfSwitch
{
    /// <summary>
    /// Commits a bundle (Open vSwitch's do_bundle_commit): every flow-mod is checked and compiled, then applied in order
    /// in one atomic batch (<see cref="FlowModBatch"/>), its group-mods in their place in that order, at the batch's
    /// version (a flow-mod after a group-mod may apply the group it adds); the first that fails reverts the batch and
    /// drops every group version the bundle wrote, and its error comes
    /// back with its index in <paramref name="failed"/> (nothing of the bundle is then in effect). On success the
    /// flows the bundle deleted are reported, its port-mods applied (checked before any flow-mod: they cannot be
    /// undone, so a bundle with one is not ATOMIC, see <see cref="OfBundles.Add"/>), and the buffered packets its
    /// flow-mods name released through the pipeline.
    /// </summary>
    /// <remarks>
    /// Lock order: the table set's run lock (the batch), then groups, then meters, then the tables; the groups and
    /// meters a flow-mod uses must exist and stay until the batch is in. The group-mods are written at the batch's tables
    /// version (<see cref="GroupTable.BeginVersion"/>), as Open vSwitch versions its groups with its flows: packets see
    /// them with the bundle's flows, at the version's one store, and a revert drops them unseen.
    /// </remarks>
    public OfError CommitBundle(IReadOnlyList<BundledRequest> requests, OfController? from, out int failed)
    {
        failed = -1;
        if (from is { MayWrite: false }) return OfError.IsSlave;
        var mods = new FlowMod[requests.Count];
        for (int i = 0; i < requests.Count; i++)
        {
            var r = requests[i];
            OfError err;
            if (r.FlowMod is { } fm) err = PrepareFlowMod(fm, out mods[i]);
            else if (r.PortMod is { } pm) err = CheckPortMod(pm);
            else if (r.GroupMod is not null) err = OfError.None; // checked in its place, below
            else if (r.PacketOut is { } po) err = CheckPacketOut(po); // sent after the commit, in its place, by the connection
            else err = r.Answered ? OfError.None : OfError.BadCommand; // an answered request is the connection's, after
            if (err != OfError.None)
            {
                failed = i;
                return err;
            }
        }
        EndFlowModRun();
        var removed = new List<FlowRemoved>();
        using var hold = Flows.Reclamation.Enter(); // the removed flows' reports read them after the batch
        int applied = 0;
        bool emergency = false;
        var batch = Flows.BeginBatch(atomic: true);
        List<(uint Id, Group? Before)>? groupsBefore = null;
        bool versioned = false;
        foreach (var r in requests) versioned |= r.GroupMod is not null;
        try
        {
            lock (_groupLock)
            {
                if (versioned)
                {
                    // The bundle's group-mods are seen from the batch's version, with its flows.
                    _dp.Groups.BeginVersion(batch.Version);
                    _groupCarry = [];
                }
                lock (_meterLock)
                {
                    for (int i = 0; i < requests.Count; i++)
                    {
                        BundleStep?.Invoke(i);
                        if (requests[i].GroupMod is { Command: GroupModCommand.Delete } del)
                        {
                            DeleteGroupInBatch(del.GroupId, batch, groupsBefore ??= []);
                            continue;
                        }
                        if (requests[i].GroupMod is { } gm)
                        {
                            Group? before = _dp.Groups.TryGet(gm.GroupId, out var g) ? g : null;
                            var gerr = gm.Command switch
                            {
                                GroupModCommand.Add or GroupModCommand.Modify => AddOrModifyGroup(gm),
                                GroupModCommand.InsertBuckets or GroupModCommand.RemoveBuckets => EditBuckets(gm),
                                _ => OfError.BadGroupCommand,
                            };
                            if (gerr != OfError.None)
                            {
                                batch.Revert();
                                RestoreGroups(groupsBefore);
                                failed = i;
                                return gerr;
                            }
                            (groupsBefore ??= []).Add((gm.GroupId, before));
                            continue;
                        }
                        if (requests[i].FlowMod is not { } req) continue;
                        ref readonly var mod = ref mods[i];
                        var err = CheckGroupsExist(mod.Actions);
                        if (err == OfError.None) err = CheckGroupsExist(mod.Instructions?.WriteActions);
                        if (err == OfError.None) err = CheckMeterExists(mod.Instructions);
                        if (err == OfError.None)
                        {
                            var st = batch.Apply(mod, null, out _);
                            applied++;
                            err = ToError(st);
                        }
                        if (err != OfError.None)
                        {
                            batch.Revert();
                            RestoreGroups(groupsBefore);
                            failed = i;
                            return err;
                        }
                        emergency |= (req.Flags & FlowModFlags.Emergency) != 0;
                    }
                    BundleStep?.Invoke(requests.Count);
                    // The groups' version is published with the flows' (by this, when the batch holds no table).
                    if (versioned) _dp.Groups.PublishVersion(publish: !batch.HoldsTables);
                    batch.Commit(removed);
                    groupsBefore = null;
                }
                if (versioned) SettleGroups();
            }
        }
        finally
        {
            if (!batch.IsEnded)
            {
                // An exception: nothing of the bundle stays.
                batch.Revert();
                lock (_groupLock) RestoreGroups(groupsBefore);
            }
            else if (versioned && _groupCarry is not null)
            {
                lock (_groupLock) RestoreGroups(null); // an exception after the commit: nothing left open
            }
            Interlocked.Add(ref _flowModsApplied, applied);
        }
        ReportFinal(removed);
        ReportVacancy();
        if (emergency) EmergencyFlowsChanged();
        foreach (var r in requests)
        {
            if (r.PortMod is { } pm) PortMod(pm, from);
            else if (r.FlowMod is { BufferId: not PacketBuffers.NoBuffer } fm && fm.Command is FlowModCommand.Add or FlowModCommand.Modify or FlowModCommand.ModifyStrict)
                ReleaseThroughTables(fm.BufferId);
        }
        return OfError.None;
    }

    /// <summary>Tests: called with a message's index before a bundle's commit applies it, and with the message count before
    /// it publishes (under its locks).</summary>
    internal Action<int>? BundleStep;

    /// <summary>
    /// A failed bundle's groups (call under the group lock): the model's parents put back, last first, as the groups the
    /// bundle's group-mods replaced, added or deleted had them, and the datapath's versions the bundle wrote dropped
    /// (<see cref="GroupTable.RevertVersion"/>: no lookup saw them).
    /// </summary>
    private void RestoreGroups(List<(uint Id, Group? Before)>? before)
    {
        _groupCarry = null;
        if (before is not null)
        {
            var now = new Dictionary<uint, Group?>();
            for (int i = before.Count - 1; i >= 0; i--)
            {
                var (id, old) = before[i];
                var current = now.TryGetValue(id, out var n) ? n : _dp.Groups.TryGet(id, out var g) ? g : null;
                if (current is not null) Unparent(current);
                if (old is not null) Parent(old);
                now[id] = old;
            }
            before.Clear();
        }
        _dp.Groups.RevertVersion();
    }

    /// <summary>
    /// After a bundle's commit (under the group lock): once the forwarding threads have passed a quiescent point, the
    /// groups' older versions are let go and each group a MODIFY replaced hands its replacement what it counted until
    /// the commit (as a flow a bundle replaces does).
    /// </summary>
    private void SettleGroups()
    {
        _dp.Groups.Settle();
        var carry = _groupCarry;
        _groupCarry = null;
        if (carry is null) return;
        foreach (var (from, to, packets, bytes) in carry) to.AddCounts(from.Packets - packets, from.Bytes - bytes);
    }

    /// <summary>
    /// A bundled group DELETE in its place (Open vSwitch bundles every group-mod): the flows that apply the groups it
    /// deletes (one, or every group for ALL; none when the group does not exist) are marked in the bundle's batch, so
    /// they leave at the commit with reason GROUP_DELETE or stay with a revert, and the groups leave the group table at
    /// the batch's version (packets see them until the commit), recorded in <paramref name="before"/> for
    /// <see cref="RestoreGroups"/>. Later messages of the bundle see them gone (a flow-mod applying one is
    /// BAD_OUT_GROUP, a group ADD of its id is new).
    /// </summary>
    private void DeleteGroupInBatch(uint id, FlowModBatch batch, List<(uint Id, Group? Before)> before)
    {
        List<uint> ids = id == GroupModRequest.AllGroups ? [.. _dp.Groups.All.Select(g => g.Id)] : _dp.Groups.TryGet(id, out _) ? [id] : [];
        if (ids.Count == 0) return;
        var set = new HashSet<uint>(ids);
        Flows.DoomWhere(batch, e => AppliesAny(e, set), FlowRemovedReason.GroupDelete);
        foreach (uint g in ids)
        {
            if (!_dp.Groups.TryGet(g, out var old)) continue;
            before.Add((g, old));
            Unparent(old);
            _dp.Groups.Remove(g);
        }
    }

    /// <summary>
    /// A bundled packet-out's checks before the bundle's changes (its actions compile for a packet-out, its in_port is a
    /// port, its packet's length); what depends on the switch at the commit (its groups, its buffer) is checked when it
    /// is sent after the commit.
    /// </summary>
    private OfError CheckPacketOut(in PacketOutRequest req)
    {
        var err = OfActionCompiler.TryCompile(req.Actions.Span, _dp.Ports, ActionContext.PacketOut, QueuesPerPort, out _);
        if (err != OfError.None) return err;
        if (!OfPort.ToDatapath(req.InPort, out _)) return OfError.BadPort;
        if (req.BufferId == PacketBuffers.NoBuffer && (req.Data.Length == 0 || req.Data.Length > _dp.MaxFrameSize)) return OfError.BadPacketLength;
        return OfError.None;
    }

    /// <summary>A port-mod's checks (<see cref="PortMod"/>'s), without applying it.</summary>
    private OfError CheckPortMod(in PortModRequest req)
    {
        if (!OfPort.ToDatapath(req.Port, out var no) || _dp.Ports.Get(no) is not { } slot) return OfError.PortModBadPort;
        return req.HwAddr != slot.Port.Info.HwAddr.Value ? OfError.PortModBadHwAddr : OfError.None;
    }

    /// <summary>A buffered packet a committed flow-mod named, through the whole pipeline (OFPP_TABLE); an expired buffer is let go.</summary>
    private void ReleaseThroughTables(uint bufferId)
    {
        if (TakeBuffer(bufferId, out var frame, out var inPort) == OfError.None) _dp.PacketOut(frame, inPort, s_toTable);
    }
}
