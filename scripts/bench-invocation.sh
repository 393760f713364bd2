#!/usr/bin/env bash
# Invocation cost through the Lambda Runtime API (docs/BENCHMARKS.md, "Invocation cost"):
# builds the release binaries, installs the pinned Python and Node reference handlers, and runs
# tools/invoke-bench over every payload shape. Extra arguments go to the harness, e.g.
#   scripts/bench-invocation.sh --shapes order,free-text --runs 20
# Tools go to ${CDC_TOOLS_DIR:-$HOME/.cache/ddb-cdc-tools}/references; outputs and the
# handlers' logs to ${TMPDIR:-/tmp}/invoke-bench.
set -euo pipefail
cd "$(dirname "$0")/.."

tools=${CDC_TOOLS_DIR:-$HOME/.cache/ddb-cdc-tools}
target=${CARGO_TARGET_DIR:-target}

cargo build --release --locked -p stream-handler -p export-processor -p export-trigger \
    -p hello-runtime -p invoke-bench
tools/invoke-bench/reference/install.sh "$tools/references"

exec "$target/release/invoke-bench" \
    --stream-handler "$target/release/stream-handler" \
    --export-processor "$target/release/export-processor" \
    --export-trigger "$target/release/export-trigger" \
    --hello "$target/release/hello-runtime" \
    --references "$tools/references" \
    "$@"
