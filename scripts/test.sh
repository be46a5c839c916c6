#!/usr/bin/env bash
# Runs the whole Softswitch test suite on a fresh Debian machine: installs what the tests need
# (idempotently), builds, runs every test project, then runs the datapath tests once more with
# hardware intrinsics off so the scalar twins of the SIMD paths are exercised too.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
dotnet build Softswitch.sln -c Release -nologo -v q -clp:ErrorsOnly

status=0
dotnet test Softswitch.sln -c Release --no-build -nologo --logger "console;verbosity=normal" || status=$?

echo "== Datapath tests again with DOTNET_EnableHWIntrinsic=0 (scalar paths)"
DOTNET_EnableHWIntrinsic=0 dotnet test tests/Datapath.Tests -c Release --no-build -nologo || status=$?

exit $status
