"""Scan scale benchmark: a full scan over a generated 10M-transaction ledger, then a
scan after appending 10k rows, which must cost at most a tenth of the full one.

Run by hand:  .venv/bin/python benchmarks/scan.py [--rows 10000000] [--shape dense]
              [--keep DIR] [--check] [--profile]
(--check: then a full scan as of the incremental scan's day, whose findings must be the
incremental scan's; it prints what differs. --profile: the CPU of each statement of the
incremental scan, largest first, by where in monitor/ it was run.)

The ledger is generated inside DuckDB. Shape "birmingham" (the default) is the real
Birmingham card ledger scaled up: 84,000 accounts (about 30 charges each a year), three
charges in four to one of the account's 15 regular payees and the rest to 200,000 payees
of skewed popularity (a few used by everyone), amounts log-normal around 40, postings
spread over four years: about 3 charges per account-payee pair, as in Birmingham.
Shape "dense" (issue 17) is the opposite extreme: 2,000 cards paying 50,000 payees
evenly over the same four years, so every card pays thousands of payees and almost
every charge opens an account-payee pair (9.5M pairs in 10M rows): the kept first days,
the pair facts and every per-pair window are as large as the ledger itself.
Peak memory is the process's max RSS, read after each step; CPU is the process's
user + system time over all its threads, the steadier figure on a shared machine.
"""
from __future__ import annotations

import argparse
import collections
import datetime as dt
import os
import resource
import shutil
import sys
import tempfile
import time
import traceback
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

# The payee of row i, per shape (see the module's docstring).
PAYEES = {
    "birmingham": """
       CASE WHEN hash(i * 17) % 4 > 0   -- three charges in four go to the account's regulars
            THEN 'payee' || (hash((hash(i) % $accounts) * 1000003 + hash(i * 19) % 15) % $payees)
            ELSE 'payee' || CAST(floor(pow((hash(i * 31) % 1000003) / 1000003.0, 3) * $payees)
                                 AS BIGINT) END""",
    "dense": "'payee' || (hash(i * 31) % $payees)",
}
# accounts, payees per shape
SHAPES = {"birmingham": (84_000, 200_000), "dense": (2_000, 50_000)}

GENERATE = """
INSERT INTO transactions
SELECT 'g' || i AS txn_id, 'generated' AS source,
       'acct' || (hash(i) % $accounts) AS account,
       DATE '2014-01-01' + CAST((i * 1461) // $rows AS INTEGER) AS posted_at,
       CAST(round(exp(3.7 + 1.1 * sqrt(-2 * ln((hash(i * 7) % 999983 + 1) / 999984.0))
                  * cos(6.283185 * (hash(i * 13) % 999983) / 999983.0)), 2) AS DECIMAL(18,2))
           AS amount,
       'GBP' AS currency,
       {payee} AS counterparty,
       NULL AS counterparty_account, NULL AS initiator, NULL AS mcc, NULL AS description,
       NULL AS reference, 0 AS file_id, i AS source_row, $now AS ingested_at
FROM range($start, $stop) AS r(i)
"""


class StatementTimes:
    """A connection that notes the CPU of each statement it runs (execute and executemany),
    by the line of monitor/ that ran it (outside monitor/sql/store.py, which runs the named
    queries) and the statement's first words; everything else passes through to the
    connection. Finding where each statement came from costs a little CPU of its own,
    which the profiled scan's total (not its statements') includes."""

    def __init__(self, con):
        self._con = con
        self.cpu = collections.Counter()

    def __getattr__(self, name):
        return getattr(self._con, name)

    def execute(self, statement, *args, **kwargs):
        return self._timed(self._con.execute, statement, args, kwargs)

    def executemany(self, statement, *args, **kwargs):
        return self._timed(self._con.executemany, statement, args, kwargs)

    def _timed(self, run, statement, args, kwargs):
        began = time.process_time()
        result = run(statement, *args, **kwargs)
        spent = time.process_time() - began
        ours = [f for f in traceback.extract_stack()[:-2]
                if "/monitor/" in f.filename and not f.filename.endswith("store.py")]
        where = f"{Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else "?"
        text = " ".join(str(getattr(statement, "query", statement)).split())
        self.cpu[f"{where} {text[:80]}"] += spent
        return result

    def report(self, top: int = 20) -> str:
        return "\n".join(f"  {cpu:6.2f} s  {what}" for what, cpu in self.cpu.most_common(top))


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generator(shape: str) -> str:
    return GENERATE.replace("{payee}", PAYEES[shape].strip())


def open_ledger(work: Path, rows: int, shape: str, accounts: int | None = None):
    """The generated ledger in `work`, made unless it already holds `rows` rows.
    Returns its config, a connection, the generator's parameters and the seconds spent
    generating (None when the ledger was kept: give --keep a folder per shape)."""
    (work / "config.toml").write_text(CONFIG)
    cfg = config_mod.load(work / "config.toml")
    con = store.connect(cfg.database)
    default_accounts, payee_count = SHAPES[shape]
    params = {"accounts": accounts or default_accounts, "payees": payee_count, "rows": rows,
              "now": store.now()}
    seconds = None
    if con.execute("SELECT count(*) FROM transactions").fetchone()[0] != rows:
        began = time.perf_counter()
        con.execute("DELETE FROM transactions")
        con.execute(generator(shape), params | {"start": 0, "stop": rows})
        seconds = time.perf_counter() - began
    return cfg, con, params, seconds


# What a finding is, whichever scan reported it (its scan id aside).
SAME = ("detector", "severity", "account", "counterparty", "initiator", "currency",
        "first_alert_at", "last_charge_at", "since", "charges", "exposure",
        "evidence_txn_ids", "sentence", "fingerprint", "active_until")


def compare(incremental: list[dict], full: list[dict]) -> str:
    """'' when both scans report the same findings, else what differs."""
    def keyed(rows):
        return {r["fingerprint"]: tuple(str(r.get(k)) for k in SAME) for r in rows}
    a, b = keyed(incremental), keyed(full)
    if a == b:
        return ""
    lines = [f"{len(incremental)} incremental, {len(full)} full findings differ:"]
    for key in sorted(set(a) | set(b)):
        if a.get(key) != b.get(key):
            lines.append(f"  incremental {a.get(key)}\n  full        {b.get(key)}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--append", type=int, default=10_000)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="birmingham")
    parser.add_argument("--accounts", type=int, help="accounts (default: the shape's)")
    parser.add_argument("--keep", type=Path, help="keep the generated database in this folder")
    parser.add_argument("--profile", action="store_true",
                        help="print the CPU of each statement of the incremental scan")
    parser.add_argument("--check", action="store_true",
                        help="then scan the same day in full and compare the findings "
                             "(the incremental scan must report exactly what it does)")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="monitor-scan-"))
    work.mkdir(parents=True, exist_ok=True)
    cfg, con, params, generating = open_ledger(work, args.rows, args.shape,
                                                    args.accounts)
    if generating is not None:
        print(f"generated {args.rows:,} rows in {generating:.1f} s")
    # The machine may be shared: wall times mean little without its load (CPU times are
    # the steadier figure).
    print(f"shape {args.shape}, load average {os.getloadavg()[0]:.1f} at start")
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
                   FROM (""" + generator(args.shape).replace("INSERT INTO transactions", "") + ")",
                params | {"start": args.rows, "stop": args.rows + args.append,
                          "day": last_day + dt.timedelta(days=1)})
    timed = StatementTimes(con) if args.profile else con
    began, cpu = time.perf_counter(), time.process_time()
    found = detect.scan(timed, cfg, last_day + dt.timedelta(days=1))
    incremental, incremental_cpu = time.perf_counter() - began, time.process_time() - cpu
    print(f"scan after appending {args.append:,} rows: {incremental:.2f} s (CPU "
          f"{incremental_cpu:.2f} s), {len(found)} findings, ratio to full {incremental / full:.3f} "
          f"(CPU {incremental_cpu / full_cpu:.3f}; target <= 0.1), peak RSS {peak_mb():,.0f} MB")
    if args.profile:
        print("CPU per statement of the incremental scan (largest first):\n" + timed.report())
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    if args.check:
        differ = compare(found, detect.scan(con, cfg, last_day + dt.timedelta(days=1), full=True))
        print(f"full scan of the same day: {'same findings' if not differ else differ}")
    con.close()
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
