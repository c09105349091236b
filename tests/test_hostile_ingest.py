"""Issue 14, the ingest side: files a hostile or careless exporter makes. Each test writes
real files, ingests them into a real DuckDB file (through the library or the real CLI in
a child process) and reads the ledger back: nothing lies, nothing is lost or guessed."""
from __future__ import annotations

import datetime as dt
import gzip
import os
import zipfile
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from helpers import (ROOT, assert_identity, assert_one_line_error, config_text, csv_bytes,
                     ingest, monitor, one, query, run, source, write_config, write_csv,
                     write_xlsx)
from monitor.settings import config as config_mod
from monitor.detection import scan as detect
from monitor.sql import store

FIXTURES = ROOT / "tests" / "fixtures" / "formats"
HEADER = ["id", "date", "amount", "payee", "card"]
IDS = {"txn_id": "id", "posted_at": "date", "amount": "amount", "counterparty": "payee",
       "account": "card"}


def ledger(cfg):
    return query(cfg, "SELECT txn_id, posted_at::VARCHAR, amount FROM transactions "
                      "ORDER BY file_id, source_row")


def reasons(cfg):
    return [r[0] for r in query(cfg, "SELECT reason FROM rejected_rows ORDER BY source_row")]


def test_far_future_and_ancient_dates_are_rejected_with_their_reason(tmp_path):
    cfg = write_config(tmp_path)
    soon = (dt.date.today() + dt.timedelta(days=2)).isoformat()
    result = one(cfg, write_csv(tmp_path / "in/a.csv", [
        ["2024-01-02", "1.00", "Shop", "1"], ["2099-12-31", "2.00", "Shop", "1"],
        ["1900-01-01", "3.00", "Shop", "1"], [soon, "4.00", "Shop", "1"]]))
    assert (result.loaded, result.rejected) == (2, 2)
    future, ancient = reasons(cfg)
    assert "2099-12-31" in future and "future_days for source 'cards'" in future
    assert "1900-01-01" in ancient and "earliest_date" in ancient
    # The scan's day can no longer be pushed past today by one row.
    assert query(cfg, "SELECT max(posted_at) FROM transactions")[0][0] <= dt.date.today() \
        + dt.timedelta(days=3)


def test_future_days_and_earliest_date_are_configurable(tmp_path):
    folder = tmp_path / "conf"
    folder.mkdir()
    text = config_text([source(future_days=400, earliest_date="2000-01-01")])
    (folder / "config.toml").write_text("[ingest]\nmax_amount = 1000\n\n" + text)
    cfg = folder / "config.toml"
    later = (dt.date.today() + dt.timedelta(days=300)).isoformat()
    one(cfg, write_csv(folder / "in/a.csv", [[later, "1.00", "Shop", "1"],
                                             ["1999-12-31", "2.00", "Shop", "1"],
                                             ["2024-01-02", "1000.00", "Shop", "1"]]))
    assert [r[1] for r in ledger(cfg)] == [later]
    assert "before 2000-01-01" in reasons(cfg)[0] and "not below 1000" in reasons(cfg)[1]


def test_config_refuses_a_bad_future_days(tmp_path):
    cfg = write_config(tmp_path, [source(future_days=-1)])
    proc = monitor("--config", str(cfg), "status", cwd=tmp_path)
    assert "future_days" in assert_one_line_error(proc)


def test_ofx_posting_in_year_9999_is_rejected(tmp_path):
    text = (FIXTURES / "ofxparse__checking.ofx").read_text(encoding="latin-1")
    path = tmp_path / "bank.ofx"
    path.write_text(text.replace("<DTPOSTED>20110405120000.000", "<DTPOSTED>99991231"),
                    encoding="latin-1")
    cfg = write_config(tmp_path)
    (result,) = ingest(cfg, [path])
    assert_identity(result)
    assert result.rejected == 1 and result.loaded >= 1
    assert "9999-12-31" in reasons(cfg)[0]
    assert query(cfg, "SELECT max(posted_at) FROM transactions")[0][0] < dt.date(2014, 1, 1)


def test_amounts_beyond_the_bound_are_rejected_and_scans_still_run(tmp_path):
    cfg = write_config(tmp_path)
    result = one(cfg, write_csv(tmp_path / "in/a.csv", [
        ["2024-01-02", "5000000000000000.00", "Shop", "1"],
        ["2024-01-03", "5000000000000000.00", "Shop", "1"],
        ["2024-01-04", "99999999999999999999.00", "Shop", "1"],
        ["2024-01-05", "999999999999.99", "Shop", "1"]]))
    assert (result.loaded, result.rejected) == (1, 3)
    assert all("not below 1000000000000" in r for r in reasons(cfg))
    loaded = config_mod.load(cfg, warn=lambda line: None)
    con = store.connect(loaded.database)
    try:
        detect.scan(con, loaded, dt.date(2024, 1, 5))        # no overflow
    finally:
        con.close()


@pytest.mark.parametrize("text, problem", [
    ("12.345", "more decimals than GBP has (2)"), ("1_000", "is not a number"),
    ("1e5", "is not a number"), ("1E5", "is not a number"), ("inf", "is not a number"),
    ("nan", "is not a number"), ("12.3.4", "is not a number"),
])
def test_money_that_is_not_money_is_rejected_not_rounded(tmp_path, text, problem):
    cfg = write_config(tmp_path)
    result = one(cfg, write_csv(tmp_path / "in/a.csv", [["2024-01-02", text, "Shop", "1"],
                                                        ["2024-01-03", "12.500", "Shop", "1"]]))
    assert (result.loaded, result.rejected) == (1, 1)
    assert problem in reasons(cfg)[0] and f"'{text}'" in reasons(cfg)[0]
    assert ledger(cfg)[0][2] == Decimal("12.50")          # trailing zeros lose nothing


def test_zero_decimal_currency_and_debit_credit_columns(tmp_path):
    cfg = write_config(tmp_path, [source(currency="JPY"),
                                  source("split", path="split/*", currency="GBP",
                                         columns={"posted_at": "date", "debit": "out",
                                                  "credit": "in", "account": "card"})])
    one(cfg, write_csv(tmp_path / "in/a.csv", [["2024-01-02", "1500", "Shop", "1"],
                                               ["2024-01-03", "1500.5", "Shop", "1"]]))
    assert "more decimals than JPY has (0)" in reasons(cfg)[0]
    result = one(cfg, write_csv(tmp_path / "split/a.csv", [
        ["2024-01-02", "abc", "", "1"], ["2024-01-03", "1.239", "", "1"],
        ["2024-01-04", "", "2.50", "1"]], header=["date", "out", "in", "card"]))
    assert (result.loaded, result.rejected) == (1, 2)
    got = query(cfg, "SELECT reason FROM rejected_rows WHERE file_id = 2 ORDER BY source_row")
    assert "'abc' in column 'out' is not a number" in got[0][0]   # once silently 0.00
    assert "more decimals" in got[1][0]


def test_us_dates_are_read_as_the_whole_column_says(tmp_path):
    cfg = write_config(tmp_path)
    one(cfg, write_csv(tmp_path / "in/us.csv", [["08/09/2022", "1.00", "Shop", "1"],
                                                ["08/13/2022", "2.00", "Shop", "1"],
                                                ["12/31/2022", "3.00", "Shop", "1"]]))
    assert [r[1] for r in ledger(cfg)] == ["2022-08-09", "2022-08-13", "2022-12-31"]


def test_uk_dates_with_a_deciding_day_are_day_first(tmp_path):
    cfg = write_config(tmp_path)
    one(cfg, write_csv(tmp_path / "in/uk.csv", [["08/09/2022", "1.00", "Shop", "1"],
                                                ["13/09/2022", "2.00", "Shop", "1"]]))
    assert [r[1] for r in ledger(cfg)] == ["2022-09-08", "2022-09-13"]


def test_a_column_that_cannot_decide_is_refused_naming_date_format(tmp_path):
    cfg = write_config(tmp_path)
    path = write_csv(tmp_path / "in/a.csv", [["08/09/2022", "1.00", "Shop", "1"],
                                             ["01/02/2022", "2.00", "Shop", "1"]])
    proc = monitor("--config", str(cfg), "ingest", str(path), cwd=tmp_path)
    line = assert_one_line_error(proc)
    assert "set date_format for source 'cards'" in line and "'01/02/2022'" in line
    assert query(cfg, "SELECT count(*) FROM transactions") == [(0,)]
    # Dates that read the same either way need no decision.
    one(cfg, write_csv(tmp_path / "in/b.csv", [["01/01/2022", "1.00", "Shop", "1"]]))


def test_an_all_rejected_file_fails_and_loads_once_the_config_is_fixed(tmp_path):
    cfg = write_config(tmp_path, [source(date_format="%Y-%m-%d")])
    write_csv(tmp_path / "in/a.csv", [["02.01.2024", "1.00", "Shop", "1"],
                                      ["03.01.2024", "2.00", "Shop", "1"]])
    proc = monitor("--config", str(cfg), "ingest", cwd=tmp_path)
    assert proc.returncode == 2 and "every row (2) set aside" in proc.stderr
    assert query(cfg, "SELECT status, rejected FROM files") == [("rejected", 2)]
    write_config(tmp_path, [source(date_format="%d.%m.%Y")])
    proc = monitor("--config", str(cfg), "ingest", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "replaced the rows of file(s) #1" in proc.stderr
    assert query(cfg, "SELECT file_id, status, loaded FROM files") == [(2, "loaded", 2)]
    assert query(cfg, "SELECT count(*) FROM rejected_rows") == [(0,)]


def test_reload_replaces_a_files_rows_in_one_transaction_with_an_audit_entry(tmp_path):
    cfg = write_config(tmp_path, [source(charges="negative")])
    path = write_csv(tmp_path / "in/a.csv", [["2024-01-02", "-1.00", "Shop", "1"],
                                             ["2024-01-03", "-2.00", "Shop", "1"]])
    assert monitor("--config", str(cfg), "ingest", cwd=tmp_path).returncode == 0
    assert [r[2] for r in ledger(cfg)] == [Decimal("1.00"), Decimal("2.00")]
    write_config(tmp_path, [source(charges="positive")])       # the sign was wrong
    proc = monitor("--config", str(cfg), "ingest", str(path), cwd=tmp_path)
    assert "unchanged" in proc.stdout
    proc = monitor("--config", str(cfg), "ingest", "--reload", str(path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert [r[2] for r in ledger(cfg)] == [Decimal("-1.00"), Decimal("-2.00")]
    assert query(cfg, "SELECT count(*) FROM files") == [(1,)]
    detail = query(cfg, "SELECT detail FROM audit_log WHERE action = 'ingest' "
                        "ORDER BY seq DESC LIMIT 1")[0][0]
    assert '"reload":true' in detail.replace(" ", "") and '[1]' in detail
    assert_one_line_error(monitor("--config", str(cfg), "ingest", "--reload", cwd=tmp_path))


def test_a_file_still_being_written_is_not_read_until_complete(tmp_path):
    cfg = write_config(tmp_path, [source(columns=IDS)])
    whole = csv_bytes([["1", "2024-01-02", "600.00", "Shop", "1"]], header=HEADER)
    path = tmp_path / "in/a.csv"
    path.parent.mkdir()
    path.write_bytes(whole[:-4])                 # "...,6" : cut inside the amount
    proc = monitor("--config", str(cfg), "ingest", cwd=tmp_path)
    assert proc.returncode == 0 and "not read yet" in proc.stderr
    assert query(cfg, "SELECT count(*) FROM files") == [(0,)]
    path.write_bytes(whole)
    (result,) = ingest(cfg)
    assert result.status == "loaded" and ledger(cfg) == [("1", "2024-01-02", Decimal("600.00"))]


def test_a_later_row_with_the_same_id_and_other_content_is_set_aside_and_alerts(tmp_path):
    cfg = write_config(tmp_path, [source(columns=IDS)])
    write_csv(tmp_path / "in/a.csv", [["1", "2024-01-02", "6.00", "Shop", "1"],
                                      ["2", "2024-01-03", "5.00", "Shop", "1"]], header=HEADER)
    one(cfg, tmp_path / "in/a.csv")
    result = one(cfg, write_csv(tmp_path / "in/b.csv", [
        ["1", "2024-01-02", "600.00", "Shop", "1"], ["2", "2024-01-03", "5.00", "Shop", "1"],
        ["3", "2024-01-04", "7.00", "Shop", "1"], ["3", "2024-01-04", "70.00", "Shop", "1"]],
        header=HEADER))
    assert (result.loaded, result.duplicates, result.rejected) == (1, 1, 2)
    first, second = reasons(cfg)
    assert first.startswith("conflicting duplicate: txn_id '1'") and "amount 6.00 there, 600.00 here" in first
    assert "file row 4" in second and "amount 7.00 there, 70.00 here" in second
    loaded = config_mod.load(cfg, warn=lambda line: None)
    con = store.connect(loaded.database)
    try:
        found = [f for f in detect.scan(con, loaded, dt.date(2024, 1, 5))
                 if f["detector"] == "conflicting_duplicate"]
    finally:
        con.close()
    assert found and found[0]["account"] == "1" and found[0]["severity"] == "high"


def test_gzip_with_a_bad_crc_loads_nothing(tmp_path):
    cfg = write_config(tmp_path)
    data = bytearray(gzip.compress(csv_bytes([["2024-01-02", "1.00", "Shop", "1"]] * 50)))
    data[-8] ^= 0xFF                              # the CRC32 of the trailer
    path = tmp_path / "in/a.csv.gz"
    path.parent.mkdir()
    path.write_bytes(bytes(data))
    proc = monitor("--config", str(cfg), "ingest", cwd=tmp_path)
    assert "damaged gzip file" in assert_one_line_error(proc)
    assert query(cfg, "SELECT count(*) FROM transactions") == [(0,)]
    assert query(cfg, "SELECT status FROM files") == [("error",)]
    path.write_bytes(bytes(data[:len(data) // 2]))  # cut short
    assert ingest(cfg)[0].status == "error"
    assert query(cfg, "SELECT count(*) FROM transactions") == [(0,)]


def test_gzip_named_without_gz_is_read_as_gzip(tmp_path):
    cfg = write_config(tmp_path)
    path = tmp_path / "in/a.csv"
    path.parent.mkdir()
    path.write_bytes(gzip.compress(csv_bytes([["2024-01-02", "1.00", "Shop", "1"]])))
    assert one(cfg, path).loaded == 1


def test_utf16_unicode_text_from_excel(tmp_path):
    cfg = write_config(tmp_path)
    path = tmp_path / "in/a.txt"
    path.parent.mkdir()
    text = "date\tamount\tpayee\tcard\r\n2024-01-02\t9.99\tCafé Zürich\t1111\r\n"
    path.write_bytes(text.encode("utf-16"))       # with its byte-order mark
    result = one(cfg, path)
    assert result.loaded == 1
    assert query(cfg, "SELECT counterparty, amount FROM transactions") == [
        ("Café Zürich", Decimal("9.99"))]


def test_a_file_no_source_matches_gets_its_header_and_a_proposed_source(tmp_path):
    cfg = write_config(tmp_path)
    path = write_csv(tmp_path / "elsewhere/export.csv",
                     [["2024-01-02", "1.00", "Shop", "GBP"]],
                     header=["Transaction Date", "Amount", "Merchant Name", "Currency"])
    proc = monitor("--config", str(cfg), "ingest", str(path), cwd=tmp_path)
    assert "proposed below" in assert_one_line_error(proc)
    assert "its header: Transaction Date, Amount, Merchant Name, Currency" in proc.stderr
    assert "[sources.columns]" in proc.stderr
    assert 'posted_at = "Transaction Date"' in proc.stderr
    assert 'counterparty = "Merchant Name"' in proc.stderr


def test_symlinks_out_of_the_source_folder_are_not_followed(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("root:SECRET-PASSWORD-LINE\n")
    cfg = write_config(tmp_path)
    write_csv(tmp_path / "in/a.csv", [["2024-01-02", "1.00", "Shop", "1"]])
    os.symlink(secret, tmp_path / "in/link.csv")
    os.symlink(tmp_path / "in/a.csv", tmp_path / "in/inside.csv")   # stays inside: read
    results = ingest(cfg)
    assert sorted(Path(r.path).name for r in results) == ["a.csv", "inside.csv"]
    errors = query(cfg, "SELECT coalesce(string_agg(error, ' '), '') FROM files")[0][0]
    assert "SECRET" not in errors
    write_config(tmp_path, [source(follow_symlinks=True)])
    assert any(Path(r.path).name == "link.csv" for r in ingest(cfg))


def test_a_spreadsheet_too_large_for_the_memory_limit_is_refused(tmp_path):
    folder = tmp_path / "conf"
    folder.mkdir()
    text = config_text([source(format="xlsx")]).replace(
        "[database]\n", '[database]\nmemory_limit = "16MB"\n')
    (folder / "config.toml").write_text(text)
    write_xlsx(folder / "in/big.xlsx", [["date", "amount", "payee", "card"]]
               + [["2024-01-02", 1.5, "Coffee Shop", "1111"]] * 20000)
    assert (folder / "in/big.xlsx").stat().st_size < 400_000      # small on disk
    proc = monitor("--config", str(folder / "config.toml"), "ingest", cwd=folder)
    line = assert_one_line_error(proc)
    assert "above the memory limit" in line and "export it as CSV" in line
    # Within the limit it loads.
    (folder / "config.toml").write_text(text.replace('"16MB"', '"1GB"'))
    proc = monitor("--config", str(folder / "config.toml"), "ingest", cwd=folder)
    assert proc.returncode == 0, proc.stderr


def test_xlsx_bomb_never_reaches_the_reader(tmp_path):
    """A zip of repetitive sheet XML: a few hundred KB on disk, hundreds of MB inflated."""
    cfg = write_config(tmp_path, [source(format="xlsx")])
    path = write_xlsx(tmp_path / "in/bomb.xlsx", [["date", "amount", "payee", "card"]])
    rows = "".join(f'<row r="{i}"><c r="A{i}"><v>1</v></c></row>' for i in range(2, 2_000_000))
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet2.xml", rows)
    config = config_mod.load(cfg, warn=lambda line: None)
    con = store.connect(config.database, memory_limit="1GB")
    try:
        from monitor.ledger import ingest as ingest_mod
        (result,) = ingest_mod.ingest_all(con, ingest_mod.plan(config))
    finally:
        con.close()
    assert result.status == "error" and "above the memory limit" in result.message


def test_rows_read_identity_holds_with_every_new_reason(tmp_path):
    cfg = write_config(tmp_path)
    result = one(cfg, write_csv(tmp_path / "in/a.csv", [
        ["2099-01-01", "1.00", "Shop", "1"], ["2024-01-02", "1e5", "Shop", "1"],
        ["2024-01-02", "1.001", "Shop", "1"], ["2024-01-02", "10000000000000", "Shop", "1"],
        ["2024-01-02", "1.00", "Shop", "1"]]))
    assert (result.rows_read, result.loaded, result.rejected) == (5, 1, 4)
    with duckdb.connect(str(tmp_path / "ledger.duckdb"), read_only=True) as con:
        assert con.execute("SELECT status FROM files").fetchall() == [("loaded",)]


def test_an_export_that_never_ends_its_last_line_is_read_once_it_rests(tmp_path):
    cfg = write_config(tmp_path)
    path = write_csv(tmp_path / "in/a.csv", [["2024-01-02", "600.00", "Shop", "1"]])
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    assert ingest(cfg)[0].status == "not ready"
    rested = path.stat().st_mtime - 16 * 60
    os.utime(path, (rested, rested))
    assert one(cfg, path).loaded == 1 and ledger(cfg)[0][2] == Decimal("600.00")


def test_a_person_can_vouch_that_a_file_without_a_final_line_end_is_finished(tmp_path, capsys):
    cfg = write_config(tmp_path)
    path = write_csv(tmp_path / "in/a.csv", [["2024-01-02", "600.00", "Shop", "1"]])
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    code, _, err = run(capsys, "--config", str(cfg), "ingest")
    assert code == 0 and f"monitor ingest --complete {path}" in err   # the note names the fix
    code, out, err = run(capsys, "--config", str(cfg), "ingest", "--complete", str(path),
                         "--format", "json")
    assert code == 0 and '"status": "loaded"' in out
    assert ledger(cfg)[0][2] == Decimal("600.00")


def test_the_daemon_reads_a_half_written_file_once_it_is_complete(tmp_path):
    from monitor.daemon import scheduler as schedule
    cfg = write_config(tmp_path, [source(columns=IDS)])
    whole = csv_bytes([["1", "2024-01-02", "600.00", "Shop", "1"]], header=HEADER)
    path = tmp_path / "in/a.csv"
    path.parent.mkdir()
    path.write_bytes(whole[:-4])
    old = path.stat().st_mtime - 5                 # past the daemon's settle second
    os.utime(path, (old, old))
    config, seen = config_mod.load(cfg, warn=lambda line: None), {}
    summary = schedule.run_pipeline(config, seen=seen)
    assert (summary["files_not_ready"], summary["files_loaded"]) == (1, 0)
    assert str(path) not in seen                   # looked at again next run
    path.write_bytes(whole)
    os.utime(path, (old + 1, old + 1))
    summary = schedule.run_pipeline(config, seen=seen)
    assert summary["files_loaded"] == 1
    assert ledger(cfg) == [("1", "2024-01-02", Decimal("600.00"))]
