"""SWIFT MT940 (customer statement) and MT942 (interim transaction report).

Own reader rather than the `mt-940` package: on the project's samples that package
fails on real ING, SNS and ASN files (wrapped :28C:, :61: supplementary details over
several lines) and keeps one set of balances per file, where the balance check needs
them per statement. Tolerated quirks: SWIFT block headers and trailers, bank header
lines, several statements without '-' between them, tags without currency, a
free-text line that looks like a tag (only MT940/942 tags start a field), a lone '-'
inside wrapped :86: text.
"""
from __future__ import annotations

import re

from monitor.ledger.formats.base import Collector, make_date, ref_or_none, to_decimal

TAGS = {"20", "21", "13", "13D", "25", "25P", "28", "28C", "34F", "60F", "60M", "61", "62F",
        "62M", "64", "65", "86", "90D", "90C", "NS"}
FREE_TEXT = {"86", "61", "NS"}
TAG = re.compile(r":(\d\d[A-Z]?|NS):")
BALANCE = re.compile(r"([CD])(\d{6})([A-Z]{3})?(\d[\d,]*)")
TOTAL = re.compile(r"(\d+)([A-Z]{3})(\d[\d,]*)")
ENTRY = re.compile(r"""(?P<vdate>\d{6})(?P<edate>\d{4})?\s?(?P<mark>R?[DC])(?P<funds>[A-Z])?
    \n?\s*(?P<amount>\d[\d,]*)(?P<type>[NSF][A-Z0-9 ]{3})?(?P<cref>[^\n]*?)
    (?://(?P<bref>[^\n]*))?(?:\n(?P<extra>.*))?""", re.X | re.S)
IBAN_FIRST = re.compile(r"([A-Z]{2}\d{2}[A-Z0-9]{10,30})\s+(\S.*)")


def read(path, fmt: str, out: Collector) -> None:
    text = _decode(path, out)
    found = False
    for fields in _messages(text.splitlines()):
        found = True
        _statement(fields, out)
    if not found:
        raise out.fail("no MT940/MT942 statement in the file (no :20: ... :62F: block)",
                       "check that this is the bank's SWIFT statement export")


def _decode(path, out: Collector) -> str:
    data = path.read_bytes()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if b"\x00" in data:
        raise out.fail("contains NUL bytes, so it is not a SWIFT text statement "
                       "(UTF-16 without a byte-order mark, or binary)",
                       "export the statement again as plain text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")   # SWIFT exports are often Latin


def _messages(lines: list[str]):
    """Statements, one at a time: lists of [tag, [value lines], line number]."""
    fields = []
    for number, raw in enumerate(lines, 1):
        line = raw.strip("\x01\x03\r")
        match = TAG.match(line)
        if match and match[1] in TAGS:
            if match[1] == "20" and any(f[0] == "20" for f in fields):
                yield from _meaningful(fields)
                fields = []
            fields.append([match[1], [line[match.end():]], number])
            continue
        stripped = line.strip()
        if stripped.startswith("-") and fields:
            following = lines[number] if number < len(lines) else ""
            if fields[-1][0] not in FREE_TEXT or not following.strip() \
                    or TAG.match(following) or following.lstrip().startswith("{"):
                yield from _meaningful(fields)
                fields = []
                continue
        if stripped.startswith("{"):
            yield from _meaningful(fields)
            fields = []
            continue
        if fields:
            fields[-1][1].append(line)
    yield from _meaningful(fields)


def _meaningful(fields: list):
    """A block with statement content (not only header or trailer lines)."""
    if any(f[0] in ("61", "60F", "60M", "62F", "62M", "25", "90D", "90C") for f in fields):
        yield fields


def _value(field) -> str:
    return "".join(part.strip() for part in field[1])


def _balance(field, out: Collector):
    match = BALANCE.match(_value(field).replace(" ", ""))
    amount = to_decimal(match[4]) if match else None
    if amount is None:
        raise out.fail(f"unreadable balance :{field[0]}:{_value(field)} at line {field[2]}",
                       "the file is damaged; download it again")
    when = make_date(_year(match[2][:2]), int(match[2][2:4]), int(match[2][4:6]))
    return (amount if match[1] == "C" else -amount), when, match[3]


def _year(yy: str) -> int:
    return 2000 + int(yy) if int(yy) < 80 else 1900 + int(yy)


def _statement(fields: list, out: Collector) -> None:
    first = {}
    for field in fields:
        first.setdefault(field[0], field)
    if "25" not in first:
        line = fields[0][2]
        raise out.fail(f"MT940 entries at line {line} without a statement header (:20: "
                       "reference, :25: account); the file is a fragment or truncated",
                       "download the complete statement")
    opening = first.get("60F") or first.get("60M")
    closing_field = None
    for field in fields:
        if field[0] in ("62F", "62M"):
            closing_field = field
    if closing_field is None and opening is not None:
        raise out.fail(f"the MT940 statement at line {fields[0][2]} has an opening balance "
                       "but no closing balance (:62F:); the file is truncated",
                       "download the complete statement")
    opening = _balance(opening, out) if opening else None
    closing = _balance(closing_field, out) if closing_field else None
    currency = next((b[2] for b in (opening, closing) if b and b[2]), None)
    totals = {}
    for tag, side in (("90D", "debits"), ("90C", "credits")):
        if tag in first:
            match = TOTAL.match(_value(first[tag]))
            if match:
                totals[side] = (int(match[1]), to_decimal(match[3]))
                currency = currency or match[2]
    if currency is None and "34F" in first:
        currency = _value(first["34F"])[:3] or None
    number, _, page = _value(first.get("28C") or first.get("28") or ["", [""]]).partition("/")
    interim = opening is None and closing is None and ("34F" in first or totals)
    kind = "MT942" if interim else "MT940"
    account = " ".join(_value(first["25"]).split())
    stmt = out.statement(
        kind, account, currency, reference=_value(first["20"]) if "20" in first else None,
        number=number or None, page=page or None,
        opening=opening[0] if opening else None, opening_date=opening[1] if opening else None,
        closing=closing[0] if closing else None, closing_date=closing[1] if closing else None,
        from_date=opening[1] if opening else None, to_date=closing[1] if closing else None,
        basis="interim report without balances" if interim else None)
    if interim:
        stmt.totals = totals
        if not totals:
            stmt.basis = "interim report without :90D:/:90C: totals"
            stmt.totals = None
    entry, details = None, []
    for field in fields + [["end", [], 0]]:
        tag = field[0]
        if tag == "86" and entry is not None:
            details.append(field)
            continue
        if entry is not None:
            _entry(entry, details, stmt, out)
            entry, details = None, []
        if tag == "61":
            entry = field


def _entry(field, details: list, stmt, out: Collector) -> None:
    value = "\n".join(part.rstrip() for part in field[1]).strip()
    raw = ":61:" + value.replace("\n", " ") + "".join(
        " :86:" + " ".join(d[1]) for d in details)
    match = ENTRY.match(value)
    if not match:
        return out.reject(stmt, field[2], raw, "unreadable :61: statement line")
    amount = to_decimal(match["amount"])
    if amount is None:
        return out.add(stmt, field[2], None, match["amount"], None, raw=raw)
    if match["mark"] in ("C", "RD"):          # money in: a credit, or a debit reversed
        amount = -amount
    vdate = match["vdate"]
    year, month = _year(vdate[:2]), int(vdate[2:4])
    posted = None
    if match["edate"]:
        entry_month = int(match["edate"][:2])
        entry_year = year + (1 if month - entry_month > 6 else -1 if entry_month - month > 6
                             else 0)
        posted = make_date(entry_year, entry_month, int(match["edate"][2:]))
    posted = posted or make_date(year, month, int(vdate[4:6]))
    info = _details(details)
    if info["description"] is None and match["extra"]:
        info["description"] = " ".join(match["extra"].split())
    customer = ref_or_none(match["cref"])
    out.add(stmt, field[2], posted or vdate + (match["edate"] or ""), amount, stmt.currency,
            ref=ref_or_none(match["bref"]), reference=customer, raw=raw, **info)


def _details(details: list) -> dict:
    """Counterparty, its account and the text of the :86: field(s)."""
    info = {"counterparty": None, "counterparty_account": None, "description": None}
    if not details:
        return info
    lines = [part.rstrip() for d in details for part in d[1]]
    joined = "".join(lines)
    if re.match(r"\d{3}\?", joined) or "?20" in joined:        # German GVC subfields
        parts = {}
        for key, text in re.findall(r"\?(\d\d)([^?]*)", joined):
            parts[key] = parts.get(key, "") + text
        name = (parts.get("32", "") + parts.get("33", "")).strip()
        purpose = "".join(parts.get(k, "") for k in [str(n) for n in range(20, 30)] +
                          ["60", "61", "62", "63"])
        info.update(counterparty=name or None,
                    counterparty_account=parts.get("31", "").strip() or None,
                    description=" ".join(f"{parts.get('00', '')} {purpose}".split()) or None)
        return info
    if re.search(r"/(NAME|CNTP|REMI|BENM|ORDP)/", joined):     # SWIFT structured
        cntp = re.search(r"/CNTP/([^/]*)/([^/]*)/([^/]*)/", joined)
        name = re.search(r"/NAME/([^/]+)", joined)
        iban = re.search(r"/(?:IBAN|ACNO)/([^/]+)", joined)
        remi = re.search(r"/REMI/(?:USTD//|STRD/[^/]*/[^/]*/)?([^/]*)", joined)
        info.update(counterparty=(cntp[3] if cntp and cntp[3] else name[1] if name else None),
                    counterparty_account=(cntp[1] if cntp and cntp[1] else
                                          iban[1] if iban else None),
                    description=" ".join((remi[1] if remi else joined).split()) or None)
        return info
    text = " ".join(" ".join(lines).split())
    first = IBAN_FIRST.match(lines[0].strip()) if lines else None
    if first:
        info.update(counterparty_account=first[1], counterparty=first[2].strip() or None)
    info["description"] = text or None
    return info

