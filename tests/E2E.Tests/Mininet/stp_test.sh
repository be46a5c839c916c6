#!/bin/sh
# stp_test.sh: inside sandbox.sh, the Open vSwitch database on its default socket and `softswitch vswitchd` (in
# $SOFTSWITCH) in place of ovs-vswitchd, with spanning tree:
#  1. `mn --switch ovsbr,stp=1 --topo torus,3,3 --wait --test pingall`: Mininet's OVSBridge sets stp_enable=true and
#     waits until `ovs-ofctl show` of each switch has STP_FORWARD and no STP_LEARN; prints "MN EXIT N" and how long.
#  2. A ring of three bridges joined by veths, STP on, a host on two of them: after convergence the ring has one
#     blocked port, a broadcast flood ping crosses it, and once the flood stops the ring's frame counts stop growing
#     (a loop would carry the broadcasts round for ever). Prints "RING ..." lines and "RESULT done".
set -e
export OVS_RUNDIR=/run/openvswitch OVS_LOGDIR=/tmp OVS_DBDIR=/tmp
mkdir -p /run/openvswitch
ovsdb-tool create /tmp/conf.db /usr/share/openvswitch/vswitch.ovsschema
ovsdb-server /tmp/conf.db --remote=punix:/run/openvswitch/db.sock --pidfile=/run/openvswitch/ovsdb-server.pid \
  --log-file=/tmp/ovsdb-server.log --detach --no-chdir
ovs-vsctl --no-wait init
"$SOFTSWITCH" vswitchd --pidfile --detach --log-file=/tmp/vswitchd.log
[ -n "$STP_DEBUG" ] && ovs-appctl vlog/set stp:dbg
set +e
mode=${1:-all}
if [ "$mode" = all ] || [ "$mode" = torus ]; then
  start=$(date +%s)
  timeout 300 mn --switch ovsbr,stp=1 --topo torus,3,3 --wait --test pingall 2>&1
  echo "MN EXIT $? after $(( $(date +%s) - start )) s"
fi
if [ "$mode" = all ] || [ "$mode" = ring ]; then
  # Three bridges in a ring (r1-r2, r2-r3, r3-r1), a host in a namespace on r1 and on r2.
  for i in 1 2 3; do
    ovs-vsctl add-br stpr$i -- set-fail-mode stpr$i standalone -- set bridge stpr$i stp_enable=true \
      other_config:stp-forward-delay=4 other_config:stp-max-age=6 other_config:stp-hello-time=1
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
  for i in 1 2; do ip netns del stph$i; done
  for i in 1 2 3; do ovs-vsctl del-br stpr$i; done
fi
ovs-appctl exit
echo "RESULT done"
