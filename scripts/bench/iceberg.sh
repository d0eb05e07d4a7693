#!/usr/bin/env bash
# Other engines over the same data: a full scan and a GROUP BY of one dataset through
# /v1/sql against PyIceberg and DuckDB's iceberg extension reading the dataset as an Iceberg
# table (over the REST catalog / from its metadata file); and what writing the Iceberg
# metadata costs a commit (appends with [catalogd.iceberg] on and off). One run, one machine.
#
#   scripts/bench/iceberg.sh           # BENCH_ROWS=1000000 BENCH_APPENDS=200
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
WORK="$PWD/data/bench-iceberg"
scripts/duckdb-lib.sh >/dev/null
cargo build --release --workspace --bins --locked >&2
scripts/iceberg-clients.sh install
rm -rf "$WORK" && mkdir -p "$WORK"
python3 scripts/bench/gen_csv.py "${BENCH_ROWS:-1000000}" "$WORK/placements.csv"
exec "$(scripts/iceberg-clients.sh python)" scripts/bench/iceberg.py "$TARGET/release" "$WORK" \
  "${BENCH_APPENDS:-200}"
