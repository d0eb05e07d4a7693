#!/usr/bin/env bash
# A real S3-compatible server (Garage, single node) on loopback for the S3 half of the tests
# and the storage benchmark.
#
#   eval "$(scripts/s3-server.sh start)"   # installs Garage on first use, starts it, exports
#                                           # LAKEHOUSE_TEST_S3_* and AWS_* for the tests
#   scripts/s3-server.sh stop
#
# State lives in $LAKEHOUSE_S3_DIR (default: data/test-s3); ports are picked free at start.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR="${LAKEHOUSE_S3_DIR:-$PWD/data/test-s3}"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
BUCKET=lakehouse-test
REGION=garage

log() { echo "s3-server: $*" >&2; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
hex() { python3 -c "import secrets; print(secrets.token_hex($1))"; }

stop() {
  if [ -f "$DIR/garage.pid" ]; then
    pid=$(cat "$DIR/garage.pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$DIR/garage.pid"
    log "stopped"
  fi
}

start() {
  bash scripts/install-garage.sh >&2
  stop
  rm -rf "$DIR" && mkdir -p "$DIR/meta" "$DIR/data"
  local rpc s3 admin key_id secret
  rpc=$(free_port); s3=$(free_port); admin=$(free_port)
  key_id="GK$(hex 12)"; secret=$(hex 32)
  cat > "$DIR/garage.toml" <<TOML
metadata_dir = "$DIR/meta"
data_dir = "$DIR/data"
db_engine = "lmdb"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$rpc"
rpc_public_addr = "127.0.0.1:$rpc"
rpc_secret = "$(hex 32)"

[s3_api]
s3_region = "$REGION"
api_bind_addr = "127.0.0.1:$s3"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "127.0.0.1:$admin"
TOML
  GARAGE_DEFAULT_ACCESS_KEY="$key_id" GARAGE_DEFAULT_SECRET_KEY="$secret" GARAGE_DEFAULT_BUCKET="$BUCKET" \
    RUST_LOG=warn nohup garage -c "$DIR/garage.toml" server --single-node --default-bucket \
    > "$DIR/garage.log" 2>&1 &
  echo $! > "$DIR/garage.pid"
  # Ready when the bucket answers a signed HEAD (the default bucket is made at startup).
  for _ in $(seq 1 100); do
    if garage -c "$DIR/garage.toml" bucket info "$BUCKET" >/dev/null 2>&1; then
      cat > "$DIR/env" <<ENV
export LAKEHOUSE_TEST_S3_ENDPOINT=http://127.0.0.1:$s3
export LAKEHOUSE_TEST_S3_REGION=$REGION
export LAKEHOUSE_TEST_S3_BUCKET=$BUCKET
export AWS_ACCESS_KEY_ID=$key_id
export AWS_SECRET_ACCESS_KEY=$secret
export LAKEHOUSE_S3_PID=$(cat "$DIR/garage.pid")
ENV
      log "garage $(garage --version | awk '{print $2}') ready on http://127.0.0.1:$s3 (bucket $BUCKET, state in $DIR)"
      cat "$DIR/env"
      return 0
    fi
    if ! kill -0 "$(cat "$DIR/garage.pid")" 2>/dev/null; then
      log "garage exited during startup:"; cat "$DIR/garage.log" >&2; return 1
    fi
    sleep 0.1
  done
  log "garage did not become ready in 10 s:"; tail -20 "$DIR/garage.log" >&2
  stop; return 1
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  env) cat "$DIR/env" ;;
  *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
