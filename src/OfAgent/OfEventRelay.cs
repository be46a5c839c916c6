using Microsoft.Extensions.Logging;
using Softswitch.Datapath;
using Softswitch.Datapath.Flow;
using Softswitch.Datapath.Forwarding;
using Softswitch.OfAgent.Session;
using Softswitch.OfAgent.Translate;
using Softswitch.OfWire;

namespace Softswitch.OfAgent;

/// <summary>
/// The datapath's asynchronous events, as OpenFlow messages to the controllers: packet-ins drained from the upcall
/// rings, flow expiry (FLOW_REMOVED) and port changes (PORT_STATUS), handed to the connection manager's fan-out.
/// </summary>
/// <remarks>
/// Design: the one <see cref="IDatapathEvents"/> subscriber of the agent, from construction to <see cref="Dispose"/>.
/// Owns the upcall pump thread (<c>ofagent-upcalls</c>, the only caller of the manager's packet-in fan-out) and
/// nothing else. Expiry and port status arrive on the datapath's maintenance thread (port status also on the
/// thread that changed a port); translating them is stateless, so no lock is taken here. A maintenance failure is
/// logged with its exception (the datapath counts it). Flow-removed of a flow-mod's deletes do not come here: they are
/// that flow-mod's result (<see cref="Handlers.FlowModHandler"/>). May not change flows, ports or connections.
/// </remarks>
internal sealed class OfEventRelay : IDatapathEvents, IDisposable
{
    private readonly SwitchDatapath _dp;
    private readonly OfConnectionManager _connections;
    private readonly ILogger _log;
    private readonly CancellationTokenSource _cts = new();
    private Thread? _pump;

    /// <summary>How long the pump sleeps without a signal before it looks at the rings again.</summary>

    public OfEventRelay(SwitchDatapath dp, OfConnectionManager connections, ILogger log)
    {
        _dp = dp;
        _connections = connections;
        _log = log;
        dp.Subscribe(this);
    }

    /// <summary>Starts the upcall pump.</summary>
    public void Start()
    {
        _pump = new Thread(PumpUpcalls) { IsBackground = true, Name = "ofagent-upcalls" };
        _pump.Start();
    }

    private void PumpUpcalls()
    {
        UpcallHandler handler = _connections.SendPacketIn;
        while (!_cts.IsCancellationRequested)
        {
            // DrainUpcalls resets the signal, then drains (a bounded number per ring): drain until a round finds
            // nothing, then sleep. Forwarders set the signal after each packet for the controller (fenced against
            // that Reset), so an idle pump sleeps until one arrives or the relay stops.
            if (_dp.DrainUpcalls(handler) > 0) continue;
            try { _dp.UpcallSignal.Wait(Timeout.Infinite, _cts.Token); }
            catch (OperationCanceledException) { return; }
        }
    }

    public void OnFlowExpired(in FlowRemoved expired)
    {
        if (ReportTranslator.FlowRemoved(expired) is { } message) _connections.SendAsync(message);
    }

    public void OnPortStatus(PortStatusReason reason, PortSlot port)
        => _connections.SendAsync(new OfpPortStatus
        {
            Reason = WireMap.ToWire(reason),
            Desc = ReportTranslator.PhyPort(port),
        });

    public void OnMaintenanceError(Exception error)
        => _log.LogError(error, "datapath maintenance step failed (flow expiry, link monitoring, MAC aging); retrying at the next interval");

    /// <summary>Stops the pump and unsubscribes; events already being delivered may still arrive.</summary>
    public void Dispose()
    {
        _cts.Cancel();
        _pump?.Join();
        _dp.Unsubscribe(this);
        _cts.Dispose();
    }
}
