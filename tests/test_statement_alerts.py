"""A bank statement that does not reconcile raises an alert through the detectors."""
import datetime as dt
from pathlib import Path

from monitor.detection import scan as detect
from monitor.ledger import ingest
from monitor.settings import config
from monitor.sql import store

FIXTURES = Path(__file__).parent / "fixtures" / "formats"


def scan_after(tmp_path, names):
    (tmp_path / "config.toml").write_text('[database]\npath = "t.duckdb"\n')
    cfg = config.load(tmp_path / "config.toml")
    con = store.connect(cfg.database)
    for name in names:
        assert ingest.ingest_file(con, FIXTURES / name, None).status == "loaded"
    return [f for f in detect.scan(con, cfg, dt.date.today())
            if f["detector"] == "statement_check_failed"]


def test_a_statement_that_does_not_add_up_alerts(tmp_path):
    # opening 18.150 + credits 8.850 = 27.000, but the bank says the closing is 27.050
    [finding] = scan_after(tmp_path, ["genkgo__camt053.v2.five.decimals.xml"])
    assert finding["account"] == "NL26VAYB8060476890"
    assert finding["severity"] == "warning"
    assert str(finding["exposure"]) == "0.05"
    assert finding["evidence_txn_ids"] == []
    assert finding["sentence"] == (
        "Bank statements for account NL26VAYB8060476890 do not add up since 30 Dec 2014: "
        "0.05 EUR unaccounted for, or a statement is missing (see `monitor status`)")


def test_statements_that_reconcile_stay_quiet(tmp_path):
    assert scan_after(tmp_path, ["genkgo__camt053.v2.multi.statement.xml",
                                 "moj__nwb_example.bai2"]) == []
