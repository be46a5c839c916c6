# Soak, sourced by run.sh --soak MINUTES (root): the daemon between four namespaces (four AF_PACKET ports) for MINUTES of
#  - paced traffic on ports 1-2: TCP A->B (iperf3, paced at 200 Mbit/s), UDP B->A (iperf3, 100-byte datagrams at
#    10 Mbit/s), a ping every 10 ms;
#  - line-rate traffic on ports 3-4: unpaced UDP C->D (iperf3 -b 0, 64-byte datagrams, as fast as the sender goes);
#  - flow churn on a service connection at --churn-rate flow-mods/s (`bench churn`, the C# client: pairs of
#    DELETE_STRICT and ADD over a table of 5,000 churn flows, a barrier per 10 ms batch), its applied rate read from
#    the switch's own flow-mod counter;
#  - 1,004 permanent flows (cookie 0x77) that carry the traffic and must never be lost;
#  - the controller (ovs-testcontroller, fail mode secure) killed with SIGKILL every 50 s and restarted 5 s later;
#  - a stats poll every 10 s (flow stats of the whole table, port stats), with a sample of RSS, threads, fds, flows,
#    drops, flow-mods applied, GC pauses (count, longest, p99 from the runtime's events), the forwarding threads'
#    longest stall, CPU pressure (/proc/pressure/cpu) and the control socket's latency;
#  - after warm-up, the allocation sampler is reset (ctl memory/allocators --reset); at the end its view (who
#    allocated, bytes/s) is printed, with the bytes allocated per second and collections per minute after warm-up and
#    what the pauses were made of (memory/show's gc-phase-*: suspension, marking by root kind, plan/sweep/compact,
#    restart; the bytes each root kind kept alive; pauses by generation).
# Fails on growth after warm-up (RSS, threads, fds), on any lost permanent flow, on packets that do not add up over
# the four ports (received = forwarded + dropped by reason, and every namespace receives what the switch sent it)
# and on a daemon that died or stopped answering. The GC and stall figures are reported, not judged (see docs/reliability.md).
netns_up addr
# Namespaces C (10.0.1.1) and D (10.0.1.2) behind ports 3 and 4.
NSC=skrel-c-$$ NSD=skrel-d-$$ VC=skrc$$ VD=skrd$$
VC=${VC:0:12} VD=${VD:0:12}
netns_cleanup() { for n in $NSA $NSB $NSC $NSD; do ip netns del $n 2>/dev/null || true; done; }
ip netns add $NSC; ip netns add $NSD
ip link add ${VC}n type veth peer name ${VC}h; ip link set ${VC}n netns $NSC
ip link add ${VD}n type veth peer name ${VD}h; ip link set ${VD}n netns $NSD
for v in ${VC}h ${VD}h; do sysctl -qw net.ipv6.conf.$v.disable_ipv6=1; ip link set $v up; ethtool -K $v tx off tso off gso off gro off >/dev/null 2>&1 || true; done
for n in $NSC $NSD; do ip netns exec $n sysctl -qw net.ipv6.conf.all.disable_ipv6=1; ip -n $n link set lo up; done
ip -n $NSC link set ${VC}n up; ip -n $NSD link set ${VD}n up
ip -n $NSC addr add 10.0.1.1/24 dev ${VC}n; ip -n $NSD addr add 10.0.1.2/24 dev ${VD}n
ip netns exec $NSC ethtool -K ${VC}n tx off tso off gso off gro off sg off >/dev/null 2>&1 || true
ip netns exec $NSD ethtool -K ${VD}n tx off tso off gso off gro off sg off >/dev/null 2>&1 || true
export SOFTSWITCH_RUNDIR=$RUN
SECS=${SOAK_SECONDS:-$((SOAK * 60))} WINDOW=5000 PERM=1004
# The C# churn client (bench churn), a private copy like the daemon's.
[ $BUILD = 1 ] && dotnet build bench -c Release -nologo -v q -clp:ErrorsOnly >/dev/null
cp -r bench/bin/Release/net10.0 "$RUN/benchbin"
LP=$(port); CP=$(port)
start soak --ports afpacket:${VA}h,afpacket:${VB}h,afpacket:${VC}h,afpacket:${VD}h --listen ptcp:$LP --controller tcp:127.0.0.1:$CP \
  --fail-mode secure --unixctl "$RUN/soak.ctl" --local-port none
SPID=$DPID_PID
OF="ovs-ofctl -O OpenFlow10 --no-names"
CTLS="$SSW ctl --target $RUN/soak.ctl" DPCTL="$RUN/soak.ctl"
{
  echo "cookie=0x77,priority=1,in_port=1,actions=output:2"
  echo "cookie=0x77,priority=1,in_port=2,actions=output:1"
  echo "cookie=0x77,priority=1,in_port=3,actions=output:4"
  echo "cookie=0x77,priority=1,in_port=4,actions=output:3"
  for i in $(seq $((PERM - 4))); do echo "cookie=0x77,priority=10,ip,nw_dst=10.9.$((i / 256)).$((i % 256)),actions=output:2"; done
} >"$RUN/perm.txt"
$OF add-flows tcp:127.0.0.1:$LP "$RUN/perm.txt"
# The churn flows (cookie 0x55, never matched by the traffic): installed once, then replaced pair by pair.
for i in $(seq 0 $((WINDOW - 1))); do echo "cookie=0x55,priority=20,ip,nw_dst=10.200.$((i / 256)).$((i % 256)),actions=output:2"; done >"$RUN/churn.txt"
$OF add-flows tcp:127.0.0.1:$LP "$RUN/churn.txt"
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
ip netns exec $NSD iperf3 -s -p 5203 >/dev/null 2>&1 &
echo $! >"$RUN/srv3.bgpid"
sleep 1
# nsc NS DEV tx|rx: a namespace end's kernel counter
nsc() { ip netns exec $1 cat /sys/class/net/$2/statistics/$3_packets; }
ports4() { local p; for p in 1 2 3 4; do portc $p; done | tr '\n' ' '; }
read -r rx10 rxd10 tx10 txd10 rx20 rxd20 tx20 txd20 rx30 rxd30 tx30 txd30 rx40 rxd40 tx40 txd40 <<<"$(ports4)"; d0=$(drops)
atx0=$(nsc $NSA ${VA}n tx); arx0=$(nsc $NSA ${VA}n rx); btx0=$(nsc $NSB ${VB}n tx); brx0=$(nsc $NSB ${VB}n rx)
ctx0=$(nsc $NSC ${VC}n tx); crx0=$(nsc $NSC ${VC}n rx); dtx0=$(nsc $NSD ${VD}n tx); drx0=$(nsc $NSD ${VD}n rx)
fm0=$(dpshow | grep -o 'flow-mods [0-9]* applied' | awk '{print $2}'); T_FM0=$(date +%s%N)
ip netns exec $NSA iperf3 -c 10.0.0.2 -p 5201 -t $SECS -b 200M -J </dev/null >"$RUN/tcp.json" 2>&1 &
echo $! >"$RUN/tcp.bgpid"; TCPC=$!
ip netns exec $NSB iperf3 -c 10.0.0.1 -p 5202 -u -l 100 -t $SECS -b 10M -J </dev/null >"$RUN/udp.json" 2>&1 &
echo $! >"$RUN/udp.bgpid"; UDPC=$!
ip netns exec $NSA ping -q -i 0.01 -w $SECS 10.0.0.2 >"$RUN/ping.txt" 2>&1 &
echo $! >"$RUN/ping.bgpid"; PINGC=$!
ip netns exec $NSC iperf3 -c 10.0.1.2 -p 5203 -u -l 64 -b 0 -t $SECS -J </dev/null >"$RUN/flood.json" 2>&1 &
echo $! >"$RUN/flood.bgpid"; FLOODC=$!
dotnet "$RUN/benchbin/Softswitch.Bench.dll" churn --target tcp:127.0.0.1:$LP --flow-file "$RUN/churn.txt" --rate $CHURN_RATE \
  --seconds $SECS --json >"$RUN/churn.json" 2>"$RUN/churn.err" &
echo $! >"$RUN/churn.bgpid"; CHURNC=$!

# One sample: seconds, RSS MB, threads, fds, flows, permanent flows, drops by reason, port rx, flow-mods applied, GC
# count, GC pauses measured, longest GC pause (us), its p99 bucket (us), sum of the pauses and of their suspension parts
# (us), the forwarding threads' longest stall (us) and stalls over 1 ms, CPU pressure (share of the last 10 s some task
# waited for a CPU, %), controller connects, ctl latency (ms), GC pauses over 1 ms
sample() {
  local t0 ms mem dp
  t0=$(date +%s%N)
  mem=$($CTLS --format json memory/show 2>/dev/null || echo '{}')
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  echo "$1 $mem" >>"$RUN/mem.jsonl"
  dp=$(dpshow 2>/dev/null || true)
  $OF dump-ports tcp:127.0.0.1:$LP >/dev/null 2>&1 || true
  local permn
  permn=$($OF -F openflow10 dump-flows tcp:127.0.0.1:$LP 2>/dev/null | grep -c "cookie=0x77," || true)
  local fm psi
  fm=$(echo "$dp" | grep -o 'flow-mods [0-9]* applied' | awk '{print $2}')
  psi=$(awk '/^some/ {split($2, a, "="); print a[2]}' /proc/pressure/cpu 2>/dev/null || echo -1)
  $PY - "$mem" "$SPID" "$1" "$permn" "$dp" "${fm:-0}" "${psi:--1}" "$(grep -c 'controller connected' "$RUN/soak.log" || true)" "$ms" <<'EOF'
import json, os, re, sys
mem, pid, t, permn, dp, fm, psi, conn, ms = sys.argv[1:]
m = json.loads(mem)
st = dict(l.split(":", 1) for l in open(f"/proc/{pid}/status"))
rx = sum(int(x) for x in re.findall(r"^  \d+ \S+: .*?rx (\d+) packets", dp, re.M))
cl = [l for l in dp.splitlines() if l.startswith("counters:")]
drops = sum(int(kv.split("=")[1]) for kv in (cl[0].split()[1:] if cl else []) if kv.startswith("drop-"))
print(t, int(st["VmRSS"].split()[0]) // 1024, st["Threads"].strip(), len(os.listdir(f"/proc/{pid}/fd")), m.get("flows", -1), permn,
      drops, rx, fm, m.get("gc-collections", -1), m.get("gc-pauses", -1), m.get("gc-pause-max-us", -1), m.get("gc-pause-p99-us", -1),
      m.get("gc-pause-sum-us", -1), m.get("gc-suspend-sum-us", -1), m.get("forwarding-stall-max-us", -1),
      m.get("forwarding-stalls-over-1ms", -1), psi, conn, ms,
      sum(v for k, v in m.items() if k.startswith("gc-pauses-le-") or k == "gc-pauses-over") - sum(m.get(k, 0) for k in ("gc-pauses-le-100us", "gc-pauses-le-250us", "gc-pauses-le-500us", "gc-pauses-le-1000us")),
      m.get("gc-allocated-bytes", -1), sep="\t")
EOF
}
echo -e "sec\trss_mb\tthreads\tfds\tflows\tperm\tdrops\trx_pkts\tflow_mods\tgcs\tpauses\tpause_max_us\tpause_p99_us\tpause_sum_us\tsuspend_sum_us\tstall_max_us\tstalls_1ms\tcpu_psi\tconnects\tctl_ms\tpauses_gt_1ms\talloc_bytes" >"$RUN/soak.tsv"
T0=$(date +%s)
while :; do
  now=$(( $(date +%s) - T0 ))
  alive $SPID || break
  sample $now >>"$RUN/soak.tsv"
  # After warm-up (the verdict's first fifth), the allocation sampler starts counting.
  if [ -z "${ALLOC_RESET:-}" ] && [ $now -ge $(( SECS / 5 )) ]; then
    $CTLS memory/allocators --reset >/dev/null 2>&1 || true
    ALLOC_RESET=$now
  fi
  tail -1 "$RUN/soak.tsv" | sed 's/^/soak: /' >&2
  [ $now -ge $SECS ] && break
  sleep $(( 10 - ($(date +%s) - T0) % 10 ))
done
# Who allocated since warm-up, while the load still runs.
$CTLS memory/allocators >"$RUN/allocators.txt" 2>&1 || true
touch "$RUN/stop"
wait $CHURNC 2>/dev/null || true
fm1=$(dpshow | grep -o 'flow-mods [0-9]* applied' | awk '{print $2}'); T_FM1=$(date +%s%N)
wait $TCPC $UDPC $PINGC $FLOODC 2>/dev/null || true
sleep 2
read -r rx11 rxd11 tx11 txd11 rx21 rxd21 tx21 txd21 rx31 rxd31 tx31 txd31 rx41 rxd41 tx41 txd41 <<<"$(ports4)"; d1=$(drops)
atx=$(( $(nsc $NSA ${VA}n tx) - atx0 )); arx=$(( $(nsc $NSA ${VA}n rx) - arx0 ))
btx=$(( $(nsc $NSB ${VB}n tx) - btx0 )); brx_=$(( $(nsc $NSB ${VB}n rx) - brx0 ))
ctx=$(( $(nsc $NSC ${VC}n tx) - ctx0 )); crx=$(( $(nsc $NSC ${VC}n rx) - crx0 ))
dtx=$(( $(nsc $NSD ${VD}n tx) - dtx0 )); drx=$(( $(nsc $NSD ${VD}n rx) - drx0 ))
rx=$(( rx11 - rx10 + rx21 - rx20 + rx31 - rx30 + rx41 - rx40 )) rxd=$(( rxd11 - rxd10 + rxd21 - rxd20 + rxd31 - rxd30 + rxd41 - rxd40 ))
tx=$(( tx11 - tx10 + tx21 - tx20 + tx31 - tx30 + tx41 - tx40 )) txd=$(( txd11 - txd10 + txd21 - txd20 + txd31 - txd30 + txd41 - txd40 )) dr=$(( d1 - d0 ))
fm_rate=$(( (fm1 - fm0) * 1000000000 / (T_FM1 - T_FM0) ))
final_flows=$($CTLS --format json memory/show | $PY -c "import json,sys; print(json.load(sys.stdin)['flows'])")
$CTLS dp/show >/dev/null && ctl=ok || ctl=FAIL
echo
column -t "$RUN/soak.tsv"
echo; echo "soak: allocators after warm-up (ctl memory/allocators):"; head -30 "$RUN/allocators.txt"
verdict=$($PY - "$RUN/soak.tsv" $PERM "$RUN/mem.jsonl" <<'EOF'
import json, sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().splitlines()[1:]]
perm = int(sys.argv[2])
mems = {}
for l in open(sys.argv[3]):
    t, _, js = l.partition(" ")
    try: mems[t] = json.loads(js)
    except ValueError: pass
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
w = rows[warm]
def phases(a, b):
    # What the pauses after warm-up were made of (memory/show's gc-phase-*), and the longest pause's phases.
    names = ["suspend", "mark-stack", "mark-finalize", "mark-handles", "mark-older", "mark-other", "plan", "restart"]
    if f"gc-phase-suspend-sum-us" not in b: return "pause phases: not measured by this build"
    d = {n: b[f"gc-phase-{n}-sum-us"] - a.get(f"gc-phase-{n}-sum-us", 0) for n in names}
    tot = max(1, sum(d.values()))
    kinds = ["stack", "finalize", "handles", "older", "other"]
    mk = {k: b[f"gc-marked-{k}-bytes"] - a.get(f"gc-marked-{k}-bytes", 0) for k in kinds}
    gens = "/".join(str(b[f"gc-pauses-gen{g}"] - a.get(f"gc-pauses-gen{g}", 0)) for g in range(3))
    return ("pause time after warm-up by phase: " + ", ".join(f"{n} {d[n] / 1000:.1f} ms ({100 * d[n] / tot:.0f}%)" for n in names)
            + "; longest pause: " + ", ".join(f"{n} {b[f'gc-phase-{n}-of-max-us'] / 1000:.1f}" for n in names) + " ms"
            + "; bytes marked by root: " + ", ".join(f"{k} {mk[k]:,}" for k in kinds)
            + f"; pauses by generation 0/1/2: {gens}")
gcs = int(rows[-1][9]) - int(w[9])
pauses = int(rows[-1][10]) - int(w[10])
psum = int(rows[-1][13]) - int(w[13])
ssum = int(rows[-1][14]) - int(w[14])
fms = (float(rows[-1][8]) - float(w[8])) / max(1, float(rows[-1][0]) - float(w[0]))
print(f"RSS {mean(first,1):.0f}->{mean(last,1):.0f} MB (first/last quarter after warm-up, max {mx(rows,1):.0f}), "
      f"threads {mx(first,2):.0f}->{mx(last,2):.0f}, fds {mx(first,3):.0f}->{mx(last,3):.0f}, "
      f"permanent flows min {min(int(r[5]) for r in rows)}/{perm}; flow-mods applied after warm-up {fms:,.0f}/s (switch counter); "
      f"GC after warm-up: {gcs} collections, {pauses} pauses ({int(rows[-1][20]) - int(w[20])} over 1 ms), mean {psum / max(1, pauses) / 1000:.1f} ms "
      f"(of which waiting for threads to stop {ssum / max(1, pauses) / 1000:.1f} ms), longest {mx(rows, 11) / 1000:.1f} ms, p99 <= {mx(rows, 12) / 1000:.1f} ms; "
      f"forwarding stall longest {mx(rows, 15) / 1000:.1f} ms, {int(rows[-1][16]) - int(w[16])} stalls over 1 ms; "
      f"CPU pressure mean {sum(float(r[17]) for r in post) / len(post):.0f}% (max {mx(post, 17):.0f}%); ctl max {mx(rows, 19):.0f} ms; "
      f"allocated after warm-up {(float(rows[-1][21]) - float(w[21])) / max(1, float(rows[-1][0]) - float(w[0])):,.0f} B/s, "
      f"{gcs * 60 / max(1, float(rows[-1][0]) - float(w[0])):.1f} collections/min"
      + (f" ({(float(rows[-1][21]) - float(w[21])) / gcs / 1e6:.1f} MB allocated per collection); " if gcs else "; ") + phases(mems.get(w[0], {}), mems.get(rows[-1][0], {})))
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
[ $drx = $((tx41 - tx40)) ] || ok=FAIL
[ $crx = $((tx31 - tx30)) ] || ok=FAIL
[ "$final_flows" = $((PERM + WINDOW)) ] || ok=FAIL
tcp=$($PY -c "import json; d=json.load(open('$RUN/tcp.json')); print(round(d['end']['sum_received']['bits_per_second']/1e6))" 2>/dev/null || echo "?")
udp=$($PY -c "import json; d=json.load(open('$RUN/udp.json')); s=d['end']['sum']; print(f\"{s['lost_packets']}/{s['packets']} lost\")" 2>/dev/null || echo "?")
png=$(grep -o "[0-9]* packets transmitted, [0-9]* received" "$RUN/ping.txt" || echo "?")
churn=$($PY -c "import json; d=json.load(open('$RUN/churn.json')); print(f\"client {d['flow_mods_acked']:,} flow-mods acknowledged, {d['flow_mods_per_s']:,.0f}/s of {d['rate_requested']:,.0f} asked, {d['errors']} errors\")" 2>/dev/null || echo "? ($(head -c 300 "$RUN/churn.err" 2>/dev/null))")
flood=$($PY -c "import json; d=json.load(open('$RUN/flood.json')); s=d['end']['sum']; print(f\"{s['packets']:,} datagrams sent, {s['packets'] / s['seconds']:,.0f}/s, {s['lost_packets']:,} lost\")" 2>/dev/null || echo "?")
row soak "$ok" "$SOAK min: $figs; ${res#FAIL }; traffic over 4 ports: A sent $atx, B sent $btx, C sent $ctx, D sent $dtx: switch received $rx (+$rxd ring drops) = $tx forwarded + $txd tx drops + $dr dropped by reason ($(droplist)), A received $arx, B $brx_, C $crx, D $drx (each what the switch sent it); paced: TCP $tcp Mbit/s, UDP $udp, ping $png; line rate C->D: $flood; churn: switch applied $fm_rate flow-mods/s over the run ($((fm1 - fm0)) in all), $churn; flows at end $final_flows (expected $((PERM + WINDOW))); controller killed $(cat "$RUN/tc.kills" 2>/dev/null || echo 0) times, connected $(grep -c 'controller connected' "$RUN/soak.log" || true) times; ctl $ctl"
[ -n "${SOAK_OUT:-}" ] && { cp "$RUN/soak.tsv" "$SOAK_OUT"; cp "$RUN/allocators.txt" "$SOAK_OUT.allocators"; cp "$RUN/mem.jsonl" "$SOAK_OUT.mem.jsonl"; }
kill $SPID; wait $SPID 2>/dev/null || true
