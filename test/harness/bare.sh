#!/usr/bin/env bash
# Optional bare hosts for `stagecraft setup` tests: bare1..bareN, each a Debian 13 (trixie) root file system
# from debootstrap with sshd and NO Docker, in its own netns on the harness network (10.231.0.(40+N)), its
# own mount and UTS namespace (pivot_root into the rootfs, so it is a separate machine as far as apt, dpkg,
# users and services go). The hosts have no route out; their apt source is a package repository on this
# machine (http://10.231.0.1:3143/, busybox httpd) holding exactly the .debs that Docker Engine and compose
# v2 need, downloaded here once and built with dpkg-scanpackages.
#
# Additive to the running harness: needs it up (bridge, registry), touches none of its nodes.
#   bare.sh up [N]    start bare1..bareN (default 1), fresh from the cached rootfs; prints the JSON of bare.json
#   bare.sh swarm     on the running bare hosts: install Docker from the package source and form a Docker Swarm,
#                     bare1 the manager, the others workers (by hand; test/e2e/swarm.test.ts forms it with
#                     `stagecraft setup`); prints the JSON of bare.json
#   bare.sh down      stop them (called by down.sh too)
# Cache (kept across runs, so CI reruns are fast): /var/cache/stagecraft-harness/bare/{rootfs-*.tar,repo-*}.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

SUITE=trixie
INCLUDE=openssh-server,iproute2,sudo,ca-certificates
PACKAGES=(docker.io docker-cli docker-compose)
KEY=$SUITE-minbase-${INCLUDE//,/-}
CACHE=$SC_CACHE/bare
TARBALL=$CACHE/rootfs-$KEY.tar
REPO=$CACHE/repo-$KEY-${PACKAGES[*]// /-}
REPO_PORT=3143
BARE_STATE=$SC_STATE/bare
BARE_JSON=$SC_RUN/bare.json

bare_ip() { echo "$SC_NET.$((40 + ${1#bare}))"; }

mirror() {
  local uri
  uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$uri" ] || uri=$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  [ -n "$uri" ] || die "cannot find the Debian mirror in /etc/apt/sources.list.d/debian.sources"
  echo "$uri"
}

# The rootfs tarball: debootstrap once (minutes), then reused (seconds).
ensure_rootfs() {
  [ -s "$TARBALL" ] && return 0
  command -v debootstrap >/dev/null || {
    log "installing debootstrap"
    apt-get install -y -qq --no-install-recommends debootstrap >"$CACHE/apt-debootstrap.log" 2>&1 ||
      { apt-get update -qq && apt-get install -y -qq --no-install-recommends debootstrap; } >>"$CACHE/apt-debootstrap.log" 2>&1 ||
      die "cannot install debootstrap (log: $CACHE/apt-debootstrap.log)"
  }
  local build=$CACHE/build started=$SECONDS
  rm -rf "$build"
  log "debootstrap $SUITE (minbase + $INCLUDE) into the cache; once per machine"
  debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$build" "$(mirror)" >"$CACHE/debootstrap.log" 2>&1 ||
    die "debootstrap failed (log: $CACHE/debootstrap.log)"
  rm -f "$build"/etc/ssh/ssh_host_* # each host gets its own key at start
  rm -rf "$build"/var/cache/apt/archives/*.deb "$build"/var/lib/apt/lists/*
  tar -C "$build" -cf "$TARBALL.new" .
  mv "$TARBALL.new" "$TARBALL"
  rm -rf "$build"
  log "rootfs cached: $TARBALL ($(du -h "$TARBALL" | cut -f1), $((SECONDS - started)) s)"
}

# The package repository: exactly what `apt-get install docker.io docker-compose` needs on the fresh rootfs.
ensure_repo() {
  [ -s "$REPO/Packages.gz" ] && return 0
  local w=$CACHE/apt status=$CACHE/status-$KEY started=$SECONDS
  mkdir -p "$w/lists/partial" "$w/cache" "$REPO.new/partial"
  tar -xOf "$TARBALL" ./var/lib/dpkg/status >"$status"
  printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$(mirror)" "$SUITE" >"$w/repo.sources"
  local A=(-o "Dir::Etc::sourcelist=$w/repo.sources" -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$w/lists"
    -o "Dir::State::status=$status" -o "Dir::Cache=$w/cache" -o "Dir::Cache::archives=$REPO.new"
    -o APT::Get::List-Cleanup=0 -o APT::Sandbox::User=root -o Debug::NoLocking=1)
  log "downloading ${PACKAGES[*]} and their dependencies for the bare hosts' package source; once per machine"
  { apt-get "${A[@]}" update -qq &&
    apt-get "${A[@]}" install -y -qq --download-only --no-install-recommends "${PACKAGES[@]}"; } >"$CACHE/apt-repo.log" 2>&1 ||
    die "downloading the packages failed (log: $CACHE/apt-repo.log)"
  rm -rf "$REPO.new/partial" "$REPO.new/lock"
  (cd "$REPO.new" && dpkg-scanpackages -m . /dev/null 2>/dev/null | gzip -9 >Packages.gz)
  rm -rf "$REPO"
  mv "$REPO.new" "$REPO"
  log "package source ready: $(find "$REPO" -name '*.deb' | wc -l) packages, $(du -sh "$REPO" | cut -f1), $((SECONDS - started)) s"
}

repo_server_up() {
  pid_from_file "$SC_RUN/bare-repo.pid" "$REPO" >/dev/null && return 0
  setsid "${SC_DAEMON_ENV[@]}" busybox httpd -f -p "$SC_OPERATOR_IP:$REPO_PORT" -h "$REPO" </dev/null >/dev/null 2>&1 &
  echo $! >"$SC_RUN/bare-repo.pid"
  wait_for 10 curl -fsS "http://$SC_OPERATOR_IP:$REPO_PORT/Packages.gz" -o /dev/null ||
    die "the package source did not answer on $SC_OPERATOR_IP:$REPO_PORT"
}

start_node() {
  local n=$1 ip d root ns
  ip=$(bare_ip "$n")
  ns=$SC_NS_PREFIX$n
  d=$BARE_STATE/$n
  root=$d/rootfs
  rm -rf "$d" "${SC_RUN:?}/$n"
  mkdir -p "$root" "$d/log" "$SC_RUN/$n"
  tar -C "$root" -xf "$TARBALL"
  # The machine as an operator would find it: root's key, a host key, an apt source it can reach, no Docker.
  local key=$SC_STATE/hostkeys/${n}_ed25519
  [ -s "$key" ] || ssh-keygen -q -t ed25519 -N '' -C "$n" -f "$key"
  install -m 600 "$key" "$root/etc/ssh/ssh_host_ed25519_key"
  install -m 644 "$key.pub" "$root/etc/ssh/ssh_host_ed25519_key.pub"
  install -d -m 700 "$root/root/.ssh"
  install -m 600 "$SC_STATE/id_ed25519.pub" "$root/root/.ssh/authorized_keys"
  cat >"$root/etc/ssh/sshd_config" <<EOF
ListenAddress $ip:22
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PrintMotd no
MaxStartups 100:30:200
MaxSessions 100
AllowStreamLocalForwarding yes
Subsystem sftp /usr/lib/openssh/sftp-server
EOF
  rm -f "$root"/etc/apt/sources.list.d/*
  echo "deb [trusted=yes] http://$SC_OPERATOR_IP:$REPO_PORT/ ./" >"$root/etc/apt/sources.list"
  # The engine's containers go into the cgroup sc-<node>, which down removes (other daemon settings are setup's).
  install -d "$root/etc/docker"
  echo "{\"cgroup-parent\": \"/$ns\"}" >"$root/etc/docker/daemon.json"
  # This machine's root lacks CAP_SYS_RESOURCE, so the `ulimit -n/-u` in docker's SysV init script fails
  # here (it would not on a server). A dpkg hook makes those lines tolerate that, nothing else.
  cat >"$root/etc/dpkg/dpkg.cfg.d/harness-ulimit" <<'EOF'
post-invoke=if [ -f /etc/init.d/docker ]; then sed -i -E 's/^([[:space:]]*ulimit -[nup] [^|]*)$/\1 || true/' /etc/init.d/docker; fi
EOF
  echo "$n" >"$root/etc/hostname"
  printf '127.0.0.1\tlocalhost\n%s\t%s\n%s\toperator\n' "$ip" "$n" "$SC_OPERATOR_IP" >"$root/etc/hosts"

  ip netns add "$ns"
  ip link add "$ns" netns "$SC_SWITCH" type veth peer name eth0 netns "$ns"
  ip -n "$SC_SWITCH" link set "$ns" master "$SC_BRIDGE" up
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "$ip/24" dev eth0
  ip -n "$ns" link set eth0 up
  # The operator may still hold the MAC of this address's previous veth (a bare host of an earlier run):
  # forget it, or the first connections go to a MAC that is gone until the kernel's ARP probes time out.
  ip neigh del "$ip" dev "$SC_UPLINK" 2>/dev/null || true
  # The registry at 127.0.0.1:5000 inside the node, as on every harness node (network namespace only).
  setsid nsenter "--net=/run/netns/$ns" "${SC_DAEMON_ENV[@]}" socat "TCP-LISTEN:$SC_REG_PORT,bind=127.0.0.1,reuseaddr,fork" \
    "UNIX-CONNECT:$SC_STATE/registry.sock" </dev/null >>"$d/log/socat-registry.log" 2>&1 &
  echo $! >"$SC_RUN/$n.socat.pid"
  nsenter "--net=/run/netns/$ns" unshare --mount --uts --propagation private -- \
    "${SC_DAEMON_ENV[@]}" bash "$HERE/bare-init.sh" "$root" "$SC_RUN/$n" "$n" "$d/log"
  # 60 s: on a loaded 2-core machine the first handshakes of three fresh hosts can take a while.
  wait_for 60 ssh -i "$SC_STATE/id_ed25519" -o IdentitiesOnly=yes -o "UserKnownHostsFile=$BARE_STATE/known_hosts" \
    -o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=5 "root@$ip" true || {
    local why
    why=$(ssh -i "$SC_STATE/id_ed25519" -o IdentitiesOnly=yes -o "UserKnownHostsFile=$BARE_STATE/known_hosts" \
      -o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=5 "root@$ip" true 2>&1 | tail -3)
    die "sshd of $n did not accept the operator key: ${why:-no output} (log: $d/log/sshd.log)"
  }
}

up() {
  local count=${1:-1}
  [[ $count =~ ^[0-9]+$ ]] && [ "$count" -ge 1 ] && [ "$count" -le 9 ] || die "the number of bare hosts must be 1..9"
  [ -e "/run/netns/$SC_SWITCH" ] || die "the harness is not up: run \`npm run harness -- up\` first"
  mkdir -p "$CACHE" "$BARE_STATE"
  down
  ensure_rootfs
  ensure_repo
  repo_server_up
  local nodes=() n
  for i in $(seq 1 "$count"); do nodes+=("bare$i"); done
  printf '%s\n' "${nodes[@]}" >"$SC_RUN/bare-nodes"
  : >"$BARE_STATE/known_hosts"
  for n in "${nodes[@]}"; do
    local key=$SC_STATE/hostkeys/${n}_ed25519
    [ -s "$key" ] || ssh-keygen -q -t ed25519 -N '' -C "$n" -f "$key"
    printf '%s,%s %s\n' "$n" "$(bare_ip "$n")" "$(cut -d' ' -f1,2 "$key.pub")" >>"$BARE_STATE/known_hosts"
  done
  for n in "${nodes[@]}"; do start_node "$n"; done
  {
    printf '{"identity_file":"%s/id_ed25519","known_hosts":"%s/known_hosts","package_source":"http://%s:%s/","hosts":[' \
      "$SC_STATE" "$BARE_STATE" "$SC_OPERATOR_IP" "$REPO_PORT"
    local sep=
    for n in "${nodes[@]}"; do
      printf '%s{"name":"%s","address":"%s","user":"root","port":22,"docker_host":"unix://%s/%s/docker.sock"}' \
        "$sep" "$n" "$(bare_ip "$n")" "$SC_RUN" "$n"
      sep=,
    done
    printf ']}\n'
  } >"$BARE_JSON"
  cat "$BARE_JSON"
  log "bare hosts up: ${nodes[*]}"
}

down() {
  local nodes=() n ns pid pids
  mapfile -t nodes < <({
    [ -f "$SC_RUN/bare-nodes" ] && cat "$SC_RUN/bare-nodes"
    ip netns list 2>/dev/null | awk '{print $1}' | sed -n "s/^${SC_NS_PREFIX}\(bare[0-9]\)\$/\1/p"
  } | sort -u)
  for n in "${nodes[@]}"; do
    ns=$SC_NS_PREFIX$n
    local sock=$SC_RUN/$n/docker.sock
    if [ -S "$sock" ]; then
      mapfile -t ids < <(timeout 10 docker -H "unix://$sock" ps -aq 2>/dev/null || true)
      [ ${#ids[@]} = 0 ] || timeout 20 docker -H "unix://$sock" rm -f "${ids[@]}" >/dev/null 2>&1 || true
    fi
    pids=()
    if [ -e "/run/netns/$ns" ]; then
      for pid in $(ip netns pids "$ns" 2>/dev/null); do pid_alive "$pid" && pids+=("$pid"); done
    fi
    for f in /sys/fs/cgroup/*/"$ns"; do
      [ -d "$f" ] || continue
      for pid in $(find "$f" -name cgroup.procs -exec cat {} + 2>/dev/null); do pid_alive "$pid" && pids+=("$pid"); done
    done
    if [ ${#pids[@]} -gt 0 ]; then
      kill -TERM "${pids[@]}" 2>/dev/null || true
      wait_gone 10 "${pids[@]}" || { kill -KILL "${pids[@]}" 2>/dev/null || true; wait_gone 5 "${pids[@]}" || true; }
    fi
    [ -e "/run/netns/$ns" ] && ip netns del "$ns"
    local deadline=$((SECONDS + 5))
    while :; do
      local left=0
      for f in /sys/fs/cgroup/*/"$ns"; do
        [ -d "$f" ] || continue
        find "$f" -depth -type d -exec rmdir {} + 2>/dev/null || true
        [ -d "$f" ] && left=1
      done
      [ $left = 0 ] || [ $SECONDS -ge $deadline ] && break
      sleep 0.1
    done
    rm -rf "${SC_RUN:?}/$n"
  done
  for f in "$SC_RUN"/bare*.socat.pid; do
    [ -f "$f" ] || continue
    pid=$(pid_from_file "$f" "$SC_STATE/registry.sock") && kill -TERM "$pid" 2>/dev/null || true
    rm -f "$f"
  done
  if pid=$(pid_from_file "$SC_RUN/bare-repo.pid" "$SC_CACHE/bare/repo-"); then
    kill -TERM "$pid" 2>/dev/null || true
    wait_gone 5 "$pid" || true
  fi
  rm -f "$SC_RUN/bare-repo.pid" "$SC_RUN/bare-nodes" "$BARE_JSON"
}

# Docker on every bare host (what `setup` installs: docker.io, docker-cli, docker-compose from the package
# source), then one swarm: bare1 inits it on its address, the others join as workers with the token read
# from bare1 over ssh (never printed). Idempotent: a host that is already in the swarm is left alone.
swarm() {
  [ -f "$BARE_JSON" ] && [ -f "$SC_RUN/bare-nodes" ] || die "no bare hosts: run \`harness bare up N\` first"
  local nodes=() n pids=() status=0
  mapfile -t nodes <"$SC_RUN/bare-nodes"
  for n in "${nodes[@]}"; do
    bare_ssh "$n" 'command -v dockerd >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io docker-cli docker-compose; } >/var/log/harness/apt-docker.log 2>&1 || exit 1
      docker info >/dev/null 2>&1 || service docker start >/dev/null 2>&1
      for i in $(seq 100); do docker info >/dev/null 2>&1 && exit 0; sleep 0.2; done; exit 1' &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || status=1; done
  [ $status = 0 ] || die "installing or starting Docker on the bare hosts failed (logs: $BARE_STATE/<host>/log/apt-docker.log)"
  local manager=${nodes[0]} ip token
  ip=$(bare_ip "$manager")
  if [ "$(bare_ssh "$manager" "docker info --format '{{.Swarm.LocalNodeState}}'")" != active ]; then
    bare_ssh "$manager" "docker swarm init --advertise-addr $ip >/dev/null" || die "docker swarm init on $manager failed"
  fi
  token=$(bare_ssh "$manager" 'docker swarm join-token -q worker')
  for n in "${nodes[@]:1}"; do
    [ "$(bare_ssh "$n" "docker info --format '{{.Swarm.LocalNodeState}}'")" = active ] && continue
    bare_ssh "$n" "docker swarm join --advertise-addr $(bare_ip "$n") --token $token $ip:2377 >/dev/null" ||
      die "$n could not join the swarm of $manager"
  done
  local ready
  for i in $(seq 100); do
    ready=$(bare_ssh "$manager" "docker node ls --format '{{.Status}}' | grep -c Ready" || true)
    [ "$ready" = "${#nodes[@]}" ] && break
    sleep 0.2
  done
  [ "$ready" = "${#nodes[@]}" ] || die "the swarm of $manager has $ready of ${#nodes[@]} nodes ready"
  cat "$BARE_JSON"
  log "swarm: $manager manages ${nodes[*]}"
}

bare_ssh() {
  local n=$1
  shift
  ssh -i "$SC_STATE/id_ed25519" -o IdentitiesOnly=yes -o "UserKnownHostsFile=$BARE_STATE/known_hosts" \
    -o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=5 "root@$(bare_ip "$n")" "$@"
}

case "${1:-}" in
up) up "${2:-1}" ;;
swarm) swarm ;;
down) down ;;
*) die "usage: bare.sh up [N] | swarm | down" ;;
esac
