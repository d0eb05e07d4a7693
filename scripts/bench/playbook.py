"""Playbook benchmark: pass rate on a fixed task set without and with the playbook's worked
examples, against the real small chat model. Train tasks run first with --playbook (their
passing answers are recorded); then the eval tasks — the same asks in other words, never
seen — run without and with --use-playbook."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from fleet import Fleet  # noqa: E402

ORDERS = [1182, 2045, 3310, 4471, 5120, 6034, 7144, 8012]
FORMAT = {"regex": "^ORDER-[0-9]{4}: [A-Za-z]"}


def tasks(kind):
    out = []
    for n in ORDERS:
        if kind == "train":
            prompt = (f"Write a one-line status for order {n}, formatted exactly as ORDER-{n}: <status>. "
                      f"Example: ORDER-{n}: shipped on Monday.")
        else:
            prompt = f"Status line for order {n}, please."
        out.append({"id": f"{kind}-{n}", "prompt": prompt, "max_tokens": 24,
                    "validators": ["non_empty", {"max_chars": 120}, {"regex": f"^ORDER-{n}: "}, FORMAT]})
    return out


def main():
    bin_dir, work, chat = sys.argv[1], sys.argv[2], sys.argv[3]
    fleet = Fleet(bin_dir, work)
    gw = f"http://127.0.0.1:{fleet.ports['gateway']}"
    with open(fleet.config, "a") as f:
        f.write(f'\n[embed]\nprovider = "hash"\ndimension = 256\n'
                f'[chat]\nurl = "{chat}/"\nmodel = "gemma-3-270m"\ntimeout_ms = 120000\n'
                f'[materializer]\ngateway_url = "{gw}"\ntmp_dir = "{work}/mat-tmp"\n'
                f'[replay]\ngateway_url = "{gw}"\ntmp_dir = "{work}/replay-tmp"\nk = 2\n')
    fleet.start_all()
    try:
        env = {**os.environ, "LAKEHOUSE_AUTH_TOKEN": fleet.token}

        def job(name, *args):
            r = subprocess.run([os.path.join(bin_dir, name), "--config", fleet.config, *args],
                               capture_output=True, text=True, env=env, cwd=work)
            if r.returncode not in (0, 3):
                sys.exit(f"{name} {args}: {r.returncode}\n{r.stderr[-2000:]}")
            return json.loads(r.stdout)

        fixtures = os.path.join(os.path.dirname(__file__), "../../services/materializer/fixtures")
        job("materializer", "run", "--input", fixtures, "--index", "evidence")

        def run(kind, *extra):
            path = os.path.join(work, f"{kind}.jsonl")
            with open(path, "w") as f:
                f.writelines(json.dumps(t) + "\n" for t in tasks(kind))
            rows = job("replay", "run", "--tasks", path, "--json", *extra)["rows"]
            return rows, sum(r["verdict"] == "pass" for r in rows)

        pb = ["--playbook", "pb"]
        rows, passed = run("train", *pb)
        recorded = sum(1 for r in rows if r.get("playbook_entry"))
        print(f"playbook train_pass_rate {100 * passed / len(rows):.1f} % ({passed}/{len(rows)}, {recorded} recorded)")
        rows, base = run("eval")
        print(f"playbook eval_pass_rate_without {100 * base / len(rows):.1f} % ({base}/{len(rows)})")
        rows, used = run("eval", *pb, "--use-playbook", "--playbook-similarity", "0.3")
        offered = sum(1 for r in rows if r.get("playbook_ids"))
        print(f"playbook eval_pass_rate_with {100 * used / len(rows):.1f} % ({used}/{len(rows)}, "
              f"{offered} got a worked example)")
        for r in rows[:3]:
            print(f"  sample {r['task_id']}: {r['response'][:80]!r} → {r['verdict']}")
    finally:
        fleet.stop_all()


main()
