#!/usr/bin/env bash
# Conformance: schemathesis (pinned in scripts/pytools.sh) runs every check (`--checks all`)
# against a real verity server started here on a free loopback port, with its own empty data
# directory. Fails on any failure or server error. Hooks: scripts/conformance/hooks.py. The run
# is bounded by count (max-examples in scripts/conformance/schemathesis.toml), not by time (with
# --max-time schemathesis repeats fuzzing until the budget is spent: more cases on a faster machine).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${VERITY_BIN:-target/release/verity}
ST=${VERITY_PYTOOLS:-.cache/pytools}/bin/schemathesis
SEED=${CONFORMANCE_SEED:-1}
WORKERS=${CONFORMANCE_WORKERS:-2}
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
data=$(mktemp -d -t verity-conformance.XXXXXX)
VERITY_LISTEN=127.0.0.1:$port VERITY_DATA_DIR=$data "$BIN" serve >"$data/server.log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT
echo "    verity on 127.0.0.1:$port (log: $data/server.log), waiting for /readyz"
for _ in $(seq 240); do
  curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break
  kill -0 "$pid" 2>/dev/null || { cat "$data/server.log"; echo "verity exited" >&2; exit 1; }
  sleep 0.5
done
curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { tail -20 "$data/server.log"; echo "verity not ready" >&2; exit 1; }
echo "    schemathesis --checks all, seed $SEED, $WORKERS workers"
rc=0
PYTHONPATH=scripts/conformance SCHEMATHESIS_HOOKS=hooks "$ST" --no-color --config-file scripts/conformance/schemathesis.toml \
  run "http://127.0.0.1:$port/openapi.json" --checks all --seed "$SEED" --workers "$WORKERS" \
  --generation-database none ${CONFORMANCE_ARGS:-} || rc=$?
if grep -q "panicked" "$data/server.log"; then
  echo "verity panicked during the run:" >&2; grep -m5 -A3 "panicked" "$data/server.log" >&2; rc=1
fi
exit $rc
