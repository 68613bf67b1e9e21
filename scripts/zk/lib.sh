# Shared helpers for the ZooKeeper test rig (sourced by the other scripts in scripts/zk/).
# Layout: $ZK_ROOT/<name>/{mode,connect}  and  $ZK_ROOT/<name>/<n>/{zoo.cfg,data/,pid,log}

ZK_JAR=/usr/share/java/zookeeper.jar
ZK_MAIN=org.apache.zookeeper.server.quorum.QuorumPeerMain
ZK_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ZK_REPO=$(git -C "$ZK_HERE" rev-parse --show-toplevel 2>/dev/null || (cd "$ZK_HERE/../.." && pwd))
ZK_ROOT=$ZK_REPO/.zk

die() { echo "zk: $*" >&2; exit 1; }

# Classpath: the package's own (zkEnv.sh) is just zookeeper.jar; its MANIFEST Class-Path pulls in
# the dependencies from /usr/share/java. No slf4j binding is among them, so add slf4j-simple.
zk_classpath() {
  [ -f "$ZK_JAR" ] || die "$ZK_JAR missing: run scripts/zk/install.sh"
  local cp=$ZK_JAR
  [ -f /usr/share/java/slf4j-simple.jar ] && cp+=:/usr/share/java/slf4j-simple.jar
  echo "$cp"
}

zk_check_name() { [[ ${1:-} =~ ^[A-Za-z0-9_.-]+$ ]] || die "bad cluster name '${1:-}'"; }
zk_members() { local d; for d in "$ZK_ROOT/$1"/[0-9]*/; do if [ -d "$d" ]; then basename "$d"; fi; done; }
zk_mode() { cat "$ZK_ROOT/$1/mode" 2>/dev/null || true; }
zk_pid() { cat "$ZK_ROOT/$1/$2/pid" 2>/dev/null || true; }
zk_client_port() { sed -n 's/^clientPort=//p' "$ZK_ROOT/$1/$2/zoo.cfg"; }

# Alive = the recorded pid exists AND is still our java with this member's zoo.cfg (guards pid reuse).
zk_alive() {
  local pid cmd; pid=$(zk_pid "$1" "$2")
  [ -n "$pid" ] && cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") && [[ $cmd == *"$ZK_ROOT/$1/$2/zoo.cfg"* ]]
}
zk_paused() { local pid; pid=$(zk_pid "$1" "$2"); [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = T ]; }

# Four-letter word over bash /dev/tcp with a hard timeout (a SIGSTOPped server accepts but never answers).
zk_4lw() {
  timeout "${3:-1}" bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf %s "$2" >&3 && cat <&3' _ "$1" "$2" 2>/dev/null || true
}
# Prints leader|follower|standalone, or nothing when the server is not serving.
zk_srvr_mode() { zk_4lw "$(zk_client_port "$1" "$2")" srvr | sed -n 's/^Mode: //p'; }
zk_port_busy() { timeout 1 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null; }

# Launch one member in the background (own session, stdin closed, output to its log); record its pid.
zk_launch() {
  local dir=$ZK_ROOT/$1/$2 cp; cp=$(zk_classpath)
  echo "=== $(date '+%F %T') starting member $2" >>"$dir/log"
  setsid java -Xmx256m -Dorg.slf4j.simpleLogger.showDateTime=true \
    -Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS \
    -cp "$cp" "$ZK_MAIN" "$dir/zoo.cfg" </dev/null >>"$dir/log" 2>&1 9>&- &
  echo $! >"$dir/pid"
  # Until setsid has exec'd java, the pid still shows this shell's command line: wait for the exec.
  local i; for i in $(seq 100); do zk_alive "$1" "$2" && break; [ -d "/proc/$(zk_pid "$1" "$2")" ] || break; sleep 0.02; done
}

# Signal one member by recorded pid only. SIGTERM (+SIGCONT in case it is paused), SIGKILL after 5 s.
zk_stop_member() {
  local pid i; pid=$(zk_pid "$1" "$2")
  zk_alive "$1" "$2" || { rm -f "$ZK_ROOT/$1/$2/pid"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true; kill -CONT "$pid" 2>/dev/null || true
  for i in $(seq 50); do zk_alive "$1" "$2" || break; sleep 0.1; done
  if zk_alive "$1" "$2"; then kill -KILL "$pid" 2>/dev/null || true; sleep 0.2; fi
  rm -f "$ZK_ROOT/$1/$2/pid"
}

zk_log_tail() { echo "--- $ZK_ROOT/$1/$2/log (tail) ---" >&2; tail -n "${3:-25}" "$ZK_ROOT/$1/$2/log" >&2 2>/dev/null || true; }

# Serialise start/stop/restart of one cluster (fd 9; zk_launch closes it for the java child).
zk_lock() { mkdir -p "$ZK_ROOT"; exec 9>"$ZK_ROOT/.$1.lock"; flock -w 120 9 || die "timed out waiting for lock on cluster $1"; }

zk_now() { date +%s.%N; }
zk_since() { awk -v a="$1" -v b="$(zk_now)" 'BEGIN{printf "%.2f", b-a}'; }
