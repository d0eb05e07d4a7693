"""Driver for scripts/bench/iceberg.sh (see there). Prints best-of-5 times in ms and ratios."""
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from fleet import Fleet  # noqa: E402

BIN, WORK, APPENDS = sys.argv[1], sys.argv[2], int(sys.argv[3])
GROUP = "SELECT city, count(*) AS n, avg(day_rate) AS rate FROM placements GROUP BY city ORDER BY city"


def best(fn, n=5):
    out = []
    for _ in range(n):
        t = time.perf_counter()
        r = fn()
        out.append((time.perf_counter() - t) * 1000)
    return min(out), r


def readers(f):
    import pyarrow as pa
    import pyarrow.compute as pc
    from pyiceberg.catalog.rest import RestCatalog
    import duckdb

    uri = f"http://127.0.0.1:{f.ports['gateway']}/v1/iceberg"
    cat = RestCatalog("lakehouse", uri=uri, token=f.token)
    loc = f.call("GET", "/v1/iceberg/v1/namespaces/lakehouse/tables/placements")["metadata-location"]
    con = duckdb.connect()
    import importlib.util
    import pathlib
    for name in ("avro", "iceberg"):
        pkg = pathlib.Path(importlib.util.find_spec(f"duckdb_extension_{name}").origin).parent
        con.execute(f"LOAD '{next(pkg.glob(f'extensions/v{duckdb.__version__}/{name}.duckdb_extension'))}'")

    def sql_arrow(q):
        body = json.dumps({"sql": q, "format": "arrow", "max_rows": 1_000_000}).encode()
        f.gw.request("POST", "/v1/sql", body=body, headers={"Authorization": f"Bearer {f.token}", "Content-Type": "application/json"})
        r = f.gw.getresponse()
        data = r.read()
        assert r.status == 200, data[:300]
        return pa.ipc.open_stream(data).read_all()

    def py_scan():
        return cat.load_table(("lakehouse", "placements")).scan().to_arrow()

    def py_group():
        t = py_scan()
        return t.group_by("city").aggregate([("city", "count"), ("day_rate", "mean")])

    rows = {}
    rows["scan /v1/sql (arrow)"], a = best(lambda: sql_arrow("SELECT * FROM placements"))
    rows["scan PyIceberg to_arrow"], b = best(py_scan)
    rows["scan DuckDB iceberg_scan"], c = best(lambda: con.execute("SELECT * FROM iceberg_scan(?)", [loc]).to_arrow_table())
    assert a.num_rows == b.num_rows == c.num_rows, (a.num_rows, b.num_rows, c.num_rows)
    rows["group /v1/sql"], g1 = best(lambda: sql_arrow(GROUP))
    rows["group PyIceberg + pyarrow"], g2 = best(py_group)
    rows["group DuckDB iceberg_scan"], g3 = best(lambda: con.execute(GROUP.replace("FROM placements", "FROM iceberg_scan(?)"), [loc]).fetchall())
    assert g1.num_rows == g2.num_rows == len(g3)
    counts = dict(zip(g1.column("city").to_pylist(), g1.column("n").to_pylist()))
    assert counts == {c: n for c, n, _ in g3}, "DuckDB's iceberg read disagrees with /v1/sql"
    print(f"rows: {a.num_rows}, files: {len(cat.load_table(('lakehouse', 'placements')).inspect.files())}")
    base = {"scan": rows["scan /v1/sql (arrow)"], "group": rows["group /v1/sql"]}
    for k, v in rows.items():
        print(f"  {k:30s} {v:9.1f} ms   {v / base[k.split()[0]]:5.2f}x /v1/sql")


def appends(f, name):
    out = []
    for i in range(APPENDS):
        t = time.perf_counter()
        f.ingest(name, f"id,label\n{i},x{i}\n")
        out.append((time.perf_counter() - t) * 1000)
    out.sort()
    return statistics.median(out), out[int(len(out) * 0.99) - 1]


fleets = []
try:
    for d in ("on", "off"):
        os.makedirs(os.path.join(WORK, d), exist_ok=True)
    on = Fleet(BIN, os.path.join(WORK, "on"))
    off = Fleet(BIN, os.path.join(WORK, "off"), {"catalogd": "[catalogd.iceberg]\nenabled = false"})
    for fl in (on, off):
        fleets.append(fl)
        fl.start_all()
    csv = open(os.path.join(WORK, "placements.csv")).read()
    on.ingest("placements", csv, "replace")
    print("reading one dataset (best of 5, same run):")
    readers(on)
    print(f"ingest of a 1-row append, {APPENDS} times, Iceberg metadata on vs off (median / p99 ms):")
    m_on, p_on = appends(on, "growing")
    m_off, p_off = appends(off, "growing")
    print(f"  on  {m_on:7.2f} / {p_on:7.2f}")
    print(f"  off {m_off:7.2f} / {p_off:7.2f}   on/off {m_on / m_off:4.2f}x")
finally:
    for fl in fleets:
        fl.stop_all()
