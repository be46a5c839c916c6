#!/usr/bin/env bash
# mn-footprint.sh: the footprint of a hundred switches. Mininet's stock switch (OVSSwitch), standalone with no
# controller, `mn --topo linear,N --switch ovs,failMode=standalone,datapath=user --controller none --test pingpair`,
# served once by `softswitch vswitchd` and once by ovs-vswitchd in user space (datapath_type netdev), each over a
# private Open vSwitch database. Prints, per daemon: its peak RSS (VmRSS sampled every 0.5 s, and the kernel's
# VmHWM), its peak thread count (sampled likewise), mn's wall time and its pingpair result.
#   bash bench/netns/mn-footprint.sh            (N=100; SWITCHES="softswitch ovs" picks the daemons; ROUNDS=1;
#                                                TIMELINE=1 prints mn's phases, seconds from its start)
# Each run is sealed as the end-to-end tests seal Mininet (tests/E2E.Tests/Mininet/sandbox.sh): unshare gives it its
# own network, mount and PID namespaces, a private /tmp and /run (so OVS_RUNDIR=/run/openvswitch is this run's and
# Mininet's cleanup can reach nothing else); every process it starts ends with it. Needs root, mininet,
# openvswitch-switch and a Release build (built here). Never runs `mn -c`.
set -uo pipefail
cd "$(dirname "$0")/../.."
N=${N:-100}
SWITCHES=${SWITCHES:-"softswitch ovs"}
ROUNDS=${ROUNDS:-1}
for t in mn ovsdb-server ovs-vswitchd ovs-vsctl unshare; do command -v $t >/dev/null || { echo "needs $t (bash scripts/install-deps.sh)"; exit 2; }; done
dotnet build src/Softswitch -c Release -nologo -v q -clp:ErrorsOnly >/dev/null || exit 2
SSW=$(pwd)/src/Softswitch/bin/Release/net10.0/softswitch

# The run inside the namespaces: $1 the daemon (softswitch or ovs), $2 the private directory.
inner() {
  local kind=$1 dir=$2
  mount --rbind "$dir/tmp" /tmp
  mount -t tmpfs -o mode=0755 fp-run /run
  ip link set lo up
  export OVS_RUNDIR=/run/openvswitch OVS_LOGDIR=/tmp OVS_DBDIR=/tmp
  mkdir -p /run/openvswitch
  ovsdb-tool create /tmp/conf.db /usr/share/openvswitch/vswitch.ovsschema
  ovsdb-server /tmp/conf.db --remote=punix:/run/openvswitch/db.sock --pidfile=/run/openvswitch/ovsdb-server.pid \
    --log-file=/tmp/ovsdb-server.log --detach --no-chdir
  ovs-vsctl --no-wait init
  if [ "$kind" = softswitch ]; then
    "$SSW" vswitchd --pidfile --detach --log-file=/tmp/vswitchd.log
  else
    ovs-vswitchd --pidfile --detach --no-chdir --log-file=/tmp/vswitchd.log
  fi
  local pid
  pid=$(cat /run/openvswitch/ovs-vswitchd.pid)
  # Sampler: the peak VmRSS (kB) and thread count every 0.5 s, until the daemon is gone or told to stop.
  ( peak=0; threads=0
    while [ -e /proc/"$pid"/status ] && [ ! -e /tmp/fp-stop ]; do
      r=$(awk '/^VmRSS/ {print $2}' /proc/"$pid"/status 2>/dev/null); t=$(awk '/^Threads/ {print $2}' /proc/"$pid"/status 2>/dev/null)
      [ -n "$r" ] && [ "$r" -gt "$peak" ] && peak=$r
      [ -n "$t" ] && [ "$t" -gt "$threads" ] && threads=$t
      echo "$peak $threads" > /tmp/fp-peak
      sleep 0.5
    done ) &
  local sampler=$! start end
  sleep 1
  local idle_rss idle_threads
  idle_rss=$(awk '/^VmRSS/ {print $2}' /proc/"$pid"/status); idle_threads=$(awk '/^Threads/ {print $2}' /proc/"$pid"/status)
  start=$(date +%s.%N)
  # Each line of mn's output stamped with the seconds since the start (TIMELINE=1 prints its phases).
  timeout 600 mn --topo linear,"$N" --switch ovs,failMode=standalone,datapath=user --controller none --test pingpair 2>&1 \
    | while IFS= read -r line; do printf '%6.1f %s\n' "$(echo "$(date +%s.%N) - $start" | bc -l)" "$line"; done > /tmp/mn.out
  local rc=${PIPESTATUS[0]}
  end=$(date +%s.%N)
  local hwm
  hwm=$(awk '/^VmHWM/ {print $2}' /proc/"$pid"/status)
  touch /tmp/fp-stop
  wait "$sampler"
  read -r peak threads < /tmp/fp-peak
  local result
  result=$(grep -o 'Results: [0-9.]*% dropped[^\n]*' /tmp/mn.out | head -1)
  printf '%-11s N=%-4s peak RSS %7.1f MB (VmHWM %7.1f MB)  peak threads %3s  idle start %6.1f MB %3s threads  wall %6.1f s  mn exit %s  %s\n' \
    "$kind" "$N" "$(echo "$peak / 1024" | bc -l)" "$(echo "$hwm / 1024" | bc -l)" "$threads" \
    "$(echo "$idle_rss / 1024" | bc -l)" "$idle_threads" "$(echo "$end - $start" | bc -l)" "$rc" "${result:-no result}"
  [ "$rc" = 0 ] || tail -20 /tmp/mn.out
  [ "${TIMELINE:-0}" = 1 ] && grep -E '\*\*\*|Results' /tmp/mn.out | grep -v '^ *[0-9.]* *$' 
  ovs-appctl exit >/dev/null 2>&1 || kill "$pid"
}

if [ "${1:-}" = --inner ]; then
  shift
  SSW=$2 N=$3 inner "$1" "$4"
  exit 0
fi

for round in $(seq "$ROUNDS"); do
  for kind in $SWITCHES; do
    dir=$(mktemp -d /tmp/fp-mn-XXXXXX)
    mkdir -p "$dir/tmp"
    unshare --net --mount --pid --fork --kill-child --mount-proc --propagation private \
      bash "$(pwd)/bench/netns/mn-footprint.sh" --inner "$kind" "$SSW" "$N" "$dir"
    rm -rf "$dir"
  done
done
