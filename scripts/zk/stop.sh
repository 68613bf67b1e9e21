#!/usr/bin/env bash
# Stop every server of a named cluster by its recorded pid (SIGTERM, SIGKILL after 5 s); idempotent.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ $# = 1 ] || { echo "usage: $0 <name>" >&2; exit 2; }
zk_check_name "$1"
[ -d "$ZK_ROOT/$1" ] || exit 0
zk_lock "$1"
for n in $(zk_members "$1"); do zk_stop_member "$1" "$n" & done
wait
