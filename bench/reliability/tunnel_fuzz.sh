# 6b. Frame fuzz through tunnel ports, sourced by run.sh (root, the namespaces of netns_up). Port 1 (namespace A's veth)
# is the underlay of four tunnel ports (VXLAN VNI 100, GRE key 5 and Geneve VNI 100 from 10.77.0.2, IP-in-IP from 10.77.0.3, the
# switch's endpoint 10.77.0.1); every port's traffic goes to port 2. Namespace A replays well-formed and malformed
# tunnel traffic (bench/reliability/frames.py tunnel) with tcpreplay --topspeed, as fast as it can inject. What
# port 1 receives must add up: sent back out of port 1 (ARP replies for the endpoint) + forwarded or dropped at port 2
# + dropped by a named reason (drop-*, tunnel-*); what arrives behind port 2 must equal what port 2 sent; each tunnel
# port must have decapsulated traffic; the managed allocations of the whole daemon during the replay must stay under
# 4 bytes a frame (no allocation per packet).
[ $QUICK = 1 ] && { TF_DISTINCT=20000; TF_LOOPS=3; } || { TF_DISTINCT=50000; TF_LOOPS=20; }
TP=$(port)
start tunnel-fuzz --ports afpacket:${VA}h,afpacket:${VB}h --listen ptcp:$TP --fail-mode secure --unixctl "$RUN/tf.ctl" --local-port none \
  --tunnel vx:vxlan,local=10.77.0.1,remote=10.77.0.2,vni=100,underlay=1,remote_mac=02:00:00:4d:00:02 \
  --tunnel gr:gre,local=10.77.0.1,remote=10.77.0.2,key=5,underlay=1,remote_mac=02:00:00:4d:00:02 \
  --tunnel ip:ipip,local=10.77.0.1,remote=10.77.0.3,underlay=1,remote_mac=02:00:00:4d:00:02 \
  --tunnel ge:geneve,local=10.77.0.1,remote=10.77.0.2,vni=100,underlay=1,remote_mac=02:00:00:4d:00:02
DPCTL="$RUN/tf.ctl"
for p in 1 3 4 5 6; do $OF add-flow tcp:127.0.0.1:$TP "priority=1,in_port=$p,actions=output:2"; done
# a second stage of the pipeline for decapsulated IPv4: a rewrite on the way out
$OF add-flow tcp:127.0.0.1:$TP "priority=5,in_port=3,ip,actions=mod_nw_tos:8,output:2"
$PY bench/reliability/frames.py tunnel --pcap "$RUN/tunnel.pcap" --count $TF_DISTINCT --seed $RANDOM >/dev/null
# "name=value" of every tunnel-* and drop-* counter, listed and summed
tdroplist() { dpshow | grep '^counters:' | tr ' ' '\n' | { grep -E '^(drop|tunnel)-' || true; } | tr '\n' ' '; }
tdrops() { tdroplist | tr ' ' '\n' | awk -F= '/=/ {s += $2} END {print s + 0}'; }
alloc() { $SSW ctl --target "$DPCTL" --format json memory/show | $PY -c "import json,sys; print(json.load(sys.stdin)['gc-allocated-bytes'])"; }
# the same replay once, untimed, so that first-use allocations (JIT, pools growing) are not counted
ip netns exec $NSA tcpreplay -q -i ${VA}n --topspeed "$RUN/tunnel.pcap" >/dev/null 2>&1 || true
sleep 1
read -r rx10 rxd10 tx10 txd10 <<<"$(portc 1)"; read -r _ _ tx20 txd20 <<<"$(portc 2)"
read -r r30 _ _ _ <<<"$(portc 3)"; read -r r40 _ _ _ <<<"$(portc 4)"; read -r r50 _ _ _ <<<"$(portc 5)"; read -r r60 _ _ _ <<<"$(portc 6)"
d0=$(tdrops); l0=$(tdroplist); b0=$(brx); a0=$(alloc)
ip netns exec $NSA tcpreplay -i ${VA}n --topspeed --loop $TF_LOOPS "$RUN/tunnel.pcap" >"$RUN/tcpreplay.txt" 2>&1 || true
sleep 2
a1=$(alloc)
read -r rx11 rxd11 tx11 txd11 <<<"$(portc 1)"; read -r _ _ tx21 txd21 <<<"$(portc 2)"
read -r r31 _ _ _ <<<"$(portc 3)"; read -r r41 _ _ _ <<<"$(portc 4)"; read -r r51 _ _ _ <<<"$(portc 5)"; read -r r61 _ _ _ <<<"$(portc 6)"
d1=$(tdrops); l1=$(tdroplist); b1=$(brx)
# the counters' increase during the timed replay
ldelta=$($PY -c "import sys; a=dict(x.split('=') for x in sys.argv[1].split()); b=dict(x.split('=') for x in sys.argv[2].split()); print(' '.join(f'{k}={int(v)-int(a.get(k,0))}' for k,v in b.items() if int(v)-int(a.get(k,0))))" "$l0" "$l1")
sent=$(grep -oE "Actual: [0-9]+ packets" "$RUN/tcpreplay.txt" | grep -oE "[0-9]+" | head -1 || echo 0)
pps=$(grep -oE "Rated: [0-9.]+ Bps, [0-9.]+ Mbps, [0-9.]+ pps" "$RUN/tcpreplay.txt" | grep -oE "[0-9.]+ pps" || echo "? pps")
rx=$((rx11 - rx10)) rxd=$((rxd11 - rxd10)) tx1=$((tx11 - tx10)) txd1=$((txd11 - txd10)) tx2=$((tx21 - tx20)) txd2=$((txd21 - txd20))
dr=$((d1 - d0)) brx_=$((b1 - b0)) dec3=$((r31 - r30)) dec4=$((r41 - r40)) dec5=$((r51 - r50)) dec6=$((r61 - r60)) al=$((a1 - a0))
ok=PASS why=""
[ $rx = $((tx1 + txd1 + tx2 + txd2 + dr)) ] || { ok=FAIL; why="$why counts do not add up;"; }
[ $((rx + rxd)) -le $((sent + 10)) ] || { ok=FAIL; why="$why more received than sent;"; }
[ $rx -ge $((sent / 4)) ] || { ok=FAIL; why="$why under a quarter received;"; }
[ $brx_ = $tx2 ] || { ok=FAIL; why="$why port 2 sent $tx2 but $brx_ arrived;"; }
[ $dec3 -gt 0 ] && [ $dec4 -gt 0 ] && [ $dec5 -gt 0 ] && [ $dec6 -gt 0 ] || { ok=FAIL; why="$why a tunnel decapsulated nothing;"; }
[ $al -le $((4 * rx + 262144)) ] || { ok=FAIL; why="$why $al bytes allocated;"; }
alive $DPID_PID || { ok=FAIL; why="$why the daemon died;"; }
row tunnel-fuzz $ok "$sent tunnel frames ($TF_DISTINCT distinct x $TF_LOOPS, tcpreplay --topspeed at $pps): port 1 received $rx (+$rxd ring drops) = $tx1 ARP replies + $((tx2 + txd2)) to port 2 + $dr dropped by reason ($ldelta); decapsulated vxlan $dec3, gre $dec4, ipip $dec5, geneve $dec6; $brx_ arrived behind port 2; $al bytes allocated by the daemon meanwhile ($((al / (rx > 0 ? rx : 1))) a frame, control socket included)${why:+; $why}"
kill $DPID_PID; wait $DPID_PID 2>/dev/null || true
