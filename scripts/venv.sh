#!/usr/bin/env bash
# A private, pinned Python virtual environment: `venv.sh DIR "PKGS" PROBE LABEL` installs PKGS
# into DIR unless its stamp file already records them and DIR/PROBE exists. Idempotent.
set -euo pipefail
DIR=$1 PKGS=$2 PROBE=$3 LABEL=$4
STAMP="$DIR/.installed"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$PKGS" ] && [ -x "$DIR/$PROBE" ]; then
  echo "    $LABEL: up to date ($DIR)"
  exit 0
fi
echo "    $LABEL: installing $PKGS into $DIR"
${PYTHON:-python3} -m venv "$DIR"
"$DIR/bin/pip" install --quiet --disable-pip-version-check $PKGS
echo "$PKGS" > "$STAMP"
