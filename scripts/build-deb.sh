#!/usr/bin/env bash
# Builds a Debian package of Softswitch with dpkg-deb: `bash scripts/build-deb.sh [OUTDIR]` (default the current
# directory) writes OUTDIR/softswitch_VERSION_ARCH.deb holding
#   /usr/bin/softswitch                              the NativeAOT binary (scripts/install.sh builds it)
#   /usr/lib/systemd/system/softswitch@.service      the systemd unit, one instance per /etc/softswitch/NAME.json
#   /usr/share/man/man8/softswitch.8.gz              the man page
#   /usr/share/softswitch/mininet/softswitch_mn.py   the Mininet switch class
#   /usr/share/doc/softswitch/README.md.gz
# SOFTSWITCH_BINARY=PATH packages that binary instead of building one (a quicker check of the package's layout).
# Install with `apt install ./softswitch_*.deb`; the unit is not enabled or started by the package.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-.}")
command -v dpkg-deb >/dev/null || { echo "build-deb.sh: needs dpkg-deb (apt-get install dpkg)" >&2; exit 2; }
mkdir -p "$out"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root="$stage/root"
if [[ -n "${SOFTSWITCH_BINARY:-}" ]]; then
  install -D -m 0755 "$SOFTSWITCH_BINARY" "$root/usr/bin/softswitch"
  install -d "$root/usr/lib/systemd/system"
  sed "s|@BINDIR@|/usr/bin|g" packaging/softswitch@.service > "$root/usr/lib/systemd/system/softswitch@.service"
  chmod 0644 "$root/usr/lib/systemd/system/softswitch@.service"
  install -d "$root/usr/share/softswitch/mininet"
  sed "s|^_INSTALLED_BINDIR = '@BINDIR@'|_INSTALLED_BINDIR = '/usr/bin'|" mininet/softswitch_mn.py > "$root/usr/share/softswitch/mininet/softswitch_mn.py"
  chmod 0644 "$root/usr/share/softswitch/mininet/softswitch_mn.py"
else
  DESTDIR="$root" bash scripts/install.sh /usr
fi
install -D -m 0644 packaging/softswitch.8 "$root/usr/share/man/man8/softswitch.8"
gzip -9n "$root/usr/share/man/man8/softswitch.8"
install -D -m 0644 README.md "$root/usr/share/doc/softswitch/README.md"
gzip -9n "$root/usr/share/doc/softswitch/README.md"

# The version: the program's own (1.0.0+COMMIT) as 1.0.0+gCOMMIT7; the architecture: dpkg's.
raw=$("$root/usr/bin/softswitch" --version 2>/dev/null || true)
if [[ "$raw" =~ ^([0-9][0-9.]*)(\+([0-9a-f]{7}))? ]]; then
  version="${BASH_REMATCH[1]}${BASH_REMATCH[3]:++g${BASH_REMATCH[3]}}"
else
  version="0.0.0+g$(git rev-parse --short=7 HEAD 2>/dev/null || echo unknown)"
fi
arch=$(dpkg --print-architecture)
size=$(du -sk "$root" | cut -f1)

install -d -m 0755 "$root/DEBIAN"
cat > "$root/DEBIAN/control" <<CONTROL
Package: softswitch
Version: $version
Architecture: $arch
Maintainer: Softswitch developers <softswitch@localhost>
Installed-Size: $size
Depends: libc6
Recommends: libpcap0.8, openvswitch-common
Suggests: mininet
Section: net
Priority: optional
Description: user-space OpenFlow 1.0 switch
 Softswitch forwards between Linux interfaces (AF_PACKET, AF_XDP, libpcap),
 tap devices and tunnels under OpenFlow 1.0 controllers, or standalone as a
 learning switch. It is operated like Open vSwitch: ovs-ofctl and ovs-appctl
 work against it, its logs look like OVS's, and it serves OpenMetrics.
CONTROL
deb="$out/softswitch_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "build-deb.sh: $deb"
