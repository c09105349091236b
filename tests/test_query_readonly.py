"""`monitor query`: read-only by construction. Every write attempt in a long list (tricks
included) is refused with exit code 2 and leaves the ledger and the snapshot unchanged;
the database itself refuses them on the reader's connection even without the statement
check; output formats, parameters, stdin; and it works while another process holds the
ledger read-write."""
from __future__ import annotations

import json
import subprocess
import sys

import duckdb
import pyarrow.parquet as pq
import pytest

from audit_ledger import FORMULA_PAYEE, ledger_state, run, setup
from monitor.audit import log as audit
from monitor.sql import snapshot


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ro")
    config = setup(folder)
    snapshot.publish_from_file(folder / "ledger.duckdb")
    return folder, str(config)


WRITES = [
    "INSERT INTO transactions SELECT * FROM transactions",
    "UPDATE transactions SET amount = 0",
    "DELETE FROM transactions",
    "TRUNCATE transactions",
    "DROP TABLE transactions",
    "ALTER TABLE transactions ADD COLUMN x INTEGER",
    "CREATE TABLE stolen AS SELECT * FROM transactions",
    "CREATE TEMP TABLE scratch AS SELECT 1 AS x",
    "CREATE MACRO evil() AS 1",
    "COPY transactions TO '{tmp}/out.csv'",
    "COPY (SELECT * FROM transactions) TO '{tmp}/out.parquet' (FORMAT parquet)",
    "EXPORT DATABASE '{tmp}/export'",
    "ATTACH '{tmp}/other.duckdb' AS other",
    "ATTACH ':memory:' AS scratch",
    "INSTALL httpfs",
    "LOAD httpfs",
    "PRAGMA enable_profiling",
    "SET enable_external_access = true",
    "RESET lock_configuration",
    "SET GLOBAL memory_limit = '1GB'",
    "CHECKPOINT",
    "VACUUM",
    "CALL checkpoint()",
    "USE memory",
    "WITH x AS (SELECT 1) INSERT INTO transactions SELECT * FROM transactions",
    "SELECT 1; DELETE FROM transactions",
    "SELECT count(*) FROM transactions; DROP TABLE files",
    "/* SELECT */ DELETE FROM transactions",
    "-- SELECT * FROM transactions\nDROP TABLE alerts",
    "INSERT INTO transactions SELECT * FROM transactions -- SELECT",
    "select/**/1;/**/update transactions set amount = 1",
    "SELECT * FROM read_csv('{tmp}/secret.csv')",
    "SELECT * FROM glob('{tmp}/*')",
]


@pytest.mark.parametrize("sql", WRITES)
def test_write_attempt_is_refused_and_nothing_changes(ledger, capsys, sql):
    folder, config = ledger
    (folder / "secret.csv").write_text("a\n1\n", encoding="utf-8")
    sql = sql.format(tmp=folder)
    before = (ledger_state(folder / "ledger.duckdb"),
              ledger_state(snapshot.snapshot_path(folder / "ledger.duckdb")))
    files_before = sorted(p.name for p in folder.iterdir())
    code, out, err = run(capsys, "--config", config, "query", "--", sql)   # -- : SQL may start "--"
    assert code == 2, (sql, out, err)
    assert err.startswith("error: ") and "refused" in err, err
    assert err.count("\n") == 1
    after = (ledger_state(folder / "ledger.duckdb"),
             ledger_state(snapshot.snapshot_path(folder / "ledger.duckdb")))
    assert after == before
    assert sorted(p.name for p in folder.iterdir()) == files_before
    con = duckdb.connect(str(folder / "ledger.duckdb"), read_only=True)
    (last,), = con.execute("SELECT detail FROM audit_log ORDER BY seq DESC LIMIT 1").fetchall()
    con.close()
    assert json.loads(last)["sql"] == sql and "refused" in json.loads(last)   # the attempt is logged


DATABASE_REFUSES = [w for w in WRITES if w.split()[0].upper() in (
    "INSERT", "UPDATE", "DELETE", "TRUNCATE", "DROP", "ALTER", "COPY", "EXPORT",
    "INSTALL", "SET", "RESET", "WITH") or w.startswith(("CREATE TABLE", "CREATE MACRO",
                                                        "ATTACH '{tmp}", "SELECT * FROM"))]


@pytest.mark.parametrize("sql", DATABASE_REFUSES)
def test_database_refuses_without_the_statement_check(ledger, sql):
    """Not pattern matching: the reader's connection itself cannot write or touch files."""
    folder, _config = ledger
    con = snapshot.open_readonly(snapshot.snapshot_path(folder / "ledger.duckdb"))
    try:
        with pytest.raises(duckdb.Error):
            con.execute(sql.format(tmp=folder))
    finally:
        con.close()
    assert not (folder / "out.csv").exists() and not (folder / "export").exists()


def test_select_with_parameters_and_formats(ledger, capsys, tmp_path):
    _folder, config = ledger
    sql = "SELECT txn_id, counterparty, amount FROM transactions WHERE account = $acct " \
          "AND amount >= $least ORDER BY txn_id"
    code, out, err = run(capsys, "--config", config, "query", sql, "-p", "acct=card-6",
                         "-p", "least=99", "--format", "json")
    assert code == 0, err
    found = json.loads(out)
    assert {"txn_id": "fx1", "counterparty": FORMULA_PAYEE, "amount": "99.00"} in found
    code, out, _ = run(capsys, "--config", config, "query", sql, "-p", "acct=card-6",
                       "-p", "least=99", "--format", "csv")
    assert f"fx1,\"'{FORMULA_PAYEE.replace(chr(34), chr(34) * 2)}\",99.00" in out
    code, out, _ = run(capsys, "--config", config, "query", sql, "-p", "acct=card-6",
                       "-p", "least=99", "--format", "ndjson")
    assert all(json.loads(line)["txn_id"] for line in out.splitlines())
    target = tmp_path / "out.parquet"
    code, _, err = run(capsys, "--config", config, "query", sql, "-p", "acct=card-6",
                       "-p", "least=99", "--format", "parquet", "--out", str(target))
    assert code == 0, err
    assert "fx1" in pq.read_table(target).column("txn_id").to_pylist()


def test_xlsx_writes_text_never_formulas(ledger, capsys, tmp_path):
    import zipfile
    _folder, config = ledger
    target = tmp_path / "out.xlsx"
    code, _, err = run(capsys, "--config", config, "query",
                       "SELECT counterparty, amount FROM transactions WHERE txn_id = 'fx1'",
                       "--format", "xlsx", "--out", str(target))
    assert code == 0, err
    sheet = zipfile.ZipFile(target).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet                       # no formula cell
    strings = zipfile.ZipFile(target).read("xl/sharedStrings.xml").decode()
    assert "HYPERLINK" in strings                   # kept as text


def test_sql_from_stdin(ledger, monkeypatch, capsys):
    import io
    _folder, config = ledger
    monkeypatch.setattr(sys, "stdin", io.StringIO("SELECT count(*) AS n FROM transactions"))
    code, out, err = run(capsys, "--config", config, "query", "-", "--format", "json")
    assert code == 0, err
    assert json.loads(out)[0]["n"] > 4000


def test_binary_format_needs_out_and_bad_param_is_usage(ledger, capsys):
    _folder, config = ledger
    code, _, err = run(capsys, "--config", config, "query", "SELECT 1", "--format", "parquet")
    assert code == 2 and "--out" in err
    code, _, err = run(capsys, "--config", config, "query", "SELECT 1", "-p", "novalue")
    assert code == 2 and "name=value" in err


def test_query_works_while_another_process_holds_the_ledger(tmp_path, capsys):
    config = setup(tmp_path)
    database = tmp_path / "ledger.duckdb"
    snapshot.publish_from_file(database)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time\n"
         f"con = duckdb.connect({str(database)!r})\n"
         "con.execute(\"INSERT INTO transactions SELECT * REPLACE ('late' AS txn_id) "
         "FROM transactions LIMIT 1\")\ncon.execute('CHECKPOINT')\n"
         "print('holding', flush=True)\nsys.stdin.read()\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        with pytest.raises(duckdb.IOException):
            duckdb.connect(str(database), read_only=True)
        code, out, err = run(capsys, "--config", str(config), "query",
                             "SELECT count(*) AS n FROM transactions", "--format", "json")
        assert code == 0, err
        assert json.loads(out)[0]["n"] == 4011        # the snapshot: the late row is not in it
        assert "busy" in err
        assert audit.pending_path(database).exists()      # logged for the writer to fold in
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    con = duckdb.connect(str(database))
    try:
        audit.record(con, "scan", {"as_of": "2024-12-31"})
        assert [r["action"] for r in audit.entries(con)] == ["scan", "query"]
        assert audit.verify(con)["ok"]
    finally:
        con.close()
    assert not audit.pending_path(database).exists()


def test_while_a_daemon_runs_only_its_snapshot_is_read(tmp_path, capsys):
    """With a live `monitor run` lock, a query neither copies nor opens the ledger (that
    could turn the daemon's next job away): it reads the daemon's snapshot and leaves its
    audit entry in the pending file."""
    import os
    import socket
    from monitor.settings import config as config_mod
    from monitor.daemon import scheduler as schedule
    config = setup(tmp_path)
    database = tmp_path / "ledger.duckdb"
    snapshot.publish_from_file(database)
    con = duckdb.connect(str(database))
    con.execute("DELETE FROM transactions WHERE txn_id = 'big1'")     # the ledger moves on
    con.close()
    lock = schedule.lock_path(config_mod.load(config))
    lock.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
    code, out, err = run(capsys, "--config", str(config), "query",
                         "SELECT count(*) AS n FROM transactions", "--format", "json")
    assert code == 0, err
    assert json.loads(out)[0]["n"] == 4011 and "busy" in err
    assert audit.pending_path(database).exists()
