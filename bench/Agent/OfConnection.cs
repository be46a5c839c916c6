using System.Net.Sockets;
using Softswitch.Ofproto;
using Softswitch.OfAgent.Of10.Translate;
using Softswitch.OfAgent.Session;
using Softswitch.OfWire.Of10;

namespace Softswitch.Bench.Agent;

/// <summary>What the bench's OpenFlow 1.0 clients share: a connection to a listening switch, and flow-mods encoded once.</summary>
public static class OfConnection
{
    /// <summary>A connected socket to <c>tcp:HOST:PORT</c> or <c>unix:FILE</c> (a switch's <c>--listen</c>).</summary>
    public static Socket Connect(string target)
    {
        var ep = OfEndpoint.Parse(target);
        if (ep.Passive || ep.IsTls) throw new FormatException($"{target}: expected tcp:HOST:PORT or unix:FILE");
        if (ep.Kind == OfTransportKind.Unix)
        {
            var u = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            u.Connect(new UnixDomainSocketEndPoint(ep.Path));
            return u;
        }
        var s = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        s.Connect(ep.Host, ep.Port);
        return s;
    }

    /// <summary><paramref name="f"/> as an OpenFlow 1.0 FLOW_MOD of <paramref name="command"/> (a delete carries no actions).</summary>
    public static byte[] Encode(in FlowMod f, OfpFlowModCommand command, uint xid)
    {
        var fm = new OfpFlowMod
        {
            Command = command, Match = MatchTranslator.ToOfpMatch(OfMatchCompiler.ToOfMatch(f.Match)), Priority = f.Priority, Xid = xid,
        };
        if (command is OfpFlowModCommand.Add or OfpFlowModCommand.Modify or OfpFlowModCommand.ModifyStrict)
        {
            var actions = new OfAction[f.Actions.Count];
            OfActionCompiler.ToOfActions(f.Actions, actions);
            fm.Actions = ActionTranslator.ToOfp(actions);
            fm.Cookie = f.Cookie;
        }
        return fm.ToArray();
    }
}
