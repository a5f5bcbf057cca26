#!/usr/bin/env bash
# `npm run openapi`: rewrites docs/openapi.v1.json with the document the app serves at GET /api/openapi/v1.json.
# It runs the drift test (OpenApiDocumentTests) in its writing mode: the app starts in memory, no storage or
# platform is needed. Run it after changing a route, then commit the file; `npm test` fails while they differ.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=docs/openapi.v1.json
rm -f "$out" # so a run that wrote nothing (no test matched, the build failed) cannot pass for one that did
status=0
PAYMENTFUNCTIONS_WRITE_OPENAPI=1 dotnet test PaymentFunctions.Tests -c Release --nologo \
  --filter "FullyQualifiedName=PaymentFunctions.Tests.Deployment.OpenApiDocumentTests.The_committed_document_equals_the_served_one" || status=$?
if [ "$status" -ne 0 ] || [ ! -s "$out" ]; then
  echo "$out was not written; restoring the committed copy." >&2
  git checkout -- "$out" 2>/dev/null || true
  exit 1
fi
git --no-pager diff --stat -- "$out" 2>/dev/null || true
echo "docs/openapi.v1.json is the served document; commit it with your change."
