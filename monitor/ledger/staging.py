"""Staging readers for monitor.ledger.ingest: each file becomes temp `staging` (canonical column
names, all text, plus source_row when the reader knows it and raw_row when it has the
row's full text), and the checks made before a file is read at all: is it complete,
is its compression intact, will a spreadsheet fit in memory.
"""
from __future__ import annotations

import csv
import gzip
import io
import os
import re
import tempfile
import time
import zipfile
import zlib
from contextlib import contextmanager
from pathlib import Path

import duckdb
from duckdb import ColumnExpression, ConstantExpression
from fastexcel import FastExcelError

from monitor.ledger.formats import detect as formats
from monitor.settings.config import BANK_FORMATS, CANONICAL_COLUMNS, Source
from monitor.errors import InputError, first_line
from monitor.sql.store import drop_temp

HEADER_SEARCH_ROWS = 50   # spreadsheets often carry a title block above the header
# Reading a sheet costs about this many bytes of memory per byte of its uncompressed XML
# (measured: calamine's cells, the polars frame and the staged copy; a sheet of minimal
# cells costs the most per byte). A 5.8 MB xlsx holding 8.16M rows peaked at 6.9 GB.
SHEET_MEMORY_FACTOR = 20
GZIP_MAGIC = b"\x1f\x8b"
UNFINISHED_SECONDS = 15 * 60   # a text file with no final line end is read after resting this long
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# The CSV reader's buffer: each buffer is one batch of rows for the statement that stages
# them in file order. With DuckDB's default (batches of about 8 MB), a batch holds fewer
# rows than a row group and the ordered write copies the batches again to merge them;
# 16 MiB batches cut normalize's CPU by a tenth at 10M rows (7.8 -> 7.0 s; the benchmark's
# 86-byte rows). Lines longer than DuckDB's max_line_size (2 MB) are refused either way.
CSV_BUFFER_BYTES = 16 * 2**20


@contextmanager
def staged(con, path: Path, fmt: str, source: Source, statements: list, encoding: str | None):
    """Make `staging` for the file; yields the rows its reader set aside before staging
    and the file row number of the first staged row (for rows without their own).
    CSV rows the reader cannot split are collected later, by ingest._reader_rejects."""
    cleanup = []
    drop_staging(con)
    try:
        if fmt == "csv":
            stage_csv(con, path, source, encoding, cleanup)
            rejects, first_row = [], 2
        elif fmt == "parquet":
            stage_relation(con, con.sql("SELECT * FROM read_parquet($p)", params={"p": str(path)}),
                           path, source, view=True)
            rejects, first_row = [], 1
        elif fmt == "xlsx":
            rejects, first_row = [], stage_excel(con, path, source)
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


def drop_staging(con) -> None:
    """Forget the previous file's staging (a view or a table) and reader rejects."""
    drop_temp(con, "staging", "reject_errors", "reject_scans")


# ---- checks before reading -------------------------------------------------------------

def is_gzip(path: Path) -> bool:
    """Judged from the content, not the name: DuckDB decides by the name alone."""
    with open(path, "rb") as f:
        return f.read(2) == GZIP_MAGIC


def _open_text_bytes(path: Path):
    return gzip.open(path, "rb") if is_gzip(path) else open(path, "rb")


def text_encoding(path: Path) -> str | None:
    """'utf-16' for text with a UTF-16 byte-order mark (Excel's "Unicode text"), else None."""
    with _open_text_bytes(path) as f:
        head = f.read(2)
    return "utf-16" if head in UTF16_BOMS else None


def unterminated(path: Path) -> bool:
    """True when a text file changed in the last UNFINISHED_SECONDS and its last line has
    no line end: an exporter may still be writing it, and a row cut short reads as a
    wrong value (600.00 as 6.00). Some exporters never end the last line (Oxford's
    spend files): once the file has rested that long, it is taken as complete. Gzip
    files are judged by their own end marker and checksum instead (see GzipCheck)."""
    if time.time() - path.stat().st_mtime >= UNFINISHED_SECONDS:
        return False
    with open(path, "rb") as f:
        head = f.read(2)
        if head == GZIP_MAGIC:
            return False
        size = f.seek(0, os.SEEK_END)
        f.seek(max(0, size - 4096))
        tail = f.read()
    if head == b"\xff\xfe":                      # UTF-16 little-endian: "\n\0"
        return tail[-2:] not in (b"\n\x00", b"\r\x00")
    if head != b"\xfe\xff" and (b"\x00" in tail or formats.binary(tail)):
        return False                              # not text: its reader says what it is
    return tail[-1:] not in (b"\n", b"\r")


class GzipCheck:
    """Inflates a gzip file as it is hashed (output discarded, a bounded piece at a time),
    so a damaged one (a bad CRC, a cut end) is refused before anything is written:
    DuckDB's reader does not check the CRC."""

    def __init__(self):
        self._inflate, self.problem = None, None

    def feed(self, chunk: bytes) -> None:
        try:
            while chunk and self.problem is None:
                if self._inflate is None:                 # the start of a member
                    if not chunk.strip(b"\x00"):
                        return                            # padding after the last member
                    self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
                data = chunk
                while data and not self._inflate.eof:
                    self._inflate.decompress(data, 1 << 22)
                    data = self._inflate.unconsumed_tail
                if not self._inflate.eof:
                    return
                chunk, self._inflate = self._inflate.unused_data, None   # several members
        except zlib.error as e:
            self.problem = str(e)

    def finish(self) -> str | None:
        """The problem, or None when the file ended at the end of a whole member."""
        if self.problem is None and self._inflate is not None:
            self.problem = "the file ends inside the compressed data (cut short)"
        return self.problem


def memory_limit_bytes(con) -> int | None:
    """DuckDB's memory limit (the configured [database] memory_limit), in bytes."""
    text = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    match = re.fullmatch(r"([\d.]+)\s*([KMGTP]?)i?B", str(text).strip())
    if not match:
        return None
    power = " KMGTP".index(match[2] or " ")
    return int(float(match[1]) * 1024 ** power)


def check_sheet_size(path: Path, limit: int | None) -> None:
    """Refuse a spreadsheet whose reading would not fit in the memory limit, judged from
    its uncompressed sheet XML before anything is read (a zip of repetitive XML inflates
    a thousandfold). Legacy .xls is judged by its file size."""
    if not limit:
        return
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = [i for i in archive.infolist()
                     if i.filename.startswith(("xl/worksheets/", "xl/sharedStrings"))
                     or i.filename in ("content.xml",)]
            size = sum(i.file_size for i in names)
    else:
        size = path.stat().st_size
    need = size * SHEET_MEMORY_FACTOR
    if need > limit:
        raise InputError(
            f"{path}: the spreadsheet holds {size / 2**20:,.0f} MiB of cell data, about "
            f"{need / 2**30:,.1f} GiB to read, above the memory limit of {limit / 2**30:,.1f} "
            "GiB; export it as CSV (read in streaming), or raise [database] memory_limit")


# ---- CSV -------------------------------------------------------------------------------

def stage_csv(con, path: Path, source: Source, encoding: str | None, cleanup) -> None:
    """`staging` as a view over DuckDB's CSV reader: the file is read once, by normalize.
    UTF-8 is read as it is (the reader reports bytes that are not); others via a copy."""
    readable = path if encoding in (None, "utf-8") else utf8_copy(path, encoding, cleanup)
    # Quotes are RFC 4180's: left to the sniffer, a payee named "'" made it pick ' as the
    # quote and swallow the next lines into one field.
    options = ("all_varchar = true, header = true, ignore_errors = true, store_rejects = true, "
               f"quote = '\"', escape = '\"', buffer_size = {CSV_BUFFER_BYTES}")
    params = {"p": str(readable)}
    if is_gzip(readable):
        options += ", compression = 'gzip'"
    if source.delimiter:
        options += ", delim = $d"
        params["d"] = source.delimiter
    if _header_has_blank_tail(readable):
        # Exports such as PayPal's pad the header with empty names the rows lack.
        options += ", null_padding = true"
    relation = con.sql(f"SELECT * FROM read_csv($p, {options})", params=params)
    stage_relation(con, relation, path, source, view=True)


def _header_has_blank_tail(path: Path) -> bool:
    """True when the header line ends in empty column names, as in `"a","b",,,`."""
    with _open_text_bytes(path) as f:
        line = f.readline(1 << 16).decode("utf-8", "replace").rstrip("\r\n")
    return line != line.rstrip(",;\t")


def utf8_copy(path: Path, encoding: str, cleanup) -> Path:
    """A UTF-8 copy of a file in another encoding."""
    handle, name = tempfile.mkstemp(suffix=".csv", prefix="monitor-utf8-")
    cleanup.append(lambda: os.unlink(name))
    with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
        if encoding == "utf-16":          # streamed: such files can be large
            with _open_text_bytes(path) as raw:
                text = io.TextIOWrapper(raw, encoding="utf-16", newline="")
                try:
                    while chunk := text.read(1 << 20):
                        out.write(chunk)
                except UnicodeDecodeError as e:
                    raise InputError(f"{path}: not valid UTF-16 text ({e.reason}); export it "
                                     "again, or as UTF-8") from None
            return Path(name)
        with _open_text_bytes(path) as f:
            data = f.read()
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:      # bytes cp1252 leaves undefined
            text = data.decode("latin-1")
        out.write(text)
    return Path(name)


def proposal(con, path: Path, fmt: str) -> str:
    """For a file no source matches: its header and a [[sources]] block to start from."""
    if fmt == "parquet":
        names = con.sql("SELECT * FROM read_parquet($p) LIMIT 0", params={"p": str(path)}).columns
    elif fmt == "csv":
        with _open_text_bytes(path) as raw:
            head = raw.read(1 << 16)
        encoding = "utf-16" if head[:2] in UTF16_BOMS else "utf-8-sig"
        first = head.decode(encoding, "replace").splitlines()[:1] or [""]
        try:
            dialect = csv.Sniffer().sniff(first[0], delimiters=",;\t|")
            names = next(csv.reader([first[0]], dialect))
        except (csv.Error, StopIteration):
            names = next(csv.reader([first[0]]), [])
    else:
        return ""
    names = [n.strip() for n in names if n and n.strip()]
    if not names:
        return ""
    guesses = _guess_columns(names)
    lines = [f"its header: {', '.join(names)}", "a source to start from (check each line):",
             "[[sources]]", f'name = "{_slug(path)}"', f'format = "{fmt}"',
             f'path = "{path.parent.as_posix()}/*{"".join(path.suffixes) or ""}"',
             'charges = "positive"   # or "negative": the sign of money leaving the account']
    if "currency" not in guesses:
        lines.append('currency = "GBP"       # the currency of every row')
    lines.append("[sources.columns]")
    lines += [f'{field} = "{column}"' for field, column in guesses.items()]
    return "\n".join(lines)


COLUMN_HINTS = {
    "txn_id": ("transaction id", "transaction_id", "txn id", "txn_id", "id", "reference number"),
    "posted_at": ("date", "posted", "posting date", "transaction date", "booking date",
                  "trans date", "value date", "posted_at"),
    "amount": ("amount", "value", "total", "net amount", "transaction amount"),
    "debit": ("debit", "paid out", "money out", "withdrawal"),
    "credit": ("credit", "paid in", "money in", "deposit"),
    "currency": ("currency", "ccy", "currency code"),
    "account": ("account", "card", "card number", "account number", "iban"),
    "counterparty": ("payee", "merchant", "merchant name", "supplier", "vendor",
                     "counterparty", "beneficiary", "name", "description"),
    "description": ("description", "details", "narrative", "memo"),
}


def _guess_columns(names: list[str]) -> dict[str, str]:
    """Canonical field -> header name, by the usual names of each (a guess to check)."""
    found, used = {}, set()
    for field, hints in COLUMN_HINTS.items():
        for hint in hints:
            match = next((n for n in names if _norm(n) == hint and n not in used), None)
            if match:
                found[field] = match
                used.add(match)
                break
    if "amount" in found and ("debit" in found or "credit" in found):
        found.pop("debit", None)
        found.pop("credit", None)
    if "posted_at" not in found:
        found["posted_at"] = "<the date column>"
    if not any(k in found for k in ("amount", "debit", "credit")):
        found["amount"] = "<the amount column>"
    return found


def _slug(path: Path) -> str:
    stem = path.name.split(".")[0]
    return re.sub(r"[^a-z0-9]+", "_", stem.lower()).strip("_") or "new_source"


# ---- spreadsheets ----------------------------------------------------------------------

def stage_excel(con, path: Path, source: Source) -> int:
    import fastexcel
    check_sheet_size(path, memory_limit_bytes(con))
    reader = fastexcel.read_excel(str(path))
    sheet = source.sheet if source.sheet is not None else 0
    if isinstance(sheet, str) and sheet.isdigit():
        sheet = int(sheet)
    try:
        frame = reader.load_sheet(sheet, header_row=None, dtypes="string").to_polars()
    except (IndexError, KeyError, ValueError, FastExcelError) as e:
        raise InputError(f"{path}: no sheet {sheet!r} ({first_line(e)}); sheets are: "
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
        stage_relation(con, con.table("sheet_rows"), path, source, row_column="__row",
                       raw_column="__raw")
    finally:
        con.unregister("sheet_rows")
    return index + 2   # spreadsheet row number of the first data row


def stage_relation(con, relation, path: Path, source: Source, view: bool = False,
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


def _norm(name) -> str:
    return " ".join(str(name or "").split()).casefold()


def _unique(names: list[str]) -> list[str]:
    seen, out = {}, []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return out


