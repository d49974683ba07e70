#!/usr/bin/env bash
# Quick start: runs the whole service in one process on the embedded defaults (no servers needed).
# Any configuration from the README's table may be given in the environment.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
exec node --import tsx index.ts "$@"
