#!/usr/bin/env bash
# Makes sure the services the tests talk to are up: PostgreSQL and Redis (started with the
# machine's own commands when down) and FerretDB 1.24, a MongoDB wire-protocol server, built
# from the Go module proxy once (cached) and started on loopback with its data in a temp folder.
# Installs Debian's chromium for the browser test when missing (scripts/install-browser.sh).
# Starts a Redis Cluster on loopback (scripts/redis-cluster.sh) for the cluster tests.
# Prints the environment the tests read (TEST_MONGO_URL, TEST_REDIS_CLUSTER_NODES) as `export`
# lines for `eval`.
set -euo pipefail

FERRETDB_VERSION=v1.24.2
FERRETDB_PORT=${FERRETDB_PORT:-27017}
CACHE_DIR=${CTP_ETL_CACHE_DIR:-$HOME/.cache/ctp-etl}
FERRETDB_BIN="$CACHE_DIR/ferretdb-$FERRETDB_VERSION"
STATE_DIR=${CTP_ETL_SERVICES_DIR:-/tmp/ctp-etl-services}

log() { echo "test-services: $*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() { # name, seconds, command...
  local name=$1 seconds=$2; shift 2
  for _ in $(seq 1 $((seconds * 5))); do
    if "$@" >/dev/null 2>&1; then log "$name is up"; return 0; fi
    sleep 0.2
  done
  log "$name did not answer within ${seconds}s"; return 1
}

ensure_postgres() {
  if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
    log "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
  fi
  wait_for PostgreSQL 60 psql -h 127.0.0.1 -U postgres -d postgres -tAc 'SELECT 1'
}

ensure_redis() {
  if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    log "starting Redis"
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log
  fi
  wait_for Redis 30 redis-cli -h 127.0.0.1 -p 6379 ping
}

# `go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2` fetches the right module but its
# binary panics at start (it wants build/version/version.txt, which the module zip lacks), so the
# same module source is built with that one file added.
build_ferretdb() {
  if [ -x "$FERRETDB_BIN" ]; then return 0; fi
  command -v go >/dev/null || { log "Go is needed to build FerretDB"; return 1; }
  log "building FerretDB $FERRETDB_VERSION (once; cached in $CACHE_DIR)"
  local src work
  src=$(go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" | sed -n 's/.*"Dir": "\(.*\)",*/\1/p')
  [ -d "$src" ] || { log "go mod download gave no source folder"; return 1; }
  work=$(mktemp -d)
  cp -r "$src/." "$work/"
  chmod -R u+w "$work"
  echo "$FERRETDB_VERSION" > "$work/build/version/version.txt"
  mkdir -p "$CACHE_DIR"
  (cd "$work" && GOFLAGS=-mod=mod go build -o "$FERRETDB_BIN.tmp" ./cmd/ferretdb)
  mv "$FERRETDB_BIN.tmp" "$FERRETDB_BIN"
  rm -rf "$work"
}

ensure_ferretdb() {
  if port_open "$FERRETDB_PORT"; then
    log "a server already listens on 127.0.0.1:$FERRETDB_PORT; using it"
    return 0
  fi
  build_ferretdb
  mkdir -p "$STATE_DIR"
  local data
  data=$(mktemp -d "$STATE_DIR/ferretdb-data.XXXXXX")
  log "starting FerretDB on 127.0.0.1:$FERRETDB_PORT (data in $data)"
  nohup "$FERRETDB_BIN" --handler=sqlite --sqlite-url="file:$data/" \
    --listen-addr="127.0.0.1:$FERRETDB_PORT" --debug-addr=127.0.0.1:0 \
    --state-dir="$data" --telemetry=disable --log-level=warn \
    >"$STATE_DIR/ferretdb.log" 2>&1 &
  echo $! > "$STATE_DIR/ferretdb.pid"
  wait_for FerretDB 60 port_open "$FERRETDB_PORT"
}

ensure_postgres
ensure_redis
ensure_ferretdb
cluster_env=$(bash "$(dirname "$0")/redis-cluster.sh")
bash "$(dirname "$0")/install-browser.sh" # chromium for test/browser/
echo "export TEST_MONGO_URL=mongodb://127.0.0.1:$FERRETDB_PORT/"
echo "$cluster_env"
