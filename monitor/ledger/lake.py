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

from contextlib import contextmanager
from pathlib import Path

import duckdb

from monitor.ledger.spark import session, to_arrow
from monitor.settings.engine import EngineSettings, engine_of
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
    with batch(con, "SELECT * FROM transactions", {}, buckets):
        facts = summary(con)
        _copy(con, out, buckets, "OVERWRITE" if overwrite else "OVERWRITE_OR_IGNORE")
    return facts | {"path": str(out)}


def append(con: duckdb.DuckDBPyConnection, lake: str, file_ids: list[int],
           buckets: int = 0) -> int:
    """Add the rows of these ingested files to the lake; returns how many were written."""
    if not file_ids:
        return 0
    with batch(con, FILES_ROWS, {"file_ids": [int(f) for f in file_ids]}, buckets):
        count = summary(con)["rows"]
        if count:
            folder = Path(lake)
            folder.mkdir(parents=True, exist_ok=True)
            _copy(con, folder, buckets, "APPEND")
    return count


def to_lake(con: duckdb.DuckDBPyConnection, config, results) -> int:
    """With the Spark engine, append the rows of the files just loaded to the lake
    (DuckDB keeps deduplication, rejects and statements; the lake gets what loaded)."""
    engine = engine_of(config)
    file_ids = [r.file_id for r in results
                if r.status == "loaded" and r.loaded and r.file_id is not None]
    if not engine.spark or not file_ids:
        return 0
    if engine.lake_is_url:                       # object stores: written by Spark
        return append_rows(con, engine, file_ids)
    return append(con, engine.lake, file_ids, engine.buckets)


FILES_ROWS = "SELECT * FROM transactions WHERE file_id IN (SELECT unnest($file_ids))"


@contextmanager
def batch(con: duckdb.DuckDBPyConnection, select: str, params: dict, buckets: int):
    """Temp table lake_batch: the selected rows with their partition columns, for
    as long as the block runs. Both writers (DuckDB's COPY, Spark) read it."""
    columns = [MONTH] + ([BUCKET] if buckets else [])
    if buckets:
        params = params | {"buckets": int(buckets)}
    con.execute(f"CREATE OR REPLACE TEMP TABLE lake_batch AS SELECT *, {', '.join(columns)} "
                f"FROM ({select})", params)
    try:
        yield "lake_batch"
    finally:
        con.execute("DROP TABLE IF EXISTS lake_batch")


def summary(con: duckdb.DuckDBPyConnection) -> dict:
    """Rows, money and months in lake_batch."""
    rows, total, months = con.execute(
        "SELECT count(*), coalesce(sum(amount), 0), count(DISTINCT posted_month) "
        "FROM lake_batch").fetchone()
    return {"rows": rows, "amount": total, "months": months}


def _copy(con, folder: Path, buckets: int, mode: str) -> None:
    # COPY's target cannot be a bound parameter: the folder goes in as a quoted literal
    # (see _literal); the rows were staged with bound values.
    partition = "posted_month, account_bucket" if buckets else "posted_month"
    con.execute(f"COPY lake_batch TO {_literal(folder)} (FORMAT parquet, "
                f"PARTITION_BY ({partition}), {mode}, FILENAME_PATTERN 'part_{{uuid}}')")


def _literal(path: Path) -> str:
    """A folder as a SQL string literal: DuckDB strings have no backslash escapes, so
    doubling each quote is the whole of quoting; control characters are refused."""
    text = str(path.resolve())
    if any(ord(ch) < 32 for ch in text):
        raise InputError(f"{text!r}: the lake path has a control character; rename the folder")
    return "'" + text.replace("'", "''") + "'"


def append_rows(con: duckdb.DuckDBPyConnection, settings: EngineSettings,
                file_ids: list[int]) -> int:
    """Append ingested files' rows to a lake at a URL (s3a://, abfss://, hdfs://...):
    DuckDB cannot write there offline, Spark can. Folders go through append."""
    # The partition columns come from batch, so both writers bucket alike.
    with batch(con, FILES_ROWS, {"file_ids": [int(f) for f in file_ids]},
               settings.buckets) as table:
        arrow = to_arrow(con, f"SELECT * FROM {table}")
    if not arrow.num_rows:
        return 0
    parts = ["posted_month"] + (["account_bucket"] if settings.buckets else [])
    session(settings).createDataFrame(arrow).write.mode("append").partitionBy(*parts).parquet(
        settings.lake)
    return arrow.num_rows
