using System.Text.Json;
using Softswitch.OfWire.Of10;

namespace Softswitch.OfWire.Tests.Of10;

/// <summary>
/// One JSON object of a vector's "expect", checked key by key against decoded values. Every key must be
/// looked at (compared or explicitly ignored) before <see cref="Done"/>, so a key the comparisons forgot
/// fails the test instead of passing silently.
/// </summary>
public sealed class ExpectObject
{
    private readonly JsonElement _element;
    private readonly string _path;
    private readonly HashSet<string> _seen = new();

    public ExpectObject(JsonElement element, string path)
    {
        Assert.True(element.ValueKind == JsonValueKind.Object, $"{path}: expected a JSON object");
        _element = element;
        _path = path;
    }

    public bool Has(string key) => _element.TryGetProperty(key, out _);

    public JsonElement Get(string key)
    {
        Assert.True(_element.TryGetProperty(key, out JsonElement value), $"{_path}.{key}: missing in expect");
        _seen.Add(key);
        return value;
    }

    public void Ignore(params string[] keys)
    {
        foreach (string key in keys)
        {
            _seen.Add(key);
        }
    }

    public ExpectObject Object(string key) => new(Get(key), $"{_path}.{key}");

    public IReadOnlyList<ExpectObject> Array(string key)
    {
        JsonElement array = Get(key);
        Assert.True(array.ValueKind == JsonValueKind.Array, $"{_path}.{key}: expected an array");
        return array.EnumerateArray().Select((e, i) => new ExpectObject(e, $"{_path}.{key}[{i}]")).ToList();
    }

    /// <summary>Compares a number (if the key is present, or always when required).</summary>
    public void Num(string key, ulong actual, bool required = true)
    {
        if (!required && !Has(key))
        {
            return;
        }
        JsonElement e = Get(key);
        Assert.True(e.ValueKind == JsonValueKind.Number, $"{_path}.{key}: expected a number, got {e}");
        Assert.True(e.GetUInt64() == actual, $"{_path}.{key}: expected {e.GetUInt64()}, decoded {actual}");
    }

    public void Str(string key, string actual)
    {
        string? expected = Get(key).GetString();
        Assert.True(expected == actual, $"{_path}.{key}: expected '{expected}', decoded '{actual}'");
    }

    public void Hex(string key, ReadOnlySpan<byte> actual)
    {
        string expected = Get(key).GetString()!.ToLowerInvariant();
        string got = Convert.ToHexString(actual).ToLowerInvariant();
        Assert.True(expected == got, $"{_path}.{key}: expected {expected}, decoded {got}");
    }

    public void Mac(string key, OfpMac actual) => Str(key, actual.ToString());

    public void Ip(string key, uint actual)
    {
        string expected = Get(key).GetString()!;
        Assert.True(OfNames.Ipv4(expected) == actual, $"{_path}.{key}: expected {expected}, decoded {actual:x8}");
    }

    /// <summary>An enum given as an OFP name ("OFPT_FLOW_MOD") or as a number.</summary>
    public void Enum<T>(string key, T actual) where T : struct, Enum
    {
        JsonElement e = Get(key);
        ulong actualNumber = Convert.ToUInt64(actual);
        if (e.ValueKind == JsonValueKind.Number)
        {
            Assert.True(e.GetUInt64() == actualNumber, $"{_path}.{key}: expected {e.GetUInt64()}, decoded {actualNumber}");
        }
        else
        {
            T expected = OfNames.Parse<T>(e.GetString()!);
            Assert.True(expected.Equals(actual), $"{_path}.{key}: expected {e.GetString()} ({expected}), decoded {actual}");
        }
    }

    public void Done()
    {
        var unchecked_ = _element.EnumerateObject().Select(p => p.Name).Where(n => !_seen.Contains(n)).ToList();
        Assert.True(unchecked_.Count == 0, $"{_path}: expect keys not compared: {string.Join(", ", unchecked_)}");
    }
}

/// <summary>Field comparisons shared by the golden tests.</summary>
public static class ExpectChecks
{
    public static void Match(ExpectObject e, OfpMatch m)
    {
        e.Num("wildcards", (uint)m.Wildcards);
        e.Num("in_port", m.InPort);
        e.Mac("dl_src", m.DlSrc);
        e.Mac("dl_dst", m.DlDst);
        e.Num("dl_vlan", m.DlVlan);
        e.Num("dl_vlan_pcp", m.DlVlanPcp);
        e.Num("dl_type", m.DlType);
        e.Num("nw_tos", m.NwTos);
        e.Num("nw_proto", m.NwProto);
        e.Ip("nw_src", m.NwSrc);
        e.Ip("nw_dst", m.NwDst);
        e.Num("tp_src", m.TpSrc);
        e.Num("tp_dst", m.TpDst);
        e.Done();
    }

    public static void Actions(IReadOnlyList<ExpectObject> expected, List<OfpAction> actual, string path)
    {
        Assert.True(expected.Count == actual.Count, $"{path}: expected {expected.Count} actions, decoded {actual.Count}");
        for (int i = 0; i < expected.Count; i++)
        {
            Action(expected[i], actual[i]);
        }
    }

    public static void Action(ExpectObject e, OfpAction a)
    {
        e.Enum("type", a.Type);
        e.Num("len", (ulong)a.EncodedSize, required: false);
        switch (a.Type)
        {
            case OfpActionType.Output:
                e.Num("port", a.Port);
                e.Num("max_len", a.MaxLen);
                break;
            case OfpActionType.SetVlanVid:
                e.Num("vlan_vid", a.VlanVid);
                break;
            case OfpActionType.SetVlanPcp:
                e.Num("vlan_pcp", a.VlanPcp);
                break;
            case OfpActionType.SetDlSrc:
            case OfpActionType.SetDlDst:
                e.Mac("dl_addr", a.DlAddr);
                break;
            case OfpActionType.SetNwSrc:
            case OfpActionType.SetNwDst:
                e.Ip("nw_addr", a.NwAddr);
                break;
            case OfpActionType.SetNwTos:
                e.Num("nw_tos", a.NwTos);
                break;
            case OfpActionType.SetTpSrc:
            case OfpActionType.SetTpDst:
                e.Num("tp_port", a.TpPort);
                break;
            case OfpActionType.Enqueue:
                e.Num("port", a.Port);
                e.Num("queue_id", a.QueueId);
                break;
            case OfpActionType.Vendor:
                e.Num("vendor", a.Vendor);
                e.Hex("body_hex", a.VendorBody.Span);
                break;
        }
        e.Done();
    }

    public static void PhyPort(ExpectObject e, OfpPhyPort p)
    {
        e.Num("port_no", p.PortNo);
        e.Mac("hw_addr", p.HwAddr);
        e.Str("name", p.Name);
        Span<byte> raw = stackalloc byte[OfpPhyPort.Size];
        p.Write(raw);
        e.Hex("name_raw_hex", raw.Slice(8, OfpConstants.MaxPortNameSize));
        e.Num("config", (uint)p.Config);
        e.Num("state", (uint)p.State);
        e.Num("curr", (uint)p.Curr);
        e.Num("advertised", (uint)p.Advertised);
        e.Num("supported", (uint)p.Supported);
        e.Num("peer", (uint)p.Peer);
        e.Done();
    }

    public static void FlowStats(ExpectObject e, OfpFlowStats f)
    {
        e.Num("length", (ulong)f.EncodedSize);
        e.Num("table_id", f.TableId);
        Match(e.Object("match"), f.Match);
        e.Num("duration_sec", f.DurationSec);
        e.Num("duration_nsec", f.DurationNsec);
        e.Num("priority", f.Priority);
        e.Num("idle_timeout", f.IdleTimeout);
        e.Num("hard_timeout", f.HardTimeout);
        e.Num("cookie", f.Cookie);
        e.Num("packet_count", f.PacketCount);
        e.Num("byte_count", f.ByteCount);
        Actions(e.Array("actions"), f.Actions, "flow.actions");
        e.Done();
    }

    public static void TableStats(ExpectObject e, OfpTableStats t)
    {
        e.Num("table_id", t.TableId);
        e.Str("name", t.Name);
        e.Num("wildcards", (uint)t.Wildcards);
        e.Num("max_entries", t.MaxEntries);
        e.Num("active_count", t.ActiveCount);
        e.Num("lookup_count", t.LookupCount);
        e.Num("matched_count", t.MatchedCount);
        e.Done();
    }

    public static void PortStats(ExpectObject e, OfpPortStats p)
    {
        e.Num("port_no", p.PortNo);
        e.Num("rx_packets", p.RxPackets);
        e.Num("tx_packets", p.TxPackets);
        e.Num("rx_bytes", p.RxBytes);
        e.Num("tx_bytes", p.TxBytes);
        e.Num("rx_dropped", p.RxDropped);
        e.Num("tx_dropped", p.TxDropped);
        e.Num("rx_errors", p.RxErrors);
        e.Num("tx_errors", p.TxErrors);
        e.Num("rx_frame_err", p.RxFrameErr);
        e.Num("rx_over_err", p.RxOverErr);
        e.Num("rx_crc_err", p.RxCrcErr);
        e.Num("collisions", p.Collisions);
        e.Done();
    }

    public static void QueueStats(ExpectObject e, OfpQueueStats q)
    {
        e.Num("port_no", q.PortNo);
        e.Num("queue_id", q.QueueId);
        e.Num("tx_bytes", q.TxBytes);
        e.Num("tx_packets", q.TxPackets);
        e.Num("tx_errors", q.TxErrors);
        e.Done();
    }

    /// <summary>Header fields, then the body fields of the message's type.</summary>
    public static void Message(ExpectObject e, OfpMessage msg)
    {
        e.Num("version", msg.Version);
        e.Enum("type", msg.Type);
        e.Num("length", (ulong)msg.EncodedSize);
        e.Num("xid", msg.Xid);

        switch (msg)
        {
            case OfpHello m:
                e.Hex("body_hex", m.Body.Span);
                break;
            case OfpEchoMessage m:
                e.Hex("data_hex", m.Data.Span);
                break;
            case OfpErrorMsg m:
                e.Num("err_type", (ushort)m.ErrorType);
                e.Num("err_code", m.Code);
                e.Str("error", OfNames.ErrorText(m.ErrorType, m.Code));
                e.Hex("data_hex", m.Data.Span);
                break;
            case OfpVendor m:
                e.Num("vendor", m.Vendor);
                e.Hex("vendor_body_hex", m.Data.Span);
                break;
            case OfpFeaturesReply m:
                string dpid = e.Get("datapath_id").GetString()!;
                Assert.True(OfNames.HexU64(dpid) == m.DatapathId, $"datapath_id: expected {dpid}, decoded {m.DatapathId:x16}");
                e.Num("n_buffers", m.NBuffers);
                e.Num("n_tables", m.NTables);
                e.Num("capabilities", (uint)m.Capabilities);
                e.Num("actions", m.Actions);
                CheckNames<OfpCapabilities>(e, "capabilities_names", (uint)m.Capabilities, n => (uint)OfNames.Parse<OfpCapabilities>(n));
                CheckNames<OfpActionType>(e, "actions_names", m.Actions, n => 1u << (int)OfNames.Parse<OfpActionType>(n));
                var ports = e.Array("ports");
                Assert.Equal(ports.Count, m.Ports.Count);
                for (int i = 0; i < ports.Count; i++)
                {
                    PhyPort(ports[i], m.Ports[i]);
                }
                break;
            case OfpSwitchConfig m:
                e.Num("flags", (ushort)m.Flags);
                e.Num("miss_send_len", m.MissSendLen);
                break;
            case OfpPacketIn m:
                e.Num("buffer_id", m.BufferId);
                e.Num("total_len", m.TotalLen);
                e.Num("in_port", m.InPort);
                e.Num("reason", (byte)m.Reason);
                e.Enum("reason_name", m.Reason);
                e.Num("data_len", (ulong)m.Data.Length);
                e.Hex("data_hex", m.Data.Span);
                break;
            case OfpFlowRemoved m:
                Match(e.Object("match"), m.Match);
                e.Num("cookie", m.Cookie);
                e.Num("priority", m.Priority);
                e.Num("reason", (byte)m.Reason);
                e.Enum("reason_name", m.Reason);
                e.Num("duration_sec", m.DurationSec);
                e.Num("duration_nsec", m.DurationNsec);
                e.Num("idle_timeout", m.IdleTimeout);
                e.Num("packet_count", m.PacketCount);
                e.Num("byte_count", m.ByteCount);
                break;
            case OfpPortStatus m:
                e.Num("reason", (byte)m.Reason);
                e.Enum("reason_name", m.Reason);
                PhyPort(e.Object("desc"), m.Desc);
                break;
            case OfpPacketOut m:
                e.Num("buffer_id", m.BufferId);
                e.Num("in_port", m.InPort);
                e.Num("actions_len", (ulong)OfpActions.GetEncodedSize(m.Actions));
                Actions(e.Array("actions"), m.Actions, "actions");
                e.Num("data_len", (ulong)m.Data.Length);
                e.Hex("data_hex", m.Data.Span);
                break;
            case OfpFlowMod m:
                Match(e.Object("match"), m.Match);
                e.Num("cookie", m.Cookie);
                e.Enum("command", m.Command);
                e.Num("idle_timeout", m.IdleTimeout);
                e.Num("hard_timeout", m.HardTimeout);
                e.Num("priority", m.Priority);
                e.Num("buffer_id", m.BufferId);
                e.Num("out_port", m.OutPort);
                e.Num("flags", (ushort)m.Flags);
                Actions(e.Array("actions"), m.Actions, "actions");
                break;
            case OfpPortMod m:
                e.Num("port_no", m.PortNo);
                e.Mac("hw_addr", m.HwAddr);
                e.Num("config", (uint)m.Config);
                e.Num("mask", (uint)m.Mask);
                e.Num("advertise", (uint)m.Advertise);
                break;
            case OfpStatsRequest m:
                StatsRequest(e, m);
                break;
            case OfpStatsReply m:
                StatsReply(e, m);
                break;
            case OfpQueueGetConfigRequest m:
                e.Num("port", m.Port);
                break;
            case OfpQueueGetConfigReply m:
                e.Num("port", m.Port);
                var queues = e.Array("queues");
                Assert.Equal(queues.Count, m.Queues.Count);
                for (int i = 0; i < queues.Count; i++)
                {
                    ExpectObject q = queues[i];
                    OfpPacketQueue queue = m.Queues[i];
                    q.Num("queue_id", queue.QueueId);
                    q.Num("len", (ulong)queue.EncodedSize);
                    var props = q.Array("properties");
                    Assert.Equal(props.Count, queue.Properties.Count);
                    for (int j = 0; j < props.Count; j++)
                    {
                        ExpectObject p = props[j];
                        OfpQueueProperty prop = queue.Properties[j];
                        p.Num("property", (ushort)prop.Property);
                        p.Num("len", (ulong)prop.EncodedSize);
                        if (prop.Property == OfpQueueProperties.MinRate)
                        {
                            p.Num("rate", prop.Rate);
                        }
                        else
                        {
                            p.Hex("body_hex", prop.Body.Span);
                        }
                        p.Done();
                    }
                    q.Done();
                }
                break;
        }
        e.Done();
    }

    private static void StatsRequest(ExpectObject e, OfpStatsRequest m)
    {
        e.Enum("stats_type", m.StatsType);
        e.Num("flags", m.Flags);
        switch (m)
        {
            case OfpFlowStatsRequestBase f:
                Match(e.Object("match"), f.Match);
                e.Num("table_id", f.TableId);
                e.Num("out_port", f.OutPort);
                break;
            case OfpPortStatsRequest p:
                e.Num("port_no", p.PortNo);
                break;
            case OfpQueueStatsRequest q:
                e.Num("port_no", q.PortNo);
                e.Num("queue_id", q.QueueId);
                break;
            case OfpVendorStatsRequest v:
                e.Num("vendor", v.Vendor);
                e.Hex("vendor_body_hex", v.Data.Span);
                break;
        }
    }

    private static void StatsReply(ExpectObject e, OfpStatsReply m)
    {
        e.Enum("stats_type", m.StatsType);
        e.Num("flags", (ushort)m.Flags);
        switch (m)
        {
            case OfpDescStatsReply d:
                e.Str("mfr_desc", d.MfrDesc);
                e.Str("hw_desc", d.HwDesc);
                e.Str("sw_desc", d.SwDesc);
                e.Str("serial_num", d.SerialNum);
                e.Str("dp_desc", d.DpDesc);
                break;
            case OfpFlowStatsReply f:
                var flows = e.Array("flows");
                Assert.Equal(flows.Count, f.Flows.Count);
                for (int i = 0; i < flows.Count; i++)
                {
                    FlowStats(flows[i], f.Flows[i]);
                }
                break;
            case OfpAggregateStatsReply a:
                e.Num("packet_count", a.PacketCount);
                e.Num("byte_count", a.ByteCount);
                e.Num("flow_count", a.FlowCount);
                break;
            case OfpTableStatsReply t:
                var tables = e.Array("tables");
                Assert.Equal(tables.Count, t.Tables.Count);
                for (int i = 0; i < tables.Count; i++)
                {
                    TableStats(tables[i], t.Tables[i]);
                }
                break;
            case OfpPortStatsReply p:
                var ports = e.Array("ports");
                Assert.Equal(ports.Count, p.Ports.Count);
                for (int i = 0; i < ports.Count; i++)
                {
                    PortStats(ports[i], p.Ports[i]);
                }
                break;
            case OfpQueueStatsReply q:
                var queues = e.Array("queues");
                Assert.Equal(queues.Count, q.Queues.Count);
                for (int i = 0; i < queues.Count; i++)
                {
                    QueueStats(queues[i], q.Queues[i]);
                }
                break;
            case OfpVendorStatsReply v:
                e.Num("vendor", v.Vendor);
                e.Hex("vendor_body_hex", v.Data.Span);
                break;
        }
    }

    /// <summary>A list of flag names must be exactly the set bits of the bitmap.</summary>
    private static void CheckNames<T>(ExpectObject e, string key, uint bitmap, Func<string, uint> bitOf) where T : struct, Enum
    {
        uint fromNames = 0;
        foreach (JsonElement name in e.Get(key).EnumerateArray())
        {
            fromNames |= bitOf(name.GetString()!);
        }
        Assert.True(fromNames == bitmap, $"{key}: names give {fromNames:x}, decoded bitmap {bitmap:x}");
    }
}
