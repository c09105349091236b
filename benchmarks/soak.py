"""Soak benchmark for `monitor run` (issue 6), run by hand:

    .venv/bin/python benchmarks/soak.py --minutes 30 --every 3 > benchmarks/out/soak.json

Starts the real daemon (pipeline every 2 s, outbox every 5 s) on a fresh project under
benchmarks/out/soak/, drops a new CSV export into the source folder every few seconds,
and samples the daemon's resident memory and open file descriptors from /proc. At the
end it stops the daemon with SIGTERM and checks that every file was ingested exactly
once and every row is in the ledger once. Prints one JSON document; the figures go in
benchmarks/RESULTS.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ROWS_PER_FILE = 200

CONFIG = """[database]
path = "soak.duckdb"

[[sources]]
name = "cards"
format = "csv"
path = "in/*.csv"
currency = "GBP"
charges = "positive"

[sources.columns]
txn_id = "ref"
posted_at = "date"
amount = "amount"
counterparty = "payee"
account = "card"

[outbox]
path = "outbox"

[schedule]
pipeline_interval = "2s"
outbox_interval = "5s"

[schedule.feeds]
cards = "1h"
"""


def proc_sample(pid: int) -> tuple[int, int]:
    """(resident memory in KiB, open file descriptors) of a live process."""
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def write_export(folder: Path, number: int) -> int:
    """An export of ROWS_PER_FILE charges with their own references; moved in whole."""
    lines = ["ref,date,amount,payee,card"]
    for i in range(ROWS_PER_FILE):
        k = number * ROWS_PER_FILE + i
        lines.append(f"S{k},2024-{1 + k % 12:02d}-{1 + k % 28:02d},{5 + k % 400}.{k % 100:02d},"
                     f"Shop {k % 300},card-{k % 40}")
    tmp = folder / f".export-{number}.tmp"
    tmp.write_text("\n".join(lines) + "\n")
    os.replace(tmp, folder / "in" / f"export-{number:05d}.csv")
    return ROWS_PER_FILE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--every", type=float, default=3, help="seconds between files")
    parser.add_argument("--sample", type=float, default=10, help="seconds between samples")
    args = parser.parse_args()

    folder = HERE / "out" / "soak"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "in").mkdir(parents=True)
    (folder / "config.toml").write_text(CONFIG)
    log = open(folder / "daemon.log", "w")
    env = dict(os.environ, PYTHONPATH=str(ROOT))        # this tree's monitor package
    daemon = subprocess.Popen([sys.executable, "-m", "monitor", "--config",
                               str(folder / "config.toml"), "run"],
                              stdout=subprocess.DEVNULL, stderr=log, cwd=ROOT, env=env)
    samples, dropped, rows = [], 0, 0
    start = time.monotonic()
    end = start + args.minutes * 60
    next_file = next_sample = start + 5          # let it start and run once
    try:
        while time.monotonic() < end:
            now = time.monotonic()
            if daemon.poll() is not None:
                raise SystemExit(f"the daemon exited with {daemon.returncode}; see {log.name}")
            if now >= next_file:
                dropped += 1
                rows += write_export(folder, dropped)
                next_file += args.every
            if now >= next_sample:
                rss, fds = proc_sample(daemon.pid)
                samples.append({"t": round(now - start), "rss_kib": rss, "fds": fds,
                                "files": dropped})
                next_sample += args.sample
            time.sleep(0.1)
        time.sleep(6)                           # the last file settles and is read
        rss, fds = proc_sample(daemon.pid)
        samples.append({"t": round(time.monotonic() - start), "rss_kib": rss, "fds": fds,
                        "files": dropped})
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(timeout=300)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        log.close()

    con = duckdb.connect(str(folder / "soak.duckdb"), read_only=True)
    files, distinct_paths, loaded = con.execute(
        "SELECT count(*), count(DISTINCT path), coalesce(sum(loaded), 0) FROM files "
        "WHERE status = 'loaded'").fetchone()
    errors = con.execute("SELECT count(*) FROM files WHERE status = 'error'").fetchone()[0]
    txns, distinct_txns = con.execute(
        "SELECT count(*), count(DISTINCT txn_id) FROM transactions").fetchone()
    con.close()
    state = json.loads((folder / "soak.duckdb.daemon.json").read_text())
    log_lines = (folder / "daemon.log").read_text().splitlines()
    warm = [s for s in samples if s["t"] >= 60] or samples
    third = max(1, len(warm) // 3)
    first, last = warm[:third], warm[-third:]
    result = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
                   f"{platform.python_version()}, load {os.getloadavg()[0]:.1f}",
        "minutes": args.minutes, "every_seconds": args.every, "exit_code": code,
        "files_dropped": dropped, "files_loaded": files, "distinct_paths": distinct_paths,
        "file_errors": errors, "rows_dropped": rows, "rows_loaded": loaded,
        "transactions": txns, "distinct_txn_ids": distinct_txns,
        "job_runs": int(state["jobs"]["pipeline"]["last_run_id"].rsplit("-", 1)[1]),
        "log_lines": len(log_lines),
        "log_errors": sum(" ERROR " in line for line in log_lines),
        "rss_mib_first_third": round(sum(s["rss_kib"] for s in first) / len(first) / 1024, 1),
        "rss_mib_last_third": round(sum(s["rss_kib"] for s in last) / len(last) / 1024, 1),
        "rss_mib_max": round(max(s["rss_kib"] for s in samples) / 1024, 1),
        "fds_min": min(s["fds"] for s in samples), "fds_max": max(s["fds"] for s in samples),
        "fds_first": samples[0]["fds"], "fds_last": samples[-1]["fds"],
        "samples": samples,
    }
    result["every_file_once"] = (files == dropped == distinct_paths and loaded == rows
                                 and txns == distinct_txns == rows)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    sys.exit(main())
