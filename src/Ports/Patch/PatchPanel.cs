using Softswitch.Datapath.Flow;

namespace Softswitch.Ports.Patch;

/// <summary>
/// Where patch ends find each other by name: an end opened with peer Y is connected to the open end named Y whose
/// own peer names it back; closing an end disconnects both (the other's link goes down until a new end with its name
/// is opened). Interface names are unique across the switches that share a panel, as in the Open vSwitch database.
/// </summary>
/// <remarks>Thread safety: Open and Close serialise on one lock; ends are sent through without it.</remarks>
public sealed class PatchPanel
{
    private readonly Dictionary<string, PatchPort> _open = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <summary>Two ends were connected or disconnected (their switches may re-read link states); raised outside the lock.</summary>
    public event Action? LinksChanged;

    /// <summary>Opens the end <paramref name="name"/> patched to <paramref name="peer"/>; throws ArgumentException when the name is taken or names itself.</summary>
    public PatchPort Open(string name, string peer, MacAddress mac)
    {
        if (string.IsNullOrEmpty(peer)) throw new ArgumentException($"patch interface {name}: options:peer is missing");
        if (peer == name) throw new ArgumentException($"patch interface {name}: options:peer names the interface itself");
        PatchPort end;
        lock (_lock)
        {
            if (_open.ContainsKey(name)) throw new ArgumentException($"patch interface {name} is open already");
            end = new PatchPort(name, peer, mac);
            _open[name] = end;
            if (_open.TryGetValue(peer, out var other) && other.PeerName == name) PatchPort.Connect(end, other);
        }
        if (end.LinkUp) LinksChanged?.Invoke();
        return end;
    }

    /// <summary>Takes the end off the panel (disconnected; the datapath that holds it disposes it).</summary>
    public void Close(PatchPort end)
    {
        lock (_lock)
        {
            if (_open.TryGetValue(end.Info.Name, out var cur) && cur == end) _open.Remove(end.Info.Name);
            end.Disconnect();
        }
        LinksChanged?.Invoke();
    }
}
