# Soak, sourced by run.sh --soak MINUTES (root): the daemon between two namespaces for MINUTES of
#  - traffic both ways: TCP A->B (iperf3, paced at 200 Mbit/s), UDP B->A (iperf3, 100-byte datagrams at 10 Mbit/s),
#    a ping every 10 ms;
#  - flow churn on a service connection: a rolling window of 5,000 flows, added and strictly deleted at --churn-rate
#    flow-mods/s (churn.py), with a barrier every 100;
#  - 1,002 permanent flows (cookie 0x77) that carry the traffic and must never be lost;
#  - the controller (ovs-testcontroller, fail mode secure) killed with SIGKILL every 50 s and restarted 5 s later;
#  - a stats poll every 10 s (flow stats of the whole table, port stats), with a sample of RSS, threads, fds, flows,
#    drops, GC collections and pauses and the control socket's latency.
# Fails on growth after warm-up (RSS, threads, fds), on any lost permanent flow, on packets that do not add up
# (received = forwarded + dropped by reason) and on a daemon that died or stopped answering.
netns_up addr
export SOFTSWITCH_RUNDIR=$RUN
SECS=${SOAK_SECONDS:-$((SOAK * 60))} WINDOW=5000 PERM=1002
LP=$(port); CP=$(port)
start soak --ports afpacket:${VA}h,afpacket:${VB}h --listen ptcp:$LP --controller tcp:127.0.0.1:$CP --fail-mode secure \
  --unixctl "$RUN/soak.ctl" --local-port none
SPID=$DPID_PID
OF="ovs-ofctl -O OpenFlow10 --no-names"
CTLS="$SSW ctl --target $RUN/soak.ctl" DPCTL="$RUN/soak.ctl"
{
  echo "cookie=0x77,priority=1,in_port=1,actions=output:2"
  echo "cookie=0x77,priority=1,in_port=2,actions=output:1"
  for i in $(seq $((PERM - 2))); do echo "cookie=0x77,priority=10,ip,nw_dst=10.9.$((i / 256)).$((i % 256)),actions=output:2"; done
} >"$RUN/perm.txt"
$OF add-flows tcp:127.0.0.1:$LP "$RUN/perm.txt"
soak_stop() {
  touch "$RUN/stop"
  for f in "$RUN"/*.bgpid; do [ -e "$f" ] && { kill -9 "$(cat "$f")" 2>/dev/null || true; }; done
  true
}
trap 'soak_stop; netns_cleanup; cleanup' EXIT

# The controller: up 50 s, SIGKILL, down 5 s, again.
(
  n=0
  while [ ! -e "$RUN/stop" ]; do
    ovs-testcontroller -O OpenFlow10 ptcp:$CP:127.0.0.1 --no-chdir --unixctl="$RUN/tc.ctl" --log-file="$RUN/tc.log" >/dev/null 2>&1 &
    echo $! >"$RUN/tc.bgpid"
    for _ in $(seq 50); do [ -e "$RUN/stop" ] && break; sleep 1; done
    kill -9 "$(cat "$RUN/tc.bgpid")" 2>/dev/null; wait 2>/dev/null
    n=$((n + 1)); echo $n >"$RUN/tc.kills"
    [ -e "$RUN/stop" ] || sleep 5
  done
) &
PIDS+=("$!")

ip netns exec $NSB iperf3 -s -p 5201 >/dev/null 2>&1 &
echo $! >"$RUN/srv1.bgpid"
ip netns exec $NSA iperf3 -s -p 5202 >/dev/null 2>&1 &
echo $! >"$RUN/srv2.bgpid"
sleep 1
read -r rx10 rxd10 tx10 txd10 <<<"$(portc 1)"; read -r rx20 rxd20 tx20 txd20 <<<"$(portc 2)"; d0=$(drops)
atx0=$(ip netns exec $NSA cat /sys/class/net/${VA}n/statistics/tx_packets); arx0=$(ip netns exec $NSA cat /sys/class/net/${VA}n/statistics/rx_packets)
btx0=$(ip netns exec $NSB cat /sys/class/net/${VB}n/statistics/tx_packets); brx0=$(brx)
ip netns exec $NSA iperf3 -c 10.0.0.2 -p 5201 -t $SECS -b 200M -J </dev/null >"$RUN/tcp.json" 2>&1 &
echo $! >"$RUN/tcp.bgpid"; TCPC=$!
ip netns exec $NSB iperf3 -c 10.0.0.1 -p 5202 -u -l 100 -t $SECS -b 10M -J </dev/null >"$RUN/udp.json" 2>&1 &
echo $! >"$RUN/udp.bgpid"; UDPC=$!
ip netns exec $NSA ping -q -i 0.01 -w $SECS 10.0.0.2 >"$RUN/ping.txt" 2>&1 &
echo $! >"$RUN/ping.bgpid"; PINGC=$!
$PY bench/reliability/churn.py --port $LP --rate $CHURN_RATE --window $WINDOW --seconds $SECS --stop-file "$RUN/stop" >"$RUN/churn.json" &
echo $! >"$RUN/churn.bgpid"; CHURNC=$!

# One sample: seconds, RSS MB, threads, fds, flows, permanent flows, drops by reason, port rx, GC count, GC pause
# total (ms), longest pause of the latest collections (us), controller reconnects, ctl latency (ms)
sample() {
  local t0 ms mem
  t0=$(date +%s%N)
  mem=$($CTLS --format json memory/show 2>/dev/null || echo '{}')
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  $OF dump-ports tcp:127.0.0.1:$LP >/dev/null 2>&1 || true
  local permn
  permn=$($OF -F openflow10 dump-flows tcp:127.0.0.1:$LP 2>/dev/null | grep -c "cookie=0x77," || true)
  local rx1 rx2
  read -r rx1 _ _ _ <<<"$(portc 1)"; read -r rx2 _ _ _ <<<"$(portc 2)"
  $PY - "$mem" "$SPID" "$1" "$permn" "$(drops)" "$((rx1 + rx2))" "$(grep -c 'controller connected' "$RUN/soak.log" || true)" "$ms" <<'EOF'
import json, os, sys
mem, pid, t, permn, drops, rx, conn, ms = sys.argv[1:]
m = json.loads(mem)
st = dict(l.split(":", 1) for l in open(f"/proc/{pid}/status"))
print(t, int(st["VmRSS"].split()[0]) // 1024, st["Threads"].strip(), len(os.listdir(f"/proc/{pid}/fd")), m.get("flows", -1), permn,
      drops, rx, m.get("gc-collections", -1), round(m.get("gc-pause-total-us", 0) / 1000, 1), m.get("gc-last-pause-us", -1), conn, ms, sep="\t")
EOF
}
echo -e "sec\trss_mb\tthreads\tfds\tflows\tperm\tdrops\trx_pkts\tgcs\tgc_ms\tgc_last_us\tconnects\tctl_ms" >"$RUN/soak.tsv"
T0=$(date +%s)
while :; do
  now=$(( $(date +%s) - T0 ))
  alive $SPID || break
  sample $now >>"$RUN/soak.tsv"
  tail -1 "$RUN/soak.tsv" | sed 's/^/soak: /' >&2
  [ $now -ge $SECS ] && break
  sleep $(( 10 - ($(date +%s) - T0) % 10 ))
done
touch "$RUN/stop"
wait $CHURNC 2>/dev/null || true
wait $TCPC $UDPC $PINGC 2>/dev/null || true
sleep 2
read -r rx11 rxd11 tx11 txd11 <<<"$(portc 1)"; read -r rx21 rxd21 tx21 txd21 <<<"$(portc 2)"; d1=$(drops)
atx=$(( $(ip netns exec $NSA cat /sys/class/net/${VA}n/statistics/tx_packets) - atx0 )); arx=$(( $(ip netns exec $NSA cat /sys/class/net/${VA}n/statistics/rx_packets) - arx0 ))
btx=$(( $(ip netns exec $NSB cat /sys/class/net/${VB}n/statistics/tx_packets) - btx0 )); brx_=$(( $(brx) - brx0 ))
rx=$(( rx11 - rx10 + rx21 - rx20 )) rxd=$(( rxd11 - rxd10 + rxd21 - rxd20 )) tx=$(( tx11 - tx10 + tx21 - tx20 ))
txd=$(( txd11 - txd10 + txd21 - txd20 )) dr=$(( d1 - d0 ))
final_flows=$($CTLS --format json memory/show | $PY -c "import json,sys; print(json.load(sys.stdin)['flows'])")
$CTLS dp/show >/dev/null && ctl=ok || ctl=FAIL
echo
column -t "$RUN/soak.tsv"
verdict=$($PY - "$RUN/soak.tsv" $PERM <<'EOF'
import sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().splitlines()[1:]]
perm = int(sys.argv[2])
col = lambda i: [float(r[i]) for r in rows]
n = len(rows)
warm = min(max(3, n // 5), n - 1)           # warm-up: the first fifth (JIT, pools, the churn window filling), at least 3 samples
post = rows[warm:]
q = max(1, len(post) // 4)
first, last = post[:q], post[-q:]
mean = lambda rs, i: sum(float(r[i]) for r in rs) / len(rs)
mx = lambda rs, i: max(float(r[i]) for r in rs)
rss_growth = mean(last, 1) - mean(first, 1)
fails = []
if rss_growth > max(16, 0.10 * mean(first, 1)): fails.append(f"RSS grew {rss_growth:.1f} MB after warm-up")
if mx(last, 2) > mx(first, 2) + 2: fails.append("threads grew")
if mx(last, 3) > mx(first, 3) + 4: fails.append("fds grew")
lost = perm - min(int(r[5]) for r in rows)
if lost: fails.append(f"{lost} permanent flows lost")
gcs, gcms = col(8), col(9)
pause_mean = (gcms[-1] - gcms[warm]) * 1000 / max(1, gcs[-1] - gcs[warm])
print(f"RSS {mean(first,1):.0f}->{mean(last,1):.0f} MB (first/last quarter after warm-up, max {mx(rows,1):.0f}), "
      f"threads {mx(first,2):.0f}->{mx(last,2):.0f}, fds {mx(first,3):.0f}->{mx(last,3):.0f}, "
      f"permanent flows min {min(int(r[5]) for r in rows)}/{perm}, GC {gcs[-1]-gcs[warm]:.0f} collections after warm-up, "
      f"mean pause {pause_mean:.0f} us, longest sampled {max(col(10)):.0f} us, ctl max {max(col(12)):.0f} ms")
print("FAIL " + "; ".join(fails) if fails else "PASS")
EOF
)
figs=$(echo "$verdict" | head -1); res=$(echo "$verdict" | tail -1)
ok=PASS
case "$res" in FAIL*) ok=FAIL ;; esac
alive $SPID || ok=FAIL
[ $ctl = ok ] || ok=FAIL
[ $rx = $((tx + txd + dr)) ] || ok=FAIL
[ $brx_ = $((tx21 - tx20)) ] || ok=FAIL
[ $arx = $((tx11 - tx10)) ] || ok=FAIL
[ "$final_flows" = $((PERM + WINDOW)) ] || ok=FAIL
tcp=$($PY -c "import json; d=json.load(open('$RUN/tcp.json')); print(round(d['end']['sum_received']['bits_per_second']/1e6))" 2>/dev/null || echo "?")
udp=$($PY -c "import json; d=json.load(open('$RUN/udp.json')); s=d['end']['sum']; print(f\"{s['lost_packets']}/{s['packets']} lost\")" 2>/dev/null || echo "?")
png=$(grep -o "[0-9]* packets transmitted, [0-9]* received" "$RUN/ping.txt" || echo "?")
churn=$(cat "$RUN/churn.json" 2>/dev/null || echo "{}")
row soak "$ok" "$SOAK min: $figs; ${res#FAIL }; traffic A sent $atx, B sent $btx: switch received $rx (+$rxd ring drops) = $tx forwarded + $txd tx drops + $dr dropped by reason, A received $arx, B received $brx_; TCP $tcp Mbit/s, UDP $udp, ping $png; churn $churn; flows at end $final_flows (expected $((PERM + WINDOW))); controller killed $(cat "$RUN/tc.kills" 2>/dev/null || echo 0) times, connected $(grep -c 'controller connected' "$RUN/soak.log" || true) times; ctl $ctl"
[ -n "${SOAK_OUT:-}" ] && cp "$RUN/soak.tsv" "$SOAK_OUT"
kill $SPID; wait $SPID 2>/dev/null || true
