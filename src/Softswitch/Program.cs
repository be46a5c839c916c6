using System.CommandLine;
using Softswitch;
using Softswitch.OfAgent;

// Run by the name ovs-vswitchd (a link to this program), the command line is ovs-vswitchd's (OvsVswitchdName).
args = Softswitch.Vswitchd.OvsVswitchdName.Arguments(args);
if (args is ["vswitchd", ..]) args = Softswitch.Vswitchd.VswitchdCommand.SpellVerbose(args);

var seconds = new Option<double>("--seconds") { Description = "length of the throughput run in seconds (default 3)", DefaultValueFactory = _ => 3 };
var demo = new Command("demo", "run the switch on in-memory ports with simulated hosts, then a short throughput run") { seconds };
demo.SetAction(pr =>
{
    double s = pr.GetValue(seconds);
    if (!(s > 0) || s > 3600) return RunCommand.UserError($"--seconds must be above 0 and at most 3600, not {s}");
    return Demo.Run(s);
});

var defaults = new RunSettings();
var ports = new Option<string?>("--ports") { Description = "the ports, required: afpacket:IF (or IF), afxdp:IF (afxdp:IF:queue=K for one queue), pcap:IF, tap:NAME, mem:N, comma-separated, numbered from 1 or as N=SPEC (3=afpacket:eth3)" };
var controller = new Option<string[]>("--controller") { Description = "an OpenFlow controller, which alone decides the fail mode: tcp:HOST[:PORT], ssl:HOST[:PORT], unix:FILE (we connect) or ptcp:[PORT][:IP], pssl:[PORT][:IP], punix:FILE (it connects to us) (PORT 6653; IPv6 as [ADDR]; repeatable; default none)", AllowMultipleArgumentsPerToken = false };
var listen = new Option<string[]>("--listen") { Description = "listen for service connections (ovs-ofctl and other tools; never the controller): ptcp:[PORT][:IP], pssl:[PORT][:IP] or punix:FILE (PORT 6653, IP 127.0.0.1; IPv6 as [ADDR]; repeatable; default none, besides RUNDIR/DPID.mgmt)" };
var protocols = new Option<string?>("--protocols") { Description = $"the OpenFlow versions to speak, as OVS spells them: {AgentOptions.Spell(AgentOptions.AllVersions)} (comma-separated; default {AgentOptions.Spell(AgentOptions.DefaultVersions)}; each connection agrees on one in its HELLO)" };
var maxBackoff = new Option<int?>("--max-backoff") { Description = $"milliseconds, the longest wait between attempts to reach a tcp:/ssl:/unix: controller; the wait doubles from 1 s after each failed or short-lived connection, as OVS's max_backoff (at least 1000; default {defaults.MaxBackoff})" };
var privateKey = new Option<string?>("--private-key") { Description = "PEM private key of this switch, for ssl: and pssl:" };
var certificate = new Option<string?>("--certificate") { Description = "PEM certificate of this switch, for ssl: and pssl:" };
var caCert = new Option<string?>("--ca-cert") { Description = "PEM certificate of the CA that signs the peers' certificates, for ssl: and pssl:" };
var bootstrapCaCert = new Option<string?>("--bootstrap-ca-cert") { Description = "instead of --ca-cert: the CA file; when it does not exist, the first ssl: controller's CA certificate is trusted without verification, saved there and required from then on (as OVS)" };
var tunnel = new Option<string[]>("--tunnel") { Description = "a tunnel port: NAME:vxlan|geneve|gre|ipip,local=IP,remote=IP[,vni=N|key=N][,port=N][,underlay=N][,remote_mac=MAC] (repeatable; default none)" };
var offloadOpt = new Option<string?>("--offload") { Description = $"flow offload: none, xdp (an XDP flow map on the afxdp: ports), netfpga (a NetFPGA-1G board) or netfpga-emulated (default {defaults.Offload})" };
var dpid = new Option<string?>("--dpid") { Description = "datapath id: 0x1, 1 or 00:00:00:00:00:00:00:01, hex (default: the first port's MAC)" };
var failMode = new Option<string?>("--fail-mode") { Description = $"without a controller: standalone (learning switch) or secure (drop misses) (default {defaults.FailMode}, as OVS)" };
var config = new Option<string?>("--config") { Description = "a JSON file with the same settings (keys: " + string.Join(", ", ConfigFile.Keys) + "); the command line wins" };
var threads = new Option<int?>("--threads") { Description = $"forwarding threads (default {defaults.Threads}); AF_PACKET ports are split across them by flow hash, AF_XDP ports by RX queue" };
var forwardingCpus = new Option<string?>("--forwarding-cpus") { Description = "CPUs for the forwarding threads, as taskset writes them (1, 2-3, 1,3): thread i on the i-th, every other thread of the switch kept off them, as OVS's pmd-cpu-mask (default none: the scheduler places them)" };
var busyPoll = new Option<int?>("--busy-poll-us") { Description = $"microseconds a forwarding thread keeps polling after its last packet before it sleeps in the kernel, 0 sleeps at once (default {defaults.BusyPollUs})" };
var linger = new Option<int?>("--linger-us") { Description = $"microseconds a forwarding thread keeps polling after its last packet when other traffic came in the second before, so a reply finds it awake; 0 for none (default {defaults.LingerUs})" };
var pmdRxqAssign = new Option<string?>("--pmd-rxq-assign") { Description = $"how receive queues are placed on the forwarding threads: cycles (by measured load), roundrobin or group, as OVS's other_config:pmd-rxq-assign (default {defaults.PmdRxqAssign})" };
var pmdAutoLb = new Option<bool>("--pmd-auto-lb") { Description = "rebalance the receive queues by themselves when a forwarding thread stays busy, as OVS's other_config:pmd-auto-lb (default off)" };
var pmdAutoLbLoad = new Option<int?>("--pmd-auto-lb-load-threshold") { Description = $"with --pmd-auto-lb: the busy percentage a thread must keep for a minute before a rebalance is tried, 0 to 100 (default {defaults.PmdAutoLbLoadThreshold}, as OVS)" };
var pmdAutoLbImprovement = new Option<int?>("--pmd-auto-lb-improvement-threshold") { Description = $"with --pmd-auto-lb: the percentage by which a rebalance must lower the threads' load variance to move queues, 0 to 100 (default {defaults.PmdAutoLbImprovementThreshold}, as OVS)" };
var pmdAutoLbInterval = new Option<int?>("--pmd-auto-lb-rebal-interval") { Description = $"with --pmd-auto-lb: minutes between rebalance checks, 0 to 20000, 0 read as 1 (default {defaults.PmdAutoLbRebalInterval}, as OVS)" };
var emcEntries = new Option<int?>("--emc-entries") { Description = $"exact-match cache entries per forwarding thread, 0 for none (default {defaults.EmcEntries})" };
var packetInRate = new Option<double?>("--packet-in-rate") { Description = $"packet-ins per second at most (default {defaults.PacketInRate})" };
var pcapDir = new Option<string?>("--pcap-dir") { Description = "write what each port receives and sends to IF-rx.pcap and IF-tx.pcap (IF: the interface) in this directory (default none)" };
var stats = new Option<bool>("--stats") { Description = "show per-second rates per port and the busiest flows (plain lines when stdout is not a terminal)" };
var logLevel = new Option<string?>("--log-level") { Description = $"LEVEL or MODULE:LEVEL[,...], levels off emer err warn info dbg (or the .NET names) (default {defaults.LogLevel})" };
var logFile = new Option<string?>("--log-file") { Description = "write the log to FILE instead of stderr (softswitch ctl vlog/reopen reopens it)" };
var unixctl = new Option<string?>("--unixctl") { Description = "control socket for `softswitch ctl` (default RUNDIR/DPID.ctl: $SOFTSWITCH_RUNDIR, /run/softswitch as root, else a per-user temp directory), or none" };
var pidfile = new Option<string?>("--pidfile") { Description = "write the process id to FILE (removed on exit; default none)" };
var metrics = new Option<string?>("--metrics") { Description = "serve Prometheus/OpenMetrics metrics at http://HOST:PORT/metrics, e.g. 127.0.0.1:9477 (default none)" };
var detach = new Option<bool>("--detach") { Description = "run in the background; return once the switch is ready" };
var localPort = new Option<string?>("--local-port") { Description = "the LOCAL port: a tap device NAME (created administratively down; default ss-DPID), or none" };
var sflow = new Option<string?>("--sflow") { Description = "export sFlow v5 to the collector COLLECTOR[:PORT] (port 6343 when left out; IPv6 as [ADDR]:PORT): packet samples and port counters, as Open vSwitch's sflow record (default none)" };
var sflowSampling = new Option<int?>("--sflow-sampling") { Description = $"with --sflow: sample 1 in N received packets (default {defaults.SflowSampling}, as OVS)" };
var sflowPolling = new Option<int?>("--sflow-polling") { Description = $"with --sflow: seconds between counter samples of each port, 0 for none (default {defaults.SflowPolling}, as OVS)" };
var flowLimit = new Option<int?>("--flow-limit") { Description = $"the most flows a table holds, exact or not (each OpenFlow 1.3 table and OpenFlow 1.0's); an add past it gets TABLE_FULL, as OVS's flow_limit (from 1 to {Softswitch.Ofproto.FlowTableOptions.MaxFlowLimit}; default {defaults.FlowLimit})" };
var queues = new Option<string?>("--queues") { Description = "egress shaping, as OVS's linux-htb: 'PORT max-rate=RATE' (a port's ceiling) and 'PORT:QUEUE min-rate=RATE,max-rate=RATE' (a queue), separated by ';', PORT a name or number, RATE bits/s with k, M or G (e.g. 'eth1 max-rate=100M; eth1:0 max-rate=30M; eth1:1 max-rate=70M'); ENQUEUE and set_queue send through the queue, other packets through queue 0 (default none)" };
var run = new Command("run", "run the switch")
{
    ports, controller, listen, protocols, maxBackoff, privateKey, certificate, caCert, bootstrapCaCert, tunnel, offloadOpt, dpid, failMode, config, threads, forwardingCpus, busyPoll, linger, pmdRxqAssign, pmdAutoLb, pmdAutoLbLoad, pmdAutoLbImprovement, pmdAutoLbInterval, emcEntries, packetInRate, pcapDir, stats, logLevel, logFile,
    unixctl, pidfile, detach, metrics, localPort, sflow, sflowSampling, sflowPolling, queues, flowLimit,
};
run.SetAction(pr =>
{
    var s = new RunSettings();
    if (pr.GetValue(config) is { } path)
    {
        s = ConfigFile.Load(path, out var error);
        if (s is null) return RunCommand.UserError(error);
    }
    if (pr.GetValue(ports) is { } p) s.Ports = p;
    if (pr.GetValue(controller) is { Length: > 0 } c) s.Controllers = [.. c];
    if (pr.GetValue(listen) is { Length: > 0 } l) s.Listen = [.. l];
    if (pr.GetValue(protocols) is { } proto) s.Protocols = proto;
    if (pr.GetValue(maxBackoff) is { } mb) s.MaxBackoff = mb;
    if (pr.GetValue(privateKey) is { } pk) s.PrivateKey = pk;
    if (pr.GetValue(certificate) is { } cert) s.Certificate = cert;
    if (pr.GetValue(caCert) is { } ca) s.CaCert = ca;
    if (pr.GetValue(bootstrapCaCert) is { } bca) s.BootstrapCaCert = bca;
    if (pr.GetValue(tunnel) is { Length: > 0 } tn) s.Tunnels = [.. tn];
    if (pr.GetValue(offloadOpt) is { } o) s.Offload = o;
    if (pr.GetValue(dpid) is { } d) s.Dpid = d;
    if (pr.GetValue(failMode) is { } f) s.FailMode = f;
    if (pr.GetValue(threads) is { } t) s.Threads = t;
    if (pr.GetValue(forwardingCpus) is { } fc) s.ForwardingCpus = fc;
    if (pr.GetValue(busyPoll) is { } bp) s.BusyPollUs = bp;
    if (pr.GetValue(linger) is { } lg) s.LingerUs = lg;
    if (pr.GetValue(pmdRxqAssign) is { } ra) s.PmdRxqAssign = ra;
    if (pr.GetValue(pmdAutoLb)) s.PmdAutoLb = true;
    if (pr.GetValue(pmdAutoLbLoad) is { } alt) s.PmdAutoLbLoadThreshold = alt;
    if (pr.GetValue(pmdAutoLbImprovement) is { } ait) s.PmdAutoLbImprovementThreshold = ait;
    if (pr.GetValue(pmdAutoLbInterval) is { } ari) s.PmdAutoLbRebalInterval = ari;
    if (pr.GetValue(emcEntries) is { } emc) s.EmcEntries = emc;
    if (pr.GetValue(packetInRate) is { } pir) s.PacketInRate = pir;
    if (pr.GetValue(pcapDir) is { } pd) s.PcapDir = pd;
    if (pr.GetValue(stats)) s.Stats = true;
    if (pr.GetValue(logLevel) is { } ll) s.LogLevel = ll;
    if (pr.GetValue(logFile) is { } lf) s.LogFile = lf;
    if (pr.GetValue(unixctl) is { } u) s.Unixctl = u;
    if (pr.GetValue(pidfile) is { } pf) s.Pidfile = pf;
    if (pr.GetValue(detach)) s.Detach = true;
    if (pr.GetValue(metrics) is { } mx) s.Metrics = mx;
    if (pr.GetValue(localPort) is { } lp) s.LocalPort = lp;
    if (pr.GetValue(sflow) is { } sf) s.Sflow = sf;
    if (pr.GetValue(sflowSampling) is { } sfs) s.SflowSampling = sfs;
    if (pr.GetValue(sflowPolling) is { } sfp) s.SflowPolling = sfp;
    if (pr.GetValue(queues) is { } qs) s.Queues = qs;
    if (pr.GetValue(flowLimit) is { } fl) s.FlowLimit = fl;
    return RunCommand.Run(s, args);
});

var target = new Option<string?>("--target", "-t") { Description = "the daemon: its control socket path, its datapath id, or a name in the run directory (default: the only socket there)" };
var ctlPidfile = new Option<string?>("--pidfile") { Description = "the daemon whose process id this file holds (as run --pidfile writes it): its control socket in the run directory" };
var ctlTimeout = new Option<double>("--timeout") { Description = "seconds to wait for the reply (default 30)", DefaultValueFactory = _ => 30 };
var ctlFormat = new Option<string?>("--format", "-f") { Description = "text (default) or json, for show commands" };
var ctlWords = new Argument<string[]>("command") { Description = "the command and its arguments (default: help, which lists them)", Arity = ArgumentArity.ZeroOrMore };
var ctl = new Command("ctl", "send a command to a running switch's control socket, as ovs-appctl does (help lists the commands; exit returns once the switch has ended)") { target, ctlPidfile, ctlTimeout, ctlFormat, ctlWords };
ctl.SetAction(pr =>
{
    var words = pr.GetValue(ctlWords) ?? [];
    if (pr.GetValue(ctlFormat) is { } fmt)
    {
        if (fmt is not ("text" or "json")) return RunCommand.UserError($"--format must be text or json, not '{fmt}'");
        if (words.Length == 0) return RunCommand.UserError("--format goes with a show command (fdb/show, dump-flows, ...)");
        words = [.. words, "--format", fmt];
    }
    return CtlCommand.Run(pr.GetValue(target), pr.GetValue(ctlPidfile), pr.GetValue(ctlTimeout), words, Console.Out, Console.Error);
});

var vsDatabase = new Argument<string?>("DATABASE") { Description = "the Open vSwitch database: unix:FILE or tcp:IP:PORT (default unix:$OVS_RUNDIR/db.sock, OVS_RUNDIR default /run/openvswitch)", Arity = ArgumentArity.ZeroOrOne };
var vsPidfile = new Option<string?>("--pidfile") { Description = "write the process id to FILE (--pidfile alone: $OVS_RUNDIR/ovs-vswitchd.pid, where ovs-appctl looks)", Arity = ArgumentArity.ZeroOrOne };
var vsDetach = new Option<bool>("--detach") { Description = "run in the background; return once the daemon is ready" };
var vsLogFile = new Option<string?>("--log-file") { Description = "write the log to FILE (--log-file alone: $OVS_LOGDIR/ovs-vswitchd.log, OVS_LOGDIR default /var/log/openvswitch)", Arity = ArgumentArity.ZeroOrOne };
var vsUnixctl = new Option<string?>("--unixctl") { Description = "the control socket for ovs-appctl (default $OVS_RUNDIR/ovs-vswitchd.PID.ctl), or none" };
var vsLogLevel = new Option<string?>("--log-level") { Description = "LEVEL or MODULE:LEVEL[,...], levels off emer err warn info dbg (default info)" };
var vsThreads = new Option<int?>("--threads") { Description = "forwarding threads, shared by every bridge (default 1; the database's other_config:n-pmd-threads or pmd-cpu-mask wins)" };
var vsNoChdir = new Option<bool>("--no-chdir") { Description = "as ovs-vswitchd's (this daemon never changes directory)" };
var vsMonitor = new Option<bool>("--monitor") { Description = "as ovs-vswitchd's: taken, not acted on (no monitor process restarts the daemon; use systemd's Restart=)" };
var vsMlockall = new Option<bool>("--mlockall") { Description = "as ovs-vswitchd's: taken, not acted on (memory is not locked)" };
var vsVerbose = new Option<string[]>("--verbose") { Description = "as ovs-vswitchd's -v[SPEC] and --verbose[=SPEC] (repeatable): [MODULE][:DESTINATION][:LEVEL], DESTINATION console, syslog or file (the one this daemon writes to is set; syslog is not written), LEVEL off emer err warn info dbg (default dbg); after --log-level", AllowMultipleArgumentsPerToken = false };
var vsUser = new Option<string?>("--user") { Description = "as ovs-vswitchd's --user USER[:GROUP]: taken when it names the user the daemon runs as (it drops no privileges), refused otherwise" };
var vsNoSelfConfinement = new Option<bool>("--no-self-confinement") { Description = "as ovs-vswitchd's (this daemon never confines itself to its directories)" };
var vswitchd = new Command("vswitchd", "in place of ovs-vswitchd: serve the bridges of an Open vSwitch database (ovs-vsctl, Mininet's OVSSwitch), each an OpenFlow switch")
{
    vsDatabase, vsPidfile, vsDetach, vsLogFile, vsUnixctl, vsLogLevel, vsThreads, vsNoChdir, vsMonitor, vsMlockall, vsVerbose, vsUser, vsNoSelfConfinement,
};
vswitchd.SetAction(pr =>
{
    var ignored = new List<string>();
    if (pr.GetValue(vsMonitor)) ignored.Add("--monitor");
    if (pr.GetValue(vsMlockall)) ignored.Add("--mlockall");
    if (pr.GetValue(vsUser) is { } user)
    {
        if (!Softswitch.Vswitchd.VswitchdCommand.IsOwnUser(user, out var userError)) return RunCommand.UserError(userError);
        ignored.Add($"--user {user}");
    }
    return Softswitch.Vswitchd.VswitchdCommand.Run(new Softswitch.Vswitchd.VswitchdSettings
    {
        Database = pr.GetValue(vsDatabase),
        Pidfile = pr.GetResult(vsPidfile) is null ? null : pr.GetValue(vsPidfile) ?? "",
        Detach = pr.GetValue(vsDetach),
        LogFile = pr.GetResult(vsLogFile) is null ? null : pr.GetValue(vsLogFile) ?? "",
        Unixctl = pr.GetValue(vsUnixctl),
        LogLevel = pr.GetValue(vsLogLevel) ?? "info",
        Threads = pr.GetValue(vsThreads) ?? 1,
        Verbose = pr.GetValue(vsVerbose) ?? [],
        Ignored = ignored,
    }, args);
});

var root = new RootCommand("Softswitch: a user-space OpenFlow switch (1.0, 1.3 and 1.4)") { run, demo, ctl, vswitchd };
if (args.Length == 0) return RunCommand.UserError("give a command: run, demo, ctl or vswitchd (see `softswitch --help`)");
var parsed = root.Parse(args);
if (parsed.Errors.Count > 0)
{
    // One line per mistake, exit code 2; the usage only on --help.
    return RunCommand.UserError(CliErrors.Describe(parsed, root, args));
}
return parsed.Invoke();
