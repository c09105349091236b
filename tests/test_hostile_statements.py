"""Bank statements that try to mislead (issue 14 items 14 and 17): an OFX DEBIT with a
positive amount, OFX text with a stray `<`, a camt entry in another currency than its
account. Real files through the real readers and a real ingest into DuckDB."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest

from helpers import monitor, write_config
from monitor.ledger import ingest
from monitor.ledger.formats import detect as formats
from monitor.sql import store

OFX_HEAD = """OFXHEADER:100
DATA:OFXSGML
VERSION:102
SECURITY:NONE
ENCODING:USASCII
CHARSET:1252
COMPRESSION:NONE
OLDFILEUID:NONE
NEWFILEUID:NONE

<OFX>
<SIGNONMSGSRSV1><SONRS><STATUS><CODE>0<SEVERITY>INFO</STATUS>
<DTSERVER>20240301<LANGUAGE>ENG</SONRS></SIGNONMSGSRSV1>
<BANKMSGSRSV1><STMTTRNRS><TRNUID>1<STATUS><CODE>0<SEVERITY>INFO</STATUS>
<STMTRS><CURDEF>USD
<BANKACCTFROM><BANKID>121000248<ACCTID>5551234<ACCTTYPE>CHECKING</BANKACCTFROM>
<BANKTRANLIST><DTSTART>20240201<DTEND>20240229
"""
OFX_TAIL = """</BANKTRANLIST>
<LEDGERBAL><BALAMT>1000.00<DTASOF>20240229</LEDGERBAL>
</STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>
"""


def ofx(tmp_path, *transactions: str, name: str = "bank.ofx"):
    path = tmp_path / name
    path.write_text(OFX_HEAD + "".join(transactions) + OFX_TAIL, encoding="cp1252")
    return path


def trn(kind: str, amount: str, fitid: str, name: str = "ACME", memo: str | None = None) -> str:
    text = (f"<STMTTRN>\n<TRNTYPE>{kind}\n<DTPOSTED>20240215\n<TRNAMT>{amount}\n"
            f"<FITID>{fitid}\n<NAME>{name}\n")
    if memo is not None:
        text += f"<MEMO>{memo}\n"
    return text + "</STMTTRN>\n"


def load(tmp_path, path):
    con = store.connect(tmp_path / "ledger.duckdb")
    try:
        (result,) = ingest.ingest_all(con, [(path, None)])
        rows = con.execute("SELECT txn_id, amount, currency, counterparty, description "
                           "FROM transactions ORDER BY source_row").fetchall()
        rejects = con.execute("SELECT * FROM rejected_rows").fetchall()
        return result, rows, rejects
    finally:
        con.close()


# ---- OFX: TRNTYPE and sign ------------------------------------------------------------

def test_ofx_debit_with_a_positive_amount_is_set_aside_with_the_reason(tmp_path):
    path = ofx(tmp_path, trn("DEBIT", "-25.00", "1"), trn("DEBIT", "40.00", "2", "SHADY LTD"),
               trn("CREDIT", "-12.00", "3"), trn("CREDIT", "99.00", "4", "PAYROLL"),
               trn("POS", "7.50", "5", "REFUND SHOP"), trn("DIRECTDEBIT", "60.00", "6"))
    read = formats.read(path, "ofx")
    assert read.rows["amount"].to_list() == ["25.00", "-99.00", "-7.50"]
    reasons = [r[2] for r in read.rejects]
    assert len(reasons) == 3
    assert "TRNTYPE DEBIT but TRNAMT 40.00 is money in" in reasons[0]
    assert "TRNTYPE CREDIT but TRNAMT -12.00 is money out" in reasons[1]
    assert "TRNTYPE DIRECTDEBIT but TRNAMT 60.00" in reasons[2]
    result, rows, rejects = load(tmp_path, path)
    assert (result.loaded, result.rejected) == (3, 3)
    assert "SHADY LTD" not in [r[3] for r in rows]      # never stored as a refund
    assert len(rejects) == 3 and "1 entry" not in result.balance
    assert "3 entries set aside" in result.balance


def test_the_rejected_ofx_row_is_shown_by_monitor_rejects(tmp_path):
    path = ofx(tmp_path, trn("DEBIT", "40.00", "2", "SHADY LTD"), trn("DEBIT", "-1.00", "3"))
    config = write_config(tmp_path, sources=[])
    proc = monitor("--config", str(config), "ingest", str(path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    proc = monitor("--config", str(config), "rejects", "--format", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (reject,) = json.loads(proc.stdout)
    assert "TRNTYPE DEBIT but TRNAMT 40.00 is money in" in json.dumps(reject)


# ---- OFX: a `<` in text ---------------------------------------------------------------

@pytest.mark.parametrize("name,memo", [
    ("AT&T WIRELESS <AUTOPAY>", "BILL <REF 1234> PAID"),
    ("A < B TRADING", "50% <off> & more"),
    ("SHOP <X", "<NOTE>"),
])
def test_ofx_text_with_a_stray_angle_bracket_is_kept_whole(tmp_path, name, memo):
    path = ofx(tmp_path, trn("DEBIT", "-10.00", "1", name, memo),
               trn("DEBIT", "-11.00", "2", "NEXT PAYEE"))
    read = formats.read(path, "ofx")
    assert read.rows["counterparty"].to_list() == [name, "NEXT PAYEE"]
    assert read.rows["description"].to_list()[0] == memo
    assert read.rows["amount"].to_list() == ["10.00", "11.00"] and read.rejects == []


def test_ofx_on_one_line_still_splits_at_real_elements(tmp_path):
    one_line = ("<STMTTRN><TRNTYPE>DEBIT<DTPOSTED>20240215<TRNAMT>-5.00<FITID>9"
                "<NAME>CORNER SHOP<MEMO>CARD 1234<INTU.XID>77</STMTTRN>\n")
    read = formats.read(ofx(tmp_path, one_line), "ofx")
    assert read.rows.select("counterparty", "description", "amount").rows() == [
        ("CORNER SHOP", "CARD 1234", "5.00")]


def test_ofx_cdata_text_is_read(tmp_path):
    path = ofx(tmp_path, trn("DEBIT", "-3.00", "1", "<![CDATA[FISH <&> CHIPS]]>"))
    assert formats.read(path, "ofx").rows["counterparty"].to_list() == ["FISH <&> CHIPS"]


# ---- camt: each entry's own currency ----------------------------------------------------

CAMT = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">
 <BkToCstmrStmt>
  <GrpHdr><MsgId>M1</MsgId><CreDtTm>2024-03-01T10:00:00</CreDtTm></GrpHdr>
  <Stmt>
   <Id>S1</Id><CreDtTm>2024-03-01T10:00:00</CreDtTm>
   <Acct><Id><IBAN>CH9300762011623852957</IBAN></Id><Ccy>CHF</Ccy></Acct>
   <Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="CHF">1000.00</Amt>
    <CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2024-02-01</Dt></Dt></Bal>
   <Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="CHF">950.00</Amt>
    <CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2024-02-29</Dt></Dt></Bal>
   <Ntry>
    <Amt Ccy="EUR">120.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts>
    <BookgDt><Dt>2024-02-28</Dt></BookgDt><AcctSvcrRef>R1</AcctSvcrRef>
    <NtryDtls><TxDtls><RltdPties><Cdtr><Nm>Euro Shop</Nm></Cdtr></RltdPties></TxDtls></NtryDtls>
   </Ntry>
   <Ntry>
    <Amt Ccy="EUR">30.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts>
    <BookgDt><Dt>2024-02-28</Dt></BookgDt><AcctSvcrRef>R2</AcctSvcrRef>
    <NtryDtls>
     <TxDtls><AmtDtls><TxAmt><Amt Ccy="EUR">10.00</Amt></TxAmt></AmtDtls>
      <RltdPties><Cdtr><Nm>Part One</Nm></Cdtr></RltdPties></TxDtls>
     <TxDtls><AmtDtls><TxAmt><Amt Ccy="EUR">20.00</Amt></TxAmt></AmtDtls>
      <RltdPties><Cdtr><Nm>Part Two</Nm></Cdtr></RltdPties></TxDtls>
    </NtryDtls>
   </Ntry>
   <Ntry>
    <Amt Ccy="CHF">50.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts>
    <BookgDt><Dt>2024-02-28</Dt></BookgDt><AcctSvcrRef>R3</AcctSvcrRef>
    <NtryDtls><TxDtls>
     <AmtDtls><InstdAmt><Amt Ccy="EUR">52.00</Amt></InstdAmt></AmtDtls>
     <RltdPties><Cdtr><Nm>Paid In Euro</Nm></Cdtr></RltdPties></TxDtls></NtryDtls>
   </Ntry>
  </Stmt>
 </BkToCstmrStmt>
</Document>
"""


def test_camt_entries_keep_their_own_currency(tmp_path):
    path = tmp_path / "chf.xml"
    path.write_text(CAMT, encoding="utf-8")
    result, rows, rejects = load(tmp_path, path)
    assert [(r[1], r[2], r[3]) for r in rows] == [
        (Decimal("120.00"), "EUR", "Euro Shop"), (Decimal("10.00"), "EUR", "Part One"),
        (Decimal("20.00"), "EUR", "Part Two"), (Decimal("50.00"), "CHF", "Paid In Euro")]
    assert rejects == []
    # the CHF balance check counts the CHF entry only, and says why the others are out
    assert "3 entries in a currency other than CHF" in result.balance
    con = store.connect(tmp_path / "ledger.duckdb")
    try:
        statement = con.execute("SELECT currency, debits FROM statements").fetchall()
    finally:
        con.close()
    assert statement == [("CHF", Decimal("50.00"))]
