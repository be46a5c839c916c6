#!/usr/bin/env bash
# Example benchmark plots (docs/benchmarks.md), made for real by small runs (a few minutes); on a loaded machine they
# show what each plot looks like, not the switch's figures:
#   bash bench/scripts/readme-plots.sh          # docs/img: each run's result file (.json) and its plots (.svg, .png)
# pps under churn (forwarding rate over time, churn from 3 s into the window), pps with 1 and 2 forwarding threads
# (scaling), the agent's packet-in round trips (latency CDF) and, as root, bench/netns/compare.sh's afpacket, afxdp,
# churn and latency rows (Softswitch beside Open vSwitch, ping RTT CDF). Any plot is drawn again from its result file
# without rerunning: `dotnet bench/bin/Release/net10.0/Softswitch.Bench.dll plot --input docs/img/pps.json --out docs/img`.
set -euo pipefail
cd "$(dirname "$0")/../.."
IMG=${IMG:-docs/img}
dotnet build bench -c Release -nologo -v q -clp:ErrorsOnly >/dev/null
BENCH="dotnet bench/bin/Release/net10.0/Softswitch.Bench.dll"
mkdir -p "$IMG"
echo "== pps, 100,000 exact flows, 100,000 flow-mods/s of churn from 3 s in"
$BENCH pps --flows 100000 --churn 100000 --churn-after 3 --seconds 8 --plot "$IMG"
echo "== pps, 10,000 exact flows per thread, 1 and 2 forwarding threads"
$BENCH pps --flows 10000 --scale-to 2 --seconds 4 --plot "$IMG"
echo "== agent, 2,000 packet-in -> packet-out round trips"
$BENCH agent --flows 20000 --round-trips 2000 --plot "$IMG"
if [ "$(id -u)" = 0 ]; then
  echo "== bench/netns/compare.sh (afpacket, afxdp, churn, latency; 3 s steps, one round)"
  ROWS=afpacket,afxdp,churn,latency LAT_REPEAT=1 IDLE_SETTLE=1 SECS=3 OUT="$IMG" bash bench/netns/compare.sh
else
  echo "(not root: the netns comparison's plots are left as they are)"
fi
