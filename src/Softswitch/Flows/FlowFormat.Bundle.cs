using System.Globalization;
using Softswitch.Datapath.Actions;

namespace Softswitch.Flows;

public static partial class FlowFormat
{
    /// <summary>
    /// A bundle or bundle_load as ovs-ofctl prints it (ovs lib/bundle.c bundle_format):
    /// <c>bundle(eth_src,0,hrw,ofport,members:4,8)</c>, <c>bundle_load(eth_src,0,hrw,ofport,NXM_NX_REG0[],members:4,8)</c>.
    /// </summary>
    private static string Bundle(in FlowAction a)
    {
        string fields = a.BundleFields < HashFieldNames.Length ? HashFieldNames[a.BundleFields] : "<unknown>";
        string algorithm = a.BundleAlgorithm switch { 0 => "active_backup", 1 => "hrw", _ => "<unknown>" };
        string dst = a.BundleHasDst ? Subfield(a.BundleDst) + "," : "";
        var members = string.Join(',', BundleMembers.Get(a.BundleMembersId).ToArray().Select(BundleMemberName));
        return $"{(a.BundleHasDst ? "bundle_load" : "bundle")}({fields},{a.BundleBasis},{algorithm},ofport,{dst}members:{members})";
    }

    /// <summary>Open vSwitch's flow_hash_fields_to_str names, by NX_HASH_FIELDS_* value.</summary>
    internal static readonly string[] HashFieldNames = ["eth_src", "symmetric_l4", "symmetric_l3l4", "symmetric_l3l4+udp", "nw_src", "nw_dst", "symmetric_l3"];

    /// <summary>A 16-bit OpenFlow port number as ofputil_format_port prints it (the reserved ports by name).</summary>
    internal static string BundleMemberName(ushort p) => p switch
    {
        0xfff8 => "IN_PORT",
        0xfff9 => "TABLE",
        0xfffa => "NORMAL",
        0xfffb => "FLOOD",
        0xfffc => "ALL",
        0xfffd => "CONTROLLER",
        0xfffe => "LOCAL",
        0xffff => "ANY",
        _ => p.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>A fin_timeout as ovs-ofctl prints it (format_FIN_TIMEOUT): the timeouts that are set, <c>fin_timeout(idle_timeout=10,hard_timeout=20)</c>.</summary>
    private static string FinTimeout(in FlowAction a)
    {
        var parts = new List<string>(2);
        if (a.FinIdle != 0) parts.Add($"idle_timeout={a.FinIdle}");
        if (a.FinHard != 0) parts.Add($"hard_timeout={a.FinHard}");
        return $"fin_timeout({string.Join(',', parts)})";
    }

    /// <summary>A sample as ovs-ofctl prints it (format_SAMPLE): <c>sample(probability=65535,collector_set_id=1,obs_domain_id=2,obs_point_id=3)</c>,
    /// then <c>,sampling_port=P</c> when there is one and <c>,ingress</c> or <c>,egress</c> for a direction.</summary>
    private static string Sample(in FlowAction a)
    {
        var s = $"sample(probability={a.SampleProbability},collector_set_id={a.SampleCollectorSetId},obs_domain_id={a.SampleObsDomainId},obs_point_id={a.SampleObsPointId}";
        if (a.SamplingPort != 0xffff) s += $",sampling_port={BundleMemberName(a.SamplingPort)}";
        if (a.SampleDirection == 1) s += ",ingress";
        else if (a.SampleDirection == 2) s += ",egress";
        return s + ")";
    }
}
