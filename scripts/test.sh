#!/usr/bin/env bash
# The test command: unit tests, then the integration suite against a real conductor-oss server that this script
# fetches (Maven Central), starts on a free loopback port with its SQLite file in a temp dir, and stops afterwards;
# then the deployment files are validated offline, including `promtool check metrics` on a live /metrics scrape
# taken by the integration suite (target/live-metrics.txt). Missing validators are installed first.
#
#   scripts/test.sh                       newest server (3.32.3)
#   scripts/test.sh --server-version V    another version, e.g. 3.21.14
#   scripts/test.sh --integration-only    only the integration suite (tests/it): no unit tests, dependency
#                                         checks, fault suite or deployment validation (.ci/run uses it for the
#                                         second server version)
#
# Extra arguments after `--` go to `cargo test` (e.g. `-- --test it tutorial`).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
version=${CONDUCTOR_SERVER_VERSION:-3.32.3}
cargo_args=()
integration_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --server-version) version=$2; shift 2 ;;
    --integration-only) integration_only=1; shift ;;
    --) shift; cargo_args=("$@"); break ;;
    *) echo "unknown argument: $1 (usage: $0 [--server-version V] [--integration-only] [-- CARGO_TEST_ARGS...])" >&2
       exit 2 ;;
  esac
done

if [ $integration_only = 0 ]; then
  scripts/ensure-tools.sh
  # Licenses, sources and bans of every dependency (advisories need GitHub, unreachable here: RELIABILITY.md).
  cargo deny --locked check licenses sources bans
fi
# Build first, so compile time does not count against a running server.
cargo build --workspace --all-targets --locked
rm -f target/live-metrics.txt

data=$(mktemp -d "${TMPDIR:-/tmp}/conductor-it.XXXXXX")
cleanup() {
  scripts/conductor-server.sh stop "$data"
  if [ "${KEEP_SERVER_DATA:-}" = "1" ]; then echo "server data kept in $data"; else rm -rf "$data"; fi
}
trap cleanup EXIT

url=$(scripts/conductor-server.sh start "$data" "$version")
echo "conductor-server $version at $url"
export CONDUCTOR_IT_SERVER_URL=$url
export CONDUCTOR_IT_SERVER_VERSION=$version
# The fault suite starts servers of its own through scripts/conductor-server.sh: the same version.
export CONDUCTOR_SERVER_VERSION=$version
# Unit tests of both crates, the integration suite (tests/it), the hostile-script timings (tests/hostile_scripts,
# alone so that parallel tests do not disturb them) and the reduced fault suite (tests/faults, which starts
# and kills a server of its own). The cluster tests (tests/cluster) need scripts/test-cluster.sh.
targets=(--workspace --lib --bins --test it --test hostile_scripts --test faults)
if [ $integration_only = 1 ]; then targets=(--test it); fi
if ! cargo test --locked "${targets[@]}" "${cargo_args[@]}"; then
  echo "tests failed; last server log lines:" >&2
  tail -n 40 "$data/server.log" >&2 || true
  exit 1
fi
if [ $integration_only = 1 ]; then
  echo "integration suite passed against conductor-server $version"
elif [ -s target/live-metrics.txt ]; then
  scripts/validate-deploy.sh --metrics target/live-metrics.txt
else
  echo "no live metrics scrape (a filtered test run?): validating the deployment files without it" >&2
  scripts/validate-deploy.sh
fi
