#!/usr/bin/env bash
# Checks the install as the README gives it, on this machine, against the installed native binary (CI runs it from
# .ci/run before the tests, so a change that breaks the NativeAOT publish or the drop-in fails CI):
#   1. scripts/install.sh PREFIX: the NativeAOT publish (no trim or AOT analysis warning allowed) into a temporary
#      prefix, and the Debian package's layout around that binary (scripts/build-deb.sh, then lintian);
#   2. the README's "In place of ovs-vswitchd" commands: scripts/install-vswitchd.sh --start PREFIX, ovs-vsctl add-br
#      with a port and a controller, ovs-ofctl dump-flows br0, mn --test pingall with Mininet's stock switch, and
#      a hundred stock switches (mn --topo linear,100, standalone); then del-br, --uninstall and ovs-ctl stop.
# Step 2 runs in tests/E2E.Tests/Mininet/sandbox.sh (its own network, mount and PID namespaces): the system paths Open
# vSwitch's scripts write (/etc/openvswitch, /var/log/openvswitch, /run, the systemd drop-in's directory) are private
# tmpfs there, so nothing of the machine's own Open vSwitch, nor a cleanup by `mn`, is touched. Needs root.
#   bash scripts/check-install.sh            # prints "check-install: ok" at the end, exits non-zero on any failure
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "check-install: $*"; }

if [ "${1:-}" = --inside-sandbox ]; then
  prefix=$2
  for d in /etc/openvswitch /var/log/openvswitch /etc/systemd/system; do
    mkdir -p "$d"
    mount -t tmpfs -o mode=0755 ssw-check-install "$d"
  done
  say "install-vswitchd.sh --start $prefix"
  bash scripts/install-vswitchd.sh --start "$prefix"
  [ -e /etc/systemd/system/ovs-vswitchd.service.d/softswitch.conf ]
  ovs-vsctl --timeout=30 show >/dev/null
  # The README's eth1: a veth end here.
  ip link add ssw-ci-eth1 type veth peer name ssw-ci-eth1p
  ip link set ssw-ci-eth1 up
  ip link set ssw-ci-eth1p up
  say "ovs-vsctl add-br br0 -- add-port br0 ssw-ci-eth1 -- set-controller br0 tcp:127.0.0.1:6653"
  ovs-vsctl --timeout=30 add-br br0 -- add-port br0 ssw-ci-eth1 -- set-controller br0 tcp:127.0.0.1:6653
  ofport=$(ovs-vsctl --timeout=30 get Interface ssw-ci-eth1 ofport)
  [ "$ofport" -ge 1 ] || { say "FAILED: ssw-ci-eth1 has ofport $ofport ($(ovs-vsctl get Interface ssw-ci-eth1 error))"; exit 1; }
  say "ovs-ofctl dump-flows br0"
  ovs-ofctl dump-flows br0
  ovs-ofctl show br0 | grep -q 'ssw-ci-eth1' || { say "FAILED: ovs-ofctl show br0 has no ssw-ci-eth1"; exit 1; }
  daemon=$(cat /run/openvswitch/ovs-vswitchd.pid)
  grep -q softswitch "/proc/$daemon/cmdline" || { say "FAILED: pid $daemon serving the database is not softswitch"; exit 1; }
  mn_run() {
    say "mn $*"
    out=$(timeout 300 mn "$@" 2>&1) || { echo "$out"; say "FAILED: mn $* exited non-zero"; exit 1; }
    echo "$out" | grep -E 'Results:|completed in'
    echo "$out" | grep -q 'Results: 0% dropped' || { echo "$out"; say "FAILED: mn $* dropped packets"; exit 1; }
  }
  mn_run --topo tree,depth=2 --test pingall
  mn_run --topo linear,100 --switch ovs,failMode=standalone --controller none --test pingpair
  [ "$(cat /run/openvswitch/ovs-vswitchd.pid)" = "$daemon" ] || { say "FAILED: the daemon was restarted during the runs"; exit 1; }
  ovs-vsctl --timeout=30 del-br br0
  left=$(ovs-vsctl --timeout=30 list-br)
  [ -z "$left" ] || { say "FAILED: bridges left behind: $left"; exit 1; }
  bash scripts/install-vswitchd.sh --uninstall
  [ ! -e /etc/systemd/system/ovs-vswitchd.service.d/softswitch.conf ]
  /usr/share/openvswitch/scripts/ovs-ctl stop
  for _ in $(seq 100); do kill -0 "$daemon" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$daemon" 2>/dev/null; then say "FAILED: softswitch vswitchd (pid $daemon) did not stop"; exit 1; fi
  exit 0
fi

[ "$(id -u)" = 0 ] || { say "needs root (network namespaces, the drop-in, Mininet)"; exit 2; }
bash scripts/install-deps.sh
repo=$(pwd -P)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

start=$SECONDS
say "install.sh $prefix"
bash scripts/install.sh "$prefix"
"$prefix/bin/softswitch" --version
say "build-deb.sh with the installed binary"
SOFTSWITCH_BINARY=$prefix/bin/softswitch bash scripts/build-deb.sh "$work/deb"
lintian --fail-on error "$work"/deb/softswitch_*.deb

say "the README's vswitchd commands, in a sandbox"
mkdir -p "$work/sandbox/tmp"
SANDBOX_KEEP="$repo:$work" unshare --net --mount --pid --fork --mount-proc --propagation private \
  sh "$repo/tests/E2E.Tests/Mininet/sandbox.sh" "$work/sandbox" bash "$repo/scripts/check-install.sh" --inside-sandbox "$prefix"
say "ok ($((SECONDS - start)) s)"
