"""Inside stock_ovs_test.sh: Mininet's stock OVSSwitch (standalone, no controller), served by softswitch vswitchd, and
an iperf3 TCP run between its two hosts. Prints "IPERF N Mbit/s" or "IPERF FAILED ..."."""
import json
import time
from functools import partial

from mininet.net import Mininet
from mininet.node import OVSSwitch
from mininet.topo import SingleSwitchTopo

net = Mininet(topo=SingleSwitchTopo(2), switch=partial(OVSSwitch, failMode='standalone'), controller=None)
net.start()
try:
    h1, h2 = net.hosts
    net.pingAll(timeout='2')
    server = h2.popen(['iperf3', '-s', '-1', '-B', h2.IP()])
    try:
        time.sleep(0.5)
        out = h1.cmd('timeout 30 iperf3 -c %s -t 2 -J < /dev/null' % h2.IP())
        try:
            bps = json.loads(out)['end']['sum_received']['bits_per_second']
            print('IPERF %.0f Mbit/s' % (bps / 1e6), flush=True)
        except (ValueError, KeyError):
            print('IPERF FAILED ' + out[:400], flush=True)
    finally:
        if server.poll() is None:
            server.kill()
finally:
    net.stop()
