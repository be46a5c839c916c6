#!/usr/bin/env bash
# mn-footprint.sh: the footprint of a hundred switches. Mininet's stock switch (OVSSwitch) in user space,
# `mn --topo TOPO --switch ovs,failMode=standalone,datapath=user --controller none --test TEST`, served once by
# `softswitch vswitchd` and once by ovs-vswitchd in user space (datapath_type netdev), each over a private Open vSwitch
# database. Prints, per daemon: its peak RSS (VmRSS sampled every 0.5 s, and the kernel's VmHWM), its peak thread count
# (sampled likewise), mn's wall time and its test's result, and the load average before and after.
#   bash bench/netns/mn-footprint.sh            (N=100: TOPO=linear,N TEST=pingpair; TOPO=tree,depth=3,fanout=4
#                                                TEST=pingall and so on; SWITCHES="softswitch ovs" picks the daemons;
#                                                ROUNDS=1; TIMELINE=1 prints mn's phases, seconds from its start;
#                                                THREAD_NAMES=1 with CONTROLLER=1 the daemon's threads by name when the
#                                                most switches were connected; MEMORY=1 the daemon's memory/show and
#                                                memory/allocators while most switches were connected and after
#                                                the run, and its resident memory by mapping; GCDUMP=FILE a heap
#                                                report of the daemon (a JIT build, dotnet-gcdump installed) taken
#                                                after the test, before Mininet takes the topology down; DUMP=PREFIX
#                                                a heap dump at that moment and its resident pages, for
#                                                bench/netns/resident-by-type.py)
#   SWITCH_OPTS=ovsbr,stp=1,datapath=user MN_OPTS=--wait TOPO=torus,3,3 ROUNDS=2 bash bench/netns/mn-footprint.sh
#       Mininet's OVSBridge with 802.1D spanning tree instead of the stock switch (SWITCH_OPTS replaces mn's --switch
#       value; MN_OPTS adds mn arguments: --wait makes mn wait until every port reports STP_FORWARD); the daemons
#       alternate round by round
#   CONTROLLER=1 bash bench/netns/mn-footprint.sh
#       the same with one ovs-testcontroller (a learning switch on 127.0.0.1:CPORT, default 16633, inside the run's own
#       network namespace, so no other controller can be reached) as every switch's controller, failMode=secure (the
#       switches forward only what it installs). The row adds how many switches were connected to it at once (the
#       Controller rows' is_connected, sampled every 0.5 s) and the daemon's threads at that moment. ovs-testcontroller
#       serves at most 16 switches (under both daemons a linear,100 run stopped at 16 connected, and Mininet waits for
#       every switch): use it with topologies of 16 switches or fewer (tree,depth=4 has 15; single,2 has one).
set -uo pipefail
cd "$(dirname "$0")/../.."
N=${N:-100}
SWITCHES=${SWITCHES:-"softswitch ovs"}
ROUNDS=${ROUNDS:-1}
TOPO=${TOPO:-linear,$N}
case "$TOPO" in linear*) TEST=${TEST:-pingpair} ;; *) TEST=${TEST:-pingall} ;; esac
CONTROLLER=${CONTROLLER:-0}
CPORT=${CPORT:-16633}
SWITCH_OPTS=${SWITCH_OPTS:-}
MN_OPTS=${MN_OPTS:-}
for t in mn ovsdb-server ovs-vswitchd ovs-vsctl ovs-testcontroller unshare; do command -v $t >/dev/null || { echo "needs $t (bash scripts/install-deps.sh)"; exit 2; }; done
# SSW=PATH runs that softswitch binary (a copy of another build) instead of building this tree's.
[ "${1:-}" = --inner ] || [ -n "${SSW:-}" ] || dotnet build src/Softswitch -c Release -nologo -v q -clp:ErrorsOnly >/dev/null || exit 2
SSW=${SSW:-$(pwd)/src/Softswitch/bin/Release/net10.0/softswitch}

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
  local mnctl=(--controller none) fail=standalone cpid=""
  if [ "$CONTROLLER" = 1 ]; then
    ovs-testcontroller ptcp:"$CPORT":127.0.0.1 --log-file=/tmp/testcontroller.log >/dev/null 2>&1 &
    cpid=$!
    for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/"$CPORT") 2>/dev/null && break; sleep 0.1; done
    mnctl=(--controller remote,ip=127.0.0.1,port="$CPORT")
    fail=secure
    # Connected: the most Controller rows of this controller (not Mininet's ptcp listeners) with is_connected=true at
    # once, and the daemon's threads then.
    ( most=0
      while [ -e /proc/"$pid"/status ] && [ ! -e /tmp/fp-stop ]; do
        c=$(ovs-vsctl --timeout=2 --format=csv --data=bare --no-headings --columns=target,is_connected list Controller 2>/dev/null \
          | grep -c "^tcp:127.0.0.1:$CPORT,true")
        t=$(awk '/^Threads/ {print $2}' /proc/"$pid"/status 2>/dev/null)
        if [ -n "$c" ] && [ "$c" -gt 0 ] && [ "$c" -ge "$most" ]; then
          most=$c; echo "$c $t" > /tmp/fp-conn
          cat /proc/"$pid"/task/*/comm 2>/dev/null | sort | uniq -c | sort -rn | awk '{printf "%s %s, ", $2, $1}' > /tmp/fp-conn-names
        fi
        if [ "${MEMORY:-0}" = 1 ]; then
          ovs-appctl --timeout=2 memory/show > /tmp/fp-mem-live 2>&1
          ovs-appctl --timeout=2 memory/allocators > /tmp/fp-alloc-live 2>&1
          { grep -E '^(VmRSS|RssAnon|RssFile|RssShmem)' /proc/"$pid"/status
            awk '/^[0-9a-f]+-[0-9a-f]+ / { name = ($6 == "" ? "[anon]" : $6) } /^Rss:/ { rss[name] += $2; n[name]++ }
                 END { for (k in rss) print rss[k], n[k], k }' /proc/"$pid"/smaps | sort -rn | head -8; } > /tmp/fp-smaps-live 2>&1
        fi
        sleep 0.5
      done ) &
  fi
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
  local la0 la1
  la0=$(cut -d' ' -f1 /proc/loadavg)
  local post=()
  if [ -n "${DUMP:-}" ]; then
    # After the test, before Mininet takes the topology down: a heap-only dump of the daemon (a JIT build, dotnet-dump
    # installed) and, just before it (the dump's reads map the zero page in), which of its pages are resident (/proc/PID/pagemap), into DUMP.dmp/DUMP.pages.
    echo "sh python3 $(pwd)/bench/netns/resident-pages.py $pid > /tmp/fp.pages; $HOME/.dotnet/tools/dotnet-dump collect -p $pid --type Heap -o /tmp/fp.dmp >/dev/null 2>&1" > /tmp/fp-post
    post=(--post /tmp/fp-post)
  elif [ -n "${GCDUMP:-}" ]; then
    # After the test, before Mininet takes the topology down: a heap dump of the daemon (a JIT build) into GCDUMP.
    echo "sh $HOME/.dotnet/tools/dotnet-gcdump collect -p $pid -o /tmp/fp.gcdump >/dev/null 2>&1; $HOME/.dotnet/tools/dotnet-gcdump report /tmp/fp.gcdump > /tmp/fp.gcreport 2>&1" > /tmp/fp-post
    post=(--post /tmp/fp-post)
  fi
  local -a mnopts
  read -r -a mnopts <<< "$MN_OPTS"
  timeout 600 mn --topo "$TOPO" --switch "${SWITCH_OPTS:-ovs,failMode=$fail,datapath=user}" "${mnctl[@]}" "${mnopts[@]}" --test "$TEST" "${post[@]}" 2>&1 \
    | while IFS= read -r line; do printf '%6.1f %s\n' "$(echo "$(date +%s.%N) - $start" | bc -l)" "$line"; done > /tmp/mn.out
  local rc=${PIPESTATUS[0]}
  end=$(date +%s.%N)
  la1=$(cut -d' ' -f1 /proc/loadavg)
  local hwm
  hwm=$(awk '/^VmHWM/ {print $2}' /proc/"$pid"/status)
  if [ "${MEMORY:-0}" = 1 ]; then
    # The daemon's own account of its memory after the run (softswitch: the managed heap and its allocators too).
    [ -e /tmp/fp-mem-live ] && sed 's/^/  memory\/show while connected: /' /tmp/fp-mem-live | tail -4
    [ -e /tmp/fp-smaps-live ] && sed 's/^/  resident while connected (kB, mappings, name): /' /tmp/fp-smaps-live
    [ -e /tmp/fp-alloc-live ] && sed 's/^/  memory\/allocators while connected: /' /tmp/fp-alloc-live | head -40
    ovs-appctl --timeout=10 memory/show 2>&1 | sed 's/^/  memory\/show: /' | tail -25
    [ "$kind" = softswitch ] && ovs-appctl --timeout=10 memory/allocators 2>&1 | sed 's/^/  memory\/allocators: /' | head -30
    grep -E '^(VmRSS|RssAnon|RssFile|RssShmem)' /proc/"$pid"/status | sed 's/^/  /'
    # The largest resident mappings (kB, size kB, name).
    awk '/^[0-9a-f]+-[0-9a-f]+ / { name = ($6 == "" ? "[anon]" : $6); range = $1 } /^Size:/ { size = $2 } /^Rss:/ { print $2, size, range, name }' \
      /proc/"$pid"/smaps | sort -rn | head -12 | sed 's/^/  smaps rss size: /'
  fi
  [ -n "${GCDUMP:-}" ] && cp /tmp/fp.gcreport "$GCDUMP" 2>/dev/null
  [ -n "${DUMP:-}" ] && cp /tmp/fp.dmp "$DUMP.dmp" 2>/dev/null && cp /tmp/fp.pages "$DUMP.pages" 2>/dev/null
  touch /tmp/fp-stop
  wait "$sampler"
  [ -n "$cpid" ] && { kill "$cpid" 2>/dev/null; wait "$cpid" 2>/dev/null; }
  local conn=""
  [ -e /tmp/fp-conn ] && read -r cn ct < /tmp/fp-conn && conn=$(printf '  connected %s switches with %s threads' "$cn" "$ct")
  read -r peak threads < /tmp/fp-peak
  local result
  result=$(grep -o 'Results: [0-9.]*% dropped[^\n]*' /tmp/mn.out | head -1)
  printf '%-11s %s %s%s%s  peak RSS %7.1f MB (VmHWM %7.1f MB)  peak threads %3s  idle start %6.1f MB %3s threads%s  wall %6.1f s  load %s-%s  mn exit %s  %s\n' \
    "$kind" "$TOPO" "$TEST" "$([ "$CONTROLLER" = 1 ] && echo ' +controller')" "${SWITCH_OPTS:+ --switch $SWITCH_OPTS}${MN_OPTS:+ $MN_OPTS}" "$(echo "$peak / 1024" | bc -l)" "$(echo "$hwm / 1024" | bc -l)" "$threads" \
    "$(echo "$idle_rss / 1024" | bc -l)" "$idle_threads" "$conn" "$(echo "$end - $start" | bc -l)" "$la0" "$la1" "$rc" "${result:-no result}"
  [ "$rc" = 0 ] || tail -20 /tmp/mn.out
  [ "${THREAD_NAMES:-0}" = 1 ] && [ -e /tmp/fp-conn-names ] && echo "  threads by name when most were connected: $(cat /tmp/fp-conn-names)"
  [ "${TIMELINE:-0}" = 1 ] && grep -E '\*\*\*|Results' /tmp/mn.out | grep -v '^ *[0-9.]* *$' 
  ovs-appctl exit >/dev/null 2>&1 || kill "$pid"
}

if [ "${1:-}" = --inner ]; then
  shift
  SSW=$2 TOPO=$3 TEST=$5 CONTROLLER=$6 CPORT=$7 SWITCH_OPTS=$8 MN_OPTS=$9 inner "$1" "$4"
  exit 0
fi

for round in $(seq "$ROUNDS"); do
  for kind in $SWITCHES; do
    dir=$(mktemp -d /tmp/fp-mn-XXXXXX)
    mkdir -p "$dir/tmp"
    unshare --net --mount --pid --fork --kill-child --mount-proc --propagation private \
      bash "$(pwd)/bench/netns/mn-footprint.sh" --inner "$kind" "$SSW" "$TOPO" "$dir" "$TEST" "$CONTROLLER" "$CPORT" "$SWITCH_OPTS" "$MN_OPTS"
    rm -rf "$dir"
  done
done
