#!/usr/bin/env bash
# The cluster test command: builds the worker and the cluster test binary, starts the cluster's infrastructure
# (scripts/cluster.sh up: PostgreSQL, two conductor-server nodes), runs tests/cluster one test at a time (each test
# starts its three worker replicas and its example API itself, tests/common/fleet.rs, and stops them at its end),
# and tears the cluster down again whatever happened (nothing is left running).
#
#   scripts/test-cluster.sh                        newest server (3.32.3)
#   scripts/test-cluster.sh --server-version V     another version, e.g. 3.21.14
#
# Arguments after `--` go to the test binary (e.g. `-- b_` runs test b only). A healthy cluster with the same
# settings that is already up is reused, and torn down at the end like a fresh one. KEEP_CLUSTER_DATA=1 keeps the
# cluster's temp dir (logs, database) after the teardown.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
version=${CONDUCTOR_SERVER_VERSION:-3.32.3}
test_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --server-version) version=$2; shift 2 ;;
    --) shift; test_args=("$@"); break ;;
    *) echo "unknown argument: $1 (usage: $0 [--server-version V] [-- TEST_ARGS...])" >&2; exit 2 ;;
  esac
done

# Build first, so compile time does not count against a running cluster (the test binary runs this build's worker).
cargo test --test cluster --locked --no-run

teardown() {
  local rc=$?
  if [ $rc -ne 0 ] && [ -s target/cluster/cluster.env ]; then
    data=$(sed -n 's/^CLUSTER_DATA=//p' target/cluster/cluster.env)
    for log in "$data"/node*/server.log "$data"/replica-*/worker.log; do
      [ -f "$log" ] || continue
      echo "--- last lines of $log" >&2
      tail -n 15 "$log" >&2
    done
  fi
  scripts/cluster.sh down || rc=1
  exit $rc
}
trap teardown EXIT

started=$SECONDS
scripts/cluster.sh up --version "$version"
echo "cluster up after $((SECONDS - started)) s"
cargo test --test cluster --locked -- --test-threads=1 --nocapture "${test_args[@]}"
echo "cluster tests passed against conductor-server $version after $((SECONDS - started)) s"
