#!/usr/bin/env bash
# Real Iceberg readers, for the tests and benchmarks that prove other engines read the
# lakehouse: PyIceberg (REST catalog, scans to Arrow) and DuckDB's own iceberg extension.
#   scripts/iceberg-clients.sh install   creates the virtualenv (once; ~1 min, wheels only)
#   scripts/iceberg-clients.sh python    prints the virtualenv's python
# DuckDB's iceberg, avro and httpfs extensions are published on PyPI for DuckDB 1.5.5 (none yet
# for 2.0), so this virtualenv pins that DuckDB; the fleet's own engine is separate.
# The virtualenv is ~/.cache/lakehouse/venv-iceberg (LAKEHOUSE_ICEBERG_VENV to choose another).
set -euo pipefail
VENV="${LAKEHOUSE_ICEBERG_VENV:-$HOME/.cache/lakehouse/venv-iceberg}"
PACKAGES="pyiceberg[pyarrow]==0.12.0 duckdb==1.5.5 duckdb-extension-iceberg==1.5.5 \
duckdb-extension-avro==1.5.5 duckdb-extension-httpfs==1.5.5"
STAMP="$VENV/lakehouse-packages"

case "${1:-}" in
  install)
    if [ "$(cat "$STAMP" 2>/dev/null)" != "$PACKAGES" ]; then
      [ -x "$VENV/bin/pip" ] || python3 -m venv "$VENV" >&2
      # shellcheck disable=SC2086
      "$VENV/bin/pip" install -q --only-binary=:all: $PACKAGES >&2
      printf '%s' "$PACKAGES" > "$STAMP"
    fi
    ;;
  python) echo "$VENV/bin/python" ;;
  *) echo "usage: $0 install|python" >&2; exit 2 ;;
esac
