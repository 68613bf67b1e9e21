#!/usr/bin/env bash
# Install Debian's zookeeper package (server jars only; nothing is started) unless already present.
set -euo pipefail

JAR=/usr/share/java/zookeeper.jar
[ -f "$JAR" ] && exit 0
[ "$(id -u)" = 0 ] || { echo "zk: $JAR is missing; run as root: apt-get install -y zookeeper" >&2; exit 1; }

# Another apt/dpkg run may hold the locks (e.g. a background install): wait up to ~5 min.
locks=(/var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock /var/cache/apt/archives/lock)
if command -v fuser >/dev/null; then
  for i in $(seq 300); do
    fuser "${locks[@]}" >/dev/null 2>&1 || break
    [ "$i" = 1 ] && echo "zk: waiting for the dpkg/apt lock..." >&2
    sleep 1
  done
fi
[ -f "$JAR" ] && exit 0   # the other install may have been this one

apt=(apt-get -q -o DPkg::Lock::Timeout=300)
"${apt[@]}" update >/dev/null
DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y zookeeper >/dev/null
[ -f "$JAR" ] || { echo "zk: install finished but $JAR is still missing" >&2; exit 1; }
echo "zk: installed $(dpkg-query -W -f '${Package} ${Version}' zookeeper)" >&2
