#!/usr/bin/env bash
# GPU check: the face tests and the load benchmark with VERITY_EP=cuda, strict (a CPU fallback
# fails the run instead of passing unnoticed). Expects `make runtime EP=cuda` and `make models`
# to have run, or VERITY_ORT_LIB / LD_LIBRARY_PATH / VERITY_MODELS_DIR pointing at them.
#   TESTS: test binaries to run (default: cargo test --release); BENCH: load bench command.
set -uo pipefail
export VERITY_EP=${VERITY_EP:-cuda} VERITY_EP_STRICT=${VERITY_EP_STRICT:-true}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
rc=0
if [ -n "${TESTS:-}" ]; then
  for t in $TESTS; do echo "==> $t"; "$t" --test-threads=4 || rc=1; done
else
  cargo test --release || rc=1
fi
echo "==> load benchmark"
${BENCH:-cargo bench --bench load} || rc=1
exit $rc
