"""Every real public ledger in ../shared/data/ledgers/ ingests, with exact counts.

Counts are checked against the files themselves, read independently here with the
csv module or calamine: rows_read is the file's number of data rows and every row
is loaded, a duplicate or rejected with a reason. Skipped when ../shared is absent.
"""
from __future__ import annotations

import csv
import gzip
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from helpers import LEDGERS, SHARED, assert_identity, ingest, query, write_config

pytestmark = pytest.mark.skipif(not LEDGERS.is_dir(),
                                reason=f"shared ledgers not found at {SHARED}")

BIRMINGHAM_CSV = LEDGERS / "birmingham_cc_purchase_cards_2014-04_2018-01.csv.gz"
BIRMINGHAM_XLS = LEDGERS / "birmingham_original_xls"
TORONTO = LEDGERS / "toronto_pcard_expenses_2017-11.xlsx"
HOME_OFFICE = LEDGERS / "uk_home_office_gpc_over_500_2020_cleaned.csv"
OXFORD_GPC = LEDGERS / "oxford_city_council_gpc"
OXFORD_OLD_LAYOUT = OXFORD_GPC / "procurement-card-spending-jan-mar-2017.csv"
OXFORD_500 = LEDGERS / "oxford_city_council_spend_over_500"


def csv_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def money(text: str) -> Decimal:
    return Decimal(text.replace(",", "").strip())


def sheet_rows(path: Path, sheet=0) -> list[tuple]:
    import fastexcel
    frame = fastexcel.read_excel(str(path)).load_sheet(sheet, header_row=None, dtypes="string")
    return frame.to_polars().rows()


def load(tmp_path: Path, sources: list[dict], paths=None, source_name=None):
    cfg = write_config(tmp_path, sources)
    # --complete: a fresh copy of ../shared has new times, and some of these files
    # (Oxford's) never end their last line; they are finished, as a person would vouch.
    results = ingest(cfg, paths, source_name, complete=True)
    for result in results:
        assert result.status == "loaded", result.message
        assert_identity(result)
    return cfg, results


BIRMINGHAM = {"name": "birmingham", "format": "auto", "charges": "positive",
              "path": str(BIRMINGHAM_CSV),
              "currency": "GBP", "date_format": "%Y-%m-%d",
              "columns": {"posted_at": "trans_date", "amount": "amount_gbp",
                          "counterparty": "merchant_name", "account": "card_number_masked",
                          "description": "trans_cac_desc_1", "reference": "source_file"}}


def test_birmingham_csv_gz_every_row(tmp_path):
    header, rows = csv_rows(BIRMINGHAM_CSV)
    assert len(rows) == 181_335
    cfg, (result,) = load(tmp_path, [BIRMINGHAM])
    assert (result.rows_read, result.loaded, result.duplicates, result.rejected) == (
        181_335, 181_335, 0, 0)
    amount = header.index("amount_gbp")
    expected = sum(money(r[amount]) for r in rows)
    assert query(cfg, "SELECT sum(amount), count(DISTINCT account), count(DISTINCT txn_id) "
                      "FROM transactions") == [(expected, 1_523, 181_335)]
    # Rows identical in every mapped column stay separate transactions (ids key.1, key.2).
    mapped = Counter((r[0], r[amount], r[1], r[2], r[11], r[16]) for r in rows)
    repeats = sum(n - 1 for n in mapped.values())
    assert query(cfg, "SELECT count(*) FROM transactions WHERE NOT ends_with(txn_id, '.1')") == [
        (repeats,)]
    # Again: nothing new, and the same content gives the same ids in a fresh ledger.
    (again,) = ingest(cfg)
    assert again.status == "unchanged"
    ids = query(cfg, "SELECT md5(string_agg(txn_id, ',' ORDER BY txn_id)) FROM transactions")
    cfg2, _ = load(tmp_path / "second", [BIRMINGHAM])
    assert query(cfg2, "SELECT md5(string_agg(txn_id, ',' ORDER BY txn_id)) "
                       "FROM transactions") == ids


XLS = {"name": "birmingham_xls", "format": "xlsx", "charges": "positive",
       "path": str(BIRMINGHAM_XLS / "*.xls"),
       "currency": "GBP",
       "columns": {"posted_at": "TRANS DATE", "amount": "ORIGINAL GROSS AMT",
                   "counterparty": "MERCHANT NAME", "account": "CARD NUMBER",
                   "description": "TRANS CAC DESC 1"}}


@pytest.mark.parametrize("name, rows", [
    ("purchasecardtransactionsapril2014.xls", 2_690),
    ("cusersfinainmndesktoppublish-spend-january-2018.xls", 5_640),
])
def test_birmingham_original_xls_workbooks(tmp_path, name, rows):
    path = BIRMINGHAM_XLS / name
    assert len(sheet_rows(path)) - 1 == rows
    # The merged CSV holds the same publication; both readings must agree row for row.
    source = dict(BIRMINGHAM, path=str(BIRMINGHAM_CSV))
    cfg, (result,) = load(tmp_path, [source, XLS], [path], "birmingham_xls")
    assert (result.rows_read, result.loaded, result.rejected) == (rows, rows, 0)
    ingest(cfg, [BIRMINGHAM_CSV], "birmingham")
    shape = ("SELECT posted_at, amount, counterparty, account, count(*) FROM transactions "
             "WHERE source = ? {} GROUP BY ALL ORDER BY ALL")
    from_xls = query(cfg, shape.format(""), ["birmingham_xls"])
    from_csv = query(cfg, shape.format("AND reference = ?"), ["birmingham", name])
    assert len(from_xls) > 1000 and from_xls == from_csv


def test_toronto_xlsx_subtotal_rows_are_rejected_not_loaded(tmp_path):
    sheet = sheet_rows(TORONTO)
    header, body = sheet[0], sheet[1:]
    assert len(body) == 6_098
    id_col, amount_col = header.index("Batch Transaction ID"), header.index("Transaction Amt.")
    items = [r for r in body if r[id_col]]
    assert len(items) == 4_823
    source = {"name": "toronto", "format": "xlsx", "charges": "positive",
              "path": str(TORONTO), "currency": "CAD",
              "account": "city-of-toronto",
              "columns": {"txn_id": "Batch Transaction ID", "posted_at": "Transaction Date",
                          "amount": "Transaction Amt.", "counterparty": "Merchant Name",
                          "mcc": "Merchant Type", "description": "Purpose",
                          "initiator": "Division"}}
    cfg, (result,) = load(tmp_path, [source])
    assert (result.rows_read, result.loaded, result.duplicates, result.rejected) == (
        6_098, 4_823, 0, 1_275)
    assert query(cfg, "SELECT sum(amount), count(DISTINCT txn_id) FROM transactions") == [
        (sum(money(r[amount_col]) for r in items), 4_823)]
    reasons = query(cfg, "SELECT reason, count(*) FROM rejected_rows GROUP BY reason")
    assert reasons == [("no transaction id in column 'Batch Transaction ID' "
                        "(a subtotal or blank row?)", 1_275)]
    # Rejected rows keep their spreadsheet row number and their text.
    first_subtotal = next(i for i, r in enumerate(body) if not r[id_col]) + 2
    assert query(cfg, "SELECT min(source_row), bool_and(raw LIKE '%\"Original Amount\":%') "
                      "FROM rejected_rows") == [(first_subtotal, True)]


def test_home_office_csv(tmp_path):
    header, rows = csv_rows(HOME_OFFICE)
    assert len(rows) == 872
    source = {"name": "home_office", "format": "csv", "charges": "positive",
              "path": str(HOME_OFFICE),
              "currency": "GBP", "account": "home-office-gpc",
              "columns": {"posted_at": "Date", "amount": "Amount", "counterparty": "Supplier"}}
    cfg, (result,) = load(tmp_path, [source])
    assert (result.rows_read, result.loaded, result.rejected) == (872, 872, 0)
    assert query(cfg, "SELECT sum(amount) FROM transactions") == [
        (sum(money(r[1]) for r in rows),)]


# Both layouts share a name pattern: the first source whose glob matches a file reads it.
OXFORD_NEW = {"name": "oxford_gpc", "format": "csv", "charges": "positive",
              "path": str(OXFORD_GPC / "procurement-card-spending-*.csv"),
              "currency": "GBP", "account": "oxford-gpc", "date_format": "%d/%m/%Y",
              "columns": {"posted_at": "FIN.TRANSACTION DATE", "amount": "FIN.TRANSACTION AMOUNT",
                          "counterparty": "MCH.MERCHANT NAME"}}
OXFORD_OLD = {"name": "oxford_gpc_2017q1", "format": "csv", "charges": "positive",
              "path": str(OXFORD_OLD_LAYOUT),
              "currency": "GBP", "account": "oxford-gpc", "date_format": "%d/%m/%Y",
              "columns": {"txn_id": "Reference", "posted_at": "Date", "amount": "Value",
                          "counterparty": "Merchant", "description": "Transaction description",
                          "reference": "Transaction description 2"}}


def test_every_oxford_gpc_csv_both_layouts(tmp_path):
    files = sorted(OXFORD_GPC.glob("*.csv"))
    assert len(files) == 9
    cfg, results = load(tmp_path, [OXFORD_OLD, OXFORD_NEW])
    assert sorted(Path(r.path) for r in results) == files
    expected_total = Decimal(0)
    for result in results:
        header, rows = csv_rows(Path(result.path))
        assert result.rows_read == len(rows) and result.rejected == 0, result
        amount = header.index("Value" if "Value" in header else "FIN.TRANSACTION AMOUNT")
        if result.source == "oxford_gpc_2017q1":
            # The publication repeats some rows; a repeated Reference is the same charge.
            first = {}
            for row in rows:
                first.setdefault(row[1], row)
            assert all(row == first[row[1]] for row in rows)
            assert (result.loaded, result.duplicates) == (len(first), len(rows) - len(first))
            assert (result.loaded, result.duplicates) == (1_109, 32)
            expected_total += sum(money(r[amount]) for r in first.values())
        else:
            assert (result.loaded, result.duplicates) == (len(rows), 0)
            expected_total += sum(money(r[amount]) for r in rows)
    assert sum(r.rows_read for r in results) == 3_227 + 1_141
    # Amounts such as "1,234.00" are read with their thousands separators.
    assert query(cfg, "SELECT sum(amount), max(amount) > 1000 FROM transactions") == [
        (expected_total, True)]


def test_oxford_spend_over_500(tmp_path):
    source = {"name": "oxford_500", "format": "csv", "charges": "positive",
              "path": str(OXFORD_500 / "*.csv"),
              "currency": "GBP", "account": "oxford-city-council", "date_format": "%d/%m/%Y",
              "columns": {"txn_id": "Trans No", "posted_at": "Paid Date", "amount": "Amount",
                          "counterparty": "Supplier Name", "counterparty_account": "Supplier ID",
                          "description": "Expenditure Catergory",
                          "reference": "Expenditure Code"}}
    cfg, results = load(tmp_path, [source])
    assert [(Path(r.path).name, r.rows_read, r.loaded) for r in results] == [
        ("expenditure-over-500-jan-mar-2018.csv", 1_220, 1_220),
        ("expenditure-over-500-oct-dec-2016.csv", 3_847, 3_847)]
    rows = [r for p in sorted(OXFORD_500.glob("*.csv")) for r in csv_rows(p)[1]]
    first_day = min("-".join(reversed(r[4].split("/"))) for r in rows)
    assert query(cfg, "SELECT sum(amount), count(*) FILTER (counterparty IS NULL), "
                      "min(posted_at)::VARCHAR FROM transactions") == [
        (sum(money(r[6]) for r in rows), sum(1 for r in rows if not r[9].strip()), first_day)]


def test_all_ledgers_into_one_database(tmp_path):
    """The whole shared folder in one ledger, as a finance team would load it."""
    sources = [BIRMINGHAM, XLS, OXFORD_OLD, OXFORD_NEW,
               {"name": "home_office", "format": "csv", "charges": "positive",
                "path": str(HOME_OFFICE),
                "currency": "GBP", "account": "home-office-gpc",
                "columns": {"posted_at": "Date", "amount": "Amount", "counterparty": "Supplier"}}]
    cfg, results = load(tmp_path, sources)
    assert len(results) == 1 + 2 + 9 + 1
    assert sum(r.rows_read for r in results) == 181_335 + 2_690 + 5_640 + 3_227 + 1_141 + 872
    assert query(cfg, "SELECT count(*) FROM transactions") == [
        (sum(r.loaded for r in results),)]
