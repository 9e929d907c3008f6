#!/usr/bin/env bash
# Fetches, starts and stops a real conductor-oss server (SQLite, loopback) for the demo and the tests.
#
#   scripts/conductor-server.sh fetch [VERSION]        prints the path of the cached boot jar
#   scripts/conductor-server.sh start DIR [VERSION]    starts a server with its data in DIR, waits for /health,
#                                                      prints its API root (http://127.0.0.1:PORT/api); PORT is
#                                                      $CONDUCTOR_SERVER_PORT, else the port of an earlier start
#                                                      in DIR (a restart keeps its address), else a free one
#   scripts/conductor-server.sh stop DIR               stops the server started in DIR
#
# VERSION defaults to $CONDUCTOR_SERVER_VERSION, else 3.32.3 (the newest on Maven Central). The jar (~440 MiB) is
# cached under ${CARGO_TARGET_DIR:-target}/conductor-server/ (and in Maven's ~/.m2); it is never committed.
# Java: the newest /usr/lib/jvm/temurin-* (conductor-server 3.22+ needs Java 21+), else $JAVA_HOME, else `java`.
# CONDUCTOR_SERVER_DB_ARGS (space-separated --flags) replaces the SQLite database flags, e.g. with PostgreSQL ones;
# CONDUCTOR_SERVER_HEAP sets -Xmx (default 1g).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
default_version=${CONDUCTOR_SERVER_VERSION:-3.32.3}
cache_dir=${CONDUCTOR_SERVER_CACHE:-${CARGO_TARGET_DIR:-$repo/target}/conductor-server}

log() { printf '[conductor-server] %s\n' "$*" >&2; }

java_bin() {
  local newest
  newest=$(ls -d /usr/lib/jvm/temurin-* 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$newest" ] && [ -x "$newest/bin/java" ]; then
    echo "$newest/bin/java"
  elif [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
    echo "$JAVA_HOME/bin/java"
  else
    command -v java
  fi
}

fetch() {
  local version=${1:-$default_version}
  local jar="$cache_dir/conductor-server-$version-boot.jar"
  if [ ! -s "$jar" ]; then
    mkdir -p "$cache_dir"
    log "downloading org.conductoross:conductor-server:$version:jar:boot from Maven Central (~440 MiB, once)"
    mvn -q -B dependency:copy "-Dartifact=org.conductoross:conductor-server:$version:jar:boot" \
      "-DoutputDirectory=$cache_dir" >&2
  fi
  echo "$jar"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

start() {
  local dir=${1:?usage: start DIR [VERSION]} version=${2:-$default_version}
  local jar port java
  jar=$(fetch "$version")
  java=$(java_bin)
  mkdir -p "$dir"
  if [ -n "${CONDUCTOR_SERVER_PORT:-}" ]; then
    port=$CONDUCTOR_SERVER_PORT
  elif [ -s "$dir/server.port" ]; then
    port=$(cat "$dir/server.port")
  else
    port=$(free_port)
  fi
  dir=$(cd "$dir" && pwd)
  local args=(
    "--server.port=$port"
    "--server.address=127.0.0.1"
    "--conductor.grpc-server.enabled=false" "--conductor.integrations.ai.enabled=false"
  )
  case "$version" in
    # 3.22+ ship ownerEmailMandatory=false in their application.properties; 3.21.x still require an ownerEmail on
    # every workflow and task definition (the tutorial's workflow JSON has none). 3.21.x also load the kitchensink
    # sample definitions at start-up (loadSample=true; 3.22+ do not); two nodes on one database would both try.
    3.21.*) args+=("--conductor.app.ownerEmailMandatory=false" "--loadSample=false") ;;
  esac
  if [ -n "${CONDUCTOR_SERVER_DB_ARGS:-}" ]; then
    # Another database (scripts/cluster.sh: PostgreSQL): these flags replace the SQLite ones below.
    local db_args
    read -r -a db_args <<<"$CONDUCTOR_SERVER_DB_ARGS"
    args+=("${db_args[@]}")
  else
    args+=(
      "--spring.datasource.url=jdbc:sqlite:$dir/conductor.db?busy_timeout=15000&journal_mode=WAL"
      "--conductor.db.type=sqlite" "--conductor.queue.type=sqlite"
    )
    case "$version" in
      # 3.21.x wires Elasticsearch indexing unless indexing is off; 3.22+ index into SQLite. 3.21.x's SQLite DAOs
      # retry only PostgreSQL deadlocks, never SQLITE_BUSY (3.22+ retry it 10 times), so concurrent writers fail
      # with "database is locked"; one pooled connection serializes them (what its application.properties
      # suggests for SQLite).
      3.21.*) args+=("--conductor.indexing.enabled=false" "--spring.datasource.hikari.maximum-pool-size=1") ;;
      *) args+=("--conductor.indexing.type=sqlite") ;;
    esac
  fi
  log "starting conductor-server $version on 127.0.0.1:$port (data and log in $dir)"
  # Every fd of the background process goes to the log: a caller's $(...) must not wait on an inherited pipe.
  (cd "$dir" && exec "$java" "-Xmx${CONDUCTOR_SERVER_HEAP:-1g}" -jar "$jar" "${args[@]}") </dev/null >"$dir/server.log" 2>&1 &
  echo $! >"$dir/server.pid"
  echo "$port" >"$dir/server.port"
  local deadline=$((SECONDS + 180))
  until curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1; do
    if ! kill -0 "$(cat "$dir/server.pid")" 2>/dev/null; then
      log "the server exited during start-up; last lines of $dir/server.log:"
      tail -n 30 "$dir/server.log" >&2
      exit 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      log "no healthy answer within 180 s; see $dir/server.log"
      stop "$dir"
      exit 1
    fi
    sleep 1
  done
  log "healthy after $((SECONDS - deadline + 180)) s"
  echo "http://127.0.0.1:$port/api"
}

stop() {
  local dir=${1:?usage: stop DIR}
  [ -f "$dir/server.pid" ] || return 0
  local pid
  pid=$(cat "$dir/server.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$dir/server.pid"
}

case "${1:-}" in
  fetch) shift; fetch "$@" ;;
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  *) echo "usage: $0 fetch [VERSION] | start DIR [VERSION] | stop DIR" >&2; exit 2 ;;
esac
