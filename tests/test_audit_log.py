"""The audit log: ingest, scan, ack, silence, query and evidence export each append a row
(who, when, what, result hash); the rows are hash-chained, and `monitor audit verify`
reports the first broken link after one row is edited, deleted or reordered."""
from __future__ import annotations

import json

import duckdb
import pytest

from audit_ledger import run, setup
from helpers import write_csv
from monitor.audit import log as audit
from monitor.sql import store


@pytest.fixture
def logged(tmp_path, capsys, monkeypatch):
    """A ledger that went through every audited verb, as auditor 'a.auditor'."""
    monkeypatch.setenv("MONITOR_ACTOR", "a.auditor")
    config = str(setup(tmp_path, n=50))
    write_csv(tmp_path / "in" / "march.csv", [["2024-03-01", "12.50", "Cafe", "card-1"]])
    steps = [("ingest",),
             ("alerts", "ack", "1", "--by", "J. Smith", "--note", "card cancelled"),
             ("alerts", "silence", "--counterparty", "Cafe", "--until", "2099-01-01",
              "--reason", "known"),
             ("scan", "--no-notify"),
             ("query", "SELECT count(*) FROM transactions"),
             ("evidence", "1", "--out", str(tmp_path / "ev"))]
    for step in steps:
        code, _out, err = run(capsys, "--config", config, *step)
        assert code in (0, 1), (step, err)
    return tmp_path, config


def _log(folder) -> list[dict]:
    con = duckdb.connect(str(folder / "ledger.duckdb"), read_only=True)
    try:
        return list(reversed(audit.entries(con, limit=1000)))
    finally:
        con.close()


def test_every_verb_is_logged_with_actor_and_result_hash(logged):
    folder, _config = logged
    entries = _log(folder)
    assert [e["action"] for e in entries] == ["ingest", "ack", "silence", "scan", "query",
                                              "evidence"]
    assert {e["actor"] for e in entries} == {"a.auditor"}
    assert [e["seq"] for e in entries] == list(range(1, 7))
    assert all(len(e["result_hash"]) == 64 for e in entries if e["action"] != "silence")
    assert json.loads(entries[1]["detail"]) == {"alert_id": 1, "by": "J. Smith",
                                                "note": "card cancelled"}
    assert json.loads(entries[4]["detail"])["sql"] == "SELECT count(*) FROM transactions"


def test_intact_log_verifies(logged, capsys):
    _folder, config = logged
    code, out, _err = run(capsys, "--config", config, "audit", "verify")
    assert code == 0 and out.startswith("audit log intact: 6 row(s)")


TAMPERING = [
    ("UPDATE audit_log SET detail = replace(detail, 'J. Smith', 'Nobody') WHERE seq = 2", 2,
     "changed"),
    ("UPDATE audit_log SET actor = 'someone.else' WHERE seq = 5", 5, "changed"),
    ("UPDATE audit_log SET logged_at = logged_at + INTERVAL 1 DAY WHERE seq = 3", 3, "changed"),
    ("UPDATE audit_log SET result_hash = NULL WHERE seq = 1", 1, "changed"),
    ("DELETE FROM audit_log WHERE seq = 4", 5, "deleted"),
    ("UPDATE audit_log SET seq = seq + 10 WHERE seq >= 4", 14, "deleted"),
    ("UPDATE audit_log SET prev_hash = 'x' WHERE seq = 6", 6, "link"),
]


@pytest.mark.parametrize("tamper,broken,word", TAMPERING)
def test_tampering_with_one_row_is_detected(logged, capsys, tamper, broken, word):
    folder, config = logged
    con = duckdb.connect(str(folder / "ledger.duckdb"))
    con.execute(tamper)
    con.close()
    code, out, _err = run(capsys, "--config", config, "audit", "verify", "--format", "json")
    result = json.loads(out)
    assert code == 1 and not result["ok"]
    assert result["first_broken"] == broken and word in result["problem"]
    code, out, _err = run(capsys, "--config", config, "audit", "verify")
    assert code == 1 and f"BROKEN at row {broken}" in out


def test_rewriting_a_row_with_a_fresh_hash_breaks_the_next_link(logged):
    """An editor who recomputes the edited row's own hash still breaks the row after it."""
    folder, _config = logged
    con = duckdb.connect(str(folder / "ledger.duckdb"))
    seq, at, who, action, detail, rh, prev = con.execute(
        "SELECT seq, logged_at, actor, action, detail, result_hash, prev_hash FROM audit_log "
        "WHERE seq = 2").fetchone()
    detail = detail.replace("J. Smith", "Nobody")
    con.execute("UPDATE audit_log SET detail = ?, hash = ? WHERE seq = 2",
                [detail, audit.link_hash(prev, seq, at, who, action, detail, rh)])
    result = audit.verify(con)
    con.close()
    assert result["first_broken"] == 3 and "link" in result["problem"]


def test_reader_entries_wait_in_the_pending_file_and_join_the_chain(tmp_path):
    setup(tmp_path, fill=False)
    database = tmp_path / "ledger.duckdb"
    holder = duckdb.connect(str(database))          # the ledger is held: readers go pending
    audit.record(holder, "ingest", {"paths": []})
    path = audit.pending_path(database)
    path.write_text(json.dumps({"at": "2025-01-02T03:04:05", "actor": "reader",
                                "action": "query", "detail": "{}", "result_hash": "ab"}) + "\n",
                    encoding="utf-8")
    audit.record(holder, "scan", {})
    assert [(e["action"], e["actor"]) for e in reversed(audit.entries(holder))][1:] == \
        [("query", "reader"), ("scan", audit.actor())]
    assert audit.verify(holder)["ok"] and not path.exists()
    holder.close()


def test_actor_defaults_to_the_os_user(monkeypatch):
    monkeypatch.delenv("MONITOR_ACTOR", raising=False)
    assert audit.actor()
    monkeypatch.setenv("MONITOR_ACTOR", "j.smith")
    assert audit.actor() == "j.smith"


def test_daemon_pipeline_runs_are_logged(tmp_path, monkeypatch):
    import os
    from monitor.settings import config as config_mod
    from monitor.daemon import scheduler as schedule
    monkeypatch.setenv("MONITOR_ACTOR", "daemon")
    config = setup(tmp_path, fill=False)
    csv_path = write_csv(tmp_path / "in" / "april.csv", [["2024-04-01", "9.99", "Cafe", "card-1"]])
    os.utime(csv_path, (1_700_000_000, 1_700_000_000))       # settled long ago
    schedule.run_pipeline(config_mod.load(config))
    con = duckdb.connect(str(tmp_path / "ledger.duckdb"), read_only=True)
    entries = list(reversed(audit.entries(con)))
    assert audit.verify(con)["ok"]
    con.close()
    assert [e["action"] for e in entries] == ["ingest", "scan"]
    assert all(json.loads(e["detail"])["daemon"] for e in entries)


def test_threads_with_their_own_connections_keep_one_chain(tmp_path):
    """The daemon's pipeline and outbox jobs run on threads, each on its own connection."""
    import threading
    setup(tmp_path, fill=False)
    database = tmp_path / "ledger.duckdb"
    first = store.connect(database)
    cons = [first] + [first.cursor() for _ in range(3)]

    def work(con, n):
        for i in range(10):
            audit.record(con, "notification", {"thread": n, "i": i})
    threads = [threading.Thread(target=work, args=(c, n)) for n, c in enumerate(cons)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = audit.verify(first)
    for con in cons:
        con.close()
    assert result["ok"] and result["rows"] == 40


def test_audit_log_verb_lists_newest_first(logged, capsys):
    _folder, config = logged
    code, out, _err = run(capsys, "--config", config, "audit", "log", "--format", "json")
    listed = json.loads(out)
    assert code == 0 and [e["seq"] for e in listed] == [6, 5, 4, 3, 2, 1]
    code, out, _err = run(capsys, "--config", config, "audit", "log", "--action", "query",
                          "--format", "json")
    assert [e["action"] for e in json.loads(out)] == ["query"]
