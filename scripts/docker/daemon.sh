#!/usr/bin/env bash
# The Docker daemon for `make docker-image` / `make docker-test`.
#   daemon.sh start   use the running daemon, or start dockerd (Debian's docker.io) with no bridge
#                     and no iptables rules: builds and containers use the host network only
#   daemon.sh stop    stop the daemon, only if `start` started it
# The daemon started here logs to .cache/docker/dockerd.log; its pid is in .cache/docker/dockerd.pid.
set -euo pipefail
cd "$(dirname "$0")/../.."
state=.cache/docker
mkdir -p "$state"
pidfile=$state/dockerd.pid

say() { echo "    [docker] $*"; }

install_docker() {
  say "installing Debian's docker.io (its own service is kept from starting: it would create a bridge)"
  local policy=/usr/sbin/policy-rc.d restore=""
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; restore=1; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io >/dev/null
  [ -z "$restore" ] || rm -f "$policy"
}

start() {
  if docker info >/dev/null 2>&1; then
    say "daemon already running ($(docker version -f '{{.Server.Version}}' 2>/dev/null))"
    return
  fi
  command -v dockerd >/dev/null || install_docker
  say "starting dockerd --bridge=none --iptables=false --ip6tables=false (log: $state/dockerd.log)"
  dockerd --bridge=none --iptables=false --ip6tables=false >"$state/dockerd.log" 2>&1 &
  echo $! >"$pidfile"
  for _ in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then
      say "dockerd $(docker version -f '{{.Server.Version}}') up, storage $(docker info -f '{{.Driver}}')"
      return
    fi
    kill -0 "$(cat "$pidfile")" 2>/dev/null || break
    sleep 1
  done
  echo "dockerd did not come up; its log:" >&2
  tail -20 "$state/dockerd.log" >&2
  rm -f "$pidfile"
  exit 1
}

stop() {
  [ -f "$pidfile" ] || { say "daemon not started by us: left running"; return; }
  local pid
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    say "stopping dockerd (pid $pid)"
    kill "$pid"
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  fi
  rm -f "$pidfile"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
