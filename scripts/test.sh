#!/usr/bin/env bash
# Installs everything the tests need on a fresh machine, then runs the test suite.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh tests/index/test_coordinator.py -x`).
set -euo pipefail
cd "$(dirname "$0")/.."

# The browser test drives Debian's Chromium (Playwright's own browser download is not possible offline).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

python -m pip install -q --disable-pip-version-check -e ".[test]"
exec python -m pytest "$@"
