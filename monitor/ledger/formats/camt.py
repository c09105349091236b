"""ISO 20022 camt.052 (account report), camt.053 (statement) and camt.054
(debit/credit notification), every message version, read with lxml as a stream:
no DTD, no entity expansion, no network. Entries are handled and freed one by one,
so a statement of a million entries needs little memory.

A booked entry becomes one ledger row; a batch entry whose transaction details
(TxDtls) each carry an amount summing to the entry's becomes one row per detail.
Pending and information-only entries are counted but not loaded.
"""
from __future__ import annotations

import re
from datetime import date

from lxml import etree

from monitor.ledger.formats.base import Collector, make_date, ref_or_none, to_decimal

NS_PATTERN = re.compile(r"urn:iso:std:iso:20022:tech:xsd:(camt\.05[234])\.(\d{3})\.(\d{2})")
OPENING = ("OPBD", "PRCD")       # opening booked; previous closing booked
CLOSING = ("CLBD",)
INTERIM = ("ITBD",)
LOADED_STATUS = ("BOOK", "")      # entries without status are booked by definition


def read(path, fmt: str, collector: Collector) -> None:
    _refuse_dtd(path, collector)
    parser = _Reader(collector)
    try:
        context = etree.iterparse(
            str(path), events=("start", "end"), resolve_entities=False, no_network=True,
            load_dtd=False, huge_tree=False, remove_comments=True, remove_pis=True,
            tag=("{*}Document", "{*}Stmt", "{*}Rpt", "{*}Ntfctn", "{*}Acct", "{*}Bal",
                 "{*}Ntry"))
        for event, elem in context:
            parser.handle(event, elem)
    except etree.XMLSyntaxError as e:
        raise collector.fail(f"not well-formed XML ({_xml_problem(e)})",
                             "the file is truncated or damaged; download it again") from None
    if parser.kind is None:
        raise collector.fail("XML but not an ISO 20022 camt.052/053/054 message",
                             "export the statement as camt.053, MT940, BAI2 or OFX")
    if not collector.statements:
        raise collector.fail(f"{parser.kind} message with no statement, report or "
                             "notification in it", "ask the bank for a complete export")


def _refuse_dtd(path, collector: Collector) -> None:
    """camt never carries a DTD; one is how entity bombs and external entities come in."""
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = head.decode("utf-16", errors="replace")
    else:
        text = head.decode("latin-1")
    root = re.search(r"<[A-Za-z_]", text)
    if re.search(r"<!(DOCTYPE|ENTITY)", text[: root.start() if root else len(text)]):
        raise collector.fail("XML with a document type declaration (DTD/entities), which "
                             "bank statements never have; refused so no entity is expanded",
                             "ask the bank for the plain camt export")


def _xml_problem(error: etree.XMLSyntaxError) -> str:
    message = str(error).splitlines()[0] if str(error) else "syntax error"
    return message if "line" in message else f"{message}, line {error.lineno}"


class _Reader:
    def __init__(self, collector: Collector):
        self.out = collector
        self.kind = None
        self.ns = ""
        self.stmt = None
        self.facts = {}
        self.balances = {}
        self.pending = 0
        self.created = None
        self._paths = {}

    def handle(self, event: str, elem) -> None:
        tag = elem.tag.rsplit("}", 1)[-1]
        if event == "start":
            if tag == "Document":
                self._document(elem)
            elif tag in ("Stmt", "Rpt", "Ntfctn") and self.kind:
                self.facts, self.balances, self.stmt, self.pending = {}, {}, None, 0
                self.created = None
            return
        if self.kind is None or elem.getparent() is None:
            return
        parent = elem.getparent().tag.rsplit("}", 1)[-1]
        if tag == "Acct" and parent in ("Stmt", "Rpt", "Ntfctn"):
            self._account(elem)
        elif tag == "Bal" and parent in ("Stmt", "Rpt"):
            self._balance(elem)
        elif tag == "Ntry" and parent in ("Stmt", "Rpt", "Ntfctn"):
            self._entry(elem)
            _free(elem)
        elif tag in ("Stmt", "Rpt", "Ntfctn"):
            self._finish()
            _free(elem)

    def _document(self, elem) -> None:
        if elem.getroottree().docinfo.doctype:      # a DTD past the first 64 KiB
            raise self.out.fail("XML with a document type declaration (DTD), which bank "
                                "statements never have; refused so no entity is expanded",
                                "ask the bank for the plain camt export")
        match = NS_PATTERN.fullmatch(etree.QName(elem).namespace or "")
        if match:
            self.kind = f"{match[1]}.{match[2]}.{match[3]}"
            self.ns = "{" + match[0] + "}"
            return
        namespace = etree.QName(elem).namespace or "no namespace"
        found = re.search(r"(pain|pacs|camt|remt|acmt)\.\d{3}\.\d{3}\.\d{2}", namespace)
        what = f"an ISO 20022 {found[0]} message" if found else f"XML in {namespace}"
        raise self.out.fail(f"{what}, not a camt.052/053/054 bank statement",
                            "export the account statement as camt.053")

    def path(self, path: str) -> str:
        full = self._paths.get(path)
        if full is None:
            full = self._paths[path] = self.ns + path.replace("/", "/" + self.ns)
        return full

    def text(self, elem, *paths: str) -> str | None:
        for path in paths:
            found = elem.find(self.path(path))
            if found is not None and found.text and found.text.strip():
                return " ".join(found.text.split())
        return None

    def _account(self, acct) -> None:
        parent = acct.getparent()
        ident = self.text(acct, "Id/IBAN", "Id/Othr/Id", "Id/PrtryAcct/Id", "Id/BBAN",
                          "Id/UPIC", "Id/DmstAcct/Id")
        self.facts = {
            "account": ident, "currency": self.text(acct, "Ccy"),
            "reference": self.text(parent, "Id"),
            "number": self.text(parent, "LglSeqNb", "ElctrncSeqNb"),
            "from_date": _date(self.text(parent, "FrToDt/FrDtTm", "FrToDt/FrDt")),
            "to_date": _date(self.text(parent, "FrToDt/ToDtTm", "FrToDt/ToDt")),
        }
        self.created = _date(self.text(parent, "CreDtTm"))

    def _balance(self, bal) -> None:
        code = self.text(bal, "Tp/CdOrPrtry/Cd", "Tp/CdOrPrtry/Prtry") or ""
        amount_elem = bal.find(self.ns + "Amt")
        amount = to_decimal(amount_elem.text if amount_elem is not None else None)
        if amount is None:
            return
        if self.text(bal, "CdtDbtInd") == "DBIT":
            amount = -amount
        when = _date(self.text(bal, "Dt/Dt", "Dt/DtTm"))
        self.balances.setdefault(code, []).append((amount, when, amount_elem.get("Ccy")))

    def _open(self):
        if self.stmt is not None:
            return self.stmt
        opening = closing = None
        for code in OPENING:
            opening = opening or (self.balances.get(code) or [None])[0]
        for code in CLOSING:
            closing = closing or (self.balances.get(code) or [None])[-1]
        interim = self.balances.get("ITBD") or []
        if opening is None and closing is None and len(interim) >= 2:
            opening, closing = interim[0], interim[-1]      # intraday report: first and last
        elif opening is not None and closing is None and interim:
            closing = interim[-1]
        facts = dict(self.facts) or {"account": None}
        currency = facts.pop("currency", None) or next(
            (b[2] for b in (opening, closing) if b is not None and b[2]), None)
        basis = None
        if self.kind.startswith("camt.054"):
            basis = "notification: carries no balances"
        self.stmt = self.out.statement(
            self.kind, facts.pop("account", None), currency, basis=basis,
            opening=opening[0] if opening else None, opening_date=opening[1] if opening else None,
            closing=closing[0] if closing else None, closing_date=closing[1] if closing else None,
            **facts)
        return self.stmt

    def flat(self, elem, prefix: str = "", out: dict | None = None) -> dict:
        """Text of every element below `elem` by relative path ('BookgDt/Dt'), first
        occurrence; 'Amt@' holds an amount's currency, 'Ustrd*' every remittance line.
        One pass in Python is faster than many namespaced find() calls."""
        out = {} if out is None else out
        cut = len(self.ns)
        for child in elem:
            tag = child.tag
            if not isinstance(tag, str):
                continue
            name = tag[cut:]
            if name == "TxDtls":
                out.setdefault("TxDtls*", []).append(child)
                continue
            path = prefix + name
            text = child.text
            if text is not None and not text.isspace():
                if path not in out:
                    out[path] = " ".join(text.split())
                    if name == "Amt":
                        out[path + "@"] = child.get("Ccy")
                if name == "Ustrd":
                    out.setdefault("Ustrd*", []).append(" ".join(text.split()))
            if len(child):
                self.flat(child, path + "/", out)
        return out

    def _entry(self, ntry) -> None:
        stmt = self._open()
        line = ntry.sourceline or 0
        e = self.flat(ntry)
        status = e.get("Sts/Cd") or e.get("Sts/Prtry") or e.get("Sts") or ""
        if status not in LOADED_STATUS:
            self.pending += 1
            return
        text = e.get("Amt")
        amount = to_decimal(text)
        currency = e.get("Amt@")
        debit = e.get("CdtDbtInd") != "CRDT"
        # An entry without booking or value date (camt.054 allows it) was booked by the
        # time the message was created.
        posted = _date(_first(e, "BookgDt/Dt", "BookgDt/DtTm", "ValDt/Dt", "ValDt/DtTm")) \
            or self.created
        entry_ref = ref_or_none(_first(e, "AcctSvcrRef", "NtryRef"))
        raw = f"{stmt.account} {posted or ''} {text or ''} {currency or ''} {entry_ref or ''}"
        if amount is None or posted is None:
            bad_amount = text if amount is None else amount
            return self.out.add(stmt, line, posted or e.get("BookgDt/Dt"), bad_amount,
                                currency, raw=raw)
        details = [(d, self.flat(d)) for d in e.get("TxDtls*", ())]
        if entry_ref is None and len(details) == 1:
            entry_ref = ref_or_none(_first(details[0][1], "Refs/AcctSvcrRef", "Refs/UETR",
                                           "Refs/TxId"))
        parts = self._split(details, amount, currency, debit) if len(details) > 1 else None
        if parts is None:
            info = self._detail(details[0][1], debit) if details else {}
            info["description"] = info.get("description") or e.get("AddtlNtryInf")
            self.out.add(stmt, line, posted, amount if debit else -amount, currency,
                         ref=entry_ref, raw=raw, **info)
            return
        for index, (detail, d, part, part_debit) in enumerate(parts, 1):
            info = self._detail(d, part_debit)
            info["description"] = info.get("description") or e.get("AddtlNtryInf")
            ref = f"{entry_ref}/{index}" if entry_ref else None
            self.out.add(stmt, detail.sourceline or line, posted,
                         part if part_debit else -part, currency, ref=ref, raw=raw, **info)

    def _split(self, details, amount, currency, debit: bool):
        """Per-detail amounts when every detail has one in the entry's currency and they
        net to the entry's amount; else None: keep the entry whole."""
        parts = []
        for detail, d in details:
            key = "Amt" if "Amt" in d else "AmtDtls/TxAmt/Amt"
            value = to_decimal(d.get(key))
            if value is None or d.get(key + "@") != currency:
                return None
            side = d.get("CdtDbtInd")
            parts.append((detail, d, value, debit if side is None else side == "DBIT"))
        net = sum(value if part_debit else -value for _, _, value, part_debit in parts)
        return parts if net == (amount if debit else -amount) else None

    def _detail(self, d: dict, debit: bool) -> dict:
        """Counterparty, its account, remittance text and reference of one TxDtls."""
        party, account = ("Cdtr", "CdtrAcct") if debit else ("Dbtr", "DbtrAcct")
        ultimate = "UltmtCdtr" if debit else "UltmtDbtr"
        info = {
            "counterparty": _first(d, f"RltdPties/{party}/Nm", f"RltdPties/{party}/Pty/Nm",
                                   f"RltdPties/{ultimate}/Nm", f"RltdPties/{ultimate}/Pty/Nm"),
            "counterparty_account": _first(d, f"RltdPties/{account}/Id/IBAN",
                                           f"RltdPties/{account}/Id/Othr/Id"),
            "description": " ".join(d.get("Ustrd*", ())) or d.get("AddtlTxInf"),
            "reference": ref_or_none(d.get("Refs/EndToEndId"))
            or d.get("RmtInf/Strd/CdtrRefInf/Ref")}
        value = to_decimal(d.get("AmtDtls/InstdAmt/Amt"))
        if value is not None and d.get("AmtDtls/InstdAmt/Amt@"):
            info["original"] = (value if debit else -value, d["AmtDtls/InstdAmt/Amt@"])
        return info

    def _finish(self) -> None:
        stmt = self._open()
        if self.pending:
            stmt.notes.append(f"{self.pending} pending or information-only entries not loaded "
                              "(only booked entries enter the ledger)")
        self.stmt = None


def _first(values: dict, *paths: str):
    for path in paths:
        value = values.get(path)
        if value:
            return value
    return None


def _free(elem) -> None:
    """Drop a handled element and the siblings before it, so memory stays flat."""
    elem.clear(keep_tail=False)
    parent = elem.getparent()
    if parent is not None:
        while elem.getprevious() is not None:
            del parent[0]


def _date(text: str | None) -> date | None:
    if not text or len(text) < 10:
        return None
    try:
        return make_date(int(text[:4]), int(text[5:7]), int(text[8:10]))
    except ValueError:
        return None
