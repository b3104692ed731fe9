# shellcheck shell=bash
# shellcheck disable=SC2034 # the names are used by the scripts that source this file
# Shared names and helpers of the e2e harness. Sourced by the other scripts; not run on its own.
#
# Layout (all names are the harness's own, so it can coexist with anything else on the machine):
#   netns   sc-sw (switch: bridge scbr0), sc-local (build engine), sc-h1..sc-hN (deploy targets)
#   net     10.231.0.0/24: operator 10.231.0.1 (link sc-up), local .10, hN .(10+N); no default route
#   state   /var/lib/stagecraft-harness (keys, ssh_config, registry data, per-node docker data)
#   run     /run/stagecraft-harness (pid files, env.json; <node>/ is that node's private /run)

SC_STATE=/var/lib/stagecraft-harness
SC_RUN=/run/stagecraft-harness
SC_NS_PREFIX=sc-
SC_NET=10.231.0
SC_OPERATOR_IP=$SC_NET.1
SC_REG_ADDR=127.0.0.1:5000
SC_REG_PORT=5000
SC_BRIDGE=scbr0
SC_UPLINK=sc-up
SC_SWITCH=${SC_NS_PREFIX}sw
SC_CACHE=/var/cache/stagecraft-harness
SC_PLUGINS=/usr/local/lib/docker/cli-plugins
# A clean environment for the daemons we start: nothing of the caller's PATH (pyenv shims, ...) or proxies.
SC_DAEMON_ENV=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8)

log() { printf '[harness] %s\n' "$*" >&2; }
die() {
  printf '[harness] error: %s\n' "$*" >&2
  exit 1
}

# Node name -> address. local is .10, hN is .(10+N).
node_ip() {
  case "$1" in
  local) echo "$SC_NET.10" ;;
  h[0-9]*) echo "$SC_NET.$((10 + ${1#h}))" ;;
  *) die "unknown node name: $1" ;;
  esac
}

# Nodes recorded by the last `up` plus any sc-* namespace still present (after a killed run).
known_nodes() {
  {
    [ -f "$SC_RUN/nodes" ] && cat "$SC_RUN/nodes"
    ip netns list 2>/dev/null | awk '{print $1}' | sed -n "s/^${SC_NS_PREFIX}\(local\|h[0-9][0-9]*\)\$/\1/p"
  } | sort -u
}

# True if pid is a live process (a zombie counts as gone: PID 1 here reaps orphans only now and then).
pid_alive() {
  local pid=$1 stat
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat:0:1}" != Z ]
}

# Pid from a pid file, only if that process is alive and its command line contains $2 (guards against pid reuse).
pid_from_file() {
  local file=$1 marker=$2 pid
  [ -f "$file" ] || return 1
  pid=$(tr -dc '0-9' <"$file")
  pid_alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$marker" || return 1
  echo "$pid"
}

# Pid from a pid file, only if that process lives in netns sc-<node>.
node_pid_from_file() {
  local file=$1 node=$2 pid
  [ -f "$file" ] || return 1
  pid=$(tr -dc '0-9' <"$file")
  pid_alive "$pid" || return 1
  [ "$(netns_id_of_pid "$pid")" = "$(netns_id "$node")" ] || return 1
  echo "$pid"
}

netns_id() { stat -L -c %i "/run/netns/${SC_NS_PREFIX}$1" 2>/dev/null || echo none; }
netns_id_of_pid() { stat -L -c %i "/proc/$1/ns/net" 2>/dev/null || echo gone; }

# Wait until none of the given pids is alive, at most $1 seconds. Returns 1 on timeout.
wait_gone() {
  local timeout=$1 deadline pid left
  shift
  deadline=$((SECONDS + timeout))
  while :; do
    left=0
    for pid in "$@"; do pid_alive "$pid" && left=1 && break; done
    [ $left = 0 ] && return 0
    [ $SECONDS -ge $deadline ] && return 1
    sleep 0.1
  done
}

# Poll a command until it succeeds, at most $1 seconds.
wait_for() {
  local timeout=$1 deadline
  shift
  deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -ge $deadline ] && return 1
    sleep 0.1
  done
}
