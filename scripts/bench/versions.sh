#!/usr/bin/env bash
# The cost of versions: register, ingest and SQL latency as one dataset's history grows (1,
# 100, 10,000 snapshots) and with 1,000 datasets; SQL as of an old version against the current
# one; garbage-collection throughput and catalogd's peak memory as the store grows. One run,
# one fleet, ratios against the no-history figures of the same run.
#
#   scripts/bench/versions.sh          # BENCH_SNAPSHOTS=10000 BENCH_DATASETS=1000 BENCH_GC_OBJECTS=20000
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
WORK="$PWD/data/bench-versions"
scripts/duckdb-lib.sh >/dev/null
cargo build --release --workspace --bins --locked >&2
rm -rf "$WORK" && mkdir -p "$WORK"
exec python3 scripts/bench/versions.py "$TARGET/release" "$WORK" \
  "${BENCH_SNAPSHOTS:-10000}" "${BENCH_DATASETS:-1000}" "${BENCH_GC_OBJECTS:-20000}"
