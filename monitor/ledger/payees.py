"""The payee key: one name for the many ways an export writes the same payee.

A thief who lets the name vary ("DEVLAB CONSULT LTD", "Devlab Consult Limited",
"devlab consult ltd REF 8812", "PAYPAL *DEVLAB CONSULT") must stay one payee to the
detectors, the registry and screening. The key is computed here, in one place; the name
as written stays in the ledger and is what people see.

What the key ignores, in this order: a payment processor's prefix ([payees]
processor_prefixes), accents, case, punctuation and spacing, and at the END of the name
references, invoice/order/store numbers, dates and legal forms in many languages (the
legal-form table is cleanco's: pure Python, where a wider one needs ICU compiled). Only the
end: "Ltd" in the middle of a name, or a short number ("Channel 4", "Studio 54"), tells
businesses apart and is kept. A name that would lose everything keeps its normalised
text ("LTD" stays "ltd"), so no two unrelated names meet at an empty key.

Storage: table payee_keys (queries/schema/010_payee_keys.sql) maps every distinct name as
written to its key, filled at ingest for new names (Python over DISTINCT names only) and
rebuilt whole when the prefixes change; the scan's SQL joins it, so DuckDB and Spark
group by the same keys without computing them in SQL.
"""
from __future__ import annotations

import functools
import hashlib
import json
import re
import unicodedata
from concurrent.futures import ThreadPoolExecutor

import cleanco.termdata as _termdata
import duckdb

from monitor.audit import log as audit
from monitor.settings.payees import DEFAULT_PROCESSOR_PREFIXES, PayeeSettings

__all__ = ["DEFAULT_PROCESSOR_PREFIXES", "payee_key", "fingerprint", "refresh", "add_new",
           "names_of", "PendingKeys"]

# Legal forms cleanco's table lacks but that end company names on real
# ledgers: Brazil's micro-enterprise suffixes (ME, EPP, EIRELI after LTDA), "Co", "Corp".
_EXTRA_FORMS = {"co", "corp", "corporation", "pty", "me", "epp", "mei", "s a", "s l",
                "s a s", "and co", "sa de cv", "s de rl", "pty ltd",
                # "Limited" cut short by an export's column width
                "limite", "limit", "limi", "ltd co"}
_EXTRA_LAST_WORDS = {form.split()[-1] for form in _EXTRA_FORMS}
_SHORT_FORMS = {"ab", "ag", "as", "bv", "cv", "kg", "nv", "oy", "sa", "se", "lp", "ug", "nl"}
# ... and "& CIA" (and company) stays: on the Brazilian ledger "X & CIA LTDA" and "X LTDA"
# are other companies (their tax numbers differ)
_NOT_FORMS = {"spa", "sad", "sem", "gag", "sia", "ops", "cia"}
# Words that label a trailing reference ("REF 8812", "INV NO 12345", "ORDER #3").
_REFERENCE_WORDS = {"ref", "reference", "inv", "invoice", "order", "ord", "no", "nr", "num",
                    "number", "txn", "trx", "id", "receipt", "acct", "pmt"}
_DATE = re.compile(r"\d{1,4}[/.\-]\d{1,2}([/.\-]\d{2,4})?|\d{1,2}(jan|feb|mar|apr|may|jun|jul"
                   r"|aug|sep|oct|nov|dec)[a-z]*\d{0,4}", re.IGNORECASE)
_WORD = re.compile(r"[^\W_]+")
_ACRONYM_DOT = re.compile(r"(?<=\b[^\W\d_])\.(?=[^\W\d_]\b)")   # "S.A." -> "SA.", "B.V." -> "BV."
_APOSTROPHE = re.compile(r"['\u2019`]")
_HASH_SPACE = re.compile(r"#\s+(?=\d)")          # "DOLLARAMA # 555" is "DOLLARAMA #555"


def payee_key(name: str | None, prefixes=DEFAULT_PROCESSOR_PREFIXES) -> str:
    """The grouping key of a payee name; '' for no name. Idempotent: payee_key of a
    key is the key."""
    if not name or not name.strip():
        return ""
    return _key(name, _prefix_pattern(tuple(prefixes)))


def _key(name: str, prefix: re.Pattern | None) -> str:
    text = unicodedata.normalize("NFKC", name).strip()
    if prefix is not None:          # a processor may wrap another: "PAYPAL *SQ *ACME"
        while (m := prefix.match(text)) and text[m.end():].strip():
            text = text[m.end():].strip()
    if not text.isascii():      # accents off ("Dévlab" is "Devlab"); most names are ASCII
        text = "".join(c for c in unicodedata.normalize("NFKD", text)
                       if not unicodedata.combining(c))
    text = text.casefold()
    # (each pattern only where its character is: most names have none of them)
    if "." in text:
        text = _ACRONYM_DOT.sub("", text)
    if "'" in text or "\u2019" in text or "`" in text:
        text = _APOSTROPHE.sub("", text)
    if "#" in text:
        text = _HASH_SPACE.sub("#", text)
    words = _strip_end(text.split())
    return " ".join(words) or " ".join(_WORD.findall(text)) or text.strip()


def _strip_end(tokens: list[str]) -> list[str]:
    """Drop trailing references, numbers, dates and legal forms until none is left at
    the end; never the first word (a name that is all 'reference' keeps it whole)."""
    while True:
        while len(tokens) > 1 and _is_reference(tokens[-1]):     # '#12', '01/02/2024'
            tokens.pop()
        words = _WORD.findall(" ".join(tokens))
        count = len(words)
        while len(words) > 1 and (_is_number(words[-1]) or (
                words[-1].isdigit() and len(words) > 2 and words[-2] in _REFERENCE_WORDS)):
            words.pop()
            # the word that labels the number goes with it ("REF 8812"), not one alone:
            # "Coffee Shop" keeps its shop
            while len(words) > 1 and words[-1] in _REFERENCE_WORDS:
                words.pop()
        form = _legal_form_at_end(words)
        if form:
            words = words[:-form]
        if len(words) == count:
            return words
        tokens = words          # punctuation is gone from here on


def _is_number(word: str) -> bool:
    """A store, order or invoice number, a year, a code: 4+ digits ("TESCO STORES 5504"),
    or 5+ characters of which 2+ and a quarter are digits ("2k3ll", "loc4049"). Not a
    shorter number, which is often part of the name ("Channel 4", "AUTO POSTO 108 LTDA",
    a filling station by its highway, is not "AUTO POSTO 2001 LTDA"), nor a word with a
    digit ("1staidforms", "bits4doors": merchants behind PayPal)."""
    if word.isdigit():
        return len(word) >= 4
    if len(word) < 5:
        return False
    digits = sum(map(str.isdigit, word))
    return digits >= 2 and 4 * digits >= len(word)


def _is_reference(token: str) -> bool:
    """A raw (still punctuated) trailing token that is a reference: '#12', a date,
    'no.5', 'inv-12'."""
    if token.isalpha():         # every case below needs a digit
        return False
    if token.startswith("#") and any(c.isdigit() for c in token):
        return True
    if _DATE.fullmatch(token.strip(".,;:()[]")):
        return True
    words = _WORD.findall(token)
    return len(words) > 1 and any(c.isdigit() for c in token) and all(
        w in _REFERENCE_WORDS or any(c.isdigit() for c in w) for w in words)


def _legal_form_at_end(words: list[str]) -> int:
    """How many trailing words form a legal form (never all of them), else 0: cleanco's
    table (one pass over the name), less two-letter forms not in _SHORT_FORMS and words
    in _NOT_FORMS ("AUTO POSTO II LTDA" loses its LTDA, not its II), plus _EXTRA_FORMS."""
    if len(words) < 2:
        return 0
    best = 0 if words[-1] not in _EXTRA_LAST_WORDS else next(
        (n for n in (3, 2, 1) if n < len(words) and " ".join(words[-n:]) in _EXTRA_FORMS), 0)
    if not best and words[-1] not in _NOT_FORMS and words[-1] not in _forms_last_words():
        return 0        # no form ends in the last word: the scan below would find none
    matches = _org_types(" ".join(words))
    if not best and words[-1] not in _NOT_FORMS and not any(
            m.split()[-1:] == words[-1:] for m, _form in matches):
        return 0
    if not best and matches and matches[-1][0].split()[-1:] == words[-1:] \
            and any(w in _NOT_FORMS for w in matches[-1][0].split()):
        matches = _org_types(words[-1])     # "& CIA LTDA": the LTDA alone
    for match, _form in matches:
        found = match.split()
        n = len(found)
        if best < n < len(words) and words[-n:] == found and all(
                (len(w) > 2 or w in _SHORT_FORMS) and w not in _NOT_FORMS for w in found):
            best = n
    return best


@functools.cache
def _legal_forms() -> dict[int, frozenset[tuple[str, ...]]]:
    """cleanco's legal forms of every country and kind, as word tuples by their length
    ("S.p.A." is ("spa",), "Sp. z o.o." is ("sp", "z", "oo"))."""
    terms = {term for table in (_termdata.terms_by_type, _termdata.terms_by_country)
             for listed in table.values() for term in listed}
    forms: dict[int, set] = {}
    for term in terms:
        words = tuple(_WORD.findall(unicodedata.normalize("NFKD", term.replace(".", ""))
                                    .casefold()))
        if words:
            forms.setdefault(len(words), set()).add(words)
    return {n: frozenset(found) for n, found in forms.items()}


@functools.cache
def _forms_by_first_word() -> dict[str, tuple[int, ...]]:
    """For each word a legal form starts with, the lengths of those forms, longest
    first: most words of a name start none, and are passed over with one dict look-up
    instead of a tuple built and looked up per form length (a third of keying's time)."""
    starts: dict[str, set[int]] = {}
    for n, found in _legal_forms().items():
        for words in found:
            starts.setdefault(words[0], set()).add(n)
    return {w: tuple(sorted(ns, reverse=True)) for w, ns in starts.items()}


@functools.cache
def _forms_last_words() -> frozenset[str]:
    """The words a legal form ends with ('ltda', 'limited', 'gmbh', ...)."""
    return frozenset(words[-1] for found in _legal_forms().values() for words in found)


def _org_types(text: str) -> list[tuple[str, str]]:
    """Every legal form in a keyed text (whole words, the longest at each word), in
    order: (the words as found, the same words)."""
    words, found, i = text.split(), [], 0
    forms, starts = _legal_forms(), _forms_by_first_word()
    while i < len(words):
        for n in starts.get(words[i], ()):
            if tuple(words[i:i + n]) in forms[n]:
                found.append((" ".join(words[i:i + n]),) * 2)
                i += n
                break
        else:
            i += 1
    return found


@functools.lru_cache(maxsize=64)
def _prefix_pattern(prefixes: tuple[str, ...]) -> re.Pattern | None:
    """One regex for the prefixes, tolerant of spacing: 'PAYPAL *' matches 'PayPal*',
    'PAYPAL  * ' and 'PAYPAL *'. A prefix of 6+ characters before its * also matches
    without the * when a space follows ('paypal 1staidforms': some banks drop the *);
    a short one must keep it ('SP *' is no prefix of 'SP ACE')."""
    parts = []
    for prefix in prefixes:
        piece = []
        text = prefix.strip()
        for n, ch in enumerate(text):
            if ch.isspace():
                piece.append(r"\s*")
            elif ch == "*":
                optional = n == len(text) - 1 and len(text.rstrip("* ")) >= 6
                piece.append(r"(?:\s*\*\s*|\s+)" if optional else r"\s*\*\s*")
            else:
                piece.append(re.escape(ch))
        if piece:
            parts.append("".join(piece))
    if not parts:
        return None
    return re.compile("(?:" + "|".join(sorted(parts, key=len, reverse=True)) + ")",
                      re.IGNORECASE)


# -- storage: table payee_keys ---------------------------------------------------------------

def fingerprint(settings: PayeeSettings | None) -> str:
    """What the stored keys depend on: the prefixes and this module's rules (bump
    RULES when they change, so stored keys are rebuilt)."""
    prefixes = list((settings or PayeeSettings()).processor_prefixes)
    return hashlib.sha256(json.dumps([RULES, prefixes]).encode()).hexdigest()[:16]


RULES = 6


def stored(con: duckdb.DuckDBPyConnection) -> tuple[str, tuple[str, ...]] | None:
    """(fingerprint, prefixes) the stored keys were made with; None before the first."""
    # fetchall: a result left open would stop the register() of new keys (DuckDB 2)
    rows = con.execute("SELECT fingerprint, prefixes FROM payee_key_state").fetchall()
    return (rows[0][0], tuple(rows[0][1])) if rows else None


def add_new(con: duckdb.DuckDBPyConnection, file_id: int | None = None) -> int:
    """Key the names not yet in payee_keys: of one file (at ingest), else of the whole
    ledger, the registry and the silences' payees, with the prefixes the stored keys
    were made with. Runs inside the caller's transaction. Returns how many names were added."""
    if file_id is not None:
        names = con.execute(
            "SELECT DISTINCT counterparty FROM transactions t WHERE file_id = ? "
            "AND counterparty IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM payee_keys k WHERE k.name = t.counterparty)", [file_id]).fetchall()
    else:
        names = con.execute(
            "SELECT DISTINCT name FROM (SELECT counterparty AS name FROM transactions "
            "UNION ALL SELECT payee FROM authorizations UNION ALL SELECT counterparty "
            "FROM silences WHERE strpos(counterparty, '*') = 0) n "
            "WHERE name IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM payee_keys k WHERE k.name = n.name)").fetchall()
    state = _state_or_default(con)
    _insert(con, [n for (n,) in names], state[1])
    return len(names)


def add_names(con: duckdb.DuckDBPyConnection, names: list[str]) -> int:
    """Key those of these names not keyed yet (a registry entry's payee)."""
    state = _state_or_default(con)
    fresh = sorted({n for n in names if n is not None})
    if fresh:
        fresh = [n for (n,) in con.execute(
            "SELECT n FROM unnest($names) AS u(n) WHERE NOT EXISTS "
            "(SELECT 1 FROM payee_keys k WHERE k.name = u.n)", {"names": fresh}).fetchall()]
    _insert(con, fresh, state[1])
    return len(fresh)


def _state_or_default(con) -> tuple[str, tuple[str, ...]]:
    """The stored settings; on a ledger's first names, the defaults (recorded: a scan
    with other [payees] settings rebuilds the keys)."""
    state = stored(con)
    if state is None:
        state = (fingerprint(PayeeSettings()), DEFAULT_PROCESSOR_PREFIXES)
        con.execute("INSERT INTO payee_key_state VALUES (?, ?, -1)", [state[0], list(state[1])])
    return state


def refresh(con: duckdb.DuckDBPyConnection, settings: PayeeSettings | None) -> bool:
    """Bring payee_keys up to the configured [payees] settings before a scan: rebuilt
    whole when they changed since the keys were made, or when there are none yet (a
    ledger from before keys), else only the registry's new payees are keyed (ingest
    keys the ledger's). A rebuild is recorded in the audit log (alerts and approvals
    group by the key) and drops the pair facts kept by payee, so the scan remakes them.
    Returns True when the keys were rebuilt."""
    settings = settings or PayeeSettings()
    wanted = fingerprint(settings)
    state = stored(con)
    high = con.execute("SELECT coalesce(max(file_id), -1) FROM transactions").fetchall()[0][0]
    if state is not None and state[0] == wanted:
        # Ingest keys each file's names; rows that came another way (a lake import, a
        # test's direct insert) are keyed here, reading only files after the mark.
        mark = con.execute("SELECT max_file_id FROM payee_key_state").fetchall()[0][0]
        if mark != high:
            if mark > high:
                add_new(con)        # the ledger was replaced: look at every name
            else:
                _insert(con, [n for (n,) in con.execute(
                    "SELECT DISTINCT counterparty FROM transactions t WHERE file_id > ? "
                    "AND counterparty IS NOT NULL AND NOT EXISTS "
                    "(SELECT 1 FROM payee_keys k WHERE k.name = t.counterparty)",
                    [mark]).fetchall()], state[1])
            con.execute("UPDATE payee_key_state SET max_file_id = ?", [high])
        add_names(con, [n for (n,) in con.execute(
            "SELECT DISTINCT payee FROM authorizations a WHERE NOT EXISTS "
            "(SELECT 1 FROM payee_keys k WHERE k.name = a.payee)").fetchall()])
        return False
    before = con.execute("SELECT count(*), count(DISTINCT payee_key) FROM payee_keys").fetchall()[0]
    con.execute("DELETE FROM payee_keys")
    con.execute("DELETE FROM payee_key_state")
    con.execute("INSERT INTO payee_key_state VALUES (?, ?, -1)",
                [wanted, list(settings.processor_prefixes)])
    add_new(con)
    con.execute("UPDATE payee_key_state SET max_file_id = ?", [high])
    after = con.execute("SELECT count(*), count(DISTINCT payee_key) FROM payee_keys").fetchall()[0]
    con.execute("DELETE FROM pair_history_state")      # derived from keys: remade next scan
    if state is not None:       # not the first keys of a ledger from before them
        audit.record(con, "payee keys rebuilt", {
            "before": {"fingerprint": state[0], "prefixes": list(state[1]),
                       "names": before[0], "keys": before[1]},
            "after": {"fingerprint": wanted, "prefixes": list(settings.processor_prefixes),
                      "names": after[0], "keys": after[1]}})
    return True


class PendingKeys:
    """Keys for names made on a thread while the caller's DuckDB statements run (DuckDB
    lets go of the GIL while it works, and keying is pure Python): at ingest, a new
    file's names are keyed while its rows are checked and inserted, on a core DuckDB
    leaves free part of that time. store() waits for the keys and inserts them."""

    def __init__(self, con: duckdb.DuckDBPyConnection, names: list[str]):
        self.names = names
        self._pool = None
        if names:
            state = stored(con)     # recorded by store(), as add_new does, not before
            prefixes = state[1] if state else DEFAULT_PROCESSOR_PREFIXES
            self._pool = ThreadPoolExecutor(max_workers=1)
            self._future = self._pool.submit(_table, names, _prefix_pattern(tuple(prefixes)))

    def store(self, con: duckdb.DuckDBPyConnection) -> int:
        """Insert the names and their keys (inside the caller's transaction); what
        add_new does for the same names."""
        _state_or_default(con)
        if self._pool is not None:
            _store(con, self._future.result())
        self.close()
        return len(self.names)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __enter__(self) -> "PendingKeys":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _table(names: list[str], pattern: re.Pattern | None):
    """The names and their keys, as an Arrow table to insert."""
    import pyarrow as pa    # late: only new names need it (CLI start-up)
    return pa.table({"name": names,
                     "payee_key": [_key(n, pattern) if n.strip() else n for n in names]})


def _insert(con, names: list[str], prefixes) -> None:
    if not names:
        return
    _store(con, _table(names, _prefix_pattern(tuple(prefixes))))


def _store(con, table) -> None:
    con.register("new_payee_keys", table)
    try:
        con.execute("INSERT INTO payee_keys SELECT name, payee_key FROM new_payee_keys")
    finally:
        con.unregister("new_payee_keys")


def names_of(con: duckdb.DuckDBPyConnection, key: str, limit: int = 20) -> list[tuple[str, int]]:
    """The names as written behind a key, most used first: (name, charges)."""
    return con.execute(
        "SELECT t.counterparty, count(*) AS n FROM transactions t "
        "JOIN payee_keys k ON k.name = t.counterparty WHERE k.payee_key = ? "
        "GROUP BY ALL ORDER BY n DESC, t.counterparty LIMIT ?", [key, limit]).fetchall()
