"""[schedule] validation, the lock file, catch-up after downtime and the snapshot,
in-process (the daemon itself runs as a real process in test_daemon.py)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from helpers import assert_one_line_error, config_text, monitor, source
from monitor.settings import config as config_mod
from monitor.daemon import scheduler as schedule
from monitor.sql import snapshot, store
from monitor.settings.schedule import Trigger, cron_trigger
from monitor.errors import ConfigError, StoreError


def write(folder: Path, schedule_toml: str) -> Path:
    path = folder / "config.toml"
    path.write_text(config_text([source()]) + "\n" + schedule_toml, encoding="utf-8")
    return path


def load(path: Path, warnings: list | None = None):
    return config_mod.load(path, warn=(warnings.append if warnings is not None
                                       else lambda line: None))


def test_the_documented_keys_work_as_written(tmp_path):
    cfg = load(write(tmp_path, '[schedule]\npipeline = "*/15 * * * *"\n'
                               'pipeline_interval = "2s"\ndigest = "0 8 * * 1-5"\n'))
    s = cfg.schedule
    assert s.pipeline == Trigger(every=timedelta(seconds=2))     # the interval wins
    assert s.digest == Trigger(cron="0 8 * * 1-5")
    assert s.timezone == "UTC"
    trigger = schedule.build_trigger(s.digest, s.timezone)
    monday = datetime(2024, 3, 4, 7, 0, tzinfo=timezone.utc)
    assert trigger.get_next_fire_time(None, monday) == monday.replace(hour=8)
    saturday = datetime(2024, 3, 9, 7, 0, tzinfo=timezone.utc)
    assert trigger.get_next_fire_time(None, saturday).weekday() == 0


@pytest.mark.parametrize("weekdays, expected", [
    ("1-5", {0, 1, 2, 3, 4}), ("0", {6}), ("7", {6}), ("6,0", {5, 6}), ("*/2", {6, 1, 3, 5}),
    ("mon-fri", {0, 1, 2, 3, 4}), ("5-7", {4, 5, 6}), ("*", set(range(7)))])
def test_cron_weekdays_count_from_sunday_as_cron_does(weekdays, expected):
    trigger = cron_trigger(f"0 8 * * {weekdays}", "UTC")
    start = datetime(2024, 3, 4, 0, 0, tzinfo=timezone.utc)        # a Monday
    days, at = set(), start
    for _ in range(14):
        at = trigger.get_next_fire_time(None, at + timedelta(minutes=1))
        days.add(at.weekday())
    assert days == expected


def test_defaults_without_a_schedule_section(tmp_path):
    s = load(write(tmp_path, "")).schedule
    assert s.pipeline.cron == "*/15 * * * *" and s.outbox.every == timedelta(minutes=5)


def test_cron_runs_in_the_configured_timezone(tmp_path):
    s = load(write(tmp_path, '[schedule]\ndigest = "0 8 * * *"\n'
                             'timezone = "America/New_York"\n')).schedule
    trigger = schedule.build_trigger(s.digest, s.timezone)
    fire = trigger.get_next_fire_time(None, datetime(2024, 7, 1, 0, 0, tzinfo=timezone.utc))
    assert fire.astimezone(timezone.utc).hour == 12          # 08:00 EDT


def test_unknown_key_is_warned_with_file_and_key(tmp_path):
    warnings = []
    load(write(tmp_path, '[schedule]\npipline = "*/5 * * * *"\n'), warnings)
    (line,) = warnings
    assert "config.toml:" in line and "schedule.pipline" in line and "pipeline" in line


@pytest.mark.parametrize("toml, words", [
    ('pipeline = "*/15 * * *"', ["schedule.pipeline", "5 fields"]),
    ('digest = "0 25 * * *"', ["schedule.digest", "not a valid cron"]),
    ('pipeline_interval = "2 weeks"', ["schedule.pipeline_interval", "90s"]),
    ('outbox_interval = "0"', ["schedule.outbox_interval", "positive"]),
    ('timezone = "Europe/Lndon"', ["schedule.timezone", "IANA"]),
])
def test_bad_values_stop_with_file_key_and_fix(tmp_path, toml, words):
    path = write(tmp_path, "[schedule]\n" + toml + "\n")
    with pytest.raises(ConfigError) as error:
        load(path)
    message = str(error.value)
    assert f"{path}:" in message
    for word in words:
        assert word in message


def test_bad_cron_on_the_command_line_exits_2(tmp_path):
    write(tmp_path, '[schedule]\npipeline = "every 5 minutes"\n')
    proc = monitor("run", cwd=tmp_path)
    line = assert_one_line_error(proc, 2)
    assert "schedule.pipeline" in line and "config.toml" in line


def test_feed_cadence_names_a_known_source(tmp_path):
    warnings = []
    s = load(write(tmp_path, '[schedule.feeds]\ncards = "26h"\ncrads = "1d"\n'), warnings).schedule
    assert s.feeds == {"cards": timedelta(hours=26)}
    assert any("schedule.feeds.crads" in w for w in warnings)


def test_digest_catches_up_once_after_downtime(tmp_path):
    cfg = load(write(tmp_path, '[schedule]\ndigest = "0 8 * * *"\n'))
    daemon = schedule.Daemon(cfg)
    trigger = schedule.build_trigger(cfg.schedule.digest, "UTC")
    now = datetime.now(timezone.utc)
    two_days_ago = {"last_start": (now - timedelta(days=2)).isoformat()}
    first = daemon._first_run("digest", trigger, two_days_ago)
    assert abs((first - now).total_seconds()) < 5                    # one run, now
    assert daemon._first_run("digest", trigger, {"last_start": now.isoformat()}) is None
    assert daemon._first_run("digest", trigger, {}) is None          # never ran: wait for 08:00
    assert daemon._first_run("pipeline", trigger, {}) is not None    # new files may be waiting


def test_lock_refuses_a_live_holder_and_takes_over_a_dead_one(tmp_path):
    path = tmp_path / "ledger.duckdb.lock"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    path.write_text(json.dumps({"pid": int(dead), "started_at": "2024-01-01T00:00:00"}))
    lock = schedule.Lock(path)
    lock.acquire()                                   # a stale lock: taken over
    try:
        assert json.loads(path.read_text())["pid"] == os.getpid()
        with pytest.raises(StoreError, match=f"pid {os.getpid()}"):
            schedule.Lock(path).acquire()
    finally:
        lock.release()
    again = schedule.Lock(path)
    again.acquire()
    again.release()


def test_snapshot_is_a_whole_readable_copy(tmp_path):
    database = tmp_path / "ledger.duckdb"
    con = store.connect(database)
    con.execute("INSERT INTO schema_migrations VALUES (999, 'marker', now()::TIMESTAMP)")
    target = snapshot.publish_snapshot(con, tmp_path / "ledger.snapshot.duckdb")
    # While the writer still holds the ledger, the copy opens read-only.
    reader = duckdb.connect(str(target), read_only=True)
    try:
        assert reader.execute("SELECT name FROM schema_migrations WHERE version = 999"
                              ).fetchall() == [("marker",)]
    finally:
        reader.close()
        con.close()
    assert not list(tmp_path.glob(".*tmp*"))


def test_a_quiet_feed_raises_a_stale_feed_alert_and_a_new_file_resolves_it(tmp_path):
    from helpers import write_csv
    path = write(tmp_path, '[outbox]\npath = "outbox"\n\n[schedule.feeds]\ncards = "1s"\n')
    cfg = load(path)
    write_csv(tmp_path / "in" / "a.csv", [["2024-01-02", "10.00", "Coffee", "1111"]])
    os.utime(tmp_path / "in" / "a.csv", (0, 0))                 # settled long ago
    first = schedule.run_pipeline(cfg, seen={})
    assert first["files_loaded"] == 1 and first["stale_feeds"] == []
    time.sleep(2.2)
    quiet = schedule.run_pipeline(cfg, seen={})
    assert quiet["stale_feeds"] == ["cards"] and quiet["notifications"] == 1
    write_csv(tmp_path / "in" / "b.csv", [["2024-01-03", "11.00", "Coffee", "1111"]])
    os.utime(tmp_path / "in" / "b.csv", (time.time() - 5, time.time() - 5))
    fresh = schedule.run_pipeline(cfg, seen={})
    assert fresh["files_loaded"] == 1 and fresh["stale_feeds"] == []
    con = duckdb.connect(str(cfg.database), read_only=True)
    try:
        assert con.execute("SELECT detector, account, state FROM alerts").fetchall() == [
            ("feed_arrival", "feed cards", "resolved")]
    finally:
        con.close()
    assert (tmp_path / "ledger.snapshot.duckdb").exists()
