"""The auditors' toolkit: read-only ad hoc and saved queries, reproducible evidence exports,
and the hash-chained audit log.

Queries run on the published snapshot (monitor.snapshot) through a connection the
database itself keeps read-only; `check_statement` only turns the obvious refusals into a
clear message before the database would refuse them anyway.

The audit log (queries/schema/006_audit.sql) is one table whose rows are chained: each
row's hash covers the previous row's hash and its own fields. Readers that cannot open the
ledger while a writer holds it leave their entries in `<ledger>.audit-pending.jsonl`; the
next `record` on the ledger folds them into the chain first.
"""
from __future__ import annotations

import csv
import getpass
import hashlib
import json
import os
import re
import threading
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb

from monitor import output, snapshot, store
from monitor.errors import InputError, MonitorError

ALLOWED = {"SELECT", "EXPLAIN"}
_CHAIN_LOCK = threading.Lock()
GENESIS = ""
EVIDENCE_QUERY = "audit/alert_evidence"


class ReadOnlyError(InputError):
    """A statement that would write, refused (exit code 2)."""


# -- hashing -------------------------------------------------------------------------------

def _canon(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): _canon(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canon(v) for v in value]
    return value


def canonical(value) -> str:
    """The one text form hashed: JSON, sorted keys, exact decimals, ISO dates."""
    return json.dumps(_canon(value), sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      default=str)


def rows_hash(columns: list[str], rows: list) -> str:
    """SHA-256 of a result: its column names then each row, in order (the data version)."""
    digest = hashlib.sha256(canonical(list(columns)).encode())
    for row in rows:
        values = [row.get(c) for c in columns] if isinstance(row, dict) else list(row)
        digest.update(b"\n" + canonical(values).encode())
    return digest.hexdigest()


def digest(value) -> str:
    """SHA-256 of any value's canonical form (a verb's result for the audit log)."""
    return hashlib.sha256(canonical(value).encode()).hexdigest()


def record_notification(con, outcome, dry_run: bool = False) -> None:
    """Log a delivery run (monitor.notify Outcome or Delivery) when it did anything."""
    sent, pending = list(outcome.sent), list(outcome.pending)
    files = [str(f) for f in outcome.files]
    queued = list(getattr(outcome, "queued", []))
    if sent or pending or files or queued:
        record(con, "notification", {"sent": sent, "pending": pending, "queued": queued,
                                     "files": files, "dry_run": dry_run,
                                     "error": outcome.error},
               digest([sent, pending, queued, files]))


def record_pipeline(con, todo: list, results: list, day, findings: list, outcome) -> None:
    """Log a daemon pipeline run (monitor.schedule): its ingest, scan and notifications."""
    if todo:
        record(con, "ingest", {"paths": [str(p) for p, *_ in todo], "daemon": True},
               digest([r.as_dict() for r in results]))
    record(con, "scan", {"as_of": day, "findings": len(findings), "daemon": True},
           digest(findings))
    if outcome:
        record_notification(con, outcome)


def publish(database: Path | str) -> Path | None:
    """Publish the read-only snapshot readers query (after a writer verb closed the ledger)."""
    return snapshot.publish_from_file(database)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# -- the audit log -------------------------------------------------------------------------

def actor() -> str:
    """Who is acting: $MONITOR_ACTOR, else the operating-system user."""
    name = os.environ.get("MONITOR_ACTOR", "").strip()
    if name:
        return name
    try:
        return getpass.getuser()
    except Exception:    # no user name in this environment
        return "unknown"


def link_hash(prev_hash: str, seq: int, at, who: str, action: str, detail: str,
              result_hash) -> str:
    body = canonical([seq, at, who, action, detail, result_hash])
    return hashlib.sha256((prev_hash + "\n" + body).encode()).hexdigest()


def pending_path(database: Path | str) -> Path:
    database = Path(database)
    return database.with_name(database.name + ".audit-pending.jsonl")


def _database_of(con) -> Path | None:
    found = con.execute("SELECT path FROM duckdb_databases() "
                        "WHERE database_name = current_database()").fetchall()
    return Path(found[0][0]) if found and found[0][0] else None


def record(con: duckdb.DuckDBPyConnection, action: str, detail: dict, result_hash=None, *,
           who: str | None = None, at: datetime | None = None) -> int:
    """Append one entry to the chain (after any pending ones); returns its seq."""
    database = _database_of(con)
    with _CHAIN_LOCK:       # the daemon's jobs run on threads, each with its own connection
        if database is not None:
            _fold_pending(con, pending_path(database))
        return _append(con, who or actor(), at or store.now(), action, canonical(detail),
                       result_hash)


def _append(con, who: str, at: datetime, action: str, detail: str, result_hash) -> int:
    last = con.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchall()
    seq, prev = (last[0][0] + 1, last[0][1]) if last else (1, GENESIS)
    digest = link_hash(prev, seq, at, who, action, detail, result_hash)
    con.execute("INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [seq, at, who, action, detail, result_hash, prev, digest])
    return seq


def _fold_pending(con, path: Path) -> None:
    if not path.exists():
        return
    taken = path.with_name(path.name + f".{os.getpid()}")
    os.replace(path, taken)        # entries written from now on go to a new pending file
    for line in taken.read_text(encoding="utf-8").splitlines():
        if line.strip():
            entry = json.loads(line)
            _append(con, entry["actor"], datetime.fromisoformat(entry["at"]), entry["action"],
                    entry["detail"], entry["result_hash"])
    taken.unlink()


def record_at(database: Path | str, action: str, detail: dict, result_hash=None) -> str:
    """Record from a reader: in the ledger when no one holds it, else in the pending file
    the next writer folds in. Returns where it went ('log' or 'pending').

    A snapshot that was current stays current: only the audit log changed, and copying the
    whole ledger again for the next query would cost seconds per ten million rows."""
    snap = snapshot.snapshot_path(database)
    current = snap.exists() and not snapshot.is_stale(Path(database), snap)
    con = None
    if not snapshot.daemon_holder(database):   # else opening it could turn the daemon away
        try:
            con = store.connect(database)
        except MonitorError:
            pass
    if con is None:
        entry = {"at": store.now().isoformat(), "actor": actor(), "action": action,
                 "detail": canonical(detail), "result_hash": result_hash}
        with open(pending_path(database), "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")
        return "pending"
    try:
        record(con, action, detail, result_hash)
    finally:
        con.close()
    if current:
        os.utime(snap)
    return "log"


def has_log(con) -> bool:
    return bool(con.execute("SELECT 1 FROM duckdb_tables() WHERE table_name = 'audit_log' "
                            "AND database_name = current_database()").fetchall())


def verify(con: duckdb.DuckDBPyConnection) -> dict:
    """Walk the chain; the first row whose seq, link or hash is wrong, or None."""
    if not has_log(con):
        return {"ok": True, "rows": 0, "first_broken": None, "problem": None, "head": None}
    cursor = con.execute("SELECT seq, logged_at, actor, action, detail, result_hash, prev_hash, hash "
                         "FROM audit_log ORDER BY seq")
    prev, expected_seq, count = GENESIS, 1, 0
    for seq, at, who, action, detail, result_hash, prev_hash, digest in cursor.fetchall():
        count += 1
        problem = None
        if seq != expected_seq:
            problem = (f"row {seq} follows row {expected_seq - 1}: "
                       f"{'rows deleted' if seq > expected_seq else 'rows out of order'}")
        elif prev_hash != prev:
            problem = f"row {seq} does not link to the hash of row {seq - 1}"
        elif link_hash(prev_hash, seq, at, who, action, detail, result_hash) != digest:
            problem = f"row {seq} was changed after it was written (its hash does not match)"
        if problem:
            return {"ok": False, "rows": count, "first_broken": seq, "problem": problem}
        prev, expected_seq = digest, seq + 1
    return {"ok": True, "rows": count, "first_broken": None, "problem": None,
            "head": prev or None}


def entries(con, limit: int = 100, action: str | None = None) -> list[dict]:
    if not has_log(con):
        return []
    cursor = con.execute("SELECT seq, logged_at, actor, action, detail, result_hash, hash "
                         "FROM audit_log "
                         "WHERE $action IS NULL OR action = $action ORDER BY seq DESC LIMIT $limit",
                         {"action": action, "limit": limit})
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


# -- read-only queries ----------------------------------------------------------------------

def check_statement(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Refuse anything but one SELECT (or EXPLAIN) with a clear message. The database
    refuses writes anyway; this only names the problem."""
    try:
        statements = con.extract_statements(sql)
    except duckdb.ParserException as e:
        raise InputError(f"the query does not parse: {_first_line(e)}") from None
    if not statements:
        raise InputError("the query is empty")
    if len(statements) > 1:
        kinds = ", ".join(st.type.name for st in statements)
        raise ReadOnlyError(f"refused: {len(statements)} statements ({kinds}); `monitor query` "
                            "runs exactly one read-only SELECT")
    kind = statements[0].type.name
    if kind not in ALLOWED:
        raise ReadOnlyError(f"refused: a {kind} statement; `monitor query` is read-only and runs "
                            "only SELECT (and EXPLAIN) statements")


def execute(con: duckdb.DuckDBPyConnection, sql: str, params: dict) -> tuple[list, list]:
    """Run one read-only statement; (columns, rows as tuples)."""
    check_statement(con, sql)
    try:
        cursor = con.execute(sql, params or None)
        columns = [d[0] for d in cursor.description]
        return columns, cursor.fetchall()
    except (duckdb.PermissionException, duckdb.InvalidInputException) as e:
        text = _first_line(e)
        if any(w in text.lower() for w in ("read-only", "read only", "permission",
                                           "file system", "configuration")):
            raise ReadOnlyError(f"refused by the database: {text}") from None
        raise InputError(f"query failed: {text}") from None
    except (duckdb.ParserException, duckdb.BinderException, duckdb.CatalogException,
            duckdb.ConversionException) as e:
        raise InputError(f"query failed: {_first_line(e)}") from None


def open_reader(database: Path | str) -> tuple[duckdb.DuckDBPyConnection, Path, bool]:
    """A locked-down connection on the freshest snapshot: (con, snapshot path, fresh)."""
    snap, fresh = snapshot.ensure_snapshot(database)
    return snapshot.open_readonly(snap), snap, fresh


def open_log(database: Path | str) -> duckdb.DuckDBPyConnection:
    """For reading the audit log itself: the ledger when no one holds it (the snapshot may
    lack the newest entries), else the snapshot."""
    if Path(database).exists() and not snapshot.daemon_holder(database):
        try:
            return snapshot.open_readonly(database)
        except MonitorError:
            pass
    return open_reader(database)[0]


# -- saved queries -------------------------------------------------------------------------

def saved_names() -> list[str]:
    return sorted(p.stem for p in (store.QUERIES / "audit").glob("*.sql"))


def saved(name: str) -> dict:
    if name not in saved_names():
        raise InputError(f"no saved query {name!r}; `monitor queries` lists them "
                         f"({', '.join(saved_names())})")
    header = store.query_header(f"audit/{name}")
    return header | {"sql": store.load_query(f"audit/{name}")}


def bind(pairs: list[str], declared: dict | None) -> dict:
    """-p name=value pairs as query parameters: typed by the saved query's header, with its
    defaults for the rest; ad hoc, as text (CAST($x AS INTEGER) where arithmetic needs it)."""
    given = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip().lstrip("$")
        if not sep or not re.fullmatch(r"[A-Za-z_]\w*", name):
            raise InputError(f"-p {pair!r}: write it as name=value")
        given[name] = value
    if declared is None:     # text: DuckDB casts it to the column it meets ('1200' = account)
        return given
    unknown = set(given) - set(declared)
    if unknown:
        raise InputError(f"unknown parameter(s) {', '.join(sorted(unknown))}; this query takes "
                         f"{', '.join(declared) or 'none'}")
    params = {}
    for name, spec in declared.items():
        if name not in given:
            params[name] = spec["default"]
            continue
        try:
            params[name] = store.parse_param(spec["type"], given[name])
        except (ValueError, ArithmeticError):
            raise InputError(f"-p {name}={given[name]}: not a {spec['type']}") from None
    return params


def listing() -> list[dict]:
    found = []
    for name in saved_names():
        header = store.query_header(f"audit/{name}")
        params = "; ".join(f"{p} {s['type']} (default {_show(s['default'])}): {s['help']}"
                           for p, s in header["params"].items())
        found.append({"name": name, "finds": header["finds"], "params": params})
    return found


def _show(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, list):
        return "[" + ",".join(str(v) for v in value) + "]"
    return str(value)


# -- evidence --------------------------------------------------------------------------------

def export_evidence(con: duckdb.DuckDBPyConnection, alert_id: int, out: Path, *,
                    snapshot_path: Path | None = None) -> dict:
    """Write an alert's evidence folder; returns the manifest."""
    found = store.rows(con, "alerts/get_alert", {"alert_id": alert_id})
    if not found:
        raise InputError(f"no alert {alert_id}; see `monitor alerts list --state all`")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"{out}: exists and is not an empty folder; give a new folder")
    out.mkdir(parents=True, exist_ok=True)
    sql = store.load_query(EVIDENCE_QUERY)
    params = {"alert_id": alert_id}
    columns, rows = execute(con, sql, params)
    data_version = rows_hash(columns, rows)
    (out / "alert.json").write_text(output.dumps(found[0]) + "\n", encoding="utf-8")
    with open(out / "evidence.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([output.csv_cell(v) for v in row])
    (out / "query.sql").write_text(sql, encoding="utf-8")
    (out / "params.json").write_text(output.dumps(params) + "\n", encoding="utf-8")
    manifest = {
        "alert_id": alert_id, "created_at": store.now().isoformat(), "actor": actor(),
        "query": f"queries/{EVIDENCE_QUERY}.sql", "params": params, "columns": columns,
        "rows": len(rows), "data_version": data_version,
        "data_version_means": "sha256 of the column names and the rows the query read, "
                              "each as canonical JSON (monitor.audit.rows_hash)",
        "snapshot": str(snapshot_path) if snapshot_path else None,
        "files": {name: file_sha256(out / name)
                  for name in ("alert.json", "evidence.csv", "query.sql", "params.json")},
    }
    (out / "manifest.json").write_text(output.dumps(manifest) + "\n", encoding="utf-8")
    return manifest


def verify_evidence(con: duckdb.DuckDBPyConnection, folder: Path) -> dict:
    """Check an evidence folder: every file against the manifest, and the recorded query
    re-run on `con` against the recorded data version."""
    folder = Path(folder)
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InputError(f"{folder}/manifest.json: cannot read it ({e})") from None
    changed = [name for name, digest in manifest["files"].items()
               if not (folder / name).exists() or file_sha256(folder / name) != digest]
    sql = (folder / "query.sql").read_text(encoding="utf-8")
    params = json.loads((folder / "params.json").read_text(encoding="utf-8"))
    columns, rows = execute(con, sql, params)
    again = rows_hash(columns, rows)
    return {"files_ok": not changed, "changed_files": changed,
            "rows_reproduced": again == manifest["data_version"],
            "data_version": manifest["data_version"], "data_version_now": again,
            "rows": len(rows)}


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0]
