#!/usr/bin/env bash
# Softswitch reliability suite: hostile peers, fuzzed OpenFlow, controller flaps and restarts against the real daemon,
# one table at the end. Needs the Debian packages of scripts/install-deps.sh (ovs-ofctl, ovs-testcontroller) and python3.
#
#   bash bench/reliability/run.sh            # full figures (about 6 minutes)
#   bash bench/reliability/run.sh --quick    # the short version CI runs (about a minute)
#   options: --fuzz N (messages), --flaps N, --no-build
set -euo pipefail
cd "$(dirname "$0")/../.."
QUICK=0 BUILD=1 FUZZ="" FLAPS=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --no-build) BUILD=0 ;;
    --fuzz) FUZZ=$2; shift ;;
    --flaps) FLAPS=$2; shift ;;
    *) echo "usage: run.sh [--quick] [--fuzz N] [--flaps N] [--no-build]" >&2; exit 2 ;;
  esac
  shift
done
if [ $QUICK = 1 ]; then
  SILENT=300 TRICKLE=50 STORM_S=8 FLOOD=1000 FLOOD_TRICKLE=100 FUZZ=${FUZZ:-20000} FLAPS=${FLAPS:-3} FLOWS=200
else
  SILENT=2000 TRICKLE=200 STORM_S=30 FLOOD=10000 FLOOD_TRICKLE=1000 FUZZ=${FUZZ:-10000000} FLAPS=${FLAPS:-20} FLOWS=1000
fi
for t in python3 ovs-ofctl ovs-testcontroller; do
  command -v $t >/dev/null || { echo "reliability: $t is missing (run scripts/install-deps.sh as root)" >&2; exit 2; }
done
[ $BUILD = 1 ] && dotnet build src/Softswitch -c Release -nologo -v q -clp:ErrorsOnly >/dev/null
SSW="dotnet src/Softswitch/bin/Release/net10.0/softswitch.dll"
PY=$(command -v python3)
RUN=$(mktemp -d /tmp/ssw-reliability.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$RUN"; }
trap cleanup EXIT
port() { echo $((20000 + RANDOM % 12000)); }
ROWS=()
row() { ROWS+=("$(printf '%-18s %-6s %s' "$1" "$2" "$3")"); echo "reliability: $1: $2 $3" >&2; }
json() { $PY -c "import json,sys; d=json.load(open('$1')); print($2)"; }

# start NAME ARGS...: the daemon in the background, waits until it says it runs; sets DPID_PID
start() {
  local name=$1; shift
  $SSW run --ports mem:4 "$@" >"$RUN/$name.log" 2>&1 &
  DPID_PID=$!
  PIDS+=("$DPID_PID")
  for _ in $(seq 200); do
    grep -q "softswitch running" "$RUN/$name.log" && return 0
    kill -0 $DPID_PID 2>/dev/null || break
    sleep 0.1
  done
  echo "reliability: the daemon did not start:" >&2; cat "$RUN/$name.log" >&2; return 1
}
alive() { kill -0 "$1" 2>/dev/null; }

# 1. Listener storm: silent and trickling peers, a controller measuring FLOW_MOD+BARRIER round trips meanwhile.
P=$(port); start storm --listen ptcp:$P --unixctl none
$PY bench/reliability/listener_storm.py --port $P --pid $DPID_PID --silent $SILENT --trickle $TRICKLE --seconds $STORM_S --controller --json >"$RUN/storm.json"
ok=PASS
[ "$(json $RUN/storm.json "d['silent_open_at_end'] + d['trickle_open_at_end']")" = 0 ] || ok=FAIL
[ "$(json $RUN/storm.json "int(d['threads_max'] - d['threads_before'] < 50)")" = 1 ] || ok=FAIL
[ "$(json $RUN/storm.json "int(d['controller_error'] == '')")" = 1 ] || ok=FAIL
alive $DPID_PID || ok=FAIL
row listener-storm $ok "$(json $RUN/storm.json "f\"$SILENT silent + $TRICKLE trickling: threads {d['threads_before']}->{d['threads_max']} max, RSS {d['rss_mb_before']}->{d['rss_mb_max']} MB max, open at end {d['silent_open_at_end'] + d['trickle_open_at_end']}; flow-mod p50/p99 {d['flowmod_ms_p50_idle']}/{d['flowmod_ms_p99_idle']} ms idle, {d['flowmod_ms_p50_storm']}/{d['flowmod_ms_p99_storm']} ms in the storm\"")"
kill $DPID_PID; wait $DPID_PID 2>/dev/null || true

# 2. Connection flood plus trickling peers.
P=$(port); start flood --listen ptcp:$P --unixctl none
$PY bench/reliability/listener_storm.py --port $P --pid $DPID_PID --trickle $FLOOD_TRICKLE --flood $FLOOD --seconds $STORM_S --controller --json >"$RUN/flood.json"
ok=PASS
[ "$(json $RUN/flood.json "d['trickle_open_at_end']")" = 0 ] || ok=FAIL
[ "$(json $RUN/flood.json "int(d['controller_error'] == '')")" = 1 ] || ok=FAIL
alive $DPID_PID || ok=FAIL
row connect-flood $ok "$(json $RUN/flood.json "f\"{d['flood_connected']} connects + $FLOOD_TRICKLE trickling: threads {d['threads_before']}->{d['threads_max']} max, RSS {d['rss_mb_before']}->{d['rss_mb_max']} MB max; flow-mod p50/p99 {d['flowmod_ms_p50_idle']}/{d['flowmod_ms_p99_idle']} ms idle, {d['flowmod_ms_p50_storm']}/{d['flowmod_ms_p99_storm']} ms in the flood\"")"
kill $DPID_PID; wait $DPID_PID 2>/dev/null || true

# 3. Wire fuzz: generated and mutated OpenFlow on several live sessions, ECHO within 1 s after every batch.
P=$(port); start fuzz --listen ptcp:$P --unixctl none
ok=PASS
$PY bench/reliability/wire_fuzz.py --port $P --pid $DPID_PID --messages $FUZZ --sessions 4 --json >"$RUN/fuzz.json" || ok=FAIL
alive $DPID_PID || ok=FAIL
grep -q "unexpected error" "$RUN/fuzz.log" && ok=FAIL
row wire-fuzz $ok "$(json $RUN/fuzz.json "f\"{d['messages']:,} messages, {d['sessions']} sessions in {d['seconds']} s (seed {d['seed']}): {d['echoes']} echoes, {d['echo_late']} late, max {d['echo_max_ms']} ms; {d['sessions_reopened']} sessions closed by the switch ({d['broken_streams_sent']} unframeable streams sent); RSS {d['rss_mb_start']}->{d['rss_mb_max']} MB max\"")"
kill $DPID_PID; wait $DPID_PID 2>/dev/null || true

# 4. Controller flaps: ovs-testcontroller killed (SIGKILL) and restarted; fail-secure keeps every installed flow.
CP=$(port); LP=$(port)
start flaps --controller tcp:127.0.0.1:$CP --listen ptcp:$LP --fail-mode secure --unixctl none
for i in $(seq $FLOWS); do echo "cookie=0x77,priority=10,ip,nw_dst=10.9.$((i / 256)).$((i % 256)),actions=output:2"; done >"$RUN/flows.txt"
ovs-ofctl -O OpenFlow10 add-flows tcp:127.0.0.1:$LP "$RUN/flows.txt"
ours() { ovs-ofctl -O OpenFlow10 -F openflow10 dump-flows tcp:127.0.0.1:$LP | grep -c "cookie=0x77,.*nw_dst=10\.9\." || true; }
ok=PASS lost=0 reconnects=0 before=$(ours)
for i in $(seq $FLAPS); do
  n0=$(grep -c "controller connected" "$RUN/flaps.log" || true)
  ovs-testcontroller -O OpenFlow10 ptcp:$CP:127.0.0.1 --no-chdir --pidfile="$RUN/tc.pid" --log-file="$RUN/tc.log" --unixctl="$RUN/tc.ctl" >/dev/null 2>&1 &
  TC=$!; PIDS+=("$TC")
  for _ in $(seq 150); do [ "$(grep -c "controller connected" "$RUN/flaps.log" || true)" -gt "$n0" ] && break; sleep 0.1; done
  [ "$(grep -c "controller connected" "$RUN/flaps.log" || true)" -gt "$n0" ] && reconnects=$((reconnects + 1))
  kill -9 $TC; wait $TC 2>/dev/null || true
  now=$(ours); [ "$now" -lt "$before" ] && lost=$((before - now))
done
[ "$reconnects" = "$FLAPS" ] || ok=FAIL
[ "$before" = "$FLOWS" ] || ok=FAIL
[ "$lost" = 0 ] || ok=FAIL
alive $DPID_PID || ok=FAIL
row controller-flaps $ok "$FLAPS kills (SIGKILL) of ovs-testcontroller: $reconnects reconnects, $before flows installed, $lost lost (fail-secure)"
kill $DPID_PID; wait $DPID_PID 2>/dev/null || true

# 5. Restart safety: SIGTERM, SIGHUP, SIGKILL during flow churn; the next start takes over stale sockets and comes up clean.
CTL="$RUN/sw.ctl" OFS="$RUN/of.sock"
ok=PASS detail=""
for sig in TERM HUP KILL; do
  start restart-$sig --listen punix:$OFS --unixctl $CTL --fail-mode secure
  ( while true; do ovs-ofctl -O OpenFlow10 add-flows unix:$OFS "$RUN/flows.txt" >/dev/null 2>&1 || true; done ) &
  CHURN=$!; PIDS+=("$CHURN")
  sleep 1.5
  kill -$sig $DPID_PID; rc=0; wait $DPID_PID 2>/dev/null || rc=$?
  kill $CHURN 2>/dev/null; wait $CHURN 2>/dev/null || true
  stale="clean"; [ -e "$CTL" ] && stale="stale files left"
  t0=$(date +%s%N)
  if start after-$sig --listen punix:$OFS --unixctl $CTL --fail-mode secure; then
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    flows=$(ovs-ofctl -O OpenFlow10 dump-aggregate unix:$OFS 2>&1 | grep -o "flow_count=[0-9]*" || echo "no answer")
    $SSW ctl --target $CTL dp/show >/dev/null 2>&1 && ctl=ok || { ctl=FAIL; ok=FAIL; }
    [ "$flows" = "flow_count=0" ] || ok=FAIL
    # SIGTERM and SIGHUP stop cleanly (exit code 0, sockets removed); SIGKILL leaves stale sockets for the next start.
    if [ $sig != KILL ]; then [ $rc = 0 ] && [ "$stale" = clean ] || ok=FAIL; fi
    detail="$detail SIG$sig: rc $rc, $stale, restarted in ${ms} ms, $flows, ctl $ctl;"
    kill $DPID_PID; wait $DPID_PID 2>/dev/null || true
  else
    ok=FAIL; detail="$detail SIG$sig: rc $rc, restart FAILED;"
  fi
done
row restart-safety $ok "${detail# }"

echo
printf '%-18s %-6s %s\n' scenario result figures
printf '%-18s %-6s %s\n' -------- ------ -------
for r in "${ROWS[@]}"; do echo "$r"; done
for r in "${ROWS[@]}"; do case "$r" in *" FAIL "*) exit 1 ;; esac; done
exit 0
