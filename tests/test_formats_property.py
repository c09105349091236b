"""Round trips: generated statements (random entries, balances computed) written as
MT940 and as camt.053 by the small writers below, read back: every balance check
passes and the ledger amounts add up; one changed amount makes the check fail."""
from __future__ import annotations

import tempfile
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from xml.sax.saxutils import escape

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.ledger import ingest
from monitor.ledger.formats import detect as formats
from monitor.sql import store

ACCOUNT = "NL91ABNA0417164300"
START = date(2023, 12, 28)

money = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("250000.00"), places=2)
entry = st.fixed_dictionaries({
    "debit": st.booleans(),
    "amount": money,
    "days": st.integers(0, 3),
    "text": st.text(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefgh0123456789.,"),
                    max_size=40),
    "ref": st.booleans(),
})
statements = st.lists(st.lists(entry, max_size=12), min_size=1, max_size=4)
openings = st.decimals(min_value=Decimal("-50000"), max_value=Decimal("900000"), places=2)


def build(opening: Decimal, plan: list[list[dict]]) -> list[dict]:
    """Statements with dates and balances computed from their entries."""
    out, balance, day, serial = [], opening, START, 0
    for number, entries in enumerate(plan, 1):
        start, rows = day, []
        for e in entries:
            serial += 1
            day = day + timedelta(days=e["days"])
            rows.append({**e, "date": day, "ref": f"B{serial:07d}" if e["ref"] else None})
        closing = balance + sum(-e["amount"] if e["debit"] else e["amount"] for e in entries)
        out.append({"number": number, "opening": balance, "opening_date": start,
                    "closing": closing, "closing_date": day, "entries": rows})
        balance, day = closing, day + timedelta(days=1)
    return out


def swift_amount(value: Decimal) -> str:
    return f"{abs(value):.2f}".replace(".", ",")


def swift_balance(tag: str, value: Decimal, when: date) -> str:
    return f":{tag}:{'D' if value < 0 else 'C'}{when:%y%m%d}EUR{swift_amount(value)}"


def write_mt940(stmts: list[dict]) -> str:
    lines = ["{1:F01ABNANL2AXXXX0000000000}{2:O940ABNANL2AXXXXN}{4:"]
    for s in stmts:
        lines += [f":20:STMT{s['number']:05d}", f":25:{ACCOUNT}", f":28C:{s['number']}/1",
                  swift_balance("60F", s["opening"], s["opening_date"])]
        for e in s["entries"]:
            ref = f"//{e['ref']}" if e["ref"] else ""
            lines.append(f":61:{e['date']:%y%m%d%m%d}{'D' if e['debit'] else 'C'}"
                         f"{swift_amount(e['amount'])}NTRFNONREF{ref}")
            lines.append(f":86:{e['text'] or 'PAYMENT'}")
        lines += [swift_balance("62F", s["closing"], s["closing_date"]), "-"]
    return "\r\n".join(lines) + "}\r\n"


def write_camt(stmts: list[dict]) -> str:
    def balance(code, value, when):
        return (f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>"
                f"<Amt Ccy=\"EUR\">{abs(value):.2f}</Amt><CdtDbtInd>"
                f"{'DBIT' if value < 0 else 'CRDT'}</CdtDbtInd><Dt><Dt>{when}</Dt></Dt></Bal>")
    parts = ['<?xml version="1.0" encoding="UTF-8"?><Document xmlns="urn:iso:std:iso:20022:'
             'tech:xsd:camt.053.001.02"><BkToCstmrStmt><GrpHdr><MsgId>M</MsgId><CreDtTm>'
             '2024-01-31T00:00:00</CreDtTm></GrpHdr>']
    for s in stmts:
        parts.append(f"<Stmt><Id>S{s['number']}</Id><ElctrncSeqNb>{s['number']}</ElctrncSeqNb>"
                     f"<Acct><Id><IBAN>{ACCOUNT}</IBAN></Id><Ccy>EUR</Ccy></Acct>")
        parts.append(balance("OPBD", s["opening"], s["opening_date"]))
        parts.append(balance("CLBD", s["closing"], s["closing_date"]))
        for e in s["entries"]:
            ref = f"<AcctSvcrRef>{e['ref']}</AcctSvcrRef>" if e["ref"] else ""
            parts.append(f"<Ntry><Amt Ccy=\"EUR\">{e['amount']:.2f}</Amt><CdtDbtInd>"
                         f"{'DBIT' if e['debit'] else 'CRDT'}</CdtDbtInd><Sts>BOOK</Sts>"
                         f"<BookgDt><Dt>{e['date']}</Dt></BookgDt>{ref}<AddtlNtryInf>"
                         f"{escape(e['text'])}</AddtlNtryInf></Ntry>")
        parts.append("</Stmt>")
    return "".join(parts + ["</BkToCstmrStmt></Document>"])


def read_back(text: str, suffix: str, fmt: str):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"statement{suffix}"
        path.write_text(text, encoding="utf-8")
        return formats.read(path, fmt)


def assert_round_trip(stmts, result):
    assert [s["balance_check"] for s in result.statements] == ["ok"] * len(stmts)
    assert [s["entries"] for s in result.statements] == [len(s["entries"]) for s in stmts]
    assert result.rows.height == sum(len(s["entries"]) for s in stmts)
    assert result.rejects == []
    total = sum((Decimal(a) for a in result.rows["amount"].to_list()), Decimal(0))
    assert total == stmts[0]["opening"] - stmts[-1]["closing"]   # positive = money out
    assert result.rows["txn_id"].n_unique() == result.rows.height


def mutate(stmts: list[dict]) -> list[dict]:
    """The same statements with the first entry's amount one cent larger, balances kept."""
    changed = [dict(s, entries=[dict(e) for e in s["entries"]]) for s in stmts]
    for s in changed:
        if s["entries"]:
            s["entries"][0]["amount"] += Decimal("0.01")
            return changed
    raise AssertionError("no entry to change")


FAST = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(openings, statements)
def test_mt940_round_trip_balances(opening, plan):
    stmts = build(opening, plan)
    assert_round_trip(stmts, read_back(write_mt940(stmts), ".sta", "mt940"))


@FAST
@given(openings, statements)
def test_camt_round_trip_balances(opening, plan):
    stmts = build(opening, plan)
    assert_round_trip(stmts, read_back(write_camt(stmts), ".xml", "camt"))


@FAST
@given(openings, statements.filter(lambda plan: any(plan)))
def test_one_changed_amount_fails_the_check(opening, plan):
    stmts = mutate(build(opening, plan))
    for text, suffix, fmt in ((write_mt940(stmts), ".sta", "mt940"),
                              (write_camt(stmts), ".xml", "camt")):
        checks = [s["balance_check"] for s in read_back(text, suffix, fmt).statements]
        assert checks.count("mismatch") == 1, checks


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(openings, statements)
def test_ledger_round_trip_through_ingest(opening, plan):
    """Through the real database: the statements table says ok, no sequence gap between
    the chained statements, and the ledger holds every entry once."""
    stmts = build(opening, plan)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "statement.sta"
        path.write_text(write_mt940(stmts), encoding="utf-8")
        con = store.connect(Path(folder) / "x.duckdb")
        (result,) = ingest.ingest_all(con, [(path, None)])
        count = sum(len(s["entries"]) for s in stmts)
        assert (result.status, result.loaded, result.rejected) == ("loaded", count, 0)
        assert con.execute("SELECT count(*) FROM statements WHERE balance_check = 'ok' AND "
                           "problems IS NULL").fetchall() == [(len(stmts),)]
        (total,) = con.execute("SELECT coalesce(sum(amount), 0) FROM transactions").fetchone()
        assert total == stmts[0]["opening"] - stmts[-1]["closing"]
        con.close()
