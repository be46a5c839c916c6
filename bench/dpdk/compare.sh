#!/usr/bin/env bash
# Softswitch against Open vSwitch with DPDK, per core, on the same frames and the same flows, in one run.
#
#   bash bench/dpdk/compare.sh            # every row, 3 interleaved rounds, prints one table (medians)
#   ROWS="1-flow exact-100k" ROUNDS=1 SECS=5 bash bench/dpdk/compare.sh
#
# Open vSwitch: /usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk run directly (never the system service or the
# system alternative) from a private run directory inside a private network namespace, with a private EAL file
# prefix and a private hugetlbfs mount. Ports are DPDK virtual devices: port 1 is net_pcap replaying the row's pcap
# from memory (rx_pcap=FILE,infinite_rx=1), ports 2..4 are net_null sinks (no-rx=1). One PMD thread, pinned to
# CPU $PMD_CPU. Flows are installed with ovs-ofctl add-flows; delivered packets are the sinks' tx counters
# (ovs-ofctl dump-ports), drops are what port 1 received and the sinks did not send.
# Softswitch: the pps harness (bench pps --pcap ROW.pcap --flow-file ROW.flows) on the same files, one forwarding
# thread pinned to the same CPU; delivered packets are its sink ports' tx counters. The OpenFlow 1.3 rows (OF13_ROWS:
# IPv6, a four-table Faucet-shaped pipeline, set_field ipv6_src, VLAN pop+push, MPLS push) go to both switches through
# ovs-ofctl -O OpenFlow13 add-flows.
# Churn row: both switches get 100,000 flow-mods/s (DELETE_STRICT + ADD of the row's flows) from `bench churn`
# over OpenFlow on loopback while forwarding the exact-100k row; the churn client runs on CPU $MAIN_CPU, off the
# forwarding core, for both (so do Open vSwitch's non-PMD threads, and every Softswitch thread but the forwarding one).
# Hugepages: 2 MiB pages are added for the run and given back at exit (HUGEPAGES, default 1200). The EAL runs with
# hugepages here; no --no-huge.
# Beside the table: OUT (default bench/results/dpdk) gets dpdk-compare.json (each row's median Mpps for both switches,
# and the churn row's forwarding rate per SAMPLE seconds for both, from the last round) and its plots from `bench plot`
# (SVG and PNG: rows side by side, churn timeline); PLOTS=0 leaves them out.
# Installs what it needs (apt) itself; needs root. Ends only the processes it started.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
. bench/scripts/lib.sh

ROWS=${ROWS:-"1-flow exact-1k exact-100k exact-1m wild-1k-16 normal-1k rewrite-1k churn-100k ipv6-exact-1k multitable-4 setfield-ipv6 vlan-push-pop mpls-push"}
# Rows whose flows are OpenFlow 1.3's (tables, goto_table, write_actions, push/pop, set_field): both switches get them
# from `ovs-ofctl -O OpenFlow13 add-flows`, Open vSwitch over its management socket, Softswitch over OpenFlow on
# loopback to the pps harness (--listen), which measures once they are in (--start-file) and forwarded REWARM s.
OF13_ROWS=" ipv6-exact-1k multitable-4 setfield-ipv6 vlan-push-pop mpls-push "
REWARM=${REWARM:-2}
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-10}
WARM=${WARM:-3}
PMD_CPU=${PMD_CPU:-1}
MAIN_CPU=${MAIN_CPU:-0}
HUGEPAGES=${HUGEPAGES:-1200}
CHURN_RATE=${CHURN_RATE:-100000}
MAX_FRAMES=${MAX_FRAMES:-131072}
SETTLE_MAX=${SETTLE_MAX:-120}
PLOTS=${PLOTS:-1}
OUT=${OUT:-$ROOT/bench/results/dpdk}
SAMPLE=${SAMPLE:-0.5}
SINKS=3

[ "$(id -u)" = 0 ] || { echo "compare.sh: needs root (hugepages, network namespace)"; exit 2; }
OVSD=/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk
PMDS=/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0
if [ ! -x $OVSD ] || [ ! -e $PMDS/librte_net_pcap.so.23 ] || [ ! -e $PMDS/librte_net_null.so.23 ] || ! command -v ovs-ofctl >/dev/null; then
  echo "== installing Open vSwitch with DPDK (apt)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    openvswitch-switch-dpdk openvswitch-common librte-net-pcap23 librte-net-null23 librte-mempool-ring23 >/dev/null
fi

echo "== building"
dotnet build bench -c Release -nologo -v q -clp:ErrorsOnly >/dev/null
BENCH="dotnet $ROOT/bench/bin/Release/net10.0/Softswitch.Bench.dll"

TAG=ssdpdk$$
RUN=$(mktemp -d /tmp/$TAG.XXXXXX)
NS=$TAG
HP=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
HP_ADDED=0
OVS_UP=0
pids=()
V="ovs-vsctl --db=unix:$RUN/db.sock --timeout=30"
export OVS_RUNDIR=$RUN OVS_LOGDIR=$RUN OVS_DBDIR=$RUN

cleanup() {
  set +e
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  local vpid
  vpid=$(cat $RUN/ovs-vswitchd.pid 2>/dev/null)
  if [ -n "$vpid" ]; then
    kill "$vpid" 2>/dev/null
    for i in $(seq 50); do kill -0 "$vpid" 2>/dev/null || break; sleep 0.2; done
  fi
  if [ -f $RUN/ovsdb-server.pid ]; then kill "$(cat $RUN/ovsdb-server.pid)" 2>/dev/null; fi
  mountpoint -q $RUN/huge && umount $RUN/huge
  if [ "$HP_ADDED" -gt 0 ]; then
    # Give the pages back (another user's pages, if any, stay).
    echo $(( $(cat $HP) - HP_ADDED )) > $HP
  fi
  ip netns del $NS 2>/dev/null
  rm -rf /run/dpdk/$TAG /var/run/dpdk/$TAG
  [ -n "${KEEP:-}" ] || rm -rf $RUN
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== rows (pcap, ovs-ofctl flows) in $RUN/rows"
mkdir -p $RUN/rows
for r in $ROWS; do
  base=${r/churn-100k/exact-100k}
  [ -f $RUN/rows/$base.flows ] || $BENCH rows --row $base --dir $RUN/rows --ports $((SINKS + 1)) --max-frames $MAX_FRAMES
done

echo "== Open vSwitch with DPDK (private netns $NS, run dir $RUN, EAL prefix $TAG)"
ip netns add $NS
ip -n $NS link set lo up
echo $(( $(cat $HP) + HUGEPAGES )) > $HP
HP_ADDED=$HUGEPAGES
mkdir -p $RUN/huge
mount -t hugetlbfs -o pagesize=2M nodev $RUN/huge
ovsdb-tool create $RUN/conf.db /usr/share/openvswitch/vswitch.ovsschema
ovsdb-server $RUN/conf.db --remote=punix:$RUN/db.sock --pidfile=$RUN/ovsdb-server.pid --log-file=$RUN/ovsdb-server.log \
  --unixctl=$RUN/ovsdb-server.ctl --detach --no-chdir
$V --no-wait init
$V --no-wait set Open_vSwitch . other_config:dpdk-init=true other_config:dpdk-socket-mem=$(( HUGEPAGES * 2 - 128 )) \
  other_config:per-port-memory=false other_config:pmd-cpu-mask=$(printf '0x%x' $((1 << PMD_CPU))) \
  other_config:dpdk-lcore-mask=$(printf '0x%x' $((1 << MAIN_CPU))) \
  "other_config:dpdk-extra=--file-prefix=$TAG --no-pci --huge-dir=$RUN/huge -d $PMDS"
ip netns exec $NS $OVSD unix:$RUN/db.sock --pidfile=$RUN/ovs-vswitchd.pid --log-file=$RUN/ovs-vswitchd.log \
  --unixctl=$RUN/vs.ctl --detach --no-chdir > $RUN/ovs-vswitchd.start 2>&1 || { cat $RUN/ovs-vswitchd.start; exit 1; }
VS="ovs-appctl -t $RUN/vs.ctl"
DEV=0   # DPDK device names are unique per attach

ovs_start_row() {  # $1 = row files base, $2 = controller port or empty; sets BR
  # Flows first, the source port last: flow-mods that meet traffic make Open vSwitch revalidate its datapath flows
  # after each one (a 1,000,000-flow add-flows then takes hours).
  local base=$1 ctl=${2:-}
  BR=br$DEV
  local of=OpenFlow10
  [[ "$OF13_ROWS" != *" $base "* ]] || of=OpenFlow13
  $V add-br $BR -- set bridge $BR datapath_type=netdev protocols=OpenFlow10,OpenFlow13 -- set-fail-mode $BR secure
  for s in $(seq 2 $((SINKS + 1))); do
    $V add-port $BR sink$DEV-$s -- set interface sink$DEV-$s type=dpdk ofport_request=$s \
      "options:dpdk-devargs=net_null$DEV$s,no-rx=1"
  done
  local t0=$(date +%s.%N)
  taskset -c $MAIN_CPU ovs-ofctl -O $of add-flows unix:$RUN/$BR.mgmt $RUN/rows/$base.flows
  ADD_SECS[$base]+="$(echo "$(date +%s.%N) - $t0" | bc -l) "
  if [ -f $RUN/rows/$base.fdb ]; then
    while read -r mac port; do $VS fdb/add $BR sink$DEV-$port 0 $mac >/dev/null; done < $RUN/rows/$base.fdb
  fi
  [ -z "$ctl" ] || $V set-controller $BR ptcp:$ctl:127.0.0.1
  $V add-port $BR src$DEV -- set interface src$DEV type=dpdk ofport_request=1 \
    "options:dpdk-devargs=net_pcap$DEV,rx_pcap=$RUN/rows/$base.pcap,infinite_rx=1"
  DEV=$((DEV + 1))
}

ovs_counts() {  # prints "rx_of_port_1 tx_of_the_sinks" from one port-stats reply
  ovs-ofctl -O OpenFlow10 dump-ports unix:$RUN/$BR.mgmt | awk '
    $1 == "port" { p = $2; sub(":", "", p); split($0, a, "pkts="); split(a[2], b, ","); rx[p] = b[1]
                   getline; split($0, a, "pkts="); split(a[2], b, ","); tx[p] = b[1] }
    END { s = 0; for (p in tx) if (p != "1" && p != "LOCAL") s += tx[p]; printf "%d %d\n", rx["1"], s }'
}

ovs_settle() {  # waits until the PMD stops taking upcalls (every frame has its datapath flow), at most SETTLE_MAX s
  local prev=-1 cur i
  for i in $(seq $SETTLE_MAX); do
    cur=$($VS dpif-netdev/pmd-stats-show | awk '/miss with success upcall/ { s += $NF } END { print s + 0 }')
    [ "$cur" = "$prev" ] && return
    prev=$cur; sleep 1
  done
  echo "  (Open vSwitch still taking upcalls after $SETTLE_MAX s)" >&2
}

ovs_measure() {  # rows sharing one flow file (exact-100k, then churn-100k on the same bridge) -> OM[row], OD[row]
  local base=${1/churn-100k/exact-100k} ctl="" row cpid
  [[ " $* " == *" churn-100k "* ]] && ctl=$((20000 + RANDOM % 20000))
  ovs_start_row $base $ctl
  ovs_settle
  sleep $WARM
  for row in "$@"; do
    cpid=""
    if [ "$row" = churn-100k ]; then
      rm -f $RUN/churn.ready $RUN/churn.progress
      ip netns exec $NS taskset -c $MAIN_CPU $BENCH churn --target tcp:127.0.0.1:$ctl --flow-file $RUN/rows/$base.flows --rate $CHURN_RATE \
        --seconds $((SECS * 20 + 300)) --ready-file $RUN/churn.ready --progress-file $RUN/churn.progress > /dev/null &
      cpid=$!; pids+=($cpid)
      for i in $(seq 3000); do [ -f $RUN/churn.ready ] && break; sleep 0.1; done
      sleep 1.5
    fi
    local m0=$(cat $RUN/churn.progress 2>/dev/null || echo 0)
    read -r rx0 tx0 < <(ovs_counts); local t0=$(date +%s.%N)
    if [ "$row" = churn-100k ]; then
      # The churn row's timeline: the sinks' tx counters every SAMPLE seconds ("seconds-into-window packets" lines).
      : > $RUN/ovs-churn-100k.timeline
      local ts rxs txs
      while ts=$(date +%s.%N); [ "$(echo "$ts - $t0 < $SECS" | bc -l)" = 1 ]; do
        sleep $SAMPLE
        read -r rxs txs < <(ovs_counts)
        echo "$(echo "$(date +%s.%N) - $t0" | bc -l) $((txs - tx0))" >> $RUN/ovs-churn-100k.timeline
      done
    else
      sleep $SECS
    fi
    read -r rx1 tx1 < <(ovs_counts); local t1=$(date +%s.%N)
    local m1=$(cat $RUN/churn.progress 2>/dev/null || echo 0)
    [ -z "$cpid" ] || { kill $cpid 2>/dev/null || true; wait $cpid 2>/dev/null || true; }
    local dt=$(echo "$t1 - $t0" | bc -l)
    [ "$row" != churn-100k ] || OVS_CHURN=$(printf "%.0f" "$(echo "($m1 - $m0) / $dt" | bc -l)")
    local drops=$(( (rx1 - rx0) - (tx1 - tx0) )); [ $drops -ge 0 ] || drops=0
    OM[$row]=$(printf "%.3f" "$(echo "($tx1 - $tx0) / $dt / 1000000" | bc -l)"); OD[$row]=$drops
    $VS dpif-netdev/pmd-stats-show > $RUN/ovs-$row.pmd-stats 2>&1 || true
  done
  $V del-br $BR
}

ssw_measure() {  # row -> sets SM (Mpps delivered), SD (drops), SA (bytes allocated per packet)
  local row=$1 base=${1/churn-100k/exact-100k} extra=() cpid=""
  [ -f $RUN/rows/$base.fdb ] && extra+=(--fdb $RUN/rows/$base.fdb)
  local ctl="" flowfile=$RUN/rows/$base.flows of13=0
  [[ "$OF13_ROWS" != *" $base "* ]] || of13=1
  if [ "$row" = churn-100k ]; then
    ctl=$((20000 + RANDOM % 20000)); rm -f $RUN/churn.ready
    extra+=(--listen ptcp:$ctl:127.0.0.1 --start-file $RUN/churn.ready)
  fi
  if [ $of13 = 1 ]; then
    # The flows come over OpenFlow 1.3 from ovs-ofctl once the harness listens; it measures after they are in.
    ctl=$((20000 + RANDOM % 20000)); rm -f $RUN/of13.ready; : > $RUN/empty.flows; flowfile=$RUN/empty.flows
    extra+=(--listen ptcp:$ctl:127.0.0.1 --start-file $RUN/of13.ready --rewarm $REWARM)
  fi
  $BENCH pps --pcap $RUN/rows/$base.pcap --flow-file $flowfile --ports $((SINKS + 1)) --pin-cpu $PMD_CPU \
    --seconds $SECS --json "${extra[@]}" > $RUN/ssw-$row.json &
  local spid=$!; pids+=($spid)
  if [ -n "$ctl" ]; then
    for i in $(seq 300); do ss -ltn "sport = :$ctl" | grep -q LISTEN && break; sleep 0.1; done
  fi
  if [ $of13 = 1 ]; then
    taskset -c $MAIN_CPU ovs-ofctl -O OpenFlow13 add-flows tcp:127.0.0.1:$ctl $RUN/rows/$base.flows
    touch $RUN/of13.ready
  elif [ -n "$ctl" ]; then
    taskset -c $MAIN_CPU $BENCH churn --target tcp:127.0.0.1:$ctl --flow-file $RUN/rows/$base.flows --rate $CHURN_RATE \
      --seconds $((SECS * 20 + 300)) --ready-file $RUN/churn.ready > /dev/null &
    cpid=$!; pids+=($cpid)
  fi
  wait $spid
  [ -z "$cpid" ] || { kill $cpid 2>/dev/null || true; wait $cpid 2>/dev/null || true; }
  [ "$row" != churn-100k ] || cp $RUN/ssw-$row.json $RUN/ssw-churn-100k.last.json
  read -r SM SD SA SC < <(python3 -c 'import json,sys; r=json.loads(open(sys.argv[1]).read().strip().splitlines()[-1]); print("%.3f %d %.4f %.0f" % (r["delivered_mpps"], r["drops"], r["alloc_bytes_per_packet"], r["flow_mods_over_open_flow"] / r["seconds"]))' $RUN/ssw-$row.json)
  [ "$row" != churn-100k ] || SSW_CHURN=$SC
}

declare -A OVS SSW OVSD SSWD ALLOC ADD_SECS
declare -A OM OD SMS SDS SAS
OVS_CHURN=0 SSW_CHURN=0 OVSC="" SSWC=""
ssw_group() { for r in "$@"; do ssw_measure $r; SMS[$r]=$SM; SDS[$r]=$SD; SAS[$r]=$SA; done; }
for round in $(seq $ROUNDS); do
  for row in $ROWS; do
    # The churn row runs on the exact-100k row's bridge right after it (Open vSwitch installs 100,000 flows once).
    group=$row
    if [ "$row" = churn-100k ] && [[ " $ROWS " == *" exact-100k "* ]]; then continue; fi
    if [ "$row" = exact-100k ] && [[ " $ROWS " == *" churn-100k "* ]]; then group="exact-100k churn-100k"; fi
    # Interleaved: who goes first alternates between rounds.
    if [ $((round % 2)) = 1 ]; then ovs_measure $group; ssw_group $group; else ssw_group $group; ovs_measure $group; fi
    for r in $group; do
      om=${OM[$r]} od=${OD[$r]} sm=${SMS[$r]} sd=${SDS[$r]} sa=${SAS[$r]}
      OVS[$r]+="$om "; OVSD[$r]+="$od "; SSW[$r]+="$sm "; SSWD[$r]+="$sd "; ALLOC[$r]+="$sa "
      printf "  round %d %-11s OVS-DPDK %7.3f Mpps (drops %d)   Softswitch %7.3f Mpps (drops %d, %s B/pkt)\n" $round $r $om $od $sm $sd $sa
      if [ "$r" = churn-100k ]; then
        printf "    flow-mods/s applied during the window: OVS-DPDK %s, Softswitch %s (asked %s)\n" "$OVS_CHURN" "$SSW_CHURN" "$CHURN_RATE"
        OVSC+="$OVS_CHURN "; SSWC+="$SSW_CHURN "
      fi
    done
  done
done

median() { printf "%s\n" $1 | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

echo
echo "Softswitch vs Open vSwitch $(ovs-vswitchd --version | head -1 | awk '{print $NF}') with DPDK, one core each, 64-byte frames, medians of $ROUNDS interleaved rounds of ${SECS} s"
echo "($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; delivered = counted at the sinks)"
printf "%-12s %14s %16s %7s %11s %13s %13s\n" row "OVS-DPDK Mpps" "Softswitch Mpps" ratio "OVS drops" "Ssw drops" "Ssw B/pkt"
for row in $ROWS; do
  om=$(median "${OVS[$row]}"); sm=$(median "${SSW[$row]}")
  ratio=$(echo "if ($om > 0) $sm / $om else 0" | bc -l)
  printf "%-12s %14.2f %16.2f %7.2f %11s %13s %13s\n" $row $om $sm $ratio "$(median "${OVSD[$row]}")" "$(median "${SSWD[$row]}")" "$(median "${ALLOC[$row]}")"
done

[ -z "$OVSC" ] || printf "churn-100k flow-mods/s applied (median): OVS-DPDK %s, Softswitch %s (asked %s)\n" "$(median "$OVSC")" "$(median "$SSWC")" "$CHURN_RATE"

if [ "$PLOTS" = 1 ]; then   # the result file and its plots (bench plot)
  mkdir -p "$OUT"
  for row in $ROWS; do echo "$row $(median "${SSW[$row]}") $(median "${OVS[$row]}")"; done > $RUN/medians.txt
  python3 - $RUN "$OUT/dpdk-compare.json" "$ROUNDS" "$SECS" "$CHURN_RATE" <<'PY'
import json, os, sys
run, out, rounds, secs, rate = sys.argv[1:6]
items = []
for line in open(run + "/medians.txt"):
    row, s, o = line.split()
    items.append({"name": row, "softswitch": float(s), "peer": float(o)})
r = {"title": "Softswitch and Open vSwitch with DPDK, one core each (medians of %s rounds of %s s)" % (rounds, secs),
     "rows": {"peer": "OVS-DPDK", "unit": "Mpps delivered", "items": items}}
series = []
if os.path.exists(run + "/ssw-churn-100k.last.json"):
    lines = [l for l in open(run + "/ssw-churn-100k.last.json").read().splitlines() if l.startswith("{")]
    t = json.loads(lines[-1]).get("timeline") if lines else None
    if t and t.get("series"):
        s = t["series"][0]
        series.append({"name": "Softswitch, churn %s/s" % rate, "t_s": s["t_s"], "mpps": s["mpps"]})
if os.path.exists(run + "/ovs-churn-100k.timeline"):
    ts, mpps, pt, pp = [], [], 0.0, 0
    for line in open(run + "/ovs-churn-100k.timeline"):
        t, p = float(line.split()[0]), int(line.split()[1])
        if t > pt:
            ts.append(t); mpps.append((p - pp) / (t - pt) / 1e6)
        pt, pp = t, p
    series.append({"name": "OVS-DPDK, churn %s/s" % rate, "t_s": ts, "mpps": mpps})
if series:
    r["timeline"] = {"series": series}
json.dump(r, open(out, "w"), indent=1)
PY
  $BENCH plot --input "$OUT/dpdk-compare.json" --out "$OUT" || echo "compare: the plots failed (the table above stands)" >&2
fi

# Flow-mod throughput: ovs-ofctl add-flows of the exact rows' files into each switch (Open vSwitch's times are its
# bridge set-ups above). ovs-ofctl waits for a BARRIER_REPLY after every flow-mod, so this is a round-trip rate, and a
# round trip costs what the two processes' placement costs: a wake-up across CPUs on this kind of virtual machine
# takes tens of microseconds, one on the same CPU a context switch. So both switches get the same placement and the
# same transport: ovs-ofctl on CPU $MAIN_CPU, over the switch's Unix management socket; Open vSwitch's main thread is
# on CPU $MAIN_CPU (dpdk-lcore-mask), and so is the Softswitch daemon (taskset; DOTNET_PROCESSOR_COUNT keeps the
# runtime configured for the machine's CPU count, as unpinned), on in-memory ports with no traffic, like Open
# vSwitch's bridge before its source port is added.
ADD_ROWS=""
for r in exact-100k exact-1m; do [ -n "${ADD_SECS[$r]:-}" ] && ADD_ROWS+="$r "; done
if [ -n "$ADD_ROWS" ]; then
  echo
  printf "%-34s %14s %16s %7s\n" "ovs-ofctl add-flows (flows/s)" "OVS-DPDK" "Softswitch" ratio
  for r in $ADD_ROWS; do
    n=$(grep -c . $RUN/rows/$r.flows)
    ssecs=""
    for round in $(seq $ROUNDS); do
      sock=$RUN/ssw.mgmt; rm -f $sock
      ssw_start_placed $MAIN_CPU $RUN/ssw-daemon.log --ports mem:$((SINKS + 1)) --listen punix:$sock --unixctl none --log-level Warning
      dpid=$SSW_PID; pids+=($dpid)
      of_wait unix:$sock || { echo "compare: the Softswitch daemon did not answer on $sock (log: $RUN/ssw-daemon.log)" >&2; exit 1; }
      t0=$(date +%s.%N)
      taskset -c $MAIN_CPU ovs-ofctl -O OpenFlow10 add-flows unix:$sock $RUN/rows/$r.flows
      ssecs+="$(echo "$(date +%s.%N) - $t0" | bc -l) "
      kill $dpid; wait $dpid 2>/dev/null || true
    done
    o=$(median "${ADD_SECS[$r]}"); s=$(median "$ssecs")
    printf "%-34s %14.0f %16.0f %7.2f\n" "$r ($n flows)" "$(echo "$n / $o" | bc -l)" "$(echo "$n / $s" | bc -l)" "$(echo "$o / $s" | bc -l)"
  done
fi
