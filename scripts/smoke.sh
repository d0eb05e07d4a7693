#!/bin/sh
# Smoke test of a running deployment, through its gateway, with curl and POSIX tools only.
#
#   scripts/smoke.sh [GATEWAY_URL] [TOKEN]     # defaults: http://127.0.0.1:3110, $LAKEHOUSE_AUTH_TOKEN
#
# Checks every public route family (health, storage, ingest, catalog, Iceberg, SQL, vectors,
# and the model routes when the deployment has them) with harmless writes under a unique
# prefix, removes what it wrote, prints one line per check and a closing
# `N passed, N failed, N skipped`, and exits 1 when any check failed (2 on bad arguments).
# Deleting needs an admin token; with a lesser one the clean-up checks fail and say so.
set -u

BASE="${1:-${LAKEHOUSE_GATEWAY_URL:-http://127.0.0.1:3110}}"
TOKEN="${2:-${LAKEHOUSE_AUTH_TOKEN:-}}"
case "$BASE" in
  http://*|https://*) BASE="${BASE%/}" ;;
  *) echo "usage: $0 [GATEWAY_URL] [TOKEN]  (URL must start with http:// or https://)" >&2; exit 2 ;;
esac
command -v curl >/dev/null 2>&1 || { echo "smoke: curl is required" >&2; exit 2; }

ID="smoke_$(date +%s)_$$"
TMP="${TMPDIR:-/tmp}/lakehouse-$ID"
mkdir -p "$TMP" || exit 2
trap 'rm -rf "$TMP"' EXIT INT TERM
PASSED=0 FAILED=0 SKIPPED=0

# call METHOD PATH [curl args...]: sets $STATUS, the body in $TMP/body.
call() {
  method=$1 path=$2
  shift 2
  if [ -n "$TOKEN" ]; then
    STATUS=$(curl -sS -o "$TMP/body" -w '%{http_code}' -X "$method" \
      -H "Authorization: Bearer $TOKEN" --max-time 60 "$@" "$BASE$path" 2>"$TMP/err") || STATUS=000
  else
    STATUS=$(curl -sS -o "$TMP/body" -w '%{http_code}' -X "$method" \
      --max-time 60 "$@" "$BASE$path" 2>"$TMP/err") || STATUS=000
  fi
}

# check NAME WANT_STATUS PATTERN METHOD PATH [curl args...]: the status must be WANT_STATUS
# and the body must contain PATTERN (a fixed string; empty: anything).
check() {
  name=$1 want=$2 pattern=$3
  shift 3
  call "$@"
  if [ "$STATUS" = "$want" ] && { [ -z "$pattern" ] || grep -qF -- "$pattern" "$TMP/body"; }; then
    PASSED=$((PASSED + 1))
    echo "ok    $name"
  else
    FAILED=$((FAILED + 1))
    detail=$(head -c 300 "$TMP/body" 2>/dev/null | tr '\n' ' ')
    [ "$STATUS" = 000 ] && detail=$(head -c 300 "$TMP/err" | tr '\n' ' ')
    echo "FAIL  $name: got $STATUS, want $want${pattern:+ with '$pattern'}: $detail"
  fi
}

skip() {
  SKIPPED=$((SKIPPED + 1))
  echo "skip  $1"
}

# A JSON string or number field of the last body (flat values only, enough for ids).
field() {
  sed -n "s/.*\"$1\":\"\{0,1\}\([^\",}]*\).*/\1/p" "$TMP/body" | head -n 1
}

echo "smoke: $BASE, prefix $ID"

# Health and readiness need no token.
check "gateway /health" 200 '"status"' GET /health
check "fleet /ready" 200 '"ready"' GET /ready

# Storage: put, head, get, a range, list, delete.
KEY="raw/$ID/hello.txt"
check "storage put" 200 '"etag"' PUT "/v1/storage/objects/$KEY" --data-binary 'hello, lakehouse'
check "storage head" 200 '' HEAD "/v1/storage/objects/$KEY" -I
check "storage get" 200 'hello, lakehouse' GET "/v1/storage/objects/$KEY"
check "storage range" 206 'hello' GET "/v1/storage/objects/$KEY" -H 'Range: bytes=0-4'
check "storage list" 200 "$KEY" GET "/v1/storage/list?prefix=raw/$ID/&limit=10"
check "storage bad key refused" 400 '"error"' GET "/v1/storage/objects/raw/$ID/..%2F..%2Fx"

# Ingest a CSV, then append to it.
printf 'id,city,rate\n1,Lisbon,310.5\n2,Oslo,402\n3,Lisbon,288\n' > "$TMP/a.csv"
printf 'id,city,rate\n4,Oslo,350\n' > "$TMP/b.csv"
check "ingest create" 200 '"rows":3' POST "/v1/ingest?name=$ID" -F "file=@$TMP/a.csv"
V1=$(field catalog_version)
check "ingest append" 200 '"rows":1' POST "/v1/ingest?name=$ID&mode=append" -F "file=@$TMP/b.csv"
check "ingest bad CSV refused" 400 '"error"' POST "/v1/ingest?name=$ID" -F "file=@/dev/null"

# Catalog: manifest, history, version, log, list, as of a version.
check "catalog manifest" 200 "\"name\":\"$ID\"" GET "/v1/catalog/manifest/$ID"
check "catalog history" 200 '"snapshots"' GET "/v1/catalog/manifest/$ID/history"
check "catalog version" 200 '"version"' GET /v1/catalog/version
check "catalog log" 200 '"commits"' GET '/v1/catalog/log?limit=5'
check "catalog list" 200 "$ID" GET /v1/catalog/list
if [ -n "$V1" ]; then
  check "catalog manifest as of a version" 200 '"row_count":3' GET "/v1/catalog/manifest/$ID?version=$V1"
else
  skip "catalog manifest as of a version (no catalog_version in the ingest answer)"
fi
check "catalog unknown dataset" 404 '"error"' GET "/v1/catalog/manifest/${ID}_missing"

# Iceberg REST catalog.
check "iceberg config" 200 '"endpoints"' GET /v1/iceberg/v1/config
check "iceberg namespaces" 200 'lakehouse' GET /v1/iceberg/v1/namespaces
check "iceberg tables" 200 "$ID" GET /v1/iceberg/v1/namespaces/lakehouse/tables
check "iceberg load table" 200 '"metadata-location"' GET "/v1/iceberg/v1/namespaces/lakehouse/tables/$ID"

# SQL: JSON, CSV, as of the first version, and a refused escape.
SQL='{"sql":"SELECT city, count(*) AS n FROM '"$ID"' GROUP BY city ORDER BY city"}'
check "sql json" 200 '"Oslo"' POST /v1/sql -H 'Content-Type: application/json' -d "$SQL"
check "sql csv" 200 'Lisbon,2' POST /v1/sql -H 'Content-Type: application/json' \
  -d '{"sql":"SELECT city, count(*) AS n FROM '"$ID"' GROUP BY city ORDER BY city","format":"csv"}'
if [ -n "$V1" ]; then
  check "sql as of a version" 200 '"n":3' POST /v1/sql -H 'Content-Type: application/json' \
    -d '{"sql":"SELECT count(*) AS n FROM '"$ID"'","as_of":'"$V1"'}'
fi
check "sql tables" 200 "$ID" GET /v1/sql/tables
check "sql sandbox refuses files" 400 '"error"' POST /v1/sql -H 'Content-Type: application/json' \
  -d '{"sql":"SELECT * FROM read_csv('"'"'/etc/passwd'"'"')"}'

# Vectors: create, add, search, item, delete item, and the index itself below.
IDX="$ID"
check "vectors create index" 201 '' POST /v1/vectors/index -H 'Content-Type: application/json' \
  -d '{"name":"'"$IDX"'","dimension":3}'
check "vectors add" 200 '' POST "/v1/vectors/index/$IDX/add" -H 'Content-Type: application/json' \
  -d '{"items":[{"id":"a","vector":[1,0,0],"metadata":{"lang":"en"}},{"id":"b","vector":[0,1,0]}]}'
check "vectors search" 200 '"a"' POST "/v1/vectors/index/$IDX/search" -H 'Content-Type: application/json' \
  -d '{"vector":[1,0.1,0],"k":1}'
check "vectors item" 200 '"lang"' GET "/v1/vectors/index/$IDX/items/a"
check "vectors wrong dimension refused" 400 '"error"' POST "/v1/vectors/index/$IDX/search" \
  -H 'Content-Type: application/json' -d '{"vector":[1,0],"k":1}'
check "vectors delete item" 200 '' POST "/v1/vectors/index/$IDX/delete" -H 'Content-Type: application/json' \
  -d '{"ids":["b"]}'

# Model routes exist only where the deployment configures a model server.
call POST /v1/embeddings -H 'Content-Type: application/json' -d '{"input":"smoke","model":"default"}'
case "$STATUS" in
  200) PASSED=$((PASSED + 1)); echo "ok    embeddings" ;;
  404|502|503) skip "embeddings (no embedding server behind this gateway: $STATUS)" ;;
  *) FAILED=$((FAILED + 1)); echo "FAIL  embeddings: got $STATUS: $(head -c 300 "$TMP/body")" ;;
esac

# Clean up: the index, the dataset (its snapshots go with retention), the object.
check "cleanup: delete index" 204 '' DELETE "/v1/vectors/index/$IDX"
check "cleanup: delete dataset" 204 '' DELETE "/v1/catalog/manifest/$ID"
check "cleanup: delete object" 204 '' DELETE "/v1/storage/objects/$KEY"
check "cleanup: dataset gone" 404 '' GET "/v1/catalog/manifest/$ID"

echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
[ "$FAILED" -eq 0 ]
