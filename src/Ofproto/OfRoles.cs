namespace Softswitch.Ofproto;

/// <summary>A controller connection's role (OpenFlow 1.3.5 section 6.3.6). OpenFlow 1.0 controllers are equal.</summary>
public enum OfRole : byte
{
    Equal,
    Master,
    Slave,
}

/// <summary>The kinds of asynchronous message a controller may or may not want (OpenFlow 1.3's async config).</summary>
public enum OfAsyncKind : byte
{
    PacketIn,
    PortStatus,
    FlowRemoved,
}

/// <summary>
/// Which asynchronous messages a controller receives, by its role: a mask per kind of the model's reasons
/// (<see cref="Bit(OfPacketInReason)"/> and its overloads; the agent translates OpenFlow 1.3's wire masks, whose bits
/// are wire reasons, both ways), one set for master and equal, one for slave (OpenFlow 1.3.5 section 7.3.10,
/// ofp_async_config). Immutable.
/// </summary>
public sealed record OfAsyncConfig(uint PacketInMaster, uint PortStatusMaster, uint FlowRemovedMaster,
                                            uint PacketInSlave, uint PortStatusSlave, uint FlowRemovedSlave)
{
    private const uint AllPortReasons = (1u << (int)OfPortReason.Add) | (1u << (int)OfPortReason.Delete) | (1u << (int)OfPortReason.Modify);
    private const uint AllFlowRemovedReasons = (1u << (int)OfFlowRemovedReason.IdleTimeout) | (1u << (int)OfFlowRemovedReason.HardTimeout)
                                             | (1u << (int)OfFlowRemovedReason.Delete) | (1u << (int)OfFlowRemovedReason.GroupDelete)
                                             | (1u << (int)OfFlowRemovedReason.MeterDelete) | (1u << (int)OfFlowRemovedReason.Eviction);

    /// <summary>A reason's bit in the masks (what <see cref="Wants"/> tests for it).</summary>
    public static uint Bit(OfPacketInReason r) => 1u << (int)r;

    /// <inheritdoc cref="Bit(OfPacketInReason)"/>
    public static uint Bit(OfFlowRemovedReason r) => 1u << (int)r;

    /// <inheritdoc cref="Bit(OfPacketInReason)"/>
    public static uint Bit(OfPortReason r) => 1u << (int)r;

    /// <summary>
    /// The defaults (OpenFlow 1.3.5 section 6.1.1, as Open vSwitch's ofputil_async_cfg_default): a master or equal
    /// controller gets packet-ins for table misses and outputs to the controller (OpenFlow 1.4's action-set, group and
    /// packet-out refinements of OFPR_ACTION included, in every version, as Open vSwitch: before 1.4 they are sent as
    /// OFPR_ACTION), every port status and every flow removal; a slave only port status. OpenFlow 1.0 has no slaves.
    /// </summary>
    public static OfAsyncConfig Default { get; } = new(
        PacketInMaster: (1u << (int)OfPacketInReason.NoMatch) | (1u << (int)OfPacketInReason.Action) | (1u << (int)OfPacketInReason.ActionSet)
                        | (1u << (int)OfPacketInReason.Group) | (1u << (int)OfPacketInReason.PacketOut),
        PortStatusMaster: AllPortReasons,
        FlowRemovedMaster: AllFlowRemovedReasons,
        PacketInSlave: 0,
        PortStatusSlave: AllPortReasons,
        FlowRemovedSlave: 0);

    /// <summary>True when a controller in <paramref name="role"/> receives a message of <paramref name="kind"/> for <paramref name="reason"/>.</summary>
    public bool Wants(OfRole role, OfAsyncKind kind, int reason)
    {
        bool slave = role == OfRole.Slave;
        uint mask = kind switch
        {
            OfAsyncKind.PacketIn => slave ? PacketInSlave : PacketInMaster,
            OfAsyncKind.PortStatus => slave ? PortStatusSlave : PortStatusMaster,
            _ => slave ? FlowRemovedSlave : FlowRemovedMaster,
        };
        return (uint)reason < 32 && (mask & (1u << reason)) != 0;
    }
}

/// <summary>
/// One controller connection as the OpenFlow layer sees it: its role and which asynchronous messages it wants. The
/// agent creates one per connection (<see cref="OfRoles.Join"/>) and gives it back when the connection closes.
/// </summary>
/// <remarks>Thread safety: the role changes only under the <see cref="OfRoles"/> lock; reads are single-word reads.</remarks>
public sealed class OfController
{
    private volatile OfAsyncConfig _async = OfAsyncConfig.Default;
    private readonly OfRoles? _roles;

    internal OfController(OfRoles? roles = null) => _roles = roles;

    /// <summary>The role (equal until the controller asks for another).</summary>
    public OfRole Role { get; internal set; }

    /// <summary>The controller asked for its role (a ROLE_REQUEST naming one): it holds it by choice, not by default.</summary>
    public bool RoleChosen { get; internal set; }

    /// <summary>What asynchronous messages it wants (OpenFlow 1.3 SET_ASYNC; the defaults otherwise).</summary>
    public OfAsyncConfig Async
    {
        get => _async;
        set
        {
            _async = value;
            _roles?.OnChanged();
        }
    }

    /// <summary>True when this controller receives a message of <paramref name="kind"/> for <paramref name="reason"/>.</summary>
    public bool Wants(OfAsyncKind kind, int reason) => _async.Wants(Role, kind, reason);

    /// <summary>True when the controller may change the switch (a slave may not: OFPBRC_IS_SLAVE).</summary>
    public bool MayWrite => Role != OfRole.Slave;
}

/// <summary>
/// The controllers' roles (OpenFlow 1.3.5 section 6.3.6, as Open vSwitch's connmgr keeps them for every version): at most
/// one master; a controller that becomes master makes the previous master a slave; master and slave requests carry a
/// generation id, and one older than the newest seen (compared as a signed 64-bit distance) is refused as stale.
/// </summary>
/// <remarks>Thread-safe (one lock, a leaf: held only to change roles and to read the controllers together; <see cref="Changed"/> is raised outside it).</remarks>
public sealed class OfRoles
{
    private readonly Lock _lock = new();
    private readonly List<OfController> _controllers = new();
    private ulong _generation;
    private bool _generationSet;

    /// <summary>The generation id of the last master or slave request (0 before any), as ROLE_REPLY reports it.</summary>
    public ulong GenerationId
    {
        get { lock (_lock) return _generation; }
    }

    /// <summary>
    /// Called, outside the roles' lock, after a controller's asynchronous configuration or role changed or a controller
    /// left: what the controllers want together (<see cref="AnyWants"/>) may have changed.
    /// </summary>
    public event Action? Changed;

    internal void OnChanged() => Changed?.Invoke();

    /// <summary>
    /// Called, outside the roles' lock, for each master that another controller's master request made a slave, with
    /// the generation id of that request: the agent tells it so where its version can (OpenFlow 1.4's ROLE_STATUS, as
    /// Open vSwitch's ofconn_set_role).
    /// </summary>
    public event Action<OfController, ulong>? Demoted;

    /// <summary>Whether any controller, in its role, wants a message of <paramref name="kind"/> for <paramref name="reason"/>.</summary>
    public bool AnyWants(OfAsyncKind kind, int reason)
    {
        lock (_lock)
        {
            foreach (var c in _controllers)
                if (c.Wants(kind, reason)) return true;
            return false;
        }
    }

    /// <summary>A new controller connection, equal to begin with.</summary>
    public OfController Join()
    {
        var c = new OfController(this);
        lock (_lock) _controllers.Add(c);
        return c;
    }

    /// <summary>A controller connection closed.</summary>
    public void Leave(OfController c)
    {
        lock (_lock) _controllers.Remove(c);
        OnChanged();
    }

    /// <summary>
    /// <paramref name="c"/> asks for <paramref name="role"/> (null: only asks what it is). Returns
    /// <see cref="OfError.StaleRole"/> for a master or slave request whose generation id is older than the newest seen.
    /// </summary>
    public OfError Request(OfController c, OfRole? role, ulong generationId)
    {
        if (role is not { } r) return OfError.None;
        OfController? demoted = null;
        var err = RequestLocked(c, r, generationId, ref demoted);
        if (err != OfError.None) return err;
        // A role decides which of a controller's masks apply.
        OnChanged();
        if (demoted is not null) Demoted?.Invoke(demoted, generationId);
        return err;
    }

    private OfError RequestLocked(OfController c, OfRole r, ulong generationId, ref OfController? demoted)
    {
        lock (_lock)
        {
            if (r is OfRole.Master or OfRole.Slave)
            {
                if (_generationSet && (long)(generationId - _generation) < 0) return OfError.StaleRole;
                _generation = generationId;
                _generationSet = true;
            }
            if (r == OfRole.Master)
            {
                // At most one master: the one before (if another) becomes a slave.
                foreach (var other in _controllers)
                {
                    if (ReferenceEquals(other, c) || other.Role != OfRole.Master) continue;
                    other.Role = OfRole.Slave;
                    demoted = other;
                }
            }
            c.Role = r;
            c.RoleChosen = true;
            return OfError.None;
        }
    }
}
