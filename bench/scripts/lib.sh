# Shared by the benchmark scripts that time the Softswitch daemon against Open vSwitch (sourced, not run).

# ssw_start_placed CPU LOG ARGS...: starts the Softswitch daemon (the Release build, or the softswitch.dll SSW_DLL
# names, e.g. another checkout's build to compare with; `softswitch run ARGS...`) in the
# background with every thread on CPU (a taskset list; "all" leaves placement to the scheduler), its output in LOG,
# and sets SSW_PID. DOTNET_PROCESSOR_COUNT keeps the runtime configured for the machine's CPU count, as unpinned: a
# comparison changes the placement, not the switch. With SSW_NS set, it runs inside that network namespace.
# It runs in a session of its own (setsid), as a daemon started by systemd or ovs-vswitchd --detach does: with the
# kernel's autogroup scheduling (sched_autogroup_enabled) each session is one scheduling group, and a switch left in
# the script's session would share its group's weight with the script's generator and busy loop.
ssw_start_placed() {
  local cpu=$1 log=$2 root
  shift 2
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  local on=(setsid)
  [ -n "${SSW_NS:-}" ] && on+=(ip netns exec "$SSW_NS")
  [ "$cpu" = all ] || on+=(taskset -c "$cpu")
  DOTNET_PROCESSOR_COUNT=$(nproc) "${on[@]}" dotnet "${SSW_DLL:-$root/src/Softswitch/bin/Release/net10.0/softswitch.dll}" run "$@" > "$log" 2>&1 &
  SSW_PID=$!
}

# of_wait TARGET [SECONDS]: waits until an OpenFlow switch answers `ovs-ofctl show TARGET` (default 30 s); false if not.
of_wait() {
  local i
  for i in $(seq $(( ${2:-30} * 10 ))); do
    ovs-ofctl -O OpenFlow10 show "$1" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}
