#!/usr/bin/env bash
# Installs what the harness needs and is missing. Idempotent: well under a second when all is there.
#   Debian packages: engine, sshd, registry, caddy, busybox, socat, wrk, ...
#   Compose v2 + buildx CLI plugins from Debian trixie (bookworm's compose is v1), through a private apt
#   configuration that leaves the system's sources untouched, unpacked into /usr/local/lib/docker/cli-plugins
#   (searched by every docker client, and visible inside hosts whose /root is private).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

export DEBIAN_FRONTEND=noninteractive
# wireguard-go + wireguard-tools: the mesh test's fake tailscale brings up userspace WireGuard (no kernel module here).
PKGS=(docker.io openssh-server openssh-client docker-registry caddy busybox-static socat wrk curl iproute2 util-linux postgresql-15 wireguard-go wireguard-tools)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  # Package scripts must not start system daemons (dockerd, sshd, registry, caddy): the harness starts its own.
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    made_policy=1
  fi
  trap 'if [ $made_policy = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi' EXIT
  mkdir -p "$SC_CACHE"
  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$SC_CACHE/apt.log" 2>&1; then
    tail -n 30 "$SC_CACHE/apt.log" >&2
    die "apt-get failed (full log: $SC_CACHE/apt.log)"
  fi
fi

plugins_ok() {
  [ -x "$SC_PLUGINS/docker-compose" ] && [ -x "$SC_PLUGINS/docker-buildx" ] &&
    docker compose version >/dev/null 2>&1 && docker buildx version >/dev/null 2>&1
}

if ! plugins_ok; then
  log "installing docker compose v2 + buildx plugins from Debian trixie"
  W=$SC_CACHE/trixie
  mkdir -p "$W/lists/partial" "$W/debs" "$SC_PLUGINS"
  # Same mirror as the machine's own Debian source, read at run time.
  URI=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$URI" ] || URI=$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  [ -n "$URI" ] || die "cannot find the Debian mirror in /etc/apt/sources.list.d/debian.sources"
  printf 'Types: deb\nURIs: %s\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$URI" >"$W/trixie.sources"
  A=(-o "Dir::Etc::sourcelist=$W/trixie.sources" -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$W/lists"
    -o APT::Get::List-Cleanup=0 -o APT::Sandbox::User=root)
  rm -f "$W/debs/"*.deb
  if ! { apt-get "${A[@]}" update -qq && (cd "$W/debs" && apt-get "${A[@]}" download docker-compose docker-buildx); } \
    >"$SC_CACHE/apt-trixie.log" 2>&1; then
    tail -n 30 "$SC_CACHE/apt-trixie.log" >&2
    die "fetching compose/buildx from trixie failed (full log: $SC_CACHE/apt-trixie.log)"
  fi
  for d in "$W/debs/"*.deb; do
    rm -rf "$W/x"
    mkdir "$W/x"
    dpkg-deb -x "$d" "$W/x"
    install -m755 "$W/x/usr/libexec/docker/cli-plugins/"* "$SC_PLUGINS/"
  done
  rm -rf "$W/x"
  plugins_ok || die "docker compose / buildx plugins do not run after install"
fi

log "installed: $(docker compose version 2>/dev/null | head -1); buildx $(docker buildx version 2>/dev/null | awk '{print $2}')"
