#!/usr/bin/env bash
# Creates .venv and installs the project with its pinned dependencies (requirements.lock).
# Re-running is cheap: nothing is installed again unless pyproject.toml or the lock changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3.11}"
key=$(cat pyproject.toml requirements.lock | sha256sum | cut -c1-16)
stamp=".venv/.installed-$key"
if [ -f "$stamp" ]; then exit 0; fi
echo "==> setting up .venv (first run only; about a minute)"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check "uv>=0.4" \
  || echo "    (uv not available; falling back to pip, slower)"
if [ -x .venv/bin/uv ]; then
  .venv/bin/uv pip install -q --python .venv/bin/python -c requirements.lock -e '.[dev]'
else
  .venv/bin/python -m pip install -q --disable-pip-version-check -c requirements.lock -e '.[dev]'
fi
# The readers' C pass (channel_dw/sources/_compiled*.c), built now rather than by the first load
# (about a second); without a C compiler the readers keep to their slower columnar path.
.venv/bin/python -c "import sys; from channel_dw.sources import _compiled
sys.exit(0 if _compiled.available() else 1)" \
  || echo "    (the readers' C pass could not be built: they will use their columnar path)"
rm -f .venv/.installed-*
touch "$stamp"
echo "==> .venv ready"
