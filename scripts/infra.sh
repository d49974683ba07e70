#!/usr/bin/env bash
# Real servers for tests and local runs, on loopback, from package registries only:
#   Apache Kafka (KRaft) from Maven Central jars, FerretDB built from the Go module proxy through
#   our launcher module (infra/ferretdb), nats-server from the Go module proxy, and Jaeger
#   (all-in-one, in-memory) built from the Go module proxy through infra/jaeger.
# Installs are cached in $ORDER_SERVICE_CACHE; data and logs live in $INFRA_DIR (throw-away).
#
#   scripts/infra.sh install              fetch/build everything (no servers started)
#   scripts/infra.sh up                   install if needed, start all, wait until each serves, write $INFRA_DIR/env
#   scripts/infra.sh down                 stop all and delete the data
#   scripts/infra.sh status               version, port, pid, state and RSS of each server (exit 1 if one is down)
#   scripts/infra.sh stop|start|restart NAME   one server (kafka, ferretdb, nats, jaeger); data is kept
#   scripts/infra.sh env                  print the env file
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/setup.sh
source "$ROOT/scripts/setup.sh"

CACHE="$ORDER_SERVICE_CACHE"
INFRA_DIR="${INFRA_DIR:-/tmp/order-service-infra}"
KAFKA_VERSION="4.1.1"
NATS_VERSION="v2.11.11"
FERRETDB_VERSION="v1.24.2"
NATS_PORT="${INFRA_NATS_PORT:-14222}"
NATS_MONITOR_PORT="$((NATS_PORT + 4000))"
KAFKA_PORT="${INFRA_KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="$((KAFKA_PORT + 1))"
FERRETDB_PORT="${INFRA_FERRETDB_PORT:-27027}"
JAEGER_COLLECTOR_PORT="${INFRA_JAEGER_PORT:-24268}"
JAEGER_QUERY_PORT="$((JAEGER_COLLECTOR_PORT + 2418))"
JAEGER_VERSION="v1.57.0"
SERVERS=(nats ferretdb kafka jaeger)

KAFKA_HOME="$CACHE/kafka-$KAFKA_VERSION"
NATS_BIN="$CACHE/bin/nats-server-$NATS_VERSION"
FERRETDB_HASH="$(cat "$ROOT/infra/ferretdb/go.mod" "$ROOT/infra/ferretdb/go.sum" "$ROOT/infra/ferretdb/main.go" | sha256sum | cut -c1-12)"
FERRETDB_BIN="$CACHE/bin/ferretdb-launcher-$FERRETDB_HASH"
JAEGER_HASH="$(cat "$ROOT/infra/jaeger/go.mod" "$ROOT/infra/jaeger/go.sum" | sha256sum | cut -c1-12)"
JAEGER_BIN="$CACHE/bin/jaeger-all-in-one-$JAEGER_HASH"

log() { echo "[infra] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# ---------------------------------------------------------------------------------------------
# install

install_kafka() {
  [ -f "$KAFKA_HOME/.complete" ] && return 0
  command -v java >/dev/null || { log "installing a JDK (apt)"; apt_install default-jre-headless; }
  command -v mvn >/dev/null || { log "installing maven (apt)"; apt_install maven; }
  log "resolving Kafka $KAFKA_VERSION from Maven Central"
  rm -rf "$KAFKA_HOME" && mkdir -p "$KAFKA_HOME/libs"
  (cd "$ROOT/infra/kafka" && mvn -q -B -Dkafka.version="$KAFKA_VERSION" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$KAFKA_HOME/libs") || die "maven could not resolve Kafka"
  touch "$KAFKA_HOME/.complete"
}

install_ferretdb() {
  [ -x "$FERRETDB_BIN" ] && return 0
  command -v go >/dev/null || die "go is required to build FerretDB (Go toolchain from the machine image)"
  log "building FerretDB $FERRETDB_VERSION launcher (Go module proxy)"
  mkdir -p "$CACHE/bin"
  (cd "$ROOT/infra/ferretdb" && GOFLAGS=-mod=mod go build -trimpath -o "$FERRETDB_BIN.tmp" .) || die "FerretDB build failed"
  mv "$FERRETDB_BIN.tmp" "$FERRETDB_BIN"
}

install_nats() {
  [ -x "$NATS_BIN" ] && return 0
  command -v go >/dev/null || die "go is required to build nats-server"
  log "building nats-server $NATS_VERSION (Go module proxy)"
  local tmp; tmp="$(mktemp -d)"
  (cd "$tmp" && GOBIN="$tmp/bin" GOFLAGS=-mod=mod go install "github.com/nats-io/nats-server/v2@$NATS_VERSION") || die "nats-server build failed"
  mkdir -p "$CACHE/bin" && mv "$tmp/bin/nats-server" "$NATS_BIN" && rm -rf "$tmp"
}

install_jaeger() {
  [ -x "$JAEGER_BIN" ] && return 0
  command -v go >/dev/null || die "go is required to build Jaeger"
  log "building Jaeger $JAEGER_VERSION all-in-one (Go module proxy; a few minutes the first time)"
  local tmp; tmp="$(mktemp -d)"
  (cd "$ROOT/infra/jaeger" && GOBIN="$tmp" GOFLAGS=-mod=mod go install github.com/jaegertracing/jaeger/cmd/all-in-one) \
    || die "Jaeger build failed"
  mkdir -p "$CACHE/bin" && mv "$tmp/all-in-one" "$JAEGER_BIN" && rm -rf "$tmp"
}

apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

install_all() {
  local t; t="$(now)"
  install_nats
  install_ferretdb
  install_kafka
  install_jaeger
  log "install done in $(elapsed "$t")s (cache: $CACHE)"
}

# ---------------------------------------------------------------------------------------------
# processes

pidfile() { echo "$INFRA_DIR/pids/$1.pid"; }
logfile() { echo "$INFRA_DIR/logs/$1.log"; }

running_pid() {
  local f; f="$(pidfile "$1")"
  [ -f "$f" ] || return 1
  local pid; pid="$(cat "$f")"
  kill -0 "$pid" 2>/dev/null && echo "$pid" && return 0
  rm -f "$f"
  return 1
}

port_of() {
  case "$1" in
    nats) echo "$NATS_PORT" ;;
    kafka) echo "$KAFKA_PORT" ;;
    ferretdb) echo "$FERRETDB_PORT" ;;
    jaeger) echo "$JAEGER_COLLECTOR_PORT" ;;
  esac
}

# A previous run that crashed may have left our own server on the port without a pid file.
free_port() {
  local port="$1" pids
  pids="$(ss -ltnpH "sport = :$port" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u || true)"
  for pid in $pids; do
    if tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qE "kafka\.Kafka|ferretdb-launcher|nats-server|jaeger-all-in-one"; then
      log "stopping stale server pid $pid on port $port"
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    else
      die "port $port is used by another program (pid $pid)"
    fi
  done
}

start_nats() {
  mkdir -p "$INFRA_DIR/data/nats"
  setsid "$NATS_BIN" -a 127.0.0.1 -p "$NATS_PORT" -m "$NATS_MONITOR_PORT" \
    -sd "$INFRA_DIR/data/nats" >>"$(logfile nats)" 2>&1 < /dev/null &
  echo $! > "$(pidfile nats)"
}

ready_nats() {
  local until=$((SECONDS + 30))
  while [ $SECONDS -lt $until ]; do
    curl -fsS "http://127.0.0.1:$NATS_MONITOR_PORT/healthz" >/dev/null 2>&1 && return 0
    running_pid nats >/dev/null || return 1
    sleep 0.1
  done
  return 1
}

start_ferretdb() {
  mkdir -p "$INFRA_DIR/data/ferretdb"
  setsid "$FERRETDB_BIN" --listen-addr "127.0.0.1:$FERRETDB_PORT" --sqlite-dir "$INFRA_DIR/data/ferretdb" \
    --log-level warn >>"$(logfile ferretdb)" 2>&1 < /dev/null &
  echo $! > "$(pidfile ferretdb)"
}

ready_ferretdb() {
  (cd "$ROOT" && npx tsx scripts/infra/mongo-ready.ts "mongodb://127.0.0.1:$FERRETDB_PORT/infra" 60)
}

start_jaeger() {
  # In-memory storage; every listener on loopback, away from the default ports.
  local base=$((JAEGER_COLLECTOR_PORT - 4268))
  # OTEL_TRACES_SAMPLER: Jaeger would otherwise trace itself towards a default OTLP port.
  SPAN_STORAGE_TYPE=memory OTEL_TRACES_SAMPLER=always_off setsid "$JAEGER_BIN" \
    --memory.max-traces=100000 \
    --collector.http-server.host-port="127.0.0.1:$JAEGER_COLLECTOR_PORT" \
    --query.http-server.host-port="127.0.0.1:$JAEGER_QUERY_PORT" \
    --collector.grpc-server.host-port="127.0.0.1:$((base + 4250))" \
    --collector.otlp.grpc.host-port="127.0.0.1:$((base + 4317))" \
    --collector.otlp.http.host-port="127.0.0.1:$((base + 4318))" \
    --collector.zipkin.host-port="127.0.0.1:$((base + 9411))" \
    --admin.http.host-port="127.0.0.1:$((base + 4269))" \
    --query.grpc-server.host-port="127.0.0.1:$((base + 6685))" \
    --processor.jaeger-binary.server-host-port="127.0.0.1:$((base + 6832))" \
    --processor.jaeger-compact.server-host-port="127.0.0.1:$((base + 6831))" \
    --processor.zipkin-compact.server-host-port="127.0.0.1:$((base + 5775))" \
    --http-server.host-port="127.0.0.1:$((base + 5778))" \
    --reporter.grpc.host-port="127.0.0.1:$((base + 4250))" \
    >>"$(logfile jaeger)" 2>&1 < /dev/null &
  echo $! > "$(pidfile jaeger)"
}

ready_jaeger() {
  local until=$((SECONDS + 60))
  while [ $SECONDS -lt $until ]; do
    curl -fsS "http://127.0.0.1:$JAEGER_QUERY_PORT/api/services" >/dev/null 2>&1 && return 0
    running_pid jaeger >/dev/null || return 1
    sleep 0.2
  done
  return 1
}

start_kafka() {
  local data="$INFRA_DIR/data/kafka" conf="$INFRA_DIR/kafka.properties"
  mkdir -p "$data"
  sed -e "s#@PORT@#$KAFKA_PORT#g" -e "s#@CONTROLLER_PORT@#$KAFKA_CONTROLLER_PORT#g" -e "s#@DATA_DIR@#$data#g" \
    "$ROOT/infra/kafka/server.properties.template" > "$conf"
  local java_opts=(-Xms256m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto
    -Djava.awt.headless=true "-Dlog4j2.configurationFile=$ROOT/infra/kafka/log4j2.yaml")
  if [ ! -f "$data/meta.properties" ]; then
    local cluster_id
    cluster_id="$(java -cp "$KAFKA_HOME/libs/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)"
    java "${java_opts[@]}" -cp "$KAFKA_HOME/libs/*" kafka.tools.StorageTool format -t "$cluster_id" \
      -c "$conf" --ignore-formatted >>"$(logfile kafka)" 2>&1 || die "kafka storage format failed, see $(logfile kafka)"
  fi
  setsid java "${java_opts[@]}" -cp "$KAFKA_HOME/libs/*" kafka.Kafka "$conf" >>"$(logfile kafka)" 2>&1 < /dev/null &
  echo $! > "$(pidfile kafka)"
}

ready_kafka() {
  (cd "$ROOT" && npx tsx scripts/infra/kafka-ready.ts "127.0.0.1:$KAFKA_PORT" 90)
}

start_one() {
  local name="$1" t pid
  if pid="$(running_pid "$name")"; then
    log "$name already running (pid $pid)"
    return 0
  fi
  mkdir -p "$INFRA_DIR/pids" "$INFRA_DIR/logs"
  free_port "$(port_of "$name")"
  t="$(now)"
  "start_$name"
  if ! "ready_$name"; then
    log "$name did not become ready; last log lines:"
    tail -n 30 "$(logfile "$name")" >&2 || true
    die "$name failed to start"
  fi
  pid="$(running_pid "$name")" || die "$name exited during start"
  log "$name ready on 127.0.0.1:$(port_of "$name") in $(elapsed "$t")s, RSS $(rss_mb "$pid") MB"
}

stop_one() {
  local name="$1" pid
  pid="$(running_pid "$name")" || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$(pidfile "$name")"
  log "$name stopped"
}

rss_mb() {
  local kb; kb="$(awk '/VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0)"
  echo $((kb / 1024))
}

write_env() {
  cat > "$INFRA_DIR/env" <<EOF
export NATS_URL=nats://127.0.0.1:$NATS_PORT
export KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT
export MONGO_URL=mongodb://127.0.0.1:$FERRETDB_PORT/orders
export JAEGER_ENDPOINT=http://127.0.0.1:$JAEGER_COLLECTOR_PORT/api/traces
export JAEGER_QUERY_URL=http://127.0.0.1:$JAEGER_QUERY_PORT
EOF
}

version_of() {
  case "$1" in
    nats) echo "nats-server $NATS_VERSION" ;;
    kafka) echo "Apache Kafka $KAFKA_VERSION (KRaft)" ;;
    ferretdb) echo "FerretDB $FERRETDB_VERSION (sqlite)" ;;
    jaeger) echo "Jaeger $JAEGER_VERSION (memory)" ;;
  esac
}

status() {
  local down=0 pid
  for name in "${SERVERS[@]}"; do
    if pid="$(running_pid "$name")"; then
      printf '%-9s %-30s port %-6s pid %-8s up    RSS %4s MB\n' "$name" "$(version_of "$name")" "$(port_of "$name")" "$pid" "$(rss_mb "$pid")"
    else
      printf '%-9s %-30s port %-6s pid %-8s down\n' "$name" "$(version_of "$name")" "$(port_of "$name")" "-"
      down=1
    fi
  done
  return $down
}

cmd="${1:-}"
case "$cmd" in
  install) install_all ;;
  up)
    install_all
    t0="$(now)"
    for name in "${SERVERS[@]}"; do start_one "$name"; done
    write_env
    log "all servers up in $(elapsed "$t0")s; env: $INFRA_DIR/env"
    ;;
  down)
    for name in jaeger kafka ferretdb nats; do stop_one "$name"; done
    rm -rf "$INFRA_DIR/data" "$INFRA_DIR/env" "$INFRA_DIR/kafka.properties"
    ;;
  stop) [ -n "${2:-}" ] || die "usage: $0 stop NAME"; stop_one "$2" ;;
  start) [ -n "${2:-}" ] || die "usage: $0 start NAME"; "install_$2"; start_one "$2" ;;
  restart) [ -n "${2:-}" ] || die "usage: $0 restart NAME"; "install_$2"; stop_one "$2"; start_one "$2" ;;
  status) status ;;
  env) cat "$INFRA_DIR/env" ;;
  *) sed -n '2,14p' "$0"; exit 2 ;;
esac
