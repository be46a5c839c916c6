#!/usr/bin/env bash
# OpenFlow 1.3 DSCP_REMARK bands through real veths: what a band marks against what exceeds its rate.
#
# Namespace A sends frames of DSCP 18 (AF21) with trafgen at twice the band's rate, paced by its inter-packet gap (its
# --rate sends a whole count at once), a fixed count, so the offer is known (the send time is measured).
# `softswitch run` (AF_PACKET ports) puts them through meter 1 (one DSCP_REMARK band, prec_level 1, no burst: its
# bucket holds 100 ms of the rate) to namespace B, where a packet socket counts each DSCP. A band that marks exactly
# what exceeds its rate leaves rate x send time + its bucket unmarked (DSCP 18) and marks the rest (DSCP 20, AF22).
# BAND=drop PREC= measures a drop band the same way. Rows: pktps 100, 1000, 10000 (1,000-byte frames) and kbps 1000,
# 10000, 100000 (1,500-byte frames), as the public OpenFlow 1.3 switch test suite's remark cases.
#
#   bash bench/netns/meter-remark.sh            # ROWS="pktps:100 kbps:1000 ..."; SECS=10 per row
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS=${ROWS:-pktps:100 pktps:1000 pktps:10000 kbps:1000 kbps:10000 kbps:100000}
SECS=${SECS:-10}
for t in ip trafgen ovs-ofctl python3; do command -v $t >/dev/null || { echo "needs $t"; exit 2; }; done
[ "${BUILD:-1}" = 1 ] && { dotnet build src/Softswitch -c Release -nologo -v q -clp:ErrorsOnly >/dev/null || exit 2; }
SSW="dotnet src/Softswitch/bin/Release/net10.0/softswitch.dll"
TAG=$(printf '%04x' $((RANDOM)))
NA=mra$TAG NB=mrb$TAG HA=mra${TAG}h HB=mrb${TAG}h
RUN=$(mktemp -d /tmp/ssw-mr.XXXXXX)
SSW_PID="" RX_PID=""
cleanup() {
  [ -n "$RX_PID" ] && kill "$RX_PID" 2>/dev/null || true
  [ -n "$SSW_PID" ] && kill "$SSW_PID" 2>/dev/null && wait "$SSW_PID" 2>/dev/null || true
  ip link del $HA 2>/dev/null || true; ip link del $HB 2>/dev/null || true
  ip netns del $NA 2>/dev/null || true; ip netns del $NB 2>/dev/null || true
  rm -rf "$RUN"
}
trap cleanup EXIT
ip netns add $NA; ip netns add $NB
ip link add $HA type veth peer name va netns $NA
ip link add $HB type veth peer name vb netns $NB
for ns in $NA $NB; do ip -n $ns link set lo up; done
ip -n $NA link set va address 02:00:00:00:0a:01 up; ip -n $NB link set vb address 02:00:00:00:0b:01 up
ip link set $HA up; ip link set $HB up
for i in $HA $HB; do ethtool -K $i gro off tso off gso off >/dev/null 2>&1 || true; done

$SSW run --ports afpacket:$HA,afpacket:$HB --listen punix:$RUN/of --fail-mode secure --threads 1 --log-level Warning \
  >$RUN/ssw.log 2>&1 &
SSW_PID=$!
for _ in $(seq 100); do ovs-ofctl -O OpenFlow13 show unix:$RUN/of >/dev/null 2>&1 && break; sleep 0.2; done
of() { ovs-ofctl -O OpenFlow13 "$@"; }

# The frame: Ethernet / IPv4 (DSCP 18, UDP, valid checksum) / payload, to B's address, as a trafgen packet.
frame_cfg() {
  python3 - "$1" <<'EOF'
import struct, sys
size = int(sys.argv[1])
eth = bytes.fromhex('020000000b01' '020000000a01' '0800')
ip_len = size - 14
hdr = struct.pack('!BBHHHBBH4s4s', 0x45, 18 << 2, ip_len, 1, 0, 64, 17, 0, bytes([10, 9, 0, 1]), bytes([10, 9, 0, 2]))
s = sum(struct.unpack('!10H', hdr)); s = (s & 0xffff) + (s >> 16); s = (s & 0xffff) + (s >> 16)
hdr = hdr[:10] + struct.pack('!H', ~s & 0xffff) + hdr[12:]
udp = struct.pack('!HHHH', 5000, 6000, ip_len - 20, 0)
f = eth + hdr + udp + bytes(size - 14 - 28)
print('{ ' + ', '.join('0x%02x' % b for b in f) + ' }')
EOF
}

# B's counter: frames by DSCP until SIGTERM, then "dscp count ..." and the socket's drops.
cat > $RUN/rx.py <<'EOF'
import os, signal, socket, struct, sys, time
trace = [] if os.environ.get('TRACE') else None
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
s.bind((sys.argv[1], 0))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 20)
counts = {}
stop = False
def end(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, end)
s.setsockopt(socket.SOL_SOCKET, 35, 1)   # SO_TIMESTAMPNS: the kernel's arrival time of each frame
s.settimeout(0.2)
print('ready', flush=True)
while not stop:
    try:
        f, anc, _, _ = s.recvmsg(64, 64)
    except (socket.timeout, InterruptedError):
        continue
    if len(f) > 15 and f[12:14] == b'\x08\x00':
        d = f[15] >> 2
        counts[d] = counts.get(d, 0) + 1
        if trace is not None:
            sec, ns = struct.unpack('qq', anc[0][2][:16]) if anc else (0, 0)
            trace.append((sec + ns / 1e9, d))
drops = struct.unpack('II', s.getsockopt(263, 6, 8))[1]   # SOL_PACKET, PACKET_STATISTICS: packets, drops
if trace:
    t0 = trace[0][0]
    sys.stderr.write(' '.join('%.3f:%d' % (t - t0, d) for t, d in trace[:120]) + '\n')
print(' '.join(f'{d}:{n}' for d, n in sorted(counts.items())), f'socket_drops:{drops}', flush=True)
EOF

printf '%-14s %8s %10s %10s %10s %10s %9s %8s\n' band offered unmarked expected remarked excess marked% lost
for row in $ROWS; do
  unit=${row%%:*} rate=${row#*:}
  if [ $unit = pktps ]; then size=1000; pps=$((2 * rate)); else size=1500; pps=$((2 * rate * 1000 / 8 / size)); fi
  count=$((pps * SECS))
  frame_cfg $size > $RUN/frame.cfg
  of del-flows unix:$RUN/of; of del-meters unix:$RUN/of 2>/dev/null || true
  of add-meter unix:$RUN/of "meter=1,$unit,band=type=${BAND:-dscp_remark},rate=$rate${PREC-,prec_level=1}"
  of add-flow unix:$RUN/of "priority=10,ip,in_port=1,actions=meter:1,output:2"
  ip netns exec $NB env TRACE=${TRACE:-} python3 $RUN/rx.py vb > $RUN/rx.out &
  RX_PID=$!
  for _ in $(seq 50); do grep -q ready $RUN/rx.out 2>/dev/null && break; sleep 0.1; done
  sleep 1.5   # the band's bucket fills while the meter waits, as after a conformance run installs it
  t0=$(date +%s.%N)
  ip netns exec $NA trafgen -o va -i $RUN/frame.cfg -t $((1000000000 / pps))ns -n $count -P 1 -q >/dev/null 2>&1
  t1=$(date +%s.%N)
  sleep 1
  [ "${STATS:-0}" = 1 ] && of meter-stats unix:$RUN/of | sed 's/^/  /' >&2
  kill -TERM $RX_PID; wait $RX_PID 2>/dev/null || true; RX_PID=""
  read -r unmarked remarked drops < <(python3 - "$(tail -1 $RUN/rx.out)" <<'EOF'
import sys
c = dict(kv.split(':') for kv in sys.argv[1].split())
print(c.get('18', 0), c.get('20', 0), c.get('socket_drops', 0))
EOF
)
  # Expected unmarked: the bucket the band filled while the meter waited (a DSCP_REMARK band's holds 100 ms of its
  # rate, Meter.RemarkBurstNanos; a drop band's 1 s), plus the rate over the send time, in this row's units.
  secs=$(python3 -c "print($t1 - $t0)")
  python3 - <<EOF
unit, rate, size, offered, secs = "$unit", $rate, $size, $count, $secs
unmarked, remarked, drops = $unmarked, $remarked, $drops
per = 1 if unit == "pktps" else size * 8 / 1000        # units of the band per frame
bucket = 0.1 if "${BAND:-dscp_remark}" == "dscp_remark" else 1.0
expected = min(offered, (rate * (secs + bucket)) / per)
excess = offered - expected
lost = offered - unmarked - remarked
print("%-14s %8d %10d %10.0f %10d %10.0f %8.1f%% %8d  (send %.2f s, socket drops %d)" % (
    f"{unit} {rate}", offered, unmarked, expected, remarked, excess, 100 * remarked / excess if excess > 0 else 0,
    lost, secs, drops))
EOF
done
