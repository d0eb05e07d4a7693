#!/usr/bin/env bash
# DuckDB's official release library, fetched once instead of compiling DuckDB's C++ (docs/duckdb.md).
#
# The DuckDB project publishes its release build of libduckdb.so (parquet, json and
# core_functions built in) as the npm package @duckdb/node-bindings-linux-x64. This script
# downloads the pinned version from the npm registry, checks the tarball against the pinned
# SHA-512 (the registry's own `integrity` field), keeps it in the cache and puts the library in
# .duckdb/lib of this checkout, where cargo links it (.cargo/config.toml sets DUCKDB_LIB_DIR)
# and from where the built binaries load it (their rpath; see services/queryd/build.rs).
#
#   scripts/duckdb-lib.sh            # install (a no-op when already in place); prints the directory
#   scripts/duckdb-lib.sh check      # exit 1 unless the pinned library is in place
#
# Nothing else in the project downloads the library: a build without it stops with a message
# naming this script.
set -euo pipefail
cd "$(dirname "$0")/.."

# One pin: the release, its npm package revision and the tarball's SHA-512. The duckdb crate
# in Cargo.toml must be the line built for this release (1.10506.x for 1.5.6).
VERSION=1.5.6
PACKAGE_REVISION=1.5.6-r.1
SHA512=21772b64913a904a8cd19e30c1d5671811d7fdface4b7dd53cd0300d743f43e16cf386f4e7c41ef78721ac208870d2651bc6375072145387817824315b998dd5
CRATE_LINE=1.10506

ARCH=$(uname -m)
case "$ARCH" in
  x86_64) PKG=node-bindings-linux-x64 ;;
  *) echo "duckdb-lib: no pinned DuckDB release library for $ARCH (x86_64 only)" >&2; exit 1 ;;
esac
URL="${LAKEHOUSE_NPM_REGISTRY:-https://registry.npmjs.org}/@duckdb/$PKG/-/$PKG-$PACKAGE_REVISION.tgz"
CACHE="${LAKEHOUSE_CACHE:-$HOME/.cache/lakehouse}/duckdb/$PACKAGE_REVISION"
DEST=.duckdb/lib

crate_version=$(awk '/^name = "libduckdb-sys"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
case "$crate_version" in
  "$CRATE_LINE".*) ;;
  *) echo "duckdb-lib: Cargo.lock has libduckdb-sys $crate_version, built for another DuckDB than $VERSION ($CRATE_LINE.x)" >&2; exit 1 ;;
esac

in_place() { [ -f "$DEST/libduckdb.so" ] && [ "$(cat "$DEST/VERSION" 2>/dev/null)" = "$PACKAGE_REVISION" ]; }

if [ "${1:-install}" = check ]; then
  in_place && exit 0
  echo "duckdb-lib: DuckDB $VERSION is not in $DEST; run scripts/duckdb-lib.sh" >&2
  exit 1
fi

if ! in_place; then
  if [ ! -f "$CACHE/libduckdb.so" ]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    echo "duckdb-lib: fetching DuckDB $VERSION ($URL)" >&2
    curl -fsSL --retry 3 -o "$tmp/pkg.tgz" "$URL"
    got=$(sha512sum "$tmp/pkg.tgz" | cut -d' ' -f1)
    if [ "$got" != "$SHA512" ]; then
      echo "duckdb-lib: checksum mismatch for $URL: expected $SHA512, got $got" >&2
      exit 1
    fi
    tar -xzf "$tmp/pkg.tgz" -C "$tmp" package/libduckdb.so package/LICENSE
    mkdir -p "$CACHE"
    mv "$tmp/package/LICENSE" "$CACHE/LICENSE"
    mv "$tmp/package/libduckdb.so" "$CACHE/libduckdb.so.partial"
    mv "$CACHE/libduckdb.so.partial" "$CACHE/libduckdb.so"
  fi
  mkdir -p "$DEST"
  # A hard link when the cache shares the file system, a copy otherwise (never a symlink: a
  # docker build context and a copied checkout must carry the file itself).
  rm -f "$DEST/libduckdb.so"
  ln "$CACHE/libduckdb.so" "$DEST/libduckdb.so" 2>/dev/null || cp "$CACHE/libduckdb.so" "$DEST/libduckdb.so"
  cp "$CACHE/LICENSE" "$DEST/LICENSE"
  echo "$PACKAGE_REVISION" > "$DEST/VERSION"
fi
echo "$PWD/$DEST"
