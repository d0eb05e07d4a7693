#!/usr/bin/env bash
# Playbook benchmark: pass rate on a fixed task set without and with worked examples from the
# playbook, against llama.cpp's llama-server with Gemma 3 270M (scripts/models.sh installs
# it). Train tasks (which spell the wanted format out) run first with --playbook, recording
# the answers that pass; the eval tasks ask the same in other words and run without, then
# with --use-playbook. A 270M base model copies a format from an example at best: read the
# rates as what the loop does end to end, not as what a capable model would gain.
#
#   scripts/bench/playbook.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
WORK="$PWD/data/bench-playbook"
scripts/duckdb-lib.sh >/dev/null
cargo build --release --workspace --bins --locked >&2
scripts/models.sh install-chat
trap 'scripts/models.sh stop' EXIT
eval "$(scripts/models.sh start-chat 18091)"
rm -rf "$WORK" && mkdir -p "$WORK"
python3 scripts/bench/playbook.py "$TARGET/release" "$WORK" "$LAKEHOUSE_CHAT_URL"
rm -rf "$WORK"
