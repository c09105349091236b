"""The payee key: one name for the many ways an export writes the same payee.

A thief who lets the name vary ("DEVLAB CONSULT LTD", "Devlab Consult Limited",
"PAYPAL *DEVLAB CONSULT") must stay one payee to the detectors, the registry and
screening. The key is computed here, in one place; the name as written stays in the
ledger and is what people see.

This first version is deliberately plain (case, accents, punctuation, spacing, a short
list of legal forms and processor prefixes); issue 16 replaces its internals with
well-kept libraries. Callers depend only on `payee_key(name, prefixes)`.
"""
from __future__ import annotations

import re
import unicodedata

# Payment processors and wallets that put their own name before the merchant's.
DEFAULT_PROCESSOR_PREFIXES = ("PAYPAL *", "SQ *", "STRIPE*", "SP *", "PADDLE.NET*", "FS *",
                              "2CO.COM*", "GUMROAD*")

_LEGAL_FORMS = {"ltd", "limited", "llc", "inc", "incorporated", "corp", "corporation", "co",
                "gmbh", "sarl", "sa", "bv", "nv", "pty", "ltda", "plc", "ag", "srl", "spa"}
_PUNCTUATION = re.compile(r"[^\w\s]+")
_SPACES = re.compile(r"\s+")


def payee_key(name: str | None, prefixes=DEFAULT_PROCESSOR_PREFIXES) -> str:
    """The grouping key of a payee name; '' for no name. Idempotent: payee_key of a
    key is the key."""
    if not name:
        return ""
    text = name.strip()
    upper = text.upper()
    for prefix in prefixes:
        if upper.startswith(prefix.upper()):
            text = text[len(prefix):]
            break
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    words = _SPACES.sub(" ", _PUNCTUATION.sub(" ", text)).split()
    while words and (words[-1] in _LEGAL_FORMS or any(ch.isdigit() for ch in words[-1])
                     or words[-1] in {"ref", "inv", "invoice", "order", "no"}):
        words.pop()
    return " ".join(words) or _SPACES.sub(" ", text).strip()
