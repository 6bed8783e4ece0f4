#!/usr/bin/env bash
# One-command install on a fresh Debian/Ubuntu machine: system packages (when run as root
# or with sudo), a virtual environment in .venv, and the project with its extras.
#   scripts/install.sh            # runtime + tests + benchmarks
#   EXTRAS=  scripts/install.sh   # runtime only
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS="${EXTRAS-dev,bench,liveness,models,dlib}"

APT_PACKAGES=(
  tesseract-ocr fonts-ocr-b                     # MRZ OCR; OCR-B font for rendered specimens
  libgl1 libglib2.0-0                           # runtime libraries of opencv-contrib-python
  pcscd vsmartcard-vpcd libpcsclite-dev swig    # PC/SC, the virtual reader, pyscard's build
)
# The browser tests drive Debian's Chromium through Playwright (no browser download).
[[ ",$EXTRAS," == *",dev,"* ]] && APT_PACKAGES+=(chromium fonts-dejavu-core)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
if [ -n "$EXTRAS" ]; then
  .venv/bin/python -m pip install -q -e ".[$EXTRAS]"
else
  .venv/bin/python -m pip install -q -e .
fi
echo "installed: run '.venv/bin/proofing demo'"
