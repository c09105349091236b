"""Outputs that cannot destroy or mislead (issue 14, items 1 and 16).

`--out` of every writing verb never lands on the database, its snapshot, WAL, lock,
pending audit file, state file or the config, whatever the path spelling or symlink; an
existing file needs --force; files appear whole (temporary file, then rename). Query
exports stream through DuckDB's own writers and are hashed as written; xlsx splits into
sheets instead of dropping rows; CSV escapes terminal control characters reversibly; a
terminal table never cuts the money; a closed pipe exits 0. Real files, real processes.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from audit_ledger import setup
from helpers import assert_one_line_error, monitor, run
from monitor import output
from monitor.sql import snapshot

HOSTILE = ("ESC\x1b[2J\x1b]0;pwned\x07 NUL\x00 CSI\x9b31m DEL\x7f CR\rLF\n"
           "TAB\t back\\slash \\x1b literal")


def _sha(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


@pytest.fixture
def ledger(tmp_path):
    config = setup(tmp_path)
    snapshot.publish_from_file(tmp_path / "ledger.duckdb")
    return tmp_path, config


def _protected_state(folder: Path) -> dict:
    names = ["ledger.duckdb", "ledger.duckdb.wal", "ledger.snapshot.duckdb",
             "ledger.snapshot.duckdb.wal", "ledger.duckdb.lock",
             "ledger.duckdb.audit-pending.jsonl", "config.toml"]
    return {name: _sha(folder / name) for name in names}


# -- item 1: --out never writes over the monitor's own files ---------------------------------

CLOBBERS = [
    ("query", ["query", "SELECT 'x' AS x", "--out", "ledger.duckdb"]),
    ("query-force", ["query", "SELECT 'x' AS x", "--out", "ledger.duckdb", "--force"]),
    ("query-csv-force", ["query", "SELECT 'x' AS x", "--format", "csv", "--out",
                         "ledger.duckdb", "--force"]),
    ("xlsx-config", ["query", "SELECT 'x' AS x", "--format", "xlsx", "--out", "config.toml",
                     "--force"]),
    ("parquet-snapshot", ["query", "SELECT 1 AS x", "--format", "parquet", "--out",
                          "ledger.snapshot.duckdb", "--force"]),
    ("wal-not-yet-there", ["query", "SELECT 1 AS x", "--format", "csv", "--out",
                           "ledger.duckdb.wal"]),
    ("snapshot-wal", ["query", "SELECT 1 AS x", "--out", "ledger.snapshot.duckdb.wal"]),
    ("pending", ["query", "SELECT 1 AS x", "--out", "ledger.duckdb.audit-pending.jsonl"]),
    ("lock", ["query", "SELECT 1 AS x", "--format", "json", "--out", "ledger.duckdb.lock"]),
    ("dotdot", ["query", "SELECT 1 AS x", "--out", "sub/../ledger.duckdb", "--force"]),
    ("case", ["query", "SELECT 1 AS x", "--out", "LEDGER.duckdb", "--force"]),
    ("symlink", ["query", "SELECT 1 AS x", "--format", "csv", "--out", "link.csv", "--force"]),
    ("symlinked-folder", ["query", "SELECT 1 AS x", "--out", "linkdir/ledger.duckdb",
                          "--force"]),
    ("dangling-symlink-to-wal", ["query", "SELECT 1 AS x", "--out", "walink.csv", "--force"]),
    ("hardlink", ["query", "SELECT 1 AS x", "--out", "hard.csv", "--force"]),
    ("report", ["report", "--out", "ledger.duckdb", "--force"]),
    ("report-symlink", ["report", "--out", "link.csv", "--force"]),
    ("report-config", ["report", "--out", "config.toml", "--force"]),
    ("evidence-in-db-folder", ["evidence", "1", "--out", "."]),
    ("evidence-is-db", ["evidence", "1", "--out", "link.csv"]),
    ("lake-over-db-folder", ["export-lake", "--out", ".", "--force"]),
    ("lake-over-parent", ["export-lake", "--out", "..", "--force"]),
]


@pytest.mark.parametrize("name,args", CLOBBERS, ids=[c[0] for c in CLOBBERS])
def test_out_never_writes_over_the_ledger_its_snapshot_or_config(ledger, capsys,
                                                                 monkeypatch, name, args):
    folder, config = ledger
    monkeypatch.chdir(folder)
    (folder / "sub").mkdir()
    (folder / "link.csv").symlink_to(folder / "ledger.duckdb")
    (folder / "walink.csv").symlink_to(folder / "ledger.duckdb.wal")      # does not exist
    (folder / "linkdir").symlink_to(folder)
    os.link(folder / "ledger.duckdb", folder / "hard.csv")
    before = _protected_state(folder)
    code, out, err = run(capsys, "--config", str(config), *args)
    assert code == 2, (code, out, err)
    if name == "evidence-is-db":                   # click itself: --out must be a folder
        assert "is a file" in err, err
    else:
        assert err.startswith("error: ") and err.count("\n") == 1, err
        assert "refusing" in err, err
    assert _protected_state(folder) == before
    assert not list(folder.glob(".*.tmp"))
    # the repro's aftermath: the chain verifies on the real, untouched ledger
    code, out, err = run(capsys, "--config", str(config), "audit", "verify")
    assert code == 0 and "intact" in out, (out, err)
    code, out, err = run(capsys, "--config", str(config), "query",
                         "SELECT count(*) AS n FROM transactions", "--format", "json")
    assert code == 0 and json.loads(out)[0]["n"] > 4000, err


def test_clobber_refused_in_a_real_process(ledger):
    """The issue's first repro as written, run as the real command."""
    folder, config = ledger
    before = _sha(folder / "ledger.duckdb")
    proc = monitor("--config", str(config), "query", "SELECT 'x' AS x", "--out",
                   str(folder / "ledger.duckdb"), cwd=folder)
    line = assert_one_line_error(proc, 2)
    assert "is the database" in line
    assert _sha(folder / "ledger.duckdb") == before
    assert monitor("--config", str(config), "audit", "verify", cwd=folder).returncode == 0


def test_existing_file_needs_force_and_is_replaced_whole(ledger, capsys):
    folder, config = ledger
    target = folder / "out.csv"
    target.write_text("keep me\n", encoding="utf-8")
    sql = "SELECT txn_id FROM transactions ORDER BY txn_id LIMIT 3"
    code, _, err = run(capsys, "--config", str(config), "query", sql, "--format", "csv",
                       "--out", str(target))
    assert code == 2 and "already exists" in err and "--force" in err
    assert target.read_text(encoding="utf-8") == "keep me\n"
    code, _, err = run(capsys, "--config", str(config), "query", sql, "--format", "csv",
                       "--out", str(target), "--force")
    assert code == 0, err
    assert target.read_text(encoding="utf-8").splitlines()[0] == "txn_id"
    assert not list(folder.glob(".out.csv.*"))           # the temporary file was renamed
    # a symlink to an ordinary file: the file it points to is replaced, the link stays
    real = folder / "real.csv"
    real.write_text("old\n", encoding="utf-8")
    (folder / "alias.csv").symlink_to(real)
    code, _, err = run(capsys, "--config", str(config), "query", sql, "--format", "csv",
                       "--out", str(folder / "alias.csv"), "--force")
    assert code == 0, err
    assert (folder / "alias.csv").is_symlink() and real.read_text().startswith("txn_id")
    # report: the same rule
    (folder / "r.html").write_text("old", encoding="utf-8")
    code, _, err = run(capsys, "--config", str(config), "report", "--out", str(folder / "r.html"))
    assert code == 2 and "already exists" in err
    assert (folder / "r.html").read_text() == "old"


def test_failed_write_leaves_no_file(ledger, capsys):
    folder, config = ledger
    target = folder / "bad.csv"
    code, _, err = run(capsys, "--config", str(config), "query",
                       "SELECT CAST(txn_id AS INTEGER) AS n FROM transactions", "--format",
                       "csv", "--out", str(target))
    assert code == 2 and "query failed" in err
    assert not target.exists() and not list(folder.glob(".bad.csv.*"))


# -- item 16: streaming, hashes, xlsx sheets -------------------------------------------------

@pytest.mark.parametrize("fmt", ["csv", "json", "ndjson", "parquet", "xlsx", "table"])
def test_logged_hash_is_the_sha256_of_the_file_written(ledger, capsys, fmt):
    folder, config = ledger
    target = folder / f"out.{fmt}"
    code, _, err = run(capsys, "--config", str(config), "query",
                       "SELECT * FROM transactions ORDER BY txn_id", "--format", fmt,
                       "--out", str(target))
    assert code == 0, err
    assert "wrote 4011 row(s)" in err
    code, out, _ = run(capsys, "--config", str(config), "audit", "log", "--action", "query",
                       "--limit", "1", "--format", "json")
    entry = json.loads(out)[0]
    assert entry["result_hash"] == _sha(target)
    assert json.loads(entry["detail"])["rows"] == 4011


def test_stdout_export_hash_matches_the_bytes(ledger):
    folder, config = ledger
    proc = subprocess.run([sys.executable, "-m", "monitor", "--config", str(config), "query",
                           "SELECT * FROM transactions ORDER BY txn_id", "--format", "csv"],
                          cwd=folder, capture_output=True)
    assert proc.returncode == 0, proc.stderr
    log = monitor("--config", str(config), "audit", "log", "--action", "query", "--limit", "1",
                  "--format", "json", cwd=folder)
    assert json.loads(log.stdout)[0]["result_hash"] == hashlib.sha256(proc.stdout).hexdigest()
    assert proc.stdout.count(b"\n") == 4012


def test_xlsx_sheet_limit_is_excels_and_rows_split_across_sheets(ledger, capsys, monkeypatch):
    from monitor.audit import export
    assert export.SHEET_ROWS == 1_048_575           # 1,048,576 rows a sheet, minus the header
    folder, config = ledger
    monkeypatch.setattr(export, "SHEET_ROWS", 1000)   # the same code path, at test size
    target = folder / "split.xlsx"
    code, _, err = run(capsys, "--config", str(config), "query",
                       "SELECT range AS i, 'row ' || range AS label FROM range(2500)",
                       "--format", "xlsx", "--out", str(target))
    assert code == 0, err
    assert "wrote 2500 row(s) in 3 sheets" in err
    book = zipfile.ZipFile(target)
    sheets = sorted(n for n in book.namelist() if n.startswith("xl/worksheets/sheet"))
    assert len(sheets) == 3
    counts = [book.read(n).decode().count("<row ") for n in sheets]
    assert counts == [1001, 1001, 501]                # each with its header row
    assert sum(counts) - 3 == 2500                    # no row lost


def test_xlsx_refuses_a_cell_excel_would_cut(ledger, capsys):
    folder, config = ledger
    code, _, err = run(capsys, "--config", str(config), "query",
                       "SELECT repeat('x', 40000) AS long_text", "--format", "xlsx", "--out",
                       str(folder / "long.xlsx"))
    assert code == 2 and "32,767" in err and err.count("\n") == 1
    assert not (folder / "long.xlsx").exists()


def test_csv_escapes_control_characters_reversibly(ledger, capsys):
    folder, config = ledger
    sql = "SELECT $p AS payee, 12.50 AS amount"
    for target in (None, folder / "hostile.csv"):
        args = ["--config", str(config), "query", sql, "-p", f"p={HOSTILE}", "--format", "csv"]
        code, out, err = run(capsys, *args, *(["--out", str(target)] if target else []))
        assert code == 0, err
        text = target.read_text(encoding="utf-8") if target else out
        body = text[:-1]                                        # the last line's newline
        assert not [ch for ch in body if ch != "\n" and (ord(ch) < 32 or 127 <= ord(ch) < 160)]
        assert body.count("\n") == 1                            # header and one row, no more
        (row,) = list(csv.DictReader(io.StringIO(text)))
        assert "\\x1b[2J" in row["payee"] and "\\x00" in row["payee"]
        assert output.unescape_text(row["payee"]) == HOSTILE    # round trip, exactly


def test_json_keeps_the_value_exact_and_the_terminal_safe(ledger, capsys):
    _folder, config = ledger
    code, out, err = run(capsys, "--config", str(config), "query", "SELECT $p AS payee",
                         "-p", f"p={HOSTILE}", "--format", "json")
    assert code == 0, err
    assert not [ch for ch in out if ch not in "\n\t" and (ord(ch) < 32 or 127 <= ord(ch) < 160)]
    assert json.loads(out)[0]["payee"] == HOSTILE


def test_escape_text_round_trips_any_text():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=300, deadline=None)
    @given(st.text(alphabet=st.sampled_from("ab\\x0f1\x00\x1b\x9b\x7f\n£")))
    def check(text):
        escaped = output.escape_text(text)
        assert not [ch for ch in escaped if ord(ch) < 32 or 127 <= ord(ch) < 160]
        assert output.unescape_text(escaped) == text
    check()


# -- item 16: terminals and pipes ---------------------------------------------------------------

def _on_terminal(args, cwd, columns=120) -> tuple[int, str]:
    """Run the real command with stdout on a pseudo-terminal `columns` wide."""
    import fcntl
    import pty
    import struct
    import termios
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k != "MONITOR_CONFIG"}
    env.update(COLUMNS=str(columns), TERM="xterm")
    proc = subprocess.Popen([sys.executable, "-m", "monitor", *args], stdout=slave,
                            stderr=subprocess.PIPE, cwd=cwd, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=60)
    os.close(master)
    return proc.returncode, b"".join(chunks).decode("utf-8", "replace")


def test_terminal_table_never_cuts_the_money(ledger):
    folder, config = ledger
    sql = ("SELECT 'new_payee_repeat' AS detector, 'critical' AS severity, account, "
           "counterparty, 'initiator_x' AS initiator, amount * 1000 + 0.25 AS exposure, "
           "currency, posted_at AS since, posted_at AS first_alert_at, posted_at AS last_at, "
           "'firing' AS state, txn_id, txn_id AS evidence, 'ok' AS acked_by "
           "FROM transactions WHERE txn_id IN ('ev1', 'big1') ORDER BY txn_id")
    code, shown = _on_terminal(["--config", str(config), "query", sql], folder)
    assert code == 0, shown
    assert "150,000,000.25" in shown and "1,667,000.25" in shown
    assert "…" not in shown                               # nothing cut, text wraps instead


@pytest.mark.parametrize("args", [
    ["query", "SELECT * FROM transactions", "--format", "csv"],
    ["query", "SELECT * FROM transactions"],
    ["query", "SELECT * FROM transactions", "--format", "ndjson"],
    ["queries"],
    ["audit", "log"],
    ["alerts", "list", "--state", "all"],
    ["status"],
], ids=lambda a: "-".join(a[:2]) + ("-" + a[-1] if "--format" in a else ""))
def test_closed_pipe_exits_0(ledger, args):
    folder, config = ledger
    env = {k: v for k, v in os.environ.items() if k != "MONITOR_CONFIG"}
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(config), *args],
                            cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    proc.stdout.close()              # the reader is gone before the first line (like `head`)
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert "Traceback" not in err and "error" not in err.lower(), err


def test_head_on_a_real_pipe_exits_0(ledger):
    folder, config = ledger
    shell = (f"{sys.executable} -m monitor --config '{config}' query "
             "'SELECT * FROM transactions' --format csv | head -n 2; "
             'echo "status=${PIPESTATUS[0]}"')
    proc = subprocess.run(["bash", "-c", shell], cwd=folder, capture_output=True, text=True,
                          timeout=120)
    assert proc.stdout.splitlines()[-1] == "status=0", proc.stderr
    assert len(proc.stdout.splitlines()) == 3 and "Traceback" not in proc.stderr
