"""Issue 14, items 8, 14 (config), 15 and 17 (cron, init): config values that should be
refused are refused with the file, line, key and fix (exit code 2); the registry's every
change is in the audit log with who made it; a registry managed by a file cannot be
edited beside it; cron expressions mean what cron means."""
from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from helpers import (assert_one_line_error, config_text, monitor, query, source, write_config,
                     write_csv)
from monitor.settings import config as config_mod
from monitor.daemon import scheduler as schedule
from monitor.ledger import registry
from monitor.settings.schedule import cron_trigger
from monitor.errors import ConfigError


def load(folder: Path, text: str, warnings: list | None = None):
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    return config_mod.load(path, warn=(warnings if warnings is not None else []).append)


def refused(folder: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(folder, text)
    message = str(caught.value)
    assert "\n" not in message
    return message


def line_of(text: str, snippet: str) -> int:
    return [i for i, line in enumerate(text.splitlines(), 1) if snippet in line][0]


BASE = config_text([source()])          # one csv source "cards" mapping amount


# -- item 15: charges required, unknown column fields are errors, the right line -------------

def test_a_misspelt_charges_is_an_error_not_a_silent_positive(tmp_path):
    text = BASE.replace('charges = "positive"', 'chargez = "negative"')
    warnings = []
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text, warnings)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'config.toml'}:{line_of(text, '[[sources]]')}: "
                              "sources.cards.charges is missing")
    assert 'charges = "positive"' in message and 'charges = "negative"' in message
    assert any("did you mean 'charges'" in w for w in warnings)


def test_missing_charges_via_cli_exits_2(tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_text(BASE.replace('charges = "positive"\n', ""), encoding="utf-8")
    line = assert_one_line_error(monitor("--config", str(cfg), "ingest"))
    assert str(cfg) in line and "sources.cards.charges is missing" in line


@pytest.mark.parametrize("keys", [
    {"columns": {"posted_at": "date", "debit": "out", "credit": "in"}},   # columns say it
    {"format": "camt", "columns": {}},                                    # the bank format says it
])
def test_charges_is_not_asked_for_where_it_decides_nothing(tmp_path, keys):
    spec = source(**keys)
    del spec["charges"]
    (s,) = load(tmp_path, config_text([spec])).sources
    assert s.charges == "positive"


@pytest.mark.parametrize("text, snippet", [
    # [sources.columns] under the second [[sources]]
    (config_text([source(), source("bank", columns={"posted_at": "d", "amount": "a",
                                                      "counterparti": "p"})]),
     'counterparti = "p"'),
    # a dotted key under [[sources]]
    ('[[sources]]\nname = "cards"\nformat = "csv"\npath = "in/*"\ncurrency = "GBP"\n'
     'charges = "positive"\ncolumns.posted_at = "date"\ncolumns.amount = "amount"\n'
     'columns.counterparti = "payee"\n', "columns.counterparti"),
    # an inline table
    ('[[sources]]\nname = "cards"\nformat = "csv"\npath = "in/*"\ncurrency = "GBP"\n'
     'charges = "positive"\n\ncolumns = { posted_at = "date", amount = "amount", '
     'counterparti = "payee" }\n', "columns = {"),
])
def test_an_unknown_column_field_is_an_error_on_its_line(tmp_path, text, snippet):
    message = refused(tmp_path, text)
    assert message.startswith(f"{tmp_path / 'config.toml'}:{line_of(text, snippet)}: ")
    assert "columns.counterparti is not a canonical field" in message
    assert "did you mean 'counterparty'" in message


@pytest.mark.parametrize("text, snippet, key", [
    ('database.path = 5\n' + BASE.split("\n", 2)[2], "database.path", "database.path"),
    (BASE + '\n[detectors]\nnew_payee_repeat.min_charge = "x"\n', "new_payee_repeat.min",
     "detectors.new_payee_repeat.min_charge"),
    (BASE + '\n[detectors]\n\nnew_payee_repeat = { enabled = true, min_charge = "x" }\n',
     "new_payee_repeat = {", "detectors.new_payee_repeat.min_charge"),
    (BASE + '\n[ "schedule" ]\n\n"timezone" = "Mars/Olympus"\n', '"timezone"',
     "schedule.timezone"),
    (BASE.replace('[sources.columns]', '[sources . "columns"]').replace(
        'amount = "amount"', 'amount = 3'), 'amount = 3', "sources.cards.columns.amount"),
])
def test_dotted_and_inline_keys_are_named_at_their_own_line(tmp_path, text, snippet, key):
    message = refused(tmp_path, text)
    assert message.startswith(f"{tmp_path / 'config.toml'}:{line_of(text, snippet)}: {key}")


# -- item 14: values that should be refused ---------------------------------------------------

@pytest.mark.parametrize("detectors, key, words", [
    ("[detectors.new_payee_repeat]\nmin_charge = nan", "detectors.new_payee_repeat.min_charge",
     "not a finite number"),
    ("[detectors.new_payee_repeat]\nsimilarity = inf", "detectors.new_payee_repeat.similarity",
     "not a finite number"),
    ("[detectors]\nsimilarity = nan", "detectors.similarity", "not a finite number"),
    ("[detectors.new_payee_repeat]\ntier_high = -inf", "detectors.new_payee_repeat.tier_high",
     "not a finite number"),
    ("[detectors.new_payee_repeat]\nnew_days = 100000000000", "detectors.new_payee_repeat.new_days",
     "too large"),
    ("[detectors.new_payee_repeat]\nmin_charges = 99999999999",
     "detectors.new_payee_repeat.min_charges", "too large"),
    ("[detectors.new_payee_repeat]\ntier_critical = 1e30",
     "detectors.new_payee_repeat.tier_critical", "too large"),
    # lookalike_payee's min_word (issue 17): the words the look-alike test ignores
    ("[detectors.lookalike_payee]\nmin_word = \"x\"", "detectors.lookalike_payee.min_word",
     "not a number"),
    ("[detectors.lookalike_payee]\nmin_word = -5", "detectors.lookalike_payee.min_word",
     "negative"),
    ("[detectors.lookalike_payee]\nmin_word = 1e99", "detectors.lookalike_payee.min_word",
     "not a whole number"),
    ("[detectors.lookalike_payee]\nmin_word = \"4'); DROP TABLE transactions; --\"",
     "detectors.lookalike_payee.min_word", "not a number"),
    # frequency_burst's max_other_accounts (issue 17): a count of accounts
    ("[detectors.frequency_burst]\nmax_other_accounts = \"2; DROP TABLE transactions\"",
     "detectors.frequency_burst.max_other_accounts", "not a number"),
    ("[detectors.frequency_burst]\nmax_other_accounts = -1",
     "detectors.frequency_burst.max_other_accounts", "negative"),
])
def test_detector_parameters_must_be_finite_and_in_range(tmp_path, detectors, key, words):
    text = BASE + "\n" + detectors + "\n"
    message = refused(tmp_path, text)
    assert message.startswith(f"{tmp_path / 'config.toml'}:{len(text.splitlines())}: {key}")
    assert words in message


def test_a_nan_threshold_stops_the_command_not_the_detector(tmp_path):
    cfg = write_config(tmp_path)
    cfg.write_text(cfg.read_text() + "\n[detectors.new_payee_repeat]\nmin_charge = nan\n")
    line = assert_one_line_error(monitor("--config", str(cfg), "scan"))
    assert "detectors.new_payee_repeat.min_charge" in line and "800" in line


@pytest.mark.parametrize("section, key", [
    ('[alerts]\nrepeat_interval = "99999999999999d"', "alerts.repeat_interval"),
    ('[alerts]\nrepeat_interval = "999999999999999999999999s"', "alerts.repeat_interval"),
    ('[schedule]\npipeline_interval = "9999999999d"', "schedule.pipeline_interval"),
    ('[schedule.feeds]\ncards = "99999999999h"', "schedule.feeds.cards"),
    ('[notify]\nretry_for = "99999999999999d"', "notify.retry_for"),
    ("[notify.email]\ntimeout = nan", "notify.email.timeout"),
    ("[notify.email]\ntimeout = inf", "notify.email.timeout"),
])
def test_durations_too_long_or_not_numbers_are_refused(tmp_path, section, key):
    text = BASE + "\n" + section + "\n"
    message = refused(tmp_path, text)
    assert message.startswith(f"{tmp_path / 'config.toml'}:{len(text.splitlines())}: {key}")


def test_a_huge_duration_via_cli_is_one_line_exit_2(tmp_path):
    cfg = write_config(tmp_path)
    cfg.write_text(cfg.read_text() + '\n[alerts]\nrepeat_interval = "99999999999999d"\n')
    line = assert_one_line_error(monitor("--config", str(cfg), "status"))
    assert "alerts.repeat_interval" in line and "too long" in line


@pytest.mark.parametrize("cron, words", [
    ("0 0 31 2 *", "never fires"),
    ("0 0 30 2 *", "never fires"),
    ("0 0 31 4,6,9,11 *", "never fires"),
    ("0 0 32 * *", "day-of-month"),
])
def test_a_cron_that_never_fires_is_refused(tmp_path, cron, words):
    text = BASE + f'\n[schedule]\ndigest = "{cron}"\n'
    message = refused(tmp_path, text)
    assert message.startswith(f"{tmp_path / 'config.toml'}:{len(text.splitlines())}: "
                              "schedule.digest")
    assert words in message and "5 fields" in message


def test_a_cron_that_never_fires_stops_the_daemon_with_exit_2(tmp_path):
    cfg = write_config(tmp_path)
    cfg.write_text(cfg.read_text() + '\n[schedule]\ndigest = "0 0 31 2 *"\n')
    line = assert_one_line_error(monitor("--config", str(cfg), "run"))
    assert "schedule.digest" in line and "never fires" in line


def ledger_with_an_alert(folder: Path, outbox: str) -> Path:
    cfg = write_config(folder)
    cfg.write_text(cfg.read_text() + f'\n[outbox]\npath = "{outbox}"\n')
    rows = [[f"2024-0{m}-1{d}", "1667.00", "Devlab Consult", "1111"]
            for m in range(1, 4) for d in range(1, 4)]
    write_csv(folder / "in" / "a.csv", rows)
    return cfg


@pytest.mark.parametrize("verb", [["scan", "--dry-run"], ["scan"], ["alerts", "send"]])
def test_an_outbox_that_cannot_be_written_is_a_config_error(tmp_path, verb):
    """The outbox under a file: today an internal error (dry run) or a message retried
    for ever; now the config line to fix, at first use."""
    cfg = ledger_with_an_alert(tmp_path, "in/a.csv/outbox")
    assert monitor("--config", str(cfg), "ingest").returncode == 0
    if verb == ["alerts", "send"]:      # the scan queues the messages, then stops
        assert monitor("--config", str(cfg), "scan").returncode == 2
        assert query(cfg, "SELECT count(*) FROM outbox WHERE status = 'pending'")[0][0] > 0
    line = assert_one_line_error(monitor("--config", str(cfg), *verb))
    assert f"{cfg}:{line_of(cfg.read_text(), 'in/a.csv/outbox')}: outbox.path" in line
    assert "cannot be written" in line and "[outbox]" in line


def test_an_outbox_that_is_a_file_is_refused_at_load(tmp_path):
    cfg = ledger_with_an_alert(tmp_path, "in/a.csv")
    line = assert_one_line_error(monitor("--config", str(cfg), "status"))
    at = line_of(cfg.read_text(), 'path = "in/a.csv"')
    assert f"{cfg}:{at}: outbox.path" in line
    assert "not a folder" in line


# -- item 17: cron semantics ------------------------------------------------------------------

def fires(expression: str, zone: str, start: datetime, count: int) -> list[datetime]:
    """The next `count` fire times, each asked for as APScheduler does after a run."""
    trigger = cron_trigger(expression, zone)
    found, previous = [], None
    for _ in range(count):
        previous = trigger.get_next_fire_time(previous, previous or start)
        found.append(previous)
    return found


def test_day_of_month_and_weekday_are_ORed_as_cron_does():
    """`0 8 1 * 1`: the 1st of each month AND every Monday (APScheduler's own
    CronTrigger fired only on Mondays that are the 1st: next in June 2026)."""
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    days = [f.date().isoformat() for f in fires("0 8 1 * 1", "UTC", start, 7)]
    assert days == ["2026-01-01", "2026-01-05", "2026-01-12", "2026-01-19", "2026-01-26",
                    "2026-02-01", "2026-02-02"]
    assert all(f.hour == 8 for f in fires("0 8 1 * 1", "UTC", start, 7))


@pytest.mark.parametrize("expression, days", [
    ("0 8 1 * *", ["2026-01-01", "2026-02-01", "2026-03-01"]),       # a * weekday: the 1st only
    ("0 8 * * 1", ["2026-01-05", "2026-01-12", "2026-01-19"]),       # a * day: Mondays only
    ("0 8 13 * 5", ["2026-01-02", "2026-01-09", "2026-01-13"]),      # Fridays and the 13th
    ("0 8 * * 0", ["2026-01-04", "2026-01-11", "2026-01-18"]),       # 0 is Sunday
    ("0 8 * * 7", ["2026-01-04", "2026-01-11", "2026-01-18"]),       # so is 7
])
def test_other_day_rules(expression, days):
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert [f.date().isoformat() for f in fires(expression, "UTC", start, 3)] == days


def test_a_time_the_clocks_skip_fires_once_just_after_the_change():
    """Europe/London, 29 March 2026: 01:00 GMT becomes 02:00 BST. A 01:30 job runs once
    that day, right after the change (02:00 BST, 01:00 UTC), as Debian cron does; the
    next day at 01:30 BST."""
    london = ZoneInfo("Europe/London")
    start = datetime(2026, 3, 28, 12, 0, tzinfo=london)
    found = [f.astimezone(timezone.utc) for f in fires("30 1 * * *", "Europe/London", start, 3)]
    assert found == [datetime(2026, 3, 29, 1, 0, tzinfo=timezone.utc),
                     datetime(2026, 3, 30, 0, 30, tzinfo=timezone.utc),
                     datetime(2026, 3, 31, 0, 30, tzinfo=timezone.utc)]


def test_a_repeated_hour_fires_once():
    """Europe/London, 25 October 2026: 01:00-02:00 happens twice; a 01:30 job runs once."""
    start = datetime(2026, 10, 24, 12, 0, tzinfo=ZoneInfo("Europe/London"))
    found = [f.astimezone(timezone.utc) for f in fires("30 1 * * *", "Europe/London", start, 3)]
    assert found == [datetime(2026, 10, 25, 0, 30, tzinfo=timezone.utc),
                     datetime(2026, 10, 26, 1, 30, tzinfo=timezone.utc),
                     datetime(2026, 10, 27, 1, 30, tzinfo=timezone.utc)]


def test_a_frequent_job_keeps_its_pace_through_the_repeated_hour():
    """Every 15 minutes through 25 October 2026 00:00-03:00 UTC in London (01:00-02:00
    local happens twice): every quarter hour of real time, none skipped, none doubled."""
    start = datetime(2026, 10, 24, 23, 50, tzinfo=timezone.utc)
    found = [f.astimezone(timezone.utc) for f in fires("*/15 * * * *", "Europe/London",
                                                        start, 13)]
    assert found == [datetime(2026, 10, 25, 0, 0, tzinfo=timezone.utc) + timedelta(minutes=15 * i)
                     for i in range(13)]


def test_hourly_across_the_spring_change_fires_once_per_real_hour():
    start = datetime(2026, 3, 29, 0, 0, tzinfo=timezone.utc)      # 00:00 GMT
    found = fires("0 * * * *", "Europe/London", start - timedelta(minutes=1), 4)
    assert [f.astimezone(timezone.utc).hour for f in found] == [0, 1, 2, 3]
    assert len(set(found)) == 4


def test_the_daemon_schedules_with_the_cron_trigger(tmp_path):
    """The trigger the config gives is the one APScheduler runs: a real scheduler
    computes the job's next run time from it."""
    from apscheduler.schedulers.background import BackgroundScheduler
    cfg = write_config(tmp_path)
    cfg.write_text(cfg.read_text() + '\n[schedule]\ndigest = "0 8 1 * 1"\n'
                   'timezone = "America/New_York"\n')
    s = config_mod.load(cfg).schedule
    trigger = schedule.build_trigger(s.digest, s.timezone)
    scheduler = BackgroundScheduler(timezone=s.timezone)
    scheduler.start(paused=True)
    try:
        job = scheduler.add_job(lambda: None, trigger)
        fire = job.next_run_time
    finally:
        scheduler.shutdown(wait=False)
    local = fire.astimezone(ZoneInfo("America/New_York"))
    assert (local.hour, local.minute) == (8, 0)
    assert local.day == 1 or local.weekday() == 0
    assert fire - datetime.now(timezone.utc) <= timedelta(days=7)   # a Monday comes each week


def test_init_says_the_next_step(tmp_path):
    cfg = tmp_path / "finance" / "config.toml"
    proc = monitor("--config", str(cfg), "init")
    assert proc.returncode == 0, proc.stderr
    note = proc.stderr.splitlines()[-1]
    assert note.startswith(f"next: edit [[sources]] in {cfg}")
    assert f"`monitor --config {cfg} ingest`" in note and "charges" in note
    assert config_mod.load(cfg).sources[0].charges == "positive"   # the starter says it


# -- item 8: the registry's changes are audited; a file-managed registry is not edited beside it

def audit_rows(cfg: Path, action: str) -> list[tuple[str, dict]]:
    return [(who, json.loads(detail)) for who, detail in query(
        cfg, "SELECT actor, detail FROM audit_log WHERE action = ? ORDER BY seq", [action])]


def write_approvals(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(registry.COLUMNS), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


ACME = {"payee": "Acme Hosting", "expected_amount": "49.00", "approver": "J. Smith",
        "reference": "PO-1042"}


def test_add_and_remove_are_audited_with_the_person_and_before_after(tmp_path):
    cfg = write_config(tmp_path)
    env = {"MONITOR_ACTOR": "jane.auditor"}
    proc = monitor("--config", str(cfg), "authorize", "add", "--payee", "Acme Hosting",
                   "--amount", "49.00", "--approver", "J. Smith", "--reference", "PO-1042",
                   env=env)
    assert proc.returncode == 0, proc.stderr
    assert monitor("--config", str(cfg), "authorize", "remove", "1", env=env).returncode == 0
    ((who, added),) = audit_rows(cfg, "authorize add")
    assert who == "jane.auditor" and added["before"] is None and added["auth_id"] == 1
    assert added["after"]["payee"] == "Acme Hosting" and added["after"]["reference"] == "PO-1042"
    assert added["after"]["expected_amount"] == "49.00"
    ((who, removed),) = audit_rows(cfg, "authorize remove")
    assert who == "jane.auditor" and removed["after"] is None
    assert removed["before"]["payee"] == "Acme Hosting"
    assert monitor("--config", str(cfg), "audit", "verify").returncode == 0


def test_load_is_audited_with_what_it_removed_and_added(tmp_path):
    cfg = write_config(tmp_path)
    env = {"MONITOR_ACTOR": "finance.lead"}
    monitor("--config", str(cfg), "authorize", "add", "--payee", "Old Payee", "--approver",
            "me", "--reference", "OLD-1", env=env)
    path = write_approvals(tmp_path / "approvals.csv", [ACME])
    assert monitor("--config", str(cfg), "authorize", "load", str(path), env=env).returncode == 0
    ((who, detail),) = audit_rows(cfg, "authorize load")
    assert who == "finance.lead" and detail["from"] == str(path)
    assert (detail["before"], detail["after"]) == (1, 1)
    assert [e["payee"] for e in detail["removed"]] == ["Old Payee"]
    assert [e["payee"] for e in detail["added"]] == ["Acme Hosting"]


def managed(tmp_path: Path) -> tuple[Path, Path]:
    approvals = write_approvals(tmp_path / "approvals.csv", [ACME])
    cfg = write_config(tmp_path)
    cfg.write_text(cfg.read_text() + '\n[registry]\npath = "approvals.csv"\n')
    assert monitor("--config", str(cfg), "status").returncode == 0      # the ledger exists
    return cfg, approvals


@pytest.mark.parametrize("verb", [
    ["add", "--payee", "Sneaky Ltd", "--approver", "me", "--reference", "X-1"],
    ["remove", "1"],
    ["load", "OTHER"],
])
def test_a_registry_managed_by_a_file_refuses_edits_beside_it(tmp_path, verb):
    """With [registry] path set, the next scan would silently replace an approval given
    with `monitor authorize add`: refused, naming the file; nothing changes."""
    cfg, approvals = managed(tmp_path)
    other = write_approvals(tmp_path / "other.csv", [ACME])
    verb = [str(other) if v == "OTHER" else v for v in verb]
    line = assert_one_line_error(monitor("--config", str(cfg), "authorize", *verb))
    assert f"{cfg}:{line_of(cfg.read_text(), 'approvals.csv')}: registry.path" in line
    assert str(approvals) in line and "manages the registry" in line
    assert query(cfg, "SELECT count(*) FROM authorizations")[0][0] == 0


def test_loading_the_managed_file_itself_is_allowed(tmp_path):
    cfg, approvals = managed(tmp_path)
    assert monitor("--config", str(cfg), "authorize", "load", str(approvals)).returncode == 0
    assert query(cfg, "SELECT payee FROM authorizations") == [("Acme Hosting",)]


def test_the_scan_reload_is_audited_when_the_file_changed(tmp_path):
    cfg, approvals = managed(tmp_path)
    write_csv(tmp_path / "in" / "a.csv", [["2024-01-10", "49.00", "Acme Hosting", "1111"]])
    env = {"MONITOR_ACTOR": "scheduler"}
    assert monitor("--config", str(cfg), "ingest").returncode == 0
    assert monitor("--config", str(cfg), "scan", env=env).returncode in (0, 1)
    assert monitor("--config", str(cfg), "scan", env=env).returncode in (0, 1)   # unchanged
    loads = audit_rows(cfg, "authorize load")
    assert len(loads) == 1
    who, detail = loads[0]
    assert who == "scheduler" and detail["from"] == str(approvals)
    assert [e["payee"] for e in detail["added"]] == ["Acme Hosting"] and detail["removed"] == []
    write_approvals(approvals, [dict(ACME, expected_amount="59.00")])
    assert monitor("--config", str(cfg), "scan", env=env).returncode in (0, 1)
    who, detail = audit_rows(cfg, "authorize load")[-1]
    assert [e["expected_amount"] for e in detail["removed"]] == ["49.00"]
    assert [e["expected_amount"] for e in detail["added"]] == ["59.00"]
    assert query(cfg, "SELECT expected_amount FROM authorizations")[0][0] == 59


def test_one_acting_user_rule_for_the_audit_log_and_silences(tmp_path):
    cfg = write_config(tmp_path)
    proc = monitor("--config", str(cfg), "alerts", "silence", "--account", "1111", "--until",
                   "2030-01-01", "--reason", "test", env={"MONITOR_ACTOR": "j.smith"})
    assert proc.returncode == 0, proc.stderr
    assert query(cfg, "SELECT created_by FROM silences") == [("j.smith",)]
