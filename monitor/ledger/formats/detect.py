"""File formats: detection from content, and bank-statement readers.

Tabular files (CSV, Parquet, Excel) are staged by monitor.ledger.ingest through a
configured column mapping. Bank statements (camt, MT940/942, BAI2, OFX) carry
their own accounts and currencies, so they need no source configuration:
`read` returns their rows already in canonical columns, and `record_statements`
stores each statement with its balance check and sequence checks.
"""
from __future__ import annotations

import dataclasses
import gc
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from monitor.ledger.formats import bai2 as formats_bai2, camt as formats_camt
from monitor.ledger.formats import ofx as formats_ofx, swift as formats_swift
from monitor.ledger.formats.base import Collector
from monitor.settings.config import BANK_FORMATS, CANONICAL_COLUMNS, Source
from monitor.errors import InputError
from monitor.sql.store import load_query

SNIFF_BYTES = 4096
XML_SNIFF_BYTES = 1 << 16
CAMT_NS = re.compile(r"urn:iso:std:iso:20022:tech:xsd:camt\.05[234]")
MT_START = re.compile(r"\{1:|:940:|:942:|^:(20|25|28C?|60[FM]|61):", re.M)


def detect(path: Path) -> str:
    """The format of a file, judged from its first bytes, not its name."""
    with open(path, "rb") as f:
        head = f.read(SNIFF_BYTES)
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"\xd0\xcf\x11\xe0"):
        return "xlsx"      # calamine reads .xlsx, .xlsm, .xls and .ods alike
    if head.startswith(b"\x1f\x8b"):
        return "csv"       # gzip: DuckDB's CSV reader decompresses it
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = head.decode("utf-16", errors="replace")
    else:
        text = head.decode("latin-1")
    text = text.lstrip("\ufeff\xef\xbb\xbf \r\n\t\x01")
    if CAMT_NS.search(text):
        return "camt"
    if text.startswith("OFXHEADER") or re.search(r"<\?OFX|<OFX>", text, re.I):
        return "ofx"
    if MT_START.match(text) or MT_START.search(text):
        return "mt940"
    if text.startswith("01,"):
        return "bai2"
    if re.match(r"!(Type|Account|Option)", text, re.I):
        raise InputError(f"{path}: QIF (Quicken) export, which is not supported: it names no "
                         "account or currency and has no balances to check; export the "
                         "account as OFX/QFX, camt.053 or MT940 instead")
    if head[1::2].count(0) > len(head) * 0.4 or head[0::2].count(0) > len(head) * 0.4:
        raise InputError(f"{path}: text in UTF-16 without a byte-order mark; save it as "
                         "UTF-8 (or UTF-16 with a byte-order mark) and ingest it again")
    if b"\x00" in head or binary(head):
        raise InputError(f"{path}: binary content in no known format; "
                         "expected CSV, Parquet, Excel or a bank statement")
    if text.startswith("<"):
        if len(head) == SNIFF_BYTES:                # a long prolog: look further
            with open(path, "rb") as f:
                more = f.read(XML_SNIFF_BYTES).decode("latin-1")
            if CAMT_NS.search(more):
                return "camt"
            text = more
        root = re.search(r"<([A-Za-z_][\w.:-]*)([^>]*)>", re.sub(r"<!--.*?-->", "", text,
                                                                 flags=re.S))
        namespace = re.search(r'xmlns="([^"]*)"', root[2]) if root else None
        what = (f"root <{root[1]}>" + (f" in {namespace[1]}" if namespace else "")) \
            if root else f"no root element in its first {XML_SNIFF_BYTES // 1024} KiB"
        raise InputError(f"{path}: XML that is neither an ISO 20022 camt.052/053/054 "
                         f"statement nor OFX ({what}); export the statement as camt.053, "
                         "MT940, BAI2 or OFX")
    return "csv"


def binary(head: bytes) -> bool:
    controls = sum(1 for b in head if b < 9 or 13 < b < 32)
    return len(head) > 0 and controls / len(head) > 0.05


def implied_source(fmt: str) -> Source:
    """The source a bank statement is recorded under when none is configured.
    Its columns map each canonical field to itself: the readers stage canonical rows,
    with the bank's own references as txn_id and the sign convention applied."""
    return Source(name=fmt, format=fmt, path="", charges="positive",
                  columns={name: name for name in CANONICAL_COLUMNS})


def bank_source(source: Source | None, fmt: str) -> Source:
    """A configured source that reads bank files keeps its name (and its currency as a
    fallback); the readers decide columns and sign."""
    if source is None:
        return implied_source(fmt)
    return dataclasses.replace(source, format=fmt, charges="positive",
                               columns=implied_source(fmt).columns)


@dataclass
class StatementFile:
    """What a bank file holds: its rows in canonical text columns (the same columns
    monitor.ledger.ingest stages: CANONICAL_COLUMNS plus source_row), one dict per
    statement (account, currency, number, dates, opening/closing balances, sums,
    check), and the entries set aside as (line, raw text, reason)."""
    rows: object                       # polars.DataFrame
    statements: list[dict] = field(default_factory=list)
    rejects: list[tuple[int, str, str]] = field(default_factory=list)


def read(path: Path, fmt: str) -> StatementFile:
    """Parse a bank statement file whole before anything is written; raises InputError
    naming the file and problem."""
    readers = {"camt": formats_camt.read, "mt940": formats_swift.read,
               "bai2": formats_bai2.read, "ofx": formats_ofx.read}
    if fmt not in readers:
        raise InputError(f"{path}: unknown bank format '{fmt}'; use one of "
                         + ", ".join(BANK_FORMATS))
    collector = Collector(path, fmt)
    gc.disable()       # millions of small objects, no cycles: collection only costs time
    try:
        readers[fmt](path, fmt, collector)
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not valid text in the file's encoding at byte {e.start}; "
                         "the file is damaged or not a bank statement") from None
    except RecursionError:
        raise InputError(f"{path}: nested too deeply to be a bank statement") from None
    finally:
        gc.enable()
    return StatementFile(rows=collector.rows(),
                         statements=[s.facts() for s in collector.statements],
                         rejects=collector.rejects)


def record_statements(con, file_id: int, statements: list[dict]) -> str:
    """Store statement facts and balance checks inside the file's transaction, check
    each statement against the account's previous one (missing statement numbers,
    opening balance not the previous closing), and return a one-line summary such as
    'balances ok (3 statements)'."""
    # fetchall, not fetchone: a partly fetched result blocks register() in DuckDB 2.0
    source = con.execute("SELECT source FROM files WHERE file_id = ?", [file_id]).fetchall()[0][0]
    for position, stmt in enumerate(statements, 1):
        if stmt.get("exact"):
            _insert_exact(con, file_id, source, stmt["exact"])
        stmt["problems"] = stmt["problems"] + _sequence_problems(con, stmt)
        con.execute(load_query("formats/insert_statement"), {
            "file_id": file_id, "position": position,
            **{k: stmt[k] for k in STATEMENT_FIELDS},
            "problems": "; ".join(stmt["problems"]) or None,
            "notes": "; ".join(stmt["notes"]) or None})
    return summary(statements)


def _insert_exact(con, file_id: int, source: str, exact: list[tuple]) -> None:
    """Amounts the ledger rounds to cents or converts, as the bank gave them; only for
    rows this file added (a duplicate's were kept when it was first loaded)."""
    import pyarrow as pa
    columns = list(zip(*exact))
    table = pa.table({
        "txn_id": pa.array(columns[0], pa.string()),
        "exact": pa.array([format(v, "f") for v in columns[1]], pa.string()),
        "original": pa.array([None if v is None else format(v, "f") for v in columns[2]],
                             pa.string()),
        "original_currency": pa.array(columns[3], pa.string())})
    con.register("exact_rows", table)
    try:
        con.execute(load_query("formats/insert_exact"),
                    {"file_id": file_id, "source": source})
    finally:
        con.unregister("exact_rows")


def show(amount) -> str:
    """A Decimal as short plain text: 229.2000000000 -> 229.2, 1E+2 -> 100."""
    return format(amount.normalize(), "f")


STATEMENT_FIELDS = ("kind", "account", "currency", "reference", "number", "page", "from_date",
                    "to_date", "opening", "opening_date", "closing", "closing_date", "credits",
                    "debits", "entries", "set_aside", "balance_check", "check_basis",
                    "difference")


# Daily statements skip weekends and holidays; a longer stretch no statement covers
# means one is missing, even when the balances happen to carry over.
MAX_UNCOVERED_DAYS = 7


def _sequence_problems(con, stmt: dict) -> list[str]:
    """Compare with the latest earlier statement of the same account and currency."""
    if stmt["opening"] is None or stmt["opening_date"] is None:
        return []
    previous = con.execute(
        "SELECT closing, closing_date, number, file_id, reference, to_date FROM statements "
        "WHERE account = ? AND currency IS NOT DISTINCT FROM ? AND closing IS NOT NULL "
        "AND closing_date <= ? AND (? IS NULL OR closing_date < ?) "
        "ORDER BY closing_date DESC, statement_id DESC LIMIT 1",
        [stmt["account"], stmt["currency"], stmt["opening_date"], stmt["closing_date"],
         stmt["closing_date"]]).fetchall()
    if not previous:
        return []
    closing, closing_date, number, file_id, reference, to_date = previous[0]
    problems = []
    name = f"statement {reference or number} of" if reference or number else "statement of"
    label = f"{name} {closing_date} (file #{file_id})"
    if closing != stmt["opening"]:
        problems.append(
            f"sequence gap: opening balance {show(stmt['opening'])} on {stmt['opening_date']} "
            f"is not the closing balance {show(closing)} of the previous {label}; a statement "
            f"may be missing")
    this, before = _number(stmt["number"]), _number(number)
    if this is not None and before is not None and this > before + 1:
        missing = f"{before + 1}" if this == before + 2 else f"{before + 1} to {this - 1}"
        problems.append(f"sequence gap: statement number {this} follows {before} "
                        f"({label}); statement {missing} is missing")
    start = stmt["from_date"]
    if start and to_date and (start - to_date).days > MAX_UNCOVERED_DAYS:
        problems.append(f"sequence gap: no statement covers {to_date + timedelta(days=1)} to "
                        f"{start - timedelta(days=1)} (previous {label})")
    return problems


def _number(text) -> int | None:
    return int(text) if text and str(text).isdigit() else None


def summary(statements: list[dict]) -> str:
    """'balances ok (3 statements)' or the count of failed checks and the first problem."""
    if not statements:
        return ""
    failed = [s for s in statements if s["problems"]]
    checked = sum(1 for s in statements if s["balance_check"] != "unchecked")
    count = f"{len(statements)} statement{'s' if len(statements) != 1 else ''}"
    if failed:
        first = failed[0]
        where = first["reference"] or first["number"] or first["account"]
        return (f"CHECK FAILED in {len(failed)} of {count}: {where} ({first['account']}): "
                f"{first['problems'][0]}")
    if checked == len(statements):
        return f"balances ok ({count})"
    if checked:
        return f"balances ok ({checked} of {count}; the rest carry no balances to check)"
    basis = statements[0]["check_basis"]
    return f"balances not checked ({count}: {basis})"
