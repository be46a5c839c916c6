#!/usr/bin/env bash
# What the Softswitch daemon allocates per monitoring request: each garbage collection pauses the forwarding threads,
# and in a steady state what a switch allocates comes from the tools that poll it (ovs-ofctl connects per command, a
# monitor asks `softswitch ctl` every few seconds, a controller reconnects).
#
#   bash bench/scripts/alloc-per-request.sh [ROUNDS]     # default 30 rounds of each request, after 3 warm-up rounds
#
# The daemon runs on in-memory ports with 1,000 flows and ovs-testcontroller as its controller. Bytes are the runtime's
# count (`memory/show`'s gc-allocated-bytes) before and after ROUNDS requests, less what one memory/show read costs. Needs ovs-ofctl and ovs-testcontroller (scripts/install-deps.sh). Private ports and run directory;
# ends only the processes it started.
set -euo pipefail
ROUNDS=${1:-30}
WARM=3
cd "$(dirname "$0")/../.."
command -v ovs-testcontroller >/dev/null || { echo "needs ovs-ofctl and ovs-testcontroller (bash scripts/install-deps.sh)" >&2; exit 2; }
dotnet build src/Softswitch -c Release -nologo -v q -clp:ErrorsOnly >/dev/null
SSW=(dotnet "$PWD/src/Softswitch/bin/Release/net10.0/softswitch.dll")
RUN=$(mktemp -d /tmp/ssw-alloc.XXXXXX)
LP=$((20000 + RANDOM % 20000)); CP=$((LP + 1))
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$RUN"
}
trap cleanup EXIT

SOFTSWITCH_RUNDIR=$RUN "${SSW[@]}" run --ports mem:4 --listen ptcp:$LP --controller tcp:127.0.0.1:$CP --fail-mode secure \
  --unixctl "$RUN/sw.ctl" --local-port none --log-level warn > "$RUN/sw.log" 2>&1 &
pids+=($!)
OF="ovs-ofctl -O OpenFlow10"
for _ in $(seq 300); do $OF show tcp:127.0.0.1:$LP >/dev/null 2>&1 && break; sleep 0.1; done
for i in $(seq 1000); do echo "cookie=0x77,priority=10,ip,nw_dst=10.9.$((i / 256)).$((i % 256)),actions=output:2"; done > "$RUN/flows.txt"
$OF add-flows tcp:127.0.0.1:$LP "$RUN/flows.txt"
CTL=("${SSW[@]}" ctl --target "$RUN/sw.ctl")
controller() { ovs-testcontroller -O OpenFlow10 ptcp:$CP:127.0.0.1 --no-chdir --unixctl="$RUN/tc.ctl" >/dev/null 2>&1 & TC=$!; pids+=($TC); }
controller
allocated() { "${CTL[@]}" --format json memory/show | python3 -c "import json,sys; print(json.load(sys.stdin)['gc-allocated-bytes'])"; }

# One request of each kind, by name.
request() {
  case $1 in
    dump-ports) $OF dump-ports tcp:127.0.0.1:$LP >/dev/null ;;
    dump-flows) $OF dump-flows tcp:127.0.0.1:$LP >/dev/null ;;
    dp/show) "${CTL[@]}" dp/show >/dev/null ;;
    memory/show) "${CTL[@]}" --format json memory/show >/dev/null ;;
    reconnect) kill -9 $TC; wait $TC 2>/dev/null || true; controller; sleep 2 ;;
  esac
}
sleep 3
# What reading the count costs, once its first-time costs are paid: the mean over ten reads in a row. (The count
# grows by the allocation quanta handed to threads, a few KB at a time: what the collector's budget is spent in, and
# why a figure is a mean over many requests.)
for _ in $(seq $WARM); do allocated >/dev/null; done
a=$(allocated); for _ in $(seq 9); do allocated >/dev/null; done; b=$(allocated); read_cost=$(( (b - a) / 10 ))
printf "%-44s %14s\n" "request ($ROUNDS rounds after $WARM)" "bytes each"
for kind in dump-ports dump-flows dp/show memory/show reconnect; do
  for _ in $(seq $WARM); do request $kind; done
  before=$(allocated)
  for _ in $(seq $ROUNDS); do request $kind; done
  after=$(allocated)
  case $kind in
    dump-ports|dump-flows) label="ovs-ofctl $kind (1,000 flows in the table)" ;;
    reconnect) label="controller killed and reconnected" ;;
    *) label="softswitch ctl $kind" ;;
  esac
  printf "%-44s %14d\n" "$label" $(( (after - before - read_cost) / ROUNDS ))
done
printf "%-44s %14d\n" "(one memory/show read, taken off the above)" $read_cost
