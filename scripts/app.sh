#!/usr/bin/env bash
# Installs qa on a fresh machine and starts the web chat on the default corpus (seeds/).
# Extra arguments go to `qa serve` (e.g. `bash scripts/app.sh --port 8000`).
#
# The install is skipped when it would change nothing: a no-op `pip install -e .` costs ~7 s
# on 2 cores. Skipped when `qa` imports from this checkout (not the working directory: -P) and
# every dependency pyproject.toml lists is installed at a version it accepts; otherwise
# (fresh machine, another checkout installed, a dependency added or missing) pip runs.
set -euo pipefail
cd "$(dirname "$0")/.."

installed() {
    python -P - <<'PY'
import importlib.metadata as metadata
import importlib.util
import sys
import tomllib
from pathlib import Path

try:
    from packaging.requirements import Requirement
except ImportError:
    sys.exit(1)
here = Path.cwd().resolve()
spec = importlib.util.find_spec("qa")
if spec is None or spec.origin is None or Path(spec.origin).resolve().parent != here / "qa":
    sys.exit(1)
for line in tomllib.loads((here / "pyproject.toml").read_text())["project"]["dependencies"]:
    requirement = Requirement(line)
    if requirement.marker is not None and not requirement.marker.evaluate():
        continue
    try:
        version = metadata.version(requirement.name)
    except metadata.PackageNotFoundError:
        sys.exit(1)
    if not requirement.specifier.contains(version, prereleases=True):
        sys.exit(1)
PY
}

if ! installed; then
    python -m pip install -q --disable-pip-version-check -e .
fi
exec python app.py "$@"
