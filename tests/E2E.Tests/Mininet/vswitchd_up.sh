# vswitchd_up.sh, sourced by the sandboxed Mininet scripts: a fresh Open vSwitch database on its default socket
# (ovsdb-server from /tmp/conf.db) and `softswitch vswitchd` ($SOFTSWITCH) serving it in place of ovs-vswitchd.
export OVS_RUNDIR=/run/openvswitch OVS_LOGDIR=/tmp OVS_DBDIR=/tmp
mkdir -p /run/openvswitch
ovsdb-tool create /tmp/conf.db /usr/share/openvswitch/vswitch.ovsschema
ovsdb-server /tmp/conf.db --remote=punix:/run/openvswitch/db.sock --pidfile=/run/openvswitch/ovsdb-server.pid \
  --log-file=/tmp/ovsdb-server.log --detach --no-chdir
ovs-vsctl --no-wait init
"$SOFTSWITCH" vswitchd --pidfile --detach --log-file=/tmp/vswitchd.log
