#!/usr/bin/env bash
# vswitchd-bridges.sh: what a bridge costs `softswitch vswitchd`, without Mininet. Over a private Open vSwitch database
# in its own network, mount and PID namespaces: the daemon's VmRSS, RssAnon and threads 15 s after its start; NB
# bridges of 2 veth ports each added in one ovs-vsctl transaction (timed); the same 15 s after; the NB bridges deleted
# in one transaction (timed); the peak thread count throughout (sampled every 0.1 s); the load average.
#   sudo bash bench/netns/vswitchd-bridges.sh        (NB=100; SSW=PATH runs that binary instead of building this tree's)
# Needs root, ovsdb-server and ovs-vsctl. Every interface it makes is in the run's own network namespace.
set -uo pipefail
cd "$(dirname "$0")/../.."
NB=${NB:-100}
if [ "${1:-}" != --inner ]; then
  for t in ovsdb-server ovsdb-tool ovs-vsctl unshare bc; do command -v $t >/dev/null || { echo "needs $t"; exit 2; }; done
  [ -n "${SSW:-}" ] || dotnet build src/Softswitch -c Release -nologo -v q -clp:ErrorsOnly >/dev/null || exit 2
  SSW=${SSW:-$(pwd)/src/Softswitch/bin/Release/net10.0/softswitch}
  exec unshare --net --mount --pid --fork --kill-child --mount-proc --propagation private \
    env SSW="$SSW" NB="$NB" bash "$(pwd)/bench/netns/vswitchd-bridges.sh" --inner
fi
mount -t tmpfs vb-tmp /tmp
mount -t tmpfs -o mode=0755 vb-run /run
ip link set lo up
export OVS_RUNDIR=/run/openvswitch OVS_LOGDIR=/tmp OVS_DBDIR=/tmp
mkdir -p /run/openvswitch
ovsdb-tool create /tmp/conf.db /usr/share/openvswitch/vswitch.ovsschema
ovsdb-server /tmp/conf.db --remote=punix:/run/openvswitch/db.sock --pidfile=/run/openvswitch/ovsdb-server.pid \
  --detach --no-chdir --log-file=/tmp/ovsdb-server.log
ovs-vsctl --no-wait init
"$SSW" vswitchd --pidfile --detach --log-file=/tmp/vswitchd.log >/dev/null
pid=$(cat /run/openvswitch/ovs-vswitchd.pid)
field() { awk -v f="^$1:" '$0 ~ f {print $2}' /proc/"$pid"/status; }
( peak=0
  while [ -e /proc/"$pid"/status ] && [ ! -e /tmp/vb-stop ]; do
    t=$(field Threads); [ -n "$t" ] && [ "$t" -gt "$peak" ] && peak=$t; echo "$peak" > /tmp/vb-peak; sleep 0.1
  done ) &
sampler=$!
sleep 15
r0=$(field VmRSS) a0=$(field RssAnon) t0=$(field Threads)
add=() del=()
for i in $(seq "$NB"); do
  ip link add vb${i}a type veth peer name vb${i}A; ip link add vb${i}b type veth peer name vb${i}B
  for x in vb${i}a vb${i}A vb${i}b vb${i}B; do ip link set "$x" up; done
  add+=(-- add-br vbbr$i -- set bridge vbbr$i fail_mode=standalone -- add-port vbbr$i vb${i}a -- add-port vbbr$i vb${i}b)
  del+=(-- del-br vbbr$i)
done
s0=$(date +%s.%N); ovs-vsctl "${add[@]}"; s1=$(date +%s.%N)
sleep 15
r1=$(field VmRSS) a1=$(field RssAnon) t1=$(field Threads)
s2=$(date +%s.%N); ovs-vsctl "${del[@]}"; s3=$(date +%s.%N)
sleep 0.5
touch /tmp/vb-stop; wait "$sampler"
mb() { echo "$1 / 1024" | bc -l; }
printf 'start: VmRSS %.1f MB, RssAnon %.1f MB, %s threads\n' "$(mb "$r0")" "$(mb "$a0")" "$t0"
printf '%d bridges of 2 veth ports: made in %.2f s; VmRSS %.1f MB, RssAnon %.1f MB, %s threads; per bridge %.2f MB (%.2f MB anonymous)\n' \
  "$NB" "$(echo "$s1 - $s0" | bc -l)" "$(mb "$r1")" "$(mb "$a1")" "$t1" "$(echo "($r1 - $r0) / 1024 / $NB" | bc -l)" "$(echo "($a1 - $a0) / 1024 / $NB" | bc -l)"
printf 'deleted in %.2f s; peak threads %s; load %s\n' "$(echo "$s3 - $s2" | bc -l)" "$(cat /tmp/vb-peak)" "$(cut -d' ' -f1-3 /proc/loadavg)"
ovs-appctl exit >/dev/null 2>&1 || kill "$pid"
