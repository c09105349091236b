"""`monitor evidence`: the alert, its rows as spreadsheet-safe CSV, the exact SQL and
parameters, the data version and a manifest of SHA-256s; re-running the recorded query on
the same data reproduces the rows; a changed file or changed data is reported."""
from __future__ import annotations

import csv
import hashlib
import json

import duckdb
import pytest

from audit_ledger import ALERT_TXNS, FORMULA_PAYEE, run, setup
from monitor.audit import log as audit
from monitor.sql import snapshot, store


@pytest.fixture
def exported(tmp_path, capsys):
    config = setup(tmp_path)
    out = tmp_path / "evidence"
    code, _out, err = run(capsys, "--config", str(config), "evidence", "1", "--out", str(out))
    assert code == 0, err
    return tmp_path, config, out


def test_evidence_folder_has_every_part_with_hashes(exported):
    _folder, _config, out = exported
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert set(manifest["files"]) == {"alert.json", "evidence.csv", "query.sql", "params.json"}
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest
    assert json.loads((out / "alert.json").read_text())["alert_id"] == 1
    assert json.loads((out / "params.json").read_text()) == {"alert_id": 1}
    assert (out / "query.sql").read_text() == store.load_query("audit/alert_evidence")
    with open(out / "evidence.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["txn_id"] for r in rows] == ALERT_TXNS
    assert manifest["rows"] == 3 and len(manifest["data_version"]) == 64


def test_recorded_query_reproduces_the_rows(exported):
    folder, _config, out = exported
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    con = snapshot.open_readonly(snapshot.snapshot_path(folder / "ledger.duckdb"))
    columns, rows = audit.execute(con, (out / "query.sql").read_text(),
                                  json.loads((out / "params.json").read_text()))
    con.close()
    assert columns == manifest["columns"]
    assert audit.rows_hash(columns, rows) == manifest["data_version"]


def test_verify_passes_then_finds_a_changed_file_and_changed_data(exported, capsys):
    folder, config, out = exported
    code, report, err = run(capsys, "--config", str(config), "evidence", "--verify", str(out))
    assert code == 0, err
    assert json.loads(report)["rows_reproduced"] and json.loads(report)["files_ok"]

    text = (out / "evidence.csv").read_text(encoding="utf-8").replace("1667.00", "1000.00", 1)
    (out / "evidence.csv").write_text(text, encoding="utf-8")
    code, report, _ = run(capsys, "--config", str(config), "evidence", "--verify", str(out))
    assert code == 1 and json.loads(report)["changed_files"] == ["evidence.csv"]

    con = duckdb.connect(str(folder / "ledger.duckdb"))
    con.execute("UPDATE transactions SET amount = 1.00 WHERE txn_id = 'ev2'")
    con.close()
    code, report, _ = run(capsys, "--config", str(config), "evidence", "--verify", str(out))
    assert code == 1 and not json.loads(report)["rows_reproduced"]


def test_evidence_csv_is_safe_in_a_spreadsheet(tmp_path, capsys):
    config = setup(tmp_path)
    con = duckdb.connect(str(tmp_path / "ledger.duckdb"))
    con.execute("UPDATE alerts SET evidence_txn_ids = ['fx1']")
    con.close()
    out = tmp_path / "ev"
    code, _o, err = run(capsys, "--config", str(config), "evidence", "1", "--out", str(out))
    assert code == 0, err
    with open(out / "evidence.csv", encoding="utf-8", newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert row["counterparty"] == "'" + FORMULA_PAYEE


def test_unknown_alert_and_used_folder_are_usage_errors(exported, capsys):
    _folder, config, out = exported
    code, _o, err = run(capsys, "--config", str(config), "evidence", "99", "--out",
                        str(out.parent / "new"))
    assert code == 2 and "no alert 99" in err
    code, _o, err = run(capsys, "--config", str(config), "evidence", "1", "--out", str(out))
    assert code == 2 and "not an empty folder" in err


def test_export_is_in_the_audit_log(exported):
    folder, _config, out = exported
    con = duckdb.connect(str(folder / "ledger.duckdb"), read_only=True)
    (entry,) = audit.entries(con, action="evidence")
    con.close()
    detail = json.loads(entry["detail"])
    assert detail["alert_id"] == 1 and detail["rows"] == 3
    assert entry["result_hash"] == hashlib.sha256((out / "manifest.json").read_bytes()).hexdigest()
