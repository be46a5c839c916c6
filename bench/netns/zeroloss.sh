#!/usr/bin/env bash
# Zero-loss throughput over veth, RFC 2544 style: for each row (a forwarder between two veths) and each frame size and
# flow count, the highest offered rate whose loss stays at or under LOSS_PCT (0.01%) over a STEP-second step, found by
# binary search; beside it the delivered rate of an unthrottled step and of BURST-frame bursts (the first starting
# while the forwarder sleeps, the second right after it).
#
# Topology: namespace A (the generator, `bench gen` on GEN_CPU, paced) -> veth -> namespace S (the forwarder between
# HA and HB, everything of it pinned to FWD_CPU) -> veth -> namespace B, where an XDP_DROP program (`bench xdp drop`)
# counts what arrives in the veth's xdp_drops, so the sink costs no forwarding CPU.
# The generator (GEN_MODE, default auto): `--mode xdp` (the kernel's XDP test-run in live-frames mode, our program
# redirecting XDP frames into VA, no socket buffer per frame) for the rows whose HA runs an XDP program (gen-only, the
# AF_XDP rows, ssw-offload, xdp-redirect), `--mode packet` (AF_PACKET TX ring, qdisc bypass) for the others, which the
# XDP frames cannot reach. What each offers alone into a veth with an XDP_DROP peer, 64 B, unthrottled, pinned to CPU 0,
# alternating with Debian's trafgen (-P 1) on the same veths, three rounds on a shared machine: at load average 17-22,
# xdp 1.69-1.82 Mpps (1,000 flows 1.57-1.75), packet 0.263-0.278, trafgen 0.257-0.265 (xdp 6.4-7.1x trafgen); at
# 40-51, xdp 0.475-0.518, packet 0.182-0.209, trafgen 0.192-0.208 (2.4-2.6x); xdp costs ~200-245 ns of the process's
# CPU time per frame against trafgen's ~1,330. This script's gen-only row, 1,000 flows, load 46: 1.768 Mpps offered and
# delivered. Paced, the generator keeps the asked rate while its CPU share allows (100 kpps asked: 99,999 offered); one
# that falls behind by more than its depth (--depth, 128 frames) loses those frames and says so (generator_missed; the
# step is flagged generator_short), as it did on the loaded machine at 0.3-1.5 Mpps.
# Rows (ROWS, comma list, run interleaved in this order, REPEAT rounds):
#   ssw-afxdp, ssw-afpacket   Softswitch with afxdp / afpacket ports (--forwarding-cpus FWD_CPU: its forwarding thread
#                             there, its other threads elsewhere; SSW_CPUS=1 puts the whole process on CPU 1 with
#                             taskset, as ovs-vswitchd; SSW_ARGS added; SSW_THREADS forwarding threads, default 1,
#                             all on FWD_CPU: with 2, HA's thread transmits to HB whose queue the other one receives)
#   ssw-afxdp-deep,           ssw-afxdp / ssw-afpacket with receive rings DEEP_FRAMES frames deep (the port option
#   ssw-afpacket-deep         rx-frames; default 524,288, 1 GiB of memory per port at 2 KiB a frame): what a ring deep
#                             enough for the burst keeps (bursts and the unthrottled step only: a step of a few
#                             seconds cannot tell a rate the thread sustains from one its ring absorbs)
#   ssw-offload               ssw-afxdp with --offload xdp and one exact flow per generator flow (the largest of
#                             FLOW_SET, installed with ovs-ofctl add-flows beside the in_port=1 flow): the XDP flow
#                             program forwards them in the kernel; the row waits until offload/show says they are held
#   ssw-offload-churn         ssw-offload while `bench churn` replaces flows at CHURN_RATE flow-mods/s (DELETE_STRICT and
#                             ADD pairs of random flows of the exact set, a barrier every 10 ms): per step also the
#                             flow-mods the switch acknowledged and the share of frames forwarded in the kernel (the
#                             flow map's per-CPU counts, offload/show "hardware packets" after a dump-aggregate reads
#                             them, against the frames the forwarding thread took from the AF_XDP socket)
#   ssw-afxdp-churn           the same churn and exact flows without offload (the comparison)
#   offload-latency           not a throughput row: ssw-offload without the exact flows; `bench gen` sends LAT_FLOWS
#                             flows at LAT_PPS (forwarded by software through the in_port=1 flow) while
#                             `bench offload-latency` adds one exact flow at a time (FLOW_MOD and barrier), times
#                             when its key is in the XDP map, when its counter slot counts the first frame forwarded
#                             in the kernel and when the BARRIER_REPLY arrives, then deletes it; LAT_SAMPLES samples,
#                             LAT_GAP_MS apart, median and p99 in OUT/offload-latency.json (SIZES and FLOW_SET unused)
#   vsd-afxdp, vsd-offload,   `softswitch vswitchd` (in namespace S) on a private ovsdb-server, driven by ovs-vsctl as
#   vsd-afpacket              the ovs rows are: type=afxdp interfaces (options:n_rxq=1; vsd-afpacket: the default
#                             type, AF_PACKET with vswitchd's ring), pmd-cpu-mask FWD_CPU (its
#                             forwarding thread placed there, its other threads left to the scheduler); vsd-offload
#                             with other_config:hw-offload=true and ssw-offload's exact flows, waiting until
#                             `ovs-appctl offload/show` says they are held
#   ovs-afxdp, ovs-default    Open vSwitch 3.1 user space (netdev datapath, in namespace S), type=afxdp / default ports,
#                             pmd-cpu-mask FWD_CPU and the whole ovs-vswitchd on FWD_CPU
#   bridge                    the Linux bridge
#   xdp-redirect              the kernel's own XDP forwarding: bpf_redirect HA -> HB (`bench xdp redirect`), the
#                             physical limit of this topology (it runs in the generator's softirq, on GEN_CPU)
#   gen-only                  what the generator alone offers into a veth: XDP_DROP on HA, counted there (the xdp mode
#                             with GEN_MODE=auto)
# CONTENTION=1 adds the same rows for BUSY_ROWS (default the four switch rows) with a busy loop on BUSY_CPU (default
# FWD_CPU) for the 64 B, 1-flow case.
# Per step, recorded: load average before it, offered (what the generator sent) and delivered frames (all that reach
# the sink: the step waits until its count stops moving, so a frame a ring held is delivered, not lost), the delivered
# rate (what reached the sink while the generator sent, over its sending time), loss, CPU busy
# time per delivered frame on GEN_CPU and FWD_CPU (/proc/stat), the forwarding thread's busy time per delivered frame
# (Softswitch: utime+stime of thread fwd-0 from /proc/PID/task/TID/stat; Open vSwitch: processing cycles per packet of
# dpif-netdev/pmd-stats-show, with its ns at the TSC's MHz), and where frames were lost: veth drops on every hop,
# softnet backlog drops, Softswitch's port drops and XDP statistics (dp/show), Open vSwitch's interface statistics
# (its XSK counters included).
# Output: OUT/zeroloss-steps.jsonl (every step), OUT/zeroloss.json and .csv (one line per row, size, flows), and
# plots (`bench plot`) of zeroloss-offload.json (Softswitch with --offload xdp and without, the kernel's redirect),
# zeroloss-afxdp.json (Softswitch AF_XDP, Open vSwitch afxdp, the kernel's XDP redirect) and
# zeroloss-afpacket.json (Softswitch AF_PACKET, Open vSwitch default ports, the Linux bridge).
# Duration: about 10 steps of STEP + ~1 s (start-up of the generator, counters) per row, size and flow count with the
# defaults: the full run (7 rows x 2 sizes x 2 flow counts, STEP 10, ITERS 6, four contention rows) takes about 50
# minutes; the short variant
#   STEP=3 ITERS=5 SIZES=64 bash bench/netns/zeroloss.sh
# about 12. SSW_DLL=PATH runs the Softswitch rows with another build's softswitch.dll (an older checkout's, to
# compare). Needs root, ethtool, Open vSwitch (bash scripts/install-deps.sh). Private names; ends only what it started.
set -uo pipefail
cd "$(dirname "$0")/../.."
. bench/scripts/lib.sh
STEP=${STEP:-10}
ITERS=${ITERS:-6}
LOSS_PCT=${LOSS_PCT:-0.01}
SIZES=${SIZES:-64,1518}
FLOW_SET=${FLOW_SET:-1,1000}
ROWS=${ROWS:-gen-only,ssw-afxdp,ssw-offload,ssw-afpacket,ovs-afxdp,ovs-default,bridge,xdp-redirect}
BURST=${BURST:-500000}
BURST_GAP=${BURST_GAP:-1}     # seconds of silence before each burst (the forwarder goes to sleep)
WARM=${WARM:-2}               # seconds of unthrottled traffic before a row's first measured step, not recorded
CONTENTION=${CONTENTION:-1}
BUSY_ROWS=${BUSY_ROWS:-ssw-afxdp,ovs-afxdp,ssw-afpacket,ovs-default}
REPEAT=${REPEAT:-1}
DEEP_FRAMES=${DEEP_FRAMES:-524288}   # rx-frames of the -deep rows
SETTLE_MAX=${SETTLE_MAX:-10}      # seconds a step waits at most for the sink's count to stop moving
CHURN_RATE=${CHURN_RATE:-10000}   # flow-mods/s of the churn rows
LAT_SAMPLES=${LAT_SAMPLES:-200}   # flow-mods of the offload-latency row
LAT_PPS=${LAT_PPS:-100000}        # its traffic: frames/s over LAT_FLOWS flows (a flow's first kernel frame is seen within LAT_FLOWS/LAT_PPS s)
LAT_FLOWS=${LAT_FLOWS:-1}
LAT_GAP_MS=${LAT_GAP_MS:-20}
PREFIX=${PREFIX:-zl}              # names of the namespaces and veths: PREFIX{a,s,b}TAG
GEN_CPU=${GEN_CPU:-0}
GEN_MODE=${GEN_MODE:-auto}    # xdp, packet, or auto: xdp where HA runs an XDP program, packet elsewhere (see gen_mode)
FWD_CPU=${FWD_CPU:-1}
BUSY_CPU=${BUSY_CPU:-$FWD_CPU}
SSW_ARGS=${SSW_ARGS:-}
PIN=${PIN:-1}                 # 0: the switches placed by the scheduler (no taskset, no --forwarding-cpus, OVS's default
                              # PMD placement), as a user runs them; the generator stays on GEN_CPU
BUSY_PIN=${BUSY_PIN:-1}       # 0: the busy loop placed by the scheduler
export PIN BUSY_PIN
PLOTS=${PLOTS:-1}
OUT=${OUT:-bench/results/netns}
for t in ip ethtool taskset ovs-vswitchd ovs-vsctl ovs-ofctl ovs-appctl python3; do command -v $t >/dev/null || { echo "needs $t (bash scripts/install-deps.sh)"; exit 2; }; done
if [ "${BUILD:-1}" = 1 ]; then   # BUILD=0: use the Release builds as they are
  dotnet build src/Softswitch -c Release -nologo -v q -clp:ErrorsOnly >/dev/null || { echo "build of src/Softswitch failed"; exit 2; }
  dotnet build bench -c Release -nologo -v q -clp:ErrorsOnly >/dev/null || { echo "build of bench failed"; exit 2; }
fi
SSW="dotnet ${SSW_DLL:-src/Softswitch/bin/Release/net10.0/softswitch.dll}"
BENCH="dotnet bench/bin/Release/net10.0/Softswitch.Bench.dll"

TAG=$(printf '%04x' $((RANDOM)))
NA=${PREFIX}a$TAG NS=${PREFIX}s$TAG NB=${PREFIX}b$TAG
VA=${PREFIX}a$TAG HA=${PREFIX}a${TAG}h HB=${PREFIX}b${TAG}h VB=${PREFIX}b$TAG
RUN=$(mktemp -d /tmp/ssw-zl.XXXXXX)
mkdir -p "$OUT"
STEPS=$OUT/zeroloss-steps.jsonl
: > "$STEPS"
ROW_PID="" BUSY_PID="" SINK_PID="" FWD_TID="" OVS_CTL="" CHURN_PID=""

ovs_down() {
  if [ -f "$RUN/ovs-vswitchd.pid" ]; then
    ovs-vsctl --db=unix:$RUN/db.sock --timeout=5 -- --if-exists del-br br$TAG >/dev/null 2>&1
    kill "$(cat $RUN/ovs-vswitchd.pid)" 2>/dev/null; rm -f $RUN/ovs-vswitchd.pid
  fi
  if [ -f "$RUN/ovsdb-server.pid" ]; then kill "$(cat $RUN/ovsdb-server.pid)" 2>/dev/null; rm -f $RUN/ovsdb-server.pid; fi
  OVS_CTL=""
}
cleanup() {
  [ -n "$ROW_PID" ] && kill "$ROW_PID" 2>/dev/null
  [ -n "$BUSY_PID" ] && kill "$BUSY_PID" 2>/dev/null
  [ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null
  [ -n "$CHURN_PID" ] && kill "$CHURN_PID" 2>/dev/null
  ovs_down
  ip netns del $NA 2>/dev/null; ip netns del $NS 2>/dev/null; ip netns del $NB 2>/dev/null
  rm -rf "$RUN"
}
trap cleanup EXIT

topology() {
  ip netns add $NA; ip netns add $NS; ip netns add $NB
  for n in $NA $NS $NB; do ip netns exec $n sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1; done
  ip link add $VA type veth peer name $HA; ip link add $HB type veth peer name $VB
  ip link set $VA netns $NA; ip link set $HA netns $NS; ip link set $HB netns $NS; ip link set $VB netns $NB
  for p in "$NA $VA" "$NS $HA" "$NS $HB" "$NB $VB"; do
    set -- $p
    ip netns exec $1 sysctl -qw net.ipv6.conf.$2.disable_ipv6=1
    ip netns exec $1 ethtool -K $2 tx off tso off gso off gro off sg off >/dev/null 2>&1
    ip -n $1 link set $2 up; ip -n $1 link set lo up
  done
  MACA=$(ip netns exec $NA cat /sys/class/net/$VA/address)
  MACB=$(ip netns exec $NB cat /sys/class/net/$VB/address)
  # the sink: XDP_DROP on B's veth, counted in its xdp_drops (native XDP on VB also lets HB take XDP redirects)
  ip netns exec $NB $BENCH xdp drop --dev $VB > $RUN/sink.log 2>&1 & SINK_PID=$!
  for i in $(seq 100); do grep -q attached $RUN/sink.log 2>/dev/null && break; sleep 0.1; done
  grep -q attached $RUN/sink.log || { echo "the XDP_DROP sink did not attach: $(cat $RUN/sink.log)"; exit 1; }
}

# ---- rows ----
row_up() {   # $1 row; sets ROW_PID (and FWD_TID or OVS_CTL)
  local row=$1 i
  FWD_TID=""
  case $row in
    ssw-afxdp|ssw-afxdp-deep|ssw-afpacket|ssw-afpacket-deep|ssw-offload|ssw-offload-churn|ssw-afxdp-churn|offload-latency)
      local be=${row#ssw-} offload=() po=""
      case $row in ssw-offload|ssw-offload-churn|offload-latency) be=afxdp; offload=(--offload xdp) ;; ssw-afxdp-churn) be=afxdp ;;
        ssw-afxdp-deep|ssw-afpacket-deep) be=${be%-deep}; po=":rx-frames=$DEEP_FRAMES" ;; esac
      # the forwarding thread on FWD_CPU, every other thread of the switch (the runtime's background JIT, its warm-up,
      # the agent) kept off it (--forwarding-cpus does both): on the same CPU they preempt the forwarding thread
      local place=(--forwarding-cpus $FWD_CPU)
      [ "$PIN" = 1 ] || place=()
      SSW_NS=$NS ssw_start_placed ${SSW_CPUS:-all} $RUN/ssw.log --ports $be:$HA$po,$be:$HB$po --listen punix:$RUN/ssw.of --unixctl $RUN/ssw.ctl \
        --fail-mode secure --threads ${SSW_THREADS:-1} "${place[@]}" "${offload[@]}" --log-level Warning $SSW_ARGS
      ROW_PID=$SSW_PID
      for i in $(seq 200); do ovs-ofctl -O OpenFlow10 show unix:$RUN/ssw.of >/dev/null 2>&1 && break; sleep 0.1; done
      ovs-ofctl -O OpenFlow10 add-flow unix:$RUN/ssw.of "priority=100,in_port=1,actions=output:2" || return 1
      if [ $row = offload-latency ]; then
        exact_flows $LAT_FLOWS > $RUN/exact.txt   # added and deleted by bench offload-latency, one at a time
      elif [[ $row != ssw-afxdp* && $row != ssw-afpacket* ]]; then
        exact_flows > $RUN/exact.txt
        ovs-ofctl -O OpenFlow10 add-flows unix:$RUN/ssw.of $RUN/exact.txt || return 1
      fi
      if [ $row = ssw-offload ] || [ $row = ssw-offload-churn ]; then
        local want; want=$(wc -l < $RUN/exact.txt)
        for i in $(seq 300); do
          $SSW ctl -t $RUN/ssw.ctl offload/show 2>/dev/null | grep -q "^hardware flows: $want " && break; sleep 0.1
        done
        $SSW ctl -t $RUN/ssw.ctl offload/show 2>/dev/null | grep -q "^hardware flows: $want " || { echo "$row: the map does not hold the $want flows"; return 1; }
      fi
      if [[ $row == *-churn ]]; then   # flow-mods until row_down; its progress file holds the acknowledged count
        rm -f $RUN/churn.progress $RUN/churn.ready
        $BENCH churn --target unix:$RUN/ssw.of --flow-file $RUN/exact.txt --rate $CHURN_RATE --seconds 1000000 \
          --ready-file $RUN/churn.ready --progress-file $RUN/churn.progress > $RUN/churn.log 2>&1 & CHURN_PID=$!
        for i in $(seq 100); do [ -f $RUN/churn.ready ] && break; sleep 0.1; done
        [ -f $RUN/churn.ready ] || { echo "$row: bench churn did not start: $(cat $RUN/churn.log)"; return 1; }
      fi
      for t in /proc/$ROW_PID/task/*; do [ "$(cat $t/comm 2>/dev/null)" = fwd-0 ] && FWD_TID=${t##*/}; done
      ;;
    vsd-afxdp|vsd-offload|vsd-afpacket)
      ovsdb_up
      local V="ovs-vsctl --timeout=30 --db=unix:$RUN/db.sock"
      [ "$PIN" = 1 ] && $V --no-wait set Open_vSwitch . other_config:pmd-cpu-mask=$(printf '0x%x' $((1 << FWD_CPU)))
      [ $row = vsd-offload ] && $V --no-wait set Open_vSwitch . other_config:hw-offload=true
      # the pid file where ovs_down looks for ovs-vswitchd's
      DOTNET_PROCESSOR_COUNT=$(nproc) ip netns exec $NS $SSW vswitchd unix:$RUN/db.sock --pidfile=$RUN/ovs-vswitchd.pid --log-file=$RUN/vsd.log \
        --unixctl=$RUN/vsd.ctl --detach >/dev/null 2>&1 || { echo "$row: softswitch vswitchd did not start: $(tail -5 $RUN/vsd.log)"; return 1; }
      OVS_CTL=$RUN/vsd.ctl
      local itype="type=afxdp options:n_rxq=1"
      [ $row = vsd-afpacket ] && itype="type=system"   # the default port: AF_PACKET
      $V add-br br$TAG -- set bridge br$TAG protocols=OpenFlow10 fail-mode=secure \
        -- add-port br$TAG $HA -- set interface $HA $itype ofport_request=1 \
        -- add-port br$TAG $HB -- set interface $HB $itype ofport_request=2 || return 1
      for i in $(seq 100); do ovs-ofctl -O OpenFlow10 show br$TAG >/dev/null 2>&1 && break; sleep 0.1; done
      ovs-ofctl -O OpenFlow10 add-flow br$TAG "priority=100,in_port=1,actions=output:2" || return 1
      if [ $row = vsd-offload ]; then
        exact_flows > $RUN/exact.txt
        ovs-ofctl -O OpenFlow10 add-flows br$TAG $RUN/exact.txt || return 1
        local want; want=$(wc -l < $RUN/exact.txt)
        for i in $(seq 300); do
          ovs-appctl -t $OVS_CTL offload/show br$TAG 2>/dev/null | grep -q "^hardware flows: $want " && break; sleep 0.1
        done
        ovs-appctl -t $OVS_CTL offload/show br$TAG 2>/dev/null | grep -q "^hardware flows: $want " || { echo "$row: the map does not hold the $want flows"; return 1; }
      fi
      ROW_PID=$(cat $RUN/ovs-vswitchd.pid)
      for t in /proc/$ROW_PID/task/*; do [ "$(cat $t/comm 2>/dev/null)" = fwd-0 ] && FWD_TID=${t##*/}; done
      ;;
    ovs-afxdp|ovs-default)
      ovsdb_up
      local V="ovs-vsctl --db=unix:$RUN/db.sock"
      local on=()
      [ "$PIN" = 1 ] && { $V --no-wait set Open_vSwitch . other_config:pmd-cpu-mask=$(printf '0x%x' $((1 << FWD_CPU))); on=(taskset -c $FWD_CPU); }
      ip netns exec $NS "${on[@]}" ovs-vswitchd unix:$RUN/db.sock --pidfile=$RUN/ovs-vswitchd.pid --log-file=$RUN/ovs-vswitchd.log --unixctl=$RUN/ovs-vswitchd.ctl --detach --no-chdir 2>/dev/null
      OVS_CTL=$RUN/ovs-vswitchd.ctl
      $V add-br br$TAG -- set bridge br$TAG datapath_type=netdev protocols=OpenFlow10 fail-mode=secure
      if [ $row = ovs-afxdp ]; then
        $V add-port br$TAG $HA -- set interface $HA type=afxdp options:n_rxq=1 ofport_request=1 -- add-port br$TAG $HB -- set interface $HB type=afxdp options:n_rxq=1 ofport_request=2
      else
        $V add-port br$TAG $HA -- set interface $HA ofport_request=1 -- add-port br$TAG $HB -- set interface $HB ofport_request=2
      fi
      for i in $(seq 100); do ovs-ofctl -O OpenFlow10 show br$TAG >/dev/null 2>&1 && break; sleep 0.1; done
      ovs-ofctl -O OpenFlow10 add-flow br$TAG "priority=100,in_port=1,actions=output:2" || return 1
      ROW_PID=$(cat $RUN/ovs-vswitchd.pid)
      for t in /proc/$ROW_PID/task/*; do [[ "$(cat $t/comm 2>/dev/null)" == pmd* ]] && FWD_TID=${t##*/}; done
      ;;
    bridge)
      ip -n $NS link add zlbr$TAG type bridge; ip -n $NS link set zlbr$TAG up
      ip -n $NS link set $HA master zlbr$TAG; ip -n $NS link set $HB master zlbr$TAG
      ROW_PID=""
      ;;
    gen-only)
      ip netns exec $NS $BENCH xdp drop --dev $HA > $RUN/redirect.log 2>&1 & ROW_PID=$!
      for i in $(seq 100); do grep -q attached $RUN/redirect.log 2>/dev/null && break; sleep 0.1; done
      grep -q attached $RUN/redirect.log || { echo "xdp drop on $HA did not attach: $(cat $RUN/redirect.log)"; return 1; }
      ;;
    xdp-redirect)
      ip netns exec $NS $BENCH xdp redirect --from $HA --to $HB > $RUN/redirect.log 2>&1 & ROW_PID=$!
      for i in $(seq 100); do grep -q attached $RUN/redirect.log 2>/dev/null && break; sleep 0.1; done
      grep -q attached $RUN/redirect.log || { echo "xdp redirect did not attach: $(cat $RUN/redirect.log)"; return 1; }
      ;;
  esac
  sleep 1
}

ovsdb_up() {   # a private ovsdb-server in RUN, its database initialised; the Open vSwitch tools pointed at RUN
  export OVS_RUNDIR=$RUN OVS_LOGDIR=$RUN OVS_DBDIR=$RUN
  rm -f $RUN/conf.db
  ovsdb-tool create $RUN/conf.db /usr/share/openvswitch/vswitch.ovsschema
  ovsdb-server $RUN/conf.db --remote=punix:$RUN/db.sock --pidfile=$RUN/ovsdb-server.pid --log-file=$RUN/ovsdb-server.log --unixctl=$RUN/ovsdb-server.ctl --detach --no-chdir 2>/dev/null
  ovs-vsctl --db=unix:$RUN/db.sock --no-wait init
}

exact_flows() {   # [N]: one exact OpenFlow 1.0 flow per generator flow (GenFrames: source address and UDP source port + i),
                  # for N flows (default the largest of FLOW_SET)
  local n=${1:-0} f i
  [ $n = 0 ] && for f in ${FLOW_SET//,/ }; do [ $f -gt $n ] && n=$f; done
  for i in $(seq 0 $((n - 1))); do
    local a=$(( (10 << 24 | 88 << 16 | 1) + i ))
    echo "priority=100,in_port=1,dl_src=$MACA,dl_dst=$MACB,dl_vlan=0xffff,udp,nw_tos=0,nw_src=$((a >> 24 & 255)).$((a >> 16 & 255)).$((a >> 8 & 255)).$((a & 255)),nw_dst=10.88.0.2,tp_src=$((1024 + i)),tp_dst=9,actions=output:2"
  done
}

row_down() {
  [ -n "$CHURN_PID" ] && { kill $CHURN_PID 2>/dev/null; wait $CHURN_PID 2>/dev/null; CHURN_PID=""; }
  case $1 in
    ssw-*|xdp-redirect|gen-only|offload-latency) [ -n "$ROW_PID" ] && { kill $ROW_PID 2>/dev/null; wait $ROW_PID 2>/dev/null; } ;;
    ovs-*|vsd-*) ovs_down ;;
    bridge) ip -n $NS link del zlbr$TAG 2>/dev/null ;;
  esac
  ROW_PID=""
  sleep 0.5
}

# ---- one step ----
delivered_now() {   # the sink's count: where the generator's frames end (XDP_DROP's xdp_drops)
  if [ "$ROW" = gen-only ]; then   # on the switch side of A's veth
    ip netns exec $NS ethtool -S $HA | awk '/xdp_drops/ { s += $2 } END { printf "%.0f\n", s }'
  else
    ip netns exec $NB ethtool -S $VB | awk '/xdp_drops/ { s += $2 } END { printf "%.0f\n", s }'
  fi
}
# settle: after the generator stopped, waits until the sink's count stops moving (what a ring still held is forwarded
# and counted as delivered; loss is what never arrives), at least 0.3 s and at most SETTLE_MAX s
settle() {
  local d e i
  sleep 0.3
  e=$(delivered_now)
  for i in $(seq $(( SETTLE_MAX * 5 ))); do
    d=$e; sleep 0.2; e=$(delivered_now)
    [ "$d" = "$e" ] && break
  done
}
snap() {   # $1 file: every counter a step is measured by, as "name value" lines
  {
    echo "delivered $(delivered_now)"
    echo "va_tx_dropped $(ip netns exec $NA cat /sys/class/net/$VA/statistics/tx_dropped)"
    echo "ha_rx_dropped $(ip netns exec $NS cat /sys/class/net/$HA/statistics/rx_dropped)"
    echo "hb_tx_dropped $(ip netns exec $NS cat /sys/class/net/$HB/statistics/tx_dropped)"
    echo "vb_rx_dropped $(ip netns exec $NB cat /sys/class/net/$VB/statistics/rx_dropped)"
    local s=0 a b rest
    while read -r a b rest; do s=$((s + 16#$b)); done < /proc/net/softnet_stat
    echo "softnet_dropped $s"
    awk '/^cpu[0-9]/ { print $1 "_busy_ticks", $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat
    if [ -n "$FWD_TID" ]; then   # the forwarding thread (ours, or OVS's PMD): CPU time, and how the scheduler treated it
      awk '{ print "fwd_thread_ticks", $14 + $15 }' /proc/$ROW_PID/task/$FWD_TID/stat 2>/dev/null
      awk -F: '/se.nr_migrations|^nr_voluntary_switches|^nr_involuntary_switches/ { gsub(/ /, "", $1); gsub(/ /, "", $2); print "sched_" $1, $2 }' /proc/$ROW_PID/task/$FWD_TID/sched 2>/dev/null
    fi
    if [ "$ROW" = ssw-offload ] || [ "$ROW" = ssw-offload-churn ]; then
      # frames forwarded in the kernel: a statistics request first reads the map's counters into the flows
      ovs-ofctl -O OpenFlow10 dump-aggregate unix:$RUN/ssw.of >/dev/null 2>&1
      $SSW ctl -t $RUN/ssw.ctl offload/show 2>/dev/null | awk '/^hardware packets:/ { print "kernel_packets", $3 }'
    fi
    if [ "$ROW" = vsd-offload ]; then
      ovs-ofctl -O OpenFlow10 dump-aggregate br$TAG >/dev/null 2>&1
      ovs-appctl -t $OVS_CTL offload/show br$TAG 2>/dev/null | awk '/^hardware packets:/ { print "kernel_packets", $3 }'
    fi
    [ "$ROW" = ssw-afxdp-churn ] && echo "kernel_packets 0"
    # the flow-mods acknowledged so far (rewritten every 100 ms) and when they were read: a rate over the snaps' interval
    [ -n "$CHURN_PID" ] && { echo "churn_acked $(cat $RUN/churn.progress 2>/dev/null || echo 0)"; echo "churn_wall_ns $(date +%s%N)"; }
    if [[ $ROW == ssw-* ]]; then
      $SSW ctl -t $RUN/ssw.ctl dp/show 2>/dev/null | python3 -c '
import re, sys
port = None
for line in sys.stdin:
    m = re.match(r"\s+(\d+) (\S+): link", line)
    if m:
        port = m.group(2)
        d = re.search(r"rx \S+ packets \S+ bytes (\S+) dropped, tx \S+ packets \S+ bytes (\S+) dropped", line)
        if d:
            print("ssw_%s_rx_dropped %s" % (port, d.group(1).replace(",", "")))
            print("ssw_%s_tx_dropped %s" % (port, d.group(2).replace(",", "")))
    m = re.match(r"thread (\d+): (\d+) packets, (\d+) sleeps in the kernel.*longest stall (\d+) us, stalls over 1 ms (\d+), over 10 ms (\d+)", line)
    if m:
        for k, v in zip(("packets", "sleeps", "longest_stall_us", "stalls_over_1ms", "stalls_over_10ms"), m.groups()[1:]):
            print("ssw_thread%s_%s %s" % (m.group(1), k, v))
    m = re.match(r"\s+(afxdp|afpacket): (.*)", line)
    if m and port:
        for k, v in re.findall(r"([a-z_]+) (\d+)", m.group(2)):
            print("ssw_%s_%s %s" % (port, k, v))'
    fi
    if [[ $ROW == ovs-* ]]; then
      for i in $HA $HB; do
        ovs-vsctl --db=unix:$RUN/db.sock get interface $i statistics 2>/dev/null | tr -d '{}"' | tr ',' '\n' | awk -F= -v p=$i 'NF == 2 { gsub(/ /, "", $1); print "ovs_" p "_" $1, $2 }'
      done
      ovs-appctl -t $OVS_CTL dpif-netdev/pmd-stats-show 2>/dev/null | awk '
        /packets received:/ { r += $3 } /processing cycles:/ { c += $3 }
        END { printf "ovs_packets_received %.0f\novs_processing_cycles %.0f\n", r, c }'
    fi
  } > "$1"
}

# The generator's mode for the current row: xdp (the kernel's XDP test-run injecting XDP frames) needs a program on
# HA, which gen-only and the AF_XDP and XDP rows have; the other rows get the AF_PACKET TX ring.
gen_mode() {
  case $GEN_MODE in
    auto) case $ROW in ssw-afpacket|ssw-afpacket-deep|vsd-afpacket|ovs-default|bridge) echo packet ;; *) echo xdp ;; esac ;;
    *) echo $GEN_MODE ;;
  esac
}

TSC_MHZ=$(awk -F: '/^cpu MHz/ { print $2 + 0; exit }' /proc/cpuinfo)
HZ=$(getconf CLK_TCK)

# step KIND RATE [COUNT]: one generator run (RATE pps for STEP s, 0 unthrottled; with COUNT, exactly COUNT frames as
# fast as possible); appends its record to STEPS and sets OFFERED_PPS, DELIVERED_PPS, LOSS (percent), PASS (0/1).
step() {
  local kind=$1 rate=$2 count=${3:-} load gen
  load=$(cut -d' ' -f1 /proc/loadavg)
  [[ $ROW == ovs-* ]] && ovs-appctl -t $OVS_CTL dpif-netdev/pmd-stats-clear >/dev/null 2>&1
  snap $RUN/before
  local what=(--rate $([ "$rate" = 0 ] && echo max || echo $rate) --seconds $STEP)
  [ -n "$count" ] && what=(--rate max --count $count --seconds 60)
  gen=$(ip netns exec $NA taskset -c $GEN_CPU $BENCH gen --dev $VA --cpu $GEN_CPU --mode $(gen_mode) --dst-mac $MACB --size $SIZE --flows $FLOWS --json "${what[@]}" 2>&1 | tail -1)
  local at_end; at_end=$(delivered_now)   # the step's rate: what came out while the generator sent
  settle
  snap $RUN/after
  echo "delivered_at_end $at_end" >> $RUN/after
  read -r OFFERED_PPS DELIVERED_PPS LOSS PASS < <(python3 - "$RUN/before" "$RUN/after" "$gen" "$STEPS" <<PY
import json, sys
def load(p):
    d = {}
    for line in open(p):
        f = line.split()
        if len(f) == 2:
            try: d[f[0]] = int(f[1])
            except ValueError: pass
    return d
b, a = load(sys.argv[1]), load(sys.argv[2])
try: g = json.loads(sys.argv[3])
except ValueError: g = {"sent": 0, "seconds": 0, "pps": 0, "error": sys.argv[3]}
dl_end = max(0, a.pop("delivered_at_end", 0) - b.get("delivered", 0))
delta = {k: a[k] - b.get(k, 0) for k in a}
if "ovs_packets_received" in a: delta["ovs_packets_received"] = a["ovs_packets_received"]; delta["ovs_processing_cycles"] = a["ovs_processing_cycles"]
sent, secs = g.get("sent", 0), g.get("seconds", 0) or 1e-9
dl = max(0, delta.pop("delivered", 0))
loss = 100.0 * (sent - dl) / sent if sent else 100.0
hz, mhz = $HZ, float("${TSC_MHZ:-0}" or 0)
per = lambda ticks: round(ticks * 1e9 / hz / dl, 1) if dl else None
r = {"row": "$ROW", "busy_loop": $BUSY, "round": $ROUND, "kind": "$kind", "size": $SIZE, "flows": $FLOWS, "asked_pps": $rate,
     "load_before": $load, "gen_mode": g.get("mode"), "offered": sent, "delivered": dl, "delivered_by_end": dl_end, "seconds": round(secs, 4), "offered_pps": round(sent / secs),
     "delivered_pps": round(min(dl, dl_end) / secs), "loss_pct": round(loss, 5), "generator_missed": g.get("missed"),
     "generator_short": bool($rate) and sent / secs < 0.97 * $rate,
     "gen_cpu_busy_ns_per_delivered": per(delta.get("cpu$GEN_CPU" + "_busy_ticks", 0)),
     "fwd_cpu_busy_ns_per_delivered": per(delta.get("cpu$FWD_CPU" + "_busy_ticks", 0))}
if "fwd_thread_ticks" in delta and "$ROW".startswith(("ssw", "vsd")): r["fwd_thread_ns_per_delivered"] = per(delta["fwd_thread_ticks"])
if delta.get("ovs_packets_received") and delta.get("ovs_processing_cycles"):   # the main thread (default ports) has no cycle count
    cpp = delta["ovs_processing_cycles"] / delta["ovs_packets_received"]
    r["ovs_processing_cycles_per_packet"] = round(cpp, 1)
    if mhz: r["fwd_thread_ns_per_delivered"] = round(cpp * 1000 / mhz, 1)
if "kernel_packets" in delta and "$ROW".startswith("vsd"):   # no dp/show under vswitchd: the kernel's share is not known
    r["kernel_packets"] = max(0, delta.pop("kernel_packets"))
if "kernel_packets" in delta:   # the offload rows: frames forwarded in the kernel against those the AF_XDP socket gave the switch
    kern = max(0, delta.pop("kernel_packets"))
    soft = sum(max(0, v) for k, v in delta.items() if k.startswith("ssw_thread") and k.endswith("_packets"))
    r["kernel_packets"], r["software_packets"] = kern, soft
    r["kernel_pct"] = round(100.0 * kern / (kern + soft), 3) if kern + soft else None
if "churn_acked" in delta:
    wall = delta.pop("churn_wall_ns", 0) / 1e9
    r["churn_flow_mods_per_s"] = round(max(0, delta.pop("churn_acked")) / wall) if wall > 0 else None
r["drops"] = {k: v for k, v in delta.items() if not k.endswith("_ticks") and not k.startswith(("ovs_p", "sched_")) and v}
r["fwd_thread_sched"] = {k[6:]: v for k, v in delta.items() if k.startswith("sched_")}
if "error" in g: r["generator_error"] = g["error"]
with open(sys.argv[4], "a") as f: f.write(json.dumps(r) + "\n")
print(r["offered_pps"], r["delivered_pps"], r["loss_pct"], 1 if sent and loss <= $LOSS_PCT else 0)
PY
)
  printf "%-17s %-5s %5s B %5s fl  %-9s asked %9s  offered %9s  delivered %9s  loss %9s%%  load %s\n" \
    "$ROW" "$([ $BUSY = 1 ] && echo busy || echo '')" $SIZE $FLOWS "$kind" "$rate" "$OFFERED_PPS" "$DELIVERED_PPS" "$LOSS" "$load"
}

# measure: warm-up, two bursts, the unthrottled step, then the binary search for the zero-loss rate.
measure() {
  step warmup 0 "" >/dev/null   # not recorded as a result (kind warmup): tier-0 code and cold caches stay out of the steps
  sleep $BURST_GAP; step burst1 0 $BURST
  step burst2 0 $BURST
  step max 0
  if [[ $ROW == *-deep ]]; then   # a ring that holds seconds of excess hides loss from a short step: no search
    echo "$ROW|$BUSY|$SIZE|$FLOWS|0|bursts only" >> $RUN/zl.txt
    return
  fi
  local max=$OFFERED_PPS lo=0 hi=$OFFERED_PPS mid i
  if [ "$PASS" = 1 ]; then
    echo "$ROW|$BUSY|$SIZE|$FLOWS|$max|generator" >> $RUN/zl.txt   # lossless at the generator's own maximum
    return
  fi
  mid=$(( DELIVERED_PPS * 98 / 100 ))   # the first guess: just under what came out unthrottled
  for i in $(seq $ITERS); do
    [ "$mid" -lt 1000 ] && mid=1000
    step trial $mid
    # a pass counts at the rate the generator achieved (below the asked one when it was descheduled: see generator_short)
    if [ "$PASS" = 1 ]; then lo=$(( OFFERED_PPS < mid ? OFFERED_PPS : mid )); else hi=$mid; fi
    mid=$(( (lo + hi) / 2 ))
  done
  echo "$ROW|$BUSY|$SIZE|$FLOWS|$lo|search" >> $RUN/zl.txt
}

# latency: the offload-latency row (the switch up, no exact flow placed): traffic of LAT_FLOWS flows at LAT_PPS through
# software, `bench offload-latency` adding and deleting their exact flows one at a time; appends its result to lat.jsonl.
latency() {
  local load gen secs=$(( LAT_SAMPLES * (LAT_GAP_MS + 100) / 1000 + 60 ))   # the generator outlasts the samples; stopped after them
  load=$(cut -d' ' -f1 /proc/loadavg)
  SIZE=64 FLOWS=$LAT_FLOWS
  ip netns exec $NA taskset -c $GEN_CPU $BENCH gen --dev $VA --cpu $GEN_CPU --mode $(gen_mode) --dst-mac $MACB --size $SIZE \
    --flows $LAT_FLOWS --rate $LAT_PPS --seconds $secs --json > $RUN/lat-gen.log 2>&1 & gen=$!
  sleep 1
  ip netns exec $NS $BENCH offload-latency --target unix:$RUN/ssw.of --flow-file $RUN/exact.txt --dev $HA \
    --samples $LAT_SAMPLES --gap-ms $LAT_GAP_MS --json > $RUN/lat.json 2> $RUN/lat.err
  kill $gen 2>/dev/null; wait $gen 2>/dev/null
  if ! python3 - "$RUN/lat.json" "$RUN/lat.jsonl" "$load" "$ROUND" <<'PY'
import json, sys
try: r = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
except (ValueError, IndexError): sys.exit(1)
r.update({"row": "offload-latency", "round": int(sys.argv[4]), "load_before": float(sys.argv[3])})
open(sys.argv[2], "a").write(json.dumps(r) + "\n")
f = lambda k: "-" if not r.get(k) else "median %.0f us, p99 %.0f us" % (r[k]["median"], r[k]["p99"])
print("offload-latency  %d flow-mods: to the map %s; to the first kernel frame %s; to the barrier reply %s; load %s"
      % (r["samples"], f("flow_mod_to_map_us"), f("flow_mod_to_kernel_us"), f("flow_mod_to_barrier_reply_us"), sys.argv[3]))
PY
  then echo "offload-latency: no result: $(cat $RUN/lat.err)"; fi
}

topology
echo "zero-loss search: STEP=${STEP}s ITERS=$ITERS loss <= $LOSS_PCT%, generator on CPU $GEN_CPU, forwarder on CPU $FWD_CPU; $(nproc) CPUs, $(uname -r)"
echo "rows $ROWS; sizes $SIZES; flows $FLOW_SET; burst $BURST; contention $CONTENTION (busy loop $([ "$BUSY_PIN" = 1 ] && echo "on CPU $BUSY_CPU" || echo unpinned)); switches $([ "$PIN" = 1 ] && echo "pinned to CPU $FWD_CPU" || echo "placed by the scheduler")"
BUSY=0
for ROUND in $(seq $REPEAT); do
  for ROW in ${ROWS//,/ }; do
    row_up $ROW || { echo "$ROW: did not start"; row_down $ROW; continue; }
    if [ $ROW = offload-latency ]; then latency; row_down $ROW; continue; fi
    for SIZE in ${SIZES//,/ }; do for FLOWS in ${FLOW_SET//,/ }; do measure; done; done
    row_down $ROW
  done
  if [ "$CONTENTION" = 1 ]; then
    BUSY=1 SIZE=64 FLOWS=1
    for ROW in ${BUSY_ROWS//,/ }; do
      row_up $ROW || { echo "$ROW: did not start"; row_down $ROW; continue; }
      # The loop in a session of its own, as another user's program would be: with autogroup scheduling a session
      # is one scheduling group, and one that also holds the generator (busy on GEN_CPU) weighs less on BUSY_CPU
      # than a switch in a session of its own (Open vSwitch's --detach), so the loop would yield more to that switch.
      if [ "$BUSY_PIN" = 1 ]; then setsid taskset -c $BUSY_CPU bash -c 'while :; do :; done' & BUSY_PID=$!; else setsid bash -c 'while :; do :; done' & BUSY_PID=$!; fi
      measure
      kill $BUSY_PID; wait $BUSY_PID 2>/dev/null; BUSY_PID=""
      row_down $ROW
    done
    BUSY=0
  fi
done

# ---- results: one line per row, size, flows (medians over the rounds), and the plot files ----
python3 - "$STEPS" "$RUN/zl.txt" "$OUT" "$STEP" "$LOSS_PCT" "$GEN_CPU" "$FWD_CPU" "$(nproc)" "$(uname -r)" "$RUN/lat.jsonl" <<'PY'
import csv, json, os, statistics, sys, time
steps_f, zl_f, out, step, loss, gen_cpu, fwd_cpu, ncpu, kernel, lat_f = sys.argv[1:11]
steps = [json.loads(l) for l in open(steps_f)]
zl = {}
for line in (open(zl_f) if os.path.exists(zl_f) else []):
    row, busy, size, flows, rate, how = line.strip().split("|")
    zl.setdefault((row, int(busy), int(size), int(flows)), []).append((int(rate), how))
table = []
for (row, busy, size, flows), v in zl.items():
    mine = [s for s in steps if (s["row"], s["busy_loop"], s["size"], s["flows"]) == (row, busy, size, flows)]
    med = lambda kind, f: (statistics.median([s[f] for s in mine if s["kind"] == kind and s.get(f) is not None])
                           if [s for s in mine if s["kind"] == kind and s.get(f) is not None] else None)
    passed = [s for s in mine if s["kind"] in ("trial", "max") and s["loss_pct"] <= float(loss)]
    at = max(passed, key=lambda s: s["offered_pps"]) if passed else None
    burst = lambda k: med(k, "delivered") / med(k, "offered") * 100 if med(k, "offered") else None
    table.append({
        "row": row, "busy_loop": bool(busy), "size": size, "flows": flows,
        "zero_loss_pps": None if v[0][1] == "bursts only" else statistics.median([r for r, _ in v]),
        "limited_by": v[0][1] + (", generator short" if any(s.get("generator_short") for s in mine if s["kind"] == "trial") else ""),
        "unthrottled_offered_pps": med("max", "offered_pps"), "unthrottled_delivered_pps": med("max", "delivered_pps"),
        "burst1_delivered_pct": burst("burst1"), "burst2_delivered_pct": burst("burst2"),
        "fwd_thread_ns_per_delivered_at_zero_loss": at.get("fwd_thread_ns_per_delivered") if at else None,
        "fwd_cpu_busy_ns_per_delivered_at_zero_loss": at.get("fwd_cpu_busy_ns_per_delivered") if at else None,
        "fwd_thread_ns_per_delivered_unthrottled": med("max", "fwd_thread_ns_per_delivered"),
        "load_before_max": max(s["load_before"] for s in mine),
    })
    if any("kernel_pct" in s or "churn_flow_mods_per_s" in s for s in mine):   # the offload and churn rows
        churn = [s["churn_flow_mods_per_s"] for s in mine if s["kind"] in ("max", "trial") and s.get("churn_flow_mods_per_s") is not None]
        table[-1].update({
            "unthrottled_loss_pct": med("max", "loss_pct"),
            "kernel_pct_unthrottled": med("max", "kernel_pct"),
            "kernel_pct_at_zero_loss": at.get("kernel_pct") if at else None,
            "churn_flow_mods_per_s": statistics.median(churn) if churn else None,
        })
meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpus": int(ncpu), "kernel": kernel,
        "switches_pinned": os.environ.get("PIN", "1") == "1", "busy_loop_pinned": os.environ.get("BUSY_PIN", "1") == "1",
        "generator_cpu": int(gen_cpu), "forwarding_cpu": int(fwd_cpu), "step_s": float(step), "loss_pct": float(loss),
        "max_load_before_a_step": max(s["load_before"] for s in steps) if steps else None}
json.dump({"meta": meta, "table": table}, open(out + "/zeroloss.json", "w"), indent=1)
with open(out + "/zeroloss.csv", "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(max(table, key=len).keys()) if table else ["row"], restval="")
    w.writeheader(); w.writerows(table)
def get(row, busy, size, flows):
    for t in table:
        if (t["row"], t["busy_loop"], t["size"], t["flows"]) == (row, busy, size, flows) and t["zero_loss_pps"] is not None: return t["zero_loss_pps"] / 1e6
    return None
for name, mine, peer, ceil, mine_name, peer_name, ceil_name in [
        ("afxdp", "ssw-afxdp", "ovs-afxdp", "xdp-redirect", "Softswitch", "Open vSwitch afxdp", "kernel XDP redirect"),
        ("afpacket", "ssw-afpacket", "ovs-default", "bridge", "Softswitch", "Open vSwitch default ports", "Linux bridge"),
        ("offload", "ssw-offload", "ssw-afxdp", "xdp-redirect", "Softswitch --offload xdp", "Softswitch AF_XDP (no offload)", "kernel XDP redirect")]:
    items = []
    for size, flows, busy in sorted({(t["size"], t["flows"], t["busy_loop"]) for t in table}):
        s = get(mine, busy, size, flows)
        if s is None: continue
        items.append({"name": "%d B, %d flow%s%s" % (size, flows, "" if flows == 1 else "s", ", busy loop" if busy else ""),
                      "softswitch": s, "peer": get(peer, busy, size, flows), "ceiling": get(ceil, busy, size, flows)})
    # A forwarder that runs in the generator's softirq (the bridge, the redirect) and stopped where the generator did
    # is no ceiling but a lower bound: say so in the legend.
    if any(t["row"] == ceil and t["limited_by"].startswith("generator") for t in table):
        ceil_name += " (bound by the generator's CPU)"
    if items:
        r = {"title": "Zero-loss throughput over veth, %s (loss <= %s%% over %s s steps; %s, load before a step <= %.2f)" % (
                 name, loss, step, meta["date"], meta["max_load_before_a_step"] or 0),
             "rows": {"mine": mine_name, "peer": peer_name, "ceiling": ceil_name, "unit": "Mpps at zero loss", "items": items}}
        json.dump(r, open(out + "/zeroloss-%s.json" % name, "w"), indent=1)
print()
print("%-17s %-5s %5s %6s %12s %-9s %12s %12s %8s %8s %9s %9s %6s" % ("row", "busy", "size", "flows", "zero-loss pps", "limit", "max offered", "max deliv.", "burst1 %", "burst2 %", "thread ns", "cpu ns", "load"))
for t in table:
    f = lambda v, p=0: "-" if v is None else ("%." + str(p) + "f") % v
    print("%-17s %-5s %5d %6d %12s %-9s %12s %12s %8s %8s %9s %9s %6s" % (t["row"], "busy" if t["busy_loop"] else "", t["size"], t["flows"],
        f(t["zero_loss_pps"]), t["limited_by"], f(t["unthrottled_offered_pps"]), f(t["unthrottled_delivered_pps"]),
        f(t["burst1_delivered_pct"], 1), f(t["burst2_delivered_pct"], 1), f(t["fwd_thread_ns_per_delivered_at_zero_loss"], 1),
        f(t["fwd_cpu_busy_ns_per_delivered_at_zero_loss"], 1), f(t["load_before_max"], 2)))
kern = [t for t in table if "kernel_pct_unthrottled" in t]
if kern:
    print()
    print("%-18s %5s %6s %12s %12s %9s %10s %10s %12s" % ("offload/churn row", "size", "flows", "zero-loss pps", "max deliv.", "max loss %", "kernel %", "kernel % 0", "flow-mods/s"))
    for t in kern:
        f = lambda v, p=0: "-" if v is None else ("%." + str(p) + "f") % v
        print("%-18s %5d %6d %12s %12s %9s %10s %10s %12s" % (t["row"], t["size"], t["flows"], f(t["zero_loss_pps"]), f(t["unthrottled_delivered_pps"]),
            f(t["unthrottled_loss_pct"], 3), f(t["kernel_pct_unthrottled"], 2), f(t["kernel_pct_at_zero_loss"], 2), f(t["churn_flow_mods_per_s"])))
if os.path.exists(lat_f):
    lat = [json.loads(l) for l in open(lat_f)]
    json.dump({"meta": meta, "rounds": lat}, open(out + "/offload-latency.json", "w"), indent=1)
    print()
    for r in lat:
        g = lambda k: "-" if not r.get(k) else "median %.0f, p99 %.0f, max %.0f us" % (r[k]["median"], r[k]["p99"], r[k]["max"])
        print("offload-latency round %d, %d flow-mods (load %.2f): FLOW_MOD -> in the XDP map %s; -> first frame forwarded in the kernel %s; -> BARRIER_REPLY %s"
              % (r["round"], r["samples"], r["load_before"], g("flow_mod_to_map_us"), g("flow_mod_to_kernel_us"), g("flow_mod_to_barrier_reply_us")))
PY
if [ "$PLOTS" = 1 ]; then
  for n in afxdp afpacket offload; do
    [ -f "$OUT/zeroloss-$n.json" ] && dotnet bench/bin/Release/net10.0/Softswitch.Bench.dll plot --input "$OUT/zeroloss-$n.json" --out "$OUT" --name zeroloss-$n
  done
fi
echo "steps: $STEPS; results: $OUT/zeroloss.json, $OUT/zeroloss.csv$([ -f $RUN/lat.jsonl ] && echo ", $OUT/offload-latency.json")"
exit 0
