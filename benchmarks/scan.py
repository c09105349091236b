"""Scan scale benchmark: a full scan over a generated 10M-transaction ledger, then a
scan after appending 10k rows, which must cost at most a tenth of the full one.

Run by hand:  .venv/bin/python benchmarks/scan.py [--rows 10000000] [--keep DIR]

The ledger is generated inside DuckDB with the shape of the real Birmingham card
ledger scaled up: 84,000 accounts (about 30 charges each a year), three charges in
four to one of the account's 15 regular payees and the rest to 200,000 payees of
skewed popularity (a few used by everyone), amounts log-normal around 40, postings
spread over four years: about 3 charges per account-payee pair, as in Birmingham.
Peak memory is the process's max RSS, read after each step; CPU is the process's
user + system time over all its threads, the steadier figure on a shared machine.
"""
from __future__ import annotations

import argparse
import datetime as dt
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.settings import config as config_mod  # noqa: E402
from monitor.detection import scan as detect  # noqa: E402
from monitor.sql import store  # noqa: E402

CONFIG = """
[database]
path = "scan.duckdb"
"""

GENERATE = """
INSERT INTO transactions
SELECT 'g' || i AS txn_id, 'generated' AS source,
       'acct' || (hash(i) % $accounts) AS account,
       DATE '2014-01-01' + CAST((i * 1461) // $rows AS INTEGER) AS posted_at,
       CAST(round(exp(3.7 + 1.1 * sqrt(-2 * ln((hash(i * 7) % 999983 + 1) / 999984.0))
                  * cos(6.283185 * (hash(i * 13) % 999983) / 999983.0)), 2) AS DECIMAL(18,2))
           AS amount,
       'GBP' AS currency,
       CASE WHEN hash(i * 17) % 4 > 0   -- three charges in four go to the account's regulars
            THEN 'payee' || (hash((hash(i) % $accounts) * 1000003 + hash(i * 19) % 15) % $payees)
            ELSE 'payee' || CAST(floor(pow((hash(i * 31) % 1000003) / 1000003.0, 3) * $payees)
                                 AS BIGINT) END
           AS counterparty,
       NULL AS counterparty_account, NULL AS initiator, NULL AS mcc, NULL AS description,
       NULL AS reference, 0 AS file_id, i AS source_row, $now AS ingested_at
FROM range($start, $stop) AS r(i)
"""


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def open_ledger(work: Path, rows: int, accounts: int):
    """The generated ledger in `work`, made unless it already holds `rows` rows.
    Returns its config, a connection, the generator's parameters and the seconds spent
    generating (None when the ledger was kept)."""
    (work / "config.toml").write_text(CONFIG)
    cfg = config_mod.load(work / "config.toml")
    con = store.connect(cfg.database)
    params = {"accounts": accounts, "payees": 200_000, "rows": rows, "now": store.now()}
    seconds = None
    if con.execute("SELECT count(*) FROM transactions").fetchone()[0] != rows:
        began = time.perf_counter()
        con.execute("DELETE FROM transactions")
        con.execute(GENERATE, params | {"start": 0, "stop": rows})
        seconds = time.perf_counter() - began
    return cfg, con, params, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--append", type=int, default=10_000)
    parser.add_argument("--accounts", type=int, default=84_000)
    parser.add_argument("--keep", type=Path, help="keep the generated database in this folder")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="monitor-scan-"))
    work.mkdir(parents=True, exist_ok=True)
    cfg, con, params, generating = open_ledger(work, args.rows, args.accounts)
    if generating is not None:
        print(f"generated {args.rows:,} rows in {generating:.1f} s")
    con.execute("DELETE FROM findings; DELETE FROM scans")
    last_day = con.execute("SELECT max(posted_at) FROM transactions").fetchone()[0]

    began, cpu = time.perf_counter(), time.process_time()
    found = detect.scan(con, cfg, last_day)
    full, full_cpu = time.perf_counter() - began, time.process_time() - cpu
    print(f"full scan: {full:.1f} s (CPU {full_cpu:.1f} s), {len(found)} findings, "
          f"peak RSS {peak_mb():,.0f} MB")

    # Append a day of new rows (same generator, later ids) and scan again.
    con.execute("""INSERT INTO transactions SELECT * REPLACE (
                       'n' || source_row AS txn_id, $day AS posted_at, 1 AS file_id)
                   FROM (""" + GENERATE.replace("INSERT INTO transactions", "") + ")",
                params | {"start": args.rows, "stop": args.rows + args.append,
                          "day": last_day + dt.timedelta(days=1)})
    began, cpu = time.perf_counter(), time.process_time()
    found = detect.scan(con, cfg, last_day + dt.timedelta(days=1))
    incremental, incremental_cpu = time.perf_counter() - began, time.process_time() - cpu
    print(f"scan after appending {args.append:,} rows: {incremental:.2f} s (CPU "
          f"{incremental_cpu:.2f} s), {len(found)} findings, ratio to full {incremental / full:.3f} "
          f"(CPU {incremental_cpu / full_cpu:.3f}; target <= 0.1), peak RSS {peak_mb():,.0f} MB")
    con.close()
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
