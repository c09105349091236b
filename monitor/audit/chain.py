"""The hash-chained audit log (queries/schema/006_audit.sql): hashing, appending, the pending
file of readers, the chain head kept outside the database, and verification.

Each row's hash covers the previous row's hash and its own fields, so an edited, deleted or
reordered row breaks the chain. Deleting the newest rows (or the whole table) leaves a chain
that is intact as far as it goes; so after every committed append the newest (seq, hash) is
also written to `<ledger>.audit-head.json` (a temporary file renamed over the old one), and
`verify` checks that the log still reaches that head.

Readers that cannot open the ledger while a writer holds it append their entries to
`<ledger>.audit-pending.jsonl` (under a lock, each entry on a line of its own); the next
`record` on the ledger takes that file, folds its entries into the chain in the same
transaction as its own entry, and deletes it only after the commit. A torn line (a reader
killed mid-write) is skipped with a warning and itself recorded; the entries after it stay.
monitor.audit.log re-exports these names.
"""
from __future__ import annotations

import fcntl
import getpass
import hashlib
import json
import os
import re
import sys
import threading
import time
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb

from monitor.sql import snapshot, store
from monitor.errors import MonitorError
from monitor.redact import redact
from monitor.sql.audit_head import GENESIS, head_path, read_head, start_head, write_head  # noqa: F401

_CHAIN_LOCK = threading.Lock()
PENDING_KEYS = ("at", "actor", "action", "detail", "result_hash")


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


# -- files beside the ledger ------------------------------------------------------------------

def pending_path(database: Path | str) -> Path:
    database = Path(database)
    return database.with_name(database.name + ".audit-pending.jsonl")


def _warn(line: str) -> None:
    print(f"warning: {line}", file=sys.stderr)


# -- appending ---------------------------------------------------------------------------------

def _database_of(con) -> Path | None:
    found = con.execute("SELECT path FROM duckdb_databases() "
                        "WHERE database_name = current_database()").fetchall()
    return Path(found[0][0]) if found and found[0][0] else None


def _in_transaction(con) -> bool:
    """True inside a caller's BEGIN ... COMMIT: two statements then share one transaction
    id, in auto-commit each has its own. (Trying BEGIN would abort the caller's transaction.)"""
    first = con.execute("SELECT txid_current()").fetchone()[0]
    return con.execute("SELECT txid_current()").fetchone()[0] == first


def record(con: duckdb.DuckDBPyConnection, action: str, detail: dict, result_hash=None, *,
           who: str | None = None, at: datetime | None = None) -> int:
    """Append one entry to the chain (after any pending ones); returns its seq.

    Outside a transaction the pending entries and this one are appended in one transaction
    of ours, the pending files deleted only after it committed, and the head file written.
    Inside a caller's transaction (which may still roll back) only this entry is appended:
    pending entries wait, and the head is written by the next entry outside one."""
    database = _database_of(con)
    with _CHAIN_LOCK:       # the daemon's jobs run on threads, each with its own connection
        if _in_transaction(con):
            return _append(con, who or actor(), at or store.now(), action, canonical(detail),
                           result_hash)[0]
        with store.transaction(con):   # on an error the taken files stay: the next record folds them
            taken = _take_pending(con, database) if database is not None else []
            seq, hash_ = _append(con, who or actor(), at or store.now(), action,
                                 canonical(detail), result_hash)
        for path in taken:
            path.unlink(missing_ok=True)
        if database is not None:
            write_head(database, seq, hash_)
        return seq


def _append(con, who: str, at: datetime, action: str, detail: str, result_hash) -> tuple:
    detail = redact(detail)          # a secret never enters the chain (monitor.redact)
    last = con.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchall()
    seq, prev = (last[0][0] + 1, last[0][1]) if last else (1, GENESIS)
    hash_ = link_hash(prev, seq, at, who, action, detail, result_hash)
    con.execute("INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [seq, at, who, action, detail, result_hash, prev, hash_])
    return seq, hash_


def _take_pending(con, database: Path) -> list[Path]:
    """Fold every pending file into the chain (in the caller's transaction); returns the
    files to delete once it commits. Files taken by a process that died before its commit
    (`<pending>.taken-*`) are folded first: only the writer holding the ledger folds, so a
    taken file found here is nobody else's work in progress."""
    path = pending_path(database)
    taken = sorted(path.parent.glob(path.name + ".*"), key=lambda p: p.stat().st_mtime)
    if path.exists():
        with open(path, "ab") as f:
            fcntl.flock(f, fcntl.LOCK_EX)    # no reader is half way through a line
            mine = path.with_name(f"{path.name}.taken-{os.getpid()}-{time.time_ns()}")
            os.replace(path, mine)           # entries from now on go to a new pending file
        taken.append(mine)
    for file in taken:
        for entry in read_pending(file):
            _append(con, entry["actor"], datetime.fromisoformat(entry["at"]), entry["action"],
                    entry["detail"], entry["result_hash"])
    return taken


def _pending_entry(text: str) -> dict | None:
    try:
        entry = json.loads(text)
    except ValueError:
        return None
    if not (isinstance(entry, dict) and all(k in entry for k in PENDING_KEYS)
            and all(isinstance(entry[k], str) for k in PENDING_KEYS[:4])
            and isinstance(entry["result_hash"], (str, type(None)))):
        return None
    try:
        datetime.fromisoformat(entry["at"])
    except ValueError:
        return None
    return entry


def read_pending(path: Path) -> list[dict]:
    """The entries of a pending file, in order. A torn line (its writer died mid-write; a
    later entry may follow on the same line) is skipped with a warning and becomes an entry
    of its own ('audit-pending-torn', with its text), so neither it nor what follows is lost."""
    found = []
    raw = path.read_bytes().decode("utf-8", errors="replace")
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        entry = _pending_entry(line)
        if entry is not None:
            found.append(entry)
            continue
        salvaged = None
        for start in (m.start() for m in re.finditer(r'\{"', line)):
            if start and (salvaged := _pending_entry(line[start:])) is not None:
                line = line[:start]
                break
        _warn(f"{path}: line {number} is torn (cut off while written) and is skipped; its "
              "text is kept in the audit log as an 'audit-pending-torn' entry")
        found.append({"at": store.now().isoformat(), "actor": actor(),
                      "action": "audit-pending-torn", "result_hash": None,
                      "detail": canonical({"file": path.name, "line": number,
                                           "text": line[:4000]})})
        if salvaged is not None:
            found.append(salvaged)
    return found


def _write_pending(database: Path | str, entry: dict) -> None:
    """Append one entry under an exclusive lock, on a line of its own (a newline first when
    a writer that died left the last line unterminated). A file taken by the folder between
    our open and our lock is not written to: we open the new one."""
    path = pending_path(database)
    line = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
    while True:
        with open(path, "a+b") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                current = os.path.samestat(os.fstat(f.fileno()), os.stat(path))
            except FileNotFoundError:
                current = False
            if not current:
                continue
            size = f.seek(0, os.SEEK_END)
            if size:
                f.seek(size - 1)
                if f.read(1) != b"\n":
                    line = b"\n" + line
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
            return


def record_at(database: Path | str, action: str, detail: dict, result_hash=None,
              who: str | None = None) -> str:
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
        _write_pending(database, {"at": store.now().isoformat(), "actor": who or actor(),
                                  "action": action, "detail": redact(canonical(detail)),
                                  "result_hash": result_hash})
        return "pending"
    try:
        record(con, action, detail, result_hash, who=who)
    finally:
        con.close()
    if current:
        os.utime(snap)
    return "log"


# -- reading -----------------------------------------------------------------------------------

def has_log(con) -> bool:
    return bool(con.execute("SELECT 1 FROM duckdb_tables() WHERE table_name = 'audit_log' "
                            "AND database_name = current_database()").fetchall())


def verify(con: duckdb.DuckDBPyConnection, head: dict | None = None, *,
           snapshot_read: bool = False) -> dict:
    """Walk the chain; the first row whose seq, link or hash is wrong, or None. With `head`
    (read_head), the chain must also reach that head: rows deleted from the end, or the
    table emptied or dropped, are found. A snapshot (`snapshot_read`) may be older than the
    head; then only the rows it has are checked, and `note` says so."""
    rows, prev, expected_seq = [], GENESIS, 1
    if has_log(con):
        rows = con.execute("SELECT seq, logged_at, actor, action, detail, result_hash, "
                           "prev_hash, hash FROM audit_log ORDER BY seq").fetchall()
    elif head and "invalid" not in head:
        return _broken(0, 1, f"the audit_log table is gone, but the head file records row "
                             f"{head['seq']}: the log was dropped")
    hashes = {}
    for count, (seq, at, who, action, detail, result_hash, prev_hash, hash_) in \
            enumerate(rows, start=1):
        problem = None
        if seq != expected_seq:
            problem = (f"row {seq} follows row {expected_seq - 1}: "
                       f"{'rows deleted' if seq > expected_seq else 'rows out of order'}")
        elif prev_hash != prev:
            problem = f"row {seq} does not link to the hash of row {seq - 1}"
        elif link_hash(prev_hash, seq, at, who, action, detail, result_hash) != hash_:
            problem = f"row {seq} was changed after it was written (its hash does not match)"
        if problem:
            return _broken(count, seq, problem)
        hashes[seq] = hash_
        prev, expected_seq = hash_, seq + 1
    result = {"ok": True, "rows": len(rows), "first_broken": None, "problem": None,
              "head": prev or None, "head_file": "missing" if head is None else "matches",
              "note": None}
    last = expected_seq - 1
    if head is None:
        if rows:
            result["note"] = ("no chain head file beside the database: rows deleted from the "
                              "end cannot be found until the next write records one")
    elif "invalid" in head:
        return _broken(len(rows), last + 1, head["invalid"]) | {"head_file": "invalid"}
    elif head["seq"] > last:
        if snapshot_read:
            result["head_file"] = "ahead of the snapshot"
            result["note"] = (f"read a snapshot that ends at row {last}; the head file records "
                              f"row {head['seq']} (the database is busy: verify again later)")
        else:
            return _broken(len(rows), last + 1,
                           f"the log ends at row {last} but the head file records row "
                           f"{head['seq']}: rows {last + 1}-{head['seq']} were deleted"
                           ) | {"head_file": "ahead of the log"}
    elif head["seq"] and hashes.get(head["seq"]) != head["hash"]:
        return _broken(len(rows), head["seq"],
                       f"row {head['seq']} is not the row the head file records: the log "
                       "was rewritten") | {"head_file": "does not match"}
    return result


def _broken(rows: int, seq: int, problem: str) -> dict:
    return {"ok": False, "rows": rows, "first_broken": seq, "problem": problem}


def entries(con, limit: int = 100, action: str | None = None) -> list[dict]:
    if not has_log(con):
        return []
    cursor = con.execute("SELECT seq, logged_at, actor, action, detail, result_hash, hash "
                         "FROM audit_log "
                         "WHERE $action IS NULL OR action = $action ORDER BY seq DESC LIMIT $limit",
                         {"action": action, "limit": limit})
    return store.dicts(cursor)
