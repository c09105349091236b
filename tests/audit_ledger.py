"""A ledger for the auditors' toolkit tests: real DuckDB files (monitor.sql.store.connect, so the
schema is the real one), filled with plain SQL, and the real CLI run in this process.

populated(): about 4,000 charges whose amounts follow Benford's law, plus planted findings:
an exact duplicate, the same amount on one day to two payees, two near-identical payee
names, a statement sequence with a missing number and uncovered days, one approved
payee, one alert with its evidence ids, and a payee name that is a spreadsheet formula.
"""
from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

from helpers import run, write_config  # noqa: F401 (run: the audit tests import it from here)
from monitor.sql import store

DAY0 = date(2024, 1, 1)
FORMULA_PAYEE = '=HYPERLINK("http://evil.example","click")'
ALERT_TXNS = ["ev1", "ev2", "ev3"]


def setup(folder: Path, fill: bool = True, n: int = 4000) -> Path:
    """config.toml and ledger.duckdb in folder; returns the config path."""
    config = write_config(folder)
    con = store.connect(folder / "ledger.duckdb")
    if fill:
        populate(con, n)
    con.close()
    return config


def insert(con, rows: list[tuple]) -> None:
    """(txn_id, counterparty, account, posted_at, amount) rows, in one Arrow batch."""
    import pyarrow as pa
    names = ["txn_id", "counterparty", "account", "posted_at", "amount"]
    staged = pa.table({name: [str(r[i]) if r[i] is not None else None for r in rows]
                       for i, name in enumerate(names)})
    con.register("staged_rows", staged)
    con.execute("""
        INSERT INTO transactions (txn_id, source, account, posted_at, amount, currency,
            counterparty, file_id, source_row, ingested_at)
        SELECT txn_id, 'cards', account, CAST(posted_at AS DATE),
               CAST(amount AS DECIMAL(18,2)), 'GBP', counterparty, 1,
               row_number() OVER (ORDER BY txn_id), TIMESTAMP '2025-01-01'
        FROM staged_rows""")
    con.unregister("staged_rows")


def insert_amounts(con, amounts: list) -> None:
    insert(con, [(f"t{i:06d}", "Payee", "card-1", DAY0, a) for i, a in enumerate(amounts)])


def populate(con, n: int = 4000, seed: int = 7) -> None:
    rng = random.Random(seed)
    rows = []
    payees = [f"Supplier {i:03d}" for i in range(150)]
    for i in range(n):
        amount = round(10 ** rng.uniform(1, 4), 2)           # Benford over three decades
        rows.append((f"b{i:05d}", rng.choice(payees), f"card-{i % 20}",
                     DAY0 + timedelta(days=rng.randrange(400)), amount))
    planted = [
        ("dup1", "Acme Hosting", "card-1", date(2024, 3, 5), 249.00),
        ("dup2", "Acme Hosting", "card-1", date(2024, 3, 5), 249.00),
        ("nd1", "Northwind Ltd", "card-2", date(2024, 4, 9), 1234.56),
        ("nd2", "Northwind Limited", "card-3", date(2024, 4, 9), 1234.56),
        ("sim1", "Contoso Consulting", "card-4", date(2024, 5, 1), 880.00),
        ("sim2", "Contoso Consultng", "card-5", date(2024, 5, 2), 880.00),
        ("fx1", FORMULA_PAYEE, "card-6", date(2024, 6, 1), 99.00),
        ("ev1", "Devlab Consult", "card-7", date(2024, 7, 1), 1667.00),
        ("ev2", "Devlab Consult", "card-7", date(2024, 7, 5), 1667.00),
        ("ev3", "Devlab Consult", "card-7", date(2024, 7, 9), 1667.00),
        ("big1", "Big Vendor", "card-8", date(2024, 8, 1), 150000.00),
    ]
    insert(con, rows + planted)
    for number, start, end in (("1", "2024-01-01", "2024-01-31"), ("2", "2024-02-01", "2024-02-29"),
                               ("4", "2024-04-01", "2024-04-30"), ("5", "2024-05-20", "2024-05-31")):
        con.execute("""INSERT INTO statements (file_id, position, kind, account, currency, number,
                           from_date, to_date, credits, debits, entries, set_aside, balance_check,
                           check_basis)
                       VALUES (1, 1, 'MT940', 'GB00CURRENT', 'GBP', ?, ?, ?, 0, 0, 0, 0,
                               'unchecked', 'test')""", [number, start, end])
    con.execute("""INSERT INTO authorizations (payee, approver, reference, created_at)
                   VALUES ('Supplier 000', 'Finance lead', 'PO-1', TIMESTAMP '2025-01-01')""")
    con.execute("""INSERT INTO alerts (fingerprint, detector, account, counterparty, sources,
                       currency, state, severity, exposure, charges, since, first_alert_at,
                       last_charge_at, evidence_txn_ids, sentence, opened_at, last_seen_at)
                   VALUES ('fp1', 'new_payee_repeat', 'card-7', 'Devlab Consult', ['cards'],
                       'GBP', 'firing', 'high', 5001.00, 3, DATE '2024-07-01', DATE '2024-07-09',
                       DATE '2024-07-09', ?, '3 charges to Devlab Consult', TIMESTAMP '2025-01-01',
                       TIMESTAMP '2025-01-01')""", [ALERT_TXNS])


def ledger_state(path: Path) -> str:
    """A fingerprint of everything in the ledger but the audit log (which a refused query
    adds to): each table's rows, hashed."""
    import duckdb
    from monitor.audit import log as audit
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = [t for (t,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE table_name <> 'audit_log' "
            "ORDER BY table_name").fetchall()]
        parts = []
        for table in tables:
            cursor = con.execute(f'SELECT * FROM "{table}" ORDER BY ALL')
            parts.append([table, audit.rows_hash([d[0] for d in cursor.description],
                                                 cursor.fetchall())])
        return audit.digest(parts)
    finally:
        con.close()

