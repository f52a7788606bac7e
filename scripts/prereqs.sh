#!/usr/bin/env bash
# Makes sure the services the tests start are installed. As root it installs
# what is missing with apt-get; otherwise it prints the exact command and fails.
set -euo pipefail

declare -A need=(
  [initdb]="postgresql postgresql-contrib"
  [redis-server]="redis-server"
  [rabbitmq-server]="rabbitmq-server"
  [prometheus]="prometheus"
  [promtool]="prometheus"
  [prometheus-postgres-exporter]="prometheus-postgres-exporter"
  [prometheus-redis-exporter]="prometheus-redis-exporter"
  [prometheus-alertmanager]="prometheus-alertmanager"
  [amtool]="prometheus-alertmanager"
)
missing=()
for bin in "${!need[@]}"; do
  found=""
  for d in /usr/lib/postgresql/*/bin /usr/sbin /usr/bin /usr/local/bin; do
    [ -x "$d/$bin" ] && found=1 && break
  done
  [ -n "$found" ] || missing+=(${need[$bin]})
done
# The Celery worker runs on Debian's Python, whatever python3 is first on PATH.
if ! /usr/bin/python3 -c 'import celery, redis, kombu, amqp' >/dev/null 2>&1; then
  missing+=(python3-celery python3-redis)
fi
# Helpers the tests use: du (coreutils) is always there; these may not be.
for tool in psql:postgresql-client; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool##*:}")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "test prerequisites missing: ${missing[*]}" >&2
  echo "install them with: sudo apt-get update && sudo $cmd" >&2
  exit 1
fi
echo "installing test prerequisites: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
# Package scripts try to start services; there is no init system here, and
# tests start their own instances, so keep the packages from starting any.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
$cmd -q
