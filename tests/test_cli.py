"""The `monitor` command line, run as a real child process: help, output shapes for
pipes, exit codes, and errors as one plain line."""
from __future__ import annotations

import csv
import io
import json
import re

import duckdb
import pytest

from helpers import assert_one_line_error, monitor, source, write_config, write_csv
from monitor.cli.main import VERBS

ROWS = [["2024-01-02", "12.50", "Coffee", "1111"], ["2024-01-03", "=HYPERLINK(1)", "Bad", "1"],
        ["2024-01-04", "1,667.00", "Freelance", "2222"]]
DECORATION = re.compile(r"\x1b\[|[\u2500-\u257f\u2580-\u259f]")    # ANSI codes, box drawing
INGEST_KEYS = ["path", "source", "rows_read", "loaded", "duplicates", "rejected", "status"]


@pytest.fixture
def cfg(cfg, tmp_path):
    """The shared config (conftest), with a ledger file for its source."""
    write_csv(tmp_path / "in/a.csv", ROWS)
    return cfg


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_every_verb_has_help_with_an_example(verb):
    proc = monitor(verb, "--help")
    assert proc.returncode == 0, proc.stderr
    assert "Example" in proc.stdout and "Usage: monitor " + verb in proc.stdout


def test_top_level_help_and_version():
    proc = monitor("--help")
    assert proc.returncode == 0 and "Example" in proc.stdout
    assert all(verb in proc.stdout for verb in VERBS)
    assert monitor("--version").returncode == 0


def test_ingest_json_shape(cfg, tmp_path):
    proc = monitor("--config", str(cfg), "ingest", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)                  # stdout is the JSON and nothing else
    assert list(document) == ["files"]
    (entry,) = document["files"]
    assert list(entry)[:len(INGEST_KEYS)] == INGEST_KEYS
    assert entry == entry | {"path": str(tmp_path / "in/a.csv"), "source": "cards",
                             "rows_read": 3, "loaded": 2, "duplicates": 0, "rejected": 1,
                             "status": "loaded"}
    assert all(isinstance(entry[k], int) for k in INGEST_KEYS[2:6])
    # Again: unchanged, still the same shape.
    again = json.loads(monitor("--config", str(cfg), "ingest", "--format", "json").stdout)
    assert again["files"][0]["status"] == "unchanged" and again["files"][0]["loaded"] == 0


def test_ingest_json_with_no_files(tmp_path):
    cfg = write_config(tmp_path)
    proc = monitor("--config", str(cfg), "ingest", "--format", "json")
    assert proc.returncode == 0
    assert json.loads(proc.stdout) == {"files": []}
    assert "no files matched" in proc.stderr


@pytest.mark.parametrize("verb", [["ingest"], ["status"], ["rejects"]])
def test_piped_table_output_is_plain(cfg, verb):
    monitor("--config", str(cfg), "ingest")
    proc = monitor("--config", str(cfg), *verb)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip(), "a table was expected"
    assert not DECORATION.search(proc.stdout), proc.stdout
    assert "Traceback" not in proc.stderr and not DECORATION.search(proc.stderr)


def test_ingest_table_has_one_header_and_one_line_per_file(cfg):
    proc = monitor("--config", str(cfg), "ingest")
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["path", "source", "format", "rows_read", "loaded", "duplicates",
                                "rejected", "status"]
    assert len(lines) == 2 and lines[1].split()[-1] == "loaded"
    assert "set aside" in proc.stderr                   # notes go to stderr, not stdout


def test_rejects_csv_defuses_formulas(cfg):
    monitor("--config", str(cfg), "ingest")
    proc = monitor("--config", str(cfg), "rejects", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert len(rows) == 1 and rows[0]["source_row"] == "3"
    assert not any(value.startswith("=") for value in rows[0].values())
    assert "=HYPERLINK" in rows[0]["raw"] and "not a number" in rows[0]["reason"]


def test_rejects_json_and_file_filter(cfg):
    monitor("--config", str(cfg), "ingest")
    rows = json.loads(monitor("--config", str(cfg), "rejects", "--format", "json").stdout)
    assert [r["source_row"] for r in rows] == [3]
    none = json.loads(monitor("--config", str(cfg), "rejects", "--file", "99",
                              "--format", "json").stdout)
    assert none == []


def test_status_json(cfg):
    monitor("--config", str(cfg), "ingest")
    proc = monitor("--config", str(cfg), "status", "--format", "json")
    document = json.loads(proc.stdout)
    assert document["failed_files"] == []
    assert any(row.get("source") == "cards" for row in document["sources"]), document


def test_init_writes_a_working_config_and_refuses_to_overwrite(tmp_path):
    cfg = tmp_path / "finance/config.toml"
    proc = monitor("--config", str(cfg), "init")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""                            # the note goes to stderr
    assert cfg.exists() and (tmp_path / "finance/monitor.duckdb").exists()
    line = assert_one_line_error(monitor("--config", str(cfg), "init"))
    assert "already exists" in line and "--force" in line
    assert monitor("--config", str(cfg), "init", "--force").returncode == 0


def test_errors_are_one_line_without_traceback(cfg, tmp_path):
    cases = [
        (["ingest", str(tmp_path / "missing.csv")], 2, "no such file"),
        (["ingest", "--source", "nope"], 2, "no source named 'nope'"),
        (["--config", str(tmp_path / "none.toml"), "status"], 2, "not found"),
    ]
    for args, code, fragment in cases:
        if args[0] != "--config":
            args = ["--config", str(cfg), *args]
        line = assert_one_line_error(monitor(*args), code)
        assert fragment in line, line


def test_usage_errors_exit_2(cfg):
    proc = monitor("--config", str(cfg), "ingest", "--format", "xml")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    proc = monitor("--config", str(cfg), "no-such-verb")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_locked_database_is_a_runtime_error(cfg, tmp_path):
    monitor("--config", str(cfg), "ingest")
    holder = duckdb.connect(str(tmp_path / "ledger.duckdb"))     # another writer holds the lock
    try:
        # DuckDB locks are per process; a second process sees the conflict.
        line = assert_one_line_error(monitor("--config", str(cfg), "status"), 3)
    finally:
        holder.close()
    assert "in use" in line and "ledger.duckdb" in line


def test_bad_file_still_exits_2_after_loading_the_others(tmp_path):
    cfg = write_config(tmp_path, [source()])
    write_csv(tmp_path / "in/a.csv", ROWS)
    write_csv(tmp_path / "in/b.csv", [["x"]], header=["nothing"])
    proc = monitor("--config", str(cfg), "ingest")
    assert proc.returncode == 2
    assert proc.stdout.splitlines()[1].split()[-1] == "loaded"
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "b.csv" in errors[0]


def test_debug_shows_the_traceback(tmp_path):
    proc = monitor("--config", str(tmp_path / "none.toml"), "--debug", "status")
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_progress_bar_never_reaches_stdout(cfg):
    # DuckDB draws a progress bar on stdout for queries over 2 s unless turned off.
    from monitor.sql import store
    con = store.connect(cfg.parent / "ledger.duckdb")
    try:
        assert con.execute("SELECT current_setting('enable_progress_bar')").fetchone() == (False,)
    finally:
        con.close()
