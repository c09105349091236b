"""`monitor scan` and `monitor backtest`: findings as a table or JSON, exit 1 while any
alert is firing and 0 when none is; the backtest's JSON shape; and the proof that the
set-based replay equals running the scan every day: a day-by-day loop of scan --as-of
sees every alert first on the day the backtest says it first fired."""
from __future__ import annotations

import json

import pytest

from helpers import assert_one_line_error, monitor, run
from ledger_factory import Ledger, day
from monitor.settings import config as config_mod
from monitor.detection import scan as detect
from monitor.sql import store

# other_reasons: what other detectors saw in the same charges (one alert per theft, issue 17)
ALERT_KEYS = ["detector", "severity", "account", "counterparty", "initiator",
              "first_alert_at", "exposure", "evidence_txn_ids", "other_reasons", "escalations"]


def busy_ledger(led: Ledger) -> None:
    """Forty days with alerts that start, escalate, expire and fire again."""
    led.series("Devlab Consult", "1667.00", start=2, every=4, count=4)          # repeat: 6, high 10
    led.series("Hotel Bristol", "640.00", start=5, every=1, count=3, account="card-2")  # 7 to 10
    led.charge(15, "Coinbase UK", "250.00", account="card-3")                   # high risk
    led.charge(25, "Anna Dev", "300.00", account="card-4", payout="NL91ABNA0417164300")  # shared payout
    led.charge(27, "Boris Dev", "300.00", account="card-5", payout="NL91ABNA0417164300")
    for n, amount in enumerate(["500.00", "450.00", "600.00"]):                 # round amounts
        led.charge(1 + 10 * n, "Advisory Svcs", amount, account="card-6")
    led.series("Cafe", "4.20", start=0, every=1, count=41, account="card-7")    # the card feed
    for start, count in ((0, 4), (20, 2)):      # a feed that stops (fires 14), resumes (20), stops
        led.series("Rent", "45.00", start=start, every=1, count=count, source="bank",
                   account="current")                                          # again (fires 32)


@pytest.fixture
def cfg(cfg):
    """The shared config (conftest); the stale-feed limit comes from the config."""
    with open(cfg, "a", encoding="utf-8") as f:
        f.write("\n[detectors.stale_feed]\nmax_quiet_days = 10\n")
    return cfg


@pytest.fixture
def filled(cfg, tmp_path):
    led = Ledger(tmp_path, name="ledger.duckdb")
    busy_ledger(led)
    led.close()
    return str(cfg)



# -- scan ------------------------------------------------------------------------------------

def test_scan_prints_a_table_and_exits_1_while_alerts_fire(filled):
    proc = monitor("--config", filled, "scan", "--as-of", day(10).isoformat())
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()             # piped: a plain table, header first
    header = lines[0].split()
    assert header == ["severity", "detector", "account", "counterparty", "initiator", "exposure",
                      "currency", "since", "first_alert_at", "sentence"]
    body = "\n".join(lines[1:])
    assert "new_payee_repeat" in body and "Devlab Consult" in body and "5,001.00" in body
    assert "3 charges of similar size to 'Devlab Consult' from account card-1" in body


def test_scan_json_and_exit_0_when_nothing_fires(filled, capsys):
    code, out, _ = run(capsys, "--config", filled, "scan", "--as-of", day(0).isoformat(),
                       "--format", "json")
    assert code == 0 and json.loads(out) == {"as_of": day(0).isoformat(), "findings": []}
    code, out, _ = run(capsys, "--config", filled, "scan", "--as-of", day(16).isoformat(),
                       "--format", "json")
    assert code == 1, _
    document = json.loads(out)
    assert document["as_of"] == day(16).isoformat()
    found = {f["detector"]: f for f in document["findings"]}
    assert set(found) == {"new_payee_repeat", "high_risk_payee", "stale_feed"}
    coin = found["high_risk_payee"]
    assert coin == coin | {"severity": "warning", "account": "card-3", "counterparty": "Coinbase UK",
                           "initiator": None, "exposure": "250.00", "currency": "GBP",
                           "first_alert_at": day(15).isoformat()}
    assert coin["sentence"].startswith("1 charge to 'Coinbase UK' from account card-3 since "
                                       "16 Jan 2024, 250.00 GBP")
    assert len(coin["evidence_txn_ids"]) == 1


def test_scan_without_as_of_judges_the_latest_posting(filled, capsys):
    code, out, _ = run(capsys, "--config", filled, "scan", "--format", "json")
    document = json.loads(out)
    assert code == 1 and document["as_of"] == day(40).isoformat()
    assert {f["detector"] for f in document["findings"]} == {
        "new_payee_repeat", "round_amount_run", "shared_payout_account", "high_risk_payee",
        "stale_feed"}


def test_scan_of_an_empty_ledger_exits_0(cfg, capsys):
    code, out, err = run(capsys, "--config", str(cfg), "scan", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["findings"] == []


def test_scan_records_what_it_found(filled, capsys):
    run(capsys, "--config", filled, "scan", "--as-of", day(10).isoformat())
    config = config_mod.load(filled, warn=lambda line: None)
    con = store.connect(config.database)
    try:
        (scan_row,) = con.execute("SELECT as_of, findings FROM scans").fetchall()
        rows = con.execute("SELECT detector, exposure, evidence_txn_ids, sentence FROM findings"
                           ).fetchall()
    finally:
        con.close()
    assert scan_row == (day(10), 2)
    assert sorted((r[0], len(r[2])) for r in rows) == [("duplicate_charges", 3),
                                                       ("new_payee_repeat", 3)]


def test_scan_reloads_the_registry_named_in_the_config(filled, capsys, tmp_path):
    (tmp_path / "approvals.csv").write_text(
        "payee,account,expected_amount,tolerance,cadence,valid_from,valid_to,approver,reference\n"
        "Devlab Consult,card-1,1667.00,,,,,Finance lead,CONTRACT-9\n"
        "hotel*,,,,,,,Travel desk,TRIP-4\n", encoding="utf-8")
    with open(filled, "a", encoding="utf-8") as f:
        f.write('\n[registry]\npath = "approvals.csv"\n')
    code, out, err = run(capsys, "--config", filled, "scan", "--as-of", day(10).isoformat(),
                         "--format", "json")
    assert code == 0, err
    assert json.loads(out)["findings"] == []


# -- backtest --------------------------------------------------------------------------------

def test_backtest_json_shape(filled):
    proc = monitor("--config", filled, "backtest", "--from", day(0).isoformat(),
                   "--to", day(40).isoformat(), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    assert list(document) == ["alerts", "precision"]      # precision: from people's outcomes
    for alert in document["alerts"]:
        assert list(alert) == ALERT_KEYS
        assert isinstance(alert["exposure"], str) and isinstance(alert["evidence_txn_ids"], list)
        assert all(isinstance(t, str) for t in alert["evidence_txn_ids"])
    assert [(a["detector"], a["first_alert_at"]) for a in document["alerts"]] == [
        ("new_payee_repeat", day(6).isoformat()),
        ("duplicate_charges", day(7).isoformat()),
        ("stale_feed", day(14).isoformat()),
        ("high_risk_payee", day(15).isoformat()),
        ("round_amount_run", day(21).isoformat()),
        ("shared_payout_account", day(27).isoformat()),
        ("stale_feed", day(32).isoformat()),            # the same feed, a second episode
    ]
    repeat = document["alerts"][0]
    assert repeat["severity"] == "warning" and repeat["exposure"] == "3334.00"
    assert repeat["escalations"] == [{"severity": "high", "at": day(10).isoformat(),
                                      "exposure": "5001.00"}]


def test_backtest_window_and_bad_dates(filled, capsys):
    code, out, _ = run(capsys, "--config", filled, "backtest", "--from", day(14).isoformat(),
                       "--to", day(23).isoformat(), "--format", "json")
    assert code == 0                            # a backtest reports; it does not page anyone
    assert [a["first_alert_at"] for a in json.loads(out)["alerts"]] == [
        day(14).isoformat(), day(15).isoformat(), day(21).isoformat()]
    line = assert_one_line_error(monitor("--config", filled, "backtest", "--from",
                                         day(9).isoformat(), "--to", day(3).isoformat()))
    assert "is before --from" in line


def test_backtest_equals_a_scan_every_day(filled):
    """Scan as of each day in turn (as a daily job would) and note when each alert was first
    seen: exactly the backtest's alerts, first seen on their first firing date, with the
    same severity, exposure and evidence as the backtest reports for that day."""
    config = config_mod.load(filled, warn=lambda line: None)
    con = store.connect(config.database)
    try:
        replay = detect.backtest(con, config, day(0), day(33))
        seen = {}
        for n in range(34):                 # through the second stale-feed episode (day 32)
            for f in detect.scan(con, config, day(n)):
                key = (f["detector"], f["account"], f["counterparty"], f["initiator"],
                       f["first_alert_at"])
                seen.setdefault(key, (day(n), f))
    finally:
        con.close()
    assert len(replay) == 7
    assert sorted(seen) == sorted((a["detector"], a["account"], a["counterparty"],
                                   a["initiator"], a["first_alert_at"]) for a in replay)
    for alert in replay:
        key = (alert["detector"], alert["account"], alert["counterparty"], alert["initiator"],
               alert["first_alert_at"])
        first_seen, finding = seen[key]
        assert first_seen == alert["first_alert_at"], key
        assert (finding["severity"], finding["exposure"], finding["evidence_txn_ids"]) == (
            alert["severity"], alert["exposure"], alert["evidence_txn_ids"]), key


def test_the_command_line_agrees_day_by_day(filled):
    """The same through the real executable, on the days around one alert."""
    replay = json.loads(monitor("--config", filled, "backtest", "--from", day(0).isoformat(),
                                "--to", day(40).isoformat(), "--format", "json").stdout)
    first = {(a["detector"], a["account"]): a["first_alert_at"] for a in replay["alerts"]}
    for n in (26, 27):
        proc = monitor("--config", filled, "scan", "--as-of", day(n).isoformat(),
                       "--format", "json")
        firing = {(f["detector"], f["account"]) for f in json.loads(proc.stdout)["findings"]}
        assert (("shared_payout_account", "NL91ABNA0417164300") in firing) == (
            day(n).isoformat() >= first[("shared_payout_account", "NL91ABNA0417164300")])
        assert proc.returncode == (1 if firing else 0)
