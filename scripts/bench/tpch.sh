#!/usr/bin/env bash
# TPC-H-style analytic workload: DuckDB's tpch extension generates the eight tables, each is
# ingested as CSV through the gateway, then the 22 queries run through /v1/sql and on DuckDB
# in process over the very same Parquet objects, in one run. Every answer is checked equal;
# prints the median per query and the ratio.
#
#   scripts/bench/tpch.sh             # BENCH_SF=0.1 by default (lineitem 600k rows)
#
# The generator and the peer are DuckDB's wheel 1.5.5 with its tpch extension (the newest
# release whose extensions are on PyPI; the fleet links 1.5.6). Compare ratios, not times.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
WORK="$PWD/data/bench-tpch"
VENV="$PWD/.venv-bench-tpch"
scripts/duckdb-lib.sh >/dev/null
cargo build --release --workspace --bins --locked >&2
if ! "$VENV/bin/python" -c 'import duckdb, duckdb_extension_tpch' 2>/dev/null; then
  python3 -m venv "$VENV" >&2
  "$VENV/bin/pip" install -q --only-binary=:all: duckdb==1.5.5 duckdb-extension-tpch==1.5.5 >&2
fi
rm -rf "$WORK" && mkdir -p "$WORK"
exec "$VENV/bin/python" scripts/bench/tpch.py "$TARGET/release" "$WORK" "${BENCH_SF:-0.1}"
