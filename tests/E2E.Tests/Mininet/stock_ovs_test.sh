#!/bin/sh
# stock_ovs_test.sh: inside sandbox.sh, the Open vSwitch database on its default socket and `softswitch vswitchd`
# (in $SOFTSWITCH) in place of ovs-vswitchd; then Mininet's stock switch (OVSSwitch) runs unchanged. Prints
# "MN EXIT N" after each mn run and "LEFT ..." for anything mn's teardown left behind.
set -e
export OVS_RUNDIR=/run/openvswitch OVS_LOGDIR=/tmp OVS_DBDIR=/tmp
mkdir -p /run/openvswitch
ovsdb-tool create /tmp/conf.db /usr/share/openvswitch/vswitch.ovsschema
ovsdb-server /tmp/conf.db --remote=punix:/run/openvswitch/db.sock --pidfile=/run/openvswitch/ovsdb-server.pid \
  --log-file=/tmp/ovsdb-server.log --detach --no-chdir
ovs-vsctl --no-wait init
"$SOFTSWITCH" vswitchd --pidfile --detach --log-file=/tmp/vswitchd.log
set +e
for args in "--topo tree,depth=2 --switch ovs --test pingall" \
            "--switch ovs,failMode=standalone --controller none --test pingall"; do
  echo "MN RUN $args"
  # shellcheck disable=SC2086
  timeout 120 mn $args 2>&1
  echo "MN EXIT $?"
  bridges=$(ovs-vsctl --timeout=10 list-br)
  [ -n "$bridges" ] && echo "LEFT bridges: $bridges"
  links=$(ip -br link | awk '{print $1}' | grep -v '^lo$')
  [ -n "$links" ] && echo "LEFT links: $links"
  mgmt=$(ls /run/openvswitch/*.mgmt 2>/dev/null)
  [ -n "$mgmt" ] && echo "LEFT sockets: $mgmt"
done
ovs-appctl exit
echo "RESULT done"
