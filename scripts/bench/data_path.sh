#!/usr/bin/env bash
# Data-path benchmark: CSV ingest and SQL through the gateway, side by side with DuckDB's own
# Python package on the same file, in one run. Prints wall times, medians and ratios.
#
#   scripts/bench/data_path.sh            # BENCH_ROWS=1000000 by default (~140 MB of CSV)
#
# The machine is shared and noisy: compare the ratios taken in one run, not absolute figures.
# The peer is DuckDB's Python wheel of the same release as the library queryd links
# (scripts/duckdb-lib.sh). BENCH_BASELINE_ENGINE=path/to/engine_bench adds a column for
# another build of queryd's engine (e.g. one compiled from DuckDB's sources) on the same file.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
WORK="$PWD/data/bench-data"
VENV="$PWD/.venv-bench"
cargo build --release --workspace --bins --examples --locked >&2
scripts/duckdb-lib.sh >/dev/null
DUCKDB_VERSION=$(sed -n 's/^VERSION=//p' scripts/duckdb-lib.sh)
if [ "$("$VENV/bin/python" -c 'import duckdb; print(duckdb.__version__)' 2>/dev/null)" != "$DUCKDB_VERSION" ]; then
  python3 -m venv "$VENV" >&2
  "$VENV/bin/pip" install -q "duckdb==$DUCKDB_VERSION" >&2
fi
rm -rf "$WORK" && mkdir -p "$WORK"
exec "$VENV/bin/python" scripts/bench/data_path.py "$TARGET/release" "$WORK" "${BENCH_ROWS:-1000000}"
