"""BAI2 cash-management balance reports (Bank Administration Institute, version 2).

Own reader rather than the `bai2` package: on the project's samples that package
fails on 4 of 9 files (continuation records that split a summary field, several
records on one physical line, records without the '/' terminator, a record wrapped
without an 88 code). One statement per account per group (as-of date): opening
ledger (010) + credits - debits = closing ledger (015). The account, group and file
control totals and record counts are checked too: they are how BAI2 proves that no
record was lost.
"""
from __future__ import annotations

import re
from decimal import Decimal

from monitor.ledger.formats.base import Collector, make_date, ref_or_none

MINOR_UNITS = {"JPY": 0, "KRW": 0, "CLP": 0, "VND": 0, "ISK": 0, "XOF": 0, "XAF": 0,
               "PYG": 0, "UGX": 0, "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3,
               "IQD": 3, "LYD": 3}
RECORD_START = re.compile(r"(0[123]|16|49|88|98|99),")
SPLIT = re.compile(r"/\s+(?=(?:0[123]|16|49|88|98|99),)")


def read(path, fmt: str, out: Collector) -> None:
    data = path.read_bytes()
    if b"\x00" in data:
        raise out.fail("contains NUL bytes, so it is not a BAI2 text file",
                       "export the report again as plain text")
    records = _records(data.decode("latin-1"))
    if not records or records[0][0] != "01":
        raise out.fail("no BAI2 file header (01 record) at the start", "")
    if records[-1][0] != "99":
        raise out.fail(f"no BAI2 file trailer (99 record) after line {records[-1][2]}; "
                       "the file is truncated", "download the complete report")
    _File(out).read(records)


def _records(text: str) -> list[list]:
    """[code, fields text, line, continuation texts] per logical record."""
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        for piece in SPLIT.split(line.strip()):
            piece = piece.strip()
            if not piece:
                continue
            if not RECORD_START.match(piece):
                if records:                     # wrapped without an 88 code
                    records[-1][3].append(piece.rstrip("/").strip())
                continue
            code, body = piece[:2], piece[3:]
            body = body[:-1] if body.endswith("/") else body
            if code == "88" and records:
                records[-1][3].append(body)
                records[-1][4] += 1
                continue
            records.append([code, body, number, [], 1])
    return records


def _amount(text: str, units: int) -> Decimal | None:
    text = text.strip()
    if not re.fullmatch(r"[+-]?\d+", text):
        return None
    return Decimal(text).scaleb(-units)


def _raw_total(text: str) -> int | None:
    text = text.strip()
    return int(text) if re.fullmatch(r"[+-]?\d+", text) else None


def _funds_skip(fields: list[str], at: int) -> int:
    """Index after a funds type and its availability fields."""
    funds = fields[at].strip() if at < len(fields) else ""
    if funds == "S":
        return at + 4
    if funds == "V":
        return at + 3
    if funds == "D":
        count = int(fields[at + 1]) if at + 1 < len(fields) and fields[at + 1].isdigit() else 0
        return at + 2 + 2 * count
    return at + 1


class _File:
    def __init__(self, out: Collector):
        self.out = out
        self.group_currency = None
        self.as_of = None
        self.problems_file = []

    def read(self, records: list[list]) -> None:
        group_total = file_total = 0
        account = None
        group_accounts = group_records = file_groups = file_records = 0
        account_records = 0
        for code, body, line, more, count in records:
            file_records += count
            group_records += count
            account_records += count
            if code == "02":
                fields = body.split(",")
                self.group_currency = (fields[5].strip() if len(fields) > 5 else "") or None
                when = fields[3].strip() if len(fields) > 3 else ""
                self.as_of = make_date(2000 + int(when[:2]), int(when[2:4]), int(when[4:6])) \
                    if re.fullmatch(r"\d{6}", when) else None
                group_total, group_accounts, group_records = 0, 0, count
                file_groups += 1
            elif code == "03":
                account = self._account(",".join([body] + more), line)
                account_records = count
                group_accounts += 1
            elif code == "16" and account is not None:
                account["sum"] += self._entry(account, body, more, line)
            elif code == "16":
                raise self.out.fail(f"BAI2 transaction at line {line} outside an account "
                                    "(no 03 record before it)", "")
            elif code == "49":
                if account is None:
                    raise self.out.fail(f"BAI2 account trailer at line {line} without an "
                                        "account", "")
                stated = self._close(account, body.split(","), account_records)
                group_total += account["sum"] if stated is None else stated
                account = None
            elif code == "98":
                if account is not None:
                    raise self.out.fail(f"BAI2 account at line {account['line']} has no "
                                        "trailer (49); the file is damaged", "")
                stated = self._control("group", body.split(","), group_total,
                                       group_accounts, group_records)
                file_total += group_total if stated is None else stated
            elif code == "99":
                self._control("file", body.split(","), file_total, file_groups, file_records)
        if self.problems_file and self.out.statements:
            self.out.statements[-1].problems.extend(self.problems_file)

    def _account(self, body: str, line: int) -> dict:
        fields = body.split(",")
        currency = fields[1].strip() if len(fields) > 1 else ""
        currency = currency or self.group_currency or "USD"
        units = MINOR_UNITS.get(currency, 2)
        balances, total, at = {}, 0, 2
        while at + 1 < len(fields):
            if not fields[at].strip():
                at += 1         # a defaulted field, or the empty one before a '/'
                continue
            code, amount = fields[at].strip(), fields[at + 1]
            raw = _raw_total(amount)
            if raw is not None:
                total += raw
            if code and raw is not None:
                balances.setdefault(code, _amount(amount, units))
            at = _funds_skip(fields, at + 3)
        stmt = self.out.statement(
            "BAI2", fields[0].strip(), currency, opening=balances.get("010"),
            closing=balances.get("015"), opening_date=self.as_of, closing_date=self.as_of,
            from_date=self.as_of, to_date=self.as_of,
            basis=None if "010" in balances or "015" in balances else
            "no opening (010) and closing (015) ledger balances")
        return {"stmt": stmt, "units": units, "sum": total, "line": line}

    def _entry(self, account: dict, body: str, more: list[str], line: int) -> int:
        stmt = account["stmt"]
        fields = body.split(",")
        raw = "16," + body + "".join(" 88," + m for m in more)
        if len(fields) < 2:
            self.out.reject(stmt, line, raw, "BAI2 transaction record without an amount")
            return 0
        code, amount_text = fields[0].strip(), fields[1]
        total = _raw_total(amount_text) or 0
        at = _funds_skip(fields, 2)
        bank_ref = fields[at].strip() if at < len(fields) else ""
        customer_ref = fields[at + 1].strip() if at + 1 < len(fields) else ""
        text = ",".join(fields[at + 2:]).strip()
        text = " ".join(" ".join([text] + more).split()) or None
        amount = _amount(amount_text, account["units"])
        kind = int(code) if code.isdigit() else -1
        if amount is None:
            self.out.add(stmt, line, self.as_of, amount_text.strip() or "(blank)", None,
                         raw=raw)
        elif not (100 <= kind <= 699):
            self.out.reject(stmt, line, raw, f"type code '{code}' is neither a credit "
                                             "(100-399) nor a debit (400-699) detail code")
        else:
            self.out.add(stmt, line, self.as_of, amount if kind >= 400 else -amount, None,
                         ref=ref_or_none(bank_ref), reference=ref_or_none(customer_ref),
                         description=text, raw=raw)
        return total

    def _close(self, account: dict, fields: list[str], records: int) -> None:
        stated = _raw_total(fields[0]) if fields else None
        count = _raw_total(fields[1]) if len(fields) > 1 else None
        stmt = account["stmt"]
        if stated is not None and stated != account["sum"]:
            stmt.problems.append(f"account control total {stated} (49 record) is not the sum "
                                 f"of the account's amounts {account['sum']}")
        if count is not None and count != records:
            stmt.problems.append(f"account trailer counts {count} records, the file has "
                                 f"{records}: records are missing or extra")
        return stated

    def _control(self, level: str, fields: list[str], total: int, items: int,
                 records: int) -> None:
        stated = _raw_total(fields[0]) if fields else None
        count = _raw_total(fields[1]) if len(fields) > 1 else None
        stated_records = _raw_total(fields[2]) if len(fields) > 2 else None
        what = "accounts" if level == "group" else "groups"
        if stated is not None and stated != total:
            self.problems_file.append(f"{level} control total {stated} is not the sum of its "
                                      f"amounts {total}")
        if count is not None and count != items:
            self.problems_file.append(f"{level} trailer counts {count} {what}, the file has "
                                      f"{items}")
        if stated_records is not None and stated_records != records:
            self.problems_file.append(f"{level} trailer counts {stated_records} records, the "
                                      f"file has {records}")
        return stated
