#!/usr/bin/env bash
# Installs Softswitch as a native command: `bash scripts/install.sh [PREFIX]` (default /usr/local) builds
# `softswitch` with NativeAOT (no .NET runtime needed to run it; gcc links it when clang is missing) and puts
#   PREFIX/bin/softswitch                          the switch (run, demo, ctl, vswitchd)
#   PREFIX/lib/softswitch/sbin/ovs-vswitchd        a link to it: run by that name it is `softswitch vswitchd` taking
#                                                  ovs-vswitchd's command line, for ovs-ctl (OVS_SBINDIR=PREFIX/lib/softswitch/sbin)
#   PREFIX/lib/systemd/system/softswitch@.service  a systemd unit, one instance per /etc/softswitch/NAME.json
#   PREFIX/share/softswitch/mininet/softswitch_mn.py  the Mininet switch class (mn --custom ... --switch softswitch)
#   PREFIX/share/man/man8/softswitch.8             the man page (man softswitch)
# DESTDIR is honoured (staging for packages). Re-running replaces the installed files.
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX=${1:-/usr/local}
DEST=${DESTDIR:-}

case "$(uname -m)" in
  x86_64) rid=linux-x64 ;;
  aarch64) rid=linux-arm64 ;;
  *) echo "install.sh: no NativeAOT runtime identifier for $(uname -m)" >&2; exit 2 ;;
esac
linker=()
if ! command -v clang >/dev/null 2>&1; then
  if ! command -v gcc >/dev/null 2>&1; then
    echo "install.sh: NativeAOT needs a C toolchain to link: apt-get install gcc (or clang)" >&2
    exit 2
  fi
  linker=(-p:CppCompilerAndLinker=gcc)
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
start=$SECONDS
step() { echo "install.sh: $*"; }
done_step() { echo "install.sh:   done in $((SECONDS - start)) s"; start=$SECONDS; }
step "restoring packages (the first time: downloads the .NET packages and the NativeAOT compiler, usually 1-2 minutes)..."
dotnet restore src/Softswitch -r "$rid" -p:PublishAot=true -nologo -v q
done_step
step "publishing a NativeAOT binary for $rid (usually 2-3 minutes on 2 cores: a line per project compiled, then the native code generation, the longest step)..."
# Minimal console verbosity (src/Softswitch/Directory.Build.rsp) shows each step as it starts and ends.
dotnet publish src/Softswitch -c Release -r "$rid" -p:PublishAot=true "${linker[@]}" -o "$out" -nologo
done_step
step "installing into $DEST$PREFIX (a few seconds)..."

install -D -m 0755 "$out/softswitch" "$DEST$PREFIX/bin/softswitch"
# Relative, so it points at the binary beside it under DESTDIR as well as once installed.
install -d "$DEST$PREFIX/lib/softswitch/sbin"
ln -sfn ../../../bin/softswitch "$DEST$PREFIX/lib/softswitch/sbin/ovs-vswitchd"
install -d "$DEST$PREFIX/lib/systemd/system"
sed "s|@BINDIR@|$PREFIX/bin|g" packaging/softswitch@.service > "$DEST$PREFIX/lib/systemd/system/softswitch@.service"
chmod 0644 "$DEST$PREFIX/lib/systemd/system/softswitch@.service"
# The class runs the binary installed with it (its absolute path), whatever PATH the Mininet run has.
install -d "$DEST$PREFIX/share/softswitch/mininet"
sed "s|^_INSTALLED_BINDIR = '@BINDIR@'|_INSTALLED_BINDIR = '$PREFIX/bin'|" mininet/softswitch_mn.py > "$DEST$PREFIX/share/softswitch/mininet/softswitch_mn.py"
chmod 0644 "$DEST$PREFIX/share/softswitch/mininet/softswitch_mn.py"
install -D -m 0644 packaging/softswitch.8 "$DEST$PREFIX/share/man/man8/softswitch.8"
echo "install.sh: installed $DEST$PREFIX/bin/softswitch ($("$DEST$PREFIX/bin/softswitch" ctl --help >/dev/null 2>&1 && echo ok || echo 'does not run here'))"
echo "install.sh: systemd: put a config in /etc/softswitch/NAME.json, then systemctl daemon-reload; systemctl enable --now softswitch@NAME"
