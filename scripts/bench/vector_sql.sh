#!/usr/bin/env bash
# Vector search inside SQL against the two-call path (search, then SQL by ids), on one fleet
# in one run: median latency at k = 10 and 100, and a batch of 100 searches.
#
#   scripts/bench/vector_sql.sh            # BENCH_ROWS=100000 by default
#
# The machine is shared and noisy: compare the ratios taken in one run, not absolute figures.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
WORK="$PWD/data/bench-vector-sql"
scripts/duckdb-lib.sh >/dev/null
cargo build --release --workspace --bins --locked >&2
rm -rf "$WORK" && mkdir -p "$WORK"
exec python3 scripts/bench/vector_sql.py "$TARGET/release" "$WORK" "${BENCH_ROWS:-100000}"
