#!/usr/bin/env bash
# The test command: installs and starts what the tests need (ZooKeeper), builds, runs Jest, stops ZooKeeper.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -d node_modules ] || npm ci --no-audit --no-fund
bash scripts/zk/install.sh

stop_clusters() {
  bash scripts/zk/stop.sh test-standalone >/dev/null 2>&1 || true
  bash scripts/zk/stop.sh test-ensemble >/dev/null 2>&1 || true
}
trap stop_clusters EXIT

FLOWGATE_ZK_STANDALONE=$(bash scripts/zk/start.sh test-standalone standalone 23100 | tail -n 1)
FLOWGATE_ZK_ENSEMBLE=$(bash scripts/zk/start.sh test-ensemble ensemble 23181 | tail -n 1)
export FLOWGATE_ZK_STANDALONE FLOWGATE_ZK_ENSEMBLE FLOWGATE_ZK_ENSEMBLE_NAME=test-ensemble

npm run build >/dev/null
mkdir -p .tmp
status=0
npx jest --ci "$@" --json --outputFile=.tmp/jest-results.json || status=$?
node -e '
  const r = require("./.tmp/jest-results.json");
  console.log(`\n${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
' || true
exit "$status"
