"""Config: documented keys work as written; typos are warned about, bad values stop the
command with one line naming the file, line, key and the fix (exit code 2)."""
from __future__ import annotations

from pathlib import Path

import pytest

from helpers import ROOT, assert_one_line_error, config_text, monitor, source, write_config
from monitor.settings import config as config_mod
from monitor.errors import ConfigError

FULL = """\
[database]
path = "data/ledger.duckdb"

[[sources]]
name = "pcards"
format = "csv"
path = "ledgers/*.csv"
currency = "GBP"
charges = "negative"
date_format = "%d/%m/%Y"

[sources.columns]
txn_id = "txn_ref"
posted_at = "trans_date"
amount = "amount_gbp"
counterparty = "merchant_name"
account = "card_number_masked"

[[sources]]
name = "bank"
format = "xlsx"
path = "bank/*.xlsx"
currency = "EUR"
account = "main"
delimiter = ";"
encoding = "cp1252"
sheet = 2

[sources.columns]
posted_at = "Date"
debit = "Out"
credit = "In"
counterparty_account = "IBAN"
initiator = "User"
mcc = "MCC"
description = "Text"
reference = "Ref"
"""


def load(tmp_path: Path, text: str, warnings: list | None = None):
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    sink = warnings if warnings is not None else []
    return config_mod.load(path, warn=sink.append)


def test_documented_keys_work_as_written(tmp_path):
    warnings = []
    cfg = load(tmp_path, FULL, warnings)
    assert warnings == []
    assert cfg.database == tmp_path / "data/ledger.duckdb"      # relative to the config file
    cards, bank = cfg.sources
    assert (cards.name, cards.format, cards.currency, cards.charges, cards.date_format) == (
        "pcards", "csv", "GBP", "negative", "%d/%m/%Y")
    assert cards.path == str(tmp_path / "ledgers/*.csv")
    assert cards.columns == {"txn_id": "txn_ref", "posted_at": "trans_date",
                             "amount": "amount_gbp", "counterparty": "merchant_name",
                             "account": "card_number_masked"}
    assert (bank.account, bank.delimiter, bank.encoding, bank.sheet) == ("main", ";", "cp1252", "2")
    assert bank.columns["debit"] == "Out" and bank.columns["reference"] == "Ref"
    assert cfg.source("bank") is bank


def test_defaults(tmp_path):
    cfg = load(tmp_path, '[[sources]]\nname = "s"\npath = "*.csv"\ncurrency = "USD"\n'
                         'format = "csv"\n[sources.columns]\nposted_at = "d"\ndebit = "a"\n')
    (s,) = cfg.sources
    assert cfg.database == tmp_path / "monitor.duckdb"
    assert (s.charges, s.date_format, s.account, s.delimiter, s.encoding) == (
        "positive", None, None, None, None)


def test_shipped_configs_load_cleanly():
    for path in (ROOT / "config.toml", ROOT / "monitor/starter_config.toml"):
        warnings = []
        cfg = config_mod.load(path, warn=warnings.append)
        assert warnings == [] and cfg.sources, path


def line_of(text: str, snippet: str) -> int:
    return text.splitlines().index(snippet) + 1


@pytest.mark.parametrize("text, key, snippet", [
    ("[databse]\npath = 'x.duckdb'\n", "databse", "[databse]"),
    ("[database]\npaht = 'x.duckdb'\n", "database.paht", "paht = 'x.duckdb'"),
    (FULL.replace('charges = "negative"', 'charges = "negative"\nnotes = "x"'),
     "sources[0].notes", 'notes = "x"'),
    (FULL.replace('sheet = 2', 'sheet = 2\ncurency = "EUR"'), "sources[1].curency",
     'curency = "EUR"'),
])
def test_unknown_key_is_warned_with_file_line_and_key(tmp_path, text, key, snippet):
    warnings = []
    load(tmp_path, text, warnings)
    line = line_of(text, snippet)
    assert len(warnings) == 1, warnings
    assert f"{tmp_path / 'config.toml'}:{line}:" in warnings[0]
    assert f"'{key}'" in warnings[0]


def test_a_report_section_is_an_unknown_key(tmp_path):
    """Nothing reads [report] (the report takes its options on the command line), so it is
    warned about like any unknown key rather than silently accepted."""
    warnings = []
    load(tmp_path, FULL + "\n[report]\ntitle = 'x'\n", warnings)
    assert len(warnings) == 1 and "unknown key 'report'" in warnings[0], warnings


def test_typo_gets_a_suggestion(tmp_path):
    warnings = []
    load(tmp_path, FULL.replace("date_format", "date_fromat"), warnings)
    assert "did you mean 'date_format'" in warnings[0]


def test_unknown_key_warning_via_cli_does_not_stop_the_command(tmp_path):
    cfg = write_config(tmp_path)
    cfg.write_text(cfg.read_text().replace('currency = "GBP"', 'currency = "GBP"\ncurency = "x"'))
    proc = monitor("--config", str(cfg), "status", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert f"warning: {cfg}:" in proc.stderr and "curency" in proc.stderr


@pytest.mark.parametrize("old, new, key, fix", [
    ('charges = "negative"', 'charges = "neg"', "sources.pcards.charges", "positive, negative"),
    ('format = "csv"', 'format = "excel"', "sources.pcards.format", "csv, parquet, xlsx"),
    ('currency = "GBP"', 'currency = "pounds"', "sources.pcards.currency", "three capital"),
    ('date_format = "%d/%m/%Y"', 'date_format = "dd/mm/yyyy"', "sources.pcards.date_format", "%d/%m/%Y"),
    ('path = "ledgers/*.csv"', 'path = 5', "sources.pcards.path", "quote"),
    ('path = "ledgers/*.csv"\n', '', "sources.pcards.path", "glob"),
    ('name = "bank"', 'name = "pcards"', "sources.name", "unique"),
    ('delimiter = ";"', 'delimiter = ";;"', "sources.bank.delimiter", "one character"),
    ('encoding = "cp1252"', 'encoding = "ebcdic"', "sources.bank.encoding", "utf-8, cp1252"),
    ('sheet = 2', 'sheet = [2]', "sources.bank.sheet", "sheet ="),
    ('posted_at = "trans_date"\n', '', "sources.pcards.columns", "posted_at"),
    ('amount = "amount_gbp"', 'amount = 3', "sources.pcards.columns.amount", "quote"),
    ('posted_at = "Date"', 'posted_at = "Date"\namount = "Amt"', "sources.bank.columns", "either"),
    ('currency = "EUR"\n', '', "sources.bank.currency", "currency ="),
    ('path = "data/ledger.duckdb"', 'path = ""', "database.path", "quote"),
])
def test_invalid_value_is_one_line_with_file_key_and_fix(tmp_path, old, new, key, fix):
    assert old in FULL
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, FULL.replace(old, new, 1))
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{tmp_path / 'config.toml'}:"), message
    assert key in message and fix in message


def test_error_names_the_line_of_the_offending_source(tmp_path):
    text = FULL.replace('format = "xlsx"', 'format = "xlsx"\ncharges = "both"')
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    line = line_of(text, 'charges = "both"')
    assert str(caught.value).startswith(f"{tmp_path / 'config.toml'}:{line}: sources.bank.charges")


def test_error_names_the_line_of_the_offending_column(tmp_path):
    text = FULL.replace('debit = "Out"', 'debit = 7')
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    line = line_of(text, "debit = 7")
    assert str(caught.value).startswith(f"{tmp_path / 'config.toml'}:{line}:")


@pytest.mark.parametrize("text, fragment", [
    ("[[sources]\nname = 'x'", "invalid TOML"),
    ("[database]\npath = 'a'\n[database]\npath = 'b'\n", "invalid TOML"),
    ("sources = 3\n", "array of tables"),
    ("database = 'x.duckdb'\n", "[database]"),
])
def test_malformed_files(tmp_path, text, fragment):
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    assert fragment in str(caught.value) and str(tmp_path / "config.toml") in str(caught.value)


def test_invalid_config_via_cli_is_one_line_exit_2(tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_text(FULL.replace('charges = "negative"', 'charges = "sideways"'), encoding="utf-8")
    for verb in (["status"], ["ingest"], ["rejects"]):
        line = assert_one_line_error(monitor("--config", str(cfg), *verb))
        assert str(cfg) in line and "sources.pcards.charges" in line and "positive" in line


def test_missing_config_via_cli(tmp_path):
    line = assert_one_line_error(monitor("--config", str(tmp_path / "nope.toml"), "status"))
    assert "nope.toml" in line and "monitor init" in line


def test_config_from_environment_variable(tmp_path):
    cfg = write_config(tmp_path / "sub", [source()])
    proc = monitor("status", "--format", "json", env={"MONITOR_CONFIG": str(cfg)}, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "sub/ledger.duckdb").exists()


def test_not_utf8_config(tmp_path):
    path = tmp_path / "config.toml"
    text = config_text([source()]).replace('"cards"', '"caf\u00e9"')
    path.write_bytes(text.encode("cp1252"))
    with pytest.raises(ConfigError, match="UTF-8"):
        config_mod.load(path)


def test_unknown_source_name(tmp_path):
    cfg = load(tmp_path, FULL)
    with pytest.raises(ConfigError, match="no source named 'pcard' .*pcards, bank"):
        cfg.source("pcard")
