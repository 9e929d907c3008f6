#!/usr/bin/env bash
# The infrastructure of a production-shaped Conductor cluster on one machine, for the cluster tests (tests/cluster)
# and the scale-out benchmark: PostgreSQL on loopback (data in a temp dir) as conductor-oss's database, queue, index
# and execution lock, and two conductor-server nodes sharing it on different ports. conductor-server 3.21.x cannot
# use PostgreSQL as its execution lock (see node_db_args): their nodes share a Redis lock instead, which this script
# starts too (apt-get install redis-server when missing). The worker replicas and the example API are not this
# script's: the cluster tests start them through the Rust harness (tests/common/fleet.rs), the benchmark through
# the fleet example (examples/cluster_fleet.rs), each in DATA/replica-I (logs in DATA/replica-I/worker.log).
#
#   scripts/cluster.sh up [--version V]
#   scripts/cluster.sh status             every component, its pid and health; exit 1 if anything is down
#   scripts/cluster.sh down               stops everything, removes the temp dir, checks nothing is left running
#   scripts/cluster.sh heal               starts whatever of an existing cluster is not running (tests start healed)
#   scripts/cluster.sh node start|stop K  K = 1 or 2; a restarted node keeps its port
#
# What the tests need is written to target/cluster/cluster.env (override with CLUSTER_STATE=DIR): CLUSTER_VERSION,
# CLUSTER_DATA (the temp dir: every process of the cluster, replicas included, runs in it, which is how `down`
# finds anything left), PG_PORT, REDIS_PORT (3.21.x), NODEK_URL, NODEK_PID, NODEK_DIR. It is rewritten after every
# change (pids change on restarts).
#
# Needs PostgreSQL server binaries (/usr/lib/postgresql/*/bin; installed with apt-get when missing and running as
# root), Java 21+ and Maven (scripts/conductor-server.sh), python3, curl. PostgreSQL refuses to run as root: as root
# it runs as the `postgres` user. KEEP_CLUSTER_DATA=1 keeps the temp dir on `down`.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
state_dir=${CLUSTER_STATE:-$repo/target/cluster}
env_file=$state_dir/cluster.env
server_sh=$repo/scripts/conductor-server.sh

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
  local tmp=$env_file.tmp k
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
  } >"$tmp"
  mv "$tmp" "$env_file"
}

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

# --- commands -------------------------------------------------------------------------------------------------------

healthy() {
  load || return 1
  local k
  [ -s "$data/pg/pg.pid" ] && alive "$(cat "$data/pg/pg.pid")" || return 1
  if needs_redis; then alive "$(cat "$data/redis/redis.pid" 2>/dev/null || true)" || return 1; fi
  for k in 1 2; do
    curl -sf "http://127.0.0.1:$(cat "$data/node$k/server.port" 2>/dev/null)/health" >/dev/null 2>&1 || return 1
  done
}

cmd_up() {
  local want_version=${CONDUCTOR_SERVER_VERSION:-3.32.3}
  while [ $# -gt 0 ]; do
    case "$1" in
      --version) want_version=$2; shift 2 ;;
      *) die "unknown argument to up: $1 (replicas and the example API are tests/common/fleet.rs's)" ;;
    esac
  done

  if load 2>/dev/null; then
    if [ "$version" = "$want_version" ] && healthy; then
      log "already up and healthy ($env_file)"
      write_env
      return 0
    fi
    log "an earlier cluster ($data) is not the one asked for, or not healthy: tearing it down first"
    cmd_down
  fi

  "$server_sh" fetch "$want_version" >/dev/null

  mkdir -p "$state_dir"
  data=$(mktemp -d "${TMPDIR:-/tmp}/conductor-cluster.XXXXXX")
  chmod 755 "$data"
  echo "$data" >"$state_dir/data_dir"
  version=$want_version pg_port=$(free_port) redis_port=$(free_port)
  printf 'version=%s\npg_port=%s\nredis_port=%s\n' "$version" "$pg_port" "$redis_port" >"$data/settings"
  # A partial start is torn down: nothing is left running when `up` fails (die exits, so an EXIT trap).
  up_done=0
  trap 'rc=$?; if [ "$up_done" != 1 ]; then log "start-up failed: tearing down what was started"; cmd_down || true; fi; exit $rc' EXIT
  local started=$SECONDS
  pg_start
  if needs_redis; then redis_start; fi
  # Node 1 first: it creates the schema (Flyway); two nodes migrating at once would race.
  mkdir -p "$data/node1" "$data/node2"
  free_port >"$data/node1/server.port"
  free_port >"$data/node2/server.port"
  node_start 1
  node_start 2
  write_env
  up_done=1
  log "cluster up in $((SECONDS - started)) s: conductor-server $version on 2 nodes; env in $env_file"
}

cmd_heal() {
  load || die "no cluster (scripts/cluster.sh up first)"
  if ! alive "$(cat "$data/pg/pg.pid" 2>/dev/null || true)"; then pg_start; fi
  if needs_redis; then redis_start; fi
  local k
  for k in 1 2; do
    if ! curl -sf "http://127.0.0.1:$(cat "$data/node$k/server.port")/health" >/dev/null 2>&1; then
      "$server_sh" stop "$data/node$k"
      node_start "$k"
    fi
  done
  write_env
}

# Processes whose working directory is inside the cluster's data dir: everything that runs in the cluster (the nodes
# in DATA/nodeK, PostgreSQL in its data dir, Redis in DATA/redis, and the replicas of the tests and the benchmark in
# DATA/replica-I, the fleet example in DATA/api).
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
  local k
  for k in 1 2; do
    if [ -d "$data/node$k" ]; then "$server_sh" stop "$data/node$k"; fi
  done
  redis_stop
  pg_stop
  # Nothing may be left: anything still running in the data dir (say a replica whose test process was killed) is
  # killed and named.
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
  local ok=0 k h
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
  local dir
  for dir in "$data"/replica-*; do
    [ -d "$dir" ] || continue
    printf '%-10s %-8s %-34s %s\n' "${dir##*/}" - - "started by a test or the fleet example; log $dir/worker.log"
  done
  echo "env: $env_file; data: $data"
  return $ok
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
  node) shift; cmd_node "$@" ;;
  *) sed -n '2,22p' "$0" >&2; exit 2 ;;
esac
