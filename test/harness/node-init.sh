#!/usr/bin/env bash
# Runs inside a node's new network, mount and UTS namespaces (see up.sh): sets the node up, starts its
# daemons and exits. The daemons keep the namespaces alive. Usage: node-init.sh <name> <address>
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

n=$1
ip=$2
d=$SC_STATE/nodes/$n

hostname "$n"
# A private /run: docker.sock, pid files, containerd state. Seen from the operator as $SC_RUN/<n>.
mount --bind "$SC_RUN/$n" /run
if [ "$n" != local ]; then
  # Deploy targets get their own /root /tmp /opt /srv: files must reach them over ssh, as in production.
  # `local` (the build engine) shares the operator's filesystem so it can build from the checkout.
  for x in root tmp opt srv; do mount --bind "$d/$x" "/$x"; done
fi
mount --bind "$d/hosts" /etc/hosts
mount --bind "$d/hostname" /etc/hostname

setsid dockerd --config-file "$d/daemon.json" --data-root "$d/docker" --exec-root /run/docker \
  --host unix:///run/docker.sock --pidfile /run/docker.pid --cgroup-parent "/$SC_NS_PREFIX$n" \
  --shutdown-timeout 3 --log-level warn </dev/null >>"$d/log/dockerd.log" 2>&1 &

# The registry at the same name as for the operator: 127.0.0.1:5000 -> unix socket -> registry.
setsid socat "TCP-LISTEN:$SC_REG_PORT,bind=127.0.0.1,reuseaddr,fork" "UNIX-CONNECT:$SC_STATE/registry.sock" \
  </dev/null >>"$d/log/socat-registry.log" 2>&1 &
echo $! >/run/socat-registry.pid

if [ "$n" != local ]; then
  mkdir -m 755 /run/sshd # privilege separation directory (the node's /run starts empty)
  /usr/sbin/sshd -f "$d/sshd_config" -E "$d/log/sshd.log" || die "sshd of $n did not start (address $ip)"
fi
