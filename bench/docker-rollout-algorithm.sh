#!/usr/bin/env bash
# docker-rollout's algorithm (github.com/wowu/docker-rollout, v0.13) as a plain script, written from its
# documented steps for bench/deploy.mjs when its own script is not at hand (DOCKER_ROLLOUT unset).
# Runs ON a host (the bench pipes it through ssh), for one service of a compose project:
#   1. scale the service to twice its containers with `compose up --no-recreate` (the new ones start
#      beside the old ones; the gateway finds them by their network alias);
#   2. poll `docker inspect` every second until every new container is healthy (60 s at most; without
#      a health check: wait 10 s);
#   3. stop and remove the old containers.
#   docker-rollout-algorithm.sh PROJECT SERVICE COMPOSE_FILE...
set -euo pipefail
project=$1 service=$2
shift 2
files=()
for file in "$@"; do files+=(-f "$file"); done
compose=(docker compose -p "$project" "${files[@]}")

old=$("${compose[@]}" ps --quiet "$service" | tr '\n' ' ')
count=$(wc -w <<<"$old")
"${compose[@]}" up --detach --no-recreate --scale "$service=$((count * 2))" "$service" 2>/dev/null
new=$("${compose[@]}" ps --quiet "$service" | grep -v -F -f <(tr ' ' '\n' <<<"$old" | grep .) | tr '\n' ' ')

first=$(cut -d' ' -f1 <<<"$new")
if docker inspect --format '{{json .State.Health}}' "$first" | grep -q Status; then
  for _ in $(seq 1 60); do
    healthy=0
    for id in $new; do
      [ "$(docker inspect --format '{{.State.Health.Status}}' "$id")" = healthy ] && healthy=$((healthy + 1))
    done
    [ "$healthy" = "$count" ] && break
    sleep 1
  done
  [ "$healthy" = "$count" ] || { docker rm -f $new >/dev/null; echo "new containers not healthy" >&2; exit 1; }
else
  sleep 10
fi
docker stop $old >/dev/null
docker rm $old >/dev/null
