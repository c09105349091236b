"""The auditors' toolkit: read-only ad hoc and saved queries, reproducible evidence exports,
and the hash-chained audit log (monitor.audit.chain, whose names this module re-exports).

Queries run on the published snapshot (monitor.sql.snapshot) through a connection the
database itself keeps read-only, within the configured memory and temp-space limits and a
statement timeout; `check_statement` only turns the obvious refusals into a clear message
before the database would refuse them anyway.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import signal
import threading
from contextlib import contextmanager
from pathlib import Path

import duckdb

from monitor import output
from monitor.sql import snapshot, store
# The chain's verbs, named here too so a caller needs one `audit` module (debt: callers should
# import monitor.audit.chain themselves).
from monitor.audit.chain import (actor, canonical, digest, entries,  # noqa: F401
                                 head_path, link_hash, pending_path, read_head,
                                 read_pending, record, record_at, rows_hash, verify)
from monitor.sql.header import parse_param
from monitor.errors import InputError, MonitorError, first_line

ALLOWED = {"SELECT", "EXPLAIN"}
EVIDENCE_QUERY = "audit/alert_evidence"


class ReadOnlyError(InputError):
    """A statement that would write, refused (exit code 2)."""


def record_notification(con, outcome, dry_run: bool = False) -> None:
    """Log a delivery run (monitor.alerting.notify Outcome or Delivery) when it did anything."""
    sent, pending = list(outcome.sent), list(outcome.pending)
    files = [str(f) for f in outcome.files]
    queued = list(getattr(outcome, "queued", []))
    failed = list(getattr(outcome, "failed", []))
    if sent or pending or files or queued or failed:
        record(con, "notification", {"sent": sent, "pending": pending, "queued": queued,
                                     "files": files, "dry_run": dry_run,
                                     "error": outcome.error,
                                     **({"failed": failed, "gave_up": outcome.gave_up}
                                        if failed else {})},
               digest([sent, pending, queued, files]))


def publish(database: Path | str) -> Path | None:
    """Publish the read-only snapshot readers query (after a writer verb closed the ledger)."""
    return snapshot.publish_from_file(database)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# -- read-only queries ----------------------------------------------------------------------

def check_statement(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Refuse anything but one SELECT (or EXPLAIN) with a clear message. The database
    refuses writes anyway; this only names the problem."""
    try:
        statements = con.extract_statements(sql)
    except duckdb.ParserException as e:
        raise InputError(f"the query does not parse: {first_line(e)}") from None
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


class QueryLimitError(MonitorError):
    """A query stopped by a configured limit (statement timeout, memory, temp space):
    exit code 3, one line naming the setting."""


def execute(con: duckdb.DuckDBPyConnection, sql: str, params: dict,
            timeout: float | None = None) -> tuple[list, list]:
    """Run one read-only statement; (columns, rows as tuples), within `guarded`'s limits."""
    check_statement(con, sql)
    with guarded(con, timeout):
        cursor = con.execute(sql, params or None)
        return [d[0] for d in cursor.description], cursor.fetchall()


@contextmanager
def guarded(con: duckdb.DuckDBPyConnection, timeout: float | None = None):
    """The limits every auditor statement runs under, and its errors as one line.

    Refuses a connection that is not locked read-only. DuckDB has no statement timeout:
    after `timeout` seconds the connection is interrupted. On the main thread that is done
    by SIGALRM, not by a timer thread (while another Python thread is alive DuckDB does not
    notice Ctrl-C), and Ctrl-C interrupts the connection through our own handler (DuckDB's
    own check misses a signal now and then); either way Ctrl-C is raised as
    KeyboardInterrupt (exit code 130). `monitor query` streams its result inside this, so
    the limits cover the fetching too, not only the start of the query."""
    _check_locked(con)
    fired, ctrl_c = threading.Event(), threading.Event()

    def stop(*_signal):
        fired.set()
        con.interrupt()

    def interrupt(*_signal):
        ctrl_c.set()
        con.interrupt()

    timer = previous = None
    if threading.current_thread() is threading.main_thread():
        previous = (signal.signal(signal.SIGINT, interrupt),
                    signal.signal(signal.SIGALRM, stop))
        if timeout:
            signal.setitimer(signal.ITIMER_REAL, timeout)
    elif timeout:
        timer = threading.Timer(timeout, stop)
        timer.daemon = True
        timer.start()
    error = None
    try:
        yield
    except Exception as e:
        error = e
    finally:
        if previous is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGINT, previous[0])
            signal.signal(signal.SIGALRM, previous[1])
        if timer is not None:
            timer.cancel()
    if ctrl_c.is_set():
        raise KeyboardInterrupt
    if error is None:
        return
    if fired.is_set():
        raise QueryLimitError(
            f"query stopped after {_seconds(timeout)}, the statement timeout "
            "([audit] query_timeout in the config); narrow the query or raise the "
            "setting") from None
    _raise_one_line(error)


def _raise_one_line(error: Exception):
    """DuckDB's errors as the one-line messages of the documented exit codes."""
    try:
        raise error
    except (duckdb.InterruptException, RuntimeError) as e:
        if isinstance(e, duckdb.InterruptException) or "interrupt" in str(e).lower():
            raise KeyboardInterrupt from None
        raise
    except duckdb.OutOfMemoryException as e:
        raise QueryLimitError(
            f"query stopped: it needs more memory than [database] memory_limit and more "
            f"disk to spill to than [audit] temp_limit allow ({first_line(e)}); narrow the "
            "query or raise them in the config") from None
    except (duckdb.PermissionException, duckdb.InvalidInputException) as e:
        text = first_line(e)
        if any(w in text.lower() for w in ("read-only", "read only", "permission",
                                           "file system", "configuration")):
            raise ReadOnlyError(f"refused by the database: {text}") from None
        raise InputError(f"query failed: {text}") from None
    except (duckdb.ParserException, duckdb.BinderException, duckdb.CatalogException,
            duckdb.ConversionException, duckdb.OutOfRangeException) as e:
        raise InputError(f"query failed: {first_line(e)}") from None


def _check_locked(con) -> None:
    """Auditor SQL runs only on a connection that can change nothing (snapshot.open_readonly):
    read-only, no file access, configuration locked. A caller handing in another is a bug."""
    (readonly, external, locked), = con.execute(
        "SELECT (SELECT readonly FROM duckdb_databases() "
        "        WHERE database_name = current_database()), "
        "current_setting('enable_external_access'), "
        "current_setting('lock_configuration')").fetchall()
    if not readonly or external or not locked:
        raise MonitorError("internal: an auditor query was given a connection that is not "
                           "locked read-only; nothing was run")


def _seconds(value: float) -> str:
    return f"{int(value)}s" if float(value).is_integer() else f"{value:g}s"


def reader_limits(config) -> dict:
    """The memory and temp-space limits of auditor connections, from a Config (or the
    defaults when there is none)."""
    if config is None:
        return {}
    audit_settings = getattr(config, "audit", None)
    limits = {"memory_limit": config.memory_limit}
    if audit_settings is not None:
        limits["temp_limit"] = audit_settings.temp_limit
    return limits


def query_timeout(config) -> float | None:
    audit_settings = getattr(config, "audit", None) if config is not None else None
    return audit_settings.query_timeout if audit_settings is not None else None


def open_reader(database: Path | str, config=None
                ) -> tuple[duckdb.DuckDBPyConnection, Path, bool]:
    """A locked-down connection on the freshest snapshot: (con, snapshot path, fresh), with
    the memory and temp-space limits of `config`."""
    snap, fresh = snapshot.ensure_snapshot(database)
    return snapshot.open_readonly(snap, **reader_limits(config)), snap, fresh


def open_log_at(database: Path | str) -> tuple[duckdb.DuckDBPyConnection, bool]:
    """For reading the audit log itself: the ledger when no one holds it (the snapshot may
    lack the newest entries), else the snapshot. (con, True when it is the snapshot)."""
    if Path(database).exists() and not snapshot.daemon_holder(database):
        try:
            return snapshot.open_readonly(database), False
        except MonitorError:
            pass
    return open_reader(database)[0], True


def open_log(database: Path | str) -> duckdb.DuckDBPyConnection:
    return open_log_at(database)[0]


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
            params[name] = parse_param(spec["type"], given[name])
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
                    snapshot_path: Path | None = None, timeout: float | None = None,
                    who: str | None = None) -> dict:
    """Write an alert's evidence folder; returns the manifest. `who`: the person exporting
    (the web inbox's signed-in user), else actor()."""
    found = store.rows(con, "alerts/get_alert", {"alert_id": alert_id})
    if not found:
        raise InputError(f"no alert {alert_id}; see `monitor alerts list --state all`")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"{out}: exists and is not an empty folder; give a new folder")
    out.mkdir(parents=True, exist_ok=True)
    sql = store.load_query(EVIDENCE_QUERY)
    params = {"alert_id": alert_id}
    columns, rows = execute(con, sql, params, timeout)
    data_version = rows_hash(columns, rows)
    (out / "alert.json").write_text(output.dumps(found[0]) + "\n", encoding="utf-8")
    with open(out / "evidence.csv", "w", encoding="utf-8", newline="") as f:
        f.write(evidence_csv(columns, rows))
    (out / "query.sql").write_text(sql, encoding="utf-8")
    (out / "params.json").write_text(output.dumps(params) + "\n", encoding="utf-8")
    manifest = {
        "alert_id": alert_id, "created_at": store.now().isoformat(), "actor": who or actor(),
        "query": f"queries/{EVIDENCE_QUERY}.sql", "params": params, "columns": columns,
        "rows": len(rows), "data_version": data_version,
        "data_version_means": "sha256 of the column names and the rows the query read, "
                              "each as canonical JSON (monitor.audit.log.rows_hash)",
        "snapshot": str(snapshot_path) if snapshot_path else None,
        "files": {name: file_sha256(out / name)
                  for name in ("alert.json", "evidence.csv", "query.sql", "params.json")},
    }
    (out / "manifest.json").write_text(output.dumps(manifest) + "\n", encoding="utf-8")
    return manifest


def evidence_csv(columns: list[str], rows: list) -> str:
    """The text of evidence.csv: export writes it, verify renders the re-read rows the same
    way and compares."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([output.csv_cell(v) for v in row])
    return buffer.getvalue()


def verify_evidence(con: duckdb.DuckDBPyConnection, folder: Path,
                    database: Path | str | None = None, timeout: float | None = None) -> dict:
    """Check an evidence folder: the manifest is the one the audit log recorded at export
    (its SHA-256 is the result hash of an 'evidence' entry of `database`'s log), every file
    matches the manifest, the recorded query re-run on `con` gives the recorded data version,
    and evidence.csv is exactly those rows. A pack edited and re-hashed fails the first
    check; `problems` says in plain lines what failed."""
    folder = Path(folder)
    try:
        manifest_sha = file_sha256(folder / "manifest.json")
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        files = dict(manifest["files"])
        data_version = str(manifest["data_version"])
        sql = (folder / "query.sql").read_text(encoding="utf-8")
        params = json.loads((folder / "params.json").read_text(encoding="utf-8"))
        csv_text = (folder / "evidence.csv").read_text(encoding="utf-8")
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise InputError(f"{folder}: not a readable evidence pack ({type(e).__name__}: {e}); "
                         "export it again with `monitor evidence ID --out DIR`") from None
    problems = []
    logged = export_logged(database, manifest_sha) if database is not None else None
    if database is not None and logged is None:
        problems.append("manifest.json is not the manifest the audit log recorded at export "
                        "(no 'evidence' entry has its SHA-256): the pack was changed after "
                        "export, or comes from another ledger")
    changed = [name for name, sha in files.items()
               if not (folder / name).exists() or file_sha256(folder / name) != sha]
    if changed:
        problems.append(f"changed since export: {', '.join(changed)}")
    columns, rows = execute(con, sql, params if isinstance(params, dict) else None, timeout)
    again = rows_hash(columns, rows)
    if again != data_version:
        problems.append("the recorded query no longer reads the same rows from the ledger "
                        f"(data version {again[:12]}, recorded {data_version[:12]})")
    csv_ok = csv_text == evidence_csv(columns, rows)
    if not csv_ok:
        problems.append("evidence.csv is not the rows the recorded query reads from the ledger")
    return {"ok": not problems, "files_ok": not changed, "changed_files": changed,
            "manifest_logged": logged is not None, "logged_at": logged,
            "rows_reproduced": again == data_version, "csv_matches_rows": csv_ok,
            "data_version": data_version, "data_version_now": again,
            "rows": len(rows), "problems": problems}


def export_logged(database: Path | str, manifest_sha: str) -> str | None:
    """Where the audit log recorded this manifest at export ('audit log row N', or the
    pending file while a writer holds the ledger), None when nowhere."""
    con, _snap = open_log_at(database)
    try:
        for entry in entries(con, limit=10_000_000, action="evidence"):
            if entry["result_hash"] == manifest_sha:
                return f"audit log row {entry['seq']}"
    finally:
        con.close()
    pending = pending_path(database)
    for file in [pending, *pending.parent.glob(pending.name + ".*")]:
        if file.exists() and any(e["action"] == "evidence" and e["result_hash"] == manifest_sha
                                 for e in read_pending(file)):
            return f"{file.name} (waiting to join the audit log)"
    return None


