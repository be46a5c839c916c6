namespace Softswitch.Ports.NetFpga;

/// <summary>
/// Register addresses and table geometry of the NetFPGA-1G OpenFlow 1.0 switch bitfile (openflow_switch.bit,
/// DEVICE 1.0.4; reg_defines and registers.v). Every register is 32 bits wide, addressed by byte.
/// </summary>
/// <remarks>
/// <code>
/// 0x0000008            CPCI_REG_CTRL (bit 8: reset the card)
/// 0x0600000 + n*0x40000 MAC_GRP_n (n = 0..3): queue counters of MAC port n
/// 0x1000000            SRAM: exact table, row r at 0x1000000 + (r &lt;&lt; 7), 128 B = 32 words:
///                        +0   key words 0..7 (248-bit key, valid bit 0x80 in the top byte of word 7)
///                        +32  counters: word 8 = packets (25 bits) | last_seen (7 bits) &lt;&lt; 25, word 9 = bytes
///                        +40  action words 0..9 (320 bits)
/// 0x2000000            OPENFLOW_LOOKUP: hit/miss counters, per-queue drops, timer
/// 0x2000400            watchdog
/// 0x2001000            OPENFLOW_WILDCARD_LOOKUP: staging ACTION_0..9, CMP_MASK_0..7, CMP_0..7,
///                      READ_ADDR, WRITE_ADDR, then per-row BYTES_HIT, PKTS_HIT, LAST_SEEN_TS (32 rows each)
/// </code>
/// </remarks>
public static class NetFpgaRegisters
{
    public const uint CpciRegCtrl = 0x0000008;
    public const uint CpciResetBit = 0x100;

    // ---- exact table in SRAM
    public const uint SramBase = 0x1000000;
    public const int ExactRowShift = 7;
    public const int ExactRowSize = 1 << ExactRowShift;
    public const int ExactTableRows = 32768;
    public const uint ExactKeyOffset = 0;
    public const uint ExactCountersOffset = 32;
    public const uint ExactActionOffset = 40;
    public const int ExactPacketCounterBits = 25;
    public const uint ExactPacketCounterMask = (1u << ExactPacketCounterBits) - 1;

    /// <summary>The address of byte <paramref name="offset"/> of exact row <paramref name="row"/>.</summary>
    public static uint ExactRow(int row, uint offset = 0) => SramBase + ((uint)row << ExactRowShift) + offset;

    // ---- lookup counters
    public const uint LookupBase = 0x2000000;
    public const uint WildcardMisses = LookupBase + 0x00;
    public const uint WildcardHits = LookupBase + 0x04;
    public const uint ExactMisses = LookupBase + 0x08;
    public const uint ExactHits = LookupBase + 0x0C;
    /// <summary>NUM_PKTS_DROPPED_0..7 (one per input queue: even = MAC, odd = CPU).</summary>
    public const uint NumPktsDropped0 = LookupBase + 0x10;
    public const uint LookupTimer = LookupBase + 0x38;

    public const uint WdtEnableFlag = 0x2000400;
    public const uint WdtCounter = 0x2000404;

    // ---- wildcard table
    public const uint WildcardBase = 0x2001000;
    public const uint WildcardAction0 = WildcardBase + 0x00;
    public const uint WildcardCmpMask0 = WildcardBase + 0x28;
    public const uint WildcardCmp0 = WildcardBase + 0x48;
    public const uint WildcardReadAddr = WildcardBase + 0x68;
    public const uint WildcardWriteAddr = WildcardBase + 0x6C;
    public const uint WildcardBytesHit0 = WildcardBase + 0x70;
    public const uint WildcardPktsHit0 = WildcardBase + 0xF0;
    public const uint WildcardLastSeen0 = WildcardBase + 0x178;
    public const int WildcardTableRows = 32;
    /// <summary>Rows 24..31 are reserved (CPU -&gt; MAC, then per-port catch-all -&gt; CPU); rows 0..23 hold flows.</summary>
    public const int UsableWildcardRows = 24;
    public const int CpuToMacRow0 = 24;
    public const int CatchAllRow0 = 28;

    public static uint WildcardBytesHit(int row) => WildcardBytesHit0 + 4u * (uint)row;
    public static uint WildcardPktsHit(int row) => WildcardPktsHit0 + 4u * (uint)row;
    public static uint WildcardLastSeen(int row) => WildcardLastSeen0 + 4u * (uint)row;

    // ---- layouts
    public const int KeyWords = 8;
    public const int ActionWords = 10;
    public const int MaxPorts = 4;

    // ---- MAC groups (queue counters of the four MAC ports)
    public const uint MacGroupBase = 0x0600000;
    public const uint MacGroupStride = 0x40000;
    public const uint MacControl = 0x00;
    public const uint MacRxPktsInQueue = 0x04;
    public const uint MacRxPktsStored = 0x08;
    public const uint MacRxPktsDroppedFull = 0x0C;
    public const uint MacRxPktsDroppedBad = 0x10;
    public const uint MacRxPktsDequeued = 0x14;
    public const uint MacRxWordsPushed = 0x18;
    public const uint MacRxBytesPushed = 0x1C;
    public const uint MacTxPktsInQueue = 0x20;
    public const uint MacTxPktsEnqueued = 0x24;
    public const uint MacTxPktsSent = 0x28;
    public const uint MacTxWordsPushed = 0x2C;
    public const uint MacTxBytesPushed = 0x30;
    public const uint MacGroupSize = 0x34;

    public static uint MacGroup(int port, uint reg) => MacGroupBase + MacGroupStride * (uint)port + reg;

    // ---- nf2_action_flag bits (1 << OFPAT_*)
    public const ushort FlagOutput = 0x001;
    public const ushort FlagSetVlanVid = 0x002;
    public const ushort FlagSetVlanPcp = 0x004;
    public const ushort FlagStripVlan = 0x008;
    public const ushort FlagSetDlSrc = 0x010;
    public const ushort FlagSetDlDst = 0x020;
    public const ushort FlagSetNwSrc = 0x040;
    public const ushort FlagSetNwDst = 0x080;
    public const ushort FlagSetNwTos = 0x100;
    public const ushort FlagSetTpSrc = 0x200;
    public const ushort FlagSetTpDst = 0x400;

    /// <summary>The exact-table placement polynomials: the Ethernet CRC first, then CRC-32C's.</summary>
    public const uint CrcPoly1 = 0x04C11DB7;
    public const uint CrcPoly2 = 0x1EDC6F41;
}
