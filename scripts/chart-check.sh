#!/usr/bin/env bash
# Checks the Helm chart (helm/verity): helm lint; helm template with the defaults and with every
# optional object on; kubernetes-validate --strict on every rendered object; then server-side
# dry-run of the rendered objects against a Kubernetes API server (KUBECONFIG when set, else the
# k8s-test-apiserver from ../shared/tools, started and stopped here). Needs scripts/k8s-tools.sh
# and scripts/pytools.sh first (make test runs them).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/.cache/k8s-tools/bin
VALIDATE=$ROOT/.cache/pytools/bin/kubernetes-validate
CHART=$ROOT/helm/verity
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
K8S_VERSION=1.33.0

echo "    helm lint"
"$BIN/helm" lint --strict "$CHART" --set secrets.apiKeys=k1 --set secrets.databaseUrl=postgres://u@db/verity >/dev/null
"$BIN/helm" lint --strict "$CHART" -f "$CHART/ci/all-on-values.yaml" >/dev/null

render() { # name, extra args
  local name=$1; shift
  "$BIN/helm" template verity "$CHART" --namespace verity "$@" > "$OUT/$name.yaml"
  echo "    rendered $name: $(grep -c '^kind:' "$OUT/$name.yaml") objects ($(grep '^kind:' "$OUT/$name.yaml" | awk '{print $2}' | sort | tr '\n' ' '))"
}
render defaults
render all-on -f "$CHART/ci/all-on-values.yaml"

# A grace period that does not cover drain + the longest request must be refused.
if "$BIN/helm" template verity "$CHART" --set terminationGracePeriodSeconds=20 >/dev/null 2>&1; then
  echo "chart-check: a 20 s grace period (drain 10 s + 30 s requests) was not refused" >&2; exit 1
fi

echo "    kubernetes-validate --strict (Kubernetes $K8S_VERSION schemas)"
for f in "$OUT"/defaults.yaml "$OUT"/all-on.yaml; do
  # ServiceMonitor is a CRD (Prometheus operator): no schema in the bundle; checked separately.
  python3 - "$f" "$OUT/$(basename "$f" .yaml).core.yaml" <<'PY'
import sys
docs = open(sys.argv[1]).read().split("\n---")
keep = [d for d in docs if "kind: ServiceMonitor" not in d]
open(sys.argv[2], "w").write("\n---".join(keep))
PY
  "$VALIDATE" --strict -k "$K8S_VERSION" "$OUT/$(basename "$f" .yaml).core.yaml" >"$OUT/validate.log" 2>&1 || { cat "$OUT/validate.log" >&2; exit 1; }
done

started_here=""
if [ -z "${KUBECONFIG:-}" ]; then
  TOOL=$ROOT/../shared/tools/k8s-test-apiserver
  [ -x "$TOOL/start.sh" ] || { echo "chart-check: no KUBECONFIG and no $TOOL" >&2; exit 1; }
  echo "    starting k8s-test-apiserver"
  "$TOOL/build.sh" >/dev/null
  eval "$("$TOOL/start.sh")"
  started_here=$TOOL
fi
cleanup() { [ -n "$started_here" ] && "$started_here/stop.sh" >/dev/null 2>&1 || true; rm -rf "$OUT"; }
trap cleanup EXIT
"$BIN/kubectl" create namespace verity --dry-run=client -o yaml | "$BIN/kubectl" apply --server-side -f - >/dev/null
echo "    server-side dry-run against $("$BIN/kubectl" config current-context 2>/dev/null || echo the API server)"
for f in defaults all-on; do
  "$BIN/kubectl" apply --server-side --dry-run=server -n verity -f "$OUT/$f.core.yaml" | sed 's/^/      /'
done
echo "    chart: ok"
