using Softswitch.Datapath.Meters;
using Softswitch.Datapath.Ports;

namespace Softswitch.Datapath.Qos;

/// <summary>
/// Each port's egress shaping (<see cref="PortShaper"/>) and ingress policer (a <see cref="Meter"/> of one drop band), by
/// its slot's dense index (<see cref="PortSlot.Index"/>, never reused): kept beside the port table rather than in the
/// slot, so the port types below everything name neither QoS nor meters. Read lock-free (one volatile read of an array
/// and an index: the forwarder's once per burst for the policer, per packet to a port that is not plain for the
/// shaper); written by the control path (<see cref="SwitchDatapath.SetShaping"/>, <see cref="SwitchDatapath.SetPolicing"/>),
/// copy-on-write with a compare-and-swap, so concurrent writers never lose each other's entries and take no lock.
/// </summary>
public sealed class PortQosTable
{
    private PortShaper?[] _shapers = [];
    private Meter?[] _policers = [];

    /// <summary>The egress shaping of <paramref name="slot"/>'s port, or null: sent at once.</summary>
    public PortShaper? ShaperOf(PortSlot slot) => Of(Volatile.Read(ref _shapers), slot.Index);

    /// <summary>
    /// The ingress policer of <paramref name="slot"/>'s port (Open vSwitch's ingress_policing_rate and
    /// ingress_policing_burst): a meter of one drop band in kbit/s with its burst in kbit, measured over what the port
    /// receives before it is parsed; null: not policed.
    /// </summary>
    public Meter? PolicerOf(PortSlot slot) => Of(Volatile.Read(ref _policers), slot.Index);

    /// <summary>Sets (null: removes) the port's shaping; what a forwarder concluded from the port's state is stale after.</summary>
    internal void SetShaper(PortSlot slot, PortShaper? shaper)
    {
        Set(ref _shapers, slot.Index, shaper);
        PortSlot.StateChanged();
    }

    /// <summary>Sets (null: removes) the port's policer.</summary>
    internal void SetPolicer(PortSlot slot, Meter? policer) => Set(ref _policers, slot.Index, policer);

    /// <summary>A port removed: its shaping and policer go with it.</summary>
    internal void Remove(PortSlot slot)
    {
        Set(ref _shapers, slot.Index, null);
        Set(ref _policers, slot.Index, null);
    }

    private static T? Of<T>(T?[] a, int index) where T : class => (uint)index < (uint)a.Length ? a[index] : null;

    private static void Set<T>(ref T?[] cell, int index, T? value) where T : class
    {
        while (true)
        {
            var old = Volatile.Read(ref cell);
            if (value is null && (uint)index >= (uint)old.Length) return;
            var now = new T?[Math.Max(old.Length, index + 1)];
            old.CopyTo(now, 0);
            now[index] = value;
            if (ReferenceEquals(Interlocked.CompareExchange(ref cell, now, old), old)) return;
        }
    }
}
