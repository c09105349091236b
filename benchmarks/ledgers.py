"""The real multi-month ledgers the detection benchmark replays, each as its own source.

Each ledger keeps its own meaning of "account" (a card, a cost code many people share, a
cardholder within a managing unit, the whole card programme) and its own file format:
stolen charges are written as one more export of the same source, in that source's
columns, date format and money format, so they go through the same ingest as the
honest rows. Files are read from ../shared/data and never copied into the repository
(two of them must not be: see ../shared/data/SOURCES.md).
"""
from __future__ import annotations

import csv
import datetime as dt
import gzip
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


@dataclass(frozen=True)
class Ledger:
    name: str
    files: tuple[Path, ...]       # honest exports, ingested in this order
    sources: tuple[dict, ...]     # config sources; the first reads the injected thefts
    header: tuple[str, ...]       # the injected file's columns (the first source's layout)
    date_format: str              # strftime of the injected dates
    money: str                    # "plain" (1234.56), "comma" (1234,56), "us_comma" ($1.234,56)
    currency: str
    account_meaning: str
    replay: tuple[dt.date, dt.date]   # backtest window; earlier history warms baselines up
    tag_column: str | None = None     # a column mapped to `reference`: unique per stolen row,
    # so a stolen charge never shares a content id with an honest one
    constant: dict = field(default_factory=dict)   # fixed values of other columns
    # One account only: thefts of several kinds would share it and be caught through each
    # other's charges, so each kind gets its own replay.
    separate: bool = False

    def available(self) -> bool:
        return all(p.exists() for p in self.files)

    def months(self) -> float:
        start, end = self.replay
        return ((end - start).days + 1) / 30.44

    def amount_text(self, amount: Decimal) -> str:
        text = f"{amount:.2f}"
        if self.money == "plain":
            return text
        if self.money == "comma":
            return text.replace(".", ",")
        sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
        whole, cents = digits.split(".")
        grouped = f"{int(whole):,}".replace(",", ".")
        return f"{sign}${grouped},{cents}"

    def row(self, day: dt.date, account: str, payee: str, amount: Decimal, tag: str) -> list:
        """One stolen charge as a row of this ledger's export."""
        columns = self.sources[0]["columns"]
        values = dict(self.constant)
        values[columns["posted_at"]] = day.strftime(self.date_format)
        values[columns["amount"]] = self.amount_text(amount)
        values[columns["counterparty"]] = payee
        if "account" in columns:
            values[columns["account"]] = account
        if self.tag_column:
            values[self.tag_column] = tag
        return [values.get(c, "") for c in self.header]

    def write(self, path: Path, charges) -> None:
        with open(path, "w", newline="", encoding="utf-8") as f:
            out = csv.writer(f)
            out.writerow(self.header)
            for c in charges:
                out.writerow(self.row(c.day, c.account, c.payee, c.amount, c.tag))


def file_header(path: Path) -> tuple[str, ...]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as f:
        return tuple(next(csv.reader(f)))


BIRMINGHAM_FILE = DATA / "ledgers" / "birmingham_cc_purchase_cards_2014-04_2018-01.csv.gz"
CALDERDALE_FILE = DATA / "ledgers" / "calderdale_card_2014-10_2022-08.csv.gz"
BRAZIL_FILE = DATA / "ledgers-shared-only" / "cpgf_brazil_2022-2026_partial.csv.gz"
US2010_FILE = DATA / "ledgers-shared-only" / "nigrini_purchasing_cards_2010.csv.gz"
OXFORD_DIR = DATA / "ledgers" / "oxford_city_council_gpc"
OXFORD_OLD = OXFORD_DIR / "procurement-card-spending-jan-mar-2017.csv"


def _oxford_files() -> tuple[Path, ...]:
    return (OXFORD_OLD, *sorted(p for p in OXFORD_DIR.glob("procurement-card-spending-*.csv")
                                if p != OXFORD_OLD))


def _source(name, path, currency, columns, date_format=None, **keys) -> dict:
    source = {"name": name, "format": "csv", "path": str(path), "currency": currency,
              "charges": "positive", "columns": columns, **keys}
    if date_format:
        source["date_format"] = date_format
    return source


def ledgers() -> dict[str, Ledger]:
    """Every multi-month ledger, by name. Column mappings as in tests/test_real_ledgers.py
    and ../shared/data/SOURCES.md."""
    brazil_columns = {"posted_at": "DATA TRANSAÇÃO", "amount": "VALOR TRANSAÇÃO",
                      "counterparty": "NOME FAVORECIDO", "account": "account",
                      "reference": "source_file"}
    oxford_new = {"posted_at": "FIN.TRANSACTION DATE", "amount": "FIN.TRANSACTION AMOUNT",
                  "counterparty": "MCH.MERCHANT NAME"}
    found = [
        Ledger("birmingham", (BIRMINGHAM_FILE,),
               (_source("birmingham", BIRMINGHAM_FILE, "GBP", {
                   "posted_at": "trans_date", "amount": "amount_gbp",
                   "counterparty": "merchant_name", "account": "card_number_masked",
                   "reference": "source_file"}, "%Y-%m-%d"),),
               (), "%Y-%m-%d", "plain", "GBP", "a card",
               (dt.date(2015, 1, 1), dt.date(2018, 1, 31)), tag_column="source_file"),
        Ledger("calderdale", (CALDERDALE_FILE,),
               (_source("calderdale", CALDERDALE_FILE, "GBP", {
                   "posted_at": "Transaction Date", "amount": "Net Amount",
                   "counterparty": "Supplier Name", "account": "account",
                   "reference": "Transaction number"}, "%Y-%m-%d"),),
               (), "%Y-%m-%d", "plain", "GBP", "a cost code shared by many cardholders",
               (dt.date(2015, 10, 1), dt.date(2022, 8, 31)), tag_column="Transaction number"),
        Ledger("brazil", (BRAZIL_FILE,),
               (_source("brazil", BRAZIL_FILE, "BRL", brazil_columns, "%d/%m/%Y"),),
               (), "%d/%m/%Y", "comma", "BRL",
               "a cardholder within a managing unit",
               (dt.date(2023, 1, 1), dt.date(2026, 1, 31)), tag_column="source_file",
               constant={"TRANSAÇÃO": "COMPRA A/V - R$ - APRES"}),
        Ledger("us2010", (US2010_FILE,),
               (_source("us2010", US2010_FILE, "USD", {
                   "posted_at": "DATE", "amount": "AMOUNT", "counterparty": "MERCHDESCRIPTION",
                   "account": "account", "reference": "MERCHNUM"}, "%d/%m/%Y"),),
               (), "%d/%m/%Y", "us_comma", "USD", "a card",
               (dt.date(2010, 4, 1), dt.date(2010, 12, 31)), tag_column="MERCHNUM",
               constant={"TRANSTYPE": "P"}),
        Ledger("oxford", _oxford_files(),
               (_source("oxford_gpc", OXFORD_DIR / "procurement-card-spending-*.csv", "GBP",
                        oxford_new, "%d/%m/%Y", account="oxford-gpc"),
                _source("oxford_gpc_2017q1", OXFORD_OLD, "GBP", {
                    "txn_id": "Reference", "posted_at": "Date", "amount": "Value",
                    "counterparty": "Merchant", "description": "Transaction description",
                    "reference": "Transaction description 2"}, "%d/%m/%Y",
                    account="oxford-gpc")),
               tuple(oxford_new.values()), "%d/%m/%Y", "plain", "GBP",
               "the whole card programme (no card is published)",
               (dt.date(2017, 4, 1), dt.date(2018, 2, 28)), separate=True),
    ]
    out = {}
    for ledger in found:
        if not ledger.header and ledger.files[0].exists():
            ledger = Ledger(**{**ledger.__dict__, "header": file_header(ledger.files[0])})
        out[ledger.name] = ledger
    return out


def source_for(ledger: Ledger, path: Path) -> str:
    """The source that reads an honest file: Oxford's first quarter has its own layout."""
    if ledger.name == "oxford" and path == OXFORD_OLD:
        return "oxford_gpc_2017q1"
    return ledger.sources[0]["name"]
