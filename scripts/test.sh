#!/usr/bin/env bash
# The whole suite: type check, lint, then every test on Node 22. Schemathesis (pinned, from PyPI)
# is installed into a venv in the project cache first: the contract tests run it. When the
# servers' URLs are not in the environment, it starts real Kafka, FerretDB and NATS itself
# (scripts/infra.sh) and stops them afterwards. Extra arguments are test files (default: all).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

echo "== schemathesis (pinned, in the project cache)"; bash scripts/schemathesis.sh >/dev/null
echo "== typecheck"; npx tsc -p tsconfig.json --noEmit
echo "== lint"; npx biome check .

if [ -z "${KAFKA_BROKERS:-}" ] || [ -z "${MONGO_URL:-}" ] || [ -z "${NATS_URL:-}" ]; then
  export INFRA_DIR="${INFRA_DIR:-/tmp/order-service-infra}"
  if bash scripts/infra.sh status >/dev/null 2>&1; then
    echo "== reusing the servers already running in $INFRA_DIR"
  else
    trap 'bash scripts/infra.sh down >/dev/null 2>&1 || true' EXIT
    bash scripts/infra.sh up
  fi
  # shellcheck disable=SC1091
  source "$INFRA_DIR/env"
fi

files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  # Fast to slow; chaos last, since it restarts the servers under everything else.
  mapfile -t files < <(for dir in unit component contract integration e2e chaos; do find "test/$dir" -name '*.test.ts' 2>/dev/null | sort; done)
fi
echo "== tests (node $(node --version), ${#files[@]} files)"
node --import tsx --test --test-concurrency=1 --test-timeout=600000 --test-force-exit --test-reporter=spec "${files[@]}"
