#!/usr/bin/env bash
# The benchmark command (`npm run bench`): builds the solution, then runs the load driver
# (PaymentFunctions.Benchmarks), which starts the app as its own process against Azurite on 127.0.0.1 and an
# in-process fake P云, measures each figure beside its floor in the same run, and prints the ratios.
# Uses an Azurite that is already running; otherwise starts its own and stops it. Loopback only.
# Sizes: `npm run bench -- --orders 1000 --rounds 2` (`-- --help` lists them). Logs in .local/bench/.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tools/local/azurite.sh

ensure_node_modules
if ! azurite_up; then
  start_azurite
  trap stop_azurite EXIT
fi

dotnet build PaymentFunctions.sln -c Release --nologo -v quiet >/dev/null || dotnet build PaymentFunctions.sln -c Release --nologo -v quiet
dotnet PaymentFunctions.Benchmarks/bin/Release/net10.0/PaymentFunctions.Benchmarks.dll --root "$PWD" "$@"
