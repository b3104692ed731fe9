#!/usr/bin/env bash
# Stops the harness and removes its namespaces, links, cgroups and run directory; --purge also removes the
# state directory (keys, registry data, image cache). Stops only processes that are the harness's own: those
# inside its namespaces or cgroups, and those whose command line names its state directory. Works after a
# killed run. Usage: down.sh [--purge]
set -euo pipefail
. "$(dirname "$0")/lib.sh"

purge=0
case "${1:-}" in
--purge) purge=1 ;;
'') ;;
*) die "usage: down.sh [--purge]" ;;
esac

mapfile -t nodes < <(known_nodes)

# 0. The optional bare hosts (bare.sh), which live on the same network.
bash "$(dirname "$0")/bare.sh" down || log "warning: stopping the bare hosts failed"

# 1. Containers first, force-removed on every engine at once: dockerd would otherwise give each one its own
#    stop timeout (10 s by default) on shutdown. Hosts start empty on the next `up` anyway.
for n in "${nodes[@]}"; do
  sock=$SC_RUN/$n/docker.sock
  [ -S "$sock" ] || continue
  (
    mapfile -t ids < <(timeout 10 docker -H "unix://$sock" ps -aq 2>/dev/null || true)
    [ ${#ids[@]} = 0 ] || timeout 20 docker -H "unix://$sock" rm -f "${ids[@]}" >/dev/null 2>&1 || true
  ) &
done
wait

# 2. Each node's dockerd, all at once: it stops its containerd cleanly.
dockerds=()
for n in "${nodes[@]}"; do
  [ -e "/run/netns/$SC_NS_PREFIX$n" ] || continue
  for pid in $(ip netns pids "$SC_NS_PREFIX$n" 2>/dev/null); do
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] && pid_alive "$pid" && kill -TERM "$pid" 2>/dev/null &&
      dockerds+=("$pid")
  done
done
if [ ${#dockerds[@]} -gt 0 ]; then
  log "stopping ${#dockerds[@]} docker engine(s)"
  wait_gone 15 "${dockerds[@]}" || log "a docker engine did not stop in 15 s; killing what is left"
fi

# 3. Everything else that is ours.
ours() {
  local n f pid
  for n in "${nodes[@]}"; do
    [ -e "/run/netns/$SC_NS_PREFIX$n" ] && ip netns pids "$SC_NS_PREFIX$n" 2>/dev/null
    for f in /sys/fs/cgroup/*/"$SC_NS_PREFIX$n"; do
      [ -d "$f" ] && find "$f" -name cgroup.procs -exec cat {} + 2>/dev/null
    done
  done
  [ -e "/run/netns/$SC_SWITCH" ] && ip netns pids "$SC_SWITCH" 2>/dev/null
  # Backstop (e.g. a pid file lost in a killed run): our daemons, by a command line naming our directories.
  for f in /proc/[0-9]*/cmdline; do
    pid=${f#/proc/}
    pid=${pid%%/*}
    case "$(cat "/proc/$pid/comm" 2>/dev/null)" in dockerd | docker-registry | socat | sshd) ;; *) continue ;; esac
    tr '\0' ' ' <"$f" 2>/dev/null | grep -qE "(^| |=|:)($SC_STATE|$SC_RUN)/" && echo "$pid"
  done
  pid_from_file "$SC_RUN/registry.pid" "$SC_STATE/registry.yml" || true
  pid_from_file "$SC_RUN/registry-sock.pid" "$SC_STATE/registry.sock" || true
}
mapfile -t rest < <(ours | sort -un | while read -r p; do pid_alive "$p" && echo "$p"; done)

if [ ${#rest[@]} -gt 0 ]; then
  log "stopping ${#rest[@]} process(es)"
  kill -TERM "${rest[@]}" 2>/dev/null || true
  if ! wait_gone 5 "${rest[@]}"; then
    kill -KILL "${rest[@]}" 2>/dev/null || true
    wait_gone 5 "${rest[@]}" || log "warning: some processes did not exit: $(for p in "${rest[@]}"; do pid_alive "$p" && printf '%s ' "$p"; done)"
  fi
fi

# 4. Namespaces and links (deleting the switch takes the bridge and every veth with it).
for n in "${nodes[@]}"; do
  [ -e "/run/netns/$SC_NS_PREFIX$n" ] && ip netns del "$SC_NS_PREFIX$n"
done
[ -e "/run/netns/$SC_SWITCH" ] && ip netns del "$SC_SWITCH"
ip link show "$SC_UPLINK" >/dev/null 2>&1 && ip link del "$SC_UPLINK"

# 5. Cgroups made by the nodes' engines (--cgroup-parent /sc-<node>), deepest first; zombies may hold them briefly.
deadline=$((SECONDS + 5))
while :; do
  left=()
  for f in /sys/fs/cgroup/*/"$SC_NS_PREFIX"*; do
    [ -d "$f" ] || continue
    case "${f##*/}" in "${SC_NS_PREFIX}local" | "${SC_NS_PREFIX}"h[0-9]*) ;; *) continue ;; esac
    find "$f" -depth -type d -exec rmdir {} + 2>/dev/null || true
    [ -d "$f" ] && left+=("$f")
  done
  [ ${#left[@]} = 0 ] && break
  [ $SECONDS -ge $deadline ] && {
    log "warning: cgroups left: ${left[*]}"
    break
  }
  sleep 0.1
done

# 6. Mounts under our directories in this mount namespace (normally none), then the run directory.
{ findmnt -rn -o TARGET | grep -E "^($SC_STATE|$SC_RUN)(/|$)" || true; } | sort -r | while read -r m; do umount -l "$m" || true; done
rm -rf "$SC_RUN"
if [ $purge = 1 ]; then
  rm -rf "$SC_STATE"
  log "down: stopped and purged $SC_STATE"
else
  log "down: stopped"
fi
