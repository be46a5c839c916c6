# 5c. The slow-flow-removed scenario against Open vSwitch, for comparison; sourced by run.sh (root). A private
# ovs-vswitchd (user space, netdev datapath) runs in a network namespace of its own, so it cannot meet another
# instance's ovs-netdev tap, and connects to its controller, bench/reliability/slow_reader.py --listen, on the
# namespace's loopback (a passive ptcp: controller target would be a service connection, which gets no FLOW_REMOVED).
# The row is a reference (REF), not judged; it fails only when Open vSwitch did not run or delivered nothing.
ORUN="$RUN/ovs"; NSO=skrel-ovs-$$
mkdir -p "$ORUN"
ovs_cleanup() {
  for f in "$ORUN/ovs-vswitchd.pid" "$ORUN/ovsdb-server.pid"; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
  ip netns del $NSO 2>/dev/null || true
}
trap 'ovs_cleanup; declare -F netns_cleanup >/dev/null && netns_cleanup; cleanup' EXIT
ip netns add $NSO; ip -n $NSO link set lo up
OVSENV=(env OVS_RUNDIR="$ORUN" OVS_LOGDIR="$ORUN" OVS_DBDIR="$ORUN")
V=("${OVSENV[@]}" ovs-vsctl --db=unix:"$ORUN/db.sock" --timeout=30)
ovsdb-tool create "$ORUN/conf.db" /usr/share/openvswitch/vswitch.ovsschema
"${OVSENV[@]}" ovsdb-server "$ORUN/conf.db" --remote=punix:"$ORUN/db.sock" --pidfile="$ORUN/ovsdb-server.pid" \
  --log-file="$ORUN/ovsdb-server.log" --unixctl="$ORUN/ovsdb-server.ctl" --detach --no-chdir 2>/dev/null
"${V[@]}" --no-wait init
ip netns exec $NSO "${OVSENV[@]}" ovs-vswitchd unix:"$ORUN/db.sock" --pidfile="$ORUN/ovs-vswitchd.pid" \
  --log-file="$ORUN/ovs-vswitchd.log" --unixctl="$ORUN/ovs-vswitchd.ctl" --detach --no-chdir 2>/dev/null
P=$(port)
ovs_version=$(ovs-vswitchd --version | head -1 | awk '{print $NF}')
ok=REF
t0=$(date +%s)
ip netns exec $NSO $PY bench/reliability/slow_reader.py --listen --port $P --flows $SRFLOWS --hard-timeout $SRHARD >"$RUN/slowrem-ovs.json" &
SRO=$!; PIDS+=("$SRO")
for _ in $(seq 100); do ip netns exec $NSO ss -ltn | grep -q ":$P " && break; sleep 0.1; done
"${V[@]}" add-br br0 -- set bridge br0 datapath_type=netdev protocols=OpenFlow10 fail_mode=secure \
  -- set-controller br0 "tcp:127.0.0.1:$P" -- set controller br0 connection-mode=out-of-band
wait $SRO || ok=FAIL
wall=$(( $(date +%s) - t0 ))
ovs_pid=$(cat "$ORUN/ovs-vswitchd.pid" 2>/dev/null || echo 0)
alive "$ovs_pid" || ok=FAIL
[ "$(json $RUN/slowrem-ovs.json "d.get('removed', 0)")" -gt 0 ] || ok=FAIL
# rconn's "no response to inactivity probe after 5 seconds, disconnecting" (the reader may see the end only after its last FLOW_REMOVED).
closes=$(grep -c "disconnecting" "$ORUN/ovs-vswitchd.log" || true)
row slow-flow-removed-ovs $ok "$(json $RUN/slowrem-ovs.json "f\"Open vSwitch $ovs_version: {d['flows']:,} flows (hard timeout $SRHARD s) read at {d['rate'] >> 10} KiB/s: {d['flow_removed']} FLOW_REMOVED, {d['dumped']:,} dumped, closed by the switch $closes times (its log; the reader saw {d['closes']}), {d['echoes']} echo requests answered; installed in {d['install_s']} s, read for {d['seconds']} s, $wall s wall\"")"
ovs_cleanup
trap 'declare -F netns_cleanup >/dev/null && netns_cleanup; cleanup' EXIT
