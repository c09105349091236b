"""Load and validate config.toml.

Unknown keys are warned about (a typo must not silently drop a setting);
invalid values raise ConfigError naming the file, line, key and the fix.
Secrets never live here: the config names environment variables instead.
"""
from __future__ import annotations

import difflib
import os
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from monitor.errors import ConfigError

CANONICAL_COLUMNS = (
    "txn_id", "posted_at", "amount", "debit", "credit", "currency", "account",
    "counterparty", "counterparty_account", "initiator", "mcc", "description", "reference",
)
TABULAR_FORMATS = ("csv", "parquet", "xlsx")
# Bank formats come from monitor.formats; "auto" detects from content.
BANK_FORMATS = ("camt", "mt940", "bai2", "ofx")
FORMATS = TABULAR_FORMATS + BANK_FORMATS + ("auto",)

# Sections later stages read; listed so they are not reported as typos.
RESERVED_SECTIONS = ("detectors", "registry", "notify", "schedule", "engine", "alerts", "audit",
                     "report")


@dataclass(frozen=True)
class Source:
    name: str
    format: str
    path: str                      # absolute glob
    currency: str | None = None
    charges: str = "positive"      # sign of money LEAVING the account in this source
    date_format: str | None = None
    account: str | None = None     # constant account when the file has no account column
    delimiter: str | None = None
    encoding: str | None = None
    sheet: str | None = None
    columns: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Config:
    path: Path
    database: Path
    outbox: Path
    sources: tuple[Source, ...]
    sections: dict = field(default_factory=dict)   # raw tables for later stages

    def source(self, name: str) -> Source:
        for s in self.sources:
            if s.name == name:
                return s
        known = ", ".join(s.name for s in self.sources) or "none configured"
        raise ConfigError(f"{self.path}: no source named '{name}' (known: {known})")


def default_path() -> Path:
    return Path(os.environ.get("MONITOR_CONFIG", "config.toml"))


def load(path: Path | str | None = None, warn=None) -> Config:
    """Read and validate a config file. `warn` receives one line per unknown key."""
    path = Path(path) if path is not None else default_path()
    warn = warn or (lambda line: print(f"warning: {line}", file=sys.stderr))
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: config file not found; run `monitor init` to write a starter one, "
            f"or pass --config PATH") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; save the config as UTF-8") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML ({e}); fix the syntax at that line") from None
    return _Validator(path, text, warn).config(data)


class _Validator:
    def __init__(self, path: Path, text: str, warn):
        self.path, self.warn = path, warn
        self.lines = _key_lines(text.splitlines())
        self.aliases = {}          # "sources.<name>." -> "sources[<index>]."
        self.base = path.resolve().parent

    def where(self, key: str) -> str:
        """'file:line' of the line that sets `key` (or its table), for messages."""
        for shown, indexed in self.aliases.items():
            if key.startswith(shown):
                key = indexed + key[len(shown):]
        while key:
            if key in self.lines:
                return f"{self.path}:{self.lines[key]}"
            key = key.rpartition(".")[0]
        return str(self.path)

    def error(self, key: str, problem: str, fix: str, at: str | None = None) -> ConfigError:
        return ConfigError(f"{self.where(at or key)}: {key} {problem}; {fix}")

    def unknown(self, table: dict, allowed, prefix: str) -> None:
        for key in table:
            if key in allowed:
                continue
            hint = difflib.get_close_matches(key, list(allowed), n=1)
            tip = f" (did you mean '{hint[0]}'?)" if hint else ""
            name = f"{prefix}{key}"
            self.warn(f"{self.where(name)}: unknown key '{name}' is ignored{tip}")

    def string(self, table: dict, key: str, name: str, default=None, choices=None):
        value = table.get(key, default)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.error(name, f"= {value!r} is not a non-empty string", "quote the value")
        if choices and value not in choices:
            raise self.error(name, f"= '{value}' is not valid",
                             "use one of: " + ", ".join(choices))
        return value

    def config(self, data: dict) -> Config:
        self.unknown(data, ("database", "sources", "outbox") + RESERVED_SECTIONS, "")
        database = data.get("database", {})
        if not isinstance(database, dict):
            raise self.error("database", "must be a table", "write it as [database]")
        self.unknown(database, ("path",), "database.")
        db_path = self.string(database, "path", "database.path", default="monitor.duckdb")
        outbox = data.get("outbox", {})
        if not isinstance(outbox, dict):
            raise self.error("outbox", "must be a table", "write it as [outbox]")
        self.unknown(outbox, ("path",), "outbox.")
        outbox_path = self.string(outbox, "path", "outbox.path", default="outbox")
        raw_sources = data.get("sources", [])
        if not isinstance(raw_sources, list):
            raise self.error("sources", "must be an array of tables", "write each as [[sources]]")
        sources = tuple(self.source(i, s) for i, s in enumerate(raw_sources))
        names = [s.name for s in sources]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise self.error("sources.name", f"'{name}' is used twice",
                                 "give every [[sources]] a unique name",
                                 at=f"sources[{index}].name")
        sections = {k: data[k] for k in RESERVED_SECTIONS if k in data}
        return Config(path=self.path, database=self.base / db_path,
                      outbox=self.base / outbox_path, sources=sources, sections=sections)

    def source(self, index: int, table) -> Source:
        prefix = f"sources[{index}]."
        if not isinstance(table, dict):
            raise self.error("sources", "entries must be tables", "write each as [[sources]]")
        allowed = ("name", "format", "path", "currency", "charges", "date_format", "account",
                   "delimiter", "encoding", "sheet", "columns")
        self.unknown(table, allowed, prefix)
        name = self.string(table, "name", prefix + "name")
        if name is None:
            raise self.error(prefix + "name", "is missing", "add name = \"...\" to the [[sources]]")
        prefix = f"sources.{name}."
        self.aliases[prefix] = f"sources[{index}]."
        fmt = self.string(table, "format", prefix + "format", default="auto", choices=FORMATS)
        path = self.string(table, "path", prefix + "path")
        if path is None:
            raise self.error(prefix + "path", "is missing",
                             "add path = \"folder/*.csv\" (a glob relative to the config file)")
        currency = self.string(table, "currency", prefix + "currency")
        if currency is not None and not re.fullmatch(r"[A-Z]{3}", currency):
            raise self.error(prefix + "currency", f"= '{currency}' is not an ISO 4217 code",
                             "use three capital letters such as GBP, EUR or USD")
        charges = self.string(table, "charges", prefix + "charges", default="positive",
                              choices=("positive", "negative"))
        date_format = self.string(table, "date_format", prefix + "date_format")
        if date_format is not None and "%" not in date_format:
            raise self.error(prefix + "date_format", f"= '{date_format}' has no % directives",
                             "write it like \"%Y-%m-%d\" or \"%d/%m/%Y\"")
        columns = table.get("columns", {})
        if not isinstance(columns, dict):
            raise self.error(prefix + "columns", "must be a table",
                             f"write it as [sources.columns] under the source '{name}'")
        self.unknown(columns, CANONICAL_COLUMNS, prefix + "columns.")
        columns = {k: self.string(columns, k, f"{prefix}columns.{k}")
                   for k in CANONICAL_COLUMNS if k in columns}
        if fmt in TABULAR_FORMATS:
            self.require_columns(prefix, columns, currency)
        delimiter = self.string(table, "delimiter", prefix + "delimiter")
        if delimiter is not None and len(delimiter) != 1:
            raise self.error(prefix + "delimiter", f"= {delimiter!r} is not one character",
                             "use \",\", \";\", \"|\" or \"\\t\"")
        encoding = self.string(table, "encoding", prefix + "encoding",
                               choices=("utf-8", "cp1252", "latin-1"))
        sheet = table.get("sheet")
        if sheet is not None and not isinstance(sheet, (str, int)):
            raise self.error(prefix + "sheet", "must be a sheet name or number",
                             "write sheet = \"Sheet1\" or sheet = 0")
        return Source(
            name=name, format=fmt, path=str(self.base / path), currency=currency,
            charges=charges, date_format=date_format,
            account=self.string(table, "account", prefix + "account"),
            delimiter=delimiter, encoding=encoding,
            sheet=None if sheet is None else str(sheet), columns=columns)

    def require_columns(self, prefix: str, columns: dict, currency) -> None:
        if "posted_at" not in columns:
            raise self.error(prefix + "columns", "does not map posted_at",
                             "add posted_at = \"<date column>\" under [sources.columns]")
        if "amount" not in columns and not ("debit" in columns or "credit" in columns):
            raise self.error(prefix + "columns", "maps neither amount nor debit/credit",
                             "add amount = \"<amount column>\" under [sources.columns]")
        if "amount" in columns and ("debit" in columns or "credit" in columns):
            raise self.error(prefix + "columns", "maps both amount and debit/credit",
                             "map either amount or debit and credit, not both")
        if currency is None and "currency" not in columns:
            raise self.error(prefix + "currency", "is missing",
                             "add currency = \"GBP\" (or map a currency column)")


def _key_lines(lines: list[str]) -> dict[str, int]:
    """The line of each table and key, by path with array indexes
    (sources[1].columns.amount), so a message points into the right [[sources]]."""
    found, table, arrays = {}, "", {}
    for number, line in enumerate(lines, 1):
        text = line.strip()
        header = re.match(r"^(\[\[?)\s*([^\]]+?)\s*\]", text)
        if header:
            parts = [p.strip().strip("\"'") for p in header[2].split(".")]
            name = ".".join(parts)
            if header[1] == "[[":
                arrays[name] = arrays.get(name, -1) + 1
                table = f"{name}[{arrays[name]}]"
            else:   # [sources.columns] belongs to the latest [[sources]]
                head = parts[0]
                table = ".".join([f"{head}[{arrays[head]}]" if head in arrays else head] + parts[1:])
            found.setdefault(table, number)
            continue
        key = re.match(r"^([\w-]+|\"[^\"]*\"|'[^']*')\s*=", text)
        if key:
            found.setdefault((table + "." if table else "") + key[1].strip("\"'"), number)
    return found
