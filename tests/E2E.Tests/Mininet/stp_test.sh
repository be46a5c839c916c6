#!/bin/sh
# stp_test.sh: inside sandbox.sh, the Open vSwitch database on its default socket and `softswitch vswitchd` (in
# $SOFTSWITCH) in place of ovs-vswitchd, with spanning tree:
#  1. `mn --switch ovsbr,stp=1 --topo torus,3,3 --wait --test pingall`: Mininet's OVSBridge sets stp_enable=true and
#     waits until `ovs-ofctl show` of each switch has STP_FORWARD and no STP_LEARN; prints "MN EXIT N" and how long.
#  2. A ring of three bridges joined by veths, STP on, a host on two of them: after convergence the ring has one
#     blocked port, a broadcast flood ping crosses it, and once the flood stops the ring's frame counts stop growing
#     (a loop would carry the broadcasts round for ever); then a link on the hosts' path is cut and the ring heals
#     within max-age plus twice forward-delay. Prints "RING ..." lines.
#  3. (`stp_test.sh ovs` only) A ring of two softswitch bridges and one Open vSwitch user-space bridge (ovsdb-server and
#     ovs-vswitchd, datapath_type=netdev, in a namespace of their own): with the Open vSwitch bridge's priority lowest,
#     then with a softswitch bridge's, every bridge names the same root. Prints "OVS ..." lines.
#  4. (`stp_test.sh rstp` only) The same ring with RSTP (rstp_enable=true), each bridge with a fixed address and
#     priority, laid out twice: Open vSwitch running stpo (the lowest priority) and a host on each softswitch bridge,
#     then Open vSwitch running stpr2 and softswitch stpo. In each, with stpo's priority lowest, then with stpr2's,
#     every bridge names the same root and the same port is the one alternate (the same whichever daemon runs which
#     bridge); in the first round the link from the bridge that has the alternate port to its root is cut and the
#     hosts ping again within a few hello times. Prints "RSTP ..." lines.
#  5. (`stp_test.sh rstp-torus` only) As 1. with RSTP: `mn --custom rstp_switch.py --switch rstpbr` (OVSBridge with
#     rstp_enable=true).
# Then "RESULT done".
set -e
. "$(dirname "$0")/vswitchd_up.sh"
[ -n "$STP_DEBUG" ] && ovs-appctl vlog/set stp:dbg
set +e
mode=${1:-all}
if [ "$mode" = all ] || [ "$mode" = torus ]; then
  start=$(date +%s)
  timeout 300 mn --switch ovsbr,stp=1 --topo torus,3,3 --wait --test pingall 2>&1
  echo "MN EXIT $? after $(( $(date +%s) - start )) s"
fi
if [ "$mode" = rstp-torus ]; then
  start=$(date +%s)
  timeout 300 mn --custom "$(dirname "$0")/rstp_switch.py" --switch rstpbr --topo torus,3,3 --wait --test pingall 2>&1
  echo "MN EXIT $? after $(( $(date +%s) - start )) s"
fi
if [ "$mode" = all ] || [ "$mode" = ring ]; then
  # Three bridges in a ring (r1-r2, r2-r3, r3-r1), a host in a namespace on r1 and on r2.
  for i in 1 2 3; do
    ovs-vsctl add-br stpr$i -- set-fail-mode stpr$i standalone -- set bridge stpr$i stp_enable=true \
      other_config:stp-forward-delay=4 other_config:stp-max-age=6 other_config:stp-hello-time=1000
  done
  link() {
    ip link add "$1" type veth peer name "$2"
    ip link set "$1" up
    ip link set "$2" up
    ovs-vsctl add-port "$3" "$1" -- add-port "$4" "$2"
  }
  link sr12a sr12b stpr1 stpr2
  link sr23a sr23b stpr2 stpr3
  link sr31a sr31b stpr3 stpr1
  for i in 1 2; do
    ip netns add stph$i
    ip link add sh$i type veth peer name eth0 netns stph$i
    ip link set sh$i up
    ip -n stph$i addr add 10.79.0.$i/24 dev eth0
    ip -n stph$i link set eth0 up
    ip -n stph$i link set lo up
    ovs-vsctl add-port stpr$i sh$i
  done
  # Converged: every ring port forwarding or blocking (forward delay 4 s: about 8 s).
  for _ in $(seq 60); do
    states=$(for i in 1 2 3; do ovs-vsctl --columns=status list Port | grep -o 'stp_state="\?[a-z]*' ; done | sort | uniq -c | tr '\n' ' ')
    if ! echo "$states" | grep -q 'listening\|learning'; then break; fi
    sleep 0.5
  done
  for i in 1 2 3; do ovs-appctl stp/show stpr$i; done
  ovs-vsctl --columns=name,status,statistics list Port
  blocked=$(ovs-vsctl --columns=name,status find Port 'status:stp_state=blocking' | grep -c '^name')
  echo "RING BLOCKED $blocked"
  echo "RING ROOTS $(for i in 1 2 3; do ovs-vsctl get Bridge stpr$i status:stp_designated_root; done | sort -u | tr '\n' ' ')"
  ovs-ofctl show stpr1 | grep -o 'STP_[A-Z]*' | sort | uniq -c | tr '\n' ' '; echo
  # Frames sent by the ring's six veth ends (/proc/net/dev of this namespace: the sandbox's /sys is the host's).
  count() { awk '/sr(12|23|31)[ab]:/ { sub(/.*:/, ""); n += $10 } END { print n }' /proc/net/dev; }
  ip netns exec stph1 ping -c 3 -W 2 10.79.0.2 > /tmp/ring-ping.txt 2>&1
  echo "RING PING $?"
  # A flood of broadcasts (every one goes round every bridge): 2,000 of them, as fast as they are answered or 1 ms.
  ip netns exec stph1 ping -b -f -c 2000 -W 1 10.79.0.255 > /tmp/ring-flood.txt 2>&1
  before=$(count)
  sleep 3
  after=$(count)
  echo "RING FRAMES AFTER FLOOD $before THEN $after (3 s later: $((after - before)) more)"
  echo "RING COVERAGE $(ovs-appctl coverage/show | grep -E 'stp-bpdu |drop-stp-not-forwarding' | tr -s ' ' | tr '\n' ' ')"
  # A link cut on the hosts' path (sr12, unless it is the one blocked: then sr23): the ring heals within the
  # protocol's bound (max-age plus twice forward-delay, 6 + 2 x 4 s; the link's loss is seen at once, so about 8 s).
  cut=sr12
  ovs-vsctl --columns=name find Port status:stp_state=blocking | grep -q 'sr12' && cut=sr23
  ip link set ${cut}a down
  start=$(date +%s%N)
  healed=no
  for _ in $(seq 60); do
    if ip netns exec stph1 ping -c 1 -W 1 10.79.0.2 > /dev/null 2>&1; then healed=yes; break; fi
  done
  echo "RING CUT $cut HEALED $healed AFTER $(( ($(date +%s%N) - start) / 1000000 )) ms"
  for i in 1 2; do ip netns del stph$i; done
  for i in 1 2 3; do ovs-vsctl del-br stpr$i; done
fi
if [ "$mode" = ovs ]; then
  ip netns add stpovs
  ip netns exec stpovs ip link set lo up
  orun=/tmp/ovs-peer
  mkdir -p $orun
  ovsdb-tool create $orun/conf.db /usr/share/openvswitch/vswitch.ovsschema
  ip netns exec stpovs env OVS_RUNDIR=$orun OVS_LOGDIR=$orun OVS_DBDIR=$orun ovsdb-server $orun/conf.db \
    --remote=punix:$orun/db.sock --pidfile=$orun/ovsdb-server.pid --log-file=$orun/ovsdb-server.log \
    --unixctl=$orun/ovsdb-server.ctl --detach --no-chdir
  ovs() { ovs-vsctl --timeout=20 --db=unix:$orun/db.sock "$@"; }
  ovs --no-wait init
  ip netns exec stpovs env OVS_RUNDIR=$orun OVS_LOGDIR=$orun OVS_DBDIR=$orun ovs-vswitchd unix:$orun/db.sock \
    --pidfile=$orun/ovs-vswitchd.pid --log-file=$orun/ovs-vswitchd.log --unixctl=$orun/ovs-vswitchd.ctl --detach --no-chdir
  for i in 1 2; do
    ovs-vsctl add-br stpr$i -- set-fail-mode stpr$i standalone -- set bridge stpr$i stp_enable=true \
      other_config:stp-forward-delay=4 other_config:stp-max-age=6 other_config:stp-hello-time=1000
  done
  # Priorities: Open vSwitch's bridge 4096 (the root), stpr1 16384 (designated between the two softswitch bridges).
  ovs-vsctl set bridge stpr1 other_config:stp-priority=16384
  ovs add-br stpo -- set bridge stpo datapath_type=netdev fail_mode=standalone stp_enable=true other_config:stp-priority=4096 \
    other_config:stp-forward-delay=4 other_config:stp-max-age=6 other_config:stp-hello-time=1000
  ip link add sr12a type veth peer name sr12b
  ip link set sr12a up
  ip link set sr12b up
  ovs-vsctl add-port stpr1 sr12a -- add-port stpr2 sr12b
  for i in 1 2; do
    ip link add so${i}a type veth peer name so${i}b netns stpovs
    ip link set so${i}a up
    ip -n stpovs link set so${i}b up
    ovs-vsctl add-port stpr$i so${i}a
    ovs add-port stpo so${i}b
  done
  converge() {
    for _ in $(seq 60); do
      states="$(ovs-vsctl --columns=status list Port) $(ovs --columns=status list Port)"
      if ! echo "$states" | grep -q 'listening\|learning' && echo "$states" | grep -q forwarding; then break; fi
      sleep 0.5
    done
    sleep 2
  }
  report() {
    echo "OVS $1 ROOTS softswitch: $(for i in 1 2; do ovs-vsctl get Bridge stpr$i status:stp_designated_root; done | tr '\n' ' ')ovs: $(ovs get Bridge stpo status:stp_designated_root)"
    echo "OVS $1 IDS softswitch: $(for i in 1 2; do ovs-vsctl get Bridge stpr$i status:stp_bridge_id; done | tr '\n' ' ')ovs: $(ovs get Bridge stpo status:stp_bridge_id)"
    echo "OVS $1 BLOCKED softswitch: $(ovs-vsctl --columns=name find Port status:stp_state=blocking | awk '{print $3}' | tr '\n' ' ')ovs: $(ovs --columns=name find Port status:stp_state=blocking | awk '{print $3}' | tr '\n' ' ')"
    for i in 1 2; do ovs-appctl stp/show stpr$i; done
    ovs-appctl -t $orun/ovs-vswitchd.ctl stp/show stpo
  }
  converge
  report OVSROOT
  # A softswitch bridge takes the root.
  ovs-vsctl set bridge stpr2 other_config:stp-priority=0
  sleep 1
  converge
  report SSWROOT
  ovs-appctl -t $orun/ovs-vswitchd.ctl exit
  ovs-appctl -t $orun/ovsdb-server.ctl exit
  ip netns del stpovs
  for i in 1 2; do ovs-vsctl del-br stpr$i; done
fi
if [ "$mode" = rstp ]; then
  ip netns add stpovs
  ip netns exec stpovs ip link set lo up
  orun=/tmp/ovs-peer
  mkdir -p $orun
  ovsdb-tool create $orun/conf.db /usr/share/openvswitch/vswitch.ovsschema
  ip netns exec stpovs env OVS_RUNDIR=$orun OVS_LOGDIR=$orun OVS_DBDIR=$orun ovsdb-server $orun/conf.db \
    --remote=punix:$orun/db.sock --pidfile=$orun/ovsdb-server.pid --log-file=$orun/ovsdb-server.log \
    --unixctl=$orun/ovsdb-server.ctl --detach --no-chdir
  ovs() { ovs-vsctl --timeout=20 --db=unix:$orun/db.sock "$@"; }
  ovs --no-wait init
  ip netns exec stpovs env OVS_RUNDIR=$orun OVS_LOGDIR=$orun OVS_DBDIR=$orun ovs-vswitchd unix:$orun/db.sock \
    --pidfile=$orun/ovs-vswitchd.pid --log-file=$orun/ovs-vswitchd.log --unixctl=$orun/ovs-vswitchd.ctl --detach --no-chdir
  # Three bridges in a ring, each with its own fixed address and priority: stpo 4096 (the root), stpr1 16384
  # (designated between the other two), stpr2 32768. Links sr12 (stpr1-stpr2), so1 (stpr1-stpo), so2 (stpr2-stpo), the
  # "a" end on the first bridge named. $ovs_at is the bridge Open vSwitch runs (its ports in its namespace); softswitch
  # runs the other two.
  ovs_at=stpo
  bridges="stpr1 stpr2 stpo"
  vs() { b=$1; shift; if [ "$b" = "$ovs_at" ]; then ovs "$@"; else ovs-vsctl "$@"; fi; }
  prio() { case $1 in stpr1) echo 16384 ;; stpr2) echo 32768 ;; stpo) echo 4096 ;; esac; }
  mac() { case $1 in stpr1) echo 02:57:00:00:00:01 ;; stpr2) echo 02:57:00:00:00:02 ;; stpo) echo 02:57:00:00:00:03 ;; esac; }
  end() {
    if [ "$2" = "$ovs_at" ]; then
      ip link set "$1" netns stpovs
      ip -n stpovs link set "$1" up
    else
      ip link set "$1" up
    fi
    vs "$2" add-port "$2" "$1"
  }
  link() { ip link add "$1"a type veth peer name "$1"b; end "$1"a "$2"; end "$1"b "$3"; }
  ring() {
    for b in $bridges; do
      dp=""
      [ "$b" = "$ovs_at" ] && dp="datapath_type=netdev"
      vs $b add-br $b -- set bridge $b $dp fail_mode=standalone rstp_enable=true \
        other_config:rstp-priority="$(prio $b)" other_config:hwaddr="$(mac $b)"
    done
    link sr12 stpr1 stpr2
    link so1 stpr1 stpo
    link so2 stpr2 stpo
  }
  unring() {
    for b in $bridges; do vs $b del-br $b; done
    for l in sr12a so1a so2a; do ip link del $l 2>/dev/null || ip -n stpovs link del $l; done
  }
  roots() { echo "$(for b in $bridges; do vs $b get Bridge $b rstp_status:rstp_root_id; done | tr '\n' ' ')"; }
  # The alternate ports by name (whichever daemon runs them), then by daemon.
  alternates() {
    { ovs-vsctl --columns=name find Port rstp_status:rstp_port_role=Alternate; ovs --columns=name find Port rstp_status:rstp_port_role=Alternate; } \
      | awk '{print $3}' | sort | tr '\n' ' '
  }
  alternates_by() { echo "softswitch: $(ovs-vsctl --columns=name find Port rstp_status:rstp_port_role=Alternate | awk '{print $3}' | tr '\n' ' ')ovs: $(ovs --columns=name find Port rstp_status:rstp_port_role=Alternate | awk '{print $3}' | tr '\n' ' ')"; }
  # Converged: one root named by all, one alternate, nothing learning (RSTP: well within a second or two).
  converge() {
    start=$(date +%s%N)
    for _ in $(seq 150); do
      r=$(roots)
      if [ "$(echo "$r" | tr ' ' '\n' | grep -c .)" = 3 ] && [ "$(echo "$r" | tr ' ' '\n' | grep . | sort -u | wc -l)" = 1 ] \
        && [ "$(alternates | wc -w)" = 1 ] \
        && ! { ovs-vsctl --columns=rstp_status list Port; ovs --columns=rstp_status list Port; } | grep -q 'Learning'; then break; fi
      sleep 0.2
    done
    echo "RSTP ovs=$ovs_at $1 CONVERGED AFTER $(( ($(date +%s%N) - start) / 1000000 )) ms"
  }
  report() {
    echo "RSTP ovs=$ovs_at $1 ROOTS $(roots)"
    echo "RSTP ovs=$ovs_at $1 ALTERNATE $(alternates)"
    echo "RSTP ovs=$ovs_at $1 ALTERNATE BY $(alternates_by)"
    for b in $bridges; do
      if [ "$b" = "$ovs_at" ]; then ovs-appctl -t $orun/ovs-vswitchd.ctl rstp/show $b; else ovs-appctl rstp/show $b; fi
    done
  }
  # Open vSwitch runs stpo; a host on each softswitch bridge.
  ring
  for i in 1 2; do
    ip netns add stph$i
    ip link add sh$i type veth peer name eth0 netns stph$i
    ip link set sh$i up
    ip -n stph$i addr add 10.79.0.$i/24 dev eth0
    ip -n stph$i link set eth0 up
    # A host's port is an edge port (it forwards at once, not after auto-edge's 3 s without a BPDU).
    ovs-vsctl add-port stpr$i sh$i -- set port sh$i other_config:rstp-port-admin-edge=true
  done
  converge root=stpo
  report root=stpo
  # stpr2's root port so2a, its alternate sr12b: the hosts ping, then so2a is cut.
  ip netns exec stph1 ping -c 3 -i 0.2 -W 2 10.79.0.2 > /dev/null 2>&1
  echo "RSTP PING $?"
  ip link set so2a down
  start=$(date +%s%N)
  healed=no
  for _ in $(seq 40); do
    if ip netns exec stph1 ping -c 1 -W 1 10.79.0.2 > /dev/null 2>&1; then healed=yes; break; fi
  done
  echo "RSTP CUT so2a HEALED $healed AFTER $(( ($(date +%s%N) - start) / 1000000 )) ms"
  ovs-appctl rstp/show stpr2
  ip link set so2a up
  # A softswitch bridge takes the root.
  vs stpr2 set bridge stpr2 other_config:rstp-priority=0
  converge root=stpr2
  report root=stpr2
  for i in 1 2; do ip netns del stph$i; done
  unring
  # The same ring, the same priorities and addresses, Open vSwitch running stpr2 and softswitch stpo.
  ovs_at=stpr2
  ring
  converge root=stpo
  report root=stpo
  vs stpr2 set bridge stpr2 other_config:rstp-priority=0
  converge root=stpr2
  report root=stpr2
  unring
  ovs-appctl -t $orun/ovs-vswitchd.ctl exit
  ovs-appctl -t $orun/ovsdb-server.ctl exit
  ip netns del stpovs
fi
ovs-appctl exit
echo "RESULT done"
