using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Offload;
using Softswitch.Datapath.Ports;

namespace Softswitch.Ports.NetFpga;

/// <summary>One wildcard row a flow needs: its src_port value and mask (1 = don't care) and its action words.</summary>
public readonly record struct NetFpgaRowPlan(byte SrcPort, byte SrcPortMask, uint[] Action);

/// <summary>The board's lookup counters (OPENFLOW_LOOKUP block).</summary>
public readonly record struct NetFpgaLookupStats(uint ExactHits, uint ExactMisses, uint WildcardHits, uint WildcardMisses, uint[] DroppedPerQueue);

/// <summary>
/// The NetFPGA-1G OpenFlow 1.0 bitfile as an <see cref="IOffloadTarget"/>: encodes flows into its exact table (SRAM)
/// and wildcard table (TCAM rows), keeps the free lists, reads counters back. Register-level, over an
/// <see cref="IRegisterBus"/> (the real board or the emulator).
/// </summary>
/// <remarks>
/// <para><b>Exact flows</b> (OF1.0 wildcards == 0) go to row CRC1(key) &amp; 0x7FFF, else CRC2(key) &amp; 0x7FFF, else they
/// are refused (<see cref="NetFpgaReasons.ExactCollision"/>). A row is written action first, then the counters (zero),
/// then key words 0..6 and last key word 7, whose top byte holds the valid bit, so a lookup never sees a half-written
/// row: 20 writes. Modify rewrites the 10 action words (counters kept). Delete clears word 7 (the valid bit) first, then
/// reads the counters: 1 write. Exact counters are deltas (the SRAM arbiter clears a counter word when it is read;
/// packets are 25 bits).</para>
/// <para><b>Wildcard flows</b> go to rows 0..23 (24..31 are reserved: CPU queue i → MAC i, then MAC i → CPU queue i
/// for misses; written by <see cref="Initialize"/>). A row is written through the staging registers: CMP_0..7,
/// CMP_MASK_0..7, ACTION_0..9, the row's BYTES_HIT/PKTS_HIT/LAST_SEEN_TS zeroed, then WRITE_ADDR = row: 30 writes.
/// Rows have no priority (the first matching row wins; the caller keeps offloaded rows disjoint). A flow whose
/// in_port is wildcarded but whose outputs depend on the in_port (FLOOD/ALL, an output to a port the packet may have
/// come in on, which software drops; IN_PORT outputs stay in software, see <see cref="NetFpgaEncoding.CheckActions"/>) becomes one row per group of in_ports with the same forward bitmask,
/// each group covered by the fewest src_port value/mask pairs (so FLOOD takes 4 rows); in_ports whose packets would
/// all be dropped are left to software when other in_ports need rows. Wildcard counters are 32-bit totals; reads
/// subtract the previous total modulo 2^32.</para>
/// <para><b>Threading</b>: every public method takes one lock around its register sequence.</para>
/// </remarks>
public sealed class NetFpgaDriver : IOffloadTarget, IDisposable
{
    private readonly IRegisterBus _bus;
    private readonly int _portCount;
    private readonly ushort[] _ofPorts;
    private readonly Lock _lock = new();
    private readonly bool[] _exactUsed = new bool[NetFpgaRegisters.ExactTableRows];
    private readonly bool[] _wildUsed = new bool[NetFpgaRegisters.UsableWildcardRows];
    private readonly Dictionary<FlowEntry, HwFlow> _flows = new(ReferenceEqualityComparer.Instance);
    private int _exactCount, _wildFree = NetFpgaRegisters.UsableWildcardRows;
    private long _writes, _reads;

    /// <summary>A driver for a board with <paramref name="portCount"/> MAC ports in use (OpenFlow ports 1..portCount).</summary>
    public NetFpgaDriver(IRegisterBus bus, int portCount = NetFpgaRegisters.MaxPorts)
    {
        if (portCount is < 1 or > NetFpgaRegisters.MaxPorts) throw new ArgumentOutOfRangeException(nameof(portCount));
        _bus = bus ?? throw new ArgumentNullException(nameof(bus));
        _portCount = portCount;
        _ofPorts = new ushort[portCount];
        for (int i = 0; i < portCount; i++) _ofPorts[i] = (ushort)(i + 1);
    }

    public string Name => "netfpga";
    /// <summary>The board looks up its exact table first, then its wildcard rows in row order (no priorities).</summary>
    public OffloadLookupModel LookupModel => OffloadLookupModel.ExactFirst;

    /// <summary>An exact flow outranked by an overlapping wildcard flow: the board would answer it first.</summary>
    public OffloadReason OrderRefusal => NetFpgaReasons.ExactBelowWildcard;

    public IReadOnlyList<OffloadReason> Reasons => NetFpgaReasons.All;
    public IReadOnlyList<ushort> Ports => _ofPorts;
    public int PortCount => _portCount;
    public IRegisterBus Bus => _bus;
    public long RegisterWrites => Interlocked.Read(ref _writes);
    public long RegisterReads => Interlocked.Read(ref _reads);
    public int ExactRowsUsed { get { lock (_lock) return _exactCount; } }
    public int WildcardRowsFree { get { lock (_lock) return _wildFree; } }

    /// <summary>The exact table (32,768 rows) and the wildcard rows flows may use (24; 8 more are reserved).</summary>
    public IReadOnlyList<OffloadTableUsage> Occupancy
    {
        get
        {
            lock (_lock)
            {
                return
                [
                    new OffloadTableUsage("exact", _exactCount, NetFpgaRegisters.ExactTableRows),
                    new OffloadTableUsage("wildcard", NetFpgaRegisters.UsableWildcardRows - _wildFree, NetFpgaRegisters.UsableWildcardRows),
                ];
            }
        }
    }

    /// <summary><c>exact,row=N</c> or <c>wildcard,rows=A+B</c> (rows in lookup order), or null when not installed.</summary>
    public string? Location(FlowEntry entry)
    {
        lock (_lock)
        {
            if (!_flows.TryGetValue(entry, out var f)) return null;
            if (f.ExactRow >= 0) return $"exact,row={f.ExactRow}";
            return f.Rows!.Length == 1 ? $"wildcard,row={f.Rows[0]}" : $"wildcard,rows={string.Join('+', f.Rows)}";
        }
    }

    private void Write(uint address, uint value)
    {
        _bus.Write(address, value);
        _writes++;
    }

    private uint Read(uint address)
    {
        _reads++;
        return _bus.Read(address);
    }

    /// <summary>
    /// Brings the board to a known state: optionally resets the card (CPCI_REG_CTRL bit 8, then waits 2 s as
    /// nf2_reset_card does), clears the 24 flow rows of the wildcard table and writes the 8 reserved rows.
    /// The exact table is not swept (32,768 rows); rows become valid only when written, and a reset clears them.
    /// </summary>
    public void Initialize(bool resetCard = false)
    {
        lock (_lock)
        {
            if (resetCard)
            {
                uint ctrl = Read(NetFpgaRegisters.CpciRegCtrl);
                Write(NetFpgaRegisters.CpciRegCtrl, ctrl | NetFpgaRegisters.CpciResetBit);
                Thread.Sleep(TimeSpan.FromSeconds(2));
            }
            Span<uint> zero = stackalloc uint[NetFpgaRegisters.ActionWords];
            zero.Clear();
            for (int r = 0; r < NetFpgaRegisters.UsableWildcardRows; r++) WriteWildcardRow(r, zero, zero, zero, zeroCounters: true);
            Span<uint> key = stackalloc uint[NetFpgaRegisters.KeyWords];
            Span<uint> mask = stackalloc uint[NetFpgaRegisters.KeyWords];
            Span<uint> action = stackalloc uint[NetFpgaRegisters.ActionWords];
            for (int i = 0; i < NetFpgaRegisters.MaxPorts; i++)
            {
                // Everything is "don't care" but src_port (and the pad byte, compared as zero).
                key.Clear();
                mask.Fill(uint.MaxValue);
                NetFpgaEncoding.PutBits(mask, NetFpgaEncoding.SrcPortPos, 8, 0);
                NetFpgaEncoding.PutBits(mask, NetFpgaEncoding.PadPos, 8, 0);
                // Rows 24..27: from CPU queue i (src_port 2i+1) to MAC i.
                NetFpgaEncoding.PutBits(key, NetFpgaEncoding.SrcPortPos, 8, (uint)(2 * i + 1));
                action.Clear();
                NetFpgaEncoding.PutBits(action, NetFpgaEncoding.ForwardBitmaskPos, 16, 1u << (2 * i));
                NetFpgaEncoding.PutBits(action, NetFpgaEncoding.ActionFlagPos, 16, NetFpgaRegisters.FlagOutput);
                WriteWildcardRow(NetFpgaRegisters.CpuToMacRow0 + i, key, mask, action, zeroCounters: true);
                // Rows 28..31: catch-all from MAC i (src_port 2i) to CPU queue i: misses go to software.
                NetFpgaEncoding.PutBits(key, NetFpgaEncoding.SrcPortPos, 8, (uint)(2 * i));
                NetFpgaEncoding.PutBits(action, NetFpgaEncoding.ForwardBitmaskPos, 16, 1u << (2 * i + 1));
                WriteWildcardRow(NetFpgaRegisters.CatchAllRow0 + i, key, mask, action, zeroCounters: true);
            }
            Array.Clear(_wildUsed);
            _wildFree = NetFpgaRegisters.UsableWildcardRows;
        }
    }

    // ================================================================ IOffloadTarget

    public OffloadResult Check(FlowEntry entry)
    {
        lock (_lock)
        {
            var r = Plan(entry, out _, out _, out _);
            return r.Installed ? new OffloadResult(true, OffloadReason.None, null, r.Rows, 0) : r;
        }
    }

    public OffloadResult TryInstall(FlowEntry entry)
    {
        lock (_lock)
        {
            if (_flows.ContainsKey(entry)) return OffloadResult.Refused(OffloadReason.TargetError, "already installed");
            long w0 = _writes;
            var r = Plan(entry, out var exactKey, out int exactRow, out var rows);
            if (!r.Installed) return r;
            var f = new HwFlow();
            if (exactKey is not null)
            {
                f.ExactRow = exactRow;
                f.Plan = rows;
                WriteExactRow(exactRow, exactKey, rows![0].Action);
                _exactUsed[exactRow] = true;
                _exactCount++;
            }
            else
            {
                f.ExactRow = -1;
                AllocateAndWrite(f, entry.Match, rows!);
            }
            _flows[entry] = f;
            return new OffloadResult(true, OffloadReason.None, null, f.RowCount, (int)(_writes - w0));
        }
    }

    public OffloadResult Modify(FlowEntry entry)
    {
        lock (_lock)
        {
            if (!_flows.TryGetValue(entry, out var f)) return OffloadResult.Refused(OffloadReason.TargetError, "not installed");
            long w0 = _writes;
            var why = NetFpgaEncoding.CheckActions(entry.Actions, _portCount, out OffloadDetail detail);
            if (why != OffloadReason.None) return OffloadResult.Refused(why, detail);
            if (f.ExactRow >= 0)
            {
                var action = new uint[NetFpgaRegisters.ActionWords];
                if (!NetFpgaEncoding.EncodeAction(entry.Actions, entry.Match.Value.InPort - 1, _portCount, action, out detail))
                    return OffloadResult.Refused(NetFpgaReasons.UnsupportedActionOrder, detail);
                for (int i = 0; i < NetFpgaRegisters.ActionWords; i++)
                    Write(NetFpgaRegisters.ExactRow(f.ExactRow, NetFpgaRegisters.ExactActionOffset + 4u * (uint)i), action[i]);
                f.Plan = [new NetFpgaRowPlan(0, 0, action)];
                return new OffloadResult(true, OffloadReason.None, null, 1, (int)(_writes - w0));
            }
            var plan = PlanWildcard(entry, out var refusal);
            if (plan is null) return refusal;
            if (SameShape(plan, f.Plan!))
            {
                // Same rows, new actions: rewrite each row through the staging registers, counters untouched.
                Span<uint> key = stackalloc uint[NetFpgaRegisters.KeyWords];
                Span<uint> mask = stackalloc uint[NetFpgaRegisters.KeyWords];
                for (int i = 0; i < plan.Length; i++)
                {
                    RowKeyAndMask(entry.Match, plan[i], key, mask);
                    WriteWildcardRow(f.Rows![i], key, mask, plan[i].Action, zeroCounters: false);
                }
                f.Plan = plan;
                return new OffloadResult(true, OffloadReason.None, null, f.RowCount, (int)(_writes - w0));
            }
            // Different row layout: keep the counts read so far, free the old rows, write new ones.
            int need = plan.Length - f.RowCount;
            if (need > _wildFree) return OffloadResult.Refused(NetFpgaReasons.WildcardRowsFull, $"needs {plan.Length} rows");
            var c = ReadWildcardCounts(f);
            f.CarryPackets += c.Packets;
            f.CarryBytes += c.Bytes;
            FreeWildcardRows(f);
            AllocateAndWrite(f, entry.Match, plan);
            return new OffloadResult(true, OffloadReason.None, null, f.RowCount, (int)(_writes - w0));
        }
    }

    public OffloadCounts Remove(FlowEntry entry)
    {
        lock (_lock)
        {
            if (!_flows.Remove(entry, out var f)) return default;
            if (f.ExactRow >= 0)
            {
                // Invalidate first, then read what the row counted up to then.
                Write(NetFpgaRegisters.ExactRow(f.ExactRow, NetFpgaRegisters.ExactKeyOffset + 4 * 7), 0);
                var c = ReadExactCounts(f.ExactRow);
                _exactUsed[f.ExactRow] = false;
                _exactCount--;
                return c;
            }
            var counts = ReadWildcardCounts(f);
            FreeWildcardRows(f);
            return new OffloadCounts(counts.Packets + f.CarryPackets, counts.Bytes + f.CarryBytes);
        }
    }

    public OffloadCounts ReadCounters(FlowEntry entry)
    {
        lock (_lock)
        {
            if (!_flows.TryGetValue(entry, out var f)) return default;
            if (f.ExactRow >= 0) return ReadExactCounts(f.ExactRow);
            var c = ReadWildcardCounts(f);
            c = new OffloadCounts(c.Packets + f.CarryPackets, c.Bytes + f.CarryBytes);
            f.CarryPackets = f.CarryBytes = 0;
            return c;
        }
    }

    /// <summary>Where the driver put <paramref name="entry"/>: its exact row, or its wildcard rows with their plans.</summary>
    public bool TryGetRows(FlowEntry entry, out int exactRow, out int[] wildcardRows, out NetFpgaRowPlan[] plan)
    {
        lock (_lock)
        {
            if (_flows.TryGetValue(entry, out var f))
            {
                exactRow = f.ExactRow;
                wildcardRows = f.Rows is null ? [] : (int[])f.Rows.Clone();
                plan = (NetFpgaRowPlan[])f.Plan!.Clone();
                return true;
            }
        }
        exactRow = -1;
        wildcardRows = [];
        plan = [];
        return false;
    }

    // ================================================================ stats

    /// <summary>Port statistics of MAC port <paramref name="port"/> (0-based) from its MAC_GRP queue counters; what
    /// the board does not count is −1 (OpenFlow's "unsupported").</summary>
    public PortCountersSnapshot ReadPortStats(int port)
    {
        if ((uint)port >= NetFpgaRegisters.MaxPorts) throw new ArgumentOutOfRangeException(nameof(port));
        lock (_lock)
        {
            uint rxPkts = Read(NetFpgaRegisters.MacGroup(port, NetFpgaRegisters.MacRxPktsStored));
            uint rxFull = Read(NetFpgaRegisters.MacGroup(port, NetFpgaRegisters.MacRxPktsDroppedFull));
            uint rxBad = Read(NetFpgaRegisters.MacGroup(port, NetFpgaRegisters.MacRxPktsDroppedBad));
            uint rxBytes = Read(NetFpgaRegisters.MacGroup(port, NetFpgaRegisters.MacRxBytesPushed));
            uint txPkts = Read(NetFpgaRegisters.MacGroup(port, NetFpgaRegisters.MacTxPktsSent));
            uint txBytes = Read(NetFpgaRegisters.MacGroup(port, NetFpgaRegisters.MacTxBytesPushed));
            return new PortCountersSnapshot(rxPkts, txPkts, rxBytes, txBytes, (long)rxFull + rxBad, TxDropped: -1,
                RxErrors: -1, TxErrors: -1, RxFrameErrors: -1, RxOverErrors: -1, RxCrcErrors: -1, Collisions: -1);
        }
    }

    public NetFpgaLookupStats ReadLookupStats()
    {
        lock (_lock)
        {
            var dropped = new uint[8];
            for (int i = 0; i < 8; i++) dropped[i] = Read(NetFpgaRegisters.NumPktsDropped0 + 4u * (uint)i);
            return new NetFpgaLookupStats(Read(NetFpgaRegisters.ExactHits), Read(NetFpgaRegisters.ExactMisses),
                Read(NetFpgaRegisters.WildcardHits), Read(NetFpgaRegisters.WildcardMisses), dropped);
        }
    }

    public void Dispose() => _bus.Dispose();

    // ================================================================ planning

    /// <summary>What installing <paramref name="entry"/> would take; refusal reasons without touching the device.</summary>
    private OffloadResult Plan(FlowEntry entry, out uint[]? exactKey, out int exactRow, out NetFpgaRowPlan[]? rows)
    {
        exactKey = null;
        exactRow = -1;
        rows = null;
        var m = entry.Match;
        var why = NetFpgaEncoding.CheckMatch(m, out OffloadDetail detail);
        if (why != OffloadReason.None) return OffloadResult.Refused(why, detail);
        why = NetFpgaEncoding.CheckActions(entry.Actions, _portCount, out detail);
        if (why != OffloadReason.None) return OffloadResult.Refused(why, detail);
        bool inPortWild = m.Mask.InPort == 0;
        if (!inPortWild && (m.Value.InPort < 1 || m.Value.InPort > _portCount))
            return OffloadResult.Refused(OffloadReason.InPortNotOffloadable, $"in_port {m.Value.InPort}");

        if (m.IsExact)
        {
            var action = new uint[NetFpgaRegisters.ActionWords];
            if (!NetFpgaEncoding.EncodeAction(entry.Actions, m.Value.InPort - 1, _portCount, action, out detail))
                return OffloadResult.Refused(NetFpgaReasons.UnsupportedActionOrder, detail);
            var key = new uint[NetFpgaRegisters.KeyWords];
            NetFpgaEncoding.EncodeKey(m, NetFpgaEncoding.SrcPortOf(m.Value.InPort), 0, key);
            var (r1, r2) = NetFpgaEncoding.ExactRows(key);
            int row = !_exactUsed[r1] ? r1 : !_exactUsed[r2] ? r2 : -1;
            if (row < 0) return OffloadResult.Refused(NetFpgaReasons.ExactCollision, $"rows {r1} and {r2} are taken");
            NetFpgaEncoding.PutBits(key, NetFpgaEncoding.PadPos, 8, NetFpgaEncoding.ValidBit);
            exactKey = key;
            exactRow = row;
            rows = [new NetFpgaRowPlan(NetFpgaEncoding.SrcPortOf(m.Value.InPort), 0, action)];
            return new OffloadResult(true, OffloadReason.None, null, 1, 0);
        }

        rows = PlanWildcard(entry, out var refusal);
        if (rows is null) return refusal;
        if (rows.Length > _wildFree)
            return OffloadResult.Refused(NetFpgaReasons.WildcardRowsFull, $"needs {rows.Length} rows, {_wildFree} free");
        return new OffloadResult(true, OffloadReason.None, null, rows.Length, 0);
    }

    /// <summary>The wildcard rows of <paramref name="entry"/> (see the type remarks), or null with the refusal.</summary>
    private NetFpgaRowPlan[]? PlanWildcard(FlowEntry entry, out OffloadResult refusal)
    {
        refusal = default;
        var m = entry.Match;
        OffloadDetail detail;
        if (m.Mask.InPort != 0)
        {
            var action = new uint[NetFpgaRegisters.ActionWords];
            if (!NetFpgaEncoding.EncodeAction(entry.Actions, m.Value.InPort - 1, _portCount, action, out detail))
            {
                refusal = OffloadResult.Refused(NetFpgaReasons.UnsupportedActionOrder, detail);
                return null;
            }
            return [new NetFpgaRowPlan(NetFpgaEncoding.SrcPortOf(m.Value.InPort), 0, action)];
        }

        // One action per in_port; group the in_ports that share one.
        var perPort = new uint[_portCount][];
        for (int i = 0; i < _portCount; i++)
        {
            perPort[i] = new uint[NetFpgaRegisters.ActionWords];
            if (!NetFpgaEncoding.EncodeAction(entry.Actions, i, _portCount, perPort[i], out detail))
            {
                refusal = OffloadResult.Refused(NetFpgaReasons.UnsupportedActionOrder, detail);
                return null;
            }
        }
        var groups = new List<(uint[] Action, int Ports)>();
        for (int i = 0; i < _portCount; i++)
        {
            int g = groups.FindIndex(x => x.Action.AsSpan().SequenceEqual(perPort[i]));
            if (g < 0) groups.Add((perPort[i], 1 << i));
            else groups[g] = (groups[g].Action, groups[g].Ports | (1 << i));
        }
        int dontCare = ((1 << NetFpgaRegisters.MaxPorts) - 1) & ~((1 << _portCount) - 1);
        var plan = new List<NetFpgaRowPlan>();
        foreach (var (action, ports) in groups)
        {
            // In_ports whose packets the flow drops can stay with software (a miss costs nothing in correctness).
            if (groups.Count > 1 && NetFpgaEncoding.ForwardBitmask(action) == 0) continue;
            foreach (var (value, mask) in Cover(ports, dontCare))
                plan.Add(new NetFpgaRowPlan(value, mask, action));
        }
        return plan.ToArray();
    }

    // src_port patterns over the four MAC queues (index i ↔ src_port 2i): the whole set (in_port wildcard, 0xFF), pairs
    // that differ in one index bit, single ports.
    private static readonly (int Set, byte Value, byte Mask)[] s_cubes =
    [
        (0b1111, 0, 0xFF),
        (0b0011, 0, 0x02), (0b1100, 4, 0x02), (0b0101, 0, 0x04), (0b1010, 2, 0x04),
        (0b0001, 0, 0), (0b0010, 2, 0), (0b0100, 4, 0), (0b1000, 6, 0),
    ];

    /// <summary>
    /// The fewest src_port patterns covering <paramref name="ports"/> and nothing outside it but <paramref name="dontCare"/>
    /// (disjoint patterns preferred, so each packet's hits land on one row).
    /// </summary>
    internal static List<(byte Value, byte Mask)> Cover(int ports, int dontCare)
    {
        int allowed = ports | dontCare;
        int best = -1, bestScore = int.MaxValue;
        for (int subset = 1; subset < 1 << s_cubes.Length; subset++)
        {
            int score = 2 * System.Numerics.BitOperations.PopCount((uint)subset);
            if (score >= bestScore) continue;
            int covered = 0;
            bool ok = true;
            for (int c = 0; c < s_cubes.Length && ok; c++)
            {
                if ((subset & (1 << c)) == 0) continue;
                if ((s_cubes[c].Set & ~allowed) != 0) ok = false;
                if ((covered & s_cubes[c].Set) != 0) score |= 1;
                covered |= s_cubes[c].Set;
            }
            if (ok && (covered & ports) == ports && score < bestScore)
            {
                best = subset;
                bestScore = score;
            }
        }
        var list = new List<(byte, byte)>();
        for (int c = 0; c < s_cubes.Length; c++)
            if ((best & (1 << c)) != 0) list.Add((s_cubes[c].Value, s_cubes[c].Mask));
        return list;
    }

    private static bool SameShape(NetFpgaRowPlan[] a, NetFpgaRowPlan[] b)
    {
        if (a.Length != b.Length) return false;
        for (int i = 0; i < a.Length; i++)
            if (a[i].SrcPort != b[i].SrcPort || a[i].SrcPortMask != b[i].SrcPortMask) return false;
        return true;
    }

    private static void RowKeyAndMask(in FlowMatch m, NetFpgaRowPlan row, Span<uint> key, Span<uint> mask)
    {
        NetFpgaEncoding.EncodeKey(m, row.SrcPort, 0, key);
        NetFpgaEncoding.EncodeMask(m, row.SrcPortMask, mask);
    }

    // ================================================================ register sequences

    private void AllocateAndWrite(HwFlow f, in FlowMatch m, NetFpgaRowPlan[] plan)
    {
        var rows = new int[plan.Length];
        for (int i = 0; i < plan.Length; i++)
        {
            int r = Array.IndexOf(_wildUsed, false);
            _wildUsed[r] = true;
            _wildFree--;
            rows[i] = r;
        }
        Span<uint> key = stackalloc uint[NetFpgaRegisters.KeyWords];
        Span<uint> mask = stackalloc uint[NetFpgaRegisters.KeyWords];
        int written = 0;
        try
        {
            for (; written < plan.Length; written++)
            {
                RowKeyAndMask(m, plan[written], key, mask);
                WriteWildcardRow(rows[written], key, mask, plan[written].Action, zeroCounters: true);
            }
        }
        catch
        {
            // The board did not take every row: clear the committed ones (best effort) and free them all.
            var zero = new uint[NetFpgaRegisters.ActionWords];
            for (int i = 0; i < written; i++)
            {
                try { WriteWildcardRow(rows[i], zero, zero, zero, zeroCounters: false); }
                catch (NetFpgaRegisterException) { }
            }
            foreach (int r in rows)
            {
                _wildUsed[r] = false;
                _wildFree++;
            }
            throw;
        }
        f.Rows = rows;
        f.Plan = plan;
        f.PacketBase = new uint[rows.Length];
        f.ByteBase = new uint[rows.Length];
    }

    private void FreeWildcardRows(HwFlow f)
    {
        Span<uint> zero = stackalloc uint[NetFpgaRegisters.ActionWords];
        zero.Clear();
        foreach (int r in f.Rows!)
        {
            // Delete = an all-zero row (its counters are zeroed when the row is next written).
            WriteWildcardRow(r, zero, zero, zero, zeroCounters: false);
            _wildUsed[r] = false;
            _wildFree++;
        }
        f.Rows = [];
    }

    private void WriteWildcardRow(int row, ReadOnlySpan<uint> key, ReadOnlySpan<uint> mask, ReadOnlySpan<uint> action, bool zeroCounters)
    {
        for (int i = 0; i < NetFpgaRegisters.KeyWords; i++) Write(NetFpgaRegisters.WildcardCmp0 + 4u * (uint)i, key[i]);
        for (int i = 0; i < NetFpgaRegisters.KeyWords; i++) Write(NetFpgaRegisters.WildcardCmpMask0 + 4u * (uint)i, mask[i]);
        for (int i = 0; i < NetFpgaRegisters.ActionWords; i++) Write(NetFpgaRegisters.WildcardAction0 + 4u * (uint)i, action[i]);
        if (zeroCounters)
        {
            Write(NetFpgaRegisters.WildcardBytesHit(row), 0);
            Write(NetFpgaRegisters.WildcardPktsHit(row), 0);
            Write(NetFpgaRegisters.WildcardLastSeen(row), 0);
        }
        Write(NetFpgaRegisters.WildcardWriteAddr, (uint)row);
    }

    private void WriteExactRow(int row, ReadOnlySpan<uint> key, ReadOnlySpan<uint> action)
    {
        for (int i = 0; i < NetFpgaRegisters.ActionWords; i++)
            Write(NetFpgaRegisters.ExactRow(row, NetFpgaRegisters.ExactActionOffset + 4u * (uint)i), action[i]);
        Write(NetFpgaRegisters.ExactRow(row, NetFpgaRegisters.ExactCountersOffset), 0);
        Write(NetFpgaRegisters.ExactRow(row, NetFpgaRegisters.ExactCountersOffset + 4), 0);
        for (int i = 0; i < NetFpgaRegisters.KeyWords; i++)
            Write(NetFpgaRegisters.ExactRow(row, NetFpgaRegisters.ExactKeyOffset + 4u * (uint)i), key[i]);
    }

    private OffloadCounts ReadExactCounts(int row)
    {
        uint w0 = Read(NetFpgaRegisters.ExactRow(row, NetFpgaRegisters.ExactCountersOffset));
        uint bytes = Read(NetFpgaRegisters.ExactRow(row, NetFpgaRegisters.ExactCountersOffset + 4));
        return new OffloadCounts(w0 & NetFpgaRegisters.ExactPacketCounterMask, bytes);
    }

    private OffloadCounts ReadWildcardCounts(HwFlow f)
    {
        long pkts = 0, bytes = 0;
        var rows = f.Rows!;
        for (int i = 0; i < rows.Length; i++)
        {
            Write(NetFpgaRegisters.WildcardReadAddr, (uint)rows[i]);
            uint p = Read(NetFpgaRegisters.WildcardPktsHit(rows[i]));
            uint b = Read(NetFpgaRegisters.WildcardBytesHit(rows[i]));
            pkts += unchecked(p - f.PacketBase![i]);
            bytes += unchecked(b - f.ByteBase![i]);
            f.PacketBase[i] = p;
            f.ByteBase[i] = b;
        }
        return new OffloadCounts(pkts, bytes);
    }

    private sealed class HwFlow
    {
        public int ExactRow = -1;
        public int[]? Rows;
        public NetFpgaRowPlan[]? Plan;
        public uint[]? PacketBase, ByteBase;
        public long CarryPackets, CarryBytes;
        public int RowCount => ExactRow >= 0 ? 1 : Rows?.Length ?? 0;
    }
}
