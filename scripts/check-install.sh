#!/usr/bin/env bash
# Checks the install as the README gives it, on this machine, against the installed native binary (CI runs it from
# .ci/run before the tests, so a change that breaks the NativeAOT publish or the drop-in fails CI):
#   1. scripts/install.sh PREFIX: the NativeAOT publish (no trim or AOT analysis warning allowed) into a temporary
#      prefix, and the Debian package's layout around that binary (scripts/build-deb.sh, then lintian);
#   2. the README's "In place of ovs-vswitchd" commands: scripts/install-vswitchd.sh --start PREFIX, ovs-vsctl add-br
#      with a port and a controller, ovs-ofctl dump-flows br0, mn --test pingall with Mininet's stock switch, and
#      a hundred stock switches (mn --topo linear,100, standalone); Open vSwitch's `ovs-ctl restart` with OVS_SBINDIR
#      at the installed ovs-vswitchd link: the daemon restarted with a bridge's groups and flows saved by ovs-save and
#      restored with --bundle; then del-br, --uninstall and ovs-ctl stop.
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
  [ "$(readlink -f "/proc/$daemon/exe")" = "$(readlink -f "$prefix/bin/softswitch")" ] || { say "FAILED: pid $daemon serving the database is not softswitch"; exit 1; }
  [ "$(cat "/proc/$daemon/comm")" = ovs-vswitchd ] || { say "FAILED: pid $daemon is named $(cat "/proc/$daemon/comm"), not ovs-vswitchd (ovs-ctl would not find it)"; exit 1; }
  mn_run() {
    say "mn $*"
    out=$(timeout 300 mn "$@" 2>&1) || { echo "$out"; say "FAILED: mn $* exited non-zero"; exit 1; }
    echo "$out" | grep -E 'Results:|completed in'
    echo "$out" | grep -q 'Results: 0% dropped' || { echo "$out"; say "FAILED: mn $* dropped packets"; exit 1; }
  }
  mn_run --topo tree,depth=2 --test pingall
  mn_run --topo linear,100 --switch ovs,failMode=standalone --controller none --test pingpair
  [ "$(cat /run/openvswitch/ovs-vswitchd.pid)" = "$daemon" ] || { say "FAILED: the daemon was restarted during the runs"; exit 1; }
  # ovs-ctl restart around the daemon (docs/manual.md): a group and flows in two tables of a bridge of no `protocols`
  # (the default offers OpenFlow14, which ovs-save then speaks) saved by ovs-save, the daemon stopped, started again from the installed link (OVS_SBINDIR) while
  # other_config:flow-restore-wait=true, and the saved script restoring them with add-groups and replace-flows --bundle.
  say "OVS_SBINDIR=$prefix/lib/softswitch/sbin ovs-ctl --no-ovsdb-server restart"
  ovs-vsctl --timeout=30 add-br ssw-ci-br1 -- set bridge ssw-ci-br1 fail_mode=secure \
    -- add-port ssw-ci-br1 ssw-ci-eth1p
  saved=$(mktemp -d)
  ovs-ofctl -O OpenFlow14 add-group ssw-ci-br1 group_id=7,type=all,bucket=actions=output:LOCAL
  printf '%s\n' 'table=0,priority=10,in_port=1,actions=goto_table:3' 'table=3,cookie=0x3,priority=5,ip,actions=group:7' \
    'table=3,priority=0,actions=drop' > "$saved/flows"
  ovs-ofctl -O OpenFlow14 add-flows ssw-ci-br1 "$saved/flows"
  dump() { ovs-ofctl -O OpenFlow14 dump-groups ssw-ci-br1 | sort; ovs-ofctl -O OpenFlow14 dump-flows --no-stats ssw-ci-br1 | sort; }
  before=$(dump)
  # The script ovs-ctl has ovs-save write restores with --bundle (the bridge offers OpenFlow14 by default), and the
  # save of every bridge speaks to it: no version negotiation fails.
  TMPDIR=$saved /usr/share/openvswitch/scripts/ovs-save save-flows ssw-ci-br1 > "$saved/restore.sh"
  grep -q -- '--bundle' "$saved/restore.sh" || { cat "$saved/restore.sh"; say "FAILED: ovs-save did not restore with --bundle"; exit 1; }
  out=$(OVS_SBINDIR="$prefix/lib/softswitch/sbin" /usr/share/openvswitch/scripts/ovs-ctl --no-ovsdb-server --no-monitor --system-id=random \
    --no-record-hostname restart 2>&1) || { echo "$out"; say "FAILED: ovs-ctl restart exited non-zero"; exit 1; }
  echo "$out"
  if echo "$out" | grep -q 'version negotiation failed'; then say "FAILED: ovs-save could not speak to a bridge"; exit 1; fi
  { echo "$out" | grep -q 'Saving flows' && echo "$out" | grep -q 'Restoring saved flows'; } || { say "FAILED: ovs-ctl restart did not save and restore the flows"; exit 1; }
  if kill -0 "$daemon" 2>/dev/null; then say "FAILED: ovs-ctl restart left the daemon before it (pid $daemon) running"; exit 1; fi
  restarted=$(cat /run/openvswitch/ovs-vswitchd.pid)
  [ "$restarted" != "$daemon" ] && [ "$(readlink -f "/proc/$restarted/exe")" = "$(readlink -f "$prefix/bin/softswitch")" ] \
    || { say "FAILED: pid $restarted after ovs-ctl restart is not a new softswitch"; exit 1; }
  daemon=$restarted
  after=$(dump)
  [ "$after" = "$before" ] || { printf 'before:\n%s\nafter:\n%s\n' "$before" "$after"; say "FAILED: ovs-ctl restart did not give back every group and flow"; exit 1; }
  ! ovs-vsctl --timeout=30 get Open_vSwitch . other_config | grep -q flow-restore-wait || { say "FAILED: flow-restore-wait left set"; exit 1; }
  rm -rf "$saved"
  ovs-vsctl --timeout=30 del-br ssw-ci-br1
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
