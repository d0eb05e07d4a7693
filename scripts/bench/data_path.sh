#!/usr/bin/env bash
# Data-path benchmark: CSV ingest and SQL through the gateway, side by side with DuckDB's own
# Python package on the same file, in one run. Prints wall times, medians and ratios.
#
#   scripts/bench/data_path.sh            # BENCH_ROWS=1000000 by default (~140 MB of CSV)
#
# The machine is shared and noisy: compare the ratios taken in one run, not absolute figures.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
WORK="$PWD/data/bench-data"
VENV="$PWD/.venv-bench"
cargo build --release --workspace --bins --examples --locked >&2
if ! "$VENV/bin/python" -c 'import duckdb' 2>/dev/null; then
  python3 -m venv "$VENV" >&2
  "$VENV/bin/pip" install -q 'duckdb==2.0.0' >&2
fi
rm -rf "$WORK" && mkdir -p "$WORK"
exec "$VENV/bin/python" scripts/bench/data_path.py "$TARGET/release" "$WORK" "${BENCH_ROWS:-1000000}"
