#!/bin/sh
# bond_test.sh: inside sandbox.sh, the Open vSwitch database on its default socket and `softswitch vswitchd` (in
# $SOFTSWITCH) in place of ovs-vswitchd, with a bond: softswitch bridge bdr1's bond bd0 (balance-tcp, lacp=active,
# lacp-time=fast) over two veths whose other ends are an Open vSwitch user-space bond (ovsdb-server and ovs-vswitchd,
# datapath_type=netdev, in namespace bdovs, the same settings), a host on each bridge (10.81.0.1 and .2).
#  1. Both sides negotiate LACP and name each other partner: "BOND LACP ..." lines (lacp/show of each side).
#  2. The hosts ping across: "BOND PING rc".
#  3. 64 TCP flows (200 kB each, from fixed source ports) leave softswitch's bond by both members: "BOND SPREAD tx1 tx2" (bytes sent by
#     each member during the run).
#  4. A ping every 10 ms runs while the member carrying it is set down: "BOND FAILOVER member lost N of M".
# Then "RESULT done". Every name is prefixed bd (interfaces, namespaces) and the peer's files are in /tmp/bd-ovs.
set -e
. "$(dirname "$0")/vswitchd_up.sh"
set +e
ip netns add bdovs
ip netns add bdh2
ip netns exec bdovs ip link set lo up
orun=/tmp/bd-ovs
mkdir -p $orun
ovsdb-tool create $orun/conf.db /usr/share/openvswitch/vswitch.ovsschema
ip netns exec bdovs env OVS_RUNDIR=$orun OVS_LOGDIR=$orun OVS_DBDIR=$orun ovsdb-server $orun/conf.db \
  --remote=punix:$orun/db.sock --pidfile=$orun/ovsdb-server.pid --log-file=$orun/ovsdb-server.log \
  --unixctl=$orun/ovsdb-server.ctl --detach --no-chdir
ovs() { ovs-vsctl --timeout=20 --db=unix:$orun/db.sock "$@"; }
ovs --no-wait init
ip netns exec bdovs env OVS_RUNDIR=$orun OVS_LOGDIR=$orun OVS_DBDIR=$orun ovs-vswitchd unix:$orun/db.sock \
  --pidfile=$orun/ovs-vswitchd.pid --log-file=$orun/ovs-vswitchd.log --unixctl=$orun/ovs-vswitchd.ctl --detach --no-chdir
oapp() { ovs-appctl -t $orun/ovs-vswitchd.ctl "$@"; }

# The two links of the bond: bda1/bda2 here, bdb1/bdb2 in the peer's namespace.
for i in 1 2; do
  ip link add bda$i type veth peer name bdb$i netns bdovs
  ip link set bda$i up
  ip -n bdovs link set bdb$i up
done
# Hosts: bdh1 in a namespace on softswitch's bridge, bdh2 on Open vSwitch's.
ip netns add bdh1
ip link add bdh1a type veth peer name eth0 netns bdh1
ip link set bdh1a up
ip -n bdovs link add bdh2a type veth peer name eth0 netns bdh2
ip -n bdovs link set bdh2a up
for i in 1 2; do
  # Open vSwitch's user-space datapath passes a frame's partial checksum on as it is: the hosts complete their own.
  ip netns exec bdh$i ethtool -K eth0 tx off > /dev/null
  ip -n bdh$i addr add 10.81.0.$i/24 dev eth0
  ip -n bdh$i link set eth0 up
  ip -n bdh$i link set lo up
done

settings="bond_mode=balance-tcp lacp=active other_config:lacp-time=fast"
ovs-vsctl add-br bdr1 -- set-fail-mode bdr1 standalone -- add-port bdr1 bdh1a -- add-bond bdr1 bd0 bda1 bda2 $settings
ovs add-br bdo -- set bridge bdo datapath_type=netdev fail_mode=standalone -- add-port bdo bdh2a \
  -- add-bond bdo bd0 bdb1 bdb2 $settings

negotiated() {
  [ "$(ovs-appctl lacp/show bd0 | grep -c 'current attached')" = 2 ] && [ "$(oapp lacp/show bd0 | grep -c 'current attached')" = 2 ] \
    && ovs-appctl lacp/show bd0 | grep -q 'status: active negotiated' && oapp lacp/show bd0 | grep -q 'status: active negotiated' \
    && [ "$(ovs-appctl bond/show bd0 | grep -c ': enabled')" = 2 ] && [ "$(oapp bond/show bd0 | grep -c ': enabled')" = 2 ]
}
start=$(date +%s%N)
for _ in $(seq 100); do negotiated && break; sleep 0.2; done
took=$(( ($(date +%s%N) - start) / 1000000 ))
# Settled: still so two fast LACP intervals later.
sleep 2
echo "BOND LACP NEGOTIATED $(negotiated && echo yes || echo no) AFTER $took ms"
echo "BOND LACP SOFTSWITCH SYS $(ovs-appctl lacp/show bd0 | awk '/^  sys_id:/ {print $2}') PARTNERS $(ovs-appctl lacp/show bd0 | awk '/partner sys_id/ {print $3}' | sort -u | tr '\n' ' ')"
echo "BOND LACP OVS SYS $(oapp lacp/show bd0 | awk '/^  sys_id:/ {print $2}') PARTNERS $(oapp lacp/show bd0 | awk '/partner sys_id/ {print $3}' | sort -u | tr '\n' ' ')"
ovs-appctl lacp/show bd0
ovs-appctl bond/show bd0
oapp lacp/show bd0
oapp bond/show bd0
# The status is written within a second or so of a change.
for _ in $(seq 20); do [ "$(ovs-vsctl get Port bd0 bond_active_slave)" != '"00:00:00:00:00:00"' ] && break; sleep 0.2; done
echo "BOND STATUS $(ovs-vsctl get Port bd0 bond_active_slave) $(ovs-vsctl get Interface bda1 lacp_current) $(ovs-vsctl get Interface bda2 lacp_current)"

ip netns exec bdh1 ping -c 3 -i 0.2 -W 2 10.81.0.2 > /tmp/bd-ping.txt 2>&1
echo "BOND PING $?"

# Bytes each member sent (/proc/net/dev of this namespace: field 10 is transmitted bytes).
txb() { awk -v n="bda$1:" '$1 == n { print $10 }' /proc/net/dev; }
# From fixed source ports (41001-41064), so which member each flow hashes to is the same in every run: with ephemeral
# ports each flow's member is a coin toss, and 64 tosses leave 35-65% one time in sixty.
ip netns exec bdh2 socat TCP-LISTEN:5281,fork,reuseaddr OPEN:/dev/null > /dev/null 2>&1 &
sink=$!
sleep 0.5
a1=$(txb 1); a2=$(txb 2)
ok=$(ip netns exec bdh1 python3 -c '
import socket
ok = 0
for port in range(41001, 41065):
    try:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("10.81.0.1", port))
        s.settimeout(10)
        s.connect(("10.81.0.2", 5281))
        s.sendall(bytes(200000))
        s.close()
        ok += 1
    except OSError:
        pass
print(ok)')
kill $sink 2>/dev/null; wait $sink 2>/dev/null
echo "BOND FLOWS ${ok:-0} of 64 sent"
echo "BOND SPREAD $(( $(txb 1) - a1 )) $(( $(txb 2) - a2 ))"

# Which member carries the hosts' ping (the one whose tx grows), then that one goes down mid-ping.
a1=$(txb 1); a2=$(txb 2)
ip netns exec bdh1 ping -c 20 -i 0.01 -W 1 10.81.0.2 > /dev/null 2>&1
d1=$(( $(txb 1) - a1 )); d2=$(( $(txb 2) - a2 ))
carrier=bda1; peer=bdb1
[ "$d2" -gt "$d1" ] && carrier=bda2 && peer=bdb2
ip netns exec bdh1 ping -c 300 -i 0.01 -W 1 10.81.0.2 > /tmp/bd-failover.txt 2>&1 &
ping_pid=$!
sleep 1
ip link set $carrier down
wait $ping_pid
received=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' /tmp/bd-failover.txt)
echo "BOND FAILOVER $carrier lost $((300 - ${received:-0})) of 300"
ovs-appctl bond/show bd0
oapp bond/show bd0
echo "BOND COVERAGE $(ovs-appctl coverage/show | grep -E 'lacp-pdu |drop-bond' | tr -s ' ' | tr '\n' ' ')"

oapp exit
ovs-appctl -t $orun/ovsdb-server.ctl exit
ovs-vsctl del-br bdr1
for n in bdovs bdh1 bdh2; do ip netns del $n; done
ovs-appctl exit
echo "RESULT done"
