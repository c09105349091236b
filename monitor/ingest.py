"""Ingest ledger files into the store, each exactly once.

Every file becomes a temp table `staging` (canonical column names, all text,
plus source_row), then queries/ingest/normalize.sql types and judges each row,
and one database transaction records the file, its rejected rows and its new
transactions. For every file: rows_read = loaded + duplicates + rejected.
"""
from __future__ import annotations

import codecs
import fnmatch
import glob
import gzip
import hashlib
import os
import tempfile
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
from duckdb import ColumnExpression, ConstantExpression

from monitor import formats
from monitor.config import BANK_FORMATS, CANONICAL_COLUMNS, Config, Source
from monitor.errors import InputError, MonitorError
from monitor.store import load_query, now

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
        found = []
        for source in sources:
            for match in sorted(glob.glob(source.path, recursive=True)):
                if os.path.isfile(match):
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
    try:
        digest, size = file_sha256(path)
        seen = con.execute(
            "SELECT file_id, ingested_at FROM files WHERE sha256 = ? AND status = 'loaded' "
            "ORDER BY file_id LIMIT 1", [digest]).fetchone()
        if seen:
            result.status, result.file_id = "unchanged", seen[0]
            result.message = f"identical to file #{seen[0]} ingested {seen[1]:%Y-%m-%d %H:%M}"
            return result
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
        statements = []   # bank formats: one entry per statement, for balance checks
        with _staged(con, path, fmt, source, statements) as (structural_rejects, first_row):
            _load(con, result, source, (digest, size, first_row), structural_rejects, statements)
    except MonitorError as e:
        _record_error(con, result, str(e), path)
    except (duckdb.Error, OSError, ValueError, UnicodeError) as e:
        _record_error(con, result, f"{path}: cannot read ({_first_line(e)})", path)
    return result


def file_sha256(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


@contextmanager
def _staged(con, path: Path, fmt: str, source: Source, statements: list):
    """Fill temp table `staging`; yields the rows the reader itself could not split
    and the file row number of the first staged row (for rows without their own)."""
    cleanup = []
    try:
        if fmt == "csv":
            rejects, first_row = _stage_csv(con, path, source, cleanup), 2
        elif fmt == "parquet":
            _stage_relation(con, con.sql("SELECT * FROM read_parquet($p)", params={"p": str(path)}),
                            path, source)
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
        yield rejects, first_row
    finally:
        for undo in cleanup:
            undo()


def _stage_csv(con, path: Path, source: Source, cleanup) -> list[tuple[int, str, str]]:
    readable = _utf8_copy(path, source.encoding, cleanup)
    con.execute("DROP TABLE IF EXISTS reject_errors; DROP TABLE IF EXISTS reject_scans")
    options = "all_varchar = true, header = true, ignore_errors = true, store_rejects = true"
    params = {"p": str(readable)}
    if source.delimiter:
        options += ", delim = $d"
        params["d"] = source.delimiter
    relation = con.sql(f"SELECT * FROM read_csv($p, {options})", params=params)
    _stage_relation(con, relation, path, source)
    rejects = con.execute(
        "SELECT line, csv_line, error_message FROM reject_errors ORDER BY line").fetchall()
    if rejects:
        _renumber_around(con, [line for line, _, _ in rejects], first_row=2)
    return [(line, raw, f"cannot split the line into columns: {message}")
            for line, raw, message in rejects]


def _utf8_copy(path: Path, encoding: str | None, cleanup) -> Path:
    """The file itself when it is UTF-8, else a UTF-8 copy (cp1252 exports are common)."""
    opener = gzip.open if path.suffix == ".gz" else open
    if encoding in (None, "utf-8"):
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            with opener(path, "rb") as f:
                while chunk := f.read(CHUNK):
                    decoder.decode(chunk)
                decoder.decode(b"", final=True)
            return path
        except UnicodeDecodeError as e:
            if encoding == "utf-8":
                raise InputError(f"{path}: not UTF-8 at byte {e.start}; set encoding = "
                                 f"\"cp1252\" for this source if it is a Windows export") from None
    with opener(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode(encoding or "cp1252")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    handle, name = tempfile.mkstemp(suffix=".csv", prefix="monitor-utf8-")
    with os.fdopen(handle, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    cleanup.append(lambda: os.unlink(name))
    return Path(name)


def _renumber_around(con, reject_lines: list[int], first_row: int) -> None:
    """Number staged rows as file lines, skipping the lines the CSV reader set aside.
    The k-th set-aside line L shifts every later row: its slot among kept rows is L-k+1."""
    con.execute("CREATE OR REPLACE TEMP TABLE skipped AS "
                "SELECT unnest($lines) AS line, generate_subscripts($lines, 1) AS k",
                {"lines": reject_lines})
    con.execute("""UPDATE staging SET source_row = rowid + $first +
        (SELECT count(*) FROM skipped WHERE skipped.line - skipped.k + 1 <= staging.rowid + $first)""",
                {"first": first_row})


def _stage_excel(con, path: Path, source: Source) -> None:
    import fastexcel
    reader = fastexcel.read_excel(str(path))
    sheet = source.sheet if source.sheet is not None else 0
    if isinstance(sheet, str) and sheet.isdigit():
        sheet = int(sheet)
    try:
        frame = reader.load_sheet(sheet, header_row=None, dtypes="string").to_polars()
    except (IndexError, KeyError, ValueError) as e:
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
    headers = [str(v) if v is not None else f"column{i + 1}" for i, v in enumerate(frame.row(index))]
    body = frame.slice(index + 1)
    body.columns = _unique(headers)
    con.register("sheet_rows", body)
    try:
        _stage_relation(con, con.table("sheet_rows"), path, source)
    finally:
        con.unregister("sheet_rows")
    return index + 2   # spreadsheet row number of the first data row


def _stage_relation(con, relation, path: Path, source: Source) -> None:
    """Project the file's columns onto canonical names; normalize numbers the rows."""
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
            raise InputError(
                f"{path}: column '{wanted}' (sources.{source.name}.columns.{field}) is not in "
                f"the file; its columns are: {', '.join(relation.columns)}")
        picks.append(ColumnExpression(actual).cast(duckdb.sqltype("VARCHAR")).alias(field))
    con.register("mapped_rows", relation.select(*picks))
    try:
        # CREATE TABLE AS keeps file order, so rowid numbers the rows.
        con.execute("CREATE OR REPLACE TEMP TABLE staging AS "
                    "SELECT *, NULL::BIGINT AS source_row FROM mapped_rows")
    finally:
        con.unregister("mapped_rows")


def _load(con, result: FileResult, source: Source, file_facts, structural_rejects,
          statements) -> None:
    digest, size, first_row = file_facts
    con.execute(load_query("ingest/macros"))
    columns = {field: source.columns.get(field, "") for field in CANONICAL_COLUMNS}
    con.execute(load_query("ingest/normalize"), {
        "source": source.name, "currency": source.currency, "account": source.account or
        (None if "account" in source.columns else source.name),
        "sign": 1 if source.charges == "positive" else -1,
        "date_formats": [source.date_format] if source.date_format else DEFAULT_DATE_FORMATS,
        "columns": columns, "derive_ids": "txn_id" not in source.columns,
        "first_row": first_row,
    })
    stamp = now()
    con.execute("BEGIN TRANSACTION")
    try:
        file_id = con.execute(
            "INSERT INTO files (path, source, format, sha256, size_bytes, status, ingested_at) "
            "VALUES (?, ?, ?, ?, ?, 'loaded', ?) RETURNING file_id",
            [result.path, source.name, result.format, digest, size, stamp]).fetchone()[0]
        rejected = con.execute(load_query("ingest/insert_rejects"),
                               {"file_id": file_id, "at": stamp}).fetchone()[0]
        if structural_rejects:
            con.executemany("INSERT INTO rejected_rows VALUES (?, ?, ?, ?, ?)",
                            [[file_id, line, raw, reason, stamp]
                             for line, raw, reason in structural_rejects])
        loaded = con.execute(load_query("ingest/insert_transactions"),
                             {"file_id": file_id, "source": source.name, "at": stamp}).fetchone()[0]
        staged = con.execute("SELECT count(*) FROM parsed").fetchone()[0]
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
