"""The sanctions lists as their publishers release them, read into entries with aliases.

- US Treasury OFAC, the SDN list in its legacy CSV set: sdn.csv (one row per entry:
  ent_num, name, type, programs, ... remarks; no header row, `-0-` for empty) with alt.csv
  (aliases: ent_num, alt_num, type, name, remarks) and add.csv (addresses) beside it, and
  sdn_comments.csv (remarks that did not fit). Which file is which is told by its rows (12,
  5, 6 and 2 fields), so a download saved as "sdn (1).csv" still loads; alt.csv and add.csv
  beside a given sdn.csv are taken along. The files carry no publication date.
- The UN Security Council consolidated list XML (CONSOLIDATED_LIST, dateGenerated):
  INDIVIDUAL and ENTITY elements with their aliases.

Every file is refused whole, with one line naming it, when it is not what it claims (cut
short, another file, a hostile XML with a DTD or entities): a list half read would clear
payees it should have caught. XML is parsed by defusedxml with DTDs forbidden: no entity is
expanded and nothing is fetched (the lists never carry a DTD).
"""
from __future__ import annotations

import csv
import gzip
import io
import re
import zlib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET
from xml.etree.ElementTree import ParseError

from monitor.audit.log import file_sha256
from monitor.errors import InputError

OFAC = "OFAC SDN"
UN = "UN consolidated"
MAX_BYTES = 512 * 1024 * 1024        # a list is a few MB; anything this large is not one
OFAC_ROLES = {12: "sdn", 5: "alt", 6: "add", 2: "sdn_comments"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_PROGRAMMES = re.compile(r"\]\s*\[")
_REMARK_ALIAS = re.compile(r"\b[afn]\.k\.a\.\s+'([^']+)'")

OFAC_HINT = ("download the SDN legacy CSV files (sdn.csv, alt.csv, add.csv) again from "
             "https://sanctionslist.ofac.treas.gov/ (SDN List, CSV)")
UN_HINT = ("download the consolidated list XML again from "
           "https://scsanctions.un.org/resources/xml/en/consolidated.xml")


@dataclass(frozen=True)
class Entry:
    uid: str                       # stable across versions: "OFAC:9345", "UN:KPe.001"
    name: str                      # as listed
    kind: str                      # individual | entity | vessel | aircraft
    programmes: tuple[str, ...]    # ("NPWMD", "DPRK2"); UN: the list type ("DPRK")
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class ListFile:
    path: str
    role: str                      # sdn | alt | add | sdn_comments | xml
    sha256: str


@dataclass
class ListVersion:
    list: str                      # OFAC SDN | UN consolidated
    publisher: str
    published: date | None
    files: list[ListFile]
    entries: list[Entry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)     # said on stderr by the command


def read(paths: list[Path], published: date | None = None) -> list[ListVersion]:
    """The list versions in these files: one per UN XML, one for all the OFAC CSVs."""
    if not paths:
        raise InputError("no list file given: monitor screening load sdn.csv [alt.csv add.csv] "
                         "| consolidated.xml")
    versions, ofac = [], {}
    for path in paths:
        data = _bytes(path)
        if data.lstrip()[:1] == b"<":
            versions.append(_un(path, data, published))
            continue
        role, rows = _ofac_rows(path, data)
        if role in ofac:
            raise InputError(f"{path}: a second OFAC {role} file (the first: {ofac[role][0]}); "
                             "load one SDN set at a time")
        ofac[role] = (path, data, rows)
    if ofac:
        if "sdn" not in ofac:
            given = ", ".join(str(p) for p, _, _ in ofac.values())
            raise InputError(f"{given}: no sdn.csv among the OFAC files; give sdn.csv (alt.csv "
                             "and add.csv beside it are read with it)")
        beside = Path(ofac["sdn"][0]).parent
        for role in ("alt", "add", "sdn_comments"):
            extra = beside / f"{role}.csv"
            if role not in ofac and extra.is_file():
                data = _bytes(extra)
                found, rows = _ofac_rows(extra, data)
                if found == role:
                    ofac[role] = (extra, data, rows)
        versions.insert(0, _ofac(ofac, published))
    return versions


def _bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when gzipped (a saved copy may be), bounded in size."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise InputError(f"{path}: cannot be read ({e.strerror or e}); check the path") from None
    if data[:2] == b"\x1f\x8b":
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as z:
                data = z.read(MAX_BYTES + 1)
        except (OSError, EOFError, zlib.error) as e:
            raise InputError(f"{path}: a damaged gzip file ({e}); download it again") from None
    if len(data) > MAX_BYTES:
        raise InputError(f"{path}: larger than {MAX_BYTES // 2**20} MB, not a sanctions list")
    return data


def _clean(text: str | None) -> str:
    return _CONTROL.sub(" ", text or "").strip()


# -- OFAC SDN legacy CSV -----------------------------------------------------------------------

def _ofac_rows(path: Path, data: bytes) -> tuple[str, list[list[str]]]:
    """The rows of an OFAC legacy CSV file and its role, told by its number of fields."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    text = text.rstrip("\x1a \r\n\t")           # the Treasury's files end with Ctrl-Z
    if "\x00" in text:
        raise InputError(f"{path}: holds NUL bytes, not an OFAC CSV file; {OFAC_HINT}")
    rows = []
    try:
        for row in csv.reader(io.StringIO(text, newline="")):
            if row and any(cell.strip() for cell in row):
                rows.append([("" if c.strip() == "-0-" else _clean(c)) for c in row])
    except csv.Error as e:
        raise InputError(f"{path}: not an OFAC CSV file ({e}); {OFAC_HINT}") from None
    if not rows:
        raise InputError(f"{path}: empty; {OFAC_HINT}")
    width = len(rows[0])
    role = OFAC_ROLES.get(width)
    if role is None:
        raise InputError(f"{path}: row 1 has {width} fields, not an OFAC SDN legacy CSV file "
                         f"(sdn.csv rows have 12, alt.csv 5, add.csv 6); {OFAC_HINT}")
    for number, row in enumerate(rows, 1):
        if len(row) != width:
            raise InputError(f"{path}: row {number} has {len(row)} fields where {role}.csv rows "
                             f"have {width}: the file is cut short or damaged; {OFAC_HINT}")
        if not row[0].isdigit():
            raise InputError(f"{path}: row {number} has no entry number ({row[0][:40]!r}); "
                             f"{OFAC_HINT}")
    return role, rows


def _ofac(files: dict, published: date | None) -> ListVersion:
    aliases: dict[str, list[str]] = {}
    notes = []
    if "alt" in files:
        for row in files["alt"][2]:
            if row[3]:
                aliases.setdefault(row[0], []).append(row[3])
    else:       # the remarks name the aliases too ("a.k.a. 'KOMID'"): better than none;
        # OFAC's weak aliases are there, acronyms of four letters or fewer ("BNC", "USC")
        # are left out: alone they would match any payee of those initials.
        for row in files["sdn"][2]:
            found = [a for a in _REMARK_ALIAS.findall(row[11])
                     if " " in a.strip() or len(a.strip()) > 4]
            if found:
                aliases[row[0]] = found
        notes.append(f"{files['sdn'][0]}: no alt.csv beside it; aliases are read from the "
                     "remarks of sdn.csv (download alt.csv too for the full alias list)")
    entries = []
    for row in files["sdn"][2]:
        programmes = tuple(p.strip(" []") for p in _PROGRAMMES.split(row[3]) if p.strip(" []"))
        if not row[1]:
            continue
        entries.append(Entry(uid=f"OFAC:{row[0]}", name=row[1], kind=row[2] or "entity",
                             programmes=programmes, aliases=tuple(aliases.get(row[0], ()))))
    listed = [ListFile(str(Path(p).resolve()), role, file_sha256(Path(p)))
              for role, (p, _, _) in files.items()]
    return ListVersion(OFAC, "US Treasury OFAC", published, listed, entries, notes)


# -- UN Security Council consolidated list XML -------------------------------------------------

def _un(path: Path, data: bytes, published: date | None) -> ListVersion:
    try:
        root = SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True,
                                 forbid_external=True)
    except DefusedXmlException as e:
        raise InputError(f"{path}: refused: the XML declares a DTD or entities "
                         f"({type(e).__name__}), which the UN list never does; {UN_HINT}") from None
    except ParseError as e:
        raise InputError(f"{path}: not a whole XML file ({e}); {UN_HINT}") from None
    if root.tag != "CONSOLIDATED_LIST":
        raise InputError(f"{path}: an XML file but not the UN consolidated list (root element "
                         f"<{_clean(root.tag)[:40]}>); {UN_HINT}")
    generated = root.get("dateGenerated") or ""
    if published is None and re.match(r"\d{4}-\d{2}-\d{2}", generated):
        published = date.fromisoformat(generated[:10])
    entries = []
    for kind, tag in (("individual", "INDIVIDUALS/INDIVIDUAL"), ("entity", "ENTITIES/ENTITY")):
        for node in root.iterfind(tag):
            name = " ".join(_clean(node.findtext(part)) for part in
                            ("FIRST_NAME", "SECOND_NAME", "THIRD_NAME", "FOURTH_NAME")
                            if _clean(node.findtext(part)))
            reference = _clean(node.findtext("REFERENCE_NUMBER")) or _clean(node.findtext("DATAID"))
            if not name or not reference:
                continue
            aliases = [_clean(a.findtext("ALIAS_NAME")) for a in node
                       if a.tag.endswith("_ALIAS") and _clean(a.findtext("ALIAS_NAME"))]
            original = _clean(node.findtext("NAME_ORIGINAL_SCRIPT"))
            if original:
                aliases.append(original)
            programme = _clean(node.findtext("UN_LIST_TYPE"))
            entries.append(Entry(uid=f"UN:{reference}", name=name, kind=kind,
                                 programmes=(programme,) if programme else (),
                                 aliases=tuple(dict.fromkeys(aliases))))
    if not entries:
        raise InputError(f"{path}: the UN list holds no INDIVIDUAL or ENTITY; {UN_HINT}")
    return ListVersion(UN, "UN Security Council", published,
                       [ListFile(str(Path(path).resolve()), "xml", file_sha256(Path(path)))], entries)
