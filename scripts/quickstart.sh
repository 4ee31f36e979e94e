#!/usr/bin/env bash
# The main job on the embedded default (README "Install and run the main job").
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${PYTHON:-python3}"
if [[ ! -x .venv/bin/python ]]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[local]"

echo "== kbflow build (compile the three flows to ASL)"
.venv/bin/kbflow build
echo "== kbflow validate definitions/"
.venv/bin/kbflow validate definitions/

# The main job: a sample corpus, ingested on the embedded engine (store .kbflow/), then searched.
echo "== kbflow sample sample-corpus (generated documents of every supported type)"
.venv/bin/kbflow sample sample-corpus --force
echo "== kbflow ingest sample-corpus"
.venv/bin/kbflow ingest sample-corpus
echo "== kbflow search \"overdraft fees\" -k 3"
.venv/bin/kbflow search "overdraft fees" -k 3
