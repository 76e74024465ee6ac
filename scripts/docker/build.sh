#!/usr/bin/env bash
# Build the verity image from the Dockerfile: `build.sh [cpu|cuda]` -> verity:local (cpu) or
# verity:local-cuda. On a machine without registries (ours) the base images are made locally
# (bases.sh) and passed as build arguments; the model mirror (VERITY_MODEL_MIRROR, a directory:
# ../shared/models here) is served on loopback for the build, which runs with --network host.
# Where docker can pull images and reach GitHub, set DOCKER_PUBLIC_BASES=1 to build exactly as a
# user does (rust:… and debian:…-slim from the registry, models from their sources).
set -euo pipefail
cd "$(dirname "$0")/../.."
runtime=${1:-cpu}
# Also tagged verity:<chart appVersion>[-cuda], the image the Helm chart's defaults name.
version=$(awk -F'"' '/^appVersion:/ {print $2}' helm/verity/Chart.yaml)
case "$runtime" in
  cpu) tag=verity:local; also=verity:$version ;;
  cuda) tag=verity:local-cuda; also=verity:$version-cuda ;;
  *) echo "usage: $0 [cpu|cuda]" >&2; exit 2 ;;
esac
say() { echo "    [image] $*"; }

bash scripts/docker/daemon.sh start
args=(--network host --build-arg "RUNTIME=$runtime")
if [ -z "${DOCKER_PUBLIC_BASES:-}" ]; then
  bases=$(bash scripts/docker/bases.sh | tail -1)
  for kv in $bases; do args+=(--build-arg "$kv"); done
fi

server=""
cleanup() { [ -z "$server" ] || kill "$server" 2>/dev/null || true; }
trap cleanup EXIT
mirror=${VERITY_MODEL_MIRROR:-}
if [ -n "$mirror" ] && [ -d "$mirror" ]; then
  port=${DOCKER_MIRROR_PORT:-18479}
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "127.0.0.1:$port (DOCKER_MIRROR_PORT) is taken: cannot serve the model mirror to the build" >&2
    exit 1
  fi
  python3 -m http.server --bind 127.0.0.1 --directory "$mirror" "$port" >.cache/docker/mirror.log 2>&1 &
  server=$!
  for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  say "model mirror $mirror served on http://127.0.0.1:$port for the build"
  args+=(--build-arg "MODEL_MIRROR=http://127.0.0.1:$port")
fi

say "docker build ${args[*]} -t $tag ."
start=$(date +%s)
# The classic builder: Debian's dockerd has no buildx here, and it needs no frontend image.
if ! DOCKER_BUILDKIT=0 docker build "${args[@]}" -t "$tag" . 2>&1 \
    | sed -u 's/\x1b\[[0-9;]*m//g' | { grep -v -e '^DEPRECATED' -e 'BuildKit is currently disabled' -e 'Install the buildx' -e 'docs.docker.com/go/buildx' || true; }; then
  echo "docker build of $tag failed" >&2
  exit 1
fi
docker tag "$tag" "$also"
size=$(docker image inspect -f '{{.Size}}' "$tag")
say "$tag ($also) built in $(( $(date +%s) - start )) s: $(awk -v s="$size" 'BEGIN{printf "%.0f MB (%.2f GiB)", s/1e6, s/2^30}')"
