#!/usr/bin/env bash
# Installs qa on a fresh machine and starts the web chat on the default corpus (seeds/).
# Extra arguments go to `qa serve` (e.g. `bash scripts/app.sh --port 8000`).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q --disable-pip-version-check -e .
exec python app.py "$@"
