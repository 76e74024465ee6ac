#!/usr/bin/env bash
# Python tools the tests call, in a private virtual environment (.cache/pytools), pinned:
# openapi-spec-validator (the OpenAPI 3 description), kubernetes-validate (the Helm chart's
# rendered objects) and schemathesis (the conformance run, scripts/conformance.sh). Idempotent:
# a stamp file records what is installed.
set -euo pipefail
DIR=${VERITY_PYTOOLS:-.cache/pytools}
PKGS="openapi-spec-validator==0.9.0 kubernetes-validate==1.37.0 schemathesis==4.32.5"
exec bash "$(dirname "$0")/venv.sh" "$DIR" "$PKGS" bin/openapi-spec-validator "python tools"
