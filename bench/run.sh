#!/usr/bin/env bash
# The benchmark command: builds our worker and the harness, fetches the peer SDKs from their registries, runs the
# scenarios, prints one table (also written to bench/results/run-*.md next to the raw JSON).
#
#   bench/run.sh                         # every scenario: capacity S1 S2 S3 S4 S5 S6
#   bench/run.sh S1 S2                   # some scenarios
#   bench/run.sh --rounds 5 --workers ours,java-sdk S1
#   bench/run.sh --help                  # every driver option (bench/driver.py)
#
# Needs: Rust (cargo), Java 21+ (the newest /usr/lib/jvm/temurin-* is used when present), Maven, python3 (with
# venv), curl for S6's server script. Fetched on first use: crates (conductor-sdk 0.2.0 ...) into ~/.cargo,
# org.conductoross:conductor-client 6.0.0 into ~/.m2 and bench/peers/java/target/dependency, conductor-python 2.0.0
# and httpx into bench/.venv, the conductor-oss server jar (S6) by scripts/conductor-server.sh.
# BENCH_SKIP_BUILD=1 skips the builds and fetches (for re-runs).
set -euo pipefail

bench=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$bench")
log() { printf '[bench] %s\n' "$*" >&2; }

newest_jdk=$(ls -d /usr/lib/jvm/temurin-* 2>/dev/null | sort -V | tail -n 1 || true)
if [ -n "$newest_jdk" ] && [ -x "$newest_jdk/bin/java" ]; then
  export JAVA_HOME=$newest_jdk
fi
java_bin=${JAVA_HOME:+$JAVA_HOME/bin/}java
javac_bin=${JAVA_HOME:+$JAVA_HOME/bin/}javac

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
  log "building conductor-http-worker (release)"
  (cd "$repo" && cargo build --release -p conductor-http-worker -p example-api)
  log "building the harness and the Rust SDK peer (bench/target)"
  CARGO_TARGET_DIR="$bench/target" cargo build --release --manifest-path "$bench/Cargo.toml"

  jdir="$bench/peers/java/target"
  if [ ! -s "$jdir/dependency/conductor-client-6.0.0.jar" ]; then
    log "fetching org.conductoross:conductor-client 6.0.0 and its runtime dependencies from Maven Central"
    mvn -q -B -f "$bench/peers/java/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
      "-DoutputDirectory=$jdir/dependency"
  fi
  mkdir -p "$jdir/classes"
  "$javac_bin" -d "$jdir/classes" -cp "$jdir/dependency/*" "$bench/peers/java/BenchWorker.java"

  if [ ! -x "$bench/.venv/bin/python" ]; then
    log "creating bench/.venv with conductor-python 2.0.0 and httpx from PyPI"
    python3 -m venv "$bench/.venv"
  fi
  "$bench/.venv/bin/pip" install -q --disable-pip-version-check "conductor-python==2.0.0" "httpx==0.28.1"
fi

# A private copy of the worker binary: other people's builds in the same checkout cannot swap it mid-run.
mkdir -p "$bench/.work/bin"
cp "$repo/target/release/conductor-http-worker" "$bench/.work/bin/conductor-http-worker"
export BENCH_OURS_BIN="$bench/.work/bin/conductor-http-worker"
export BENCH_OURS_REV="$(cd "$repo" && git rev-parse --short HEAD 2>/dev/null || echo unknown)$(cd "$repo" && git status --porcelain -- src Cargo.toml Cargo.lock 2>/dev/null | grep -q . && echo '+dirty' || true)"
export BENCH_JAVA=$java_bin
log "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
exec python3 "$bench/driver.py" "$@"
