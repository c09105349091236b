"""What every bank-statement reader shares: the Collector that turns entries into
staged rows (canonical text columns), statement facts and balance checks.

Sign convention: an entry's `amount` is POSITIVE when money LEAVES the account.
Money is Decimal throughout; rows carry it as plain decimal text.
"""
from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal, InvalidOperation

from monitor.settings.config import CANONICAL_COLUMNS
from monitor.errors import InputError

ZERO = Decimal(0)
CENT = Decimal("0.01")
# References banks put where they have none; never used as transaction ids.
PLACEHOLDERS = {"", "NONREF", "NOTPROVIDED", "NOT PROVIDED", "NONE", "N/A", "NA", "0"}
FLUSH_ROWS = 200_000    # rows are turned into Arrow-backed frames in chunks of this size


def to_decimal(text) -> Decimal | None:
    """A plain decimal number ('12.50', '-3', '7,5' with a decimal comma), else None."""
    if text is None:
        return None
    text = str(text).strip().replace(",", ".")
    if not text or text.count(".") > 1:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def make_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def ref_or_none(text) -> str | None:
    text = " ".join(str(text or "").split())
    return None if text.upper() in PLACEHOLDERS else text


def _entries(count: int) -> str:
    return f"{count} entr{'y' if count == 1 else 'ies'}"


def plain(amount: Decimal) -> str:
    """Decimal as plain text, never in exponent form."""
    return format(amount, "f")


class Statement:
    """One statement (or report, notification, interim report) for one account."""

    def __init__(self, kind: str, account: str, currency: str | None, **facts):
        self.kind, self.account, self.currency = kind, account, currency
        self.reference = facts.get("reference")
        self.number = facts.get("number")
        self.page = facts.get("page")
        self.from_date = facts.get("from_date")
        self.to_date = facts.get("to_date")
        self.opening = facts.get("opening")
        self.opening_date = facts.get("opening_date")
        self.closing = facts.get("closing")
        self.closing_date = facts.get("closing_date")
        self.basis = facts.get("basis")          # why balances cannot be checked, if so
        self.credits = ZERO
        self.debits = ZERO
        self.entries = 0
        self.set_aside = 0
        self.other_currency = 0
        self.problems: list[str] = []
        self.notes: list[str] = []
        self.totals = None      # MT942: {"debits": (count, sum), "credits": (count, sum)}
        self.credit_count = 0
        self.debit_count = 0
        self.exact: list[tuple] = []   # (txn_id, exact amount, original amount, currency)

    def count(self, amount: Decimal, currency: str) -> None:
        if self.currency is None:
            self.currency = currency
        if currency != self.currency:
            self.other_currency += 1
        elif amount > 0:
            self.debits += amount
            self.debit_count += 1
        else:
            self.credits -= amount
            self.credit_count += 1

    def facts(self) -> dict:
        """The statement as a plain dict, with its balance check decided."""
        check, basis, difference = "unchecked", self.basis or "", None
        problems = list(self.problems)
        if self.totals is not None:
            basis = "interim totals: entries against the reported debit and credit sums"
            check = "ok"
            for side, (count, total) in self.totals.items():
                got = (self.debit_count, self.debits) if side == "debits" else \
                      (self.credit_count, self.credits)
                if total is not None and (got[1] != total or (count is not None and got[0] != count)):
                    check = "mismatch"
                    problems.append(f"{side}: {got[0]} entries summing {plain(got[1])} but the "
                                    f"report states {count} summing {plain(total)}")
        elif self.opening is not None and self.closing is not None:
            basis = "opening + credits - debits = closing"
            expected = self.opening + self.credits - self.debits
            difference = self.closing - expected
            check = "ok" if difference == 0 else "mismatch"
            if difference:
                problems.append(
                    f"balance mismatch: opening {plain(self.opening)} + credits "
                    f"{plain(self.credits)} - debits {plain(self.debits)} = {plain(expected)}, "
                    f"but the closing balance is {plain(self.closing)} "
                    f"(difference {plain(difference)})")
        elif not basis:
            basis = "no opening balance" if self.opening is None and self.closing is not None \
                else "no closing balance" if self.closing is None and self.opening is not None \
                else "no balances"
        if self.other_currency:
            problems.append(f"{_entries(self.other_currency)} in a currency other than "
                            f"{self.currency} are not in the balance check")
        if self.set_aside:
            problems.append(f"{_entries(self.set_aside)} set aside (see `monitor rejects`)")
        return {
            "kind": self.kind, "account": self.account, "currency": self.currency,
            "reference": self.reference, "number": self.number, "page": self.page,
            "from_date": self.from_date, "to_date": self.to_date,
            "opening": self.opening, "opening_date": self.opening_date,
            "closing": self.closing, "closing_date": self.closing_date,
            "credits": self.credits, "debits": self.debits, "entries": self.entries,
            "set_aside": self.set_aside, "balance_check": check, "check_basis": basis,
            "difference": difference, "problems": problems, "notes": list(self.notes),
            "exact": self.exact,
        }


class Collector:
    """Gathers a bank file's entries as staged rows, its statements, and its set-aside
    entries. Transaction ids: account + the bank's own reference where the format
    gives one, else a hash of the entry's content; repeats within one file get .2, .3
    in file order, so an overlapping re-export yields the same ids."""

    def __init__(self, path, fmt: str):
        self.path, self.fmt = path, fmt
        self.columns = {name: [] for name in CANONICAL_COLUMNS}
        self.source_rows: list[int] = []
        self.frames = []
        self.statements: list[Statement] = []
        self.rejects: list[tuple[int, str, str]] = []
        self._seen: dict[str, int] = {}

    def fail(self, problem: str, fix: str = "") -> InputError:
        return InputError(f"{self.path}: {problem}" + (f"; {fix}" if fix else ""))

    def statement(self, kind: str, account: str | None, currency: str | None, **facts) -> Statement:
        if not account:
            raise self.fail(f"a {kind} statement names no account",
                            "the file is incomplete; ask the bank for a full export")
        stmt = Statement(kind, account, currency, **facts)
        self.statements.append(stmt)
        return stmt

    def reject(self, stmt: Statement | None, line: int, raw: str, reason: str) -> None:
        self.rejects.append((line, raw[:2000], reason))
        if stmt is not None:
            stmt.set_aside += 1

    def add(self, stmt: Statement, line: int, posted, amount, currency: str | None,
            ref: str | None = None, counterparty: str | None = None,
            counterparty_account: str | None = None, description: str | None = None,
            reference: str | None = None, mcc: str | None = None,
            original: tuple[Decimal, str] | None = None, raw: str = "") -> None:
        """One entry. `posted` is a date (or the bad text), `amount` a Decimal that is
        positive when money leaves (or the bad text)."""
        currency = currency or stmt.currency
        if not isinstance(amount, Decimal):
            return self.reject(stmt, line, raw, f"amount '{amount}' is not a number")
        if not isinstance(posted, date):
            return self.reject(stmt, line, raw, f"no valid booking date ('{posted or ''}')")
        if not currency:
            return self.reject(stmt, line, raw, "no currency for the entry or its statement")
        if original is not None and original[1] == currency:
            original = None
        stmt.count(amount, currency)
        stmt.entries += 1
        account = stmt.account
        if ref:
            key = f"{account}:{ref}"
        else:
            content = "\x1f".join((account, posted.isoformat(), plain(amount), currency,
                                   counterparty or "", counterparty_account or "",
                                   description or "", reference or ""))
            key = "h" + hashlib.sha256(content.encode()).hexdigest()[:24]
        repeat = self._seen.get(key, 0) + 1
        self._seen[key] = repeat
        txn_id = key if repeat == 1 else f"{key}.{repeat}"
        columns = self.columns
        columns["txn_id"].append(txn_id)
        columns["posted_at"].append(posted.isoformat())
        columns["amount"].append(plain(amount))
        columns["currency"].append(currency)
        columns["account"].append(account)
        columns["counterparty"].append(counterparty)
        columns["counterparty_account"].append(counterparty_account)
        columns["mcc"].append(mcc)
        columns["description"].append(description)
        columns["reference"].append(reference)
        self.source_rows.append(line)
        if original is not None or amount != amount.quantize(CENT):
            stmt.exact.append((txn_id, amount, *(original or (None, None))))
        if len(self.source_rows) >= FLUSH_ROWS:
            self._flush()

    def _flush(self) -> None:
        import polars as pl
        if not self.source_rows and self.frames:
            return
        size = len(self.source_rows)
        data = {name: values if values else [None] * size for name, values in self.columns.items()}
        frame = pl.DataFrame(data, schema={name: pl.Utf8 for name in CANONICAL_COLUMNS})
        self.frames.append(frame.with_columns(pl.Series("source_row", self.source_rows,
                                                        dtype=pl.Int64)))
        self.columns = {name: [] for name in CANONICAL_COLUMNS}
        self.source_rows = []

    def rows(self):
        import polars as pl
        self._flush()
        return pl.concat(self.frames, rechunk=False) if len(self.frames) > 1 else self.frames[0]
