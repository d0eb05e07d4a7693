"""Driver for scripts/bench/sql_stream.sh: a fleet on loopback (fs storage), one dataset of
ROWS rows, then `SELECT *` of all of it in each format through the gateway, read to the end
in chunks. Reports queryd's peak RSS for each answer (the kernel's high-water mark, reset
before each) and the wall time of each, next to DuckDB in-process on the same Parquet objects:
COPY to CSV and Parquet files (its own streaming writers) and a fetchall that holds the whole
result."""
import glob
import http.client
import json
import os
import resource
import sys
import time

import duckdb

sys.path.insert(0, os.path.dirname(__file__))
from fleet import Fleet  # noqa: E402

BIN, WORK, ROWS = sys.argv[1], sys.argv[2], int(sys.argv[3])
fleet = Fleet(BIN, WORK, {"catalogd": ""})


def rss_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak(pid):
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


def read_all(fmt):
    c = http.client.HTTPConnection("127.0.0.1", fleet.ports["gateway"], timeout=600)
    body = json.dumps({"sql": "SELECT * FROM stream", "format": fmt, "max_rows": ROWS})
    c.request("POST", "/v1/sql", body=body, headers={
        "Authorization": f"Bearer {fleet.token}", "Content-Type": "application/json"})
    r = c.getresponse()
    if r.status != 200:
        sys.exit(f"{fmt}: {r.status} {r.read()[:300]!r}")
    total = 0
    while True:
        chunk = r.read(1 << 20)
        if not chunk:
            break
        total += len(chunk)
    return total, r.getheader("x-lakehouse-streamed")


try:
    fleet.start_all()
    # The dataset, ingested in slices so the CSV never sits whole in this process.
    t = time.perf_counter()
    step = 500_000
    for start in range(0, ROWS, step):
        n = min(step, ROWS - start)
        lines = ["id,name,amount,day"] + [
            f"{i},name-{i % 9973},{(i % 10007) / 100:.2f},2026-11-{1 + i % 28:02d}"
            for i in range(start, start + n)]
        fleet.ingest("stream", "\n".join(lines) + "\n")
    print(f"dataset: {ROWS:,} rows, 4 columns (ingested in {time.perf_counter() - t:.1f} s)")
    qpid = fleet.procs["queryd"].pid
    # Warm the cache and the view so each figure is the answer alone.
    read_all("csv")
    print(f"queryd RSS at rest: {rss_mib(qpid):.0f} MiB")
    print(f"{'format':<8} {'bytes':>14} {'seconds':>8} {'MB/s':>7} {'queryd peak MiB':>16}")
    for fmt in ["json", "ndjson", "csv", "arrow", "parquet"]:
        reset_peak(qpid)
        t = time.perf_counter()
        size, streamed = read_all(fmt)
        dt = time.perf_counter() - t
        print(f"{fmt:<8} {size:>14,} {dt:>8.2f} {size / dt / 1e6:>7.1f} {peak_mib(qpid):>16.0f}"
              + ("" if streamed == "true" else "  (not streamed!)"))
    # The peer: DuckDB in this process over the same Parquet objects, Arrow batches to the end.
    files = sorted(glob.glob(os.path.join(WORK, "objects", "datasets", "stream", "**", "*.parquet"),
                         recursive=True))
    con = duckdb.connect()
    src = f"SELECT * FROM read_parquet({files!r})"
    for fmt, ext in [("csv", "csv"), ("parquet", "parquet")]:
        out = os.path.join(WORK, f"peer.{ext}")
        t = time.perf_counter()
        con.execute(f"COPY ({src}) TO '{out}' (FORMAT {fmt})")
        dt = time.perf_counter() - t
        size = os.path.getsize(out)
        os.remove(out)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"duckdb in-process COPY to {fmt}: {size:,} bytes in {dt:.2f} s "
              f"({size / dt / 1e6:.1f} MB/s), peak RSS of this process so far {peak:.0f} MiB")
    t = time.perf_counter()
    rows = con.execute(src).fetchall()
    dt = time.perf_counter() - t
    whole = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"duckdb in-process fetchall (the whole result held): {len(rows):,} rows in {dt:.2f} s, "
          f"peak RSS {whole:.0f} MiB")
finally:
    fleet.stop_all()
