"""Reads a lakehouse table with real Iceberg clients and prints what they saw, as JSON.

Used by the end-to-end tests (tests/tests/iceberg.rs) and the scan benchmark. Run with the
virtualenv of scripts/iceberg-clients.sh. One argument: a JSON spec
  {"uri": REST catalog URL, "token": bearer token, "table": name, "old_snapshot": id,
   "metadata_location": the table's current metadata file,
   "s3": {"endpoint", "region", "key_id", "secret"} (only on S3 storage),
   "repeat": scans per reader for timing (default 1)}
Rows are sorted by every column so readers can be compared with /v1/sql's answer.
"""

import datetime
import json
import os
import sys
import time


def canon(rows):
    def value(v):
        if isinstance(v, (datetime.date, datetime.datetime)):
            return v.isoformat(sep=" ") if isinstance(v, datetime.datetime) else v.isoformat()
        return v

    out = [{k: value(v) for k, v in r.items()} for r in rows]
    out.sort(key=lambda r: json.dumps(r, sort_keys=True))
    return out


def timed(repeat, f):
    best = None
    result = None
    for _ in range(repeat):
        t = time.perf_counter()
        result = f()
        ms = (time.perf_counter() - t) * 1000
        best = ms if best is None else min(best, ms)
    return result, best


def pyiceberg_reads(spec, out):
    from pyiceberg.catalog.rest import RestCatalog
    from pyiceberg.exceptions import NoSuchTableError

    props = {"uri": spec["uri"], "token": spec["token"]}
    s3 = spec.get("s3")
    if s3:
        # The reader's own credentials: the catalog hands out only endpoint and region.
        props.update({"s3.access-key-id": s3["key_id"], "s3.secret-access-key": s3["secret"]})
    cat = RestCatalog("lakehouse", **props)
    out["namespaces"] = [list(n) for n in cat.list_namespaces()]
    out["tables"] = sorted(".".join(t) for t in cat.list_tables("lakehouse"))
    out["exists"] = cat.table_exists(("lakehouse", spec["table"]))
    out["missing_exists"] = cat.table_exists(("lakehouse", "no_such_table"))
    try:
        cat.load_table(("lakehouse", "no_such_table"))
        out["missing_load"] = "loaded"
    except NoSuchTableError:
        out["missing_load"] = "NoSuchTableError"
    repeat = spec.get("repeat", 1)
    table, load_ms = timed(repeat, lambda: cat.load_table(("lakehouse", spec["table"])))
    out["snapshots"] = [s.snapshot_id for s in table.metadata.snapshots]
    out["current_snapshot"] = table.metadata.current_snapshot_id
    out["config"] = {k: v for k, v in table.io.properties.items() if k.startswith("s3.") and "secret" not in k and "access-key" not in k}
    rows, scan_ms = timed(repeat, lambda: table.scan().to_arrow().to_pylist())
    out["rows"] = canon(rows)
    out["rows_old"] = canon(table.scan(snapshot_id=spec["old_snapshot"]).to_arrow().to_pylist())
    out["load_ms"], out["scan_ms"] = load_ms, scan_ms


def duckdb_reads(spec, out):
    import importlib.util
    import pathlib

    import duckdb

    con = duckdb.connect()
    con.execute("SET autoinstall_known_extensions = false; SET autoload_known_extensions = false")
    # Offline: each extension from its PyPI package; avro before iceberg.
    for name in ("avro", "httpfs", "iceberg"):
        pkg = pathlib.Path(importlib.util.find_spec(f"duckdb_extension_{name}").origin).parent
        path = next(pkg.glob(f"extensions/v{duckdb.__version__}/{name}.duckdb_extension"))
        con.execute(f"LOAD '{path}'")
    s3 = spec.get("s3")
    if s3:
        endpoint = s3["endpoint"].split("://", 1)[1]
        con.execute(
            "CREATE SECRET store (TYPE s3, KEY_ID ?, SECRET ?, REGION ?, ENDPOINT ?, "
            "URL_STYLE 'path', USE_SSL false)".replace("?", "'{}'").format(
                s3["key_id"], s3["secret"], s3["region"], endpoint
            )
        )

    def rows(sql, *args):
        cur = con.execute(sql, list(args))
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]

    loc = spec["metadata_location"]
    repeat = spec.get("repeat", 1)
    current, scan_ms = timed(repeat, lambda: rows("SELECT * FROM iceberg_scan(?)", loc))
    out["rows"] = canon(current)
    out["scan_ms"] = scan_ms
    out["rows_old"] = canon(
        rows("SELECT * FROM iceberg_scan(?, snapshot_from_id => ?)", loc, spec["old_snapshot"])
    )
    out["snapshots"] = sorted(r["snapshot_id"] for r in rows("SELECT * FROM iceberg_snapshots(?)", loc))
    # The REST catalog, attached: DuckDB asks for /v1/config and loads the table itself.
    con.execute(f"CREATE SECRET rest (TYPE iceberg, TOKEN '{spec['token']}')")
    con.execute(
        f"ATTACH 'lakehouse' AS lh (TYPE iceberg, ENDPOINT '{spec['uri']}', SECRET rest)"
    )
    out["rest_rows"] = canon(rows(f'SELECT * FROM lh.lakehouse."{spec["table"]}"'))


def main():
    spec = json.loads(sys.argv[1])
    result = {}
    for name, reader in (("pyiceberg", pyiceberg_reads), ("duckdb", duckdb_reads)):
        out = {}
        try:
            reader(spec, out)
        except Exception as e:  # noqa: BLE001 - reported to the test, which fails on it
            out["error"] = f"{type(e).__name__}: {e}"
        result[name] = out
    json.dump(result, sys.stdout, default=str)


if __name__ == "__main__":
    os.environ.setdefault("PYICEBERG_HOME", os.getcwd())
    main()
