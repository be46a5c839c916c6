#!/bin/sh
# stock_ovs_test.sh: inside sandbox.sh, the Open vSwitch database on its default socket and `softswitch vswitchd`
# (in $SOFTSWITCH) in place of ovs-vswitchd; then Mininet's stock switch (OVSSwitch) runs unchanged: a tree with
# Mininet's controller, OpenFlow 1.3 with ovs-testcontroller -O OpenFlow13, datapath=user, standalone with no
# controller, and an iperf3 run (stock_ovs_iperf.py). Prints "MN EXIT N" after each mn run, "IPERF ..." and
# "LEFT ..." for anything mn's teardown left behind.
# `stock_ovs_test.sh osken APP` runs instead one mn run: three switches with protocols=OpenFlow13 under the os-ken
# OpenFlow 1.3 application APP (osken-manager), then prints what the application logged after "OSKEN LOG".
set -e
mode=${1:-all}
. "$(dirname "$0")/vswitchd_up.sh"
left() {
  bridges=$(ovs-vsctl --timeout=10 list-br)
  [ -n "$bridges" ] && echo "LEFT bridges: $bridges"
  links=$(ip -br link | awk '{print $1}' | grep -v '^lo$')
  [ -n "$links" ] && echo "LEFT links: $links"
  mgmt=$(ls /run/openvswitch/*.mgmt 2>/dev/null)
  [ -n "$mgmt" ] && echo "LEFT sockets: $mgmt"
}
if [ "$mode" = osken ]; then
  SSW_OSKEN_LOG=/tmp/osken-app.log /usr/bin/python3 /usr/bin/osken-manager --ofp-listen-host 127.0.0.1 \
    --ofp-tcp-listen-port 16654 "$2" > /tmp/osken-manager.log 2>&1 &
  osken=$!
  # os-ken listens after a few seconds.
  for _ in $(seq 300); do ss -ltn | grep -q '127.0.0.1:16654 ' && break; sleep 0.1; done
  set +e
  timeout 120 mn --topo linear,3 --switch ovs,protocols=OpenFlow13 --controller remote,ip=127.0.0.1,port=16654 --test pingall 2>&1
  echo "MN EXIT $?"
  left
  kill "$osken"
  echo "OSKEN LOG"
  cat /tmp/osken-app.log
  ovs-appctl exit
  echo "RESULT done"
  exit 0
fi
# Beside the port Mininet's own controller takes (6653) in the sandbox's network namespace.
ovs-testcontroller -O OpenFlow13 ptcp:16653:127.0.0.1 --detach --no-chdir --pidfile=/tmp/tc13.pid --log-file=/tmp/tc13.log
set +e
for args in "--topo tree,depth=2 --switch ovs --test pingall" \
            "--switch ovs,protocols=OpenFlow13 --controller remote,ip=127.0.0.1,port=16653 --test pingall" \
            "--switch ovs,datapath=user --test pingall" \
            "--switch ovs,failMode=standalone --controller none --test pingall"; do
  echo "MN RUN $args"
  # shellcheck disable=SC2086
  timeout 120 mn $args 2>&1
  echo "MN EXIT $?"
  left
done
timeout 120 /usr/bin/python3 "$(dirname "$0")/stock_ovs_iperf.py" 2>&1
kill "$(cat /tmp/tc13.pid)"
ovs-appctl exit
echo "RESULT done"
