#!/usr/bin/env bash
# A synthetic set of `make eval`, regenerated only when its seed, its count or one of the
# generator's files changed (the stamp in OUT/.stamp).
# Usage: scripts/synth.sh LABEL OUT SEED COUNT GENERATOR [MORE_FILES_IT_READS...]
set -euo pipefail
label=$1 out=$2 seed=$3 count=$4 generator=$5
shift 4
stamp="$seed $count $(cat "$@" | sha256sum | cut -c1-16)"
if [ "$(cat "$out/.stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "==> synthetic $label: up to date ($out)"
  exit 0
fi
echo "==> synthetic $label: generating $count (seed $seed)"
rm -rf "$out"
.cache/evaltools/bin/python "$generator" --seed "$seed" --count "$count" --out "$out"
echo "$stamp" > "$out/.stamp"
