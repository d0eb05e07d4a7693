"""Driver for scripts/bench/tpch.sh: TPC-H data from DuckDB's generator, ingested as CSV
through the gateway; the 22 queries through /v1/sql against DuckDB in process on the same
Parquet objects, answers compared, medians and ratios printed."""
import datetime
import decimal
import importlib.util
import json
import math
import os
import pathlib
import statistics
import sys
import time

import duckdb

sys.path.insert(0, os.path.dirname(__file__))
from fleet import Fleet, multipart_file  # noqa: E402

BIN, WORK, SF = sys.argv[1], sys.argv[2], float(sys.argv[3])
TABLES = ["region", "nation", "supplier", "customer", "part", "partsupp", "orders", "lineitem"]
RUNS = int(os.environ.get("BENCH_RUNS", "5"))


def upload(fleet, name, path):
    """POST /v1/ingest with the file streamed as a multipart body."""
    body, headers = multipart_file(path, f"{name}.csv")
    return fleet.call("POST", f"/v1/ingest?name={name}", body, headers)


def cell(v):
    """A value both engines agree on: numbers as floats, dates as ISO text."""
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, (int, float, decimal.Decimal)):
        return float(v)
    if isinstance(v, (datetime.date, datetime.datetime)):
        return v.isoformat()
    return str(v)


def same(a, b):
    """Equal rows; sums of doubles may differ in their last bits with the order of a parallel
    aggregation, so numbers are compared to a relative 1e-9."""
    return len(a) == len(b) and all(
        math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9) if isinstance(x, float) and isinstance(y, float) else x == y
        for x, y in zip(a, b))


def json_value(v, ty):
    """/v1/sql's JSON carries DECIMAL and 128-bit integers as strings (no precision lost)."""
    if isinstance(v, str) and ty.startswith(("DECIMAL", "HUGEINT", "UHUGEINT")):
        return decimal.Decimal(v)
    return v


def main():
    gen = duckdb.connect()
    pkg = pathlib.Path(importlib.util.find_spec("duckdb_extension_tpch").origin).parent
    gen.execute(f"LOAD '{pkg / 'extensions' / f'v{duckdb.__version__}' / 'tpch.duckdb_extension'}'")
    t = time.perf_counter()
    gen.execute(f"CALL dbgen(sf={SF})")
    csv_dir = os.path.join(WORK, "csv")
    os.makedirs(csv_dir)
    for table in TABLES:
        gen.execute(f"COPY {table} TO '{csv_dir}/{table}.csv' (HEADER)")
    queries = dict(gen.execute("SELECT query_nr, query FROM tpch_queries()").fetchall())
    total_mb = sum(os.path.getsize(f"{csv_dir}/{t}.csv") for t in TABLES) / 1e6
    print(f"TPC-H sf={SF}: {len(TABLES)} tables, {total_mb:.1f} MB of CSV (generated in {time.perf_counter() - t:.1f} s)")

    fleet = Fleet(BIN, WORK)
    fleet.start_all()
    try:
        peer = duckdb.connect()
        for table in TABLES:
            t = time.perf_counter()
            r = upload(fleet, table, f"{csv_dir}/{table}.csv")
            print(f"  ingest {table:9} {r['rows']:>9,} rows {time.perf_counter() - t:6.2f} s")
            obj = os.path.join(WORK, "objects", r["object_key"])
            peer.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{obj}')")

        def ours(sql):
            t = time.perf_counter()
            r = fleet.call("POST", "/v1/sql", {"sql": sql, "max_rows": 100000})
            return time.perf_counter() - t, r

        def theirs(sql):
            t = time.perf_counter()
            cur = peer.execute(sql)
            rows = cur.fetchall()
            return time.perf_counter() - t, ([d[0] for d in cur.description], rows)

        print(f"\nqueries, median of {RUNS} after one warm-up (ms); ratio = /v1/sql / DuckDB {duckdb.__version__} in process")
        print(f"  {'query':6} {'rows':>5} {'/v1/sql':>9} {'DuckDB':>9} {'ratio':>7}")
        ratios, wrong = [], []
        for nr in sorted(queries):
            sql = queries[nr].strip().rstrip(";")
            _, got = ours(sql)
            _, (names, want) = theirs(sql)
            ours_rows = [[cell(json_value(row[c["name"]], c["type"])) for c in got["columns"]]
                         for row in got["rows"]]
            theirs_rows = [[cell(v) for v in row] for row in want]
            if len(ours_rows) != len(theirs_rows) or not all(map(same, ours_rows, theirs_rows)):
                wrong.append(nr)
                diff = next((i for i, (a, b) in enumerate(zip(ours_rows, theirs_rows)) if not same(a, b)), None)
                print(f"  Q{nr}: {len(ours_rows)} rows against {len(theirs_rows)}; first difference at row {diff}:"
                      f" {ours_rows[diff] if diff is not None else ''} against {theirs_rows[diff] if diff is not None else ''}")
            o = statistics.median(ours(sql)[0] for _ in range(RUNS)) * 1000
            d = statistics.median(theirs(sql)[0] for _ in range(RUNS)) * 1000
            ratios.append(o / d)
            mark = "" if nr not in wrong else "  ANSWER DIFFERS"
            print(f"  Q{nr:<5} {len(want):5} {o:9.1f} {d:9.1f} {o / d:7.2f}{mark}")
        geo = math.exp(sum(map(math.log, ratios)) / len(ratios))
        print(f"\n  geometric mean of the ratios: {geo:.2f}; answers equal: {len(queries) - len(wrong)} of {len(queries)}")
        if wrong:
            sys.exit(f"answers differ for {wrong}")
    finally:
        fleet.stop_all()


main()
