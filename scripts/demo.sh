#!/usr/bin/env bash
# `npm run demo`: the whole pipeline on local PostgreSQL and Redis with embedded sample data:
# bots from ../shared/fixtures, libSQL files as Turso targets, mongoexport files as the legacy
# MongoDB. Runs in its own schema and queue prefix ("demo"); Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."

export PG_SCHEMA=${PG_SCHEMA:-demo}
export QUEUE_PREFIX=${QUEUE_PREFIX:-demo}
export BOT_INSTANCES_DIR=${BOT_INSTANCES_DIR:-./data/bot-instances}
export TURSO_FILE_DIR=${TURSO_FILE_DIR:-./data/turso}
export SYNC_INTERVAL=${SYNC_INTERVAL:-1m}
export TURSO_PUSH_INTERVAL=${TURSO_PUSH_INTERVAL:-2m}
export BOARD_AUTH=${BOARD_AUTH:-false}
export BOARD_PORT=${BOARD_PORT:-3000}
export IMPORT_MAX_REJECT_RATIO=${IMPORT_MAX_REJECT_RATIO:-0.05}
export LOG_LEVEL=${LOG_LEVEL:-warn}
CLI="node bin/ctp-etl.js"

node --import tsx scripts/demo-data.ts
$CLI migrate

# Its own process group (set -m), so Ctrl-C reaches it once, through the trap, as one SIGTERM.
set -m
$CLI start &
pid=$!
set +m
stopping=""
stop() {
  [ -n "$stopping" ] && return
  stopping=1
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
trap stop INT TERM EXIT
for _ in $(seq 1 120); do
  if curl -fsS "http://127.0.0.1:$BOARD_PORT/health" >/dev/null 2>&1; then break; fi
  kill -0 $pid 2>/dev/null || { echo "demo: ctp-etl start exited" >&2; exit 1; }
  sleep 0.5
done

# Users before snapshots: a snapshot names its user.
$CLI enqueue mongo-import --collection users --file data/exports/users.json --wait
$CLI enqueue mongo-import --collection portfoliosnapshots --file data/exports/portfoliosnapshots.json --wait
$CLI enqueue bot-sync --all --wait
$CLI enqueue turso-push --all --wait
$CLI status
$CLI verify --no-mongo || true

cat <<TEXT

The pipeline is running (schema "$PG_SCHEMA", queue prefix "$QUEUE_PREFIX"):
  Bull Board   http://127.0.0.1:$BOARD_PORT/admin/queues   (no login in the demo)
  health       http://127.0.0.1:$BOARD_PORT/health
  metrics      http://127.0.0.1:$BOARD_PORT/metrics
Each bot is synced every $SYNC_INTERVAL and pushed to its libSQL file every $TURSO_PUSH_INTERVAL.
Try: PG_SCHEMA=$PG_SCHEMA QUEUE_PREFIX=$QUEUE_PREFIX npx ctp-etl status
Ctrl-C stops it.
TEXT
wait $pid
