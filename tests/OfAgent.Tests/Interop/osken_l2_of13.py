# OpenFlow 1.3 controllers for os-ken (the maintained fork of Ryu), used by Softswitch's interop tests. Pick one with
# SSW_OSKEN_APP: "l2" (a learning switch with an explicit table-miss entry, as os-ken's simple_switch_13 does) or
# "twotable" (a two-table learning switch: table 0 learns sources and goes to table 1, which forwards on destinations,
# its table-miss entry flooding). Each logs what it sees to the file named by SSW_OSKEN_LOG.
import os

from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from os_ken.lib.packet import ethernet, packet
from os_ken.ofproto import ofproto_v1_3

LOG = os.environ.get("SSW_OSKEN_LOG", "/dev/null")
MODE = os.environ.get("SSW_OSKEN_APP", "l2")


def note(line):
    with open(LOG, "a") as f:
        f.write(line + "\n")


class Switch13(app_manager.OSKenApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.mac_to_port = {}

    def add_flow(self, dp, table, priority, match, instructions, cookie=0):
        parser = dp.ofproto_parser
        dp.send_msg(parser.OFPFlowMod(datapath=dp, table_id=table, priority=priority, match=match,
                                      instructions=instructions, cookie=cookie))

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def features(self, ev):
        msg = ev.msg
        dp = msg.datapath
        ofp = dp.ofproto
        parser = dp.ofproto_parser
        note("features dpid=%016x n_tables=%d auxiliary_id=%d" % (msg.datapath_id, msg.n_tables, msg.auxiliary_id))
        to_controller = parser.OFPActionOutput(ofp.OFPP_CONTROLLER, ofp.OFPCML_NO_BUFFER)
        apply = parser.OFPInstructionActions
        if MODE == "twotable":
            self.add_flow(dp, 0, 0, parser.OFPMatch(),
                          [apply(ofp.OFPIT_APPLY_ACTIONS, [to_controller]), parser.OFPInstructionGotoTable(1)], cookie=0x5eed)
            self.add_flow(dp, 1, 0, parser.OFPMatch(), [apply(ofp.OFPIT_APPLY_ACTIONS, [parser.OFPActionOutput(ofp.OFPP_FLOOD)])])
        else:
            self.add_flow(dp, 0, 0, parser.OFPMatch(), [apply(ofp.OFPIT_APPLY_ACTIONS, [to_controller])], cookie=0x5eed)
        dp.send_msg(parser.OFPPortDescStatsRequest(dp, 0))

    @set_ev_cls(ofp_event.EventOFPPortDescStatsReply, MAIN_DISPATCHER)
    def port_desc(self, ev):
        note("port_desc ports=%s" % ",".join(str(p.port_no) for p in ev.msg.body))

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def packet_in(self, ev):
        msg = ev.msg
        dp = msg.datapath
        ofp = dp.ofproto
        parser = dp.ofproto_parser
        in_port = msg.match["in_port"]
        eth = packet.Packet(msg.data).get_protocol(ethernet.ethernet)
        note("packet_in in_port=%d src=%s dst=%s reason=%d table=%d cookie=%x buffer=%x total_len=%d"
             % (in_port, eth.src, eth.dst, msg.reason, msg.table_id, msg.cookie, msg.buffer_id, msg.total_len))
        table = self.mac_to_port.setdefault(dp.id, {})
        apply = parser.OFPInstructionActions
        if MODE == "twotable":
            if table.get(eth.src) != in_port:
                table[eth.src] = in_port
                self.add_flow(dp, 0, 100, parser.OFPMatch(in_port=in_port, eth_src=eth.src), [parser.OFPInstructionGotoTable(1)])
                self.add_flow(dp, 1, 100, parser.OFPMatch(eth_dst=eth.src),
                              [apply(ofp.OFPIT_APPLY_ACTIONS, [parser.OFPActionOutput(in_port)])])
            return  # the packet went on to table 1 itself
        table[eth.src] = in_port
        out = table.get(eth.dst, ofp.OFPP_FLOOD)
        actions = [parser.OFPActionOutput(out)]
        if out != ofp.OFPP_FLOOD:
            self.add_flow(dp, 0, 1, parser.OFPMatch(in_port=in_port, eth_dst=eth.dst), [apply(ofp.OFPIT_APPLY_ACTIONS, actions)])
        data = msg.data if msg.buffer_id == ofp.OFP_NO_BUFFER else None
        dp.send_msg(parser.OFPPacketOut(datapath=dp, buffer_id=msg.buffer_id, in_port=in_port, actions=actions, data=data))
