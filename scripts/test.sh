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

# axe-core, the accessibility checker the browser tests inject into the page, from the npm
# registry, pinned, into a git-ignored folder (tests/serving/test_web.py reads it from there).
AXE_CORE_VERSION=4.14.1
AXE_DIR=.cache/npm
if [ "$(node -p "require('./$AXE_DIR/node_modules/axe-core/package.json').version" 2>/dev/null)" != "$AXE_CORE_VERSION" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq npm >/dev/null
  fi
  mkdir -p "$AXE_DIR"
  npm install --silent --no-save --no-package-lock --no-audit --no-fund --prefix "$AXE_DIR" "axe-core@$AXE_CORE_VERSION"
fi

python -m pip install -q --disable-pip-version-check -e ".[test]"
exec python -m pytest "$@"
