#!/bin/sh
# The project's one entry point on a fresh checkout: it creates .venv on first use
# (and again when pyproject.toml changes), then runs the demo or the tests.
set -eu
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
VENV=${VTEXCT_VENV:-.venv}

if [ ! -x "$VENV/bin/vtexct" ] || [ pyproject.toml -nt "$VENV/.installed" ]; then
  echo "setting up $VENV (first run only)..." >&2
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[dev]"
  touch "$VENV/.installed"
fi

command=${1:-}
[ $# -gt 0 ] && shift
case "$command" in
  demo) exec "$VENV/bin/vtexct" demo "$@" ;;
  test) exec "$VENV/bin/python" -m pytest "$@" ;;
  *) echo "usage: ./dev.sh demo|test [extra arguments]" >&2; exit 2 ;;
esac
