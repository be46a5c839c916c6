#!/bin/sh
# stp-forward.sh: how soon a spanning-tree port is reported forwarding. For each daemon (softswitch vswitchd, then
# ovs-vswitchd in user space), each over a private database in its own namespaces (tests/E2E.Tests/Mininet/sandbox.sh):
# one bridge with STP (stp-forward-delay=4, which max-age 20 raises to 11 s in both) and two veth ports, polled with
# `ovs-ofctl show` every 50 ms from `add-br`. Prints when add-br returned, when the ports first showed, when each
# OFPPS_STP_* state first showed, and how long one `ovs-ofctl show` takes.
#   sh bench/netns/stp-forward.sh            (SSW=PATH: the softswitch binary; default this tree's Release build)
set -e
cd "$(dirname "$0")/../.."
if [ "${1:-}" = --inner ]; then
  kind=$2
  export OVS_RUNDIR=/run/openvswitch OVS_LOGDIR=/tmp OVS_DBDIR=/tmp
  mkdir -p /run/openvswitch
  ovsdb-tool create /tmp/conf.db /usr/share/openvswitch/vswitch.ovsschema
  ovsdb-server /tmp/conf.db --remote=punix:/run/openvswitch/db.sock --pidfile=/run/openvswitch/ovsdb-server.pid \
    --log-file=/tmp/ovsdb-server.log --detach --no-chdir
  ovs-vsctl --no-wait init
  if [ "$kind" = ovs ]; then ovs-vswitchd --pidfile --detach --no-chdir --log-file=/tmp/vswitchd.log
  else "$SSW" vswitchd --pidfile --detach --log-file=/tmp/vswitchd.log; fi
  ip link add sfp1a type veth peer name sfp1b
  ip link add sfp2a type veth peer name sfp2b
  for i in sfp1a sfp1b sfp2a sfp2b; do ip link set $i up; done
  sleep 1
  start=$(date +%s%N)
  ms() { echo $(( ($(date +%s%N) - start) / 1000000 )); }
  ovs-vsctl add-br sfb -- set bridge sfb datapath_type=netdev fail_mode=standalone stp_enable=true \
    other_config:stp-forward-delay=4 -- add-port sfb sfp1a -- add-port sfb sfp2a
  echo "$kind add-br returned after $(ms) ms"
  seen=""
  while :; do
    out=$(ovs-ofctl show sfb 2>/dev/null || true)
    st=$(echo "$out" | grep -o 'STP_[A-Z]*\|sfp[12]a' | sort -u | tr '\n' ' ')
    if [ "$st" != "$seen" ]; then echo "$kind $(ms) ms: $st"; seen=$st; fi
    if echo "$out" | grep -q STP_FORWARD && ! echo "$out" | grep -q 'STP_LEARN\|STP_LISTEN'; then break; fi
    [ "$(ms)" -gt 60000 ] && { echo "$kind no STP_FORWARD after 60 s"; break; }
    sleep 0.05
  done
  s=$(date +%s%N)
  for _ in 1 2 3 4 5 6 7 8 9 10; do ovs-ofctl show sfb > /dev/null; done
  echo "$kind ovs-ofctl show: $(( ($(date +%s%N) - s) / 10000000 )) ms each"
  ovs-appctl stp/show sfb | grep 'stp-fwd-delay' | head -1
  ovs-appctl exit
  exit 0
fi
[ -n "${SSW:-}" ] || dotnet build src/Softswitch -c Release -nologo -v q -clp:ErrorsOnly >/dev/null
SSW=${SSW:-$(pwd)/src/Softswitch/bin/Release/net10.0/softswitch}
export SSW
for kind in softswitch ovs; do
  dir=$(mktemp -d /tmp/stp-forward-XXXXXX)
  mkdir -p "$dir/tmp"
  unshare --net --mount --pid --fork --mount-proc --propagation private \
    sh tests/E2E.Tests/Mininet/sandbox.sh "$dir" sh "$(pwd)/bench/netns/stp-forward.sh" --inner "$kind" 2>&1 | grep -v '^20..-..-..T'
  rm -rf "$dir"
done
