"""Read-only snapshots of the ledger, for readers that must not wait for (or block) the writer.

DuckDB lets no other process open a file while one holds it read-write, not even read-only.
So the writer (ingest, scan, the daemon) publishes a copy after each run:
ATTACH a temporary file, COPY FROM DATABASE, DETACH, then os.replace it over the previous
snapshot, so a reader sees either the old copy or the new one, never half of one.

Readers open the snapshot with `open_readonly`: read-only, no file system access (no COPY TO,
ATTACH, INSTALL, read_csv of local files), and the configuration locked so that no SET can
undo it. The database refuses every write itself; the statement check in monitor.audit.log only
gives the clearer message.
"""
from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import duckdb

from monitor.errors import StoreError, first_line
from monitor.sql.store import (DEFAULT_MEMORY_LIMIT, DEFAULT_TEMP_LIMIT, damaged,
                                snapshot_path)


def lock_path(database: Path | str) -> Path:
    """`<database>.lock`: the daemon's lock file (monitor.daemon.scheduler.Lock)."""
    return Path(f"{database}.lock")


def read_lock(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8") or "null")
    except (OSError, ValueError):
        return None


def daemon_holder(database: Path | str) -> dict | None:
    """The lock's holder when a `monitor run` daemon is alive on this ledger, else None.
    A reader then uses the daemon's snapshot and never opens the ledger: taking the flock
    or the file, even briefly, could turn the daemon's next job away."""
    holder = read_lock(lock_path(database))
    if not holder or not holder.get("pid"):
        return None
    if holder.get("host") not in (None, socket.gethostname()):
        return holder
    try:
        os.kill(int(holder["pid"]), 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return holder


def publish_snapshot(con: duckdb.DuckDBPyConnection, path: Path | str) -> Path:
    """Copy the database `con` is connected to into `path`, atomically replacing any older
    copy. Works on a read-write or a read-only connection. Returns the path."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    for leftover in (tmp, Path(str(tmp) + ".wal")):
        leftover.unlink(missing_ok=True)
    (source,), = con.execute("SELECT current_database()").fetchall()
    alias = "monitor_snapshot_out"
    literal = "'" + str(tmp).replace("'", "''") + "'"
    con.execute(f"ATTACH {literal} AS {alias} (READ_WRITE)")
    try:
        con.execute(f'COPY FROM DATABASE "{source}" TO {alias}')
    finally:
        con.execute(f"DETACH {alias}")
    os.replace(tmp, path)
    return path


def is_stale(database: Path, snapshot: Path) -> bool:
    """The ledger (or its WAL) changed after the snapshot was written."""
    stamp = max(p.stat().st_mtime for p in (database, Path(str(database) + ".wal"))
                if p.exists())
    return stamp > snapshot.stat().st_mtime


def ensure_snapshot(database: Path | str) -> tuple[Path, bool]:
    """The snapshot to read, refreshed from the ledger when the ledger is newer and free.
    Returns (path, fresh): fresh is False when the ledger is held by a writer and an older
    snapshot is used. While a daemon runs it publishes its own: never copy then, since
    reading the ledger for the copy would turn the daemon's next job away."""
    database = Path(database)
    snap = snapshot_path(database)
    if not database.exists():
        raise StoreError(f"{database}: no database yet; run `monitor ingest` first")
    if snap.exists() and not is_stale(database, snap):
        return snap, True
    if snap.exists() and daemon_holder(database):
        return snap, False
    try:
        con = duckdb.connect(str(database), read_only=True)
    except duckdb.IOException as e:
        if snap.exists():
            return snap, False
        raise StoreError(
            f"{database}: the database is in use by another monitor process and no snapshot "
            f"has been published yet ({first_line(e)}); it is published at "
            "the end of every ingest and scan") from None
    try:
        publish_snapshot(con, snap)
    finally:
        con.close()
    return snap, True


def open_readonly(path: Path | str, memory_limit: str | None = None,
                  temp_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    """A connection to a snapshot that can change nothing: read-only, no external access,
    configuration locked; within `memory_limit` (the configured one, else the default) and
    at most `temp_limit` of spill files (DuckDB's own default is 90% of the free disk).
    The limits are set before the lock, so no SQL can raise them."""
    try:
        con = duckdb.connect(str(path), read_only=True,
                             config={"enable_external_access": False,
                                     "autoinstall_known_extensions": False,
                                     "autoload_known_extensions": False,
                                     "memory_limit": memory_limit or DEFAULT_MEMORY_LIMIT,
                                     "max_temp_directory_size":
                                         temp_limit or DEFAULT_TEMP_LIMIT})
    except duckdb.Error as e:
        raise damaged(path, e) or StoreError(
            f"{path}: cannot open the snapshot ({first_line(e)})") from None
    for setting in ("enable_progress_bar = false", "python_enable_replacements = false",
                    "lock_configuration = true"):
        try:
            con.execute(f"SET {setting}")
        except duckdb.InvalidInputException as e:
            # Another connection of this process to the same file locked it already.
            if "locked" not in str(e):
                raise
    return con


def publish_from_file(database: Path | str) -> Path | None:
    """Publish the snapshot of a ledger no one holds (after a verb closed its connection,
    so the copy is newer than the file). None when another process holds it."""
    database = Path(database)
    try:
        con = duckdb.connect(str(database), read_only=True)
    except duckdb.IOException:
        return None
    try:
        return publish_snapshot(con, snapshot_path(database))
    finally:
        con.close()
