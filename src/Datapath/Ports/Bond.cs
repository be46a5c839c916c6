using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Softswitch.Datapath.Ports;

/// <summary>How a bond spreads what it sends over its members (Open vSwitch's bond_mode).</summary>
public enum BondMode : byte
{
    /// <summary>One member (the active one) carries everything; the others stand by.</summary>
    ActiveBackup,
    /// <summary>By the frame's source MAC address and VLAN (source load balancing); no LACP needed.</summary>
    BalanceSlb,
    /// <summary>By the frame's L3/L4 addresses and ports (symmetric); only while LACP is negotiated.</summary>
    BalanceTcp,
}

/// <summary>Where LACP stands on a bond, as the bond acts on it (Open vSwitch's enum lacp_status).</summary>
public enum BondLacp : byte
{
    /// <summary>No LACP on the bond (lacp=off).</summary>
    Off,
    /// <summary>LACP runs but has not been negotiated with a partner: the bond carries nothing.</summary>
    Configured,
    /// <summary>LACP runs and a partner answered: enabled members carry traffic in both directions.</summary>
    Negotiated,
}

/// <summary>What NORMAL does with a frame received on a bond member (Open vSwitch's enum bond_verdict).</summary>
public enum BondVerdict : byte
{
    Accept,
    Drop,
    /// <summary>Accepted unless NORMAL learned its source behind another port (the frame went out one member and came
    /// back on another).</summary>
    DropIfMoved,
}

/// <summary>
/// A bond (a Port row with several Interfaces): its members are OpenFlow ports of their own, and NORMAL treats them as
/// one port. NORMAL learns a source address received on any member as the bond's (<see cref="Key"/>), sends a frame
/// for the bond out of one member (<see cref="Choose"/>), floods out of one member, never back into the bond a frame
/// came from, and admits what a member receives by <see cref="Admit"/> (Open vSwitch's ofproto/bond.c
/// bond_check_admissibility and choose_output_member). OpenFlow outputs to a member go to that member, as in Open
/// vSwitch.
/// </summary>
/// <remarks>
/// <para>Mechanism only: which members are enabled, which is active and where LACP stands are decided above the
/// datapath (carrier, up and down delays, LACP) and handed in whole with <see cref="Update"/>, one writer at a time.
/// Forwarding threads read the state with one volatile load per decision and never write.</para>
/// <para>Balanced modes hash a frame to one of <see cref="BucketCount"/> buckets, each served by an enabled member.
/// When a member is disabled only its buckets move (round robin over those enabled); when one is enabled the buckets
/// are dealt out again evenly. While <see cref="Accounting"/> is on, what NORMAL sends by the bond (<see cref="Send"/>)
/// counts its bytes per bucket (an atomic add per frame), which the protocol above takes (<see cref="TakeLoad"/>) to move
/// buckets by load every bond-rebalance-interval (<see cref="SetBuckets"/>), as Open vSwitch's bond_rebalance; off,
/// sending costs one test more than choosing.</para>
/// </remarks>
public sealed class Bond
{
    /// <summary>Hash buckets of a balanced bond (Open vSwitch's BOND_BUCKETS).</summary>
    public const int BucketCount = 256;

    private sealed class State(ushort active, ushort[] enabled, ushort[] buckets, BondLacp lacp)
    {
        public readonly ushort Active = active;
        /// <summary>The enabled members, in member order.</summary>
        public readonly ushort[] Enabled = enabled;
        /// <summary>Bucket → member (<see cref="PortNumber.None"/>: no member enabled).</summary>
        public readonly ushort[] Buckets = buckets;
        public readonly BondLacp Lacp = lacp;
    }

    private volatile State _state;
    /// <summary>Bytes sent per bucket since the protocol last took them (while <see cref="Accounting"/>).</summary>
    private readonly long[] _txBytes = new long[BucketCount];
    private volatile bool _accounting;

    /// <param name="name">The Port row's name (for logs and tools).</param>
    /// <param name="mode">How the bond spreads what it sends.</param>
    /// <param name="members">The members' port numbers (two or more; kept in order).</param>
    /// <param name="hashBasis">Mixed into every hash (Open vSwitch's other_config:bond-hash-basis).</param>
    public Bond(string name, BondMode mode, IEnumerable<ushort> members, uint hashBasis = 0)
    {
        Name = name;
        Mode = mode;
        Members = [.. members.Distinct().Order()];
        if (Members.Length == 0) throw new ArgumentException("a bond has members", nameof(members));
        HashBasis = hashBasis;
        var none = new ushort[BucketCount];
        none.AsSpan().Fill(PortNumber.None);
        _state = new State(PortNumber.None, [], none, BondLacp.Off);
    }

    public string Name { get; }
    public BondMode Mode { get; }
    /// <summary>The members' port numbers, in order.</summary>
    public ushort[] Members { get; }
    public uint HashBasis { get; }
    /// <summary>The number NORMAL learns addresses behind for the whole bond: its first member's.</summary>
    public ushort Key => Members[0];

    /// <summary>The active member (<see cref="PortNumber.None"/>: none): the one an active-backup bond sends by, and the
    /// only one whose multicast an active-backup or SLB bond admits.</summary>
    public ushort Active => _state.Active;
    public BondLacp Lacp => _state.Lacp;
    /// <summary>Whether member <paramref name="member"/> is enabled (may carry traffic).</summary>
    public bool IsEnabled(ushort member) => Array.IndexOf(_state.Enabled, member) >= 0;
    /// <summary>The member bucket <paramref name="bucket"/> sends by (<see cref="PortNumber.None"/>: none).</summary>
    public ushort BucketMember(int bucket) => _state.Buckets[bucket & (BucketCount - 1)];

    /// <summary>Whether <see cref="Send"/> counts the bytes of each bucket (a balanced bond with bond-rebalance-interval).</summary>
    public bool Accounting { get => _accounting; set => _accounting = value; }

    /// <summary>Adds the bytes sent per bucket since the last call to <paramref name="load"/> (<see cref="BucketCount"/>
    /// items) and starts counting anew (the bond's protocol; one caller at a time).</summary>
    public void TakeLoad(Span<long> load)
    {
        for (int i = 0; i < BucketCount; i++) load[i] += Interlocked.Exchange(ref _txBytes[i], 0);
    }

    /// <summary>
    /// Gives the buckets new members (<paramref name="buckets"/>, <see cref="BucketCount"/> items: a rebalance), from the
    /// bond's control thread as <see cref="Update"/>; a bucket given a member that is not enabled keeps the one it has.
    /// </summary>
    public void SetBuckets(ReadOnlySpan<ushort> buckets)
    {
        var old = _state;
        var next = (ushort[])old.Buckets.Clone();
        for (int i = 0; i < BucketCount; i++)
            if (Array.IndexOf(old.Enabled, buckets[i]) >= 0) next[i] = buckets[i];
        _state = new State(old.Active, old.Enabled, next, old.Lacp);
    }

    /// <summary>Whether <paramref name="other"/> is the same bond (its state aside).</summary>
    public bool SameAs(Bond other) => Name == other.Name && Mode == other.Mode && HashBasis == other.HashBasis && Members.AsSpan().SequenceEqual(other.Members);

    /// <summary>
    /// Sets which members are enabled, the active member and where LACP stands (from the bond's control thread; one
    /// writer). Members not of the bond are ignored; an active member that is not enabled is still the active one
    /// (Open vSwitch's, while its updelay runs).
    /// </summary>
    public void Update(ushort active, IEnumerable<ushort> enabled, BondLacp lacp)
    {
        var old = _state;
        ushort[] on = [.. Members.Where(m => enabled.Contains(m))];
        var buckets = (ushort[])old.Buckets.Clone();
        if (on.Length == 0)
        {
            buckets.AsSpan().Fill(PortNumber.None);
        }
        else if (on.Any(m => Array.IndexOf(old.Enabled, m) < 0))
        {
            // A member came up: deal every bucket out again, evenly.
            for (int i = 0; i < BucketCount; i++) buckets[i] = on[i % on.Length];
        }
        else
        {
            // Members went down (or nothing changed): only their buckets move.
            int next = 0;
            for (int i = 0; i < BucketCount; i++)
            {
                if (Array.IndexOf(on, buckets[i]) >= 0) continue;
                buckets[i] = on[next++ % on.Length];
            }
        }
        if (Array.IndexOf(Members, active) < 0) active = PortNumber.None;
        _state = new State(active, on, buckets, lacp);
    }

    /// <summary>
    /// Whether NORMAL admits a frame received on <paramref name="member"/> (to a multicast destination when
    /// <paramref name="multicast"/>), as Open vSwitch's bond_check_admissibility: with LACP negotiated, what an enabled
    /// member receives; with LACP configured but not negotiated, nothing; a balance-tcp bond without LACP, nothing;
    /// otherwise no multicast but the active member's, and an active-backup bond only the active member's frames, a
    /// balance-slb bond any (<see cref="BondVerdict.DropIfMoved"/>).
    /// </summary>
    public BondVerdict Admit(ushort member, bool multicast)
    {
        var s = _state;
        switch (s.Lacp)
        {
            case BondLacp.Negotiated:
                return Array.IndexOf(s.Enabled, member) >= 0 ? BondVerdict.Accept : BondVerdict.Drop;
            case BondLacp.Configured:
                return BondVerdict.Drop;
        }
        if (Mode == BondMode.BalanceTcp) return BondVerdict.Drop;
        if (multicast && member != s.Active) return BondVerdict.Drop;
        if (Mode == BondMode.ActiveBackup) return member == s.Active ? BondVerdict.Accept : BondVerdict.Drop;
        return BondVerdict.DropIfMoved;
    }

    /// <summary>
    /// The member a frame of VLAN <paramref name="vlan"/> leaves the bond by, or <see cref="PortNumber.None"/> (drop):
    /// the active member of an active-backup bond; a balanced bond's bucket of the frame's hash (source MAC and VLAN for
    /// balance-slb, L3/L4 for balance-tcp, which sends nothing until LACP is negotiated); nothing while LACP is
    /// configured but not negotiated (Open vSwitch's choose_output_member without lacp-fallback-ab).
    /// </summary>
    public ushort Choose(ReadOnlySpan<byte> frame, ushort vlan) => ChooseBucket(frame, vlan, out _);

    /// <summary><see cref="Choose"/> and the frame's bucket (-1: none, an active-backup bond or nothing chosen).</summary>
    private ushort ChooseBucket(ReadOnlySpan<byte> frame, ushort vlan, out int bucket)
    {
        bucket = -1;
        var s = _state;
        if (s.Lacp == BondLacp.Configured) return PortNumber.None;
        switch (Mode)
        {
            case BondMode.ActiveBackup:
                return Array.IndexOf(s.Enabled, s.Active) >= 0 ? s.Active : PortNumber.None;
            case BondMode.BalanceSlb:
                bucket = Bucket(SlbHash(frame, vlan, HashBasis));
                return s.Buckets[bucket];
            default:
                if (s.Lacp != BondLacp.Negotiated) return PortNumber.None;
                bucket = Bucket(TcpHash(frame, HashBasis));
                return s.Buckets[bucket];
        }
    }

    /// <summary>
    /// <see cref="Choose"/> for a frame NORMAL sends by the bond: while
    /// <see cref="Accounting"/>, its bytes count to its bucket.
    /// </summary>
    public ushort Send(ReadOnlySpan<byte> frame, ushort vlan)
    {
        ushort member = ChooseBucket(frame, vlan, out int bucket);
        if (_accounting && bucket >= 0 && member != PortNumber.None) Interlocked.Add(ref _txBytes[bucket], frame.Length);
        return member;
    }

    /// <summary>Counts a frame NORMAL flooded by the bond's member <see cref="Choose"/> picked
    /// (while <see cref="Accounting"/>, as <see cref="Send"/>).</summary>
    public void Account(ReadOnlySpan<byte> frame, ushort vlan)
    {
        if (_accounting) Send(frame, vlan);
    }

    /// <summary>A hash's bucket: its top byte after a multiplication (which mixes every bit into it), not a fold of
    /// CRC bits (linear: ports in a row, as a host's connections take them, fell into a few buckets' pattern).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Bucket(uint h) => (int)((h * 0x9E3779B1u) >> 24);

    /// <summary>balance-slb's hash: the frame's source MAC address and its VLAN.</summary>
    public static uint SlbHash(ReadOnlySpan<byte> frame, ushort vlan, uint basis = 0)
    {
        if (frame.Length < 12) return basis;
        ulong src = ((ulong)BinaryPrimitives.ReadUInt16BigEndian(frame[6..]) << 32) | BinaryPrimitives.ReadUInt32BigEndian(frame[8..]);
        return BitOperations.Crc32C(basis, src | ((ulong)vlan << 48));
    }

    /// <summary>
    /// balance-tcp's hash, symmetric (a flow and its reply hash alike): IPv4 or IPv6 addresses, the protocol, and TCP,
    /// UDP or SCTP ports (not of a later IPv4 fragment, nor past IPv6 extension headers); the two MAC addresses of a
    /// frame that is not IP. Up to two VLAN tags are skipped.
    /// </summary>
    public static uint TcpHash(ReadOnlySpan<byte> frame, uint basis = 0)
    {
        if (frame.Length < 14) return basis;
        int off = 12;
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(frame[off..]);
        for (int tags = 0; tags < 2 && type is 0x8100 or 0x88A8 && frame.Length >= off + 6; tags++)
        {
            off += 4;
            type = BinaryPrimitives.ReadUInt16BigEndian(frame[off..]);
        }
        off += 2;
        uint h;
        int proto, l4;
        if (type == 0x0800 && frame.Length >= off + 20)
        {
            var ip = frame[off..];
            h = BitOperations.Crc32C(basis, BinaryPrimitives.ReadUInt32BigEndian(ip[12..]) ^ BinaryPrimitives.ReadUInt32BigEndian(ip[16..]));
            proto = ip[9];
            bool later = (BinaryPrimitives.ReadUInt16BigEndian(ip[6..]) & 0x1FFF) != 0;
            l4 = later ? -1 : off + (ip[0] & 0x0F) * 4;
        }
        else if (type == 0x86DD && frame.Length >= off + 40)
        {
            var ip = frame[off..];
            ulong a = BinaryPrimitives.ReadUInt64BigEndian(ip[8..]) ^ BinaryPrimitives.ReadUInt64BigEndian(ip[24..]);
            ulong b = BinaryPrimitives.ReadUInt64BigEndian(ip[16..]) ^ BinaryPrimitives.ReadUInt64BigEndian(ip[32..]);
            h = BitOperations.Crc32C(BitOperations.Crc32C(basis, a), b);
            proto = ip[6];
            l4 = off + 40;
        }
        else
        {
            ulong dst = ((ulong)BinaryPrimitives.ReadUInt16BigEndian(frame) << 32) | BinaryPrimitives.ReadUInt32BigEndian(frame[2..]);
            ulong src = ((ulong)BinaryPrimitives.ReadUInt16BigEndian(frame[6..]) << 32) | BinaryPrimitives.ReadUInt32BigEndian(frame[8..]);
            return BitOperations.Crc32C(basis, dst ^ src);
        }
        uint ports = 0;
        if (proto is 6 or 17 or 132 && l4 >= 0 && frame.Length >= l4 + 4)
            ports = (uint)(BinaryPrimitives.ReadUInt16BigEndian(frame[l4..]) ^ BinaryPrimitives.ReadUInt16BigEndian(frame[(l4 + 2)..]));
        return BitOperations.Crc32C(h, ((ulong)(uint)proto << 32) | ports);
    }
}
