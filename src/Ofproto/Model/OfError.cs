namespace Softswitch.Ofproto;

/// <summary>
/// Why the OpenFlow layer refused a request, version-independent: each codec maps every value onto its own error type
/// and code explicitly (OpenFlow 1.0's and 1.3's sets differ), never by number.
/// </summary>
public enum OfError : byte
{
    None,
    // ---- requests
    /// <summary>The buffer a request names was already used, or has expired.</summary>
    BufferEmpty,
    /// <summary>The buffer a request names was never handed out.</summary>
    BufferUnknown,
    /// <summary>A packet-out with no frame, or one larger than the switch can send.</summary>
    BadPacketLength,
    /// <summary>A table the switch does not have.</summary>
    BadTableId,
    /// <summary>A TABLE_MOD config the switch does not support.</summary>
    BadTableConfig,
    /// <summary>A connection whose role is slave asked to change the switch.</summary>
    IsSlave,
    /// <summary>A port in a request that names no port of the switch (packet-out's in_port).</summary>
    BadPort,
    // ---- matches
    /// <summary>A field the datapath cannot classify on.</summary>
    UnsupportedField,
    /// <summary>A mask the datapath cannot classify with.</summary>
    UnsupportedMask,
    /// <summary>An in_port the datapath cannot name.</summary>
    BadMatchPort,
    // ---- actions and instructions
    BadOutPort,
    BadQueue,
    BadActionType,
    /// <summary>An action argument no packet can take: a TPID or ethertype a push does not allow, a label, TC, I-SID,
    /// flow label, ECN or VLAN value wider than its field (OpenFlow 1.3's BAD_ARGUMENT / BAD_SET_ARGUMENT).</summary>
    BadArgument,
    /// <summary>
    /// A conjunction with an action other than a conjunction, or an instruction, beside it, or one whose n is outside
    /// 2..64 or whose clause is outside 1..n (Open vSwitch's NXBAC_BAD_CONJUNCTION).
    /// </summary>
    BadConjunction,
    /// <summary>An instruction the pipeline does not carry (write-actions, goto-table, meter, ... before they exist).</summary>
    UnsupportedInstruction,
    /// <summary>A goto-table that does not go forward, or to a table that does not exist.</summary>
    BadGotoTable,
    // ---- flow-mods
    TableFull,
    Overlap,
    BadEmergencyTimeout,
    BadCommand,
    // ---- port-mod, queues
    PortModBadPort,
    PortModBadHwAddr,
    QueueBadPort,
    QueueBadQueue,
    // ---- roles
    /// <summary>A role request whose generation id is older than the last master's.</summary>
    StaleRole,
    // ---- groups
    /// <summary>An action (or a bucket's) names a group that does not exist.</summary>
    BadOutGroup,
    /// <summary>An ADD of a group id already in use.</summary>
    GroupExists,
    /// <summary>A reserved group id, or buckets a group of its type may not have (INDIRECT: exactly one; weights only in SELECT; a fast-failover bucket that watches nothing).</summary>
    InvalidGroup,
    /// <summary>A MODIFY of a group that does not exist.</summary>
    UnknownGroup,
    /// <summary>A group that would apply itself through its buckets' chains.</summary>
    GroupLoop,
    /// <summary>A watch in a bucket of a group type that has no liveness (ALL, INDIRECT).</summary>
    WatchUnsupported,
    /// <summary>A bucket watching a port or group that does not exist.</summary>
    BadWatch,
    /// <summary>More groups than the switch keeps.</summary>
    OutOfGroups,
    /// <summary>More buckets than a group holds.</summary>
    OutOfBuckets,
    /// <summary>A group type the switch does not know.</summary>
    BadGroupType,
    /// <summary>A group command the switch does not know.</summary>
    BadGroupCommand,
    /// <summary>Groups chained deeper than the datapath follows.</summary>
    ChainTooDeep,
    /// <summary>An insert or removal at a bucket id the group does not have (OpenFlow 1.5's OFPGMFC_UNKNOWN_BUCKET).</summary>
    UnknownBucket,
    /// <summary>An insert of a bucket whose id the group already has (OFPGMFC_BUCKET_EXISTS).</summary>
    BucketExists,
    // ---- meters
    /// <summary>A meter id no meter may have (0, above OFPM_MAX but the controller and slow-path meters, OFPM_ALL).</summary>
    InvalidMeter,
    /// <summary>An ADD of a meter id already in use.</summary>
    MeterExists,
    /// <summary>A MODIFY of a meter that does not exist, or a flow naming one.</summary>
    UnknownMeter,
    /// <summary>A meter command the switch does not know.</summary>
    BadMeterCommand,
    /// <summary>Flags the switch does not know, or both units.</summary>
    BadMeterFlags,
    /// <summary>A band rate of 0.</summary>
    BadMeterRate,
    /// <summary>A burst size the switch cannot keep.</summary>
    BadMeterBurst,
    /// <summary>A band type the switch does not carry out.</summary>
    BadMeterBand,
    /// <summary>A band argument out of range (a DSCP_REMARK precedence level of 0).</summary>
    BadMeterBandValue,
    /// <summary>More meters than the switch keeps.</summary>
    OutOfMeters,
    /// <summary>More bands than a meter holds.</summary>
    OutOfBands,
}
