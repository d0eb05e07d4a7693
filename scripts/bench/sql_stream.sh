#!/usr/bin/env bash
# Streaming SQL answers: queryd's peak memory and the time to read a 5M-row result through the
# gateway in every format, side by side with DuckDB's own Python package reading the same
# Parquet in-process, in one run.
#
#   scripts/bench/sql_stream.sh            # BENCH_ROWS=5000000 by default
#
# The machine is shared and noisy: compare the ratios taken in one run, not absolute figures.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
WORK="$PWD/data/bench-stream"
VENV="$PWD/.venv-bench"
scripts/duckdb-lib.sh >/dev/null
cargo build --release --workspace --bins --locked >&2
if ! "$VENV/bin/python" -c 'import duckdb' 2>/dev/null; then
  python3 -m venv "$VENV" >&2
  "$VENV/bin/pip" install -q 'duckdb==2.0.0' >&2
fi
rm -rf "$WORK" && mkdir -p "$WORK"
exec "$VENV/bin/python" scripts/bench/sql_stream.py "$TARGET/release" "$WORK" "${BENCH_ROWS:-5000000}"
