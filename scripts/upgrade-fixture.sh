#!/usr/bin/env bash
# Writes the state a fleet of this build leaves in storage, as a fixture for the upgrade test
# (tests/tests/upgrade.rs), together with what the fleet answered about it:
#
#   scripts/upgrade-fixture.sh tests/fixtures/upgrade/<release>
#
# Run it with the binaries of a release before its formats change: the test then starts every
# later build on each fixture and expects the same answers. The fleet gets datasets with
# history (create, append, replace, delete), a vector index with a committed snapshot and
# write-log records after it, evidence from the materializer with its receipt, and the
# Iceberg metadata of every table. Needs the release binaries (cargo build --release --bins).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:?usage: scripts/upgrade-fixture.sh OUT_DIR}
TARGET="${CARGO_TARGET_DIR:-$PWD/target}/release"
WORK=$(mktemp -d)
pids=()
cleanup() {
  [ ${#pids[@]} -gt 0 ] && kill -TERM "${pids[@]}" 2>/dev/null || true
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

TOKEN=upgrade-fixture-token
ports=($(python3 -c 'import socket
ss=[socket.socket() for _ in range(6)]
[s.bind(("127.0.0.1",0)) for s in ss]
print(" ".join(str(s.getsockname()[1]) for s in ss))'))
GW=${ports[0]} ST=${ports[1]} CA=${ports[2]} IN=${ports[3]} QU=${ports[4]} VE=${ports[5]}
cat >"$WORK/lakehouse.toml" <<EOF
[auth]
token = "$TOKEN"
audit_log = ""
[gateway]
bind = "127.0.0.1:$GW"
storaged_url = "http://127.0.0.1:$ST"
catalogd_url = "http://127.0.0.1:$CA"
ingestd_url = "http://127.0.0.1:$IN"
queryd_url = "http://127.0.0.1:$QU"
vectord_url = "http://127.0.0.1:$VE"
[storaged]
bind = "127.0.0.1:$ST"
root = "objects"
[catalogd]
bind = "127.0.0.1:$CA"
storaged_url = "http://127.0.0.1:$ST"
gc_interval_minutes = 0
[catalogd.iceberg]
location = "file:///lakehouse-upgrade-fixture"
[ingestd]
bind = "127.0.0.1:$IN"
storaged_url = "http://127.0.0.1:$ST"
catalogd_url = "http://127.0.0.1:$CA"
tmp_dir = "tmp/ingestd"
[queryd]
bind = "127.0.0.1:$QU"
storaged_url = "http://127.0.0.1:$ST"
catalogd_url = "http://127.0.0.1:$CA"
cache_dir = "cache"
[vectord]
bind = "127.0.0.1:$VE"
storaged_url = "http://127.0.0.1:$ST"
catalogd_url = "http://127.0.0.1:$CA"
save_delay_ms = 100
[embed]
provider = "hash"
dimension = 32
[materializer]
gateway_url = "http://127.0.0.1:$GW"
tmp_dir = "tmp/materializer"
EOF

declare -A port=([gateway]=$GW [storaged]=$ST [catalogd]=$CA [ingestd]=$IN [queryd]=$QU [vectord]=$VE)
for svc in storaged catalogd ingestd queryd vectord gateway; do
  (cd "$WORK" && exec "$TARGET/$svc" --config lakehouse.toml >"$svc.log" 2>&1) &
  pids+=($!)
  for _ in $(seq 300); do
    "$TARGET/lakehouse" probe "http://127.0.0.1:${port[$svc]}/ready" 2>/dev/null && break
    sleep 0.1
  done
done

export LAKEHOUSE_URL="http://127.0.0.1:$GW" LAKEHOUSE_TOKEN="$TOKEN"
LH="$TARGET/lakehouse"
curl_v1() { curl -sS -f -H "Authorization: Bearer $TOKEN" "$@"; }

# Datasets with history: created, appended, replaced, one deleted.
"$LH" ingest docs/samples/placements.csv >/dev/null
printf 'day,orders,rate\n2026-11-01,10,1.5\n2026-11-02,12,2.25\n' >"$WORK/daily.csv"
printf 'day,orders,rate\n2026-11-03,9,1.75\n' >"$WORK/daily2.csv"
"$LH" ingest "$WORK/daily.csv" --name daily >/dev/null
"$LH" ingest "$WORK/daily2.csv" --name daily --mode append >/dev/null
printf 'a,b\n1,x\n' >"$WORK/gone.csv"
"$LH" ingest "$WORK/gone.csv" --name gone >/dev/null
curl_v1 -X DELETE "$LAKEHOUSE_URL/v1/catalog/manifest/gone" >/dev/null
printf 'a,b\n2,y\n3,z\n' >"$WORK/swap.csv"
"$LH" ingest "$WORK/swap.csv" --name swap >/dev/null
printf 'a,b\n4,w\n' >"$WORK/swap2.csv"
"$LH" ingest "$WORK/swap2.csv" --name swap --mode replace >/dev/null

# A vector index: a committed snapshot, then writes only in its log.
"$LH" vectors create docs --dimension 3 --distance euclidean >/dev/null
python3 -c 'import json
for i in range(40): print(json.dumps({"id": f"d{i}", "vector": [i, i % 7, 1.0], "metadata": {"even": i % 2 == 0}}))' >"$WORK/items.jsonl"
"$LH" vectors load docs "$WORK/items.jsonl" >/dev/null
curl_v1 -X POST "$LAKEHOUSE_URL/v1/vectors/index/docs/commit" >/dev/null
sleep 0.5
curl_v1 -d '{"items":[{"id":"late","vector":[100,0,1]}]}' "$LAKEHOUSE_URL/v1/vectors/index/docs/add" >/dev/null
curl_v1 -d '{"ids":["d3"]}' "$LAKEHOUSE_URL/v1/vectors/index/docs/delete" >/dev/null

# Evidence and its receipt.
(cd "$WORK" && "$TARGET/materializer" --config lakehouse.toml run --input "$OLDPWD/services/materializer/fixtures" --index evidence >/dev/null)

# Every table's Iceberg metadata, written by loading it.
for t in placements daily swap evidence; do
  curl_v1 "$LAKEHOUSE_URL/v1/iceberg/v1/namespaces/lakehouse/tables/$t" >/dev/null
done

# What the fleet answers now: the upgrade test expects the same from every later build.
python3 - "$LAKEHOUSE_URL" "$TOKEN" "$WORK/expect.json" <<'PY'
import json, sys, urllib.request
base, token, out = sys.argv[1], sys.argv[2], sys.argv[3]
def call(path, body=None):
    req = urllib.request.Request(base + "/v1" + path, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())
version = call("/catalog/version")["version"]
queries = [
    "SELECT count(*) AS n, sum(day_rate) AS s FROM placements",
    "SELECT day, orders, rate FROM daily ORDER BY day",
    "SELECT a, b FROM swap ORDER BY a",
    "SELECT kind, count(*) AS n FROM evidence GROUP BY kind ORDER BY kind",
]
sql = [{"sql": q, "rows": call("/sql", {"sql": q})["rows"]} for q in queries]
history = {n: [s["version"] for s in call(f"/catalog/manifest/{n}/history")["snapshots"]] for n in ["daily", "swap"]}
as_of = [{"sql": "SELECT count(*) AS n FROM daily", "as_of": history["daily"][-1],
          "rows": call("/sql", {"sql": "SELECT count(*) AS n FROM daily", "as_of": history["daily"][-1]})["rows"]}]
search = {"vector": [10, 3, 1], "k": 5}
indexes = {name: {"length": call(f"/vectors/index/{name}")["length"],
                  "search": search if name == "docs" else None,
                  "hits": [h["id"] for h in call(f"/vectors/index/{name}/search", search)["results"]] if name == "docs" else None}
           for name in call("/vectors/index")["names"]}
datasets = sorted(m["name"] for m in call("/catalog/list")["manifests"])
json.dump({"catalog_version": version, "datasets": datasets, "sql": sql, "as_of": as_of,
           "history": history, "indexes": indexes}, open(out, "w"), indent=1)
PY

kill -TERM "${pids[@]}"
for p in "${pids[@]}"; do wait "$p" || true; done
pids=()
rm -rf "$OUT"
mkdir -p "$OUT"
cp -r "$WORK/objects" "$OUT/objects"
cp "$WORK/expect.json" "$OUT/expect.json"
git describe --always --dirty >"$OUT/written-by"
echo "fixture written to $OUT ($(find "$OUT/objects" -type f | wc -l) objects, $(du -sh "$OUT" | cut -f1))"
