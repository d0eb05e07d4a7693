#!/usr/bin/env bash
# The schema-driven fuzzer for the API contract test: schemathesis (from PyPI) in a
# virtualenv, run by tests/tests/openapi.rs against a real fleet with the fleet's own
# /v1/openapi.json.
#   scripts/api-fuzz.sh install   installs it (once; ~20 s)
#   scripts/api-fuzz.sh bin       prints the schemathesis executable
# The virtualenv is ~/.cache/lakehouse/venv-fuzz (LAKEHOUSE_FUZZ_VENV to choose another).
set -euo pipefail
VENV="${LAKEHOUSE_FUZZ_VENV:-$HOME/.cache/lakehouse/venv-fuzz}"
PACKAGES="schemathesis==4.32.5"
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
  bin) echo "$VENV/bin/schemathesis" ;;
  *) echo "usage: $0 install|bin" >&2; exit 2 ;;
esac
