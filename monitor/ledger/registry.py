"""The expected-charges registry: approved payees, contracts and subscriptions.

The finance team keeps it as a CSV (columns below) and loads it with
`monitor authorize load`, or edits it with `monitor authorize add/remove`; or the
config names the CSV (`[registry] path`) and every scan loads it, so the file is the one
place approvals are made. A charge it explains is not unexplained spend; see
queries/scan/explain.sql.

An approval decides what is never alerted on, so every change is in the hash-chained
audit log (monitor.audit.log): who acted, and the entries before and after.
"""
from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

import duckdb

from monitor.audit import log as audit
from monitor.ledger import payees
from monitor.settings.config import Config, where
from monitor.errors import ConfigError, InputError
from monitor.sql.store import dicts, load_query, now, transaction

COLUMNS = ("payee", "account", "expected_amount", "tolerance", "cadence", "valid_from",
           "valid_to", "approver", "reference")
CADENCES = ("weekly", "monthly", "quarterly", "yearly", "once")


def validate(entry: dict, where: str) -> dict:
    """One registry entry with typed values; InputError names `where` and the fix."""
    clean = {k: (str(entry.get(k) or "").strip() or None) for k in COLUMNS}
    for required in ("payee", "approver", "reference"):
        if not clean[required]:
            raise InputError(f"{where}: {required} is empty; every approval needs a payee, "
                             "an approver and a reference")
    for key in ("expected_amount", "tolerance"):
        if clean[key] is not None:
            try:
                clean[key] = Decimal(clean[key].replace(",", ""))
            except InvalidOperation:
                raise InputError(f"{where}: {key} '{clean[key]}' is not an amount; "
                                 "write it like 1667.00") from None
    clean["tolerance"] = clean["tolerance"] or Decimal(0)
    if clean["cadence"] is not None:
        clean["cadence"] = clean["cadence"].lower()
        if clean["cadence"] not in CADENCES:
            raise InputError(f"{where}: cadence '{clean['cadence']}' is not known; use one of "
                             + ", ".join(CADENCES) + " or leave it empty")
    for key in ("valid_from", "valid_to"):
        if clean[key] is not None:
            try:
                clean[key] = date.fromisoformat(clean[key])
            except ValueError:
                raise InputError(f"{where}: {key} '{clean[key]}' is not a date; "
                                 "write it as YYYY-MM-DD") from None
    return clean


def read_csv(path: Path) -> list[dict]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            missing = [c for c in ("payee", "approver", "reference")
                       if c not in (reader.fieldnames or [])]
            if missing:
                raise InputError(f"{path}: missing column(s) {', '.join(missing)}; the header "
                                 "must name: " + ", ".join(COLUMNS))
            return [validate(row, f"{path}: row {n}") for n, row in enumerate(reader, 2)]
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read the registry ({e})") from None


def replace_all(con: duckdb.DuckDBPyConnection, entries: list[dict]) -> int:
    """Make the registry exactly these entries, in one transaction."""
    with transaction(con):
        con.execute("DELETE FROM authorizations")
        for entry in entries:
            add(con, entry)
    return len(entries)


def add(con: duckdb.DuckDBPyConnection, entry: dict) -> int:
    """Insert one entry; its payee gets its payee key (an approval matches by key)."""
    auth_id = con.execute(
        "INSERT INTO authorizations (payee, account, expected_amount, tolerance, cadence, "
        "valid_from, valid_to, approver, reference, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING auth_id",
        [entry[k] for k in COLUMNS] + [now()]).fetchall()[0][0]
    payees.add_names(con, [entry["payee"]])
    return auth_id


def covers(con: duckdb.DuckDBPyConnection, auth_id: int, limit: int = 1000) -> list[dict]:
    """The payee names as written that entry `auth_id` covers (queries/registry/covers.sql):
    an approval matches by payee key, so people see what it explains before a scan does."""
    if not con.execute("SELECT 1 FROM authorizations WHERE auth_id = ?", [auth_id]).fetchall():
        raise InputError(f"authorization {auth_id}: no such entry; `monitor authorize list` "
                         "shows the ids")
    cursor = con.execute(load_query("registry/covers"), {"auth_id": auth_id, "limit": limit})
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def remove(con: duckdb.DuckDBPyConnection, auth_id: int) -> None:
    if not con.execute("DELETE FROM authorizations WHERE auth_id = ? RETURNING auth_id",
                       [auth_id]).fetchall():
        raise InputError(f"authorization {auth_id}: no such entry; `monitor authorize list` "
                         "shows the ids")


def entries(con: duckdb.DuckDBPyConnection) -> list[dict]:
    cursor = con.execute("SELECT auth_id, " + ", ".join(COLUMNS) +
                         " FROM authorizations ORDER BY auth_id")
    return dicts(cursor)


# -- changes, each recorded in the audit log ------------------------------------------------

def approve(con: duckdb.DuckDBPyConnection, entry: dict, who: str | None = None,
            via: str | None = None) -> int:
    """Add one approval and record it (`monitor authorize add`; the web inbox's Expected
    answer passes the signed-in person as `who`)."""
    auth_id = add(con, entry)
    audit.record(con, "authorize add", {"auth_id": auth_id, "before": None,
                                        "after": _shown(entry)} | ({"via": via} if via else {}),
                 who=who)
    return auth_id


def withdraw(con: duckdb.DuckDBPyConnection, auth_id: int, who: str | None = None,
             via: str | None = None) -> None:
    """Remove one approval and record what it was (`monitor authorize remove`; the web
    registry page passes the signed-in person as `who`)."""
    before = [e for e in entries(con) if e["auth_id"] == auth_id]
    remove(con, auth_id)
    audit.record(con, "authorize remove", {"auth_id": auth_id, "before": _shown(before[0]),
                                           "after": None} | ({"via": via} if via else {}),
                 who=who)


def set_review_date(con: duckdb.DuckDBPyConnection, auth_id: int, valid_to: date,
                    who: str, via: str, answer: str) -> dict:
    """The owner's answer to an expected-spend review (monitor.alerting.reviews): the entry's
    review date moved on (still expected) or to today (no longer expected), recorded with
    the entry before and after. Returns the entry after."""
    before = [e for e in entries(con) if e["auth_id"] == auth_id]
    if not before:
        raise InputError(f"authorization {auth_id}: no such entry (it was removed)")
    con.execute("UPDATE authorizations SET valid_to = ? WHERE auth_id = ?", [valid_to, auth_id])
    after = before[0] | {"valid_to": valid_to}
    audit.record(con, "authorize review", {"auth_id": auth_id, "answer": answer,
                                           "before": _shown(before[0]), "after": _shown(after),
                                           "via": via}, who=who)
    return after


def load(con: duckdb.DuckDBPyConnection, new: list[dict], origin: str, *,
         only_if_changed: bool = False) -> int | None:
    """Make the registry exactly `new` (read from `origin`) and record the change: the
    entries removed and added, and a digest of the whole registry before and after.
    With only_if_changed (the reload every scan does), an identical file changes and
    records nothing; returns None then, else the number of entries."""
    before = entries(con)
    removed, added = _difference(before, new)
    if only_if_changed and not removed and not added:
        return None
    count = replace_all(con, new)
    audit.record(con, "authorize load", {
        "from": origin, "before": len(before), "after": count,
        "removed": [_shown(e) for e in removed], "added": [_shown(e) for e in added],
        "before_digest": audit.digest([_shown(e) for e in before])},
        audit.digest([_shown(e) for e in new]))
    return count


def _shown(entry: dict) -> dict:
    return {k: entry.get(k) for k in COLUMNS}


def _difference(before: list[dict], after: list[dict]) -> tuple[list[dict], list[dict]]:
    """(entries only in before, entries only in after), as multisets of their values:
    the ids and creation times the database gives do not count."""
    def key(entry):
        return tuple(entry.get(k) for k in COLUMNS)     # Decimal 49 == 49.00, as wanted
    left = {}
    for entry in before:
        left.setdefault(key(entry), []).append(entry)
    added = []
    for entry in after:
        same = left.get(key(entry))
        if same:
            same.pop()
        else:
            added.append(entry)
    return [e for group in left.values() for e in group], added


def propose(charges: list[dict]) -> dict:
    """An approval that would explain these charges (an alert's evidence): the median
    amount, a tolerance reaching the farthest charge, and the longest cadence their
    shortest gap allows (None: charges closer than a week, or only one). The person
    confirms or edits it."""
    amounts = sorted(Decimal(c["amount"]) for c in charges)
    if not amounts:
        return {"expected_amount": None, "tolerance": Decimal(0), "cadence": None}
    middle = amounts[len(amounts) // 2] if len(amounts) % 2 else \
        (amounts[len(amounts) // 2 - 1] + amounts[len(amounts) // 2]) / 2
    middle = middle.quantize(Decimal("0.01"))
    tolerance = max(abs(a - middle) for a in amounts).quantize(Decimal("0.01"))
    days = sorted(c["posted_at"] for c in charges)       # two on one day: gap 0
    gap = min(((b - a).days for a, b in zip(days, days[1:])), default=None)
    # the longest period that still puts every two of these charges in different periods
    # (a cadence explains one charge per calendar week, month, quarter or year)
    cadence = next((name for name, apart in (("yearly", 366), ("quarterly", 92),
                                             ("monthly", 31), ("weekly", 7))
                    if gap is not None and gap >= apart), None)
    return {"expected_amount": middle, "tolerance": tolerance, "cadence": cadence}


# -- a registry managed by a file -----------------------------------------------------------

def managed_by(config: Config) -> Path | None:
    """The CSV that `[registry] path` names: every scan makes the registry that file."""
    name = config.sections.get("registry", {}).get("path")
    return config.path.resolve().parent / name if name else None


FIXES = {"add": "add the approval as a row of that file instead",
         "remove": "delete the entry's row from that file instead",
         "load": "copy it over that file instead, or load that file itself"}


def refuse_if_managed(config: Config, verb: str, path: Path | None = None) -> None:
    """A change made beside the file would be silently undone by the next scan's reload:
    refuse it, naming the file (a load of that very file is fine)."""
    managed = managed_by(config)
    if managed is None or (path is not None and Path(path).resolve() == managed.resolve()):
        return
    raise ConfigError(f"{where(config.path, 'registry.path')}: registry.path = '{managed}' "
                      f"manages the registry (every scan reloads it), so `monitor authorize "
                      f"{verb}` would be undone; {FIXES[verb]}")
