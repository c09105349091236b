"""Names compared: one normal form for list names and payee names alike, the words a
candidate pair must share, and the similarity score (0 to 100).

The normal form folds case, accents, punctuation and spacing and drops legal forms wherever
they stand ("CO., LTD.", "JSC", "S.A. DE C.V.", "JOINT STOCK COMPANY"), so a payee written
with another legal form, or none, has the same form. The score is the better of two readings:

- letter by letter (rapidfuzz): the words in any order, or run together ("KIM JONGUN" for
  "KIM, Jong Un"); the whole names and their distinctive words (without generic business
  words such as TRADING, INTERNATIONAL, TECHNOLOGIES) must both be alike, so "PH
  INTERNATIONAL" is not "IPC INTERNATIONAL" and "DMI" is not "DMI TRADING". Names of fewer
  than five letters must be the same ("E S" is not "S G E").
- word by word: the same words in any order (100), or all but one of a listed name of
  three words or more (94: "KOREA MINING TRADING" for "KOREA MINING DEVELOPMENT TRADING
  CORPORATION") when two distinctive words are shared, or one and the word missing is
  generic. A payee that adds words gets no word reading ("HONG KONG DISNEYLAND" is not
  "HONG KONG ELECTRONICS"), and one common word is never a match ("OFFICE", "KOREA").

What these rules cost and catch on the real lists and ledgers is measured by
benchmarks/screening.py (benchmarks/RESULTS.md, "Sanctions screening").
"""
from __future__ import annotations

import re
import unicodedata

from rapidfuzz import fuzz

from monitor.ledger.payees import payee_key

LEGAL_FORMS = frozenset({
    "ltd", "limited", "llc", "llp", "lp", "inc", "incorporated", "corp", "corporation", "co",
    "company", "gmbh", "sarl", "sa", "sas", "bv", "nv", "pty", "ltda", "plc", "ag", "srl",
    "spa", "jsc", "ojsc", "cjsc", "pjsc", "ooo", "oao", "zao", "cv", "fze", "fzco", "fzc",
    "liability", "bhd", "kft", "doo"})
# Words of a legal form written out, dropped as a phrase ("JOINT STOCK COMPANY SHVABE").
_LEGAL_PHRASES = re.compile(r"\b(?:(?:open|closed|public|private) )?joint stock\b"
                            r"|\blimited liability\b|\bsp z o o\b|\bs de rl\b")
# Words that say little about who a business is: they count neither as evidence of a match
# ("PH INTERNATIONAL" is not "IPC INTERNATIONAL") nor against one (a dropped "TRADING").
GENERIC = frozenset({
    "international", "trading", "trade", "group", "services", "service", "industries",
    "industry", "industrial", "technology", "technologies", "systems", "global", "general",
    "national", "holding", "holdings", "enterprise", "enterprises", "commercial", "comercial",
    "center", "centre", "management", "development", "import", "export", "investment",
    "investments", "logistics", "shipping", "solutions", "products", "consulting", "security",
    "restaurant", "supply", "supplies", "store", "stores", "shop", "electronics", "engineering",
    "research", "institute", "communications", "equipment", "technical", "market",
    "supermarket", "medical", "chemical", "chemicals", "resources", "energy", "finance",
    "financial", "partners", "associates", "agency", "network", "media"})
STOPWORDS = frozenset({"the", "of", "and", "for", "de", "da", "do", "dos", "das", "del", "la",
                       "le", "el", "al", "e", "y", "et", "und", "der", "die", "van", "von"})
SHORT = 5            # letters: a core shorter than this matches only when the same
_JOINED = re.compile(r"(?<=\b\w)[.\-'](?=\w\b)")      # S.A. -> SA, before punctuation goes
_PUNCTUATION = re.compile(r"[^\w]+")
MISSING_WORD = 6


def normal(name: str | None) -> str:
    """Case, accents, punctuation and spacing folded, legal forms dropped: 'Korea Mining
    Development Trading Corp.' and 'KOREA MINING DEVELOPMENT TRADING CORPORATION' are one."""
    if not name:
        return ""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = _JOINED.sub("", _JOINED.sub("", text))
    text = " ".join(_PUNCTUATION.sub(" ", text.replace("_", " ")).split())
    words = (_LEGAL_PHRASES.sub(" ", text).split()) or text.split()
    kept = [w for w in words if w not in LEGAL_FORMS]
    return " ".join(kept or words)


def content(form: str) -> list[str]:
    """The words of a normal form that tell who it is: without particles and single
    letters (digits stay: "RYONG GANG 2" is not "RYONG GANG 3")."""
    words = [w for w in form.split() if w not in STOPWORDS] or form.split()
    named = [w for w in words if len(w) > 1 or w.isdigit()]
    # initials stay when they are most of the name ("K TECHNOLOGIES", "T A L TECHNOLOGIES")
    return named if len([w for w in named if w not in GENERIC]) >= 2 else words


def _distinct(words: list[str]) -> list[str]:
    """The words without generic ones, when two or more are left."""
    kept = [w for w in words if w not in GENERIC]
    return kept if len(kept) >= 2 else words


def payee_forms(name: str) -> tuple[str, ...]:
    """The forms a payee is screened under: its name as written and its payee key, both
    in the normal form (the key drops processor prefixes and references)."""
    forms = [normal(name), normal(payee_key(name))]
    return tuple(f for f in dict.fromkeys(forms) if f)


def tokens(form: str) -> list[str]:
    """The words a candidate pair is found by: the form's words and each pair of adjacent
    words written together ('jong un' also as 'jongun')."""
    words = form.split()
    return list(dict.fromkeys(words + [a + b for a, b in zip(words, words[1:])]))


def score(payee: str, listed: str) -> float:
    """Similarity of a payee form and a listed name's form, 0 to 100 (see the module)."""
    if not payee or not listed:
        return 0.0
    mine, theirs = content(payee), content(listed)
    # letter by letter: the whole names and their distinctive words must both be alike
    # ("PH INTERNATIONAL" is not "IPC INTERNATIONAL", "DMI" is not "DMI TRADING")
    best = _letters(" ".join(mine), " ".join(theirs))
    strip_mine = [w for w in mine if w not in GENERIC]
    strip_theirs = [w for w in theirs if w not in GENERIC]
    if strip_mine and strip_theirs:
        a, b = " ".join(strip_mine), " ".join(strip_theirs)
        best = min(best, _letters(a, b))
        if min(len(a.replace(" ", "")), len(b.replace(" ", ""))) < SHORT and a != b:
            best = 0.0             # "E S" and "S G E": too short to be alike by letters
    # word by word: the same words, or all but one of three or more; generic words left
    # out of both when the listed name has two others
    listed_words = set(_distinct(theirs))
    mine_words = set(mine) - (GENERIC if listed_words != set(theirs) else set())
    shared = len(mine_words & listed_words)
    missing, extra = len(listed_words) - shared, len(mine_words) - shared
    telling = len((mine_words & listed_words) - GENERIC)    # "GLOBAL GROUP" tells nothing
    if shared >= 2 and extra == 0:
        if missing == 0:
            best = max(best, 100.0)
        elif missing == 1 and len(listed_words) >= 3 and (
                telling >= 2 or (telling == 1 and not (listed_words - mine_words) - GENERIC)):
            best = max(best, 100.0 - MISSING_WORD)
    return round(float(best), 1)


def _letters(a: str, b: str) -> float:
    """Letter-by-letter likeness: words in any order, or the words run together in their
    order ("KIM JONGUN" and "KIM JONG UN")."""
    return max(fuzz.token_sort_ratio(a, b), fuzz.ratio(a.replace(" ", ""), b.replace(" ", "")))


def screened(form: str, kind: str) -> bool:
    """Whether a listed name is screened: a person's name or alias of one word (the UN's
    "Aziz", "George", "Lydia") would match every payee of that common first name."""
    return kind != "individual" or len(content(form)) >= 2
