#!/usr/bin/env bash
# Builds a Debian package of Softswitch with dpkg-deb: `bash scripts/build-deb.sh [OUTDIR]` (default the current
# directory) writes OUTDIR/softswitch_VERSION_ARCH.deb holding
#   /usr/bin/softswitch                              the NativeAOT binary (scripts/install.sh builds it)
#   /usr/lib/softswitch/sbin/ovs-vswitchd            a link to it, run by ovs-ctl as ovs-vswitchd (OVS_SBINDIR)
#   /usr/lib/systemd/system/softswitch@.service      the systemd unit, one instance per /etc/softswitch/NAME.json
#   /usr/share/man/man8/softswitch.8.gz              the man page
#   /usr/share/softswitch/mininet/softswitch_mn.py   the Mininet switch class
#   /usr/share/doc/softswitch/README.md.gz, copyright, changelog.gz
# SOFTSWITCH_BINARY=PATH packages that binary instead of building one (a quicker check of the package's layout).
# The Maintainer field: SOFTSWITCH_MAINTAINER, else DEBFULLNAME <DEBEMAIL> (Debian's convention), else the author of
# the commit being packaged. `lintian` on the package reports no errors (tests/Softswitch.Tests/DebPackageTests.cs).
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
  install -d "$root/usr/lib/softswitch/sbin"
  ln -sfn ../../../bin/softswitch "$root/usr/lib/softswitch/sbin/ovs-vswitchd"
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
if [[ -n "${SOFTSWITCH_MAINTAINER:-}" ]]; then
  maintainer=$SOFTSWITCH_MAINTAINER
elif [[ -n "${DEBFULLNAME:-}" && -n "${DEBEMAIL:-}" ]]; then
  maintainer="$DEBFULLNAME <$DEBEMAIL>"
else
  maintainer=$(git log -1 --format='%an <%ae>' 2>/dev/null || true)
fi
[[ "$maintainer" =~ ^[^\<\>]+\ \<[^@\<\>\ ]+@[^@\<\>\ ]+\>$ ]] || {
  echo "build-deb.sh: no maintainer 'NAME <EMAIL>' (got '$maintainer'): set SOFTSWITCH_MAINTAINER or DEBFULLNAME and DEBEMAIL" >&2; exit 2; }

# Debian policy 12.5 and 12.7: the copyright file, and a changelog (a native package's, one entry for this build).
year=$(date -u +%Y)
cat > "$root/usr/share/doc/softswitch/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: softswitch
Upstream-Contact: $maintainer
Comment: The sources of this package are the Softswitch repository, which states no license of its own. The binary
 is built with the .NET SDK and runtime (MIT) and links no other code into it; at run time it loads the system's
 libc, OpenSSL (TLS connections) and libpcap (pcap: ports) from their own Debian packages.

Files: *
Copyright: $year Softswitch developers
License: no-license-stated

Files: usr/bin/softswitch
Copyright: $year Softswitch developers
 .NET Foundation and Contributors
License: no-license-stated and Expat
Comment: The program is compiled ahead of time with the code of the .NET runtime in it.

License: no-license-stated
 The Softswitch sources state no license. All rights are reserved by their
 copyright holders; ask them before redistributing this package.

License: Expat
 Permission is hereby granted, free of charge, to any person obtaining a copy
 of this software and associated documentation files (the "Software"), to deal
 in the Software without restriction, including without limitation the rights
 to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
 copies of the Software, and to permit persons to whom the Software is
 furnished to do so, subject to the following conditions:
 .
 The above copyright notice and this permission notice shall be included in all
 copies or substantial portions of the Software.
 .
 THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
 IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
 FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
 AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
 LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
 OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
 SOFTWARE.
COPYRIGHT
chmod 0644 "$root/usr/share/doc/softswitch/copyright"
cat > "$root/usr/share/doc/softswitch/changelog" <<CHANGELOG
softswitch ($version) unstable; urgency=medium

  * Built from commit $(git rev-parse --short=7 HEAD 2>/dev/null || echo unknown) of the Softswitch repository.

 -- $maintainer  $(date -u -R)
CHANGELOG
gzip -9n "$root/usr/share/doc/softswitch/changelog"
chmod 0644 "$root/usr/share/doc/softswitch/changelog.gz"
size=$(du -sk "$root" | cut -f1)

install -d -m 0755 "$root/DEBIAN"
cat > "$root/DEBIAN/control" <<CONTROL
Package: softswitch
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: libc6, libssl3 | libssl3t64, libpcap0.8 | libpcap0.8t64
Recommends: openvswitch-common
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
