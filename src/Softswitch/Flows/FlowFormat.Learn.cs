using System.Globalization;
using System.Text;
using Softswitch.Datapath.Actions;
using Softswitch.Ofproto;

namespace Softswitch.Flows;

public static partial class FlowFormat
{
    /// <summary>A learn action as ovs-ofctl prints it (Open vSwitch's learn_format): its parameters, then its specs.</summary>
    public static string Learn(OfLearn l)
    {
        var sb = new StringBuilder("learn(table=").Append(l.Table.ToString(CultureInfo.InvariantCulture));
        if (l.IdleTimeout != 0) sb.Append(",idle_timeout=").Append(l.IdleTimeout.ToString(CultureInfo.InvariantCulture));
        if (l.HardTimeout != 0) sb.Append(",hard_timeout=").Append(l.HardTimeout.ToString(CultureInfo.InvariantCulture));
        if (l.FinIdleTimeout != 0) sb.Append(",fin_idle_timeout=").Append(l.FinIdleTimeout.ToString(CultureInfo.InvariantCulture));
        if (l.FinHardTimeout != 0) sb.Append(",fin_hard_timeout=").Append(l.FinHardTimeout.ToString(CultureInfo.InvariantCulture));
        if (l.Priority != 0x8000) sb.Append(",priority=").Append(l.Priority.ToString(CultureInfo.InvariantCulture));
        if (l.SendFlowRemoved) sb.Append(",send_flow_rem");
        if (l.DeleteLearned) sb.Append(",delete_learned");
        if (l.Cookie != 0) sb.Append(",cookie=0x").Append(l.Cookie.ToString("x", CultureInfo.InvariantCulture));
        if (l.Limit != 0) sb.Append(",limit=").Append(l.Limit.ToString(CultureInfo.InvariantCulture));
        if (l.ResultDst is { } r) sb.Append(",result_dst=").Append(Subfield(r.ToDatapathRef()));
        foreach (var s in l.Specs)
        {
            sb.Append(',');
            string dst = s.Kind == OfLearnDst.Output ? "" : Subfield(s.Dst.ToDatapathRef());
            string src = s.Immediate ? Hex(s.Value) : Subfield(s.Src.ToDatapathRef());
            switch (s.Kind)
            {
                case OfLearnDst.Match when !s.Immediate && s.Src == s.Dst: sb.Append(dst); break;
                case OfLearnDst.Match: sb.Append(dst).Append('=').Append(src); break;
                case OfLearnDst.Load: sb.Append("load:").Append(src).Append("->").Append(dst); break;
                default: sb.Append("output:").Append(src); break;
            }
        }
        return sb.Append(')').ToString();
    }

    /// <summary>
    /// The flow a learn makes of <paramref name="values"/> (as Open vSwitch's trace shows a learn step: the table, the
    /// match and priority, the actions), or why there is none.
    /// </summary>
    public static string Learned(OfLearn l, ReadOnlySpan<UInt128> values)
    {
        if (!l.TryBuild(values, out var match, out var actions)) return $"table={l.Table} (the values do not fit the learn)";
        if (OfMatchCompiler.TryCompile(match, out var m) != OfError.None) return $"table={l.Table} (a match the switch cannot classify)";
        var sb = new StringBuilder("table=").Append(l.Table.ToString(CultureInfo.InvariantCulture)).Append(' ');
        string text = Match(m);
        if (text.Length > 0) sb.Append(text).Append(',');
        sb.Append("priority=").Append(l.Priority.ToString(CultureInfo.InvariantCulture)).Append(" actions=");
        if (actions.Length == 0) sb.Append("drop");
        for (int i = 0; i < actions.Length; i++)
        {
            if (i > 0) sb.Append(',');
            var a = actions[i];
            sb.Append(a.Type == OfActionType.FieldLoad ? $"load:{Hex(a.Wide)}->{Subfield(a.LoadDst.ToDatapathRef())}"
                                                        : $"output:{(a.Port == OfPort.InPort ? "IN_PORT" : a.Port.ToString(CultureInfo.InvariantCulture))}");
        }
        return sb.ToString();
    }

    /// <summary>Each learn request of a composed list with the flow it makes (ofproto/trace's learn steps).</summary>
    public static IEnumerable<string> LearnSteps(FlowActions composed)
    {
        var items = composed.Items;
        for (int i = 0; i < items.Length; i++)
        {
            if (items[i].Kind != ActionKind.LearnRequest || LearnTemplates.Get((int)items[i].QueueId) is not OfLearn l) continue;
            int n = Math.Min(items[i].MaxLen, items.Length - i - 1);
            var values = new UInt128[n];
            for (int k = 0; k < n; k++) values[k] = items[i + 1 + k].Wide;
            yield return $"{Learn(l)}\n    -> {Learned(l, values)}";
        }
    }
}
