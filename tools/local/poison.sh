#!/usr/bin/env bash
# The poison-queue command (`npm run poison -- list|show <id>|replay <id>|--all`): the app's own
# `PaymentFunctions poison …` (docs/operations.md), built when missing or older than the sources.
# Storage: the AzureWebJobsStorage (or AzureWebJobsStorage__*) of the environment; the local Azurite when none is set.
set -euo pipefail
cd "$(dirname "$0")/../.."

DLL="PaymentFunctions/bin/Release/net10.0/PaymentFunctions.dll"
if [ ! -f "$DLL" ] || [ -n "$(find PaymentFunctions -name '*.cs' -newer "$DLL" -not -path '*/obj/*' -print -quit)" ]; then
  dotnet build PaymentFunctions/PaymentFunctions.csproj -c Release --nologo -v quiet >&2
fi

if [ -z "${AzureWebJobsStorage:-}" ] && ! env | grep -q '^AzureWebJobsStorage__'; then
  export AzureWebJobsStorage="UseDevelopmentStorage=true"
fi
exec dotnet "$DLL" poison "$@"
