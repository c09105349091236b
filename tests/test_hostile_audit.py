"""Issue 14, items 9-11, tried as a hostile user on real ledgers and real processes:

- the audit trail has no holes: a torn line in the pending file is skipped with a warning
  (and kept as an entry) while nothing after it is lost; a crashed fold's file is folded;
  every query attempt is logged (refused, failed, timed out, interrupted); deleting the
  newest rows, every row or the table is caught through the head file beside the ledger;
- a tampered evidence pack (evidence.csv edited and its new hash put in manifest.json)
  does not verify: the manifest is checked against the audit log, the CSV against the rows;
- auditor queries run within the configured memory, temp-space and time limits, the
  connection stays locked read-only, Ctrl-C exits 130 and the attempt is logged.
"""
from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import time

import duckdb
import pytest

from audit_ledger import run, setup
from helpers import assert_one_line_error, monitor
from monitor.audit import log as audit, chain as audit_chain
from monitor.sql import snapshot, store

FOREVER = "SELECT count(*) FROM range(100000000000000) a"


def _config(folder, database_extra: str = "", audit_section: str = "", n: int = 50):
    config = setup(folder, n=n)
    text = config.read_text(encoding="utf-8")
    if database_extra:
        text = text.replace("[database]\n", f"[database]\n{database_extra}\n", 1)
    if audit_section:
        text += "\n[audit]\n" + audit_section + "\n"
    config.write_text(text, encoding="utf-8")
    return config


def _log(folder) -> list[dict]:
    con = duckdb.connect(str(folder / "ledger.duckdb"), read_only=True)
    try:
        return list(reversed(audit.entries(con, limit=1000)))
    finally:
        con.close()


def _pending_entry(action: str, actor: str = "reader") -> str:
    return json.dumps({"at": "2025-01-02T03:04:05", "actor": actor, "action": action,
                       "detail": "{}", "result_hash": None})


def _ack(config):
    return monitor("--config", str(config), "alerts", "ack", "1", "--by", "J. Smith",
                   "--note", "checked")


# -- item 9: the pending file ----------------------------------------------------------------

def test_torn_pending_line_is_skipped_with_a_warning_and_nothing_after_it_is_lost(tmp_path):
    config = _config(tmp_path)
    database = tmp_path / "ledger.duckdb"
    pending = audit.pending_path(database)
    torn = _pending_entry("query", "second")[:40]          # its writer died mid-line
    pending.write_text(_pending_entry("query", "first") + "\n" + torn, encoding="utf-8")
    # the next reader appends through the real writer: it starts a fresh line
    audit_chain._write_pending(database, json.loads(_pending_entry("query", "third")))
    # a writer of the old kind appended right after the torn text, on the same line
    with open(pending, "a", encoding="utf-8") as f:
        f.write(torn + _pending_entry("query", "fourth") + "\n")
    proc = _ack(config)
    assert proc.returncode == 0, proc.stderr
    assert "line 2 is torn" in proc.stderr and "skipped" in proc.stderr
    entries = _log(tmp_path)
    assert [(e["action"], e["actor"]) for e in entries] == [
        ("query", "first"), ("audit-pending-torn", entries[1]["actor"]), ("query", "third"),
        ("audit-pending-torn", entries[3]["actor"]), ("query", "fourth"),
        ("ack", entries[5]["actor"])]
    assert json.loads(entries[1]["detail"])["text"] == torn
    assert not list(tmp_path.glob("ledger.duckdb.audit-pending.jsonl*"))     # nothing orphaned
    verified = monitor("--config", str(config), "audit", "verify")
    assert verified.returncode == 0 and "intact: 6 row(s)" in verified.stdout


def test_a_fold_that_crashed_before_its_commit_is_folded_by_the_next_writer(tmp_path):
    config = _config(tmp_path)
    database = tmp_path / "ledger.duckdb"
    crashed = audit.pending_path(database).with_name(
        audit.pending_path(database).name + ".4242")           # taken, never committed
    crashed.write_text(_pending_entry("evidence", "crashed") + "\n", encoding="utf-8")
    proc = _ack(config)
    assert proc.returncode == 0, proc.stderr
    assert [e["actor"] for e in _log(tmp_path)][0] == "crashed"
    assert not crashed.exists()


# -- item 9: deletions found through the head file -----------------------------------------

@pytest.fixture
def chained(tmp_path):
    config = _config(tmp_path)
    for sql in ("SELECT 1 AS one", "SELECT 2 AS two", "SELECT 3 AS three"):
        proc = monitor("--config", str(config), "query", sql)
        assert proc.returncode == 0, proc.stderr
    return tmp_path, config


def test_head_file_follows_every_append_atomically(chained):
    folder, _config = chained
    head = json.loads(audit.head_path(folder / "ledger.duckdb").read_text(encoding="utf-8"))
    last = _log(folder)[-1]
    assert (head["seq"], head["hash"]) == (last["seq"], last["hash"]) == (3, last["hash"])
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("tamper,words", [
    ("DELETE FROM audit_log", "rows 1-3 were deleted"),
    ("DROP TABLE audit_log", "dropped"),
    ("DELETE FROM audit_log WHERE seq = 3", "rows 3-3 were deleted"),
])
def test_deleting_the_newest_rows_or_the_table_does_not_verify(chained, tamper, words):
    folder, config = chained
    con = duckdb.connect(str(folder / "ledger.duckdb"))
    con.execute(tamper)
    con.close()
    proc = monitor("--config", str(config), "audit", "verify")
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    (line,) = proc.stdout.splitlines()
    assert line.startswith("audit log BROKEN at row") and words in line, line
    as_json = json.loads(monitor("--config", str(config), "audit", "verify", "--format",
                                 "json").stdout)
    assert not as_json["ok"]


def test_rewriting_the_newest_row_with_a_fresh_hash_does_not_verify(chained):
    folder, config = chained
    con = duckdb.connect(str(folder / "ledger.duckdb"))
    seq, at, who, action, detail, rh, prev = con.execute(
        "SELECT seq, logged_at, actor, action, detail, result_hash, prev_hash FROM audit_log "
        "WHERE seq = 3").fetchone()
    detail = detail.replace("three", "nothing")
    con.execute("UPDATE audit_log SET detail = ?, hash = ? WHERE seq = 3",
                [detail, audit.link_hash(prev, seq, at, who, action, detail, rh)])
    con.close()
    proc = monitor("--config", str(config), "audit", "verify")
    assert proc.returncode == 1 and "rewritten" in proc.stdout


def test_a_missing_head_file_is_said(chained):
    folder, config = chained
    audit.head_path(folder / "ledger.duckdb").unlink()
    proc = monitor("--config", str(config), "audit", "verify")
    assert proc.returncode == 0 and "no chain head file" in proc.stderr


def test_a_new_ledger_starts_with_a_head(tmp_path):
    store.connect(tmp_path / "new.duckdb").close()
    head = audit.read_head(tmp_path / "new.duckdb")
    assert (head["seq"], head["hash"]) == (0, "")


# -- item 9 and 11: every query attempt is logged --------------------------------------------

def test_a_query_over_the_memory_limit_fails_in_one_line_and_is_logged(tmp_path):
    config = _config(tmp_path, database_extra='memory_limit = "100MB"')
    sql = "SELECT length(list(range)) AS n FROM range(300000000)"
    proc = monitor("--config", str(config), "query", sql)
    line = assert_one_line_error(proc, 3)
    assert "memory_limit" in line and "temp_limit" in line
    (entry,) = _log(tmp_path)
    detail = json.loads(entry["detail"])
    assert detail["sql"] == sql and "Out of Memory" in detail["failed"]


def test_a_query_past_the_timeout_is_stopped_named_and_logged(tmp_path):
    config = _config(tmp_path, audit_section='query_timeout = "2s"')
    started = time.monotonic()
    proc = monitor("--config", str(config), "query", FOREVER, timeout=60)
    assert time.monotonic() - started < 30
    line = assert_one_line_error(proc, 3)
    assert "query_timeout" in line and "2s" in line
    (entry,) = _log(tmp_path)
    assert "query_timeout" in json.loads(entry["detail"])["failed"]


def test_ctrl_c_on_a_long_query_exits_130_and_is_logged(tmp_path):
    config = _config(tmp_path)
    snapshot.publish_from_file(tmp_path / "ledger.duckdb")
    child = subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(config),
                              "query", FOREVER], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(4)                      # started, inside DuckDB
        assert child.poll() is None
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 130, (out, err)
    assert "interrupted" in err and "Traceback" not in err
    (entry,) = _log(tmp_path)
    detail = json.loads(entry["detail"])
    assert detail["sql"] == FOREVER and detail["interrupted"] is True


# -- item 11: limits, settings, read-only ------------------------------------------------------

def test_auditor_connection_has_the_configured_limits_and_cannot_raise_them(tmp_path, capsys):
    config = _config(tmp_path, database_extra='memory_limit = "256MB"',
                     audit_section='temp_limit = "1GB"')
    code, out, err = run(capsys, "--config", str(config), "query",
                         "SELECT current_setting('memory_limit') AS m, "
                         "current_setting('max_temp_directory_size') AS t", "--format", "json")
    assert code == 0, err
    (row,) = json.loads(out)
    assert row["m"] == "244.1 MiB" and row["t"] == "953.6 MiB"
    for sql in ("SET memory_limit = '100GB'", "SET max_temp_directory_size = '1TB'",
                "RESET memory_limit", "SET temp_directory = '/tmp'"):
        code, _out, err = run(capsys, "--config", str(config), "query", sql)
        assert code == 2 and "refused" in err, (sql, err)


def test_auditor_sql_never_runs_on_a_writable_connection(tmp_path):
    setup(tmp_path, fill=False)
    con = store.connect(tmp_path / "ledger.duckdb")
    try:
        with pytest.raises(Exception) as caught:
            audit.execute(con, "SELECT 1", {})
    finally:
        con.close()
    assert "not locked read-only" in str(caught.value)


@pytest.mark.parametrize("section,words", [
    ('query_timeout = "soon"', "audit.query_timeout"),
    ('query_timeout = true', "audit.query_timeout"),
    ('temp_limit = "lots"', "audit.temp_limit"),
    ('temp_limit = 5', "audit.temp_limit"),
])
def test_bad_audit_settings_are_refused_with_the_key(tmp_path, section, words):
    config = _config(tmp_path, audit_section=section)
    line = assert_one_line_error(monitor("--config", str(config), "query", "SELECT 1"))
    assert words in line and "config.toml:" in line


def test_unknown_audit_key_is_warned(tmp_path):
    config = _config(tmp_path, audit_section='querytimeout = "1m"')
    proc = monitor("--config", str(config), "query", "SELECT 1")
    assert proc.returncode == 0
    assert "unknown key 'audit.querytimeout'" in proc.stderr and "query_timeout" in proc.stderr


def test_no_timeout_when_turned_off(tmp_path):
    from monitor.settings import config as config_mod
    cfg = config_mod.load(_config(tmp_path, audit_section='query_timeout = "0"'),
                          warn=lambda line: None)
    assert cfg.audit.query_timeout is None and audit.query_timeout(cfg) is None


# -- item 10: evidence packs -----------------------------------------------------------------

@pytest.fixture
def pack(tmp_path):
    config = setup(tmp_path)
    out = tmp_path / "evidence"
    proc = monitor("--config", str(config), "evidence", "1", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return tmp_path, config, out


def _rehash(out) -> None:
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    for name in manifest["files"]:
        manifest["files"][name] = hashlib.sha256((out / name).read_bytes()).hexdigest()
    (out / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def test_an_intact_pack_verifies_against_the_audit_log(pack):
    _folder, config, out = pack
    proc = monitor("--config", str(config), "evidence", "--verify", str(out))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["ok"] and result["manifest_logged"] and result["csv_matches_rows"]
    assert result["logged_at"].startswith("audit log row")


def test_edited_csv_with_its_new_hash_in_the_manifest_does_not_verify(pack):
    folder, config, out = pack
    text = (out / "evidence.csv").read_text(encoding="utf-8").replace("1667.00", "16.67", 1)
    (out / "evidence.csv").write_text(text, encoding="utf-8")
    _rehash(out)
    proc = monitor("--config", str(config), "evidence", "--verify", str(out))
    assert proc.returncode == 1, proc.stdout
    result = json.loads(proc.stdout)
    assert result["files_ok"]                   # the manifest agrees with the edited files
    assert not result["manifest_logged"] and not result["csv_matches_rows"]
    assert "not the manifest the audit log recorded" in proc.stderr
    assert "evidence.csv is not the rows" in proc.stderr
    entries = [e for e in _log(folder) if e["action"] == "evidence-verify"]
    assert entries and json.loads(entries[-1]["detail"])["ok"] is False


def test_edited_query_data_version_and_csv_together_do_not_verify(pack):
    """The forger rewrites the SQL to produce the forged rows, the data version to match
    and every file hash: only the audit log's record of the manifest catches it."""
    _folder, config, out = pack
    sql = (out / "query.sql").read_text(encoding="utf-8")
    forged_sql = sql.replace("SELECT t.posted_at, t.amount,", "SELECT t.posted_at, "
                             "CAST(t.amount / 100 AS DECIMAL(18,2)) AS amount,")
    assert forged_sql != sql
    (out / "query.sql").write_text(forged_sql, encoding="utf-8")
    con = snapshot.open_readonly(snapshot.snapshot_path(out.parent / "ledger.duckdb"))
    columns, rows = audit.execute(con, forged_sql, {"alert_id": 1})
    con.close()
    (out / "evidence.csv").write_text(audit.evidence_csv(columns, rows), encoding="utf-8")
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    manifest["data_version"] = audit.rows_hash(columns, rows)
    (out / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    _rehash(out)
    proc = monitor("--config", str(config), "evidence", "--verify", str(out))
    result = json.loads(proc.stdout)
    assert proc.returncode == 1 and not result["manifest_logged"]
    assert result["files_ok"] and result["rows_reproduced"] and result["csv_matches_rows"]


def test_an_entry_inside_a_callers_transaction_never_puts_the_head_ahead(tmp_path):
    """A verb may record inside its own transaction (which may still roll back): then the
    head waits for the next entry outside one, and pending entries wait too."""
    setup(tmp_path, fill=False)
    database = tmp_path / "ledger.duckdb"
    audit.pending_path(database).write_text(_pending_entry("query") + "\n", encoding="utf-8")
    con = store.connect(database)
    con.execute("BEGIN TRANSACTION")
    audit.record(con, "reload", {"file": 1})
    con.execute("ROLLBACK")
    assert audit.verify(con, audit.read_head(database))["ok"]
    assert audit.pending_path(database).exists()
    con.execute("BEGIN TRANSACTION")
    audit.record(con, "reload", {"file": 2})
    con.execute("COMMIT")
    audit.record(con, "scan", {})
    result = audit.verify(con, audit.read_head(database))
    con.close()
    assert result["ok"] and result["rows"] == 3 and result["head_file"] == "matches"
    assert audit.read_head(database)["seq"] == 3
