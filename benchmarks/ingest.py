"""Ingest benchmark (issue 2), run by hand: .venv/bin/python benchmarks/ingest.py

Generates a 10M-row card ledger CSV (about 1 GB) under benchmarks/out/ and, in one
run, measures against the same machine's bare DuckDB:
  - `monitor ingest` of the file / `read_csv` with explicit types into a table  (target <= 1.5)
  - re-ingest of the same file                                                 (target <= 1 s)
  - a 100k-row file, half of it already in the ledger                          (target <= 2 s)
  - peak memory (max RSS) of each child process.
Every step runs in its own process, timed from outside, so start-up is included.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MONITOR = ROOT / ".venv" / "bin" / "monitor"
PYTHON = ROOT / ".venv" / "bin" / "python"

# Deterministic rows: row i is the same in every file that holds it.
ROWS_SQL = """
SELECT
    'T' || lpad(i::VARCHAR, 10, '0') AS txn_ref,
    DATE '2019-01-01' + (hash(i, 1) % 1800)::INTEGER AS trans_date,
    ((hash(i, 2) % 200000)::DECIMAL(18,2) / 100 - 50)::DECIMAL(18,2) AS amount_gbp,
    'MERCHANT ' || (hash(i, 3) % 40000)::VARCHAR || ' TRADING LIMITED '
        || ['LONDON', 'BIRMINGHAM', 'LEEDS', 'OXFORD'][(hash(i, 4) % 4)::INTEGER + 1]
        AS merchant_name,
    '************' || lpad((hash(i, 5) % 9000 + 1000)::VARCHAR, 4, '0') AS card_number_masked
FROM range({start}, {stop}) AS r(i)
"""

BASELINE = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
con.execute('SET enable_progress_bar = false')
con.execute('''CREATE TABLE t AS SELECT * FROM read_csv(?, header = true, columns = {
    'txn_ref': 'VARCHAR', 'trans_date': 'DATE', 'amount_gbp': 'DECIMAL(18,2)',
    'merchant_name': 'VARCHAR', 'card_number_masked': 'VARCHAR'})''', [sys.argv[2]])
print(con.execute('SELECT count(*) FROM t').fetchone()[0])
"""

CONFIG = """
[database]
path = "bench.duckdb"

[[sources]]
name = "cards"
format = "csv"
path = "*.csv"                   # files are passed with --source
currency = "GBP"
date_format = "%Y-%m-%d"

[sources.columns]
txn_id = "txn_ref"
posted_at = "trans_date"
amount = "amount_gbp"
counterparty = "merchant_name"
account = "card_number_masked"
"""


def generate(path: Path, ranges: list[tuple[int, int]]) -> None:
    if path.exists():
        return
    query = " UNION ALL ".join(ROWS_SQL.format(start=a, stop=b) for a, b in ranges)
    tmp = path.with_suffix(".tmp")
    con = duckdb.connect()
    # Ranges in order: preserve_insertion_order keeps the file sorted by i.
    con.execute(f"COPY ({query}) TO '{tmp}' (HEADER, DELIMITER ',')")
    con.close()
    os.replace(tmp, path)


def measured(cmd: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MB (the child's own, via time -v), and stdout."""
    timer = shutil.which("time") or "/usr/bin/time"
    start = time.perf_counter()
    child = subprocess.run([timer, "-v", *cmd], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if child.returncode != 0:
        sys.exit(f"failed ({child.returncode}): {' '.join(cmd)}\n{child.stdout[-2000:] + child.stderr[:2000]}")
    peak = next(int(line.split(":")[1]) for line in child.stderr.splitlines()
                if "Maximum resident set size" in line) / 1024
    return seconds, peak, child.stdout


def ingest(config: Path, path: Path) -> tuple[float, float, dict]:
    seconds, peak, out = measured([str(MONITOR), "--config", str(config), "ingest", str(path), "--source", "cards",
                                   "--format", "json"])
    return seconds, peak, json.loads(out)["files"][0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--out", type=Path, default=HERE / "out")
    args = parser.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    big = out / f"ledger_{args.rows}.csv"
    overlap = out / f"overlap_{args.rows}.csv"
    half = 50_000
    t = time.perf_counter()
    generate(big, [(0, args.rows)])
    # The last 50k rows of the big file, then 50k new ones.
    generate(overlap, [(args.rows - half, args.rows), (args.rows, args.rows + half)])
    print(f"data: {big.name} {big.stat().st_size / 1e9:.2f} GB "
          f"(ready in {time.perf_counter() - t:.1f} s)", file=sys.stderr)
    subprocess.run(["cat", str(big)], stdout=subprocess.DEVNULL, check=True)  # warm the cache

    work = out / "run"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    base_s, base_mb, base_out = measured([str(PYTHON), "-c", BASELINE, str(work / "base.duckdb"),
                                          str(big)])
    assert int(base_out) == args.rows, base_out
    config = work / "config.toml"
    config.write_text(CONFIG, encoding="utf-8")

    first_s, first_mb, first = ingest(config, big)
    assert first["status"] == "loaded" and first["loaded"] == args.rows, first
    again_s, again_mb, again = ingest(config, big)
    assert again["status"] == "unchanged", again
    over_s, over_mb, over = ingest(config, overlap)
    assert (over["loaded"], over["duplicates"]) == (half, half), over

    size_gb = (work / "bench.duckdb").stat().st_size / 1e9
    ratio = first_s / base_s
    rows = [
        ("bare DuckDB read_csv, explicit types", f"{base_s:.2f} s", f"{base_mb:,.0f} MB", ""),
        (f"monitor ingest ({args.rows:,} rows)", f"{first_s:.2f} s", f"{first_mb:,.0f} MB",
         f"ratio {ratio:.2f} (target <= 1.5) {'ok' if ratio <= 1.5 else 'MISSED'}"),
        ("re-ingest same file", f"{again_s:.2f} s", f"{again_mb:,.0f} MB",
         f"target <= 1 s {'ok' if again_s <= 1 else 'MISSED'}"),
        ("100k rows, half already held", f"{over_s:.2f} s", f"{over_mb:,.0f} MB",
         f"target <= 2 s {'ok' if over_s <= 2 else 'MISSED'}"),
    ]
    print("| step | time | peak RSS | result |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"\nledger file after both ingests: {size_gb:.2f} GB")


if __name__ == "__main__":
    main()
