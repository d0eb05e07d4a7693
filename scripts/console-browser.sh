#!/usr/bin/env bash
# A real browser for the web console's tests: headless Chromium and its WebDriver from
# Debian's packages, driven by Selenium (from PyPI) in a virtualenv.
#   scripts/console-browser.sh install   installs them (once; the packages ~2 min, the wheel ~10 s)
#   scripts/console-browser.sh python    prints the virtualenv's python
# The virtualenv is ~/.cache/lakehouse/venv-console (LAKEHOUSE_CONSOLE_VENV to choose another).
set -euo pipefail
VENV="${LAKEHOUSE_CONSOLE_VENV:-$HOME/.cache/lakehouse/venv-console}"
PACKAGES="selenium==4.27.1"
STAMP="$VENV/lakehouse-packages"

case "${1:-}" in
  install)
    if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
      SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
      $SUDO apt-get update -qq >&2 && $SUDO apt-get install -y -qq chromium chromium-driver >&2
    fi
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
