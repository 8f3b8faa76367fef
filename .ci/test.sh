#!/usr/bin/env bash
# Builds the solution and runs every test project; prints per-project results and, as its last
# line, the sum over all projects as "N passed, N failed".
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
RESULTS="$ROOT/TestResults"
rm -rf "$RESULTS"
if ! dotnet build Heraclius.Payments.sln -c Release -nologo -clp:ErrorsOnly; then
  echo "build failed"
  echo "0 passed, 1 failed"
  exit 1
fi
status=0
# One test project at a time (-m:1): the kvstore and ledger cluster tests each run 12-20 real nodes
# with sub-second timeouts, and running them side by side on a 2-core machine starved them into
# spurious view changes (seen once in CI).
dotnet test Heraclius.Payments.sln -c Release --no-build -m:1 --logger "trx" --results-directory "$RESULTS" || status=$?
passed=0; failed=0
for f in "$RESULTS"/*.trx; do
  [ -f "$f" ] || continue
  p=$(grep -o 'passed="[0-9]*"' "$f" | head -1 | grep -o '[0-9]*')
  x=$(grep -o 'failed="[0-9]*"' "$f" | head -1 | grep -o '[0-9]*')
  passed=$((passed + ${p:-0})); failed=$((failed + ${x:-0}))
done
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$status" -eq 0 ]
