"""Batch-job benchmark driver (see jobs.sh): generates synthetic openai_chat logs, runs a
real fleet on loopback, times the materializer and replay, and prints the figures."""
import json, os, random, statistics, subprocess, sys, time, urllib.request

BIN, WORK, LINES, TASKS, CHAT = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
BASE = 3510
SERVERS = ["storaged", "catalogd", "ingestd", "queryd", "vectord", "gateway"]
PORT = {s: BASE + i for i, s in enumerate(SERVERS)}
URL = {s: f"http://127.0.0.1:{p}" for s, p in PORT.items()}
WORDS = ("order refund delivery invoice account password shipping address payment card late "
         "damaged return label tracking warehouse customer support agent policy discount coupon "
         "subscription cancel upgrade plan billing receipt email phone store pickup weekend").split()


def generate(path_dir, n, files=10):
    rnd = random.Random(7)
    os.makedirs(path_dir, exist_ok=True)
    start = 1_793_000_000  # 2026-10-27
    per = n // files
    size = 0
    for f in range(files):
        p = os.path.join(path_dir, f"part-{f:02d}.jsonl")
        with open(p, "w") as out:
            for i in range(f * per, (f + 1) * per if f < files - 1 else n):
                q = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(8, 40)))
                a = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(10, 60)))
                ts = start + rnd.randint(0, 30 * 86400)
                line = {
                    "timestamp": ts, "latency_ms": rnd.randint(200, 4000),
                    "request": {"model": "gpt-4o-mini", "temperature": 0.2, "messages": [
                        {"role": "system", "content": "You are a support agent."},
                        {"role": "user", "content": f"Ticket {i}: {q}?"}]},
                    "response": {"id": f"chatcmpl-{i}", "object": "chat.completion", "created": ts,
                                 "model": "gpt-4o-mini-2024-07-18",
                                 "choices": [{"index": 0, "message": {"role": "assistant", "content": a},
                                              "finish_reason": "stop"}],
                                 "usage": {"prompt_tokens": 20 + len(q) // 4, "completion_tokens": len(a) // 4,
                                           "total_tokens": 20 + (len(q) + len(a)) // 4}},
                    "metadata": {"task": f"ticket-{i % 500}"}}
                out.write(json.dumps(line) + "\n")
        size += os.path.getsize(p)
    return size


def config(work, chat):
    chat_section = f'[chat]\nurl = "{chat}/"\nmodel = "gemma-3-270m"\n' if chat else ""
    text = f"""[common]
log_format = "json"
[auth]
token = ""
[gateway]
bind = "127.0.0.1:{PORT['gateway']}"
storaged_url = "{URL['storaged']}"
catalogd_url = "{URL['catalogd']}"
ingestd_url = "{URL['ingestd']}"
queryd_url = "{URL['queryd']}"
vectord_url = "{URL['vectord']}"
[storaged]
bind = "127.0.0.1:{PORT['storaged']}"
root = "{work}/objects"
[catalogd]
bind = "127.0.0.1:{PORT['catalogd']}"
storaged_url = "{URL['storaged']}"
[ingestd]
bind = "127.0.0.1:{PORT['ingestd']}"
storaged_url = "{URL['storaged']}"
catalogd_url = "{URL['catalogd']}"
tmp_dir = "{work}/ingest-tmp"
[queryd]
bind = "127.0.0.1:{PORT['queryd']}"
storaged_url = "{URL['storaged']}"
catalogd_url = "{URL['catalogd']}"
vectord_url = "{URL['vectord']}"
cache_dir = "{work}/cache"
[vectord]
bind = "127.0.0.1:{PORT['vectord']}"
storaged_url = "{URL['storaged']}"
catalogd_url = "{URL['catalogd']}"
[embed]
provider = "hash"
dimension = 384
{chat_section}[materializer]
gateway_url = "{URL['gateway']}"
tmp_dir = "{work}/mtmp"
[replay]
gateway_url = "{URL['gateway']}"
tmp_dir = "{work}/rtmp"
"""
    path = os.path.join(work, "lakehouse.toml")
    open(path, "w").write(text)
    return path


def wait_ready(url):
    for _ in range(400):
        try:
            if urllib.request.urlopen(url + "/ready", timeout=1).status == 200:
                return
        except Exception:
            pass
        time.sleep(0.05)
    raise SystemExit(f"{url} not ready")


def job(cfg, *args):
    t = time.time()
    p = subprocess.run([f"{BIN}/{args[0]}", "--config", cfg, *args[1:]], capture_output=True, text=True)
    dt = time.time() - t
    if p.returncode != 0:
        raise SystemExit(f"{args} failed ({p.returncode}): {p.stderr[-2000:]}")
    return json.loads(p.stdout), dt


def rss_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0


def delete(path):
    req = urllib.request.Request(URL["gateway"] + "/v1" + path, method="DELETE")
    try:
        urllib.request.urlopen(req, timeout=600)
    except urllib.error.HTTPError as e:
        if e.code != 404:
            raise


def main():
    raw = os.path.join(WORK, "raw", "openai_chat")
    t = time.time()
    size = generate(raw, LINES)
    print(f"generated {LINES:,} openai_chat lines, {size / 2**20:.0f} MiB, in {time.time() - t:.1f} s", flush=True)
    cfg = config(WORK, CHAT)
    procs = {s: subprocess.Popen([f"{BIN}/{s}", "--config", cfg], stdout=open(f"{WORK}/{s}.log", "w"),
                                 stderr=subprocess.STDOUT) for s in SERVERS}
    try:
        for s in SERVERS:
            wait_ready(URL[s])
        rows = {}
        r, dt = job(cfg, "materializer", "run", "--input", raw, "--json")
        new = sum(k["materialized"] for k in r["kinds"].values())
        rows["plain"] = (dt, new, r["timings_ms"])
        print(f"materializer, no index: {new:,} records in {dt:.1f} s = {new / dt:,.0f} records/s "
              f"(phases ms: {r['timings_ms']}); {len(r['outputs'])} objects, "
              f"{sum(o['bytes'] for o in r['outputs']) / 2**20:.0f} MiB of Parquet", flush=True)
        r, dt = job(cfg, "materializer", "run", "--input", raw, "--json")
        dup = sum(k["duplicate"] for k in r["kinds"].values())
        print(f"materializer re-run (idempotent): {dup:,} duplicates in {dt:.1f} s = {dup / dt:,.0f} lines/s, "
              f"{len(r['outputs'])} objects written", flush=True)

        # DuckDB's own reader on the same lines, writing zstd Parquet of the same fields.
        import duckdb
        con = duckdb.connect()
        t = time.time()
        con.execute(f"""COPY (SELECT response.id AS run_id, to_timestamp(timestamp) AS ts,
            CAST(to_timestamp(timestamp) AS DATE) AS day, response.model AS model,
            metadata.task AS task, CAST(request.messages AS VARCHAR) AS prompt,
            response.choices[1].message.content AS response,
            response.usage.prompt_tokens AS prompt_tokens,
            response.usage.completion_tokens AS completion_tokens, latency_ms
            FROM read_json('{raw}/*.jsonl', format = 'newline_delimited'))
            TO '{WORK}/duckdb.parquet' (FORMAT parquet, COMPRESSION zstd)""")
        ddt = time.time() - t
        print(f"peer, DuckDB read_json → zstd Parquet (field extraction only, no normalisation, "
              f"redaction, ids or dedup): {LINES / ddt:,.0f} lines/s; materializer / DuckDB = "
              f"{(rows['plain'][1] / rows['plain'][0]) / (LINES / ddt):.2f}×", flush=True)

        # Fetching 5 records' text by id, as replay does: over the whole set, and with the
        # hits' days named (each object holds one day, so the others are skipped).
        def sql(q):
            req = urllib.request.Request(URL["gateway"] + "/v1/sql", data=json.dumps({"sql": q}).encode(), method="POST")
            t = time.time()
            body = json.loads(urllib.request.urlopen(req, timeout=600).read())
            return body, (time.time() - t) * 1000
        sample, _ = sql("SELECT evidence_id, CAST(day AS VARCHAR) AS d FROM evidence USING SAMPLE 5 ROWS")
        ids = ", ".join(f"'{r['evidence_id']}'" for r in sample["rows"])
        days = ", ".join(sorted({f"DATE '{r['d']}'" for r in sample["rows"]}))
        plain = [sql(f"SELECT prompt, response FROM evidence WHERE evidence_id IN ({ids})")[1] for _ in range(5)]
        pruned = [sql(f"SELECT prompt, response FROM evidence WHERE evidence_id IN ({ids}) AND day IN ({days})")[1] for _ in range(5)]
        print(f"fetch 5 records by id over {LINES:,} rows: median {statistics.median(plain):.0f} ms; with their days "
              f"named: {statistics.median(pruned):.0f} ms", flush=True)

        if os.environ.get("BENCH_INDEX", "1") == "0":
            return
        delete("/catalog/manifest/evidence")
        r, dt = job(cfg, "materializer", "run", "--input", raw, "--index", "evidence", "--json")
        new = sum(k["materialized"] for k in r["kinds"].values())
        print(f"materializer --index evidence (hash, 384-d): {new:,} records in {dt:.1f} s = "
              f"{new / dt:,.0f} records/s (phases ms: {r['timings_ms']}); vectord RSS "
              f"{rss_mib(procs['vectord'].pid):.0f} MiB", flush=True)

        if not TASKS:
            return
        tasks = os.path.join(WORK, "tasks.jsonl")
        rnd = random.Random(11)
        with open(tasks, "w") as f:
            for i in range(TASKS):
                q = " ".join(rnd.choice(WORDS) for _ in range(12))
                f.write(json.dumps({"id": f"t{i}", "prompt": f"Answer the ticket: {q}",
                                    "validators": ["non_empty", {"max_chars": 2000}, "no_pii"],
                                    "max_tokens": 32}) + "\n")

        # Retrieval both ways, alternating rounds (dry runs: no chat), same tasks and index.
        plans = {"calls": [], "sql": []}
        for _ in range(ROUNDS):
            for mode in plans:
                o, _ = job(cfg, "replay", "run", "--tasks", tasks, "--k", "5", "--dry-run",
                           "--retrieve", mode, "--json")
                plans[mode].extend(o["planned"])
        same = all(a["retrieved"] == b["retrieved"] and a["bundled_ids"] == b["bundled_ids"]
                   for a, b in zip(plans["calls"], plans["sql"]))
        print(f"replay retrieval, {TASKS} tasks x {ROUNDS} rounds, k=5, {LINES:,} records "
              f"(medians ms; same hits and bundles both ways: {same}):")
        for mode, ps in plans.items():
            t = {s: statistics.median(p["timings_ms"][s] for p in ps) for s in ("embed", "search", "fetch", "bundle")}
            total = statistics.median(sum(p["timings_ms"][s] for s in ("embed", "search", "fetch")) for p in ps)
            p90 = sorted(sum(p["timings_ms"][s] for s in ("embed", "search", "fetch")) for p in ps)[int(len(ps) * 0.9) - 1]
            print(f"  {mode:<5} embed {t['embed']:>5.1f}  search {t['search']:>6.1f}  fetch {t['fetch']:>6.1f}  "
                  f"bundle {t['bundle']:>4.1f}  retrieve {total:>6.1f} (p90 {p90})", flush=True)

        if CHAT:
            steps = ["embed_ms", "search_ms", "fetch_ms", "bundle_ms", "chat_ms", "validate_ms", "latency_ms"]
            for mode in ("calls", "sql"):
                o, dt = job(cfg, "replay", "run", "--tasks", tasks, "--k", "5", "--retrieve", mode, "--json")
                print(f"replay --retrieve {mode}, {TASKS} tasks, k=5, against {LINES:,} records ({dt:.1f} s in all; "
                      f"rows logged in {o['log_ms']} ms):")
                for s in steps:
                    v = [r[s] for r in o["rows"]]
                    print(f"  {s:<12} median {statistics.median(v):>7.1f}  p90 {sorted(v)[int(len(v) * 0.9) - 1]:>7}  max {max(v):>7}")
                print("  verdicts:", {k: sum(1 for r in o["rows"] if r["verdict"] == k) for k in ("pass", "fail", "error")})
    finally:
        for p in procs.values():
            p.terminate()
        for p in procs.values():
            p.wait()


main()
