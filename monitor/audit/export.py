"""Writing a query's result: `monitor query` to standard output or to `--out`.

The result is never held in Python memory (issue 14, item 16: 2M rows to CSV took 31.7 s
and 2.4 GB that way). The auditor's SELECT runs on the locked-down snapshot connection
(monitor.sql.snapshot.open_readonly: no file access) and is read as Arrow record batches;
a second, private in-memory DuckDB connection, which runs only the fixed COPY statement
below, writes those batches with DuckDB's own CSV, JSON and Parquet writers into a pipe.
A thread reads the pipe, hashes the bytes (the result hash in the audit log is the
SHA-256 of exactly the bytes written, so `sha256sum out.csv` matches the log) and writes
them on: to standard output, or to a temporary file beside `--out` that is then renamed
over it (monitor.outpath). xlsx is written batch by batch with xlsxwriter, splitting
into further sheets past Excel's 1,048,575 data rows instead of losing rows.

CSV cells are made safe as monitor.output.csv_cell does (formulas defused, control
characters escaped), in the COPY through a vectorised function that only falls back to
Python for the rare cells that need it. JSON keeps every value exact (JSON escapes C0
controls itself; DEL and C1 controls are written as \\u escapes too), money as strings.
"""
from __future__ import annotations

import hashlib
import os
import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb

from monitor import output, outpath
from monitor.audit import log as audit
from monitor.errors import InputError, first_line

BATCH_ROWS = 100_000
SHEET_ROWS = 1_048_575          # Excel: 1,048,576 rows a sheet, one of them the header
SHEET_COLUMNS = 16_384
CELL_CHARS = 32_767
SHARED_STRINGS_ROWS = 50_000    # up to here xlsx keeps a shared-string table (smaller file)
COPY_FORMATS = {"csv": "FORMAT csv, HEADER", "json": "FORMAT json, ARRAY true",
                "ndjson": "FORMAT json", "parquet": "FORMAT parquet"}
_SUSPECT = r"[\x00-\x1f\x7f-\x9f\\]|^[=+\-@]"    # RE2: cells csv_cell may change
_TEXT_TYPES = ("VARCHAR", "ENUM", "UUID", "[]", "STRUCT", "MAP", "UNION", "BIT")


@dataclass
class Written:
    """What was written: rows, the SHA-256 of the bytes, sheets (xlsx), warnings."""
    rows: int = 0
    sha256: str = ""
    sheets: int = 1
    warnings: set = field(default_factory=set)


# -- running the query ----------------------------------------------------------------------

def relation(con: duckdb.DuckDBPyConnection, sql: str, params: dict):
    """The auditor's one read-only statement as a lazy relation (nothing fetched yet)."""
    audit.check_statement(con, sql)
    with _query_errors():
        return con.sql(sql, params=params or None)


@contextmanager
def _query_errors():
    """DuckDB's errors as the one-line, exit-2 messages `audit.execute` gives."""
    try:
        yield
    except duckdb.Error as error:
        text = first_line(error)
        if isinstance(error, (duckdb.PermissionException, duckdb.InvalidInputException)) and any(
                w in text.lower() for w in ("read-only", "read only", "permission",
                                            "file system", "configuration")):
            raise audit.ReadOnlyError(f"refused by the database: {text}") from None
        if isinstance(error, (duckdb.ParserException, duckdb.BinderException,
                              duckdb.CatalogException, duckdb.ConversionException,
                              duckdb.InvalidInputException, duckdb.OutOfRangeException)):
            raise InputError(f"query failed: {text}") from None
        raise


def _batches(rel, written: Written):
    """The result as Arrow batches, counting rows and collecting saved queries' warnings."""
    import pyarrow.compute as pc
    with _query_errors():          # the query starts running here
        reader = rel.to_arrow_reader(BATCH_ROWS)
    has_warning = "warning" in reader.schema.names

    def batches():
        for batch in reader:
            written.rows += batch.num_rows
            if has_warning:
                written.warnings |= {w for w in pc.unique(batch.column("warning")).to_pylist()
                                     if w is not None}
            yield batch
    return reader.schema, batches()


# -- csv, json, ndjson, parquet: DuckDB's own writers ---------------------------------------

_SAFE_BYTES = bytes(b for b in range(256) if not (b < 0x20 or b in (0x5c, 0x7f, 0xc2)))
_C1_UTF8 = re.compile(rb"\xc2[\x80-\x9f]")
_FORMULA = ("=", "+", "-", "@")


def _needs_care(values) -> bool:
    """Whether any cell of an Arrow string array may change under output.csv_cell. Looks
    at the array's character bytes at C speed (bytes.translate deletes the harmless
    ones); \xc2 also starts the pound sign, so it counts only before a C1 byte."""
    import pyarrow as pa
    import pyarrow.compute as pc
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        return bool(pc.any(pc.match_substring_regex(values, _SUSPECT)).as_py())
    data = values.buffers()[2]
    raw = data.to_pybytes() if data is not None else b""
    left = raw.translate(None, _SAFE_BYTES)
    if left.replace(b"\xc2", b"") or (left and _C1_UTF8.search(raw)):
        return True
    first = pc.utf8_slice_codeunits(values, 0, 1)
    return bool(pc.any(pc.is_in(first, value_set=pa.array(_FORMULA))).as_py())


def _safe_text(batches):
    """CSV: each string column of each batch through output.csv_cell, in Python only
    for the (rare) batches whose column needs it."""
    import pyarrow as pa
    for batch in batches:
        columns = list(batch.columns)
        for i, values in enumerate(columns):
            if (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)
                    or pa.types.is_string_view(values.type)) and _needs_care(values):
                columns[i] = _cells(values).cast(values.type)
        yield pa.RecordBatch.from_arrays(columns, schema=batch.schema)


def _cells(values):
    """output.csv_cell over an Arrow array (only the cells _SUSPECT matched)."""
    import pyarrow as pa
    return pa.array([None if v is None else output.csv_cell(v) for v in values.to_pylist()],
                    pa.string())


def _select(mem, names: list[str], fmt: str) -> str:
    """SELECT over the registered batches: CSV text made safe, JSON money as exact text;
    columns given back their own names (DuckDB renames duplicates on the way in)."""
    described = mem.execute("DESCRIBE monitor_result").fetchall()
    parts = []
    for (inner, kind, *_), name in zip(described, names):
        column = '"' + inner.replace('"', '""') + '"'
        alias = '"' + name.replace('"', '""') + '"'
        if fmt == "csv" and kind != "VARCHAR" and any(t in kind for t in _TEXT_TYPES):
            # Lists, structs, enums: DuckDB's regex picks the rare cells for Python.
            # (Plain text columns were made safe batch by batch: _safe_text.)
            text = f"CAST({column} AS VARCHAR)"
            column = (f"CASE WHEN regexp_matches({text}, '{_SUSPECT}') "
                      f"THEN monitor_cell({text}) ELSE {text} END")
        elif fmt in ("json", "ndjson") and kind.startswith("DECIMAL"):
            column = f"CAST({column} AS VARCHAR)"
        parts.append(f"{column} AS {alias}")
    return "SELECT " + ", ".join(parts) + " FROM monitor_result"


def _copy(schema, batches, fmt: str, sink) -> str:
    """COPY the batches in `fmt` through a pipe into `sink` (a binary file); the SHA-256."""
    import pyarrow as pa
    mem = duckdb.connect(config={"threads": 2})
    mem.execute("SET enable_progress_bar = false")
    mem.create_function("monitor_cell", _cells, ["VARCHAR"], "VARCHAR", type="arrow")
    if fmt == "csv":
        batches = _safe_text(batches)
    mem.register("monitor_result", pa.RecordBatchReader.from_batches(schema, batches))
    read_end, write_end = os.pipe()
    pump = _Pump(read_end, sink, json=fmt in ("json", "ndjson"), stop=mem.interrupt)
    pump.start()
    failed = None
    try:
        with _query_errors():
            mem.execute(f"COPY ({_select(mem, schema.names, fmt)}) TO '/dev/fd/{write_end}' "
                        f"({COPY_FORMATS[fmt]}, USE_TMP_FILE false)")
    except BaseException as e:
        failed = e
    finally:
        os.close(write_end)
        pump.join()          # before judging: the pump may not have said "broken" yet
        mem.close()
    if pump.broken:          # standard output closed (`| head`): not an error of the query
        raise BrokenPipeError() from None
    if failed is not None:
        raise failed
    if pump.error:
        raise pump.error
    return pump.digest.hexdigest()


class _Pump(threading.Thread):
    """Reads what DuckDB writes into the pipe: hashes it and passes it to the sink."""
    _C1 = re.compile(rb"\xc2[\x80-\x9f]")   # a literal first byte: re searches it fast

    def __init__(self, fd: int, sink, json: bool, stop):
        super().__init__(daemon=True)
        self.fd, self.sink, self.json, self.stop = fd, sink, json, stop
        self.digest = hashlib.sha256()
        self.broken, self.error = False, None

    def _json_safe(self, data: bytes) -> bytes:
        # In UTF-8, C2 80..C2 9F are exactly U+0080..U+009F: written as \u0080.. (still
        # the same JSON string), as DuckDB already does for C0 controls.
        if b"\x7f" in data:
            data = data.replace(b"\x7f", b"\\u007f")
        if b"\xc2" in data:
            data = self._C1.sub(lambda m: b"\\u%04x" % m[0][1], data)
        return data

    def run(self):
        carry = b""
        try:
            with os.fdopen(self.fd, "rb") as source:
                while True:
                    chunk = source.read(1 << 20)
                    data = carry + chunk
                    carry = b""
                    if self.json and chunk and data.endswith(b"\xc2"):
                        data, carry = data[:-1], b"\xc2"
                    if self.json:
                        data = self._json_safe(data)
                    if data:
                        self.digest.update(data)
                        self.sink.write(data)
                    if not chunk:
                        break
                self.sink.flush()
        except BrokenPipeError:
            self.broken = True
            self.stop()
        except BaseException as e:     # reported by the main thread
            self.error = e
            self.stop()


# -- xlsx --------------------------------------------------------------------------------

def _xlsx(schema, batches, path: Path, written: Written) -> None:
    """Write the batches to xlsx, text always as text; a new sheet every SHEET_ROWS rows."""
    import xlsxwriter
    names = list(schema.names)
    if len(names) > SHEET_COLUMNS:
        raise InputError(f"the result has {len(names):,} columns; an xlsx sheet holds "
                         f"{SHEET_COLUMNS:,}; use --format csv or parquet")
    first, batches = _peek(batches, SHARED_STRINGS_ROWS)
    book = xlsxwriter.Workbook(str(path), {
        "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False,
        # Past a few tens of thousands of rows xlsxwriter would hold every cell in memory.
        "constant_memory": first is None})
    dates = book.add_format({"num_format": "yyyy-mm-dd"})
    stamps = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    sheet, r = None, SHEET_ROWS
    try:
        for batch in batches:
            columns = [c.to_pylist() for c in batch.columns]
            for row in zip(*columns):
                if r >= SHEET_ROWS:
                    written.sheets = 1 if sheet is None else written.sheets + 1
                    sheet = book.add_worksheet("query" if written.sheets == 1
                                               else f"query {written.sheets}")
                    for c, name in enumerate(names):
                        sheet.write_string(0, c, str(name))
                    r = 0
                r += 1
                for c, value in enumerate(row):
                    _cell(sheet, r, c, value, dates, stamps, names)
        if sheet is None:
            sheet = book.add_worksheet("query")
            for c, name in enumerate(names):
                sheet.write_string(0, c, str(name))
    finally:
        book.close()


def _peek(batches, rows: int):
    """(the batches if they hold at most `rows` rows in all, else None; all the batches)."""
    held, count = [], 0
    for batch in batches:
        held.append(batch)
        count += batch.num_rows
        if count > rows:
            def rest():
                yield from held
                yield from batches
            return None, rest()
    return held, iter(held)


def _cell(sheet, r, c, value, dates, stamps, names) -> None:
    if value is None:
        return
    if isinstance(value, bool):
        sheet.write_boolean(r, c, value)
    elif isinstance(value, (int, float, Decimal)) and abs(float(value)) < 1e15:
        sheet.write_number(r, c, float(value))
    elif isinstance(value, datetime):
        sheet.write_datetime(r, c, value.replace(tzinfo=None), stamps)
    elif isinstance(value, date):
        sheet.write_datetime(r, c, datetime(value.year, value.month, value.day), dates)
    else:   # text is always text: no formula, link or number is made of it
        text = str(value) if not isinstance(value, (list, dict)) else audit.canonical(value)
        if len(text) > CELL_CHARS:
            raise InputError(f"column {names[c]!r}: a value of {len(text):,} characters; an "
                             f"xlsx cell holds {CELL_CHARS:,}; use --format csv or parquet")
        sheet.write_string(r, c, text)


# -- the entry point ------------------------------------------------------------------------

def write(con, sql: str, params: dict, fmt: str, *, out: Path | None = None,
          stream=None) -> Written:
    """Run the query and write its result in `fmt` to the checked path `out` (see
    monitor.outpath.check_file) or to the text stream `stream` (standard output)."""
    rel = relation(con, sql, params)
    written = Written()
    if fmt == "table":
        return _table(rel, out, stream, written)
    schema, batches = _batches(rel, written)
    if out is None:
        stream.flush()
        sink = getattr(stream, "buffer", None) or _TextSink(stream)
        written.sha256 = _copy(schema, batches, fmt, sink)
        return written
    with outpath.replacing(out) as temp:
        if fmt == "xlsx":
            with _query_errors():
                _xlsx(schema, batches, temp, written)
            written.sha256 = audit.file_sha256(temp)
        else:
            with open(temp, "wb") as sink:
                written.sha256 = _copy(schema, batches, fmt, sink)
    return written


def _table(rel, out: Path | None, stream, written: Written) -> Written:
    """The aligned text table (for a person: held in memory to size the columns)."""
    with _query_errors():
        columns, rows = rel.columns, rel.fetchall()
    written.rows = len(rows)
    if "warning" in columns:
        at = columns.index("warning")
        written.warnings = {r[at] for r in rows} - {None}
    dicts = [dict(zip(columns, r)) for r in rows]
    if out is None:
        hashing = _Hashing(stream)
        output.emit(dicts, "table", columns, stream=hashing)
    else:
        with outpath.replacing(out) as temp:
            with open(temp, "w", encoding="utf-8", newline="") as f:
                hashing = _Hashing(f)
                output.emit(dicts, "table", columns, stream=hashing)
    written.sha256 = hashing.digest.hexdigest()
    return written


class _Hashing:
    """A text stream that hashes what passes through it (UTF-8)."""
    def __init__(self, stream):
        self.stream, self.digest = stream, hashlib.sha256()

    def write(self, text: str) -> int:
        self.digest.update(text.encode("utf-8"))
        return self.stream.write(text)

    def isatty(self) -> bool:
        return self.stream.isatty()

    def flush(self) -> None:
        self.stream.flush()


class _TextSink:
    """Bytes to a text stream without a binary buffer (decoded as UTF-8 in order)."""
    def __init__(self, stream):
        import codecs
        self.stream, self.decoder = stream, codecs.getincrementaldecoder("utf-8")()

    def write(self, data: bytes) -> None:
        self.stream.write(self.decoder.decode(data))

    def flush(self) -> None:
        self.stream.write(self.decoder.decode(b"", final=True))
        self.stream.flush()
