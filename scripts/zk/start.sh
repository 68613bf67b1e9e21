#!/usr/bin/env bash
# Start a named local ZooKeeper cluster (standalone or 3-node ensemble); last stdout line = connect string.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { echo "usage: $0 <name> <standalone|ensemble> [base-port]" >&2; exit 2; }
name=${1:-}; mode=${2:-}; [ $# -ge 2 ] && [ $# -le 3 ] || usage
zk_check_name "$name"
case $mode in standalone) count=1; def=21810 ;; ensemble) count=3; def=22181 ;; *) usage ;; esac
base=${3:-$def}
[[ $base =~ ^[0-9]+$ ]] && [ "$base" -ge 1024 ] && [ $((base + 200 + count)) -le 65535 ] || die "bad base port '$base'"
# Ports of member n (1-based): client base+n-1, quorum base+100+n-1, election base+200+n-1.

zk_lock "$name"
cdir=$ZK_ROOT/$name

# Already running? All members alive -> reuse it; partially alive -> stop the rest and start fresh.
alive=0; members=$(zk_members "$name")
for n in $members; do zk_alive "$name" "$n" && alive=$((alive + 1)); done
if [ "$alive" -gt 0 ] && [ "$alive" = "$(wc -w <<<"$members")" ]; then
  [ "$(zk_mode "$name")" = "$mode" ] && [ "$(cat "$cdir/base")" = "$base" ] ||
    die "cluster '$name' is running as $(zk_mode "$name") on base port $(cat "$cdir/base"); stop it first"
  cat "$cdir/connect"; exit 0
fi
for n in $members; do zk_stop_member "$name" "$n"; done

ports=()
for n in $(seq "$count"); do
  ports+=($((base + n - 1)))
  [ "$count" = 1 ] || ports+=($((base + 100 + n - 1)) $((base + 200 + n - 1)))
done
for p in "${ports[@]}"; do ! zk_port_busy "$p" || die "port $p on 127.0.0.1 is already in use"; done

rm -rf "$cdir"; mkdir -p "$cdir"
echo "$mode" >"$cdir/mode"; echo "$base" >"$cdir/base"
connect=
for n in $(seq "$count"); do
  dir=$cdir/$n; mkdir -p "$dir/data"
  cat >"$dir/zoo.cfg" <<CFG
tickTime=500
initLimit=10
syncLimit=5
dataDir=$dir/data
clientPort=$((base + n - 1))
clientPortAddress=127.0.0.1
maxClientCnxns=0
forceSync=no
admin.enableServer=false
4lw.commands.whitelist=srvr,stat,ruok,mntr
CFG
  if [ "$count" -gt 1 ]; then
    echo "$n" >"$dir/data/myid"
    for k in $(seq "$count"); do
      echo "server.$k=127.0.0.1:$((base + 100 + k - 1)):$((base + 200 + k - 1))" >>"$dir/zoo.cfg"
    done
  fi
  connect+=${connect:+,}127.0.0.1:$((base + n - 1))
done
echo "$connect" >"$cdir/connect"

t0=$(zk_now)
for n in $(seq "$count"); do zk_launch "$name" "$n"; done

fail() {
  echo "zk: cluster '$name' $1" >&2
  for n in $(seq "$count"); do zk_log_tail "$name" "$n"; zk_stop_member "$name" "$n"; done
  exit 1
}
# Ready: standalone answers "Mode: standalone"; an ensemble has exactly one leader, the rest followers.
while :; do
  modes=()
  for n in $(seq "$count"); do
    zk_alive "$name" "$n" || fail "member $n exited during start-up"
    m=$(zk_srvr_mode "$name" "$n"); modes+=("${m:-none}")
  done
  got=$(printf '%s\n' "${modes[@]}" | sort | tr '\n' ' ')
  if [ "$count" = 1 ]; then [ "$got" = "standalone " ] && break
  else [ "$got" = "follower follower leader " ] && break; fi
  [ "$(awk -v s="$(zk_since "$t0")" 'BEGIN{print (s > 60)}')" = 0 ] || fail "not ready after 60 s (modes: $got)"
  sleep 0.1
done
echo "zk: $mode cluster '$name' ready in $(zk_since "$t0") s" >&2
echo "$connect"
