#!/usr/bin/env bash
# `npm run demo [-- --once]`: the whole pipeline on local PostgreSQL and Redis with generated data
# (scripts/demo-data.ts): FreqTrade bots of several versions, one of them kept trading by
# scripts/demo-writer.ts, libSQL files as Turso targets, mongoexport files as the legacy MongoDB.
# Runs in its own schema and queue prefix ("demo"). Without --once it keeps running (the scheduler
# syncs every bot every SYNC_INTERVAL) until Ctrl-C. With --once: the same flow, then the writer
# stops, a last sync and push, `ctp-etl verify`, and a clean stop; the exit status is verify's.
set -euo pipefail
cd "$(dirname "$0")/.."

once=""
for arg in "$@"; do
  case "$arg" in
    --once) once=1 ;;
    *)
      echo "demo: unknown option $arg (the only option is --once)" >&2
      exit 2
      ;;
  esac
done

# The Node package.json's engines asks for: an older one fails later and less clearly.
if ! node -e 'const need = Number(/\d+/.exec(require("./package.json").engines.node)[0]);
  process.exit(Number(process.versions.node.split(".")[0]) < need ? 1 : 0)'; then
  echo "demo: Node $(node --version) is older than package.json's engines ($(node -p 'require("./package.json").engines.node')):" \
    "put Node 24 first on PATH (eval \"\$(bash scripts/use-node.sh)\" does it in this shell), then npm ci and npm run demo again" >&2
  exit 1
fi

export PG_SCHEMA=${PG_SCHEMA:-demo}
export QUEUE_PREFIX=${QUEUE_PREFIX:-demo}
export BOT_INSTANCES_DIR=${BOT_INSTANCES_DIR:-./data/bot-instances}
export TURSO_FILE_DIR=${TURSO_FILE_DIR:-./data/turso}
export SYNC_INTERVAL=${SYNC_INTERVAL:-30s}
export SYNC_BATCH_SIZE=${SYNC_BATCH_SIZE:-1000}
# A push the scheduler started first makes the demo's own wait its turn: retry soon.
export JOB_BACKOFF=${JOB_BACKOFF:-500ms}
# --once: no scheduled push after the first, so verify's last push is the only one racing nothing.
if [ -n "$once" ]; then export TURSO_PUSH_INTERVAL=${TURSO_PUSH_INTERVAL:-10m}; fi
export TURSO_PUSH_INTERVAL=${TURSO_PUSH_INTERVAL:-2m}
export BOARD_AUTH=${BOARD_AUTH:-false}
export BOARD_PORT=${BOARD_PORT:-3000}
export IMPORT_MAX_REJECT_RATIO=${IMPORT_MAX_REJECT_RATIO:-0.05}
export LOG_LEVEL=${LOG_LEVEL:-warn}
TSX="node --import tsx"
CLI="node bin/ctp-etl.js"
EXPORTS=data/exports

$TSX scripts/demo-services.ts
$TSX scripts/demo-data.ts
$CLI migrate

# Each in a process group of its own (set -m), so Ctrl-C reaches them once, through the trap.
set -m
$CLI start &
pid=$!
set +m
writer=""
start_writer() {
  set -m
  $TSX scripts/demo-writer.ts >data/demo-writer.log 2>&1 &
  writer=$!
  set +m
  for _ in $(seq 1 60); do
    grep -q 'demo-writer: trading' data/demo-writer.log 2>/dev/null && return
    kill -0 "$writer" 2>/dev/null || { cat data/demo-writer.log >&2; exit 1; }
    sleep 0.5
  done
}
stop_writer() {
  [ -z "$writer" ] && return
  kill -TERM "$writer" 2>/dev/null || true
  wait "$writer" 2>/dev/null || true
  writer=""
  tail -n 1 data/demo-writer.log
}
stopping=""
stop() {
  [ -n "$stopping" ] && return
  stopping=1
  stop_writer
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
trap stop INT TERM EXIT
for _ in $(seq 1 120); do
  if curl -fsS "http://127.0.0.1:$BOARD_PORT/health" >/dev/null 2>&1; then break; fi
  kill -0 $pid 2>/dev/null || {
    echo "demo: ctp-etl start exited (is port $BOARD_PORT free? BOARD_PORT=... picks another)" >&2
    exit 1
  }
  sleep 0.5
done

echo "== Bull Board: http://127.0.0.1:$BOARD_PORT/admin/queues"
# Users before snapshots: a snapshot names its user.
$CLI enqueue mongo-import --collection users --file $EXPORTS/users.json --wait
$CLI enqueue mongo-import --collection portfoliosnapshots --file $EXPORTS/portfoliosnapshots.json --wait
$CLI enqueue bot-sync --all --wait
$CLI enqueue turso-push --all --wait
# From here on futures-live keeps trading: this sync finds its new and closed trades.
start_writer
sleep 5
$CLI enqueue bot-sync --bot futures-live --wait
$CLI status

if [ -n "$once" ]; then
  stop_writer
  $CLI enqueue bot-sync --all --wait
  $CLI enqueue turso-push --all --wait
  set +e
  $CLI verify --users-file $EXPORTS/users.json --snapshots-file $EXPORTS/portfoliosnapshots.json
  verified=$?
  set -e
  stop
  trap - INT TERM EXIT
  if [ "$verified" -eq 0 ]; then echo "demo: verify matched; stopped cleanly"; else echo "demo: verify found differences (exit $verified)" >&2; fi
  exit "$verified"
fi

cat <<TEXT

The pipeline is running (schema "$PG_SCHEMA", queue prefix "$QUEUE_PREFIX"):
  Bull Board   http://127.0.0.1:$BOARD_PORT/admin/queues   (no login in the demo)
  health       http://127.0.0.1:$BOARD_PORT/health
  metrics      http://127.0.0.1:$BOARD_PORT/metrics
The bot futures-live keeps trading (scripts/demo-writer.ts, log in data/demo-writer.log): each bot
is synced every $SYNC_INTERVAL and pushed to its libSQL file (data/turso/<bot>.db) every $TURSO_PUSH_INTERVAL.
Try: PG_SCHEMA=$PG_SCHEMA QUEUE_PREFIX=$QUEUE_PREFIX npx ctp-etl status
     PG_SCHEMA=$PG_SCHEMA QUEUE_PREFIX=$QUEUE_PREFIX npx ctp-etl verify --bot spot-2021
Ctrl-C stops it.
TEXT
wait $pid
