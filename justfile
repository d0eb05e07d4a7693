# Thin wrappers: CI runs the scripts directly, so `just` is optional.

# Build, start the fleet on lakehouse.toml, demonstrate, run until Ctrl-C.
up:
    scripts/up.sh

# The whole test suite (what CI runs).
test:
    scripts/test.sh

# Format and lint.
lint:
    scripts/duckdb-lib.sh >/dev/null
    cargo fmt --all -- --check
    cargo clippy --release --workspace --all-targets -- -D warnings

# Start / stop the Garage S3 server used by the S3 tests.
s3-start:
    scripts/s3-server.sh start
s3-stop:
    scripts/s3-server.sh stop

# Storage and gateway benchmark (prints its figures).
bench:
    scripts/bench/storage.sh

# Data-path benchmark: ingest and SQL through the gateway vs DuckDB in-process (prints figures).
bench-data:
    scripts/bench/data_path.sh

# TPC-H-style workload: the 22 queries through /v1/sql vs DuckDB in-process, answers checked.
bench-tpch:
    scripts/bench/tpch.sh
