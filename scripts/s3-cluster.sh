#!/usr/bin/env bash
# A three-node Garage cluster on loopback (replication factor 3, one zone per node), to run
# the storage conformance suite against a real multi-node store with a node down.
#
#   scripts/s3-cluster.sh start          # starts the nodes, prints LAKEHOUSE_TEST_S3_* / AWS_*
#   scripts/s3-cluster.sh stop-node N    # SIGKILLs node N (1-3)
#   scripts/s3-cluster.sh start-node N
#   scripts/s3-cluster.sh status         # garage's own view of the cluster
#   scripts/s3-cluster.sh stop
#   scripts/s3-cluster.sh conformance    # start; run the S3 conformance tests through node 1,
#                                        # node 3 stopped mid-run, then a whole run without it;
#                                        # node 3 back; stop
#
# State lives in $LAKEHOUSE_S3_CLUSTER_DIR (default: data/test-s3-cluster); ports are picked
# free at start. Clients talk to node 1's S3 API; with one node of three down, every write
# still reaches a quorum of two.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR="${LAKEHOUSE_S3_CLUSTER_DIR:-$PWD/data/test-s3-cluster}"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
BUCKET=lakehouse-test
REGION=garage

log() { echo "s3-cluster: $*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
hex() { python3 -c "import secrets; print(secrets.token_hex($1))"; }
cfg() { echo "$DIR/node$1/garage.toml"; }

start_node() {
  local n=$1
  RUST_LOG=warn nohup garage -c "$(cfg "$n")" server > "$DIR/node$n/garage.log" 2>&1 &
  echo $! > "$DIR/node$n/pid"
  for _ in $(seq 1 100); do
    garage -c "$(cfg "$n")" node id -q >/dev/null 2>&1 && return 0
    kill -0 "$(cat "$DIR/node$n/pid")" 2>/dev/null || { log "node $n exited:"; cat "$DIR/node$n/garage.log" >&2; return 1; }
    sleep 0.1
  done
  log "node $n did not answer in 10 s"; return 1
}

stop_node() {
  local pidf="$DIR/node$1/pid"
  [ -f "$pidf" ] || return 0
  local pid; pid=$(cat "$pidf")
  kill -KILL "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  rm -f "$pidf"
}

stop() {
  for n in 1 2 3; do stop_node "$n"; done
  log "stopped"
}

start() {
  bash scripts/install-garage.sh >&2
  stop 2>/dev/null
  rm -rf "$DIR"
  local secret_rpc; secret_rpc=$(hex 32)
  for n in 1 2 3; do
    mkdir -p "$DIR/node$n/meta" "$DIR/node$n/data"
    local rpc s3 admin; rpc=$(free_port); s3=$(free_port); admin=$(free_port)
    echo "$s3" > "$DIR/node$n/s3_port"
    cat > "$(cfg "$n")" <<TOML
metadata_dir = "$DIR/node$n/meta"
data_dir = "$DIR/node$n/data"
db_engine = "lmdb"
replication_factor = 3
rpc_bind_addr = "127.0.0.1:$rpc"
rpc_public_addr = "127.0.0.1:$rpc"
rpc_secret = "$secret_rpc"

[s3_api]
s3_region = "$REGION"
api_bind_addr = "127.0.0.1:$s3"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "127.0.0.1:$admin"
TOML
    start_node "$n"
  done
  local g1=(garage -c "$(cfg 1)")
  for n in 2 3; do
    "${g1[@]}" node connect "$(garage -c "$(cfg "$n")" node id -q)" >/dev/null
  done
  for n in 1 2 3; do
    local id; id=$(garage -c "$(cfg "$n")" node id -q | cut -d@ -f1)
    "${g1[@]}" layout assign -z "zone$n" -c 1G "$id" >/dev/null
  done
  "${g1[@]}" layout apply --version 1 >/dev/null
  local key_id secret; key_id="GK$(hex 12)"; secret=$(hex 32)
  # The layout reaches every node within moments; until then bucket creation is refused.
  for _ in $(seq 1 100); do
    "${g1[@]}" key import --yes -n lakehouse "$key_id" "$secret" >/dev/null 2>&1 && break
    sleep 0.1
  done
  "${g1[@]}" bucket create "$BUCKET" >/dev/null
  "${g1[@]}" bucket allow --read --write --owner "$BUCKET" --key "$key_id" >/dev/null
  cat > "$DIR/env" <<ENV
export LAKEHOUSE_TEST_S3_ENDPOINT=http://127.0.0.1:$(cat "$DIR/node1/s3_port")
export LAKEHOUSE_TEST_S3_REGION=$REGION
export LAKEHOUSE_TEST_S3_BUCKET=$BUCKET
export AWS_ACCESS_KEY_ID=$key_id
export AWS_SECRET_ACCESS_KEY=$secret
ENV
  log "three garage nodes up (replication factor 3), S3 on node 1: http://127.0.0.1:$(cat "$DIR/node1/s3_port")"
  cat "$DIR/env"
}

healthy_nodes() { garage -c "$(cfg 1)" status 2>/dev/null | sed -n '/HEALTHY NODES/,/FAILED NODES/p' | grep -c 'cargo:' || true; }

wait_healthy() {
  for _ in $(seq 1 200); do
    [ "$(healthy_nodes)" -ge "$1" ] && return 0
    sleep 0.1
  done
  log "fewer than $1 healthy nodes after 20 s:"; garage -c "$(cfg 1)" status >&2; return 1
}

conformance() {
  eval "$(start)"
  trap stop EXIT
  wait_healthy 3
  local suite=(cargo test --release --workspace --locked --test conformance -- s3)
  "${suite[@]}" --list >/dev/null 2>&1  # built before anything is timed
  local out rc=0; out=$(mktemp)
  # 1. Node 3 goes down (SIGKILL) while the suite's S3 tests run through node 1.
  "${suite[@]}" > "$out" 2>&1 &
  local tests=$!
  sleep "${LAKEHOUSE_CLUSTER_KILL_AFTER:-1}"
  log "stopping node 3 (SIGKILL) during the run"
  stop_node 3
  wait "$tests" || rc=$?
  grep -E "^test result" "$out" | sed 's/^/s3-cluster: node 3 stopped mid-run: /' >&2
  grep -q "test result: ok" "$out" || { cat "$out"; rc=1; }
  # 2. A whole run with it down.
  "${suite[@]}" > "$out" 2>&1 || rc=$?
  grep -E "^test result" "$out" | sed 's/^/s3-cluster: node 3 down for the whole run: /' >&2
  grep -q "test result: ok" "$out" || { cat "$out"; rc=1; }
  # 3. Back: it rejoins.
  start_node 3
  wait_healthy 3 && log "node 3 rejoined: $(healthy_nodes) healthy nodes"
  rm -f "$out"
  return "$rc"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  stop-node) stop_node "${2:?node number}" ;;
  start-node) start_node "${2:?node number}" ;;
  status) garage -c "$(cfg 1)" status ;;
  conformance) conformance ;;
  *) echo "usage: $0 start|stop|stop-node N|start-node N|status|conformance" >&2; exit 2 ;;
esac
