"""Driver for scripts/bench/versions.sh (see there). Prints medians and p99 in ms."""
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from fleet import Fleet  # noqa: E402

BIN, WORK = sys.argv[1], sys.argv[2]
SNAPSHOTS, DATASETS, GC_OBJECTS = (int(a) for a in sys.argv[3:6])
f = Fleet(BIN, WORK, {"catalogd": "gc_interval_minutes = 0\ngc_grace_seconds = 0\nkeep_versions = 100000\nkeep_days = 30"})


def timed(fn, n):
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    out.sort()
    return statistics.median(out), out[min(len(out) - 1, int(len(out) * 0.99))]


def csv(start, n):
    return "id,label\n" + "".join(f"{i},row{i}\n" for i in range(start, start + n))


def sql(text, as_of=None):
    body = {"sql": text}
    if as_of is not None:
        body["as_of"] = as_of
    return f.call("POST", "/v1/sql", body)


try:
    f.start_all()
    # Two real objects of one dataset; its history is grown by registering them in turn.
    a = f.ingest("h", csv(0, 1000), "replace")
    first = f.call("GET", "/v1/catalog/manifest/h")["objects"][0]
    b = f.ingest("h", csv(1000, 500), "replace")
    m = f.call("GET", "/v1/catalog/manifest/h")
    first_version = a["catalog_version"]
    objs = [first, m["objects"][0]]
    flip = [0]

    def register():
        o = objs[flip[0] % 2]
        flip[0] += 1
        f.call("POST", "/v1/catalog/register", {"name": "h", "schema_fingerprint": m["schema_fingerprint"],
               "schema": m["schema"], "objects": [o]})

    seq = [0]

    def ingest():
        seq[0] += 1
        f.ingest("side", csv(seq[0] * 10, 10))

    rows = {}
    print("history of one dataset (register alternates two objects; ingest appends to another);")
    print("median / p99 ms over 50 calls (20 ingests), the history growing by the calls measured")
    print(f"  {'snapshots':>9} {'register':>17} {'ingest':>17} {'SQL now':>17} {'SQL as_of first':>17}")
    for target in (2, 100, SNAPSHOTS):
        while flip[0] + 2 < target:
            register()
        have = flip[0] + 2
        r = timed(register, 50)
        i = timed(ingest, 20)
        q = timed(lambda: sql("SELECT count(*) FROM h"), 50)
        sql("SELECT count(*) FROM h", first_version)
        o = timed(lambda: sql("SELECT count(*) FROM h", first_version), 50)
        rows[target] = (r, i, q, o)
        fmt = lambda p: f"{p[0]:7.2f} / {p[1]:7.2f}"
        print(f"  {have:9d} {fmt(r)} {fmt(i)} {fmt(q)} {fmt(o)}")
    base, big = rows[2], rows[SNAPSHOTS]
    print(f"  ratio {SNAPSHOTS} / 2 snapshots (medians): register {big[0][0] / base[0][0]:.2f}, "
          f"ingest {big[1][0] / base[1][0]:.2f}, SQL now {big[2][0] / base[2][0]:.2f}, "
          f"SQL as_of {big[3][0] / base[3][0]:.2f}")
    print(f"  as_of / current SQL at {SNAPSHOTS} snapshots: {big[3][0] / big[2][0]:.2f}")

    # As of a different version each time: the catalog list is fetched every query.
    versions = list(range(first_version + 2, first_version + 2 + 50))
    it = iter(versions)
    cold = timed(lambda: sql("SELECT count(*) FROM h", next(it)), 50)
    print(f"  SQL as_of a new version each query: {cold[0]:.2f} / {cold[1]:.2f} ms "
          f"(× {cold[0] / big[2][0]:.2f} current)")

    # Many datasets: commits (appends of one object to a small dataset) and SQL, 300 of each,
    # before and after 1,000 more datasets exist.
    f.call("POST", "/v1/catalog/append", {"name": "small", "schema_fingerprint": m["schema_fingerprint"],
           "schema": m["schema"], "create": True, "objects": []})
    n_small = [0]

    def append_small():
        n_small[0] += 1
        f.call("POST", "/v1/catalog/append", {"name": "small", "schema_fingerprint": m["schema_fingerprint"],
               "objects": [{"key": f"datasets/small/{n_small[0]}.parquet", "size": 1, "row_count": 0}]})
    before = (timed(append_small, 300), timed(lambda: sql("SELECT count(*) FROM h"), 300))
    fp = m["schema_fingerprint"]
    for d in range(DATASETS):
        f.call("POST", "/v1/catalog/register", {"name": f"many{d}", "schema_fingerprint": fp, "schema": m["schema"],
               "objects": []})
    after = (timed(append_small, 300), timed(lambda: sql("SELECT count(*) FROM h"), 300))

    def sql_after_change():
        register()
        sql("SELECT count(*) FROM h")
    changing = timed(sql_after_change, 30)
    print(f"\n{DATASETS} datasets: append {before[0][0]:.2f} → {after[0][0]:.2f} ms "
          f"(× {after[0][0] / before[0][0]:.2f}), SQL {before[1][0]:.2f} → {after[1][0]:.2f} ms "
          f"(× {after[1][0] / before[1][0]:.2f}); register + SQL after a change {changing[0]:.2f} ms")

    # A vector index searched as of a commit: cold (vectord just restarted, the state loaded
    # from storage), warm, and the current index, on the same queries.
    import random
    rng = random.Random(7)
    dim, n = 64, 20000
    f.call("POST", "/v1/vectors/index", {"name": "bench", "dimension": dim})
    for start in range(0, n, 1000):
        items = [{"id": str(i), "vector": [rng.random() for _ in range(dim)]} for i in range(start, start + 1000)]
        f.call("POST", "/v1/vectors/index/bench/add", {"items": items})
    t = time.perf_counter()
    c = f.call("POST", "/v1/vectors/index/bench/commit", {})
    commit_s = time.perf_counter() - t
    f.call("POST", "/v1/vectors/index/bench/add", {"items": [{"id": f"new{i}", "vector": [rng.random() for _ in range(dim)]} for i in range(1000)]})
    queries = [[rng.random() for _ in range(dim)] for _ in range(50)]
    f.stop("vectord")
    f.start("vectord")
    f.gw.close()
    t = time.perf_counter()
    f.call("POST", "/v1/vectors/index/bench/search", {"vector": queries[0], "k": 10, "as_of": c["version"]})
    cold = (time.perf_counter() - t) * 1000
    qi = iter(queries * 2)
    warm = timed(lambda: f.call("POST", "/v1/vectors/index/bench/search", {"vector": next(qi), "k": 10, "as_of": c["version"]}), 50)
    qi = iter(queries * 2)
    cur = timed(lambda: f.call("POST", "/v1/vectors/index/bench/search", {"vector": next(qi), "k": 10}), 50)
    print(f"\nvector index {n:,} × {dim}: commit {commit_s * 1000:.0f} ms; search as_of cold {cold:.1f} ms "
          f"(state loaded from storage), warm {warm[0]:.2f} / {warm[1]:.2f} ms, current {cur[0]:.2f} / {cur[1]:.2f} ms "
          f"(warm as_of × {warm[0] / cur[0]:.2f})")

    # Collection: unreferenced objects under datasets/junk/, catalogd's peak RSS per run.
    # The first collection also removes the log entries the checkpoints made unnecessary.
    t = time.perf_counter()
    r = f.call("POST", "/v1/catalog/gc", {})
    print(f"\nfirst collection: {r['log_objects_deleted']} log entries and checkpoints removed in "
          f"{time.perf_counter() - t:.2f} s")
    print("garbage collection (catalogd restarted before each run, so VmHWM is that run's peak)")
    for n in (GC_OBJECTS // 10, GC_OBJECTS):
        for j in range(n):
            f.call("PUT", f"/v1/storage/objects/datasets/junk/{n}-{j}.parquet", b"x")
        f.stop("catalogd")
        f.start("catalogd")
        base_rss = f.peak_rss_mib("catalogd")
        t = time.perf_counter()
        r = f.call("POST", "/v1/catalog/gc", {})
        s = time.perf_counter() - t
        peak = f.peak_rss_mib("catalogd")
        print(f"  {n:6d} junk objects: examined {r['objects_examined']} deleted {r['objects_deleted']} in {s:.2f} s "
              f"= {r['objects_examined'] / s:,.0f} objects/s; peak RSS {base_rss:.1f} → {peak:.1f} MiB")
finally:
    f.stop_all()
