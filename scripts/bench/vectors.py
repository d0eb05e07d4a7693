"""The vector benchmark's in-process half: one data set, three engines in the same run.

Writes clustered unit vectors (the shape sentence embeddings have: many topics, each spread
over a few directions) and their exact top-10, then times hnswlib (M=16, ef_construction=200)
here, and our core (crates/vector/examples/ann_bench.rs) and hnsw_rs
(scripts/bench/hnsw_rs_baseline) as subprocesses. Prints a table and the ratios to hnswlib.

usage: vectors.py BIN_DIR WORK_DIR N DIM [--no-hnsw-rs] [--embeddings URL]
(hnsw_rs builds about 5x slower than the others; the 768-d run may leave it out.)

With --embeddings, the data are real sentence embeddings instead: every distinct Debian
package summary this machine's package lists hold (`apt-cache dumpavail`), embedded by the
OpenAI-compatible server at URL; 1,000 of them, held out, are the queries. N is then at most
the number of summaries.
"""

import json
import random
import subprocess
import sys
import time
import urllib.request

import hnswlib
import numpy as np

EFS = [16, 32, 64, 128, 256]
QUERIES = 1000


def clustered(rng, n, dim, centres, bases):
    """Points near one of the centres, spread over that topic's few directions."""
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 10000):
        m = min(10000, n - start)
        which = rng.integers(0, len(centres), m)
        z = rng.standard_normal((m, bases.shape[1])).astype(np.float32)
        x = centres[which] + np.einsum("nk,nkd->nd", z, bases[which]) * 0.6
        x += rng.standard_normal((m, dim)).astype(np.float32) * 0.05
        out[start:start + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def make_data(work, n, dim):
    rng = np.random.default_rng(42)
    topics = max(50, n // 500)
    centres = rng.standard_normal((topics, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    bases = (rng.standard_normal((topics, 12, dim)) / np.sqrt(dim)).astype(np.float32)
    base = clustered(rng, n, dim, centres, bases)
    queries = clustered(rng, QUERIES, dim, centres, bases)
    truth = exact_top10(base, queries)
    base.tofile(f"{work}/base.f32")
    queries.tofile(f"{work}/queries.f32")
    truth.tofile(f"{work}/truth.u32")
    return base, queries, truth


def summaries():
    out = subprocess.run(["apt-cache", "dumpavail"], check=True, capture_output=True,
                         text=True).stdout
    texts = sorted({l[len("Description: "):].strip() for l in out.splitlines()
                    if l.startswith("Description: ")})
    random.Random(42).shuffle(texts)
    return texts


def embed(url, texts, batch=256):
    vecs = []
    for i in range(0, len(texts), batch):
        body = json.dumps({"model": "bench", "input": texts[i:i + batch]}).encode()
        req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=600) as res:
            data = json.load(res)["data"]
        vecs.extend(d["embedding"] for d in sorted(data, key=lambda d: d["index"]))
    x = np.asarray(vecs, dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def real_data(work, n, url):
    texts = summaries()
    n = min(n, len(texts) - QUERIES)
    t = time.perf_counter()
    x = embed(url, texts[:n + QUERIES])
    print(f"embedded {len(x)} package summaries, {x.shape[1]}-d, in "
          f"{time.perf_counter() - t:.1f} s", flush=True)
    base, queries = x[:n], x[n:]
    truth = exact_top10(base, queries)
    base.tofile(f"{work}/base.f32")
    queries.tofile(f"{work}/queries.f32")
    truth.tofile(f"{work}/truth.u32")
    return base, queries, truth


def exact_top10(base, queries):
    truth = np.empty((len(queries), 10), dtype=np.uint32)
    for i in range(0, len(queries), 100):
        sims = queries[i:i + 100] @ base.T
        top = np.argpartition(-sims, 10, axis=1)[:, :10]
        order = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1)
        truth[i:i + 100] = np.take_along_axis(top, order, axis=1)
    return truth


def hnswlib_figures(base, queries, truth):
    out = []
    index = None
    for threads in (1, 2):
        index = hnswlib.Index(space="cosine", dim=base.shape[1])
        index.init_index(max_elements=len(base), M=16, ef_construction=200, random_seed=100)
        index.set_num_threads(threads)
        t = time.perf_counter()
        index.add_items(base, np.arange(len(base)))
        out.append({"engine": "hnswlib", "figure": "build", "threads": threads,
                    "seconds": round(time.perf_counter() - t, 3)})
    index.set_num_threads(1)
    for ef in EFS:
        index.set_ef(ef)
        # Queries/s from one batch call (no Python per query), the best of three as for our
        # core; latencies from single calls.
        total = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            labels, _ = index.knn_query(queries, k=10)
            total = min(total, time.perf_counter() - t)
        times = []
        for q in queries[:300]:
            s = time.perf_counter()
            index.knn_query(q, k=10)
            times.append(time.perf_counter() - s)
        times.sort()
        hits = sum(len(set(labels[i]) & set(truth[i])) for i in range(len(queries)))
        out.append({"engine": "hnswlib", "figure": "search", "ef": ef,
                    "recall": round(hits / (10 * len(queries)), 4),
                    "qps": round(len(queries) / total, 1),
                    "p50_ms": round(times[len(times) // 2] * 1e3, 4),
                    "p99_ms": round(times[int(len(times) * 0.99)] * 1e3, 4)})
    return out


def run_json(cmd):
    res = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]


def main():
    bin_dir, work, n, dim = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    t = time.perf_counter()
    if "--embeddings" in sys.argv:
        url = sys.argv[sys.argv.index("--embeddings") + 1]
        base, queries, truth = real_data(work, n, url)
        n, dim = base.shape
        print(f"data: {n} x {dim} real embeddings (Debian package summaries), {QUERIES} "
              f"held-out summaries as queries, exact top-10", flush=True)
    else:
        base, queries, truth = make_data(work, n, dim)
        print(f"data: {n} x {dim} clustered unit vectors, {QUERIES} queries, exact top-10 "
              f"({time.perf_counter() - t:.1f} s to generate)", flush=True)
    efs = ",".join(map(str, EFS))
    figures = hnswlib_figures(base, queries, truth)
    figures += run_json([f"{bin_dir}/examples/ann_bench", work, str(dim), efs])
    if "--no-hnsw-rs" not in sys.argv:
        figures += run_json([f"{bin_dir}/hnsw-rs-baseline", work, str(dim), efs])
    by = {(f["engine"], f["figure"], f.get("threads", f.get("ef", f.get("n")))): f for f in figures}
    engines = ["lakehouse", "hnswlib", "hnsw_rs"]

    print(f"\nbuild time (s), M=16, ef_construction=200, {n} x {dim}")
    print(f"{'threads':>8} " + " ".join(f"{e:>10}" for e in engines) + "   ours/hnswlib")
    for th in (1, 2):
        row = [by.get((e, "build", th), {}).get("seconds") for e in engines]
        ratio = row[0] / row[1] if row[0] and row[1] else float("nan")
        print(f"{th:>8} " + " ".join(f"{'-' if v is None else v:>10}" for v in row) + f"   {ratio:.2f}")

    print("\nsearch, k=10, one thread: recall@10 / queries/s / p50 ms / p99 ms")
    print(f"{'ef':>5} " + " ".join(f"{e:>34}" for e in engines) + "   qps ours/hnswlib")
    for ef in EFS:
        cells = []
        for e in engines:
            f = by.get((e, "search", ef))
            if not f:
                cells.append("-")
                continue
            cells.append(f"{f.get('recall', 0):.3f} {f.get('qps', 0):>8.0f} "
                         f"{f.get('p50_ms', 0):>7.3f} {f.get('p99_ms', 0):>7.3f}")
        ours, ref = by.get(("lakehouse", "search", ef)), by.get(("hnswlib", "search", ef))
        ratio = ours["qps"] / ref["qps"] if ours and ref else float("nan")
        print(f"{ef:>5} " + " ".join(f"{c:>34}" for c in cells) + f"   {ratio:.2f}")

    print("\nexact scan vs graph walk (k=10, ef=64), mean µs per query")
    for f in figures:
        if f["figure"] == "exact_vs_graph":
            print(f"  n={f['n']:>6}  exact {f['exact_us']:>8.1f}  graph {f['graph_us']:>8.1f}")
    print("\nfigures as JSON lines:")
    for f in figures:
        print(json.dumps(f))


if __name__ == "__main__":
    main()
