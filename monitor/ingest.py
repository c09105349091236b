"""Ingest ledger files into the store, each exactly once.

Every file becomes `staging` (canonical column names, all text, plus source_row
when the reader knows it; a view over the file where DuckDB reads it itself),
queries/ingest/normalize.sql types and judges each row into temp table `parsed`
in one pass (its rowid keeps file order), and one database transaction records
the file, its rejected rows and its new transactions.
For every file: rows_read = loaded + duplicates + rejected.
"""
from __future__ import annotations

import fnmatch
import glob
import gzip
import hashlib
import os
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
from duckdb import ColumnExpression, ConstantExpression
from fastexcel import FastExcelError

from monitor import formats
from monitor.config import BANK_FORMATS, CANONICAL_COLUMNS, Config, Source
from monitor.errors import InputError, MonitorError
from monitor.store import drop_temp, load_query, now

DEFAULT_DATE_FORMATS = [
    "%Y-%m-%d", "%d/%m/%Y", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M",
    "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d.%m.%Y", "%d-%m-%Y", "%d-%b-%Y", "%d %b %Y",
    "%d/%m/%y", "%Y%m%d", "%Y/%m/%d",
]
HEADER_SEARCH_ROWS = 50   # spreadsheets often carry a title block above the header
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
    status: str = "loaded"       # loaded | unchanged | error
    message: str = ""
    balance: str = ""            # bank statements: balance/sequence check summary
    file_id: int | None = None

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
                if os.path.isfile(match) and match not in taken:
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


def _matching_source(config: Config, path: Path) -> Source | None:
    resolved = str(path.resolve())
    for source in config.sources:
        if fnmatch.fnmatch(resolved, str(Path(source.path).resolve())):
            return source
    return None


def ingest_all(con: duckdb.DuckDBPyConnection, planned, on_file=None) -> list[FileResult]:
    """Ingest each planned file; a bad file never stops the others."""
    results = []
    for path, source in planned:
        results.append(ingest_file(con, path, source))
        if on_file:
            on_file(results[-1])
    return results


def ingest_file(con: duckdb.DuckDBPyConnection, path: Path, source: Source | None) -> FileResult:
    source_name = source.name if source else ""
    result = FileResult(path=str(path), source=source_name)
    digest = None
    try:
        size = path.stat().st_size
        # Only a file the size of one already loaded can be unchanged: hash it first.
        # Any other is new for sure, and is hashed on a thread while DuckDB reads it.
        if con.execute("SELECT count(*) FROM files WHERE size_bytes = ? AND status = 'loaded'",
                       [size]).fetchone()[0]:
            known = file_sha256(path)[0]
            seen = con.execute(
                "SELECT file_id, ingested_at FROM files WHERE sha256 = ? AND status = 'loaded' "
                "ORDER BY file_id LIMIT 1", [known]).fetchone()
            if seen:
                result.status, result.file_id = "unchanged", seen[0]
                result.message = f"identical to file #{seen[0]} ingested {seen[1]:%Y-%m-%d %H:%M}"
                return result
            digest = _Digest(path, known)
        if size == 0:
            raise InputError(f"{path}: the file is empty (not even a header row); "
                             "export it again")
        fmt = source.format if source else "auto"
        if fmt == "auto":
            fmt = formats.detect(path)
        result.format = fmt
        if fmt not in BANK_FORMATS and source is None:
            raise InputError(
                f"{path}: no configured source matches this {fmt} file; add a [[sources]] "
                f"whose path matches it, or pass --source NAME")
        if fmt in BANK_FORMATS:
            source = formats.bank_source(source, fmt)
            result.source = source.name
        digest = digest or _Digest(path)
        try:
            _read_and_load(con, result, (path, fmt, source, source.encoding), (digest, size))
        except _NotUtf8 as e:
            if source.encoding == "utf-8":
                raise InputError(f"{path}: not UTF-8 (row {e.args[0]}); set encoding = "
                                 f"\"cp1252\" for this source if it is a Windows export") from None
            # Windows exports are common: read it again as cp1252.
            _read_and_load(con, result, (path, fmt, source, "cp1252"), (digest, size))
    except MonitorError as e:
        _record_error(con, result, str(e), path)
    except (duckdb.InterruptException, RuntimeError) as e:
        # Ctrl-C inside a DuckDB query surfaces as one of these: stop the run (the file's
        # transaction is already rolled back); it is not a bad file.
        if isinstance(e, duckdb.InterruptException) or "interrupted" in str(e).lower():
            raise KeyboardInterrupt from None
        raise
    except (duckdb.Error, OSError, ValueError, UnicodeError, FastExcelError) as e:
        _record_error(con, result, f"{path}: cannot read ({_first_line(e)})", path)
    finally:
        if digest:
            digest.close()
    return result


def _read_and_load(con, result: FileResult, what, facts) -> None:
    path, fmt, source, encoding = what
    digest, size = facts
    statements = []   # bank formats: one entry per statement, for balance checks
    with _staged(con, path, fmt, source, statements, encoding) as (structural_rejects, first_row):
        _load(con, result, source, (digest, size, first_row), structural_rejects, statements)


class _NotUtf8(Exception):
    """The CSV reader met bytes that are not UTF-8 (args: the first such row)."""


class _Digest:
    """A file's SHA-256, taken on a thread while DuckDB reads the file (hashlib and
    file reads release the GIL), or known already."""

    def __init__(self, path: Path, known: str | None = None):
        self._value, self._stop, self._pool = known, threading.Event(), None
        if known is None:
            self._pool = ThreadPoolExecutor(max_workers=1)
            self._future = self._pool.submit(_sha256, path, self._stop)

    def value(self) -> str:
        if self._value is None:
            self._value = self._future.result()
        return self._value

    def close(self) -> None:
        if self._pool:
            self._stop.set()
            self._pool.shutdown(wait=True)


def _sha256(path: Path, stop: threading.Event | None = None) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while (chunk := f.read(CHUNK)) and not (stop and stop.is_set()):
            digest.update(chunk)
    return digest.hexdigest()


def file_sha256(path: Path) -> tuple[str, int]:
    return _sha256(path), path.stat().st_size


@contextmanager
def _staged(con, path: Path, fmt: str, source: Source, statements: list, encoding: str | None):
    """Make `staging` for the file; yields the rows its reader set aside before staging
    and the file row number of the first staged row (for rows without their own).
    CSV rows the reader cannot split are collected later, by _reader_rejects."""
    cleanup = []
    _drop_staging(con)
    try:
        if fmt == "csv":
            _stage_csv(con, path, source, encoding, cleanup)
            rejects, first_row = [], 2
        elif fmt == "parquet":
            _stage_relation(con, con.sql("SELECT * FROM read_parquet($p)", params={"p": str(path)}),
                            path, source, view=True)
            rejects, first_row = [], 1
        elif fmt == "xlsx":
            rejects, first_row = [], _stage_excel(con, path, source)
        elif fmt in BANK_FORMATS:
            statement_file = formats.read(path, fmt)
            statements.extend(statement_file.statements)
            con.register("bank_rows", statement_file.rows)
            try:
                con.execute("CREATE OR REPLACE TEMP TABLE staging AS SELECT * FROM bank_rows")
            finally:
                con.unregister("bank_rows")
            rejects, first_row = statement_file.rejects, 1
        else:
            raise InputError(f"{path}: unknown format '{fmt}'")
        _ensure_raw_row(con)
        yield rejects, first_row
    finally:
        for undo in cleanup:
            undo()


def _ensure_raw_row(con) -> None:
    """Readers that give no full row text stage without raw_row; normalize reads it."""
    if "raw_row" not in con.table("staging").columns:
        con.execute("ALTER TABLE staging ADD COLUMN raw_row VARCHAR")


def _drop_staging(con) -> None:
    """Forget the previous file's staging (a view or a table) and reader rejects."""
    drop_temp(con, "staging", "reject_errors", "reject_scans")


def _stage_csv(con, path: Path, source: Source, encoding: str | None, cleanup) -> None:
    """`staging` as a view over DuckDB's CSV reader: the file is read once, by normalize.
    UTF-8 is read as it is (the reader reports bytes that are not); others via a copy."""
    readable = path if encoding in (None, "utf-8") else _utf8_copy(path, encoding, cleanup)
    # Quotes are RFC 4180's: left to the sniffer, a payee named "'" made it pick ' as the
    # quote and swallow the next lines into one field.
    options = ("all_varchar = true, header = true, ignore_errors = true, store_rejects = true, "
               "quote = '\"', escape = '\"'")
    params = {"p": str(readable)}
    if source.delimiter:
        options += ", delim = $d"
        params["d"] = source.delimiter
    if _header_has_blank_tail(readable):
        # Exports such as PayPal's pad the header with empty names the rows lack.
        options += ", null_padding = true"
    relation = con.sql(f"SELECT * FROM read_csv($p, {options})", params=params)
    _stage_relation(con, relation, path, source, view=True)


def _header_has_blank_tail(path: Path) -> bool:
    """True when the header line ends in empty column names, as in `"a","b",,,`."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        line = f.readline(1 << 16).decode("utf-8", "replace").rstrip("\r\n")
    return line != line.rstrip(",;\t")


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


def _utf8_copy(path: Path, encoding: str, cleanup) -> Path:
    """A UTF-8 copy of a file in another encoding."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:      # bytes cp1252 leaves undefined
        text = data.decode("latin-1")
    handle, name = tempfile.mkstemp(suffix=".csv", prefix="monitor-utf8-")
    with os.fdopen(handle, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    cleanup.append(lambda: os.unlink(name))
    return Path(name)


def _renumber_around(con, reject_lines: list[int], first_row: int) -> None:
    """Number parsed rows as file rows, skipping the lines the CSV reader set aside.
    The k-th set-aside line L shifts every later row: its slot among kept rows is L-k+1."""
    con.execute("CREATE OR REPLACE TEMP TABLE skipped AS "
                "SELECT unnest($lines) AS line, generate_subscripts($lines, 1) AS k",
                {"lines": reject_lines})
    con.execute("""UPDATE parsed SET source_row = rowid + $first +
        (SELECT count(*) FROM skipped WHERE skipped.line - skipped.k + 1 <= parsed.rowid + $first)""",
                {"first": first_row})


def _stage_excel(con, path: Path, source: Source) -> int:
    import fastexcel
    reader = fastexcel.read_excel(str(path))
    sheet = source.sheet if source.sheet is not None else 0
    if isinstance(sheet, str) and sheet.isdigit():
        sheet = int(sheet)
    try:
        frame = reader.load_sheet(sheet, header_row=None, dtypes="string").to_polars()
    except (IndexError, KeyError, ValueError, FastExcelError) as e:
        raise InputError(f"{path}: no sheet {sheet!r} ({_first_line(e)}); sheets are: "
                         + ", ".join(reader.sheet_names)) from None
    wanted = {_norm(c) for c in source.columns.values()}
    for index, row in enumerate(frame.head(HEADER_SEARCH_ROWS).iter_rows()):
        names = [_norm(v) for v in row]
        if wanted <= set(names):
            break
    else:
        missing = ", ".join(sorted(source.columns.values()))
        raise InputError(f"{path}: no header row with the mapped columns ({missing}) in the "
                         f"first {HEADER_SEARCH_ROWS} rows; check [sources.columns] for "
                         f"'{source.name}'")
    import polars as pl
    headers = [str(v) if v is not None else f"column{i + 1}" for i, v in enumerate(frame.row(index))]
    body = frame.slice(index + 1)
    body.columns = _unique(headers)
    # Rows are numbered as the spreadsheet shows them; wholly empty rows are not data.
    # A sheet is small: keep each row's full text, shown if the row is rejected.
    body = body.with_row_index("__row", offset=index + 2).filter(
        ~pl.all_horizontal(pl.exclude("__row").is_null()))
    text = (pl.struct(pl.exclude("__row")).struct.json_encode()
            .str.replace_all(r'"(?:[^"\\]|\\.)*":null,?', "").str.replace(r",}$", "}"))
    body = body.with_columns(text.alias("__raw"))
    con.register("sheet_rows", body)
    try:
        _stage_relation(con, con.table("sheet_rows"), path, source, row_column="__row",
                        raw_column="__raw")
    finally:
        con.unregister("sheet_rows")
    return index + 2   # spreadsheet row number of the first data row


def _stage_relation(con, relation, path: Path, source: Source, view: bool = False,
                    row_column: str | None = None, raw_column: str | None = None) -> None:
    """Project the file's columns onto canonical names, as temp view or table `staging`;
    row_column holds row numbers and raw_column each row's full text, when the reader has them."""
    by_norm = {}
    for column in relation.columns:
        by_norm.setdefault(_norm(column), column)
    picks = []
    for field in CANONICAL_COLUMNS:
        wanted = source.columns.get(field)
        if wanted is None:
            picks.append(ConstantExpression(None).cast(duckdb.sqltype("VARCHAR")).alias(field))
            continue
        actual = by_norm.get(_norm(wanted))
        if actual is None:
            shown = [c for c in relation.columns if c not in (row_column, raw_column)]
            raise InputError(
                f"{path}: column '{wanted}' is not in the file (its columns are: "
                f"{', '.join(shown)}); set sources.{source.name}.columns.{field} to one of "
                f"them, or fix the file's header")
        picks.append(ColumnExpression(actual).cast(duckdb.sqltype("VARCHAR")).alias(field))
    number = ColumnExpression(row_column) if row_column else ConstantExpression(None)
    picks.append(number.cast(duckdb.sqltype("BIGINT")).alias("source_row"))
    text = ColumnExpression(raw_column) if raw_column else ConstantExpression(None)
    picks.append(text.cast(duckdb.sqltype("VARCHAR")).alias("raw_row"))
    mapped = relation.select(*picks)
    if view:
        mapped.create_view("staging", replace=True)
        return
    con.register("mapped_rows", mapped)
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE staging AS SELECT * FROM mapped_rows")
    finally:
        con.unregister("mapped_rows")


def _load(con, result: FileResult, source: Source, file_facts, structural_rejects,
          statements) -> None:
    digest, size, first_row = file_facts
    con.execute(load_query("ingest/macros"))
    derive = "txn_id" not in source.columns
    columns = {field: source.columns.get(field, "") for field in CANONICAL_COLUMNS}
    con.execute(load_query("ingest/normalize"), {
        "source": source.name, "currency": source.currency, "account": source.account or
        (None if "account" in source.columns else source.name),
        "sign": 1 if source.charges == "positive" else -1,
        "date_formats": [source.date_format] if source.date_format else DEFAULT_DATE_FORMATS,
        "columns": columns, "derive_ids": derive, **_raw_layout(source),
    })
    reader_rejects = _reader_rejects(con, first_row)
    # Rows without their own number are numbered by their order, unless renumbered
    # around lines the CSV reader set aside.
    by_order = not reader_rejects and _numbered_by_order(con)
    structural_rejects = structural_rejects + reader_rejects
    staged, rejected, numbered = _shape(con, derive)
    digest = digest.value()
    fresh = not con.execute("SELECT EXISTS (SELECT 1 FROM transactions WHERE source = ?)",
                            [source.name]).fetchone()[0]
    stamp = now()
    con.execute("BEGIN TRANSACTION")
    try:
        file_id = con.execute(
            "INSERT INTO files (path, source, format, sha256, size_bytes, status, ingested_at) "
            "VALUES (?, ?, ?, ?, ?, 'loaded', ?) RETURNING file_id",
            [result.path, source.name, result.format, digest, size, stamp]).fetchone()[0]
        params = {"file_id": file_id, "source": source.name, "at": stamp, "first_row": first_row,
                  "fresh": fresh, "by_order": by_order}
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
        result.rows_read = staged + len(structural_rejects)
        result.rejected = rejected + len(structural_rejects)
        result.loaded = loaded
        result.duplicates = staged - rejected - loaded
        con.execute("UPDATE files SET rows_read = ?, loaded = ?, duplicates = ?, rejected = ? "
                    "WHERE file_id = ?", [result.rows_read, loaded, result.duplicates,
                                          result.rejected, file_id])
        if statements:
            result.balance = formats.record_statements(con, file_id, statements)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    result.file_id = file_id
    if result.rejected:
        first = con.execute("SELECT source_row, reason FROM rejected_rows WHERE file_id = ? "
                            "ORDER BY source_row LIMIT 1", [file_id]).fetchone()
        result.message = (f"{result.rejected} row(s) set aside, first at row {first[0]}: "
                          f"{first[1]} (see `monitor rejects`)")


def _numbered_by_order(con) -> bool:
    """True when no staged row carries its own number (CSV, Parquet)."""
    return con.execute("SELECT count(source_row) = 0 FROM parsed").fetchone()[0]


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
    for position, field in enumerate(CANONICAL_COLUMNS, 1):
        column = source.columns.get(field)
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


def _norm(name) -> str:
    return " ".join(str(name or "").split()).casefold()


def _unique(names: list[str]) -> list[str]:
    seen, out = {}, []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return out


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _first_line_text(text: str) -> str:
    return (str(text or "").strip().splitlines() or [""])[0]
