"""A Mininet switch class for `mn --custom rstp_switch.py --switch rstpbr`: Mininet's OVSBridge (standalone) with
802.1w rapid spanning tree (Bridge rstp_enable=true, set as the bridge is made, so no loop forwards before it runs).
For --wait it is connected once RSTP has settled on it: every port of it forwarding, or an alternate or backup port
(discarding, as it stays); the Port rstp_status column says which (OVSBridge's stp=1 test, STP_FORWARD in
`ovs-ofctl show` and no STP_LEARN, passes while a host's port still waits to be found an edge port)."""
import json

from mininet.node import OVSBridge


class RstpBridge(OVSBridge):
    "OVSBridge with rstp_enable=true"

    def bridgeOpts(self):
        return OVSBridge.bridgeOpts(self) + ' rstp_enable=true'

    def connected(self):
        ports = set(self.vsctl('list-ports', self).split())
        if not ports:
            return False
        rows = json.loads(self.vsctl('--format=json', '--columns=name,rstp_status', 'list', 'Port'))['data']
        seen = 0
        for name, status in rows:
            if name not in ports:
                continue
            seen += 1
            status = dict(status[1])
            if status.get('rstp_port_state') != 'Forwarding' and status.get('rstp_port_role') not in ('Alternate', 'Backup'):
                return False
        return seen == len(ports)


switches = {'rstpbr': RstpBridge}
