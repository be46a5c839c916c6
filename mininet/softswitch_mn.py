"""Softswitch as a Mininet switch.

    sudo mn --custom mininet/softswitch_mn.py --switch softswitch --controller remote,port=6653 --test pingall
    sudo mn --custom mininet/softswitch_mn.py --switch softswitch --controller ovsc --topo tree,depth=2 --test pingall
    sudo mn --custom mininet/softswitch_mn.py --switch softswitch,failMode=standalone --controller none --test pingall

The switch runs `softswitch run` with Mininet's datapath id, listen port and interfaces, each interface under the
OpenFlow port number Mininet gave it (--ports 3=afpacket:s1-eth3,...), detached, with its pid file, log file and
control socket in a directory of its own ($SOFTSWITCH_MN_RUNDIR/NAME, by default /tmp/softswitch-mn/NAME).

The command is resolved once, when this file is loaded: $SOFTSWITCH (e.g. "dotnet /path/softswitch.dll"), else the
binary the installer put next to this file's installed copy, else `softswitch` on PATH, else the build output of the
repository this file sits in. When none exists, loading fails with a message saying what was tried, before Mininet
has made anything.

Failures never reach `mn`'s own cleanup (which kills processes by name on the whole machine, removes /tmp/*.log and
deletes OVS bridges): a switch that cannot start, or whose process has exited while Mininet waits for it to connect,
stops this network (its own nodes and links, by pid) and ends `mn` with a clear message and exit status 1. From a
Python script, the same failures raise SoftswitchError and the script's own net.stop() does the rest.

Under `mn --custom`, Ctrl-C before the CLI (or any other exception reaching `mn`) runs a cleanup scoped to this run
in place of `mn`'s: the Softswitch processes this run started (by pid), the Mininet nodes this process made (their
shells and what runs under them or in their namespaces, by pid), the veth pairs this run made and the Open vSwitch
bridges of its own OVS switches; then one line says what it stopped and that `mn -c` was not run. A second Ctrl-C
during it kills what is left of this run (SIGKILL, by pid) at once. `mn -c` itself still runs `mn`'s cleanup.

While Mininet waits for a switch with a controller to connect (it waits forever), a switch not connected after about
5 s says once why, in the switch's own words (its dp/show): nothing accepts connections at the controller's address
(connection refused: a remote controller must be started first), or something does but no OpenFlow session is agreed
(no version in common, HELLO_FAILED). Only a warning: the wait goes on, and ends as ever when the controller answers.

Options (--switch softswitch,OPTION=VALUE): failMode (secure or standalone; default secure, as Mininet's OVS
switch), protocols (the OpenFlow versions, as Mininet's OVS switch takes them: OpenFlow13, or OpenFlow10,OpenFlow13;
default every version the switch speaks), logLevel (e.g. dbg or ofagent:dbg), runDir, extra (more command-line
options).

RemoteSoftswitch is the same switch for Mininet's cluster edition (mininet/examples/cluster.py: MininetCluster,
RemoteHost, RemoteLink), on `localhost` or on a server reached by ssh; its commands, files and control requests all
go through the node's shell, so they work on either.
"""

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time

from mininet.log import debug, error, warn
from mininet.node import RemoteController, Switch

# Set by scripts/install.sh to the directory it installs the binary in; left as is in a source tree.
_INSTALLED_BINDIR = '@BINDIR@'


class SoftswitchError(Exception):
    "A switch could not be found, could not start, or its process exited."


def _underMn():
    "True when this file was loaded by `mn --custom` (mn runs its cleanup on any exception that reaches it)."
    return hasattr(sys.modules.get('__main__'), 'MininetRunner')


def _thisFile():
    # `mn --custom` runs this file with exec(): no __file__, but the code object carries the path it was read from.
    return os.path.abspath(globals().get('__file__') or sys._getframe(0).f_code.co_filename)


def _executable(path):
    return os.path.isfile(path) and os.access(path, os.X_OK)


def resolveCommand(environ=None):
    """The switch command as a list of words, and what was tried; ([], tried) when there is none."""
    environ = os.environ if environ is None else environ
    tried = []
    if environ.get('SOFTSWITCH'):
        words = shlex.split(environ['SOFTSWITCH'])
        program = words[0] if '/' in words[0] else shutil.which(words[0])
        missing = [w for w in words[1:] if w.endswith('.dll') and not os.path.isfile(w)]
        if program and _executable(program) and not missing:
            return [os.path.abspath(program)] + words[1:], tried
        tried.append('$SOFTSWITCH=%s (%s)' % (environ['SOFTSWITCH'],
                                             'no file ' + missing[0] if missing and program else
                                             'no executable ' + words[0]))
        return [], tried
    if not _INSTALLED_BINDIR.startswith('@'):
        path = os.path.join(_INSTALLED_BINDIR, 'softswitch')
        if _executable(path):
            return [path], tried
        tried.append(path + ' (installed with this file)')
    path = shutil.which('softswitch')
    if path:
        return [os.path.abspath(path)], tried
    tried.append('softswitch on PATH')
    repo = os.path.dirname(os.path.dirname(_thisFile()))
    for config in ('Release', 'Debug'):
        path = os.path.join(repo, 'src', 'Softswitch', 'bin', config, 'net10.0', 'softswitch')
        if _executable(path):
            return [path], tried
        tried.append(path)
    return [], tried


def _fatal(message):
    "Ends `mn` without its cleanup (SystemExit passes its `except Exception`); raises SoftswitchError elsewhere."
    if _underMn():
        raise SystemExit('*** softswitch: ' + message)
    raise SoftswitchError(message)


COMMAND, _tried = resolveCommand()
if not COMMAND:
    _fatal('no softswitch command (tried %s); install it (scripts/install.sh), build it '
           '(dotnet build src/Softswitch -c Release) or set $SOFTSWITCH' % ', '.join(_tried))


def _findNet(node):
    "The Mininet network calling us (its start() or waitConnected()), if any."
    from mininet.net import Mininet
    frame = sys._getframe(1)
    while frame is not None:
        owner = frame.f_locals.get('self')
        if isinstance(owner, Mininet) and node in owner.switches:
            return owner
        frame = frame.f_back
    return None


class Softswitch(Switch):
    """A user-space OpenFlow switch (Softswitch) on AF_PACKET ports."""

    # Seconds stop() waits after SIGHUP before SIGKILL (see stop()).
    stopTimeout = 15.0

    def __init__(self, name, failMode='secure', protocols=None, logLevel=None, runDir=None, extra='', command=None, **params):
        Switch.__init__(self, name, **params)
        self.failMode = failMode
        self.protocols = protocols
        self.logLevel = logLevel
        self.extra = extra
        self.runDir = runDir or os.path.join(os.environ.get('SOFTSWITCH_MN_RUNDIR', '/tmp/softswitch-mn'), name)
        self.command = shlex.split(command) if command else list(COMMAND)
        self.softswitchPid = None
        self.launchTime = None
        self.hasController = False
        self.controllerTargets = []
        self.remoteControllers = False
        self.waitStart = None
        self.hinted = False
        self.failed = False
        ensureOvsRunDir()

    @property
    def ctlPath(self):
        return os.path.join(self.runDir, self.name + '.ctl')

    @property
    def pidPath(self):
        return os.path.join(self.runDir, self.name + '.pid')

    @property
    def logPath(self):
        return os.path.join(self.runDir, self.name + '.log')

    def dataIntfs(self):
        "The interfaces that carry traffic, with their OpenFlow port numbers."
        return [(self.ports[i], i) for i in self.intfList() if i.name != 'lo' and self.ports.get(i)]

    def fail(self, message):
        """Stops the network this switch belongs to (by pid: Mininet.stop()) and ends `mn` with the message, so
        `mn` never runs its cleanup; from a script, raises SoftswitchError (the script's net.stop() does the rest)."""
        self.failed = True
        if _underMn():
            net = _findNet(self)
            if net is not None:
                error('*** Stopping this network (its own nodes, by pid)\n')
                try:
                    net.stop()
                except Exception as e:  # noqa: BLE001 (the message below is what matters)
                    error('*** stopping the network: %s\n' % e)
        _fatal(message)

    def start(self, controllers):
        try:
            self._start(controllers)
        except (SystemExit, SoftswitchError):
            raise
        except Exception as e:  # noqa: BLE001 (any failure here must not reach mn's cleanup)
            self.fail('%s did not start: %s: %s' % (self.name, type(e).__name__, e))

    def _start(self, controllers):
        ports = []
        for number, intf in sorted(self.dataIntfs(), key=lambda p: p[0]):
            ports.append('%d=afpacket:%s' % (number, intf.name))
        args = self.command + ['run', '--ports', ','.join(ports), '--dpid', self.dpid,
                               '--fail-mode', self.failMode, '--unixctl', self.ctlPath,
                               '--pidfile', self.pidPath, '--log-file', self.logPath, '--detach']
        self.controllerTargets = ['tcp:%s:%d' % (c.IP(), c.port) for c in controllers]
        for target in self.controllerTargets:
            args += ['--controller', target]
        self.hasController = len(controllers) > 0
        self.remoteControllers = self.hasController and all(isinstance(c, RemoteController) for c in controllers)
        self.waitStart = None
        self.hinted = False
        if self.listenPort:
            args += ['--listen', 'ptcp:%d' % self.listenPort]
        if self.protocols:
            args += ['--protocols', self.protocols]
        if self.logLevel:
            args += ['--log-level', self.logLevel]
        args += shlex.split(self.extra)
        debug('softswitch:', ' '.join(args), '\n')
        self.cmd('mkdir -p', shlex.quote(self.runDir), '&& rm -f', shlex.quote(self.pidPath))
        # From here on a pid file at least this new is this switch's (the scoped cleanup trusts no older one).
        self.launchTime = time.time()
        # Everything of this switch in its own directory, the service socket (RUNDIR/DPID.mgmt) too.
        out = self.cmd('SOFTSWITCH_RUNDIR=' + shlex.quote(self.runDir), ' '.join(shlex.quote(a) for a in args),
                       '2>&1; echo "exit status $?"')
        pid = self.cmd('cat', shlex.quote(self.pidPath), '2>/dev/null').strip()
        if not pid.isdigit():
            self.fail('%s did not start (%s):\n%s\n%s' % (self.name, ' '.join(args), out.strip(), self.logTail()))
        self.softswitchPid = int(pid)

    def logTail(self, lines=20):
        "The last lines of the switch's log, for error messages."
        text = self.cmd('tail -n %d' % lines, shlex.quote(self.logPath), '2>/dev/null') or ''
        return ('last lines of %s:\n%s' % (self.logPath, text.rstrip())) if text.strip() else 'no log in ' + self.logPath

    def alive(self):
        "Whether the switch's process still runs (not exited, not a zombie)."
        pid = self.softswitchPid
        if pid is None:
            return False
        out = self.cmd("awk '{print $3}' /proc/%d/stat 2>/dev/null" % pid).strip()
        return out not in ('', 'Z', 'X')

    def control(self, command, timeout=2.0):
        "One request on the control socket (the same protocol as `softswitch ctl`); None when unreachable."
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(timeout)
            s.connect(self.ctlPath)
            s.sendall(command.encode() + b'\n')
            s.shutdown(socket.SHUT_WR)
            chunks = []
            while True:
                data = s.recv(65536)
                if not data:
                    break
                chunks.append(data)
            s.close()
        except OSError:
            return None
        reply = b''.join(chunks).decode(errors='replace')
        status, _, text = reply.partition('\n')
        return text if status == 'OK' else None

    def connected(self):
        """Cheap: one short request on the local control socket, no process started. A switch whose process has
        exited is an error (with the tail of its log), not a switch to wait for."""
        if self.softswitchPid is None:
            return False
        if not self.hasController:
            text = self.control('version')
        else:
            show = self.control('dp/show')
            text = show if show is not None and 'controller: connected' in show else None
        if text is None and not self.failed and not self.alive():
            self.fail('%s (pid %d) exited; %s' % (self.name, self.softswitchPid, self.logTail()))
        if text is None and self.hasController:
            self.hintNotConnected(show)
        return text is not None

    # Seconds a switch with a controller waits unconnected before one line says why (Mininet itself waits silently).
    hintAfter = 5.0

    def hintNotConnected(self, show):
        """Once per start, about hintAfter seconds into the wait for a controller: one line saying what the switch sees
        of each controller (from dp/show: nothing accepts the connection, or no OpenFlow session is agreed, and why).
        Only a warning: the controller may still be starting, and Mininet goes on waiting."""
        now = time.time()
        if self.hinted:
            return
        if self.waitStart is None:
            self.waitStart = now
        waited = now - self.waitStart
        if waited < self.hintAfter:
            return
        hint = controllerHint(show or '', self.remoteControllers, self.protocols)
        # While the first attempt is still under way (a connect that times out takes 5 s) there is no reason yet.
        if hint is None and waited < 3 * self.hintAfter:
            return
        self.hinted = True
        if hint is None:
            hint = ('not connected to %s after %d s, and the switch says no more about it (%s); still waiting for it, '
                    'or press Ctrl-C' % (' or '.join(self.controllerTargets) or 'its controller', waited,
                                         "see py %s.ctl('dp/show')" % self.name if show is not None
                                         else 'its control socket does not answer'))
        warn('*** %s: %s\n' % (self.name, hint))

    def dpctl(self, *args):
        "Run an ovs-ofctl command against the switch's listener (dpctl dump-flows)."
        if not self.listenPort:
            return 'softswitch %s has no listen port\n' % self.name
        if not args:
            return 'usage: dpctl COMMAND [ARG...]\n'
        # As Mininet's OVS switch: ovs-ofctl speaks the switch's protocols (-O takes the same list).
        return self.cmd('ovs-ofctl -O', self.protocols or 'OpenFlow10', args[0], 'tcp:127.0.0.1:%d' % self.listenPort, *args[1:])

    def ctl(self, *args):
        "Run a `softswitch ctl` command against this switch."
        return self.cmd(' '.join(shlex.quote(a) for a in self.command), 'ctl --target', shlex.quote(self.ctlPath), *args)

    @staticmethod
    def isZombie(pid):
        try:
            with open('/proc/%d/stat' % pid) as f:
                return f.read().rsplit(')', 1)[-1].split()[0] == 'Z'
        except OSError:
            return True

    def stop(self, deleteIntfs=True):
        "SIGHUP, as Mininet ends its switches; the daemon stops cleanly and removes its socket and pid file."
        pid = self.softswitchPid
        if pid is not None:
            try:
                os.kill(pid, signal.SIGHUP)
                # Wall-clock bound (a loop count stretches on a busy machine). The daemon stops in well under a second
                # on an idle machine; a busy one (several switches stopping at once, every core loaded) can take
                # seconds, so the wait is generous and a slow stop is reported.
                start = time.time()
                while not self.isZombie(pid):
                    os.kill(pid, 0)
                    if time.time() - start > self.stopTimeout:
                        error('*** softswitch %s (pid %d) did not stop on SIGHUP in %.0f s; killing it\n'
                              % (self.name, pid, self.stopTimeout))
                        os.kill(pid, signal.SIGKILL)
                        break
                    time.sleep(0.05)
                else:
                    took = time.time() - start
                    if took > 2:
                        warn('*** softswitch %s (pid %d) took %.1f s to stop on SIGHUP\n' % (self.name, pid, took))
            except ProcessLookupError:
                pass
            self.softswitchPid = None
        super(Softswitch, self).stop(deleteIntfs)


class _RemoteShell(object):
    """What RemoteSoftswitch changes: control requests and the stop go through the node's shell when its server is
    remote (no local socket or process to reach there)."""

    def control(self, command, timeout=2.0):
        if not getattr(self, 'isRemote', False):
            return Softswitch.control(self, command, timeout)
        out = self.cmd('timeout %d' % max(timeout, 1), ' '.join(shlex.quote(a) for a in self.command),
                       'ctl --target', shlex.quote(self.ctlPath), ' '.join(shlex.quote(w) for w in command.split()),
                       '2>/dev/null; echo "ctl status $?"')
        text, _, status = out.rstrip().rpartition('ctl status ')
        return text if status.strip() == '0' else None

    def stop(self, deleteIntfs=True):
        "SIGHUP through the node's shell, waiting (up to stopTimeout) for the process to end, then SIGKILL."
        pid = self.softswitchPid
        if pid is not None and getattr(self, 'isRemote', False):
            out = self.cmd('kill -HUP %d 2>/dev/null; end=$(( $(date +%%s) + %d )); while :; do s=$(awk \'{print $3}\' '
                           '/proc/%d/stat 2>/dev/null); { [ -z "$s" ] || [ "$s" = Z ]; } && break; '
                           '[ $(date +%%s) -ge $end ] && break; sleep 0.05; done; '
                           '[ -z "$s" ] || [ "$s" = Z ] || { kill -KILL %d; echo killed; }'
                           % (pid, int(self.stopTimeout), pid, pid))
            if 'killed' in out:
                error('*** softswitch %s (pid %d) did not stop on SIGHUP; killed it\n' % (self.name, pid))
            self.softswitchPid = None
        Softswitch.stop(self, deleteIntfs)


try:
    # Mininet's cluster edition (Debian ships it as mininet.examples.cluster; it needs Python's distutils).
    from mininet.examples.cluster import RemoteMixin
except ImportError:
    RemoteMixin = None

if RemoteMixin is not None:
    class RemoteSoftswitch(RemoteMixin, _RemoteShell, Softswitch):
        """Softswitch for Mininet's cluster edition, as cluster.py's RemoteOVSSwitch: RemoteMixin runs its shell on
        its server (`server=`, ssh as `user=`; `localhost` is this machine, no ssh), and every command, file and
        control request of the switch goes through that shell. `command=` names the switch on that server (default:
        the command resolved here, for servers laid out alike)."""


_CONTROLLER_LINE = re.compile(r'^controller (\S+): not connected, (?:\d+ failed attempt\(s\), last: '
                              r'(connect failed|no OpenFlow session|session closed): (.*)|(connecting|agreeing on a version))$',
                              re.M)


def offeredVersions(protocols):
    """The switch's --switch option and the OpenFlow versions it offers, in words: ('softswitch,protocols=OpenFlow13',
    '1.3 only'); without protocols the switch offers 1.0 and 1.3."""
    if not protocols:
        return 'softswitch', '1.0 and 1.3'
    names = [p.strip() for p in protocols.split(',') if p.strip()]
    versions = [n[len('OpenFlow'):] for n in names if n.startswith('OpenFlow') and len(n) == len('OpenFlow') + 2]
    words = ['%s.%s' % (v[0], v[1]) for v in versions]
    said = words[0] + ' only' if len(words) == 1 else ' and '.join(words)
    return 'softswitch,protocols=' + ','.join(names), said


def controllerHint(show, remote, protocols=None):
    """What dp/show's controller lines say about controllers that are not connected, as one line; None when they
    say nothing yet (the first attempt under way) or there are none. `remote`: the controllers are ones the user starts;
    `protocols`: the switch's (as --switch softswitch,protocols= takes them)."""
    parts, stages = [], set()
    for endpoint, stage, reason, pending in _CONTROLLER_LINE.findall(show):
        if pending:
            continue
        stages.add(stage)
        if stage == 'connect failed':
            parts.append('no controller accepts connections at %s (%s)' % (endpoint, reason))
        elif stage == 'no OpenFlow session':
            parts.append('the controller at %s accepts connections, but no OpenFlow session is agreed (%s)' % (endpoint, reason))
        else:
            parts.append('the controller at %s ended its session (%s)' % (endpoint, reason))
    if not parts:
        return None
    if 'no OpenFlow session' in stages:
        option, offered = offeredVersions(protocols)
        advice = ('check the OpenFlow versions it speaks against the switch\'s (--switch %s offers %s), or press Ctrl-C'
                  % (option, offered))
    elif remote:
        advice = 'start it first (see README: "A remote controller is one you start first"), or press Ctrl-C'
    else:
        advice = 'still waiting for it, or press Ctrl-C'
    return '; '.join(parts) + '; ' + advice


def ensureOvsRunDir():
    """Mininet's `--controller ovsc` runs ovs-testcontroller, which puts its control socket in /run/openvswitch and
    exits when that directory is missing (only the Open vSwitch service makes it). Makes it as that service does."""
    path = '/run/openvswitch'
    if os.geteuid() == 0 and not os.path.isdir(path) and os.path.isdir('/run'):
        try:
            os.makedirs(path, mode=0o755, exist_ok=True)
        except OSError as e:
            debug('softswitch: cannot make %s: %s\n' % (path, e))


class _Hurry(BaseException):
    "A second Ctrl-C during the scoped cleanup: kill what is left (SIGKILL, by pid) and exit."


class _RunCleanup(object):
    """What this `mn` run made, and the cleanup that undoes only that (in place of `mn`'s, which works by name on the
    whole machine). Filled by hooks installed under `mn --custom` only: every Mininet node this process makes, every
    veth pair it makes and every OVS bridge it starts."""

    def __init__(self):
        self.nodes = []
        self.pairs = []  # [name1, name2, made]: made stays False when the creation was interrupted
        self.bridges = []
        self.machineCleanup = None
        self.interrupted = None  # when the first Ctrl-C came (before the CLI)
        self.again = False  # whether another came before the cleanup took over
        self.ctrlC = False  # whether Ctrl-C reaches `mn` (not ignored)

    def install(self, main):
        from mininet.link import Link
        from mininet.node import Node, OVSSwitch
        run = self

        nodeInit = Node.__init__

        def __init__(self, *args, **kwargs):
            run.nodes.append(self)
            nodeInit(self, *args, **kwargs)
        Node.__init__ = __init__

        makePair = Link.makeIntfPair.__func__

        def makeIntfPair(cls, intfname1, intfname2, *args, **kwargs):
            pair = [intfname1, intfname2, False]
            run.pairs.append(pair)
            result = makePair(cls, intfname1, intfname2, *args, **kwargs)
            pair[2] = True
            return result
        Link.makeIntfPair = classmethod(makeIntfPair)

        ovsStart = OVSSwitch.start

        def start(self, controllers):
            if self.name not in run.bridges:
                run.bridges.append(self.name)
            return ovsStart(self, controllers)
        OVSSwitch.start = start

        # Until the CLI (which handles Ctrl-C itself), a Ctrl-C raises KeyboardInterrupt once: `mn` then calls the
        # cleanup. More, before the cleanup takes over, would raise out of `mn`'s handler and skip any cleanup.
        import mininet.cli
        cliInit = mininet.cli.CLI.__init__

        def cliInitWithCtrlC(self, *args, **kwargs):
            signal.signal(signal.SIGINT, signal.default_int_handler)
            return cliInit(self, *args, **kwargs)
        # A Ctrl-C that `mn` ignores (started in the background of a script) stays ignored.
        self.ctrlC = signal.getsignal(signal.SIGINT) is signal.default_int_handler
        if self.ctrlC:
            mininet.cli.CLI.__init__ = cliInitWithCtrlC
            signal.signal(signal.SIGINT, self.onCtrlC)

        self.machineCleanup = getattr(main, 'cleanup', None)
        main.cleanup = self.cleanup

    def onCtrlC(self, _signum, _frame):
        now = time.time()
        if self.interrupted is not None and now - self.interrupted < 5:
            self.again = True
            return
        self.interrupted = now
        raise KeyboardInterrupt()

    def cleanup(self):
        """Called by `mn` where it would run its own cleanup: on Ctrl-C or an exception before its CLI; and for
        `mn -c` (no exception being handled), which is a machine-wide cleanup asked for by name: that one runs."""
        exc = sys.exc_info()[1]
        if exc is None and self.machineCleanup is not None:
            return self.machineCleanup()
        status = 130 if isinstance(exc, KeyboardInterrupt) else 1
        done = {'switches': set(), 'shells': set(), 'processes': set(), 'links': set(), 'bridges': set()}
        how = 'stopped by pid'

        def hurry(_signum, _frame):
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            raise _Hurry()
        try:
            try:
                if self.ctrlC:
                    signal.signal(signal.SIGINT, hurry)
                if self.again:
                    raise _Hurry()
                self.stopAll(done, hurry=False)
            except _Hurry:
                how = 'killed by pid (SIGKILL) after a second Ctrl-C'
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                self.stopAll(done, hurry=True)
        except Exception as e:  # noqa: BLE001 (never fall back to mn's cleanup)
            error('*** softswitch: scoped cleanup: %s: %s\n' % (type(e).__name__, e))
        finally:
            if self.ctrlC:
                # From here on (the line below, then exit), Ctrl-C ends `mn` at once.
                signal.signal(signal.SIGINT, signal.SIG_DFL)
        error('*** softswitch: cleaned up this run only (%s: %d switch processes, %d Mininet nodes, %d processes in '
              'all; deleted: %d veth links, %d OVS bridges); `sudo mn -c` (machine-wide cleanup) was NOT run\n'
              % (how, len(done['switches']), len(done['shells']), len(done['processes']), len(done['links']),
                 len(done['bridges'])))
        raise SystemExit(status)

    def stopAll(self, done, hurry):
        "Stops this run's processes (by pid), then deletes its links and bridges; what it did goes into done."
        self.stopSwitches(self.switchPids(), done, hurry)
        shells, others = self.nodeProcesses()
        done['shells'].update(shells)
        done['processes'].update(shells + others)
        if hurry:
            _signalAll(shells + others, signal.SIGKILL)
        else:
            for pid in shells:
                # As Mininet ends a node: SIGHUP to its shell's process group (mnexec made the shell a session leader).
                try:
                    os.killpg(pid, signal.SIGHUP)
                except OSError:
                    pass
            _signalAll(others, signal.SIGTERM)
            _waitGone(shells + others, 2.0)
            _signalAll(shells + others, signal.SIGKILL)
        self.reapShells(0.5 if hurry else 2.0)
        # A switch whose start was interrupted may have written its pid file only now.
        self.stopSwitches(self.switchPids(), done, hurry)
        done['links'].update(self.deleteLinks())
        done['bridges'].update(self.deleteBridges(hurry))

    @staticmethod
    def stopSwitches(pids, done, hurry):
        "SIGHUP, as Softswitch.stop() (up to its stopTimeout), then SIGKILL; SIGKILL at once in a hurry."
        done['switches'].update(pids)
        if not hurry:
            _signalAll(pids, signal.SIGHUP)
            _waitGone(pids, Softswitch.stopTimeout)
        _signalAll(pids, signal.SIGKILL)

    def switchPids(self):
        "The Softswitch daemons this run started: the pids the switches read, or their pid files written since."
        pids = []
        for node in self.nodes:
            if not isinstance(node, Softswitch) or getattr(node, 'isRemote', False):
                continue
            pid = node.softswitchPid
            if pid is None and node.launchTime is not None:
                try:
                    if os.stat(node.pidPath).st_mtime >= node.launchTime - 0.05:
                        with open(node.pidPath) as f:
                            text = f.read().strip()
                        pid = int(text) if text.isdigit() else None
                except OSError:
                    pid = None
            if pid is not None and pid > 1 and pid != os.getpid() and not Softswitch.isZombie(pid):
                pids.append(pid)
        return pids

    def nodeProcesses(self):
        "This run's live node shells; the processes under them and in their network namespaces (not ours)."
        table = _processes()
        own = _netns(os.getpid())
        shells, namespaces = [], set()
        for node in self.nodes:
            shell = getattr(node, 'shell', None)
            if shell is None or shell.poll() is not None:
                continue
            shells.append(shell.pid)
            if getattr(node, 'inNamespace', False):
                ns = _netns(shell.pid)
                if ns is not None and ns != own:
                    namespaces.add(ns)
        others = set(_descendants(shells, table))
        if namespaces:
            others.update(pid for pid in table if _netns(pid) in namespaces)
        others.difference_update(shells)
        others.discard(os.getpid())
        return shells, sorted(others)

    def reapShells(self, timeout):
        deadline = time.time() + timeout
        for node in self.nodes:
            shell = getattr(node, 'shell', None)
            if shell is None:
                continue
            try:
                shell.wait(timeout=max(deadline - time.time(), 0.01))
            except (subprocess.TimeoutExpired, OSError):
                pass

    def deleteLinks(self):
        """The veth pairs this run made that are still here (those with an end in a node's namespace went with it).
        A pair whose creation was interrupted only when both its names are there, joined to each other."""
        try:
            listing = subprocess.run(['ip', '-o', 'link', 'show'], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     universal_newlines=True, timeout=5).stdout
        except (OSError, subprocess.SubprocessError):
            return []
        present = {}
        for line in listing.splitlines():
            fields = line.split(':', 2)
            if len(fields) == 3:
                name, _, peer = fields[1].strip().partition('@')
                present[name] = peer
        deleted = []
        for name1, name2, made in self.pairs:
            for name, other in ((name1, name2), (name2, name1)):
                if name in present and (made or present[name] == other):
                    if _run(['ip', 'link', 'del', name]):
                        deleted.append(name)
                    present.pop(name, None)
                    present.pop(other, None)
                    break
        return deleted

    def deleteBridges(self, hurry):
        "The OVS bridges of this run's OVS switches (each made under its switch's name when it started)."
        if not self.bridges:
            return []
        args = ['ovs-vsctl', '--timeout=%d' % (1 if hurry else 3)]
        for name in self.bridges:
            args += ['--', '--if-exists', 'del-br', name]
        return list(self.bridges) if _run(args) else []


def _run(args):
    try:
        return subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=5).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _processes():
    "pid: parent pid, for every process (from /proc)."
    table = {}
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open('/proc/%s/stat' % entry) as f:
                    fields = f.read().rsplit(')', 1)[-1].split()
                table[int(entry)] = int(fields[1])
            except (OSError, IndexError, ValueError):
                pass
    return table


def _descendants(roots, table):
    children = {}
    for pid, ppid in table.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = [], list(roots)
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.append(child)
                todo.append(child)
    return found


def _netns(pid):
    try:
        st = os.stat('/proc/%d/ns/net' % pid)
        return (st.st_dev, st.st_ino)
    except OSError:
        return None


def _signalAll(pids, sig):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except OSError:
            pass


def _waitGone(pids, timeout):
    "Waits (up to timeout seconds) until each process has exited (gone or a zombie)."
    deadline = time.time() + timeout
    while time.time() < deadline and not all(Softswitch.isZombie(pid) for pid in pids):
        time.sleep(0.05)


_RUN = None
if _underMn():
    # `mn` runs mininet.clean.cleanup (imported into its __main__ as `cleanup`) on Ctrl-C and on any exception:
    # this run's own cleanup replaces it there.
    _RUN = _RunCleanup()
    _RUN.install(sys.modules['__main__'])


# RemoteSoftswitch is not offered to `mn --switch`: `mn --cluster` always uses RemoteOVSSwitch, so cluster runs are
# scripts (MininetCluster(switch=RemoteSoftswitch, ...)).
switches = {'softswitch': Softswitch}
