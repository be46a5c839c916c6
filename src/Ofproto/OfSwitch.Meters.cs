using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Meters;
using Softswitch.Datapath.Ports;

namespace Softswitch.Ofproto;

/// <summary>
/// Meters (OpenFlow 1.3.5 sections 5.7, 6.6 and 7.3.4.5): meter-mods checked as the spec and Open vSwitch check them,
/// the datapath's meter table written, the meters read back exactly as given, their statistics and features.
/// </summary>
/// <remarks>
/// <para>Rules of a meter-mod: an ADD or MODIFY of meter 0, of an id above OFPM_MAX other than OFPM_CONTROLLER, or
/// of OFPM_ALL is INVALID_METER (OFPM_SLOWPATH too: this switch has no slow datapath apart from its datapath, so there
/// is nothing such a meter could measure); unknown flags, or both KBPS and PKTPS, BAD_FLAGS (neither: KBPS); more than
/// <see cref="Meter.MaxBands"/> bands OUT_OF_BANDS; a band type other than DROP and DSCP_REMARK BAD_BAND; a rate of 0
/// BAD_RATE; an ADD of an existing id METER_EXISTS, past <see cref="MaxMeters"/> OUT_OF_METERS; a MODIFY of a missing
/// id UNKNOWN_METER; a DELETE of a missing id nothing (OFPM_ALL deletes every meter), as Open vSwitch.</para>
/// <para>Deleting a meter deletes the flows that name it (their FLOW_REMOVED reason METER_DELETE); a flow-mod naming a
/// meter that does not exist is UNKNOWN_METER. A MODIFY keeps the meter's counters and age; its bands start from 0,
/// their buckets full.</para>
/// <para>Each meter's configuration (the meter-mod as given, read back by METER_CONFIG) is kept on the datapath's meter
/// itself, so a switch made anew over the same datapath sees the meters the datapath measures by.</para>
/// <para>Thread safety: meter-mods are serialised by one lock; the datapath's table is read lock-free.</para>
/// </remarks>
public sealed partial class OfSwitch
{
    /// <summary>The most meters the switch keeps.</summary>
    public const int MaxMeters = 65536;

    private readonly Lock _meterLock = new();

    /// <summary>What the meters can do: DROP and DSCP_REMARK bands, every flag.</summary>
    public static OfMeterFeatures MeterFeatures => new(MaxMeters, s_bandTypes, KnownMeterFlags, Meter.MaxBands, 0);

    private static readonly OfMeterBandType[] s_bandTypes = [OfMeterBandType.Drop, OfMeterBandType.DscpRemark];

    private const OfMeterFlags KnownMeterFlags = OfMeterFlags.Kbps | OfMeterFlags.Pktps | OfMeterFlags.Burst | OfMeterFlags.Stats;

    /// <summary>Applies a meter-mod (see the type remarks).</summary>
    public OfError MeterMod(in MeterModRequest req, OfController? from = null)
    {
        if (from is { MayWrite: false }) return OfError.IsSlave;
        // This thread's run publishes first: it may hold no table while this takes the meter lock.
        EndFlowModRun();
        if (req.Command == MeterModCommand.Delete)
        {
            // Its flows are reported once every table has published their removal, outside the lock, with their
            // final counts (as a flow-mod's are), held from reuse until then.
            var removed = new List<FlowRemoved>();
            using var hold = Flows.Reclamation.Enter();
            lock (_meterLock) DeleteMeter(req.MeterId, removed);
            ReportFinal(removed);
            return OfError.None;
        }
        lock (_meterLock)
        {
            return req.Command is MeterModCommand.Add or MeterModCommand.Modify ? AddOrModifyMeter(req) : OfError.BadMeterCommand;
        }
    }

    private OfError AddOrModifyMeter(in MeterModRequest req)
    {
        uint id = req.MeterId;
        if (id == 0 || (id > MeterModRequest.MaxId && id != MeterModRequest.Controller)) return OfError.InvalidMeter;
        if ((req.Flags & ~KnownMeterFlags) != 0 || (req.Flags & (OfMeterFlags.Kbps | OfMeterFlags.Pktps)) == (OfMeterFlags.Kbps | OfMeterFlags.Pktps))
            return OfError.BadMeterFlags;
        if (req.Bands.Count > Meter.MaxBands) return OfError.OutOfBands;
        var bands = new MeterBand[req.Bands.Count];
        for (int i = 0; i < bands.Length; i++)
        {
            var b = req.Bands[i];
            if (b.Type is not (OfMeterBandType.Drop or OfMeterBandType.DscpRemark)) return OfError.BadMeterBand;
            if (b.Rate == 0) return OfError.BadMeterRate;
            bands[i] = new MeterBand(b.Type == OfMeterBandType.Drop ? MeterBandType.Drop : MeterBandType.DscpRemark, b.Rate, b.BurstSize, b.PrecLevel);
        }
        bool exists = _dp.Meters.TryGet(id, out var old);
        if (req.Command == MeterModCommand.Add && exists) return OfError.MeterExists;
        if (req.Command == MeterModCommand.Modify && !exists) return OfError.UnknownMeter;
        if (!exists && _dp.Meters.Count >= MaxMeters) return OfError.OutOfMeters;
        var unit = (req.Flags & OfMeterFlags.Pktps) != 0 ? MeterUnit.Pktps : MeterUnit.Kbps;
        var meter = new Meter(id, unit, (req.Flags & OfMeterFlags.Burst) != 0, (req.Flags & OfMeterFlags.Stats) != 0, bands,
                              exists ? old.CreatedNanos : _dp.Clock.NowNanos)
        {
            Description = new OfMeterConfig(id, req.Flags, [.. req.Bands]),
        };
        if (exists) meter.InheritCounters(old);
        _dp.Meters.Set(meter);
        if (id == MeterModRequest.Controller) _dp.Meters.Controller = meter;
        return OfError.None;
    }

    /// <summary>Deletes meter <paramref name="id"/> (or every meter) and the flows that name it, appended to <paramref name="removed"/> (call under the meter lock).</summary>
    private void DeleteMeter(uint id, List<FlowRemoved> removed)
    {
        List<uint> ids;
        if (id == MeterModRequest.All) ids = [.. _dp.Meters.All.Select(m => m.Id)];
        else if (_dp.Meters.TryGet(id, out _)) ids = [id];
        else return;
        var set = new HashSet<uint>(ids);
        Flows.RemoveWhere(e => e.Instructions is { Meter: not 0 } i && set.Contains(i.Meter), FlowRemovedReason.MeterDelete, removed);
        foreach (var m in ids)
        {
            _dp.Meters.Remove(m);
            if (m == MeterModRequest.Controller) _dp.Meters.Controller = null;
        }
    }

    /// <summary>
    /// Whether the meter <paramref name="instructions"/> name can be used (call under the meter lock): INVALID_METER for an
    /// id no flow meter may have (above OFPM_MAX), UNKNOWN_METER for one that does not exist (the spec's "invalid meter"
    /// and "bad meter in meter action"; Open vSwitch answers INVALID_METER for both).
    /// </summary>
    private OfError CheckMeterExists(FlowInstructions? instructions)
    {
        if (instructions is not { Meter: not 0 } i) return OfError.None;
        if (i.Meter > MeterModRequest.MaxId) return OfError.InvalidMeter;
        return _dp.Meters.TryGet(i.Meter, out _) ? OfError.None : OfError.UnknownMeter;
    }

    /// <summary>Whether meter <paramref name="id"/> exists (<see cref="MeterModRequest.All"/>: always).</summary>
    public bool HasMeter(uint id)
    {
        lock (_meterLock) return id == MeterModRequest.All || _dp.Meters.TryGet(id, out _);
    }

    /// <summary>The meters as METER_CONFIG reports them (<see cref="MeterModRequest.All"/>: every meter), by id.</summary>
    public List<OfMeterConfig> MeterConfigurations(uint meterId = MeterModRequest.All)
    {
        lock (_meterLock)
        {
            // Only this layer sets the datapath's meters: each carries its meter-mod.
            if (meterId != MeterModRequest.All) return _dp.Meters.TryGet(meterId, out var m) ? [(OfMeterConfig)m.Description!] : [];
            var all = _dp.Meters.All.Select(x => (OfMeterConfig)x.Description!).ToList();
            all.Sort((a, b) => a.MeterId.CompareTo(b.MeterId));
            return all;
        }
    }

    /// <summary>Statistics of one meter or every meter (<see cref="MeterModRequest.All"/>), by id; a meter that does not exist has none.</summary>
    public List<OfMeterStats> MeterStatistics(uint meterId = MeterModRequest.All)
    {
        var flowCounts = new Dictionary<uint, uint>();
        var flows = new List<FlowEntry>();
        Flows.Collect(FlowMatch.All, PortNumber.None, false, flows);
        foreach (var e in flows)
            if (e.Instructions is { Meter: not 0 } i) flowCounts[i.Meter] = flowCounts.GetValueOrDefault(i.Meter) + 1;
        var result = new List<OfMeterStats>();
        long now = _dp.Clock.NowNanos;
        lock (_meterLock)
        {
            foreach (var m in _dp.Meters.All)
            {
                if (meterId != MeterModRequest.All && m.Id != meterId) continue;
                var bands = new OfMeterBandStats[m.Bands.Length];
                for (int i = 0; i < bands.Length; i++) bands[i] = new OfMeterBandStats((ulong)m.Bands[i].Packets, (ulong)m.Bands[i].Bytes);
                result.Add(new OfMeterStats(m.Id, flowCounts.GetValueOrDefault(m.Id), (ulong)m.Packets, (ulong)m.Bytes, Math.Max(0, now - m.CreatedNanos), bands));
            }
        }
        result.Sort((a, b) => a.MeterId.CompareTo(b.MeterId));
        return result;
    }
}
