#!/usr/bin/env bash
# Real servers for tests and local runs, on 127.0.0.1, from package registries only:
#   Apache Kafka 4.x (KRaft) from Maven Central jars (infra/kafka/pom.xml), FerretDB 1.24 on SQLite
#   through our launcher module (infra/ferretdb), nats-server from the Go module proxy, and Jaeger
#   all-in-one (in-memory) from the Go module proxy (infra/jaeger).
# Installs are cached in $ORDER_SERVICE_CACHE; data, logs and pids live in $INFRA_DIR (throw-away).
#
#   scripts/infra.sh install          fetch/build everything into the cache (no server started)
#   scripts/infra.sh up               install if needed, start all, wait until each serves, write $INFRA_DIR/env
#   scripts/infra.sh down             stop all (also our strays from a crashed run) and delete the data
#   scripts/infra.sh status           version, port, pid, state and RSS of each server (exit 1 if one is down)
#   scripts/infra.sh stop NAME        SIGTERM, SIGKILL after a grace period; data kept    NAME: kafka ferretdb nats jaeger
#   scripts/infra.sh kill NAME        SIGKILL at once (a crash); data kept                  (kafka-2, nats-3 … in cluster mode)
#   scripts/infra.sh start NAME       start on the same data and wait until it serves
#   scripts/infra.sh restart NAME     stop, then start
#   scripts/infra.sh pause NAME       SIGSTOP (a stalled process: sockets stay open, nothing answers)
#   scripts/infra.sh resume NAME      SIGCONT
#   scripts/infra.sh leader TOPIC P   which Kafka broker leads partition P of TOPIC (kafka, or kafka-N)
#   scripts/infra.sh env              print the env file
#   scripts/infra.sh compose-check [-profile P]... FILE   load a Compose file with the reference parser (JSON out)
# Environment: INFRA_DIR (/tmp/order-service-infra), INFRA_NATS_PORT (14222; monitor +4000),
#   INFRA_KAFKA_PORT (19092; controller +1), INFRA_FERRETDB_PORT (27027), INFRA_JAEGER_PORT (24268),
#   INFRA_READY_TIMEOUT (seconds per server, default 120 for Kafka, 60 for the others),
#   INFRA_KAFKA_BROKERS / INFRA_NATS_NODES (1): cluster sizes for `up`; above 1, node N of a cluster
#   is named kafka-N / nats-N and listens at the base port + 10*(N-1) (NATS cluster port: client + 1).
#   INFRA_SERVERS ("nats ferretdb kafka jaeger"): which servers `up` runs.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cmd="${1:-}"
name_arg="${2:-}"

# Node 22 (+ node_modules in sync) only where it is needed: `status`, `stop`, `down`, `env` must work
# even while npm would want to reinstall, and `start` must not reinstall node_modules under running tests.
case "$cmd" in
  install | up)
    # shellcheck source=scripts/setup.sh
    source "$ROOT/scripts/setup.sh"
    ;;
  start | restart | leader)
    # shellcheck source=scripts/node22.sh
    source "$ROOT/scripts/node22.sh"
    export KAFKAJS_NO_PARTITIONER_WARNING=1
    ;;
  *) ORDER_SERVICE_CACHE="${ORDER_SERVICE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/order-service}" ;;
esac

CACHE="$ORDER_SERVICE_CACHE"
INFRA_DIR="$(realpath -m "${INFRA_DIR:-/tmp/order-service-infra}")"

# Cluster sizes and ports: chosen by `up` and remembered in $INFRA_DIR/topology, so that later
# commands (stop kafka-2, leader …, down) see the same servers whatever their environment says.
TOPOLOGY_FILE="$INFRA_DIR/topology"
if [ "$cmd" != up ] && [ -f "$TOPOLOGY_FILE" ]; then
  # shellcheck disable=SC1090
  source "$TOPOLOGY_FILE"
  KINDS="${KINDS:-nats ferretdb kafka jaeger}"
else
  KAFKA_NODES="${INFRA_KAFKA_BROKERS:-1}"
  NATS_NODES="${INFRA_NATS_NODES:-1}"
  KINDS="${INFRA_SERVERS:-nats ferretdb kafka jaeger}"
fi
for k in $KINDS; do
  case "$k" in nats | ferretdb | kafka | jaeger) ;; *)
    echo "[infra] ERROR: INFRA_SERVERS names unknown server '$k' (nats ferretdb kafka jaeger)" >&2
    exit 1
    ;;
  esac
done
has_kind() { [[ " $KINDS " == *" $1 "* ]]; }
for n in "$KAFKA_NODES" "$NATS_NODES"; do
  [[ "$n" =~ ^[1-5]$ ]] || {
    echo "[infra] ERROR: INFRA_KAFKA_BROKERS and INFRA_NATS_NODES must be 1..5, got '$n'" >&2
    exit 1
  }
done
# One node keeps the plain name (kafka, nats); a cluster's nodes are kafka-1 … kafka-N.
node_names() { # <kind> <count>
  if [ "$2" = 1 ]; then echo "$1"; else for ((i = 1; i <= $2; i++)); do echo "$1-$i"; done; fi
}
KAFKA_NAMES=()
NATS_NAMES=()
has_kind kafka && mapfile -t KAFKA_NAMES < <(node_names kafka "$KAFKA_NODES")
has_kind nats && mapfile -t NATS_NAMES < <(node_names nats "$NATS_NODES")
SERVERS=("${NATS_NAMES[@]}")
has_kind ferretdb && SERVERS+=(ferretdb)
SERVERS+=("${KAFKA_NAMES[@]}")
has_kind jaeger && SERVERS+=(jaeger)

NATS_PORT="${INFRA_NATS_PORT:-14222}"
NATS_MONITOR_PORT="$((NATS_PORT + 4000))"
KAFKA_PORT="${INFRA_KAFKA_PORT:-19092}"
FERRETDB_PORT="${INFRA_FERRETDB_PORT:-27027}"
JAEGER_COLLECTOR_PORT="${INFRA_JAEGER_PORT:-24268}"
JAEGER_QUERY_PORT="$((JAEGER_COLLECTOR_PORT + 2418))"
JAEGER_BASE="$((JAEGER_COLLECTOR_PORT - 4268))" # Jaeger's other listeners: default port + this offset

# Kafka: the first version of this list that Maven Central resolves is used.
KAFKA_VERSIONS=(${INFRA_KAFKA_VERSIONS:-4.1.1 4.0.2})
NATS_VERSION="v2.11.11"
# Fallback Go toolchain (from the Go module proxy) when the machine has no usable `go`.
GO_FALLBACK_VERSION="1.26.8"

hash_of() { cat "$@" | sha256sum | cut -c1-12; }
KAFKA_POM_HASH="$(hash_of "$ROOT/infra/kafka/pom.xml")"
FERRETDB_VERSION="$(awk '$1 == "require" && $2 == "github.com/FerretDB/FerretDB" { print $3 }' "$ROOT/infra/ferretdb/go.mod")"
FERRETDB_BIN="$CACHE/bin/ferretdb-launcher-$(hash_of "$ROOT"/infra/ferretdb/{go.mod,go.sum,*.go})"
JAEGER_VERSION="$(awk '$1 == "require" && $2 == "github.com/jaegertracing/jaeger" { print $3 }' "$ROOT/infra/jaeger/go.mod")"
JAEGER_BIN="$CACHE/bin/jaeger-all-in-one-$(hash_of "$ROOT"/infra/jaeger/{go.mod,go.sum})"
NATS_BIN="$CACHE/bin/nats-server-$NATS_VERSION"
COMPOSE_CHECK_BIN="$CACHE/bin/compose-check-$(hash_of "$ROOT"/infra/compose-check/{go.mod,go.sum,*.go})"

log() { echo "[infra] $*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
valid_name() {
  local s
  for s in "${SERVERS[@]}"; do [ "$s" = "$1" ] && return 0; done
  die "unknown server '${1}' (one of: ${SERVERS[*]})"
}
kind_of() { echo "${1%-[0-9]}"; }              # kafka-2 → kafka
index_of() { # kafka-2 → 2; a plain name (one node) → 1
  case "$1" in *-[0-9]) echo "${1##*-}" ;; *) echo 1 ;; esac
}
# Node N of a cluster listens at the base port + 10*(N-1) (controller, monitor, cluster port beside it).
kafka_port() { echo "$((KAFKA_PORT + 10 * ($(index_of "$1") - 1)))"; }
nats_port() { echo "$((NATS_PORT + 10 * ($(index_of "$1") - 1)))"; }
kafka_brokers() { # comma list of every broker's address
  local n out=()
  for n in "${KAFKA_NAMES[@]}"; do out+=("127.0.0.1:$(kafka_port "$n")"); done
  (IFS=,; echo "${out[*]}")
}

# =============================================================================================
# install (everything into $CACHE, idempotent; a half-finished install is never taken as done)

apt_updated=0
apt_install() {
  [ "$(id -u)" = 0 ] || die "need root to apt-get install $*"
  if [ "$apt_updated" = 0 ]; then
    apt-get update -qq
    apt_updated=1
  fi
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# A Go toolchain: the machine's if recent enough, else the official one from the Go module proxy.
GO=""
ensure_go() {
  [ -n "$GO" ] && return 0
  if command -v go >/dev/null; then
    local v
    v="$(go env GOVERSION 2>/dev/null | sed 's/^go//')"
    if [ -n "$v" ] && [ "$(printf '%s\n' 1.24 "$v" | sort -V | head -1)" = 1.24 ]; then
      GO="$(command -v go)"
      return 0
    fi
  fi
  local home="$CACHE/go-$GO_FALLBACK_VERSION"
  if [ ! -x "$home/bin/go" ]; then
    command -v unzip >/dev/null || apt_install unzip
    local mod="golang.org/toolchain/@v/v0.0.1-go$GO_FALLBACK_VERSION.linux-amd64.zip" tmp
    log "fetching Go $GO_FALLBACK_VERSION from the Go module proxy"
    tmp="$(mktemp -d "$CACHE/go-dl.XXXXXX")"
    curl -fsSL "https://proxy.golang.org/$mod" -o "$tmp/go.zip" || die "could not download $mod"
    unzip -q "$tmp/go.zip" -d "$tmp"
    rm -rf "$home" && mv "$tmp"/golang.org/toolchain@*/ "$home" && rm -rf "$tmp"
  fi
  GO="$home/bin/go"
}

# Builds in a copy of the module directory, so that nothing in the work tree is ever rewritten, with
# -mod=readonly: the committed go.sum is the truth.
go_build_module() { # <module dir> <output binary> <package>
  local src="$1" out="$2" pkg="$3" tmp
  ensure_go
  tmp="$(mktemp -d "$CACHE/go-build.XXXXXX")"
  cp "$src"/go.mod "$src"/go.sum "$src"/*.go "$tmp/"
  mkdir -p "$(dirname "$out")"
  if ! (cd "$tmp" && GOTOOLCHAIN=local GOFLAGS=-mod=readonly CGO_ENABLED=0 "$GO" build -trimpath -o "$out.tmp.$$" "$pkg"); then
    rm -rf "$tmp" "$out.tmp.$$"
    return 1
  fi
  mv -f "$out.tmp.$$" "$out"
  rm -rf "$tmp"
}

kafka_home() { echo "$CACHE/kafka-$1-$KAFKA_POM_HASH"; }
kafka_version() { # the installed Kafka version, if any
  local v
  for v in "${KAFKA_VERSIONS[@]}"; do
    [ -f "$(kafka_home "$v")/.complete" ] && echo "$v" && return 0
  done
  return 1
}

install_kafka() {
  kafka_version >/dev/null && return 0
  command -v java >/dev/null || apt_install default-jre-headless
  command -v mvn >/dev/null || apt_install maven
  local v home tmp t
  for v in "${KAFKA_VERSIONS[@]}"; do
    t="$(now)"
    log "resolving Apache Kafka $v from Maven Central (infra/kafka/pom.xml)"
    home="$(kafka_home "$v")"
    tmp="$(mktemp -d "$CACHE/kafka-dl.XXXXXX")"
    if mvn -q -B -f "$ROOT/infra/kafka/pom.xml" -Dkafka.version="$v" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$tmp/libs" >"$tmp/mvn.log" 2>&1 &&
      [ -f "$tmp/libs/kafka_2.13-$v.jar" ]; then
      # A versioned directory per pom.xml: a running broker keeps its jars even when the pom changes.
      rm -rf "$home" && mv "$tmp" "$home" && touch "$home/.complete"
      log "Kafka $v: $(find "$home/libs" -name '*.jar' | wc -l) jars in $(elapsed "$t")s"
      return 0
    fi
    log "Kafka $v could not be resolved:"
    tail -n 20 "$tmp/mvn.log" >&2 || true
    rm -rf "$tmp"
  done
  die "maven could not resolve any of Kafka ${KAFKA_VERSIONS[*]}"
}

install_ferretdb() {
  [ -x "$FERRETDB_BIN" ] && return 0
  local t
  t="$(now)"
  log "building the FerretDB $FERRETDB_VERSION launcher (infra/ferretdb, Go module proxy)"
  go_build_module "$ROOT/infra/ferretdb" "$FERRETDB_BIN" . || die "FerretDB launcher build failed"
  log "FerretDB launcher built in $(elapsed "$t")s"
}

install_nats() {
  [ -x "$NATS_BIN" ] && return 0
  local t tmp
  t="$(now)"
  ensure_go
  log "building nats-server $NATS_VERSION (Go module proxy)"
  tmp="$(mktemp -d "$CACHE/nats-build.XXXXXX")"
  if ! (cd "$tmp" && GOBIN="$tmp/bin" GOTOOLCHAIN=local GOFLAGS= CGO_ENABLED=0 \
    "$GO" install -trimpath "github.com/nats-io/nats-server/v2@$NATS_VERSION"); then
    rm -rf "$tmp"
    die "nats-server build failed"
  fi
  mkdir -p "$CACHE/bin" && mv -f "$tmp/bin/nats-server" "$NATS_BIN" && rm -rf "$tmp"
  log "nats-server built in $(elapsed "$t")s"
}

install_jaeger() {
  [ -x "$JAEGER_BIN" ] && return 0
  local t
  t="$(now)"
  log "building Jaeger $JAEGER_VERSION all-in-one (infra/jaeger, Go module proxy; minutes the first time)"
  go_build_module "$ROOT/infra/jaeger" "$JAEGER_BIN" github.com/jaegertracing/jaeger/cmd/all-in-one ||
    die "Jaeger build failed"
  log "Jaeger built in $(elapsed "$t")s"
}

install_compose_check() {
  [ -x "$COMPOSE_CHECK_BIN" ] && return 0
  local t
  t="$(now)"
  log "building compose-check (infra/compose-check: compose-go from the Go module proxy)"
  go_build_module "$ROOT/infra/compose-check" "$COMPOSE_CHECK_BIN" . || die "compose-check build failed"
  log "compose-check built in $(elapsed "$t")s"
}

install_all() {
  local t
  t="$(now)"
  with_install_lock install_compose_check
  with_install_lock install_nats
  with_install_lock install_ferretdb
  with_install_lock install_kafka
  with_install_lock install_jaeger
  log "install done in $(elapsed "$t")s (cache: $CACHE)"
}

# One installer at a time per cache (two clones, or CI jobs, may share it).
with_install_lock() {
  mkdir -p "$CACHE"
  (
    flock -w 1800 8 || die "timed out waiting for another install ($CACHE/.install.lock)"
    "$@"
  ) 8>>"$CACHE/.install.lock"
}

# =============================================================================================
# processes

pidfile() { echo "$INFRA_DIR/pids/$1.pid"; }

# A live process (a zombie is dead: it is only waiting for init to reap it, which may take seconds).
alive() {
  local state
  state="$({ sed 's/.*) //' "/proc/$1/stat"; } 2>/dev/null | cut -d' ' -f1)"
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}
logfile() { echo "$INFRA_DIR/logs/$1.log"; }

# What a server's command line contains: identifies our processes (a pid file may point to a pid
# that the kernel has since given to an unrelated program).
signature() {
  case "$(kind_of "$1")" in
    nats) echo "nats-server" ;;
    ferretdb) echo "ferretdb-launcher" ;;
    kafka) echo "kafka\.Kafka" ;;
    jaeger) echo "jaeger-all-in-one" ;;
  esac
}
# What tells the nodes of one cluster apart (fixed text in the command line): a broker's
# properties file, a NATS server's client port.
node_mark() {
  case "$(kind_of "$1")" in
    kafka) echo "kafka.Kafka $INFRA_DIR/$1.properties" ;;
    nats) echo " -p $(nats_port "$1") " ;;
  esac
}
is_ours() { # <pid> [name]: is this pid one of our servers (of that name)?
  local cmdline pat mark
  cmdline="$({ tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null)" || return 1
  if [ -n "${2:-}" ]; then pat="$(signature "$2")"; else pat="nats-server|ferretdb-launcher|kafka\.Kafka|jaeger-all-in-one"; fi
  grep -qE -- "$pat" <<<"$cmdline" || return 1
  [ -z "${2:-}" ] && return 0
  mark="$(node_mark "$2")"
  [ -z "$mark" ] || grep -qF -- "$mark" <<<"$cmdline "
}

running_pid() {
  local f pid
  f="$(pidfile "$1")"
  [ -f "$f" ] || return 1
  pid="$(cat "$f" 2>/dev/null)"
  if [ -n "$pid" ] && alive "$pid" && is_ours "$pid" "$1"; then
    echo "$pid"
    return 0
  fi
  rm -f "$f" # stale: the process is gone, or the pid now belongs to someone else
  return 1
}

port_of() {
  case "$(kind_of "$1")" in
    nats) nats_port "$1" ;;
    kafka) kafka_port "$1" ;;
    ferretdb) echo "$FERRETDB_PORT" ;;
    jaeger) echo "$JAEGER_COLLECTOR_PORT" ;;
  esac
}
ports_of() { # every port the server listens on
  local p
  case "$(kind_of "$1")" in
    nats)
      p="$(nats_port "$1")"
      echo "$p $((p + NATS_MONITOR_PORT - NATS_PORT))"
      [ "$NATS_NODES" = 1 ] || echo "$((p + 1))"
      ;;
    kafka)
      p="$(kafka_port "$1")"
      echo "$p $((p + 1))"
      ;;
    ferretdb) echo "$FERRETDB_PORT" ;;
    jaeger)
      echo "$JAEGER_COLLECTOR_PORT $JAEGER_QUERY_PORT"
      local p
      for p in 4250 4317 4318 9411 4269 6685 5778; do echo "$((JAEGER_BASE + p))"; done
      ;;
  esac
}

# Pids listening on a TCP port where our servers' bind to 127.0.0.1 would collide: loopback or any
# address. A listener on another address (a partition test's forwarder on a veth address,
# test/helpers/netns.ts, that leads to this very server) is not in the way.
listeners_on() { # <port>
  command -v ss >/dev/null || apt_install iproute2
  ss -ltnpH "sport = :$1" 2>/dev/null |
    awk '$4 ~ /^(127\.0\.0\.1|0\.0\.0\.0|\*|\[::\]|\[::ffff:127\.0\.0\.1\]):[0-9]+$/' |
    grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u || true
}

kill_pid() { # <pid> <grace seconds>: SIGTERM, then SIGKILL after the grace period; waits until gone
  local pid="$1" grace="$2" i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < grace * 10; i++)); do
    alive "$pid" || return 0
    sleep 0.1
  done
  log "pid $pid still alive after ${grace}s: SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    alive "$pid" || return 0
    sleep 0.1
  done
}

# A crashed run may have left one of our servers on a port without (or with a lost) pid file: stop it.
# A foreign program on the port is an error (we would not be testing against our server).
free_ports() { # <name> [strict|lenient]
  local name="$1" mode="${2:-strict}" port pid
  for port in $(ports_of "$name"); do
    for pid in $(listeners_on "$port"); do
      if is_ours "$pid"; then
        log "stopping a stray server of ours on port $port (pid $pid: $({ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | cut -c1-100))"
        kill_pid "$pid" 10
      elif [ "$mode" = strict ]; then
        die "port $port (for $name) is used by another program: pid $pid ($({ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | cut -c1-100))"
      fi
    done
  done
}

grace_of() { case "$(kind_of "$1")" in kafka) echo 30 ;; *) echo 10 ;; esac }

launch_nats() { # [name]
  local name="${1:-nats}" port args=() peer routes=()
  port="$(nats_port "$name")"
  mkdir -p "$INFRA_DIR/data/$name"
  if [ "$NATS_NODES" = 1 ]; then
    args=(-n order-service-infra)
  else
    # A full mesh of explicit routes (a server drops a route to itself).
    for peer in "${NATS_NAMES[@]}"; do
      [ "$peer" = "$name" ] || routes+=("nats://127.0.0.1:$(($(nats_port "$peer") + 1))")
    done
    args=(-n "$name" --cluster_name order-service-infra --cluster "nats://127.0.0.1:$((port + 1))"
      --routes "$(IFS=,; echo "${routes[*]}")")
  fi
  setsid "$NATS_BIN" -a 127.0.0.1 -p "$port" -m "$((port + NATS_MONITOR_PORT - NATS_PORT))" "${args[@]}" \
    -sd "$INFRA_DIR/data/$name" >>"$(logfile "$name")" 2>&1 </dev/null 8>&- 9>&- &
  echo $! >"$(pidfile "$name")"
}

launch_ferretdb() {
  mkdir -p "$INFRA_DIR/data/ferretdb"
  # Go's collector took about a fifth of FerretDB's CPU at the default GOGC=100 (every write
  # decodes and re-encodes whole documents): at 400 an order costs it ~20% less CPU, for up to
  # ~60 MB more RSS (docs/infra.md). GOGC from the environment wins.
  GOGC="${GOGC:-400}" setsid "$FERRETDB_BIN" --listen-addr "127.0.0.1:$FERRETDB_PORT" --sqlite-dir "$INFRA_DIR/data/ferretdb" \
    --log-level warn >>"$(logfile ferretdb)" 2>&1 </dev/null 8>&- 9>&- &
  echo $! >"$(pidfile ferretdb)"
}

# Replication of a cluster of N brokers: every topic (internal ones too) on min(N, 3) brokers, and an
# acks=all write needs 2 in sync from 3 brokers on (one broker may be lost without losing writes).
kafka_replicas() { echo "$((KAFKA_NODES < 3 ? KAFKA_NODES : 3))"; }
kafka_min_isr() { echo "$((KAFKA_NODES < 3 ? 1 : 2))"; }

# One id for every node of the cluster (the storage of each is formatted with it), kept for restarts.
kafka_cluster_id() {
  local f="$INFRA_DIR/kafka-cluster-id"
  [ -s "$f" ] || head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=' >"$f"
  cat "$f"
}

launch_kafka() { # [name]
  local name="${1:-kafka}" data conf home port voters=() peer
  data="$INFRA_DIR/data/$name"
  conf="$INFRA_DIR/$name.properties"
  port="$(kafka_port "$name")"
  home="$(kafka_home "$(kafka_version)")"
  mkdir -p "$data"
  for peer in "${KAFKA_NAMES[@]}"; do voters+=("$(index_of "$peer")@127.0.0.1:$(($(kafka_port "$peer") + 1))"); done
  sed -e "s#@PORT@#$port#g" -e "s#@CONTROLLER_PORT@#$((port + 1))#g" -e "s#@DATA_DIR@#$data#g" \
    -e "s#@NODE_ID@#$(index_of "$name")#g" -e "s#@VOTERS@#$(IFS=,; echo "${voters[*]}")#g" \
    -e "s#@REPLICAS@#$(kafka_replicas)#g" -e "s#@MIN_ISR@#$(kafka_min_isr)#g" \
    "$ROOT/infra/kafka/server.properties.template" >"$conf"
  # Small heap, serial GC and C1 only: a test broker that starts in a few seconds on 2 cores.
  local java_opts="-Xms256m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xss512k -Djava.awt.headless=true"
  java_opts+=" -Dlog4j2.configurationFile=$ROOT/infra/kafka/log4j2.yaml"
  # Storage is formatted once per data dir (a restart reuses it, so topics and offsets survive);
  # then the shell becomes the broker (exec), so the pid in the pid file is the JVM's.
  # An id may start with "-" (base64url): passed as --cluster-id=<id>, never as a separate word,
  # or the tool's argument parser takes it for an option (1 start in 64 failed that way).
  # The conf path is an argument of the shell as of the JVM, so that both carry node_mark.
  local cluster_id
  cluster_id="$(kafka_cluster_id)"
  KAFKA_LIBS="$home/libs/*" KAFKA_CONF="$conf" KAFKA_DATA="$data" KAFKA_CLUSTER_ID="$cluster_id" JAVA_OPTS="$java_opts" \
    setsid bash -c '
      if [ ! -f "$KAFKA_DATA/meta.properties" ]; then
        java $JAVA_OPTS -cp "$KAFKA_LIBS" kafka.tools.StorageTool format --cluster-id="$KAFKA_CLUSTER_ID" -c "$KAFKA_CONF" \
          --ignore-formatted || { echo "kafka storage format failed"; exit 1; }
      fi
      exec java $JAVA_OPTS -cp "$KAFKA_LIBS" kafka.Kafka "$KAFKA_CONF"' kafka.Kafka "$conf" \
    >>"$(logfile "$name")" 2>&1 </dev/null 8>&- 9>&- &
  echo $! >"$(pidfile "$name")"
}

launch_jaeger() {
  # In-memory storage; every listener on loopback, away from the default ports.
  # OTEL_TRACES_SAMPLER: Jaeger would otherwise trace itself towards a default OTLP port.
  SPAN_STORAGE_TYPE=memory OTEL_TRACES_SAMPLER=always_off setsid "$JAEGER_BIN" \
    --memory.max-traces=100000 \
    --collector.http-server.host-port="127.0.0.1:$JAEGER_COLLECTOR_PORT" \
    --query.http-server.host-port="127.0.0.1:$JAEGER_QUERY_PORT" \
    --collector.grpc-server.host-port="127.0.0.1:$((JAEGER_BASE + 4250))" \
    --collector.otlp.grpc.host-port="127.0.0.1:$((JAEGER_BASE + 4317))" \
    --collector.otlp.http.host-port="127.0.0.1:$((JAEGER_BASE + 4318))" \
    --collector.zipkin.host-port="127.0.0.1:$((JAEGER_BASE + 9411))" \
    --admin.http.host-port="127.0.0.1:$((JAEGER_BASE + 4269))" \
    --query.grpc-server.host-port="127.0.0.1:$((JAEGER_BASE + 6685))" \
    --processor.jaeger-binary.server-host-port="127.0.0.1:$((JAEGER_BASE + 6832))" \
    --processor.jaeger-compact.server-host-port="127.0.0.1:$((JAEGER_BASE + 6831))" \
    --processor.zipkin-compact.server-host-port="127.0.0.1:$((JAEGER_BASE + 5775))" \
    --http-server.host-port="127.0.0.1:$((JAEGER_BASE + 5778))" \
    --reporter.grpc.host-port="127.0.0.1:$((JAEGER_BASE + 4250))" \
    >>"$(logfile jaeger)" 2>&1 </dev/null 8>&- 9>&- &
  echo $! >"$(pidfile jaeger)"
}

ready_timeout() { case "$(kind_of "$1")" in kafka) echo "${INFRA_READY_TIMEOUT:-120}" ;; *) echo "${INFRA_READY_TIMEOUT:-60}" ;; esac }

# Polls an HTTP URL until it answers 2xx, while the process lives, within the timeout.
wait_http() { # <url> <timeout> <pid>
  local until=$((SECONDS + $2))
  while [ $SECONDS -lt $until ]; do
    curl -fsS -m 2 "$1" >/dev/null 2>&1 && return 0
    alive "$3" || return 1
    sleep 0.1
  done
  return 1
}

# Each probe proves the server really serves requests, not only that a port is open.
# A cluster node is ready once it also has a route to every other node that runs.
ready_nats() { # <timeout> <pid> [name]
  local name="${3:-nats}" monitor peers=0 peer until=$((SECONDS + $1))
  monitor="$(($(nats_port "$name") + NATS_MONITOR_PORT - NATS_PORT))"
  wait_http "http://127.0.0.1:$monitor/healthz" "$1" "$2" || return 1
  for peer in "${NATS_NAMES[@]}"; do
    [ "$peer" != "$name" ] && running_pid "$peer" >/dev/null && peers=$((peers + 1))
  done
  [ "$peers" = 0 ] && return 0
  while [ $SECONDS -lt $until ]; do
    # Routes are pooled (several connections per peer): count distinct peers.
    [ "$(curl -fsS -m 2 "http://127.0.0.1:$monitor/routez" 2>/dev/null | grep -o '"remote_id": *"[^"]*"' | sort -u | wc -l)" -ge "$peers" ] && return 0
    alive "$2" || return 1
    sleep 0.2
  done
  echo "nats $name: routes to fewer than $peers running peers"
  return 1
}
ready_jaeger() { wait_http "http://127.0.0.1:$JAEGER_QUERY_PORT/api/services" "$1" "$2"; }
ready_ferretdb() {
  timeout -k 5 "$(($1 + 10))" "$ROOT/node_modules/.bin/tsx" "$ROOT/scripts/infra/mongo-ready.ts" \
    "mongodb://127.0.0.1:$FERRETDB_PORT/infra_probe" "$1" "$2"
}
ready_kafka() { # <timeout> <pid> [name]
  local name="${3:-kafka}"
  KAFKAJS_NO_PARTITIONER_WARNING=1 timeout -k 5 "$(($1 + 10))" "$ROOT/node_modules/.bin/tsx" \
    "$ROOT/scripts/infra/kafka-ready.ts" "127.0.0.1:$(kafka_port "$name")" "$1" "$2" \
    "$(index_of "$name")" "$(kafka_replicas)" "$(kafka_min_isr)"
}

rss_mb() { awk '/^VmRSS/ { printf "%d", $2 / 1024; found = 1 } END { if (!found) print 0 }' "/proc/$1/status" 2>/dev/null || echo 0; }

# Starts the named servers (those not running yet) and waits for all of them in parallel, each
# timed from its launch. Prints one line per server; fails with the log tail of any that did not
# become ready.
start_servers() {
  local name pid failed=() results="$INFRA_DIR/.ready.$$"
  mkdir -p "$INFRA_DIR/pids" "$INFRA_DIR/logs" "$results"
  local -A waiter=() started_at=()
  # All launched first, then waited for: a cluster node's readiness counts its running peers.
  for name in "$@"; do
    if running_pid "$name" >/dev/null; then
      echo "already" >"$results/$name.how"
    else
      free_ports "$name"
      echo "=== $(date -u +%FT%TZ) start (scripts/infra.sh)" >>"$(logfile "$name")"
      "launch_$(kind_of "$name")" "$name"
      echo "started" >"$results/$name.how"
    fi
    started_at[$name]="$(now)"
  done
  for name in "$@"; do
    pid="$(cat "$(pidfile "$name")" 2>/dev/null || echo 0)"
    (
      if "ready_$(kind_of "$name")" "$(ready_timeout "$name")" "$pid" "$name" >>"$results/$name.err" 2>&1; then
        elapsed "${started_at[$name]}" >"$results/$name.secs"
      fi
    ) &
    waiter[$name]=$!
  done
  for name in "$@"; do
    wait "${waiter[$name]}" || true
    if [ -f "$results/$name.secs" ] && pid="$(running_pid "$name")"; then
      if [ "$(cat "$results/$name.how")" = already ]; then
        log "$(printf '%-8s' "$name") already running, serving on 127.0.0.1:$(port_of "$name") (pid $pid, RSS $(rss_mb "$pid") MB)"
      else
        log "$(printf '%-8s' "$name") ready on 127.0.0.1:$(port_of "$name") in $(cat "$results/$name.secs")s (pid $pid, RSS $(rss_mb "$pid") MB)"
      fi
    else
      failed+=("$name")
      if running_pid "$name" >/dev/null; then
        log "$name did not become ready within $(ready_timeout "$name")s"
      else
        log "$name exited before it became ready"
      fi
      sed 's/^/[infra]   probe: /' "$results/$name.err" >&2 2>/dev/null || true
      log "last lines of $(logfile "$name"):"
      tail -n 40 "$(logfile "$name")" | sed 's/^/[infra]   | /' >&2 || true
    fi
  done
  rm -rf "$results"
  [ ${#failed[@]} -eq 0 ] || die "not ready: ${failed[*]} (logs in $INFRA_DIR/logs; 'scripts/infra.sh down' cleans up)"
}

stop_server() { # <name> <TERM|KILL>
  local name="$1" pid
  if pid="$(running_pid "$name")"; then
    kill -CONT "$pid" 2>/dev/null || true # a paused server cannot act on SIGTERM
    if [ "$2" = KILL ]; then
      kill -KILL "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do alive "$pid" || break; sleep 0.1; done
    else
      kill_pid "$pid" "$(grace_of "$name")"
    fi
    alive "$pid" && die "$name (pid $pid) is still alive"
    log "$name stopped (pid $pid, SIG$2)"
  else
    log "$name was not running"
  fi
  rm -f "$(pidfile "$name")"
}

signal_server() { # <name> <STOP|CONT>
  local pid
  pid="$(running_pid "$1")" || die "$1 is not running"
  kill "-$2" "$pid"
  log "$1 $([ "$2" = STOP ] && echo paused || echo resumed) (pid $pid, SIG$2)"
}

write_env() {
  local n nats=()
  for n in "${NATS_NAMES[@]}"; do nats+=("nats://127.0.0.1:$(nats_port "$n")"); done
  {
    has_kind nats && echo "export NATS_URL=$(IFS=,; echo "${nats[*]}")"
    has_kind kafka && echo "export KAFKA_BROKERS=$(kafka_brokers)"
    has_kind ferretdb && echo "export MONGO_URL=mongodb://127.0.0.1:$FERRETDB_PORT/orders"
    has_kind jaeger && printf 'export JAEGER_ENDPOINT=%s\nexport JAEGER_QUERY_URL=%s\n' \
      "http://127.0.0.1:$JAEGER_COLLECTOR_PORT/api/traces" "http://127.0.0.1:$JAEGER_QUERY_PORT"
    true
  } >"$INFRA_DIR/env.tmp"
  mv -f "$INFRA_DIR/env.tmp" "$INFRA_DIR/env"
}

version_of() {
  case "$(kind_of "$1")" in
    nats) echo "nats-server ${NATS_VERSION#v}" ;;
    kafka) echo "Apache Kafka $(kafka_version || echo "${KAFKA_VERSIONS[0]}?") KRaft" ;;
    ferretdb) echo "FerretDB ${FERRETDB_VERSION#v} SQLite" ;;
    jaeger) echo "Jaeger ${JAEGER_VERSION#v} memory" ;;
  esac
}

status() {
  local down=0 pid name state
  printf '%-9s %-26s %-6s %-8s %-9s %s\n' NAME VERSION PORT PID STATE RSS_MB
  for name in "${SERVERS[@]}"; do
    if pid="$(running_pid "$name")"; then
      if [ "$({ sed 's/.*) //' "/proc/$pid/stat"; } 2>/dev/null | cut -d' ' -f1)" = T ]; then
        state=paused
      elif [ -n "$(ss -ltnH "sport = :$(port_of "$name")" 2>/dev/null)" ]; then state=up; else state=starting; fi
      printf '%-9s %-26s %-6s %-8s %-9s %s\n' "$name" "$(version_of "$name")" "$(port_of "$name")" "$pid" "$state" "$(rss_mb "$pid")"
    else
      printf '%-9s %-26s %-6s %-8s %-9s %s\n' "$name" "$(version_of "$name")" "$(port_of "$name")" - down -
      down=1
    fi
  done
  return $down
}

# One mutating command at a time per $INFRA_DIR.
lock_infra() {
  mkdir -p "$INFRA_DIR"
  local lock="$INFRA_DIR/.lock" until=$((SECONDS + 600)) holder
  exec 9>>"$lock"
  until flock -n 9; do
    # /proc/locks names the process that took the lock. If that is no longer a running infra.sh, the
    # lock lives on in a descendant that inherited the descriptor (an older version of this script
    # leaked it to the servers): it protects nothing, so go on without it.
    holder="$(awk -v ino="$(stat -c %i "$lock")" '$2 == "FLOCK" { split($6, d, ":"); if (d[3] == ino) print $5 }' /proc/locks | head -1)"
    if [ -n "$holder" ] && ! { tr '\0' ' ' <"/proc/$holder/cmdline"; } 2>/dev/null | grep -q "infra\.sh"; then
      log "warning: $lock is held by pid $holder, not an infra.sh run (a leaked descriptor); going on"
      break
    fi
    [ $SECONDS -lt $until ] || die "another scripts/infra.sh (pid ${holder:-?}) holds $lock"
    sleep 0.5
  done
  rm -rf "$INFRA_DIR"/.ready.*
}

# =============================================================================================

case "$cmd" in
  install) install_all ;;
  up)
    lock_infra
    if [ -f "$TOPOLOGY_FILE" ]; then
      # shellcheck disable=SC1090
      was="$(source "$TOPOLOGY_FILE" && echo "$KAFKA_NODES/$NATS_NODES/$KINDS")"
      if [ "$was" != "$KAFKA_NODES/$NATS_NODES/$KINDS" ] && [ -d "$INFRA_DIR/data" ]; then
        die "$INFRA_DIR holds other servers (Kafka/NATS nodes/servers: $was): 'scripts/infra.sh down' first"
      fi
    fi
    # The ports too: a later `down` or `stop` with another environment must not reach other servers.
    printf 'KAFKA_NODES=%s NATS_NODES=%s KINDS="%s" INFRA_NATS_PORT=%s INFRA_KAFKA_PORT=%s INFRA_FERRETDB_PORT=%s INFRA_JAEGER_PORT=%s\n' \
      "$KAFKA_NODES" "$NATS_NODES" "$KINDS" "$NATS_PORT" "$KAFKA_PORT" "$FERRETDB_PORT" "$JAEGER_COLLECTOR_PORT" >"$TOPOLOGY_FILE"
    install_all
    t0="$(now)"
    rm -f "$INFRA_DIR/env"
    start_servers "${SERVERS[@]}"
    write_env
    log "all servers ready in $(elapsed "$t0")s; env: $INFRA_DIR/env"
    ;;
  down)
    lock_infra
    # The brokers of a cluster get SIGKILL: their data is deleted next, and the last of them cannot
    # finish a controlled shutdown once the controller quorum has gone (it waits out its 30 s grace).
    for ((i = ${#SERVERS[@]} - 1; i >= 0; i--)); do
      if [ "$KAFKA_NODES" -gt 1 ] && [ "$(kind_of "${SERVERS[i]}")" = kafka ]; then
        stop_server "${SERVERS[i]}" KILL
      else
        stop_server "${SERVERS[i]}" TERM
      fi
    done
    for name in "${SERVERS[@]}"; do free_ports "$name" lenient; done
    rm -rf "$INFRA_DIR/data" "$INFRA_DIR/pids" "$INFRA_DIR/env" "$INFRA_DIR"/kafka*.properties \
      "$INFRA_DIR/kafka-cluster-id" "$TOPOLOGY_FILE"
    log "down; logs kept in $INFRA_DIR/logs"
    ;;
  stop | kill)
    [ -n "$name_arg" ] || die "usage: $0 $cmd NAME"
    valid_name "$name_arg"
    lock_infra
    if [ "$cmd" = kill ]; then stop_server "$name_arg" KILL; else stop_server "$name_arg" TERM; fi
    ;;
  start | restart)
    [ -n "$name_arg" ] || die "usage: $0 $cmd NAME"
    valid_name "$name_arg"
    lock_infra
    with_install_lock "install_$(kind_of "$name_arg")"
    [ "$cmd" = restart ] && stop_server "$name_arg" TERM
    start_servers "$name_arg"
    ;;
  pause | resume)
    [ -n "$name_arg" ] || die "usage: $0 $cmd NAME"
    valid_name "$name_arg"
    if [ "$cmd" = pause ]; then signal_server "$name_arg" STOP; else signal_server "$name_arg" CONT; fi
    ;;
  leader)
    [ -n "$name_arg" ] && [[ "${3:-}" =~ ^[0-9]+$ ]] || die "usage: $0 leader TOPIC PARTITION"
    # The broker's node.id is its number in the cluster (1 for the single broker).
    has_kind kafka || die "no Kafka in $INFRA_DIR"
    id="$(KAFKAJS_NO_PARTITIONER_WARNING=1 timeout -k 5 30 "$ROOT/node_modules/.bin/tsx" \
      "$ROOT/scripts/infra/kafka-leader.ts" "$(kafka_brokers)" "$name_arg" "$3")" || exit 1
    if [ "$KAFKA_NODES" = 1 ]; then echo kafka; else echo "kafka-$id"; fi
    ;;
  compose-check)
    # Not a server: the Compose Specification's reference parser, built and cached like them.
    with_install_lock install_compose_check
    exec "$COMPOSE_CHECK_BIN" "${@:2}"
    ;;
  status) status ;;
  env)
    [ -f "$INFRA_DIR/env" ] || die "no $INFRA_DIR/env: run 'scripts/infra.sh up' first"
    cat "$INFRA_DIR/env"
    ;;
  *)
    sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
