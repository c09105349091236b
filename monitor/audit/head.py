"""The head of the audit chain, kept outside the database: `<ledger>.audit-head.json` holds the
newest committed (seq, hash) (monitor.audit.chain). Its own module, on nothing but the standard
library, so monitor.sql.store can start the head of a new chain without importing the chain.
"""
from __future__ import annotations

import json
import os
import threading
from datetime import datetime, timezone
from pathlib import Path

GENESIS = ""


def _now() -> str:
    """Naive UTC, to the second (as monitor.sql.store.now)."""
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0).isoformat()


def head_path(database: Path | str) -> Path:
    """`<ledger>.audit-head.json`: the newest committed (seq, hash) of the chain."""
    database = Path(database)
    return database.with_name(database.name + ".audit-head.json")


def read_head(database: Path | str) -> dict | None:
    """The recorded head, None when there is no head file; a head file that is not one
    is reported as such (it never passes for 'no head')."""
    path = head_path(database)
    try:
        head = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        return {"invalid": f"{path}: not a chain head ({e})"}
    if not (isinstance(head, dict) and isinstance(head.get("seq"), int)
            and isinstance(head.get("hash"), str)):
        return {"invalid": f"{path}: not a chain head (no seq and hash)"}
    return head


def write_head(database: Path, seq: int, hash_: str) -> None:
    path = head_path(database)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    body = json.dumps({"seq": seq, "hash": hash_, "ledger": Path(database).name,
                       "written_at": _now()}) + "\n"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(body)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)       # a reader sees the old head or the new one, never half


def start_head(database: Path | str) -> None:
    """The head of a new, empty chain (monitor.sql.store.connect, when it creates audit_log)."""
    write_head(Path(database), 0, GENESIS)
