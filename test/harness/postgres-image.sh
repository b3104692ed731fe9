#!/usr/bin/env bash
# Builds and pushes 127.0.0.1:5000/stagecraft-test/postgres:15 offline, from this machine's Debian
# PostgreSQL 15 (package `postgresql-15`): server, initdb, pg_ctl, psql, pg_isready, pg_dump, the
# extension libraries, the share files, the time zones and every library ldd lists, on top of
# 127.0.0.1:5000/stagecraft-test/busybox:latest (pushed by the harness's images.sh).
#
# The entrypoint behaves like the official image's for what compose files use: POSTGRES_USER,
# POSTGRES_PASSWORD, POSTGRES_DB, POSTGRES_INITDB_ARGS, POSTGRES_HOST_AUTH_METHOD, PGDATA
# (default /var/lib/postgresql/data), /docker-entrypoint-initdb.d/*.sql|*.sh; initdb runs as the
# non-root user postgres (uid 999) on first start, the server listens on *, TCP needs a password
# (scram-sha-256), and during initialisation the server is reachable only on a private socket, so a
# `pg_isready -U shop -d shop` health check passes only once the real server is up.
# Any other command (`psql …`, `sh -c …`) runs as given: the image also serves one-off psql containers.
#
# Needs: DOCKER_HOST (the build engine), the registry at $SC_PG_REGISTRY (default 127.0.0.1:5000), curl.
# Skipped when the registry already has the tag built from the same inputs (binaries, files, this script).
# Usage: postgres-image.sh            build (if needed), smoke-test and push
#        postgres-image.sh --stage D  only assemble the image's files under D (no Docker; for debugging)
set -euo pipefail

REG=${SC_PG_REGISTRY:-127.0.0.1:5000}
REPO=stagecraft-test/postgres
TAG=15
IMAGE=$REG/$REPO:$TAG
BASE=$REG/stagecraft-test/busybox:latest
PGVER=15
PGBIN=/usr/lib/postgresql/$PGVER/bin
PGLIB=/usr/lib/postgresql/$PGVER/lib
PGSHARE=/usr/share/postgresql/$PGVER
ZONEINFO=/usr/share/zoneinfo
BINARIES=(postgres initdb pg_ctl psql pg_isready pg_dump)
PG_UID=999

log() { printf '[postgres-image] %s\n' "$*" >&2; }
die() {
  printf '[postgres-image] error: %s\n' "$*" >&2
  exit 1
}

for b in "${BINARIES[@]}"; do
  [ -x "$PGBIN/$b" ] || die "$PGBIN/$b not found: install Debian's PostgreSQL $PGVER (apt-get install -y postgresql-$PGVER)"
done
[ -d "$PGSHARE" ] || die "$PGSHARE not found (package postgresql-$PGVER)"
[ -d "$ZONEINFO" ] || die "$ZONEINFO not found (package tzdata)"

# Extension and encoding libraries; the JIT (llvmjit, bitcode) is left out.
mapfile -t SERVER_LIBS < <(find "$PGLIB" -maxdepth 1 -name '*.so' ! -name 'llvmjit*' | sort)
# Every ELF file copied into the image.
ELF=("${BINARIES[@]/#/$PGBIN/}" "${SERVER_LIBS[@]}")

# Shared libraries of ELF files, as ldd prints them (resolved paths), deduplicated.
libs_of() {
  local f
  for f in "$@"; do
    ldd "$f" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' || true
  done | sort -u
}

entrypoint() {
  cat <<'ENTRYPOINT'
#!/bin/sh
# stagecraft-test postgres entrypoint: the official image's behaviour for POSTGRES_* and PGDATA.
set -eu

# `docker run image -c x=y` passes flags to postgres, like the official image.
if [ "${1#-}" != "$1" ]; then set -- postgres "$@"; fi
# Anything else (psql, sh -c …) runs as given.
if [ "$1" != postgres ]; then exec "$@"; fi

PGDATA=${PGDATA:-/var/lib/postgresql/data}
export PGDATA

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
  chmod 700 "$PGDATA"
  chown postgres:postgres /var/run/postgresql
  chmod 3777 /var/run/postgresql
  export HOME=/var/lib/postgresql
  # busybox su as root: no password; -p keeps the environment; `--` keeps postgres flags (-c …) away
  # from su's option parser; the shell execs this script again as postgres.
  exec su -p -s /bin/sh -c 'exec "$0" "$@"' -- postgres "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "${POSTGRES_USER:=postgres}"
  : "${POSTGRES_DB:=$POSTGRES_USER}"
  auth=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
  if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$auth" != trust ]; then
    echo 'error: database is uninitialized and superuser password is not specified.' >&2
    echo '       Set POSTGRES_PASSWORD (or POSTGRES_HOST_AUTH_METHOD=trust to allow connections without one).' >&2
    exit 1
  fi
  pwfile=
  if [ -n "${POSTGRES_PASSWORD:-}" ]; then
    pwfile=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  fi
  # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of flags, as in the official image
  initdb --username="$POSTGRES_USER" ${pwfile:+--pwfile="$pwfile"} -E UTF8 --locale=C \
    --auth-local=trust --auth-host="$auth" ${POSTGRES_INITDB_ARGS:-} >/dev/null
  [ -z "$pwfile" ] || rm -f "$pwfile"
  printf '\nhost all all all %s\n' "$auth" >>"$PGDATA/pg_hba.conf"
  printf "\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"

  # A temporary server on a private socket and no TCP: health checks keep failing until the real one is up.
  sock=$(mktemp -d)
  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -c unix_socket_directories=$sock" -w -t 60 start >/dev/null
  export PGHOST=$sock PGUSER=$POSTGRES_USER
  if [ "$POSTGRES_DB" != postgres ]; then
    echo 'CREATE DATABASE :"db";' | psql -X -q -v ON_ERROR_STOP=1 -d postgres --set db="$POSTGRES_DB"
  fi
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
    *.sql) psql -X -q -v ON_ERROR_STOP=1 -d "$POSTGRES_DB" -f "$f" ;;
    *.sh) . "$f" ;;
    esac
  done
  unset PGHOST PGUSER
  pg_ctl -D "$PGDATA" -m fast -w -t 60 stop >/dev/null
  rm -rf "$sock"
  echo 'PostgreSQL init process complete; ready for start up.'
fi

exec "$@"
ENTRYPOINT
}

# Lays out the image's files (without the busybox base) under $1/root and writes $1/Dockerfile.
stage() {
  local dir=$1 root=$1/root b f lib
  rm -rf "$dir"
  mkdir -p "$root$PGBIN" "$root$PGLIB" "$root/usr/share/postgresql" "$root/usr/share" "$root/usr/local/bin"
  for b in "${BINARIES[@]}"; do install -m 755 "$PGBIN/$b" "$root$PGBIN/$b"; done
  for f in "${SERVER_LIBS[@]}"; do install -m 755 "$f" "$root$PGLIB/"; done
  cp -a "$PGSHARE" "$root/usr/share/postgresql/"
  rm -rf "$root$PGSHARE/man"
  cp -aL "$ZONEINFO" "$root/usr/share/"
  while read -r lib; do
    install -D -m 755 "$(readlink -f "$lib")" "$root$lib"
  done < <(libs_of "${ELF[@]}")
  # initdb asks `locale -a` for the collations to import; the C locales are built into glibc.
  mkdir -p "$root/usr/bin"
  cat >"$root/usr/bin/locale" <<'LOCALE'
#!/bin/sh
[ "${1:-}" = -a ] && printf 'C\nC.utf8\nPOSIX\n'
exit 0
LOCALE
  chmod 755 "$root/usr/bin/locale"
  entrypoint >"$root/usr/local/bin/docker-entrypoint.sh"
  chmod 755 "$root/usr/local/bin/docker-entrypoint.sh"
  cat >"$dir/Dockerfile" <<EOF
FROM $BASE
COPY root/ /
RUN echo 'postgres:x:$PG_UID:$PG_UID:PostgreSQL:/var/lib/postgresql:/bin/sh' >>/etc/passwd \\
 && echo 'postgres:x:$PG_UID:' >>/etc/group \\
 && mkdir -p /var/lib/postgresql/data /var/run/postgresql /docker-entrypoint-initdb.d \\
 && chown -R $PG_UID:$PG_UID /var/lib/postgresql /var/run/postgresql \\
 && chmod 700 /var/lib/postgresql/data && chmod 3777 /var/run/postgresql
ENV PATH=$PGBIN:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin PGDATA=/var/lib/postgresql/data
VOLUME /var/lib/postgresql/data
ENTRYPOINT ["docker-entrypoint.sh"]
STOPSIGNAL SIGINT
EXPOSE 5432
CMD ["postgres"]
EOF
}

if [ "${1:-}" = --stage ]; then
  [ -n "${2:-}" ] || die "usage: $0 --stage DIR"
  stage "$2"
  log "image files staged in $2"
  exit 0
fi

[ -n "${DOCKER_HOST:-}" ] || die "DOCKER_HOST is not set: point it at the build engine"
command -v curl >/dev/null || die "curl not found"

# What the image is built from: a change to any of it rebuilds.
inputs() {
  local f
  { printf '%s\n' "${ELF[@]}"; libs_of "${ELF[@]}"; } | while read -r f; do stat -L -c '%n %s %Y' "$f"; done
  find "$PGSHARE" "$ZONEINFO" -type f -printf '%p %s %T@\n' | sort
  echo "$BASE"
  sha256sum <"$0"
}
key=$(inputs | sha256sum | cut -c1-16)

digest_of() {
  curl -fsS -o /dev/null -D - \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "http://$REG/v2/$REPO/manifests/$1" 2>/dev/null |
    tr -d '\r' | awk -F': ' 'tolower($1) == "docker-content-digest" {print $2}' || true
}
current=$(digest_of "$TAG")
if [ -n "$current" ] && [ "$current" = "$(digest_of "$TAG-$key")" ]; then
  log "$IMAGE is up to date in the registry (inputs $key)"
  exit 0
fi

work=$(mktemp -d)
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
log "building $IMAGE (inputs $key) on $DOCKER_HOST"
stage "$work"
docker build -q --label "org.stagecraft.inputs=$key" -t "$IMAGE" -t "$IMAGE-$key" "$work" >/dev/null

# Smoke test: first start initialises as the official image does; TCP needs the password.
cid=$(docker run -d -e POSTGRES_USER=shop -e POSTGRES_PASSWORD=smoke-pw -e POSTGRES_DB=shop "$IMAGE")
smoke_cleanup() {
  docker rm -fv "$cid" >/dev/null 2>&1 || true
  cleanup
}
trap smoke_cleanup EXIT
ready=
for _ in $(seq 1 120); do
  if docker exec "$cid" pg_isready -q -U shop -d shop 2>/dev/null; then
    ready=1
    break
  fi
  [ "$(docker inspect -f '{{.State.Running}}' "$cid")" = true ] || break
  sleep 0.5
done
if [ -z "$ready" ]; then
  docker logs "$cid" >&2 || true
  die "the image's server did not become ready"
fi
out=$(docker exec "$cid" psql -X -tA 'postgresql://shop:smoke-pw@127.0.0.1:5432/shop' -c 'SELECT current_user || current_database()') ||
  die "psql over TCP with the password failed"
[ "$out" = shopshop ] || die "unexpected answer from the server: $out"
if docker exec -e PGPASSWORD=wrong "$cid" psql -X -tA -h 127.0.0.1 -U shop -d shop -c 'SELECT 1' >/dev/null 2>&1; then
  die "the server accepted a wrong password over TCP"
fi
[ "$(docker exec "$cid" sh -c 'stat -c %u "$PGDATA"')" = "$PG_UID" ] || die "PGDATA is not owned by uid $PG_UID"
docker rm -fv "$cid" >/dev/null

docker push -q "$IMAGE" >/dev/null
docker push -q "$IMAGE-$key" >/dev/null
log "pushed $IMAGE (inputs $key)"
