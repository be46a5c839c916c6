"""Softswitch as a Mininet switch.

    sudo mn --custom mininet/softswitch_mn.py --switch softswitch --controller remote,port=6653 --test pingall
    sudo mn --custom mininet/softswitch_mn.py --switch softswitch --controller ovsc --topo tree,depth=2 --test pingall
    sudo mn --custom mininet/softswitch_mn.py --switch softswitch,failMode=standalone --controller none --test pingall

The switch runs `softswitch run` with Mininet's datapath id, listen port and interfaces, each interface under the
OpenFlow port number Mininet gave it (--ports 3=afpacket:s1-eth3,...), detached, with its pid file, log file and
control socket in a directory of its own ($SOFTSWITCH_MN_RUNDIR/NAME, by default /tmp/softswitch-mn/NAME). Which command runs is taken from
$SOFTSWITCH (e.g. "dotnet /path/softswitch.dll"), else `softswitch` on PATH.

Options (--switch softswitch,OPTION=VALUE): failMode (secure or standalone; default secure, as Mininet's OVS
switch), logLevel (e.g. dbg or ofagent:dbg), runDir, extra (more command-line options).
"""

import os
import shlex
import signal
import socket
import time

from mininet.log import debug, error
from mininet.node import Switch


class Softswitch(Switch):
    """A user-space OpenFlow 1.0 switch (Softswitch) on AF_PACKET ports."""

    def __init__(self, name, failMode='secure', logLevel=None, runDir=None, extra='', **params):
        Switch.__init__(self, name, **params)
        self.failMode = failMode
        self.logLevel = logLevel
        self.extra = extra
        self.runDir = runDir or os.path.join(os.environ.get('SOFTSWITCH_MN_RUNDIR', '/tmp/softswitch-mn'), name)
        self.command = os.environ.get('SOFTSWITCH', 'softswitch')
        self.softswitchPid = None
        self.hasController = False

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

    def start(self, controllers):
        os.makedirs(self.runDir, exist_ok=True)
        for path in (self.pidPath,):
            if os.path.exists(path):
                os.unlink(path)
        ports = []
        for number, intf in sorted(self.dataIntfs(), key=lambda p: p[0]):
            ports.append('%d=afpacket:%s' % (number, intf.name))
        args = shlex.split(self.command) + ['run', '--ports', ','.join(ports), '--dpid', self.dpid,
                                            '--fail-mode', self.failMode, '--unixctl', self.ctlPath,
                                            '--pidfile', self.pidPath, '--log-file', self.logPath, '--detach']
        for c in controllers:
            args += ['--controller', 'tcp:%s:%d' % (c.IP(), c.port)]
        self.hasController = len(controllers) > 0
        if self.listenPort:
            args += ['--listen', 'ptcp:%d' % self.listenPort]
        if self.logLevel:
            args += ['--log-level', self.logLevel]
        args += shlex.split(self.extra)
        debug('softswitch:', ' '.join(args), '\n')
        out = self.cmd(' '.join(shlex.quote(a) for a in args), '2>&1')
        try:
            with open(self.pidPath) as f:
                self.softswitchPid = int(f.read().strip())
        except (OSError, ValueError):
            error('*** softswitch %s did not start:\n%s\n' % (self.name, out))
            raise Exception('softswitch %s did not start (see %s)' % (self.name, self.logPath))

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
        "Cheap: one short request on the local control socket, no process started."
        if self.softswitchPid is None:
            return False
        if not self.hasController:
            return self.control('version') is not None
        text = self.control('dp/show')
        return text is not None and 'controller: connected' in text

    def dpctl(self, *args):
        "Run an ovs-ofctl command against the switch's listener (dpctl dump-flows)."
        if not self.listenPort:
            return 'softswitch %s has no listen port\n' % self.name
        if not args:
            return 'usage: dpctl COMMAND [ARG...]\n'
        return self.cmd('ovs-ofctl -O OpenFlow10', args[0], 'tcp:127.0.0.1:%d' % self.listenPort, *args[1:])

    def ctl(self, *args):
        "Run a `softswitch ctl` command against this switch."
        return self.cmd(self.command, 'ctl --target', self.ctlPath, *args)

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
                for _ in range(100):
                    os.kill(pid, 0)
                    if self.isZombie(pid):
                        break
                    time.sleep(0.05)
                else:
                    error('*** softswitch %s (pid %d) did not stop on SIGHUP; killing it\n' % (self.name, pid))
                    os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.softswitchPid = None
        super(Softswitch, self).stop(deleteIntfs)


switches = {'softswitch': Softswitch}
