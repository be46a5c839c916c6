namespace Softswitch.Datapath.Offload;

// Hot flows first. A target has room for some flows; which ones earn it is the manager's choice, by traffic: each
// Poll measures every first-table flow's packets since the previous Poll (wherever they were forwarded: software hits
// and the hardware counts just credited), and while a flow kept out only for want of room (OffloadReason.TableFull)
// forwarded more than twice the packets of the coldest hardware flow (and at least MinHotPackets more), the cold flow
// goes back to software (reason table-full, offered again when room appears) and the hot one is placed by the usual
// rules (Place: the shadowing and ordering rules hold as for any placement). A poll's swaps are a batch: the cold
// flows go out first, the target settles once (IOffloadTarget.Settle: one grace period for the XDP target), then the
// hot flows go in. The factor of two keeps two flows of
// similar rates from trading places every poll. Every method here runs under _lock.
public sealed partial class OffloadManager
{
    private readonly List<(FlowState State, long Packets)> _hot = new(), _cold = new();
    private readonly List<FlowState> _swapIn = new();
    private long _hotSwaps;

    /// <summary>Most flows a <see cref="Poll"/> brings in for colder ones.</summary>
    public int MaxHotSwapsPerPoll { get; set; } = 64;

    /// <summary>Fewest packets per poll interval a flow must forward beyond the coldest hardware flow's to take its place.</summary>
    public long MinHotPackets { get; set; } = 16;

    /// <summary>Measures each flow's packets since the last poll, then swaps hot flows refused for room with cold hardware flows.</summary>
    private void SwapHotFlowsLocked()
    {
        _hot.Clear();
        _cold.Clear();
        foreach (var s in _flows.Values)
        {
            if (!s.InFirstTable) continue;
            long total = s.Entry.Packets, recent = total - s.PacketsAtPoll;
            s.PacketsAtPoll = total;
            if (s.InHardware) _cold.Add((s, recent));
            else if (s.Reason == OffloadReason.TableFull && !s.Entry.IsRemoved) _hot.Add((s, recent));
        }
        if (_hot.Count == 0 || _cold.Count == 0) return;
        _hot.Sort(static (a, b) => b.Packets.CompareTo(a.Packets));
        _cold.Sort(static (a, b) => a.Packets.CompareTo(b.Packets));
        // First every cold flow of the batch goes out, then the target settles once (for the XDP target, one kernel
        // grace period before the freed slots may be reused, instead of one per swap under the placement lock), then
        // the hot flows are placed.
        _swapIn.Clear();
        for (int i = 0, j = 0; i < _hot.Count && j < _cold.Count && _swapIn.Count < MaxHotSwapsPerPoll; i++, j++)
        {
            var (hot, hotPackets) = _hot[i];
            var (cold, coldPackets) = _cold[j];
            if (hotPackets < (2 * coldPackets) + MinHotPackets) break;
            if (!cold.InHardware || hot.InHardware) continue;
            long w0 = _target.RegisterWrites;
            TakeOut(cold, OffloadReason.TableFull, new OffloadDetail("made room for a hotter flow", Rule: hot.Entry));
            cold.LastWrites = (int)(_target.RegisterWrites - w0);
            Decided(PlacementEvent.Evicted, cold, wasInHardware: true);
            EvictOutrankedBy(cold);
            _swapIn.Add(hot);
        }
        if (_swapIn.Count > 0) SettleLocked();
        foreach (var hot in _swapIn)
        {
            if (hot.InHardware || hot.Entry.IsRemoved) continue;
            long w0 = _target.RegisterWrites;
            Place(hot);
            hot.LastWrites = (int)(_target.RegisterWrites - w0);
            Decided(PlacementEvent.Retried, hot, wasInHardware: false);
            if (hot.InHardware) _hotSwaps++;
        }
        _swapIn.Clear();
        _hot.Clear();
        _cold.Clear();
    }
}
