namespace Softswitch.Ofproto;

/// <summary>
/// The userdata of Open vSwitch's controller actions (NXAST_CONTROLLER2), interned: a compiled controller action carries
/// a small id in place of its bytes, and a packet-in finds them by that id without copying or allocating.
/// </summary>
/// <remarks>
/// <para>Design: the datapath's output-to-controller action hands two opaque words back with each upcall (its user data
/// and tag, <see cref="PacketInOrigin"/>); a controller action with userdata, or written as NXAST_CONTROLLER2, puts the
/// id of an <see cref="Entry"/> in the user data (the flow's cookie moves into the entry) and sets the tag's record bit.
/// Entries are deduplicated by content (cookie, bytes, form), so flows that repeat a userdata share one entry, and are
/// never removed: an id stays valid for as long as any compiled action or queued upcall may hold it. At most
/// <see cref="MaxEntries"/> distinct entries exist per process; a flow-mod that would add one more is refused
/// (<see cref="Intern"/> returns -1).</para>
/// <para>Thread safety: <see cref="Intern"/> takes a lock (flow-mod threads); <see cref="Get"/> reads a published array
/// without one (the upcall pump, statistics), and an id it is given was published before the action that holds it.</para>
/// </remarks>
public static class ControllerUserData
{
    /// <summary>The most distinct (cookie, userdata, form) entries a process interns.</summary>
    public const int MaxEntries = 65536;

    /// <summary>An interned controller action's flow cookie, its userdata (empty: none) and whether it was written as NXAST_CONTROLLER2.</summary>
    public sealed record Entry(ulong Cookie, byte[] UserData, bool Controller2);

    private static readonly Lock s_lock = new();
    private static readonly Dictionary<(ulong, bool, string), int> s_ids = [];
    private static Entry[] s_entries = new Entry[16];
    private static int s_count;

    /// <summary>The id of (<paramref name="cookie"/>, <paramref name="userData"/>, <paramref name="controller2"/>), interned; -1 when <see cref="MaxEntries"/> are in use.</summary>
    public static int Intern(ulong cookie, ReadOnlySpan<byte> userData, bool controller2)
    {
        var key = (cookie, controller2, Convert.ToHexString(userData));
        lock (s_lock)
        {
            if (s_ids.TryGetValue(key, out int id)) return id;
            if (s_count == MaxEntries) return -1;
            var entries = s_entries;
            if (s_count == entries.Length)
            {
                Array.Resize(ref entries, entries.Length * 2);
            }
            entries[s_count] = new Entry(cookie, userData.ToArray(), controller2);
            // The entry is written before the array that holds it is published, and the count after.
            Volatile.Write(ref s_entries, entries);
            id = s_count++;
            s_ids[key] = id;
            return id;
        }
    }

    /// <summary>The entry of <paramref name="id"/> (from <see cref="Intern"/>); null for an id never handed out.</summary>
    public static Entry? Get(ulong id)
    {
        var entries = Volatile.Read(ref s_entries);
        return id < (ulong)entries.Length ? entries[(int)id] : null;
    }
}
