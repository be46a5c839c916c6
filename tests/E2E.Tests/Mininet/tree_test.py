"""Mininet tree,depth=2 (3 switches, 4 hosts) on Softswitch: pingall and a TCP stream between two hosts.

    /usr/bin/python3 tree_test.py controller|controller13|standalone RUNDIR [DIR_OF_softswitch_mn.py]

controller13: the switches offer OpenFlow 1.3 only (protocols=OpenFlow13) and ovs-testcontroller speaks 1.3.

Runs in whatever network namespace it is started in (the test gives it a private one). Prints one line per
result and `RESULT ok` at the end, or `RESULT fail: why` and exit code 1. Everything it starts ends by pid:
Mininet's net.stop() (SIGHUP to each switch, its shells), the iperf3 server it started.
"""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, sys.argv[3] if len(sys.argv) > 3 else os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'mininet'))

from mininet.log import setLogLevel  # noqa: E402
from mininet.net import Mininet  # noqa: E402
from mininet.node import OVSController  # noqa: E402
from mininet.topolib import TreeTopo  # noqa: E402
from mininet.util import custom  # noqa: E402
from softswitch_mn import Softswitch  # noqa: E402


def fail(why):
    print('RESULT fail: ' + why, flush=True)
    return 1


def main():
    mode, rundir = sys.argv[1], sys.argv[2]
    os.environ['SOFTSWITCH_MN_RUNDIR'] = rundir
    setLogLevel('warning')
    if mode in ('controller', 'controller13'):
        # ovs-testcontroller on loopback of this namespace, started and ended by Mininet (its shell job).
        of13 = mode == 'controller13'
        switch = custom(Softswitch, protocols='OpenFlow13') if of13 else Softswitch
        net = Mininet(topo=TreeTopo(depth=2), switch=switch, controller=None, listenPort=16634, autoSetMacs=True)
        net.addController('c0', controller=OVSController, port=16653,
                          cargs='%s-v ptcp:%%d --unixctl=%s --pidfile=%s' % ('-O OpenFlow13 ' if of13 else '', os.path.join(rundir, 'c0.ctl'),
                                                                         os.path.join(rundir, 'c0.pid')))
    else:
        net = Mininet(topo=TreeTopo(depth=2), switch=custom(Softswitch, failMode='standalone'),
                      controller=None, listenPort=16634, autoSetMacs=True)
    status = 1
    try:
        net.start()
        if mode != 'standalone' and not net.waitConnected(timeout=20):
            return fail('switches did not connect to ovs-testcontroller')
        for s in net.switches:
            print('%s pid %s connected=%s' % (s.name, s.softswitchPid, s.connected()), flush=True)
        loss = net.pingAll(timeout='2')
        if loss > 0:
            loss = net.pingAll(timeout='2')
        print('pingall loss %s%%' % loss, flush=True)
        if loss > 0:
            return fail('pingall lost %s%%' % loss)
        flows = net.switches[0].dpctl('dump-flows')
        print('s1 dump-flows: %d lines, %s' % (len(flows.strip().splitlines()), flows.strip().splitlines()[0] if flows.strip() else ''), flush=True)
        # ovs-testcontroller's learning flows: 12-tuple matches with a 60 s idle timeout, carrying the pings.
        if mode != 'standalone' and not any('idle_timeout=60' in l and 'n_packets=0' not in l for l in flows.splitlines()):
            return fail('no controller flows on s1:\n' + flows)
        h1, h4 = net.hosts[0], net.hosts[-1]
        server = h4.popen(['iperf3', '-s', '-1', '-B', h4.IP()], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.5)
            out = h1.cmd('iperf3 -c %s -t 2 -J < /dev/null' % h4.IP())
            try:
                bps = json.loads(out)['end']['sum_received']['bits_per_second']
            except (ValueError, KeyError):
                return fail('iperf3 failed: ' + out[:400])
            print('iperf3 %s -> %s: %.0f Mbit/s' % (h1.name, h4.name, bps / 1e6), flush=True)
            if bps < 1e6:
                return fail('TCP too slow: %.0f bit/s' % bps)
        finally:
            if server.poll() is None:
                server.kill()
            server.wait()
        ctl = net.switches[0].ctl('fdb/show') if mode == 'standalone' else net.switches[0].ctl('version')
        print('s1 ctl: ' + ctl.strip().replace('\n', ' | ')[:300], flush=True)
        status = 0
    finally:
        pids = [s.softswitchPid for s in net.switches]
        net.stop()
        for pid in pids:
            if pid is not None and os.path.exists('/proc/%d' % pid):
                with open('/proc/%d/stat' % pid) as f:
                    if f.read().split(')')[-1].split()[0] != 'Z':
                        status = fail('softswitch pid %d still runs after stop' % pid)
        left = [f for f in os.listdir(rundir) for f in [os.path.join(rundir, f)] if os.path.isdir(f)
                for f in os.listdir(f) if f.endswith('.ctl') or f.endswith('.pid')] if os.path.isdir(rundir) else []
        if left:
            status = fail('left behind after stop: ' + ', '.join(left))
    if status == 0:
        print('RESULT ok', flush=True)
    return status


if __name__ == '__main__':
    sys.exit(main())
