#!/usr/bin/env bash
# Puts `softswitch vswitchd` where Open vSwitch's service runs ovs-vswitchd:
#   bash scripts/install-vswitchd.sh [--start] [PREFIX]      (PREFIX as given to install.sh, default /usr/local)
# installs the systemd drop-in /etc/systemd/system/ovs-vswitchd.service.d/softswitch.conf, so Debian's
# ovs-vswitchd.service (required by openvswitch-switch.service, after ovsdb-server.service) runs softswitch vswitchd
# in place of ovs-vswitchd, by its link PREFIX/lib/softswitch/sbin/ovs-vswitchd (install.sh puts it there): one unit,
# never both daemons on one database; `systemctl reload` runs ovs-ctl restart with OVS_SBINDIR set to that directory.
# --start: systemctl daemon-reload and restart openvswitch-switch (with no systemd running, the database is set up
# with ovs-ctl --no-ovs-vswitchd start, as ovsdb-server.service does, and the daemon started by ovs-ctl
# --no-ovsdb-server start with OVS_SBINDIR, detached).
# --uninstall: removes the drop-in (ovs-vswitchd.service runs ovs-vswitchd again). DESTDIR is honoured.
set -euo pipefail
cd "$(dirname "$0")/.."
start=0
uninstall=0
while [ $# -gt 0 ]; do
  case "$1" in
    --start) start=1; shift ;;
    --uninstall) uninstall=1; shift ;;
    -*) echo "install-vswitchd.sh: unknown option $1 (--start, --uninstall)" >&2; exit 2 ;;
    *) break ;;
  esac
done
PREFIX=${1:-/usr/local}
DEST=${DESTDIR:-}
dropin="$DEST/etc/systemd/system/ovs-vswitchd.service.d/softswitch.conf"
systemd_running() { [ -z "$DEST" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; }

if [ "$uninstall" = 1 ]; then
  rm -f "$dropin"
  rmdir "$(dirname "$dropin")" 2>/dev/null || true
  systemd_running && systemctl daemon-reload
  echo "install-vswitchd.sh: removed $dropin"
  exit 0
fi

sbin=$PREFIX/lib/softswitch/sbin
if [ ! -x "$DEST$PREFIX/bin/softswitch" ] || [ ! -x "$DEST$sbin/ovs-vswitchd" ]; then
  echo "install-vswitchd.sh: $DEST$PREFIX/bin/softswitch (and its link $DEST$sbin/ovs-vswitchd) is not installed: run scripts/install.sh $PREFIX first" >&2
  exit 2
fi
if [ ! -e "$DEST/usr/share/openvswitch/vswitch.ovsschema" ] && [ -z "$DEST" ]; then
  echo "install-vswitchd.sh: warning: no Open vSwitch database tools here: apt-get install openvswitch-switch openvswitch-common" >&2
fi
install -d "$(dirname "$dropin")"
sed "s|@PREFIX@|$PREFIX|g" packaging/ovs-vswitchd.service.d/softswitch.conf > "$dropin"
chmod 0644 "$dropin"
echo "install-vswitchd.sh: installed $dropin (ovs-vswitchd.service runs softswitch vswitchd as $sbin/ovs-vswitchd)"

if [ "$start" = 1 ]; then
  if systemd_running; then
    systemctl daemon-reload
    systemctl restart openvswitch-switch
    echo "install-vswitchd.sh: openvswitch-switch restarted: $(systemctl is-active ovs-vswitchd) ($(ovs-vsctl --timeout=10 get Open_vSwitch . ovs_version 2>/dev/null || echo 'no answer yet'))"
  else
    /usr/share/openvswitch/scripts/ovs-ctl --no-ovs-vswitchd --system-id=random start
    OVS_SBINDIR="$DEST$sbin" /usr/share/openvswitch/scripts/ovs-ctl --no-ovsdb-server --no-monitor --no-record-hostname start
    echo "install-vswitchd.sh: no systemd here: the database and softswitch vswitchd were started by ovs-ctl (OVS_SBINDIR=$DEST$sbin ovs-ctl restart restarts it)"
  fi
else
  echo "install-vswitchd.sh: start it with: systemctl daemon-reload; systemctl restart openvswitch-switch"
fi
