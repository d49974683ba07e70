#!/usr/bin/env bash
# A Python virtual environment for the test clients we did not write in TypeScript, built from a
# pinned requirements file into the cache (one venv per file content and Python version), then
# reused. Prints the venv's python on stdout; everything else goes to stderr.
#   bash scripts/python-venv.sh test/contract/requirements.txt
set -euo pipefail
req="$(realpath "${1:?usage: python-venv.sh REQUIREMENTS_FILE}")"
CACHE="${ORDER_SERVICE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/order-service}"
log() { echo "[python-venv] $*" >&2; }

if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
  [ "$(id -u)" = 0 ] || { log "ERROR: python3 with venv/ensurepip needed (apt-get install python3-venv)"; exit 1; }
  log "apt-get install python3 python3-venv"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 python3-venv >/dev/null
fi

key="$( (cat "$req"; python3 --version) | sha256sum | cut -c1-12)"
dir="$CACHE/python/$(basename "$req" .txt)-$key"
if [ ! -f "$dir/.installed" ]; then
  mkdir -p "$CACHE/python"
  (
    # One builder at a time; a half-built venv (no marker) is rebuilt from scratch.
    flock -w 600 9 || { log "ERROR: timed out waiting for another venv build"; exit 1; }
    if [ ! -f "$dir/.installed" ]; then
      log "building $dir from $req"
      rm -rf "$dir"
      python3 -m venv "$dir" >&2
      "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$req" >&2
      touch "$dir/.installed"
    fi
  ) 9>>"$CACHE/python/.lock"
fi
echo "$dir/bin/python"
