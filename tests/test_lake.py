"""The ledger lake and [engine]: `monitor export-lake` writes the DuckDB ledger as Parquet
partitioned by posting month (every row, every cent); with [engine] kind = "spark",
`monitor ingest` appends what it loaded; [engine] is validated like every section.
No Spark needed here (tests/test_spark_engine.py runs the detectors on it)."""
from __future__ import annotations

from decimal import Decimal

import duckdb
import pytest

from helpers import config_text, run, source, write_csv
from monitor.settings import config as config_mod
from monitor.errors import ConfigError

ROWS = [["2024-01-05", "12.50", "Cafe", "1111"], ["2024-01-20", "1667.00", "Devlab", "1111"],
        ["2024-02-03", "99.99", "Cloud Co", "2222"], ["2024-03-30", "-5.00", "Cafe", "1111"]]


def scan_lake(folder) -> tuple:
    """Rows, money and partition folders of a lake, read by DuckDB itself."""
    glob = str(folder / "**" / "*.parquet")
    rows, total = duckdb.connect().execute(
        "SELECT count(*), sum(amount) FROM read_parquet($glob, hive_partitioning = true)",
        {"glob": glob}).fetchall()[0]
    months = sorted(p.name for p in folder.iterdir() if p.is_dir())
    return rows, total, months


def setup(tmp_path, engine: str = "") -> None:
    (tmp_path / "config.toml").write_text(config_text([source()]) + engine, encoding="utf-8")
    write_csv(tmp_path / "in" / "jan.csv", ROWS[:2])
    write_csv(tmp_path / "in" / "feb.csv", ROWS[2:])


def test_export_lake_writes_every_row_partitioned_by_month(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    setup(tmp_path)
    assert run(capsys, "ingest")[0] == 0
    code, out, err = run(capsys, "export-lake", "--out", "lake it's", "--format", "json")
    assert code == 0, err
    rows, total, months = scan_lake(tmp_path / "lake it's")           # a quote in the path
    assert (rows, total) == (4, Decimal("1774.49"))
    assert months == ["posted_month=2024-01", "posted_month=2024-02", "posted_month=2024-03"]
    assert '"rows": 4' in out and '"months": 3' in out
    code, _, err = run(capsys, "export-lake", "--out", "lake it's")    # not over a lake
    assert code == 2 and "not empty" in err and "--force" in err
    code, _, err = run(capsys, "export-lake", "--out", "lake it's", "--force", "--buckets", "4")
    assert code == 0, err
    assert scan_lake(tmp_path / "lake it's")[:2] == (4, Decimal("1774.49"))
    assert {p.parent.name.split("=")[0] for p in (tmp_path / "lake it's").rglob("*.parquet")} \
        == {"account_bucket"}


def test_spark_ingest_appends_loaded_rows_to_the_lake(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    setup(tmp_path, '\n[engine]\nkind = "spark"\nmaster = "local[2]"\nlake = "lake/"\n')
    write_csv(tmp_path / "in" / "feb.csv", [])                        # nothing in it yet
    code, _, err = run(capsys, "ingest")
    assert code == 0 and "appended 2 rows to the ledger lake" in err
    assert scan_lake(tmp_path / "lake")[:2] == (2, Decimal("1679.50"))
    write_csv(tmp_path / "in" / "feb.csv", ROWS[2:])
    code, _, err = run(capsys, "ingest")                               # only the new file
    assert code == 0 and "appended 2 rows" in err
    assert scan_lake(tmp_path / "lake") == (4, Decimal("1774.49"), [
        "posted_month=2024-01", "posted_month=2024-02", "posted_month=2024-03"])
    code, _, err = run(capsys, "ingest")                               # nothing new: no rows
    assert code == 0 and "appended" not in err
    assert scan_lake(tmp_path / "lake")[0] == 4


def load(tmp_path, text: str, warnings: list | None = None):
    path = tmp_path / "config.toml"
    path.write_text("[database]\npath = \"x.duckdb\"\n\n" + text, encoding="utf-8")
    return config_mod.load(path, warn=(warnings if warnings is not None else []).append)


def test_engine_keys_work_as_written(tmp_path):
    cfg = load(tmp_path, '[engine]\nkind = "spark"\nmaster = "local[2]"         '
                         '# or spark://host:7077, yarn, k8s://...\nlake = "lake/"\n')
    assert (cfg.engine.kind, cfg.engine.master) == ("spark", "local[2]")
    assert cfg.engine.lake == str(tmp_path / "lake") and not cfg.engine.lake_is_url
    cfg = load(tmp_path, '[engine]\nkind = "spark"\nmaster = "spark://h:7077"\n'
                         'lake = "s3a://bucket/ledger"\nbuckets = 16\n'
                         '[engine.conf]\n"spark.driver.memory" = "8g"\n')
    assert cfg.engine.lake == "s3a://bucket/ledger" and cfg.engine.lake_is_url
    assert cfg.engine.conf == {"spark.driver.memory": "8g"} and cfg.engine.buckets == 16
    assert load(tmp_path, "").engine.kind == "duckdb"                 # the default


@pytest.mark.parametrize("text, line, fix", [
    ('[engine]\nkind = "postgres"\n', 5, "use one of: duckdb, spark"),
    ('[engine]\nkind = "spark"\n', 4, "add lake ="),
    ('[engine]\nkind = "spark"\nlake = "l"\nmaster = "local[two]"\n', 7, "\"local[2]\""),
    ('[engine]\nbuckets = -1\n', 5, "from 0 (no buckets) to 4096"),
    ('[engine]\n[engine.conf]\nmemory = "8g"\n', 6, "\"spark.name\" = \"value\""),
], ids=["kind", "no-lake", "master", "buckets", "conf"])
def test_engine_errors_name_line_and_fix(tmp_path, text, line, fix):
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    message = str(caught.value)
    assert f"config.toml:{line}:" in message and fix in message, message


def test_engine_typo_is_warned_about(tmp_path):
    warnings = []
    load(tmp_path, '[engine]\nknd = "spark"\n', warnings)
    assert len(warnings) == 1 and "engine.knd" in warnings[0] and "'kind'" in warnings[0]
