#!/usr/bin/env bash
# The fault suite, full form: 180 invoke-then-poll workflows over nine misbehaving-target scenarios while the worker
# is SIGKILLed and restarted and the conductor-oss server is SIGKILLed and restarted (SQLite file kept). Prints the
# report and keeps it in target/fault-report.json (the worker's log in target/fault-worker.log).
# The test command runs the same suite in reduced form (36 workflows).
#
#   scripts/fault-suite.sh                 180 workflows
#   FAULTS_WORKFLOWS=360 scripts/fault-suite.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export FAULTS_WORKFLOWS=${FAULTS_WORKFLOWS:-180}
cargo build --workspace --bins --tests --locked
cargo test --locked --test faults -- --nocapture
echo "report: target/fault-report.json"
