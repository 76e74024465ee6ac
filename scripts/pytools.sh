#!/usr/bin/env bash
# Python tools the tests call, in a private virtual environment (.cache/pytools), pinned:
# openapi-spec-validator (the OpenAPI 3 description) and kubernetes-validate (the Helm chart's
# rendered objects). Idempotent: a stamp file records what is installed.
set -euo pipefail
DIR=${VERITY_PYTOOLS:-.cache/pytools}
PKGS="openapi-spec-validator==0.9.0 kubernetes-validate==1.37.0"
STAMP="$DIR/.installed"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$PKGS" ] && [ -x "$DIR/bin/openapi-spec-validator" ]; then
  echo "    python tools: up to date ($DIR)"
  exit 0
fi
echo "    python tools: installing $PKGS into $DIR"
${PYTHON:-python3} -m venv "$DIR"
"$DIR/bin/pip" install --quiet --disable-pip-version-check $PKGS
echo "$PKGS" > "$STAMP"
