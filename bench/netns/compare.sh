#!/usr/bin/env bash
# Side-by-side: Softswitch and Open vSwitch's user-space bridge (datapath_type=netdev) forwarding between two
# network namespaces over veth, with the same generators and the same receiver counters. Prints one table:
# offered pps, delivered pps and loss per switch and backend (Softswitch AF_PACKET vs OVS default ports,
# Softswitch AF_XDP vs OVS type=afxdp), unthrottled trafgen and a paced tcpreplay step, iperf3 TCP, and the
# same with 10,000 installed flows and 10,000 flow-mods/s of churn. Needs root and scripts/install-deps.sh.
# Private names; ends only what it started; a full run takes about 10 minutes (3 without ROWS latency). ROWS=afxdp (or afpacket,churn)
# runs only those pairs; ROWS=latency measures, on a second pair of namespaces whose veths keep the kernel's default
# offloads (as a user's do), ping's average RTT, iperf3 TCP and sockperf TCP ping-pong through the Linux bridge,
# Softswitch (AF_PACKET: default busy-poll window, always busy, and 2 threads; AF_XDP) and OVS (default and afxdp
# ports; NO_LINGER=1 adds Softswitch AF_PACKET and AF_XDP with --linger-us 0, the thread blocking after the 50 us window
# as before the linger; OFFLOAD=1, the default, adds TCP through --offload xdp in native mode and the bridge beside it,
# both with GRO on at the namespace ends), medians of LAT_REPEAT (3) runs, plus Softswitch's idle CPU over 10 s once IDLE_SETTLE (20) s have passed since its start; ROWS=scaling forwards FLOWS (64) UDP
# flows unthrottled through Softswitch AF_PACKET (fanout by flow hash) and AF_XDP (one socket per queue) with 1 and with 2 threads, over veths
# with QUEUES (2) RX/TX queues (trafgen goes through the qdisc, so the sending veth spreads the flows over its queues by hash);
# ROWS=idle measures the CPU (utime + stime from /proc/PID/stat over IDLE_SECS (60) s, after IDLE_SETTLE (20) s) of an idle
# Softswitch with 2 afpacket and 2 afxdp ports on idle veths (1 and 2 threads) and of OVS user space with the same ports;
# SECS and PACED set the step length and the paced rate; PERF=PREFIX records a system-wide
# perf profile of each unthrottled step into PREFIX.<row>.
# Beside the tables: OUT (default bench/results/netns) gets netns-compare.json (delivered Mpps per row for both
# switches, the scaling rows, every ping RTT of the latency rows) and its plots from `bench plot` (SVG and PNG:
# rows, scaling, latency CDF); PLOTS=0 leaves them out.
set -uo pipefail
cd "$(dirname "$0")/../.."
SECS=${SECS:-3}
PACED=${PACED:-100000}
ROWS=${ROWS:-all}       # or a comma list of afpacket, afxdp, churn, latency, scaling, idle
FLOWS=${FLOWS:-1}       # UDP flows in the trafgen frames (distinct source ports); ROWS=scaling uses 64
LAT_REPEAT=${LAT_REPEAT:-3}
SINK=${SINK:-socket}    # or stack, see measure()
REPEAT=${REPEAT:-1}     # interleaved rounds; with more than one, medians of the unthrottled step at the end
[[ ",$ROWS," == *",scaling,"* ]] && [ "$FLOWS" = 1 ] && FLOWS=64
QUEUES=${QUEUES:-1}     # RX/TX queues of the veths; ROWS=scaling uses 2 (AF_XDP gets one socket per queue)
[[ ",$ROWS," == *",scaling,"* ]] && [ "$QUEUES" = 1 ] && QUEUES=2
IDLE_SECS=${IDLE_SECS:-60}
PLOTS=${PLOTS:-1}
OUT=${OUT:-bench/results/netns}
for t in ip trafgen tcpreplay iperf3 ovs-vswitchd ovs-ofctl sockperf; do command -v $t >/dev/null || { echo "needs $t (bash scripts/install-deps.sh)"; exit 2; }; done
dotnet build src/Softswitch -c Release -nologo -v q -clp:ErrorsOnly >/dev/null || exit 2
SSW="dotnet src/Softswitch/bin/Release/net10.0/softswitch.dll"
if [ "$PLOTS" = 1 ]; then dotnet build bench -c Release -nologo -v q -clp:ErrorsOnly >/dev/null || exit 2; fi

TAG=$(printf '%04x' $((RANDOM)))
NA=sswcmpa$TAG NB=sswcmpb$TAG
VA=cmpa$TAG VB=cmpb$TAG          # namespace ends
HA=cmpa${TAG}h HB=cmpb${TAG}h    # switch ends
RUN=$(mktemp -d /tmp/ssw-cmp.XXXXXX)
pids=()

ovs_down() {
  if [ -f "$RUN/ovs-vswitchd.pid" ]; then
    ovs-vsctl --db=unix:$RUN/db.sock --timeout=5 -- --if-exists del-br br$TAG >/dev/null 2>&1
    kill "$(cat $RUN/ovs-vswitchd.pid)" 2>/dev/null; rm -f $RUN/ovs-vswitchd.pid
  fi
  if [ -f "$RUN/ovsdb-server.pid" ]; then kill "$(cat $RUN/ovsdb-server.pid)" 2>/dev/null; rm -f $RUN/ovsdb-server.pid; fi
}
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  ovs_down
  ip netns del $NA 2>/dev/null; ip netns del $NB 2>/dev/null
  rm -rf "$RUN"
}
trap cleanup EXIT

topology() {
  ip netns add $NA; ip netns add $NB
  local q="numtxqueues $QUEUES numrxqueues $QUEUES"
  ip link add $HA $q type veth peer name $VA $q; ip link add $HB $q type veth peer name $VB $q
  ip link set $VA netns $NA; ip link set $VB netns $NB
  for pair in "$NA $VA 10.88.0.1" "$NB $VB 10.88.0.2"; do
    set -- $pair
    ip -n $1 addr add $3/24 dev $2; ip -n $1 link set $2 up; ip -n $1 link set lo up
    ip netns exec $1 sysctl -qw net.ipv6.conf.$2.disable_ipv6=1
    ip netns exec $1 ethtool -K $2 tx off tso off gso off gro off sg off >/dev/null 2>&1
  done
  for h in $HA $HB; do ip link set $h up; sysctl -qw net.ipv6.conf.$h.disable_ipv6=1; ethtool -K $h tx off tso off gso off gro off >/dev/null 2>&1; done
  MACB=$(ip netns exec $NB cat /sys/class/net/$VB/address)
  MACA=$(ip netns exec $NA cat /sys/class/net/$VA/address)
  ip -n $NA neigh replace 10.88.0.2 lladdr $MACB dev $VA
  ip -n $NB neigh replace 10.88.0.1 lladdr $MACA dev $VB
}

# 64-byte UDP frames A -> B for trafgen (a config) and tcpreplay (a one-packet pcap, looped).
frames() {
  python3 - "$RUN" "$MACA" "$MACB" "$FLOWS" <<'PY'
import struct, sys
run, a, b, flows = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
mac = lambda m: bytes(int(x, 16) for x in m.split(':'))
def csum(x):
    s = sum(struct.unpack('!%dH' % (len(x) // 2), x)); s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 46, 1, 0, 64, 17, 0, bytes([10, 88, 0, 1]), bytes([10, 88, 0, 2]))
ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
udp = struct.pack('!HHHH', 9, 9, 26, 0) + bytes(18)
f = mac(b) + mac(a) + b'\x08\x00' + ip + udp
assert len(f) == 60
with open(run + '/trafgen.cfg', 'w') as cfg:   # one frame per flow (source ports 9, 1001, 1002, ...); trafgen cycles through them
    for i in range(flows):
        g = f[:34] + struct.pack('!H', 9 if i == 0 else 1000 + i) + f[36:]
        cfg.write('{ ' + ', '.join('0x%02x' % c for c in g) + ' }\n')
with open(run + '/udp.pcap', 'wb') as p:
    p.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    p.write(struct.pack('<IIII', 0, 0, len(f), len(f)) + f)
PY
}

rx() { ip netns exec $NB cat /sys/class/net/$VB/statistics/rx_packets; }
tx() { ip netns exec $NA cat /sys/class/net/$VA/statistics/tx_packets; }

measure() {   # $1 label
  local label=$1 t0 r0 t1 r1 off del loss mbit sink=""
  # The receiver: with SINK=socket (default) a UDP socket on port 9 that never reads, so B's kernel drops each frame at
  # the socket (counted in B's rx_packets first); with SINK=stack nothing listens and B's kernel answers every frame
  # with an ICMP port unreachable attempt (route lookups, rate limiting), work that runs on the forwarding CPU of
  # whichever switch delivers the frame and so measures B's stack more than the switch.
  if [ "$SINK" = socket ]; then
    ip netns exec $NB python3 -c 'import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1); s.bind(("10.88.0.2", 9))
time.sleep(3600)' & sink=$!
    sleep 0.3
  fi
  # unthrottled trafgen
  t0=$(tx); r0=$(rx)
  if [ -n "${PERF:-}" ]; then (sleep 1; perf record -q -a -g -o "$PERF.$(echo $label | tr -c 'A-Za-z0-9\n' _)" -- sleep $((SECS - 2)) >/dev/null 2>&1) & fi
  ip netns exec $NA timeout $SECS trafgen --dev $VA --conf $RUN/trafgen.cfg --cpus 1 -q >/dev/null 2>&1; sleep 0.5
  sleep 0.5; t1=$(tx); r1=$(rx)
  off=$(( (t1 - t0) / SECS )); del=$(( (r1 - r0) / SECS ))
  loss=$(awk -v o=$((t1 - t0)) -v d=$((r1 - r0)) 'BEGIN { printf "%.1f", o ? 100 * (o - d) / o : 0 }')
  printf "%-34s %-13s %12s %12s %7s%%\n" "$label" "trafgen max" "$off" "$del" "$loss"
  echo "$label|$del" >> $RUN/max.txt
  # paced
  local n=$((PACED * 2))
  t0=$(tx); r0=$(rx)
  ip netns exec $NA tcpreplay -q -i $VA --pps $PACED --loop $n $RUN/udp.pcap >/dev/null 2>&1
  sleep 0.5; t1=$(tx); r1=$(rx)
  loss=$(awk -v o=$((t1 - t0)) -v d=$((r1 - r0)) 'BEGIN { printf "%.2f", o ? 100 * (o - d) / o : 0 }')
  printf "%-34s %-13s %12s %12s %7s%%\n" "$label" "paced" "$(( (t1 - t0) / 2 ))" "$(( (r1 - r0) / 2 ))" "$loss"
  # TCP
  ip netns exec $NB iperf3 -s -1 -B 10.88.0.2 >/dev/null 2>&1 &
  local sp=$!; sleep 0.5
  mbit=$(ip netns exec $NA iperf3 -c 10.88.0.2 -t $SECS -J < /dev/null 2>/dev/null | python3 -c 'import json,sys; print("%.0f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e6))' 2>/dev/null || echo "-")
  kill $sp 2>/dev/null; wait $sp 2>/dev/null
  printf "%-34s %-13s %12s %12s %8s\n" "$label" "iperf3 TCP" "" "${mbit} Mbit/s" ""
  [ -n "$sink" ] && { kill $sink 2>/dev/null; wait $sink 2>/dev/null; }
}

flows_file() {  # 10,000 flows that do not match the test traffic
  python3 -c '
for i in range(10000):
    print("priority=50,ip,nw_src=172.%d.%d.%d,nw_dst=192.168.7.7,actions=drop" % (16 + (i >> 16), (i >> 8) & 255, i & 255))' > $RUN/flows10k.txt
  head -500 $RUN/flows10k.txt > $RUN/churn.txt
}

churn() {  # $1 endpoint: 10,000 flow-mods/s (500 deletes + 500 adds, ten times a second)
  while true; do
    ovs-ofctl -O OpenFlow10 del-flows $1 $RUN/churn.txt >/dev/null 2>&1 || ovs-ofctl -O OpenFlow10 --strict del-flows $1 "priority=50,ip,nw_src=172.16.0.0,nw_dst=192.168.7.7" >/dev/null 2>&1
    ovs-ofctl -O OpenFlow10 add-flows $1 $RUN/churn.txt >/dev/null 2>&1
    sleep 0.05
  done
}

run_ssw() {  # $1 backend (afpacket|afxdp) $2 churn(0|1)
  local port=$((30000 + RANDOM % 20000))
  $SSW run --ports $1:$HA,$1:$HB --listen ptcp:$port --fail-mode secure --threads ${SSW_THREADS:-1} --log-level Warning > $RUN/ssw.log 2>&1 &
  local sp=$!; pids+=($sp)
  for i in $(seq 100); do ovs-ofctl -O OpenFlow10 show tcp:127.0.0.1:$port >/dev/null 2>&1 && break; sleep 0.1; done
  ovs-ofctl -O OpenFlow10 add-flow tcp:127.0.0.1:$port "priority=100,in_port=1,actions=output:2"
  ovs-ofctl -O OpenFlow10 add-flow tcp:127.0.0.1:$port "priority=100,in_port=2,actions=output:1"
  local cp=""
  if [ "$2" = 1 ]; then ovs-ofctl -O OpenFlow10 add-flows tcp:127.0.0.1:$port $RUN/flows10k.txt; churn tcp:127.0.0.1:$port & cp=$!; fi
  measure "Softswitch $1$([ "$2" = 1 ] && echo ' +10k flows, churn')${3:-}"
  [ -n "$cp" ] && kill $cp 2>/dev/null
  kill $sp; wait $sp 2>/dev/null
}

run_ovs() {  # $1 port type (default|afxdp) $2 churn
  export OVS_RUNDIR=$RUN OVS_LOGDIR=$RUN OVS_DBDIR=$RUN
  rm -f $RUN/conf.db
  ovsdb-tool create $RUN/conf.db /usr/share/openvswitch/vswitch.ovsschema
  ovsdb-server $RUN/conf.db --remote=punix:$RUN/db.sock --pidfile=$RUN/ovsdb-server.pid --log-file=$RUN/ovsdb-server.log --unixctl=$RUN/ovsdb-server.ctl --detach --no-chdir 2>/dev/null
  local V="ovs-vsctl --db=unix:$RUN/db.sock"
  $V --no-wait init
  ovs-vswitchd unix:$RUN/db.sock --pidfile=$RUN/ovs-vswitchd.pid --log-file=$RUN/ovs-vswitchd.log --unixctl=$RUN/ovs-vswitchd.ctl --detach --no-chdir 2>/dev/null
  local port=$((30000 + RANDOM % 20000))
  $V add-br br$TAG -- set bridge br$TAG datapath_type=netdev protocols=OpenFlow10 fail-mode=secure -- set-controller br$TAG ptcp:$port:127.0.0.1
  if [ "$1" = afxdp ]; then
    $V add-port br$TAG $HA -- set interface $HA type=afxdp options:n_rxq=$QUEUES ofport_request=1 -- add-port br$TAG $HB -- set interface $HB type=afxdp options:n_rxq=$QUEUES ofport_request=2
  else
    $V add-port br$TAG $HA -- set interface $HA ofport_request=1 -- add-port br$TAG $HB -- set interface $HB ofport_request=2
  fi
  for i in $(seq 100); do ovs-ofctl -O OpenFlow10 show tcp:127.0.0.1:$port >/dev/null 2>&1 && break; sleep 0.1; done
  ovs-ofctl -O OpenFlow10 add-flow tcp:127.0.0.1:$port "priority=100,in_port=1,actions=output:2"
  ovs-ofctl -O OpenFlow10 add-flow tcp:127.0.0.1:$port "priority=100,in_port=2,actions=output:1"
  local cp=""
  if [ "$2" = 1 ]; then ovs-ofctl -O OpenFlow10 add-flows tcp:127.0.0.1:$port $RUN/flows10k.txt; churn tcp:127.0.0.1:$port & cp=$!; fi
  measure "Open vSwitch $1$([ "$2" = 1 ] && echo ' +10k flows, churn')"
  [ -n "$cp" ] && kill $cp 2>/dev/null
  ovs_down
}


# ---- latency, TCP with the kernel's offloads, TCP request/response, idle CPU (ROWS=latency) ----
LA=ltca$TAG LB=ltcb$TAG NLA=sswlata$TAG NLB=sswlatb$TAG
lat_topology() {   # a second pair of namespaces; offloads stay as the kernel sets them (tx csum, TSO, GSO on; a veth's GRO is off)
  ip netns add $NLA; ip netns add $NLB
  ip link add ${LA}h type veth peer name $LA; ip link add ${LB}h type veth peer name $LB
  ip link set $LA netns $NLA; ip link set $LB netns $NLB
  for pair in "$NLA $LA 10.89.0.1" "$NLB $LB 10.89.0.2"; do
    set -- $pair
    ip -n $1 addr add $3/24 dev $2; ip -n $1 link set $2 up; ip -n $1 link set lo up
    ip netns exec $1 sysctl -qw net.ipv6.conf.$2.disable_ipv6=1
  done
  for h in ${LA}h ${LB}h; do ip link set $h up; sysctl -qw net.ipv6.conf.$h.disable_ipv6=1; done
}
lat_cleanup() { ip netns del $NLA 2>/dev/null; ip netns del $NLB 2>/dev/null; ip link del br$TAG 2>/dev/null; true; }   # each may be gone already

lat_measure() {   # $1 label: one line per run into lat.txt: label|ping avg ms|TCP Mbit/s|RR transactions/s|sockperf avg one-way us
  local label=$1 rtt mbit rr lat sp
  ip netns exec $NLA ping -q -c 20 -i 0.05 -W 1 10.89.0.2 >/dev/null 2>&1   # ARP, learning, warm-up
  (ip netns exec $NLA ping -c 200 -i 0.01 -W 1 10.89.0.2 2>/dev/null || true) > $RUN/ping.out
  rtt=$(awk -F/ '/^rtt/ { print $5 }' $RUN/ping.out)
  # every reply's RTT, for the latency CDF
  awk -v l="$label" 'match($0, /time=[0-9.]+/) { print l "|" substr($0, RSTART + 5, RLENGTH - 5) }' $RUN/ping.out >> $RUN/lat-samples.txt
  ip netns exec $NLB iperf3 -s -1 -B 10.89.0.2 >/dev/null 2>&1 & sp=$!; sleep 0.5
  mbit=$( (ip netns exec $NLA timeout $((SECS + 15)) iperf3 -c 10.89.0.2 -t $SECS ${CPORT:+--cport $CPORT} -J < /dev/null 2>/dev/null || true) | python3 -c 'import json,sys; print("%.0f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e6))' 2>/dev/null)
  [ -z "$mbit" ] && mbit=0   # no JSON: the connection never got going
  kill $sp 2>/dev/null; wait $sp 2>/dev/null
  ip netns exec $NLB sockperf sr --tcp -i 10.89.0.2 -p 11111 >/dev/null 2>&1 & sp=$!; sleep 0.5
  lat=$( (ip netns exec $NLA timeout $((SECS + 15)) sockperf pp --tcp -i 10.89.0.2 -p 11111 -t $SECS 2>/dev/null || true) | sed -n 's/.*avg-latency=\([0-9.]*\).*/\1/p' | head -1)
  kill $sp 2>/dev/null; wait $sp 2>/dev/null
  rr=$(awk -v l="${lat:-0}" 'BEGIN { if (l > 0) printf "%.0f", 1e6 / (2 * l); else print "-" }')
  echo "$label|${rtt:--}|${mbit:--}|$rr|${lat:--}" >> $RUN/lat.txt
  printf "%-40s ping avg %8s ms   TCP %7s Mbit/s   TCP_RR %7s /s\n" "$label" "${rtt:--}" "${mbit:--}" "$rr"
}

lat_bridge() {   # $1 label suffix
  ip link add br$TAG type bridge; ip link set br$TAG up
  ip link set ${LA}h master br$TAG; ip link set ${LB}h master br$TAG
  lat_measure "Linux bridge${1:-}"
  ip link set ${LA}h nomaster; ip link set ${LB}h nomaster; ip link del br$TAG
}

lat_ssw() {   # $1 backend $2 label suffix, then extra run options
  local be=$1 suffix=$2; shift 2
  local port=$((30000 + RANDOM % 20000))
  $SSW run --ports $be:${LA}h,$be:${LB}h --listen ptcp:$port --fail-mode secure --unixctl none --log-level Warning "$@" > $RUN/ssw-lat.log 2>&1 &
  local sp=$!; pids+=($sp)
  for i in $(seq 100); do ovs-ofctl -O OpenFlow10 show tcp:127.0.0.1:$port >/dev/null 2>&1 && break; sleep 0.1; done
  ovs-ofctl -O OpenFlow10 add-flow tcp:127.0.0.1:$port "priority=100,in_port=1,actions=output:2"
  ovs-ofctl -O OpenFlow10 add-flow tcp:127.0.0.1:$port "priority=100,in_port=2,actions=output:1"
  if [ "${IDLE_DONE:-0}" = 0 ] && [ "$be" = afpacket ] && [ -z "$suffix" ]; then   # idle CPU: utime + stime over 10 s
    # after IDLE_SETTLE s: the runtime's start-up work (JIT tiering) is not idling (measured: 6.5% of a core in the
    # first 10 s after start, 1.5% in the next 10, 0.5% after 20)
    sleep ${IDLE_SETTLE:-20}
    local c0 c1 hz; hz=$(getconf CLK_TCK)
    c0=$(awk '{ print $14 + $15 }' /proc/$sp/stat); sleep 10; c1=$(awk '{ print $14 + $15 }' /proc/$sp/stat)
    IDLE_CPU=$(awk -v a=$c0 -v b=$c1 -v hz=$hz 'BEGIN { printf "%.2f", 100 * (b - a) / hz / 10 }')
    IDLE_DONE=1
  fi
  lat_measure "Softswitch $be$suffix"
  kill $sp; wait $sp 2>/dev/null
}

lat_offload() {   # TCP through --offload xdp in native mode against the bridge, GRO on at both namespace ends for both
  # (a veth drops what XDP redirects into it unless its peer has GRO on or an XDP program). iperf3's data connection
  # gets a fixed client port, so two exact flows (OpenFlow 1.0's twelve fields) carry it in the kernel; ping, sockperf
  # and iperf3's control connection take the in_port flows, in software.
  local port=$((30000 + RANDOM % 20000)) ma mb held
  ip netns exec $NLA ethtool -K $LA gro on >/dev/null 2>&1; ip netns exec $NLB ethtool -K $LB gro on >/dev/null 2>&1
  CPORT=45679 lat_bridge ", GRO on"
  ma=$(ip -n $NLA -br link show $LA | awk '{ print $3 }'); mb=$(ip -n $NLB -br link show $LB | awk '{ print $3 }')
  $SSW run --ports afxdp:${LA}h:xdp-mode=native,afxdp:${LB}h:xdp-mode=native --offload xdp --listen ptcp:$port --fail-mode secure \
    --unixctl $RUN/lat.ctl --log-level Warning > $RUN/ssw-lat.log 2>&1 &
  local sp=$!; pids+=($sp)
  for i in $(seq 100); do ovs-ofctl -O OpenFlow10 show tcp:127.0.0.1:$port >/dev/null 2>&1 && break; sleep 0.1; done
  ovs-ofctl -O OpenFlow10 add-flow tcp:127.0.0.1:$port "priority=100,in_port=1,actions=output:2"
  ovs-ofctl -O OpenFlow10 add-flow tcp:127.0.0.1:$port "priority=100,in_port=2,actions=output:1"
  ovs-ofctl -O OpenFlow10 add-flow tcp:127.0.0.1:$port "priority=200,in_port=1,dl_src=$ma,dl_dst=$mb,dl_vlan=0xffff,tcp,nw_src=10.89.0.1,nw_dst=10.89.0.2,nw_tos=0,tp_src=45679,tp_dst=5201,actions=output:2"
  ovs-ofctl -O OpenFlow10 add-flow tcp:127.0.0.1:$port "priority=200,in_port=2,dl_src=$mb,dl_dst=$ma,dl_vlan=0xffff,tcp,nw_src=10.89.0.2,nw_dst=10.89.0.1,nw_tos=0,tp_src=5201,tp_dst=45679,actions=output:1"
  for i in $(seq 50); do $SSW ctl -t $RUN/lat.ctl offload/show 2>/dev/null | grep -q "^hardware flows: 2 " && break; sleep 0.1; done
  CPORT=45679 lat_measure "Softswitch afxdp --offload xdp, GRO on"
  held=$($SSW ctl -t $RUN/lat.ctl offload/show 2>/dev/null | grep -E "^hardware (flows|packets):" | tr '\n' ' ')
  echo "  offload/show after the row: ${held:-(no answer)}"
  kill $sp; wait $sp 2>/dev/null
  ip netns exec $NLA ethtool -K $LA gro off >/dev/null 2>&1; ip netns exec $NLB ethtool -K $LB gro off >/dev/null 2>&1
}

lat_ovs() {   # $1 port type (default|afxdp); OVS runs in its own namespace (its ovs-netdev tap must not collide)
  export OVS_RUNDIR=$RUN OVS_LOGDIR=$RUN OVS_DBDIR=$RUN
  rm -f $RUN/conf.db
  ovsdb-tool create $RUN/conf.db /usr/share/openvswitch/vswitch.ovsschema
  ovsdb-server $RUN/conf.db --remote=punix:$RUN/db.sock --pidfile=$RUN/ovsdb-server.pid --log-file=$RUN/ovsdb-server.log --unixctl=$RUN/ovsdb-server.ctl --detach --no-chdir 2>/dev/null
  local V="ovs-vsctl --db=unix:$RUN/db.sock"
  $V --no-wait init
  ovs-vswitchd unix:$RUN/db.sock --pidfile=$RUN/ovs-vswitchd.pid --log-file=$RUN/ovs-vswitchd.log --unixctl=$RUN/ovs-vswitchd.ctl --detach --no-chdir 2>/dev/null
  local port=$((30000 + RANDOM % 20000))
  $V add-br br$TAG -- set bridge br$TAG datapath_type=netdev protocols=OpenFlow10 fail-mode=secure -- set-controller br$TAG ptcp:$port:127.0.0.1
  if [ "$1" = afxdp ]; then
    $V add-port br$TAG ${LA}h -- set interface ${LA}h type=afxdp ofport_request=1 -- add-port br$TAG ${LB}h -- set interface ${LB}h type=afxdp ofport_request=2
  else
    $V add-port br$TAG ${LA}h -- set interface ${LA}h ofport_request=1 -- add-port br$TAG ${LB}h -- set interface ${LB}h ofport_request=2
  fi
  for i in $(seq 100); do ovs-ofctl -O OpenFlow10 show tcp:127.0.0.1:$port >/dev/null 2>&1 && break; sleep 0.1; done
  ovs-ofctl -O OpenFlow10 add-flow tcp:127.0.0.1:$port "priority=100,in_port=1,actions=output:2"
  ovs-ofctl -O OpenFlow10 add-flow tcp:127.0.0.1:$port "priority=100,in_port=2,actions=output:1"
  lat_measure "Open vSwitch $1"
  ovs_down
}

lat_rows() {
  lat_topology
  echo
  echo "latency and TCP through each switch, veth offloads left on (ping 200 x 10 ms; iperf3 ${SECS} s; sockperf TCP ping-pong ${SECS} s)"
  for round in $(seq $LAT_REPEAT); do
    lat_bridge
    lat_ssw afpacket ""
    lat_ssw afpacket " busy-poll 100 ms" --busy-poll-us 100000
    lat_ssw afpacket " 2 threads" --threads 2
    lat_ssw afxdp ""
    [ "${NO_LINGER:-0}" = 1 ] && { lat_ssw afpacket " no linger" --linger-us 0; lat_ssw afxdp " no linger" --linger-us 0; }
    [ "${OVS:-1}" = 1 ] && { lat_ovs default; lat_ovs afxdp; }
    [ "${OFFLOAD:-1}" = 1 ] && lat_offload
  done
  echo
  printf "%-40s %14s %14s %14s %18s\n" "switch (medians of $LAT_REPEAT)" "ping avg ms" "TCP Mbit/s" "TCP_RR /s" "sockperf one-way us"
  python3 - "$RUN/lat.txt" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    f = line.rstrip('\n').split('|')
    rows.setdefault(f[0], []).append(f[1:])
def med(vals):
    v = [float(x) for x in vals if x not in ('-', '')]
    return statistics.median(v) if v else None
for label, runs in rows.items():
    cols = [med([r[i] for r in runs]) for i in range(4)]
    fmt = lambda x, p: '-' if x is None else ('%.' + str(p) + 'f') % x
    print("%-40s %14s %14s %14s %18s" % (label, fmt(cols[0], 3), fmt(cols[1], 0), fmt(cols[2], 0), fmt(cols[3], 1)))
PY
  [ -n "${IDLE_CPU:-}" ] && echo "Softswitch afpacket idle: ${IDLE_CPU}% of one core over 10 s, ${IDLE_SETTLE:-20} s after start (utime+stime from /proc/PID/stat)"
  lat_cleanup
}

# ---- idle CPU (ROWS=idle): 2 afpacket + 2 afxdp ports on veths nothing is sent on ----
NI=sswidle$TAG
idle_topology() {
  ip netns add $NI
  for i in 1 2 3 4; do
    ip link add idl$i${TAG}h type veth peer name idl$i$TAG; ip link set idl$i$TAG netns $NI
    ip netns exec $NI sysctl -qw net.ipv6.conf.idl$i$TAG.disable_ipv6=1; ip -n $NI link set idl$i$TAG up
    sysctl -qw net.ipv6.conf.idl$i${TAG}h.disable_ipv6=1; ip link set idl$i${TAG}h up
  done
}
idle_cpu() {   # $1 pid: % of one core (utime + stime) over IDLE_SECS, after IDLE_SETTLE
  local c0 c1 hz; hz=$(getconf CLK_TCK)
  sleep ${IDLE_SETTLE:-20}
  c0=$(awk '{ print $14 + $15 }' /proc/$1/stat); sleep $IDLE_SECS; c1=$(awk '{ print $14 + $15 }' /proc/$1/stat)
  awk -v a=$c0 -v b=$c1 -v hz=$hz -v s=$IDLE_SECS 'BEGIN { printf "%.2f", 100 * (b - a) / hz / s }'
}
idle_ssw() {   # $1 label, then extra run options
  local label=$1; shift
  local port=$((30000 + RANDOM % 20000))
  $SSW run --ports afpacket:idl1${TAG}h,afpacket:idl2${TAG}h,afxdp:idl3${TAG}h,afxdp:idl4${TAG}h --listen ptcp:$port --fail-mode secure --log-level Warning "$@" > $RUN/ssw-idle.log 2>&1 &
  local sp=$!; pids+=($sp)
  for i in $(seq 100); do ovs-ofctl -O OpenFlow10 show tcp:127.0.0.1:$port >/dev/null 2>&1 && break; sleep 0.1; done
  printf "%-44s %8s%% of one core\n" "$label" "$(idle_cpu $sp)"
  kill $sp; wait $sp 2>/dev/null
}
idle_ovs() {
  export OVS_RUNDIR=$RUN OVS_LOGDIR=$RUN OVS_DBDIR=$RUN
  rm -f $RUN/conf.db
  ovsdb-tool create $RUN/conf.db /usr/share/openvswitch/vswitch.ovsschema
  ovsdb-server $RUN/conf.db --remote=punix:$RUN/db.sock --pidfile=$RUN/ovsdb-server.pid --log-file=$RUN/ovsdb-server.log --unixctl=$RUN/ovsdb-server.ctl --detach --no-chdir 2>/dev/null
  local V="ovs-vsctl --db=unix:$RUN/db.sock"
  $V --no-wait init
  ovs-vswitchd unix:$RUN/db.sock --pidfile=$RUN/ovs-vswitchd.pid --log-file=$RUN/ovs-vswitchd.log --unixctl=$RUN/ovs-vswitchd.ctl --detach --no-chdir 2>/dev/null
  $V add-br br$TAG -- set bridge br$TAG datapath_type=netdev protocols=OpenFlow10 fail-mode=secure \
    -- add-port br$TAG idl1${TAG}h -- add-port br$TAG idl2${TAG}h \
    -- add-port br$TAG idl3${TAG}h -- set interface idl3${TAG}h type=afxdp -- add-port br$TAG idl4${TAG}h -- set interface idl4${TAG}h type=afxdp
  printf "%-44s %8s%% of one core\n" "Open vSwitch user space (2 default, 2 afxdp)" "$(idle_cpu $(cat $RUN/ovs-vswitchd.pid))"
  ovs_down
}
idle_rows() {
  idle_topology
  echo
  echo "idle CPU: 2 afpacket + 2 afxdp ports on idle veths, utime+stime over $IDLE_SECS s after ${IDLE_SETTLE:-20} s (/proc/PID/stat)"
  idle_ssw "Softswitch, 1 thread"
  idle_ssw "Softswitch, 2 threads" --threads 2
  [ "${OVS:-1}" = 1 ] && idle_ovs
  ip netns del $NI 2>/dev/null
}

trap 'lat_cleanup; ip netns del $NI 2>/dev/null; cleanup' EXIT
topology
frames
flows_file
printf "%-34s %-13s %12s %12s %8s\n" "switch / backend" "load" "offered pps" "delivered" "loss"
want() { [ "$ROWS" = all ] || [[ ",$ROWS," == *",$1,"* ]]; }
ovs() { [ "${OVS:-1}" = 1 ] && run_ovs "$@"; }   # OVS=0: Softswitch rows only
for round in $(seq $REPEAT); do
  if [[ ",$ROWS," == *",scaling,"* ]]; then
    for be in afpacket afxdp; do
      SSW_THREADS=1 run_ssw $be 0 " 1 thread, $FLOWS flows"; SSW_THREADS=2 run_ssw $be 0 " 2 threads, $FLOWS flows"
    done
  fi
  want afpacket && { run_ssw afpacket 0; ovs default 0; }
  want afxdp && { run_ssw afxdp 0; ovs afxdp 0; }
  want churn && { run_ssw afpacket 1; ovs default 1; }
done
if [ "$REPEAT" -gt 1 ]; then   # medians of the unthrottled step over the interleaved rounds
  echo
  printf "%-34s %-13s %12s %s\n" "switch / backend" "rounds" "median pps" "each round"
  python3 - "$RUN/max.txt" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    label, d = line.rstrip('\n').split('|')
    rows.setdefault(label, []).append(int(d))
for label, v in rows.items():
    print("%-34s %-13d %12d %s" % (label, len(v), statistics.median(v), " ".join(map(str, v))))
PY
fi
if want latency; then lat_rows; fi
if want idle; then idle_rows; fi

# The result file and its plots: rows are the unthrottled steps (medians over the rounds), Softswitch beside Open
# vSwitch with the same kind of port; scaling rows by thread count; latency rows' ping RTTs.
if [ "$PLOTS" = 1 ]; then
  mkdir -p "$OUT"
  touch $RUN/max.txt $RUN/lat-samples.txt
  python3 - "$RUN/max.txt" "$RUN/lat-samples.txt" "$OUT/netns-compare.json" "$SECS" <<'PY'
import json, re, statistics, sys
maxf, latf, out, secs = sys.argv[1:5]
delivered = {}
for line in open(maxf):
    label, d = line.rstrip('\n').split('|')
    delivered.setdefault(label, []).append(int(d))
med = {k: statistics.median(v) / 1e6 for k, v in delivered.items()}
pairs = [("afpacket", "Softswitch afpacket", "Open vSwitch default"),
         ("afxdp", "Softswitch afxdp", "Open vSwitch afxdp"),
         ("10k flows + churn", "Softswitch afpacket +10k flows, churn", "Open vSwitch default +10k flows, churn")]
items = [{"name": n, "softswitch": med[s], "peer": med.get(o)} for n, s, o in pairs if s in med]
scaling = {}
for label, mpps in med.items():
    m = re.match(r"^(Softswitch \w+) (\d+) threads?, (\d+) flows$", label)
    if m:
        scaling.setdefault(m.group(1) + ", %s flows" % m.group(3), {})[int(m.group(2))] = mpps
lat = {}
for line in open(latf):
    label, v = line.rstrip('\n').rsplit('|', 1)
    lat.setdefault(label, []).append(float(v))
r = {"title": "Softswitch and Open vSwitch user space over veth (trafgen 64-byte UDP, %s s steps)" % secs}
if items:
    r["rows"] = {"peer": "Open vSwitch (user space)", "unit": "Mpps delivered", "items": items}
if scaling:
    r["scaling"] = {"series": [{"name": k, "threads": sorted(v), "mpps": [v[t] for t in sorted(v)]} for k, v in scaling.items()]}
if lat:
    r["latency"] = {"what": "ping round trip", "unit": "ms", "series": [{"name": k, "samples": v} for k, v in lat.items()]}
json.dump(r, open(out, "w"), indent=1)
PY
  if grep -q -e '"rows"' -e '"scaling"' -e '"latency"' "$OUT/netns-compare.json"; then
    echo
    dotnet bench/bin/Release/net10.0/Softswitch.Bench.dll plot --input "$OUT/netns-compare.json" --out "$OUT"
  fi
fi
exit 0
