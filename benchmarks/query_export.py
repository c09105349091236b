"""Query export benchmark (issue 14, item 16), run by hand:
    .venv/bin/python benchmarks/query_export.py [--rows 2000000] [--rounds 3]

Builds a ledger of --rows transactions (the real schema) under benchmarks/out/, then, each
step in its own process timed from outside (start-up included), best of --rounds:
  - bare: DuckDB's own COPY (SELECT * FROM transactions) TO file, on the same snapshot;
  - monitor: `monitor query "SELECT * FROM transactions" --format F --out file`.
Targets: monitor <= 3x bare, max RSS < 1 GB.
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MONITOR = ROOT / ".venv" / "bin" / "monitor"
PYTHON = ROOT / ".venv" / "bin" / "python"
TIME = shutil.which("time") or "/usr/bin/time"

FILL = """
INSERT INTO files VALUES (1, 'bench', 'cards', 'csv', 'h', 1, 'loaded', {n}, {n}, 0, 0, NULL,
                          TIMESTAMP '2024-01-01');
INSERT INTO transactions (txn_id, source, account, posted_at, amount, currency, counterparty,
    counterparty_account, initiator, mcc, description, reference, file_id, source_row,
    ingested_at)
SELECT 'T' || lpad(i::VARCHAR, 10, '0'), 'cards',
       '************' || lpad((hash(i, 5) % 9000 + 1000)::VARCHAR, 4, '0'),
       DATE '2019-01-01' + (hash(i, 1) % 1800)::INTEGER,
       ((hash(i, 2) % 200000)::DECIMAL(18,2) / 100 - 50)::DECIMAL(18,2), 'GBP',
       'MERCHANT ' || (hash(i, 3) % 40000)::VARCHAR || ' TRADING LIMITED', NULL, NULL, '5411',
       'card payment ' || i, NULL, 1, i, TIMESTAMP '2024-01-01 10:00:00'
FROM range({n}) r(i);
"""
BARE = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
con.execute("SET enable_progress_bar = false")
fmt = {"csv": "FORMAT csv, HEADER", "parquet": "FORMAT parquet", "ndjson": "FORMAT json"}
con.execute(f"COPY (SELECT * FROM transactions) TO '{sys.argv[2]}' ({fmt[sys.argv[3]]})")
"""


def timed(args: list[str], cwd: Path) -> tuple[float, int]:
    proc = subprocess.run([TIME, "-f", "TIMED %e %M", *args], cwd=cwd, capture_output=True,
                          text=True, check=True)
    seconds, kb = re.search(r"TIMED ([\d.]+) (\d+)", proc.stderr).groups()
    return float(seconds), int(kb) // 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--formats", default="csv,parquet,ndjson")
    opts = parser.parse_args()
    out = HERE / "out" / "query_export"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    (out / "config.toml").write_text('[database]\npath = "ledger.duckdb"\n', encoding="utf-8")
    subprocess.run([PYTHON, "-c", "import sys; from monitor.sql import store\n"
                    "con = store.connect(sys.argv[1]); con.execute(sys.argv[2]); con.close()",
                    str(out / "ledger.duckdb"), FILL.format(n=opts.rows)], check=True)
    subprocess.run([MONITOR, "query", "SELECT count(*) FROM transactions"], cwd=out, check=True,
                   capture_output=True)                 # publishes the snapshot
    snap = str(out / "ledger.snapshot.duckdb")
    print(f"{opts.rows:,} rows; best of {opts.rounds}")
    for fmt in opts.formats.split(","):
        bare, mine = [], []
        for _ in range(opts.rounds):
            for name in ("bare." + fmt, "monitor." + fmt):
                (out / name).unlink(missing_ok=True)
            bare.append(timed([PYTHON, "-c", BARE, snap, str(out / ("bare." + fmt)), fmt], out))
            mine.append(timed([MONITOR, "query", "SELECT * FROM transactions", "--format", fmt,
                               "--out", "monitor." + fmt], out))
        (b_s, b_mb), (m_s, m_mb) = min(bare), min(mine)
        print(f"{fmt:8} bare COPY {b_s:6.2f} s {b_mb:5} MB | monitor query {m_s:6.2f} s "
              f"{m_mb:5} MB | ratio {m_s / b_s:4.2f}x | max RSS of monitor "
              f"{max(mb for _, mb in mine)} MB")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
