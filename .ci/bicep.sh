#!/usr/bin/env bash
# CI: compile and lint the infrastructure (infra/*.bicep). Fails on any error or warning.
# The Bicep CLI comes from NuGet (Azure.Bicep.CommandLine.linux-x64, pinned in infra/bicep.proj), the only
# registry CI can reach; nothing is downloaded from anywhere else.
set -euo pipefail
cd "$(dirname "$0")/.."

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

dotnet restore infra/bicep.proj --nologo -v quiet
packages=$(dotnet msbuild infra/bicep.proj -nologo -getProperty:NuGetPackageRoot)
version=$(dotnet msbuild infra/bicep.proj -nologo -getProperty:BicepVersion)
bicep="${packages%/}/azure.bicep.commandline.linux-x64/${version}/tools/bicep"
if [ ! -f "$bicep" ]; then
  echo "bicep: $bicep not found after restore" >&2
  exit 1
fi
chmod +x "$bicep" # NuGet does not keep the executable bit
"$bicep" --version

# Bicep reports diagnostics on stderr and exits 0 for warnings, so any output at all is a failure.
out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
# Building main.bicep compiles every module; the lint pattern covers each file on its own too.
if ! "$bicep" build infra/main.bicep --stdout >/dev/null 2>"$out" || [ -s "$out" ]; then
  echo "bicep build infra/main.bicep:" >&2
  cat "$out" >&2
  status=1
fi
if ! "$bicep" lint --pattern 'infra/**/*.bicep' >"$out" 2>&1 || [ -s "$out" ]; then
  echo "bicep lint infra/**/*.bicep:" >&2
  cat "$out" >&2
  status=1
fi

if [ "$status" -eq 0 ]; then
  echo "bicep: build and lint clean"
fi
exit "$status"
