#!/usr/bin/env bash
# The test command (`npm test`): builds and runs every test against Azurite on 127.0.0.1.
# Uses an Azurite that is already running (as .ci/run starts one); otherwise starts its own and stops it.
# Ends with one plain line: "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/../.."
. tools/local/azurite.sh

ensure_node_modules
if ! azurite_up; then
  start_azurite
  trap stop_azurite EXIT
fi

results="artifacts/test-results"
rm -rf "$results"
status=0
dotnet test PaymentFunctions.sln -c Release --nologo \
  --logger "trx;LogFileName=tests.trx" --logger "console;verbosity=normal" \
  --results-directory "$results" "$@" || status=$?

passed=0
failed=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")
  f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0}))
done
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1 # the build or the runner failed before any result was written
fi
echo "$passed passed, $failed failed"
exit "$status"
