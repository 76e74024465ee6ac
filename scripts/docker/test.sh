#!/usr/bin/env bash
# `make docker-test`: run verity:local as a user would and check it.
#  - `docker run --network host --read-only --tmpfs /tmp` with a named volume on /data, as the
#    image's own non-root user; wait for /readyz (start-to-ready time and RSS printed);
#  - verify (obama/obama2), a document read (TD3 specimen) and a plate read answer as the ground
#    truth says and, where this checkout has a host build (target/release/verity), exactly as the
#    host binary does on the same requests;
#  - a face enrolled in the SQLite gallery, SIGTERM (docker stop): exit 0 within the drain
#    budget; a new container on the same volume finds the face;
#  - the CUDA variant builds (it cannot run here: no GPU) and its size is printed; its libraries
#    load and serve with the CPU provider.
# Stops the Docker daemon at the end if scripts/docker/daemon.sh started it.
set -euo pipefail
cd "$(dirname "$0")/../.."
image=${VERITY_IMAGE:-verity:local}
name=verity-docker-test
volume=verity-docker-test
budget=${VERITY_SHUTDOWN_TIMEOUT_SECONDS:-30}
out=target/docker-test
mkdir -p "$out"
say() { echo "==> [docker-test] $*"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
host_pid=""

cleanup() {
  local rc=$?
  if [ $rc != 0 ] && docker inspect "$name" >/dev/null 2>&1; then
    echo "--- container log (last 30 lines) ---" >&2; docker logs --tail 30 "$name" >&2 || true
  fi
  docker rm -f "$name" >/dev/null 2>&1 || true
  docker volume rm -f "$volume" >/dev/null 2>&1 || true
  [ -z "$host_pid" ] || kill "$host_pid" 2>/dev/null || true
  bash scripts/docker/daemon.sh stop
  exit $rc
}
trap cleanup EXIT

bash scripts/docker/daemon.sh start
docker image inspect "$image" >/dev/null 2>&1 || { echo "no image $image: run make docker-image first" >&2; exit 1; }
docker rm -f "$name" >/dev/null 2>&1 || true
docker volume rm -f "$volume" >/dev/null 2>&1 || true
docker volume create "$volume" >/dev/null

run() { # run PORT [extra docker args...] -> starts the container detached
  local port=$1; shift
  docker run -d --name "$name" --network host --read-only --tmpfs /tmp -v "$volume:/data" \
    -e VERITY_LISTEN="127.0.0.1:$port" "$@" "$image" >/dev/null
}

port=$(free_port)
url=http://127.0.0.1:$port
say "docker run --network host --read-only --tmpfs /tmp -v $volume:/data $image (listening on 127.0.0.1:$port)"
t0=$(date +%s.%N)
run "$port"
python3 scripts/docker/checks.py ready "$url" 180 >/dev/null
ready=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$t0" "$(date +%s.%N)")
own=$(docker logs "$name" 2>&1 | grep -o '"start_to_ready_ms":[0-9.]*' | head -1 | cut -d: -f2 | cut -d. -f1)
pid=$(docker inspect -f '{{.State.Pid}}' "$name")
uid=$(ps -o uid= -p "$pid" | tr -d ' ')
[ "$uid" = 10001 ] || { echo "FAILED: the server runs as uid $uid, not the image's user 10001" >&2; exit 1; }
say "ready ${ready} s after docker run (the server's own start_to_ready_ms: ${own}); runs as uid $uid; root filesystem read-only"
python3 scripts/docker/checks.py answers "$url" "$out/container.json"
say "RSS after those requests: $(( $(ps -o rss= -p "$pid") / 1024 )) MiB"

if [ -x target/release/verity ] && [ -e .cache/onnxruntime/cpu/libonnxruntime.so ]; then
  hport=$(free_port)
  VERITY_LISTEN=127.0.0.1:$hport VERITY_DATA_DIR="$(mktemp -d)" VERITY_LOG_FORMAT=json \
    target/release/verity serve >"$out/host.log" 2>&1 &
  host_pid=$!
  python3 scripts/docker/checks.py ready "http://127.0.0.1:$hport" 180 >/dev/null
  python3 scripts/docker/checks.py answers "http://127.0.0.1:$hport" "$out/host.json" >/dev/null
  kill "$host_pid"; wait "$host_pid" 2>/dev/null || true; host_pid=""
  python3 scripts/docker/checks.py same "$out/container.json" "$out/host.json"
else
  say "no host build (target/release/verity): compared with the ground truth only"
fi

python3 scripts/docker/checks.py enroll "$url"
say "docker stop -t $((budget + 5)) (SIGTERM; SIGKILL only past the drain budget of $budget s)"
t0=$(date +%s.%N)
docker stop -t $((budget + 5)) "$name" >/dev/null
stopped=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$t0" "$(date +%s.%N)")
code=$(docker inspect -f '{{.State.ExitCode}}' "$name")
[ "$code" = 0 ] || { echo "FAILED: exit code $code after SIGTERM (137: killed past the budget)" >&2; exit 1; }
say "stopped in ${stopped} s with exit code 0"
docker rm "$name" >/dev/null

say "a new container on the same volume"
run "$port"
python3 scripts/docker/checks.py ready "$url" 180 >/dev/null
python3 scripts/docker/checks.py search "$url"
docker stop -t $((budget + 5)) "$name" >/dev/null
docker rm "$name" >/dev/null

say "the CUDA variant (--build-arg RUNTIME=cuda): built, not run on a GPU here"
bash scripts/docker/build.sh cuda
cuda=verity:local-cuda
docker run -d --name "$name" --network host --read-only --tmpfs /tmp -v "$volume:/data" \
  -e VERITY_LISTEN="127.0.0.1:$port" -e VERITY_EP=cpu "$cuda" >/dev/null
python3 scripts/docker/checks.py ready "$url" 180 >/dev/null
python3 scripts/docker/checks.py answers "$url" "$out/cuda-on-cpu.json" >/dev/null
say "$cuda: its ONNX Runtime (the GPU wheel's) loads and serves with VERITY_EP=cpu"
docker rm -f "$name" >/dev/null

for t in "$image" "$cuda"; do
  say "image $t: $(docker image inspect -f '{{.Size}}' "$t" | awk '{printf "%.0f MB", $1/1e6}')"
done
say "passed"
