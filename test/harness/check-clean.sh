#!/usr/bin/env bash
# After `npm run harness -- down`: exit 0 if the harness left nothing behind, otherwise exit 1 and name each
# leftover: sc-* namespaces, the operator link, cgroups, mounts, run directory, and harness processes.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

left=()

while read -r ns _; do
  case "$ns" in "${SC_NS_PREFIX}"sw | "${SC_NS_PREFIX}"local | "${SC_NS_PREFIX}"h[0-9]* | "${SC_NS_PREFIX}"bare[0-9]*) left+=("network namespace $ns") ;; esac
done < <(ip netns list 2>/dev/null)

ip link show "$SC_UPLINK" >/dev/null 2>&1 && left+=("link $SC_UPLINK")
ip -4 addr show 2>/dev/null | grep -q " $SC_OPERATOR_IP/" && left+=("address $SC_OPERATOR_IP")

for f in /sys/fs/cgroup/*/"${SC_NS_PREFIX}"*; do
  [ -d "$f" ] || continue
  case "${f##*/}" in "${SC_NS_PREFIX}local" | "${SC_NS_PREFIX}"h[0-9]* | "${SC_NS_PREFIX}"bare[0-9]*) left+=("cgroup $f") ;; esac
done

while read -r m; do
  left+=("mount $m")
done < <(findmnt -rn -o TARGET | grep -E "^($SC_STATE|$SC_RUN)(/|$)|^/run/netns/${SC_NS_PREFIX}" || true)

[ -e "$SC_RUN" ] && left+=("run directory $SC_RUN")

# Processes (zombies do not count): our daemons (named by their command lines), and any daemon of these kinds in a network
# namespace other than the machine's (the harness's namespaces are deleted, so such a process is a leftover
# unless someone else on the machine runs namespaced daemons).
init_net=$(stat -L -c %i /proc/self/ns/net) # this script runs in the machine's own netns
for d in /proc/[0-9]*; do
  pid=${d#/proc/}
  comm=$(cat "$d/comm" 2>/dev/null) || continue
  case "$comm" in dockerd | containerd | containerd-shim* | docker-registry | socat | sshd | docker-proxy) ;; *) continue ;; esac
  pid_alive "$pid" || continue
  cmd=$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null || true)
  if grep -qE "(^| |=|:)($SC_STATE|$SC_RUN)/" <<<"$cmd"; then
    left+=("process $pid: $cmd")
  elif [ "$(stat -L -c %i "$d/ns/net" 2>/dev/null || echo "$init_net")" != "$init_net" ]; then
    left+=("process $pid in another network namespace: $cmd")
  fi
done

if [ ${#left[@]} -gt 0 ]; then
  printf 'harness teardown left %d thing(s) behind:\n' "${#left[@]}" >&2
  printf '  - %s\n' "${left[@]}" >&2
  exit 1
fi
echo "harness teardown: clean" >&2
