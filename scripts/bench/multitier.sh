#!/usr/bin/env bash
# The multitier load test, after the reference system's harness: a 100,000-worker corpus
# (384-d vectors near 12 role centres, with metadata) behind the gateway, 50 concurrent
# clients for 5 minutes, six weighted scenarios — cold search + email draft + email
# validator (35 %), surge fill + fill validator + playbook record (15 %), profile swap with
# the first results excluded and no overlap allowed (15 %), the same search five times
# (15 %), SMS draft + SMS validator (10 %), playbook record then read back (10 %). Drafts
# come from a deterministic template generator, not a model: the load measures the
# platform. Prints scenarios/s, p50/p99 and the failure rate per scenario (with the first
# failure's reason), then each service's resident memory.
#
#   scripts/bench/multitier.sh
#   BENCH_N=20000 BENCH_CLIENTS=20 BENCH_SECONDS=60 scripts/bench/multitier.sh
#
# The machine is shared and noisy: compare figures taken in one run.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
WORK="$PWD/data/bench-multitier"
scripts/duckdb-lib.sh >/dev/null
cargo build --release --workspace --bins --locked >&2
rm -rf "$WORK" && mkdir -p "$WORK"
python3 scripts/bench/multitier.py "$TARGET/release" "$WORK" "${BENCH_N:-100000}" \
  "${BENCH_CLIENTS:-50}" "${BENCH_SECONDS:-300}"
rm -rf "$WORK"
