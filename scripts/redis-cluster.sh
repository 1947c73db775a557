#!/usr/bin/env bash
# Starts a Redis Cluster on loopback for the tests: six redis-server processes in cluster mode
# (three primaries, three replicas) on ports REDIS_CLUSTER_PORT .. +5, data in a folder of its
# own. Idempotent: nodes already up are kept, a cluster already formed is left as it is.
# A small cluster-node-timeout makes a replica take over within seconds of its primary's death.
# Prints the seeds as an `export TEST_REDIS_CLUSTER_NODES=...` line for `eval`.
set -euo pipefail

FIRST_PORT=${REDIS_CLUSTER_PORT:-7100}
DIR=${REDIS_CLUSTER_DIR:-${CTP_ETL_SERVICES_DIR:-/tmp/ctp-etl-services}/redis-cluster-$FIRST_PORT}
NODE_TIMEOUT=${REDIS_CLUSTER_NODE_TIMEOUT:-2000}
PORTS=()
for i in 0 1 2 3 4 5; do PORTS+=($((FIRST_PORT + i))); done

log() { echo "redis-cluster: $*" >&2; }
cli() { redis-cli -h 127.0.0.1 -p "$1" "${@:2}"; }

wait_for() { # seconds, command...
  local seconds=$1; shift
  for _ in $(seq 1 $((seconds * 10))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  return 1
}

cluster_ok() { cli "$FIRST_PORT" cluster info 2>/dev/null | grep -q '^cluster_state:ok'; }

for port in "${PORTS[@]}"; do
  if cli "$port" ping >/dev/null 2>&1; then continue; fi
  mkdir -p "$DIR/$port"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --dir "$DIR/$port" \
    --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout "$NODE_TIMEOUT" \
    --appendonly yes --appendfsync everysec --save "" --maxmemory-policy noeviction \
    --logfile "$DIR/$port/redis.log" --pidfile "$DIR/$port/redis.pid"
  wait_for 15 cli "$port" ping || { log "redis-server on port $port did not start (see $DIR/$port/redis.log)"; exit 1; }
done

if ! cluster_ok; then
  known=$(cli "$FIRST_PORT" cluster info | sed -n 's/^cluster_known_nodes:\([0-9]*\).*/\1/p')
  if [ "${known:-1}" = "1" ]; then
    log "creating the cluster on ports ${PORTS[0]}-${PORTS[5]} (data in $DIR)"
    redis-cli --cluster create $(printf '127.0.0.1:%s ' "${PORTS[@]}") --cluster-replicas 1 --cluster-yes >"$DIR/create.log" 2>&1 \
      || { log "redis-cli --cluster create failed:"; cat "$DIR/create.log" >&2; exit 1; }
  fi
  wait_for 30 cluster_ok || { log "the cluster on port $FIRST_PORT did not reach cluster_state:ok"; exit 1; }
fi
# Every primary has its replica, and every node agrees, before clients read the slot map.
replicas() { [ "$(cli "$FIRST_PORT" cluster nodes | grep -c ' slave ')" = 3 ]; }
wait_for 30 replicas || { log "the cluster on port $FIRST_PORT has not got its three replicas"; exit 1; }
for port in "${PORTS[@]}"; do
  wait_for 30 sh -c "redis-cli -h 127.0.0.1 -p $port cluster info | grep -q '^cluster_state:ok'" \
    || { log "node $port does not see the cluster as ok"; exit 1; }
done
log "Redis Cluster is up on 127.0.0.1:${PORTS[0]}-${PORTS[5]}"
echo "export TEST_REDIS_CLUSTER_NODES=$(printf '127.0.0.1:%s,' "${PORTS[@]:0:3}" | sed 's/,$//')"
