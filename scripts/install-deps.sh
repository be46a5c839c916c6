#!/usr/bin/env bash
# Installs the Debian packages Softswitch's tests and end-to-end runs use; does nothing for what is
# already there. Needs root (CI is root); without root it says what is missing and carries on.
set -euo pipefail
pkgs=(libpcap0.8 iproute2 ethtool iputils-ping tcpdump tshark openvswitch-common openvswitch-switch
      openvswitch-testcontroller openvswitch-pki python3-os-ken netsniff-ng iperf3 tcpreplay mininet sockperf
      openssh-server sudo lintian systemd)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-deps: NOT ROOT, cannot install: ${missing[*]} (tests needing them will say so)" >&2
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
