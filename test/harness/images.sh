#!/usr/bin/env bash
# Builds the base images offline (from binaries already on the machine) on the build engine and pushes them:
#   127.0.0.1:5000/stagecraft-test/busybox:latest   busybox-static with its applets
#   127.0.0.1:5000/stagecraft-test/node:20          this machine's node binary + the libraries ldd lists
#   127.0.0.1:5000/stagecraft-test/caddy:2          Debian's caddy + its libraries
# Skipped when the registry has all three tags and the inputs (binaries, this script) are unchanged.
# SC_NODE_BIN overrides the node binary (cli.mjs passes its own process.execPath).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

export DOCKER_HOST=unix://$SC_RUN/local/docker.sock
R=$SC_REG_ADDR/stagecraft-test
W=$SC_STATE/images
BUSYBOX=$(command -v busybox || true)
NODE_BIN=${SC_NODE_BIN:-$(command -v node || true)}
CADDY=$(command -v caddy || true)
[ -x "$BUSYBOX" ] || die "busybox not found (package busybox-static)"
[ -x "$NODE_BIN" ] || die "node not found"
[ -x "$CADDY" ] || die "caddy not found (package caddy)"
NODE_BIN=$(readlink -f "$NODE_BIN")

# Shared libraries of an ELF binary, as ldd prints them (empty for static binaries).
libs_of() { ldd "$1" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' || true; }

inputs() {
  local f
  for f in "$BUSYBOX" "$NODE_BIN" $(libs_of "$NODE_BIN") "$CADDY" $(libs_of "$CADDY"); do
    stat -L -c '%n %s %Y %i' "$f"
  done
  sha256sum <"$0"
}
key=$(inputs | sha256sum | cut -d' ' -f1)

has_tag() {
  curl -fsS -o /dev/null -I -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "http://$SC_REG_ADDR/v2/stagecraft-test/$1/manifests/$2"
}
if [ "$(cat "$W/stamp" 2>/dev/null || true)" = "$key" ] && has_tag busybox latest && has_tag node 20 && has_tag caddy 2; then
  log "base images up to date in the registry (cached)"
  exit 0
fi

log "building base images on the build engine"
rm -rf "$W"
mkdir -p "$W/busybox/rootfs" "$W/node/root" "$W/caddy/root"

# busybox: a root filesystem of applet links, imported as an image (no FROM, no pull).
rootfs=$W/busybox/rootfs
mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/root" "$rootfs/tmp" "$rootfs/var/tmp"
chmod 1777 "$rootfs/tmp" "$rootfs/var/tmp"
cp "$BUSYBOX" "$rootfs/bin/busybox"
"$BUSYBOX" --list-full | while read -r a; do
  [ "$a" = bin/busybox ] && continue
  mkdir -p "$rootfs/$(dirname "$a")"
  ln -sf /bin/busybox "$rootfs/$a"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
tar -C "$rootfs" --numeric-owner --owner=0 --group=0 -c . |
  docker import -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' -c 'CMD ["/bin/sh"]' \
    - "$R/busybox:latest" >/dev/null
docker push -q "$R/busybox:latest" >/dev/null

# A binary and every library ldd lists, at the same paths, on top of busybox.
copy_with_libs() {
  local root=$1 bin=$2 dest=$3 lib
  install -D -m 755 "$bin" "$root$dest"
  for lib in $(libs_of "$bin"); do install -D -m 755 "$(readlink -f "$lib")" "$root$lib"; done
}

copy_with_libs "$W/node/root" "$NODE_BIN" /usr/local/bin/node
cat >"$W/node/Dockerfile" <<EOF
FROM $R/busybox:latest
COPY root/ /
CMD ["node"]
EOF

copy_with_libs "$W/caddy/root" "$CADDY" /usr/bin/caddy
mkdir -p "$W/caddy/root/etc/caddy" "$W/caddy/root/config" "$W/caddy/root/data" "$W/caddy/root/srv"
printf ':80 {\n\trespond "stagecraft-test caddy"\n}\n' >"$W/caddy/root/etc/caddy/Caddyfile"
cat >"$W/caddy/Dockerfile" <<EOF
FROM $R/busybox:latest
COPY root/ /
ENV XDG_CONFIG_HOME=/config XDG_DATA_HOME=/data
WORKDIR /srv
EXPOSE 80 443
CMD ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]
EOF

docker build -q -t "$R/node:20" "$W/node" >/dev/null
docker build -q -t "$R/caddy:2" "$W/caddy" >/dev/null

# Smoke: the copied binaries find their libraries.
out=$(docker run --rm "$R/node:20" node -e 'process.stdout.write(process.version)') || die "node image does not run"
docker run --rm "$R/caddy:2" caddy version >/dev/null || die "caddy image does not run"

docker push -q "$R/node:20" >/dev/null
docker push -q "$R/caddy:2" >/dev/null
docker image prune -f >/dev/null || true
rm -rf "$W/busybox" "$W/node" "$W/caddy"
echo "$key" >"$W/stamp"
log "base images pushed: $R/busybox:latest, $R/node:20 (node $out), $R/caddy:2"
