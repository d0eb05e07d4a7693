#!/usr/bin/env bash
# Storage and gateway benchmark. Starts its own processes on free loopback ports (Garage,
# storaged on fs, storaged on s3, a gateway in front of the fs storaged), then prints:
#   1. PUT/GET MiB/s for 1 MiB and 64 MiB objects and 4 KiB ops/s at 8 clients, on fs and on
#      s3 through storaged, and the same operations straight against Garage with the AWS SDK
#      in the same run, with the ratio storaged-on-s3 / direct;
#   2. small GETs at 50 connections, direct to storaged vs through the gateway (overhead);
#   3. the gateway's resident memory before and after streaming a 200 MiB upload through it.
# The machine is shared and noisy: compare ratios taken in one run, not absolute figures.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
BIN="$TARGET/release"
WORK="$PWD/data/bench"
scripts/duckdb-lib.sh >/dev/null
cargo build --release --bins --locked >&2
rm -rf "$WORK" && mkdir -p "$WORK"
export LAKEHOUSE_S3_DIR="$WORK/garage"
eval "$(scripts/s3-server.sh start)"
pids=()
cleanup() { kill -TERM "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; scripts/s3-server.sh stop; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
FS=$(port); S3=$(port); GW=$(port)
cat > "$WORK/fs.toml" <<TOML
[common]
log_format = "json"
[storaged]
bind = "127.0.0.1:$FS"
root = "$WORK/objects"
max_concurrent_uploads = 16
[gateway]
bind = "127.0.0.1:$GW"
storaged_url = "http://127.0.0.1:$FS"
TOML
cat > "$WORK/s3.toml" <<TOML
[storaged]
bind = "127.0.0.1:$S3"
backend = "s3"
endpoint = "$LAKEHOUSE_TEST_S3_ENDPOINT"
region = "$LAKEHOUSE_TEST_S3_REGION"
bucket = "$LAKEHOUSE_TEST_S3_BUCKET"
max_concurrent_uploads = 16
TOML
RUST_LOG=warn "$BIN/storaged" --config "$WORK/fs.toml" > "$WORK/storaged-fs.log" 2>&1 & pids+=($!)
RUST_LOG=warn "$BIN/storaged" --config "$WORK/s3.toml" > "$WORK/storaged-s3.log" 2>&1 & pids+=($!)
RUST_LOG=warn "$BIN/gateway" --config "$WORK/fs.toml" > "$WORK/gateway.log" 2>&1 & GW_PID=$!; pids+=($GW_PID)
for p in $FS $S3 $GW; do
  for _ in $(seq 1 100); do python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$p/health')" 2>/dev/null && break; sleep 0.1; done
done
B="$BIN/lakehouse-bench"
OUT="$WORK/figures.txt"
echo "== object throughput (one client for 1/64 MiB; 8 clients for 4 KiB)"
"$B" http --base "http://127.0.0.1:$FS" --label storaged-fs | tee -a "$OUT"
"$B" http --base "http://127.0.0.1:$S3" --label storaged-s3 | tee -a "$OUT"
"$B" s3 --endpoint "$LAKEHOUSE_TEST_S3_ENDPOINT" --region "$LAKEHOUSE_TEST_S3_REGION" --bucket "$LAKEHOUSE_TEST_S3_BUCKET" --label direct-s3 | tee -a "$OUT"

echo "== small GETs at 50 connections (1 KiB object)"
python3 -c "import urllib.request as u; u.urlopen(u.Request('http://127.0.0.1:$FS/storage/objects/bench/small', data=b'x'*1024, method='PUT'))"
"$B" small-gets --url "http://127.0.0.1:$FS/storage/objects/bench/small" --label direct-storaged | tee -a "$OUT"
"$B" small-gets --url "http://127.0.0.1:$GW/v1/storage/objects/bench/small" --label via-gateway | tee -a "$OUT"

echo "== gateway memory while streaming a 200 MiB upload"
rss() { awk -v k="$2" '$1==k":" {print $2}' "/proc/$1/status"; }
before=$(rss "$GW_PID" VmRSS)
"$B" upload --url "http://127.0.0.1:$GW/v1/storage/objects/bench/big-upload" --size-mib 200 | tee -a "$OUT"
peak=$(rss "$GW_PID" VmHWM)
echo "gateway rss_before_kib $before" | tee -a "$OUT"
echo "gateway peak_rss_after_kib $peak" | tee -a "$OUT"

echo "== ratios"
python3 - "$OUT" <<'PY'
import sys
f = {}
for line in open(sys.argv[1]):
    parts = line.split()
    if len(parts) >= 3:
        f[(parts[0], parts[1])] = float(parts[2])
for op in ["put_1mib", "get_1mib", "put_64mib", "get_64mib", "put_4kib_8clients", "get_4kib_8clients"]:
    s, d = f[("storaged-s3", op)], f[("direct-s3", op)]
    print(f"storaged-s3 / direct-s3 {op:20} {s:9.1f} / {d:9.1f} = {s / d:5.2f}")
rd, rg = f[("direct-storaged", "requests_per_s")], f[("via-gateway", "requests_per_s")]
pd, pg = f[("direct-storaged", "p99")], f[("via-gateway", "p99")]
print(f"gateway overhead, small GETs at 50 connections: {rg:.0f} vs {rd:.0f} req/s ({(1 - rg / rd) * 100:+.1f}% fewer), p99 {pg:.2f} vs {pd:.2f} ms")
growth = (f[("gateway", "peak_rss_after_kib")] - f[("gateway", "rss_before_kib")]) / 1024
print(f"gateway peak RSS growth while streaming 200 MiB: {growth:.1f} MiB")
PY
