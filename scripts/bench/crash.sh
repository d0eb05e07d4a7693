#!/usr/bin/env bash
# Crash campaign: CYCLES (default 100) SIGKILL cycles of each stateful service (storaged on
# fs, catalogd, vectord) under four concurrent writers; after every restart each
# acknowledged write must be present and whole and no cut write half-applied. Prints one
# line of figures per service. Usage: scripts/bench/crash.sh [CYCLES] [SERVICE...]
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/lakehouse/target}"
scripts/duckdb-lib.sh >/dev/null
cargo build --release --workspace --bins --examples --locked
LAKEHOUSE_BIN_DIR="$CARGO_TARGET_DIR/release" "$CARGO_TARGET_DIR/release/examples/crash_campaign" "${1:-100}" "${@:2}"
