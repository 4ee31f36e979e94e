#!/usr/bin/env bash
# The test command (README "Run the tests"): creates .venv if needed, installs kbflow with
# every extra the tests use, lints, checks that the committed definitions match a fresh build,
# and runs the test suite. CI runs exactly this (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${PYTHON:-python3}"
if [[ ! -x .venv/bin/python ]]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[dev,local,console]"

echo "== ruff check"
.venv/bin/ruff check sdk workflows tasks runtime deploy benchmarks tests

echo "== kbflow build --check"
.venv/bin/kbflow build --check

# The console's browser test drives Debian's Chromium through Playwright (no browser download).
if [[ ! -x /usr/bin/chromium ]] && command -v apt-get >/dev/null; then
  SUDO=""; [[ "$(id -u)" -ne 0 ]] && SUDO="sudo -n"
  echo "== apt-get install chromium (console browser test)"
  { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium; } \
    >/dev/null || echo "chromium not installed: the console browser test will be skipped"
fi

echo "== pytest"
.venv/bin/python -m pytest -q -p no:cacheprovider -n auto --timeout 900 "$@"
