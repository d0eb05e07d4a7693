"""Driver for scripts/bench/vector_sql.sh: nearest evidence and its rows, two ways, in one run
on a fleet over loopback. ROWS evidence rows (a dataset) and as many vectors (an index, dim 64,
metadata `kind`): (a) the two-call path, a search then `SELECT … WHERE evidence_id IN (ids)`;
(b) one statement, `vector_search(...)` joined with the dataset. Median latency of each at
k = 10 and 100, then a batch of 100 searches: 100 two-call pairs against one LATERAL
statement."""
import os
import random
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from fleet import Fleet  # noqa: E402

BIN, WORK, ROWS = sys.argv[1], sys.argv[2], int(sys.argv[3])
DIM, RUNS = 64, 30
rnd = random.Random(7)
fleet = Fleet(BIN, WORK)
fleet.start_all()


def vec():
    return [rnd.uniform(-1, 1) for _ in range(DIM)]


def lit(v, digits=6):
    return "[" + ", ".join(f"{x:.{digits}f}" for x in v) + "]::FLOAT[]"


try:
    fleet.call("POST", "/v1/vectors/index", {"name": "evidence", "dimension": DIM})
    lines = ["evidence_id,kind,response"]
    t0 = time.perf_counter()
    for start in range(0, ROWS, 5000):
        items = []
        for i in range(start, min(ROWS, start + 5000)):
            kind = f"k{i % 10}"
            items.append({"id": f"e{i}", "vector": vec(), "metadata": {"kind": kind}})
            lines.append(f"e{i},{kind},response text of record {i} " + "x" * 60)
        fleet.call("POST", "/v1/vectors/index/evidence/add", {"items": items})
    fleet.ingest("evidence", "\n".join(lines) + "\n")
    print(f"setup: {ROWS} vectors and rows in {time.perf_counter() - t0:.1f} s", flush=True)

    def two_calls(v, k):
        hits = fleet.call("POST", "/v1/vectors/index/evidence/search", {"vector": v, "k": k})["results"]
        ids = ", ".join(f"'{h['id']}'" for h in hits)
        rows = fleet.call("POST", "/v1/sql", {"sql": f"SELECT evidence_id, kind, response FROM evidence WHERE evidence_id IN ({ids})", "max_rows": 1000})["rows"]
        return len(rows)

    def one_statement(v, k):
        sql = (f"SELECT e.evidence_id, e.kind, e.response, v.distance FROM vector_search('evidence', {lit(v)}, k => {k}) v "
               "JOIN evidence e ON e.evidence_id = v.id ORDER BY v.distance")
        return len(fleet.call("POST", "/v1/sql", {"sql": sql, "max_rows": 1000})["rows"])

    def median_ms(f, k):
        f(vec(), k)  # warm
        times = []
        for _ in range(RUNS):
            v = vec()
            t = time.perf_counter()
            n = f(v, k)
            times.append((time.perf_counter() - t) * 1000)
            assert n == k, (f.__name__, n, k)
        return statistics.median(times)

    for k in (10, 100):
        a, b = median_ms(two_calls, k), median_ms(one_statement, k)
        print(f"k={k:<3}  two calls {a:7.2f} ms   one statement {b:7.2f} ms   ratio {b / a:.2f}", flush=True)

    # Three decimals keep 100 literal vectors under the 64 KiB SQL cap; both paths use them.
    queries = [[round(x, 3) for x in vec()] for _ in range(100)]
    t = time.perf_counter()
    for v in queries:
        two_calls(v, 10)
    a = (time.perf_counter() - t) * 1000
    values = ", ".join(f"({i}, {lit(v, 3)})" for i, v in enumerate(queries))
    sql = (f"SELECT q.i, e.evidence_id FROM (VALUES {values}) q(i, v), "
           "LATERAL vector_search('evidence', q.v, k => 10) s JOIN evidence e ON e.evidence_id = s.id")
    t = time.perf_counter()
    n = len(fleet.call("POST", "/v1/sql", {"sql": sql, "max_rows": 10000})["rows"])
    b = (time.perf_counter() - t) * 1000
    assert n == 1000, n
    print(f"100 searches, k=10: 100 two-call pairs {a:8.1f} ms   one LATERAL statement {b:8.1f} ms   ratio {b / a:.2f}")
finally:
    fleet.stop_all()
