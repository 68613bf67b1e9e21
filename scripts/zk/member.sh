#!/usr/bin/env bash
# Fault injection on one member n of a named cluster: kill|pause|resume|restart|status.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ $# = 3 ] || { echo "usage: $0 <name> <n> <kill|pause|resume|restart|status>" >&2; exit 2; }
name=$1; n=$2; action=$3
zk_check_name "$name"
[ -f "$ZK_ROOT/$name/$n/zoo.cfg" ] || die "cluster '$name' has no member '$n'"
pid=$(zk_pid "$name" "$n")

case $action in
  kill)   if zk_alive "$name" "$n"; then kill -KILL "$pid"; fi ;;   # no-op when already down
  pause)  zk_alive "$name" "$n" || die "member $n is down"; kill -STOP "$pid" ;;
  resume) zk_alive "$name" "$n" || die "member $n is down"; kill -CONT "$pid" ;;
  status) # prints leader|follower|standalone, or down|paused|not-serving (exit 1)
    if ! zk_alive "$name" "$n"; then echo down; exit 1; fi
    if zk_paused "$name" "$n"; then echo paused; exit 1; fi
    m=$(zk_srvr_mode "$name" "$n"); [ -n "$m" ] || { echo not-serving; exit 1; }
    echo "Mode: $m" ;;
  restart)
    zk_lock "$name"
    zk_stop_member "$name" "$n"
    t0=$(zk_now); zk_launch "$name" "$n"
    until [ -n "$(zk_srvr_mode "$name" "$n")" ]; do
      zk_alive "$name" "$n" || { zk_log_tail "$name" "$n"; die "member $n exited during restart"; }
      [ "$(awk -v s="$(zk_since "$t0")" 'BEGIN{print (s > 60)}')" = 0 ] ||
        { zk_log_tail "$name" "$n"; die "member $n not serving after 60 s"; }
      sleep 0.1
    done
    echo "zk: member $n of '$name' serving as $(zk_srvr_mode "$name" "$n") after $(zk_since "$t0") s" >&2 ;;
  *) die "unknown action '$action'" ;;
esac
