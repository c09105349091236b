"""OFX 1.x (SGML) and 2.x (XML), QFX: bank, credit-card and investment statements.

Own tokenizer rather than `ofxtools` or `ofxparse`: on the project's samples
ofxtools rejects 14 of 34 files on strict spec checks (bank ids over 9 characters,
elements out of order, headers with comments) and ofxparse rejects empty tags and
builds a BeautifulSoup tree, too slow and large for a million transactions. OFX is
tags with values; this reader streams them, keeps only one statement's header at a
time, and hands each transaction over as it closes. No DTD, no entity other than
the XML built-ins and character references is expanded.

OFX carries only the closing (ledger) balance, so a single OFX statement cannot be
balance-checked; its closing balance is kept for the sequence check of the next one.
"""
from __future__ import annotations

import html
import re

from monitor.ledger.formats.base import Collector, make_date, ref_or_none, to_decimal

TAG = re.compile(r"<(/?)([A-Za-z0-9_.]+)[^<>]*>")
# Leaves whose value is free text from outside (a payee, a memo): there a `<` that does
# not open a known element is part of the text ("AT&T WIRELESS <AUTOPAY>"), as OFX 1.x
# SGML does not escape it. A private element always has a dot (INTU.BID, OFX 2.1.1 2.7.1).
FREE_TEXT = {"NAME", "MEMO", "EXTDNAME", "MESSAGE", "DESC", "SECNAME", "ADDR1", "ADDR2",
             "ADDR3", "CITY", "PAYEEID", "CATEGORY"}
ELEMENTS = set("""
    OFX SIGNONMSGSRSV1 SONRS STATUS CODE SEVERITY MESSAGE DTSERVER LANGUAGE DTPROFUP
    DTACCTUP FI ORG FID SESSCOOKIE BANKMSGSRSV1 CREDITCARDMSGSRSV1 INVSTMTMSGSRSV1
    SECLISTMSGSRSV1 SIGNUPMSGSRSV1 STMTTRNRS CCSTMTTRNRS INVSTMTTRNRS STMTENDTRNRS
    CCSTMTENDTRNRS TRNUID CLTCOOKIE STMTRS CCSTMTRS INVSTMTRS CURDEF BANKACCTFROM
    CCACCTFROM INVACCTFROM BANKACCTTO CCACCTTO BANKID BRANCHID ACCTID ACCTTYPE ACCTKEY
    BROKERID BANKTRANLIST INVTRANLIST DTSTART DTEND STMTTRN TRNTYPE DTPOSTED DTUSER
    DTAVAIL TRNAMT FITID CORRECTFITID CORRECTACTION SRVRTID CHECKNUM REFNUM SIC PAYEEID
    NAME EXTDNAME PAYEE ADDR1 ADDR2 ADDR3 CITY STATE POSTALCODE COUNTRY PHONE MEMO
    IMAGEDATA CURRENCY ORIGCURRENCY CURRATE CURSYM INV401KSOURCE LEDGERBAL AVAILBAL
    BALAMT DTASOF BALLIST BAL DESC BALTYPE VALUE MKTGINFO INVTRAN DTTRADE DTSETTLE
    INVBANKTRAN SUBACCTFUND SUBACCTSEC SUBACCTTO SUBACCTFROM SECID UNIQUEID UNIQUEIDTYPE
    UNITS UNITPRICE MARKUP MARKDOWN COMMISSION TAXES FEES LOAD TOTAL INVBUY INVSELL
    BUYTYPE SELLTYPE INCOMETYPE TFERACTION POSTYPE OPTACTION SECNAME TICKER INVPOSLIST
    INVPOS POSSTOCK POSMF POSDEBT POSOPT POSOTHER HELDINACCT MKTVAL DTPRICEASOF INVBAL
    AVAILCASH MARGINBALANCE SHORTBALANCE BUYPOWER SECLIST SECINFO STOCKINFO MFINFO
    DEBTINFO OPTINFO OTHERINFO INVOOLIST ACCTINFO ACCTINFORS ACCTINFOTRNRS BANKACCTINFO
    CCACCTINFO SVCSTATUS SUPTXDL XFERSRC XFERDEST INV401K INV401KBAL CATEGORY
""".split()) | {"BUYDEBT", "BUYMF", "BUYOPT", "BUYOTHER", "BUYSTOCK", "SELLDEBT", "SELLMF",
                 "SELLOPT", "SELLOTHER", "SELLSTOCK", "INCOME", "INVEXPENSE", "RETOFCAP",
                 "MARGININTEREST", "JRNLFUND", "REINVEST", "TRANSFER", "SPLIT", "JRNLSEC",
                 "CLOSUREOPT"}
STATEMENTS = {"STMTRS": "OFX bank", "CCSTMTRS": "OFX credit card",
              "INVSTMTRS": "OFX investment"}
ACCOUNTS = ("BANKACCTFROM", "CCACCTFROM", "INVACCTFROM")
RESPONSES = ("STMTTRNRS", "CCSTMTTRNRS", "INVSTMTTRNRS", "STMTENDTRNRS", "CCSTMTENDTRNRS")
# Investment transactions whose TOTAL is cash in or out of the account.
CASH_TRADES = {"BUYDEBT", "BUYMF", "BUYOPT", "BUYOTHER", "BUYSTOCK", "SELLDEBT", "SELLMF",
               "SELLOPT", "SELLOTHER", "SELLSTOCK", "INCOME", "INVEXPENSE", "RETOFCAP",
               "MARGININTEREST", "JRNLFUND"}
NO_CASH = {"REINVEST", "TRANSFER", "SPLIT", "JRNLSEC", "CLOSUREOPT"}
# TRNTYPEs that name the direction (OFX 2.1.1 11.4.4.3); TRNAMT is negative when money
# leaves. A row whose sign contradicts its type is set aside with the reason: either
# could be the bank's mistake, and guessing would hide a charge as a refund (or the
# reverse). The other types (POS, ATM, XFER, FEE, CHECK, INT, OTHER, ...) occur both
# ways in real exports (fee refunds, negative interest), so the sign decides.
MONEY_OUT = {"DEBIT", "DIRECTDEBIT"}
MONEY_IN = {"CREDIT", "DIRECTDEP"}


class Node:
    __slots__ = ("tag", "leaves", "kids", "line")

    def __init__(self, tag: str, line: int):
        self.tag, self.leaves, self.kids, self.line = tag, {}, [], line

    def get(self, *path: str):
        node = self
        for tag in path[:-1]:
            node = next((k for k in node.kids if k.tag == tag), None)
            if node is None:
                return None
        value = node.leaves.get(path[-1])
        return value or None

    def kid(self, tag: str):
        return next((k for k in self.kids if k.tag == tag), None)

    def find(self, tag: str):
        """First leaf named `tag` anywhere below, depth first."""
        if tag in self.leaves:
            return self.leaves[tag] or None
        for kid in self.kids:
            found = kid.find(tag)
            if found is not None:
                return found
        return None


def read(path, fmt: str, out: Collector) -> None:
    text = _decode(path.read_bytes(), out)
    start = text.find("<OFX>") if "<OFX>" in text else text.upper().find("<OFX>")
    if start < 0:
        raise out.fail("no <OFX> element: not an OFX statement", "")
    prolog = text[:start]
    if re.search(r"<!(DOCTYPE|ENTITY)", prolog):
        raise out.fail("OFX with a document type declaration (DTD/entities); refused so "
                       "no entity is expanded", "ask the bank for a plain OFX export")
    reader = _Reader(out, text.count("\n", 0, start) + 1)
    body = re.sub(r"<!--.*?-->|<\?.*?\?>", _blank_lines, text[start:], flags=re.S)
    # CDATA is text: escaped here, unescaped with the other entities in the value.
    body = re.sub(r"<!\[CDATA\[(.*?)\]\]>", lambda m: html.escape(m[1], quote=False), body,
                  flags=re.S)
    reader.run(body)
    if not out.statements:
        raise out.fail("an OFX response without any bank, credit-card or investment "
                       "statement (sign-on or account list only)",
                       "download the account's statement (transactions) instead")


def _tokens(body: str):
    """(offset, "/" or "", TAG, the text up to the next tag) for each tag. In free text
    a `<` that opens no known element (a stray `<`, `<AUTOPAY>`) stays in the value."""
    tags = TAG.finditer(body)
    match = next(tags, None)
    while match is not None:
        closing, tag = match[1], match[2].upper()
        after = next(tags, None)
        if not closing and tag in FREE_TEXT:
            while after is not None and _stray(body, match.end(), after):
                after = next(tags, None)
        yield match.start(), closing, tag, body[match.end():after.start() if after else None]
        match = after


def _stray(body: str, value_start: int, candidate: re.Match) -> bool:
    """A tag on the line of a free-text value that is no OFX element."""
    if candidate[1] or "." in candidate[2] or candidate[2].upper() in ELEMENTS:
        return False
    return "\n" not in body[value_start:candidate.start()]


def _blank_lines(match) -> str:
    return "\n" * match[0].count("\n")


def _decode(data: bytes, out: Collector) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if b"\x00" in data:
        raise out.fail("contains NUL bytes, so it is not an OFX text file", "")
    head = data[:1024].decode("latin-1")
    charset = re.search(r"CHARSET:\s*(\S+)", head)
    if "<?xml" in head or re.search(r"ENCODING:\s*UTF-?8", head, re.I):
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise out.fail(f"declares UTF-8 but byte {e.start} is not UTF-8",
                           "the file was re-encoded; download it again") from None
    if charset and charset[1] in ("1252", "NONE", "ISO-8859-1", "8859-1"):
        return data.decode("cp1252", errors="replace")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


class _Reader:
    def __init__(self, out: Collector, first_line: int):
        self.out = out
        self.first_line = first_line
        self.context = None          # the open statement: {"node", "stmt", "waiting"}
        self.skipped = 0

    def run(self, body: str) -> None:
        stack: list[Node] = []
        line, pos = self.first_line, 0
        last_leaf = None
        for start, closing, tag, value in _tokens(body):
            line += body.count("\n", pos, start)
            pos = start
            if closing:
                if last_leaf == tag:
                    last_leaf = None
                    continue
                if not any(n.tag == tag for n in stack):
                    continue                 # a stray close tag: ignored, as SGML readers do
                while stack:
                    node = stack.pop()
                    parent = stack[-1] if stack else None
                    if node.tag == tag:
                        self.closed(node, parent)
                        break
                    if parent is not None:      # never closed: an SGML element without a
                        for key, kept in node.leaves.items():    # value; what it seemed to
                            parent.leaves.setdefault(key, kept)  # hold is its parent's
                        parent.kids.extend(node.kids)
                continue
            value = value.strip()
            if value:
                if "&" in value:
                    value = html.unescape(value)
                if stack:
                    stack[-1].leaves.setdefault(tag, value)
                last_leaf = tag
                continue
            last_leaf = None
            node = Node(tag, line)
            if tag in STATEMENTS:
                self.context = {"node": node, "stmt": None, "waiting": []}
            stack.append(node)
        if stack:
            raise self.out.fail(f"<{stack[-1].tag}> opened at line {stack[-1].line} is never "
                                "closed; the file is truncated", "download it again")

    def closed(self, node: Node, parent: Node | None) -> None:
        tag = node.tag
        if tag == "SONRS":
            self._status(node, "OFX sign-on failed")
        elif tag in RESPONSES:
            self._status(node, "the bank answered the OFX statement request with an error")
        if tag == "STMTTRN" or tag in CASH_TRADES or tag in NO_CASH:
            if self.context is not None:
                self._transaction(node)
            return                               # not kept: memory stays flat
        if parent is not None and tag != "INVBANKTRAN":
            parent.kids.append(node)
        if tag in ACCOUNTS and self.context is not None:
            self._open_statement()
        elif tag in STATEMENTS and self.context is not None:
            self._close_statement()

    def _status(self, node: Node, what: str) -> None:
        code = node.get("STATUS", "CODE")
        severity = (node.get("STATUS", "SEVERITY") or "").upper()
        if code not in (None, "0") and severity == "ERROR":
            message = node.get("STATUS", "MESSAGE") or "no message"
            raise self.out.fail(f"{what} (code {code}: {message})",
                                "sign in again at the bank and download a new file")

    def _open_statement(self):
        context = self.context
        if context["stmt"] is not None:
            return context["stmt"]
        node = context["node"]
        account_node = next((node.kid(t) for t in ACCOUNTS if node.kid(t)), None)
        account = account_node.get("ACCTID") if account_node else None
        if not account:
            raise self.out.fail(f"OFX statement at line {node.line} without an account id "
                                "(ACCTID)", "download the statement again")
        context["stmt"] = self.out.statement(
            STATEMENTS[node.tag], account, node.get("CURDEF"),
            basis="OFX gives only the closing balance, no opening balance")
        for item in context["waiting"]:
            self._transaction(item)
        context["waiting"] = []
        return context["stmt"]

    def _close_statement(self) -> None:
        stmt = self._open_statement()
        node = self.context["node"]
        stmt.currency = stmt.currency or node.get("CURDEF")
        listing = node.kid("BANKTRANLIST") or node.kid("INVTRANLIST")
        if listing is not None:
            stmt.from_date = _date(listing.leaves.get("DTSTART"))
            stmt.to_date = _date(listing.leaves.get("DTEND"))
        closing = to_decimal(node.get("LEDGERBAL", "BALAMT"))
        if closing is not None:
            stmt.closing = closing
            stmt.closing_date = _date(node.get("LEDGERBAL", "DTASOF"))
        if self.skipped:
            stmt.notes.append(f"{self.skipped} investment transactions without cash movement "
                              "(reinvestments, security transfers, splits) not loaded")
        self.context, self.skipped = None, 0

    def _transaction(self, node: Node) -> None:
        stmt = self.context["stmt"]
        if stmt is None:
            self.context["waiting"].append(node)
            return
        if node.tag in NO_CASH:
            self.skipped += 1
            return
        if node.tag == "STMTTRN":
            self._bank(stmt, node)
        else:
            self._trade(stmt, node)

    def _bank(self, stmt, node: Node) -> None:
        text = node.leaves.get("TRNAMT", "")
        amount = to_decimal(text)
        posted = _date(node.leaves.get("DTPOSTED"))
        currency, original = stmt.currency, None
        foreign = node.kid("CURRENCY") or node.kid("ORIGCURRENCY")
        if foreign is not None and foreign.get("CURSYM"):
            symbol = foreign.get("CURSYM").upper()
            rate = to_decimal(foreign.get("CURRATE"))
            if not currency:
                currency = symbol
            elif symbol != currency and amount is not None:
                original = (-amount, symbol)
                if foreign.tag == "CURRENCY" and rate:       # amounts are in CURSYM
                    amount = (amount * rate).quantize(amount)
        raw = " ".join(f"{k}={v}" for k, v in node.leaves.items())
        if amount is None or posted is None:
            return self.out.add(stmt, node.line, posted or node.leaves.get("DTPOSTED"),
                                text if amount is None else -amount, currency, raw=raw)
        kind = (node.leaves.get("TRNTYPE") or "").upper()
        if amount and (kind in MONEY_OUT and amount > 0 or kind in MONEY_IN and amount < 0):
            return self.out.reject(
                stmt, node.line, raw,
                f"TRNTYPE {kind} but TRNAMT {text.strip()} is money "
                f"{'in' if amount > 0 else 'out'} (OFX writes money out as negative); the "
                "file contradicts itself: ask the bank which is right before loading it")
        payee = node.kid("PAYEE")
        name = node.leaves.get("NAME") or (payee.get("NAME") if payee else None)
        to_account = node.kid("BANKACCTTO") or node.kid("CCACCTTO")
        self.out.add(
            stmt, node.line, posted, -amount, currency, ref=ref_or_none(node.leaves.get("FITID")),
            counterparty=name, counterparty_account=to_account.get("ACCTID") if to_account else None,
            description=node.leaves.get("MEMO") or node.leaves.get("TRNTYPE"),
            reference=ref_or_none(node.leaves.get("CHECKNUM") or node.leaves.get("REFNUM")),
            mcc=node.leaves.get("SIC"), original=original, raw=raw)

    def _trade(self, stmt, node: Node) -> None:
        total_text = node.find("TOTAL")
        total = to_decimal(total_text)
        posted = _date(node.find("DTSETTLE") or node.find("DTTRADE"))
        raw = f"{node.tag} FITID={node.find('FITID')} TOTAL={total_text}"
        if total is None or posted is None:
            return self.out.add(stmt, node.line, posted or node.find("DTTRADE"),
                                total_text or "(no TOTAL)" if total is None else -total,
                                stmt.currency, raw=raw)
        security = node.find("UNIQUEID")
        memo = node.find("MEMO")
        description = " ".join(x for x in (node.tag, security, memo) if x)
        self.out.add(stmt, node.line, posted, -total, stmt.currency,
                     ref=ref_or_none(node.find("FITID")), description=description, raw=raw)


def _date(text: str | None):
    if not text or len(text) < 8 or not text[:8].isdigit():
        return None
    return make_date(int(text[:4]), int(text[4:6]), int(text[6:8]))
