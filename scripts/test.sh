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

# Base ports of the two shared clusters (see scripts/zk/start.sh): the standalone server listens on
# its base port; the ensemble's members on base..base+2, quorum base+100..+102, election base+200..+202.
# Override them to run beside another checkout's run on the same host.
standalone_port=${FLOWGATE_TEST_ZK_STANDALONE_PORT:-23100}
ensemble_port=${FLOWGATE_TEST_ZK_ENSEMBLE_PORT:-23181}

# Starts a cluster and prints its connect string; on failure, names the variable that moves it.
start_cluster() { # <name> <mode> <base port> <variable>
  bash scripts/zk/start.sh "$1" "$2" "$3" | tail -n 1 && return
  echo "test.sh: could not start the $2 ZooKeeper on base port $3 (set $4 to use other ports)" >&2
  return 1
}
FLOWGATE_ZK_STANDALONE=$(start_cluster test-standalone standalone "$standalone_port" FLOWGATE_TEST_ZK_STANDALONE_PORT)
FLOWGATE_ZK_ENSEMBLE=$(start_cluster test-ensemble ensemble "$ensemble_port" FLOWGATE_TEST_ZK_ENSEMBLE_PORT)
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
