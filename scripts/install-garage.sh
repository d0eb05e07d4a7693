#!/usr/bin/env bash
# Installs the Garage S3 server used by the S3 half of the test suite.
# Cached: does nothing when the pinned version already answers.
set -euo pipefail
GARAGE_VERSION="${GARAGE_VERSION:-2.5.0}"
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$CARGO_BIN:$PATH"
if command -v garage >/dev/null 2>&1 && garage --version 2>/dev/null | grep -q "v\?${GARAGE_VERSION}"; then
  echo "garage ${GARAGE_VERSION} already installed: $(command -v garage)"
  exit 0
fi
echo "installing garage ${GARAGE_VERSION} from crates.io (about 10-15 minutes on 2 cores)..."
cargo install garage --version "${GARAGE_VERSION}" --locked
garage --version
