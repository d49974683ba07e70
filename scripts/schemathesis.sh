#!/usr/bin/env bash
# Installs the pinned Schemathesis (PyPI) into a venv in the project cache, once, and prints the
# path of its `st` command. Used by scripts/test.sh and by test/contract/schemathesis.test.ts.
set -euo pipefail
SCHEMATHESIS_VERSION="4.32.5"
cache="${ORDER_SERVICE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/order-service}"
venv="$cache/schemathesis-$SCHEMATHESIS_VERSION"
# The marker is written last: an interrupted install is redone, never half used.
if [ ! -f "$venv/.installed" ]; then
  echo "[schemathesis] installing schemathesis==$SCHEMATHESIS_VERSION into $venv" >&2
  mkdir -p "$cache"
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" >&2
  touch "$venv/.installed"
fi
echo "$venv/bin/st"
