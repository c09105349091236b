"""Schema migrations bring an older ledger up to date without losing or changing a row."""
from __future__ import annotations

from decimal import Decimal

import duckdb
import pytest

from monitor.sql import store


def _ledger_at(path, version: int):
    """A ledger file as a release with migrations up to `version` left it."""
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
                "name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)")
    for number, name, sql in store.migrations():
        if number <= version:
            con.execute(sql.read_text(encoding="utf-8"))
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, now()::TIMESTAMP)",
                        [number, name])
    return con


ROWS = [
    ("T1", "cards", "****1234", "2024-03-01", Decimal("12.50"), "GBP", "Café Ltd", None, "alice",
     None, "lunch", None, 1, 2, "2024-03-02 09:00:00"),
    ("T2", "cards", "****1234", "2024-03-02", Decimal("-3.10"), "GBP", None, "GB00", None,
     "5812", None, "ref", 1, 3, "2024-03-02 09:00:00"),
]


def test_txn_id_compression_migration_keeps_every_row(tmp_path):
    path = tmp_path / "old.duckdb"
    con = _ledger_at(path, 7)
    con.executemany("INSERT INTO transactions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    ROWS)
    con.close()

    con = store.connect(path)           # a writer applies what is pending
    assert store.schema_version(con) >= 8
    held = con.execute("SELECT * FROM transactions ORDER BY txn_id").fetchall()
    assert [(r[0], r[4], r[6], r[13]) for r in held] == [
        ("T1", Decimal("12.50"), "Café Ltd", 2), ("T2", Decimal("-3.10"), None, 3)]
    assert len(held[0]) == 15
    # NOT NULL still holds after the copy.
    with pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO transactions (txn_id) VALUES ('T3')")
    con.execute("INSERT INTO transactions SELECT t.* REPLACE ('T' || i AS txn_id, i AS source_row) "
                "FROM transactions t, range(10, 200010) r(i) WHERE t.txn_id = 'T1'")
    con.execute("CHECKPOINT")
    # New rows' ids are stored with ZSTD (see queries/schema/008_txn_id_zstd.sql).
    used = {c for (c,) in con.execute(
        "SELECT DISTINCT compression FROM pragma_storage_info('transactions') "
        "WHERE column_name = 'txn_id' AND segment_type = 'VARCHAR'").fetchall()}
    assert used == {"ZSTD"}
    con.close()


def test_an_upgrade_that_fails_leaves_the_ledger_at_its_old_version(tmp_path, monkeypatch):
    """Pending migrations apply together: one that fails takes the ones before it back too,
    so the ledger is never between two versions (and the next writer tries them all again)."""
    path = tmp_path / "old.duckdb"
    _ledger_at(path, 7).close()
    broken = tmp_path / "999_broken.sql"
    broken.write_text("CREATE TABLE later_table (x INTEGER); SELECT no_such_column FROM later_table;",
                      encoding="utf-8")
    real = store.migrations()
    monkeypatch.setattr(store, "migrations", lambda: real + [(999, "broken", broken)])
    with pytest.raises(duckdb.Error):
        store.connect(path)
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] == 7
    tables = {t for (t,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert "later_table" not in tables and "payee_keys" not in tables     # 010's table too
    con.close()
    monkeypatch.setattr(store, "migrations", lambda: real)
    con = store.connect(path)
    assert store.schema_version(con) == real[-1][0]
    con.close()
