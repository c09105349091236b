"""Ingest ledger files into the store, each exactly once.

Every file becomes `staging` (canonical column names, all text, plus source_row
when the reader knows it; a view over the file where DuckDB reads it itself),
queries/ingest/normalize.sql types and judges each row into temp table `parsed`
in one pass (its rowid keeps file order; view `parsed_full` is what later statements
read: every column, the rowid as row_index), and one database transaction records
the file, its rejected rows and its new transactions.
For every file: rows_read = loaded + duplicates + rejected. The staging readers live
in monitor.ledger.staging.
"""
from __future__ import annotations

import fnmatch
import glob
import hashlib
import os
import threading
from contextlib import ExitStack
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb
from fastexcel import FastExcelError

from monitor.ledger import payees
from monitor.ledger.formats import detect as formats
from monitor.settings.config import BANK_FORMATS, CANONICAL_COLUMNS, Config, Source
from monitor.errors import InputError, MonitorError, first_line
from monitor.ledger.staging import (UNFINISHED_SECONDS, GzipCheck,
                                 is_gzip, proposal,
                                 staged as _staged, text_encoding, unterminated)
from monitor.sql.store import load_query, now, transaction

# Candidate date formats when a source sets no date_format, by the order of day and
# month. One family is chosen per file, from the whole column (see _date_formats):
# each row parsed on its own read a US 08/09/2022 as 8 September. Two-digit years come
# first: %Y reads '03/02/24' as the year 24.
DATE_FAMILIES = {
    "year first": ["%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M",
                   "%Y%m%d", "%Y/%m/%d"],
    "day first": ["%d/%m/%y", "%d/%m/%Y", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d.%m.%Y",
                  "%d-%m-%Y", "%d-%b-%Y", "%d %b %Y"],
    "month first": ["%m/%d/%y", "%m/%d/%Y", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M",
                    "%m-%d-%Y", "%b %d %Y", "%b %d, %Y"],
}
# ISO 4217 currencies with no minor unit: an amount in them has no decimals. (The rest
# may have two: the ledger keeps cents; three-decimal currencies lose nothing only when
# their third decimal is 0.)
ZERO_DECIMAL_CURRENCIES = ["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG",
                           "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"]
CONFLICT = "conflicting duplicate: "   # rejected_rows.reason prefix the detector reads
CHUNK = 1 << 24


@dataclass
class FileResult:
    path: str
    source: str
    format: str = ""
    rows_read: int = 0
    loaded: int = 0
    duplicates: int = 0
    rejected: int = 0
    status: str = "loaded"       # loaded | unchanged | rejected | not ready | error
    message: str = ""
    balance: str = ""            # bank statements: balance/sequence check summary
    file_id: int | None = None
    hint: str = ""               # more lines for a person (a [[sources]] block to start from)
    replaced: list = field(default_factory=list)   # file ids a reload replaced

    def as_dict(self) -> dict:
        return asdict(self)


def plan(config: Config, paths: list[str] | None = None,
         source_name: str | None = None) -> list[tuple[Path, Source | None]]:
    """The files to read and the source each is read with."""
    if not paths:
        sources = [config.source(source_name)] if source_name else list(config.sources)
        found, taken = [], set()
        for source in sources:
            for match in sorted(glob.glob(source.path, recursive=True)):
                # A file two globs match is read once, by the first source listed.
                if os.path.isfile(match) and match not in taken and _inside(source, match):
                    taken.add(match)
                    found.append((Path(match), source))
        return found
    named = config.source(source_name) if source_name else None
    planned = []
    for raw in paths:
        path = Path(raw)
        if not path.is_file():
            raise InputError(f"{raw}: no such file")
        planned.append((path, named or _matching_source(config, path)))
    return planned


def _inside(source: Source, match: str) -> bool:
    """False for a symlink (or a file under a linked folder) that leads out of the source's
    folder: whoever may drop files there must not make the monitor read others (their
    first line reached files.error). follow_symlinks = true allows it."""
    if source.follow_symlinks:
        return True
    parts = Path(source.path).parts
    fixed = []
    for part in parts:
        if glob.has_magic(part):
            break
        fixed.append(part)
    if len(fixed) == len(parts):          # a path with no wildcard: its folder
        fixed = fixed[:-1]
    folder = os.path.realpath(Path(*fixed)) if fixed else os.path.realpath(".")
    return os.path.realpath(match).startswith(folder.rstrip(os.sep) + os.sep)


def _matching_source(config: Config, path: Path) -> Source | None:
    resolved = str(path.resolve())
    for source in config.sources:
        if fnmatch.fnmatch(resolved, str(Path(source.path).resolve())):
            return source
    return None


def ingest_all(con: duckdb.DuckDBPyConnection, planned, on_file=None,
               reload: bool = False, complete: bool = False) -> list[FileResult]:
    """Ingest each planned file; a bad file never stops the others. With reload, each
    file's rows from earlier loads are replaced by what it yields now. With complete, a
    person vouches that the files are finished: one whose last line has no line end is
    read at once instead of after it has rested (a download just made, a copy)."""
    results = []
    for path, source in planned:
        results.append(ingest_file(con, path, source, reload, complete))
        if on_file:
            on_file(results[-1])
    return results


def ingest_file(con: duckdb.DuckDBPyConnection, path: Path, source: Source | None,
                reload: bool = False, complete: bool = False) -> FileResult:
    source_name = source.name if source else ""
    result = FileResult(path=str(path), source=source_name)
    digest = None
    try:
        size = path.stat().st_size
        # Only a file the size of one already loaded can be unchanged: hash it first.
        # Any other is new for sure, and is hashed on a thread while DuckDB reads it.
        if not reload and con.execute("SELECT count(*) FROM files WHERE size_bytes = ? "
                                      "AND status = 'loaded'", [size]).fetchone()[0]:
            known = file_sha256(path)[0]
            seen = con.execute(
                "SELECT file_id, ingested_at FROM files WHERE sha256 = ? AND status = 'loaded' "
                "ORDER BY file_id LIMIT 1", [known]).fetchone()
            if seen:
                result.status, result.file_id = "unchanged", seen[0]
                result.message = f"identical to file #{seen[0]} ingested {seen[1]:%Y-%m-%d %H:%M}"
                return result
            digest = _Digest(path, known, is_gzip(path))
        if size == 0:
            raise InputError(f"{path}: the file is empty (not even a header row); "
                             "export it again")
        fmt = source.format if source else "auto"
        if fmt == "auto":
            fmt = formats.detect(path)
        result.format = fmt
        if fmt == "csv" and not complete and unterminated(path):
            # Not recorded: a later run reads it once its last line is complete.
            result.status = "not ready"
            result.message = (f"{path}: not read yet: its last line has no line end, so it "
                              "may still be being written; it is read once complete, "
                              f"{UNFINISHED_SECONDS // 60} minutes after its last change, or "
                              f"now with `monitor ingest --complete {path}` if it is finished")
            return result
        if fmt not in BANK_FORMATS and source is None:
            result.hint = _proposal(con, path, fmt)
            raise InputError(
                f"{path}: no configured source matches this {fmt} file; add a [[sources]] "
                f"whose path matches it" + (" (one is proposed below)" if result.hint else "")
                + ", or pass --source NAME")
        if fmt in BANK_FORMATS:
            source = formats.bank_source(source, fmt)
            result.source = source.name
        digest = digest or _Digest(path, gz=is_gzip(path))
        encoding = source.encoding or (text_encoding(path) if fmt == "csv" else None)
        try:
            _read_and_load(con, result, (path, fmt, source, encoding), (digest, size, reload))
        except _NotUtf8 as e:
            if source.encoding == "utf-8":
                raise InputError(f"{path}: not UTF-8 (row {e.args[0]}); set encoding = "
                                 f"\"cp1252\" for this source if it is a Windows export") from None
            # Windows exports are common: read it again as cp1252.
            _read_and_load(con, result, (path, fmt, source, "cp1252"), (digest, size, reload))
    except MonitorError as e:
        _record_error(con, result, str(e), path)
    except (duckdb.InterruptException, RuntimeError) as e:
        # Ctrl-C inside a DuckDB query surfaces as one of these: stop the run (the file's
        # transaction is already rolled back); it is not a bad file.
        if isinstance(e, duckdb.InterruptException) or "interrupted" in str(e).lower():
            raise KeyboardInterrupt from None
        raise
    except (duckdb.Error, OSError, ValueError, UnicodeError, FastExcelError) as e:
        _record_error(con, result, f"{path}: cannot read ({first_line(e)})", path)
    finally:
        if digest:
            digest.close()
    return result


def _proposal(con, path: Path, fmt: str) -> str:
    try:
        return proposal(con, path, fmt)
    except (duckdb.Error, OSError, UnicodeError, ValueError):
        return ""


def _read_and_load(con, result: FileResult, what, facts) -> None:
    path, fmt, source, encoding = what
    digest, size, reload = facts
    statements = []   # bank formats: one entry per statement, for balance checks
    with _staged(con, path, fmt, source, statements, encoding) as (structural_rejects, first_row):
        _load(con, result, source, (digest, size, first_row, reload), structural_rejects,
              statements)


class _NotUtf8(Exception):
    """The CSV reader met bytes that are not UTF-8 (args: the first such row)."""


class _Digest:
    """A file's SHA-256, taken on a thread while DuckDB reads the file (hashlib, zlib and
    file reads release the GIL), or known already; a gzip file is also inflated there to
    check its CRC and end, and value() refuses a damaged one before anything is written."""

    def __init__(self, path: Path, known: str | None = None, gz: bool = False):
        self._value, self._stop, self._pool = known, threading.Event(), None
        self._path, self._check = path, GzipCheck() if gz else None
        if known is None or gz:
            self._pool = ThreadPoolExecutor(max_workers=1)
            self._future = self._pool.submit(_sha256, path, self._stop, self._check)

    def value(self) -> str:
        if self._pool is not None:
            computed = self._future.result()
            self._value = self._value or computed
            problem = self._check.finish() if self._check else None
            if problem:
                raise InputError(f"{self._path}: damaged gzip file ({problem}); nothing was "
                                 "loaded from it: copy or export it again")
        return self._value

    def close(self) -> None:
        if self._pool:
            self._stop.set()
            self._pool.shutdown(wait=True)


def _sha256(path: Path, stop: threading.Event | None = None,
            check: GzipCheck | None = None) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while (chunk := f.read(CHUNK)) and not (stop and stop.is_set()):
            digest.update(chunk)
            if check:
                check.feed(chunk)
    return digest.hexdigest()


def file_sha256(path: Path) -> tuple[str, int]:
    return _sha256(path), path.stat().st_size


def _reader_rejects(con, first_row: int) -> list[tuple[int, str, str]]:
    """Lines the CSV reader could not split (it reports each once per problem: keep one),
    and number the parsed rows around them."""
    exists = con.execute("SELECT count(*) FROM duckdb_tables() "
                         "WHERE table_name = 'reject_errors' AND temporary").fetchone()[0]
    if not exists:
        return []
    bad_bytes = con.execute("SELECT min(line) FROM reject_errors "
                            "WHERE error_type = 'INVALID ENCODING'").fetchone()[0]
    if bad_bytes is not None:
        raise _NotUtf8(bad_bytes)
    rejects = con.execute(
        "SELECT line, arg_min(csv_line, column_idx), arg_min(error_message, column_idx) "
        "FROM reject_errors GROUP BY line ORDER BY line").fetchall()
    if rejects:
        _renumber_around(con, [line for line, _, _ in rejects], first_row)
    return [(line, raw, f"cannot split the line into columns: {_first_line_text(message)}")
            for line, raw, message in rejects]


def _renumber_around(con, reject_lines: list[int], first_row: int) -> None:
    """Number parsed rows as file rows, skipping the lines the CSV reader set aside.
    The k-th set-aside line L shifts every later row: its slot among kept rows is L-k+1."""
    if "source_row" not in con.table("parsed").columns:     # left out by normalize
        con.execute("ALTER TABLE parsed ADD COLUMN source_row BIGINT")
    con.execute("CREATE OR REPLACE TEMP TABLE skipped AS "
                "SELECT unnest($lines) AS line, generate_subscripts($lines, 1) AS k",
                {"lines": reject_lines})
    con.execute("""UPDATE parsed SET source_row = rowid + $first +
        (SELECT count(*) FROM skipped WHERE skipped.line - skipped.k + 1 <= parsed.rowid + $first)""",
                {"first": first_row})


def _load(con, result: FileResult, source: Source, file_facts, structural_rejects,
          statements) -> None:
    digest, size, first_row, reload = file_facts
    con.execute(load_query("ingest/macros"))
    derive = "txn_id" not in source.columns
    bank = result.format in BANK_FORMATS
    columns = {field: source.columns.get(field, "") for field in CANONICAL_COLUMNS}
    constant = _constant_columns(source, result.format)
    # The file's currency and account when no column gives them (the consumers of
    # `parsed` read a column left out as NULL through these).
    fixed = {"currency": source.currency, "account": source.account or
             (None if "account" in source.columns else source.name)}
    con.execute(load_query("ingest/normalize"), fixed | {
        "source": source.name, "sign": 1 if source.charges == "positive" else -1,
        "date_formats": _date_formats(con, result.path, source, bank),
        "columns": columns, "derive_ids": derive, **_raw_layout(source),
        "earliest": date.fromisoformat(source.earliest_date),
        "latest": now().date() + timedelta(days=source.future_days),
        "future_days": source.future_days, "max_amount": source.max_amount,
        "check_places": not bank, "zero_decimal": ZERO_DECIMAL_CURRENCIES,
        "constant": list(constant),
    })
    reader_rejects = _reader_rejects(con, first_row)
    _view_every_column(con, constant)
    # Rows without their own number are numbered by their order, unless renumbered
    # around lines the CSV reader set aside.
    by_order = not reader_rejects and _numbered_by_order(con)
    structural_rejects = structural_rejects + reader_rejects
    digest = digest.value()
    previous = _previous_loads(con, result.path, digest, reload)
    stamp = now()
    with transaction(con), ExitStack() as cleanup:
        if previous:
            _forget_files(con, previous)
            result.replaced = previous
        fresh = not con.execute("SELECT EXISTS (SELECT 1 FROM transactions WHERE source = ?)",
                                [source.name]).fetchone()[0]
        # A source's first file loads every usable row (unless mapped ids repeat, see
        # below): its new payee names are keyed on a thread meanwhile (the thread is
        # joined however the block ends, before the transaction does).
        keying = cleanup.enter_context(payees.PendingKeys(con, _new_names(con))) \
            if fresh else None
        staged, rejected, numbered = _shape(con, derive)
        if not derive and (numbered or not fresh):
            # A row whose txn_id is already held with other content is no duplicate.
            con.execute(load_query("ingest/conflicts"), fixed | {
                "source": source.name, "fresh": fresh, "repeats": numbered,
                "by_order": by_order, "first_row": first_row, "prefix": CONFLICT})
            staged, rejected, numbered = _shape(con, derive)
        file_id = con.execute(
            "INSERT INTO files (path, source, format, sha256, size_bytes, status, ingested_at) "
            "VALUES (?, ?, ?, ?, ?, 'loaded', ?) RETURNING file_id",
            [result.path, source.name, result.format, digest, size, stamp]).fetchone()[0]
        params = fixed | {"file_id": file_id, "source": source.name, "at": stamp,
                          "first_row": first_row, "fresh": fresh, "by_order": by_order}
        if rejected:
            con.execute(load_query("ingest/insert_rejects"),
                        {k: params[k] for k in ("file_id", "at", "first_row")})
        if structural_rejects:
            con.executemany("INSERT INTO rejected_rows VALUES (?, ?, ?, ?, ?)",
                            [[file_id, line, raw, reason, stamp]
                             for line, raw, reason in structural_rejects])
        if numbered:
            loaded = con.execute(load_query("ingest/insert_numbered"),
                                 params | {"derive_ids": derive}).fetchone()[0]
        else:
            loaded = con.execute(load_query("ingest/insert_transactions"), params).fetchone()[0]
        # The file's new payee names get their keys with its rows: those keyed on the
        # thread when every usable row was loaded, else the ledger's (a repeated mapped
        # id loads once, and conflicts may have set rows aside).
        if loaded and keying and (derive or not numbered):
            keying.store(con)
        elif loaded:
            payees.add_new(con, file_id)
        result.rows_read = staged + len(structural_rejects)
        result.rejected = rejected + len(structural_rejects)
        result.loaded = loaded
        result.duplicates = staged - rejected - loaded
        # Every row refused is a failed file, not a loaded one: it is read again next time
        # (its config may have been fixed), replacing this attempt.
        if result.rows_read and result.rejected == result.rows_read:
            result.status = "rejected"
        con.execute("UPDATE files SET rows_read = ?, loaded = ?, duplicates = ?, rejected = ?, "
                    "status = ?, error = ? WHERE file_id = ?",
                    [result.rows_read, loaded, result.duplicates, result.rejected,
                     result.status, f"every row set aside (see `monitor rejects --file "
                     f"{file_id}`)" if result.status == "rejected" else None, file_id])
        if statements:
            result.balance = formats.record_statements(con, file_id, statements)
    result.file_id = file_id
    if result.rejected:
        first = con.execute("SELECT source_row, reason FROM rejected_rows WHERE file_id = ? "
                            "ORDER BY source_row LIMIT 1", [file_id]).fetchone()
        what = (f"{result.path}: every row ({result.rejected}) set aside"
                if result.status == "rejected" else f"{result.rejected} row(s) set aside")
        result.message = f"{what}, first at row {first[0]}: {first[1]} (see `monitor rejects`)"
    if result.replaced:
        result.message = (f"replaced the rows of file(s) #{', #'.join(map(str, previous))}; "
                          + result.message).rstrip("; ")


def _date_formats(con, path: str, source: Source, bank: bool) -> list[str]:
    """The date formats for this file's rows: the source's own, else the one family that
    reads the whole column (the most of its distinct texts). When day-first and
    month-first read it equally well and disagree on a day, the file is refused: a
    guess would move payments by months without a word."""
    if source.date_format:
        return [source.date_format]
    if bank:
        return DATE_FAMILIES["year first"]          # the readers stage ISO dates
    counts = con.execute(load_query("ingest/date_families"), {
        "year_first": DATE_FAMILIES["year first"], "day_first": DATE_FAMILIES["day first"],
        "month_first": DATE_FAMILIES["month first"]}).fetchone()
    read = dict(zip(DATE_FAMILIES, counts[:3]))
    disagree, example = counts[3], counts[4]
    best = max(read.values())
    if best == 0:
        return [f for family in DATE_FAMILIES.values() for f in family]
    tied = [family for family, count in read.items() if count == best]
    if {"day first", "month first"} <= set(tied) and disagree:
        raise InputError(
            f"{path}: the dates in column '{source.columns.get('posted_at')}' read as both "
            f"day/month and month/day (e.g. '{example}', and no day above 12 decides it); "
            f"set date_format for source '{source.name}' (\"%d/%m/%Y\" or \"%m/%d/%Y\")")
    return DATE_FAMILIES[tied[0]]


def _previous_loads(con, path: str, digest: str, reload: bool) -> list[int]:
    """The earlier loads this one replaces: with reload, every load of this path or
    content; otherwise only a failed attempt at this same content (all rows refused)."""
    if reload:
        rows = con.execute(
            "SELECT file_id FROM files WHERE status IN ('loaded', 'rejected') "
            "AND (path IN (?, ?) OR sha256 = ?) ORDER BY file_id",
            [path, str(Path(path).resolve()), digest]).fetchall()
    else:
        rows = con.execute("SELECT file_id FROM files WHERE status = 'rejected' AND sha256 = ? "
                           "ORDER BY file_id", [digest]).fetchall()
    return [r[0] for r in rows]


def _forget_files(con, file_ids: list[int]) -> None:
    """Remove earlier loads (inside the caller's transaction). The scans' kept history
    is derived data: emptied, the next scan rebuilds it from the ledger as it now is."""
    for table in ("transactions", "rejected_rows", "statements", "exact_amounts", "files"):
        con.execute(f"DELETE FROM {table} WHERE list_contains($ids, file_id)", {"ids": file_ids})
    con.execute("DELETE FROM pair_history_state")


# Optional text fields: NULL in every row when the source maps no column to them.
OPTIONAL_TEXT = ("counterparty_account", "initiator", "mcc", "description", "reference")


def _constant_columns(source: Source, fmt: str) -> dict[str, str]:
    """The columns of `parsed` the same in every row of this file, with their types: the
    optional text fields the source does not map and source_row when the reader numbers
    no rows (CSV, Parquet), NULL everywhere; and the currency and account when the
    source maps no column to them (every row has the source's: the consumers of
    `parsed` read them as coalesce(column, $currency or $account)). normalize leaves
    them out and view `parsed_full` adds them back as NULLs: a temp table stores even a
    constant column row by row (seven NULL columns cost 0.2 s of CPU per 2M rows, the
    currency 0.1 s).
    Bank formats stage their own columns, so nothing is left out for them."""
    if fmt in BANK_FORMATS:
        return {}
    found = {name: "VARCHAR" for name in OPTIONAL_TEXT + ("currency", "account")
             if name not in source.columns}
    if fmt in ("csv", "parquet"):
        found["source_row"] = "BIGINT"
    return found


def _view_every_column(con, constant: dict[str, str]) -> None:
    """Temp view `parsed_full`, what the inserts and checks read: `parsed` with its
    rowid as row_index and every column normalize left out as a NULL of its type. (An
    ALTER TABLE ADD COLUMN per such column stored its NULLs row by row: seven of them
    cost 0.35 s of CPU at 10M rows; a view costs nothing.)"""
    present = set(con.table("parsed").columns)
    missing = "".join(f", NULL::{kind} AS {name}" for name, kind in constant.items()
                      if name not in present)   # our own column names and types, not input
    con.execute(f"CREATE OR REPLACE TEMP VIEW parsed_full AS "
                f"SELECT rowid AS row_index, *{missing} FROM parsed")


def _new_names(con) -> list[str]:
    """The payee names of the usable parsed rows not keyed yet."""
    return [name for (name,) in con.execute(
        "SELECT DISTINCT counterparty FROM parsed p WHERE reason IS NULL AND counterparty "
        "IS NOT NULL AND NOT EXISTS (SELECT 1 FROM payee_keys k WHERE k.name = p.counterparty)"
    ).fetchall()]


def _numbered_by_order(con) -> bool:
    """True when no staged row carries its own number (CSV, Parquet)."""
    return con.execute("SELECT count(source_row) = 0 FROM parsed_full").fetchone()[0]


def _shape(con, derive: bool) -> tuple[int, int, bool]:
    """Rows staged, rows rejected, and whether rows must be numbered per txn_id: always
    for derived ids; for mapped ids only when some id repeats. Ids strictly rising or
    falling row by row are distinct (bank and card references usually are), a cheap
    streaming check; else distinct 64-bit hashes prove it (equal hashes just take the
    slower, exact path)."""
    if derive:
        staged, rejected = con.execute("SELECT count(*), count(reason) FROM parsed").fetchone()
        return staged, rejected, True
    staged, rejected, rising, falling = con.execute(
        "SELECT (SELECT count(*) FROM parsed), (SELECT count(reason) FROM parsed), "
        "count(*) FILTER (txn_id <= prev) = 0, count(*) FILTER (txn_id >= prev) = 0 "
        "FROM (SELECT txn_id, lag(txn_id) OVER () AS prev FROM parsed WHERE reason IS NULL)"
    ).fetchone()
    if rising or falling:
        return staged, rejected, False
    distinct = con.execute("SELECT count(DISTINCT hash(txn_id)) FROM parsed "
                           "WHERE reason IS NULL").fetchone()[0]
    return staged, rejected, distinct < staged - rejected


def _raw_layout(source: Source) -> dict:
    """Which texts a rejected row shows: each mapped file column once, by its name."""
    keys, index = [], []
    for position, name in enumerate(CANONICAL_COLUMNS, 1):
        column = source.columns.get(name)
        if column is not None and column not in keys:
            keys.append(column)
            index.append(position)
    return {"raw_keys": keys, "raw_index": index}


def _record_error(con, result: FileResult, message: str, path: Path) -> None:
    result.status, result.message = "error", message
    try:
        digest, size = file_sha256(path)
    except OSError:
        digest, size = "", 0
    # Keep one error row per file content, so a retried bad file does not pile up.
    con.execute("DELETE FROM files WHERE sha256 = ? AND status = 'error'", [digest])
    con.execute("INSERT INTO files (path, source, format, sha256, size_bytes, status, error, "
                "ingested_at) VALUES (?, ?, ?, ?, ?, 'error', ?, ?)",
                [result.path, result.source, result.format or "unknown", digest, size,
                 message, now()])


def _first_line_text(text: str) -> str:
    return (str(text or "").strip().splitlines() or [""])[0]
