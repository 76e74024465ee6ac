#!/usr/bin/env bash
# What the synthetic-data generators need: the OCR-B and DejaVu fonts (Debian packages
# fonts-ocr-b, fonts-dejavu-core) and a private virtual environment (.cache/evaltools) with
# Pillow, NumPy and zxing-cpp (the PDF417 writer of the synthetic licences), pinned. Idempotent: a stamp file records what is installed.
set -euo pipefail
DIR=${VERITY_EVALTOOLS:-.cache/evaltools}
PKGS="pillow==11.3.0 numpy==2.2.6 zxing-cpp==3.1.1"
FONTS=(/usr/share/fonts/opentype/ocr-b/OCRB.otf /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf)
missing=0
for f in "${FONTS[@]}"; do [ -f "$f" ] || missing=1; done
if [ "$missing" = 1 ]; then
  echo "    fonts: installing fonts-ocr-b fonts-dejavu-core (apt-get)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq fonts-ocr-b fonts-dejavu-core >/dev/null
fi
exec bash "$(dirname "$0")/venv.sh" "$DIR" "$PKGS" bin/python "eval tools"
