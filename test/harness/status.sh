#!/usr/bin/env bash
# Exit 0 if the harness is up: env.json written and every daemon it started alive. Otherwise exit 1 and say
# what is missing on stderr. Quick (no network calls): `cli.mjs env` and `cli.mjs up` use it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

missing() {
  printf '%s\n' "$*" >&2
  exit 1
}

{ [ -f "$SC_RUN/env.json" ] && [ -f "$SC_RUN/nodes" ]; } || missing "not started ($SC_RUN/env.json is absent)"
pid_from_file "$SC_RUN/registry.pid" "$SC_STATE/registry.yml" >/dev/null || missing "the registry is not running"
pid_from_file "$SC_RUN/registry-sock.pid" "$SC_STATE/registry.sock" >/dev/null ||
  missing "the registry socket forwarder is not running"
while read -r n; do
  [ -e "/run/netns/$SC_NS_PREFIX$n" ] || missing "namespace $SC_NS_PREFIX$n is gone"
  node_pid_from_file "$SC_RUN/$n/docker.pid" "$n" >/dev/null || missing "dockerd of $n is not running"
  [ -S "$SC_RUN/$n/docker.sock" ] || missing "$SC_RUN/$n/docker.sock is absent"
  node_pid_from_file "$SC_RUN/$n/socat-registry.pid" "$n" >/dev/null || missing "the registry forwarder of $n is not running"
  if [ "$n" != local ]; then
    node_pid_from_file "$SC_RUN/$n/sshd.pid" "$n" >/dev/null || missing "sshd of $n is not running"
  fi
done <"$SC_RUN/nodes"
