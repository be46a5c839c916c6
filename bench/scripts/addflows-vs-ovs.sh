#!/usr/bin/env bash
# `ovs-ofctl add-flows` of N flows (default 100,000), timed against Softswitch and against Open vSwitch's
# user-space bridge (datapath_type=netdev) in the same run, both over TCP on loopback and both over a Unix socket
# (Open vSwitch's BRIDGE.mgmt, Softswitch's punix: listener), ROUNDS interleaved rounds (default 3, medians).
# ovs-ofctl sends a BARRIER_REQUEST after every flow-mod and waits for its reply, so this is a round-trip rate, and a
# round trip costs what placement costs (a wake-up across CPUs of a virtual machine takes tens of microseconds, one on
# the same CPU a context switch): both switches and ovs-ofctl run on CPU $CPU (default 0; CPU=all leaves placement to
# the scheduler). DOTNET_PROCESSOR_COUNT keeps Softswitch's runtime configured for the machine's CPU count. Needs root and the
# openvswitch-switch package (scripts/install-deps.sh). Uses a private OVS run directory and ports; ends only
# the processes it started.
set -euo pipefail
N=${1:-100000}
ROUNDS=${ROUNDS:-3}
CPU=${CPU:-0}
ON=(); [ "$CPU" = all ] || ON=(taskset -c "$CPU")
cd "$(dirname "$0")/../.."
. bench/scripts/lib.sh
command -v ovs-vswitchd >/dev/null || { echo "needs openvswitch-switch (bash scripts/install-deps.sh)"; exit 2; }
dotnet build src/Softswitch -c Release -nologo -v q -clp:ErrorsOnly >/dev/null

RUN=$(mktemp -d /tmp/ssw-ovs.XXXXXX)
FLOWS=$RUN/flows.txt
SSW_PORT=$((20000 + RANDOM % 20000)); OVS_PORT=$((SSW_PORT + 1))
BR=sswbr$((RANDOM % 1000))
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -f "$RUN/ovs-vswitchd.pid" ]; then
    ovs-vsctl --db=unix:$RUN/db.sock --timeout=5 del-br $BR 2>/dev/null || true
    kill "$(cat $RUN/ovs-vswitchd.pid)" 2>/dev/null || true
  fi
  [ -f "$RUN/ovsdb-server.pid" ] && kill "$(cat $RUN/ovsdb-server.pid)" 2>/dev/null || true
  rm -rf "$RUN"
}
trap cleanup EXIT

python3 - "$N" > "$FLOWS" <<'PY'
import sys
n = int(sys.argv[1])
for i in range(n):
    print(f"priority={100 + i % 7},ip,in_port=1,nw_src=10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255},nw_dst=192.168.0.1,actions=output:2")
PY

# Softswitch, passive listener on mem ports.
ssw_start_placed "$CPU" $RUN/ssw.log --ports mem:4 --listen ptcp:$SSW_PORT --listen punix:$RUN/ssw.mgmt --unixctl none --log-level Warning
pids+=($SSW_PID)

# Open vSwitch in user space, listening on TCP for ovs-ofctl too.
export OVS_RUNDIR=$RUN OVS_LOGDIR=$RUN OVS_DBDIR=$RUN
ovsdb-tool create $RUN/conf.db /usr/share/openvswitch/vswitch.ovsschema
ovsdb-server $RUN/conf.db --remote=punix:$RUN/db.sock --pidfile=$RUN/ovsdb-server.pid --log-file=$RUN/ovsdb-server.log --unixctl=$RUN/ovsdb-server.ctl --detach --no-chdir
V="ovs-vsctl --db=unix:$RUN/db.sock"
$V --no-wait init
"${ON[@]}" ovs-vswitchd unix:$RUN/db.sock --pidfile=$RUN/ovs-vswitchd.pid --log-file=$RUN/ovs-vswitchd.log --unixctl=$RUN/ovs-vswitchd.ctl --detach --no-chdir
$V add-br $BR -- set bridge $BR datapath_type=netdev protocols=OpenFlow10 -- set-controller $BR ptcp:$OVS_PORT:127.0.0.1 -- set-fail-mode $BR secure
for i in 1 2; do $V add-port $BR ${BR}p$i -- set interface ${BR}p$i type=internal ofport_request=$i; done
of_wait tcp:127.0.0.1:$SSW_PORT || { echo "the Softswitch daemon did not answer (log: $RUN/ssw.log)" >&2; exit 1; }
of_wait tcp:127.0.0.1:$OVS_PORT || { echo "Open vSwitch did not answer (log: $RUN/ovs-vswitchd.log)" >&2; exit 1; }

time_addflows() {
  local ep=$1
  local t0=$(date +%s.%N)
  "${ON[@]}" ovs-ofctl -O OpenFlow10 add-flows "$ep" "$FLOWS"
  local t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc
}
count_flows() { ovs-ofctl -O OpenFlow10 dump-aggregate "$1" | sed -n 's/.*flow_count=\([0-9]*\).*/\1/p'; }

median() { tr ' ' '\n' <<< "$1" | grep . | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
declare -A T N_IN
EPS=("Softswitch tcp:127.0.0.1:$SSW_PORT" "OVS tcp:127.0.0.1:$OVS_PORT" "Softswitch unix:$RUN/ssw.mgmt" "OVS unix:$RUN/$BR.mgmt")
for r in $(seq $ROUNDS); do
  for e in "${EPS[@]}"; do
    ep=${e#* }
    ovs-ofctl -O OpenFlow10 del-flows "$ep"
    T[$e]+="$(time_addflows "$ep") "
    N_IN[$e]=$(count_flows "$ep")
  done
done
printf "%-34s %10s %12s %14s\n" "ovs-ofctl add-flows ($N flows)" "seconds" "flows/s" "flows in table"
for e in "${EPS[@]}"; do
  m=$(median "${T[$e]}")
  label="${e%% *} (${e#* })"
  printf "%-34s %10.2f %12.0f %14s\n" "${label/$RUN\//}" "$m" "$(echo "$N / $m" | bc -l)" "${N_IN[$e]}"
done
for t in tcp unix; do
  s=""; o=""
  for e in "${EPS[@]}"; do case "$e" in "Softswitch $t"*) s=$(median "${T[$e]}");; "OVS $t"*) o=$(median "${T[$e]}");; esac; done
  printf "ratio over %s: Softswitch is %.2fx Open vSwitch's speed\n" "$t" "$(echo "$o / $s" | bc -l)"
done
