#!/usr/bin/env bash
# Builds the release binaries, starts the whole fleet on lakehouse.toml (local directory
# storage under ./data), waits until every service is ready, shows it working through the
# gateway, and runs until Ctrl-C, which stops every service cleanly.
#
#   scripts/up.sh                       # LAKEHOUSE_CONFIG=other.toml to use another config
#   UP_EXIT_AFTER_DEMO=1 scripts/up.sh  # stop after the demonstration
#   UP_SMOKE=1 scripts/up.sh            # also run scripts/smoke.sh against it (exits non-zero on a failure)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
CONFIG="${LAKEHOUSE_CONFIG:-lakehouse.toml}"
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
SERVICES=(storaged catalogd ingestd queryd vectord gateway)

echo "==> DuckDB's release library (fetched and verified once, then cached)"
scripts/duckdb-lib.sh >/dev/null
echo "==> building release binaries (the first build takes about 18 minutes on 2 cores)"
cargo build --release --bins --locked

mkdir -p data/logs
pids=()
stop_all() {
  trap - INT TERM EXIT
  if [ ${#pids[@]} -gt 0 ]; then
    echo; echo "==> stopping the fleet"
    kill -TERM "${pids[@]}" 2>/dev/null || true
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    echo "stopped; logs are in data/logs/, objects in data/objects/"
  fi
}
trap stop_all INT TERM EXIT

echo "==> starting ${SERVICES[*]}"
for svc in "${SERVICES[@]}"; do
  "$TARGET/release/$svc" --config "$CONFIG" >"data/logs/$svc.log" 2>&1 &
  pids+=($!)
done

# Ports and the demo come from the config itself, so a changed lakehouse.toml just works.
python3 - "$CONFIG" <<'PY'
import json, os, sys, time, tomllib, urllib.request, urllib.error

cfg = tomllib.load(open(sys.argv[1], "rb"))
token = os.environ.get("LAKEHOUSE_AUTH_TOKEN") or cfg.get("auth", {}).get("token", "")
services = ["storaged", "catalogd", "ingestd", "queryd", "vectord", "gateway"]
binds = {s: cfg[s]["bind"] for s in services}

def call(method, url, body=None):
    req = urllib.request.Request(url, data=body, method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()

deadline = time.time() + 60
for s in services:
    while True:
        try:
            status, body = call("GET", f"http://{binds[s]}/ready")
            if status == 200:
                break
        except OSError:
            pass
        if time.time() > deadline:
            sys.exit(f"{s} did not become ready in 60 s; see data/logs/{s}.log")
        time.sleep(0.2)

print("\n==> the fleet is ready")
implemented = {
    "gateway": "public edge, /v1 routes",
    "storaged": "objects (%s)" % cfg["storaged"].get("backend", "fs"),
    "catalogd": "dataset manifests",
    "ingestd": "CSV -> Parquet datasets",
    "queryd": "SQL (DuckDB)",
    "vectord": "vector indexes (HNSW)",
}
for s in services:
    print(f"  {s:9} http://{binds[s]:22} {implemented.get(s, 'health/ready only (not yet implemented)')}")
print("  logs      data/logs/<service>.log   auth:", "bearer token" if token else "open (loopback only)")

gw = f"http://{binds['gateway']}/v1"
key = "demo/hello world.txt"
path = "demo/hello%20world.txt"
print("\n==> demonstration through the gateway")
status, body = call("PUT", f"{gw}/storage/objects/{path}", f"hello from lakehouse at {time.ctime()}\n".encode())
print(f"PUT  /v1/storage/objects/{path} -> {status} {body.decode()}")
status, body = call("GET", f"{gw}/storage/list?prefix=demo/")
listing = json.loads(body)
print(f"GET  /v1/storage/list?prefix=demo/ -> {status}: " + ", ".join(f"{o['key']} ({o['size']} bytes)" for o in listing["objects"]))
status, body = call("GET", f"{gw}/storage/objects/{path}")
print(f"GET  /v1/storage/objects/{path} -> {status}: {body.decode().strip()}")
assert status == 200 and any(o["key"] == key for o in listing["objects"]), "demonstration failed"
status, body = call("GET", f"{gw}/storage/objects/demo/missing")
print(f"GET  /v1/storage/objects/demo/missing -> {status} {body.decode()}")

print("\n==> a CSV becomes a dataset, then SQL")
sample = os.path.join(os.environ.get("ROOT", "."), "docs/samples/placements.csv")
data = open(sample, "rb").read()
boundary = "lakehouse-demo-boundary"
form = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"placements.csv\"\r\n"
        f"Content-Type: text/csv\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
req = urllib.request.Request(f"{gw}/ingest?name=placements&mode=replace", data=form, method="POST")
req.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
if token:
    req.add_header("Authorization", f"Bearer {token}")
with urllib.request.urlopen(req, timeout=60) as r:
    ing = json.loads(r.read())
print(f"POST /v1/ingest?name=placements -> {ing['rows']} rows, version {ing['version']}, existing={ing['existing']}, {ing['elapsed_ms']} ms")
print("     columns: " + ", ".join(f"{c['name']} {c['type']}" for c in ing["schema"]))
sql = ("SELECT city, count(*) AS placements, round(avg(day_rate), 1) AS avg_day_rate, "
       "count(*) FILTER (WHERE remote) AS remote FROM placements GROUP BY city ORDER BY placements DESC, city")
status, body = call("POST", f"{gw}/sql", json.dumps({"sql": sql}).encode())
assert status == 200, body
res = json.loads(body)
print(f"POST /v1/sql  {sql}")
names = [c["name"] for c in res["columns"]]
cells = [[str(r[n]) for n in names] for r in res["rows"]]
widths = [max(len(n), *(len(row[i]) for row in cells)) for i, n in enumerate(names)]
line = "-+-".join("-" * w for w in widths)
print("     " + " | ".join(n.ljust(w) for n, w in zip(names, widths)))
print("     " + line)
for row in cells:
    print("     " + " | ".join(v.rjust(w) if v.replace(".", "").isdigit() else v.ljust(w) for v, w in zip(row, widths)))
print(f"     ({res['row_count']} rows, {res['elapsed_ms']} ms)")
assert res["row_count"] > 0, "demonstration failed"
PY

echo
echo "==> AI run logs become evidence (materializer; a second run finds only duplicates)"
"$TARGET/release/materializer" --config "$CONFIG" run --input services/materializer/fixtures --index evidence
echo
echo "==> replay retrieves evidence and bundles a prompt (--dry-run: no chat model needed)"
"$TARGET/release/replay" --config "$CONFIG" run --prompt "Where is order 1182?" --k 2 --dry-run

if [ "${UP_SMOKE:-0}" = "1" ]; then
  echo
  echo "==> smoke test of every route family (scripts/smoke.sh)"
  GATEWAY=$(python3 -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["gateway"]["bind"])' "$CONFIG")
  TOKEN=${LAKEHOUSE_AUTH_TOKEN:-$(python3 -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb")).get("auth", {}).get("token", ""))' "$CONFIG")}
  sh scripts/smoke.sh "http://$GATEWAY" "$TOKEN"
fi
if [ "${UP_EXIT_AFTER_DEMO:-0}" = "1" ]; then
  exit 0
fi
echo
echo "==> running; press Ctrl-C to stop"
wait
