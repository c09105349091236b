"""Sanctioned names written the way a payee export might write them: the five ways of issue
16 (case, punctuation, legal form, a dropped word, an alias). Used by tests/test_screening.py
and benchmarks/screening.py, so the test and the recorded figure measure the same thing."""
from __future__ import annotations

from monitor.screening.names import GENERIC, LEGAL_FORMS, content, normal

WAYS = ("case", "punctuation", "legal_form", "dropped_word", "alias")
SEPARATORS = ("-", ". ", ", ", " / ", "_")


def variants(entry) -> dict[str, str]:
    """way -> the payee name; a way that does not apply (a name of fewer than three words
    has no word to drop; an entry without alias) is left out."""
    name = entry.name.replace(",", "")          # "KIM, Jong Un" as a payee: "Kim Jong Un"
    words = name.split()
    plain = [w for w in words if w.strip(".").lower() not in LEGAL_FORMS] or words
    found = {"case": " ".join(w.capitalize() if i % 2 else w.lower()
                              for i, w in enumerate(words))}
    found["punctuation"] = "".join(
        w + (SEPARATORS[i % len(SEPARATORS)] if i < len(words) - 1 else ".")
        for i, w in enumerate(words))
    other = "LIMITED" if len(plain) < len(words) else "LTD"
    found["legal_form"] = " ".join(plain) + " " + other
    # An export drops a generic word ("TRADING") first, else a middle one; a name of fewer
    # than three words that say who it is ("O, Ok") has none to spare.
    if len(plain) >= 3 and len(content(normal(name))) >= 3:
        generic = [i for i, w in enumerate(plain) if w.lower() in GENERIC]
        drop = generic[-1] if generic else len(plain) // 2
        found["dropped_word"] = " ".join(plain[:drop] + plain[drop + 1:])
    if entry.aliases:
        found["alias"] = entry.aliases[0].title()
    return found


def dprk_variants(version) -> list[tuple[str, str, str]]:
    """(entry uid, way, payee name) for every DPRK-programme entry of a list version."""
    cases = []
    for entry in version.entries:
        if any(p.startswith("DPRK") for p in entry.programmes):
            cases += [(entry.uid, way, payee) for way, payee in variants(entry).items()]
    return cases
