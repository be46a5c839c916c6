# An OpenFlow 1.0 learning switch for os-ken (the maintained fork of Ryu), used by Softswitch's interop tests.
# It logs what it sees to the file named by SSW_OSKEN_LOG so the test can check the conversation.
import os

from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from os_ken.lib.packet import ethernet, packet
from os_ken.ofproto import ofproto_v1_0

LOG = os.environ.get("SSW_OSKEN_LOG", "/dev/null")


def note(line):
    with open(LOG, "a") as f:
        f.write(line + "\n")


class L2Switch10(app_manager.OSKenApp):
    OFP_VERSIONS = [ofproto_v1_0.OFP_VERSION]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.mac_to_port = {}

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def features(self, ev):
        msg = ev.msg
        note("features dpid=%016x ports=%d" % (msg.datapath_id, len(msg.ports)))

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def packet_in(self, ev):
        msg = ev.msg
        dp = msg.datapath
        ofp = dp.ofproto
        parser = dp.ofproto_parser
        eth = packet.Packet(msg.data).get_protocol(ethernet.ethernet)
        note("packet_in in_port=%d src=%s dst=%s buffer=%d" % (msg.in_port, eth.src, eth.dst, msg.buffer_id))
        table = self.mac_to_port.setdefault(dp.id, {})
        table[eth.src] = msg.in_port
        out = table.get(eth.dst, ofp.OFPP_FLOOD)
        actions = [parser.OFPActionOutput(out)]
        if out != ofp.OFPP_FLOOD:
            match = parser.OFPMatch(in_port=msg.in_port, dl_dst=eth.dst)
            dp.send_msg(parser.OFPFlowMod(datapath=dp, match=match, cookie=0, command=ofp.OFPFC_ADD,
                                          idle_timeout=30, hard_timeout=0, priority=100, actions=actions))
        data = msg.data if msg.buffer_id == ofp.OFP_NO_BUFFER else None
        dp.send_msg(parser.OFPPacketOut(datapath=dp, buffer_id=msg.buffer_id, in_port=msg.in_port, actions=actions, data=data))
