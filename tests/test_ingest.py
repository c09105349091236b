"""Ingest: every supported file shape loads, each transaction once, nothing dropped silently.

Each test writes real files, ingests them into a real DuckDB file and reads the
ledger back. Every ingest result is checked for rows_read = loaded + duplicates + rejected.
"""
from __future__ import annotations

import gzip
import json
from decimal import Decimal

import duckdb
import pytest

from helpers import (assert_identity, assert_one_line_error, csv_bytes, ingest, monitor, one,
                     query, source, write_config, write_csv, write_xlsx)

ROWS = [
    ["2024-01-02", "12.50", "Coffee Shop", "1111"],
    ["2024-01-03", "1667.00", "Freelance Ltd", "1111"],
    ["2024-01-04", "-3.20", "Refund Co", "2222"],
]
HEADER_ROW = ["date", "amount", "payee", "card"]


def ledger(cfg, order="file_id, source_row"):
    return query(cfg, "SELECT posted_at::VARCHAR, amount, counterparty, account, source_row "
                      f"FROM transactions ORDER BY {order}")


# --- encodings, delimiters, number and date shapes -------------------------------------

@pytest.mark.parametrize("bom", [False, True])
def test_utf8_with_and_without_bom(tmp_path, cfg, bom):
    rows = [["2024-01-02", "9.99", "Café Zürich", "1111"]]
    result = one(cfg, write_csv(tmp_path / "in/a.csv", rows, bom=bom))
    assert (result.status, result.loaded) == ("loaded", 1)
    assert ledger(cfg) == [("2024-01-02", Decimal("9.99"), "Café Zürich", "1111", 2)]


def test_cp1252_export_is_read_as_windows_text(tmp_path, cfg):
    # 0x80 is the euro sign and 0x92 a curly apostrophe in cp1252, controls in Latin-1.
    rows = [["2024-01-02", "5.00", "Caf\u00e9 \u20ac Shop\u2019s", "1111"]]
    result = one(cfg, write_csv(tmp_path / "in/a.csv", rows, encoding="cp1252"))
    assert result.loaded == 1
    assert ledger(cfg)[0][2] == "Café € Shop’s"


def test_latin1_export_with_configured_encoding(tmp_path):
    cfg = write_config(tmp_path, [source(encoding="latin-1")])
    rows = [["2024-01-02", "5.00", "Cr\u00e8me Br\u00fbl\u00e9e", "1111"]]
    one(cfg, write_csv(tmp_path / "in/a.csv", rows, encoding="latin-1"))
    assert ledger(cfg)[0][2] == "Crème Brûlée"


def test_declared_utf8_that_is_not_fails_with_the_fix(tmp_path):
    cfg = write_config(tmp_path, [source(encoding="utf-8")])
    path = write_csv(tmp_path / "in/a.csv", [["2024-01-02", "5", "Caf\u00e9", "1"]],
                     encoding="cp1252")
    (result,) = ingest(cfg, [path])
    assert result.status == "error"
    assert str(path) in result.message and 'encoding = "cp1252"' in result.message


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiters_are_detected(tmp_path, cfg, delimiter):
    result = one(cfg, write_csv(tmp_path / "in/a.csv", ROWS, delimiter=delimiter))
    assert result.loaded == 3
    assert [r[1] for r in ledger(cfg)] == [Decimal("12.50"), Decimal("1667.00"), Decimal("-3.20")]


def test_configured_delimiter(tmp_path):
    cfg = write_config(tmp_path, [source(delimiter=";")])
    one(cfg, write_csv(tmp_path / "in/a.csv", ROWS, delimiter=";"))
    assert len(ledger(cfg)) == 3


@pytest.mark.parametrize("text, expected", [
    ("1,234.50", "1234.50"), ("1.234,50", "1234.50"), ("1 234,50", "1234.50"),
    ("12,5", "12.50"), ("0,99", "0.99"), ("1,234,567.89", "1234567.89"),
    ("£1,000.00", "1000.00"), ("(12.50)", "-12.50"), ("12.50-", "-12.50"),
    ("-0.01", "-0.01"), ("+7", "7.00"), ("GBP 15.00", "15.00"), (".5", "0.50"),
])
def test_amount_shapes(tmp_path, cfg, text, expected):
    delimiter = ";" if "," in text else ","
    one(cfg, write_csv(tmp_path / "in/a.csv", [["2024-01-02", text, "Shop", "1"]],
                       delimiter=delimiter))
    assert ledger(cfg)[0][1] == Decimal(expected)


def test_decimal_comma_file_with_semicolons(tmp_path, cfg):
    rows = [["02.01.2024", "1.234,56", "Bäckerei", "DE01"], ["03.01.2024", "-0,50", "Kiosk", "DE01"]]
    result = one(cfg, write_csv(tmp_path / "in/a.csv", rows, delimiter=";"))
    assert result.loaded == 2
    assert [(r[0], r[1]) for r in ledger(cfg)] == [("2024-01-02", Decimal("1234.56")),
                                                   ("2024-01-03", Decimal("-0.50"))]


@pytest.mark.parametrize("date_format, text", [
    (None, "31/01/2024"), ("%d/%m/%Y", "31/01/2024"), (None, "2024-01-31"),
    (None, "2024-01-31 13:45:00"), (None, "31-Jan-2024"), ("%m/%d/%Y", "01/31/2024"),
])
def test_date_shapes(tmp_path, date_format, text):
    extra = {"date_format": date_format} if date_format else {}
    cfg = write_config(tmp_path, [source(**extra)])
    one(cfg, write_csv(tmp_path / "in/a.csv", [[text, "1.00", "Shop", "1"]]))
    assert ledger(cfg)[0][0] == "2024-01-31"


def test_dd_mm_is_not_read_as_mm_dd(tmp_path, cfg):
    # Issue 14 item 5: a column where every day is <= 12 cannot say which it is, so the
    # file is refused rather than guessed; a day above 12 (or date_format) decides it.
    (result,) = ingest(cfg, [write_csv(tmp_path / "in/a.csv", [["03/02/2024", "1", "Shop", "1"]])])
    assert result.status == "error" and "set date_format" in result.message
    one(cfg, write_csv(tmp_path / "in/a.csv", [["03/02/2024", "1", "Shop", "1"],
                                               ["13/02/2024", "1", "Shop", "1"]]))
    assert ledger(cfg)[0][0] == "2024-02-03"


def test_quoted_newlines_and_delimiters_inside_fields(tmp_path, cfg):
    rows = [["2024-01-02", "1.00", "Line one\nline two, with comma", "1"],
            ["2024-01-03", "2.00", 'He said "hi"', "1"],
            ["2024-01-04", "3.00", "After", "1"]]
    result = one(cfg, write_csv(tmp_path / "in/a.csv", rows))
    assert result.loaded == 3
    got = ledger(cfg)
    assert [r[2] for r in got] == ["Line one\nline two, with comma", 'He said "hi"', "After"]
    assert [r[4] for r in got] == [2, 3, 4]       # rows count records, header = row 1


def test_crlf_line_endings(tmp_path, cfg):
    result = one(cfg, write_csv(tmp_path / "in/a.csv", ROWS, newline="\r\n"))
    assert result.loaded == 3 and ledger(cfg)[2][3] == "2222"


def test_header_padded_with_empty_names_the_rows_lack(tmp_path, cfg):
    # PayPal's Spanish statement export ends its header in ",,,,,," but not its rows.
    path = tmp_path / "in/a.csv"
    path.parent.mkdir()
    path.write_text('"date","amount","payee","card",,,\n'
                    '"2024-01-02","9.99","Cafe","1111"\n"2024-01-03","5.00","Shop","2222"\n')
    result = one(cfg, path)
    assert (result.rows_read, result.loaded, result.rejected) == (2, 2, 0)
    assert [row[2] for row in ledger(cfg)] == ["Cafe", "Shop"]


def test_gzip_csv(tmp_path, cfg):
    path = tmp_path / "in/a.csv.gz"
    path.parent.mkdir()
    path.write_bytes(gzip.compress(csv_bytes(ROWS)))
    result = one(cfg, path)
    assert (result.status, result.loaded) == ("loaded", 3)


def test_gzip_cp1252_csv(tmp_path, cfg):
    path = tmp_path / "in/a.csv.gz"
    path.parent.mkdir()
    path.write_bytes(gzip.compress(csv_bytes([["2024-01-02", "1", "Caf\u00e9", "1"]],
                                             encoding="cp1252")))
    one(cfg, path)
    assert ledger(cfg)[0][2] == "Café"


def test_parquet_with_typed_columns(tmp_path):
    cfg = write_config(tmp_path, [source(format="parquet", path="in/*.parquet")])
    path = tmp_path / "in/a.parquet"
    path.parent.mkdir()
    con = duckdb.connect()
    con.execute(f"""COPY (SELECT * FROM (VALUES
        (DATE '2024-01-02', 12.50::DECIMAL(10,2), 'Coffee', 1111),
        (DATE '2024-01-03', 7.25::DECIMAL(10,2), 'Taxi', 2222)) t(date, amount, payee, card))
        TO '{path}' (FORMAT parquet)""")
    con.close()
    result = one(cfg, path)
    assert result.loaded == 2
    assert ledger(cfg) == [("2024-01-02", Decimal("12.50"), "Coffee", "1111", 1),
                           ("2024-01-03", Decimal("7.25"), "Taxi", "2222", 2)]


def test_parquet_float_amounts_become_exact_decimals(tmp_path):
    cfg = write_config(tmp_path, [source(format="parquet", path="in/*.parquet")])
    path = tmp_path / "in/a.parquet"
    path.parent.mkdir()
    con = duckdb.connect()
    con.execute(f"COPY (SELECT '2024-01-02' AS date, 0.1::DOUBLE AS amount, 'x' AS payee, "
                f"'1' AS card FROM range(10)) TO '{path}' (FORMAT parquet)")
    con.close()
    one(cfg, path)
    assert query(cfg, "SELECT sum(amount) FROM transactions") == [(Decimal("1.00"),)]


def test_xlsx_with_title_block_above_the_header(tmp_path):
    cfg = write_config(tmp_path, [source(format="xlsx", path="in/*.xlsx")])
    path = write_xlsx(tmp_path / "in/a.xlsx", [
        ["Purchase card spend, January"], [], ["date", "amount", "payee", "card"],
        ["2024-01-02", 12.5, "Coffee", "1111"],
        ["2024-01-03", 1667, "Freelance", 2222],
        ["bad date", 1, "Shop", "1111"],
    ])
    result = one(cfg, path)
    assert (result.loaded, result.rejected) == (2, 1)
    assert ledger(cfg) == [("2024-01-02", Decimal("12.50"), "Coffee", "1111", 4),
                           ("2024-01-03", Decimal("1667.00"), "Freelance", "2222", 5)]
    assert query(cfg, "SELECT source_row FROM rejected_rows") == [(6,)]


def test_xlsx_sheet_by_name(tmp_path):
    cfg = write_config(tmp_path, [source(format="xlsx", path="in/*.xlsx", sheet="Spend")])
    write_xlsx(tmp_path / "in/a.xlsx", [HEADER_ROW, ["2024-01-02", 1, "x", "1"]], sheet="Spend")
    (result,) = ingest(cfg)
    assert result.loaded == 1


def test_xlsx_missing_sheet_names_the_sheets(tmp_path):
    cfg = write_config(tmp_path, [source(format="xlsx", path="in/*.xlsx", sheet="Nope")])
    write_xlsx(tmp_path / "in/a.xlsx", [HEADER_ROW], sheet="Spend")
    (result,) = ingest(cfg)
    assert result.status == "error" and "Spend" in result.message and "Nope" in result.message


def test_format_auto_detects_from_content(tmp_path):
    cfg = write_config(tmp_path, [source(format="auto", path="in/*")])
    write_csv(tmp_path / "in/a.txt", ROWS)
    write_xlsx(tmp_path / "in/b.dat", [HEADER_ROW, ["2024-02-01", 5, "y", "9"]])
    results = ingest(cfg)
    assert [(r.format, r.loaded) for r in results] == [("csv", 3), ("xlsx", 1)]


# --- the ledger: signs, debit/credit, currency, money type --------------------------------

def test_amount_is_decimal_not_float(tmp_path, cfg):
    rows = [["2024-01-02", "0.10", "x", "1"]] * 10 + [["2024-01-03", "0.20", "y", "1"]]
    one(cfg, write_csv(tmp_path / "in/a.csv", rows))
    (kind,) = query(cfg, "SELECT data_type FROM information_schema.columns "
                         "WHERE table_name = 'transactions' AND column_name = 'amount'")[0]
    assert kind == "DECIMAL(18,2)"
    assert query(cfg, "SELECT sum(amount) FROM transactions") == [(Decimal("1.20"),)]


def test_negative_charges_are_flipped(tmp_path):
    cfg = write_config(tmp_path, [source(charges="negative")])
    one(cfg, write_csv(tmp_path / "in/a.csv", [["2024-01-02", "-25.00", "Shop", "1"],
                                               ["2024-01-03", "5.00", "Refund", "1"]]))
    assert [r[1] for r in ledger(cfg)] == [Decimal("25.00"), Decimal("-5.00")]


def test_debit_and_credit_columns(tmp_path):
    columns = {"posted_at": "date", "debit": "out", "credit": "in", "counterparty": "payee"}
    cfg = write_config(tmp_path, [source(columns=columns, account="main")])
    header = ["date", "out", "in", "payee"]
    rows = [["2024-01-02", "10.00", "", "Shop"], ["2024-01-03", "", "4.00", "Refund"],
            ["2024-01-04", "", "", "Nothing"]]
    result = one(cfg, write_csv(tmp_path / "in/a.csv", rows, header=header))
    assert (result.loaded, result.rejected) == (2, 1)
    assert query(cfg, "SELECT amount, account FROM transactions ORDER BY source_row") == [
        (Decimal("10.00"), "main"), (Decimal("-4.00"), "main")]


def test_currency_column_and_constant(tmp_path):
    columns = dict(source()["columns"], currency="ccy")
    cfg = write_config(tmp_path, [source(columns=columns)])
    rows = [["2024-01-02", "1", "x", "1", "eur"], ["2024-01-02", "2", "y", "1", ""],
            ["2024-01-02", "3", "z", "1", "EURO"]]
    result = one(cfg, write_csv(tmp_path / "in/a.csv", rows, header=HEADER_ROW + ["ccy"]))
    assert (result.loaded, result.rejected) == (2, 1)
    assert query(cfg, "SELECT currency FROM transactions ORDER BY source_row") == [("EUR",),
                                                                                  ("GBP",)]


def test_mapped_names_match_case_and_spacing_insensitively(tmp_path):
    columns = {"posted_at": "Trans Date", "amount": "AMOUNT", "account": "card"}
    cfg = write_config(tmp_path, [source(columns=columns)])
    header = ["trans  date", "Amount", " Card "]
    one(cfg, write_csv(tmp_path / "in/a.csv", [["2024-01-02", "1", "9"]], header=header))
    assert query(cfg, "SELECT account FROM transactions") == [("9",)]


# --- exactly once ------------------------------------------------------------------------

def test_same_file_again_adds_nothing(tmp_path, cfg):
    path = write_csv(tmp_path / "in/a.csv", ROWS)
    first = one(cfg, path)
    again = one(cfg, path)
    copy = write_csv(tmp_path / "elsewhere/a-copy.csv", ROWS)
    third = one(cfg, copy, source_name="cards")
    assert first.loaded == 3
    assert (again.status, again.loaded, again.file_id) == ("unchanged", 0, first.file_id)
    assert third.status == "unchanged"
    assert query(cfg, "SELECT count(*) FROM transactions") == [(3,)]
    assert query(cfg, "SELECT count(*) FROM files") == [(1,)]


def _numbered(first: int, last: int) -> list[list]:
    return [[f"2024-01-{i:02d}", f"{i}.00", f"Payee {i}", "1111", f"T{i:04d}"]
            for i in range(first, last + 1)]


def test_overlapping_exports_with_txn_id(tmp_path):
    columns = dict(source()["columns"], txn_id="ref")
    cfg = write_config(tmp_path, [source(columns=columns)])
    header = HEADER_ROW + ["ref"]
    a = one(cfg, write_csv(tmp_path / "in/jan-a.csv", _numbered(1, 20), header=header))
    b = one(cfg, write_csv(tmp_path / "in/jan-b.csv", _numbered(11, 30), header=header))
    assert (a.loaded, a.duplicates) == (20, 0)
    assert (b.rows_read, b.loaded, b.duplicates) == (20, 10, 10)
    assert query(cfg, "SELECT count(*), count(DISTINCT txn_id) FROM transactions") == [(30, 30)]


@pytest.mark.parametrize("order", ["rising", "falling", "shuffled"])
def test_distinct_txn_ids_in_any_order_all_load(tmp_path, order):
    columns = dict(source()["columns"], txn_id="ref")
    cfg = write_config(tmp_path, [source(columns=columns)])
    rows = _numbered(1, 28)
    rows = {"rising": rows, "falling": rows[::-1], "shuffled": rows[1::2] + rows[::2]}[order]
    result = one(cfg, write_csv(tmp_path / "in/a.csv", rows, header=HEADER_ROW + ["ref"]))
    assert (result.loaded, result.duplicates) == (28, 0)


@pytest.mark.parametrize("repeat_at", [0, 5, 27])
def test_a_repeat_breaks_the_sorted_shortcut(tmp_path, repeat_at):
    columns = dict(source()["columns"], txn_id="ref")
    cfg = write_config(tmp_path, [source(columns=columns)])
    rows = _numbered(1, 28)
    rows.insert(repeat_at + 1, list(rows[repeat_at]))      # next to its twin: still "sorted"
    result = one(cfg, write_csv(tmp_path / "in/a.csv", rows, header=HEADER_ROW + ["ref"]))
    assert (result.loaded, result.duplicates) == (28, 1)


def test_repeated_txn_id_inside_one_file_loads_once(tmp_path):
    columns = dict(source()["columns"], txn_id="ref")
    cfg = write_config(tmp_path, [source(columns=columns)])
    rows = _numbered(1, 3) + _numbered(2, 2) + _numbered(4, 4)
    result = one(cfg, write_csv(tmp_path / "in/a.csv", rows, header=HEADER_ROW + ["ref"]))
    assert (result.loaded, result.duplicates) == (4, 1)
    # The first occurrence is the one kept.
    assert query(cfg, "SELECT source_row FROM transactions WHERE txn_id = 'T0002'") == [(3,)]


@pytest.mark.parametrize("ref_is", ["txn_id", "description"])
def test_rows_of_a_file_read_in_parallel_keep_their_file_row(tmp_path, ref_is):
    """A file large enough for DuckDB to read on several threads: every row, loaded or
    set aside, is numbered by its line in the file. (A join in the normalising query,
    DuckDB's rewrite of list_contains, once gave 1.86M of 2M rows another row's number.)"""
    columns = dict(source()["columns"], **{ref_is: "ref"})
    cfg = write_config(tmp_path, [source(columns=columns)])
    path = tmp_path / "in/big.csv"
    path.parent.mkdir(parents=True)
    bad = {150_000: "'abc'", 199_990: "'1.234'"}        # not a number; too many decimals
    amount = ("CASE i " + " ".join(f"WHEN {i} THEN {v}" for i, v in bad.items())
              + " ELSE (i % 997)::VARCHAR || '.25' END")
    duckdb.connect().execute(
        f"COPY (SELECT '2024-01-02' AS date, {amount} AS amount, 'Shop ' || (i % 50) AS payee, "
        f"'1111' AS card, 'T' || lpad(i::VARCHAR, 7, '0') AS ref, repeat('x', 80) AS note "
        f"FROM range(200000) r(i)) TO '{path}' (HEADER)")      # 24 MB: several reader threads
    result = one(cfg, path)
    assert (result.loaded, result.rejected) == (199_998, 2)
    # Row i is the file's line i + 2 (the header is line 1).
    assert query(cfg, f"SELECT count(*) FROM transactions "
                      f"WHERE source_row <> {ref_is}[2:]::BIGINT + 2") == [(0,)]
    rejects = query(cfg, "SELECT source_row, reason FROM rejected_rows ORDER BY 1")
    assert [row for row, _ in rejects] == [150_002, 199_992]
    assert rejects[0][1].startswith("amount 'abc'") and rejects[1][1].startswith("amount '1.234'")


def test_lines_the_reader_cannot_split_are_set_aside_and_the_rest_keep_their_line(tmp_path, cfg):
    """Lines with too many or too few fields are set aside by the CSV reader itself; the
    rows around them are renumbered so that each keeps its line in the file."""
    lines = ["date,amount,payee,card"] + [f"2024-01-{d:02d},{d}.00,P{d},c1" for d in range(1, 28)]
    lines[5] += ",EXTRA,MORE"
    lines[9] = "2024-01-09,9.00"
    path = tmp_path / "in/a.csv"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = one(cfg, path)
    assert (result.loaded, result.rejected) == (25, 2)
    rejects = query(cfg, "SELECT source_row, reason FROM rejected_rows ORDER BY 1")
    assert [row for row, _ in rejects] == [6, 10]
    assert all(reason.startswith("cannot split the line into columns") for _, reason in rejects)
    # P<d> is on line d + 1 of the file
    assert query(cfg, "SELECT count(*) FROM transactions "
                      "WHERE source_row <> counterparty[2:]::INTEGER + 1") == [(0,)]

def test_overlapping_exports_without_txn_id(tmp_path, cfg):
    rows = [r[:4] for r in _numbered(1, 30)]
    a = one(cfg, write_csv(tmp_path / "in/a.csv", rows[:20]))
    b = one(cfg, write_csv(tmp_path / "in/b.csv", rows[10:]))
    assert (a.loaded, b.loaded, b.duplicates) == (20, 10, 10)
    assert query(cfg, "SELECT count(*) FROM transactions") == [(30,)]


def test_identical_rows_in_one_export_are_separate_transactions(tmp_path, cfg):
    coffee = ["2024-01-02", "3.10", "Coffee", "1111"]
    a = one(cfg, write_csv(tmp_path / "in/a.csv", [coffee, coffee, ROWS[1]]))
    # A later export repeats both coffees and adds a third one.
    b = one(cfg, write_csv(tmp_path / "in/b.csv", [coffee, ROWS[1], coffee, coffee]))
    assert (a.loaded, a.duplicates) == (3, 0)
    assert (b.loaded, b.duplicates) == (1, 3)
    assert query(cfg, "SELECT count(*) FROM transactions WHERE counterparty = 'Coffee'") == [(3,)]


def test_derived_ids_are_stable(tmp_path):
    rows = [r[:4] for r in _numbered(1, 12)] + [["2024-01-02", "3.10", "Coffee", "1111"]] * 3
    ids = []
    for run in range(2):
        cfg = write_config(tmp_path / f"run{run}")
        # Same rows, different file name and different order of unrelated rows.
        ordered = rows if run == 0 else rows[12:] + rows[:12][::-1]
        one(cfg, write_csv(tmp_path / f"run{run}/in/export{run}.csv", ordered))
        ids.append(query(cfg, "SELECT txn_id, amount, counterparty FROM transactions "
                              "ORDER BY txn_id"))
    assert ids[0] == ids[1]
    assert len({i for i, _, _ in ids[0]}) == 15


def test_derived_id_ignores_surrounding_whitespace_and_number_style(tmp_path):
    ids = []
    for run, row in enumerate([["2024-01-13", "1234.50", "Shop", "1"],
                               [" 13/01/2024 ", "1,234.50", " Shop ", "1"]]):
        cfg = write_config(tmp_path / f"run{run}")
        one(cfg, write_csv(tmp_path / f"run{run}/in/a.csv", [row]))
        ids.append(query(cfg, "SELECT txn_id FROM transactions"))
    assert ids[0] == ids[1]


# --- bad rows and bad files ----------------------------------------------------------------

def test_garbage_rows_are_set_aside_and_the_rest_load(tmp_path, cfg):
    path = tmp_path / "in/a.csv"
    path.parent.mkdir()
    path.write_text(
        "date,amount,payee,card\n"
        "2024-01-02,10.00,Good one,1\n"         # row 2
        "not a date,10.00,Bad date,1\n"         # row 3
        "2024-01-03,ten,Bad amount,1\n"         # row 4
        "2024-01-04,,No amount,1\n"             # row 5
        ",5.00,No date,1\n"                     # row 6
        "2024-01-05,5.00,No card,\n"            # row 7
        "2024-01-06,6.00,Too,many,fields\n"     # row 8
        "garbage\n"                             # row 9
        "2024-01-07,7.00,Good two,1\n",         # row 10
        encoding="utf-8")
    result = one(cfg, path)
    assert (result.rows_read, result.loaded, result.rejected) == (9, 2, 7)
    assert "row 3" in result.message
    assert [r[4] for r in ledger(cfg)] == [2, 10]
    rejects = query(cfg, "SELECT r.source_row, f.path, r.reason, r.raw FROM rejected_rows r "
                         "JOIN files f USING (file_id) ORDER BY r.source_row")
    assert [r[0] for r in rejects] == [3, 4, 5, 6, 7, 8, 9]
    assert {r[1] for r in rejects} == {str(path)}
    reasons = {r[0]: r[2] for r in rejects}
    assert "not a date" in reasons[3] and "date_format" in reasons[3]
    assert "'ten'" in reasons[4] and "not a number" in reasons[4]
    assert "no amount" in reasons[5]
    assert "no date" in reasons[6]
    assert "no account" in reasons[7]
    assert "columns" in reasons[8] and "columns" in reasons[9]
    raws = {r[0]: r[3] for r in rejects}
    assert "Bad date" in raws[3] and "ten" in raws[4]
    assert raws[8] == "2024-01-06,6.00,Too,many,fields" and raws[9] == "garbage"


def test_reject_numbering_after_multiline_fields(tmp_path, cfg):
    path = tmp_path / "in/a.csv"
    path.parent.mkdir()
    path.write_text('date,amount,payee,card\n2024-01-02,1,"two\nlines",1\n2024-01-03,2,x,1,extra\n'
                    "2024-01-04,3,y,1\nshort\n2024-01-05,4,z,1\n", encoding="utf-8")
    result = one(cfg, path)
    assert (result.rows_read, result.loaded, result.rejected) == (5, 3, 2)
    assert [r[4] for r in ledger(cfg)] == [2, 4, 6]
    assert query(cfg, "SELECT source_row FROM rejected_rows ORDER BY 1") == [(3,), (5,)]


def test_rejected_rows_of_a_file_are_not_stored_twice(tmp_path, cfg):
    path = write_csv(tmp_path / "in/a.csv", [["x", "1", "a", "1"]])
    one(cfg, path)
    one(cfg, path)
    assert query(cfg, "SELECT count(*) FROM rejected_rows") == [(1,)]


def test_blank_txn_id_rows_are_rejected_when_ids_are_mapped(tmp_path):
    columns = dict(source()["columns"], txn_id="ref")
    cfg = write_config(tmp_path, [source(columns=columns)])
    rows = [["2024-01-02", "5", "x", "1", "A1"], ["", "5", "", "", ""],
            ["2024-01-03", "7", "y", "1", "  "]]
    result = one(cfg, write_csv(tmp_path / "in/a.csv", rows, header=HEADER_ROW + ["ref"]))
    assert (result.loaded, result.rejected) == (1, 2)
    reasons = [r for (r,) in query(cfg, "SELECT reason FROM rejected_rows")]
    assert all("no transaction id in column 'ref'" in r for r in reasons)


def test_missing_mapped_column_fails_that_file_only(tmp_path, cfg):
    good = write_csv(tmp_path / "in/a-good.csv", ROWS)
    bad = write_csv(tmp_path / "in/b-bad.csv", [["2024-01-02", "1", "x", "1"]],
                    header=["date", "amt", "payee", "card"])
    later = write_csv(tmp_path / "in/c-good.csv", [["2024-02-01", "2", "y", "1"]])
    results = ingest(cfg)
    assert [r.status for r in results] == ["loaded", "error", "loaded"]
    message = results[1].message
    assert "\n" not in message
    assert str(bad) in message and "'amount'" in message
    assert "sources.cards.columns.amount" in message        # the fix: which key to change
    assert "date, amt, payee, card" in message               # and what it could be
    assert query(cfg, "SELECT count(*) FROM transactions") == [(4,)]
    assert query(cfg, "SELECT path, status FROM files ORDER BY file_id") == [
        (str(good), "loaded"), (str(bad), "error"), (str(later), "loaded")]


def test_missing_mapped_column_exit_code_via_cli(tmp_path, cfg):
    write_csv(tmp_path / "in/a.csv", ROWS)
    write_csv(tmp_path / "in/b.csv", [["2024-01-02", "1", "x"]], header=["date", "amt", "payee"])
    proc = monitor("--config", str(cfg), "ingest", "--format", "json")
    assert proc.returncode == 2, proc.stderr
    files = json.loads(proc.stdout)["files"]
    assert [(f["status"], f["loaded"]) for f in files] == [("loaded", 3), ("error", 0)]
    text = monitor("--config", str(cfg), "ingest", str(tmp_path / "in/b.csv"))
    line = assert_one_line_error(text)
    assert "b.csv" in line and "'amount'" in line and "sources.cards.columns.amount" in line


def test_retried_bad_file_keeps_one_error_row(tmp_path, cfg):
    path = write_csv(tmp_path / "in/a.csv", [["2024-01-02", "1", "x"]],
                     header=["date", "amt", "payee"])
    ingest(cfg, [path])
    ingest(cfg, [path])
    assert query(cfg, "SELECT count(*) FROM files WHERE status = 'error'") == [(1,)]
    # Once fixed, it loads.
    write_csv(path, ROWS)
    assert one(cfg, path).loaded == 3


def test_empty_and_header_only_files(tmp_path, cfg):
    empty = tmp_path / "in/a.csv"
    empty.parent.mkdir()
    empty.write_bytes(b"")
    write_csv(tmp_path / "in/b.csv", [])         # a header and no rows
    results = ingest(cfg)
    for result in results:
        assert_identity(result)
    assert results[0].status == "error" and "empty" in results[0].message
    assert (results[1].status, results[1].rows_read) == ("loaded", 0)


def test_file_matching_no_source_is_an_error_not_a_guess(tmp_path, cfg):
    path = write_csv(tmp_path / "elsewhere/a.csv", ROWS)
    (result,) = ingest(cfg, [path])
    assert result.status == "error" and "--source" in result.message


def test_binary_garbage_file_fails_alone(tmp_path, cfg):
    (tmp_path / "in").mkdir()
    (tmp_path / "in/a.csv").write_bytes(bytes(range(256)) * 4)
    write_csv(tmp_path / "in/b.csv", ROWS)
    results = ingest(cfg)
    assert results[0].status == "error" and "\n" not in results[0].message
    assert results[1].loaded == 3


def test_single_quotes_in_fields_are_text_not_quoting(tmp_path, cfg):
    # Found by Hypothesis: two payees named "'" once made the sniffer take ' as the quote
    # character and silently merge the rows between them into one field.
    rows = [["2024-03-01", "1.00", "A", "1"], ["2024-03-01", "1.00", "'", "1"],
            ["2024-03-02", "2.00", "Macy's", "1"], ["2024-03-03", "3.00", "'", "1"],
            ["2024-03-04", "4.00", "O'Neil's 'Bar'", "1"]]
    result = one(cfg, write_csv(tmp_path / "in/a.csv", rows))
    assert (result.rows_read, result.loaded) == (5, 5)
    assert [r[2] for r in ledger(cfg)] == ["A", "'", "Macy's", "'", "O'Neil's 'Bar'"]
