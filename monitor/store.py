"""The DuckDB store: connections, versioned migrations, and the SQL file loader.

All SQL lives in queries/; this module finds it by name. Migrations are
queries/schema/NNN_name.sql, applied in order, each in its own transaction,
and recorded in schema_migrations.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from functools import cache
from pathlib import Path

import duckdb

from monitor.config import DEFAULT_MEMORY_LIMIT
from monitor.errors import StoreError

QUERIES = Path(__file__).resolve().parent.parent / "queries"


@cache
def load_query(name: str) -> str:
    """The text of queries/<name>.sql, e.g. load_query('ingest/normalize')."""
    return (QUERIES / f"{name}.sql").read_text(encoding="utf-8")


def migrations() -> list[tuple[int, str, Path]]:
    found = []
    for path in sorted((QUERIES / "schema").glob("*.sql")):
        match = re.match(r"(\d+)_(.+)\.sql$", path.name)
        if match:
            found.append((int(match[1]), match[2], path))
    return found


def connect(path: Path | str, read_only: bool = False,
            memory_limit: str = DEFAULT_MEMORY_LIMIT) -> duckdb.DuckDBPyConnection:
    """Open the ledger; a writer also brings the schema up to date. DuckDB spills
    to disk beyond memory_limit rather than take the machine's memory."""
    path = Path(path)
    if read_only and not path.exists():
        raise StoreError(f"{path}: no database yet; run `monitor ingest` first")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as e:
        if "lock" in str(e).lower():
            raise StoreError(
                f"{path}: the database is in use by another monitor process; "
                f"wait for it to finish or stop it ({_first_line(e)})") from None
        raise StoreError(f"{path}: cannot open the database ({_first_line(e)})") from None
    # No progress bar: DuckDB draws it on stdout, which may be a pipe of JSON.
    con.execute("SET enable_progress_bar = false")
    con.execute("SET memory_limit = $limit", {"limit": memory_limit})
    # A table name in SQL must never resolve to a Python variable of ours.
    con.execute("SET python_enable_replacements = false")
    if not read_only and AUDIT_MIGRATION in migrate(con):
        # A new audit log gets its head file (seq 0) at once, so a missing one always means
        # a ledger from before head files or a deleted head (monitor.audit_chain).
        from monitor.audit_chain import start_head
        start_head(path)
    return con


AUDIT_MIGRATION = 6      # queries/schema/006_audit.sql creates audit_log


def migrate(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply pending migrations; returns the versions applied."""
    con.execute("""CREATE TABLE IF NOT EXISTS schema_migrations (
        version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)""")
    done = {v for (v,) in con.execute("SELECT version FROM schema_migrations").fetchall()}
    applied = []
    for version, name, path in migrations():
        if version in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(path.read_text(encoding="utf-8"))
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", [version, name, now()])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        applied.append(version)
    return applied


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0]


def now() -> datetime:
    """Naive UTC timestamp, the form every TIMESTAMP column holds."""
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0]


PARAM_LINE = re.compile(r"^--\s+\$(\w+)\s+([A-Z]+(?:\[\])?)\s+default\s+(\S+)\s*(.*)$")


@cache
def query_header(name: str) -> dict:
    """The header comment of queries/<name>.sql: name, finds, params, sentence.

    Params are lines like `--   $min_charge  DECIMAL  default 500  what it means`;
    defaults are parsed into Python values of the declared type.
    """
    header = {"name": name.rsplit("/", 1)[-1], "finds": "", "params": {}, "sentence": ""}
    key = None
    for line in load_query(name).splitlines():
        if not line.startswith("--"):
            break
        match = PARAM_LINE.match(line)
        if match:
            pname, ptype, default, help_text = match.groups()
            header["params"][pname] = {"type": ptype, "default": parse_param(ptype, default),
                                       "help": help_text.strip()}
            continue
        text = line[2:].strip()
        field, _, rest = text.partition(":")
        if field in ("name", "finds", "sentence", "params", "returns", "severity"):
            key = field
            if field in ("finds", "sentence"):
                header[field] = rest.strip()
        elif key in ("finds", "sentence") and text:
            header[key] += " " + text
    return header


def parse_param(ptype: str, text: str):
    """A parameter value of a declared SQL type, from its text form."""
    if ptype.endswith("[]"):
        return [parse_param(ptype[:-2], item) for item in text.strip("[]").split(",") if item]
    if text.upper() == "NULL":
        return None
    if ptype in ("INTEGER", "BIGINT"):
        return int(text)
    if ptype == "DOUBLE":
        return float(text)
    if ptype == "DECIMAL":
        from decimal import Decimal
        return Decimal(text)
    if ptype == "BOOLEAN":
        return text.lower() == "true"
    return text.strip("'\"")


SQL_PARAM = re.compile(r"\$([A-Za-z_]\w*)")


@cache
def query_params(name: str) -> frozenset:
    """The $parameters the statement in queries/<name>.sql uses (comment lines skipped)."""
    body = "\n".join(line.split("--", 1)[0] for line in load_query(name).splitlines())
    return frozenset(SQL_PARAM.findall(body))


def run(con: duckdb.DuckDBPyConnection, name: str, params: dict | None = None):
    """Execute queries/<name>.sql with the parameters it uses taken from `params`
    (extra keys are ignored; a missing one is a bug). Values are always bound."""
    params = params or {}
    needed = query_params(name)
    missing = needed - params.keys()
    if missing:
        raise KeyError(f"queries/{name}.sql needs {', '.join(sorted(missing))}")
    statements = con.extract_statements(load_query(name))
    if len(statements) == 1:
        return con.execute(statements[0], {k: params[k] for k in needed})
    # DuckDB binds parameters to one statement at a time.
    for statement in statements:
        cursor = con.execute(statement, {k: params[k] for k in statement.named_parameters})
    return cursor


def drop_temp(con: duckdb.DuckDBPyConnection, *names: str) -> None:
    """Drop the temp tables or views of these names, whichever each is."""
    found = con.execute(
        "SELECT 'VIEW', view_name FROM duckdb_views() "
        "WHERE temporary AND list_contains($names, view_name) "
        "UNION ALL SELECT 'TABLE', table_name FROM duckdb_tables() "
        "WHERE temporary AND list_contains($names, table_name)", {"names": list(names)}).fetchall()
    for kind, name in found:
        con.execute(f"DROP {kind} {name}")      # a caller's own name, found in the catalog


def rows(con: duckdb.DuckDBPyConnection, name: str, params: dict | None = None) -> list[dict]:
    cursor = run(con, name, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]
