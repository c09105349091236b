"""One database transaction per file: a process killed part-way through an ingest
leaves nothing of that file, and running the ingest again loads it whole."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from helpers import HEADER, ingest, query, source, write_config, write_csv

ROWS = 1_000_000


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory) -> Path:
    """A ledger large enough that ingesting it takes a while (about 90 MB)."""
    path = tmp_path_factory.mktemp("big") / "big.csv"
    con = duckdb.connect()
    con.execute(f"""COPY (
        SELECT DATE '2020-01-01' + (i % 1500)::INTEGER AS date,
               (i % 99999) / 100 AS amount,
               'MERCHANT ' || (i % 5000) || ' TRADING AS A LONGER NAME' AS payee,
               'card-' || (i % 800) AS card,
               'R' || i AS ref
        FROM range({ROWS}) r(i)) TO '{path}' (HEADER)""")
    con.close()
    return path


def config_for(folder: Path) -> Path:
    columns = {"posted_at": "date", "amount": "amount", "counterparty": "payee",
               "account": "card", "txn_id": "ref"}
    return write_config(folder, [source(columns=columns, path="in/*.csv")])


def start_ingest(cfg: Path, path: Path) -> subprocess.Popen:
    """The ingest as a user starts it, with Ctrl-C's default action: a suite started in the
    background (`make test &`, nohup) ignores SIGINT, the child would inherit that, and the
    SIGINT case would load the whole file (three fresh runs on 2026-12-06 failed so)."""
    return subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(cfg), "ingest",
                             str(path), "--source", "cards"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def wait_for_insert(proc: subprocess.Popen, database: Path, timeout: float = 120) -> None:
    """Return once the ledger file grows: the file's transaction is writing rows."""
    deadline = time.monotonic() + timeout
    base = None
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"ingest ended before it could be stopped: {proc.stderr.read()}"
        size = database.stat().st_size if database.exists() else 0
        wal = Path(f"{database}.wal")
        if base is None and size:
            base = size
        elif base is not None and (size > base + (1 << 20) or
                                   (wal.exists() and wal.stat().st_size > 1 << 20)):
            return
        time.sleep(0.005)
    raise AssertionError("the ingest never started writing")


def assert_nothing_of_the_file(cfg: Path) -> None:
    assert query(cfg, "SELECT count(*) FROM transactions") == [(0,)]
    assert query(cfg, "SELECT count(*) FROM rejected_rows") == [(0,)]
    assert query(cfg, "SELECT count(*) FROM files WHERE status = 'loaded'") == [(0,)]


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_stopped_mid_ingest_leaves_nothing_and_rerun_loads_all(tmp_path, big_csv, how):
    cfg = config_for(tmp_path)
    proc = start_ingest(cfg, big_csv)
    try:
        wait_for_insert(proc, tmp_path / "ledger.duckdb")
        proc.send_signal(how)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0, "the ingest finished before it was stopped"
    if how == signal.SIGINT:
        stderr = proc.stderr.read()
        assert proc.returncode == 130 and "interrupted" in stderr and "Traceback" not in stderr
    assert_nothing_of_the_file(cfg)
    (result,) = ingest(cfg, [big_csv], "cards")
    assert (result.status, result.rows_read, result.loaded) == ("loaded", ROWS, ROWS)
    assert query(cfg, "SELECT count(*), count(DISTINCT txn_id) FROM transactions") == [
        (ROWS, ROWS)]


def test_stopped_while_reading_leaves_nothing(tmp_path, big_csv):
    """Killed before the transaction began (while the file is parsed)."""
    cfg = config_for(tmp_path)
    ingest(cfg, [])                          # the ledger exists, with its schema
    proc = start_ingest(cfg, big_csv)
    time.sleep(0.8)
    proc.kill()
    proc.wait(timeout=60)
    assert_nothing_of_the_file(cfg)
    (result,) = ingest(cfg, [big_csv], "cards")
    assert result.loaded == ROWS


def test_earlier_files_survive_a_kill_during_a_later_one(tmp_path, big_csv):
    cfg = config_for(tmp_path)
    small = write_csv(tmp_path / "in/a-small.csv", [["2024-01-02", "1.00", "x", "1", "S1"]],
                      header=HEADER + ["ref"])
    ingest(cfg, [small], "cards")
    proc = start_ingest(cfg, big_csv)
    try:
        wait_for_insert(proc, tmp_path / "ledger.duckdb")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert query(cfg, "SELECT txn_id FROM transactions") == [("S1",)]
    assert query(cfg, "SELECT count(*) FROM files") == [(1,)]
