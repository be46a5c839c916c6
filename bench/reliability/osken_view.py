# An OpenFlow 1.0 os-ken app that records the controller's view of a switch after each connect: the datapath id and
# ports of FEATURES_REPLY, then the flow count of a full flow-stats request (all its replies). It installs nothing
# and drops packet-ins, so with it connected a table miss goes nowhere.
# One line per connect in the file named by SSW_VIEW_LOG: "view dpid=%016x ports=N flows=M".
#   osken-manager --ofp-listen-host 127.0.0.1 --ofp-tcp-listen-port PORT bench/reliability/osken_view.py
import os

from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from os_ken.ofproto import ofproto_v1_0

LOG = os.environ.get("SSW_VIEW_LOG", "/dev/null")


class View10(app_manager.OSKenApp):
    OFP_VERSIONS = [ofproto_v1_0.OFP_VERSION]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.pending = {}

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def features(self, ev):
        msg = ev.msg
        dp = msg.datapath
        ofp = dp.ofproto
        ports = [p for p in msg.ports if p < ofp.OFPP_MAX]
        self.pending[dp.id] = {"dpid": msg.datapath_id, "ports": len(ports), "flows": 0}
        parser = dp.ofproto_parser
        dp.send_msg(parser.OFPFlowStatsRequest(dp, 0, parser.OFPMatch(), 0xff, ofp.OFPP_NONE))

    @set_ev_cls(ofp_event.EventOFPFlowStatsReply, MAIN_DISPATCHER)
    def flow_stats(self, ev):
        msg = ev.msg
        dp = msg.datapath
        v = self.pending.get(dp.id)
        if v is None:
            return
        v["flows"] += len(msg.body)
        if not msg.flags & dp.ofproto.OFPSF_REPLY_MORE:
            with open(LOG, "a") as f:
                f.write("view dpid=%016x ports=%d flows=%d\n" % (v["dpid"], v["ports"], v["flows"]))
            del self.pending[dp.id]
