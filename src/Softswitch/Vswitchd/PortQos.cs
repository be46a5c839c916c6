using System.Globalization;
using Softswitch.Ovsdb;

namespace Softswitch.Vswitchd;

/// <summary>
/// A Port's QoS row as the switch's egress shaping takes it: Open vSwitch's linux-htb (and linux-hfsc, the same
/// two rates) with other_config:max-rate the port's ceiling, and each Queue's other_config min-rate and max-rate
/// (bits per second) a queue of the port by its id. Two equal rows compare equal (queues in id order).
/// </summary>
internal sealed record PortQos(long MaxRate, IReadOnlyList<(uint Id, long MinRate, long MaxRate)> Queues)
{
    public bool Equals(PortQos? other) => other is not null && MaxRate == other.MaxRate && Queues.SequenceEqual(other.Queues);

    public override int GetHashCode() => HashCode.Combine(MaxRate, Queues.Count);

    public override string ToString()
        => $"max-rate={QosConfig.Rate(MaxRate)}" + string.Concat(Queues.Select(q => $", queue {q.Id}: min-rate={QosConfig.Rate(q.MinRate)} max-rate={QosConfig.Rate(q.MaxRate)}"));

    /// <summary>
    /// The shaping a Port row's qos asks for, or null (no qos, or one refused: the reason added to
    /// <paramref name="refused"/>). A queue whose rates do not parse or whose min-rate is above its max-rate is left
    /// out, said; so is a queue id the switch does not have (<paramref name="queueCount"/>).
    /// </summary>
    public static PortQos? Read(OvsdbReplica db, OvsdbRow port, string portName, int queueCount, List<string> refused)
    {
        if (port.Uuids("qos") is not [var qosUuid] || db.Row("QoS", qosUuid) is not { } qos) return null;
        string type = qos.String("type") ?? "";
        if (type is not ("linux-htb" or "linux-hfsc"))
        {
            refused.Add($"port {portName}: qos type '{type}' (softswitch vswitchd shapes linux-htb and linux-hfsc: the port is not shaped)");
            return null;
        }
        var other = qos.Map("other_config");
        long max = 0;
        if (other.TryGetValue("max-rate", out var text) && !TryRate(text, out max))
            refused.Add($"port {portName}: qos other_config:max-rate '{text}' is not bits per second (the port has no ceiling)");
        var queues = new List<(uint, long, long)>();
        foreach (var (key, value) in OvsdbDatum.Pairs(qos["queues"]).OrderBy(p => OvsdbDatum.Integer(p.Key)))
        {
            if (OvsdbDatum.Integer(key) is not { } id || !OvsdbDatum.TryUuid(value, out var queueUuid) || db.Row("Queue", queueUuid) is not { } queue) continue;
            string name = $"port {portName}: queue {id.ToString(CultureInfo.InvariantCulture)}";
            if (id < 0 || id >= queueCount)
            {
                refused.Add($"{name} (queue ids here are 0 to {queueCount - 1}: left out)");
                continue;
            }
            var rates = queue.Map("other_config");
            long min = 0, qmax = 0;
            if ((rates.TryGetValue("min-rate", out var m) && !TryRate(m, out min)) || (rates.TryGetValue("max-rate", out var x) && !TryRate(x, out qmax)))
            {
                refused.Add($"{name}: a rate is not bits per second (left out)");
                continue;
            }
            if (qmax != 0 && min > qmax)
            {
                refused.Add($"{name}: min-rate is above max-rate (left out)");
                continue;
            }
            queues.Add(((uint)id, min, qmax));
        }
        return new PortQos(max, queues);
    }

    private static bool TryRate(string text, out long bps)
        => long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out bps) && bps <= 1_000_000_000_000;
}
