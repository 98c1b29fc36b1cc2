#!/usr/bin/env bash
# The main job on a fresh machine, no servers: create .venv if missing, install rdg, run the
# example pipelines over the bundled sample events into the embedded graph, print a journey.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  PY=""
  for candidate in python3.11 python3.12 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(not ((3, 11) <= sys.version_info[:2] <= (3, 12)))'; then
      PY="$candidate"; break
    fi
  done
  if [ -z "$PY" ]; then
    echo "rdg needs Python 3.11 or 3.12 (install one, e.g. apt-get install python3.11-venv)" >&2
    exit 2
  fi
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
# PYTHONWARNINGS: setuptools warns about every editable install at length; errors still show
PYTHONWARNINGS=ignore .venv/bin/python -m pip install -q -e .
exec .venv/bin/rdg demo "$@"
