#!/usr/bin/env bash
# Runs the whole Softswitch test suite on a fresh Debian machine: installs what the tests need
# (idempotently), builds, runs every test project, then runs the datapath tests once more with
# hardware intrinsics off so the scalar twins of the SIMD paths are exercised too.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

# Every program a test needs ([RequiresTool("...")] in tests/, kept in step by a test). Outside CI a missing one makes
# its tests skipped, each saying why; in CI (CI=true, set by .ci/run) it fails the run here, before the build.
tools=(ip python3 ethtool ping tcpdump tshark tcpreplay iperf3 trafgen ovs-ofctl ovs-appctl ovs-vsctl ovs-vswitchd
       ovsdb-server ovs-testcontroller ovs-pki osken-manager mn mnexec sockperf sshd ssh ssh-keygen sudo socat nsenter unshare
       dpkg-deb lintian systemd-analyze)
missing=()
for t in "${tools[@]}"; do
  command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] || [ -x "/sbin/$t" ] || missing+=("$t")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "${CI:-}" = true ]; then
    echo "test.sh: FAILED: missing in CI: ${missing[*]} (scripts/install-deps.sh installs them)" >&2
    exit 1
  fi
  echo "test.sh: missing: ${missing[*]}; the tests that need them will be reported skipped, with the reason" >&2
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
# Zero warnings in the whole solution: src/ treats them as errors always, CI also in tests/ and bench/.
dotnet build Softswitch.sln -c Release -nologo -v q -clp:ErrorsOnly -p:TreatWarningsAsErrors=true

log=$(mktemp)
status=0
dotnet test Softswitch.sln -c Release --no-build -nologo 2>&1 | tee -a "$log" || status=$?

echo "== Datapath tests again with DOTNET_EnableHWIntrinsic=0 (scalar paths)"
DOTNET_EnableHWIntrinsic=0 dotnet test tests/Datapath.Tests -c Release --no-build -nologo 2>&1 | tee -a "$log" || status=$?

# One closing line over every run: "tests: N passed, N failed, N skipped".
awk '/(Passed|Failed)! +- +Failed:/ {
        for (i = 1; i <= NF; i++) { g = $i; gsub(/,/, "", g)
          if ($(i-1) == "Failed:") f += g; if ($(i-1) == "Passed:") p += g; if ($(i-1) == "Skipped:") s += g } }
     END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
rm -f "$log"
exit $status
