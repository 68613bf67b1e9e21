#!/usr/bin/env bash
# Print the member number n of a cluster's current leader (waits up to 15 s during an election).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ $# = 1 ] || { echo "usage: $0 <name>" >&2; exit 2; }
zk_check_name "$1"
[ -d "$ZK_ROOT/$1" ] || die "no cluster '$1'"
t0=$(zk_now)
while :; do
  for n in $(zk_members "$1"); do
    zk_alive "$1" "$n" && ! zk_paused "$1" "$n" || continue
    case $(zk_srvr_mode "$1" "$n") in leader|standalone) echo "$n"; exit 0 ;; esac
  done
  [ "$(awk -v s="$(zk_since "$t0")" 'BEGIN{print (s > 15)}')" = 0 ] || die "no leader in cluster '$1'"
  sleep 0.2
done
