"""Driver for scripts/bench/data_path.sh: starts the fleet (vectord only because the gateway's
readiness wants every upstream) on free loopback ports (fs storage), then measures against DuckDB in-process."""
import http.client
import json
import os
import statistics
import subprocess
import sys
import time

import duckdb

sys.path.insert(0, os.path.dirname(__file__))
from fleet import SERVICES, Fleet, multipart_file  # noqa: E402

BIN, WORK, ROWS = sys.argv[1], sys.argv[2], int(sys.argv[3])
fleet = Fleet(BIN, WORK)
TOKEN, ports, procs = fleet.token, fleet.ports, fleet.procs
start, stop = fleet.start, fleet.stop


def peak_rss_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


gw = http.client.HTTPConnection("127.0.0.1", ports["gateway"], timeout=600)


def call(method, path, body=None, headers=None):
    h = {"Authorization": f"Bearer {TOKEN}", **(headers or {})}
    gw.request(method, path, body=body, headers=h)
    r = gw.getresponse()
    data = r.read()
    if r.status >= 300:
        sys.exit(f"{method} {path} -> {r.status} {data[:500]!r}")
    return json.loads(data) if data else None


try:
    for s in SERVICES:
        start(s)
    csv = os.path.join(WORK, "placements.csv")
    t = time.perf_counter()
    subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "gen_csv.py"), str(ROWS), csv], check=True)
    size = os.path.getsize(csv)
    print(f"CSV: {ROWS:,} rows, {size / 1e6:.1f} MB (generated in {time.perf_counter() - t:.1f} s)")

    # Ingest: the whole upload, as a streaming multipart body, until the answer.
    body, headers = multipart_file(csv, "p.csv")
    t = time.perf_counter()
    ing = call("POST", "/v1/ingest?name=placements", body, headers)
    ingest_s = time.perf_counter() - t
    rss = peak_rss_mib(procs["ingestd"].pid)

    con = duckdb.connect()
    out = os.path.join(WORK, "duckdb.parquet")
    t = time.perf_counter()
    con.execute(f"COPY (SELECT * FROM read_csv('{csv}')) TO '{out}' (FORMAT parquet, COMPRESSION zstd)")
    duck_ingest_s = time.perf_counter() - t
    print(f"\ningest ({ing['rows']:,} rows → {ing['object_key']})")
    print(f"  POST /v1/ingest           {ingest_s:7.2f} s")
    print(f"  DuckDB COPY read_csv→parquet {duck_ingest_s:7.2f} s   ratio {ingest_s / duck_ingest_s:.2f} (target ≤ 1.5)")
    print(f"  ingestd peak RSS          {rss:7.1f} MiB = {rss * 1024 * 1024 / size:.2f} × the CSV (target ≤ 1.0)")

    # Queries: the same Parquet object in both engines.
    parquet = os.path.join(WORK, "objects", ing["object_key"])
    con.execute(f"CREATE VIEW placements AS SELECT * FROM read_parquet('{parquet}')")
    queries = {
        "count(*)": "SELECT count(*) FROM placements",
        "GROUP BY + avg": "SELECT city, count(*) AS n, avg(day_rate) AS rate FROM placements GROUP BY city ORDER BY n DESC",
        "filter ORDER BY LIMIT": "SELECT placement_id, candidate, day_rate FROM placements WHERE remote AND city = 'Lisbon' ORDER BY day_rate DESC, placement_id LIMIT 20",
        "LIKE scan": "SELECT count(*) FROM placements WHERE notes LIKE '%excellent%'",
    }

    def ours(sql):
        t = time.perf_counter()
        r = call("POST", "/v1/sql", json.dumps({"sql": sql}).encode(), {"Content-Type": "application/json"})
        return time.perf_counter() - t, r

    def theirs(sql):
        t = time.perf_counter()
        r = con.execute(sql).fetchall()
        return time.perf_counter() - t, r

    # The first query after a queryd restart (cache on disk, DuckDB cold), then with no cache.
    ours(queries["count(*)"])
    stop("queryd")
    start("queryd")
    restart_warm_cache = ours(queries["count(*)"])[0]
    stop("queryd")
    subprocess.run(["rm", "-rf", os.path.join(WORK, "cache")], check=True)
    start("queryd")
    restart_cold_cache = ours(queries["count(*)"])[0]

    # queryd's engine alone (same DuckDB build, same wrapped statements, no HTTP).
    def engine_figures(binary):
        return json.loads(subprocess.run(
            [binary, parquet], input=json.dumps(queries),
            capture_output=True, text=True, check=True).stdout)

    engine = engine_figures(os.path.join(BIN, "examples", "engine_bench"))
    baseline_bin = os.environ.get("BENCH_BASELINE_ENGINE")
    baseline = engine_figures(baseline_bin) if baseline_bin else None

    print(f"\nqueries, median of 5 after one warm-up (ms); ratio = gateway / DuckDB's Python package {duckdb.__version__}")
    extra = f" {'baseline':>9} {'eng/base':>8}" if baseline else ""
    print(f"  {'query':24} {'gateway':>9} {'engine':>9} {'DuckDB':>9} {'ratio':>7} {'eng/DuckDB':>10}{extra}")
    for label, sql in queries.items():
        o, d = ours(sql), theirs(sql)
        assert len(o[1]["rows"]) == len(d[1]), (label, o[1], d[1])
        ot = statistics.median(ours(sql)[0] for _ in range(5)) * 1000
        dt = statistics.median(theirs(sql)[0] for _ in range(5)) * 1000
        more = f" {baseline[label]:9.1f} {engine[label] / baseline[label]:8.2f}" if baseline else ""
        print(f"  {label:24} {ot:9.1f} {engine[label]:9.1f} {dt:9.1f} {ot / dt:7.2f} {engine[label] / dt:10.2f}{more}")
    print("  (engine: queryd's DuckDB in process, no HTTP, catalog check or encoding"
          + (f"; baseline: {baseline_bin}" if baseline else "") + ")")
    # Where the fixed cost goes: a query that touches no data, through the gateway and direct.
    qd = http.client.HTTPConnection("127.0.0.1", ports["queryd"], timeout=60)

    def direct(sql):
        t = time.perf_counter()
        qd.request("POST", "/sql", json.dumps({"sql": sql}).encode(),
                   {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
        r = qd.getresponse()
        r.read()
        assert r.status == 200, r.status
        return time.perf_counter() - t

    for label, sql in [("SELECT 1", "SELECT 1"), ("count(*)", queries["count(*)"])]:
        ours(sql), direct(sql)
        g = statistics.median(ours(sql)[0] for _ in range(9)) * 1000
        d = statistics.median(direct(sql) for _ in range(9)) * 1000
        print(f"  {label:24} {g:9.1f} ms through the gateway, {d:.1f} ms straight to queryd")
    print(f"\nfirst count(*) after a queryd restart: {restart_warm_cache * 1000:.1f} ms with the cache on disk, "
          f"{restart_cold_cache * 1000:.1f} ms with an empty cache (fetches the object through storaged)")
finally:
    for name in list(procs):
        stop(name)
