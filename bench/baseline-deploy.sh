#!/usr/bin/env bash
# The hand-written baseline for bench/deploy.mjs: what a careful person would type to roll api and web
# to a new image version with zero downtime on already-deployed hosts, over one multiplexed ssh
# connection per host, hosts in parallel. Same docker work as `stagecraft deploy`, none of its checks.
# NETWORK is the host's shared gateway network; API_ALIAS and WEB_ALIAS the services' upstream aliases on it.
#   baseline-deploy.sh SSH_CONFIG PROJECT IMAGE_PREFIX VERSION NETWORK API_ALIAS WEB_ALIAS HOST...
set -euo pipefail
ssh_config=$1 project=$2 prefix=$3 version=$4 network=$5
declare -A alias=([api]=$6 [web]=$7)
shift 7
control=$(mktemp -d /tmp/bl-XXXXXX)
trap 'for h in "$@"; do ssh -F "$ssh_config" -o ControlPath="$control/%C" -O exit "$h" 2>/dev/null || true; done; rm -rf "$control"' EXIT

deploy_host() {
  local host=$1
  local s=(ssh -F "$ssh_config" -o ControlMaster=auto -o ControlPath="$control/%C" -o ControlPersist=60 "$host")
  local base=".stagecraft/$project/releases"
  local last
  last=$("${s[@]}" "ls -1 $base | sort | tail -1")
  local dir="$base/baseline-$version"
  "${s[@]}" "mkdir -p $dir && cp -a $base/$last/. $dir/ && sed -i -E 's#(${prefix}-(api|web)):[^\"@]*#\\1:$version#' $dir/compose.yml"
  "${s[@]}" "docker compose -p $project -f $dir/compose.yml pull --quiet api web"
  for svc in api web; do
    local old new status
    old=$("${s[@]}" "docker ps -q --filter label=com.docker.compose.project=$project --filter label=com.docker.compose.service=$svc" | tr '\n' ' ')
    "${s[@]}" "docker compose -p $project -f $dir/compose.yml up -d --no-deps --no-recreate --scale $svc=2 $svc" 2>/dev/null
    new=$("${s[@]}" "docker ps -q --filter label=com.docker.compose.project=$project --filter label=com.docker.compose.service=$svc" | grep -v -F -f <(tr ' ' '\n' <<<"$old" | grep .) | head -1)
    until status=$("${s[@]}" "docker inspect -f '{{.State.Health.Status}}' $new") && [ "$status" = healthy ]; do sleep 0.25; done
    "${s[@]}" "docker network connect --alias ${alias[$svc]} $network $new"
    sleep 1.5 # the gateway re-reads its upstreams every second
    sleep 1   # drain
    "${s[@]}" "docker stop $old >/dev/null && docker rm $old >/dev/null"
  done
}

for host in "$@"; do deploy_host "$host" & done
wait
