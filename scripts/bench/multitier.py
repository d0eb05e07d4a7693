"""The multitier load test: a fleet on fs storage, the worker corpus loaded and the six
weighted scenarios run by lakehouse-bench, then each service's resident memory."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from fleet import SERVICES, Fleet  # noqa: E402


def rss_mib(pid, field):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main():
    bin_dir, work, n, clients, seconds = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
    fleet = Fleet(bin_dir, work)
    fleet.start_all()
    try:
        base = f"http://127.0.0.1:{fleet.ports['gateway']}"
        cmd = [os.path.join(bin_dir, "lakehouse-bench"), "multitier", "--base", base, "--token", fleet.token,
               "--load", n, "--clients", clients, "--seconds", seconds]
        subprocess.run(cmd, check=True)
        total = 0.0
        for s in SERVICES:
            pid = fleet.procs[s].pid
            now, peak = rss_mib(pid, "VmRSS"), rss_mib(pid, "VmHWM")
            total += now
            print(f"{s} rss {now:.1f} MiB")
            print(f"{s} peak_rss {peak:.1f} MiB")
        print(f"fleet rss {total:.1f} MiB")
    finally:
        fleet.stop_all()


main()
