#!/usr/bin/env bash
# Batch-job benchmark: the materializer on BENCH_LINES (default 1,000,000) synthetic
# openai_chat lines without and with --index (hash embeddings into vectord), an idempotent
# re-run, DuckDB's own Python package turning the same lines into Parquet as a peer, and the
# replay: retrieval both ways (`--retrieve calls`, a search then SQL by ids, against `sql`,
# one vector_search statement) over BENCH_TASKS tasks (default 20) in BENCH_ROUNDS alternating
# dry-run rounds (default 3), then the latency breakdown per step of a whole run each way
# against llama.cpp's llama-server with Gemma 3 270M (scripts/models.sh installs it;
# BENCH_CHAT=0 skips the model; BENCH_TASKS=0 skips replay; BENCH_INDEX=0 stops after the
# runs without an index and the fetch timing).
#
#   scripts/bench/jobs.sh
#
# The machine is shared and noisy: compare the ratios taken in one run, not absolute figures.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
WORK="$PWD/data/bench-jobs"
VENV="$PWD/.venv-bench"
scripts/duckdb-lib.sh >/dev/null
cargo build --release --workspace --bins --locked >&2
if ! "$VENV/bin/python" -c 'import duckdb' 2>/dev/null; then
  python3 -m venv "$VENV" >&2
  "$VENV/bin/pip" install -q 'duckdb==2.0.0' >&2
fi
CHAT_URL=""
if [ "${BENCH_TASKS:-20}" != 0 ] && [ "${BENCH_CHAT:-1}" != 0 ]; then
  scripts/models.sh install-chat
  trap 'scripts/models.sh stop' EXIT
  eval "$(scripts/models.sh start-chat 18090)"
  CHAT_URL="$LAKEHOUSE_CHAT_URL"
fi
rm -rf "$WORK" && mkdir -p "$WORK"
BENCH_INDEX="${BENCH_INDEX:-1}" "$VENV/bin/python" scripts/bench/jobs.py "$TARGET/release" "$WORK" "${BENCH_LINES:-1000000}" "${BENCH_TASKS:-20}" "$CHAT_URL"
