#!/usr/bin/env bash
# Sourced by start.sh and test.sh: Node 22 on PATH and node_modules matching package-lock.json.
# Idempotent and quick when nothing changed.
_setup_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/node22.sh
source "$_setup_root/scripts/node22.sh" || return 1 2>/dev/null || exit 1
_lock_hash="$(sha256sum "$_setup_root/package-lock.json" | cut -d' ' -f1)-$(node --version)"
if [ "$(cat "$_setup_root/node_modules/.installed-lock" 2>/dev/null)" != "$_lock_hash" ]; then
  echo "[setup] npm ci (package-lock.json changed or node_modules missing)" >&2
  (cd "$_setup_root" && npm ci --no-audit --no-fund --loglevel=error) || { echo "[setup] npm ci failed" >&2; return 1 2>/dev/null || exit 1; }
  echo "$_lock_hash" > "$_setup_root/node_modules/.installed-lock"
fi
export KAFKAJS_NO_PARTITIONER_WARNING=1
unset _setup_root _lock_hash
