#!/usr/bin/env bash
# A production-shaped Conductor cluster on one machine, for the cluster tests (tests/cluster) and the scale-out
# benchmark: PostgreSQL on loopback (data in a temp dir) as conductor-oss's database, queue, index and execution
# lock; two conductor-server nodes sharing it on different ports; N worker replicas spread over the two nodes;
# optionally the example API. conductor-server 3.21.x cannot use PostgreSQL as its execution lock (see
# node_db_args): their nodes share a Redis lock instead, which this script starts too (apt-get install redis-server
# when missing).
#
#   scripts/cluster.sh up [--version V] [--replicas N] [--concurrency C] [--task-types A,B] [--release]
#                         [--no-api] [--api-delay-ms MS] [--no-build]
#   scripts/cluster.sh status             every component, its pid and health; exit 1 if anything is down
#   scripts/cluster.sh down               stops everything, removes the temp dir, checks nothing is left running
#   scripts/cluster.sh heal               starts whatever of an existing cluster is not running (tests start clean)
#   scripts/cluster.sh replica start|stop|kill I    stop = SIGTERM, waits, prints and returns the exit code;
#                                                   kill = SIGKILL
#   scripts/cluster.sh node start|stop K            K = 1 or 2; a restarted node keeps its port
#
# Replica I (1-based) talks to node ((I+1) % 2) + 1: odd replicas to node 1, even ones to node 2. Its worker id is
# `replica-I.gG` (G counts its starts), its admin endpoints keep their port across restarts, its log is appended to
# DATA/replica-I/worker.log. By default replicas serve three task types: cluster_invoke and cluster_poll (hold
# between polls, the default) and cluster_poll_park (park_threshold_secs = 0: every wait is parked on the server,
# so any replica continues the task).
#
# Everything the tests need is written to target/cluster/cluster.env (override with CLUSTER_STATE=DIR):
# CLUSTER_VERSION, CLUSTER_DATA, PG_PORT, NODEK_URL, NODEK_PID, NODEK_DIR, REPLICAS, TASK_TYPES,
# TASKDEF_RESPONSE_TIMEOUT_SECS, TASKDEF_RETRY_COUNT, WORKER_ADMIN_I, WORKER_CONTROL_I, WORKER_ID_I, WORKER_NODE_I,
# WORKER_PID_I, WORKER_LOG_I, API_URL, API_PID. It is rewritten after every change (pids change on restarts).
# `up` registers one TaskDef per task type (see register_task_defs).
#
# Needs PostgreSQL server binaries (/usr/lib/postgresql/*/bin; installed with apt-get when missing and running as
# root), Java 21+ and Maven (scripts/conductor-server.sh), python3, curl. PostgreSQL refuses to run as root: as root
# it runs as the `postgres` user. KEEP_CLUSTER_DATA=1 keeps the temp dir on `down`.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
state_dir=${CLUSTER_STATE:-$repo/target/cluster}
env_file=$state_dir/cluster.env
server_sh=$repo/scripts/conductor-server.sh
default_task_types=cluster_invoke,cluster_poll,cluster_poll_park

log() { printf '[cluster] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

# --- state ----------------------------------------------------------------------------------------------------------

# The cluster's settings live in DATA/settings (sourced); the env file is derived from them and the pid files.
load() {
  [ -s "$state_dir/data_dir" ] || return 1
  data=$(cat "$state_dir/data_dir")
  [ -s "$data/settings" ] || return 1
  # shellcheck disable=SC1091
  . "$data/settings"
}

write_env() {
  local tmp=$env_file.tmp i
  {
    echo "CLUSTER_VERSION=$version"
    echo "CLUSTER_DATA=$data"
    echo "PG_PORT=$pg_port"
    if needs_redis; then echo "REDIS_PORT=$redis_port"; fi
    for k in 1 2; do
      echo "NODE${k}_URL=http://127.0.0.1:$(cat "$data/node$k/server.port")/api"
      echo "NODE${k}_PID=$(cat "$data/node$k/server.pid" 2>/dev/null || true)"
      echo "NODE${k}_DIR=$data/node$k"
    done
    echo "REPLICAS=$replicas"
    echo "TASK_TYPES=$task_types"
    echo "TASKDEF_RESPONSE_TIMEOUT_SECS=$taskdef_response_timeout_secs"
    echo "TASKDEF_RETRY_COUNT=$taskdef_retry_count"
    for i in $(seq 1 "$replicas"); do
      local dir=$data/replica-$i
      echo "WORKER_ADMIN_$i=http://127.0.0.1:$(cat "$dir/admin.port")"
      echo "WORKER_CONTROL_$i=http://127.0.0.1:$(cat "$dir/control.port")"
      echo "WORKER_ID_$i=$(cat "$dir/worker.id" 2>/dev/null || true)"
      echo "WORKER_NODE_$i=$(replica_node "$i")"
      echo "WORKER_PID_$i=$(cat "$dir/worker.pid" 2>/dev/null || true)"
      echo "WORKER_LOG_$i=$dir/worker.log"
    done
    if [ "$api" = 1 ]; then
      echo "API_URL=http://127.0.0.1:$(cat "$data/api/api.port")"
      echo "API_PID=$(cat "$data/api/api.pid" 2>/dev/null || true)"
    fi
  } >"$tmp"
  mv "$tmp" "$env_file"
}

replica_node() { echo $((($1 + 1) % 2 + 1)); }

bin_dir() { if [ "$release" = 1 ]; then echo "$repo/target/release"; else echo "$repo/target/debug"; fi; }

# --- PostgreSQL -----------------------------------------------------------------------------------------------------

pg_bin() {
  local dir
  dir=$(printf '%s\n' /usr/lib/postgresql/*/bin | grep -v '\*' | sort -V | tail -n 1 || true)
  if [ -z "$dir" ] || [ ! -x "$dir/initdb" ]; then
    [ "$(id -u)" = 0 ] || die "PostgreSQL server binaries not found and not root: apt-get install postgresql"
    log "PostgreSQL not found: apt-get install -y postgresql"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    dir=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  echo "$dir"
}

# Runs a PostgreSQL command as `postgres` when we are root (it refuses to run as root).
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_start() {
  local bin
  bin=$(pg_bin)
  mkdir -p "$data/pg"
  if [ "$(id -u)" = 0 ]; then chown postgres "$data/pg"; fi
  if [ ! -s "$data/pg/data/PG_VERSION" ]; then
    as_pg "$bin/initdb" -D "$data/pg/data" -A trust -U conductor >"$data/pg/initdb.log" 2>&1 ||
      { cat "$data/pg/initdb.log" >&2; die "initdb failed"; }
  fi
  # Enough connections for two nodes' pools plus psql; fsync stays on (production-shaped).
  as_pg "$bin/pg_ctl" -D "$data/pg/data" -w -t 60 -l "$data/pg/pg.log" \
    -o "-p $pg_port -k $data/pg -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null ||
    { tail -n 20 "$data/pg/pg.log" >&2; die "PostgreSQL did not start"; }
  head -n 1 "$data/pg/data/postmaster.pid" >"$data/pg/pg.pid"
  if ! as_pg "$bin/psql" -h 127.0.0.1 -p "$pg_port" -U conductor -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname='conductor'" | grep -q 1; then
    as_pg "$bin/createdb" -h 127.0.0.1 -p "$pg_port" -U conductor conductor || die "createdb failed"
  fi
  log "PostgreSQL on 127.0.0.1:$pg_port (data in $data/pg/data)"
}

pg_stop() {
  [ -s "$data/pg/data/postmaster.pid" ] || return 0
  local bin
  bin=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  as_pg "$bin/pg_ctl" -D "$data/pg/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
  local pid
  pid=$(cat "$data/pg/pg.pid" 2>/dev/null || true)
  if alive "$pid"; then kill -9 "$pid" 2>/dev/null || true; fi
}

# --- Redis (the execution lock of 3.21.x nodes, see node_db_args) ---------------------------------------------------

needs_redis() { case "$version" in 3.21.*) return 0 ;; *) return 1 ;; esac; }

redis_start() {
  local dir=$data/redis
  mkdir -p "$dir"
  if alive "$(cat "$dir/redis.pid" 2>/dev/null || true)"; then return 0; fi
  if ! command -v redis-server >/dev/null; then
    [ "$(id -u)" = 0 ] || die "redis-server not found and not root: apt-get install redis-server"
    log "redis-server not found: apt-get install -y redis-server"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >&2
  fi
  (cd "$dir" && exec setsid redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$dir" </dev/null >>"$dir/redis.log" 2>&1) &
  echo $! >"$dir/redis.pid"
  local deadline=$((SECONDS + 20))
  until redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG; do
    [ $SECONDS -lt $deadline ] || die "Redis did not start; see $dir/redis.log"
    sleep 0.1
  done
  log "Redis (execution lock) on 127.0.0.1:$redis_port"
}

redis_stop() {
  local pid
  pid=$(cat "$data/redis/redis.pid" 2>/dev/null || true)
  if alive "$pid"; then kill "$pid" 2>/dev/null || true; fi
}

# --- conductor nodes ------------------------------------------------------------------------------------------------

node_db_args() {
  local args=(
    "--spring.datasource.url=jdbc:postgresql://127.0.0.1:$pg_port/conductor"
    "--spring.datasource.username=conductor" "--spring.datasource.password="
    "--conductor.db.type=postgres" "--conductor.queue.type=postgres" "--conductor.indexing.type=postgres"
  )
  case "$version" in
    # 3.21.x ship conductor.indexing.enabled=false and conductor.elasticsearch.version=7 in their
    # application.properties: indexing must be switched on, and Elasticsearch off (version 0), or an ES7 index DAO
    # is wired next to the PostgreSQL one and start-up fails connecting to Elasticsearch.
    # Their PostgresLockDAO is not reentrant (conductor-oss/conductor#588, fixed by PR #1088): the sweeper takes the
    # workflow lock and then decide() asks for it again, fails, and skips the decision, so nothing the sweeper does
    # happens, e.g. a task held by a crashed worker is never timed out (the workflow stays RUNNING for ever). Without
    # any lock, two nodes deciding one workflow at once lose updates (a workflow whose tasks all completed stays
    # RUNNING, out of the decider queue). So 3.21.x nodes share a Redis execution lock (Redisson, reentrant).
    3.21.*)
      args+=("--conductor.indexing.enabled=true" "--conductor.elasticsearch.version=0"
        "--conductor.workflow-execution-lock.type=redis" "--conductor.app.workflow-execution-lock-enabled=true"
        "--conductor.redis-lock.serverType=SINGLE" "--conductor.redis-lock.serverAddress=redis://127.0.0.1:$redis_port")
      ;;
    *)
      args+=("--conductor.workflow-execution-lock.type=postgres" "--conductor.app.workflow-execution-lock-enabled=true")
      ;;
  esac
  echo "${args[*]}"
}

node_start() {
  local k=$1 dir=$data/node$1
  mkdir -p "$dir"
  if [ -s "$dir/server.pid" ] && alive "$(cat "$dir/server.pid")"; then
    log "node $k already running (pid $(cat "$dir/server.pid"))"
    return 0
  fi
  local url
  url=$(CONDUCTOR_SERVER_DB_ARGS=$(node_db_args) CONDUCTOR_SERVER_PORT="$(cat "$dir/server.port" 2>/dev/null || true)" \
    "$server_sh" start "$dir" "$version") || die "node $k did not start; see $dir/server.log"
  log "node $k: $url (pid $(cat "$dir/server.pid"))"
}

node_stop() {
  local k=$1
  "$server_sh" stop "$data/node$k"
  log "node $k stopped"
}

# --- worker replicas ------------------------------------------------------------------------------------------------

replica_start() {
  local i=$1
  local dir=$data/replica-$i
  mkdir -p "$dir"
  local pid
  pid=$(cat "$dir/worker.pid" 2>/dev/null || true)
  if alive "$pid"; then
    log "replica $i already running (pid $pid)"
    return 0
  fi
  [ -s "$dir/admin.port" ] || free_port >"$dir/admin.port"
  [ -s "$dir/control.port" ] || free_port >"$dir/control.port"
  local gen=$(($(cat "$dir/generation" 2>/dev/null || echo 0) + 1))
  echo "$gen" >"$dir/generation"
  echo "replica-$i.g$gen" >"$dir/worker.id"
  local node
  node=$(replica_node "$i")
  local server_url
  server_url="http://127.0.0.1:$(cat "$data/node$node/server.port")/api"
  local bin
  bin=$(bin_dir)/conductor-http-worker
  [ -x "$bin" ] || die "$bin is missing (cargo build --workspace --bins${release:+ --release})"
  rm -f "$dir/worker.pid" "$dir/exit.code"
  local envs=(
    "PATH=$PATH"
    "CONDUCTOR_SERVER_URL=$server_url"
    "CONDUCTOR_HTTP_WORKER_TASK_TYPES=$task_types"
    "CONDUCTOR_HTTP_WORKER_ADMIN_ADDR=127.0.0.1:$(cat "$dir/admin.port")"
    "CONDUCTOR_HTTP_WORKER_ADMIN_CONTROL_ADDR=127.0.0.1:$(cat "$dir/control.port")"
    "CONDUCTOR_HTTP_WORKER_ADMIN_CONTROL_TOKEN=cluster-control-token"
    "CONDUCTOR_HTTP_WORKER_SECURITY_ALLOW_LOOPBACK=true"
    "CONDUCTOR_HTTP_WORKER_ADMIN_QUEUE_DEPTH_INTERVAL_SECS=5"
    "CONDUCTOR_HTTP_WORKER_SHUTDOWN_GRACE_SECS=20"
    "CONDUCTOR_WORKER_ALL_WORKER_ID=replica-$i.g$gen"
    "CONDUCTOR_WORKER_CLUSTER_POLL_PARK_PARK_THRESHOLD_SECS=0"
    "RUST_LOG=${CLUSTER_RUST_LOG:-info}"
  )
  if [ -n "$concurrency" ]; then envs+=("CONDUCTOR_WORKER_ALL_CONCURRENCY=$concurrency"); fi
  echo "=== start generation $gen ($(date -u +%FT%TZ)) against $server_url" >>"$dir/worker.log"
  # The wrapper records the exit code (stop needs it: the worker is not our child once this script returns).
  # env -i: the replica sees only the configuration above. setsid: a Ctrl-C in the caller's terminal must not
  # reach the replicas; `down` stops them.
  # shellcheck disable=SC2016 # expanded by the inner bash
  (cd "$dir" && exec env -i "${envs[@]}" setsid bash -c '
      "$0" </dev/null >>worker.log 2>&1 &
      echo $! >worker.pid
      wait $!
      echo $? >exit.code' "$bin" </dev/null >/dev/null 2>&1) &
  local deadline=$((SECONDS + 10))
  until [ -s "$dir/worker.pid" ]; do
    [ $SECONDS -lt $deadline ] || die "replica $i did not start"
    sleep 0.05
  done
  pid=$(cat "$dir/worker.pid")
  local admin
  admin="http://127.0.0.1:$(cat "$dir/admin.port")"
  deadline=$((SECONDS + 60))
  until curl -sf "$admin/readyz" >/dev/null 2>&1; do
    if ! alive "$pid"; then
      tail -n 20 "$dir/worker.log" >&2
      die "replica $i exited during start-up (exit code $(cat "$dir/exit.code" 2>/dev/null || echo '?'))"
    fi
    [ $SECONDS -lt $deadline ] || die "replica $i not ready within 60 s: $(curl -s "$admin/readyz")"
    sleep 0.1
  done
  log "replica $i: $(cat "$dir/worker.id") pid $pid, node $node, admin $admin"
}

# SIGTERM (graceful) or SIGKILL; waits for the exit and prints `exit code N`; returns N.
replica_signal() {
  local i=$1 signal=$2
  local dir=$data/replica-$i
  local pid
  pid=$(cat "$dir/worker.pid" 2>/dev/null || true)
  if ! alive "$pid"; then
    log "replica $i is not running"
    return 0
  fi
  kill "-$signal" "$pid"
  local deadline=$((SECONDS + 60))
  until [ -s "$dir/exit.code" ]; do
    [ $SECONDS -lt $deadline ] || die "replica $i (pid $pid) did not exit within 60 s of SIG$signal"
    sleep 0.05
  done
  local code
  code=$(cat "$dir/exit.code")
  log "replica $i (pid $pid) exited after SIG$signal with exit code $code"
  echo "exit code $code"
  rm -f "$dir/worker.pid"
  return "$code"
}

# --- example API ----------------------------------------------------------------------------------------------------

api_start() {
  local dir=$data/api
  mkdir -p "$dir"
  if alive "$(cat "$dir/api.pid" 2>/dev/null || true)"; then return 0; fi
  [ -s "$dir/api.port" ] || free_port >"$dir/api.port"
  local bin
  bin=$(bin_dir)/example-api
  [ -x "$bin" ] || die "$bin is missing"
  (cd "$dir" && exec setsid "$bin" --listen "127.0.0.1:$(cat "$dir/api.port")" --delay-ms "$api_delay_ms" \
    </dev/null >>"$dir/api.log" 2>&1) &
  echo $! >"$dir/api.pid"
  local deadline=$((SECONDS + 20))
  until curl -sf "http://127.0.0.1:$(cat "$dir/api.port")/healthz" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || die "the example API did not start; see $dir/api.log"
    sleep 0.1
  done
  log "example API on 127.0.0.1:$(cat "$dir/api.port") (jobs take $api_delay_ms ms)"
}

# --- task definitions -----------------------------------------------------------------------------------------------

# One TaskDef per served task type, the same for every test and the benchmark (a PostgreSQL node caches TaskDefs
# for up to 60 s, so values that changed between tests would reach the two nodes at different times).
# responseTimeoutSeconds bounds how long a task held by a SIGKILLed replica stays IN_PROGRESS before the server
# times it out and retries it; it must exceed a node's restart (~45 s here) plus the worker's update retry backoff
# (at most 30 s between attempts), or results held for a stopped node would be retried as well.
taskdef_response_timeout_secs=120
taskdef_retry_count=2

register_task_defs() {
  local defs
  defs=$(python3 -c '
import json, sys
names, rt, retries = sys.argv[1].split(","), int(sys.argv[2]), int(sys.argv[3])
print(json.dumps([{"name": n, "ownerEmail": "cluster@example.com", "retryCount": retries, "retryLogic": "FIXED",
  "retryDelaySeconds": 0, "timeoutSeconds": 900, "timeoutPolicy": "TIME_OUT_WF",
  "responseTimeoutSeconds": rt} for n in names]))' "$task_types" "$taskdef_response_timeout_secs" "$taskdef_retry_count")
  curl -sf -X POST -H 'Content-Type: application/json' -d "$defs" \
    "http://127.0.0.1:$(cat "$data/node1/server.port")/api/metadata/taskdefs" >/dev/null ||
    die "registering the task definitions failed"
  log "task definitions registered: $task_types (responseTimeoutSeconds $taskdef_response_timeout_secs, retryCount $taskdef_retry_count)"
}

# --- commands -------------------------------------------------------------------------------------------------------

healthy() {
  load || return 1
  local k i
  [ -s "$data/pg/pg.pid" ] && alive "$(cat "$data/pg/pg.pid")" || return 1
  if needs_redis; then alive "$(cat "$data/redis/redis.pid" 2>/dev/null || true)" || return 1; fi
  for k in 1 2; do
    curl -sf "http://127.0.0.1:$(cat "$data/node$k/server.port" 2>/dev/null)/health" >/dev/null 2>&1 || return 1
  done
  for i in $(seq 1 "$replicas"); do
    curl -sf "http://127.0.0.1:$(cat "$data/replica-$i/admin.port" 2>/dev/null)/readyz" >/dev/null 2>&1 || return 1
  done
  if [ "$api" = 1 ]; then
    curl -sf "http://127.0.0.1:$(cat "$data/api/api.port" 2>/dev/null)/healthz" >/dev/null 2>&1 || return 1
  fi
}

cmd_up() {
  local want_version=${CONDUCTOR_SERVER_VERSION:-3.32.3} want_replicas=3 want_api=1 want_delay=2000
  local want_concurrency="" want_types=$default_task_types want_release=0 build=1
  while [ $# -gt 0 ]; do
    case "$1" in
      --version) want_version=$2; shift 2 ;;
      --replicas) want_replicas=$2; shift 2 ;;
      --concurrency) want_concurrency=$2; shift 2 ;;
      --task-types) want_types=$2; shift 2 ;;
      --no-api) want_api=0; shift ;;
      --api-delay-ms) want_delay=$2; shift 2 ;;
      --release) want_release=1; shift ;;
      --no-build) build=0; shift ;;
      *) die "unknown argument to up: $1" ;;
    esac
  done
  [[ "$want_replicas" =~ ^[1-9][0-9]*$ ]] || die "--replicas must be a positive number"

  if load 2>/dev/null; then
    if [ "$version" = "$want_version" ] && [ "$replicas" = "$want_replicas" ] && [ "$api" = "$want_api" ] &&
      [ "$concurrency" = "$want_concurrency" ] && [ "$task_types" = "$want_types" ] &&
      [ "$release" = "$want_release" ] && healthy; then
      log "already up and healthy ($env_file)"
      write_env
      return 0
    fi
    log "an earlier cluster ($data) is not the one asked for, or not healthy: tearing it down first"
    cmd_down
  fi

  if [ "$build" = 1 ]; then
    log "building the worker and the example API"
    local profile=()
    if [ "$want_release" = 1 ]; then profile=(--release); fi
    (cd "$repo" && cargo build --workspace --bins --locked "${profile[@]}") >&2
  fi
  "$server_sh" fetch "$want_version" >/dev/null

  mkdir -p "$state_dir"
  data=$(mktemp -d "${TMPDIR:-/tmp}/conductor-cluster.XXXXXX")
  chmod 755 "$data"
  echo "$data" >"$state_dir/data_dir"
  version=$want_version replicas=$want_replicas api=$want_api api_delay_ms=$want_delay
  concurrency=$want_concurrency task_types=$want_types release=$want_release pg_port=$(free_port) redis_port=$(free_port)
  cat >"$data/settings" <<EOF
version=$version
replicas=$replicas
api=$api
api_delay_ms=$api_delay_ms
concurrency=$concurrency
task_types=$task_types
release=$release
pg_port=$pg_port
redis_port=$redis_port
EOF
  # A partial start is torn down: nothing is left running when `up` fails (die exits, so an EXIT trap).
  up_done=0
  trap 'rc=$?; if [ "$up_done" != 1 ]; then log "start-up failed: tearing down what was started"; cmd_down || true; fi; exit $rc' EXIT
  local started=$SECONDS
  pg_start
  if needs_redis; then redis_start; fi
  # Node 1 first: it creates the schema (Flyway); two nodes migrating at once would race.
  free_port >"$data/node1.port.tmp"
  mkdir -p "$data/node1" "$data/node2"
  mv "$data/node1.port.tmp" "$data/node1/server.port"
  free_port >"$data/node2/server.port"
  node_start 1
  node_start 2
  register_task_defs
  if [ "$api" = 1 ]; then api_start; fi
  for i in $(seq 1 "$replicas"); do replica_start "$i"; done
  write_env
  up_done=1
  log "cluster up in $((SECONDS - started)) s: conductor-server $version on 2 nodes, $replicas replicas; env in $env_file"
}

cmd_heal() {
  load || die "no cluster (scripts/cluster.sh up first)"
  if ! alive "$(cat "$data/pg/pg.pid" 2>/dev/null || true)"; then pg_start; fi
  if needs_redis; then redis_start; fi
  local k i
  for k in 1 2; do
    if ! curl -sf "http://127.0.0.1:$(cat "$data/node$k/server.port")/health" >/dev/null 2>&1; then
      "$server_sh" stop "$data/node$k"
      node_start "$k"
    fi
  done
  if [ "$api" = 1 ]; then api_start; fi
  for i in $(seq 1 "$replicas"); do replica_start "$i"; done
  write_env
}

# Processes whose working directory is inside the cluster's data dir: everything this script started (the nodes run
# in DATA/nodeK, PostgreSQL in its data dir, replicas and the API in their dirs).
leftovers() {
  local root=$1 p cwd
  for p in /proc/[0-9]*; do
    cwd=$(readlink "$p/cwd" 2>/dev/null || true)
    case "$cwd" in "$root" | "$root"/*) echo "${p#/proc/}" ;; esac
  done
}

cmd_down() {
  if ! load 2>/dev/null; then
    log "no cluster to stop"
    rm -f "$env_file"
    return 0
  fi
  local i
  # Replicas first (SIGTERM: they park held polls and exit), then the API, the nodes and PostgreSQL.
  for dir in "$data"/replica-*; do
    [ -d "$dir" ] || continue
    local pid
    pid=$(cat "$dir/worker.pid" 2>/dev/null || true)
    if alive "$pid"; then kill -TERM "$pid" 2>/dev/null || true; fi
  done
  for dir in "$data"/replica-*; do
    [ -d "$dir" ] || continue
    pid=$(cat "$dir/worker.pid" 2>/dev/null || true)
    for _ in $(seq 1 300); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then
      log "replica in $dir did not exit within 30 s of SIGTERM: SIGKILL"
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
  local api_pid
  api_pid=$(cat "$data/api/api.pid" 2>/dev/null || true)
  if alive "$api_pid"; then kill "$api_pid" 2>/dev/null || true; fi
  for k in 1 2; do
    if [ -d "$data/node$k" ]; then "$server_sh" stop "$data/node$k"; fi
  done
  redis_stop
  pg_stop
  # Nothing may be left: anything still running in the data dir is killed and reported.
  local left
  for _ in $(seq 1 50); do
    left=$(leftovers "$data")
    [ -n "$left" ] || break
    sleep 0.2
  done
  if [ -n "$left" ]; then
    log "still running after the stop, killing: $(ps -o pid=,args= -p "$(echo "$left" | paste -sd,)" | cut -c1-150)"
    # shellcheck disable=SC2086
    kill -9 $left 2>/dev/null || true
    sleep 0.5
    left=$(leftovers "$data")
    [ -z "$left" ] || die "processes still running in $data: $left"
  fi
  if [ "${KEEP_CLUSTER_DATA:-}" = 1 ]; then
    log "cluster data kept in $data"
  else
    if [ "$(id -u)" = 0 ]; then rm -rf "$data"; else rm -rf "$data" 2>/dev/null || log "could not remove $data"; fi
  fi
  rm -f "$env_file" "$state_dir/data_dir"
  log "cluster down; no process left in $data"
}

cmd_status() {
  if ! load 2>/dev/null; then
    echo "no cluster"
    return 1
  fi
  local ok=0 k i
  printf '%-10s %-8s %-34s %s\n' component pid address health
  local pgpid
  pgpid=$(cat "$data/pg/pg.pid" 2>/dev/null || true)
  if alive "$pgpid"; then h=up; else h=DOWN; ok=1; fi
  printf '%-10s %-8s %-34s %s\n' postgres "$pgpid" "127.0.0.1:$pg_port" "$h"
  if needs_redis; then
    local rpid
    rpid=$(cat "$data/redis/redis.pid" 2>/dev/null || true)
    if alive "$rpid"; then h=up; else h=DOWN; ok=1; fi
    printf '%-10s %-8s %-34s %s\n' redis "$rpid" "127.0.0.1:$redis_port" "$h (execution lock of 3.21.x nodes)"
  fi
  for k in 1 2; do
    local port pid
    port=$(cat "$data/node$k/server.port" 2>/dev/null || true)
    pid=$(cat "$data/node$k/server.pid" 2>/dev/null || true)
    if curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1; then h=healthy; else h=DOWN; ok=1; fi
    printf '%-10s %-8s %-34s %s\n' "node$k" "$pid" "http://127.0.0.1:$port/api" "$h (conductor-server $version)"
  done
  for i in $(seq 1 "$replicas"); do
    local dir=$data/replica-$i admin pid
    admin="http://127.0.0.1:$(cat "$dir/admin.port" 2>/dev/null)"
    pid=$(cat "$dir/worker.pid" 2>/dev/null || true)
    if curl -sf "$admin/readyz" >/dev/null 2>&1; then h=ready; else h=DOWN; ok=1; fi
    printf '%-10s %-8s %-34s %s\n' "replica-$i" "$pid" "$admin" "$h ($(cat "$dir/worker.id" 2>/dev/null), node $(replica_node "$i"))"
  done
  if [ "$api" = 1 ]; then
    local port pid
    port=$(cat "$data/api/api.port" 2>/dev/null || true)
    pid=$(cat "$data/api/api.pid" 2>/dev/null || true)
    if curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then h=up; else h=DOWN; ok=1; fi
    printf '%-10s %-8s %-34s %s\n' api "$pid" "http://127.0.0.1:$port" "$h"
  fi
  echo "env: $env_file; data: $data"
  return $ok
}

cmd_replica() {
  load || die "no cluster (scripts/cluster.sh up first)"
  local action=${1:-} i=${2:-}
  [[ "$i" =~ ^[0-9]+$ ]] && [ "$i" -ge 1 ] && [ "$i" -le "$replicas" ] || die "replica number 1..$replicas expected"
  local rc=0
  case "$action" in
    start) replica_start "$i" ;;
    stop) replica_signal "$i" TERM || rc=$? ;;
    kill) replica_signal "$i" KILL || rc=$? ;;
    *) die "usage: replica start|stop|kill I" ;;
  esac
  write_env
  return $rc
}

cmd_node() {
  load || die "no cluster (scripts/cluster.sh up first)"
  local action=${1:-} k=${2:-}
  [ "$k" = 1 ] || [ "$k" = 2 ] || die "node 1 or 2 expected"
  case "$action" in
    start) node_start "$k" ;;
    stop) node_stop "$k" ;;
    *) die "usage: node start|stop K" ;;
  esac
  write_env
}

case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  down) shift; cmd_down ;;
  status) shift; cmd_status ;;
  heal) shift; cmd_heal ;;
  replica) shift; cmd_replica "$@" ;;
  node) shift; cmd_node "$@" ;;
  *) sed -n '2,26p' "$0" >&2; exit 2 ;;
esac
