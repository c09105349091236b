"""The expected-charges registry: approved payees, contracts and subscriptions.

The finance team keeps it as a CSV (columns below) and loads it with
`monitor authorize load`, or edits it with `monitor authorize add/remove`.
A charge it explains is not unexplained spend; see queries/scan/explain.sql.
"""
from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

import duckdb

from monitor.errors import InputError
from monitor.store import now

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
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM authorizations")
        for entry in entries:
            add(con, entry)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return len(entries)


def add(con: duckdb.DuckDBPyConnection, entry: dict) -> int:
    return con.execute(
        "INSERT INTO authorizations (payee, account, expected_amount, tolerance, cadence, "
        "valid_from, valid_to, approver, reference, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING auth_id",
        [entry[k] for k in COLUMNS] + [now()]).fetchone()[0]


def remove(con: duckdb.DuckDBPyConnection, auth_id: int) -> None:
    if not con.execute("DELETE FROM authorizations WHERE auth_id = ? RETURNING auth_id",
                       [auth_id]).fetchall():
        raise InputError(f"authorization {auth_id}: no such entry; `monitor authorize list` "
                         "shows the ids")


def entries(con: duckdb.DuckDBPyConnection) -> list[dict]:
    cursor = con.execute("SELECT auth_id, " + ", ".join(COLUMNS) +
                         " FROM authorizations ORDER BY auth_id")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]
