"""The ledger lake: transactions as Parquet, partitioned by posting month.

    lake/posted_month=2017-04/data_0.parquet
    lake/posted_month=2017-04/account_bucket=7/data_0.parquet     (with [engine] buckets = 16)

`monitor export-lake --out DIR` writes the whole DuckDB ledger this way, so a ledger can
move to the Spark engine without being ingested again. With [engine] kind = "spark",
`monitor ingest` loads a file into DuckDB as always (deduplication, rejects, statements)
and then appends the rows it loaded to the lake: DuckDB stays the ledger of record, the
lake is what Spark reads. Every column of `transactions` is kept.
"""
from __future__ import annotations

from pathlib import Path

import duckdb

from monitor.errors import InputError

# The partition columns: computed here, and the only place their names are spelt.
MONTH = "strftime(posted_at, '%Y-%m') AS posted_month"
BUCKET = "CAST(hash(account) % $buckets AS INTEGER) AS account_bucket"


def export(con: duckdb.DuckDBPyConnection, out: Path | str, buckets: int = 0,
           overwrite: bool = False) -> dict:
    """Write every transaction to `out` as a partitioned Parquet lake."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: is a file; give a folder for the lake")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise InputError(f"{out}: folder is not empty; give a new folder, or pass --force "
                         "to replace what is in it")
    out.mkdir(parents=True, exist_ok=True)
    _write(con, "SELECT * FROM transactions", {}, out, buckets,
           "OVERWRITE" if overwrite else "OVERWRITE_OR_IGNORE")
    return summary(con, "SELECT * FROM transactions", {}) | {"path": str(out)}


def append(con: duckdb.DuckDBPyConnection, lake: str, file_ids: list[int],
           buckets: int = 0) -> int:
    """Add the rows of these ingested files to the lake; returns how many were written."""
    if not file_ids:
        return 0
    where = "SELECT * FROM transactions WHERE file_id IN (SELECT unnest($file_ids))"
    params = {"file_ids": [int(f) for f in file_ids]}
    count = con.execute(f"SELECT count(*) FROM ({where})", params).fetchone()[0]
    if not count:
        return 0
    folder = Path(lake)
    folder.mkdir(parents=True, exist_ok=True)
    _write(con, where, params, folder, buckets, "APPEND")
    return count


def summary(con, select: str, params: dict) -> dict:
    rows, total, months = con.execute(
        f"SELECT count(*), coalesce(sum(amount), 0), count(DISTINCT {MONTH.split(' AS ')[0]}) "
        f"FROM ({select})", params).fetchone()
    return {"rows": rows, "amount": total, "months": months}


def _write(con, select: str, params: dict, folder: Path, buckets: int, mode: str) -> None:
    # COPY's target cannot be a bound parameter: the staged rows go to a temp table with
    # bound values, and the folder goes in as a quoted literal (see _literal).
    columns = [MONTH] + ([BUCKET] if buckets else [])
    if buckets:
        params = params | {"buckets": int(buckets)}
    con.execute(f"CREATE OR REPLACE TEMP TABLE lake_batch AS SELECT *, {', '.join(columns)} "
                f"FROM ({select})", params)
    partition = "posted_month, account_bucket" if buckets else "posted_month"
    try:
        con.execute(f"COPY lake_batch TO {_literal(folder)} (FORMAT parquet, "
                    f"PARTITION_BY ({partition}), {mode}, FILENAME_PATTERN 'part_{{uuid}}')")
    finally:
        con.execute("DROP TABLE IF EXISTS lake_batch")


def _literal(path: Path) -> str:
    """A folder as a SQL string literal: DuckDB strings have no backslash escapes, so
    doubling each quote is the whole of quoting; control characters are refused."""
    text = str(path.resolve())
    if any(ord(ch) < 32 for ch in text):
        raise InputError(f"{text!r}: the lake path has a control character; rename the folder")
    return "'" + text.replace("'", "''") + "'"
