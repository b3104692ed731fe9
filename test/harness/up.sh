#!/usr/bin/env bash
# Starts the harness: the registry (127.0.0.1:5000), a switch namespace, the build engine node `local`
# (shares the operator's filesystem) and hosts h1..hN (own netns, hostname, /root /tmp /opt /srv, sshd, dockerd).
# Expects nothing of the harness to be running: cli.mjs runs down.sh first. Usage: up.sh [N]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

N=${1:-3}
{ [[ $N =~ ^[0-9]+$ ]] && [ "$N" -ge 1 ] && [ "$N" -le 50 ]; } || die "the number of hosts must be 1..50, got: $N"
NODES=(local)
for i in $(seq 1 "$N"); do NODES+=("h$i"); done

[ ! -e "/run/netns/$SC_SWITCH" ] || die "namespace $SC_SWITCH already exists: run \`npm run harness -- down\` first"
if ss -Hltn "sport = :$SC_REG_PORT" | grep -q .; then
  die "port $SC_REG_PORT is already in use by a process the harness did not start: $(ss -Hltnp "sport = :$SC_REG_PORT" | head -1)"
fi
if ip -4 route show to match "$SC_NET.0/24" | grep -v '^default' | grep -q .; then
  die "$SC_NET.0/24 is already routed on this machine: $(ip -4 route show to match "$SC_NET.0/24" | grep -v '^default' | head -1)"
fi

mkdir -p "$SC_STATE" "$SC_RUN" "$SC_STATE/hostkeys" "$SC_STATE/registry/data"
chmod 700 "$SC_STATE"
chmod 755 "$SC_RUN"
printf '%s\n' "${NODES[@]}" >"$SC_RUN/nodes"

# --- keys, ssh_config, known_hosts -------------------------------------------------------------------
if [ ! -s "$SC_STATE/id_ed25519" ] || [ ! -s "$SC_STATE/id_ed25519.pub" ]; then
  rm -f "$SC_STATE/id_ed25519" "$SC_STATE/id_ed25519.pub"
  ssh-keygen -q -t ed25519 -N '' -C stagecraft-harness-operator -f "$SC_STATE/id_ed25519"
fi

: >"$SC_STATE/known_hosts.new"
: >"$SC_STATE/ssh_config.new"
for n in "${NODES[@]}"; do
  [ "$n" = local ] && continue
  ip=$(node_ip "$n")
  key=$SC_STATE/hostkeys/${n}_ed25519
  if [ ! -s "$key" ] || [ ! -s "$key.pub" ]; then
    rm -f "$key" "$key.pub"
    ssh-keygen -q -t ed25519 -N '' -C "$n" -f "$key"
  fi
  printf '%s,%s %s\n' "$n" "$ip" "$(cut -d' ' -f1,2 "$key.pub")" >>"$SC_STATE/known_hosts.new"
  cat >>"$SC_STATE/ssh_config.new" <<EOF
Host $n
  HostName $ip
  User root
  Port 22
  IdentityFile $SC_STATE/id_ed25519
  IdentitiesOnly yes
  UserKnownHostsFile $SC_STATE/known_hosts
  StrictHostKeyChecking yes
  BatchMode yes
  ConnectTimeout 10

EOF
done
mv "$SC_STATE/known_hosts.new" "$SC_STATE/known_hosts"
mv "$SC_STATE/ssh_config.new" "$SC_STATE/ssh_config"

# --- per-node files ----------------------------------------------------------------------------------
for n in "${NODES[@]}"; do
  ip=$(node_ip "$n")
  d=$SC_STATE/nodes/$n
  if [ "$n" != local ]; then
    # Deploy targets start empty: no containers, images or files from an earlier run.
    rm -rf "$d"
    mkdir -p "$d/root" "$d/tmp" "$d/opt" "$d/srv"
    chmod 700 "$d/root"
    chmod 1777 "$d/tmp"
    # A private /root without the machine's slow shell init (pyenv, ...): ssh commands start fast.
    printf '# stagecraft harness host %s\n' "$n" >"$d/root/.bashrc"
    printf '# stagecraft harness host %s\n[ -f ~/.bashrc ] && . ~/.bashrc\n' "$n" >"$d/root/.profile"
  fi
  mkdir -p "$d/docker" "$d/log"
  rm -rf "${SC_RUN:?}/$n"
  mkdir -p "$SC_RUN/$n"
  chmod 755 "$SC_RUN/$n"
  {
    printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n'
    printf '%s\toperator\n' "$SC_OPERATOR_IP"
    for m in "${NODES[@]}"; do printf '%s\t%s\n' "$(node_ip "$m")" "$m"; done
  } >"$d/hosts"
  echo "$n" >"$d/hostname"
  echo '{}' >"$d/daemon.json"
  if [ "$n" != local ]; then
    install -m 600 "$SC_STATE/id_ed25519.pub" "$d/authorized_keys"
    cat >"$d/sshd_config" <<EOF
ListenAddress $ip:22
HostKey $SC_STATE/hostkeys/${n}_ed25519
PidFile /run/sshd.pid
PermitRootLogin prohibit-password
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys $d/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PrintMotd no
AllowTcpForwarding yes
AllowStreamLocalForwarding yes
StreamLocalBindUnlink yes
MaxStartups 100:30:200
MaxSessions 100
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
EOF
  fi
done

# --- registry: loopback only in the operator's netns, plus a unix socket the nodes forward to ----------
cat >"$SC_STATE/registry.yml" <<EOF
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $SC_STATE/registry/data}, delete: {enabled: true}}
http: {addr: $SC_REG_ADDR}
EOF
setsid "${SC_DAEMON_ENV[@]}" docker-registry serve "$SC_STATE/registry.yml" </dev/null >>"$SC_STATE/registry.log" 2>&1 &
echo $! >"$SC_RUN/registry.pid"
setsid "${SC_DAEMON_ENV[@]}" socat "UNIX-LISTEN:$SC_STATE/registry.sock,fork,unlink-early,mode=600" "TCP:$SC_REG_ADDR" \
  </dev/null >>"$SC_STATE/registry-sock.log" 2>&1 &
echo $! >"$SC_RUN/registry-sock.pid"

# --- switch netns: a bridge with an empty (ACCEPT) firewall, and the operator's uplink ------------------
ip netns add "$SC_SWITCH"
ip -n "$SC_SWITCH" link set lo up
ip -n "$SC_SWITCH" link add "$SC_BRIDGE" type bridge
ip -n "$SC_SWITCH" link set "$SC_BRIDGE" up
ip link add "$SC_UPLINK" type veth peer name "$SC_UPLINK-br" netns "$SC_SWITCH"
ip -n "$SC_SWITCH" link set "$SC_UPLINK-br" master "$SC_BRIDGE" up
ip addr add "$SC_OPERATOR_IP/24" dev "$SC_UPLINK"
ip link set "$SC_UPLINK" up

# --- nodes: netns + veth on the bridge (no default route), then mount/UTS namespaces and daemons --------
for n in "${NODES[@]}"; do
  ns=$SC_NS_PREFIX$n
  ip=$(node_ip "$n")
  ip netns add "$ns"
  ip link add "$ns" netns "$SC_SWITCH" type veth peer name eth0 netns "$ns"
  ip -n "$SC_SWITCH" link set "$ns" master "$SC_BRIDGE" up
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "$ip/24" dev eth0
  ip -n "$ns" link set eth0 up
  # Not `ip netns exec`: it remounts /sys, which hides the cgroup mounts dockerd needs.
  nsenter "--net=/run/netns/$ns" unshare --mount --uts --propagation slave -- \
    "${SC_DAEMON_ENV[@]}" bash "$HERE/node-init.sh" "$n" "$ip"
done

# --- readiness: bounded polls ----------------------------------------------------------------------
wait_for 15 curl -fsS "http://$SC_REG_ADDR/v2/" || die "the registry did not answer on $SC_REG_ADDR (log: $SC_STATE/registry.log)"
ready() {
  local n=$1
  wait_for 60 docker -H "unix://$SC_RUN/$n/docker.sock" version ||
    die "dockerd of $n did not answer in 60 s (log: $SC_STATE/nodes/$n/log/dockerd.log)"
  if [ "$n" != local ]; then
    wait_for 15 ssh -F "$SC_STATE/ssh_config" "$n" true ||
      die "sshd of $n did not accept the operator key (log: $SC_STATE/nodes/$n/log/sshd.log)"
  fi
}
pids=()
for n in "${NODES[@]}"; do
  ready "$n" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || die "a node did not become ready"; done

# --- what tests read ----------------------------------------------------------------------------------
{
  printf '{"registry":"%s","build_docker_host":"unix://%s/local/docker.sock","ssh_config":"%s/ssh_config",' \
    "$SC_REG_ADDR" "$SC_RUN" "$SC_STATE"
  printf '"identity_file":"%s/id_ed25519","known_hosts":"%s/known_hosts","hosts":[' "$SC_STATE" "$SC_STATE"
  sep=
  for n in "${NODES[@]}"; do
    [ "$n" = local ] && continue
    printf '%s{"name":"%s","address":"%s","user":"root","port":22,"docker_host":"unix://%s/%s/docker.sock"}' \
      "$sep" "$n" "$(node_ip "$n")" "$SC_RUN" "$n"
    sep=,
  done
  printf ']}\n'
} >"$SC_RUN/env.json.new"
mv "$SC_RUN/env.json.new" "$SC_RUN/env.json"
cat >"$SC_RUN/env.sh" <<EOF
# Source this for shell use of the running harness.
export DOCKER_HOST=unix://$SC_RUN/local/docker.sock
export STAGECRAFT_HARNESS_REGISTRY=$SC_REG_ADDR
export STAGECRAFT_HARNESS_SSH_CONFIG=$SC_STATE/ssh_config
EOF
log "up: registry $SC_REG_ADDR, build engine unix://$SC_RUN/local/docker.sock, hosts ${NODES[*]:1}"
